"""Safe readers for untrusted inputs, shared by every stage: size-capped file reads, zip archives
(KMZ, actor packages), XML (KML, COLLADA) and relative paths inside a data folder (glTF buffers,
3D Tiles content).

Every refusal raises a CitywalkError (SceneError unless the caller names its own class) naming the
file, the entry and what would be accepted.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from citywalk.errors import CitywalkError, SceneError

GIB = 1 << 30
MIB = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN_XML = (b"<!doctype", b"<!entity")


def _read_at_most(fh, limit: int, first: int) -> bytes:
    """Up to `limit` bytes from `fh`: `first` bytes (the size the file claims, plus one), then 1 MiB
    steps; fh.read(limit) would allocate the whole limit up front, whatever the file's size."""
    parts = [fh.read(min(first, limit))]
    got = len(parts[0])
    while got < limit:
        chunk = fh.read(min(MIB, limit - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_capped(path: str | os.PathLike[str], max_bytes: int, what: str = "file",
                error: type[CitywalkError] = SceneError) -> bytes:
    """The bytes of a file of at most `max_bytes`, read through one handle (the size is checked on
    the open file, and no more than the limit is read even if the file grows meanwhile)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise error(f"{what} {p}: {size} bytes is over the limit of {max_bytes} bytes")
            data = _read_at_most(fh, max_bytes + 1, size + 1)
    except FileNotFoundError:
        raise error(f"{what} {p}: no such file") from None
    except IsADirectoryError:
        raise error(f"{what} {p}: is a folder, not a file") from None
    except OSError as exc:
        raise error(f"{what} {p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{what} {p}: over the limit of {max_bytes} bytes")
    return data


def check_size(path: str | os.PathLike[str], max_bytes: int, what: str = "file",
               error: type[CitywalkError] = SceneError) -> int:
    """The size in bytes of a readable file of at most `max_bytes` (for readers that open the
    path themselves), else `error` naming the file and the limit."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise error(f"{what} {p}: no such file") from None
    except OSError as exc:
        raise error(f"{what} {p}: cannot read ({exc.strerror or exc})") from None
    if not p.is_file():
        raise error(f"{what} {p}: is not a regular file")
    if size > max_bytes:
        raise error(f"{what} {p}: {size} bytes is over the limit of {max_bytes} bytes")
    return size


def read_text_capped(path: str | os.PathLike[str], max_bytes: int, what: str = "file",
                     error: type[CitywalkError] = SceneError) -> str:
    """`read_capped` decoded as UTF-8; undecodable bytes are an `error` naming the file."""
    data = read_capped(path, max_bytes, what, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None


def _check_entry_name(name: str, archive: Path) -> None:
    """Refuse zip entry names that are absolute, use backslashes or drive letters, or climb
    out with '..' (zip-slip)."""
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or _DRIVE.match(name) is not None
        or ".." in PurePosixPath(name).parts
    )
    if bad:
        raise SceneError(
            f"{archive}: archive entry '{name}' is not a plain relative path "
            "(absolute paths, '..', backslashes and drive letters are refused)"
        )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """True when a zip entry carries Unix symlink mode bits."""
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def open_zip_safely(
    path: str | Path,
    max_files: int = 10_000,
    max_total_bytes: int = 2 * GIB,
    max_ratio: float = 200.0,
) -> zipfile.ZipFile:
    """Open a zip archive after checking every entry: plain relative names, no symlinks, at
    most `max_files` entries, at most `max_total_bytes` uncompressed in total, and no entry
    whose uncompressed/compressed ratio exceeds `max_ratio` (zip bombs).

    The caller owns the returned ZipFile and should close it (it is a context manager)."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, NotImplementedError, ValueError, EOFError) as exc:
        raise SceneError(f"{path}: not a readable zip archive ({exc})") from exc
    try:
        infos = archive.infolist()
        if len(infos) > max_files:
            raise SceneError(f"{path}: {len(infos)} entries; at most {max_files} are accepted")
        total = 0
        for info in infos:
            _check_entry_name(info.filename, path)
            if _is_symlink(info):
                raise SceneError(f"{path}: entry '{info.filename}' is a symlink; symlinks are refused")
            total += info.file_size
            if total > max_total_bytes:
                raise SceneError(
                    f"{path}: uncompressed contents exceed {max_total_bytes} bytes (the limit)"
                )
            if info.file_size > 1024 and info.file_size > max_ratio * max(info.compress_size, 1):
                raise SceneError(
                    f"{path}: entry '{info.filename}' expands {info.file_size} / "
                    f"{info.compress_size} bytes, a ratio over {max_ratio:g}; refused as a zip bomb"
                )
    except BaseException:
        archive.close()
        raise
    return archive


def read_zip_entry(archive: zipfile.ZipFile, name: str, max_bytes: int = 512 << 20) -> bytes:
    """Read one entry, reading no more than `max_bytes` even if the header lies about size."""
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise SceneError(f"{archive.filename}: no entry '{name}' in the archive") from exc
    if info.file_size > max_bytes:
        raise SceneError(f"{archive.filename}: entry '{name}' is over the limit of {max_bytes} bytes")
    try:
        with archive.open(info) as fh:
            data = _read_at_most(fh, max_bytes + 1, info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SceneError(f"{archive.filename}: entry '{name}' is corrupt ({exc})") from None
    if len(data) > max_bytes:
        raise SceneError(f"{archive.filename}: entry '{name}' is over the limit of {max_bytes} bytes")
    return data


def safe_join(root: str | Path, relative: str) -> Path:
    """Join a relative path (as found inside a data file) to `root`, refusing any result that
    escapes `root` after resolving '..' and symlinks; URIs with a scheme are refused too."""
    root_resolved = Path(root).resolve()
    rel = str(relative)
    if not rel or "\x00" in rel or re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", rel):
        raise SceneError(
            f"{root}: reference '{relative}' is not a relative file path inside the folder"
        )
    candidate = (root_resolved / rel.replace("\\", "/")).resolve()
    if not candidate.is_relative_to(root_resolved):
        raise SceneError(
            f"{root}: reference '{relative}' points outside the folder {root_resolved}; "
            "only files inside it are read"
        )
    return candidate


def check_nesting(data: bytes | str, max_depth: int, source: str,
                  error: type[CitywalkError] = SceneError) -> None:
    """Refuse JSON/YAML whose brackets nest deeper than `max_depth` before parsing it: deep nesting
    makes json/PyYAML slow (seconds per MB) and then recurse out. Brackets inside strings count too,
    which only matters for documents that are nearly too deep anyway."""
    import numpy as np

    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    b = np.frombuffer(raw, np.uint8)
    step = (b == 0x5B).astype(np.int32) + (b == 0x7B) - (b == 0x5D) - (b == 0x7D)
    if step.size and int(np.cumsum(step).max()) > max_depth:
        raise error(f"{source}: brackets nest deeper than {max_depth} levels; refused before parsing")


def check_xml_bytes(data: bytes, source: str) -> None:
    """Refuse XML that declares a DOCTYPE or ENTITY (billion laughs, external entities).
    NUL bytes are dropped first so UTF-16/32 encodings are caught as well."""
    folded = data.replace(b"\x00", b"").lower()
    for token in _FORBIDDEN_XML:
        if token in folded:
            raise SceneError(
                f"{source}: XML with a DOCTYPE or ENTITY declaration is refused "
                "(entity expansion and external entities are unsafe)"
            )


def parse_xml_safely(
    bytes_or_path: bytes | str | Path, max_bytes: int = 256 << 20
) -> ElementTree.Element:
    """Parse XML from bytes or a file into an ElementTree root, refusing DOCTYPE/ENTITY
    declarations and documents over `max_bytes`; malformed XML raises SceneError."""
    if isinstance(bytes_or_path, (bytes, bytearray)):
        data, source = bytes(bytes_or_path), "XML data"
    else:
        source = str(bytes_or_path)
        data = read_capped(bytes_or_path, max_bytes, "XML")
    if len(data) > max_bytes:
        raise SceneError(f"{source}: XML over {max_bytes} bytes is refused")
    check_xml_bytes(data, source)
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise SceneError(f"{source}: malformed XML ({exc})") from exc
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise SceneError(f"{source}: XML in an unknown encoding ({exc})") from None


def _process_umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def temp_beside(target: Path, suffix: str = ".part") -> tuple[int, Path]:
    """(fd, path) of a new temp file beside `target`, to be renamed over it when complete. Unlike a
    bare mkstemp (0600) it gets the mode a normal file would (0666 less the umask), so a finished
    video or track is readable by the same people as any other file the user writes."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=suffix)
    os.fchmod(fd, 0o666 & ~_process_umask())
    return fd, Path(name)


@contextmanager
def write_transaction(db):
    """One SQLite write transaction on `db` (autocommit mode): BEGIN IMMEDIATE, COMMIT, and
    ROLLBACK on any exception, so a killed or failing writer never leaves half a change."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
