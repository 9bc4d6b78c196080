"""Material families (albedo, normal, roughness) and the windows' rooms: tileable, physical,
deterministic textures, and an interior that moves behind the glass as the camera moves."""

import numpy as np
import pytest

from citywalk.scene import FACADE, PBR_SUFFIX, Material, Scene
from citywalk.sources.procedural import materials

SMALL_PX = 128


def _seam_ratio(a: np.ndarray) -> float:
    """Edge-to-edge difference (last column to first, last row to first) over the largest
    difference between two neighbouring columns or rows inside: at most about 1 when tileable."""
    a = a.astype(np.float32)
    inner = max(np.abs(np.diff(a, axis=1)).mean(axis=(0, 2)).max(), np.abs(np.diff(a, axis=0)).mean(axis=(1, 2)).max())
    seam = max(np.abs(a[:, -1] - a[:, 0]).mean(), np.abs(a[-1] - a[0]).mean())
    return float(seam / max(inner, 1e-6))


@pytest.fixture(scope="module")
def layers():
    return materials.family_layers(SMALL_PX * 2)


@pytest.mark.parametrize("name", materials.FAMILIES)
def test_every_family_tiles_without_a_seam(layers, name):
    for key in (name, name + PBR_SUFFIX):
        assert layers[key].shape == (SMALL_PX * 2, SMALL_PX * 2, 4) and layers[key].dtype == np.uint8
        assert _seam_ratio(layers[key]) < 1.05, key


def test_the_seam_check_catches_a_texture_that_does_not_tile(layers):
    cut = np.roll(layers["stucco"], SMALL_PX // 3, axis=1)[:, : SMALL_PX * 2 - 37]  # wraps at the wrong period
    ramp = np.linspace(0, 255, 256)[None, :, None].repeat(256, 0)
    assert _seam_ratio(ramp) > 20 and _seam_ratio(cut) > 1.05


@pytest.mark.parametrize("name", materials.FAMILIES)
def test_normals_are_unit_and_point_out(layers, name):
    n = layers[name + PBR_SUFFIX][..., :3].astype(np.float32) / 127.5 - 1.0
    assert np.abs(np.linalg.norm(n, axis=-1) - 1.0).max() < 0.02
    assert n[..., 2].min() > 0.2


def test_brick_mortar_lines_bend_the_normal_and_glass_is_almost_flat(layers):
    def tilt(name):
        n = layers[name + PBR_SUFFIX][..., :3].astype(np.float32) / 127.5 - 1.0
        return np.hypot(n[..., 0], n[..., 1])

    brick = tilt("brick")
    # course joints run along rows: rows through mortar edges tilt far more than mid-brick rows
    per_row = brick.mean(axis=1)
    assert per_row.max() > 3 * np.median(per_row)
    assert (brick > 0.3).mean() > 0.05
    assert tilt("glass").max() < 0.05


def test_roughness_follows_the_material(layers):
    rough = {name: layers[name + PBR_SUFFIX][..., 3].mean() / 255 for name in materials.FAMILIES}
    assert rough["glass"] < 0.1 < 0.8 < rough["asphalt"]
    assert rough["metal"] < rough["stucco"]
    # glazed tiles are glossier than the grout between them
    alb = layers["tile"][..., 0]
    r = layers["tile" + PBR_SUFFIX][..., 3]
    assert r[alb > np.percentile(alb, 80)].mean() < r[alb <= np.percentile(alb, 5)].mean() - 60


def test_same_seed_same_textures_other_seed_other_textures():
    for name in ("brick", "asphalt_wear", "sidewalk"):
        a = materials._MAKERS[name](np.random.default_rng(3), SMALL_PX)
        b = materials._MAKERS[name](np.random.default_rng(3), SMALL_PX)
        c = materials._MAKERS[name](np.random.default_rng(4), SMALL_PX)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert not np.array_equal(a[0], c[0])
    assert materials.family_layers(SMALL_PX) is materials.family_layers(SMALL_PX)  # cached in-process


def test_the_shader_samples_walls_at_the_families_scale():
    from citywalk.render.gl import shader_source

    src = shader_source("mesh.frag")
    assert f"#define FACADE_TILE_M {materials.FACADE_TILE_M}" in src


# ---- the room behind a window moves with the view ------------------------------------------------
SIZE = (320, 240)
WALL_Y_M = 4.0
CELL_W_M, CELL_H_M = 2.4, 3.0
WIN = (0.22, 0.28, 0.78, 0.82)  # punched-window rectangle of window style 0, in cell units (mesh.frag)


def _facade_scene() -> Scene:
    from citywalk.sources.geometry import MeshBuilder

    b = MeshBuilder()
    wall = Material("wall", (0.8, 0.8, 0.8), 0.85, "stucco", kind=FACADE)
    # one window cell facing -y (toward the cameras), variation 0.1 = punched windows
    b.quad(wall, (-CELL_W_M / 2, WALL_Y_M, 0.0), (CELL_W_M, 0, 0), (0, 0, CELL_H_M), variation=0.1)
    tex = {k: v for k, v in materials.family_layers(SMALL_PX).items() if k.startswith("stucco")}
    return Scene(meshes=b.build(), textures=tex, bounds_m=((-5, -1, 0), (5, 6, 4)))


def _rectified(rgb: np.ndarray, frame, xs: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """The image sampled at points of the glass plane (wall coordinates x, z): (len(zs), len(xs))."""
    X, Z = np.meshgrid(xs, zs)
    P = np.stack([X, np.full_like(X, WALL_Y_M), Z], -1).reshape(-1, 3)
    c = P @ frame.R.T + frame.t
    uv = c @ frame.K.T
    u = np.clip(np.round(uv[:, 0] / uv[:, 2]).astype(int), 0, SIZE[0] - 1)
    v = np.clip(np.round(uv[:, 1] / uv[:, 2]).astype(int), 0, SIZE[1] - 1)
    return rgb[v, u].astype(np.float32).mean(-1).reshape(X.shape)


def _best_shift_m(a: np.ndarray, b: np.ndarray, step_m: float, max_m: float) -> float:
    """Horizontal shift (m) of b against a that best matches them (normalised cross-correlation)."""
    best, best_s = -2.0, 0.0
    k_max = int(max_m / step_m)
    w = a.shape[1]
    for k in range(-k_max, k_max + 1):
        lo, hi = max(0, k), min(w, w + k)
        if hi - lo < w // 3:
            continue
        x, y = a[:, lo - k: hi - k].ravel(), b[:, lo:hi].ravel()
        x, y = x - x.mean(), y - y.mean()
        score = float((x * y).sum() / max(np.sqrt((x * x).sum() * (y * y).sum()), 1e-9))
        if score > best:
            best, best_s = score, k * step_m
    return best_s


def test_a_window_shows_a_room_that_shifts_with_the_view():
    from citywalk.camera.track import CameraFrame, intrinsics, look_at
    from citywalk.look.lighting import resolve_lighting
    from citywalk.render.renderer import Renderer
    from citywalk.shot import LookSpec

    scene = _facade_scene()
    r = Renderer(scene, resolve_lighting(LookSpec(when="noon")), SIZE, samples=1)
    step = 0.01
    # the pane inside the frame and the reveal (the camera moves at most 0.6 m off the axis)
    xs = np.arange((WIN[0] - 0.5) * CELL_W_M + 0.25, (WIN[2] - 0.5) * CELL_W_M - 0.25, step)
    zs = np.arange(WIN[1] * CELL_H_M + 0.25, WIN[3] * CELL_H_M - 0.25, step)
    views = {}
    try:
        for eye_x in (-0.6, 0.6):
            R, t = look_at(np.array([eye_x, 0.0, 1.65]), np.array([0.0, WALL_Y_M, 1.65]))
            frame = CameraFrame(0, 0.0, R, t, intrinsics(60.0, SIZE), SIZE)
            out = r.render(frame)
            assert r.ctx.error == "GL_NO_ERROR"
            views[eye_x] = _rectified(out["rgb"], frame, xs, zs)
            wall = _rectified(out["rgb"], frame, np.array([-1.1, 1.1]), np.array([0.3, 0.5]))
            assert views[eye_x].mean() < wall.mean() - 20  # the room behind the glass is darker than the wall
    finally:
        r.close()
    a, b = views[-0.6], views[0.6]
    assert a.std() > 3 and b.std() > 3  # the pane shows structure (room edges), not a flat colour
    # moving the eye by 1.2 m moves what lies D metres behind the glass by 1.2 * D / (L + D) on
    # the glass plane, the same way as the eye: about 0.5 m for rooms 3-5.5 m deep seen from 4 m
    shift = _best_shift_m(a, b, step, 0.9)
    print("room shift on the glass plane (m):", shift)
    assert 0.2 < shift < 0.8, shift


def test_a_shifted_bond_with_an_odd_row_count_is_refused():
    with pytest.raises(ValueError, match="even row count"):
        materials.bond(64, 4, 3, 0.5)
    ids, dist = materials.bond(64, 4, 4, 0.5)
    assert len(np.unique(ids)) == 16 and dist.min() >= 0
