"""Likeness capture: matte quality against a known composite, the .actor package round trip,
plain-backdrop fallbacks, gait-cycle detection and clear errors for bad inputs."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from citywalk.errors import CitywalkError
from citywalk.likeness import Actor, Cycle, LikenessError, matte
from citywalk.likeness import capture as cap

skimage_data = pytest.importorskip("skimage.data")


# ---------------------------------------------------------------------------- test data
@functools.lru_cache(maxsize=None)
def astronaut_layer(size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut photo's person as a layer: (rgb (S, S, 3) uint8, mask (S, S) bool).

    The person is defined once by selfie segmentation of the ORIGINAL photo (thresholded,
    largest region); tests then composite that layer over other backgrounds, so the truth for
    every test clip is known exactly and independent of the capture being tested."""
    from PIL import Image

    img = skimage_data.astronaut()
    if cap.mediapipe_available():
        mp = cap._import_mediapipe("test")
        with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
            soft = seg.process(img).segmentation_mask
        mask = matte.main_components(matte.clean_mask(soft > 0.5, 3))
    else:  # a fixed silhouette (head disc + torso) keeps the non-ML tests running
        yy, xx = np.mgrid[:512, :512]
        mask = ((xx - 230) ** 2 + (yy - 110) ** 2 < 80**2) | ((yy > 170) & (np.abs(xx - 230) < 200))
    rgb = np.asarray(Image.fromarray(img).resize((size_px, size_px), Image.BOX))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size_px, size_px), Image.BOX)) > 127
    return rgb, m


def street_background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A street-like backdrop: facades with window grids above a grey road, `(h, w, 3) uint8`."""
    bg = np.zeros((h, w, 3), np.uint8)
    x = 0
    while x < w:
        bw = int(rng.integers(w // 8, w // 4))
        bg[:, x:x + bw] = rng.integers(60, 200, 3)
        for wy in range(int(h * 0.08), int(h * 0.7), max(6, h // 12)):
            for wx in range(x + 4, x + bw - 6, max(6, bw // 4)):
                bg[wy:wy + max(3, h // 30), wx:wx + max(3, bw // 8)] = rng.integers(20, 240, 3)
        x += bw
    bg[int(h * 0.75):] = (95, 95, 100)
    bg[int(h * 0.87):int(h * 0.89), ::12] = 230  # lane marks
    return bg


def composite_clip(n: int, h: int, w: int, person_px: int, step_px: int, background: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut layer sliding right `step_px` per frame, standing on the bottom edge.

    Returns frames `(n, h, w, 3) uint8` and the true person masks `(n, h, w) bool`."""
    rgb, m = astronaut_layer(person_px)
    frames = np.repeat(background[None], n, axis=0)
    truth = np.zeros((n, h, w), bool)
    for i in range(n):
        x0, y0 = 8 + i * step_px, h - person_px
        sub = frames[i, y0:, x0:x0 + person_px]
        sub[m] = rgb[m]
        truth[i, y0:, x0:x0 + person_px] = m
    return frames, truth


def actor_alpha_full(actor: Actor, i: int, h: int, w: int) -> np.ndarray:
    """Pastes frame i's alpha back into the source frame (frames are cropped) → `(h, w) float32`."""
    out = np.zeros((h, w), np.float32)
    a = actor.frames_rgba[i, ..., 3].astype(np.float32) / 255.0
    x0, y0 = (int(v) for v in actor.crop_origin_px[i])
    ys, xs = slice(max(0, y0), y0 + a.shape[0]), slice(max(0, x0), x0 + a.shape[1])
    out[ys, xs] = a[ys.start - y0:, xs.start - x0:][: h - ys.start, : w - xs.start]
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks."""
    return float((a & b).sum() / max(1, (a | b).sum()))


def capture_iou(frames: np.ndarray, truth: np.ndarray, **kw) -> tuple[Actor, np.ndarray]:
    """Runs capture on a clip; returns the actor and per-frame IoU of alpha > 0.5 vs the truth."""
    actor = cap.capture_actor(frames, 1.7, **kw)
    n, h, w = truth.shape
    return actor, np.array([iou(actor_alpha_full(actor, i, h, w) > 0.5, truth[i]) for i in range(n)])


def write_mp4(path: Path, frames: np.ndarray, fps: int = 24) -> Path:
    """Encodes `(T, H, W, 3) uint8` frames as H.264 MP4 with PyAV (explicit pts, flushed)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "12", "preset": "ultrafast"}
        s.time_base = Fraction(1, fps)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            out.mux(s.encode(vf))
        out.mux(s.encode())
    return path


def walker_clip(n: int, fps: float, period_s: float, rng: np.random.Generator) -> np.ndarray:
    """A stick walker on a flat blue wall whose feet swing ± with a known gait period:
    `(n, 120, 96, 3) uint8`."""
    h, w = 120, 96
    yy, xx = np.mgrid[:h, :w]
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[:] = (30, 60, 200)
        person = ((xx - 48) ** 2 + (yy - 18) ** 2 < 8**2) | ((np.abs(xx - 48) < 9) & (yy > 26) & (yy < 66))
        swing = 14.0 * np.sin(2 * np.pi * i / (period_s * fps))
        for sign in (1, -1):  # two legs from the hip (48, 64) to the feet
            fx = 48 + sign * swing
            t = np.clip((yy - 64) / 46.0, 0, 1)
            person |= (yy >= 64) & (yy <= 110) & (np.abs(xx - (48 + t * (fx - 48))) < 3.5)
        f[person] = (200, 120, 80)
        frames[i] = np.clip(f.astype(np.int16) + rng.integers(-3, 4, f.shape), 0, 255).astype(np.uint8)
    return frames


def no_mediapipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes capture behave as if MediaPipe were not installed."""
    from citywalk.errors import MissingExtra

    def missing(feature: str):
        raise MissingExtra("mediapipe", "likeness", feature)

    monkeypatch.setattr(cap, "_import_mediapipe", missing)


needs_mediapipe = pytest.mark.skipif(not cap.mediapipe_available(), reason="mediapipe not installed")
STREET = street_background(256, 384, np.random.default_rng(1))
GREEN = np.tile(np.array([40, 180, 60], np.uint8), (256, 384, 1))


# ---------------------------------------------------------------------------- matte quality
@needs_mediapipe
def test_mediapipe_capture_matches_known_composite_on_body_region():
    frames, truth = composite_clip(24, 256, 384, 200, 3, STREET)
    actor, scores = capture_iou(frames, truth, method="mediapipe")
    # Body region: head and torso, above the helmet the astronaut holds (rows < 330/512 of the
    # photo); the selfie model keeps or drops that held object from frame to frame.
    cut = 256 - 200 + int(200 * 330 / 512)
    body = [iou(actor_alpha_full(actor, i, 256, 384)[:cut] > 0.5, truth[i, :cut]) for i in range(24)]
    assert min(body) >= 0.9, body
    assert scores.mean() >= 0.85, scores
    assert actor.method == "mediapipe" and actor.n_frames == 24
    assert actor.scale_from == "shoulders"  # the photo shows the upper body only
    assert np.isfinite(actor.landmarks_px[:, cap.NOSE]).all()


@needs_mediapipe
def test_photo_capture_makes_a_still_actor_saved_atomically(tmp_path):
    from PIL import Image

    Image.fromarray(skimage_data.astronaut()).save(tmp_path / "astronaut.jpg", quality=92)
    out = cap.capture_to_file(tmp_path / "astronaut.jpg", 1.65, tmp_path / "me.actor")
    actor = Actor.load(out)
    assert actor.n_frames == 1 and actor.method == "still-mediapipe" and not actor.cycle.walking
    assert actor.source_name == "astronaut.jpg" and actor.scale_from == "shoulders"
    truth = astronaut_layer(512)[1]
    assert iou(actor_alpha_full(actor, 0, 512, 512) > 0.5, truth) > 0.9
    # Head top to shoulders is ~18 % of standing height: the 1.65 m person's head is ~0.3 m.
    lm = actor.landmarks_px[0]
    head_m = (lm[cap.L_SHOULDER, 1] + lm[cap.R_SHOULDER, 1]) / 2 * actor.m_per_px
    assert 0.2 < head_m < 0.45
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut.jpg", "me.actor"]
    with pytest.raises(LikenessError, match=r"\.actor"):
        cap.capture_to_file(tmp_path / "astronaut.jpg", 1.65, tmp_path / "me.zip")


def test_chroma_fallback_matches_known_composite(monkeypatch):
    no_mediapipe(monkeypatch)
    frames, truth = composite_clip(24, 256, 384, 200, 3, GREEN)
    actor, scores = capture_iou(frames, truth)  # auto → chroma on a uniform border
    assert actor.method == "chroma"
    assert scores.min() >= 0.95, scores


def test_background_fallback_matches_known_composite():
    frames, truth = composite_clip(24, 256, 384, 110, 11, STREET)
    actor, scores = capture_iou(frames, truth, method="background", use_pose=False)
    assert actor.method == "background"
    assert scores.min() >= 0.9, scores


def test_auto_without_mediapipe_needs_plain_backdrop_for_a_photo(monkeypatch):
    no_mediapipe(monkeypatch)
    from citywalk.errors import MissingExtra

    frames, _ = composite_clip(1, 256, 384, 200, 3, STREET)
    with pytest.raises(MissingExtra, match="likeness"):
        cap.capture_actor(frames[0], 1.7)
    with pytest.raises(MissingExtra, match="likeness"):
        cap.capture_actor(frames, 1.7, method="mediapipe")


def test_model_thread_gives_the_same_actor_and_passes_its_errors_on(monkeypatch):
    frames, _ = composite_clip(10, 256, 384, 200, 3, STREET)
    method = "mediapipe" if cap.mediapipe_available() else "background"
    threaded, alone = (cap.capture_actor(frames, 1.7, method=method, model_thread=t) for t in (True, False))
    assert np.array_equal(threaded.frames_rgba, alone.frames_rgba)
    for field in ("foot_anchor_px", "height_px", "landmarks_px", "yaw_deg", "crop_origin_px"):
        assert np.array_equal(getattr(threaded, field), getattr(alone, field), equal_nan=True), field
    assert threaded.cycle == alone.cycle
    calls = []

    def failing(self, rgb, small=None):
        calls.append(1)
        if len(calls) == 4:
            raise LikenessError("segmentation failed on frame 4")
        return cap._CoarseMask(np.zeros(rgb.shape[:2], np.float32), rgb.shape[1], rgb.shape[0])

    monkeypatch.setattr(cap._Segmenter, "__call__", failing)
    with pytest.raises(LikenessError, match="frame 4"):
        cap.capture_actor(frames, 1.7, method="chroma", use_pose=False)
    assert len(calls) == 4  # the worker stopped at the failing frame


@pytest.mark.parametrize("size", [(360, 640, 720, 1280), (180, 320, 720, 1280), (300, 533, 640, 1138),
                                  (256, 384, 256, 384)])
def test_resized_grid_and_crop_match_the_full_resize(size):
    h, w, out_h, out_w = size
    x = np.random.default_rng(2).random((h, w), dtype=np.float32)
    full = matte.resize_float(x, out_w, out_h)
    for step in (1, 3, 4):
        assert np.array_equal(matte.resized_grid(x, out_w, out_h, step), full[::step, ::step])
    box = (out_w // 5, out_h // 3, out_w - 7, out_h)
    assert np.array_equal(matte.resized_crop(x, out_w, out_h, box), full[box[1]:box[3], box[0]:box[2]])


def test_subsampled_crop_matches_pillows_padded_crop():
    from PIL import Image

    img = np.random.default_rng(4).integers(0, 256, (53, 59, 4), dtype=np.uint8)
    for box, step in (((-4, -8, 30, 50), 3), ((10, 5, 70, 60), 1), ((50, 50, 90, 90), 4), ((-90, 0, -1, 20), 2)):
        want = np.asarray(Image.fromarray(img, "RGBA").crop(box))[::step, ::step]
        assert np.array_equal(cap._subsampled_crop(img, box, step), want), box


def test_temporal_smoothing_reduces_edge_flicker():
    rng = np.random.default_rng(3)
    frames, _ = composite_clip(12, 128, 160, 100, 0, GREEN[:128, :160])
    noisy = np.clip(frames + rng.normal(0, 6, frames.shape), 0, 255).astype(np.uint8)

    def flicker(max_keep: float) -> float:
        sm = matte.TemporalSmoother(max_keep=max_keep)
        alphas = [sm(f, matte.refine_alpha(f, matte.chroma_mask(f))) for f in noisy]
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(alphas[1:], alphas[:-1])]))

    assert flicker(0.6) < 0.7 * flicker(0.0)


def test_guided_filter_keeps_flat_mask_and_follows_edges():
    guide = np.zeros((64, 64), np.float32)
    guide[:, 32:] = 1.0
    coarse = np.zeros((64, 64), np.float32)
    coarse[:, 28:] = 1.0  # mask edge 4 px off the image edge
    out = matte.refine_alpha(np.repeat((guide * 255).astype(np.uint8)[..., None], 3, 2), coarse, radius_px=6)
    assert out[:, 40:].min() > 0.95 and out[:, :20].max() < 0.05
    # The refined edge moves towards the image edge at x = 32.
    assert abs(int((out[32] > 0.5).argmax()) - 32) < abs(28 - 32)


# ---------------------------------------------------------------------------- walking cycle
def test_detect_walk_cycle_from_synthetic_ankles():
    fps, period_s, n = 24.0, 1.1, 120
    rng = np.random.default_rng(0)
    lm = np.full((n, 33, 3), np.nan, np.float32)
    t = np.arange(n) / fps
    swing = 40 * np.sin(2 * np.pi * t / period_s)
    lm[:, cap.L_ANKLE] = np.stack([200 + 2 * t * fps + swing, 500 + rng.normal(0, 1, n), np.ones(n)], 1)
    lm[:, cap.R_ANKLE] = np.stack([200 + 2 * t * fps - swing, 500 + rng.normal(0, 1, n), np.ones(n)], 1)
    period, strength = cap.detect_walk_cycle(lm, fps)
    assert period is not None and abs(period / fps - period_s) < 0.03 and strength > 0.8
    lm[:, [cap.L_ANKLE, cap.R_ANKLE], 0] = 200 + rng.normal(0, 1, (n, 2))  # standing still
    assert cap.detect_walk_cycle(lm, fps)[0] is None


def test_choose_loop_picks_whole_cycles_with_matching_ends():
    n, period = 60, 13.0
    phase = 2 * np.pi * np.arange(n) / period
    thumbs = np.stack([np.sin(phase), np.cos(phase)], 1)[:, None, None, :].astype(np.float32)
    thumbs = np.concatenate([thumbs, thumbs], axis=-1)
    start, end = cap.choose_loop(thumbs, period)
    assert (end - start) % 13 == 0 and end <= n - 1
    assert np.abs(thumbs[start] - thumbs[end]).max() < 1e-5


def test_walking_clip_without_ml_finds_gait_period_and_loops(monkeypatch):
    no_mediapipe(monkeypatch)
    fps, period_s = 24.0, 1.0
    frames = walker_clip(60, fps, period_s, np.random.default_rng(5))
    seen: list[float] = []
    actor = cap.capture_actor(frames, 1.75, fps=fps, progress=lambda f, stage: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 10
    assert actor.method == "chroma" and actor.scale_from == "mask"
    c = actor.cycle
    assert c.walking and abs(c.period_s - period_s) < 0.08, c
    assert (c.end_frame - c.start_frame) % 24 in (0, 1, 23)
    assert 0.2 < c.stride_m < 1.5  # 2 × (feet 28 px apart − a foot length) at ~1.8 cm/px
    # Metric scale: the walker is 102 px from head top to the feet.
    assert abs(actor.m_per_px - 1.75 / 102) < 0.002
    # frame_at loops over the cycle.
    n = c.end_frame - c.start_frame
    a0, anchor0, h0 = actor.frame_at(0.0)
    a1, anchor1, h1 = actor.frame_at(n / fps)
    assert np.array_equal(a0, a1) and np.array_equal(anchor0, anchor1) and h0 == h1
    assert np.array_equal(actor.frame_at(-1 / fps)[0], actor.frames_rgba[c.end_frame - 1])


# ---------------------------------------------------------------------------- files
def test_video_file_and_photo_file_capture(tmp_path, monkeypatch):
    no_mediapipe(monkeypatch)
    frames, truth = composite_clip(10, 256, 384, 200, 3, GREEN)
    clip = write_mp4(tmp_path / "walk.mp4", frames)
    actor = cap.capture_actor(clip, 1.7, method="chroma")
    assert actor.n_frames == 10 and actor.fps == pytest.approx(24.0) and actor.source_name == "walk.mp4"
    scores = [iou(actor_alpha_full(actor, i, 256, 384) > 0.5, truth[i]) for i in range(10)]
    assert min(scores) >= 0.93, scores
    assert cap.capture_actor(clip, 1.7, method="chroma", max_frames=4).n_frames == 4

    from PIL import Image

    Image.fromarray(frames[0]).save(tmp_path / "me.png")
    still = cap.capture_actor(tmp_path / "me.png", 1.7)
    assert still.n_frames == 1 and still.method == "still-chroma" and not still.cycle.walking
    assert np.array_equal(still.frame_at(12.3)[0], still.frames_rgba[0])


def test_large_video_is_downscaled_to_720_px(tmp_path, monkeypatch):
    no_mediapipe(monkeypatch)
    frames = np.tile(GREEN[:1, :1], (2, 1440, 640, 1))
    frames[:, 300:1300, 200:420] = (200, 100, 80)
    actor = cap.capture_actor(write_mp4(tmp_path / "tall.mp4", frames), 1.8, method="chroma")
    assert actor.frames_rgba.shape[1] <= 720
    assert actor.height_px[0] == pytest.approx(500, abs=3)


def make_actor(n: int = 5) -> Actor:
    rng = np.random.default_rng(2)
    lm = rng.uniform(0, 50, (n, 33, 3)).astype(np.float32)
    lm[1, 4] = np.nan
    return Actor(rng.integers(0, 256, (n, 40, 30, 4), dtype=np.uint8), rng.uniform(0, 40, (n, 2)),
                 rng.uniform(30, 40, n), lm, 0.01, 1.72, 24.0, Cycle(1, 4, 0.125, True, 0.9),
                 source_name="me.mp4", captured_utc="2026-11-26T04:00:00+00:00", method="mediapipe",
                 scale_from="feet", crop_origin_px=np.tile([3, 7], (n, 1)))


def test_actor_package_round_trip(tmp_path):
    a = make_actor()
    path = a.save(tmp_path / "me.actor")
    assert path.exists() and list(tmp_path.iterdir()) == [path]  # no temp file left behind
    b = Actor.load(path)
    assert np.array_equal(a.frames_rgba, b.frames_rgba)
    assert np.allclose(a.foot_anchor_px, b.foot_anchor_px, atol=1e-6)
    assert np.array_equal(a.height_px, b.height_px)
    assert np.allclose(a.landmarks_px, b.landmarks_px, atol=1e-3, equal_nan=True)
    assert np.isnan(b.landmarks_px[1, 4]).all()
    assert b.cycle == a.cycle and b.cycle.speed_mps == pytest.approx(0.9 / 0.125)
    assert np.array_equal(a.crop_origin_px, b.crop_origin_px)
    for field in ("m_per_px", "height_m", "fps", "source_name", "captured_utc", "method", "scale_from"):
        assert getattr(a, field) == getattr(b, field), field
    a.save(path)  # overwriting keeps a single file
    assert list(tmp_path.iterdir()) == [path]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("shape", [(1, 1, 4), (7, 3, 4), (64, 48, 4)])
def test_actor_frames_are_lossless_pngs(shape):
    import io

    from PIL import Image

    from citywalk.likeness.actor import _rgba_png

    rgba = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    rgba[: shape[0] // 2, ..., 3] = 0
    with Image.open(io.BytesIO(_rgba_png(rgba, 1))) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(im), rgba)


@pytest.mark.parametrize("evil", ["../evil.png", "/abs/frames/000000.png", "frames/../../x.png",
                                  "frames\\000001.png", "notes.txt"])
def test_actor_load_rejects_unexpected_members(tmp_path, evil):
    good = make_actor().save(tmp_path / "good.actor")
    with zipfile.ZipFile(good) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members[evil] = b"x"
    with pytest.raises(LikenessError, match="unexpected entry"):
        Actor.load(_zip(tmp_path / "bad.actor", members))


def test_actor_load_rejects_broken_packages(tmp_path):
    good = make_actor().save(tmp_path / "good.actor")
    with zipfile.ZipFile(good) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(members["actor.json"])
    (tmp_path / "junk.actor").write_bytes(b"not a zip")
    with pytest.raises(LikenessError, match="junk.actor"):
        Actor.load(tmp_path / "junk.actor")
    with pytest.raises(LikenessError, match="missing.actor: no such file"):
        Actor.load(tmp_path / "missing.actor")
    missing_frame = {k: v for k, v in members.items() if k != "frames/000002.png"}
    with pytest.raises(LikenessError, match="frames"):
        Actor.load(_zip(tmp_path / "a.actor", missing_frame))
    huge = dict(members, **{"actor.json": json.dumps(dict(meta, size_px=[100000, 100000])).encode()})
    with pytest.raises(LikenessError, match="limits"):
        Actor.load(_zip(tmp_path / "b.actor", huge))
    bomb = dict(members, **{"frames/000000.png": b"\0" * (30 * 40 * 4 * 2 + 5000)})
    with pytest.raises(LikenessError, match="limit"):
        Actor.load(_zip(tmp_path / "c.actor", bomb))
    wrong = dict(members, **{"actor.json": json.dumps(dict(meta, format="other/9")).encode()})
    with pytest.raises(LikenessError, match="format"):
        Actor.load(_zip(tmp_path / "d.actor", wrong))


# ---------------------------------------------------------------------------- bad inputs
def test_bad_sources_give_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(LikenessError, match="corrupt.mp4"):
        cap.capture_actor(corrupt, 1.7, method="chroma")
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(LikenessError, match="empty.mov.*empty"):
        cap.capture_actor(empty, 1.7)
    with pytest.raises(LikenessError, match="nope.mp4: no such file"):
        cap.capture_actor(tmp_path / "nope.mp4", 1.7)
    from PIL import Image

    Image.new("RGB", (9000, 20)).save(tmp_path / "wide.png")
    with pytest.raises(LikenessError, match="wide.png.*9000x20"):
        cap.capture_actor(tmp_path / "wide.png", 1.7, method="chroma")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(LikenessError, match="broken.jpg"):
        cap.capture_actor(tmp_path / "broken.jpg", 1.7, method="chroma")
    frames = GREEN[None, :64, :64].repeat(2, 0)
    with pytest.raises(LikenessError, match="height_m"):
        cap.capture_actor(frames, 17.0, method="chroma")
    with pytest.raises(LikenessError, match="max_frames"):
        cap.capture_actor(frames, 1.7, method="chroma", max_frames=10**6)
    with pytest.raises(LikenessError, match="method 'magic'"):
        cap.capture_actor(frames, 1.7, method="magic")
    with pytest.raises(LikenessError, match="uint8"):
        cap.capture_actor(frames.astype(np.float32), 1.7)
    with pytest.raises(LikenessError, match="no person"):
        cap.capture_actor(frames, 1.7, method="chroma", use_pose=False)
    assert issubclass(LikenessError, CitywalkError)


def test_import_is_light():
    code = ("import sys, citywalk.likeness, citywalk.likeness.capture; "
            "print([m for m in ('mediapipe', 'av', 'cv2', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
