"""Frame scoring and selection, and the QA report for bad captures (black, two frames, a white wall,
a corrupt file): clear reasons, a failed catalog entry and never a scene folder."""

import json

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from citywalk.capture.catalog import CaptureMeta, Catalog
from citywalk.capture.frames import FrameOptions, exposure_stats, luma, select_frames, sharpness
from citywalk.capture.intake import submit
from citywalk.capture.process import process_capture
from citywalk.capture.qa import frames_report, write_report

from builders import write_video

OK = CaptureMeta(consent=True)


def panning(n: int, rng: np.random.Generator, h: int = 48, w: int = 64, step_px: int = 3) -> np.ndarray:
    """(n, h, w, 3) uint8 frames of a camera panning over a smooth random texture."""
    tex = uniform_filter(rng.uniform(0, 255, (h, w + n * step_px, 3)), size=(3, 3, 1))
    return np.stack([tex[:, i * step_px:i * step_px + w] for i in range(n)]).astype(np.uint8)


def test_sharpness_and_exposure_measures():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 1, (40, 60)).astype(np.float32)
    blurred = uniform_filter(img, 5)
    assert sharpness(img) > 10 * sharpness(blurred) > 0
    assert sharpness(np.full((40, 60), 0.7, np.float32)) == 0.0
    mean, dark, bright = exposure_stats(np.concatenate([np.zeros((10, 60)), np.ones((30, 60))]))
    assert (mean, dark, bright) == (0.75, 0.25, 0.75)
    assert luma(np.full((2, 2, 3), 255, np.uint8)).max() == pytest.approx(1.0, abs=1e-6)


def test_selection_keeps_sharpest_per_window_and_says_why(tmp_path):
    rng = np.random.default_rng(1)
    frames = panning(24, rng)
    frames[5] = uniform_filter(frames[5], size=(9, 9, 1))      # a motion-blurred frame in its window
    frames[12:18] = frames[12]                                # the camera stopped: duplicates
    frames[20] = uniform_filter(frames[20], size=(15, 15, 1)) # blur alone in a window
    video = write_video(tmp_path / "v.mp4", frames, fps=12)
    sel = select_frames(video, tmp_path / "frames", FrameOptions(target_fps=6, blur_ratio=0.35))
    by_index = {r.index: r for r in sel.records}
    assert len(sel.records) == 24 and sel.windows == 12
    assert not by_index[5].kept and "sharper frame" in by_index[5].reason
    assert any("near-duplicate" in r.reason for r in sel.records)
    assert not by_index[20].kept and by_index[20].reason.startswith(("a sharper", "motion blur"))
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == sorted(r.file for r in sel.kept)
    report = frames_report(sel, min_frames=3)
    assert report["verdict"] == "ok" and report["frames_kept"] == len(sel.kept)
    assert len(report["kept"]) + len(report["dropped"]) == 24
    jpath, png = write_report(tmp_path / "qa", report, sel)
    assert json.loads(jpath.read_text())["frames_decoded"] == 24 and png.stat().st_size > 100


def test_motion_blur_is_dropped_against_the_median(tmp_path):
    rng = np.random.default_rng(2)
    frames = panning(10, rng, step_px=6)
    frames[4] = uniform_filter(frames[4], size=(11, 11, 1))
    video = write_video(tmp_path / "v.mp4", frames, fps=10)
    sel = select_frames(video, tmp_path / "f", FrameOptions(target_fps=10))
    report = frames_report(sel, min_frames=3)
    assert [r.index for r in sel.records if "motion blur" in r.reason] == [4]
    assert report["motion_blur_share"] == pytest.approx(0.1)


@pytest.mark.parametrize("kind, words", [
    ("black", "too dark"),
    ("two", "usable frame(s) out of 2 (need ≥ 8)"),
    ("wall", "featureless"),
    ("truncated", "damaged"),
])
def test_bad_captures_fail_with_reasons_and_no_scene(tmp_path, kind, words):
    rng = np.random.default_rng(3)
    if kind == "black":
        frames = np.zeros((24, 48, 64, 3), np.uint8)
    elif kind == "two":
        frames = panning(2, rng)
    elif kind == "wall":
        frames = np.full((24, 48, 64, 3), 200, np.uint8) + rng.integers(0, 2, (24, 48, 64, 1), dtype=np.uint8)
    else:
        frames = panning(40, rng)
    video = write_video(tmp_path / "v.mp4", frames, fps=12)
    root = tmp_path / "cat"
    entry = submit(root, video, OK, name="bad")
    if kind == "truncated":  # damage the stored copy after intake (disk error, partial sync)
        data = (entry.path / entry.source).read_bytes()
        cut = len(data) // 2
        (entry.path / entry.source).write_bytes(
            data[: cut - 2000] + bytes(rng.integers(0, 255, 2000, dtype=np.uint8)) + data[cut:]
        )
    out = process_capture(root, "bad")
    if kind == "truncated" and out.status != "failed":
        pytest.skip("the decoder concealed the damage")
    assert out.status == "failed" and out.scene is None
    assert any(words in r for r in out.reasons), out.reasons
    qa = json.loads((entry.path / "qa" / "qa.json").read_text())
    assert qa["verdict"] == "rejected" and (entry.path / "qa" / "qa.png").is_file()
    assert not (entry.path / "scene").exists()
    assert Catalog(root).get("bad").reasons == out.reasons


def test_image_folder_keeps_one_frame_per_image_and_drops_repeats(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(4)
    frames = panning(5, rng, step_px=8)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"p{i}.png")
    Image.fromarray(frames[4]).save(folder / "p5.png")  # the same photo twice
    sel = select_frames(folder, tmp_path / "out", FrameOptions())
    assert sel.windows == 6 and [r.kept for r in sel.records] == [True] * 5 + [False]
    assert "near-duplicate of frame 4" in sel.records[5].reason


def test_large_jpeg_decodes_reduced_and_matches_a_full_decode(tmp_path):
    """A big photo is decoded at a JPEG scale (draft) that still covers max_side_px: same size
    and nearly the same pixels as decoding it fully and resizing."""
    from PIL import Image

    from citywalk.capture.frames import _resize, iter_images

    y, x = np.mgrid[0:1500, 0:2000]
    img = np.stack([(x / 8) % 256, (y / 6) % 256, ((x + y) / 14) % 256], -1).astype(np.uint8)
    (tmp_path / "p").mkdir()
    Image.fromarray(img).save(tmp_path / "p" / "a.jpg", quality=92)
    (_, _, got), = list(iter_images(tmp_path / "p", FrameOptions(max_side_px=320)))
    full = _resize(np.asarray(Image.open(tmp_path / "p" / "a.jpg").convert("RGB")), 320)
    assert got.shape == full.shape == (240, 320, 3)
    assert np.abs(got.astype(float) - full).mean() < 6.0
