"""A hand-written one-mesh glTF/GLB builder: tests and fuzz seeds control every field that matters
(extensions, accessors, buffers), which trimesh's exporter cannot write."""

from __future__ import annotations

import base64
import io
import json
import struct

import numpy as np


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(out, "PNG")
    return out.getvalue()


def grid(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An n×n-cell square (2 m, glTF XY plane, facing +Z) → positions, uvs, triangles (2n²)."""
    s = np.linspace(0.0, 1.0, n + 1)
    u, v = np.meshgrid(s, s)
    uv = np.c_[u.ravel(), v.ravel()]
    pos = np.c_[uv[:, 0] * 2 - 1, (1 - uv[:, 1]) * 2, np.zeros(len(uv))]  # glTF v runs down the image
    i = np.arange(n * n)
    a = (i // n) * (n + 1) + i % n
    tris = np.r_[np.c_[a, a + n + 1, a + 1], np.c_[a + 1, a + n + 1, a + n + 2]]
    return pos.astype(np.float32), uv.astype(np.float32), tris.astype(np.uint32)


class GltfBuilder:
    """A one-mesh glTF written by hand, so each test controls every field that matters."""

    def __init__(self):
        self.blob = bytearray()
        self.doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
                    "meshes": [], "accessors": [], "bufferViews": [], "buffers": []}

    def view(self, data: bytes) -> int:
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.doc["bufferViews"].append({"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)})
        self.blob += data
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, arr: np.ndarray, kind: str, with_data: bool = True) -> int:
        arr = np.ascontiguousarray(arr)
        comp = 5125 if arr.dtype == np.uint32 else 5126
        acc = {"componentType": comp, "count": len(arr), "type": kind}
        if with_data:
            acc["bufferView"] = self.view(arr.tobytes())
        if kind == "VEC3":
            acc["min"], acc["max"] = arr.min(0).tolist(), arr.max(0).tolist()
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def quad(self, n: int = 1, material: dict | None = None, draco: bool = False):
        pos, uv, tris = grid(n)
        prim: dict = {}
        if draco:
            import DracoPy

            data = DracoPy.encode(pos, tris, tex_coord=uv.astype(np.float64), preserve_order=True)
            ids = {a["attribute_type"]: a["unique_id"] for a in DracoPy.decode(data).attributes}
            prim["attributes"] = {"POSITION": self.accessor(pos, "VEC3", False),
                                  "TEXCOORD_0": self.accessor(uv, "VEC2", False)}
            prim["indices"] = self.accessor(tris.ravel(), "SCALAR", False)
            prim["extensions"] = {"KHR_draco_mesh_compression": {
                "bufferView": self.view(data), "attributes": {"POSITION": ids[0], "TEXCOORD_0": ids[3]}}}
            self.uses("KHR_draco_mesh_compression", required=True)
        else:
            prim["attributes"] = {"POSITION": self.accessor(pos, "VEC3"), "TEXCOORD_0": self.accessor(uv, "VEC2")}
            prim["indices"] = self.accessor(tris.ravel(), "SCALAR")
        if material is not None:
            self.doc.setdefault("materials", []).append(material)
            prim["material"] = len(self.doc["materials"]) - 1
        self.doc["meshes"].append({"primitives": [prim]})
        return self

    def texture(self, image: bytes | None = None, uri: str | None = None, ktx2: bool = False) -> int:
        mime = "image/ktx2" if ktx2 else "image/png"
        img = {"uri": uri} if uri else {"bufferView": self.view(image), "mimeType": mime}
        self.doc.setdefault("images", []).append(img)
        tex = {"extensions": {"KHR_texture_basisu": {"source": len(self.doc["images"]) - 1}}} if ktx2 \
            else {"source": len(self.doc["images"]) - 1}
        if ktx2:
            self.uses("KHR_texture_basisu", required=True)
        self.doc.setdefault("textures", []).append(tex)
        return len(self.doc["textures"]) - 1

    def uses(self, ext: str, required: bool = False):
        for key in ("extensionsUsed",) + (("extensionsRequired",) if required else ()):
            if ext not in self.doc.setdefault(key, []):
                self.doc[key].append(ext)
        return self

    def write(self, path):
        self.doc["buffers"] = [{"byteLength": len(self.blob)}]
        if str(path).endswith(".gltf"):
            self.doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(
                bytes(self.blob)).decode()
            path.write_text(json.dumps(self.doc))
            return path
        js = json.dumps(self.doc).encode()
        js += b" " * (-len(js) % 4)
        blob = bytes(self.blob) + b"\0" * (-len(self.blob) % 4)
        path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(js) + len(blob))
                         + struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(blob), 0x004E4942)
                         + blob)
        return path
