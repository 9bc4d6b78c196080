"""Cost of the crowd (pedestrians and moving cars) at 1280x720 on a main street: seconds to plan
the agents, and seconds per frame drawn with crowd none vs busy — the same renderer, the agents'
pass taken out and put back frame by frame, alternating so load on the machine hits both alike.
Prints JSON."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from citywalk.pipeline import open_renderer, prepare
from citywalk.shot import Shot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--style", default="tokyo")
    ap.add_argument("--when", default="16:00")
    ap.add_argument("--size", type=int, nargs=2, default=[1280, 720])
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    shot = Shot.from_dict({"scene": {"source": "procedural", "style": args.style, "seed": 7},
                           "camera": {"route": [[-20.0, -6.0], [40.0, -6.0]]},
                           "look": {"when": args.when, "crowd": "busy"},
                           "output": {"duration_s": 10, "fps": 24, "size": list(args.size)}})
    t = time.perf_counter()
    p = prepare(shot)
    prepare_s = time.perf_counter() - t
    t = time.perf_counter()
    prepare(shot.updated({"look": {"crowd": "none"}}))
    agents_s = prepare_s - (time.perf_counter() - t)
    r = open_renderer(shot, p)
    agent_pass = r.scene_passes[-1]
    times: dict[str, list[float]] = {"none": [], "busy": []}
    try:
        for k in range(args.frames + 1):
            for name in ("none", "busy"):
                r.scene_passes = [q for q in r.scene_passes if q is not agent_pass]
                if name == "busy":
                    r.scene_passes.append(agent_pass)
                t = time.perf_counter()
                r.render(p.frames[24 + k], exposure=1.0)
                if k:  # the first frame of each compiles shaders
                    times[name].append(time.perf_counter() - t)
    finally:
        r.close()
    none_s, busy_s = float(np.median(times["none"])), float(np.median(times["busy"]))
    print(json.dumps({"style": args.style, "size": args.size, "pedestrians": len(p.agents.population),
                      "cars": int(p.agents.traffic.position.shape[1]), "plan_agents_s": round(agents_s, 2),
                      "frame_s_none": round(none_s, 4), "frame_s_busy": round(busy_s, 4),
                      "ratio": round(busy_s / none_s, 3)}, indent=1))


if __name__ == "__main__":
    main()
