"""glTF 2.0 made plain before trimesh reads it, so nothing a file carries is dropped in silence.

trimesh ignores Draco geometry (an empty scene), GPU instancing, KTX2 textures, texture
transforms and emissive strength. Here a .glb or .gltf becomes one self-contained GLB: every
buffer and image in one binary chunk (external files joined safely beside the glTF), Draco
primitives decoded into plain accessors (DracoPy), EXT_mesh_gpu_instancing expanded into one
child node per instance, quantized attributes made float, KTX2/Basis images transcoded to PNG
(alktx2), KHR_texture_transform baked into the base colour texture coordinates, and
KHR_materials_emissive_strength multiplied into emissiveFactor. A required extension that cannot
be honoured raises a SceneError naming it; what is only skipped (an unknown optional extension,
a missing texture file) goes to the report.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.safeio import check_nesting, safe_join
from citywalk.scene.report import LoadReport

DRACO = "KHR_draco_mesh_compression"
BASISU = "KHR_texture_basisu"
TRANSFORM = "KHR_texture_transform"
EMISSIVE_STRENGTH = "KHR_materials_emissive_strength"
INSTANCING = "EXT_mesh_gpu_instancing"
QUANTIZATION = "KHR_mesh_quantization"
# Read here or by a caller: what each does is in README "Formats". CESIUM_RTC is read by tiles.py;
# unlit materials are drawn lit (the base colour is kept), which is a fair fallback.
HANDLED = (DRACO, BASISU, TRANSFORM, EMISSIVE_STRENGTH, INSTANCING, QUANTIZATION, "KHR_materials_unlit",
           "CESIUM_RTC")
_BAKED = (DRACO, BASISU, TRANSFORM, EMISSIVE_STRENGTH, INSTANCING, QUANTIZATION)  # gone from the output
MAX_JSON_NESTING = 64
MAX_INSTANCES = 1_000_000
MAX_KTX2_SIDE_PX = 16384  # transcoding allocates width × height × 4 bytes before we downscale
_COMPONENTS = {5120: ("i1", 127.0), 5121: ("u1", 255.0), 5122: ("<i2", 32767.0),
               5123: ("<u2", 65535.0), 5125: ("<u4", None), 5126: ("<f4", None)}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"
_GLB_MAGIC, _CHUNK_JSON, _CHUNK_BIN = b"glTF", 0x4E4F534A, 0x004E4942


class _Doc:
    """A glTF document whose buffers are being merged into one growing binary blob."""

    def __init__(self, doc: dict, where: str):
        self.doc, self.where, self.blob = doc, where, bytearray()

    def list(self, key: str) -> list:
        value = self.doc.setdefault(key, [])
        if not isinstance(value, list):
            raise SceneError(f"{self.where}: glTF '{key}' is not a list")
        return value

    def append_view(self, data: bytes) -> int:
        """Append bytes (4-aligned) as a new bufferView on buffer 0; returns its index."""
        self.blob += b"\0" * (-len(self.blob) % 8)
        views = self.list("bufferViews")
        views.append({"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)})
        self.blob += data
        return len(views) - 1

    def append_accessor(self, array: np.ndarray, kind: str) -> int:
        """Append a float32 / uint32 array as a new accessor (min/max for POSITION-like VEC3)."""
        arr = np.ascontiguousarray(array)
        comp = 5125 if arr.dtype == np.uint32 else 5126
        if comp == 5126:
            arr = arr.astype(np.float32)
        acc = {"bufferView": self.append_view(arr.tobytes()), "componentType": comp,
               "count": int(len(arr)), "type": kind}
        if kind == "VEC3" and len(arr):
            acc["min"], acc["max"] = arr.min(axis=0).tolist(), arr.max(axis=0).tolist()
        accessors = self.list("accessors")
        accessors.append(acc)
        return len(accessors) - 1

    def view_bytes(self, index) -> bytes:
        try:
            view = self.doc["bufferViews"][index]
            start, length = int(view.get("byteOffset", 0)), int(view["byteLength"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise SceneError(f"{self.where}: bufferView {index!r} is missing or malformed") from None
        if start < 0 or length < 0 or start + length > len(self.blob):
            raise SceneError(f"{self.where}: bufferView {index} (bytes {start}..{start + length}) runs past "
                             f"its buffer ({len(self.blob)} B)")
        return bytes(self.blob[start:start + length])

    def read_accessor(self, index, what: str) -> np.ndarray:
        """Accessor `index` as float64 (count, width), normalized integers scaled to 0..1 / -1..1."""
        try:
            acc = self.doc["accessors"][index]
            count, comp, width = int(acc["count"]), int(acc["componentType"]), _WIDTH[acc["type"]]
        except (KeyError, IndexError, TypeError, ValueError):
            raise SceneError(f"{self.where}: {what} names accessor {index!r}, which is missing or malformed") from None
        if comp not in _COMPONENTS or not 0 <= count <= MAX_INSTANCES * 16:
            raise SceneError(f"{self.where}: {what}: accessor {index} has component type {comp}, count {count}")
        dtype, norm = _COMPONENTS[comp]
        item = np.dtype(dtype).itemsize * width
        if "bufferView" not in acc:
            return np.zeros((count, width))
        data = self.view_bytes(acc["bufferView"])
        view = self.doc["bufferViews"][acc["bufferView"]]
        stride = int(view.get("byteStride", item) or item)
        start = int(acc.get("byteOffset", 0))
        if start < 0 or stride < item or (count and start + stride * (count - 1) + item > len(data)):
            raise SceneError(f"{self.where}: {what}: accessor {index} needs more bytes than its bufferView holds")
        arr = np.ndarray((count, width), dtype, buffer=data, offset=start, strides=(stride, np.dtype(dtype).itemsize))
        out = arr.astype(np.float64)
        if norm is not None and acc.get("normalized", False):
            out = np.maximum(out / norm, -1.0)
        return out


def _split_glb(data: bytes, where: str) -> tuple[bytes, bytes]:
    """(JSON bytes, BIN bytes or b'') of a GLB, every chunk length checked."""
    if len(data) < 20 or data[:4] != _GLB_MAGIC:
        raise SceneError(f"{where}: not a binary glTF (GLB): magic {data[:4]!r}, expected b'glTF'")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2 or length > len(data):
        raise SceneError(f"{where}: GLB header says version {version}, length {length}; expected 2 and ≤ {len(data)}")
    chunks, at = {}, 12
    while at + 8 <= length:
        size, kind = struct.unpack_from("<II", data, at)
        if at + 8 + size > length:
            raise SceneError(f"{where}: GLB chunk at byte {at} runs past the end of the file")
        chunks.setdefault(kind, data[at + 8:at + 8 + size])
        at += 8 + size + (-size % 4)
    if _CHUNK_JSON not in chunks:
        raise SceneError(f"{where}: GLB has no JSON chunk")
    return chunks[_CHUNK_JSON], chunks.get(_CHUNK_BIN, b"")


def _parse_json(text: bytes, where: str) -> dict:
    try:
        check_nesting(text, MAX_JSON_NESTING, where)
        doc = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SceneError(f"{where}: glTF JSON is malformed ({exc})") from exc
    if not isinstance(doc, dict):
        raise SceneError(f"{where}: glTF JSON is not an object")
    return doc


def _uri_bytes(uri: str, base_dir: Path | None, where: str, what: str) -> bytes | None:
    """Bytes of a data: URI or a file beside the glTF; None when the file is not there."""
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1], validate=True)
        except (IndexError, ValueError):
            raise SceneError(f"{where}: {what} has a malformed data URI") from None
    if base_dir is None:
        return None
    from urllib.parse import unquote

    target = safe_join(base_dir, unquote(uri))
    return target.read_bytes() if target.is_file() else None


def _merge_buffers(d: _Doc, glb_bin: bytes, base_dir: Path | None) -> None:
    """Put every buffer into d.blob and point every bufferView at buffer 0."""
    starts = []
    for i, buf in enumerate(d.list("buffers")):
        uri = buf.get("uri") if isinstance(buf, dict) else None
        data = glb_bin if uri is None else _uri_bytes(str(uri), base_dir, d.where, f"buffer {i}")
        if data is None:
            raise SceneError(f"{d.where}: buffer {i} file {uri!r} is not beside the glTF (geometry cannot load)")
        d.blob += b"\0" * (-len(d.blob) % 8)
        starts.append(len(d.blob))
        d.blob += data
    for view in d.list("bufferViews"):
        b = view.get("buffer", 0) if isinstance(view, dict) else None
        if not isinstance(b, int) or not 0 <= b < len(starts):
            raise SceneError(f"{d.where}: a bufferView names buffer {b!r}; the file has {len(starts)}")
        view["buffer"], view["byteOffset"] = 0, starts[b] + int(view.get("byteOffset", 0))


# Required by many older 3D Tiles (b3dm) exports, but they only choose shaders: the geometry and the
# base colour draw correctly without them, so they are reported, not refused.
SHADING_ONLY = ("KHR_techniques_webgl", "KHR_materials_common")


def _check_extensions(d: _Doc, report: LoadReport) -> None:
    required = d.doc.get("extensionsRequired") or []
    used = d.doc.get("extensionsUsed") or []
    for ext in (e for e in required if e in SHADING_ONLY):
        report.skip("glTF extensions", f"{ext} (required) only names a shading technique; drawn with the base material")
    missing = [e for e in required if e not in HANDLED and e not in SHADING_ONLY]
    if missing:
        raise SceneError(f"{d.where}: requires glTF extension {', '.join(map(str, missing))}, which citywalk "
                         f"cannot decode; supported: {', '.join(HANDLED)}")
    for ext in used:
        if ext not in HANDLED and ext not in required:
            report.skip("glTF extensions", f"{ext} not supported, ignored")


def _decode_draco(d: _Doc, report: LoadReport) -> None:
    """Every KHR_draco_mesh_compression primitive → plain float32 attributes and uint32 indices."""
    prims = [p for m in d.list("meshes") if isinstance(m, dict) for p in m.get("primitives") or []
             if isinstance(p, dict) and DRACO in (p.get("extensions") or {})]
    if not prims:
        return
    try:
        import DracoPy
    except ImportError:
        raise SceneError(f"{d.where}: uses {DRACO} (Draco-compressed geometry), which needs the Python package "
                         "'DracoPy': pip install 'citywalk[meshes]'") from None
    for prim in prims:
        ext = prim["extensions"].pop(DRACO)
        try:
            mesh = DracoPy.decode(d.view_bytes(ext["bufferView"]))
        except SceneError:
            raise
        except Exception as exc:  # DracoPy raises its own types on corrupt data
            raise SceneError(f"{d.where}: a {DRACO} primitive does not decode ({type(exc).__name__}: {exc})") from None
        faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), np.uint32).reshape(-1, 3)
        n_points = len(np.asarray(getattr(mesh, "points", np.zeros((0, 3)))))
        if len(faces) and int(faces.max()) >= n_points:
            raise SceneError(f"{d.where}: a {DRACO} primitive's triangles index vertex {int(faces.max())}; "
                             f"it has {n_points}")
        prim["indices"] = d.append_accessor(faces.reshape(-1), "SCALAR")
        for semantic, uid in (ext.get("attributes") or {}).items():
            attr = mesh.get_attribute_by_unique_id(int(uid))
            if attr is None:
                raise SceneError(f"{d.where}: {DRACO} attribute {semantic} (id {uid}) is not in the Draco data")
            values = np.asarray(attr["data"], np.float64)
            values = values.reshape(len(values), -1)
            acc_index = prim.get("attributes", {}).get(semantic)
            if semantic.startswith(("COLOR_", "TEXCOORD_")) and isinstance(acc_index, int):
                values = _denormalize(d, acc_index, values)
            prim.setdefault("attributes", {})[semantic] = d.append_accessor(values, f"VEC{values.shape[1]}"
                                                                            if values.shape[1] > 1 else "SCALAR")
        report.add("Draco primitives")


def _denormalize(d: _Doc, acc_index: int, values: np.ndarray) -> np.ndarray:
    """Draco stores normalized integer attributes as their integers; glTF means 0..1."""
    try:
        acc = d.doc["accessors"][acc_index]
    except (IndexError, TypeError):
        return values
    comp = acc.get("componentType")
    if acc.get("normalized") and comp in _COMPONENTS and _COMPONENTS[comp][1] and np.abs(values).max(initial=0) > 1:
        return values / _COMPONENTS[comp][1]
    return values


_GEOMETRY_SEMANTICS = ("POSITION", "NORMAL", "TANGENT", "TEXCOORD_")


def _dequantize(d: _Doc) -> None:
    """KHR_mesh_quantization: integer POSITION / NORMAL / TANGENT / TEXCOORD accessors become
    float32 (normalized ones scaled to 0..1 or -1..1; the node transforms undo the quantization)."""
    done: dict[int, int] = {}
    for mesh in d.list("meshes"):
        for prim in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            attrs = prim.get("attributes") if isinstance(prim, dict) else None
            for semantic, index in list((attrs or {}).items()):
                if not semantic.startswith(_GEOMETRY_SEMANTICS) or not isinstance(index, int):
                    continue
                acc = d.list("accessors")[index]
                if acc.get("componentType", 5126) == 5126 or "bufferView" not in acc:
                    continue
                if index not in done:
                    done[index] = d.append_accessor(d.read_accessor(index, semantic), acc["type"])
                attrs[semantic] = done[index]


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    """(K, 4) x y z w → (K, 3, 3) rotation matrices."""
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    x, y, z, w = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], 1)


def _expand_instancing(d: _Doc, report: LoadReport) -> None:
    """EXT_mesh_gpu_instancing: the node's mesh moves to one child node per instance, whose
    matrix is that instance's translation · rotation · scale (applied before the node's own)."""
    nodes = d.list("nodes")
    for node in list(nodes):
        ext = (node.get("extensions") or {}).get(INSTANCING) if isinstance(node, dict) else None
        if ext is None or "mesh" not in node:
            continue
        attrs = ext.get("attributes") or {}
        cols = {k: d.read_accessor(attrs[k], f"{INSTANCING} {k}") for k in ("TRANSLATION", "ROTATION", "SCALE")
                if k in attrs}
        counts = {len(v) for v in cols.values()}
        if len(counts) != 1:
            raise SceneError(f"{d.where}: {INSTANCING} attributes have different counts {sorted(counts)}")
        k = counts.pop()
        if k > MAX_INSTANCES:
            raise SceneError(f"{d.where}: {INSTANCING} lists {k} instances; at most {MAX_INSTANCES} are accepted")
        m = np.tile(np.eye(4), (k, 1, 1))
        rot = _quat_matrix(cols["ROTATION"]) if "ROTATION" in cols else np.tile(np.eye(3), (k, 1, 1))
        scale = cols.get("SCALE", np.ones((k, 3)))
        m[:, :3, :3] = rot * scale[:, None, :]
        m[:, :3, 3] = cols.get("TRANSLATION", np.zeros((k, 3)))
        mesh = node.pop("mesh")
        node["extensions"].pop(INSTANCING)
        children = node.setdefault("children", [])
        for mat in m:
            children.append(len(nodes))
            nodes.append({"mesh": mesh, "matrix": mat.T.reshape(-1).tolist()})  # glTF: column-major
        report.add("instances", k)


def _embed_images(d: _Doc, base_dir: Path | None, report: LoadReport) -> set[int]:
    """Every image into the blob; returns the images that are missing (reported, not fatal)."""
    missing: set[int] = set()
    for i, image in enumerate(d.list("images")):
        if not isinstance(image, dict) or not ("uri" in image or "bufferView" in image):
            missing.add(i)
            continue
        if "uri" in image:
            data = _uri_bytes(str(image["uri"]), base_dir, d.where, f"image {i}")
            if data is None:
                report.skip("textures", f"file {image['uri']!r} not found")
                missing.add(i)
                continue
            image.pop("uri")
            image["bufferView"] = d.append_view(data)
    return missing


def _have_transcoder() -> bool:
    try:
        import alktx2  # noqa: F401
    except ImportError:
        return False
    return True


def _transcode_used(d: _Doc, report: LoadReport) -> None:
    """The KTX2 images that a texture still uses → PNG (alktx2); unused ones are left alone."""
    images = d.list("images")
    used = {t["source"] for t in d.list("textures") if isinstance(t, dict) and isinstance(t.get("source"), int)}
    for i in sorted(used):
        image = images[i] if 0 <= i < len(images) else None
        if not isinstance(image, dict) or "bufferView" not in image:
            continue  # missing: reported by _embed_images, its texture dropped by _fix_textures
        if image.get("mimeType") == "image/ktx2" or d.view_bytes(image.get("bufferView"))[:12] == _KTX2_MAGIC:
            image["bufferView"] = d.append_view(_ktx2_to_png(d.view_bytes(image["bufferView"]), d.where, i))
            image["mimeType"] = "image/png"
            report.add("KTX2 textures")


def _ktx2_to_png(data: bytes, where: str, index: int) -> bytes:
    try:
        import alktx2
    except ImportError:
        raise SceneError(f"{where}: image {index} is KTX2 ({BASISU}), which needs the Python package 'alktx2': "
                         "pip install 'citywalk[meshes]'") from None
    try:
        info = alktx2.inspect_ktx2(data)
        w, h = int(info["width"]), int(info["height"])
    except Exception as exc:  # the transcoder raises RuntimeError/ValueError on bad data
        raise SceneError(f"{where}: image {index}: not a readable KTX2 ({BASISU}) file "
                         f"({type(exc).__name__}: {exc})") from None
    if not (0 < w <= MAX_KTX2_SIDE_PX and 0 < h <= MAX_KTX2_SIDE_PX):
        raise SceneError(f"{where}: image {index}: KTX2 of {w}×{h} px; accepted up to "
                         f"{MAX_KTX2_SIDE_PX}×{MAX_KTX2_SIDE_PX}")
    try:
        png, _ = alktx2.decode_ktx2_to_bytes(data, format="png")
    except Exception as exc:  # the transcoder raises RuntimeError/ValueError on bad data
        raise SceneError(f"{where}: image {index}: KTX2 ({BASISU}) data does not transcode "
                         f"({type(exc).__name__}: {exc})") from None
    return png


def _fix_textures(d: _Doc, missing: set[int], report: LoadReport) -> None:
    """Point each texture at a usable image (the KHR_texture_basisu source, or its PNG/JPEG
    fallback where no transcoder is installed); drop texture references whose image is missing
    so the material keeps its colour."""
    usable: set[int] = set()
    n_images, transcoder = len(d.list("images")), None
    for t, tex in enumerate(d.list("textures")):
        if not isinstance(tex, dict):
            continue
        basis = (tex.get("extensions") or {}).pop(BASISU, None)
        if isinstance(basis, dict) and isinstance(basis.get("source"), int):
            fallback = tex.get("source")
            transcoder = _have_transcoder() if transcoder is None else transcoder
            if transcoder or not isinstance(fallback, int) or fallback in missing:
                tex["source"] = basis["source"]
            else:
                report.skip("KTX2 textures", "no transcoder (pip install alktx2); the fallback image is drawn")
        src = tex.get("source")
        if isinstance(src, int) and src not in missing and 0 <= src < n_images:
            usable.add(t)
    for mat in d.list("materials"):
        pbr = mat.get("pbrMetallicRoughness") if isinstance(mat, dict) else None
        for holder, key in ((pbr, "baseColorTexture"), (pbr, "metallicRoughnessTexture"), (mat, "normalTexture"),
                            (mat, "occlusionTexture"), (mat, "emissiveTexture")):
            ref = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(ref, dict) and ref.get("index") not in usable:
                holder.pop(key)


def _bake_materials(d: _Doc) -> None:
    """KHR_materials_emissive_strength into emissiveFactor (trimesh keeps factors above 1), and
    KHR_texture_transform of each base colour texture into the UVs of the primitives using it."""
    transforms: dict[int, tuple[np.ndarray, int]] = {}
    for i, mat in enumerate(d.list("materials")):
        if not isinstance(mat, dict):
            continue
        strength = (mat.get("extensions") or {}).pop(EMISSIVE_STRENGTH, None)
        if isinstance(strength, dict):
            factor = np.asarray(mat.get("emissiveFactor", [0.0, 0.0, 0.0]), np.float64)
            mat["emissiveFactor"] = (factor * float(strength.get("emissiveStrength", 1.0))).tolist()
        pbr = mat.setdefault("pbrMetallicRoughness", {})
        glow = mat.get("emissiveTexture")
        if isinstance(glow, dict) and "baseColorTexture" not in pbr and max(mat.get("emissiveFactor") or [0]) > 0:
            # a sign's pattern is in its emissive texture: draw it, at full strength (our EMISSIVE
            # shading glows in the surface colour)
            pbr["baseColorTexture"] = dict(glow)
            pbr["baseColorFactor"] = [1.0, 1.0, 1.0, float((pbr.get("baseColorFactor") or [1, 1, 1, 1])[3])]
        ref = pbr.get("baseColorTexture")
        tt = (ref.get("extensions") or {}).pop(TRANSFORM, None) if isinstance(ref, dict) else None
        if isinstance(tt, dict):
            a = float(tt.get("rotation", 0.0))
            sx, sy = (tt.get("scale") or [1.0, 1.0])[:2]
            ox, oy = (tt.get("offset") or [0.0, 0.0])[:2]
            rs = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) @ np.diag([sx, sy])
            affine = np.c_[rs, [ox, oy]]
            coord = int(tt.get("texCoord", ref.get("texCoord", 0)))
            ref["texCoord"] = 0
            transforms[i] = (affine, coord)
    done: dict[tuple[int, int], int] = {}
    for mesh in d.list("meshes"):
        for prim in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            if not isinstance(prim, dict) or prim.get("material") not in transforms:
                continue
            affine, coord = transforms[prim["material"]]
            src = (prim.get("attributes") or {}).get(f"TEXCOORD_{coord}")
            if not isinstance(src, int):
                continue
            key = (src, prim["material"])
            if key not in done:
                uv = d.read_accessor(src, f"TEXCOORD_{coord}")[:, :2]
                done[key] = d.append_accessor(uv @ affine[:, :2].T + affine[:, 2], "VEC2")
            prim["attributes"]["TEXCOORD_0"] = done[key]


def _pack_glb(d: _Doc) -> bytes:
    for key in ("extensionsRequired", "extensionsUsed"):
        kept = [e for e in d.doc.get(key) or [] if e not in _BAKED]
        if kept:
            d.doc[key] = kept
        else:
            d.doc.pop(key, None)
    d.doc["buffers"] = [{"byteLength": len(d.blob)}] if d.blob else []
    js = json.dumps(d.doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    blob = bytes(d.blob) + b"\0" * (-len(d.blob) % 4)
    out = io.BytesIO()
    total = 12 + 8 + len(js) + (8 + len(blob) if blob else 0)
    out.write(struct.pack("<4sII", _GLB_MAGIC, 2, total))
    out.write(struct.pack("<II", len(js), _CHUNK_JSON) + js)
    if blob:
        out.write(struct.pack("<II", len(blob), _CHUNK_BIN) + blob)
    return out.getvalue()


def prepare_gltf(data: bytes, file_type: str, where: str, base_dir: Path | None = None,
                 report: LoadReport | None = None) -> bytes:
    """A .glb or .gltf (bytes) → one plain, self-contained GLB that trimesh reads completely.
    `base_dir` is where a .gltf's external buffers and images live (None: data URIs only)."""
    report = report if report is not None else LoadReport()
    if file_type == "glb":
        text, glb_bin = _split_glb(data, where)
    else:
        text, glb_bin = data, b""
    d = _Doc(_parse_json(text, where), where)
    try:
        _check_extensions(d, report)
        _merge_buffers(d, glb_bin, base_dir)
        _decode_draco(d, report)
        _dequantize(d)
        _expand_instancing(d, report)
        missing = _embed_images(d, base_dir, report)
        _fix_textures(d, missing, report)
        _transcode_used(d, report)
        _bake_materials(d)
        return _pack_glb(d)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # a field of the wrong JSON type (a node that is a number, an index that is a string…)
        raise SceneError(f"{where}: malformed glTF document ({type(exc).__name__}: {exc})") from None
