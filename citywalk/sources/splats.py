"""Gaussian splat files → GaussianCloud, and back: 3DGS `.ply`, antimatter15 `.splat`, Niantic `.spz`.

Readers check the header against the real file size *before* allocating and refuse counts above
`max_splats`; `.spz` is inflated in bounded chunks (never more than the header promises, never more
than `max_decompressed_bytes`). Losses: `.ply` keeps float32 values (scales/opacities go through
log/logit, ~1 ulp); `.splat` keeps no SH beyond DC and stores colour, opacity and the quaternion in
8 bits; `.spz` (v2–v3 one gzip stream, v4 one zstd frame per attribute) stores positions as
24-bit fixed point (2^-fractional_bits m, 12 → 0.24 mm), log
scales in steps of 1/16, colour and opacity in 8 bits, quaternions in 8 (v2) or 10 (v3, v4) bits, SH
degree 1 in 5 bits and degrees 2–3 in 4 bits. Axes are stored as given (no RUB/RDF conversion).

Also here: ground/up estimation and scale helpers that turn a capture into metric, Z-up world data.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import SH_C0, GaussianCloud, matrix_to_quaternion, sh_coeff_count

MAX_SPLATS = 50_000_000  # default refusal limit for any reader
MAX_DECOMPRESSED_BYTES = 4 << 30  # .spz inflated payload limit (gzip bomb guard)
MAX_PLY_HEADER_BYTES = 64 << 10
_PLY_REQUIRED = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                 "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_PLY_TYPES = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8",
              "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1", "short": "<i2",
              "int16": "<i2", "ushort": "<u2", "uint16": "<u2", "int": "<i4", "int32": "<i4",
              "uint": "<u4", "uint32": "<u4"}
_SPLAT_DTYPE = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
SPZ_MAGIC = 0x5053474E
SPZ_COLOR_SCALE = 0.15
_SQRT1_2 = np.float32(0.7071067811865476)


# ---------------------------------------------------------------- shared checks

def _check_count(path, n: int, max_splats: int) -> None:
    if n < 0 or n > max_splats:
        raise SceneError(f"{path}: header declares {n} splats; accepted 0..{max_splats} "
                         "(raise max_splats if this file is genuine)")


def _finite_or_raise(path, name: str, arr: np.ndarray) -> None:
    if arr.size and not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr.reshape(len(arr), -1)))[0][0])
        raise SceneError(f"{path}: property '{name}' is NaN/inf at splat {row}; "
                         "expected finite values")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- 3DGS .ply

def _parse_ply_header(path) -> tuple[int, int, list[tuple[str, str]], str]:
    """Returns (header_bytes, vertex_count, [(name, numpy dtype)], format)."""
    with open(path, "rb") as f:
        head = f.read(MAX_PLY_HEADER_BYTES)
    if not head.startswith(b"ply"):
        raise SceneError(f"{path}: not a PLY file (no 'ply' magic at the start)")
    end = head.find(b"end_header")
    if end < 0:
        raise SceneError(f"{path}: PLY header has no 'end_header' within "
                         f"{MAX_PLY_HEADER_BYTES} bytes (truncated or not a splat file)")
    nl = head.find(b"\n", end)
    if nl < 0:
        raise SceneError(f"{path}: PLY header is truncated after 'end_header'")
    lines = head[:end].decode("ascii", errors="replace").splitlines()
    fmt, count, props, element, seen_vertex = "", -1, [], None, False
    for line in lines[1:]:
        tok = line.split()
        if not tok or tok[0] in ("comment", "obj_info"):
            continue
        if tok[0] == "format":
            fmt = tok[1] if len(tok) > 1 else ""
        elif tok[0] == "element":
            element = tok[1] if len(tok) > 1 else ""
            if element == "vertex":
                if seen_vertex or props:
                    raise SceneError(f"{path}: 'element vertex' must be the first element")
                seen_vertex = True
                try:
                    count = int(tok[2])
                except (IndexError, ValueError):
                    raise SceneError(f"{path}: bad vertex count line {line!r}") from None
            elif not seen_vertex:
                raise SceneError(f"{path}: element '{element}' before 'element vertex'; "
                                 "expected a 3DGS splat PLY")
        elif tok[0] == "property" and element == "vertex":
            if len(tok) != 3 or tok[1] == "list" or tok[1] not in _PLY_TYPES:
                raise SceneError(f"{path}: unsupported vertex property {line.strip()!r}; "
                                 f"accepted scalar types {sorted(set(_PLY_TYPES))}")
            props.append((tok[2], _PLY_TYPES[tok[1]]))
    if fmt != "binary_little_endian":
        raise SceneError(f"{path}: PLY format {fmt!r} not supported; "
                         "accepted: binary_little_endian (as written by 3DGS trainers)")
    if not seen_vertex:
        raise SceneError(f"{path}: PLY has no 'element vertex'")
    return nl + 1, count, props, fmt


def read_ply(path, max_splats: int = MAX_SPLATS) -> GaussianCloud:
    """Read a 3DGS training `.ply` (binary little-endian); SH degree 0–3 from the f_rest count."""
    path = Path(path)
    header_len, n, props, _ = _parse_ply_header(path)
    _check_count(path, n, max_splats)
    names = [p[0] for p in props]
    if len(set(names)) != len(names):
        raise SceneError(f"{path}: duplicate vertex property names")
    missing = [p for p in _PLY_REQUIRED if p not in names]
    if missing:
        raise SceneError(f"{path}: missing vertex properties {missing}; a 3DGS PLY needs "
                         f"{list(_PLY_REQUIRED)} and f_rest_0..f_rest_(3K-4)")
    rest = sorted(int(p[7:]) for p in names if p.startswith("f_rest_") and p[7:].isdigit())
    degree = {0: 0, 9: 1, 24: 2, 45: 3}.get(len(rest))
    if degree is None or rest != list(range(len(rest))):
        raise SceneError(f"{path}: {len(rest)} f_rest_* properties; accepted 0, 9, 24 or 45 "
                         "numbered from f_rest_0 (SH degree 0..3)")
    dtype = np.dtype(props)
    need = header_len + n * dtype.itemsize
    size = os.path.getsize(path)
    if size < need:
        raise SceneError(f"{path}: truncated: header declares {n} splats × {dtype.itemsize} B "
                         f"= {need} B with header, file has {size} B")
    rows = np.memmap(path, dtype=dtype, mode="r", offset=header_len, shape=(n,)) if n else \
        np.zeros(0, dtype)

    def col(*keys) -> np.ndarray:
        out = np.empty((n, len(keys)), np.float32)
        for i, k in enumerate(keys):
            out[:, i] = rows[k]  # noqa: F821 - rows is deleted after the last col() call
        _finite_or_raise(path, "/".join(keys[:1]) + ("…" if len(keys) > 1 else ""), out)
        return out

    means = col("x", "y", "z")
    dc = col("f_dc_0", "f_dc_1", "f_dc_2")
    k = sh_coeff_count(degree)
    sh = np.empty((n, k, 3), np.float32)
    sh[:, 0] = dc
    if degree:
        f_rest = col(*[f"f_rest_{i}" for i in range(3 * (k - 1))])
        sh[:, 1:] = f_rest.reshape(n, 3, k - 1).transpose(0, 2, 1)  # stored channel by channel
    scales = np.exp(col("scale_0", "scale_1", "scale_2").astype(np.float64))
    opac = _sigmoid(col("opacity")[:, 0].astype(np.float64))
    rot = col("rot_0", "rot_1", "rot_2", "rot_3")
    norm = np.linalg.norm(rot, axis=1)
    if n and norm.min() == 0:
        raise SceneError(f"{path}: zero rotation quaternion at splat {int(np.argmin(norm))}")
    del rows
    if not np.all(np.isfinite(scales)):
        raise SceneError(f"{path}: scale_* too large (exp overflows); expected log scales")
    return GaussianCloud(means, scales, rot, opac, sh, degree)


def write_ply(path, cloud: GaussianCloud) -> None:
    """Write the reference 3DGS `.ply` (float32, log scales, logit opacity, normals zero)."""
    n, k = cloud.count, sh_coeff_count(cloud.sh_degree)
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    data = np.zeros((n, len(names)), np.float32)
    data[:, 0:3] = cloud.means
    data[:, 6:9] = cloud.sh[:, 0]
    j = 9
    if k > 1:
        data[:, j:j + 3 * (k - 1)] = cloud.sh[:, 1:].transpose(0, 2, 1).reshape(n, -1)
        j += 3 * (k - 1)
    op = np.clip(cloud.opacities.astype(np.float64), 1e-7, 1 - 1e-7)
    data[:, j] = np.log(op / (1 - op))
    data[:, j + 1:j + 4] = np.log(np.maximum(cloud.scales.astype(np.float64), 1e-30))
    data[:, j + 4:j + 8] = cloud.rotations
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {p}" for p in names] + ["end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.astype("<f4").tobytes())


# ---------------------------------------------------------------- antimatter15 .splat

def read_splat(path, max_splats: int = MAX_SPLATS) -> GaussianCloud:
    """Read an antimatter15 `.splat` (32 B/splat, no header, SH degree 0)."""
    path = Path(path)
    size = os.path.getsize(path)
    if size % 32:
        raise SceneError(f"{path}: {size} B is not a multiple of 32 B per splat "
                         "(truncated or not a .splat file)")
    n = size // 32
    _check_count(path, n, max_splats)
    rows = np.memmap(path, dtype=_SPLAT_DTYPE, mode="r", shape=(n,)) if n else np.zeros(0, _SPLAT_DTYPE)
    means = np.array(rows["pos"], np.float32)
    scales = np.array(rows["scale"], np.float32)
    _finite_or_raise(path, "position", means)
    _finite_or_raise(path, "scale", scales)
    if n and scales.min() < 0:
        raise SceneError(f"{path}: negative scale at splat {int(np.argmin(scales.min(1)))}")
    rgba = np.asarray(rows["rgba"], np.float32) / 255.0
    rot = (np.asarray(rows["rot"], np.float32) - 128.0) / 128.0
    norm = np.linalg.norm(rot, axis=1)
    rot[norm == 0] = (1, 0, 0, 0)
    sh = ((rgba[:, :3] - 0.5) / SH_C0)[:, None, :]
    return GaussianCloud(means, scales, rot, rgba[:, 3], sh, 0)


def write_splat(path, cloud: GaussianCloud) -> None:
    """Write an antimatter15 `.splat`; keeps only the DC colour (8-bit), 8-bit opacity/quaternion."""
    rows = np.zeros(cloud.count, _SPLAT_DTYPE)
    rows["pos"] = cloud.means
    rows["scale"] = cloud.scales
    rgb = (SH_C0 * cloud.sh[:, 0].astype(np.float64) + 0.5) * 255
    rows["rgba"][:, :3] = np.clip(np.round(rgb), 0, 255)
    rows["rgba"][:, 3] = np.clip(np.round(cloud.opacities * 255.0), 0, 255)
    rows["rot"] = np.clip(np.round(cloud.rotations * 128.0 + 128.0), 0, 255)
    rows.tofile(path)


# ---------------------------------------------------------------- Niantic .spz

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
        lead = f.read(8)
    if len(lead) >= 4 and int.from_bytes(lead[:4], "little") == SPZ_MAGIC:
        return _read_spz_v4(path, max_splats, max_decompressed_bytes)
    return _read_spz_gzip(path, max_splats, max_decompressed_bytes)


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
    _check_count(path, n, max_splats)


def _read_spz_gzip(path: Path, max_splats: int, max_decompressed_bytes: int) -> GaussianCloud:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as f:
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


def _read_spz_v4(path: Path, max_splats: int, max_decompressed_bytes: int) -> GaussianCloud:
    """Version 4: the header is not compressed; each non-empty attribute is its own zstd frame,
    in the v2/v3 order, sized by a table of (compressed, uncompressed) u64 pairs."""
    zstd = _zstandard()
    size = path.stat().st_size
    with open(path, "rb") as f:
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
        _write_spz_v4(path, n, degree, frac_bits, streams)
        return
    header = np.array([SPZ_MAGIC, version, n], "<u4").tobytes() + bytes([degree, frac_bits, 0, 0])
    import gzip
    with open(path, "wb") as f:
        f.write(gzip.compress(header + b"".join(streams), compresslevel=6, mtime=0))


def _write_spz_v4(path, n: int, degree: int, frac_bits: int, streams: list[bytes]) -> None:
    """Plain 32-byte header, the (compressed, uncompressed) table, then one zstd frame per
    non-empty attribute (an SH degree 0 file has five streams)."""
    zstd = _zstandard()
    streams = [s for s in streams if s]
    packed = [zstd.ZstdCompressor(level=12, write_content_size=True).compress(s) for s in streams]
    header = (np.array([SPZ_MAGIC, SPZ_ZSTD_VERSION, n], "<u4").tobytes()
              + bytes([degree, frac_bits, 0, len(streams)])
              + SPZ_V4_HEADER_BYTES.to_bytes(4, "little") + bytes(12))
    toc = np.array([[len(p), len(s)] for p, s in zip(packed, streams)], "<u8").tobytes()
    with open(path, "wb") as f:
        f.write(header + toc + b"".join(packed))


# ---------------------------------------------------------------- dispatch

from .splat_formats import read_gltf_splats, write_gltf_splats  # noqa: E402  (formats that need no 3DGS PLY code)

_READERS = {".ply": read_ply, ".splat": read_splat, ".spz": read_spz,
            ".glb": read_gltf_splats, ".gltf": read_gltf_splats}
_WRITERS = {".ply": write_ply, ".splat": write_splat, ".spz": write_spz,
            ".glb": write_gltf_splats, ".gltf": write_gltf_splats}


def load_splat_scene(path, transform=None, crop=None, max_splats: int = MAX_SPLATS,
                     report=None) -> GaussianCloud:
    """Read .ply/.splat/.spz/.glb/.gltf by extension, then apply an optional 4×4 similarity `transform`
    and an optional `crop=(box_min, box_max)` (in the transformed frame). What the file holds but
    is not read (a glTF's further primitives) is counted in `report` (a LoadReport) when given."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise SceneError(f"{path}: unknown splat file extension {path.suffix!r}; "
                         f"accepted {sorted(_READERS)}")
    if not path.is_file():
        raise SceneError(f"{path}: no such splat file")
    if reader is read_gltf_splats:
        cloud = reader(path, max_splats=max_splats, report=report)
    else:
        cloud = reader(path, max_splats=max_splats)
    cloud.source = str(path)  # lets the renderer cache its level-of-detail tree beside the file
    if transform is not None:
        cloud = cloud.transformed(transform)
    if crop is not None:
        cloud = cloud.cropped(*crop)
    return cloud


def save_splat_scene(path, cloud: GaussianCloud) -> None:
    """Write `cloud` in the format named by the extension (.ply/.splat/.spz/.glb/.gltf)."""
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise SceneError(f"{path}: unknown splat file extension {path.suffix!r}; "
                         f"accepted {sorted(_WRITERS)}")
    writer(path, cloud)


# ---------------------------------------------------------------- placement

def rotation_between(a, b) -> np.ndarray:
    """Smallest rotation (3, 3) taking unit vector a onto unit vector b."""
    a = np.asarray(a, np.float64) / np.linalg.norm(a)
    b = np.asarray(b, np.float64) / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1 + 1e-12:  # opposite: rotate 180° about any axis ⟂ a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _ransac_plane(points: np.ndarray, threshold: float, iters: int, rng: np.random.Generator):
    best_n, best_d, best_count = None, 0.0, -1
    for _ in range(iters):
        p = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(p[1] - p[0], p[2] - p[0])
        norm = np.linalg.norm(n)
        if norm < 1e-12:
            continue
        n /= norm
        d = float(n @ p[0])
        count = int(np.count_nonzero(np.abs(points @ n - d) < threshold))
        if count > best_count:
            best_n, best_d, best_count = n, d, count
    if best_n is None:
        raise SceneError("estimate_ground: points are degenerate (collinear); cannot fit a plane")
    inl = points[np.abs(points @ best_n - best_d) < threshold]
    centre = inl.mean(0)
    n = np.linalg.svd(inl - centre, full_matrices=False)[2][-1]  # least-squares refit
    return n, float(n @ centre)


def estimate_ground(cloud: GaussianCloud, cameras_c2w=None, rng: np.random.Generator | None = None,
                    sample: int = 20000) -> tuple[np.ndarray, float, np.ndarray]:
    """Find the up direction and ground height of a capture → (up (3,), ground_height, T (4, 4)).

    With capture cameras (M, 4, 4) camera-to-world (OpenCV: y down), up is the mean of their −y
    axes; else up is the normal of a RANSAC plane through the points, oriented so most points lie
    above it. The ground height (along up) is the densest layer among the lowest points. T rotates
    up onto +Z and moves the ground to z = 0 (scale unchanged)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    if cloud.count < 3:
        raise SceneError(f"estimate_ground: need at least 3 Gaussians, got {cloud.count}")
    pts = cloud.means.astype(np.float64)
    if len(pts) > sample:
        pts = pts[rng.choice(len(pts), sample, replace=False)]
    extent = float(np.linalg.norm(np.percentile(pts, 95, 0) - np.percentile(pts, 5, 0))) or 1.0
    if cameras_c2w is not None:
        cams = np.asarray(cameras_c2w, np.float64)
        if cams.ndim != 3 or cams.shape[1:] != (4, 4) or len(cams) == 0:
            raise SceneError(f"estimate_ground: cameras_c2w shape {cams.shape}; expected (M, 4, 4)")
        up = -cams[:, :3, 1].sum(0)
        if np.linalg.norm(up) < 1e-9:
            raise SceneError("estimate_ground: camera up axes cancel out; cannot tell up")
        up /= np.linalg.norm(up)
    else:
        up, d = _ransac_plane(pts, 0.01 * extent, 200, rng)
        # orient: more of the off-plane points (buildings, objects) lie above the ground
        off = pts @ up - d
        far = np.abs(off) > 0.02 * extent
        if np.count_nonzero(off[far] < 0) > np.count_nonzero(off[far] > 0):
            up = -up
    h = pts @ up
    ground = _densest_low_layer(h, 0.01 * extent)
    rot = rotation_between(up, [0.0, 0.0, 1.0])
    t = np.eye(4)
    t[:3, :3] = rot
    t[2, 3] = -ground
    return up, ground, t


def _densest_low_layer(h: np.ndarray, bin_width: float) -> float:
    """Height of the most populated thin layer in the lower half of the heights."""
    low = h[h <= np.percentile(h, 50)]
    lo, hi = float(low.min()), float(low.max())
    bins = max(1, int(np.ceil((hi - lo) / bin_width)))
    counts, edges = np.histogram(low, bins=bins, range=(lo, hi + 1e-12))
    i = int(np.argmax(counts))
    inside = low[(low >= edges[i]) & (low <= edges[i + 1])]
    return float(np.median(inside))


def scale_from_known_distance(p1, p2, metres: float) -> float:
    """Scale factor so that the scene distance |p2 − p1| becomes `metres`."""
    d = float(np.linalg.norm(np.asarray(p2, np.float64) - np.asarray(p1, np.float64)))
    if d <= 0 or not np.isfinite(d) or metres <= 0:
        raise SceneError(f"scale_from_known_distance: points {p1}, {p2} (distance {d}) and "
                         f"metres={metres}: need distinct points and metres > 0")
    return metres / d


def scale_from_camera_height(cameras_c2w, up, ground_height: float,
                             camera_height_m: float = 1.6) -> float:
    """Scale factor so the median capture-camera height above the ground equals camera_height_m
    (1.6 m ≈ a phone held by a walking person)."""
    cams = np.asarray(cameras_c2w, np.float64)
    heights = cams[:, :3, 3] @ np.asarray(up, np.float64) - ground_height
    med = float(np.median(heights))
    if med <= 0:
        raise SceneError(f"scale_from_camera_height: cameras are {med:.3g} units below the ground; "
                         "check the up direction")
    return camera_height_m / med


def metric_z_up_transform(ground_transform, scale: float = 1.0) -> np.ndarray:
    """(4, 4) similarity: ground transform (up → +Z, ground → z=0) then uniform scale to metres."""
    s = np.diag([scale, scale, scale, 1.0])
    return s @ np.asarray(ground_transform, np.float64)


def make_metric_z_up(cloud: GaussianCloud, cameras_c2w=None, scale: float | None = None,
                     camera_height_m: float = 1.6,
                     rng: np.random.Generator | None = None) -> tuple[GaussianCloud, np.ndarray]:
    """A metric, Z-up, ground-at-0 copy of `cloud` and the (4, 4) transform used.

    Scale: `scale` if given, else from camera height when cameras are given, else 1."""
    up, ground, t = estimate_ground(cloud, cameras_c2w, rng)
    if scale is None:
        scale = (scale_from_camera_height(cameras_c2w, up, ground, camera_height_m)
                 if cameras_c2w is not None else 1.0)
    m = metric_z_up_transform(t, scale)
    return cloud.transformed(m), m


__all__ = ["read_ply", "write_ply", "read_splat", "write_splat", "read_spz", "write_spz",
           "load_splat_scene", "save_splat_scene", "estimate_ground", "scale_from_known_distance",
           "scale_from_camera_height", "metric_z_up_transform", "make_metric_z_up",
           "rotation_between", "matrix_to_quaternion", "MAX_SPLATS", "MAX_DECOMPRESSED_BYTES"]
