"""A pool of forked workers that feed one input at a time to a reader and classify the outcome.

Each worker is forked once from a parent that has already imported the readers (so a fork costs
no imports), caps its address space with RLIMIT_AS and its file writes with RLIMIT_FSIZE, and
handles many inputs; the parent kills and replaces a worker that runs past the per-input time
limit (a hang) or dies (a crash). Nothing here imports citywalk: the caller says which exception
family counts as a clean refusal.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import resource
import shutil
import signal
import tempfile
import time
import traceback
import warnings
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Iterable

ACCEPTED, CLEAN, BUG, HANG, MEMORY, CRASH = "accepted", "clean", "bug", "hang", "memory", "crash"
OUTCOMES = (ACCEPTED, CLEAN, BUG, HANG, MEMORY, CRASH)
MIB = 1 << 20

FileSet = dict[str, bytes]  # relative file name -> content; the reader opens `main`
Reader = Callable[[Path], object]


@dataclasses.dataclass
class Result:
    """What one input did: outcome class, a one-line detail, seconds taken, worker peak RSS."""

    outcome: str
    detail: str
    elapsed_s: float
    peak_rss_mib: float


def _address_space_bytes() -> int:
    """Current virtual size of this process (Linux /proc), the base the memory cap adds to."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _write_fileset(root: Path, files: FileSet) -> None:
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _classify(exc: BaseException, clean: tuple[type[BaseException], ...]) -> tuple[str, str]:
    if isinstance(exc, clean):
        return CLEAN, f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, MemoryError):
        return MEMORY, "MemoryError"
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    return BUG, f"{type(exc).__name__} at {where}: {exc}"[:300]


def _worker_main(conn, readers: dict[str, tuple[Reader, str]], clean, mem_cap_bytes: int,
                 fsize_cap_bytes: int) -> None:
    """Child loop: receive (target, files), write them to a scratch folder, run the reader, reply."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    base = _address_space_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (base + mem_cap_bytes, base + mem_cap_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_cap_bytes, fsize_cap_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    scratch = Path(tempfile.mkdtemp(prefix="cw_fuzz_"))
    n = 0
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            break
        if msg is None:
            break
        target, files = msg
        reader, main = readers[target]
        work = scratch / str(n)
        n += 1
        t0 = time.perf_counter()
        try:
            work.mkdir()
            _write_fileset(work, files)
            reader(work / main)
            outcome, detail = ACCEPTED, ""
        except BaseException as exc:  # the point is to see every kind of failure
            outcome, detail = _classify(exc, clean)
        elapsed = time.perf_counter() - t0
        shutil.rmtree(work, ignore_errors=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send((outcome, detail, elapsed, peak))
    shutil.rmtree(scratch, ignore_errors=True)


class WorkerPool:
    """`workers` forked children running `readers` ({target: (reader(path), main file name)}).

    mem_cap_mib: address space each child may add after the fork; timeout_s: per input."""

    def __init__(self, readers: dict[str, tuple[Reader, str]], clean: tuple[type[BaseException], ...],
                 workers: int = 2, mem_cap_mib: int = 1024, timeout_s: float = 10.0,
                 fsize_cap_mib: int = 256):
        self.readers, self.clean, self.timeout_s = readers, clean, timeout_s
        self.mem_cap, self.fsize_cap = mem_cap_mib * MIB, fsize_cap_mib * MIB
        self.ctx = mp.get_context("fork")
        self.slots = [self._spawn() for _ in range(workers)]
        self.peak_rss_mib = 0.0

    def _spawn(self):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main,
                                args=(child, self.readers, self.clean, self.mem_cap, self.fsize_cap),
                                daemon=True)
        proc.start()
        child.close()
        return [proc, parent]

    def _replace(self, i: int) -> None:
        proc, conn = self.slots[i]
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
        conn.close()
        self.slots[i] = self._spawn()

    def run(self, jobs: Iterable[tuple[object, str, FileSet]],
            on_result: Callable[[object, Result], None]) -> None:
        """Feed every (key, target, files) job to a free worker; on_result(key, Result) per job."""
        jobs = iter(jobs)
        busy: dict[int, tuple[object, float]] = {}

        def feed(i: int) -> bool:
            job = next(jobs, None)
            if job is None:
                return False
            key, target, files = job
            busy[i] = (key, time.perf_counter())
            try:
                self.slots[i][1].send((target, files))
            except OSError:  # the worker died between inputs; the reply loop reports a crash
                pass
            return True

        for i in range(len(self.slots)):
            feed(i)
        while busy:
            now = time.perf_counter()
            wait_s = max(0.01, min(t0 + self.timeout_s for _, t0 in busy.values()) - now)
            ready = wait([self.slots[i][1] for i in busy], timeout=wait_s)
            for i in list(busy):
                key, t0 = busy[i]
                conn = self.slots[i][1]
                if conn in ready:
                    try:
                        outcome, detail, elapsed, peak = conn.recv()
                        self.peak_rss_mib = max(self.peak_rss_mib, peak)
                        res = Result(outcome, detail, elapsed, peak)
                    except (EOFError, OSError):
                        self.slots[i][0].join(5)
                        code = self.slots[i][0].exitcode
                        res = Result(CRASH, f"worker died (exit code {code})", time.perf_counter() - t0, 0.0)
                        self._replace(i)
                elif time.perf_counter() - t0 > self.timeout_s:
                    res = Result(HANG, f"no answer in {self.timeout_s:g} s", time.perf_counter() - t0, 0.0)
                    self._replace(i)
                else:
                    continue
                del busy[i]
                on_result(key, res)
                feed(i)

    def close(self) -> None:
        for _, conn in self.slots:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in self.slots:
            proc.join(5)
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(5)
            conn.close()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
