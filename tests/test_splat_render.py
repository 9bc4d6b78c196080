"""Splat rendering: the GL pass against the NumPy reference, depth compositing, sort order."""

from __future__ import annotations

import numpy as np
import pytest

from citywalk.errors import RenderError
from citywalk.render.color import srgb_to_linear
from citywalk.render.splat_reference import render_reference
from citywalk.scene.gaussians import GaussianCloud
from citywalk.sources.splats import rotation_between

moderngl = pytest.importorskip("moderngl")
from citywalk.render.splat_gl import SplatPass, make_splat_target, read_splat_target, sort_back_to_front  # noqa: E402

from builders import gl_context_or_skip  # noqa: E402

W, H = 128, 96
K = np.array([[110.0, 0, 63.5], [0, 105.0, 47.5], [0, 0, 1]])


@pytest.fixture(scope="module")
def ctx():
    context = gl_context_or_skip()
    assert context.error == "GL_NO_ERROR"
    yield context
    assert context.error == "GL_NO_ERROR"
    context.release()


def look_at(eye, target, up=(0, 0, 1)):
    """OpenCV world→camera (R, t) for a camera at eye looking at target, Z-up world."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    f = target - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    d = np.cross(f, r)  # image down
    R = np.stack([r, d, f])
    return R, -R @ eye


def tricky_cloud(rng: np.random.Generator, n: int = 150) -> GaussianCloud:
    """Anisotropic, overlapping, semi-transparent Gaussians with SH degree 3, some huge or off-screen."""
    means = np.c_[rng.uniform(-1.5, 1.5, n), rng.uniform(-1.5, 1.5, n), rng.uniform(-0.8, 1.2, n)]
    scales = np.exp(rng.uniform(np.log(0.01), np.log(0.5), (n, 3)))
    scales[: n // 3, 0] *= 0.05  # needles and discs
    q = rng.normal(size=(n, 4))
    sh = rng.normal(0, 0.5, (n, 16, 3))
    sh[:, 1:] *= 0.25
    op = rng.uniform(0.05, 1.0, n)
    means[0], scales[0], op[0] = (0, 0, -3), (3, 3, 0.05), 0.6  # huge disc, centre below view
    return GaussianCloud(means, scales, q, op, sh, 3)


def render_gl(ctx, cloud, R, t, scene_depth=None, colors_are_srgb=True, components=1,
              primitive="auto"):
    sp = SplatPass(ctx, cloud, colors_are_srgb=colors_are_srgb, primitive=primitive)
    fbo, color, zsum = make_splat_target(ctx, (W, H), components)
    drawn = sp.draw(R, t, K, (W, H), fbo, scene_depth=scene_depth)
    assert ctx.error == "GL_NO_ERROR"
    out = read_splat_target(color, zsum)
    out["drawn"] = drawn
    out["stats"] = sp.last_stats
    ctx.parking.use()
    for obj in (fbo, color, zsum):
        obj.release()
    sp.release()
    return out


def psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


@pytest.mark.parametrize("eye,primitive", [((0.3, -4.5, 1.5), "auto"), ((-3.0, 2.5, 0.4), "auto"),
                                           ((0.3, -4.5, 1.5), "quads")])
def test_gl_matches_reference(ctx, eye, primitive):
    cloud = tricky_cloud(np.random.default_rng(21))
    R, t = look_at(eye, (0, 0, 0.2))
    ref = render_reference(cloud, R, t, K, (W, H), to_linear=True)
    out = render_gl(ctx, cloud, R, t, primitive=primitive)
    assert ref["alpha"].mean() > 0.3 and ref["alpha"].max() > 0.95  # a meaningful scene
    stats = out["stats"]
    if primitive == "auto":  # both point sprites and quads were exercised, in depth runs
        assert 0 < stats["as_quads"] < stats["drawn"] and stats["runs"] >= 2
    else:
        assert stats["as_quads"] == stats["drawn"] == out["drawn"]
    assert psnr(out["rgb"], ref["rgb"]) >= 35.0
    assert psnr(out["alpha"], ref["alpha"]) >= 35.0
    covered = ref["alpha"] > 0.05
    assert np.median(np.abs(out["depth"][covered] - ref["depth"][covered])) < 1e-3
    assert np.abs(out["depth"][covered] - ref["depth"][covered]).max() < 0.1


def test_gl_matches_reference_without_srgb_decode_and_rgba_depth(ctx):
    cloud = tricky_cloud(np.random.default_rng(22), 80)
    R, t = look_at((2.0, -3.5, 2.0), (0, 0, 0))
    ref = render_reference(cloud, R, t, K, (W, H), to_linear=False)
    out = render_gl(ctx, cloud, R, t, colors_are_srgb=False, components=4)
    assert psnr(out["rgb"], ref["rgb"]) >= 35.0


def one_splat(centre, rgb=(0.9, 0.2, 0.1), scale=0.3) -> GaussianCloud:
    dc = (np.asarray(rgb) - 0.5) / 0.28209479177387814
    return GaussianCloud(np.array([centre], float), np.full((1, 3), scale), [[1.0, 0, 0, 0]],
                         [0.9], dc[None, None, :], 0)


def test_scene_depth_hides_splats_behind_walls(ctx):
    R, t = np.eye(3), np.zeros(3)
    wall = np.full((H, W), 5.0, np.float32)  # opaque geometry 5 m away (OpenCV rows)
    depth_tex = ctx.texture((W, H), 1, np.flipud(wall).tobytes(), dtype="f4")
    behind = render_gl(ctx, one_splat((0, 0, 8.0)), R, t, scene_depth=depth_tex)
    front = render_gl(ctx, one_splat((0, 0, 3.0)), R, t, scene_depth=depth_tex)
    free = render_gl(ctx, one_splat((0, 0, 8.0)), R, t)
    assert behind["alpha"].max() == 0.0
    assert front["alpha"][48, 64] > 0.85
    assert free["alpha"][48, 64] > 0.85
    assert front["depth"][48, 64] == pytest.approx(3.0, abs=1e-3)
    expected = srgb_to_linear(np.array([0.9, 0.2, 0.1]))
    np.testing.assert_allclose(front["rgb"][48, 64] / front["alpha"][48, 64], expected, atol=2e-3)
    depth_tex.release()


def test_image_orientation_and_back_to_front_order(ctx):
    # a red splat up-left near, a blue one behind it; the near one must win where they overlap
    R, t = np.eye(3), np.zeros(3)
    near = one_splat((-0.5, -0.4, 3.0), (1.0, 0.0, 0.0), 0.25)
    far = one_splat((-0.4, -0.3, 4.0), (0.0, 0.0, 1.0), 0.4)
    both = GaussianCloud(np.vstack([far.means, near.means]), np.vstack([far.scales, near.scales]),
                         np.vstack([far.rotations, near.rotations]), [0.9, 0.9],
                         np.vstack([far.sh, near.sh]), 0)
    out = render_gl(ctx, both, R, t)
    u = int(round(110 * -0.5 / 3 + 63.5))
    v = int(round(105 * -0.4 / 3 + 47.5))
    px = out["rgb"][v, u]
    assert px[0] > 5 * px[2]  # red in front
    assert out["alpha"][:H // 2, :W // 2].sum() > 10 * out["alpha"][H // 2:, W // 2:].sum()


def test_sort_is_back_to_front_and_behind_camera_culled(ctx):
    z = np.array([1.0, 50.0, 3.0, 3.0001, 1999.0])
    order = sort_back_to_front(z, 0.05, 2000.0)
    assert list(order) == [4, 1, 3, 2, 0] or list(order) == [4, 1, 2, 3, 0]
    cloud = GaussianCloud(np.array([[0, 0, -2.0], [0, 0, 2.0], [50, 0, 2.0]]), np.full((3, 3), 0.1),
                          np.tile([1.0, 0, 0, 0], (3, 1)), [0.9] * 3, np.zeros((3, 1, 3)), 0)
    sp = SplatPass(ctx, cloud)
    order, big = sp.visible_order(np.eye(3), np.zeros(3), K, (W, H), 0.05, 2000.0)
    assert list(order) == [1] and not big.any()
    fbo, color, zsum = make_splat_target(ctx, (W + 1, H))
    with pytest.raises(RenderError, match="size_px"):
        sp.draw(np.eye(3), np.zeros(3), K, (W, H), fbo)
    sp.release()
    ctx.parking.use()
    for obj in (fbo, color, zsum):
        obj.release()


def test_similarity_transform_of_scene_and_camera_keeps_the_image():
    # moving world and camera together (rotation, scale 2.5, shift) must give the same picture,
    # which checks GaussianCloud.transformed including its SH rotation
    cloud = tricky_cloud(np.random.default_rng(23), 60)
    R, t = look_at((0.3, -4.5, 1.5), (0, 0, 0.2))
    q = rotation_between([0, 0, 1], [0.2, -0.6, 0.7])
    s, shift = 2.5, np.array([10.0, -3.0, 2.0])
    m = np.eye(4)
    m[:3, :3] = s * q
    m[:3, 3] = shift
    moved = cloud.transformed(m)
    R2, t2 = R @ q.T, s * t - R @ q.T @ shift
    a = render_reference(cloud, R, t, K, (W, H))
    b = render_reference(moved, R2, t2, K, (W, H))
    assert psnr(a["rgb"], b["rgb"]) > 50
    covered = a["alpha"] > 0.05
    np.testing.assert_allclose(b["depth"][covered], s * a["depth"][covered], rtol=1e-3)


def test_empty_cloud_draws_nothing(ctx):
    from citywalk.scene.gaussians import empty_cloud

    out = render_gl(ctx, empty_cloud(2), np.eye(3), np.zeros(3))
    assert out["drawn"] == 0 and out["alpha"].max() == 0.0


def test_splat_layer_reads_scene_depth_only_when_something_draws_depth():
    """A splat world without meshes draws its splats with the program that reads no scene depth
    (llvmpipe would read it for every fragment), and the frame is the one the depth-reading
    program draws; meshes, or a pass added later (an actor), make the layer hide behind them."""
    from citywalk.camera.track import CameraFrame, intrinsics
    from citywalk.camera.track import look_at as cam_look_at
    from citywalk.look.lighting import resolve_lighting
    from citywalk.render.renderer import Renderer
    from citywalk.render.splats import SplatLayerPass
    from citywalk.scene import Material, Scene
    from citywalk.shot import LookSpec
    from citywalk.sources.geometry import MeshBuilder

    size = (96, 64)
    R, t = cam_look_at(np.array([0.0, 0.0, 1.5]), np.array([0.0, 6.0, 1.5]))
    frame = CameraFrame(0, 0.0, R, t, intrinsics(60.0, size), size)
    cloud = one_splat((0.0, 6.0, 1.5), scale=0.5)
    light = resolve_lighting(LookSpec(when="noon"))

    class NoDraw:
        def update_lighting(self, light): ...
        def draw(self, fc): ...
        def release(self): ...

    def splat_alpha(scene, add=False, occluded=None):
        r = Renderer(scene, light, size, samples=1, auto_exposure=False)
        try:
            layer = next(p for p in r.layer_passes if isinstance(p, SplatLayerPass))
            if add:
                r.add_pass(NoDraw())
            if occluded is not None:
                layer.occluded = occluded
            state = layer.occluded
            rgb = r.render(frame, exposure=1.0)["rgb"]
            return state, rgb
        finally:
            r.close()

    free = Scene(gaussians=[cloud], bounds_m=((-5, 0, 0), (5, 10, 3)))
    state, rgb = splat_alpha(free)
    assert state is False and rgb.std() > 5
    assert splat_alpha(free, occluded=True)[1].tolist() == rgb.tolist()  # nothing in the depth: same frame
    assert splat_alpha(free, add=True)[0] is True
    b = MeshBuilder()
    b.quad(Material("wall", (0.4, 0.4, 0.4), 0.9), (-5, 3, 0), (10, 0, 0), (0, 0, 4))  # between camera and splat
    walled = Scene(meshes=b.build(), gaussians=[cloud], bounds_m=((-5, 0, 0), (5, 10, 4)))
    state, hidden = splat_alpha(walled)
    assert state is True and not np.array_equal(hidden, rgb)
    assert splat_alpha(walled, occluded=False)[1].tolist() != hidden.tolist()  # the wall hides the splat
