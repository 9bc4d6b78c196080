"""Intake: check a submitted video or image folder, read what the file says about itself (capture
time, device, GPS), and store a copy in the catalog. A file that cannot be decoded is refused here
and never reaches the catalog."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

from citywalk.capture import CaptureError
from citywalk.capture.catalog import CaptureMeta, Catalog, CatalogEntry, check_name

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_VIDEO_BYTES = 8 << 30
MAX_IMAGES = 2000
MAX_IMAGE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 64_000_000
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def probe_capture_video(path: Path) -> dict:
    """Decode the first frame of a video and read its tags → {'width', 'height' (as displayed),
    'rotation_deg', 'fps', 'frames_hint', 'captured_at', 'device', 'lat', 'lon'}; CaptureError if it
    has no decodable video."""
    from citywalk.media import VideoFile

    v = VideoFile(path, CaptureError, "capture",
                  f"{', '.join(VIDEO_SUFFIXES)} files with a decodable video stream").probe()
    info = {"width": v.width, "height": v.height, "rotation_deg": v.rotation_deg, "fps": v.fps,
            "frames_hint": v.frame_count}
    tags = v.tags
    info["captured_at"] = tags.get("creation_time") or tags.get("com.apple.quicktime.creationdate")
    make = tags.get("com.apple.quicktime.make") or tags.get("make") or ""
    model = tags.get("com.apple.quicktime.model") or tags.get("model") or ""
    info["device"] = " ".join(x for x in (make, model) if x)
    loc = tags.get("location") or tags.get("com.apple.quicktime.location.iso6709") or ""
    m = _ISO6709.match(loc)
    info["lat"], info["lon"] = (float(m.group(1)), float(m.group(2))) if m else (None, None)
    return info


def check_png_chunks(path: Path) -> None:
    """Walk a PNG's chunk list and refuse one whose chunk claims more bytes than the file holds:
    Pillow reads a trailing IDAT of the claimed length at once, so a flipped length byte made it
    allocate 4 GiB for a 29 KB file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return
        at = 8
        while at + 8 <= size:
            fh.seek(at)
            head = fh.read(8)
            length, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if length > size - at - 12:
                raise CaptureError(f"capture image {path}: PNG chunk {kind!r} at byte {at} claims {length} "
                                   f"bytes; the file has {size - at - 12} after it (truncated or corrupt)")
            at += 12 + length
            if kind == b"IEND":
                return


def probe_image(path: Path) -> dict:
    """Open one image fully (catches truncation) → {'width', 'height' (upright), 'captured_at', 'device'}."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise CaptureError(f"capture image {path}: larger than {MAX_IMAGE_BYTES >> 20} MiB")
    check_png_chunks(path)
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise CaptureError(f"capture image {path}: {im.width}x{im.height} is over "
                                   f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
            exif = im.getexif()
            im.load()
            size = im.size[::-1] if exif.get(0x0112) in (5, 6, 7, 8) else im.size  # EXIF orientation
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CaptureError(f"capture image {path}: not a readable image ({exc})") from None
    when = exif.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal (Exif IFD) or DateTime
    when = f"{when[:10].replace(':', '-')}T{when[11:]}" if isinstance(when, str) and len(when) >= 19 else None
    device = " ".join(str(exif.get(t, "")).strip() for t in (0x010F, 0x0110)).strip()
    return {"width": size[0], "height": size[1], "captured_at": when, "device": device}


def list_images(folder: Path) -> list[Path]:
    """Image files of a capture folder in name order; CaptureError when there are none or too many."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CaptureError(f"capture folder {folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(files) > MAX_IMAGES:
        raise CaptureError(f"capture folder {folder}: {len(files)} images; at most {MAX_IMAGES} accepted")
    return files


def submit(catalog: Catalog | str | os.PathLike[str], source: str | os.PathLike[str],
           meta: CaptureMeta | None = None, name: str | None = None) -> CatalogEntry:
    """Store a capture (a video file or a folder of images) with its metadata → the catalog entry.

    Refuses (CaptureError, nothing stored) a missing, oversized, unreadable or consent-less capture.
    Metadata found in the file fills fields the contributor left empty."""
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    src = Path(source)
    meta = (meta or CaptureMeta()).check()
    if not meta.consent:
        raise CaptureError(f"capture {src}: consent is not confirmed; the contributor must confirm that "
                           "the people and property shown may be published (consent=True)")
    name = check_name(name if name is not None else _name_from(src))
    if src.is_dir():
        files = list_images(src)
        infos = [probe_image(p) for p in files]
        found, kind = infos[0], "images"
        stored = "source"

        def write(folder: Path) -> None:
            (folder / stored).mkdir()
            for p in files:
                shutil.copy2(p, folder / stored / p.name)
    elif src.is_file():
        if src.suffix.lower() not in VIDEO_SUFFIXES:
            raise CaptureError(f"capture {src}: unsupported file type {src.suffix!r}; accepted "
                               f"{', '.join(VIDEO_SUFFIXES)} videos or a folder of images")
        size = src.stat().st_size
        if size > MAX_VIDEO_BYTES:
            raise CaptureError(f"capture {src}: {size} bytes is over the {MAX_VIDEO_BYTES >> 30} GiB limit")
        found, kind = probe_capture_video(src), "video"
        stored = "source" + src.suffix.lower()

        def write(folder: Path) -> None:
            shutil.copy2(src, folder / stored)
    else:
        raise CaptureError(f"capture {src}: no such file or folder")
    filled = replace(meta, captured_at=meta.captured_at or found.get("captured_at"),
                     device=meta.device or found.get("device") or "",
                     lat=meta.lat if meta.lat is not None else found.get("lat"),
                     lon=meta.lon if meta.lon is not None else found.get("lon"))
    return cat.add(name, kind, stored, filled.check(), write)


def _name_from(path: Path) -> str:
    """A catalog name from a file name: lowercase, other characters → '-'."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_") or "capture"
    return stem[:64]
