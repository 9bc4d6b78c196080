"""Render jobs: a Shot split into frame chunks on an Executor, assembled into one MP4 of the
very frames the local render encodes.

Two passes, as in pipeline.render_shot: metering tasks draw the shot small and return meter
readings; the driver turns the whole shot's readings into the exposure track; render tasks
return their chunk's frames with its slice of the track. A worker builds the scene once per
Shot, and a render task draws with the renderer its worker's metering task opened, if it ran
one there (closed after the chunk; a worker that only metered keeps it until its next Shot).
The driver writes frames in order into one x264 encoder: separately
encoded segments joined by stream copy decode to different pixels than one pass (x264's rate
control and reference choices depend on the frames before), so they cannot match the local
video; one encode of the ordered frames does (as far as x264 repeats itself: the libx264 in
PyAV 18.1's wheels sometimes encodes the same frames a level or so differently from one run to
the next), and at these sizes x264 outruns the renderers.
"""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..shot import Shot
from .executor import Executor, Task

CHUNK_BYTES = 256 * 2**20   # at most this many bytes of frames come back from one render task
METER_MIN_FRAMES = 48       # a metering task takes at least this many frames (each is cheap)


def plan_chunks(n_frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering frames 0..n_frames in runs of chunk_frames."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    return [(a, min(n_frames, a + chunk_frames)) for a in range(0, n_frames, chunk_frames)]


def auto_chunk_frames(n_frames: int, slots: int, size_px) -> int:
    """Frames per render task: one chunk per slot (each task pays one scene build and GL start),
    fewer where a chunk's frames would exceed CHUNK_BYTES."""
    frame_bytes = int(size_px[0]) * int(size_px[1]) * 3
    return max(1, min(math.ceil(n_frames / max(1, slots)), CHUNK_BYTES // frame_bytes))


_PREPARED: dict[str, object] = {}  # this process's last prepared Shot, by its JSON
_RENDERER: dict[str, object] = {}  # and the renderer a metering task opened for it


def prepared(shot: Shot):
    """pipeline.prepare(shot), kept for the next task of the same Shot in this process (Ray reuses
    its worker processes): one scene build per worker and shot rather than per chunk."""
    from ..pipeline import prepare

    key = shot.to_json()
    if key not in _PREPARED:
        forget()
        _PREPARED[key] = prepare(shot)
    return _PREPARED[key]


def shot_renderer(shot: Shot):
    """The renderer of the prepared Shot in this process, kept from a metering task for the next
    render task (which closes it when its chunk is done): a worker that meters and then renders
    sets GL up once, as pipeline.render_shot does."""
    from ..pipeline import open_renderer

    key = shot.to_json()
    p = prepared(shot)
    if key not in _RENDERER:
        close_renderer()
        _RENDERER[key] = open_renderer(shot, p)
    return _RENDERER[key]


def close_renderer() -> None:
    """Close the kept renderer, if any."""
    for r in _RENDERER.values():
        r.close()
    _RENDERER.clear()


def forget() -> None:
    """Drop this process's prepared Shot and close its renderer."""
    close_renderer()
    _PREPARED.clear()


def _worker_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def meter_chunk(shot: Shot, start: int, stop: int, report: Callable[[int], None]) -> dict:
    """Task: meter readings (n, 2) and frame times (n,) of frames [start, stop)."""
    from ..pipeline import meter_frames

    t = time.perf_counter()
    p = prepared(shot)
    scene_s = time.perf_counter() - t
    renderer = shot_renderer(shot)
    gl_setup_s = time.perf_counter() - t - scene_s
    meters = meter_frames(shot, start, stop, p, report=report, renderer=renderer)
    return {"meters": meters, "times_s": np.array([f.time_s for f in p.frames[start:stop]]),
            "stats": {"scene_s": scene_s, "gl_setup_s": gl_setup_s,
                      "meter_s": time.perf_counter() - t - scene_s - gl_setup_s}, "worker": _worker_tag()}


def render_chunk(shot: Shot, start: int, stop: int, exposures: np.ndarray, want_depth: bool,
                 report: Callable[[int], None]) -> dict:
    """Task: frames [start, stop) → {'rgb': (n, H, W, 3) uint8, 'depth': (n, H, W) float32 or
    None, 'cameras': [dict], 'copyright', 'stats', 'worker'}."""
    from ..pipeline import render_frames

    t = time.perf_counter()
    p = prepared(shot)
    stats: dict[str, float] = {"scene_s": time.perf_counter() - t}
    t = time.perf_counter()
    renderer = shot_renderer(shot)
    stats["gl_setup_s"] = time.perf_counter() - t
    rgb, depth, cameras = [], [], []
    try:
        for cam, img in render_frames(shot, start, stop, exposures, p, want_depth=want_depth, report=report,
                                      stats=stats, renderer=renderer):
            rgb.append(img["rgb"])
            if want_depth:
                depth.append(img["depth"])
            cameras.append(cam.to_dict())
    finally:
        close_renderer()  # an idle worker holds no GL context; a second chunk here opens one again
    return {"rgb": np.stack(rgb), "depth": np.stack(depth) if want_depth else None, "cameras": cameras,
            "copyright": list(p.scene.copyright), "stats": stats, "worker": _worker_tag()}


class _Phase:
    """Progress of one phase over many tasks: a bar of frames and the caller's on_fraction."""

    def __init__(self, bar, chunks: list[tuple[int, int]]):
        self.bar, self.chunks, self.done = bar, chunks, [0] * len(chunks)

    def task_progress(self, index: int, done: int) -> None:
        """A task's own count (a retried task counts again from 0: the bar does not go back)."""
        a, b = self.chunks[index]
        self.done[index] = max(self.done[index], min(int(done), b - a))
        self.bar.update(sum(self.done) - self.bar.count)

    def finished(self, index: int) -> None:
        a, b = self.chunks[index]
        self.task_progress(index, b - a)


def _meter_pass(shot: Shot, executor: Executor, n: int, on_fraction, stats: dict) -> np.ndarray:
    """The exposure track of the whole shot, metered in chunks on the executor → (n,)."""
    from ..pipeline import METER_SHARE, _phase, exposure_track
    from ..video.progress import progress

    probe = Task(meter_chunk, name="citywalk-meter")
    size = max(METER_MIN_FRAMES, math.ceil(n / executor.slots(probe)))
    chunks = plan_chunks(n, size)
    meters, times = np.zeros((n, 2)), np.zeros(n)
    tasks = [Task(meter_chunk, (shot, a, b), name="citywalk-meter", env=_task_env(probe)) for a, b in chunks]
    with progress(n, "metering", on_fraction=_phase(on_fraction, 0.0, METER_SHARE)) as bar:
        phase = _Phase(bar, chunks)

        def on_result(i: int, r: dict) -> None:
            a, b = chunks[i]
            meters[a:b], times[a:b] = r["meters"], r["times_s"]
            _add_stats(stats, "meter", r["stats"])
            phase.finished(i)

        executor.run(tasks, on_result, phase.task_progress)
    stats["meter_tasks"] = len(chunks)
    return exposure_track(meters, times)


def _task_env(task: Task) -> dict:
    """Environment for a task's worker: Mesa's llvmpipe uses as many threads as the task's CPUs."""
    return {"LP_NUM_THREADS": max(1, int(task.num_cpus))}


def _add_stats(stats: dict, prefix: str, task_stats: dict) -> None:
    for key, value in task_stats.items():
        stats[f"{prefix}_task_{key}"] = stats.get(f"{prefix}_task_{key}", 0.0) + float(value)


class _Assembler:
    """Writes chunk results into the video (and per-frame extras) strictly in frame order."""

    def __init__(self, writer, shot: Shot, video: Path, chunks: list[tuple[int, int]], on_frame=None):
        from ..pipeline import side_paths

        self.writer, self.shot, self.chunks, self.on_frame = writer, shot, chunks, on_frame
        self.paths = side_paths(video)
        self.waiting: dict[int, dict] = {}
        self.next = 0
        self.cameras: list[dict] = []
        self.copyright: list[str] = []
        self.workers: set[str] = set()

    def add(self, index: int, result: dict) -> None:
        self.waiting[index] = result
        self.workers.add(result["worker"])
        while self.next in self.waiting:
            self._write(self.waiting.pop(self.next))
            self.next += 1

    def _write(self, r: dict) -> None:
        from ..pipeline import _write_extras

        extras = self.shot.output.extras
        for k, rgb in enumerate(r["rgb"]):
            if self.on_frame is not None:
                self.on_frame(int(r["cameras"][k]["index"]), rgb)
            self.writer.write(rgb)
            if "depth" in extras or "frames" in extras:
                img = {"rgb": rgb, "depth": r["depth"][k] if r["depth"] is not None else None}
                _write_extras(self.paths, extras, r["cameras"][k]["index"], img)
        self.cameras.extend(r["cameras"])
        self.copyright = r["copyright"]


def render_shot(shot: Shot, executor: Executor, out_path: str | Path | None = None,
                on_fraction: Callable[[float], None] | None = None,
                chunk_frames: int | None = None,
                on_frame: Callable[[int, np.ndarray], None] | None = None):
    """Render a Shot on `executor` in chunks of `chunk_frames` (auto: one per slot) → the same
    RenderResult, and the same frames bit for bit, as pipeline.render_shot; `on_frame(index,
    rgb)` sees each frame, in order, before it is encoded. (The videos decode alike, though not
    always bit for bit: this libx264 build does not repeat itself exactly from run to run.)"""
    from ..pipeline import METER_SHARE, RenderResult, _phase, write_side_outputs
    from ..video.encode import VideoWriter
    from ..video.progress import progress

    t0 = time.perf_counter()
    out = shot.output
    video = Path(out_path or out.path)
    n = out.frame_count
    timings: dict[str, float] = {}
    writer = VideoWriter(video, out.fps, tuple(out.size), crf=out.crf)  # fails fast on a bad path
    try:
        exposures = _meter_pass(shot, executor, n, on_fraction, timings)
        timings["meter_s"] = time.perf_counter() - t0
        t = time.perf_counter()
        probe = Task(render_chunk, name="citywalk-render")
        chunks = plan_chunks(n, chunk_frames or auto_chunk_frames(n, executor.slots(probe), out.size))
        tasks = [Task(render_chunk, (shot, a, b, exposures[a:b], "depth" in out.extras), name="citywalk-render",
                      env=_task_env(probe)) for a, b in chunks]
        assembler = _Assembler(writer, shot, video, chunks, on_frame)
        with progress(n, "rendering", on_fraction=_phase(on_fraction, METER_SHARE, 1.0)) as bar:
            phase = _Phase(bar, chunks)

            def on_result(i: int, r: dict) -> None:
                _add_stats(timings, "render", r["stats"])
                assembler.add(i, r)
                phase.finished(i)

            executor.run(tasks, on_result, phase.task_progress)
        timings["render_wall_s"] = time.perf_counter() - t
        t = time.perf_counter()
        writer.close()
        timings["encode_flush_s"] = time.perf_counter() - t
    except BaseException:
        writer.abort()
        raise
    finally:
        forget()  # a LocalExecutor built the scene (and its renderer) in this process: do not keep them
    extras = write_side_outputs(video, shot, assembler.cameras)
    timings.update(render_tasks=len(chunks), chunk_frames=chunks[0][1] - chunks[0][0],
                   workers=len(assembler.workers), encode_s=float(writer.stats.get("encode_s", 0.0)))
    timings["render_fps"] = n / max(timings["render_wall_s"], 1e-9)
    timings["total_s"] = time.perf_counter() - t0
    timings["realtime_factor"] = out.duration_s / timings["total_s"]
    return RenderResult(video, n, extras, timings, list(assembler.copyright))
