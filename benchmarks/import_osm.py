"""Benchmark: import a synthetic OSM extract (grid of blocks, varied building tags) into a Scene.

Usage: python benchmarks/import_osm.py [--buildings 10000] [--seed 0]
Prints JSON: per reader (stdlib XML, pyosmium XML, pyosmium PBF) the read/build/total seconds,
triangle count and buildings per second.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from citywalk.sources import osm
from citywalk.sources.geo import EnuFrame

ROOFS = ["flat"] * 6 + ["gabled", "hipped", "pyramidal", "skillion", "mansard", "dome"]


def synthetic_extract(n_buildings: int, rng: np.random.Generator) -> osm.OsmData:
    """A square grid of 60 m blocks with four buildings each (every 10th block one courtyard
    multipolygon), residential streets with sidewalks between blocks, and street trees."""
    frame = EnuFrame(35.68, 139.76)
    blocks_per_side = max(1, math.ceil(math.sqrt(n_buildings / 3.6)))  # courtyards hold 1, not 4
    pitch_m, block_m = 74.0, 60.0
    xy: list[tuple[float, float]] = []
    node_tags: dict[int, dict[str, str]] = {}
    ways: dict[int, tuple[np.ndarray, dict[str, str]]] = {}
    relations: dict = {}

    def node(x, y, tags=None) -> int:
        xy.append((x, y))
        if tags:
            node_tags[len(xy)] = tags
        return len(xy)

    def ring(pts) -> np.ndarray:
        ids = [node(x, y) for x, y in pts]
        return np.array(ids + ids[:1], np.int64)

    def building_tags() -> dict[str, str]:
        tags = {"building": "yes"}
        r = rng.random()
        if r < 0.4:
            tags["height"] = f"{rng.uniform(6, 40):.1f}"
        elif r < 0.8:
            tags["building:levels"] = str(int(rng.integers(1, 12)))
        roof = ROOFS[int(rng.integers(len(ROOFS)))]
        if roof != "flat":
            tags["roof:shape"] = roof
            if rng.random() < 0.5:
                tags["roof:height"] = f"{rng.uniform(2, 5):.1f}"
        return tags

    way_id, rel_id, count = 1, 1, 0
    for bi in range(blocks_per_side):
        for bj in range(blocks_per_side):
            x0, y0 = bi * pitch_m, bj * pitch_m
            if count >= n_buildings:
                break
            if (bi * blocks_per_side + bj) % 10 == 9:
                outer = ring([(x0, y0), (x0 + block_m, y0), (x0 + block_m, y0 + block_m), (x0, y0 + block_m)])
                inner = ring([(x0 + 15, y0 + 15), (x0 + 45, y0 + 15), (x0 + 45, y0 + 45), (x0 + 15, y0 + 45)])
                ways[way_id], ways[way_id + 1] = (outer, {}), (inner, {})
                relations[rel_id] = ([("w", way_id, "outer"), ("w", way_id + 1, "inner")],
                                     {"type": "multipolygon", **building_tags(), "roof:shape": "flat"})
                way_id, rel_id, count = way_id + 2, rel_id + 1, count + 1
                continue
            for k in range(4):
                if count >= n_buildings:
                    break
                bx, by = x0 + (k % 2) * 31.0, y0 + (k // 2) * 31.0
                w, d = rng.uniform(18, 29), rng.uniform(18, 29)
                ways[way_id] = (ring([(bx, by), (bx + w, by), (bx + w, by + d), (bx, by + d)]), building_tags())
                way_id += 1
                count += 1
    extent = blocks_per_side * pitch_m
    for i in range(blocks_per_side + 1):
        c = i * pitch_m - 7.0
        for horizontal in (True, False):
            pts = [
                (-7.0 + s * pitch_m, c) if horizontal else (c, -7.0 + s * pitch_m) for s in range(blocks_per_side + 1)
            ]
            ids = np.array([node(x, y) for x, y in pts], np.int64)
            ways[way_id] = (ids, {"highway": "residential" if i % 4 else "secondary", "sidewalk": "both"})
            way_id += 1
            for s in range(blocks_per_side):
                x, y = pts[s]
                node(x + (20.0 if horizontal else 5.0), y + (5.0 if horizontal else 20.0), {"natural": "tree"})
    arr = np.array(xy)
    lat, lon, _ = frame.to_geodetic(np.column_stack([arr - extent / 2, np.zeros(len(arr))]))
    ids = np.arange(1, len(xy) + 1, dtype=np.int64)
    return osm.OsmData(ids, np.column_stack([lon, lat]), node_tags, ways, relations, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = synthetic_extract(args.buildings, np.random.default_rng(args.seed))
    results = {"buildings_requested": args.buildings, "nodes": int(len(data.node_ids)), "ways": len(data.ways)}
    with tempfile.TemporaryDirectory() as tmp:
        xml_path, pbf_path = Path(tmp) / "synthetic.osm", Path(tmp) / "synthetic.osm.pbf"
        osm.write_osm(xml_path, data)
        results["xml_mb"] = round(xml_path.stat().st_size / 1e6, 2)
        runs = [("xml_stdlib", xml_path, "xml")]
        if osm.have_osmium():
            osm.write_osm(pbf_path, data)
            results["pbf_mb"] = round(pbf_path.stat().st_size / 1e6, 2)
            runs += [("xml_osmium", xml_path, "osmium"), ("pbf_osmium", pbf_path, "osmium")]
        for name, path, backend in runs:
            t0 = time.perf_counter()
            scene = osm.load_osm(path, style="tokyo", backend=backend)
            total_s = time.perf_counter() - t0
            results[name] = {
                "import_s": round(total_s, 3),
                "read_s": round(scene.stats["read_s"], 3),
                "build_s": round(scene.stats["build_s"], 3),
                "buildings": scene.stats["buildings"],
                "triangles": scene.triangle_count,
                "meshes": len(scene.meshes),
                "walk_edges": int(len(scene.network.edges)) if scene.network else 0,
                "buildings_per_s": round(scene.stats["buildings"] / total_s, 1),
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
