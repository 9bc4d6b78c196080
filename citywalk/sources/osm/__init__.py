"""OpenStreetMap extracts (.osm XML, .osm.pbf) -> Scene, in two steps:

- `read`: the file -> typed `OsmData` (hardened expat XML reader, pyosmium for PBF; and back);
- `assemble`: `OsmData` -> Scene (buildings via `buildings`, streets, sidewalks and kerbs via
  `geometry`, trees via the procedural props kit, dressing via `dressing`).
"""

from ..geometry import flat_polygon_mesh, kerb_mesh, offset_polyline, strip_mesh, trim_polyline
from .assemble import (
    CROWN_MATERIAL,
    DEFAULT_SIDEWALK_WIDTH_M,
    FOOT_CLASSES,
    GREEN_TAGS,
    HIGHWAY_WIDTH_M,
    LANE_WIDTH_M,
    MAIN_CLASSES,
    MAX_CROSSING_M,
    MAX_NOTES,
    NO_FOOT_CLASSES,
    SIDEWALK_HEIGHT_M,
    STREET_EDGE_INSET_M,
    TRUNK_MATERIAL,
    WATER_TAGS,
    assemble_rings,
    bay_width_for,
    build_scene,
    facade_material_for,
    load_osm,
    roof_material_for,
)
from .read import GIB, OsmData, OsmLimits, have_osmium, read_osm, write_osm

__all__ = [
    "CROWN_MATERIAL", "DEFAULT_SIDEWALK_WIDTH_M", "FOOT_CLASSES", "GIB", "GREEN_TAGS", "HIGHWAY_WIDTH_M",
    "LANE_WIDTH_M", "MAIN_CLASSES", "MAX_CROSSING_M", "MAX_NOTES", "NO_FOOT_CLASSES", "OsmData", "OsmLimits",
    "SIDEWALK_HEIGHT_M", "STREET_EDGE_INSET_M", "TRUNK_MATERIAL", "WATER_TAGS", "assemble_rings", "bay_width_for",
    "build_scene", "facade_material_for", "flat_polygon_mesh", "have_osmium", "kerb_mesh", "load_osm",
    "offset_polyline", "read_osm", "roof_material_for", "strip_mesh", "trim_polyline", "write_osm",
]
