"""Renders the demo Shot locally and on a local Ray (one worker per CPU) at several chunk sizes
and prints JSON figures: wall seconds per phase, per-frame cost, per-task overhead, Ray start-up
and object transfer; checks that every farm video decodes to the local frames; and models the
wall time on N machines from the measured costs (optionally drawing the model as a chart)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from citywalk.farm import RayExecutor
from citywalk.farm import render as farm_render
from citywalk.pipeline import render_shot
from citywalk.shot import Shot

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"


def frame_hashes(path: Path) -> list[str]:
    import av

    with av.open(str(path)) as c:
        return [hashlib.sha1(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in c.decode(video=0)]


def encode_alone_fps(video: Path, out: Path, shot: Shot) -> float:
    """Frames per second of the driver's single x264 encode with nothing rendering beside it."""
    import av

    from citywalk.video.encode import VideoWriter

    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    t = time.perf_counter()
    with VideoWriter(out, shot.output.fps, tuple(shot.output.size), crf=shot.output.crf) as w:
        for f in frames:
            w.write(f)
    return len(frames) / (time.perf_counter() - t)


def ray_costs(ex: RayExecutor, frame_bytes: int, frames: int) -> dict:
    """Round trip of an empty task and of a chunk of frames through the object store."""
    ray = ex._ensure()
    noop = ray.remote(lambda: None)
    ray.get(noop.remote())
    t = time.perf_counter()
    ray.get([noop.remote() for _ in range(20)])
    empty_ms = (time.perf_counter() - t) / 20 * 1000
    blob = ray.remote(lambda n: np.zeros(n, np.uint8))
    ray.get(blob.remote(1))
    t = time.perf_counter()
    ray.get(blob.remote(frame_bytes * frames))
    return {"empty_task_ms": round(empty_ms, 2),
            "chunk_transfer_ms_per_frame": round((time.perf_counter() - t) / frames * 1000, 3)}


def farm_run(shot: Shot, ex, chunk: int | None, out: Path, reference: list[str]) -> dict:
    res = farm_render.render_shot(shot, ex, out, chunk_frames=chunk)
    t = res.timings_s
    tasks = t["render_tasks"]
    return {
        "chunk_frames": t["chunk_frames"], "render_tasks": tasks, "workers": t["workers"],
        "total_wall_s": round(t["total_s"], 2), "meter_wall_s": round(t["meter_s"], 2),
        "render_wall_s": round(t["render_wall_s"], 2),
        "task_overhead_s": round((t["render_task_scene_s"] + t["render_task_gl_setup_s"]) / tasks, 2),
        "task_scene_s": round(t["render_task_scene_s"] / tasks, 2),
        "task_gl_setup_s": round(t["render_task_gl_setup_s"] / tasks, 2),
        "task_ms_per_frame": round(1000 * t["render_task_render_s"] / res.frames, 1),
        "identical_to_local": frame_hashes(res.video) == reference,
    }


def scaling_model(frames: int, frame_s: float, meter_frame_s: float, overheads_s: tuple[float, float],
                  encode_fps: float, transfer_s: float, nodes) -> list[dict]:
    """Wall seconds on N identical nodes, one chunk per node per phase: each phase costs one task
    overhead (metering: scene build + GL start; rendering: GL start, the worker kept the scene)
    plus its share of frames; the driver's single encode and the frame transfer run alongside
    the renders and set a floor."""
    rows = []
    for n in nodes:
        meter = overheads_s[0] + frames * meter_frame_s / n
        render = overheads_s[1] + frames * frame_s / n
        floor = frames / encode_fps + frames * transfer_s
        rows.append({"nodes": n, "wall_s": round(meter + max(render, floor), 2)})
    return rows


def model_figures(figures: dict, frames: int, size: list[int], label: str) -> dict:
    """The N-node model from the best farm run: its per-frame cost per node, per-task overhead,
    the metering cost per frame, the lone encoder's speed and the frame transfer."""
    local, best = figures["local"], min(figures["farm"], key=lambda r: r["total_wall_s"])
    node_frame_s = best["task_ms_per_frame"] / 1000 / best["workers"]  # a node renders `workers` chunks at once
    # the local render meters with its frames' renderer (no GL set-up of its own), as a farm
    # worker's metering and render tasks share one
    meter_frame_s = local["meter_s"] / frames
    overheads = (local["scene_s"] + local["gl_setup_s"], best["task_overhead_s"])
    args = (frames, node_frame_s, meter_frame_s, overheads, local["encode_alone_fps"])
    nodes = [1, 2, 4, 8, 16, 32, 64]
    gbit_s_per_frame = size[0] * size[1] * 3 * 8 / 1e9
    models = {f"{label}, frames over shared memory": scaling_model(
                  *args, figures["ray"]["chunk_transfer_ms_per_frame"] / 1000, nodes),
              f"{label}, frames over 1 Gbit/s": scaling_model(*args, gbit_s_per_frame, nodes)}
    inputs = {"node_s_per_frame": round(node_frame_s, 4), "meter_s_per_frame": round(meter_frame_s, 4),
              "task_overheads_s": [round(v, 2) for v in overheads], "encode_alone_fps": local["encode_alone_fps"]}
    return {"model_inputs": inputs, "model": models}


def draw_chart(models: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for label, rows in models.items():
        ax.plot([r["nodes"] for r in rows], [r["wall_s"] for r in rows], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("render nodes (each like this 2-core machine)")
    ax.set_ylabel("wall seconds, 10 s demo shot")
    ax.set_title("citywalk farm, modelled from measured costs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--chunks", default="auto,60,24", help="comma list of frames per task (auto: one per CPU)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--chart", help="draw the N-machine model as a PNG here")
    a = ap.parse_args()
    size = [int(v) for v in a.size.split("x")]
    shot = Shot.load(DEMO).updated({"output": {"size": size, "duration_s": a.duration, "extras": []}})
    figures: dict = {"machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs", "size": a.size,
                     "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as d:
        res = render_shot(shot, Path(d) / "local.mp4")
        t = res.timings_s
        reference = frame_hashes(res.video)
        figures["local"] = {"total_wall_s": round(t["total_s"], 2), "meter_s": round(t["meter_s"], 2),
                            "scene_s": round(t["scene_s"], 2), "gl_setup_s": round(t["gl_setup_s"], 2),
                            "ms_per_frame": round(1000 * t["render_s"] / res.frames, 1),
                            "encode_alone_fps": round(encode_alone_fps(res.video, Path(d) / "enc.mp4", shot), 1)}
        t0 = time.perf_counter()
        ex = RayExecutor()
        ex.resources()
        figures["ray_start_s"] = round(time.perf_counter() - t0, 2)
        figures["ray"] = ray_costs(ex, size[0] * size[1] * 3, 120)
        runs = []
        for c in a.chunks.split(","):
            runs.append(farm_run(shot, ex, None if c == "auto" else int(c), Path(d) / f"farm_{c}.mp4", reference))
            print(json.dumps(runs[-1]), flush=True)
        figures["farm"] = runs
        ex.close()
    figures.update(model_figures(figures, res.frames, size, a.size))
    figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1) + "\n")
    if a.chart:
        draw_chart(figures["model"], Path(a.chart))


if __name__ == "__main__":
    main()
