"""H.264/MP4 encoding of rendered sRGB frames with PyAV, and probing of the result.

The writer encodes on a background thread fed by a small bounded queue, so an OpenGL render
loop overlaps with x264.  Output goes to a temporary file beside the target and is renamed into
place only when the stream closes cleanly: a failed render never leaves a half-written video.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from citywalk.errors import VideoError
from citywalk.media import VideoInfo, import_av, probe_video  # noqa: F401 - probe_video, VideoInfo re-exported
from citywalk.safeio import temp_beside
from citywalk.shot import MAX_HEIGHT, MAX_WIDTH, MIN_SIDE_PX

MAX_FPS = 240
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}
QUEUE_FRAMES = 4
_BT709 = 1  # AVCOL_SPC / AVCOL_PRI / AVCOL_TRC value for ITU-R BT.709
_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG: limited (16..235) range, what players expect from H.264
_STOP = object()


def check_video_size(size_px: tuple[int, int]) -> tuple[int, int]:
    """Validate a (width, height) in pixels for H.264 yuv420p; returns it as two ints."""
    try:
        w, h = (int(v) for v in size_px)
    except (TypeError, ValueError):
        raise VideoError(f"video size {size_px!r} must be two integers (width, height)") from None
    if not (MIN_SIDE_PX <= w <= MAX_WIDTH and MIN_SIDE_PX <= h <= MAX_HEIGHT):
        raise VideoError(
            f"video size {w}x{h} is out of range: width {MIN_SIDE_PX}..{MAX_WIDTH}, "
            f"height {MIN_SIDE_PX}..{MAX_HEIGHT}"
        )
    if w % 2 or h % 2:
        raise VideoError(f"video size {w}x{h}: width and height must be even (H.264 yuv420p)")
    return w, h


def prepare_output_path(path: str | os.PathLike[str]) -> Path:
    """Make sure `path`'s folder exists (creating it) and is writable; VideoError naming it if not."""
    target = Path(path)
    if target.is_dir():
        raise VideoError(f"cannot write {target}: it is a folder, give a file name such as {target / 'walk.mp4'}")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoError(f"cannot write {target}: cannot create folder {parent} ({exc.strerror or exc})") from None
    if not parent.is_dir():
        raise VideoError(f"cannot write {target}: {parent} is not a folder")
    return target


def _open_temp(target: Path) -> Path:
    """Create an empty temporary file beside `target`; proves the folder is writable."""
    try:
        fd, name = temp_beside(target, ".part" + target.suffix)
    except OSError as exc:
        raise VideoError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


class VideoWriter:
    """Encode (H, W, 3) uint8 sRGB frames to an H.264 yuv420p MP4 at a fixed frame rate.

    Use as a context manager; leaving the block with an exception discards the partial file.
    `.stats` holds frames written, seconds spent in the encoder and bytes written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: int,
        size_px: tuple[int, int],
        crf: int = 20,
        preset: str = "veryfast",
        threaded: bool = True,
    ):
        self.width, self.height = check_video_size(size_px)
        if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or not 1 <= fps <= MAX_FPS:
            raise VideoError(f"video fps {fps!r} must be an integer in 1..{MAX_FPS}")
        if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
            raise VideoError(f"video crf {crf!r} must be an integer in 0..51 (lower is better quality)")
        if preset not in X264_PRESETS:
            raise VideoError(f"x264 preset {preset!r} is unknown: use one of {', '.join(X264_PRESETS)}")
        self.path = Path(path)
        container_format = CONTAINER_FORMATS.get(self.path.suffix.lower())
        if container_format is None:
            raise VideoError(f"cannot write {self.path}: the name must end in {', '.join(CONTAINER_FORMATS)}")
        self.fps = int(fps)
        self.stats: dict[str, float | int] = {"frames": 0, "encode_s": 0.0, "bytes": 0}
        self._closed = True  # until the stream is open: nothing to abort
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[Any] | None = None

        prepare_output_path(self.path)
        self._tmp_path = _open_temp(self.path)
        try:
            self._container, self._stream = self._open_stream(container_format, int(crf), preset)
        except BaseException:
            self._tmp_path.unlink(missing_ok=True)
            raise
        self._closed = False
        if threaded:
            self._queue = queue.Queue(maxsize=QUEUE_FRAMES)
            self._thread = threading.Thread(target=self._worker, name=f"VideoWriter({self.path.name})", daemon=True)
            self._thread.start()

    def _open_stream(self, container_format: str, crf: int, preset: str) -> tuple[Any, Any]:
        """Open the temp file as an MP4 with one libx264 stream tagged BT.709, limited range."""
        av = import_av()
        try:
            container = av.open(str(self._tmp_path), mode="w", format=container_format,
                                options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"cannot write {self.path}: {exc}") from None
        try:
            stream = container.add_stream("libx264", rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.time_base = Fraction(1, self.fps)
            ctx = stream.codec_context
            ctx.time_base = Fraction(1, self.fps)
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
            ctx.color_range = _MPEG_RANGE
            stream.options = {"crf": str(crf), "preset": preset}
        except (av.FFmpegError, ValueError) as exc:
            container.close()
            raise VideoError(f"cannot set up H.264 encoding for {self.path}: {exc}") from None
        return container, stream

    # -- caller side ---------------------------------------------------------------------

    def write(self, frame_rgb: np.ndarray) -> None:
        """Queue one (H, W, 3) uint8 sRGB frame (top row first); the data is copied immediately."""
        if self._closed:
            raise VideoError(f"cannot write to {self.path}: the writer is closed")
        self._raise_worker_error()
        frame_rgb = self._check_frame(frame_rgb)
        av = import_av()
        frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")  # copies out of the caller's buffer
        frame.pts = int(self.stats["frames"])
        frame.time_base = Fraction(1, self.fps)
        self.stats["frames"] = int(self.stats["frames"]) + 1
        if self._queue is None:
            self._encode_guarded(frame)
            self._raise_worker_error()
        else:
            self._queue.put(frame)

    def _check_frame(self, frame_rgb: Any) -> np.ndarray:
        """Return a C-contiguous (H, W, 3) uint8 array or raise VideoError naming expected vs got."""
        expected = f"({self.height}, {self.width}, 3) uint8"
        if not isinstance(frame_rgb, np.ndarray):
            got = type(frame_rgb).__name__
            raise VideoError(f"video frame for {self.path}: expected a numpy array {expected}, got {got}")
        if frame_rgb.shape != (self.height, self.width, 3) or frame_rgb.dtype != np.uint8:
            raise VideoError(
                f"video frame for {self.path}: expected {expected}, got {tuple(frame_rgb.shape)} {frame_rgb.dtype}"
            )
        return np.ascontiguousarray(frame_rgb)

    def close(self) -> None:
        """Flush the encoder, finish the MP4 and rename it into place; re-raises encoder errors."""
        if self._closed:
            return
        self._stop_worker()
        if self._error is None:
            self._encode_guarded(None)  # flush delayed frames out of x264
        if self._error is not None:
            self._discard()
            self._raise_worker_error()
        try:
            self._container.close()
            os.replace(self._tmp_path, self.path)
        except Exception as exc:
            self._discard()
            raise VideoError(f"cannot finish {self.path}: {exc}") from exc
        self._closed = True
        self.stats["bytes"] = self.path.stat().st_size

    def abort(self) -> None:
        """Stop encoding and delete the partial output; `path` is left untouched."""
        if self._closed:
            return
        self._stop_worker()
        self._discard()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self.abort()
            except Exception:
                pass

    # -- encoder side --------------------------------------------------------------------

    def _worker(self) -> None:
        """Encode queued frames until the stop marker; after an error keep draining so put() never blocks."""
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is None:
                self._encode_guarded(item)

    def _encode_guarded(self, frame: Any) -> None:
        """Encode one frame (None flushes), recording any failure for the caller to re-raise."""
        try:
            self._encode(frame)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller thread
            self._error = exc

    def _encode(self, frame: Any) -> None:
        """Convert to BT.709 limited-range yuv420p, encode and mux; time spent goes to stats."""
        t0 = time.perf_counter()
        if frame is not None:
            pts, time_base = frame.pts, frame.time_base
            frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG",
                                   dst_color_trc=_BT709, dst_color_primaries=_BT709)
            frame.pts, frame.time_base = pts, time_base
        for packet in self._stream.encode(frame):
            self.stats["bytes"] = int(self.stats["bytes"]) + packet.size
            self._container.mux(packet)
        self.stats["encode_s"] = float(self.stats["encode_s"]) + time.perf_counter() - t0

    def _stop_worker(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            exc = self._error
            if isinstance(exc, VideoError):
                raise exc
            raise VideoError(f"encoding {self.path} failed: {type(exc).__name__}: {exc}") from exc

    def _discard(self) -> None:
        """Close the container without caring about errors and remove the temp file."""
        self._closed = True
        try:
            self._container.close()
        except Exception:
            pass
        self._tmp_path.unlink(missing_ok=True)
