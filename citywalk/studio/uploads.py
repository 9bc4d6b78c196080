"""Uploads: the type is read from the bytes (and must agree with the file name's suffix), the size is
counted while copying, and the file is stored under a name the Studio chooses — the client's file
name is used only for its suffix. Refusals raise `UploadRefused` (HTTP 413 or 415)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from . import StudioError

CHUNK_BYTES = 1 << 20

# suffix → the kind of content it must hold
LIKENESS_SUFFIXES = {".mp4": "isobmff", ".mov": "isobmff", ".m4v": "isobmff", ".png": "png", ".jpg": "jpeg",
                     ".jpeg": "jpeg", ".webp": "webp"}
CAPTURE_VIDEO_SUFFIXES = {".mp4": "isobmff", ".mov": "isobmff", ".m4v": "isobmff"}
CAPTURE_PHOTO_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}
WORLD_CONTENT = {".osm": "xml", ".pbf": "pbf", ".glb": "glb", ".obj": "text", ".ply": "ply", ".kmz": "zip",
                 ".splat": "splat", ".spz": "gzip", ".sog": "zip", ".ksplat": "splat"}


class UploadRefused(StudioError):
    """An upload is too large (status 413) or not an accepted type (415)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def sniff(head: bytes) -> set[str]:
    """Content kinds the first bytes of a file are consistent with."""
    kinds = set()
    if len(head) >= 12 and head[4:8] == b"ftyp":
        kinds.add("isobmff")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        kinds.add("png")
    if head.startswith(b"\xff\xd8\xff"):
        kinds.add("jpeg")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kinds.add("webp")
    if head.startswith(b"glTF"):
        kinds.add("glb")
    if head.startswith(b"ply\n") or head.startswith(b"ply\r\n"):
        kinds.add("ply")
    if head.startswith(b"PK\x03\x04"):
        kinds.add("zip")
    if head.startswith(b"\x1f\x8b"):
        kinds.add("gzip")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<?xml") or text.startswith(b"<osm"):
        kinds.add("xml")
    if len(head) >= 8 and head[:4] != b"\x00\x00\x00\x00" and int.from_bytes(head[:4], "big") < 64 * 1024 \
            and b"OSMHeader" in head[:64]:
        kinds.add("pbf")
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        kinds.add("text")
    if head:
        kinds.add("splat")  # raw 32-byte records, no header: checked by size after the copy
    return kinds


def suffix_of(filename: str | None, accepted: dict[str, str], what: str) -> str:
    """The lower-case suffix of the client's file name, if accepted ('.osm.pbf' counts as '.pbf')."""
    name = (filename or "").strip().lower()
    suffix = os.path.splitext(name)[1]
    if suffix not in accepted:
        raise UploadRefused(f"{what}: '{name[:80] or '(no name)'}' is not an accepted file type; accepted: "
                            f"{', '.join(sorted(accepted))}", 415)
    return suffix


def save_upload(upload, dest: Path, limit_bytes: int, expect: str, what: str) -> int:
    """Copy an UploadFile to `dest` (via a temp file beside it) checking content kind and size → bytes."""
    src = upload.file
    src.seek(0)
    head = src.read(4096)
    if not head:
        raise UploadRefused(f"{what}: the file is empty", 415)
    if expect not in sniff(head):
        raise UploadRefused(f"{what}: the content of '{(upload.filename or '')[:80]}' is not what its name says "
                            f"(expected {expect} data)", 415)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    total = 0
    try:
        with open(tmp, "wb") as out:
            block = head
            while block:
                total += len(block)
                if total > limit_bytes:
                    raise UploadRefused(f"{what}: larger than the {limit_bytes / 2**20:.0f} MiB limit", 413)
                out.write(block)
                block = src.read(CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        if expect == "splat" and total % 32:
            raise UploadRefused(f"{what}: a .splat file is whole 32-byte records; this one has {total} bytes", 415)
        if expect == "zip" and not zipfile.is_zipfile(tmp):
            raise UploadRefused(f"{what}: not a readable zip archive", 415)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return total
