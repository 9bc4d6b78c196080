"""The capture catalog: one SQLite file plus one folder per entry, safe under concurrent writers.

Never a half-written entry: files are written into a staging folder first, then — inside one
`BEGIN IMMEDIATE` transaction — the row is inserted, the folder renamed into place and the row
committed last. Any failure rolls the row back and deletes the folder. The row *is* the entry: a
folder without a row (a crash between rename and commit) is invisible and `sweep()` removes it.
WAL journal mode lets readers run while one writer commits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from citywalk.capture import CaptureError
from citywalk.safeio import write_transaction

CATALOG_FILE = "catalog.sqlite"
ENTRIES_DIR = "entries"
STAGING_DIR = ".staging"
SCENE_DIR = "scene"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
STATUSES = ("submitted", "processing", "processed", "failed")
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    meta TEXT NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',
    scene TEXT,
    qa TEXT
)"""


@dataclass
class CaptureMeta:
    """What the contributor tells us about a capture. lat/lon in degrees (WGS84); captured_at is
    ISO 8601 (filled from the file when present); consent: the people and owners shown agreed."""

    place: str = ""
    lat: float | None = None
    lon: float | None = None
    captured_at: str | None = None
    device: str = ""
    contributor: str = ""
    licence: str = "CC-BY-4.0"
    consent: bool = False

    def check(self) -> "CaptureMeta":
        """Validate ranges and lengths; CaptureError names the field and what is accepted."""
        if self.lat is not None and not (isinstance(self.lat, (int, float)) and -90 <= self.lat <= 90):
            raise CaptureError(f"capture meta lat={self.lat!r}: expected degrees in -90..90")
        if self.lon is not None and not (isinstance(self.lon, (int, float)) and -180 <= self.lon <= 180):
            raise CaptureError(f"capture meta lon={self.lon!r}: expected degrees in -180..180")
        for key in ("place", "device", "contributor", "licence"):
            value = getattr(self, key)
            if not isinstance(value, str) or len(value) > 200:
                raise CaptureError(f"capture meta {key}={value!r:.60}: expected text of ≤ 200 characters")
        if not self.licence.strip():
            raise CaptureError("capture meta licence is empty: name a licence, e.g. 'CC-BY-4.0'")
        if not isinstance(self.consent, bool):
            raise CaptureError(f"capture meta consent={self.consent!r}: expected true or false")
        return self


@dataclass
class CatalogEntry:
    """One catalog row. `path` is the entry folder; `source` and `scene` are relative to it."""

    id: str
    name: str
    kind: str
    source: str
    status: str
    created_at: str
    meta: CaptureMeta
    path: Path
    reasons: list[str] = field(default_factory=list)
    scene: str | None = None
    qa: dict | None = None

    @property
    def scene_ply(self) -> Path | None:
        """The trained splat file (usable as `scene: {source: splat, path: …}`), or None."""
        return self.path / self.scene / "scene.ply" if self.scene else None

    def to_dict(self) -> dict:
        """Plain JSON-able summary (for `citywalk scenes show`)."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["scene_ply"] = str(self.scene_ply) if self.scene_ply else None
        return d


def check_name(name: str) -> str:
    """A scene name usable in Shots: lowercase letters, digits, '-' and '_', ≤ 64 characters."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CaptureError(f"scene name {name!r}: expected 1–64 characters of a-z, 0-9, '-' or '_', "
                           "starting with a letter or digit")
    return name


class Catalog:
    """Captures and their trained scenes under one root folder (created on first use)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        try:
            (self.root / ENTRIES_DIR).mkdir(parents=True, exist_ok=True)
            (self.root / STAGING_DIR).mkdir(exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise CaptureError(f"capture catalog {self.root}: cannot open ({exc})") from None

    # -- low level ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.root / CATALOG_FILE, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.execute("PRAGMA busy_timeout=%d" % int(BUSY_TIMEOUT_S * 1000))
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on any exception)."""
        db = self._connect()
        try:
            with write_transaction(db):
                yield db
        finally:
            db.close()

    def staging_dir(self) -> Path:
        """A fresh private folder inside the catalog (same file system, so renames are atomic)."""
        return Path(tempfile.mkdtemp(dir=self.root / STAGING_DIR, prefix="stage-"))

    # -- writing --------------------------------------------------------------------------

    def add(self, name: str, kind: str, source: str, meta: CaptureMeta,
            write_files: Callable[[Path], None]) -> CatalogEntry:
        """Create an entry: `write_files(folder)` fills a staging folder, then the row commits last."""
        check_name(name)
        meta.check()
        entry_id = uuid.uuid4().hex[:12]
        stage = self.staging_dir()
        final = self.root / ENTRIES_DIR / entry_id
        try:
            write_files(stage)
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            with self._write() as db:
                if db.execute("SELECT 1 FROM captures WHERE name = ?", (name,)).fetchone():
                    raise CaptureError(f"scene name {name!r} is already in the catalog {self.root}: "
                                       "choose another name or remove the old entry")
                db.execute("INSERT INTO captures (id, name, kind, source, status, created_at, meta) "
                           "VALUES (?, ?, ?, ?, 'submitted', ?, ?)",
                           (entry_id, name, kind, source, created, json.dumps(asdict(meta))))
                os.rename(stage, final)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return self.get(entry_id)

    def update(self, key: str, *, status: str | None = None, reasons: list[str] | None = None,
               qa: dict | None = None) -> CatalogEntry:
        """Change an entry's status, reasons or QA report in one transaction."""
        if status is not None and status not in STATUSES:
            raise CaptureError(f"catalog status {status!r}: expected one of {STATUSES}")
        entry = self.get(key)
        with self._write() as db:
            if status is not None:
                db.execute("UPDATE captures SET status = ? WHERE id = ?", (status, entry.id))
            if reasons is not None:
                db.execute("UPDATE captures SET reasons = ? WHERE id = ?", (json.dumps(reasons), entry.id))
            if qa is not None:
                db.execute("UPDATE captures SET qa = ? WHERE id = ?", (json.dumps(qa), entry.id))
        return self.get(entry.id)

    def attach_scene(self, key: str, write_files: Callable[[Path], None], qa: dict | None = None) -> CatalogEntry:
        """Write a scene package through a staging folder and mark the entry processed, atomically:
        an old scene is replaced only once the new one is complete."""
        entry = self.get(key)
        stage = self.staging_dir()
        target = entry.path / SCENE_DIR
        old = entry.path / f".old-{uuid.uuid4().hex[:8]}"
        moved_old = False
        try:
            write_files(stage)
            with self._write() as db:
                if target.exists():
                    os.rename(target, old)
                    moved_old = True
                os.rename(stage, target)
                db.execute("UPDATE captures SET status = 'processed', scene = ?, reasons = '[]', qa = ? "
                           "WHERE id = ?", (SCENE_DIR, json.dumps(qa) if qa is not None else entry_qa(entry),
                                            entry.id))
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            if moved_old:
                shutil.rmtree(target, ignore_errors=True)
                os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return self.get(entry.id)

    def remove(self, key: str) -> CatalogEntry:
        """Delete an entry: the row first (so it vanishes at once), then its folder."""
        entry = self.get(key)
        with self._write() as db:
            db.execute("DELETE FROM captures WHERE id = ?", (entry.id,))
        shutil.rmtree(entry.path, ignore_errors=True)
        return entry

    def sweep(self) -> list[Path]:
        """Remove staging leftovers and entry folders without a row (after a crash) → removed paths."""
        ids = {e.id for e in self.list()}
        removed = []
        for p in list((self.root / STAGING_DIR).iterdir()) + list((self.root / ENTRIES_DIR).iterdir()):
            if p.parent.name == STAGING_DIR or p.name not in ids:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        return removed

    # -- reading --------------------------------------------------------------------------

    def _entry(self, row) -> CatalogEntry:
        entry_id, name, kind, source, status, created, meta, reasons, scene, qa = row
        return CatalogEntry(entry_id, name, kind, source, status, created, CaptureMeta(**json.loads(meta)),
                            self.root / ENTRIES_DIR / entry_id, json.loads(reasons), scene,
                            json.loads(qa) if qa else None)

    def get(self, key: str) -> CatalogEntry:
        """The entry with this name or id; CaptureError listing a few names when unknown."""
        db = self._connect()
        try:
            row = db.execute("SELECT * FROM captures WHERE name = ? OR id = ?", (key, key)).fetchone()
            if row is None:
                names = [r[0] for r in db.execute("SELECT name FROM captures ORDER BY name LIMIT 10")]
        finally:
            db.close()
        if row is None:
            raise CaptureError(f"no capture named {key!r} in the catalog {self.root}; "
                               f"known: {', '.join(names) or '(none)'}")
        return self._entry(row)

    def list(self, status: str | None = None) -> list[CatalogEntry]:
        """All entries (optionally only those with `status`), by creation time then name."""
        db = self._connect()
        try:
            sql = "SELECT * FROM captures" + (" WHERE status = ?" if status else "") + " ORDER BY created_at, name"
            rows = db.execute(sql, (status,) if status else ()).fetchall()
        finally:
            db.close()
        return [self._entry(r) for r in rows]


def entry_qa(entry: CatalogEntry) -> str | None:
    return json.dumps(entry.qa) if entry.qa is not None else None


# -- functions the CLI wires (`citywalk scenes list/show/remove`) ---------------------------

def default_catalog_root() -> Path:
    """$CITYWALK_CATALOG, else ~/.citywalk/captures."""
    env = os.environ.get("CITYWALK_CATALOG")
    return Path(env) if env else Path.home() / ".citywalk" / "captures"


def list_scenes(root: str | os.PathLike[str] | None = None, status: str | None = None) -> list[dict]:
    """One summary dict per catalog entry: name, id, status, place, created_at, scene_ply, reasons."""
    cat = Catalog(root or default_catalog_root())
    return [{"name": e.name, "id": e.id, "status": e.status, "kind": e.kind, "place": e.meta.place,
             "created_at": e.created_at, "scene_ply": str(e.scene_ply) if e.scene_ply else None,
             "reasons": e.reasons} for e in cat.list(status)]


def show_scene(name: str, root: str | os.PathLike[str] | None = None) -> dict:
    """Everything known about one entry (metadata, QA report, paths)."""
    return Catalog(root or default_catalog_root()).get(name).to_dict()


def remove_scene(name: str, root: str | os.PathLike[str] | None = None) -> dict:
    """Delete an entry and its files; returns what was removed."""
    return Catalog(root or default_catalog_root()).remove(name).to_dict()


def resolve_scene(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The splat file of a processed scene, for Shots that name a capture (`splat: <name>`)."""
    entry = Catalog(root or default_catalog_root()).get(name)
    if entry.status != "processed" or entry.scene_ply is None or not entry.scene_ply.is_file():
        why = "; ".join(entry.reasons) or "it has not been processed yet"
        raise CaptureError(f"capture {name!r} has no trained scene (status {entry.status}): {why}")
    return entry.scene_ply
