"""OsmData -> Scene: buildings, streets, sidewalks, walk network, areas, trees and lamps.

`read.read_osm` fills an `OsmData`; `build_scene` turns it into a Scene in the local ENU frame
around the extract's centre (the `<bounds>` centre when present, else the centre of the nodes'
bounding box).

Street widths (metres, carriageway) come from `width`, else `lanes` x 3.25, else
HIGHWAY_WIDTH_M by class. Sidewalks: `sidewalk=both|left|right|no` (and `sidewalk:left/right/
both=yes|no`), width `sidewalk:width` else 2 m; no tag means no sidewalk. People walk on
footway/path/pedestrian/steps centre lines, on sidewalk centres, and otherwise 0.75 m inside
the carriageway edge (not on motorways/trunks, or where `foot=no`). Walk lines meet at
shared OSM nodes through 'crossing' edges. Scene.streets lists carriageways only; footways and
paths are drawn as paving strips and belong to the walk network. Sidewalks stop at the kerb of
crossing roads. highway=street_lamp nodes become PointLights; natural=tree nodes procedural
trees (trunk cylinder + ellipsoid crown, `height` tag else 6-10 m).

Heights: ground z = 0 (roads at z = 0.0, sidewalks raised SIDEWALK_HEIGHT_M, areas and the
ground plane slightly below 0 so nothing z-fights). Building rules live in `buildings.py`;
an outline that contains a building:part (the part's vertex mean lies inside it), or that is
the `outline` member of a type=building relation, is not drawn: its parts replace it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError
from citywalk.scene import FACADE, FOLIAGE, PLAIN, ROAD, Material, Mesh, PointLight, Scene, Street, WalkNetwork
from citywalk.scene.report import LoadReport
from citywalk.sources import buildings as bld
from citywalk.sources.geo import EnuFrame
from citywalk.sources.geometry import (
    MeshBuilder,
    flat_polygon_mesh,
    kerb_mesh,
    offset_polyline,
    strip_mesh,
    trim_polyline,
)
from citywalk.sources.procedural import props
from citywalk.sources.procedural.plan_props import tree_branches

from .read import OsmData, OsmLimits, read_osm

SIDEWALK_HEIGHT_M = 0.12
DEFAULT_SIDEWALK_WIDTH_M = 2.0
LANE_WIDTH_M = 3.25
STREET_EDGE_INSET_M = 0.75
MAX_CROSSING_M = 40.0
MAX_NOTES = 200

# Carriageway (or path) width by highway class, metres.
HIGHWAY_WIDTH_M = {
    "motorway": 11.0, "trunk": 10.0, "primary": 9.0, "secondary": 8.0, "tertiary": 7.0,
    "motorway_link": 5.0, "trunk_link": 5.0, "primary_link": 5.0, "secondary_link": 5.0, "tertiary_link": 5.0,
    "unclassified": 6.0, "residential": 6.0, "living_street": 5.0, "service": 4.0, "road": 6.0, "track": 3.0,
    "busway": 4.0, "pedestrian": 5.0, "footway": 2.0, "path": 1.5, "cycleway": 2.0, "steps": 2.0,
    "bridleway": 2.0, "corridor": 2.0,
}
MAIN_CLASSES = {"motorway", "trunk", "primary", "secondary", "tertiary"}
FOOT_CLASSES = {"pedestrian", "footway", "path", "cycleway", "steps", "bridleway", "corridor"}
NO_FOOT_CLASSES = {"motorway", "motorway_link", "trunk", "trunk_link"}
GREEN_TAGS = {
    "landuse": {"grass", "meadow", "village_green", "recreation_ground", "forest", "cemetery"},
    "leisure": {"park", "garden", "playground", "pitch"},
    "natural": {"grassland", "wood", "scrub", "heath"},
}
WATER_TAGS = {"natural": {"water"}, "waterway": {"riverbank", "dock"}, "landuse": {"reservoir", "basin"}}


# ---------------------------------------------------------------- style dressing (placeholder palette)

_PALETTES = {
    # facade albedos (linear), roof albedo, bay width m
    "default": (
        [(0.55, 0.52, 0.48), (0.62, 0.58, 0.50), (0.45, 0.40, 0.36), (0.70, 0.68, 0.64)],
        (0.30, 0.29, 0.28),
        3.0,
    ),
    "tokyo": (
        [(0.70, 0.67, 0.60), (0.58, 0.55, 0.50), (0.49, 0.46, 0.41), (0.78, 0.75, 0.68), (0.40, 0.42, 0.43)],
        (0.35, 0.35, 0.36),
        2.4,
    ),
    "paris": ([(0.80, 0.74, 0.62), (0.74, 0.68, 0.56), (0.84, 0.79, 0.68)], (0.40, 0.44, 0.48), 2.8),
    "new_york": (
        [(0.42, 0.20, 0.14), (0.52, 0.28, 0.19), (0.60, 0.56, 0.50), (0.33, 0.32, 0.31)],
        (0.25, 0.24, 0.24),
        3.0,
    ),
}


def _palette(style: str | None):
    return _PALETTES.get((style or "default").lower().replace("-", "_"), _PALETTES["default"])


def facade_material_for(style: str | None, rng: np.random.Generator) -> Material:
    """Pick one facade material of a style's palette (few distinct materials so meshes group).
    Placeholder until the style system provides facade choices; unknown styles use 'default'."""
    facades, _, _ = _palette(style)
    i = int(rng.integers(len(facades)))
    return Material(name=f"osm_facade_{style or 'default'}_{i}", albedo=facades[i], roughness=0.85, kind=FACADE)


def roof_material_for(style: str | None) -> Material:
    """The roof material of a style (PLAIN)."""
    return Material(name=f"osm_roof_{style or 'default'}", albedo=_palette(style)[1], roughness=0.9, kind=PLAIN)


def bay_width_for(style: str | None) -> float:
    """Nominal window bay width (m) of a style; each wall gets a whole number of bays."""
    return _palette(style)[2]


ROAD_MATERIAL = Material("osm_road", albedo=(0.09, 0.09, 0.10), roughness=0.9, kind=ROAD)
SIDEWALK_MATERIAL = Material("osm_sidewalk", albedo=(0.42, 0.41, 0.39), roughness=0.9, kind=PLAIN)
PAVING_MATERIAL = Material("osm_paving", albedo=(0.48, 0.46, 0.42), roughness=0.9, kind=PLAIN)
GREEN_MATERIAL = Material("osm_grass", albedo=(0.16, 0.30, 0.10), roughness=0.95, kind=PLAIN)
WATER_MATERIAL = Material("osm_water", albedo=(0.05, 0.10, 0.14), roughness=0.1, kind=PLAIN)
GROUND_MATERIAL = Material("osm_ground", albedo=(0.30, 0.29, 0.27), roughness=0.95, kind=PLAIN)
TRUNK_MATERIAL = Material("osm_tree_trunk", albedo=(0.20, 0.14, 0.09), roughness=0.9, kind=PLAIN)
CROWN_MATERIAL = Material("osm_tree_crown", albedo=(1.0, 1.0, 1.0), roughness=0.85, texture="leaves", kind=FOLIAGE)
CROWN_TINT = (0.10, 0.24, 0.07)  # linear leaf colour of mapped trees (multiplies the leaf texture)
Z_GROUND_M, Z_WATER_M, Z_GREEN_M, Z_PAVING_M, Z_ROAD_M = -0.05, -0.03, -0.02, -0.01, 0.0


# ---------------------------------------------------------------- geometry helpers


class _Projector:
    """Node ids -> local ENU xy (metres), with the ENU frame chosen from the data."""

    def __init__(self, data: OsmData):
        self.ids = data.node_ids
        if data.bounds_latlon:
            b = data.bounds_latlon
            lat0, lon0 = 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])
        elif len(data.node_lonlat):
            lo, hi = data.node_lonlat.min(axis=0), data.node_lonlat.max(axis=0)
            lat0, lon0 = 0.5 * (lo[1] + hi[1]), 0.5 * (lo[0] + hi[0])
        else:
            lat0, lon0 = 0.0, 0.0
        self.frame = EnuFrame(float(lat0), float(lon0))
        if len(data.node_lonlat):
            enu = self.frame.from_geodetic(data.node_lonlat[:, 1], data.node_lonlat[:, 0], 0.0)
            self.xy = enu[:, :2]
        else:
            self.xy = np.zeros((0, 2))

    def lookup(self, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K,) node ids -> (xy (K, 2) for found nodes, found mask (K,))."""
        if not len(self.ids):
            return np.zeros((0, 2)), np.zeros(len(refs), bool)
        idx = np.searchsorted(self.ids, refs)
        idx_c = np.minimum(idx, len(self.ids) - 1)
        found = self.ids[idx_c] == refs
        return self.xy[idx_c[found]], found

    def point(self, node_id: int) -> np.ndarray | None:
        xy, ok = self.lookup(np.array([node_id], np.int64))
        return xy[0] if ok[0] else None


def assemble_rings(member_refs: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Join way node-id sequences into closed rings by matching end nodes.

    Returns (closed rings as id arrays with first == last, number of pieces left open)."""
    closed, pieces = [], []
    for r in member_refs:
        if len(r) < 2:
            continue
        (closed if r[0] == r[-1] else pieces).append(list(r))
    unclosed = 0
    while pieces:
        cur = pieces.pop()
        grew = True
        while cur[0] != cur[-1] and grew:
            grew = False
            for i, o in enumerate(pieces):
                if o[0] == cur[-1]:
                    cur = cur + o[1:]
                elif o[-1] == cur[-1]:
                    cur = cur + o[::-1][1:]
                elif o[-1] == cur[0]:
                    cur = o + cur[1:]
                elif o[0] == cur[0]:
                    cur = o[::-1] + cur[1:]
                else:
                    continue
                pieces.pop(i)
                grew = True
                break
        if cur[0] == cur[-1] and len(cur) >= 4:
            closed.append(cur)
        else:
            unclosed += 1
    return [np.asarray(c, np.int64) for c in closed], unclosed


def _polygons_of_multipolygon(members, ways, proj: _Projector, notes: list[str], label: str):
    """A multipolygon relation -> [(outer (K, 2), [holes])] in metres."""
    outer_refs, inner_refs = [], []
    for typ, ref, role in members:
        if typ != "w" or ref not in ways:
            continue
        (inner_refs if role == "inner" else outer_refs).append(ways[ref][0])
    outers, open_o = assemble_rings(outer_refs)
    inners, open_i = assemble_rings(inner_refs)
    if open_o or open_i:
        notes.append(f"{label}: {open_o + open_i} ring(s) not closed (members missing from the extract?), skipped")
    polys = []
    outer_xy = []
    for r in outers:
        xy, ok = proj.lookup(r)
        if ok.all():
            outer_xy.append(xy)
    holes: list[list[np.ndarray]] = [[] for _ in outer_xy]
    for r in inners:
        xy, ok = proj.lookup(r)
        if not ok.all():
            continue
        for i, o in enumerate(outer_xy):
            if bld.points_in_ring(xy[:1], o)[0]:
                holes[i].append(xy)
                break
    for o, h in zip(outer_xy, holes):
        polys.append((o, h))
    return polys


def _closed_way_polygon(refs: np.ndarray, proj: _Projector) -> np.ndarray | None:
    if len(refs) < 4 or refs[0] != refs[-1]:
        return None
    xy, ok = proj.lookup(refs)
    return xy if ok.all() else None


# ---------------------------------------------------------------- network


class _NetworkBuilder:
    """Walk lines as nodes/edges; nodes that come from the same OSM node get crossings."""

    def __init__(self):
        self.nodes: list[tuple[float, float, float]] = []
        self.keys: dict[tuple, int] = {}
        self.edges: list[tuple[int, int]] = []
        self.kinds: list[str] = []
        self.streets: list[str] = []
        self.at_osm_node: dict[int, list[tuple[int, int]]] = {}  # osm node -> [(network node, way id)]
        self.ends: set[int] = set()

    def _node(self, key: tuple, xyz) -> int:
        i = self.keys.get(key)
        if i is None:
            i = self.keys[key] = len(self.nodes)
            self.nodes.append(tuple(float(v) for v in xyz))
        return i

    def add_line(self, way_id: int, side: str, refs: np.ndarray, xy: np.ndarray, z_m: float, kind: str, street: str):
        """One walk polyline; side '' shares nodes by OSM id (footway centre lines)."""
        idx = []
        for k, (ref, p) in enumerate(zip(refs.tolist(), xy)):
            key = ("n", ref) if not side else ("o", way_id, side, k)
            i = self._node(key, (p[0], p[1], z_m))
            idx.append(i)
            self.at_osm_node.setdefault(ref, []).append((i, way_id))
        for a, b in zip(idx[:-1], idx[1:]):
            if a != b:
                self.edges.append((a, b))
                self.kinds.append(kind)
                self.streets.append(street)
        self.ends.update((int(refs[0]), int(refs[-1])))

    def finish(self) -> WalkNetwork | None:
        """Add crossings at junctions (OSM nodes on 2+ ways) and at line ends."""
        nodes = np.array(self.nodes, np.float64).reshape(-1, 3)
        seen = set(map(tuple, (sorted(e) for e in self.edges)))
        for ref, members in self.at_osm_node.items():
            ways = {w for _, w in members}
            if len(ways) < 2 and ref not in self.ends:
                continue
            uniq = sorted({i for i, _ in members})
            for x in range(len(uniq)):
                for y in range(x + 1, len(uniq)):
                    a, b = uniq[x], uniq[y]
                    if (a, b) in seen:
                        continue
                    if np.linalg.norm(nodes[a, :2] - nodes[b, :2]) > MAX_CROSSING_M:
                        continue
                    seen.add((a, b))
                    self.edges.append((a, b))
                    self.kinds.append("crossing")
                    self.streets.append("")
        if not len(nodes):
            return None
        return WalkNetwork(
            nodes.astype(np.float32), np.array(self.edges, np.int64).reshape(-1, 2), self.kinds, self.streets
        )


# ---------------------------------------------------------------- scene assembly


def _is_yes(v: str | None) -> bool:
    return v is not None and v.lower() not in ("no", "none", "false", "0")


def _sidewalk_sides(tags: dict[str, str]) -> tuple[bool, bool]:
    """(left, right) sidewalk presence from sidewalk=* and sidewalk:left/right/both=*."""
    v = (tags.get("sidewalk") or "").lower()
    left, right = v in ("both", "left"), v in ("both", "right")
    both = tags.get("sidewalk:both")
    if both is not None:
        left = right = both.lower() == "yes"
    if "sidewalk:left" in tags:
        left = tags["sidewalk:left"].lower() == "yes"
    if "sidewalk:right" in tags:
        right = tags["sidewalk:right"].lower() == "yes"
    return left, right


def _highway_width_m(tags: dict[str, str]) -> float:
    w = bld.parse_length_m(tags.get("width"))
    if w is not None and 0.5 <= w <= 100.0:
        return w
    lanes = bld.parse_number(tags.get("lanes"))
    if lanes is not None and 1 <= lanes <= 16:
        return lanes * LANE_WIDTH_M
    return HIGHWAY_WIDTH_M.get(tags["highway"], 5.0)


def _area_kind(tags: dict[str, str]) -> str | None:
    for key, values in WATER_TAGS.items():
        if tags.get(key) in values:
            return "water"
    for key, values in GREEN_TAGS.items():
        if tags.get(key) in values:
            return "green"
    if tags.get("highway") in ("pedestrian", "footway") and _is_yes(tags.get("area")):
        return "paving"
    if "area:highway" in tags:
        return "paving"
    return None


@dataclass
class _Feature:
    """An areal feature (building, part, park...) in metres."""

    label: str
    tags: dict[str, str]
    outer: np.ndarray
    holes: list[np.ndarray]
    sort_key: tuple


def _collect_areas(data: OsmData, proj: _Projector, notes: list[str]) -> tuple[list[_Feature], set[int]]:
    """Closed ways and multipolygon relations with area tags -> features; also the ids of
    ways that are `outline` members of type=building relations."""
    feats = []
    outline_ways: set[int] = set()
    for wid in sorted(data.ways):
        refs, tags = data.ways[wid]
        if not ("building" in tags or "building:part" in tags or _area_kind(tags)):
            continue
        xy = _closed_way_polygon(refs, proj)
        if xy is None:
            why = "nodes missing from the extract" if refs[0] == refs[-1] else "way is not closed"
            if "building" in tags or "building:part" in tags or refs[0] == refs[-1]:
                notes.append(f"way/{wid}: {why}, area skipped")
            continue
        feats.append(_Feature(f"way/{wid}", tags, xy, [], (0, wid)))
    for rid in sorted(data.relations):
        members, tags = data.relations[rid]
        rtype = tags.get("type")
        if rtype == "building":
            outline_ways.update(ref for t, ref, role in members if t == "w" and role == "outline")
            continue
        if rtype != "multipolygon":
            continue
        if not ("building" in tags or "building:part" in tags or _area_kind(tags)):
            continue
        for k, (outer, holes) in enumerate(
            _polygons_of_multipolygon(members, data.ways, proj, notes, f"relation/{rid}")
        ):
            feats.append(_Feature(f"relation/{rid}", tags, outer, holes, (1, rid, k)))
    return feats, outline_ways


def _buildings_to_draw(feats: list[_Feature], outline_ways: set[int], notes: list[str],
                       cell_m: float = 100.0) -> list[_Feature]:
    """Outlines and parts to extrude, applying the parts-replace-outline rule (outlines found
    through a uniform grid of cell_m cells, so big extracts stay linear)."""
    outlines = [f for f in feats if _is_yes(f.tags.get("building")) and not _is_yes(f.tags.get("building:part"))]
    parts = [f for f in feats if _is_yes(f.tags.get("building:part"))]
    skip = {i for i, f in enumerate(outlines) if f.sort_key[0] == 0 and f.sort_key[1] in outline_ways}
    grid: dict[tuple[int, int], list[int]] = {}
    if parts:
        for i, f in enumerate(outlines):
            (x0, y0), (x1, y1) = np.floor(f.outer.min(0) / cell_m), np.floor(f.outer.max(0) / cell_m)
            for gx in range(int(x0), int(x1) + 1):
                for gy in range(int(y0), int(y1) + 1):
                    grid.setdefault((gx, gy), []).append(i)
    for p in parts:
        c = p.outer.mean(axis=0)
        for i in grid.get((int(np.floor(c[0] / cell_m)), int(np.floor(c[1] / cell_m))), ()):
            if i not in skip and bld.points_in_ring(c[None], outlines[i].outer)[0]:
                skip.add(i)
    if skip:
        notes.append(f"{len(skip)} building outline(s) replaced by their building:part(s)")
    return [f for i, f in enumerate(outlines) if i not in skip] + parts


def _add_buildings(acc: MeshBuilder, to_draw: list[_Feature], style: str | None,
                   rng: np.random.Generator, notes: list[str],
                   shapes_out: list | None = None) -> int:
    """Extrude every building/part into the accumulator (flat roofs in vectorised batches per
    facade material); returns how many were drawn (their shapes go to `shapes_out` if given)."""
    roof_mat, bay_m = roof_material_for(style), bay_width_for(style)
    flat: dict[str, tuple[Material, list[bld.BuildingShape]]] = {}
    drawn = 0
    for f in sorted(to_draw, key=lambda f: f.sort_key):
        shape = bld.building_shape_from_tags(f.tags, f.outer, f.holes, notes, f.label)
        if shape is None:
            continue
        if shapes_out is not None:
            shapes_out.append(shape)
        facade = facade_material_for(style, rng)
        drawn += 1
        if shape.roof_shape == "flat":
            flat.setdefault(facade.name, (facade, []))[1].append(shape)
            continue
        walls, roof = bld.extrude_building(shape, bay_m)
        acc.add_parts(facade, walls)
        acc.add_parts(roof_mat, roof)
    for facade, shapes in flat.values():
        walls, roofs = bld.extrude_flat_buildings(shapes, bay_m)
        acc.add_parts(facade, walls)
        acc.add_parts(roof_mat, roofs)
    return drawn


def _add_flat_areas(acc: MeshBuilder, feats: list[_Feature]) -> None:
    """Water, green and paved areas as flat polygons just below road level."""
    layers = {"water": (WATER_MATERIAL, Z_WATER_M), "green": (GREEN_MATERIAL, Z_GREEN_M),
              "paving": (PAVING_MATERIAL, Z_PAVING_M)}
    for f in sorted(feats, key=lambda f: f.sort_key):
        kind = _area_kind(f.tags)
        if kind is None or "building" in f.tags or "building:part" in f.tags:
            continue
        mat, z = layers[kind]
        acc.add_parts(mat, flat_polygon_mesh(f.outer, f.holes, z))


def _add_trees_and_lamps(acc: MeshBuilder, data: OsmData, proj: _Projector,
                         rng: np.random.Generator) -> tuple[int, list[PointLight]]:
    """natural=tree nodes -> tree meshes (height tag, else 6-10 m); highway=street_lamp -> lights."""
    tree_xy, tree_h, lights = [], [], []
    for nid in sorted(data.node_tags):
        tags = data.node_tags[nid]
        is_tree, is_lamp = tags.get("natural") == "tree", tags.get("highway") == "street_lamp"
        p = proj.point(nid) if (is_tree or is_lamp) else None
        if p is None:
            continue
        if is_tree:
            tree_xy.append(p)
            h = bld.parse_length_m(tags.get("height"))
            tree_h.append(h if h is not None and 2.0 <= h <= 60.0 else float(rng.uniform(6.0, 10.0)))
        else:
            lights.append(PointLight(position=(float(p[0]), float(p[1]), 6.0)))
    for xy, h in zip(tree_xy, tree_h):
        props.tree(acc, (float(xy[0]), float(xy[1]), Z_GROUND_M), h, CROWN_TINT, float(rng.uniform(0.26, 0.34)),
                   float(rng.uniform(0.85, 1.15)), tree_branches(rng), TRUNK_MATERIAL, CROWN_MATERIAL)
    return len(tree_xy), lights


def _ground_mesh(proj: _Projector, margin_m: float = 20.0) -> Mesh:
    """One ground quad under the whole extract, margin_m beyond its nodes."""
    if proj.xy.size:
        lo, hi = proj.xy.min(axis=0) - margin_m, proj.xy.max(axis=0) + margin_m
    else:
        lo, hi = np.array([-margin_m, -margin_m]), np.array([margin_m, margin_m])
    g = flat_polygon_mesh(np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]), [], Z_GROUND_M)
    return Mesh(g.positions, g.normals, g.uvs, g.indices, GROUND_MATERIAL)


def build_scene(data: OsmData, style: str | None = None, max_buildings: int = 200_000, seed: int = 0,
                source: str = "osm") -> Scene:
    """Turn OsmData into a Scene (see the module doc for the rules); `source` names the file in errors."""
    if not isinstance(max_buildings, int) or max_buildings < 0:
        raise SceneError(f"max_buildings={max_buildings!r} must be a non-negative integer")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    proj = _Projector(data)
    acc = MeshBuilder()
    feats, outline_ways = _collect_areas(data, proj, notes)
    to_draw = _buildings_to_draw(feats, outline_ways, notes)
    if len(to_draw) > max_buildings:
        raise SceneError(f"{source}: {len(to_draw):,} buildings/parts is over max_buildings={max_buildings:,}; "
                         "crop the extract or raise max_buildings")
    shapes: list[bld.BuildingShape] = []
    n_buildings = _add_buildings(acc, to_draw, style, rng, notes, shapes)
    _add_flat_areas(acc, feats)
    streets, net = _streets(data, proj, acc, notes)
    n_trees, lights = _add_trees_and_lamps(acc, data, proj, rng)
    meshes = acc.build() + [_ground_mesh(proj)]
    dressed = None
    if style:
        from ..dressing import dress_street_fronts

        dressed = dress_street_fronts(shapes, streets, style, seed)
        meshes += dressed.meshes
        lights = lights + dressed.lights
    all_pos = np.concatenate([m.positions for m in meshes])
    scene = Scene(
        meshes=meshes,
        lights=lights,
        streets=streets,
        network=net,
        origin_latlon=(proj.frame.origin_lat_deg, proj.frame.origin_lon_deg),
        bounds_m=(tuple(float(v) for v in all_pos.min(0)), tuple(float(v) for v in all_pos.max(0))),
        copyright=["© OpenStreetMap contributors, ODbL 1.0 (openstreetmap.org/copyright)"],
        style=style or "",
        textures=(dressed.textures if dressed is not None else {})
        | ({"leaves": props.leaf_texture()} if n_trees else {}),
    )
    scene.stats.update(
        source=source, buildings=n_buildings, streets=len(streets), trees=n_trees,
        nodes=int(len(data.node_ids)), ways=len(data.ways), relations=len(data.relations),
        notes=notes[:MAX_NOTES], note_count=len(notes), build_s=time.perf_counter() - t0,
        dressed_fronts=dressed.fronts if dressed is not None else 0,
        signs=dressed.signs if dressed is not None else [],
    )
    scene.report = _report(source, notes, n_buildings, len(streets), n_trees)
    return scene


def _report(source: str, notes: list[str], buildings: int, streets: int, trees: int) -> LoadReport:
    """The notes as a LoadReport: features left out ('…, skipped') and tags only partly used
    (drawn flat, ignored), grouped by their reason (the note without its way/relation label)."""
    report = LoadReport(source=source)
    for kind, n in (("buildings", buildings), ("streets", streets), ("trees", trees)):
        report.add(kind, n)
    for note in notes:
        label, _, reason = note.partition(": ")
        reason = reason if reason and "/" in label else note
        report.skip("OSM features" if "skipped" in note else "OSM tags", reason)
    return report


@dataclass
class _Road:
    """A highway line ready for meshing: node ids (K,), xy (K, 2) m, tags and derived widths."""

    way_id: int
    refs: np.ndarray
    xy: np.ndarray
    tags: dict[str, str]
    width_m: float
    sidewalk_m: float
    left: bool
    right: bool


def _roads(data: OsmData, proj: _Projector) -> tuple[list[_Road], list[_Road]]:
    """Highway ways -> (carriageway roads, foot paths), projected and de-duplicated."""
    roads, paths = [], []
    for wid in sorted(data.ways):
        refs, tags = data.ways[wid]
        hw = tags.get("highway")
        if hw not in HIGHWAY_WIDTH_M or _area_kind(tags) == "paving" or len(refs) < 2 or _is_yes(tags.get("tunnel")):
            continue
        xy, ok = proj.lookup(refs)
        refs = refs[ok]
        if len(refs) < 2:
            continue
        keep = np.concatenate([[True], np.linalg.norm(np.diff(xy, axis=0), axis=1) > 0.01])
        refs, xy = refs[keep], xy[keep]
        if len(refs) < 2:
            continue
        left, right = _sidewalk_sides(tags)
        sw = bld.parse_length_m(tags.get("sidewalk:width")) or DEFAULT_SIDEWALK_WIDTH_M
        road = _Road(wid, refs, xy, tags, _highway_width_m(tags), sw if (left or right) else 0.0, left, right)
        (paths if hw in FOOT_CLASSES else roads).append(road)
    return roads, paths


def _junction_trims(roads: list[_Road]) -> dict[tuple[int, int], float]:
    """(osm node, way id) -> how far a sidewalk of that way stops short of the junction: the
    widest other road's half carriageway plus its sidewalk."""
    at: dict[int, list[_Road]] = {}
    for r in roads:
        for ref in set(r.refs.tolist()):
            at.setdefault(ref, []).append(r)
    trims = {}
    for ref, rs in at.items():
        if len(rs) < 2:
            continue
        for r in rs:
            trims[(ref, r.way_id)] = max(o.width_m / 2 + o.sidewalk_m for o in rs if o is not r)
    return trims


def _sidewalk_pieces(road: _Road, trims: dict[tuple[int, int], float]) -> list[np.ndarray]:
    """The road's centre line split at junctions and trimmed back from them, so sidewalks
    stop at the kerb of crossing roads instead of running over their carriageway."""
    refs = road.refs.tolist()
    cuts = [0] + [k for k in range(1, len(refs) - 1) if (refs[k], road.way_id) in trims] + [len(refs) - 1]
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        piece = trim_polyline(
            road.xy[a : b + 1], trims.get((refs[a], road.way_id), 0.0), trims.get((refs[b], road.way_id), 0.0)
        )
        if piece is not None:
            pieces.append(piece)
    return pieces


def _streets(data: OsmData, proj: _Projector, acc: MeshBuilder, notes: list[str]):
    """Highway lines -> Street records, carriageway/sidewalk/paving meshes and the walk network."""
    net = _NetworkBuilder()
    streets: list[Street] = []
    roads, paths = _roads(data, proj)
    for r in paths:
        acc.add_parts(PAVING_MATERIAL, strip_mesh(r.xy, r.width_m / 2, -r.width_m / 2, Z_PAVING_M))
        if r.tags.get("foot") != "no":
            crossing = r.tags.get("footway") == "crossing" or "crossing" in r.tags
            net.add_line(r.way_id, "", r.refs, r.xy, 0.0, "crossing" if crossing else "sidewalk",
                         r.tags.get("name") or f"way/{r.way_id}")
    trims = _junction_trims(roads)
    for r in roads:
        hw, tags, width, sw = r.tags["highway"], r.tags, r.width_m, r.sidewalk_m
        name = tags.get("name") or f"way/{r.way_id}"
        walkable = (hw not in NO_FOOT_CLASSES and tags.get("foot") != "no") or r.left or r.right
        acc.add_parts(ROAD_MATERIAL, strip_mesh(r.xy, width / 2, -width / 2, Z_ROAD_M))
        pieces = _sidewalk_pieces(r, trims) if (r.left or r.right) else []
        for present, sign, side in ((r.left, 1.0, "L"), (r.right, -1.0, "R")):
            if present:
                outer_m, inner_m = sign * (width / 2 + sw), sign * width / 2
                for piece in pieces:
                    acc.add_parts(
                        SIDEWALK_MATERIAL,
                        strip_mesh(piece, max(outer_m, inner_m), min(outer_m, inner_m), SIDEWALK_HEIGHT_M),
                    )
                    acc.add_parts(
                        SIDEWALK_MATERIAL, kerb_mesh(piece, inner_m, facing_left=sign < 0, height_m=SIDEWALK_HEIGHT_M)
                    )
            if not walkable:
                continue
            if present:
                net.add_line(
                    r.way_id,
                    side,
                    r.refs,
                    offset_polyline(r.xy, sign * (width / 2 + sw / 2)),
                    SIDEWALK_HEIGHT_M,
                    "sidewalk",
                    name,
                )
            else:
                inset = max(width / 2 - STREET_EDGE_INSET_M, 0.0)
                net.add_line(r.way_id, side, r.refs, offset_polyline(r.xy, sign * inset), 0.0, "street_edge", name)
        streets.append(
            Street(
                name=name,
                kind="main" if hw in MAIN_CLASSES else "side",
                centerline=r.xy.astype(np.float32),
                road_width_m=float(width),
                sidewalk_width_m=float(sw),
            )
        )
    for wid in sorted(data.ways):  # pedestrian areas: walk around their edge
        refs, tags = data.ways[wid]
        if _area_kind(tags) == "paving" and "highway" in tags and len(refs) >= 4 and refs[0] == refs[-1]:
            xy, ok = proj.lookup(refs)
            if ok.all():
                net.add_line(wid, "", refs, xy, 0.0, "sidewalk", tags.get("name") or f"way/{wid}")
    return streets, net.finish()


def load_osm(path: str | Path, style: str | None = None, max_buildings: int = 200_000, *,
             seed: int = 0, backend: str = "auto", limits: OsmLimits = OsmLimits()) -> Scene:
    """Read an OpenStreetMap extract (.osm, .osm.gz, .osm.bz2, .osm.pbf) into a Scene.

    `style` picks the facade palette and is recorded in Scene.style; `max_buildings` caps the
    building outlines + parts (SceneError beyond); `seed` drives material/tree variation."""
    t0 = time.perf_counter()
    data = read_osm(path, backend=backend, limits=limits)
    t1 = time.perf_counter()
    scene = build_scene(data, style=style, max_buildings=max_buildings, seed=seed, source=str(path))
    scene.stats["read_s"] = t1 - t0
    return scene
