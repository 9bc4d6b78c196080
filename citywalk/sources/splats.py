"""Gaussian splat files → GaussianCloud, and back: 3DGS `.ply` and antimatter15 `.splat` here, and
dispatch by extension over every format (`.spz` in `splat_spz`, glTF in `splat_formats`, SOG in
`splat_sog`, `.ksplat` in `splat_ksplat`).

Readers check the header against the real file size *before* allocating and refuse counts above
`max_splats`. Losses: `.ply` keeps float32 values (scales/opacities go through log/logit, ~1 ulp);
`.splat` keeps no SH beyond DC and stores colour, opacity and the quaternion in 8 bits; the other
formats say theirs in their own modules. Axes are stored as given.

Also here: ground/up estimation and scale helpers that turn a capture into metric, Z-up world data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import SH_C0, GaussianCloud, matrix_to_quaternion, sh_coeff_count

from .splat_common import MAX_DECOMPRESSED_BYTES, MAX_SPLATS
from .splat_common import check_count as _check_count
from .splat_common import finite_or_raise as _finite_or_raise
from .splat_common import sigmoid as _sigmoid
from .splat_spz import SPZ_COLOR_SCALE, SPZ_MAGIC, read_spz, write_spz  # noqa: F401  (re-exported)

MAX_PLY_HEADER_BYTES = 64 << 10
_PLY_REQUIRED = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                 "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
_PLY_TYPES = {"float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8",
              "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1", "short": "<i2",
              "int16": "<i2", "ushort": "<u2", "uint16": "<u2", "int": "<i4", "int32": "<i4",
              "uint": "<u4", "uint32": "<u4"}
_SPLAT_DTYPE = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


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


PLY_CHUNK = 1 << 20  # rows read at a time (a 3DGS SH-3 row is 248 B: 260 MB a chunk)


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
    k = sh_coeff_count(degree)
    means = np.empty((n, 3), np.float32)
    sh = np.empty((n, k, 3), np.float32)
    scales = np.empty((n, 3), np.float32)
    opac = np.empty(n, np.float32)
    rot = np.empty((n, 4), np.float32)
    rest_names = [f"f_rest_{i}" for i in range(3 * (k - 1))]
    # read PLY_CHUNK rows at a time: no mapping of the whole file and no full-size temporaries
    with open(path, "rb") as f:
        f.seek(header_len)
        for a in range(0, n, PLY_CHUNK):
            rows = np.fromfile(f, dtype=dtype, count=min(PLY_CHUNK, n - a))
            z = a + len(rows)

            def col(*keys, rows=rows) -> np.ndarray:
                return _ply_columns(path, rows, keys)

            means[a:z] = col("x", "y", "z")
            sh[a:z, 0] = col("f_dc_0", "f_dc_1", "f_dc_2")
            if degree:
                sh[a:z, 1:] = col(*rest_names).reshape(z - a, 3, k - 1).transpose(0, 2, 1)  # channel by channel
            scale = np.exp(col("scale_0", "scale_1", "scale_2").astype(np.float64))
            if not np.all(np.isfinite(scale)):
                raise SceneError(f"{path}: scale_* too large (exp overflows); expected log scales")
            scales[a:z] = scale
            opac[a:z] = _sigmoid(col("opacity")[:, 0].astype(np.float64))
            rot[a:z] = col("rot_0", "rot_1", "rot_2", "rot_3")
            norm = np.linalg.norm(rot[a:z], axis=1)
            if norm.min() == 0:
                raise SceneError(f"{path}: zero rotation quaternion at splat {a + int(np.argmin(norm))}")
    return GaussianCloud(means, scales, rot, opac, sh, degree)


def _ply_columns(path, rows: np.ndarray, keys) -> np.ndarray:
    """The named float properties of PLY rows as (M, len(keys)) float32, all finite."""
    out = np.empty((len(rows), len(keys)), np.float32)
    for i, key in enumerate(keys):
        out[:, i] = rows[key]
    _finite_or_raise(path, "/".join(keys[:1]) + ("…" if len(keys) > 1 else ""), out)
    return out


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


# ---------------------------------------------------------------- dispatch

from .splat_formats import read_gltf_splats, write_gltf_splats  # noqa: E402  (formats that need no 3DGS PLY code)
from .splat_ksplat import read_ksplat, write_ksplat  # noqa: E402
from .splat_sog import read_sog, write_sog  # noqa: E402

_READERS = {".ply": read_ply, ".splat": read_splat, ".spz": read_spz,
            ".glb": read_gltf_splats, ".gltf": read_gltf_splats,
            ".sog": read_sog, ".json": read_sog,  # .json: an unbundled SOG's meta.json
            ".ksplat": read_ksplat}
_WRITERS = {".ply": write_ply, ".splat": write_splat, ".spz": write_spz,
            ".glb": write_gltf_splats, ".gltf": write_gltf_splats,
            ".sog": write_sog, ".json": write_sog, ".ksplat": write_ksplat}


def load_splat_scene(path, transform=None, crop=None, max_splats: int = MAX_SPLATS,
                     report=None) -> GaussianCloud:
    """Read .ply/.splat/.spz/.glb/.gltf/.sog/.ksplat (or a SOG meta.json) by extension, then apply an optional
    4×4 similarity `transform` and an optional `crop=(box_min, box_max)` (in the transformed frame).
    What the file holds but is not read (a glTF's further primitives) is counted in `report`."""
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
    """Write `cloud` in the format named by the extension (.ply/.splat/.spz/.glb/.gltf/.sog/.ksplat,
    .json for an unbundled SOG: meta.json with its images beside it; a name ending .spz.glb or
    .spz.gltf writes glTF with the splats SPZ-compressed)."""
    path = Path(path)
    if path.name.lower().endswith((".spz.glb", ".spz.gltf")):  # glTF with the SPZ compression extension
        write_gltf_splats(path, cloud, compression="spz")
        return
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


__all__ = ["read_ply", "write_ply", "read_splat", "write_splat", "read_spz", "write_spz", "read_sog", "write_sog",
           "read_ksplat", "write_ksplat",
           "load_splat_scene", "save_splat_scene", "estimate_ground", "scale_from_known_distance",
           "scale_from_camera_height", "metric_z_up_transform", "make_metric_z_up",
           "rotation_between", "matrix_to_quaternion", "MAX_SPLATS", "MAX_DECOMPRESSED_BYTES"]
