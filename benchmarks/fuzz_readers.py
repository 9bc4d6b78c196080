"""Fuzz every citywalk reader: N mutated inputs per reader (seeds written by citywalk's writers),
each in a forked worker with a memory cap and a time limit; prints one JSON line per reader and
writes a summary (and the failing inputs) under --out.

    PYTHONPATH=. python benchmarks/fuzz_readers.py --n 10000 --out /tmp/fuzz_out
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="inputs per reader")
    ap.add_argument("--only", default="", help="comma-separated reader names (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout-s", type=float, default=10.0, help="per-input limit counted as a hang")
    ap.add_argument("--mem-cap-mib", type=int, default=1024, help="address space a worker may add")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/fuzz"))
    args = ap.parse_args(argv)

    from fuzz.run import fuzz_targets
    from fuzz.targets import build_targets

    order = [n for n in args.only.split(",") if n]
    targets = build_targets(set(order) or None)
    if order:  # run in the order given
        targets = {n: targets[n] for n in order if n in targets}
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tallies = fuzz_targets(targets, args.n, seed=args.seed, workers=args.workers, timeout_s=args.timeout_s,
                           mem_cap_mib=args.mem_cap_mib, save_dir=args.out / "failing",
                           log=lambda m: print(m, flush=True))
    summary = {"n_per_reader": args.n, "workers": args.workers, "wall_s": round(time.perf_counter() - t0, 1),
               "readers": {k: v.as_dict() for k, v in tallies.items()}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"{'reader':18s} {'inputs':>7s} {'accepted':>8s} {'clean':>7s} {'bug':>4s} {'crash':>5s} "
          f"{'hang':>4s} {'mem':>4s} {'max_s':>6s} {'peakMiB':>7s} {'in/s':>6s}")
    for name, t in tallies.items():
        c = t.counts
        print(f"{name:18s} {t.inputs:7d} {c['accepted']:8d} {c['clean']:7d} {c['bug']:4d} {c['crash']:5d} "
              f"{c['hang']:4d} {c['memory']:4d} {t.max_s:6.2f} {t.peak_rss_mib:7.0f} {t.as_dict()['inputs_per_s']:6}")
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
