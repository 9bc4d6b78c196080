"""mkkellogg GaussianSplats3D `.ksplat` (format 0.1) → GaussianCloud, and back.

A 4096-byte main header, one 1024-byte header per section, then each section's partial-bucket
lengths, bucket centres and splats. Compression level 0 stores float32 centre, linear scale and
quaternion (w x y z), 8-bit RGB + opacity and float32 SH; level 1 stores the centre as a 16-bit
offset from its bucket's centre (a bucket: up to `bucketSize` splats of one spatial block) and
float16 scale, quaternion and SH; level 2 is level 1 with SH in 8 bits between the header's
min/max. SH degree 0–2 (the viewer stores no degree 3), channel by channel within each degree.
Every count, offset and bucket is checked against the file size before anything is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import SH_C0, GaussianCloud, sh_coeff_count

from .splat_common import MAX_SPLATS, check_count, finite_or_raise

MAIN_HEADER_BYTES = 4096
SECTION_HEADER_BYTES = 1024
BUCKET_BYTES = 12  # a bucket centre: 3 float32
KSPLAT_VERSION = (0, 1)
KSPLAT_MAX_SH_DEGREE = 2
DEFAULT_SH_RANGE = (-1.5, 1.5)  # level 2 SH range when the header leaves it zero
SCALE_RANGE = {0: 1, 1: 32767, 2: 32767}  # default 16-bit centre half range per level
_SH_COMPONENTS = {0: 0, 1: 9, 2: 24}
_SH_DTYPE = {0: "<f4", 1: "<f2", 2: "u1"}


def _splat_dtype(level: int, degree: int) -> np.dtype:
    """The packed per-splat record of a compression level and SH degree."""
    flt = "<f4" if level == 0 else "<f2"
    fields = [("center", "<f4" if level == 0 else "<u2", 3), ("scale", flt, 3), ("rot", flt, 4), ("rgba", "u1", 4)]
    if degree:
        fields.append(("sh", _SH_DTYPE[level], _SH_COMPONENTS[degree]))
    return np.dtype(fields)


def _sh_order(degree: int) -> np.ndarray:
    """For each stored SH component, its (coefficient − 1) * 3 + channel in our (K-1, 3) layout:
    degree 1 is stored R1 R2 R3 G1 G2 G3 B1 B2 B3, degree 2 then R4..R8 G4..G8 B4..B8."""
    out = []
    for first, count in ((0, 3), (3, 5))[:degree]:
        out += [(first + j) * 3 + c for c in range(3) for j in range(count)]
    return np.array(out, np.int64)


# ---------------------------------------------------------------- reading

def read_ksplat(path, max_splats: int = MAX_SPLATS) -> GaussianCloud:
    """Read a `.ksplat` (compression level 0, 1 or 2; SH degree 0–2; any number of sections)."""
    path = Path(path)
    size = os.path.getsize(path)
    if size < MAIN_HEADER_BYTES:
        raise SceneError(f"{path}: {size} B; a .ksplat needs a {MAIN_HEADER_BYTES}-byte header")
    with open(path, "rb") as f:
        head = f.read(MAIN_HEADER_BYTES)
        major, minor = head[0], head[1]
        if major != KSPLAT_VERSION[0] or minor < KSPLAT_VERSION[1]:
            raise SceneError(f"{path}: .ksplat version {major}.{minor}; accepted 0.1 and later 0.x")
        n_sections = int.from_bytes(head[4:8], "little")
        level = int.from_bytes(head[20:22], "little")
        sh_min, sh_max = np.frombuffer(head[36:44], "<f4").astype(np.float64)
        if level not in SCALE_RANGE:
            raise SceneError(f"{path}: .ksplat compression level {level}; accepted 0, 1 or 2")
        data_at = MAIN_HEADER_BYTES + n_sections * SECTION_HEADER_BYTES
        if data_at > size:
            raise SceneError(f"{path}: header declares {n_sections} sections; their headers alone "
                             f"need {data_at} B, the file has {size} B")
        sections = [_section_header(path, f.read(SECTION_HEADER_BYTES), i, level) for i in range(n_sections)]
    check_count(path, sum(s["count"] for s in sections), max_splats)
    sh_range = (sh_min or DEFAULT_SH_RANGE[0], sh_max or DEFAULT_SH_RANGE[1])
    degree = max([s["degree"] for s in sections if s["count"]], default=0)
    parts = []
    for i, sec in enumerate(sections):
        sec["at"] = data_at
        data_at += sec["storage"]
        if data_at > size:
            raise SceneError(f"{path}: .ksplat section {i} ends at byte {data_at}; the file has {size} B "
                             "(truncated)")
        if sec["count"]:
            parts.append(_read_section(path, sec, i, level, degree, sh_range))
    if not parts:
        return GaussianCloud(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)), np.zeros(0),
                             np.zeros((0, sh_coeff_count(degree), 3)), degree)
    cat = [np.concatenate([p[j] for p in parts]) for j in range(5)]
    return GaussianCloud(*cat, degree)


def _section_header(path: Path, raw: bytes, i: int, level: int) -> dict:
    """One section header → dict of its counts and byte sizes, each checked for consistency."""
    u32 = np.frombuffer(raw[:40], "<u4").astype(np.int64)
    sec = {"count": int(u32[0]), "max": int(u32[1]), "bucket_size": int(u32[2]), "buckets": int(u32[3]),
           "block_m": float(np.frombuffer(raw[16:20], "<f4")[0]),
           "bucket_bytes": int.from_bytes(raw[20:22], "little"),
           "range": int(u32[6]) or SCALE_RANGE[level], "full": int(u32[8]), "partial": int(u32[9]),
           "degree": int.from_bytes(raw[40:42], "little")}
    if sec["degree"] > KSPLAT_MAX_SH_DEGREE:
        raise SceneError(f"{path}: .ksplat section {i} has SH degree {sec['degree']}; accepted 0..2")
    if sec["count"] > sec["max"]:
        raise SceneError(f"{path}: .ksplat section {i} holds {sec['count']} splats but has room for {sec['max']}")
    if level and (sec["bucket_bytes"] != BUCKET_BYTES or sec["full"] + sec["partial"] != sec["buckets"]
                  or not np.isfinite(sec["block_m"]) or sec["block_m"] <= 0):
        raise SceneError(f"{path}: .ksplat section {i}: {sec['buckets']} buckets of {sec['bucket_bytes']} B "
                         f"({sec['full']} full, {sec['partial']} partial, block {sec['block_m']} m); expected "
                         f"{BUCKET_BYTES}-byte buckets, full + partial = buckets and a block size > 0")
    bucket_storage = sec["bucket_bytes"] * sec["buckets"] + 4 * sec["partial"]
    sec["dtype"] = _splat_dtype(level, sec["degree"])
    sec["storage"] = bucket_storage + sec["dtype"].itemsize * sec["max"]
    sec["bucket_storage"] = bucket_storage
    return sec


def _bucket_of_each(path: Path, f_bytes: np.memmap, sec: dict, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket centre per splat (count, 3), float64) from the full/partial bucket layout."""
    partial = np.frombuffer(f_bytes[:4 * sec["partial"]].tobytes(), "<u4").astype(np.int64)
    centres = np.frombuffer(f_bytes[4 * sec["partial"]:sec["bucket_storage"]].tobytes(), "<f4")
    centres = centres.reshape(-1, 3).astype(np.float64)
    finite_or_raise(path, f"section {i} bucket centres", centres)
    sizes = np.concatenate([np.full(sec["full"], sec["bucket_size"], np.int64), partial])
    ends = np.cumsum(sizes)
    if not len(ends) or ends[-1] < sec["count"]:
        raise SceneError(f"{path}: .ksplat section {i} buckets hold {int(ends[-1]) if len(ends) else 0} "
                         f"splats; the section declares {sec['count']}")
    bucket = np.searchsorted(ends, np.arange(sec["count"]), side="right")  # never expands the sizes
    return centres[bucket], bucket


def _read_section(path: Path, sec: dict, i: int, level: int, degree: int, sh_range) -> tuple:
    """(means, scales, rotations, opacities, sh) of one section's `count` splats."""
    n = sec["count"]
    raw = np.memmap(path, np.uint8, mode="r", offset=sec["at"], shape=(sec["storage"],))
    rows = np.frombuffer(raw[sec["bucket_storage"]:].tobytes(), sec["dtype"], n)
    if level == 0:
        means = rows["center"].astype(np.float64)
    else:
        centre, _ = _bucket_of_each(path, raw, sec, i)
        step_m = sec["block_m"] / 2.0 / sec["range"]
        means = (rows["center"].astype(np.float64) - sec["range"]) * step_m + centre
    scales = rows["scale"].astype(np.float64)
    rot = rows["rot"].astype(np.float64)
    for name, arr in (("centre", means), ("scale", scales), ("rotation", rot)):
        finite_or_raise(path, f"section {i} {name}", arr)
    if n and scales.min() < 0:
        raise SceneError(f"{path}: .ksplat section {i}: negative scale at splat {int(np.argmin(scales.min(1)))}")
    norm = np.linalg.norm(rot, axis=1)
    if n and norm.min() < 1e-8:
        raise SceneError(f"{path}: .ksplat section {i}: zero rotation quaternion at splat {int(np.argmin(norm))}")
    rgba = rows["rgba"].astype(np.float64) / 255.0
    sh = np.zeros((n, sh_coeff_count(degree), 3))
    sh[:, 0] = (rgba[:, :3] - 0.5) / SH_C0
    if sec["degree"]:
        stored = rows["sh"].astype(np.float64)
        if level == 2:
            stored = stored / 255.0 * (sh_range[1] - sh_range[0]) + sh_range[0]
        finite_or_raise(path, f"section {i} SH", stored)
        k = sh_coeff_count(sec["degree"])
        rest = np.zeros((n, (k - 1) * 3))
        rest[:, _sh_order(sec["degree"])] = stored
        sh[:, 1:k] = rest.reshape(n, k - 1, 3)
    return means, scales, rot, rgba[:, 3], sh


# ---------------------------------------------------------------- writing

def bucket_order(means: np.ndarray, block_m: float, bucket_size: int):
    """Spatial buckets for levels 1–2: splats grouped by `block_m` grid cell, each cell cut into
    buckets of at most `bucket_size`; full buckets first. → (order, centres (B, 3), full count,
    partial bucket lengths). Every offset from a bucket centre is within ±block_m / 2."""
    if len(means) == 0:
        return np.zeros(0, np.int64), np.zeros((0, 3)), 0, np.zeros(0, np.int64)
    cell = np.floor((means - means.min(0)) / block_m).astype(np.int64)
    keys, inverse = np.unique(cell, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    by_cell = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(keys))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    full, partial = [], []
    for k, (a, c) in enumerate(zip(starts.tolist(), counts.tolist())):
        for s in range(a, a + c, bucket_size):
            chunk = (k, s, min(bucket_size, a + c - s))
            (full if chunk[2] == bucket_size else partial).append(chunk)
    buckets = full + partial
    order = np.concatenate([by_cell[s:s + m] for _, s, m in buckets])
    centres = (keys[[k for k, _, _ in buckets]] + 0.5) * block_m + means.min(0)
    return order, centres, len(full), np.array([m for _, _, m in partial], np.int64)


def write_ksplat(path, cloud: GaussianCloud, compression_level: int = 1, block_m: float = 5.0,
                 bucket_size: int = 256) -> None:
    """Write one section of `cloud` (SH above degree 2 dropped). Levels 1–2 reorder the splats into
    spatial buckets (see `bucket_order`); level 0 keeps their order."""
    if compression_level not in SCALE_RANGE:
        raise SceneError(f"write_ksplat compression_level={compression_level}; accepted 0, 1 or 2")
    degree = min(cloud.sh_degree, KSPLAT_MAX_SH_DEGREE)
    level, n, sr = compression_level, cloud.count, SCALE_RANGE[compression_level]
    rows = np.zeros(n, _splat_dtype(level, degree))
    rest = cloud.sh[:, 1:sh_coeff_count(degree)].reshape(n, 3 * sh_coeff_count(degree) - 3).astype(np.float64)
    sh_lo, sh_hi = (float(rest.min()), float(rest.max())) if rest.size else DEFAULT_SH_RANGE
    sh_hi = sh_hi if sh_hi > sh_lo else sh_lo + 1.0
    order, centres, n_full, partial = (np.arange(n), np.zeros((0, 3)), 0, np.zeros(0, np.int64))
    if level:
        order, centres, n_full, partial = bucket_order(cloud.means.astype(np.float64), block_m, bucket_size)
        bucket = np.repeat(np.arange(len(centres)), np.r_[np.full(n_full, bucket_size), partial])
        offset = cloud.means[order].astype(np.float64) - centres[bucket]
        rows["center"] = np.clip(np.round(offset * (sr / (block_m / 2))) + sr, 0, 2 * sr + 1)
    else:
        rows["center"] = cloud.means
    rows["scale"] = cloud.scales[order]
    rows["rot"] = cloud.rotations[order]
    rgb = (cloud.sh[order, 0].astype(np.float64) * SH_C0 + 0.5) * 255.0
    rows["rgba"][:, :3] = np.clip(np.round(rgb), 0, 255)
    rows["rgba"][:, 3] = np.clip(np.round(cloud.opacities[order] * 255.0), 0, 255)
    if degree:
        stored = rest[order][:, _sh_order(degree)]
        if level == 2:
            stored = np.clip(np.round((stored - sh_lo) / (sh_hi - sh_lo) * 255.0), 0, 255)
        rows["sh"] = stored
    head = np.zeros(MAIN_HEADER_BYTES, np.uint8)
    head[:2] = KSPLAT_VERSION
    head[4:20] = np.frombuffer(np.array([1, 1, n, n], "<u4").tobytes(), np.uint8)
    head[20:22] = np.frombuffer(np.array([level], "<u2").tobytes(), np.uint8)
    head[24:44] = np.frombuffer(np.array([0, 0, 0, sh_lo if level == 2 else 0, sh_hi if level == 2 else 0],
                                         "<f4").tobytes(), np.uint8)
    buckets_blob = partial.astype("<u4").tobytes() + centres.astype("<f4").tobytes()
    sec = np.zeros(SECTION_HEADER_BYTES, np.uint8)
    sec_u32 = [n, n, bucket_size if level else 0, len(centres), 0, 0, sr if level else 0,
               len(buckets_blob) + rows.nbytes, n_full, len(partial)]
    sec[:40] = np.frombuffer(np.array(sec_u32, "<u4").tobytes(), np.uint8)
    sec[16:20] = np.frombuffer(np.array([block_m if level else 0.0], "<f4").tobytes(), np.uint8)
    sec[20:22] = np.frombuffer(np.array([BUCKET_BYTES if level else 0], "<u2").tobytes(), np.uint8)
    sec[40:42] = np.frombuffer(np.array([degree], "<u2").tobytes(), np.uint8)
    with open(path, "wb") as f:
        f.write(head.tobytes() + sec.tobytes() + buckets_blob + rows.tobytes())


__all__ = ["read_ksplat", "write_ksplat", "bucket_order"]
