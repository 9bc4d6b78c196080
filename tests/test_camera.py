"""Walking camera dynamics measured from the camera track."""

import numpy as np
import pytest

from citywalk.camera.route import auto_route
from citywalk.camera.track import intrinsics, look_at
from citywalk.camera.walk import RigSpec, WalkDynamics, walk_frames
from citywalk.sources.procedural import generate_street, load_style

FPS = 60


def _track(route, dyn, seconds=10.0):
    frames = walk_frames(route, RigSpec(FPS, int(seconds * FPS), (640, 360), 75.0, dyn))
    pos = np.array([f.position for f in frames])
    fwd = np.array([f.forward for f in frames])
    return frames, pos, fwd


def test_mean_speed_bob_and_sway_on_a_straight_walk():
    dyn = WalkDynamics()
    route = np.array([[0, 0, 0], [100, 0, 0.0]])
    frames, pos, fwd = _track(route, dyn)
    speed = np.linalg.norm(pos[-1, :2] - pos[0, :2]) / (len(pos) - 1) * FPS
    assert speed == pytest.approx(1.4, rel=0.03)
    z = pos[:, 2] - pos[:, 2].mean()
    spectrum = np.abs(np.fft.rfft(z))
    freqs = np.fft.rfftfreq(len(z), 1 / FPS)
    assert freqs[spectrum.argmax()] == pytest.approx(dyn.step_hz, abs=0.15)
    assert z.max() - z.min() == pytest.approx(dyn.bob_m, rel=0.1)
    # lowest at heel strike: t = k / step_hz
    t = np.arange(len(z)) / FPS
    strikes = np.round(np.arange(1, 15) / dyn.step_hz * FPS).astype(int)
    assert np.all(z[strikes] < np.percentile(z, 10))
    sway = pos[:, 1]
    assert 0.5 * dyn.sway_m < np.abs(sway).max() <= dyn.sway_m + 1e-6
    assert pos[:, 2].mean() == pytest.approx(dyn.eye_height_m, abs=0.01)


def test_gaze_is_smooth_through_a_corner():
    route = np.array([[0, 0, 0], [20, 0, 0], [20, 20, 0.0]])
    frames, pos, fwd = _track(route, WalkDynamics(), seconds=25)
    yaw = np.unwrap(np.arctan2(fwd[:, 1], fwd[:, 0]))
    assert yaw[0] == pytest.approx(0.0, abs=0.02) and yaw[-1] == pytest.approx(np.pi / 2, abs=0.05)
    rate = np.diff(yaw) * FPS
    assert np.abs(rate).max() < 1.2, "turns take about a second or more"
    jerk = np.abs(np.diff(yaw, 2)) * FPS * FPS
    assert jerk.max() < 3.0, "no jitter in the gaze"
    assert np.all(np.diff(yaw) > -1e-3), "the turn never reverses"


def test_camera_projects_a_point_ahead_to_the_principal_point():
    K = intrinsics(90.0, (640, 360))
    assert K[0, 0] == pytest.approx(320.0)
    R, t = look_at(np.array([0.0, 0, 1.6]), np.array([10.0, 0, 1.6]))
    from citywalk.camera.track import CameraFrame

    cam = CameraFrame(0, 0.0, R, t, K, (640, 360))
    uv = cam.project(np.array([[10.0, 0, 1.6], [10.0, 0, 2.6], [10.0, 1.0, 1.6], [-5.0, 0, 1.6]]))
    assert uv[0] == pytest.approx([320, 180])
    assert uv[1][1] < 180, "higher points are higher in the image (y down)"
    assert uv[2][0] < 320, "north of an east-looking camera is to the left"
    assert np.isnan(uv[3]).all()


def test_auto_route_is_long_enough_and_on_the_network():
    scene = generate_street(load_style("tokyo"), seed=3, extent_m=160)
    rng = np.random.default_rng(0)
    route = auto_route(scene.network, 60.0, rng, street="side", margin_m=10.0)
    length = np.linalg.norm(np.diff(route, axis=0), axis=1).sum()
    assert length >= 70.0
    nodes = scene.network.nodes
    assert np.min(np.linalg.norm(nodes[:, :2] - route[-1, :2], axis=1)) < 1e-6
