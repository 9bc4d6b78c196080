"""Renders the demo Shot end to end and prints JSON figures per size: scene build, render fps,
draw and read-back time, encode fps, total wall seconds and the real-time factor."""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from citywalk.pipeline import render_shot
from citywalk.shot import Shot

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"


def run(size: tuple[int, int], duration_s: float, samples: int, when: str | None, style: str | None) -> dict:
    shot = Shot.load(DEMO)
    changes = {"output": {"size": list(size), "duration_s": duration_s, "samples": samples, "extras": []}}
    if when:
        changes["look"] = {"when": when}
    if style:
        changes["scene"] = {"style": style}
    shot = shot.updated(changes)
    with tempfile.TemporaryDirectory() as d:
        res = render_shot(shot, Path(d) / "bench.mp4")
    t = res.timings_s
    n = res.frames
    return {
        "size": f"{size[0]}x{size[1]}", "frames": n, "samples": samples, "when": shot.look.when,
        "scene_build_s": round(t["scene_s"], 2), "gl_setup_s": round(t["gl_setup_s"], 2),
        "render_fps": round(t["render_fps"], 2),
        "draw_ms_per_frame": round(1000 * t["draw_s"] / n, 1),
        "readback_ms_per_frame": round(1000 * t["readback_s"] / n, 2),
        "encode_fps": round(n / max(t["encode_s"], 1e-9), 1),
        "total_wall_s": round(t["total_s"], 2), "realtime_factor": round(t["realtime_factor"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--samples", type=int, default=0, help="0 = auto (1 on a CPU, 4 on a GPU)")
    ap.add_argument("--when", default=None, help="override the demo's time (e.g. noon)")
    ap.add_argument("--style", default=None)
    ap.add_argument("--sizes", default="1280x720,640x360")
    a = ap.parse_args()
    results = [
        run(tuple(int(v) for v in s.split("x")), a.duration, a.samples, a.when, a.style) for s in a.sizes.split(",")
    ]
    print(json.dumps({"machine": platform.processor() or platform.machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
