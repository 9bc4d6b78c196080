"""3D Tiles 1.1 implicit tiling: a root tile with `implicitTiling` (QUADTREE or OCTREE) whose
tree is given by subtree files (.subtree binary or JSON) holding availability bitstreams.

This module turns that description into a plain list of the *available* tiles — level, (x, y, z),
bounding volume JSON (the root box or region subdivided evenly), geometric error (halved per
level) and content URIs with {level}/{x}/{y}/{z} filled in where content is available. `tiles`
builds its Tile tree from the list. Bits are in Morton order (x in the lowest bit), level by
level, least significant bit first within each byte.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from citywalk.errors import SceneError
from citywalk.safeio import check_nesting, read_capped

SUBTREE_HEADER_BYTES = 24
MAX_SUBTREE_BYTES = 64 << 20
MAX_SUBTREE_LEVELS = 12  # one octree subtree of 12 levels already has ~2.7e10 bits; far over the size cap
MAX_AVAILABLE_LEVELS = 32
MAX_SUBTREES = 4096
_TEMPLATE = re.compile(r"\{(level|x|y|z)\}")


def _error(where: str, message: str) -> SceneError:
    return SceneError(f"{where}: {message}")


@dataclass
class ImplicitTile:
    """One available tile: level, x, y, z (z = 0 for quadtrees), its bounding volume JSON,
    geometric error and the content URIs (templates filled) whose content is available."""

    level: int
    x: int
    y: int
    z: int
    volume: dict
    geometric_error: float
    content_uris: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.level, self.x, self.y, self.z)

    @property
    def parent_key(self) -> tuple[int, int, int, int]:
        return (self.level - 1, self.x >> 1, self.y >> 1, self.z >> 1)


def fill_template(template: str, level: int, x: int, y: int, z: int) -> str:
    """A template URI with {level}, {x}, {y}, {z} replaced."""
    values = {"level": level, "x": x, "y": y, "z": z}
    return _TEMPLATE.sub(lambda m: str(values[m.group(1)]), template)


def morton_decode(index: int, dims: int) -> tuple[int, int, int]:
    """(x, y, z) of a Morton index with `dims` (2 or 3) interleaved coordinates, x lowest."""
    coords = [0, 0, 0]
    bit = 0
    while index:
        for d in range(dims):
            coords[d] |= (index & 1) << bit
            index >>= 1
        bit += 1
    return coords[0], coords[1], coords[2]


def morton_encode(x: int, y: int, z: int, dims: int) -> int:
    """The Morton index of (x, y[, z]), x in the lowest bit."""
    index, bit = 0, 0
    coords = (x, y, z)[:dims]
    while any(c >> bit for c in coords):
        for d, c in enumerate(coords):
            index |= ((c >> bit) & 1) << (bit * dims + d)
        bit += 1
    return index


class Availability:
    """One availability object: a constant (0/1) or a bitstream of `bits` bits."""

    def __init__(self, spec, views: list[bytes], bits: int, where: str, name: str):
        if not isinstance(spec, dict):
            raise _error(where, f"subtree '{name}' must be an object with 'bitstream' or 'constant'")
        self.constant = None
        self.bytes = b""
        view = spec.get("bitstream", spec.get("bufferView"))
        if view is not None:
            if not isinstance(view, int) or not 0 <= view < len(views):
                raise _error(where, f"subtree '{name}' bitstream {view!r} is not a bufferView index "
                                    f"(0..{len(views) - 1})")
            self.bytes = views[view]
            if len(self.bytes) * 8 < bits:
                raise _error(where, f"subtree '{name}' bitstream has {len(self.bytes) * 8} bits, needs {bits}")
        elif spec.get("constant") in (0, 1):
            self.constant = int(spec["constant"])
        else:
            raise _error(where, f"subtree '{name}' needs 'bitstream' or 'constant' 0/1, got {spec!r:.60}")

    def __getitem__(self, i: int) -> bool:
        if self.constant is not None:
            return bool(self.constant)
        return bool((self.bytes[i >> 3] >> (i & 7)) & 1)

    def available(self, start: int, count: int, limit: int, where: str,
                  what: str = "available tiles (max_tiles)", shown: int | None = None) -> np.ndarray:
        """Indices in 0..count-1 whose bit start+i is set; more than `limit` is refused before
        they are listed (a constant 1 over a deep level would be billions)."""
        if self.constant is not None:
            if self.constant and count > limit:
                raise _error(where, f"implicit tiling has more than {shown or limit} {what}; refused")
            return np.arange(count) if self.constant else np.zeros(0, np.int64)
        bits = np.unpackbits(np.frombuffer(self.bytes, np.uint8), bitorder="little")
        found = np.flatnonzero(bits[start:start + count])
        if len(found) > limit:
            raise _error(where, f"implicit tiling has more than {shown or limit} {what}; refused")
        return found


def _subtree_json_and_binary(data: bytes, where: str) -> tuple[dict, bytes]:
    """Split a subtree file: binary ('subt' header, JSON, binary chunk) or plain JSON."""
    if data[:4] == b"subt":
        if len(data) < SUBTREE_HEADER_BYTES:
            raise _error(where, f"subtree is {len(data)} bytes, shorter than its 24-byte header")
        _, version, json_len, bin_len = struct.unpack_from("<4sIQQ", data, 0)
        if version != 1:
            raise _error(where, f"subtree version is {version}; expected 1")
        if SUBTREE_HEADER_BYTES + json_len + bin_len > len(data):
            raise _error(where, f"subtree lengths (JSON {json_len}, binary {bin_len}) run past its {len(data)} bytes")
        raw = data[SUBTREE_HEADER_BYTES:SUBTREE_HEADER_BYTES + json_len]
        binary = data[SUBTREE_HEADER_BYTES + json_len:SUBTREE_HEADER_BYTES + json_len + bin_len]
    else:
        raw, binary = data, b""
    check_nesting(raw, 32, where)
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _error(where, f"subtree JSON is malformed ({exc})") from exc
    if not isinstance(obj, dict):
        raise _error(where, "subtree JSON must be an object")
    return obj, binary


def _buffer_views(obj: dict, binary: bytes, path: Path, resolve: Callable[[Path, str], Path],
                  where: str) -> list[bytes]:
    """The bytes of each bufferView; buffers without a URI are the binary chunk."""
    buffers = []
    for i, buf in enumerate(obj.get("buffers") or []):
        if not isinstance(buf, dict):
            raise _error(where, f"subtree buffer {i} is not an object")
        if "uri" in buf:
            buffers.append(read_capped(resolve(path.parent, str(buf["uri"])), MAX_SUBTREE_BYTES, "subtree buffer"))
        else:
            buffers.append(binary)
    views = []
    for i, view in enumerate(obj.get("bufferViews") or []):
        b, offset, length = (view.get(k) if isinstance(view, dict) else None
                             for k in ("buffer", "byteOffset", "byteLength"))
        offset = offset or 0
        if not all(isinstance(v, int) for v in (b, offset, length)) or not 0 <= b < len(buffers):
            raise _error(where, f"subtree bufferView {i} needs integer buffer/byteOffset/byteLength, got {view!r:.80}")
        if offset < 0 or length < 0 or offset + length > len(buffers[b]):
            raise _error(where, f"subtree bufferView {i} bytes {offset}..{offset + length} lie outside buffer {b} "
                                f"({len(buffers[b])} bytes)")
        views.append(buffers[b][offset:offset + length])
    return views


@dataclass
class Subtree:
    """Availability of one subtree: tiles, content (one per content of the tile) and child subtrees."""

    tiles: Availability
    contents: list[Availability]
    children: Availability


def read_subtree(path: Path, levels: int, dims: int, content_count: int,
                 resolve: Callable[[Path, str], Path]) -> Subtree:
    """Read and check one subtree file for a tree of `dims` (2/3) with `levels` levels per subtree."""
    where = str(path)
    obj, binary = _subtree_json_and_binary(read_capped(path, MAX_SUBTREE_BYTES, "subtree"), where)
    views = _buffer_views(obj, binary, path, resolve, where)
    branching = 1 << dims
    tile_bits = (branching ** levels - 1) // (branching - 1)
    tiles = Availability(obj.get("tileAvailability"), views, tile_bits, where, "tileAvailability")
    content_spec = obj.get("contentAvailability", [])
    if isinstance(content_spec, dict):  # the 3DTILES_implicit_tiling extension's single object
        content_spec = [content_spec]
    contents = [Availability(c, views, tile_bits, where, f"contentAvailability[{i}]")
                for i, c in enumerate(content_spec)]
    if content_count and len(contents) < content_count:
        raise _error(where, f"subtree has {len(contents)} contentAvailability entries; the tile has "
                            f"{content_count} content templates")
    children = Availability(obj.get("childSubtreeAvailability"), views, branching ** levels, where,
                            "childSubtreeAvailability")
    return Subtree(tiles, contents, children)


def _child_volume(root: dict, level: int, x: int, y: int, z: int, dims: int, where: str) -> dict:
    """The root bounding volume (box or region) subdivided to tile (level, x, y, z)."""
    n = float(1 << level)
    if "box" in root:
        box = np.asarray(root["box"], np.float64)
        c, axes = box[:3], box[3:].reshape(3, 3)
        idx = (x, y, z)
        center = c.copy()
        new_axes = axes.copy()
        for d in range(dims):
            center += axes[d] * (-1.0 + (2 * idx[d] + 1) / n)
            new_axes[d] = axes[d] / n
        return {"box": [*center.tolist(), *new_axes.reshape(-1).tolist()]}
    if "region" in root:
        west, south, east, north, h0, h1 = (float(v) for v in root["region"])
        dl, dp, dh = (east - west) / n, (north - south) / n, (h1 - h0) / n
        heights = (h0 + z * dh, h0 + (z + 1) * dh) if dims == 3 else (h0, h1)
        return {"region": [west + x * dl, south + y * dp, west + (x + 1) * dl, south + (y + 1) * dp, *heights]}
    raise _error(where, "implicit tiling needs a root boundingVolume 'box' or 'region' (spheres cannot subdivide)")


@dataclass
class ImplicitSpec:
    """The implicitTiling object, checked."""

    dims: int
    subtree_levels: int
    available_levels: int
    subtree_template: str
    content_templates: list[str]

    @staticmethod
    def parse(tile_json: dict, content_templates: list[str], where: str) -> "ImplicitSpec":
        spec = tile_json.get("implicitTiling")
        if not isinstance(spec, dict):
            raise _error(where, "implicitTiling must be an object")
        scheme = spec.get("subdivisionScheme")
        if scheme not in ("QUADTREE", "OCTREE"):
            raise _error(where, f"implicitTiling.subdivisionScheme is {scheme!r}; expected 'QUADTREE' or 'OCTREE'")
        levels = spec.get("subtreeLevels")
        available = spec.get("availableLevels", (spec.get("maximumLevel", -2) + 1))
        if not isinstance(levels, int) or not 1 <= levels <= MAX_SUBTREE_LEVELS:
            raise _error(where, f"implicitTiling.subtreeLevels is {levels!r}; expected 1..{MAX_SUBTREE_LEVELS}")
        if not isinstance(available, int) or not 1 <= available <= MAX_AVAILABLE_LEVELS:
            raise _error(where, f"implicitTiling.availableLevels is {available!r}; expected 1..{MAX_AVAILABLE_LEVELS}")
        uri = (spec.get("subtrees") or {}).get("uri") if isinstance(spec.get("subtrees"), dict) else None
        if not isinstance(uri, str) or not uri:
            raise _error(where, "implicitTiling.subtrees.uri is missing (a template such as "
                                "'subtrees/{level}/{x}/{y}.subtree')")
        return ImplicitSpec(2 if scheme == "QUADTREE" else 3, levels, available, uri, content_templates)


def subtree_tiles(tile_json: dict, spec: ImplicitSpec, key: tuple[int, int, int, int], base_dir: Path,
                  resolve: Callable[[Path, str], Path], max_tiles: int,
                  where: str) -> tuple[list[ImplicitTile], list[tuple[int, int, int, int]]]:
    """The available tiles of one subtree (rooted at tile `key` = (level, x, y, z)), parents
    before children, and the roots of its available child subtrees. More than `max_tiles` is refused."""
    root_volume = tile_json.get("boundingVolume") or {}
    root_error = float(tile_json.get("geometricError", 0.0))
    dims, levels, branching = spec.dims, spec.subtree_levels, 1 << spec.dims
    s_level, sx, sy, sz = key
    uri = fill_template(spec.subtree_template, s_level, sx, sy, sz)
    subtree = read_subtree(resolve(base_dir, uri), levels, dims, len(spec.content_templates), resolve)
    out: list[ImplicitTile] = []
    offset = 0
    for local in range(min(levels, spec.available_levels - s_level)):
        level, count = s_level + local, branching ** local
        for m in subtree.tiles.available(offset, count, max_tiles - len(out), where, shown=max_tiles):
            lx, ly, lz = morton_decode(int(m), dims)
            x, y, z = (sx << local) + lx, (sy << local) + ly, (sz << local) + lz
            tile = ImplicitTile(level, x, y, z, _child_volume(root_volume, level, x, y, z, dims, where),
                                root_error / (1 << level))
            for template, content in zip(spec.content_templates, subtree.contents):
                if content[offset + int(m)]:
                    tile.content_uris.append(fill_template(template, level, x, y, z))
            out.append(tile)
        offset += count
    children = []
    if s_level + levels < spec.available_levels:
        for m in subtree.children.available(0, branching ** levels, MAX_SUBTREES, where,
                                                   "child subtrees in one subtree"):
            cx, cy, cz = morton_decode(int(m), dims)
            children.append((s_level + levels, (sx << levels) + cx, (sy << levels) + cy, (sz << levels) + cz))
    return out, children


def write_subtree(tile_bits: list[int], content_bits: list[int], child_bits: list[int] | None = None) -> bytes:
    """A binary subtree file from 0/1 lists (tile, one content, child-subtree availability),
    each stored as a bitstream in the internal binary chunk (no child subtrees: constant 0)."""
    binary = b""
    views, objects = [], []
    for bits in (tile_bits, content_bits, child_bits):
        if bits is None:
            objects.append({"constant": 0})
            continue
        packed = bytearray((len(bits) + 7) // 8)
        for i, b in enumerate(bits):
            if b:
                packed[i >> 3] |= 1 << (i & 7)
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(packed)})
        objects.append({"bitstream": len(views) - 1, "availableCount": int(sum(bits))})
        binary += bytes(packed) + b"\0" * ((8 - len(packed) % 8) % 8)
    obj = {"buffers": [{"byteLength": len(binary)}], "bufferViews": views, "tileAvailability": objects[0],
           "contentAvailability": [objects[1]], "childSubtreeAvailability": objects[2]}
    raw = json.dumps(obj).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<4sIQQ", b"subt", 1, len(raw), len(binary)) + raw + binary
