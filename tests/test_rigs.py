"""Third-person camera rigs, keyframed cameras and camera-path files, checked by each rig's
geometric promise measured from the frames it returns."""

import json

import numpy as np
import pytest

from citywalk.camera.keyframes import EASINGS, Keyframe, ease, keyframe_frames
from citywalk.camera.paths_io import (
    frames_close,
    read_camera_path_json,
    read_keyframes,
    read_realestate10k,
    write_camera_path_json,
    write_keyframes,
    write_realestate10k,
)
from citywalk.camera.rigs import (
    drone_frames,
    follow_frames,
    front_frames,
    orbit_frames,
    rig_frames,
    side_frames,
    walker_track,
)
from citywalk.camera.walk import RigSpec, SmoothPath, WalkDynamics, walk_arc_length, walk_frames
from citywalk.errors import ShotError

FPS = 30
SIZE = (640, 360)
FOV = 75.0
CORNER = np.array([[0, 0, 0], [20, 0, 0], [20, 20, 0.0]])
N_CORNER = 25 * FPS  # long enough to walk round the corner and up the second leg
DYN = WalkDynamics()


def _spec(n_frames, fps=FPS) -> RigSpec:
    return RigSpec(fps, n_frames, SIZE, FOV, DYN)


def _positions(frames):
    return np.array([f.position for f in frames])


def _project_each(frames, points):
    return np.array([f.project(points[i:i + 1])[0] for i, f in enumerate(frames)])


def _horizontal(v):
    v = np.array(v, float)
    v[:, 2] = 0.0
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _arc_along(route, points):
    """Arc length along the smoothed route of each point's foot (extrapolated before the start)."""
    path = SmoothPath(route, DYN.corner_radius_m)
    out = []
    for p in points:
        i = int(np.argmin(np.linalg.norm(path.points[:, :2] - p[:2], axis=1)))
        j = min(i, len(path.points) - 2)
        d = path.points[j + 1] - path.points[j]
        out.append(path.cum[i] + (p - path.points[i])[:2] @ (d[:2] / np.linalg.norm(d[:2])))
    return np.array(out)


def test_walker_follows_the_walk_law_on_the_smoothed_route():
    walker = walker_track(CORNER, _spec(N_CORNER))
    s = walk_arc_length(np.arange(N_CORNER) / FPS, DYN)
    np.testing.assert_allclose(walker.arc_m, s)
    np.testing.assert_allclose(walker.positions, SmoothPath(CORNER, DYN.corner_radius_m).at(s))
    # the first-person camera is the walker's eye: same ground point up to its sway
    eye = _positions(walk_frames(CORNER, _spec(N_CORNER)))
    assert np.linalg.norm(eye[:, :2] - walker.positions[:, :2], axis=1).max() <= DYN.sway_m + 1e-6
    np.testing.assert_allclose(np.linalg.norm(walker.headings, axis=1), 1.0)
    assert walker.yaw_deg[0] == pytest.approx(0.0, abs=0.5) and walker.yaw_deg[-1] == pytest.approx(90.0, abs=0.5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_side_rig_centres_the_walker_at_a_constant_distance(side):
    frames, walker = side_frames(CORNER, _spec(N_CORNER), distance_m=3.5, side=side)
    uv = _project_each(frames, walker.chest)
    assert np.all(np.abs(uv[:, 0] - SIZE[0] / 2) < 0.05 * SIZE[0]), "walker's chest off the centre line"
    offset = _positions(frames) - walker.positions
    dist = np.linalg.norm(offset[:, :2], axis=1)
    assert np.all(np.abs(dist / 3.5 - 1.0) < 0.02), f"distance {dist.min():.3f}..{dist.max():.3f} m"
    cross_z = walker.headings[:, 0] * offset[:, 1] - walker.headings[:, 1] * offset[:, 0]
    on_left = cross_z > 0
    assert np.all(on_left) if side == "left" else not np.any(on_left)
    # moves parallel to the route on the straight legs: camera velocity along the heading
    vel = np.diff(_positions(frames), axis=0) * FPS
    straight = slice(FPS, 8 * FPS)
    along = (vel[straight] * walker.headings[straight]).sum(1)
    assert np.abs(vel[straight, 1]).max() < 1e-6 and along.mean() == pytest.approx(DYN.speed_mps, rel=0.01)


def test_follow_rig_stays_behind_and_never_ahead():
    frames, walker = follow_frames(CORNER, _spec(N_CORNER))
    pos = _positions(frames)
    cam_to_walker = _horizontal(walker.positions - pos)
    dots = (cam_to_walker * walker.headings).sum(1)
    assert dots.min() > 0.7, f"min dot {dots.min():.2f}"
    assert np.all(_arc_along(CORNER, pos) < walker.arc_m), "the camera got ahead of the walker"
    head = walker.positions + np.array([0, 0, DYN.eye_height_m + 0.1])
    uv = _project_each(frames, head)
    assert np.all((uv[:, 0] > 0) & (uv[:, 0] < SIZE[0]) & (uv[:, 1] > 0) & (uv[:, 1] < SIZE[1]))
    # over the right shoulder: on the first straight the walker sits left of centre, camera at 1.9 m
    assert np.all(uv[: 5 * FPS, 0] < SIZE[0] / 2 - 10)
    np.testing.assert_allclose(pos[:, 2], 1.9)
    gap = np.linalg.norm((walker.positions - pos)[: 5 * FPS, :2], axis=1)
    assert np.all(np.abs(gap - np.hypot(2.5, 0.4)) < 0.03)


def test_front_rig_leads_the_walker_and_looks_back():
    frames, walker = front_frames(CORNER, _spec(N_CORNER), distance_m=4.0)
    pos = _positions(frames)
    assert np.all(_arc_along(CORNER, pos) > walker.arc_m + 3.0), "the camera is not ahead"
    uv = _project_each(frames, walker.chest)
    assert np.all(np.abs(uv - np.array(SIZE) / 2).max(1) < 0.05 * SIZE[0])
    facing = (_horizontal(np.array([f.forward for f in frames])) * walker.headings).sum(1)
    assert facing[: 8 * FPS].max() < -0.99, "looks back down the route on the straight"
    speed = np.linalg.norm(np.diff(pos[: 8 * FPS], axis=0), axis=1).mean() * FPS
    assert speed == pytest.approx(DYN.speed_mps, rel=0.01), "retreats at the walking speed"
    gap = np.linalg.norm((pos - walker.positions)[: 8 * FPS, :2], axis=1)
    assert np.all(np.abs(gap / 4.0 - 1.0) < 0.02)


def test_orbit_keeps_its_target_centred_at_a_constant_radius():
    n = 10 * FPS
    frames, walker = orbit_frames(CORNER, _spec(n))
    target = walker.chest[(n - 1) // 2]
    uv = np.array([f.project(target[None])[0] for f in frames])
    assert np.abs(uv - np.array(SIZE) / 2).max() < 2.0
    pos = _positions(frames)
    radius = np.linalg.norm(pos[:, :2] - target[:2], axis=1)
    np.testing.assert_allclose(radius, 6.0, rtol=1e-9)
    np.testing.assert_allclose(pos[:, 2], walker.positions[(n - 1) // 2, 2] + 2.5)
    bearing = np.unwrap(np.arctan2(pos[:, 1] - target[1], pos[:, 0] - target[0]))
    assert np.degrees(bearing[-1] - bearing[0]) == pytest.approx(120.0, abs=1e-6)
    assert np.all(np.diff(bearing) > 0) and np.ptp(np.diff(bearing)) < 1e-9, "constant angular speed"
    # a given point, turning clockwise
    point = np.array([5.0, 3.0, 1.0])
    frames2, _ = orbit_frames(CORNER, _spec(n), target_m=point, degrees_total=-90.0, radius_m=10.0)
    uv2 = np.array([f.project(point[None])[0] for f in frames2])
    assert np.abs(uv2 - np.array(SIZE) / 2).max() < 2.0
    pos2 = _positions(frames2)
    bearing2 = np.unwrap(np.arctan2(pos2[:, 1] - 3.0, pos2[:, 0] - 5.0))
    assert np.degrees(bearing2[-1] - bearing2[0]) == pytest.approx(-90.0, abs=1e-6)


def test_drone_rises_smoothly_and_keeps_the_route_ahead_in_view():
    # the rise from the street (the default starts 8 m under the altitude, over the roofs)
    frames, walker = drone_frames(CORNER, _spec(N_CORNER), altitude_m=25.0, lead_m=6.0,
                                  start_height_m=DYN.eye_height_m + 0.2)
    z = _positions(frames)[:, 2]
    assert z[0] == pytest.approx(DYN.eye_height_m + 0.2) and z[-1] == pytest.approx(25.0)
    default, _ = drone_frames(CORNER, _spec(N_CORNER), altitude_m=25.0)
    assert _positions(default)[0, 2] == pytest.approx(17.0)
    assert np.all(np.diff(z) >= 0), "rises monotonically"
    rate = np.diff(z) * FPS
    assert rate[0] < 0.01 and rate[-1] < 0.01 and rate.max() < 2.0, "eases in and out"
    fwd = np.array([f.forward for f in frames])
    assert np.all(fwd[:, 2] < 0), "pitched down"
    path = SmoothPath(CORNER, DYN.corner_radius_m)
    for i in range(0, N_CORNER, 5):
        ahead = path.at(walker.arc_m[i] + np.linspace(0.0, 6.0, 7))
        uv = frames[i].project(np.vstack([ahead, walker.chest[i:i + 1]]))
        assert np.all((uv[:, 0] >= 0) & (uv[:, 0] <= SIZE[0]) & (uv[:, 1] >= 0) & (uv[:, 1] <= SIZE[1])), i
    assert np.all(_arc_along(CORNER, _positions(frames)) < walker.arc_m), "flies behind the walker"


@pytest.mark.parametrize("fps", [30, 60])
@pytest.mark.parametrize("rig", ["follow", "side", "front", "orbit", "drone"])
def test_no_jitter_through_a_right_angle_corner(rig, fps):
    frames, _ = rig_frames(rig, CORNER, _spec(25 * fps, fps))
    pos = _positions(frames)
    accel = np.linalg.norm(np.diff(pos, 2, axis=0), axis=1) * fps * fps
    fwd = np.array([f.forward for f in frames])
    yaw = np.unwrap(np.arctan2(fwd[:, 1], fwd[:, 0]))
    yaw_accel = np.abs(np.diff(yaw, 2)) * fps * fps
    # a kink in the camera path would show up as an acceleration that grows with fps
    assert accel.max() < 2.0, f"position acceleration {accel.max():.2f} m/s^2"
    assert yaw_accel.max() < 1.0, f"yaw acceleration {yaw_accel.max():.2f} rad/s^2"
    assert np.abs(np.diff(yaw)).max() * fps < 0.8, "turns no faster than 0.8 rad/s"


def _keys():
    return [
        {"t_s": 0.0, "position": [0, 0, 2], "look_at": [10, 0, 1], "fov_deg": 60, "ease": "ease_in_out"},
        {"t_s": 1.0, "position": [5, 1, 3], "look_at": [10, 5, 1], "fov_deg": 70, "ease": "linear"},
        {"t_s": 2.5, "position": [6, 8, 10], "look_at": [0, 10, 0], "fov_deg": 40, "ease": "ease_out"},
        {"t_s": 4.0, "position": [0, 12, 30], "look_at": [0, 0, 0], "fov_deg": 90},
    ]


def test_keyframes_pass_exactly_through_their_keys():
    fps = 24
    frames = keyframe_frames(_keys(), fps, 5 * fps, SIZE)
    for key in _keys():
        f = frames[int(round(key["t_s"] * fps))]
        assert np.linalg.norm(f.position - key["position"]) < 1e-3
        direction = np.array(key["look_at"], float) - key["position"]
        assert f.forward @ (direction / np.linalg.norm(direction)) > 1 - 1e-9
        fov = np.degrees(2 * np.arctan(SIZE[0] / 2 / f.K[0, 0]))
        assert fov == pytest.approx(key["fov_deg"], abs=1e-9)
    # held after the last key; between keys no loops: each segment's length stays near its chord
    np.testing.assert_allclose(frames[-1].position, [0, 12, 30])
    pos = _positions(frames)
    key_frames = [int(round(k["t_s"] * fps)) for k in _keys()]
    for a, b in zip(key_frames, key_frames[1:]):
        travelled = np.linalg.norm(np.diff(pos[a:b + 1], axis=0), axis=1).sum()
        assert travelled < 1.3 * np.linalg.norm(pos[b] - pos[a])


@pytest.mark.parametrize("kind", EASINGS)
def test_easing_is_monotone(kind):
    u = np.linspace(0, 1, 1001)
    e = ease(u, kind)
    assert e[0] == 0.0 and e[-1] == 1.0 and np.all(np.diff(e) >= 0)
    keys = [Keyframe(0.0, np.zeros(3), np.array([0, 10.0, 0]), 50.0, kind),
            Keyframe(2.0, np.array([10.0, 0, 0]), np.array([10.0, 10, 0]), 80.0)]
    frames = keyframe_frames(keys, 50, 101, SIZE)
    x = _positions(frames)[:, 0]
    assert np.all(np.diff(x) >= -1e-12) and np.abs(_positions(frames)[:, 1:]).max() < 1e-9
    first, last = x[1] - x[0], x[-1] - x[-2]
    linear = 10.0 / 100
    assert (first < 0.1 * linear) == (kind in ("ease_in", "ease_in_out"))
    assert (last < 0.1 * linear) == (kind in ("ease_out", "ease_in_out"))
    fovs = np.array([np.degrees(2 * np.arctan(SIZE[0] / 2 / f.K[0, 0])) for f in frames])
    assert np.all(np.diff(fovs) >= -1e-9) and fovs[0] == pytest.approx(50) and fovs[-1] == pytest.approx(80)


def test_keyframes_hold_still_where_keys_repeat_a_position():
    keys = [{"t_s": 0, "position": [0, 0, 2], "look_at": [10, 0, 2], "fov_deg": 60},
            {"t_s": 1, "position": [0, 0, 2], "look_at": [0, 10, 2], "fov_deg": 60},
            {"t_s": 2, "position": [5, 0, 2], "look_at": [0, 10, 2], "fov_deg": 60}]
    frames = keyframe_frames(keys, 10, 21, SIZE)
    np.testing.assert_allclose(_positions(frames[:11]), np.tile([0, 0, 2.0], (11, 1)), atol=1e-9)
    # centripetal Catmull-Rom does not overshoot a straight run of keys
    assert np.all(_positions(frames)[:, 0] >= -1e-9) and _positions(frames)[:, 0].max() <= 5.0 + 1e-9


@pytest.mark.parametrize("index, field, value, match", [
    (1, "t_s", 0.0, r"key 1 't_s'.*not after key 0"),
    (2, "fov_deg", 200, r"key 2 'fov_deg': 200 is outside 10\.\.150"),
    (0, "position", [0, float("nan"), 1], r"key 0 'position'\[1\]: must be finite"),
    (3, "look_at", [1, 2], r"key 3 'look_at': expected 3 numbers"),
    (1, "ease", "bounce", r"key 1 'ease': 'bounce' is unknown"),
    (2, "fov_deg", "wide", r"key 2 'fov_deg': expected a number"),
    (0, "look_at", [0, 0, 2], r"key 0 'look_at': equals 'position'"),
])
def test_bad_keys_name_the_key_and_field(index, field, value, match):
    keys = _keys()
    keys[index][field] = value
    with pytest.raises(ShotError, match=match):
        keyframe_frames(keys, 24, 10, SIZE)


def test_too_few_or_incomplete_keys_are_refused():
    with pytest.raises(ShotError, match="1 keys given; need 2"):
        keyframe_frames(_keys()[:1], 24, 10, SIZE)
    keys = _keys()
    del keys[1]["position"]
    with pytest.raises(ShotError, match="key 1: missing field 'position'"):
        keyframe_frames(keys, 24, 10, SIZE)
    keys = _keys()
    keys[2]["zoom"] = 2
    with pytest.raises(ShotError, match="key 2: unknown field 'zoom'"):
        keyframe_frames(keys, 24, 10, SIZE)


def test_camera_path_json_round_trip(tmp_path):
    frames, _ = side_frames(CORNER, _spec(40))
    path = write_camera_path_json(tmp_path / "track.json", frames, FPS)
    back, fps = read_camera_path_json(path)
    assert fps == FPS and frames_close(frames, back, tol=1e-12)
    doc = json.loads(path.read_text())
    assert doc["width"] == SIZE[0] and set(doc["frames"][0]) >= {"time_s", "K", "R_w2c", "t_w2c"}
    (tmp_path / "bad.json").write_text('{"frames": 3}')
    with pytest.raises(ShotError, match="bad.json"):
        read_camera_path_json(tmp_path / "bad.json")


def test_realestate10k_round_trip_and_layout(tmp_path):
    frames, _ = orbit_frames(CORNER, _spec(30))
    path = write_realestate10k(tmp_path / "cams.txt", frames, source="https://example.com/watch?v=x")
    lines = path.read_text().splitlines()
    assert lines[0] == "https://example.com/watch?v=x" and len(lines) == 31
    row = np.array(lines[2].split(), float)
    assert len(row) == 19 and row[0] == round(frames[1].time_s * 1e6)
    K = frames[1].K
    np.testing.assert_allclose(row[1:7], [K[0, 0] / 640, K[1, 1] / 360, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(row[7:].reshape(3, 4), np.hstack([frames[1].R, frames[1].t[:, None]]))
    back, source = read_realestate10k(path, SIZE)
    assert source == lines[0] and frames_close(frames, back, tol=1e-9)
    # a world point projects to the same pixel through the read-back camera
    p = np.array([[3.0, 4.0, 1.0]])
    np.testing.assert_allclose(back[7].project(p), frames[7].project(p), atol=1e-6)


@pytest.mark.parametrize("body, match", [
    ("src\n0 0.5 0.9 0.5 0.5 0 0 1 0 0 0\n", r"line 2: 11 numbers, expected 19"),
    ("src\n0 0.5 0.9 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0\n33 0.5 0.9 0.5 0.5 0 0 2 0 0 0 0 1 0 0 0 0 1 0\n",
     r"line 3: the 3x3 part is not a rotation"),
    ("src\n0 0.5 0.9 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 x\n", r"line 2: not all numbers"),
    ("", r"empty file"),
])
def test_malformed_realestate10k_names_the_line(tmp_path, body, match):
    (tmp_path / "c.txt").write_text(body)
    with pytest.raises(ShotError, match=match):
        read_realestate10k(tmp_path / "c.txt", SIZE)


def test_keyframe_file_round_trip_and_errors(tmp_path):
    path = write_keyframes(tmp_path / "keys.json", _keys())
    keys = read_keyframes(path)
    assert [k.ease for k in keys] == ["ease_in_out", "linear", "ease_out", "linear"]
    a = keyframe_frames(keys, 24, 96, SIZE)
    b = keyframe_frames(_keys(), 24, 96, SIZE)
    assert frames_close(a, b, tol=0.0)
    bad = _keys()
    bad[2]["fov_deg"] = 5
    (tmp_path / "bad.json").write_text(json.dumps({"keys": bad}))
    with pytest.raises(ShotError, match=r"bad\.json: key 2 'fov_deg'"):
        read_keyframes(tmp_path / "bad.json")
    (tmp_path / "nokeys.json").write_text('{"frames": []}')
    with pytest.raises(ShotError, match=r"nokeys\.json: expected an object"):
        read_keyframes(tmp_path / "nokeys.json")
    (tmp_path / "broken.json").write_text('{"keys": [')
    with pytest.raises(ShotError, match=r"broken\.json: not JSON"):
        read_keyframes(tmp_path / "broken.json")
    with pytest.raises(ShotError, match="no such file"):
        read_keyframes(tmp_path / "missing.json")


def test_dispatcher_covers_every_rig_and_refuses_bad_parameters():
    n = 12
    for rig in ["walk", "follow", "side", "front", "orbit", "drone"]:
        frames, walker = rig_frames(rig, CORNER, _spec(n))
        assert len(frames) == n and [f.index for f in frames] == list(range(n))
        assert (walker is None) == (rig == "walk")
        if walker is not None:
            assert walker.positions.shape == (n, 3) and walker.headings.shape == (n, 3)
    walk, _ = rig_frames("walk", CORNER, _spec(n))
    assert frames_close(walk, walk_frames(CORNER, _spec(n)), tol=0.0)
    a, _ = rig_frames("side", CORNER, _spec(n), side="right", distance_m=2.0)
    b, _ = side_frames(CORNER, _spec(n), side="right", distance_m=2.0)
    assert frames_close(a, b, tol=0.0), "deterministic and forwards parameters"
    with pytest.raises(ShotError, match="'crane' is unknown"):
        rig_frames("crane", CORNER, _spec(n))
    with pytest.raises(ShotError, match="unknown parameter 'radius_m'; accepted: distance_m"):
        rig_frames("follow", CORNER, _spec(n), radius_m=3)
    with pytest.raises(ShotError, match=r"camera\.follow\.distance_m: -1"):
        rig_frames("follow", CORNER, _spec(n), distance_m=-1)
    with pytest.raises(ShotError, match="route must be"):
        rig_frames("orbit", np.zeros((1, 3)), _spec(n))
    with pytest.raises(ShotError, match="n_frames"):
        rig_frames("drone", CORNER, _spec(0))


def test_rig_spec_is_checked_by_every_rig_and_built_from_a_shot():
    from citywalk.camera import rig_spec
    from citywalk.shot import Shot

    for rig in ["walk", "follow", "side", "front", "orbit", "drone"]:
        with pytest.raises(ShotError, match=rf"camera\.{rig}: fov_deg must be 10\.\.150"):
            rig_frames(rig, CORNER, RigSpec(FPS, 12, SIZE, 5.0, DYN))
        with pytest.raises(ShotError, match=rf"camera\.{rig}: fps must be a positive number"):
            rig_frames(rig, CORNER, RigSpec(0, 12, SIZE, FOV, DYN))
        with pytest.raises(ShotError, match=rf"camera\.{rig}: size_px must be"):
            rig_frames(rig, CORNER, RigSpec(FPS, 12, (0, 360), FOV, DYN))
    shot = Shot.from_dict({"camera": {"fov_deg": 60.0, "eye_height_m": 1.5},
                           "output": {"fps": 12, "duration_s": 2.0, "size": [320, 180]}})
    spec = rig_spec(shot)
    assert (spec.fps, spec.n_frames, spec.size_px, spec.fov_deg) == (12, 24, (320, 180), 60.0)
    assert spec.dynamics.eye_height_m == 1.5
    np.testing.assert_allclose(spec.times_s, np.arange(24) / 12)
