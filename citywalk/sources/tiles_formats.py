"""3D Tiles binary tile formats beside b3dm: Instanced 3D Model (.i3dm), Point Cloud (.pnts) and
Composite (.cmpt), read into plain arrays, each with a writer (the tests build files with them).

All three share the 3D Tiles feature table: a JSON header whose properties are either inline
values (global ones such as RTC_CENTER) or {"byteOffset", "componentType"} references into a
binary body, little-endian. Positions are in the tile's frame (Z-up, not glTF's Y-up). Points
become small isotropic Gaussians (`points_to_gaussians`) so the splat renderer draws them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene.gaussians import SH_C0, GaussianCloud

I3DM_HEADER_BYTES = 32
PNTS_HEADER_BYTES = 28
CMPT_HEADER_BYTES = 16
MAX_INSTANCES = 200_000  # per i3dm tile
MAX_POINTS = 5_000_000  # per pnts tile
MAX_CMPT_DEPTH = 4  # composites inside composites
MAX_CMPT_TILES = 1024
_COMPONENTS = {
    "BYTE": "<i1", "UNSIGNED_BYTE": "<u1", "SHORT": "<i2", "UNSIGNED_SHORT": "<u2",
    "INT": "<i4", "UNSIGNED_INT": "<u4", "FLOAT": "<f4", "DOUBLE": "<f8",
}


def _error(where: str, message: str) -> SceneError:
    return SceneError(f"{where}: {message}")


@dataclass
class FeatureTable:
    """A parsed feature table: the JSON header and its binary body."""

    json: dict
    binary: bytes
    where: str

    def array(self, name: str, count: int, size: int, dtype: str) -> np.ndarray | None:
        """Per-feature property `name` as (count, size) from the binary body, None if absent.
        `dtype` is the spec's type for the property unless the reference names a componentType."""
        ref = self.json.get(name)
        if ref is None:
            return None
        if not isinstance(ref, dict) or not isinstance(ref.get("byteOffset", 0), int):
            raise _error(self.where, f"feature table '{name}' must reference the binary body "
                                     f"({{\"byteOffset\": n}}), got {ref!r:.60}")
        if "componentType" in ref:
            dtype = _COMPONENTS.get(ref["componentType"])
            if dtype is None:
                raise _error(self.where, f"feature table '{name}' componentType {ref['componentType']!r}; "
                                         f"expected one of {', '.join(_COMPONENTS)}")
        offset = ref.get("byteOffset", 0)
        nbytes = count * size * np.dtype(dtype).itemsize
        if offset < 0 or offset + nbytes > len(self.binary):
            raise _error(self.where, f"feature table '{name}' needs bytes {offset}..{offset + nbytes} but the "
                                     f"binary body has {len(self.binary)}")
        return np.frombuffer(self.binary, dtype=dtype, count=count * size, offset=offset).reshape(count, size)

    def global_numbers(self, name: str, size: int) -> np.ndarray | None:
        """A global property (RTC_CENTER, QUANTIZED_VOLUME_OFFSET…) given inline or by reference."""
        value = self.json.get(name)
        if value is None:
            return None
        if isinstance(value, dict):
            return self.array(name, 1, size, "<f4")[0].astype(np.float64)
        array = np.asarray(value, dtype=np.float64).reshape(-1) if isinstance(value, (list, int, float)) else None
        if array is None or array.shape != (size,) or not np.all(np.isfinite(array)):
            raise _error(self.where, f"feature table '{name}' must be {size} finite numbers, got {value!r:.60}")
        return array

    def length(self, name: str, limit: int) -> int:
        """A count property (INSTANCES_LENGTH, POINTS_LENGTH), 0..limit."""
        value = self.json.get(name)
        if isinstance(value, dict):
            value = int(self.array(name, 1, 1, "<u4")[0, 0])
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _error(self.where, f"feature table '{name}' is {value!r}; expected a count ≥ 0")
        if value > limit:
            raise _error(self.where, f"{name} is {value}; at most {limit} are accepted")
        return value


def _padded_json(obj: dict | None, start: int) -> bytes:
    """JSON padded with spaces so that the next section starts on an 8-byte boundary."""
    if obj is None:
        return b""
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return raw + b" " * ((8 - (start + len(raw)) % 8) % 8)


def _padded(raw: bytes) -> bytes:
    return raw + b"\0" * ((8 - len(raw) % 8) % 8)


def table_json(raw: bytes, where: str, what: str):
    """A tile's feature or batch table JSON ({} when empty); SceneError naming `what` when malformed."""
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _error(where, f"{what} JSON is malformed ({exc})") from exc


def _split(data: bytes, magic: bytes, header_bytes: int, where: str) -> tuple[tuple, FeatureTable, int]:
    """Check a tile header (magic, version 1, byteLength) and return (header fields, feature
    table, offset after the batch table)."""
    name = magic.decode()
    if len(data) < header_bytes:
        raise _error(where, f"{name} is {len(data)} bytes, shorter than its {header_bytes}-byte header")
    fields = struct.unpack_from("<4s" + "I" * ((header_bytes - 4) // 4), data, 0)
    if fields[0] != magic or fields[1] != 1:
        raise _error(where, f"{name} header has magic {fields[0]!r} version {fields[1]}; expected {magic!r} version 1")
    if fields[2] != len(data):
        raise _error(where, f"{name} byteLength is {fields[2]} but the tile has {len(data)} bytes")
    ft_json, ft_bin, bt_json, bt_bin = fields[3:7]
    end = header_bytes + ft_json + ft_bin + bt_json + bt_bin
    if end > len(data):
        raise _error(where, f"{name} table lengths ({ft_json}+{ft_bin}+{bt_json}+{bt_bin}) run past "
                            f"the end of its {len(data)} bytes")
    table = table_json(data[header_bytes:header_bytes + ft_json], where, f"{name} feature table")
    if not isinstance(table, dict):
        raise _error(where, f"{name} feature table JSON must be an object")
    binary = data[header_bytes + ft_json:header_bytes + ft_json + ft_bin]
    return fields, FeatureTable(table, binary, where), end


def _positions(ft: FeatureTable, count: int) -> np.ndarray:
    """POSITION (float32) or POSITION_QUANTIZED (uint16, with the quantized volume) as (count, 3)
    float64 in the tile frame, RTC_CENTER added."""
    pos = ft.array("POSITION", count, 3, "<f4")
    if pos is not None:
        pos = pos.astype(np.float64)
    else:
        q = ft.array("POSITION_QUANTIZED", count, 3, "<u2")
        offset = ft.global_numbers("QUANTIZED_VOLUME_OFFSET", 3)
        scale = ft.global_numbers("QUANTIZED_VOLUME_SCALE", 3)
        if q is None or offset is None or scale is None:
            raise _error(ft.where, "feature table needs POSITION, or POSITION_QUANTIZED with "
                                   "QUANTIZED_VOLUME_OFFSET and QUANTIZED_VOLUME_SCALE")
        pos = q.astype(np.float64) * (scale / 65535.0) + offset
    if not np.all(np.isfinite(pos)):
        raise _error(ft.where, "feature table positions contain NaN or infinity")
    rtc = ft.global_numbers("RTC_CENTER", 3)
    return pos + rtc if rtc is not None else pos


def _oct_decode(encoded: np.ndarray) -> np.ndarray:
    """Unit vectors (N, 3) from oct-encoded uint16 pairs (N, 2) (the *_OCT32P properties)."""
    v = encoded.astype(np.float64) / 65535.0 * 2.0 - 1.0
    x, y = v[:, 0], v[:, 1]
    z = 1.0 - np.abs(x) - np.abs(y)
    neg = z < 0
    x2 = np.where(neg, (1.0 - np.abs(y)) * np.sign(x), x)
    y2 = np.where(neg, (1.0 - np.abs(x)) * np.sign(y), y)
    out = np.stack([x2, y2, z], axis=1)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@dataclass
class Instances:
    """An i3dm tile: `gltf` (GLB bytes) or `uri` (external glTF, relative to the tile) and one
    4×4 matrix per instance (N, 4, 4) float64, tile frame ← instance frame (Z-up model);
    `east_north_up`: no orientation was given and EAST_NORTH_UP asks for the local ENU frame."""

    gltf: bytes | None
    uri: str | None
    matrices: np.ndarray
    east_north_up: bool


def _instance_rotations(ft: FeatureTable, count: int) -> np.ndarray | None:
    """(count, 3, 3) rotations with columns (right, up, right × up), or None for the default."""
    up = ft.array("NORMAL_UP", count, 3, "<f4")
    right = ft.array("NORMAL_RIGHT", count, 3, "<f4")
    if up is None and right is None:
        up_oct = ft.array("NORMAL_UP_OCT32P", count, 2, "<u2")
        right_oct = ft.array("NORMAL_RIGHT_OCT32P", count, 2, "<u2")
        if up_oct is None or right_oct is None:
            return None
        up, right = _oct_decode(up_oct), _oct_decode(right_oct)
    if up is None or right is None:
        raise _error(ft.where, "i3dm has only one of NORMAL_UP / NORMAL_RIGHT; both are needed")
    up = up.astype(np.float64)
    right = right.astype(np.float64)
    for name, v in (("NORMAL_UP", up), ("NORMAL_RIGHT", right)):
        if not np.all(np.isfinite(v)) or np.linalg.norm(v, axis=1).min() < 1e-6:
            raise _error(ft.where, f"i3dm {name} holds a zero or non-finite vector")
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    return np.stack([right, up, np.cross(right, up)], axis=2)


def parse_i3dm(data: bytes, where: str, max_instances: int = MAX_INSTANCES) -> Instances:
    """An i3dm blob → Instances: positions (or quantized), NORMAL_UP/RIGHT (or oct-encoded),
    SCALE / SCALE_NON_UNIFORM, RTC_CENTER; the glTF embedded (gltfFormat 1) or a URI (0)."""
    fields, ft, end = _split(data, b"i3dm", I3DM_HEADER_BYTES, where)
    gltf_format = fields[7]
    count = ft.length("INSTANCES_LENGTH", max_instances)
    matrices = np.tile(np.eye(4), (count, 1, 1))
    rotations = _instance_rotations(ft, count)
    if rotations is not None:
        matrices[:, :3, :3] = rotations
    scale = ft.array("SCALE", count, 1, "<f4")
    if scale is not None:
        matrices[:, :3, :3] *= scale.astype(np.float64)[:, :, None]
    scale3 = ft.array("SCALE_NON_UNIFORM", count, 3, "<f4")
    if scale3 is not None:
        matrices[:, :3, :3] *= scale3.astype(np.float64)[:, None, :]
    if not np.all(np.isfinite(matrices)):
        raise _error(where, "i3dm SCALE holds NaN or infinity")
    matrices[:, :3, 3] = _positions(ft, count) if count else np.zeros((0, 3))
    body = data[end:]
    enu = bool(ft.json.get("EAST_NORTH_UP", False)) and rotations is None
    if gltf_format == 1:
        glb_length = struct.unpack_from("<I", body, 8)[0] if len(body) >= 12 and body[:4] == b"glTF" else -1
        if glb_length < 12 or glb_length > len(body) or len(body) - glb_length >= 8:
            raise _error(where, f"i3dm embedded glTF: expected a GLB filling the last {len(body)} bytes, "
                                f"its header says {glb_length}")
        return Instances(body[:glb_length], None, matrices, enu)
    if gltf_format == 0:
        uri = body.rstrip(b"\0 ").decode("utf-8", "replace")
        if not uri:
            raise _error(where, "i3dm gltfFormat is 0 (a URI) but the URI is empty")
        return Instances(None, uri, matrices, enu)
    raise _error(where, f"i3dm gltfFormat is {gltf_format}; expected 0 (URI) or 1 (embedded GLB)")


def _write_tile(magic: bytes, header_bytes: int, table: dict, binary: bytes, body: bytes,
                extra: tuple = ()) -> bytes:
    ft = _padded_json(table, header_bytes)
    binary = _padded(binary)
    body = _padded(body)
    total = header_bytes + len(ft) + len(binary) + len(body)
    header = struct.pack("<4sIIIIII" + "I" * len(extra), magic, 1, total, len(ft), len(binary), 0, 0, *extra)
    return header + ft + binary + body


def write_i3dm(glb_or_uri: bytes | str, positions, normal_up=None, normal_right=None, scale=None,
               rtc_center=None) -> bytes:
    """Pack instances (positions (N, 3) m; optional NORMAL_UP/RIGHT (N, 3), SCALE (N,)) with an
    embedded GLB (bytes) or a glTF URI (str) into an i3dm blob."""
    positions = np.asarray(positions, np.float32).reshape(-1, 3)
    table: dict = {"INSTANCES_LENGTH": len(positions)}
    parts: list[bytes] = []

    def put(name: str, values) -> None:
        table[name] = {"byteOffset": sum(len(p) for p in parts)}
        parts.append(_padded(np.ascontiguousarray(values, np.float32).tobytes()))

    put("POSITION", positions)
    if normal_up is not None:
        put("NORMAL_UP", np.asarray(normal_up, np.float32).reshape(-1, 3))
        put("NORMAL_RIGHT", np.asarray(normal_right, np.float32).reshape(-1, 3))
    if scale is not None:
        put("SCALE", np.asarray(scale, np.float32).reshape(-1))
    if rtc_center is not None:
        table["RTC_CENTER"] = [float(v) for v in rtc_center]
    embedded = isinstance(glb_or_uri, (bytes, bytearray))
    body = bytes(glb_or_uri) if embedded else glb_or_uri.encode("utf-8")
    return _write_tile(b"i3dm", I3DM_HEADER_BYTES, table, b"".join(parts), body, (1 if embedded else 0,))


@dataclass
class Points:
    """A pnts tile: positions (N, 3) float64 in the tile frame, colours (N, 3) sRGB 0..1 and
    alpha (N,) 0..1 (grey, opaque when the tile has no colour)."""

    positions: np.ndarray
    colors: np.ndarray
    alpha: np.ndarray


def _rgb565(packed: np.ndarray) -> np.ndarray:
    v = packed.astype(np.uint32).reshape(-1)
    return np.stack([(v >> 11) & 31, (v >> 5) & 63, v & 31], axis=1) / np.array([31.0, 63.0, 31.0])


def parse_pnts(data: bytes, where: str, max_points: int = MAX_POINTS) -> Points:
    """A pnts blob → Points: POSITION or POSITION_QUANTIZED, RTC_CENTER, and colour from RGBA,
    RGB, RGB565 or CONSTANT_RGBA (first found)."""
    _, ft, _ = _split(data, b"pnts", PNTS_HEADER_BYTES, where)
    if "3DTILES_draco_point_compression" in (ft.json.get("extensions") or {}):
        raise _error(where, "pnts with 3DTILES_draco_point_compression is not supported; "
                            "uncompressed POSITION/POSITION_QUANTIZED point clouds are")
    count = ft.length("POINTS_LENGTH", max_points)
    positions = _positions(ft, count) if count else np.zeros((0, 3))
    colors, alpha = np.full((count, 3), 0.7), np.ones(count)
    rgba = ft.array("RGBA", count, 4, "<u1")
    rgb = ft.array("RGB", count, 3, "<u1")
    rgb565 = ft.array("RGB565", count, 1, "<u2")
    if rgba is not None:
        colors, alpha = rgba[:, :3] / 255.0, rgba[:, 3] / 255.0
    elif rgb is not None:
        colors = rgb / 255.0
    elif rgb565 is not None:
        colors = _rgb565(rgb565)
    elif ft.json.get("CONSTANT_RGBA") is not None:
        constant = ft.global_numbers("CONSTANT_RGBA", 4) / 255.0
        colors, alpha = np.tile(constant[:3], (count, 1)), np.full(count, constant[3])
    return Points(positions, np.asarray(colors, np.float64), np.asarray(alpha, np.float64))


def write_pnts(positions, rgb=None, rtc_center=None) -> bytes:
    """Pack points (N, 3) m and optional RGB (N, 3) uint8 into a pnts blob."""
    positions = np.asarray(positions, np.float32).reshape(-1, 3)
    table: dict = {"POINTS_LENGTH": len(positions), "POSITION": {"byteOffset": 0}}
    binary = _padded(positions.tobytes())
    if rgb is not None:
        table["RGB"] = {"byteOffset": len(binary)}
        binary += _padded(np.ascontiguousarray(rgb, np.uint8).reshape(-1, 3).tobytes())
    if rtc_center is not None:
        table["RTC_CENTER"] = [float(v) for v in rtc_center]
    return _write_tile(b"pnts", PNTS_HEADER_BYTES, table, binary, b"")


def parse_cmpt(data: bytes, where: str) -> list[bytes]:
    """The inner tiles of a Composite (.cmpt) blob, each checked to fit (not parsed here)."""
    if len(data) < CMPT_HEADER_BYTES:
        raise _error(where, f"cmpt is {len(data)} bytes, shorter than its {CMPT_HEADER_BYTES}-byte header")
    magic, version, byte_length, tiles_length = struct.unpack_from("<4sIII", data, 0)
    if magic != b"cmpt" or version != 1:
        raise _error(where, f"cmpt header has magic {magic!r} version {version}; expected b'cmpt' version 1")
    if byte_length != len(data):
        raise _error(where, f"cmpt byteLength is {byte_length} but the tile has {len(data)} bytes")
    if tiles_length > MAX_CMPT_TILES:
        raise _error(where, f"cmpt holds {tiles_length} tiles; at most {MAX_CMPT_TILES} are accepted")
    inner, offset = [], CMPT_HEADER_BYTES
    for i in range(tiles_length):
        if offset + 12 > len(data):
            raise _error(where, f"cmpt inner tile {i} starts at byte {offset}, past the end ({len(data)})")
        length = struct.unpack_from("<I", data, offset + 8)[0]
        if length < 12 or offset + length > len(data):
            raise _error(where, f"cmpt inner tile {i} claims {length} bytes at offset {offset}; "
                                f"the composite has {len(data)}")
        inner.append(data[offset:offset + length])
        offset += length
    return inner


def write_cmpt(tiles: list[bytes]) -> bytes:
    """Pack inner tile blobs (each a multiple of 8 bytes) into a Composite blob."""
    body = b"".join(tiles)
    return struct.pack("<4sIII", b"cmpt", 1, CMPT_HEADER_BYTES + len(body), len(tiles)) + body


def points_to_gaussians(positions_m: np.ndarray, colors: np.ndarray, alpha: np.ndarray,
                        size_m: float | None = None) -> GaussianCloud:
    """Small isotropic Gaussians, one per point: σ = half the point spacing unless `size_m` is
    given. The spacing is 1/√(surface density), the density from the median distance to the 8th
    neighbour (of up to 20 000 evenly taken points): 8 points per π r²."""
    n = len(positions_m)
    if size_m is None:
        size_m = 0.05
        if n > 8:
            from scipy.spatial import cKDTree

            sample = positions_m[:: max(1, n // 20_000)]
            dist, _ = cKDTree(sample).query(sample, k=min(9, len(sample)))
            radius = float(np.median(dist[:, -1]))
            spacing = radius * np.sqrt(np.pi / (dist.shape[1] - 1)) * (len(sample) / n) ** 0.5
            if np.isfinite(spacing) and spacing > 0:
                size_m = 0.5 * spacing
    dc = (np.clip(colors, 0.0, 1.0) - 0.5) / SH_C0
    rotations = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    return GaussianCloud(positions_m, np.full((n, 3), size_m), rotations,
                         np.clip(alpha, 0.0, 1.0) * 0.95, dc.reshape(n, 1, 3), 0)
