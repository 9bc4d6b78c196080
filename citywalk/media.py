"""Reading videos: the one place that opens a file with PyAV, describes it (displayed size, rate,
duration, rotation, tags) and decodes its frames upright.

A floor under every stage that reads video (likeness clips, capture videos, probes of our own
MP4s, contact sheets). Each caller names the error class and the words that start its messages,
so a failure still reads as the caller's ("capture walk.mov: ...").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import CitywalkError, VideoError


def import_av() -> Any:
    """PyAV (a core dependency), imported on first use so `import citywalk` stays quick."""
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is in the base install
        raise VideoError(f"reading and writing video needs PyAV: pip install av ({exc})") from None
    return av


@dataclass
class VideoInfo:
    """What a video file holds: the first video stream's displayed size (after the display
    rotation), frame rate, duration, frame count (decoded when asked, else the container's hint,
    0 if unknown), display rotation, codec, pixel format and the container's and stream's tags."""

    frame_count: int
    width: int
    height: int
    fps: float
    duration_s: float
    codec: str
    pix_fmt: str
    rotation_deg: int = 0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class DecodedFrame:
    """One decoded frame: its index in the stream, presentation time and (H, W, 3) uint8 RGB upright."""

    index: int
    time_s: float
    rgb: np.ndarray


def display_quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns (0..3) that show a decoded frame upright: phones store
    portrait video sideways and say so in the display matrix."""
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4


class VideoFile:
    """A video file to describe and decode; every failure raises `error` with `what path:` first
and `accepted` (what the caller takes) last."""

    def __init__(self, path: str | os.PathLike[str], error: type[CitywalkError] = VideoError,
                 what: str = "video", accepted: str = ""):
        self.path, self.error, self.what, self.accepted = Path(path), error, what, accepted

    def fail(self, reason: str) -> CitywalkError:
        """The caller's error: `what path: reason`, and what would be accepted when known."""
        return self.error(
            f"{self.what} {self.path}: {reason}" + (f"; accepted: {self.accepted}" if self.accepted else "")
        )

    def _open(self):
        av = import_av()
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise self.fail(f"not a readable video ({exc})") from None
        if not container.streams.video:
            container.close()
            raise self.fail("the file has no video stream")
        return av, container, container.streams.video[0]

    def probe(self, count_frames: bool = False) -> VideoInfo:
        """Describe the file; the first frame is decoded (it carries the display rotation) and,
        with `count_frames`, every frame (exact count, slower)."""
        av, container, stream = self._open()
        try:
            with container:
                frames = container.decode(stream)
                first = next(frames, None)
                if first is None:
                    raise self.fail("no frame could be decoded (empty or corrupt video)")
                n = 1 + sum(1 for _ in frames) if count_frames else int(stream.frames or 0)
                fps = float(stream.average_rate or stream.guessed_rate or 0.0)
                if stream.duration is not None and stream.time_base is not None:
                    duration_s = float(stream.duration * stream.time_base)
                elif container.duration is not None:
                    duration_s = container.duration / 1_000_000
                else:
                    duration_s = n / fps if fps and n else 0.0
                turns = display_quarter_turns(first)
                w, h = (first.height, first.width) if turns % 2 else (first.width, first.height)
                tags = {k.lower(): v for k, v in {**container.metadata, **stream.metadata}.items()}
                ctx = stream.codec_context
                return VideoInfo(n, w, h, fps, duration_s, ctx.name, ctx.pix_fmt or "", 90 * turns, tags)
        except av.FFmpegError as exc:
            raise self.fail(f"decoding the first frame failed ({exc}); the file is damaged") from None

    def frames(self, max_frames: int | None = None, size_px: tuple[int, int] | None = None,
               keep_truncated_tail: bool = False) -> Iterator[DecodedFrame]:
        """Decode frames upright, at most `max_frames`, scaled by the decoder to `size_px` (width,
        height as displayed) when given. A damaged file fails, unless `keep_truncated_tail`: then
        what decoded cleanly before the damage is kept (and only a file with no frame fails)."""
        av, container, stream = self._open()
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 30.0)
        count = 0
        try:
            with container:
                for frame in container.decode(stream):
                    if max_frames is not None and count >= max_frames:
                        return
                    yield DecodedFrame(count, float(frame.time) if frame.time is not None else count / fps,
                                       _upright_rgb(frame, size_px))
                    count += 1
        except av.FFmpegError as exc:
            if not keep_truncated_tail or count == 0:
                raise self.fail(f"decoding failed after {count} frames ({exc}); the file is damaged") from None
        if count == 0:
            raise self.fail("holds no decodable frames (zero-length or corrupt)")


def _upright_rgb(frame, size_px: tuple[int, int] | None) -> np.ndarray:
    turns = display_quarter_turns(frame)
    if size_px is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        w, h = size_px
        rgb = frame.to_ndarray(format="rgb24", width=h if turns % 2 else w, height=w if turns % 2 else h)
    return np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video with an exact decoded frame count; VideoError if it is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"cannot probe {p}: no such file")
    return VideoFile(p, VideoError, "cannot probe").probe(count_frames=True)
