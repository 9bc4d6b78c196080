"""Local 3D Tiles (1.0 and 1.1) → Scene, loading only the tiles a camera path needs.

A tileset.json is read into plain `Tile` data: bounding volume (region, box or sphere) turned
into world-space bounds, the chained `transform` (column-major 4×4, parent @ child), refine mode
(ADD/REPLACE, inherited) and content files (checked to stay inside the tileset folder).
`select_tiles` applies screen-space-error refinement for every camera and unions the result.
Content: binary glTF (.glb), glTF JSON (.gltf) and Batched 3D Model (.b3dm, with RTC_CENTER);
glTF content is Y-up, so (x, y, z) → (x, −z, y) before the tile transform; then ECEF → local
ENU around the tileset centre (ellipsoid height 0, so world z ≈ height above the ellipsoid).
Other formats (i3dm, pnts, cmpt) are skipped and counted in Scene.stats.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import numpy as np

from citywalk.errors import SceneError
from citywalk.safeio import check_nesting, read_capped, read_text_capped, safe_join
from citywalk.scene import Mesh, Scene
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.report import LoadReport
from citywalk.sources.geo import EnuFrame, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from citywalk.sources.meshes import (
    Y_UP_TO_Z_UP,
    glb_json,
    load_trimesh_scene,
    scene_bounds,
    trimesh_scene_to_meshes,
)
from citywalk.sources.tiles_formats import (
    MAX_CMPT_DEPTH,
    MAX_POINTS,
    parse_cmpt,
    parse_i3dm,
    parse_pnts,
    points_to_gaussians,
    table_json,
)
from citywalk.sources.tiles_implicit import MAX_SUBTREES, ImplicitSpec, subtree_tiles

SUPPORTED_VERSIONS = ("0.0", "1.0", "1.1")
MAX_JSON_BYTES = 64 << 20
MAX_CONTENT_BYTES = 512 << 20
MAX_EXTERNAL_DEPTH = 8
MAX_TREE_DEPTH = 64
B3DM_HEADER_BYTES = 28
# Tile frames whose centre lies this far from the Earth's centre are taken as ECEF.
_ECEF_MIN_RADIUS_M, _ECEF_MAX_RADIUS_M = 6.0e6, 7.0e6


@dataclass
class Bounds:
    """A bounding volume in world metres: an oriented box (centre (3,), half-axis columns
    (3, 3)) or, when `axes` is None, a sphere of `radius_m`."""

    center: np.ndarray
    axes: np.ndarray | None
    radius_m: float

    def distance_m(self, point: np.ndarray) -> float:
        """Distance from a world point (3,) to the volume; 0 inside."""
        d = np.asarray(point, dtype=np.float64) - self.center
        if self.axes is None:
            return max(0.0, float(np.linalg.norm(d)) - self.radius_m)
        closest = self.center.copy()
        for i in range(3):
            a = self.axes[:, i]
            length2 = float(a @ a)
            if length2 > 0.0:
                closest += a * float(np.clip((d @ a) / length2, -1.0, 1.0))
        return float(np.linalg.norm(np.asarray(point, dtype=np.float64) - closest))


@dataclass
class Tile:
    """One node of the tileset tree. `transform` (4, 4) float64 is the tile's computed
    transform into the tileset frame (ECEF for georeferenced sets); `contents` are resolved
    file paths; `id` is the tile's path in the tree, e.g. 'root/1/0'."""

    id: str
    geometric_error: float
    refine: str
    transform: np.ndarray
    bounds: Bounds
    contents: list[Path] = field(default_factory=list)
    children: list["Tile"] = field(default_factory=list)
    depth: int = 0
    request_volume: Bounds | None = None  # viewerRequestVolume: used only by cameras inside it
    expand: Callable[[], None] | None = field(default=None, repr=False)  # implicit: reads child subtrees

    def open_children(self) -> list["Tile"]:
        """The children, reading the implicit child subtrees below this tile on first use."""
        if self.expand is not None:
            expand, self.expand = self.expand, None
            expand()
        return self.children


@dataclass
class Tileset:
    """A parsed tileset: its root tile, the tileset-frame → world (ENU) matrix (4, 4), the
    scene origin, copyright strings, glTF up axis and whether it is georeferenced."""

    path: Path
    root: Tile
    to_world: np.ndarray
    origin_latlon: tuple[float, float]
    geometric_error: float
    copyright: list[str]
    gltf_up_axis: str = "Y"
    georeferenced: bool = True
    tile_count: int = 0


def _error(where: str, message: str) -> SceneError:
    return SceneError(f"{where}: {message}")


def _read_json(path: Path, where: str) -> dict:
    """Read a tileset JSON file with a size limit; malformed JSON raises SceneError."""
    text = read_text_capped(path, MAX_JSON_BYTES, "tileset JSON")
    check_nesting(text, 64 + 2 * MAX_TREE_DEPTH, where)  # children arrays nest two levels per tile
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _error(where, f"malformed JSON ({exc})") from exc


def _numbers(value, count: int, where: str, name: str) -> np.ndarray:
    """A list of exactly `count` finite numbers as float64, else SceneError."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _error(where, f"'{name}' must be {count} numbers, got {value!r}") from exc
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise _error(where, f"'{name}' must be {count} finite numbers, got {value!r}")
    return array


def _tile_matrix(tile_json: dict, where: str) -> np.ndarray:
    """The tile's own `transform` (column-major 16 numbers) as a (4, 4) matrix; identity if absent."""
    if "transform" not in tile_json:
        return np.eye(4)
    return _numbers(tile_json["transform"], 16, where, "transform").reshape(4, 4).T


def _region_points_ecef(region: np.ndarray, samples: int = 5) -> np.ndarray:
    """Sample a region [west, south, east, north, minh, maxh] (radians, metres) as ECEF
    points (samples² × 2, 3), enough to bound its curved surface."""
    west, south, east, north, h0, h1 = region
    if east < west:  # crosses the antimeridian
        east += 2.0 * math.pi
    lon = np.degrees(np.linspace(west, east, samples))
    lat = np.degrees(np.linspace(south, north, samples))
    lat_g, lon_g, h_g = np.meshgrid(lat, lon, [h0, h1], indexing="ij")
    return geodetic_to_ecef(lat_g.ravel(), lon_g.ravel(), h_g.ravel())


def _volume_center_frame(volume: dict, transform: np.ndarray, where: str) -> np.ndarray:
    """Centre (3,) of a bounding volume in the tileset frame (ECEF for georeferenced sets)."""
    if not isinstance(volume, dict):
        raise _error(where, f"boundingVolume must be an object with box, region or sphere, got {volume!r:.40}")
    if "region" in volume:
        pts = _region_points_ecef(_numbers(volume["region"], 6, where, "boundingVolume.region"))
        return (pts.min(axis=0) + pts.max(axis=0)) / 2.0
    if "box" in volume:
        c = _numbers(volume["box"], 12, where, "boundingVolume.box")[:3]
    elif "sphere" in volume:
        c = _numbers(volume["sphere"], 4, where, "boundingVolume.sphere")[:3]
    else:
        raise _error(where, f"boundingVolume needs 'region', 'box' or 'sphere', got keys {sorted(volume)}")
    return transform[:3, :3] @ c + transform[:3, 3]


def _bounds(volume: dict, transform: np.ndarray, to_world: np.ndarray, where: str) -> Bounds:
    """A tile's bounding volume as world-space Bounds. Regions are geographic (not affected by
    tile transforms); boxes and spheres live in the tile's frame."""
    if not isinstance(volume, dict):
        raise _error(where, "boundingVolume is missing or not an object")
    if "region" in volume:
        pts = _region_points_ecef(_numbers(volume["region"], 6, where, "boundingVolume.region"))
        pts = pts @ to_world[:3, :3].T + to_world[:3, 3]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        half = (hi - lo) / 2.0
        return Bounds(center=lo + half, axes=np.diag(half), radius_m=float(np.linalg.norm(half)))
    m = to_world @ transform
    if "box" in volume:
        box = _numbers(volume["box"], 12, where, "boundingVolume.box")
        center = m[:3, :3] @ box[:3] + m[:3, 3]
        axes = m[:3, :3] @ box[3:].reshape(3, 3).T  # columns: the three half-axes
        return Bounds(center=center, axes=axes, radius_m=float(np.linalg.norm(axes.sum(axis=1))))
    if "sphere" in volume:
        sphere = _numbers(volume["sphere"], 4, where, "boundingVolume.sphere")
        scale = float(np.max(np.linalg.norm(m[:3, :3], axis=0)))
        return Bounds(center=m[:3, :3] @ sphere[:3] + m[:3, 3], axes=None, radius_m=abs(sphere[3]) * scale)
    raise _error(where, f"boundingVolume needs 'region', 'box' or 'sphere', got keys {sorted(volume)}")


def _content_uris(tile_json: dict, where: str) -> list[str]:
    """Content URIs of a tile: 1.1 `contents` array, 1.0 `content.uri` or pre-1.0 `content.url`."""
    items = []
    if isinstance(tile_json.get("content"), dict):
        items.append(tile_json["content"])
    if isinstance(tile_json.get("contents"), list):
        items.extend(c for c in tile_json["contents"] if isinstance(c, dict))
    uris = []
    for item in items:
        uri = item.get("uri", item.get("url"))
        if not isinstance(uri, str) or not uri:
            raise _error(where, f"content has no 'uri' string: {item!r}")
        uris.append(uri)
    return uris


@dataclass
class _ReadState:
    """Shared state while reading a tileset tree (and its external tilesets)."""

    root_dir: Path
    to_world: np.ndarray
    max_tiles: int
    copyright: list[str]
    count: int = 0
    subtrees: int = 0


def _resolve(state: _ReadState, base_dir: Path, uri: str) -> Path:
    """Resolve a content/child URI relative to the JSON file that names it, refusing any
    path that leaves the top tileset folder."""
    return _resolve_in(state.root_dir, base_dir, uri)


def _resolve_in(root_dir: Path, base_dir: Path, uri: str) -> Path:
    """`uri` (relative to `base_dir`, query and fragment dropped) inside `root_dir`, else SceneError."""
    clean = unquote(uri.split("?", 1)[0].split("#", 1)[0])
    if clean.startswith("/") or "://" in clean:
        return safe_join(root_dir, clean)
    return safe_join(root_dir, os.path.relpath(base_dir / clean.replace("\\", "/"), root_dir))


def _add_copyright(state: _ReadState, asset: dict) -> None:
    text = asset.get("copyright") if isinstance(asset, dict) else None
    if isinstance(text, str) and text.strip():
        for line in (s.strip() for s in text.split(";")):
            if line and line not in state.copyright:
                state.copyright.append(line)


def _read_tile(
    tile_json: dict,
    parent_transform: np.ndarray,
    parent_refine: str | None,
    tile_id: str,
    depth: int,
    base_dir: Path,
    state: _ReadState,
    externals: tuple[Path, ...],
) -> Tile:
    """Recursively read a tile object (and external tilesets it points to)."""
    where = f"{base_dir}: tile {tile_id}"
    if not isinstance(tile_json, dict):
        raise _error(where, "is not a JSON object")
    state.count += 1
    if state.count > state.max_tiles:
        raise _error(where, f"more than {state.max_tiles} tiles (max_tiles); refused")
    if depth > MAX_TREE_DEPTH:
        raise _error(where, f"tree deeper than {MAX_TREE_DEPTH} levels; refused")
    refine = str(tile_json.get("refine", parent_refine or "")).upper()
    if refine not in ("ADD", "REPLACE"):
        raise _error(where, f"refine is '{tile_json.get('refine')}', expected 'ADD' or 'REPLACE'")
    geometric_error = tile_json.get("geometricError")
    if not isinstance(geometric_error, (int, float)) or not 0 <= geometric_error < math.inf:
        raise _error(where, f"geometricError is {geometric_error!r}, expected a number ≥ 0")
    transform = parent_transform @ _tile_matrix(tile_json, where)
    tile = Tile(
        id=tile_id,
        geometric_error=float(geometric_error),
        refine=refine,
        transform=transform,
        bounds=_bounds(tile_json.get("boundingVolume"), transform, state.to_world, where),
        depth=depth,
    )
    if "viewerRequestVolume" in tile_json:
        tile.request_volume = _bounds(tile_json["viewerRequestVolume"], transform, state.to_world,
                                      f"{where}: viewerRequestVolume")
    if "implicitTiling" in tile_json:
        _read_implicit(tile, tile_json, base_dir, state, externals)
        return tile
    _add_contents(tile, _content_uris(tile_json, where), base_dir, state, externals)
    children = tile_json.get("children", [])
    if not isinstance(children, list):
        raise _error(where, "'children' must be a list")
    for i, child in enumerate(children):
        tile.children.append(
            _read_tile(child, transform, refine, f"{tile_id}/{i}", depth + 1, base_dir, state, externals)
        )
    return tile


def _add_contents(tile: Tile, uris: list[str], base_dir: Path, state: _ReadState, externals: tuple) -> None:
    """Resolve a tile's content URIs: external tilesets (.json) become child tiles, the rest contents."""
    for uri in uris:
        content = _resolve(state, base_dir, uri)
        if content.suffix.lower() == ".json":
            tile.children.append(
                _read_external(content, tile.transform, tile.refine, f"{tile.id}/ext", tile.depth + 1, state, externals)
            )
        else:
            tile.contents.append(content)


def _read_implicit(root: Tile, tile_json: dict, base_dir: Path, state: _ReadState, externals: tuple) -> None:
    """Make an `implicitTiling` root into explicit Tiles: the root subtree now, each child subtree
    when the selection first opens the tile above it (`Tile.open_children`); only tiles the
    subtree files mark available, with content only where content is available (tiles_implicit)."""
    where = f"{base_dir}: tile {root.id} implicitTiling"
    spec = ImplicitSpec.parse(tile_json, _content_uris(tile_json, where), where)
    if spec.available_levels > MAX_TREE_DEPTH:
        raise _error(where, f"availableLevels {spec.available_levels} is deeper than {MAX_TREE_DEPTH}; refused")
    by_key: dict[tuple, Tile] = {}

    def load(key: tuple[int, int, int, int]) -> None:
        state.subtrees += 1
        if state.subtrees > MAX_SUBTREES:
            raise _error(where, f"more than {MAX_SUBTREES} subtree files; refused")
        tiles, child_roots = subtree_tiles(tile_json, spec, key, base_dir, lambda base, uri: _resolve(state, base, uri),
                                           state.max_tiles - state.count + 1, where)
        for item in tiles:
            if item.level == 0:
                by_key[item.key] = root
            else:
                _implicit_child(root, item, by_key, spec.dims, state, where)
                state.count += 1
            _add_contents(by_key[item.key], item.content_uris, base_dir, state, externals)
        if state.count > state.max_tiles:
            raise _error(where, f"more than {state.max_tiles} tiles (max_tiles); refused")
        pending: dict[tuple, list] = {}
        for child in child_roots:
            pending.setdefault((child[0] - 1, child[1] >> 1, child[2] >> 1, child[3] >> 1), []).append(child)
        for parent_key, keys in pending.items():
            parent = by_key.get(parent_key)
            if parent is None:
                raise _error(where, f"child subtree {keys[0]} is available but tile {parent_key} above it is not")

            def expand(keys=keys) -> None:
                for k in keys:
                    load(k)

            parent.expand = expand

    load((0, 0, 0, 0))


def _implicit_child(root: Tile, item, by_key: dict, dims: int, state: _ReadState, where: str) -> None:
    """One available implicit tile (not the root) as a Tile under its parent."""
    parent = by_key.get(item.parent_key)
    if parent is None:
        raise _error(where, f"tile {item.key} is available but its parent is not")
    tile = Tile(
        id=f"{root.id}/L{item.level}/{item.x}/{item.y}" + (f"/{item.z}" if dims == 3 else ""),
        geometric_error=item.geometric_error, refine=root.refine, transform=root.transform,
        bounds=_bounds(item.volume, root.transform, state.to_world, where), depth=root.depth + item.level,
    )
    parent.children.append(tile)
    by_key[item.key] = tile


def _read_external(
    path: Path,
    transform: np.ndarray,
    refine: str,
    tile_id: str,
    depth: int,
    state: _ReadState,
    externals: tuple,
) -> Tile:
    """An external tileset named as content: its root becomes a child of the referring tile."""
    if path in externals or len(externals) >= MAX_EXTERNAL_DEPTH:
        raise _error(str(path), f"external tilesets nest more than {MAX_EXTERNAL_DEPTH} deep or form a cycle")
    data = _read_json(path, str(path))
    _check_version(data, str(path))
    _add_copyright(state, data.get("asset", {}))
    root = data.get("root")
    return _read_tile(root, transform, refine, tile_id, depth, path.parent, state, externals + (path,))


def _check_version(data: dict, where: str) -> None:
    asset = data.get("asset") if isinstance(data, dict) else None
    version = asset.get("version") if isinstance(asset, dict) else None
    if str(version) not in SUPPORTED_VERSIONS:
        raise _error(where, f"asset.version is {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}")
    if not isinstance(data.get("root"), dict):
        raise _error(where, "has no 'root' tile object")


def read_tileset(
    path: str | Path, origin_latlon: tuple[float, float] | None = None, max_tiles: int = 5000
) -> Tileset:
    """Parse a local tileset.json (and external tilesets) into a Tileset whose tile bounds are
    in world metres (ENU around `origin_latlon`, default the root volume's centre)."""
    path = Path(path)
    where = str(path)
    data = _read_json(path, where)
    _check_version(data, where)
    asset = data["asset"]
    root_json = data["root"]
    root_transform = _tile_matrix(root_json, f"{where}: root")
    center = _volume_center_frame(root_json.get("boundingVolume") or {}, root_transform, f"{where}: root")
    radius = float(np.linalg.norm(center))
    georeferenced = "region" in (root_json.get("boundingVolume") or {}) or (
        _ECEF_MIN_RADIUS_M < radius < _ECEF_MAX_RADIUS_M
    )
    if georeferenced:
        if origin_latlon is None:
            lat, lon, _ = ecef_to_geodetic(center)
            origin_latlon = (float(lat), float(lon))
        to_world = EnuFrame(float(origin_latlon[0]), float(origin_latlon[1]), 0.0).ecef_to_enu_matrix()
    else:  # a local, already Z-up metric tileset
        to_world = np.eye(4)
        origin_latlon = tuple(origin_latlon) if origin_latlon is not None else Scene().origin_latlon
    up = str(asset.get("gltfUpAxis", "Y")).upper()
    if up not in ("Y", "Z"):
        raise _error(where, f"asset.gltfUpAxis is '{up}'; supported: 'Y', 'Z'")
    state = _ReadState(root_dir=path.parent.resolve(), to_world=to_world, max_tiles=max_tiles, copyright=[])
    _add_copyright(state, asset)
    root = _read_tile(root_json, np.eye(4), None, "root", 0, path.parent.resolve(), state, (path.resolve(),))
    geometric_error = data.get("geometricError", root.geometric_error)
    return Tileset(
        path=path,
        root=root,
        to_world=to_world,
        origin_latlon=(float(origin_latlon[0]), float(origin_latlon[1])),
        geometric_error=float(geometric_error)
        if isinstance(geometric_error, (int, float))
        else root.geometric_error,
        copyright=state.copyright,
        gltf_up_axis=up,
        georeferenced=georeferenced,
        tile_count=state.count,
    )


def screen_space_error_px(
    geometric_error_m: float, distance_m: float, fov_y_deg: float, height_px: int
) -> float:
    """Projected size in pixels of a geometric error at a distance for a perspective camera."""
    if distance_m <= 1e-9:
        return math.inf
    return geometric_error_m * height_px / (2.0 * distance_m * math.tan(math.radians(fov_y_deg) / 2.0))


def _select_for_camera(tile: Tile, camera, max_sse_px: float, selected: dict, refined: set,
                       outside: set) -> None:
    """Depth-first SSE refinement for one camera: a tile refines when its screen-space error
    exceeds `max_sse_px` (or it has no content of its own) and it has children. A tile with a
    viewerRequestVolume the camera is not inside is left out with its subtree (ids in `outside`)."""
    position, fov_y_deg, height_px = camera
    if tile.request_volume is not None and tile.request_volume.distance_m(position) > 0.0:
        outside.add(tile.id)
        return
    sse = screen_space_error_px(tile.geometric_error, tile.bounds.distance_m(position), fov_y_deg, height_px)
    if sse > max_sse_px or not tile.contents:
        tile.open_children()
    wants_refine = tile.children and (sse > max_sse_px or not tile.contents)
    if not wants_refine:
        if tile.contents:
            selected[tile.id] = tile
        return
    refined.add(tile.id)
    if tile.refine == "ADD" and tile.contents:
        selected[tile.id] = tile
    for child in tile.children:
        _select_for_camera(child, camera, max_sse_px, selected, refined, outside)


def select_tiles(tileset: Tileset, cameras, max_sse_px: float = 16.0, outside: set | None = None) -> list[Tile]:
    """Tiles with content that the cameras need, each camera given as
    (position_world (3,) m, fov_y_deg, height_px); the union over cameras.

    A REPLACE tile that some camera refines is dropped from the union: its children cover it
    at finer detail, and drawing both would overlap. With no cameras, the coarsest tiles that
    have content are returned. `outside`, when given, receives the ids of tiles that no camera
    was inside the viewerRequestVolume of."""
    selected: dict[str, Tile] = {}
    refined: set[str] = set()
    away: set[str] = set()
    cams = list(cameras) if cameras is not None else []
    if not cams:
        cams = [(np.full(3, 1e12), 60.0, 1)]  # so far away that nothing refines by error
    for position, fov_y_deg, height_px in cams:
        camera = (np.asarray(position, dtype=np.float64).reshape(3), float(fov_y_deg), int(height_px))
        _select_for_camera(tileset.root, camera, float(max_sse_px), selected, refined, away)
    if outside is not None:
        outside.update(away - set(selected) - refined)
    return [t for t in selected.values() if not (t.refine == "REPLACE" and t.id in refined)]


def write_b3dm(glb: bytes, feature_table: dict | None = None, batch_table: dict | None = None) -> bytes:
    """Pack a GLB into a Batched 3D Model: 28-byte header, JSON tables padded with spaces to
    8-byte boundaries, then the GLB padded with zeros to an 8-byte boundary."""

    def padded_json(obj: dict | None, start: int) -> bytes:
        if obj is None:
            return b""
        raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        return raw + b" " * ((8 - (start + len(raw)) % 8) % 8)

    ft = padded_json(feature_table if feature_table is not None else {"BATCH_LENGTH": 0}, B3DM_HEADER_BYTES)
    bt = padded_json(batch_table, B3DM_HEADER_BYTES + len(ft))
    body = glb + b"\0" * ((8 - len(glb) % 8) % 8)
    total = B3DM_HEADER_BYTES + len(ft) + len(bt) + len(body)
    header = struct.pack("<4sIIIIII", b"b3dm", 1, total, len(ft), 0, len(bt), 0)
    return header + ft + bt + body


def parse_b3dm(data: bytes, where: str) -> tuple[bytes, dict, np.ndarray | None]:
    """Split a b3dm blob into (glb bytes, feature table JSON, RTC_CENTER (3,) or None),
    refusing headers whose lengths do not add up exactly to the blob."""
    if len(data) < B3DM_HEADER_BYTES:
        raise _error(where, f"b3dm is {len(data)} bytes, shorter than its {B3DM_HEADER_BYTES}-byte header")
    magic, version, byte_length, ft_json, ft_bin, bt_json, bt_bin = struct.unpack_from("<4sIIIIII", data, 0)
    if magic != b"b3dm" or version != 1:
        raise _error(where, f"b3dm header has magic {magic!r} version {version}; expected b'b3dm' version 1")
    if byte_length != len(data):
        raise _error(where, f"b3dm byteLength is {byte_length} but the file has {len(data)} bytes")
    glb_start = B3DM_HEADER_BYTES + ft_json + ft_bin + bt_json + bt_bin
    if glb_start + 20 > byte_length:
        raise _error(
            where,
            f"b3dm table lengths ({ft_json}+{ft_bin}+{bt_json}+{bt_bin}) leave no room for the glTF "
            f"in {byte_length} bytes",
        )
    glb = data[glb_start:]
    glb_length = struct.unpack_from("<I", glb, 8)[0] if glb[:4] == b"glTF" else -1
    if glb_length < 0 or glb_length > len(glb) or len(glb) - glb_length >= 8:
        raise _error(
            where,
            f"b3dm lengths do not add up: the glTF should fill the last {len(glb)} bytes "
            f"(after {glb_start} bytes of header and tables) but its header says {glb_length}",
        )
    feature_table = table_json(data[B3DM_HEADER_BYTES:B3DM_HEADER_BYTES + ft_json], where, "b3dm feature table")
    rtc = feature_table.get("RTC_CENTER") if isinstance(feature_table, dict) else None
    rtc_center = None
    if isinstance(rtc, list):
        rtc_center = _numbers(rtc, 3, where, "RTC_CENTER")
    elif isinstance(rtc, dict):
        offset = rtc.get("byteOffset", 0)
        binary = data[B3DM_HEADER_BYTES + ft_json : B3DM_HEADER_BYTES + ft_json + ft_bin]
        if not isinstance(offset, int) or offset < 0 or offset + 12 > len(binary):
            raise _error(where, f"RTC_CENTER byteOffset {offset!r} is outside the feature table binary")
        rtc_center = np.frombuffer(binary, dtype="<f4", count=3, offset=offset).astype(np.float64)
    return glb[:glb_length], feature_table, rtc_center


def _content_matrix(tileset: Tileset, tile: Tile, rtc_center: np.ndarray | None) -> np.ndarray:
    """glTF node space → world: ENU @ tile transform @ RTC translation @ (Y-up → Z-up)."""
    rtc = np.eye(4)
    if rtc_center is not None:
        rtc[:3, 3] = rtc_center
    up = Y_UP_TO_Z_UP if tileset.gltf_up_axis == "Y" else np.eye(4)
    return tileset.to_world @ tile.transform @ rtc @ up


def _gltf_rtc(gltf: dict) -> np.ndarray | None:
    """CESIUM_RTC extension centre (3,) from glTF JSON, if present."""
    ext = (gltf.get("extensions") or {}).get("CESIUM_RTC") if isinstance(gltf, dict) else None
    if isinstance(ext, dict) and "center" in ext:
        return _numbers(ext["center"], 3, "glTF", "CESIUM_RTC.center")
    return None


@dataclass
class _Loader:
    """What load_tiles accumulates while reading content: meshes, point clouds, the report."""

    tileset: Tileset
    root_dir: Path
    textures: dict
    copyright: list
    report: LoadReport
    max_triangles: int
    max_points: int
    meshes: list = field(default_factory=list)
    clouds: list = field(default_factory=list)
    triangles: int = 0
    points: int = 0

    def add_points(self, positions_m: np.ndarray, colors: np.ndarray, alpha: np.ndarray, where: str) -> None:
        if self.points + len(positions_m) > self.max_points:
            raise _error(where, f"over {self.max_points} points in the selected tiles (max_points); refused")
        if len(positions_m):
            self.clouds.append(points_to_gaussians(positions_m, colors, alpha))
            self.points += len(positions_m)
            self.report.add("splats", len(positions_m))

    def add_meshes(self, meshes: list[Mesh]) -> None:
        self.meshes.extend(meshes)
        n = sum(m.triangle_count for m in meshes)
        self.triangles += n
        if n:
            self.report.add("triangles", n)


def _collect_copyright(gltf: dict, copyright: list) -> None:
    asset = gltf.get("asset", {}) if isinstance(gltf, dict) else {}
    text = asset.get("copyright") if isinstance(asset, dict) else None
    if isinstance(text, str):
        for line in (s.strip() for s in text.split(";")):
            if line and line not in copyright:
                copyright.append(line)


def _gltf_points(ld: _Loader, tm_scene, matrix: np.ndarray, where: str) -> int:
    """glTF POINTS primitives (trimesh PointClouds) → splats; returns how many points."""
    count = 0
    for node in tm_scene.graph.nodes_geometry:
        node_matrix, geom_name = tm_scene.graph[node]
        geom = tm_scene.geometry[geom_name]
        if getattr(geom, "faces", None) is not None or not len(getattr(geom, "vertices", ())):
            continue
        m = matrix @ np.asarray(node_matrix, np.float64)
        pts = np.asarray(geom.vertices, np.float64) @ m[:3, :3].T + m[:3, 3]
        raw = getattr(geom, "colors", None)
        colors, alpha = np.full((len(pts), 3), 0.7), np.ones(len(pts))
        if raw is not None and len(raw) == len(pts):
            rgba = np.asarray(raw, np.float64) / 255.0
            colors, alpha = rgba[:, :3], (rgba[:, 3] if rgba.shape[1] > 3 else alpha)
        ld.add_points(pts, colors, alpha, where)
        count += len(pts)
    return count


def _instanced(local: list[Mesh], base: np.ndarray, instances: np.ndarray) -> list[Mesh]:
    """Each mesh (in the instance frame) repeated once per instance matrix (N, 4, 4), placed by
    `base` @ instance: one Mesh per source mesh holding all N copies."""
    mats = base[None] @ instances
    normal_mats = np.linalg.inv(mats[:, :3, :3]).transpose(0, 2, 1)
    flip = np.linalg.det(mats[:, :3, :3]) < 0
    out = []
    for mesh in local:
        v = len(mesh.positions)
        pos = np.einsum("nij,vj->nvi", mats[:, :3, :3], mesh.positions.astype(np.float64)) + mats[:, None, :3, 3]
        nrm = np.einsum("nij,vj->nvi", normal_mats, mesh.normals.astype(np.float64))
        nrm /= np.maximum(np.linalg.norm(nrm, axis=2, keepdims=True), 1e-12)
        idx = np.repeat(mesh.indices[None].astype(np.int64), len(mats), axis=0)
        idx[flip] = idx[flip][:, :, ::-1]
        idx += (np.arange(len(mats)) * v)[:, None, None]

        def tile(a, n=len(mats)):
            return None if a is None else np.tile(a, (n,) + (1,) * (a.ndim - 1))

        out.append(Mesh(
            positions=pos.reshape(-1, 3).astype(np.float32), normals=nrm.reshape(-1, 3).astype(np.float32),
            uvs=tile(mesh.uvs), indices=idx.reshape(-1, 3).astype(np.uint32), material=mesh.material,
            colors=tile(mesh.colors), variation=tile(mesh.variation),
        ))
    return out


def _load_gltf(ld: _Loader, tile: Tile, source, file_type: str, rtc_center, where: str, kind: str,
               instances: np.ndarray | None = None) -> None:
    """One glTF (GLB bytes or a .gltf path) → meshes and point splats, placed by the tile (and
    repeated per instance when `instances` (N, 4, 4) is given)."""
    if isinstance(source, (bytes, bytearray)):
        gltf = glb_json(bytes(source), where)
    else:
        raw = read_capped(source, MAX_CONTENT_BYTES, "tile content")
        check_nesting(raw, 64, where)
        try:
            gltf = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _error(where, f"tile content JSON is malformed ({exc})") from exc
    _collect_copyright(gltf, ld.copyright)
    gltf_rtc = _gltf_rtc(gltf)
    if gltf_rtc is not None:
        rtc_center = gltf_rtc if rtc_center is None else rtc_center + gltf_rtc
    tm_scene = load_trimesh_scene(source, file_type, where, ld.report)
    up = Y_UP_TO_Z_UP if ld.tileset.gltf_up_axis == "Y" else np.eye(4)
    base = _content_matrix(ld.tileset, tile, rtc_center) @ np.linalg.inv(up)
    copies = 1 if instances is None else len(instances)
    budget = (ld.max_triangles - ld.triangles) // max(copies, 1)
    try:  # trimesh decodes lazily: corrupt indices or images surface only here
        prefix = f"{tile.id}:{Path(where).name}:"
        if instances is None:
            meshes = trimesh_scene_to_meshes(tm_scene, base @ up, ld.textures, prefix=prefix,
                                             max_triangles=budget, source=where)
            points = _gltf_points(ld, tm_scene, base @ up, where)
        else:
            local = trimesh_scene_to_meshes(tm_scene, up, ld.textures, prefix=prefix,
                                            max_triangles=budget, source=f"{where} ({copies} instances)")
            meshes, points = _instanced(local, base, instances), 0
    except (SceneError, MemoryError):
        raise
    except Exception as exc:
        raise _error(where, f"corrupt tile content ({type(exc).__name__}: {exc})") from exc
    ld.add_meshes(meshes)
    if meshes or points:
        ld.report.add(kind)
    else:
        ld.report.skip(kind, "no triangles or points in the glTF")


def _instance_enu(ld: _Loader, tile: Tile, matrices: np.ndarray) -> np.ndarray:
    """EAST_NORTH_UP instances: each rotated to the local east-north-up frame at its position."""
    out = matrices.copy()
    frame_inv = np.linalg.inv(tile.transform[:3, :3])
    for i, m in enumerate(matrices):
        ecef = tile.transform[:3, :3] @ m[:3, 3] + tile.transform[:3, 3]
        lat, lon, _ = ecef_to_geodetic(ecef)
        out[i, :3, :3] = frame_inv @ enu_rotation(float(lat), float(lon)).T @ m[:3, :3]
    return out


def _load_i3dm(ld: _Loader, tile: Tile, data: bytes, path: Path, where: str) -> None:
    inst = parse_i3dm(data, where)
    matrices = inst.matrices
    if inst.east_north_up and ld.tileset.georeferenced:
        matrices = _instance_enu(ld, tile, matrices)
    ld.report.add("instances", len(matrices))
    if inst.gltf is not None:
        _load_gltf(ld, tile, inst.gltf, "glb", None, where, "i3dm tiles", matrices)
        return
    model = _resolve_in(ld.root_dir, path.parent, inst.uri)
    if not model.is_file():
        ld.report.skip("i3dm tiles", f"glTF '{inst.uri}' not found")
        return
    file_type = "glb" if read_capped(model, MAX_CONTENT_BYTES, "i3dm glTF")[:4] == b"glTF" else "gltf"
    source = read_capped(model, MAX_CONTENT_BYTES, "i3dm glTF") if file_type == "glb" else model
    _load_gltf(ld, tile, source, file_type, None, f"{where} → {model.name}", "i3dm tiles", matrices)


def _load_pnts(ld: _Loader, tile: Tile, data: bytes, where: str) -> None:
    points = parse_pnts(data, where)
    m = ld.tileset.to_world @ tile.transform
    ld.add_points(points.positions @ m[:3, :3].T + m[:3, 3], points.colors, points.alpha, where)
    if len(points.positions):
        ld.report.add("pnts tiles")
    else:
        ld.report.skip("pnts tiles", "no points")


def _load_blob(ld: _Loader, tile: Tile, data: bytes, path: Path, where: str, depth: int = 0) -> None:
    """Dispatch one tile content blob on its magic: b3dm, i3dm, pnts, cmpt (recursively), GLB,
    glTF JSON; anything else is counted as skipped in the report."""
    magic = data[:4]
    if magic == b"b3dm":
        glb, _, rtc_center = parse_b3dm(data, where)
        _load_gltf(ld, tile, glb, "glb", rtc_center, where, "b3dm tiles")
    elif magic == b"i3dm":
        _load_i3dm(ld, tile, data, path, where)
    elif magic == b"pnts":
        _load_pnts(ld, tile, data, where)
    elif magic == b"cmpt":
        if depth >= MAX_CMPT_DEPTH:
            raise _error(where, f"composite tiles nest more than {MAX_CMPT_DEPTH} deep; refused")
        for i, inner in enumerate(parse_cmpt(data, where)):
            _load_blob(ld, tile, inner, path, f"{where}[{i}]", depth + 1)
        ld.report.add("cmpt tiles")
    elif magic == b"glTF":
        _load_gltf(ld, tile, data, "glb", None, where, "glb tiles")
    elif data.lstrip()[:1] == b"{" and depth == 0:
        _load_gltf(ld, tile, path, "gltf", None, where, "gltf tiles")
    elif magic in (b"vctr", b"geom"):
        ld.report.skip(f"{magic.decode()} tiles", "vector and geometry tiles are not supported")
    else:
        ld.report.skip("tile contents", f"unknown format (first bytes {magic!r})")


def _load_file(ld: _Loader, tile: Tile, path: Path) -> None:
    """One content file; a missing file is counted in the report (real tilesets lose files)."""
    if not path.exists():
        ld.report.skip("tile contents", "file missing")
        return
    _load_blob(ld, tile, read_capped(path, MAX_CONTENT_BYTES, "tile content"), path, str(path))


def _count_tiles(root: Tile) -> int:
    count, stack = 0, [root]
    while stack:
        tile = stack.pop()
        count += 1
        stack.extend(tile.children)
    return count


def _nothing_drawable(path, tiles: list[Tile], report: LoadReport) -> SceneError:
    skipped = "; ".join(f"{n} {kind} ({reason})" for (kind, reason), n in sorted(report.skipped.items()))
    return SceneError(
        f"{path}: nothing drawable in the {len(tiles)} tile(s) the cameras need"
        + (f": skipped {skipped}" if skipped else ": they have no content")
    )


def load_tiles(
    path: str | Path,
    cameras=None,
    origin_latlon: tuple[float, float] | None = None,
    max_sse_px: float = 16.0,
    max_tiles: int = 5000,
    max_triangles: int = 5_000_000,
    max_points: int = MAX_POINTS,
) -> Scene:
    """Read a local 3D Tiles tileset into a Scene holding only the tiles `cameras` need
    (see `select_tiles`); world metres in the ENU frame around the tileset centre or
    `origin_latlon`. Meshes from b3dm/i3dm/glTF, point clouds (pnts, glTF POINTS) as small
    Gaussians; what was loaded and skipped is in Scene.report. Nothing drawable is a SceneError."""
    tileset = read_tileset(path, origin_latlon=origin_latlon, max_tiles=max_tiles)
    outside: set[str] = set()
    tiles = select_tiles(tileset, cameras, max_sse_px=max_sse_px, outside=outside)
    report = LoadReport(source=str(path))
    if outside:
        report.skip("tiles", "no camera inside their viewerRequestVolume", len(outside))
    ld = _Loader(tileset, Path(path).parent.resolve(), {}, list(tileset.copyright), report,
                 max_triangles, max_points)
    for tile in tiles:
        for content in tile.contents:
            _load_file(ld, tile, content)
    if not ld.meshes and not ld.clouds:
        raise _nothing_drawable(path, tiles, report)
    clouds = [GaussianCloud.concatenate(ld.clouds)] if ld.clouds else []
    lo, hi = (np.array(b) for b in scene_bounds(ld.meshes))
    if clouds:
        pts_lo, pts_hi = clouds[0].means.min(axis=0), clouds[0].means.max(axis=0)
        lo, hi = (pts_lo, pts_hi) if not ld.meshes else (np.minimum(lo, pts_lo), np.maximum(hi, pts_hi))
    return Scene(
        meshes=ld.meshes,
        textures=ld.textures,
        gaussians=clouds,
        origin_latlon=tileset.origin_latlon,
        bounds_m=(tuple(float(v) for v in lo), tuple(float(v) for v in hi)),
        copyright=ld.copyright,
        style="tiles",
        report=report,
        stats={
            "source": str(path),
            "tiles_total": _count_tiles(tileset.root),  # implicit subtrees read so far included
            "tiles_selected": [t.id for t in tiles],
            "contents_skipped": sum(report.skipped.values()),
            "triangles": ld.triangles,
            "splats": ld.points,
        },
    )
