"""The Studio's data folder, and the only way a request's words become paths.

Every path the Studio touches is built here from a checked name (job ids: 32 hex digits; actor,
world and scene names: lowercase letters, digits, '-' and '_') joined to a fixed folder, then
checked to lie inside it. Nothing a client sends is ever used as a path as it is.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from . import StudioError

JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
WORLD_SUFFIXES = {  # world upload suffix → Shot scene.source
    ".osm": "osm", ".pbf": "osm", ".glb": "mesh", ".obj": "mesh", ".ply": "mesh", ".kmz": "kmz",
    ".splat": "splat", ".spz": "splat", ".sog": "splat", ".ksplat": "splat",
}


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise StudioError(f"job id {job_id!r:.40}: expected 32 hexadecimal digits")
    return job_id


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StudioError(f"{what} {name!r:.70}: expected 1–64 characters of a-z, 0-9, '-' or '_', "
                          "starting with a letter or digit")
    return name


def inside(root: Path, *parts: str) -> Path:
    """root/parts…, refused unless it resolves inside root (no '..', no symlink escape)."""
    path = root.joinpath(*parts)
    if os.path.commonpath([os.path.realpath(root), os.path.realpath(path)]) != os.path.realpath(root):
        raise StudioError(f"path {'/'.join(parts)!r} leaves the data folder")
    return path


class DataDir:
    """Folders under --data-dir: jobs/<id>/ (work and outputs), actors/<name>.actor,
    worlds/<name>/world.<ext>, uploads/ (staging), cache/ (thumbnails)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().absolute()
        try:
            for sub in ("jobs", "actors", "worlds", "uploads", "cache"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudioError(f"--data-dir {self.root}: cannot create the Studio's folders ({exc})") from None

    @property
    def db_path(self) -> Path:
        return self.root / "studio.sqlite"

    def job_dir(self, job_id: str) -> Path:
        return inside(self.root / "jobs", check_job_id(job_id))

    def job_output_dir(self, job_id: str) -> Path:
        """Where a finished job's files are (renamed into place in one step when complete)."""
        return self.job_dir(job_id) / "out"

    def actor_path(self, name: str) -> Path:
        return inside(self.root / "actors", check_name(name, "actor") + ".actor")

    def actor_names(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "actors").glob("*.actor") if NAME_RE.match(p.stem))

    def world_dir(self, name: str) -> Path:
        return inside(self.root / "worlds", check_name(name, "world"))

    def world_file(self, name: str) -> Path | None:
        """The stored file of an uploaded world, or None."""
        folder = self.world_dir(name)
        if not folder.is_dir():
            return None
        files = [p for p in folder.iterdir() if p.is_file() and p.name.startswith("world.")]
        return files[0] if files else None

    def world_source(self, name: str) -> str | None:
        """The Shot scene.source an uploaded world is walked with (a PLY may be a mesh or splats)."""
        f = self.world_file(name)
        if f is None:
            return None
        marker = f.parent / "source.txt"
        known = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
        return known if known in WORLD_SUFFIXES.values() else WORLD_SUFFIXES.get(f.suffix.lower())

    def world_names(self) -> list[str]:
        return sorted(p.name for p in (self.root / "worlds").iterdir()
                      if p.is_dir() and NAME_RE.match(p.name) and self.world_file(p.name))

    def upload_dir(self, job_id: str) -> Path:
        return inside(self.root / "uploads", check_job_id(job_id))

    def cache_file(self, name: str) -> Path:
        return inside(self.root / "cache", name)

    def used_bytes(self) -> int:
        """Bytes stored under the data folder (files only; the catalog counts if it lives inside)."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    continue
        return total

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free


def fsync_tree(folder: Path) -> None:
    """Flush every file in `folder` and the folders themselves to disk (before an atomic rename)."""
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
