"""Reading OpenStreetMap extracts: .osm XML (.gz/.bz2) and .osm.pbf -> `OsmData`, and back.

.osm.pbf needs pyosmium (extra `osm`). XML is read by a streaming stdlib expat parser that
refuses DTDs and entities (billion laughs, external entities); it needs no extra and was ~2x
faster than pyosmium's XML reader on benchmarks/import_osm.py, so `backend="auto"` uses it
(backend="osmium" reads XML with pyosmium, whose XML parser also refuses entities). Both
readers fill the same `OsmData`; `assemble.build_scene` turns it into a Scene.
"""

from __future__ import annotations

import bz2
import gzip
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import numpy as np

from citywalk.errors import MissingExtra, SceneError

GIB = 1 << 30


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
        raise SceneError(
            f"{path}: XML DTDs and entity declarations are not accepted in OSM files (billion-laughs/XXE guard)"
        )


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
    except LookupError as exc:  # an XML declaration naming an encoding Python does not know
        raise SceneError(f"{path}: the XML declares an unknown encoding ({exc}); OSM files are UTF-8") from None
    except OverflowError:
        raise SceneError(f"{path}: line {parser.CurrentLineNumber}: an OSM id beyond 64 bits; "
                         "OSM ids are signed 64-bit integers") from None
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
