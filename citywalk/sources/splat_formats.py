"""More Gaussian splat formats: glTF 2.0 with `KHR_gaussian_splatting` (.glb / .gltf), plain or
with the splats as one SPZ blob (`KHR_gaussian_splatting_compression_spz_2`).

A point primitive (mode 0) carries POSITION (VEC3 float), `KHR_gaussian_splatting:ROTATION`
(VEC4, x y z w), `:SCALE` (VEC3, linear), `:OPACITY` (SCALAR, 0..1) and the SH coefficients
`:SH_DEGREE_l_COEF_m` (VEC3 each, the same numbers as a 3DGS PLY's f_dc / f_rest). The writer
stores float32 (lossless for a GaussianCloud) and a linear-RGB COLOR_0 fallback for viewers that
ignore the extension; the reader also takes normalized byte/short rotations, scales and
opacities. Every count, offset and length is checked against the buffers before reading.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_math import MAX_SH_DEGREE, rgb_from_sh_dc

EXT = "KHR_gaussian_splatting"
SPZ_EXT = "KHR_gaussian_splatting_compression_spz_2"  # nested in the primitive's EXT object
_SPZ_EXT_NAMES = (SPZ_EXT, "KHR_gaussian_splatting_compression_spz")  # the draft's earlier name too
_GLB_MAGIC = 0x46546C67  # "glTF"
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942
_COMPONENTS = {5120: ("i1", 127.0), 5121: ("u1", 255.0), 5122: ("<i2", 32767.0),
               5123: ("<u2", 65535.0), 5125: ("<u4", None), 5126: ("<f4", None)}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
MAX_GLTF_JSON_BYTES = 64 << 20


def _sh_semantics(degree: int) -> list[str]:
    return [f"{EXT}:SH_DEGREE_{l}_COEF_{m}" for l in range(degree + 1) for m in range(2 * l + 1)]


# ---------------------------------------------------------------- writing

def write_gltf_splats(path, cloud: GaussianCloud, compression: str | None = None) -> None:
    """Write `cloud` as a binary glTF (.glb) or a .gltf with its buffer as a data URI; with
    compression="spz" the splats are one SPZ (version 3) blob under `KHR_gaussian_splatting_compression_spz_2`
    and the accessors carry no data."""
    if compression not in (None, "spz"):
        raise SceneError(f"write_gltf_splats compression={compression!r}; accepted None or 'spz'")
    path = Path(path)
    n = cloud.count
    srgb = np.clip(rgb_from_sh_dc(cloud.sh[:, 0]), 0.0, 1.0)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    columns = [("POSITION", cloud.means, "VEC3"),
               (f"{EXT}:ROTATION", cloud.rotations[:, [1, 2, 3, 0]], "VEC4"),
               (f"{EXT}:SCALE", cloud.scales, "VEC3"),
               (f"{EXT}:OPACITY", cloud.opacities[:, None], "SCALAR"),
               ("COLOR_0", np.c_[linear, cloud.opacities], "VEC4")]
    columns += [(name, cloud.sh[:, j], "VEC3") for j, name in enumerate(_sh_semantics(cloud.sh_degree))]
    blob, views, accessors, attributes = bytearray(), [], [], {}
    splat_ext = {"kernel": "ellipse", "colorSpace": "srgb_rec709_display"}
    if compression == "spz":
        from .splat_spz import spz_bytes

        blob += spz_bytes(flip_luf_rub(cloud), 3, name=str(path))
        views.append({"buffer": 0, "byteOffset": 0, "byteLength": len(blob)})
        blob += b"\0" * (-len(blob) % 4)
        splat_ext["extensions"] = {SPZ_EXT: {"bufferView": 0}}
    for name, values, kind in columns:
        acc = {"componentType": 5126, "count": n, "type": kind}
        if compression is None:
            data = np.ascontiguousarray(values, np.float32).tobytes()
            acc["bufferView"] = len(views)
            views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
            blob += data + b"\0" * (-len(data) % 4)
        if name == "POSITION" and n:
            acc["min"] = cloud.means.min(axis=0).tolist()
            acc["max"] = cloud.means.max(axis=0).tolist()
        attributes[name] = len(accessors)
        accessors.append(acc)
    doc = {"asset": {"version": "2.0", "generator": "citywalk"}, "extensionsUsed": [EXT],
           "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
           "meshes": [{"primitives": [{"attributes": attributes, "mode": 0, "extensions": {EXT: splat_ext}}]}],
           "accessors": accessors, "bufferViews": views, "buffers": [{"byteLength": len(blob)}]}
    if compression == "spz":
        doc["extensionsUsed"].append(SPZ_EXT)
        doc["extensionsRequired"] = [SPZ_EXT]
    _write_document(path, doc, bytes(blob))


def _write_document(path: Path, doc: dict, blob: bytes) -> None:
    """A .gltf (buffer as a data URI) or a .glb (JSON chunk + BIN chunk) at `path`."""
    if path.suffix.lower() == ".gltf":
        doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
        path.write_text(json.dumps(doc))
        return
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    total = 12 + 8 + len(js) + 8 + len(blob)
    with open(path, "wb") as f:
        f.write(struct.pack("<III", _GLB_MAGIC, 2, total))
        f.write(struct.pack("<II", len(js), _CHUNK_JSON) + js)
        f.write(struct.pack("<II", len(blob), _CHUNK_BIN) + blob)


# Sign of each SH coefficient (index 1..15) under x → -x, z → -z (a half turn about y)
_HALF_TURN_Y_SH_SIGNS = np.array([1, 1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1], np.float32)


def flip_luf_rub(cloud: GaussianCloud) -> GaussianCloud:
    """glTF's left-up-front axes ↔ SPZ's canonical right-up-back: a half turn about y (x and z
    negated; quaternion x, z negated; SH coefficients signed by parity). Its own inverse."""
    k = cloud.sh.shape[1]
    return GaussianCloud(cloud.means * np.float32([-1, 1, -1]), cloud.scales,
                         cloud.rotations * np.float32([1, -1, 1, -1]), cloud.opacities,
                         cloud.sh * _HALF_TURN_Y_SH_SIGNS[:k, None], cloud.sh_degree)


# ---------------------------------------------------------------- reading

def read_gltf_splats(path, max_splats: int = 50_000_000, report=None) -> GaussianCloud:
    """Read the first `KHR_gaussian_splatting` primitive of a .glb / .gltf; further splat
    primitives and mesh primitives are counted as skipped in `report` (a LoadReport) if given."""
    path = Path(path)
    doc, buffers = _load_document(path)
    prim = _splat_primitive(path, doc)
    if report is not None:
        _report_unread(doc, prim, report)
    attrs = prim.get("attributes", {})
    if not isinstance(attrs, dict):
        raise SceneError(f"{path}: primitive 'attributes' is not an object")
    spz = _spz_extension(path, prim)
    if spz is not None:
        return _read_spz_view(path, doc, buffers, spz, attrs, max_splats)
    need = ["POSITION", f"{EXT}:ROTATION", f"{EXT}:SCALE", f"{EXT}:OPACITY", f"{EXT}:SH_DEGREE_0_COEF_0"]
    missing = [a for a in need if a not in attrs]
    if missing:
        raise SceneError(f"{path}: {EXT} primitive lacks attributes {missing}; required {need}")

    def column(name, kind):
        return _read_accessor(path, doc, buffers, attrs[name], name, kind, max_splats)

    means = column("POSITION", "VEC3")
    n = len(means)
    degree = 0
    while degree < MAX_SH_DEGREE and f"{EXT}:SH_DEGREE_{degree + 1}_COEF_0" in attrs:
        degree += 1
    names = _sh_semantics(degree)
    absent = [s for s in names if s not in attrs]
    if absent:
        raise SceneError(f"{path}: SH degree {degree} needs every coefficient; missing {absent}")
    columns = {"rotation": column(f"{EXT}:ROTATION", "VEC4"), "scale": column(f"{EXT}:SCALE", "VEC3"),
               "opacity": column(f"{EXT}:OPACITY", "SCALAR")[:, 0]}
    sh = np.stack([column(s, "VEC3") for s in names], axis=1) if n else np.zeros((0, len(names), 3))
    for name, arr in list(columns.items()) + [("sh", sh)]:
        if len(arr) != n:
            raise SceneError(f"{path}: attribute {name} has {len(arr)} values; POSITION has {n}")
    for name, arr in (("POSITION", means), ("scale", columns["scale"]), ("sh", sh)):
        if arr.size and not np.all(np.isfinite(arr)):
            raise SceneError(f"{path}: attribute {name} holds NaN/inf values")
    if n and (columns["scale"].min() < 0 or not 0 <= columns["opacity"].min() <= columns["opacity"].max() <= 1):
        raise SceneError(f"{path}: {EXT} scales must be ≥ 0 and opacities in 0..1")
    q = columns["rotation"]
    if n and (not np.all(np.isfinite(q)) or np.linalg.norm(q, axis=1).min() < 1e-8):
        raise SceneError(f"{path}: attribute {EXT}:ROTATION holds a zero or non-finite quaternion")
    return GaussianCloud(means, columns["scale"], q[:, [3, 0, 1, 2]], columns["opacity"], sh, degree)


def _spz_extension(path: Path, prim: dict) -> dict | None:
    """The primitive's SPZ compression object (nested in its KHR_gaussian_splatting object), if any."""
    inner = prim["extensions"][EXT]
    nested = inner.get("extensions") if isinstance(inner, dict) else None
    for name in _SPZ_EXT_NAMES:
        if isinstance(nested, dict) and name in nested:
            if not isinstance(nested[name], dict):
                raise SceneError(f"{path}: {name} is not an object")
            return nested[name]
    return None


def _read_spz_view(path: Path, doc: dict, buffers: list[bytes], spz: dict, attrs: dict,
                   max_splats: int) -> GaussianCloud:
    """Decode the SPZ blob a compressed primitive's bufferView holds (SPZ axes → glTF axes); its
    point count must match the POSITION accessor's."""
    try:
        index = spz["bufferView"]
        view = doc["bufferViews"][index]
        data = buffers[view["buffer"]]
        start, length = int(view.get("byteOffset", 0)), int(view["byteLength"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise SceneError(f"{path}: {SPZ_EXT} names bufferView {spz.get('bufferView')!r}, which is missing "
                         "or malformed") from None
    if start < 0 or length < 0 or start + length > len(data):
        raise SceneError(f"{path}: {SPZ_EXT} bufferView {index} spans bytes {start}..{start + length}; "
                         f"its buffer holds {len(data)}")
    from .splat_spz import read_spz_bytes

    cloud = flip_luf_rub(read_spz_bytes(data[start:start + length], f"{path} (bufferView {index}, SPZ)",
                                        max_splats=max_splats))
    try:
        declared = int(doc["accessors"][attrs["POSITION"]]["count"])
    except (KeyError, IndexError, TypeError, ValueError):
        declared = cloud.count  # POSITION is optional beside the SPZ blob
    if declared != cloud.count:
        raise SceneError(f"{path}: POSITION accessor declares {declared} splats; the SPZ blob holds {cloud.count}")
    return cloud


def _load_document(path: Path) -> tuple[dict, list[bytes]]:
    """(JSON document, buffers' bytes) of a .glb or .gltf (data URIs or files beside it)."""
    raw = path.read_bytes()
    glb_bin = None
    if path.suffix.lower() == ".glb" or raw[:4] == b"glTF":
        if len(raw) < 20:
            raise SceneError(f"{path}: {len(raw)} bytes; a GLB needs a 12-byte header and a JSON chunk")
        magic, version, total = struct.unpack_from("<III", raw, 0)
        if magic != _GLB_MAGIC or version != 2:
            raise SceneError(f"{path}: not a glTF 2.0 binary (magic {magic:#x}, version {version})")
        if total != len(raw):
            raise SceneError(f"{path}: GLB header says {total} bytes; the file has {len(raw)}")
        chunks, at = {}, 12
        while at + 8 <= len(raw):
            length, kind = struct.unpack_from("<II", raw, at)
            if at + 8 + length > len(raw):
                raise SceneError(f"{path}: GLB chunk at byte {at} runs past the end of the file")
            chunks.setdefault(kind, raw[at + 8:at + 8 + length])
            at += 8 + length + (-length % 4 if kind == _CHUNK_BIN else 0)
        if _CHUNK_JSON not in chunks:
            raise SceneError(f"{path}: GLB has no JSON chunk")
        text, glb_bin = chunks[_CHUNK_JSON], chunks.get(_CHUNK_BIN)
    else:
        text = raw
    if len(text) > MAX_GLTF_JSON_BYTES:
        raise SceneError(f"{path}: glTF JSON is {len(text)} bytes; accepted ≤ {MAX_GLTF_JSON_BYTES}")
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(f"{path}: glTF JSON does not parse: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("buffers", []), list):
        raise SceneError(f"{path}: glTF JSON is not an object with a 'buffers' list")
    buffers = []
    for i, b in enumerate(doc.get("buffers", [])):
        uri = b.get("uri") if isinstance(b, dict) else None
        if uri is None:
            if glb_bin is None:
                raise SceneError(f"{path}: buffer {i} has no uri and there is no GLB binary chunk")
            buffers.append(glb_bin)
        elif uri.startswith("data:"):
            try:
                buffers.append(base64.b64decode(uri.split(",", 1)[1], validate=True))
            except (IndexError, ValueError):
                raise SceneError(f"{path}: buffer {i} has a malformed data URI") from None
        else:
            target = (path.parent / uri).resolve()
            if path.parent.resolve() not in target.parents or not target.is_file():
                raise SceneError(f"{path}: buffer {i} uri {uri!r} is not a file beside the glTF")
            buffers.append(target.read_bytes())
    return doc, buffers


def _report_unread(doc: dict, first: dict, report) -> None:
    """Count the primitives besides the one read: other splat primitives, triangles, lines."""
    for mesh in doc.get("meshes") or []:
        for prim in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            if prim is first or not isinstance(prim, dict):
                continue
            if EXT in (prim.get("extensions") or {}):
                report.skip("splat primitives", "only the first KHR_gaussian_splatting primitive is read")
            else:
                report.skip("mesh primitives", "a splat file's meshes are not drawn")


def _splat_primitive(path: Path, doc: dict) -> dict:
    meshes = doc.get("meshes")
    for mesh in meshes if isinstance(meshes, list) else []:
        for prim in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            if isinstance(prim, dict) and EXT in (prim.get("extensions") or {}):
                if prim.get("mode", 4) != 0:
                    raise SceneError(f"{path}: {EXT} primitive has mode {prim.get('mode', 4)}; "
                                     "the extension requires 0 (POINTS)")
                return prim
    raise SceneError(f"{path}: no mesh primitive carries the {EXT} extension (not a splat glTF)")


def _read_accessor(path, doc, buffers, index, name, kind, max_splats) -> np.ndarray:
    """Accessor `index` as float32 (count, width), normalized integers scaled to 0..1 / -1..1."""
    try:
        acc = doc["accessors"][index]
        count, comp, typ = int(acc["count"]), int(acc["componentType"]), acc["type"]
    except (KeyError, IndexError, TypeError, ValueError):
        raise SceneError(f"{path}: attribute {name} names accessor {index!r}, which is missing "
                         "or lacks count/componentType/type") from None
    if typ != kind or comp not in _COMPONENTS:
        raise SceneError(f"{path}: attribute {name} is {typ} of component type {comp}; expected "
                         f"{kind} of one of {sorted(_COMPONENTS)}")
    if count < 0 or count > max_splats:
        raise SceneError(f"{path}: attribute {name} declares {count} values; accepted 0..{max_splats}")
    dtype, norm = _COMPONENTS[comp]
    if norm is not None and not acc.get("normalized", False):
        raise SceneError(f"{path}: attribute {name} uses integer components without 'normalized'")
    width = _WIDTH[kind]
    item = np.dtype(dtype).itemsize * width
    if "bufferView" not in acc:
        return np.zeros((count, width), np.float32)
    try:
        view = doc["bufferViews"][acc["bufferView"]]
        data = buffers[view["buffer"]]
        start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
        stride = int(view.get("byteStride", item)) or item
        end = int(view.get("byteOffset", 0)) + int(view["byteLength"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise SceneError(f"{path}: attribute {name}: its bufferView/buffer is missing or malformed") from None
    need = start + (stride * (count - 1) + item if count else 0)
    if start < 0 or stride < item or need > min(end, len(data)):
        raise SceneError(f"{path}: attribute {name} needs bytes {start}..{need} but its view/buffer "
                         f"ends at {min(end, len(data))}")
    arr = np.ndarray((count, width), dtype, buffer=data, offset=start, strides=(stride, np.dtype(dtype).itemsize))
    out = arr.astype(np.float32)
    if norm is not None:
        out = np.maximum(out / np.float32(norm), -1.0)
    return out
