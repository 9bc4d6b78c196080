"""OpenStreetMap extracts (.osm XML, .osm.pbf) -> Scene: buildings, streets, walk network, areas, trees.

Reading: .osm.pbf needs pyosmium (extra `osm`). XML (.osm, .osm.gz, .osm.bz2) is read by a
streaming stdlib expat parser that refuses DTDs and entities (billion laughs, external
entities); it needs no extra and was ~2x faster than pyosmium's XML reader on
benchmarks/import_osm.py, so `backend="auto"` uses it (backend="osmium" reads XML with
pyosmium, whose XML parser also refuses entities). Both readers fill the same `OsmData`, which
`build_scene` turns into a Scene in the local ENU frame around the extract's centre
(the `<bounds>` centre when present, else the centre of the nodes' bounding box).

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

import bz2
import gzip
import math
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import numpy as np

from citywalk.errors import MissingExtra, SceneError
from citywalk.scene import FACADE, FOLIAGE, PLAIN, ROAD, Material, Mesh, PointLight, Scene, Street, WalkNetwork
from citywalk.sources import buildings as bld
from citywalk.sources.geo import EnuFrame

GIB = 1 << 30
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


@dataclass(frozen=True)
class OsmLimits:
    """Ceilings that keep a hostile or huge extract from exhausting memory; crop big areas
    first (e.g. `osmium extract -b LEFT,BOTTOM,RIGHT,TOP in.pbf -o small.pbf`)."""

    max_file_bytes: int = 2 * GIB
    max_nodes: int = 20_000_000
    max_ways: int = 3_000_000
    max_relations: int = 500_000
    max_xml_bytes: int = 16 * GIB  # decompressed XML text (guards .osm.gz/.bz2 bombs)


@dataclass
class OsmData:
    """Raw OSM content, reader-independent.

    node_ids (N,) int64 sorted, node_lonlat (N, 2) float64 degrees, node_tags for tagged nodes,
    ways: id -> (node ids (K,) int64, tags), relations: id -> ([(type 'n'|'w'|'r', ref, role)], tags),
    bounds_latlon: (min_lat, min_lon, max_lat, max_lon) from the file header, if any."""

    node_ids: np.ndarray
    node_lonlat: np.ndarray
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: dict[int, tuple[np.ndarray, dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = field(default_factory=dict)
    bounds_latlon: tuple[float, float, float, float] | None = None


# ---------------------------------------------------------------- style dressing (placeholder palette)

_PALETTES = {
    # facade albedos (linear), roof albedo, bay width m
    "default": ([(0.55, 0.52, 0.48), (0.62, 0.58, 0.50), (0.45, 0.40, 0.36), (0.70, 0.68, 0.64)], (0.30, 0.29, 0.28), 3.0),
    "tokyo": ([(0.70, 0.67, 0.60), (0.58, 0.55, 0.50), (0.49, 0.46, 0.41), (0.78, 0.75, 0.68), (0.40, 0.42, 0.43)], (0.35, 0.35, 0.36), 2.4),
    "paris": ([(0.80, 0.74, 0.62), (0.74, 0.68, 0.56), (0.84, 0.79, 0.68)], (0.40, 0.44, 0.48), 2.8),
    "new_york": ([(0.42, 0.20, 0.14), (0.52, 0.28, 0.19), (0.60, 0.56, 0.50), (0.33, 0.32, 0.31)], (0.25, 0.24, 0.24), 3.0),
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
CROWN_MATERIAL = Material("osm_tree_crown", albedo=(0.10, 0.24, 0.07), roughness=0.9, kind=FOLIAGE)
Z_GROUND_M, Z_WATER_M, Z_GREEN_M, Z_PAVING_M, Z_ROAD_M = -0.05, -0.03, -0.02, -0.01, 0.0


# ---------------------------------------------------------------- reading


def _file_kind(path: Path) -> str:
    """'pbf' or 'xml' (plain or .gz/.bz2) from the file name."""
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".xml", ".osm.gz", ".osm.bz2", ".xml.gz", ".xml.bz2")):
        return "xml"
    raise SceneError(f"{path}: unknown OpenStreetMap file type (accepted: .osm, .osm.gz, .osm.bz2, .osm.pbf)")


def _open_xml(path: Path):
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def _check_xml_prologue(path: Path) -> None:
    """Refuse a DOCTYPE or ENTITY declaration before the root element (entity bombs, external
    entities). The parsers refuse them too; this gives one clear message for both."""
    try:
        with _open_xml(path) as f:
            head = f.read(1 << 16)
    except OSError as exc:
        raise SceneError(f"{path}: cannot read ({exc})") from exc
    low = head.lower()
    root = low.find(b"<osm")
    prologue = low if root < 0 else low[:root]
    if b"<!doctype" in prologue or b"<!entity" in prologue:
        raise SceneError(f"{path}: XML DTDs and entity declarations are not accepted in OSM files (billion-laughs/XXE guard)")


class _Collector:
    """Accumulates elements from either reader into compact arrays, enforcing limits."""

    def __init__(self, path: Path, limits: OsmLimits):
        self.path, self.limits = path, limits
        self.ids = array("q")
        self.coords = array("d")
        self.node_tags: dict[int, dict[str, str]] = {}
        self.ways: dict[int, tuple[np.ndarray, dict[str, str]]] = {}
        self.relations: dict[int, tuple[list, dict[str, str]]] = {}
        self.bounds = None

    def _limit(self, what: str, limit: int) -> SceneError:
        return SceneError(f"{self.path}: more than {limit:,} {what} (limit OsmLimits.max_{what}); "
                          "crop the extract first, e.g. osmium extract -b LEFT,BOTTOM,RIGHT,TOP")

    def node(self, node_id: int, lon: float, lat: float, tags: dict[str, str]) -> None:
        if len(self.ids) >= self.limits.max_nodes:
            raise self._limit("nodes", self.limits.max_nodes)
        self.ids.append(node_id)
        self.coords.append(lon)
        self.coords.append(lat)
        if tags:
            self.node_tags[node_id] = tags

    def way(self, way_id: int, refs: list[int], tags: dict[str, str]) -> None:
        if len(self.ways) >= self.limits.max_ways:
            raise self._limit("ways", self.limits.max_ways)
        self.ways[way_id] = (np.asarray(refs, dtype=np.int64), tags)

    def relation(self, rel_id: int, members: list[tuple[str, int, str]], tags: dict[str, str]) -> None:
        if len(self.relations) >= self.limits.max_relations:
            raise self._limit("relations", self.limits.max_relations)
        self.relations[rel_id] = (members, tags)

    def result(self) -> OsmData:
        ids = np.frombuffer(self.ids, dtype=np.int64) if len(self.ids) else np.zeros(0, np.int64)
        lonlat = np.frombuffer(self.coords, dtype=np.float64).reshape(-1, 2) if len(self.coords) else np.zeros((0, 2))
        order = np.argsort(ids, kind="stable")
        return OsmData(ids[order].copy(), lonlat[order].copy(), self.node_tags, self.ways, self.relations, self.bounds)


def _read_with_osmium(path: Path, limits: OsmLimits) -> OsmData:
    try:
        import osmium
    except ImportError as exc:
        raise MissingExtra("osmium", "osm", "Reading OpenStreetMap .pbf files") from exc
    col = _Collector(path, limits)
    try:
        fp = osmium.FileProcessor(str(path))
        box = fp.header.box()
        if box.valid():
            col.bounds = (box.bottom_left.lat, box.bottom_left.lon, box.top_right.lat, box.top_right.lon)
        for obj in fp:
            if obj.is_node():
                loc = obj.location
                if loc.valid():
                    col.node(obj.id, loc.lon, loc.lat, dict(obj.tags) if len(obj.tags) else {})
            elif obj.is_way():
                col.way(obj.id, [n.ref for n in obj.nodes], dict(obj.tags))
            elif obj.is_relation():
                col.relation(obj.id, [(m.type, m.ref, m.role) for m in obj.members], dict(obj.tags))
    except SceneError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:
        raise SceneError(f"{path}: not a readable OpenStreetMap file: {exc}") from exc
    return col.result()


def _refuse(what: str):
    def handler(*_args):
        raise _Refused(what)
    return handler


class _Refused(Exception):
    """Raised inside expat callbacks to abort on a DTD/entity."""


def _read_with_expat(path: Path, limits: OsmLimits) -> OsmData:
    """Streaming stdlib expat reader; DTDs, entity declarations and external entities abort."""
    col = _Collector(path, limits)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("a DTD (<!DOCTYPE>)")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    state: dict = {"kind": None}

    def start(name, attrs):
        if name == "node":
            state.update(kind="node", id=int(attrs["id"]), lon=float(attrs["lon"]), lat=float(attrs["lat"]), tags={})
        elif name == "way":
            state.update(kind="way", id=int(attrs["id"]), refs=[], tags={})
        elif name == "relation":
            state.update(kind="relation", id=int(attrs["id"]), members=[], tags={})
        elif name == "tag" and state["kind"]:
            state["tags"][attrs["k"]] = attrs["v"]
        elif name == "nd" and state["kind"] == "way":
            state["refs"].append(int(attrs["ref"]))
        elif name == "member" and state["kind"] == "relation":
            state["members"].append((attrs["type"][:1], int(attrs["ref"]), attrs.get("role", "")))
        elif name == "bounds":
            col.bounds = tuple(float(attrs[k]) for k in ("minlat", "minlon", "maxlat", "maxlon"))

    def end(name):
        if name == "node" and state["kind"] == "node":
            col.node(state["id"], state["lon"], state["lat"], state["tags"])
        elif name == "way" and state["kind"] == "way":
            col.way(state["id"], state["refs"], state["tags"])
        elif name == "relation" and state["kind"] == "relation":
            col.relation(state["id"], state["members"], state["tags"])
        else:
            return
        state["kind"] = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with _open_xml(path) as f:
            total = 0
            while chunk := f.read(1 << 20):
                total += len(chunk)
                if total > limits.max_xml_bytes:
                    raise SceneError(f"{path}: more than {limits.max_xml_bytes:,} bytes of XML after decompression "
                                     "(limit OsmLimits.max_xml_bytes); crop the extract first")
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Refused as exc:
        raise SceneError(f"{path}: line {parser.CurrentLineNumber}: {exc} is not accepted in OSM files "
                         "(billion-laughs/XXE guard)") from None
    except expat.ExpatError as exc:
        raise SceneError(f"{path}: XML error at line {exc.lineno}, column {exc.offset}: "
                         f"{expat.ErrorString(exc.code)}") from None
    except (KeyError, ValueError) as exc:
        raise SceneError(f"{path}: line {parser.CurrentLineNumber}: malformed OSM element ({exc!r}); "
                         "nodes need id/lat/lon, ways nd refs, relations typed members") from None
    except (OSError, EOFError) as exc:
        raise SceneError(f"{path}: cannot read ({exc})") from exc
    return col.result()


def read_osm(path: str | Path, backend: str = "auto", limits: OsmLimits = OsmLimits()) -> OsmData:
    """Read an OSM file into OsmData. backend: 'auto' (stdlib expat for XML, pyosmium for PBF),
    'osmium' (pyosmium for both), or 'xml' (stdlib expat; XML only)."""
    path = Path(path)
    kind = _file_kind(path)
    if not path.is_file():
        raise SceneError(f"{path}: no such OpenStreetMap file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise SceneError(f"{path}: {size / GIB:.1f} GiB is over the {limits.max_file_bytes / GIB:.1f} GiB limit; "
                         "crop the extract first (osmium extract -b ...)")
    if backend not in ("auto", "osmium", "xml"):
        raise SceneError(f"OSM reader backend '{backend}' unknown (accepted: auto, osmium, xml)")
    if kind == "xml":
        _check_xml_prologue(path)
    if backend == "xml" or (backend == "auto" and kind == "xml"):
        if kind != "xml":
            raise SceneError(f"{path}: the stdlib XML reader reads .osm XML only; .pbf needs pyosmium")
        return _read_with_expat(path, limits)
    return _read_with_osmium(path, limits)


def have_osmium() -> bool:
    try:
        import osmium  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------- writing


def write_osm(path: str | Path, data: OsmData) -> None:
    """Write OsmData as .osm XML (stdlib) or .osm.pbf (pyosmium): the readers' round-trip partner."""
    path = Path(path)
    if _file_kind(path) == "pbf":
        _write_pbf(path, data)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"citywalk\">\n")
        if data.bounds_latlon:
            b = data.bounds_latlon
            f.write(f' <bounds minlat="{b[0]:.7f}" minlon="{b[1]:.7f}" maxlat="{b[2]:.7f}" maxlon="{b[3]:.7f}"/>\n')

        def tags_xml(tags):
            return "".join(f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items())

        for nid, (lon, lat) in zip(data.node_ids.tolist(), data.node_lonlat.tolist()):
            tags = data.node_tags.get(nid)
            head = f' <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
            f.write(f"{head}>\n{tags_xml(tags)} </node>\n" if tags else f"{head}/>\n")
        for wid in sorted(data.ways):
            refs, tags = data.ways[wid]
            nds = "".join(f'  <nd ref="{r}"/>\n' for r in refs.tolist())
            f.write(f' <way id="{wid}" version="1">\n{nds}{tags_xml(tags)} </way>\n')
        names = {"n": "node", "w": "way", "r": "relation"}
        for rid in sorted(data.relations):
            members, tags = data.relations[rid]
            mem = "".join(f'  <member type="{names[t]}" ref="{r}" role={quoteattr(role)}/>\n' for t, r, role in members)
            f.write(f' <relation id="{rid}" version="1">\n{mem}{tags_xml(tags)} </relation>\n')
        f.write("</osm>\n")


def _write_pbf(path: Path, data: OsmData) -> None:
    try:
        import osmium
    except ImportError as exc:
        raise MissingExtra("osmium", "osm", "Writing OpenStreetMap .pbf files") from exc
    header = osmium.io.Header()
    if data.bounds_latlon:
        b = data.bounds_latlon
        header.add_box(osmium.osm.Box(osmium.osm.Location(b[1], b[0]), osmium.osm.Location(b[3], b[2])))
    writer = osmium.SimpleWriter(str(path), header=header, overwrite=True)
    try:
        mut = osmium.osm.mutable
        for nid, (lon, lat) in zip(data.node_ids.tolist(), data.node_lonlat.tolist()):
            writer.add_node(mut.Node(id=nid, version=1, location=(lon, lat), tags=data.node_tags.get(nid, {})))
        for wid in sorted(data.ways):
            refs, tags = data.ways[wid]
            writer.add_way(mut.Way(id=wid, version=1, nodes=refs.tolist(), tags=tags))
        for rid in sorted(data.relations):
            members, tags = data.relations[rid]
            writer.add_relation(mut.Relation(id=rid, version=1, members=members, tags=tags))
    finally:
        writer.close()


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


def offset_polyline(points: np.ndarray, offset_m: float, miter_limit: float = 3.0) -> np.ndarray:
    """Offset a polyline (K, 2) sideways with mitred joints; positive = left of travel.

    The mitre length is capped at miter_limit x |offset| for sharp turns. -> (K, 2)."""
    p = np.asarray(points, np.float64)
    d = np.diff(p, axis=0)
    seg_len = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    n = np.column_stack([-d[:, 1], d[:, 0]]) / seg_len  # left normals per segment
    n_prev = np.vstack([n[:1], n])
    n_next = np.vstack([n, n[-1:]])
    m = n_prev + n_next
    m_len = np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
    m = m / m_len
    cos_half = np.sum(m * n_next, axis=1, keepdims=True)
    scale = 1.0 / np.maximum(cos_half, 1.0 / miter_limit)
    return p + m * (offset_m * scale)


def strip_mesh(points: np.ndarray, left_m: float, right_m: float, z_m: float) -> bld.MeshParts:
    """A flat ribbon between signed offsets left_m > right_m of a polyline (K, 2), at z_m.

    Normals up; u = 0 at the left edge and 1 at the right, v = metres along the line."""
    p = np.asarray(points, np.float64)
    k = len(p)
    left, right = offset_polyline(p, left_m), offset_polyline(p, right_m)
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    pos = np.empty((k, 2, 3))
    pos[:, 0, :2], pos[:, 1, :2], pos[:, :, 2] = left, right, z_m
    uv = np.empty((k, 2, 2))
    uv[:, 0, 0], uv[:, 1, 0], uv[:, :, 1] = 0.0, 1.0, along[:, None]
    i = np.arange(k - 1)[:, None] * 2
    idx = np.concatenate([i + [1, 3, 2], i + [1, 2, 0]])
    nrm = np.zeros((2 * k, 3))
    nrm[:, 2] = 1.0
    return bld.MeshParts(pos.reshape(-1, 3).astype(np.float32), nrm.astype(np.float32),
                         uv.reshape(-1, 2).astype(np.float32), idx.astype(np.uint32))


def kerb_mesh(points: np.ndarray, offset_m: float, facing_left: bool, height_m: float) -> bld.MeshParts:
    """Vertical kerb face along an offset line of a polyline (K, 2), from z = 0 to height_m."""
    e = offset_polyline(points, offset_m)
    if facing_left:
        e = e[::-1]  # quads face right of their direction of travel, like building walls
    a, b = e[:-1], e[1:]
    d = b - a
    length = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
    s = len(a)
    pos = np.empty((s, 4, 3))
    pos[:, 0, :2], pos[:, 1, :2], pos[:, 2, :2], pos[:, 3, :2] = a, b, b, a
    pos[:, :2, 2], pos[:, 2:, 2] = 0.0, height_m
    nrm = np.zeros((s, 4, 3))
    nrm[:, :, 0], nrm[:, :, 1] = (d[:, 1] / length)[:, None], (-d[:, 0] / length)[:, None]
    uv = np.zeros((s, 4, 2))
    base = (np.arange(s) * 4)[:, None]
    idx = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]])
    return bld.MeshParts(pos.reshape(-1, 3).astype(np.float32), nrm.reshape(-1, 3).astype(np.float32),
                         uv.reshape(-1, 2).astype(np.float32), idx.astype(np.uint32))


def flat_polygon_mesh(outer: np.ndarray, holes, z_m: float) -> bld.MeshParts:
    """A horizontal polygon with holes at z_m, facing up; uv = xy metres."""
    verts, tris = bld.triangulate(bld.oriented(bld.clean_ring(outer), True),
                                  [bld.oriented(bld.clean_ring(h), False) for h in holes])
    pos = np.column_stack([verts, np.full(len(verts), z_m)])
    nrm = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    return bld.MeshParts(pos.astype(np.float32), nrm.astype(np.float32), verts.astype(np.float32), tris.astype(np.uint32))


# ---------------------------------------------------------------- trees


def _unit_cylinder(sides: int = 6) -> bld.MeshParts:
    """Open cylinder radius 1 from z = 0 to 1 with smooth side normals."""
    t = np.linspace(0, 2 * math.pi, sides, endpoint=False)
    ring = np.column_stack([np.cos(t), np.sin(t)])
    pos = np.concatenate([np.column_stack([ring, np.zeros(sides)]), np.column_stack([ring, np.ones(sides)])])
    nrm = np.concatenate([np.column_stack([ring, np.zeros(sides)])] * 2)
    i = np.arange(sides)
    j = (i + 1) % sides
    idx = np.concatenate([np.column_stack([i, j, j + sides]), np.column_stack([i, j + sides, i + sides])])
    uv = np.column_stack([np.tile(i / sides, 2), np.repeat([0.0, 1.0], sides)])
    return bld.MeshParts(pos.astype(np.float32), nrm.astype(np.float32), uv.astype(np.float32), idx.astype(np.uint32))


def _unit_sphere(slices: int = 8, stacks: int = 6) -> bld.MeshParts:
    """UV sphere radius 1 centred at the origin (low poly crown)."""
    phi = np.linspace(0, math.pi, stacks + 1)
    th = np.linspace(0, 2 * math.pi, slices + 1)
    ph, tt = np.meshgrid(phi, th, indexing="ij")
    pos = np.stack([np.sin(ph) * np.cos(tt), np.sin(ph) * np.sin(tt), np.cos(ph)], -1).reshape(-1, 3)
    cols = slices + 1
    r, c = np.meshgrid(np.arange(stacks), np.arange(slices), indexing="ij")
    i0 = (r * cols + c).ravel()
    tris = np.concatenate([np.column_stack([i0, i0 + cols, i0 + cols + 1]), np.column_stack([i0, i0 + cols + 1, i0 + 1])])
    a, b, cc = pos[tris[:, 0]], pos[tris[:, 1]], pos[tris[:, 2]]
    keep = np.linalg.norm(np.cross(b - a, cc - a), axis=1) > 1e-9
    uv = np.column_stack([tt.ravel() / (2 * math.pi), ph.ravel() / math.pi])
    return bld.MeshParts(pos.astype(np.float32), pos.astype(np.float32), uv.astype(np.float32), tris[keep].astype(np.uint32))


def tree_meshes(xy: np.ndarray, heights_m: np.ndarray, rng: np.random.Generator) -> tuple[bld.MeshParts, bld.MeshParts]:
    """Procedural trees at (T, 2) positions with total heights (T,) m -> (trunks, crowns).

    Trunk: 6-sided cylinder up to 40% of the height; crown: an ellipsoid over the rest."""
    t = len(xy)
    if not t:
        return bld.MeshParts.empty(), bld.MeshParts.empty()
    cyl, sph = _unit_cylinder(), _unit_sphere()
    h = np.asarray(heights_m, np.float64)
    trunk_h, trunk_r = 0.4 * h, 0.04 * h + 0.05
    crown_r = (0.22 + 0.08 * rng.random(t)) * h
    crown_half_h = 0.5 * (h - trunk_h) + 0.1 * trunk_h
    crown_z = h - crown_half_h

    def instance(unit: bld.MeshParts, scale: np.ndarray, offset: np.ndarray, normal_scale: np.ndarray):
        n = len(unit.positions)
        pos = unit.positions[None] * scale[:, None, :] + offset[:, None, :]
        nrm = unit.normals[None] / normal_scale[:, None, :]
        nrm /= np.maximum(np.linalg.norm(nrm, axis=-1, keepdims=True), 1e-9)
        idx = unit.indices[None].astype(np.int64) + (np.arange(t) * n)[:, None, None]
        return bld.MeshParts(pos.reshape(-1, 3).astype(np.float32), nrm.reshape(-1, 3).astype(np.float32),
                             np.tile(unit.uvs, (t, 1)), idx.reshape(-1, 3).astype(np.uint32))

    ones = np.ones(t)
    trunks = instance(cyl, np.column_stack([trunk_r, trunk_r, trunk_h]),
                      np.column_stack([xy, np.zeros(t)]), np.column_stack([ones, ones, ones]))
    crown_scale = np.column_stack([crown_r, crown_r, crown_half_h])
    crowns = instance(sph, crown_scale, np.column_stack([xy, crown_z]), crown_scale)
    return trunks, crowns


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
        return WalkNetwork(nodes.astype(np.float32), np.array(self.edges, np.int64).reshape(-1, 2), self.kinds, self.streets)


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
        for k, (outer, holes) in enumerate(_polygons_of_multipolygon(members, data.ways, proj, notes, f"relation/{rid}")):
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


def _add_buildings(acc: bld.MeshAccumulator, to_draw: list[_Feature], style: str | None,
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
        acc.add(facade, walls)
        acc.add(roof_mat, roof)
    for facade, shapes in flat.values():
        walls, roofs = bld.extrude_flat_buildings(shapes, bay_m)
        acc.add(facade, walls)
        acc.add(roof_mat, roofs)
    return drawn


def _add_flat_areas(acc: bld.MeshAccumulator, feats: list[_Feature]) -> None:
    """Water, green and paved areas as flat polygons just below road level."""
    layers = {"water": (WATER_MATERIAL, Z_WATER_M), "green": (GREEN_MATERIAL, Z_GREEN_M),
              "paving": (PAVING_MATERIAL, Z_PAVING_M)}
    for f in sorted(feats, key=lambda f: f.sort_key):
        kind = _area_kind(f.tags)
        if kind is None or "building" in f.tags or "building:part" in f.tags:
            continue
        mat, z = layers[kind]
        acc.add(mat, flat_polygon_mesh(f.outer, f.holes, z))


def _add_trees_and_lamps(acc: bld.MeshAccumulator, data: OsmData, proj: _Projector,
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
    trunks, crowns = tree_meshes(np.array(tree_xy).reshape(-1, 2), np.array(tree_h), rng)
    acc.add(TRUNK_MATERIAL, trunks)
    acc.add(CROWN_MATERIAL, crowns)
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
    acc = bld.MeshAccumulator()
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
    meshes = acc.meshes() + [_ground_mesh(proj)]
    dressed = None
    if style:
        from .dressing import dress_street_fronts

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
        textures=dressed.textures if dressed is not None else {},
    )
    scene.stats.update(
        source=source, buildings=n_buildings, streets=len(streets), trees=n_trees,
        nodes=int(len(data.node_ids)), ways=len(data.ways), relations=len(data.relations),
        notes=notes[:MAX_NOTES], note_count=len(notes), build_s=time.perf_counter() - t0,
        dressed_fronts=dressed.fronts if dressed is not None else 0,
    )
    return scene


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


def trim_polyline(points: np.ndarray, start_m: float, end_m: float) -> np.ndarray | None:
    """Cut start_m off the start and end_m off the end of a polyline (K, 2); None if nothing is left."""
    p = np.asarray(points, np.float64)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    total = along[-1]
    if start_m + end_m >= total - 0.05:
        return None
    a, b = start_m, total - end_m
    inner = p[(along > a) & (along < b)]
    pa = np.array([np.interp(a, along, p[:, 0]), np.interp(a, along, p[:, 1])])
    pb = np.array([np.interp(b, along, p[:, 0]), np.interp(b, along, p[:, 1])])
    return np.vstack([pa, inner, pb])


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
        piece = trim_polyline(road.xy[a:b + 1], trims.get((refs[a], road.way_id), 0.0), trims.get((refs[b], road.way_id), 0.0))
        if piece is not None:
            pieces.append(piece)
    return pieces


def _streets(data: OsmData, proj: _Projector, acc: bld.MeshAccumulator, notes: list[str]):
    """Highway lines -> Street records, carriageway/sidewalk/paving meshes and the walk network."""
    net = _NetworkBuilder()
    streets: list[Street] = []
    roads, paths = _roads(data, proj)
    for r in paths:
        acc.add(PAVING_MATERIAL, strip_mesh(r.xy, r.width_m / 2, -r.width_m / 2, Z_PAVING_M))
        if r.tags.get("foot") != "no":
            crossing = r.tags.get("footway") == "crossing" or "crossing" in r.tags
            net.add_line(r.way_id, "", r.refs, r.xy, 0.0, "crossing" if crossing else "sidewalk",
                         r.tags.get("name") or f"way/{r.way_id}")
    trims = _junction_trims(roads)
    for r in roads:
        hw, tags, width, sw = r.tags["highway"], r.tags, r.width_m, r.sidewalk_m
        name = tags.get("name") or f"way/{r.way_id}"
        walkable = (hw not in NO_FOOT_CLASSES and tags.get("foot") != "no") or r.left or r.right
        acc.add(ROAD_MATERIAL, strip_mesh(r.xy, width / 2, -width / 2, Z_ROAD_M))
        pieces = _sidewalk_pieces(r, trims) if (r.left or r.right) else []
        for present, sign, side in ((r.left, 1.0, "L"), (r.right, -1.0, "R")):
            if present:
                outer_m, inner_m = sign * (width / 2 + sw), sign * width / 2
                for piece in pieces:
                    acc.add(SIDEWALK_MATERIAL, strip_mesh(piece, max(outer_m, inner_m), min(outer_m, inner_m), SIDEWALK_HEIGHT_M))
                    acc.add(SIDEWALK_MATERIAL, kerb_mesh(piece, inner_m, facing_left=sign < 0, height_m=SIDEWALK_HEIGHT_M))
            if not walkable:
                continue
            if present:
                net.add_line(r.way_id, side, r.refs, offset_polyline(r.xy, sign * (width / 2 + sw / 2)), SIDEWALK_HEIGHT_M, "sidewalk", name)
            else:
                inset = max(width / 2 - STREET_EDGE_INSET_M, 0.0)
                net.add_line(r.way_id, side, r.refs, offset_polyline(r.xy, sign * inset), 0.0, "street_edge", name)
        streets.append(Street(name=name, kind="main" if hw in MAIN_CLASSES else "side",
                              centerline=r.xy.astype(np.float32), road_width_m=float(width), sidewalk_width_m=float(sw)))
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
