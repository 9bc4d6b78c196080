"""Fuzz campaigns: mutate each target's seeds N times, run them in a WorkerPool and tally the
outcome classes; inputs that were not accepted or cleanly refused are saved for regression tests."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np

from fuzz.harness import ACCEPTED, CLEAN, OUTCOMES, Result, WorkerPool
from fuzz.mutate import mutate_fileset

SLOW_S = 5.0


@dataclasses.dataclass
class Tally:
    """Counts per outcome class for one target, the slowest input, worker peak RSS and rate."""

    target: str
    inputs: int = 0
    counts: dict = dataclasses.field(default_factory=lambda: {k: 0 for k in OUTCOMES})
    slow_over_5s: int = 0
    max_s: float = 0.0
    peak_rss_mib: float = 0.0
    wall_s: float = 0.0
    examples: dict = dataclasses.field(default_factory=dict)  # outcome -> first details

    @property
    def failures(self) -> int:
        return sum(v for k, v in self.counts.items() if k not in (ACCEPTED, CLEAN))

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["inputs_per_s"] = round(self.inputs / self.wall_s, 1) if self.wall_s else None
        return d


def pack_fileset(files: dict[str, bytes]) -> bytes:
    """A file set as one zip (stored), the form regression inputs are kept in under tests/."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    return out.getvalue()


def unpack_fileset(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _inputs(target, n: int, rng: np.random.Generator):
    for i in range(n):
        seed = target.seeds[i % len(target.seeds)]
        files = seed if i < len(target.seeds) else mutate_fileset(seed, target.main, rng, target.kinds)
        yield (i, files), target.name, files


def fuzz_targets(targets: dict, n_per_target: int, seed: int = 0, workers: int = 2, timeout_s: float = 10.0,
                 mem_cap_mib: int = 1024, save_dir: Path | None = None, log=None) -> dict[str, Tally]:
    """Run `n_per_target` inputs (the seeds first, then mutants) per target; a fresh pool per target
    so the peak RSS is that reader's. Failing inputs go to save_dir/<target>/<outcome>_<i>.zip."""
    readers = {name: (t.read, t.main) for name, t in targets.items()}
    from fuzz.targets import clean_errors

    tallies = {}
    for name, target in targets.items():
        tally = Tally(name)
        rng = np.random.default_rng([seed, sum(map(ord, name))])

        def record(key, res: Result, tally=tally, name=name):
            i, files = key
            tally.inputs += 1
            tally.counts[res.outcome] += 1
            tally.max_s = max(tally.max_s, res.elapsed_s)
            tally.slow_over_5s += res.elapsed_s > SLOW_S
            if res.outcome not in (ACCEPTED, CLEAN):
                tally.examples.setdefault(res.outcome, [])
                if len(tally.examples[res.outcome]) < 5:
                    tally.examples[res.outcome].append(res.detail)
                if save_dir is not None:
                    d = Path(save_dir) / name
                    d.mkdir(parents=True, exist_ok=True)
                    (d / f"{res.outcome}_{i}.zip").write_bytes(pack_fileset(files))
            if log and tally.inputs % 1000 == 0:
                log(f"{name}: {tally.inputs} inputs {tally.counts}")

        t0 = time.perf_counter()
        with WorkerPool(readers, clean_errors(), workers=workers, timeout_s=timeout_s,
                        mem_cap_mib=mem_cap_mib) as pool:
            pool.run(_inputs(target, n_per_target, rng), record)
            tally.peak_rss_mib = round(pool.peak_rss_mib, 1)
        tally.wall_s = round(time.perf_counter() - t0, 2)
        tallies[name] = tally
        if log:
            log(json.dumps(tally.as_dict()))
    return tallies
