"""Cost of each weather effect in ms per frame at 1280x720 on the demo street (dusk), against
clear weather. Prints JSON."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from citywalk.look.lighting import resolve_lighting
from citywalk.pipeline import prepare
from citywalk.render.renderer import Renderer
from citywalk.shot import Shot

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"
CASES = {
    "clear": "clear",
    "fog": {"preset": "clear", "fog_visibility_m": 150},
    "wet (no puddles)": {"preset": "clear", "wetness": 1.0, "puddle_coverage": 0.0},
    "wet + puddles (reflections)": "after_rain",
    "rain particles only": {"preset": "clear", "precipitation_mmph": 16.0, "wetness": 0.0},
    "hard rain (all)": "hard_rain",
    "heavy snow (all)": "heavy_snow",
    "thunderstorm (all)": "thunderstorm",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--when", default="dusk")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    shot = Shot.load(DEMO).updated({"output": {"size": [w, h], "duration_s": 2.0}, "look": {"when": a.when}})
    p = prepare(shot)
    scene, route, frames = p.scene, p.route, p.frames
    results = {}
    for name, weather in CASES.items():
        lighting = resolve_lighting(shot.look.model_copy(update={"weather": weather}))
        r = Renderer(scene, lighting, (w, h), shot.output.samples, focus_points=route)
        r.render(frames[0])
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            for f in frames[1:1 + a.frames]:
                r.render(f)
            best = min(best, (time.perf_counter() - t0) / a.frames)
        r.close()
        results[name] = round(best * 1000, 1)
    base = results["clear"]
    print(
        json.dumps(
            {
                "size": a.size,
                "when": a.when,
                "ms_per_frame": results,
                "added_vs_clear_percent": {k: round(100 * (v - base) / base, 1) for k, v in results.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
