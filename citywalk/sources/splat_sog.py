"""PlayCanvas SOG (version 2) Gaussian splats → GaussianCloud, and back: a `.sog` zip bundle or a
folder holding `meta.json` and its images.

Per-splat properties are pixels of lossless 8-bit images (row-major from the top left): positions
as 16-bit low/high bytes of sign(x)·ln(1 + |x|) between per-axis mins/maxs, quaternions as the
three smallest components (8 bits, scaled by √2) plus the largest one's index in alpha (252 + i,
w x y z order), log scales and DC colour as indices into 256-entry codebooks, opacity in sh0's
alpha, and SH degrees 1–3 as a 16-bit label into a palette whose coefficients index a third
codebook. Version 3 (newer PlayCanvas tools) and version 1 (no `version` field) are refused by
name. Every count, image size, codebook index and label is checked before it is used.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.safeio import open_zip_safely, read_capped, read_zip_entry, safe_join
from citywalk.scene.gaussians import GaussianCloud, sh_coeff_count

from .splat_common import MAX_SPLATS, check_count

SOG_VERSION = 2
MAX_SOG_META_BYTES = 1 << 20  # a real meta.json is a few KiB (codebooks of 256 numbers)
MAX_SOG_IMAGE_BYTES = 512 << 20
SOG_PALETTE_MAX = 1 << 16  # shN labels are 16-bit
SOG_PALETTE_ROW = 64  # palette entries per row of shN_centroids
_SH_COEFFS = {1: 3, 2: 8, 3: 15}  # bands → coefficients per channel beyond DC
_IMAGE_FORMATS = ("WEBP", "PNG")


# ---------------------------------------------------------------- writing

def write_sog(path, cloud: GaussianCloud, morton_order: bool = True) -> None:
    """Write `cloud` as SOG version 2: a zip bundle for `.sog`, else `meta.json` (any name) with
    its images beside it. `morton_order` stores splats along a Morton curve (smaller images)."""
    path = Path(path)
    if morton_order:
        cloud = _take(cloud, morton_permutation(cloud.means))
    files = sog_files(cloud)
    if path.suffix.lower() == ".sog":
        with zipfile.ZipFile(path, "w") as bundle:
            for name, data in files.items():
                kind = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                bundle.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=kind)
        return
    meta = files.pop("meta.json")
    for name, data in files.items():
        (path.parent / name).write_bytes(data)
    path.write_bytes(meta)


def sog_files(cloud: GaussianCloud) -> dict[str, bytes]:
    """{file name: bytes} of the SOG version 2 encoding of `cloud`, in its order, meta.json first."""
    n = cloud.count
    width = max(1, math.ceil(math.sqrt(n)))
    height = max(1, math.ceil(n / width))
    images, meta = {}, {"version": SOG_VERSION, "asset": {"generator": "citywalk"}, "count": n}
    lo, hi, meta["means"] = _encode_means(cloud.means)
    images["means_l.webp"], images["means_u.webp"] = lo, hi
    images["quats.webp"] = _encode_quats(cloud.rotations)
    scale_book, scale_idx = codebook_1d(np.log(np.maximum(cloud.scales.astype(np.float64), 1e-30)))
    images["scales.webp"] = _rgba(scale_idx.reshape(n, 3), None)
    meta["scales"] = {"codebook": scale_book.tolist(), "files": ["scales.webp"]}
    dc_book, dc_idx = codebook_1d(cloud.sh[:, 0].astype(np.float64))
    alpha = np.clip(np.round(cloud.opacities.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    images["sh0.webp"] = _rgba(dc_idx.reshape(n, 3), alpha)
    meta["sh0"] = {"codebook": dc_book.tolist(), "files": ["sh0.webp"]}
    meta["quats"] = {"files": ["quats.webp"]}
    if cloud.sh_degree:
        centroids, labels, meta["shN"] = _encode_sh_rest(cloud)
        images["shN_centroids.webp"] = centroids
        images["shN_labels.webp"] = labels
    files = {"meta.json": json.dumps(meta, separators=(",", ":")).encode()}
    for name, pixels in images.items():  # per-splat rows are laid out width x height
        files[name] = _webp(pixels if pixels.ndim == 3 else _pad(pixels, width, height), name)
    return files


def _pad(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n, 4) per-splat pixels → an (height, width, 4) image, trailing pixels opaque black."""
    img = np.zeros((width * height, 4), np.uint8)
    img[:, 3] = 255
    img[:len(rows)] = rows
    return img.reshape(height, width, 4)


def _rgba(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    out = np.empty((len(rgb), 4), np.uint8)
    out[:, :3] = rgb
    out[:, 3] = 255 if alpha is None else alpha
    return out


def _webp(img: np.ndarray, name: str) -> bytes:
    """Lossless WebP bytes of an (h, w, 4) uint8 image; `exact` keeps RGB under zero alpha."""
    from PIL import Image, features

    if not features.check("webp"):
        raise SceneError(f"writing SOG image {name}: this Pillow has no WebP support")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img), "RGBA").save(buf, "WEBP", lossless=True, quality=80,
                                                            method=4, exact=True)
    return buf.getvalue()


def _encode_means(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """16-bit fixed point of the log-transformed positions between per-axis mins and maxs."""
    v = np.sign(means.astype(np.float64)) * np.log1p(np.abs(means.astype(np.float64)))
    mins = v.min(axis=0) if len(v) else np.zeros(3)
    maxs = v.max(axis=0) if len(v) else np.zeros(3)
    span = np.where(maxs > mins, maxs - mins, 1.0)
    q = np.clip(np.round((v - mins) / span * 65535.0), 0, 65535).astype(np.uint16)
    lo = _rgba((q & 0xFF).astype(np.uint8), None)
    hi = _rgba((q >> 8).astype(np.uint8), None)
    files = ["means_l.webp", "means_u.webp"]
    return lo, hi, {"mins": mins.tolist(), "maxs": maxs.tolist(), "files": files}


def _encode_quats(rotations: np.ndarray) -> np.ndarray:
    """Smallest three (w x y z order) scaled by √2 to -1..1, in 8 bits; alpha 252 + largest."""
    q = rotations.astype(np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    rows = np.arange(len(q))
    largest = np.argmax(np.abs(q), axis=1)
    q *= np.where(q[rows, largest] < 0, -1.0, 1.0)[:, None]
    keep = np.array([[j for j in range(4) if j != i] for i in range(4)])[largest]
    small = q[rows[:, None], keep] * math.sqrt(2.0)
    rgb = np.clip(np.round((small * 0.5 + 0.5) * 255.0), 0, 255).astype(np.uint8)
    return _rgba(rgb, (252 + largest).astype(np.uint8))


def _encode_sh_rest(cloud: GaussianCloud) -> tuple[np.ndarray, np.ndarray, dict]:
    """Palette (exact up to 65536 splats, median cut beyond) of the SH rest coefficients; each
    palette value is an index into a 256-entry codebook; labels are 16-bit (R low, G high)."""
    n, coeffs = cloud.count, sh_coeff_count(cloud.sh_degree) - 1
    rest = cloud.sh[:, 1:].astype(np.float64)  # (n, coeffs, 3)
    if n <= SOG_PALETTE_MAX:
        palette, labels = rest, np.arange(n)
    else:
        labels = median_cut_labels(rest.reshape(n, -1), SOG_PALETTE_MAX)
        sums = np.zeros((SOG_PALETTE_MAX, coeffs * 3))
        np.add.at(sums, labels, rest.reshape(n, -1))
        counts = np.maximum(np.bincount(labels, minlength=SOG_PALETTE_MAX), 1)
        palette = (sums / counts[:, None]).reshape(-1, coeffs, 3)
    book, idx = codebook_1d(palette)
    k = len(palette)
    rows = max(1, math.ceil(k / SOG_PALETTE_ROW))
    centroids = np.zeros((rows * SOG_PALETTE_ROW, coeffs, 4), np.uint8)
    centroids[..., 3] = 255
    centroids[:k, :, :3] = idx.reshape(k, coeffs, 3)
    image = centroids.reshape(rows, SOG_PALETTE_ROW * coeffs, 4)
    lab = np.stack([labels & 0xFF, labels >> 8, np.zeros_like(labels)], axis=1).astype(np.uint8)
    meta = {"count": k, "bands": cloud.sh_degree, "codebook": book.tolist(),
            "files": ["shN_centroids.webp", "shN_labels.webp"]}
    return image, _rgba(lab, None), meta


def codebook_1d(values: np.ndarray, size: int = 256, iterations: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(sorted float32 codebook of `size` entries, uint8 index per value): 1-D k-means started at
    the quantiles; with at most `size` distinct values the codebook holds them exactly."""
    flat = np.asarray(values, np.float64).ravel()
    if flat.size == 0:
        return np.zeros(size, np.float32), np.zeros(values.shape, np.uint8)
    distinct = np.unique(flat)
    if len(distinct) <= size:
        book = np.concatenate([distinct, np.full(size - len(distinct), distinct[-1])])
    else:
        book = np.quantile(distinct, (np.arange(size) + 0.5) / size)
        sample = flat if flat.size <= 1 << 21 else np.random.default_rng(0).choice(flat, 1 << 21)
        for _ in range(iterations):
            label = np.searchsorted((book[1:] + book[:-1]) / 2, sample)
            sums = np.bincount(label, sample, minlength=size)
            counts = np.bincount(label, minlength=size)
            book = np.where(counts > 0, sums / np.maximum(counts, 1), book)
            book.sort()
    book = book.astype(np.float32)
    mid = (book[1:].astype(np.float64) + book[:-1]) / 2
    return book, np.searchsorted(mid, flat).astype(np.uint8).reshape(np.shape(values))


def median_cut_labels(vectors: np.ndarray, count: int) -> np.ndarray:
    """A cluster label (0..count-1) per row, splitting the widest axis of each cluster at its
    median until there are `count` clusters (count a power of two); cheap where k-means is not."""
    order = np.arange(len(vectors))
    segments = [(0, len(vectors))]
    while len(segments) < count:
        split = []
        for a, b in segments:
            if b - a < 2:
                split += [(a, b), (b, b)]
                continue
            block = vectors[order[a:b]]
            axis = int(np.argmax(block.max(0) - block.min(0)))
            mid = (b - a) // 2
            part = np.argpartition(block[:, axis], mid)
            order[a:b] = order[a:b][part]
            split += [(a, a + mid), (a + mid, b)]
        segments = split
    labels = np.empty(len(vectors), np.int64)
    for i, (a, b) in enumerate(segments):
        labels[order[a:b]] = i
    return labels


def morton_permutation(means: np.ndarray) -> np.ndarray:
    """Indices that order the splats along a Morton (Z-order) curve of their 10-bit quantised
    positions, so neighbouring pixels hold neighbouring splats and images compress well."""
    if len(means) == 0:
        return np.zeros(0, np.int64)
    lo, hi = means.min(0), means.max(0)
    q = ((means - lo) / np.where(hi > lo, hi - lo, 1.0) * 1023).astype(np.uint64)
    code = np.zeros(len(means), np.uint64)
    for bit in range(10):
        for axis in range(3):
            code |= ((q[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return np.argsort(code, kind="stable")


def _take(cloud: GaussianCloud, order: np.ndarray) -> GaussianCloud:
    return GaussianCloud(cloud.means[order], cloud.scales[order], cloud.rotations[order],
                         cloud.opacities[order], cloud.sh[order], cloud.sh_degree)


# ---------------------------------------------------------------- reading

def read_sog(path, max_splats: int = MAX_SPLATS) -> GaussianCloud:
    """Read SOG version 2: a `.sog` bundle (zip, meta.json at its root) or a `meta.json` with its
    images beside it; SH degree from `shN.bands`."""
    path = Path(path)
    if path.suffix.lower() == ".sog":
        with open_zip_safely(path, max_files=64, max_total_bytes=8 * MAX_SOG_IMAGE_BYTES) as bundle:
            meta = _parse_meta(path, read_zip_entry(bundle, "meta.json", MAX_SOG_META_BYTES))
            check_count(path, meta["count"], max_splats)
            return _decode(path, meta, lambda name: read_zip_entry(bundle, name, MAX_SOG_IMAGE_BYTES))
    meta = _parse_meta(path, read_capped(path, MAX_SOG_META_BYTES, "SOG meta.json"))
    check_count(path, meta["count"], max_splats)
    return _decode(path, meta, lambda name: read_capped(safe_join(path.parent, name),
                                                        MAX_SOG_IMAGE_BYTES, "SOG image"))


def _parse_meta(path: Path, raw: bytes) -> dict:
    """meta.json → dict with every field this reader uses present and of the right type."""
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SceneError(f"{path}: SOG meta.json does not parse: {exc}") from None
    if not isinstance(meta, dict):
        raise SceneError(f"{path}: SOG meta.json is not a JSON object")
    version = meta.get("version")
    if version != SOG_VERSION:
        found = "no 'version' (SOG version 1)" if version is None else f"version {version!r}"
        raise SceneError(f"{path}: SOG meta.json has {found}; accepted version {SOG_VERSION}")
    count = meta.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        raise SceneError(f"{path}: SOG meta.json 'count' is {count!r}; expected an integer")
    _numbers(path, meta, "means", "mins", 3)
    _numbers(path, meta, "means", "maxs", 3)
    _files(path, meta, "means", 2)
    _files(path, meta, "quats", 1)
    for key in ("scales", "sh0"):
        _numbers(path, meta, key, "codebook", None)
        _files(path, meta, key, 1)
    if "shN" in meta:
        _numbers(path, meta, "shN", "codebook", None)
        _files(path, meta, "shN", 2)
        bands, k = meta["shN"].get("bands"), meta["shN"].get("count")
        if (not isinstance(bands, int) or isinstance(bands, bool) or bands not in _SH_COEFFS
                or not isinstance(k, int) or not 0 <= k <= SOG_PALETTE_MAX):
            raise SceneError(f"{path}: SOG meta.json shN has bands={bands!r}, count={k!r}; accepted "
                             f"bands 1..3 and count 0..{SOG_PALETTE_MAX}")
    return meta


def _section(path: Path, meta: dict, key: str) -> dict:
    sec = meta.get(key)
    if not isinstance(sec, dict):
        raise SceneError(f"{path}: SOG meta.json lacks the '{key}' object")
    return sec


def _numbers(path: Path, meta: dict, key: str, field: str, length: int | None) -> None:
    """meta[key][field] must be a list of finite numbers: `length` of them, or 1..256."""
    values = _section(path, meta, key).get(field)
    ok = isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                          and abs(v) < 1e300 and math.isfinite(v) for v in values)
    want = f"{length}" if length else "1..256"
    if not ok or (len(values) != length if length else not 1 <= len(values) <= 256):
        raise SceneError(f"{path}: SOG meta.json {key}.{field} must be a list of {want} finite numbers")


def _files(path: Path, meta: dict, key: str, count: int) -> None:
    files = _section(path, meta, key).get("files")
    if not isinstance(files, list) or len(files) < count or not all(isinstance(f, str) for f in files[:count]):
        raise SceneError(f"{path}: SOG meta.json {key}.files must list {count} image file name(s)")


def _image(path: Path, fetch, name: str, need_px: int, max_px: int, width: int | None = None) -> np.ndarray:
    """Decode image `name` to (h*w, 4) uint8, refusing a size outside need_px..max_px pixels
    (checked before decoding), an unexpected width, or a format other than WebP/PNG RGB(A)."""
    from PIL import Image, UnidentifiedImageError

    data = fetch(name)
    try:
        with Image.open(io.BytesIO(data), formats=list(_IMAGE_FORMATS)) as img:
            w, h = img.size
            if w * h < need_px or w * h > max_px or (width is not None and w != width):
                want = f"width {width} and " if width is not None else ""
                raise SceneError(f"{path}: SOG image {name} is {w}x{h}; expected {want}"
                                 f"{need_px}..{max_px} pixels")
            if img.mode not in ("RGB", "RGBA"):
                raise SceneError(f"{path}: SOG image {name} has mode {img.mode}; expected RGB or RGBA")
            img.load()
            pixels = np.asarray(img.convert("RGBA"), np.uint8).reshape(-1, 4)
    except SceneError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise SceneError(f"{path}: SOG image {name} does not decode as WebP/PNG ({exc})") from None
    return pixels


def _lookup(path: Path, book: list, idx: np.ndarray, what: str) -> np.ndarray:
    """codebook[idx] as float64, refusing an index past the codebook's end."""
    book = np.asarray(book, np.float64)
    if idx.size and int(idx.max()) >= len(book):
        raise SceneError(f"{path}: SOG {what} index {int(idx.max())} is past the end of its "
                         f"{len(book)}-entry codebook")
    return book[idx]


def _decode(path: Path, meta: dict, fetch) -> GaussianCloud:
    """Decode the images named by a checked meta.json into a GaussianCloud."""
    n = meta["count"]
    max_px = 2 * n + 65536

    def img(key: str, i: int = 0) -> np.ndarray:
        return _image(path, fetch, meta[key]["files"][i], n, max_px)[:n]

    lo, hi = img("means", 0), img("means", 1)
    q = lo[:, :3].astype(np.int64) | (hi[:, :3].astype(np.int64) << 8)
    mins, maxs = np.asarray(meta["means"]["mins"], np.float64), np.asarray(meta["means"]["maxs"], np.float64)
    v = mins + np.where(maxs != mins, maxs - mins, 1.0) * (q / 65535.0)
    with np.errstate(over="ignore"):
        means = np.sign(v) * np.expm1(np.abs(v))
        scales = np.exp(_lookup(path, meta["scales"]["codebook"], img("scales")[:, :3], "scales"))
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(scales))):
        raise SceneError(f"{path}: SOG means mins/maxs or scales codebook overflow (|value| too large)")
    rot = _decode_quats(path, img("quats"))
    sh0 = img("sh0")
    dc = _lookup(path, meta["sh0"]["codebook"], sh0[:, :3], "sh0")
    degree = meta["shN"]["bands"] if "shN" in meta else 0
    sh = np.empty((n, sh_coeff_count(degree), 3), np.float32)
    sh[:, 0] = dc
    if degree:
        sh[:, 1:] = _decode_sh_rest(path, meta, fetch, n, max_px)
    return GaussianCloud(means, scales, rot, sh0[:, 3] / np.float32(255.0), sh, degree)


def _decode_quats(path: Path, px: np.ndarray) -> np.ndarray:
    """(n, 4) w-first quaternions from smallest-three pixels; alpha must be 252..255."""
    tag = px[:, 3].astype(np.int64) - 252
    if tag.size and (tag.min() < 0 or tag.max() > 3):
        bad = int(np.argmax((tag < 0) | (tag > 3)))
        raise SceneError(f"{path}: SOG quats alpha {int(px[bad, 3])} at splat {bad}; expected 252..255")
    small = (px[:, :3].astype(np.float64) / 255.0 * 2.0 - 1.0) / math.sqrt(2.0)
    keep = np.array([[j for j in range(4) if j != i] for i in range(4)])[tag]
    rows = np.arange(len(px))
    q = np.zeros((len(px), 4))
    q[rows[:, None], keep] = small
    q[rows, tag] = np.sqrt(np.maximum(0.0, 1.0 - (small * small).sum(1)))
    return q


def _decode_sh_rest(path: Path, meta: dict, fetch, n: int, max_px: int) -> np.ndarray:
    """(n, coeffs, 3) SH rest coefficients through labels → palette → codebook, every label and
    index checked against the palette count and codebook length."""
    sec = meta["shN"]
    k, coeffs = sec["count"], _SH_COEFFS[sec["bands"]]
    rows = math.ceil(k / SOG_PALETTE_ROW)
    width = SOG_PALETTE_ROW * coeffs
    cent = _image(path, fetch, sec["files"][0], rows * width, (rows + 1) * width, width)
    lab = _image(path, fetch, sec["files"][1], n, max_px)[:n]
    labels = lab[:, 0].astype(np.int64) | (lab[:, 1].astype(np.int64) << 8)
    if labels.size and labels.max() >= k:
        raise SceneError(f"{path}: SOG shN label {int(labels.max())} at splat {int(np.argmax(labels))} "
                         f"is past the palette's {k} entries")
    palette = cent.reshape(-1, coeffs, 4)[:k, :, :3]
    values = _lookup(path, sec["codebook"], palette, "shN")
    return values[labels]


__all__ = ["read_sog", "write_sog", "sog_files", "codebook_1d", "median_cut_labels", "morton_permutation",
           "SOG_VERSION"]
