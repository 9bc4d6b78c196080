"""The bounded worker pool: claims queued jobs, runs each in its own process, reaps them.

Two pools: `render` and `capture` (likeness and capture jobs). A worker that exits without
finishing its job (killed, crashed) has the job requeued, or failed once it has used the
configured attempts. A cancelled or deleted job's worker is stopped (SIGTERM, then SIGKILL).
Before a job starts, the disk is checked: the data folder must stay under its quota and leave
the configured free space after the job's expected output.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .config import StudioConfig
from .paths import DataDir
from .store import JobStore

POOLS = {"render": ("render",), "capture": ("actor", "capture")}
TICK_S = 0.25
TERM_GRACE_S = 5.0


@dataclass
class _Running:
    attempt: int
    proc: subprocess.Popen
    pool: str
    stop_sent_at: float | None = None


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"the worker was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"the worker was killed by signal {-rc}"
    return f"the worker exited with code {rc} without finishing"


class Scheduler:
    """Runs the job queue in a background thread (see the module docstring)."""

    def __init__(self, config: StudioConfig, data: DataDir, store: JobStore):
        self.config, self.data, self.store = config, data, store
        self.slots = {"render": config.render_workers, "capture": config.capture_workers}
        self.running: dict[str, _Running] = {}
        self.wake = threading.Event()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.requeued_at_start: list[str] = []

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.requeued_at_start = self.store.requeue_all_running("the server restarted while it ran",
                                                                self.config.max_attempts)
        self.thread = threading.Thread(target=self._loop, name="citywalk-scheduler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the loop and the workers; their jobs stay 'running' and are requeued at next start."""
        self._stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(10)
        for r in self.running.values():
            if r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait(10)
        self.running.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # never let one bad tick stop the queue
                print(f"citywalk serve: scheduler: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.wake.wait(TICK_S)
            self.wake.clear()

    # -- one pass ----------------------------------------------------------------------------
    def tick(self) -> None:
        self._reap()
        self._stop_unwanted()
        for pool in POOLS:
            while not self._stop.is_set() and self._busy(pool) < self.slots[pool]:
                job = self.store.claim_next(POOLS[pool])
                if job is None:
                    break
                why = self._disk_refusal(job)
                if why:
                    self.store.fail(job.id, job.attempts, why)
                    continue
                self._spawn(job, pool)

    def _busy(self, pool: str) -> int:
        return sum(1 for r in self.running.values() if r.pool == pool)

    def _reap(self) -> None:
        for job_id, r in list(self.running.items()):
            rc = r.proc.poll()
            if rc is None:
                continue
            del self.running[job_id]
            try:
                job = self.store.get(job_id)
            except KeyError:
                shutil.rmtree(self.data.job_dir(job_id), ignore_errors=True)  # deleted while running
                continue
            if job.state == "running" and job.attempts == r.attempt:
                self.store.requeue(job_id, r.attempt, describe_exit(rc), self.config.max_attempts)
                self.wake.set()

    def _stop_unwanted(self) -> None:
        now = time.monotonic()
        for job_id, r in self.running.items():
            try:
                job = self.store.get(job_id)
                wanted = job.state == "running" and job.attempts == r.attempt
            except KeyError:
                wanted = False
            if wanted:
                continue
            if r.stop_sent_at is None:
                r.proc.terminate()
                r.stop_sent_at = now
            elif now - r.stop_sent_at > TERM_GRACE_S:
                r.proc.kill()

    def _disk_refusal(self, job) -> str | None:
        """Why the disk cannot take this job now, or None."""
        need = int(job.estimate_bytes)
        used = self.data.used_bytes()
        if used + need > self.config.quota_bytes:
            return (f"disk quota: the data folder holds {used / 2**20:.0f} MiB and this job may add "
                    f"{need / 2**20:.0f} MiB, over the {self.config.quota_bytes / 2**20:.0f} MiB quota; "
                    "delete old renders and submit again")
        free = self.data.free_bytes()
        if free - need < self.config.min_free_bytes:
            return (f"disk quota: {free / 2**20:.0f} MiB free on the data folder's disk, this job may need "
                    f"{need / 2**20:.0f} MiB and {self.config.min_free_bytes / 2**20:.0f} MiB must stay free")
        return None

    def _spawn(self, job, pool: str) -> None:
        job_dir = self.data.job_dir(job.id)
        job_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "citywalk.studio.worker", "--data-dir", str(self.data.root), "--job", job.id,
               "--attempt", str(job.attempts), "--parent", str(os.getpid()),
               "--catalog", str(self.config.catalog_root())]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        with open(job_dir / "worker.log", "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.running[job.id] = _Running(job.attempts, proc, pool)
        self.store.set_worker(job.id, job.attempts, proc.pid)
