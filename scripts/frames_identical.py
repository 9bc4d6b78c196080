"""Render the same Shots with a reference commit and with this tree, and say whether every frame
(RGB and 16-bit depth) is bit-identical.

Used to prove that a refactor changed no pixel: the demo Shot, one Shot per world source (OSM,
mesh, KMZ, 3D Tiles, splat), night rain (glow and precipitation) and a side rig with an actor.
The world files are written once by the reference tree's own test builders, so both renders
read the same bytes.

    .venv/bin/python scripts/frames_identical.py                 # against 2024a03, before #20
    .venv/bin/python scripts/frames_identical.py --ref HEAD~3 --quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REF = "2024a03"  # main before "Shape before growth" (#20)

SMALL = {"size": [320, 180], "duration_s": 1.0, "fps": 12, "samples": 1, "extras": ["frames", "depth"]}


def cases(data: Path, quick: bool) -> dict[str, dict]:
    """Shot dicts by name; paths point into `data`."""
    import yaml

    demo = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())
    demo["output"].update({"extras": ["frames", "depth"], "path": "demo.mp4"})
    if quick:
        demo["output"].update({"size": [640, 360], "duration_s": 2.0})
    out = {"demo": demo}
    out["night_rain"] = {"scene": {"source": "procedural", "style": "hong_kong", "seed": 3},
                         "look": {"when": "night", "weather": "hard_rain"}, "output": dict(SMALL)}
    out["side_actor"] = {"scene": {"source": "procedural", "style": "paris", "seed": 2},
                         "camera": {"rig": "side"}, "look": {"when": "golden_hour"},
                         "actors": [{"likeness": str(data / "me.actor")}], "output": dict(SMALL)}
    out["osm"] = {"scene": {"source": "osm", "path": str(data / "city.osm"), "style": "tokyo"}, "output": dict(SMALL)}
    out["mesh"] = {"scene": {"source": "mesh", "path": str(data / "city.glb")}, "output": dict(SMALL)}
    out["kmz"] = {"scene": {"source": "kmz", "path": str(data / "city.kmz")}, "output": dict(SMALL)}
    out["tiles"] = {"scene": {"source": "tiles", "path": str(data / "ts" / "tileset.json")}, "output": dict(SMALL)}
    out["splat"] = {"scene": {"source": "splat", "path": str(data / "street.ply")},
                    "camera": {"route": [[-15, 0], [15, 0]]}, "look": {"weather": "fog"}, "output": dict(SMALL)}
    return out


def make_data(data: Path) -> None:
    """World files written by the (reference) tree on sys.path and its tests/ builders."""
    import numpy as np

    data.mkdir(parents=True, exist_ok=True)
    from test_actor_render import _actor
    from test_kmz import _good_kmz
    from test_osm import _city
    from test_tiles import _write_tileset
    from test_worlds import _synthetic_splat_street

    (data / "city.osm").write_text(_city().xml())
    _good_kmz(data)
    _write_tileset(data / "ts")
    _synthetic_splat_street(data / "street.ply", np.random.default_rng(0))
    _actor(n_frames=4, stride_m=0.7).save(data / "me.actor")
    import trimesh

    ground = trimesh.creation.box(extents=(80, 80, 1.0))
    ground.apply_translation((0, 0, 2.5))
    tower = trimesh.creation.box(extents=(6, 6, 20.0))
    tower.apply_translation((10, 10, 12))
    for m in (ground, tower):
        m.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))
    trimesh.Scene([ground, tower]).export(data / "city.glb")


def render_all(data: Path, out: Path, quick: bool) -> None:
    """Render every case with the citywalk on sys.path; write per-frame hashes to out/hashes.json."""
    import numpy as np
    from PIL import Image

    from citywalk.pipeline import render_shot
    from citywalk.shot import Shot

    hashes = {}
    for name, spec in cases(data, quick).items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        render_shot(Shot.from_dict(spec), folder / "walk.mp4")
        frames = {}
        for kind in ("frames", "depth"):
            for png in sorted((folder / f"walk_{kind}").glob("*.png")):
                px = np.asarray(Image.open(png))
                frames[f"{kind}/{png.name}"] = hashlib.sha256(px.tobytes() + str(px.shape).encode()).hexdigest()
        hashes[name] = frames
        print(f"  {name}: {len(frames)} images", flush=True)
    (out / "hashes.json").write_text(json.dumps(hashes, indent=1))


def _child(tree: Path, *args: str) -> None:
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{tree / 'tests'}")
    subprocess.run([sys.executable, __file__, *args], env=env, cwd=tree, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=DEFAULT_REF, help="commit to compare against")
    ap.add_argument("--quick", action="store_true", help="demo at 640x360 for 2 s instead of the full clip")
    ap.add_argument("--keep", type=Path, help="keep renders here instead of a temporary folder")
    ap.add_argument("--_data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_render", nargs=2, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._data:
        make_data(a._data)
        return 0
    if a._render:
        render_all(*a._render, a.quick)
        return 0
    work = a.keep or Path(tempfile.mkdtemp(prefix="frames_identical_"))
    ref_tree = work / "ref_tree"
    if not ref_tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_tree), a.ref], check=True)
    quick = ["--quick"] if a.quick else []
    try:
        print(f"world files by {a.ref}'s builders", flush=True)
        _child(ref_tree, "--_data", str(work / "data"))
        print(f"rendering with {a.ref}", flush=True)
        _child(ref_tree, "--_render", str(work / "data"), str(work / "ref"), *quick)
        print("rendering with this tree", flush=True)
        _child(ROOT, "--_render", str(work / "data"), str(work / "new"), *quick)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], check=False)
    ref = json.loads((work / "ref" / "hashes.json").read_text())
    new = json.loads((work / "new" / "hashes.json").read_text())
    bad = 0
    for name in ref:
        diff = [k for k in ref[name] if new.get(name, {}).get(k) != ref[name][k]]
        missing = len(ref[name]) != len(new.get(name, {}))
        ok = not diff and not missing
        bad += not ok
        verdict = "identical" if ok else f"DIFFER: {len(diff)} images, e.g. {diff[:3]}"
        print(f"{name:12s} {len(ref[name]):4d} images  {verdict}")
    print(f"renders in {work}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
