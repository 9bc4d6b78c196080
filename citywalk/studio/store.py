"""The job store: one SQLite file (WAL) in the data folder, shared by the server and its workers.

A job moves queued → running → done | failed | cancelled; running → queued again when its worker
died or the server restarted. Every transition (and each change of stage while running) is a row
in `events`. Writes that finish a job compare the attempt number, so a worker from an older
attempt can never overwrite what a newer one did. WAL lets the status readers run while a worker
writes its progress.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..safeio import write_transaction
from . import StudioError

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
KINDS = ("render", "actor", "capture")
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    plan TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    fraction REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT 'queued',
    eta_s REAL,
    reason TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    worker_pid INTEGER,
    estimate_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id, seq);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, kind);
"""


def now_iso() -> str:
    """UTC wall-clock time for records (ISO 8601, milliseconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Job:
    """One row of `jobs`; `request` is what the client asked, `spec` what the worker runs."""

    id: str
    kind: str
    state: str
    plan: str
    title: str
    request: dict
    spec: dict
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    fraction: float
    stage: str
    eta_s: float | None
    reason: str | None
    outputs: dict = field(default_factory=dict)
    worker_pid: int | None = None
    estimate_bytes: int = 0

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


_COLUMNS = ("id, kind, state, plan, title, request, spec, created_at, updated_at, started_at, finished_at, "
            "attempts, fraction, stage, eta_s, reason, outputs, worker_pid, estimate_bytes")


def _job(row) -> Job:
    values = list(row)
    for i in (5, 6, 16):
        values[i] = json.loads(values[i])
    return Job(*values)


class JobStore:
    """Jobs and their events in `path` (created on first use); safe across threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        try:
            db = self._db()
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StudioError(f"job store {self.path}: cannot open ({exc})") from None

    # -- connections -----------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=%d" % int(BUSY_TIMEOUT_S * 1000))
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._db()) as db:
            yield db

    @staticmethod
    def _event(db, job_id: str, state: str, attempt: int, detail: str = "") -> None:
        db.execute("INSERT INTO events (job_id, at, state, attempt, detail) VALUES (?, ?, ?, ?, ?)",
                   (job_id, now_iso(), state, attempt, detail))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writing ---------------------------------------------------------------------------
    def submit(self, kind: str, plan: str, request: dict, spec: dict, title: str = "",
               estimate_bytes: int = 0, job_id: str | None = None) -> Job:
        """A new queued job → the stored Job."""
        if kind not in KINDS:
            raise StudioError(f"job kind {kind!r}: expected one of {KINDS}")
        job_id = job_id or uuid.uuid4().hex
        t = now_iso()
        with self._write() as db:
            db.execute("INSERT INTO jobs (id, kind, state, plan, title, request, spec, created_at, updated_at, "
                       "estimate_bytes) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, kind, plan, title, json.dumps(request), json.dumps(spec), t, t, int(estimate_bytes)))
            self._event(db, job_id, "queued", 0, "submitted")
        return self.get(job_id)

    def claim_next(self, kinds: tuple[str, ...]) -> Job | None:
        """The oldest queued job of these kinds, now running with its attempt counted; or None."""
        marks = ",".join("?" * len(kinds))
        with self._write() as db:
            row = db.execute(f"SELECT id, attempts FROM jobs WHERE state = 'queued' AND kind IN ({marks}) "
                             "ORDER BY rowid LIMIT 1", kinds).fetchone()
            if row is None:
                return None
            job_id, attempt = row[0], row[1] + 1
            t = now_iso()
            db.execute("UPDATE jobs SET state = 'running', attempts = ?, started_at = ?, updated_at = ?, "
                       "stage = 'starting', fraction = 0, eta_s = NULL, worker_pid = NULL WHERE id = ?",
                       (attempt, t, t, job_id))
            self._event(db, job_id, "running", attempt, f"attempt {attempt}")
        return self.get(job_id)

    def set_worker(self, job_id: str, attempt: int, pid: int) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET worker_pid = ? WHERE id = ? AND attempts = ? AND state = 'running'",
                       (pid, job_id, attempt))

    def progress(self, job_id: str, attempt: int, fraction: float, stage: str, eta_s: float | None) -> bool:
        """Record progress of a running attempt → False when the job is no longer this attempt's
        to run (cancelled, deleted, or taken over), so the worker should stop."""
        with self._write() as db:
            row = db.execute("SELECT stage FROM jobs WHERE id = ? AND attempts = ? AND state = 'running'",
                             (job_id, attempt)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE jobs SET fraction = ?, stage = ?, eta_s = ?, updated_at = ? WHERE id = ?",
                       (min(max(float(fraction), 0.0), 1.0), stage, eta_s, now_iso(), job_id))
            if row[0] != stage:
                self._event(db, job_id, "running", attempt, f"stage: {stage}")
        return True

    def finish(self, job_id: str, attempt: int, outputs: dict[str, Any]) -> bool:
        """running → done for this attempt only → whether it was recorded."""
        return self._end(job_id, attempt, "done", None, outputs)

    def fail(self, job_id: str, attempt: int, reason: str) -> bool:
        """running → failed with a reason, for this attempt only."""
        return self._end(job_id, attempt, "failed", reason[:4000], None)

    def _end(self, job_id: str, attempt: int, state: str, reason: str | None, outputs: dict | None) -> bool:
        t = now_iso()
        with self._write() as db:
            cur = db.execute("UPDATE jobs SET state = ?, reason = ?, outputs = COALESCE(?, outputs), finished_at = ?, "
                             "updated_at = ?, fraction = CASE WHEN ? = 'done' THEN 1 ELSE fraction END, "
                             "stage = ?, eta_s = NULL WHERE id = ? AND attempts = ? AND state = 'running'",
                             (state, reason, json.dumps(outputs) if outputs is not None else None, t, t, state,
                              state, job_id, attempt))
            if cur.rowcount:
                self._event(db, job_id, state, attempt, reason or "")
        return bool(cur.rowcount)

    def requeue(self, job_id: str, attempt: int, why: str, max_attempts: int) -> str | None:
        """A running attempt that stopped without finishing → queued again, or failed once it has
        used `max_attempts`; returns the new state (None if the job was not running that attempt)."""
        with self._write() as db:
            row = db.execute("SELECT attempts FROM jobs WHERE id = ? AND attempts = ? AND state = 'running'",
                             (job_id, attempt)).fetchone()
            if row is None:
                return None
            t = now_iso()
            if attempt >= max_attempts:
                reason = f"{why}; gave up after {attempt} attempts"
                db.execute("UPDATE jobs SET state = 'failed', reason = ?, finished_at = ?, updated_at = ?, "
                           "stage = 'failed', eta_s = NULL WHERE id = ?", (reason, t, t, job_id))
                self._event(db, job_id, "failed", attempt, reason)
                return "failed"
            db.execute("UPDATE jobs SET state = 'queued', stage = 'queued', fraction = 0, eta_s = NULL, "
                       "worker_pid = NULL, updated_at = ? WHERE id = ?", (t, job_id))
            self._event(db, job_id, "queued", attempt, f"requeued: {why}")
            return "queued"

    def requeue_all_running(self, why: str, max_attempts: int) -> list[str]:
        """At start-up: every job still marked running lost its worker with the old server."""
        rows = self._db().execute("SELECT id, attempts FROM jobs WHERE state = 'running'").fetchall()
        return [job_id for job_id, attempt in rows if self.requeue(job_id, attempt, why, max_attempts)]

    def cancel(self, job_id: str) -> Job:
        """queued/running → cancelled (a running worker notices at its next progress report)."""
        with self._write() as db:
            row = db.execute("SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            if row[0] in ("queued", "running"):
                t = now_iso()
                db.execute("UPDATE jobs SET state = 'cancelled', stage = 'cancelled', finished_at = ?, "
                           "updated_at = ?, eta_s = NULL, reason = 'cancelled by request' WHERE id = ?",
                           (t, t, job_id))
                self._event(db, job_id, "cancelled", row[1], "cancelled by request")
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        """Remove a job and its events (the caller removes its files)."""
        with self._write() as db:
            db.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- reading ---------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        row = self._db().execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def list(self, kind: str | None = None, state: str | None = None, limit: int = 100,
             newest_first: bool = True) -> list[Job]:
        where, args = [], []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if state:
            where.append("state = ?")
            args.append(state)
        sql = (f"SELECT {_COLUMNS} FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY rowid {'DESC' if newest_first else 'ASC'} LIMIT ?")
        return [_job(r) for r in self._db().execute(sql, (*args, int(limit))).fetchall()]

    def events(self, job_id: str) -> list[dict]:
        rows = self._db().execute("SELECT seq, at, state, attempt, detail FROM events WHERE job_id = ? ORDER BY seq",
                                  (job_id,)).fetchall()
        return [{"seq": s, "at": a, "state": st, "attempt": n, "detail": d} for s, a, st, n, d in rows]

    def count(self, states: tuple[str, ...], plan: str | None = None) -> int:
        marks = ",".join("?" * len(states))
        sql = f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})" + (" AND plan = ?" if plan else "")
        return int(self._db().execute(sql, (*states, *((plan,) if plan else ()))).fetchone()[0])

    def pending_estimate_bytes(self) -> int:
        """Bytes the queued and running jobs are expected to write."""
        row = self._db().execute("SELECT COALESCE(SUM(estimate_bytes), 0) FROM jobs "
                                 "WHERE state IN ('queued', 'running')").fetchone()
        return int(row[0])
