"""Niantic `.spz` Gaussian splats → GaussianCloud, and back (files and in-memory blobs).

Versions 2–3 are one gzip stream, version 4 a plain 32-byte header, a table of stream sizes and one
zstd frame per attribute. Positions are 24-bit fixed point (2^-fractional_bits m, 12 → 0.24 mm),
log scales in steps of 1/16, colour and opacity 8 bits, quaternions 8 (v2) or 10 (v3, v4) bits,
SH degree 1 in 5 bits and degrees 2–3 in 4 bits. Axes are stored as given (no RUB/RDF conversion).
The header is checked (count against `max_splats`, payload against `max_decompressed_bytes`)
before anything is inflated beyond it.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import GaussianCloud, sh_coeff_count

from .splat_common import MAX_DECOMPRESSED_BYTES, MAX_SPLATS, check_count

SPZ_MAGIC = 0x5053474E
SPZ_COLOR_SCALE = 0.15
_SQRT1_2 = np.float32(0.7071067811865476)


def _spz_layout(n: int, version: int, degree: int) -> list[tuple[str, int]]:
    rot_b = 4 if version >= 3 else 3
    dim = sh_coeff_count(degree) - 1
    return [("positions", 9 * n), ("alphas", n), ("colors", 3 * n), ("scales", 3 * n),
            ("rotations", rot_b * n), ("sh", 3 * dim * n)]


SPZ_GZIP_VERSIONS = (2, 3)
SPZ_ZSTD_VERSION = 4
SPZ_V4_HEADER_BYTES = 32
_SPZ_ACCEPTED = "accepted 2 or 3 (gzip) and 4 (zstd)"


def read_spz(path, max_splats: int = MAX_SPLATS,
             max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> GaussianCloud:
    """Read a Niantic `.spz`: versions 2–3 (one gzip stream) or 4 (plain 32-byte header, a table
    of stream sizes, then one zstd frame per attribute); SH degree 0–3; no extension records."""
    path = Path(path)
    with open(path, "rb") as f:
        return _read_spz_file(path, f, os.fstat(f.fileno()).st_size, max_splats, max_decompressed_bytes)


def read_spz_bytes(data: bytes, name: str, max_splats: int = MAX_SPLATS,
                   max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> GaussianCloud:
    """Read an SPZ blob held in memory (a glTF bufferView); `name` is what errors call it."""
    return _read_spz_file(name, io.BytesIO(data), len(data), max_splats, max_decompressed_bytes)


def _read_spz_file(path, f: BinaryIO, size: int, max_splats: int,
                   max_decompressed_bytes: int) -> GaussianCloud:
    """Dispatch on the first four bytes: the plain 'NGSP' magic is version 4, else gzip."""
    lead = f.read(8)
    f.seek(0)
    if len(lead) >= 4 and int.from_bytes(lead[:4], "little") == SPZ_MAGIC:
        return _read_spz_v4(path, f, size, max_splats, max_decompressed_bytes)
    return _read_spz_gzip(path, f, max_splats, max_decompressed_bytes)


def _check_spz_header(path, version: int, degree: int, flags: int, frac_bits: int, n: int,
                      versions: tuple[int, ...], max_splats: int) -> None:
    """Refuse what the header says that this reader cannot decode, naming the value found."""
    if version not in versions:
        raise SceneError(f"{path}: .spz version {version} in a "
                         f"{'zstd (plain header)' if versions == (SPZ_ZSTD_VERSION,) else 'gzip'} file; "
                         f"{_SPZ_ACCEPTED}")
    if degree > 3:
        raise SceneError(f"{path}: .spz SH degree {degree}; accepted 0..3")
    if flags & 0x2:
        raise SceneError(f"{path}: .spz version {version} has extension records (flag 0x2); not supported")
    if frac_bits > 23:
        raise SceneError(f"{path}: .spz fractional_bits={frac_bits}; accepted 0..23")
    check_count(path, n, max_splats)


def _read_spz_gzip(path, f: BinaryIO, max_splats: int, max_decompressed_bytes: int) -> GaussianCloud:
    """Versions 2-3: inflate the header, check it, then inflate exactly what it promises."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def inflate(want: int) -> bytes:
        out = bytearray()
        while len(out) < want:
            chunk = inflater.unconsumed_tail or f.read(1 << 20)
            if not chunk:
                break
            try:
                out += inflater.decompress(chunk, min(want - len(out), 64 << 20))
            except zlib.error as exc:
                raise SceneError(f"{path}: not a .spz file: neither a gzip stream ({exc}; versions 2-3) "
                                 "nor a plain 'NGSP' header (version 4)") from None
            if inflater.eof:
                break
        return bytes(out)

    head = inflate(16)
    if len(head) < 16:
        raise SceneError(f"{path}: truncated .spz: {len(head)} of 16 header bytes")
    magic, version, n = np.frombuffer(head[:12], "<u4").tolist()
    degree, frac_bits, flags, _ = head[12:16]
    if magic != SPZ_MAGIC:
        raise SceneError(f"{path}: bad .spz magic 0x{magic:08x}; expected 0x{SPZ_MAGIC:08x} (NGSP)")
    _check_spz_header(path, version, degree, flags, frac_bits, n, SPZ_GZIP_VERSIONS, max_splats)
    layout = _spz_layout(n, version, degree)
    total = sum(b for _, b in layout)
    if 16 + total > max_decompressed_bytes:
        raise SceneError(f"{path}: .spz payload would inflate to {16 + total} B, above the "
                         f"limit of {max_decompressed_bytes} B (raise max_decompressed_bytes)")
    body = inflate(total)
    if len(body) < total:
        raise SceneError(f"{path}: truncated .spz: {n} splats need {total} B after the header, "
                         f"the stream holds {len(body)} B")
    parts, at = {}, 0
    for name, nb in layout:
        parts[name] = np.frombuffer(body, np.uint8, nb, at)
        at += nb
    return _unpack_spz(n, version, degree, frac_bits, parts)


def _zstandard():
    try:
        import zstandard
    except ImportError as exc:
        from citywalk.errors import MissingExtra

        raise MissingExtra("zstandard", "splats", "Reading or writing .spz version 4") from exc
    return zstandard


def _read_spz_v4(path, f: BinaryIO, size: int, max_splats: int, max_decompressed_bytes: int) -> GaussianCloud:
    """Version 4: the header is not compressed; each non-empty attribute is its own zstd frame,
    in the v2/v3 order, sized by a table of (compressed, uncompressed) u64 pairs."""
    zstd = _zstandard()
    head = f.read(SPZ_V4_HEADER_BYTES)
    if len(head) < SPZ_V4_HEADER_BYTES:
        raise SceneError(f"{path}: truncated .spz: {len(head)} of {SPZ_V4_HEADER_BYTES} header bytes")
    _, version, n = np.frombuffer(head[:12], "<u4").tolist()
    degree, frac_bits, flags, n_streams = head[12:16]
    toc_at = int.from_bytes(head[16:20], "little")
    _check_spz_header(path, version, degree, flags, frac_bits, n, (SPZ_ZSTD_VERSION,), max_splats)
    layout = [(name, nb) for name, nb in _spz_layout(n, version, degree) if nb > 0]
    if n_streams != len(layout) or toc_at < SPZ_V4_HEADER_BYTES or toc_at + 16 * n_streams > size:
        raise SceneError(f"{path}: .spz version 4 header lists {n_streams} streams at byte {toc_at}; "
                         f"{n} splats of SH degree {degree} need {len(layout)} streams after byte "
                         f"{SPZ_V4_HEADER_BYTES}, within the file's {size} B")
    total = sum(nb for _, nb in layout)
    if total > max_decompressed_bytes:
        raise SceneError(f"{path}: .spz payload would decompress to {total} B, above the "
                         f"limit of {max_decompressed_bytes} B (raise max_decompressed_bytes)")
    f.seek(toc_at)
    toc = np.frombuffer(f.read(16 * n_streams), "<u8").reshape(n_streams, 2)
    parts = {}
    for (name, nb), (packed, unpacked) in zip(layout, toc.tolist()):
        if unpacked != nb or packed > size:
            raise SceneError(f"{path}: .spz version 4 stream '{name}' is listed as {unpacked} B "
                             f"({packed} B packed); {n} splats need {nb} B")
        blob = f.read(packed)
        try:
            raw = zstd.ZstdDecompressor().decompress(blob, max_output_size=nb)
        except zstd.ZstdError as exc:
            raise SceneError(f"{path}: .spz version 4 stream '{name}' is not a valid zstd frame "
                             f"({exc})") from None
        if len(raw) != nb:
            raise SceneError(f"{path}: .spz version 4 stream '{name}' holds {len(raw)} B; expected {nb}")
        parts[name] = np.frombuffer(raw, np.uint8)
    for name, _ in _spz_layout(n, version, degree):  # empty streams (SH of degree 0, or no splats) are not stored
        parts.setdefault(name, np.zeros(0, np.uint8))
    return _unpack_spz(n, version, degree, frac_bits, parts)


def _unpack_spz(n, version, degree, frac_bits, p) -> GaussianCloud:
    b = p["positions"].reshape(n, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    means = fixed.astype(np.float64) / (1 << frac_bits)
    opac = p["alphas"].astype(np.float32) / 255.0
    dc = (p["colors"].reshape(n, 3).astype(np.float32) / 255.0 - 0.5) / SPZ_COLOR_SCALE
    scales = np.exp(p["scales"].reshape(n, 3).astype(np.float64) / 16.0 - 10.0)
    if version >= 3:
        xyzw = _unpack_smallest_three(p["rotations"].reshape(n, 4))
    else:
        xyz = p["rotations"].reshape(n, 3).astype(np.float32) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - (xyz * xyz).sum(1)))
        xyzw = np.concatenate([xyz, w[:, None]], axis=1)
    rot = xyzw[:, [3, 0, 1, 2]]
    k = sh_coeff_count(degree)
    sh = np.empty((n, k, 3), np.float32)
    sh[:, 0] = dc
    if k > 1:
        sh[:, 1:] = (p["sh"].reshape(n, k - 1, 3).astype(np.float32) - 128.0) / 128.0
    return GaussianCloud(means, scales, rot, opac, sh, degree)


def _unpack_smallest_three(r: np.ndarray) -> np.ndarray:
    comp = (r[:, 0].astype(np.uint32) | (r[:, 1].astype(np.uint32) << 8)
            | (r[:, 2].astype(np.uint32) << 16) | (r[:, 3].astype(np.uint32) << 24))
    largest = (comp >> 30).astype(np.int64)
    q = np.zeros((len(r), 4), np.float32)
    rows = np.arange(len(r))
    slot = np.zeros(len(r), np.int64)  # how many 10-bit fields consumed (from the low end)
    for i in (3, 2, 1, 0):
        use = largest != i
        mag = ((comp >> (10 * slot).astype(np.uint32)) & 0x1FF).astype(np.float32)
        neg = ((comp >> (10 * slot + 9).astype(np.uint32)) & 1).astype(bool)
        val = _SQRT1_2 * mag / 511.0
        q[rows[use], i] = np.where(neg, -val, val)[use]
        slot += use
    q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - (q * q).sum(1)))
    return q


def _pack_smallest_three(xyzw: np.ndarray) -> np.ndarray:
    q = xyzw / np.linalg.norm(xyzw, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    rows = np.arange(len(q))
    negate = q[rows, largest] < 0
    comp = largest.astype(np.uint32)
    for i in range(4):
        use = largest != i
        negbit = ((q[:, i] < 0) ^ negate).astype(np.uint32)
        mag = np.floor(511.0 * np.abs(q[:, i]) / _SQRT1_2 + 0.5).astype(np.uint32)
        mag = np.minimum(mag, 511)
        comp = np.where(use, (comp << 10) | (negbit << 9) | mag, comp)
    out = np.empty((len(q), 4), np.uint8)
    for j in range(4):
        out[:, j] = (comp >> (8 * j)) & 0xFF
    return out


def write_spz(path, cloud: GaussianCloud, version: int = 3) -> None:
    """Write a Niantic `.spz`: version 2 or 3 (gzip) or 4 (zstd streams, what the reference library
    writes by default; needs `zstandard`). Fractional bits: 12 unless positions need more range."""
    Path(path).write_bytes(spz_bytes(cloud, version, name=str(path)))


def spz_bytes(cloud: GaussianCloud, version: int = 3, name: str = "spz") -> bytes:
    """The bytes of a `.spz` file for `cloud` (what `write_spz` writes); `name` is for errors."""
    path = name
    if version not in (*SPZ_GZIP_VERSIONS, SPZ_ZSTD_VERSION):
        raise SceneError(f"write_spz version={version}; {_SPZ_ACCEPTED}")
    n, degree = cloud.count, cloud.sh_degree
    max_abs = float(np.abs(cloud.means).max()) if n else 0.0
    frac_bits = 12
    while frac_bits > 0 and max_abs * (1 << frac_bits) >= (1 << 23) - 1:
        frac_bits -= 1
    if max_abs * (1 << frac_bits) >= (1 << 23) - 1:
        raise SceneError(f"{path}: position magnitude {max_abs:.3g} m exceeds the 24-bit "
                         "fixed-point range of .spz; translate the scene nearer the origin")
    fixed = np.round(cloud.means.astype(np.float64) * (1 << frac_bits)).astype(np.int64)
    fixed &= 0xFFFFFF
    pos = np.stack([fixed & 0xFF, (fixed >> 8) & 0xFF, (fixed >> 16) & 0xFF], axis=-1).astype(np.uint8)
    alphas = np.clip(np.round(cloud.opacities.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    colors = np.clip(np.round(cloud.sh[:, 0].astype(np.float64) * SPZ_COLOR_SCALE * 255 + 127.5),
                     0, 255).astype(np.uint8)
    log_s = np.log(np.maximum(cloud.scales.astype(np.float64), 1e-30))
    scales = np.clip(np.round((log_s + 10.0) * 16.0), 0, 255).astype(np.uint8)
    xyzw = cloud.rotations.astype(np.float64)[:, [1, 2, 3, 0]]
    if version >= 3:
        rots = _pack_smallest_three(xyzw)
    else:
        xyzw = xyzw * np.where(xyzw[:, 3:] < 0, -1.0, 1.0)
        rots = np.clip(np.round(xyzw[:, :3] * 127.5 + 127.5), 0, 255).astype(np.uint8)
    sh_bytes = np.zeros((n, 0, 3), np.uint8)
    if degree:
        q = np.round(cloud.sh[:, 1:].astype(np.float64) * 128.0) + 128.0
        bucket = np.full(q.shape[1], 16.0)
        bucket[:3] = 8.0  # degree 1: 5 bits, degrees 2-3: 4 bits
        q = np.floor((q + bucket[None, :, None] / 2) / bucket[None, :, None]) * bucket[None, :, None]
        sh_bytes = np.clip(q, 0, 255).astype(np.uint8)
    streams = [pos.tobytes(), alphas.tobytes(), colors.tobytes(), scales.tobytes(), rots.tobytes(),
               sh_bytes.tobytes()]
    if version == SPZ_ZSTD_VERSION:
        return _spz_v4_bytes(n, degree, frac_bits, streams)
    header = np.array([SPZ_MAGIC, version, n], "<u4").tobytes() + bytes([degree, frac_bits, 0, 0])
    import gzip
    return gzip.compress(header + b"".join(streams), compresslevel=6, mtime=0)


def _spz_v4_bytes(n: int, degree: int, frac_bits: int, streams: list[bytes]) -> bytes:
    """Plain 32-byte header, the (compressed, uncompressed) table, then one zstd frame per
    non-empty attribute (an SH degree 0 file has five streams)."""
    zstd = _zstandard()
    streams = [s for s in streams if s]
    packed = [zstd.ZstdCompressor(level=12, write_content_size=True).compress(s) for s in streams]
    header = (np.array([SPZ_MAGIC, SPZ_ZSTD_VERSION, n], "<u4").tobytes()
              + bytes([degree, frac_bits, 0, len(streams)])
              + SPZ_V4_HEADER_BYTES.to_bytes(4, "little") + bytes(12))
    toc = np.array([[len(p), len(s)] for p, s in zip(packed, streams)], "<u8").tobytes()
    return header + toc + b"".join(packed)
