"""Footage tools on a drive rendered in the test: a car-speed walk down a procedural main street at a
wide field of view, put through a synthetic equidistant fisheye written here (independent of
citywalk's lens code), then undistorted, stabilised, retimed, reversed and given a gait."""

import json

import numpy as np
import pytest
from scipy import ndimage

from citywalk.errors import VideoError
from citywalk.media import VideoFile, probe_video
from citywalk.video import footage as fo
from citywalk.video.encode import VideoWriter

FPS = 24
WIDE_DEG = 120.0
SIZE = (288, 162)
CAR_MPS = 8.0


def fisheye_from_pinhole(rgb, fov_deg=WIDE_DEG, fish_fov_deg=WIDE_DEG):
    """An equidistant fisheye image (r = f·theta, `fish_fov_deg` across the width) of a pinhole image."""
    h, w = rgb.shape[:2]
    f_fish = (w / 2) / np.radians(fish_fov_deg / 2)
    f_pin = (w / 2) / np.tan(np.radians(fov_deg / 2))
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    dx, dy = xx - w / 2, yy - h / 2
    theta, phi = np.hypot(dx, dy) / f_fish, np.arctan2(dy, dx)
    ok = theta < np.radians(89)
    t = np.tan(np.where(ok, theta, 0))
    u, v = w / 2 + f_pin * t * np.cos(phi) - 0.5, h / 2 + f_pin * t * np.sin(phi) - 0.5
    out = np.stack([ndimage.map_coordinates(rgb[..., c].astype(float), [v, u], order=1, cval=0) for c in range(3)], -1)
    return np.clip(np.rint(np.where(ok[..., None], out, 0)), 0, 255).astype(np.uint8)


def _drive_shot(fov_deg, size, duration_s=1.0):
    from citywalk.shot import Shot

    return Shot.from_dict({
        "scene": {"source": "procedural", "style": "tokyo", "seed": 7},
        "camera": {"speed_mps": CAR_MPS, "eye_height_m": 1.4, "bob_m": 0.0, "sway_m": 0.0, "fov_deg": fov_deg,
                   "street": "main", "look_ahead_m": 40.0},
        "look": {"when": "noon"},
        "output": {"duration_s": duration_s, "fps": FPS, "size": list(size), "samples": 1, "extras": ["frames"]}})


@pytest.fixture(scope="module")
def drive(tmp_path_factory):
    """(fisheye dash-cam MP4, its rendered pinhole frames, the same drive rendered at 60° and 96x54)."""
    from PIL import Image

    from citywalk.pipeline import render_shot

    root = tmp_path_factory.mktemp("drive")
    res = render_shot(_drive_shot(WIDE_DEG, SIZE), root / "wide.mp4")
    frames = [np.asarray(Image.open(p)) for p in sorted(res.extras["frames"].glob("*.png"))]
    cam = root / "dashcam.mp4"
    with VideoWriter(cam, FPS, SIZE, crf=8) as w:
        for f in frames:
            w.write(fisheye_from_pinhole(f))
    narrow = render_shot(_drive_shot(60.0, (96, 54), duration_s=2 / FPS), root / "narrow.mp4")
    ref = [np.asarray(Image.open(p)) for p in sorted(narrow.extras["frames"].glob("*.png"))]
    return cam, frames, ref[0]


def _decode(path):
    return np.stack([f.rgb for f in VideoFile(path).frames()])


def _ncc(a, b):
    a, b = a.astype(float).ravel(), b.astype(float).ravel()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_undistorted_view_has_the_asked_field_of_view(drive):
    cam, _, ref60 = drive
    first = next(iter(VideoFile(cam).frames())).rgb
    lens = fo.Lens("equidistant", WIDE_DEG)
    scores = {}
    for fov in (50.0, 60.0, 70.0):
        view = fo.to_uint8(fo.sample(first, *fo.view_map(lens, SIZE, fov, (96, 54))))
        scores[fov] = _ncc(view, ref60)
    assert max(scores, key=scores.get) == 60.0, scores
    assert scores[60.0] > 0.85, scores


def test_straight_lines_are_straight_after_undistortion():
    # straight 3D lines, projected through the fisheye with the test's own formula
    w, h, fov = 320, 180, 150.0
    f = (w / 2) / np.radians(fov / 2)
    img = np.zeros((h, w, 3), np.uint8)
    lines = [((-3, -1, 4), (3, -1, 4)), ((-2, 1.2, 3), (2, 0.8, 6)), ((1.5, -2, 5), (1.5, 2, 5))]
    for p0, p1 in lines:
        for s in np.linspace(0, 1, 4000):
            d = np.array(p0) * (1 - s) + np.array(p1) * s
            theta, phi = np.arccos(d[2] / np.linalg.norm(d)), np.arctan2(d[1], d[0])
            x, y = w / 2 + f * theta * np.cos(phi), h / 2 + f * theta * np.sin(phi)
            if 0 <= x < w and 0 <= y < h:
                img[int(y), int(x)] = 255
    out = fo.to_uint8(fo.sample(img, *fo.view_map(fo.Lens("equidistant", fov), (w, h), 90.0, (w, h))))
    f_out = (w / 2) / np.tan(np.radians(45))

    def residual(image, p0, p1, project):
        a, b = project(np.array(p0, float)), project(np.array(p1, float))
        ys, xs = np.nonzero(image[..., 0] > 100)
        n = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
        dist = np.abs((np.stack([xs + 0.5, ys + 0.5], 1) - a) @ n)
        near = dist < 12
        return dist[near].mean() if near.sum() > 20 else np.inf

    for p0, p1 in lines:
        def pin(d):
            return np.array([w / 2 + f_out * d[0] / d[2], h / 2 + f_out * d[1] / d[2]])
        assert residual(out, p0, p1, pin) < 0.8
    assert residual(img, *lines[0], pin) > 3.0  # the fisheye bends the same line


def test_walk_retimes_reverses_and_bobs(drive, tmp_path):
    cam, _, _ = drive
    common = dict(lens=fo.Lens("equidistant", WIDE_DEG), fov_deg=60.0, size_px=(96, 54), source_speed_mps=CAR_MPS,
                  speed_mps=1.4)
    flat = fo.footage_walk(cam, tmp_path / "flat.mp4", fo.WalkOptions(bob_deg=0, sway_deg=0, **common))
    n_out = len(fo.retime_positions(FPS, CAR_MPS, 1.4))
    assert flat["frames_out"] == n_out and probe_video(tmp_path / "flat.mp4").frame_count == n_out
    assert flat["duration_out_s"] == pytest.approx(1.0 * CAR_MPS / 1.4, rel=0.05)
    rev = fo.footage_walk(cam, tmp_path / "rev.mp4", fo.WalkOptions(bob_deg=0, sway_deg=0, reverse=True, **common))
    a, b = _decode(tmp_path / "flat.mp4").astype(float), _decode(tmp_path / "rev.mp4").astype(float)
    assert np.abs(a[::-1] - b).mean() < 2.0 and np.abs(a - b).mean() > 4 * np.abs(a[::-1] - b).mean()
    # retimed frames between two source frames are interpolated, not repeated
    assert np.abs(np.diff(a, axis=0)).mean(axis=(1, 2, 3)).min() > 0.05
    bob = fo.footage_walk(cam, tmp_path / "bob.mp4", fo.WalkOptions(bob_deg=3.0, sway_deg=0, step_hz=2.0, **common))
    c = _decode(tmp_path / "bob.mp4").astype(float)
    shifts = np.arange(-6, 6.01, 0.25)
    dy = []
    for fa, fc in zip(a, c):
        costs = [np.abs(ndimage.shift(fa, (s, 0, 0), order=1)[8:-8] - fc[8:-8]).mean() for s in shifts]
        dy.append(shifts[int(np.argmin(costs))])
    spectrum = np.abs(np.fft.rfft(np.array(dy) - np.mean(dy)))
    freqs = np.fft.rfftfreq(len(dy), 1 / FPS)
    assert abs(freqs[np.argmax(spectrum)] - 2.0) <= 1.5 / (len(dy) / FPS)
    assert np.ptp(dy) > 2.0


def test_speed_is_measured_from_the_road(drive, tmp_path):
    cam, _, _ = drive
    rep = fo.footage_walk(cam, tmp_path / "m.mp4", fo.WalkOptions(lens=fo.Lens("equidistant", WIDE_DEG),
                                                                   fov_deg=70.0, size_px=(96, 54), camera_height_m=1.4,
                                                                   speed_mps=4.0, bob_deg=0, sway_deg=0))
    assert rep["speed_measured"] and rep["source_speed_mps"] == pytest.approx(CAR_MPS, rel=0.25)


def test_stabilisation_removes_jitter_and_keeps_steady_motion():
    rng = np.random.default_rng(3)
    steady = np.cumsum(np.full(60, 0.8))  # a slow pan: kept
    jitter = rng.normal(0, 1.5, 60)
    path = np.stack([steady + jitter, np.zeros(60), np.zeros(60)], 1)
    motion = np.diff(path, axis=0)
    corr = fo._corrections(np.concatenate([motion, np.zeros((59, 1))], 1), 24.0, fo.WalkOptions())
    fixed = path + corr
    assert np.std(np.diff(fixed[:, 0])) < 0.3 * np.std(np.diff(path[:, 0]))
    assert np.mean(np.diff(fixed[:, 0])) == pytest.approx(0.8, abs=0.05)


def test_optical_flow_finds_a_known_shift():
    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.random((90, 120)), 2.0)
    moved = ndimage.shift(base, (1.7, -2.4), order=3, mode="nearest")  # content moves down 1.7, left 2.4
    flow = fo.optical_flow(base.astype(np.float32), moved.astype(np.float32))
    inner = flow[15:-15, 15:-15]
    assert np.median(inner[..., 0]) == pytest.approx(-2.4, abs=0.15)
    assert np.median(inner[..., 1]) == pytest.approx(1.7, abs=0.15)


def test_dataset_cuts_fixed_length_clips_with_a_manifest(drive, tmp_path):
    from citywalk.cli import main

    cam, _, _ = drive
    src = tmp_path / "drives"
    src.mkdir()
    (src / "a.mp4").write_bytes(cam.read_bytes())
    (src / "b.mp4").write_bytes(cam.read_bytes())
    (src / "notes.txt").write_text("not a video")
    code = main(["footage", "dataset", str(src), "-o", str(tmp_path / "clips"), "--clip-s", "0.25",
                 "--size", "64x36", "--fov-deg", "60", "--lens", "equidistant", "--in-fov-deg", str(WIDE_DEG)])
    assert code == 0
    man = fo.read_manifest(tmp_path / "clips" / "manifest.json")
    assert len(man["clips"]) == 8 and man["fov_deg"] == 60.0 and man["size"] == [64, 36]
    assert [c["start_s"] for c in man["clips"][:4]] == [0.0, 0.25, 0.5, 0.75]
    info = probe_video(man["clips"][1]["file"])
    assert (info.frame_count, info.width, info.height) == (6, 64, 36)
    first = _decode(man["clips"][1]["file"])[0]
    direct = next(f.rgb for f in VideoFile(cam).frames() if f.index == 6)
    view = fo.to_uint8(fo.sample(direct, *fo.view_map(fo.Lens("equidistant", WIDE_DEG), SIZE, 60.0, (64, 36))))
    assert np.abs(first.astype(float) - view).mean() < 6.0
    with pytest.raises(VideoError, match="clip 0 needs"):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"version": 1, "clips": [{"path": "x.mp4"}]}))
        fo.read_manifest(bad)


def test_footage_walk_cli_and_bad_input(drive, tmp_path, capsys):
    from citywalk.cli import main

    cam, _, _ = drive
    out = tmp_path / "walk.mp4"
    assert main(["footage", "walk", str(cam), "-o", str(out), "--fov-deg", "60", "--speed-mps", "1.4",
                 "--source-speed-mps", "8", "--sidewalk", "right", "--reverse", "--size", "64x36",
                 "--in-fov-deg", str(WIDE_DEG)]) == 0
    assert probe_video(out).frame_count == len(fo.retime_positions(FPS, 8.0, 1.4))
    capsys.readouterr()
    assert main(["footage", "walk", str(tmp_path / "none.mp4"), "-o", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(VideoError, match="lens 'fisheye'"):
        fo.Lens("fisheye").check()
