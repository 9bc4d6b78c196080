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
ROAD_LANE = [[-10.0, -2.0], [80.0, -2.0]]  # the Tokyo main road's south lane (x east, metres)


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
                   "route": ROAD_LANE, "look_ahead_m": 40.0},  # in a lane of the main road, as a car drives
        "look": {"when": "noon", "crowd": "none", "film": "none"},  # the road alone moves; no blur or grain
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


def _line_fit_rms(image):
    """How far (RMS px) a drawn curve is from straight: the intensity centroid of each column (rows for
    steep curves) against the best straight line through those centroids."""
    g = image[..., 0].astype(float)
    ys, xs = np.nonzero(g > 20)
    steep = np.ptp(ys) > np.ptp(xs)
    if steep:
        g, xs = g.T, ys
    cols = np.unique(xs)[2:-2]  # the ends are cut by the frame
    rows = np.arange(g.shape[0]) + 0.5
    centroid = np.array([(g[:, c] * rows).sum() / g[:, c].sum() for c in cols])
    fit = np.polyval(np.polyfit(cols, centroid, 1), cols)
    return float(np.sqrt(np.mean((centroid - fit) ** 2)))


def test_straight_lines_are_straight_after_undistortion():
    # straight 3D lines drawn through the fisheye with the test's own formula, one line per image
    w, h, fov = 320, 180, 150.0
    f = (w / 2) / np.radians(fov / 2)
    lines = [((-3, -1, 4), (3, -1, 4)), ((-2, 1.2, 3), (2, 0.8, 6)), ((1.5, -2, 5), (1.5, 2, 5))]
    lens_map = fo.view_map(fo.Lens("equidistant", fov), (w, h), 90.0, (w, h))
    for p0, p1 in lines:
        acc = np.zeros((h + 1, w + 1))
        for s in np.linspace(0, 1, 4000):  # anti-aliased: each point shared among its 4 pixels
            d = np.array(p0) * (1 - s) + np.array(p1) * s
            theta, phi = np.arccos(d[2] / np.linalg.norm(d)), np.arctan2(d[1], d[0])
            x, y = w / 2 + f * theta * np.cos(phi) - 0.5, h / 2 + f * theta * np.sin(phi) - 0.5
            if 0 <= x < w - 1 and 0 <= y < h - 1:
                i, j, fx, fy = int(y), int(x), x % 1, y % 1
                acc[i:i + 2, j:j + 2] += np.outer([1 - fy, fy], [1 - fx, fx])
        acc = acc[:h, :w] / max(acc.max(), 1e-9)
        img = np.repeat(np.rint(255 * np.clip(acc * 2, 0, 1))[..., None], 3, -1).astype(np.uint8)
        out = fo.to_uint8(fo.sample(img, *lens_map))
        bent, straight = _line_fit_rms(img), _line_fit_rms(out)
        print(f"line {p0}->{p1}: {bent:.2f} px off straight in the fisheye, {straight:.2f} px after")
        assert straight < 0.2 and bent > 4 * straight


def test_walk_retimes_reverses_and_bobs(drive, tmp_path):
    cam, _, _ = drive
    common = dict(lens=fo.Lens("equidistant", WIDE_DEG), fov_deg=60.0, size_px=(96, 54), source_speed_mps=CAR_MPS,
                  speed_mps=1.4)
    flat = fo.footage_walk(cam, tmp_path / "flat.mp4", fo.WalkOptions(bob_deg=0, sway_deg=0, **common))
    n_out = len(fo.retime_positions(FPS, CAR_MPS, 1.4))
    assert flat["frames_out"] == n_out and probe_video(tmp_path / "flat.mp4").frame_count == n_out
    assert flat["duration_out_s"] == pytest.approx(1.0 * CAR_MPS / 1.4, rel=0.05)
    fo.footage_walk(cam, tmp_path / "rev.mp4", fo.WalkOptions(bob_deg=0, sway_deg=0, reverse=True, **common))
    a, b = _decode(tmp_path / "flat.mp4").astype(float), _decode(tmp_path / "rev.mp4").astype(float)
    assert np.abs(a[::-1] - b).mean() < 4.0 and np.abs(a - b).mean() > 4 * np.abs(a[::-1] - b).mean()  # H.264 noise
    # retimed frames between two source frames are interpolated, not repeated
    assert np.abs(np.diff(a, axis=0)).mean(axis=(1, 2, 3)).min() > 0.05
    fo.footage_walk(cam, tmp_path / "bob.mp4", fo.WalkOptions(bob_deg=3.0, sway_deg=0, step_hz=2.0, **common))
    c = _decode(tmp_path / "bob.mp4").astype(float)
    shifts = np.arange(-6, 6.01, 0.125)
    rows = np.arange(a.shape[1], dtype=float)
    dy = []
    for fa, fc in zip(a.mean(axis=(2, 3)), c.mean(axis=(2, 3))):  # row profiles: a vertical shift moves them
        costs = [np.abs(np.interp(rows - s, rows, fa)[8:-8] - fc[8:-8]).mean() for s in shifts]
        dy.append(shifts[int(np.argmin(costs))])
    spectrum = np.abs(np.fft.rfft(np.array(dy) - np.mean(dy)))
    freqs = np.fft.rfftfreq(len(dy), 1 / FPS)
    assert abs(freqs[np.argmax(spectrum)] - 2.0) <= 1.5 / (len(dy) / FPS)
    assert np.ptp(dy) > 2.0


def test_speed_is_measured_from_the_road(drive, tmp_path):
    cam, _, _ = drive
    opts = fo.WalkOptions(lens=fo.Lens("equidistant", WIDE_DEG), fov_deg=70.0, size_px=(96, 54), camera_height_m=1.4,
                          speed_mps=4.0, bob_deg=0, sway_deg=0)
    rep = fo.footage_walk(cam, tmp_path / "m.mp4", opts)
    print(f"measured car speed {rep['source_speed_mps']:.2f} m/s (rendered at {CAR_MPS})")
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


def test_sidewalk_move_follows_the_ground_plane():
    """Moving the camera 2 m right through the street proxy: a road point seen r rows below the horizon
    is f·h/r ahead, so the original camera saw it 2·r/h px further right; far points barely move."""
    w, h, f_deg = 200, 120, 90.0
    lens = fo.Lens("rectilinear", f_deg)
    proxy = fo.StreetProxy(shift_m=2.0, camera_height_m=1.5, half_width_m=50.0, far_m=200.0)
    x_shift, _ = fo.view_map(lens, (w, h), f_deg, (w, h), proxy=proxy)
    x_same, _ = fo.view_map(lens, (w, h), f_deg, (w, h))
    row = h - 10
    r = row + 0.5 - h / 2
    dx = x_shift[row, w // 2] - x_same[row, w // 2]
    assert dx == pytest.approx(2.0 * r / 1.5, rel=0.01)
    f = (w / 2) / np.tan(np.radians(f_deg / 2))
    assert x_shift[5, w // 2] - x_same[5, w // 2] == pytest.approx(2.0 * f / 200.0, rel=0.01)
