"""What the Look work (issue #15) costs per frame: the demo Shot (examples/demo.yaml) at 1280×720
rendered by this checkout and by the code before it (commit b9581ee, unpacked with `git archive`
into a temporary folder), side by side in one run, alternating so that machine load hits both.

    python benchmarks/look_cost.py [--frames 6] [--rounds 2] [--size 1280 720] [--when dusk]

Prints set-up seconds (scene build + GL set-up, where the bake lives) and the median frame time
of each, wall clock and CPU (all the process's threads: llvmpipe renders on them; steadier than
wall time on a shared machine), and the ratios new / old.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE_COMMIT = "b9581ee"
ROOT = Path(__file__).resolve().parents[1]

# run inside each checkout: build the demo shot, time the set-up and each frame after the first
CHILD = r"""
import json, sys, time
import yaml
from citywalk import pipeline
from citywalk.shot import Shot
frames, w, h, when, film = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = yaml.safe_load(open(sys.argv[6]))
d["output"]["size"] = [w, h]
d["look"]["when"] = when
t0 = time.perf_counter()
shot = Shot.model_validate(d)
p = pipeline.prepare(shot)
t1 = time.perf_counter()
r = pipeline.open_renderer(shot, p)
t2 = time.perf_counter()
times, cpu = [], []
for i in range(frames + 1):
    t, c = time.perf_counter(), time.process_time()
    kw = {"previous": p.frames[i - 1]} if i and "previous" in r.render.__code__.co_varnames else {}
    r.render(p.frames[i], **kw)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
r.close()
print(json.dumps({"scene_s": t1 - t0, "gl_setup_s": t2 - t1, "frames_s": times[1:], "cpu_s": cpu[1:]}))
"""


def run_child(checkout: Path, args) -> dict:
    """Time the demo in `checkout` (a fresh interpreter with it first on the path)."""
    env = {"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.frames), str(args.size[0]), str(args.size[1]),
                          args.when, args.film, str(ROOT / "examples" / "demo.yaml")],
                         cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=(1280, 720))
    ap.add_argument("--when", default="dusk")
    ap.add_argument("--film", default="cinema")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="citywalk_base_") as tmp:
        base = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        results: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            results["old"].append(run_child(base, args))
            results["new"].append(run_child(ROOT, args))
    print(f"demo shot at {args.size[0]}x{args.size[1]}, when={args.when}, {args.frames} frames x {args.rounds} rounds")
    print(f"{'':6s}{'scene s':>10s}{'GL set-up s':>14s}{'frame ms wall':>16s}{'frame ms CPU':>15s}")
    med, cpu = {}, {}
    for name, runs in results.items():
        med[name] = statistics.median(t for r in runs for t in r["frames_s"])
        cpu[name] = statistics.median(t for r in runs for t in r["cpu_s"])
        print(f"{name:6s}{statistics.median(r['scene_s'] for r in runs):10.2f}"
              f"{statistics.median(r['gl_setup_s'] for r in runs):14.2f}"
              f"{med[name] * 1000:16.1f}{cpu[name] * 1000:15.1f}")
    print(f"frame time new/old: {med['new'] / med['old']:.2f}x wall, {cpu['new'] / cpu['old']:.2f}x CPU")


if __name__ == "__main__":
    main()
