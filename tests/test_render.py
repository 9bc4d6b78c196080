"""Rendered frames checked by measurable properties: sky, horizon, shadows, determinism."""

import numpy as np
import pytest

from citywalk.camera.track import CameraFrame, intrinsics, look_at
from citywalk.look.lighting import resolve_lighting
from citywalk.render.renderer import Renderer
from citywalk.scene import Material, Scene
from citywalk.shot import LookSpec, Shot
from citywalk.sources.geometry import MeshBuilder

SIZE = (192, 108)


def _plane_and_box(box: bool = True) -> Scene:
    b = MeshBuilder()
    ground = Material("ground", (0.3, 0.3, 0.3), 0.9)
    b.quad(ground, (-2000, -2000, 0), (4000, 0, 0), (0, 4000, 0))
    if box:
        b.box(Material("box", (0.5, 0.5, 0.5), 0.9), (0, 0, 0), (2.0, 2.0, 6.0))
    return Scene(meshes=b.build(), bounds_m=((-30, -30, 0), (30, 30, 6)))


def _frame(eye, target, fov=75.0):
    R, t = look_at(np.asarray(eye, float), np.asarray(target, float))
    return CameraFrame(0, 0.0, R, t, intrinsics(fov, SIZE), SIZE)


def _render(scene, when, frame, **kw):
    r = Renderer(scene, resolve_lighting(LookSpec(when=when, **kw)), SIZE, samples=1)
    try:
        out = r.render(frame, want_depth=True)
        assert r.ctx.error == "GL_NO_ERROR"
        return out
    finally:
        r.close()


def test_horizon_is_where_the_camera_says():
    scene = _plane_and_box(box=False)
    for pitch_deg in (0.0, 10.0):
        target = [100.0, 0.0, 1.6 + 100.0 * np.tan(np.radians(pitch_deg))]
        frame = _frame([0, 0, 1.6], target)
        out = _render(scene, "noon", frame)
        sky = ~np.isfinite(out["depth"][:, SIZE[0] // 2])
        first_ground_row = int(np.argmax(~sky))
        f = frame.K[1, 1]
        # the horizon of a flat earth seen from 1.6 m lies a hair below the level line
        expected = frame.K[1, 2] + f * np.tan(np.radians(pitch_deg)) + f * 1.6 / 2000.0 * 0.5
        assert first_ground_row == pytest.approx(expected, abs=2.0), pitch_deg
        assert sky[: first_ground_row].all()


def test_sky_is_brighter_at_noon_than_at_night():
    scene = _plane_and_box(box=False)
    frame = _frame([0, 0, 1.6], [100, 0, 40])
    noon = _render(scene, "noon", frame)
    night = _render(scene, "night", frame)
    sky = ~np.isfinite(noon["depth"])
    assert sky.mean() > 0.3
    assert noon["rgb"][sky].mean() > night["rgb"][sky].mean() + 60
    assert noon["rgb"].mean() > 2 * night["rgb"].mean()


def test_shadows_at_noon_fall_where_the_sun_says():
    scene = _plane_and_box()
    L = resolve_lighting(LookSpec(when="noon"))
    frame = _frame([-9, -9, 12], [0, 0, 0])
    out = _render(scene, "noon", frame)
    depth, rgb = out["depth"], out["rgb"].astype(float).mean(-1)
    # world points of ground pixels
    h, w = depth.shape
    K = frame.K
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rays_cam /= np.linalg.norm(rays_cam, axis=-1, keepdims=True)
    pts = frame.position + (rays_cam @ frame.R) * depth[..., None]
    ground = np.isfinite(depth) & (np.abs(pts[..., 2]) < 0.05) & (np.abs(pts[..., 0]) < 25) & (np.abs(pts[..., 1]) < 25)
    # a ground point is shadowed if its ray toward the sun passes through the box (|x|,|y| < 1, z < 6)
    s = L.sun_dir
    k = 6.0 / s[2]
    ts = np.linspace(0.02, 1.0, 60)[:, None, None, None]
    ray = pts[None] + ts * k * s
    inside = (np.abs(ray[..., 0]) < 1.0) & (np.abs(ray[..., 1]) < 1.0) & (ray[..., 2] < 6.0)
    shadowed = inside.any(0) & ground
    lit = ground & ~shadowed
    assert shadowed.sum() > 20 and lit.sum() > 200
    assert rgb[shadowed].mean() < 0.6 * rgb[lit].mean()


def test_same_shot_same_frame_bytes():
    from citywalk.pipeline import prepare

    shot = Shot.from_dict({"output": {"size": list(SIZE), "duration_s": 0.25, "samples": 1}})
    frames = []
    for _ in range(2):
        p = prepare(shot)
        scene, lighting, route, cams = p.scene, p.lighting, p.route, p.frames
        r = Renderer(scene, lighting, SIZE, 1, focus_points=route)
        frames.append([r.render(c)["rgb"].tobytes() for c in cams[:3]])
        r.close()
    assert frames[0] == frames[1]
    other = shot.updated({"scene": {"seed": 8}})
    p = prepare(other)
    scene, lighting, route, cams = p.scene, p.lighting, p.route, p.frames
    r = Renderer(scene, lighting, SIZE, 1, focus_points=route)
    assert r.render(cams[0])["rgb"].tobytes() != frames[0][0]
    r.close()


def test_depth_matches_geometry():
    scene = _plane_and_box(box=False)
    frame = _frame([0, 0, 2.0], [10, 0, 0])  # looking down at 11.3 degrees
    out = _render(scene, "noon", frame)
    K = frame.K
    for row in range(SIZE[1] // 2 + 2, SIZE[1], 7):
        ray = frame.R.T @ np.array([(96.5 - K[0, 2]) / K[0, 0], (row + 0.5 - K[1, 2]) / K[1, 1], 1.0])
        expected = -frame.position[2] / ray[2] * np.linalg.norm(ray)
        assert out["depth"][row, 96] == pytest.approx(expected, rel=0.002), row


# ---------------------------------------------------------------------------- passes and exposure
def _timed_frames(n: int) -> list[CameraFrame]:
    """A camera swinging from the bright sky down to the ground: auto exposure keeps adapting."""
    out = []
    for i in range(n):
        R, t = look_at(np.array([0.0, 0.0, 1.6]), np.array([20.0, 0.0, 30.0 - 12.0 * i]))
        out.append(CameraFrame(i, i / 12.0, R, t, intrinsics(75.0, SIZE), SIZE))
    return out


def test_adapt_moves_toward_the_metered_target_in_log_space():
    from citywalk.render.exposure import ADAPTATION_TIME_S, ExposureState, adapt

    first = adapt(ExposureState(), 2.0, 3.0, 0.0)  # the reference luminance maps to the key
    assert first.exposure == pytest.approx(0.18 / 2.0) and first.time_s == 0.0
    assert adapt(first, 0.02, 0.03, 0.0).exposure != first.exposure, "time not advancing: jump"
    later = adapt(first, 0.02, 0.03, ADAPTATION_TIME_S)
    target = adapt(ExposureState(), 0.02, 0.03, 0.0).exposure
    k = 1 - np.exp(-1.0)
    assert np.log(later.exposure) == pytest.approx(np.log(first.exposure) + k * np.log(target / first.exposure))
    assert adapt(first, 1e4, 1e5, 1.0).exposure < first.exposure, "brighter scene, less exposure"


def test_exposure_state_carries_a_shot_over_to_another_renderer():
    scene, lighting = _plane_and_box(), resolve_lighting(LookSpec(when="noon"))
    frames = _timed_frames(4)
    one = Renderer(scene, lighting, SIZE, samples=1)
    try:
        whole = [one.render(f)["rgb"] for f in frames]
    finally:
        one.close()
    first, second = Renderer(scene, lighting, SIZE, samples=1), Renderer(scene, lighting, SIZE, samples=1)
    try:
        first.render(frames[0])
        first.render(frames[1])
        fresh = second.render(frames[2])["rgb"]
        second.exposure_state = first.exposure_state
        carried = [second.render(f)["rgb"] for f in frames[2:]]
    finally:
        first.close()
        second.close()
    assert all(np.array_equal(a, b) for a, b in zip(carried, whole[2:]))
    assert not np.array_equal(fresh, whole[2]), "without the state the exposure jumps"


class _Probe:
    """A pass that records what it was handed."""

    def __init__(self):
        self.lit, self.seen = [], []

    def update_lighting(self, light):
        self.lit.append(light.lighting)

    def draw(self, fc):
        self.seen.append(fc)

    def release(self):
        pass


def test_an_added_pass_gets_the_frame_context_and_the_light():
    from citywalk.render.frame import gl_projection, gl_view

    r = Renderer(_plane_and_box(), resolve_lighting(LookSpec(when="noon")), SIZE, samples=1)
    try:
        probe = _Probe()
        r.add_pass(probe)
        assert r.passes.index(probe) == len(r.scene_passes) - 1, "after the meshes and the sky"
        frames = _timed_frames(2)
        for f in frames:
            r.render(f)
        night = resolve_lighting(LookSpec(when="night"))
        r.update_lighting(night)
    finally:
        r.close()
    assert len(probe.seen) == 2 and [fc.index for fc in probe.seen] == [0, 1]
    fc = probe.seen[1]
    assert fc.exposure is None, "scene passes draw before the exposure is metered"
    np.testing.assert_allclose(fc.view_proj, gl_projection(frames[1].K, SIZE) @ gl_view(frames[1].R, frames[1].t))
    assert fc.time_s == frames[1].time_s and fc.targets is r.targets
    assert probe.lit[-1] is night and len(probe.lit) == 2


def test_a_far_wire_stays_an_unbroken_line(monkeypatch):
    """A 2.4-cm cable 40 m away is a tenth of a pixel wide here: drawn as modelled it breaks up
    into dashes (or vanishes); as a THIN tube it is widened to about a pixel in every column."""
    from citywalk.render import meshes
    from citywalk.scene import THIN

    b = MeshBuilder()
    b.quad(Material("ground", (0.3, 0.3, 0.3), 0.9), (-2000, -2000, 0), (4000, 0, 0), (0, 4000, 0))
    xs = np.linspace(-60.0, 60.0, 25)
    b.tube(Material("wire", (0.02, 0.02, 0.02), 0.6, kind=THIN), np.c_[xs, np.full(25, 40.0), np.full(25, 9.0)],
           0.012, sides=3)
    scene = Scene(meshes=b.build(), bounds_m=((-60, -30, 0), (60, 45, 9)))
    frame = _frame((0.0, 0.0, 1.6), (0.0, 40.0, 9.0))
    row = int(round(frame.project(np.array([[0.0, 40.0, 9.0]]))[0, 1]))

    def wire_columns():
        lum = _render(scene, "noon", frame)["rgb"].astype(float).mean(-1)
        band, sky = lum[row - 2:row + 3], np.median(lum[row - 8:row - 4], axis=0)
        return band.min(0) < 0.6 * sky  # a column the wire darkens

    widened = wire_columns()
    monkeypatch.setattr(meshes, "THIN_MIN_RADIUS_PX", 0.0)
    as_modelled = wire_columns()
    assert widened[4:-4].all(), np.flatnonzero(~widened)
    assert as_modelled.mean() < 0.5, as_modelled.mean()
