"""Size and worst round-trip error of every splat format citywalk writes (the README's *Splat
formats* table): a synthetic 100k-Gaussian street with SH degree 3 (`render_splats.street_cloud`),
written, read back, and compared splat by splat (formats that reorder splats are compared in their
own order). Prints one JSON line per format. Usage: python benchmarks/splat_formats.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _order(name: str, cloud) -> np.ndarray:
    """The order in which a format stores the splats (Morton for SOG, buckets for .ksplat 1-2)."""
    from citywalk.sources.splat_ksplat import bucket_order
    from citywalk.sources.splat_sog import morton_permutation

    if name.endswith(".sog"):
        return morton_permutation(cloud.means)
    if name.endswith(".ksplat") and "l0" not in name:
        return bucket_order(cloud.means.astype(np.float64), 5.0, 256)[0]
    return np.arange(cloud.count)


def _errors(cloud, back, order) -> dict:
    """Largest per-Gaussian errors, the README's columns."""
    k = min(cloud.sh.shape[1], back.sh.shape[1])
    sign = np.sign(np.sum(back.rotations * cloud.rotations[order], axis=1))[:, None]
    err = {"position_mm": 1e3 * np.abs(back.means - cloud.means[order]).max(),
           "rotation": np.abs(back.rotations * sign - cloud.rotations[order]).max(),
           "scale_rel_pct": 100 * np.abs(back.scales / cloud.scales[order] - 1).max(),
           "opacity": np.abs(back.opacities - cloud.opacities[order]).max(),
           "sh_dc": np.abs(back.sh[:, 0] - cloud.sh[order, 0]).max(),
           "sh_degree_kept": back.sh_degree,
           "sh_rest": np.abs(back.sh[:, 1:k] - cloud.sh[order, 1:k]).max() if k > 1 else None}
    return {key: (float(f"{v:.2g}") if isinstance(v, (float, np.floating)) else v) for key, v in err.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--only", default="", help="comma-separated file names, e.g. a.sog,a.l1.ksplat")
    args = ap.parse_args(argv)

    from render_splats import street_cloud

    from citywalk.sources.splat_formats import write_gltf_splats
    from citywalk.sources.splat_ksplat import write_ksplat
    from citywalk.sources.splats import load_splat_scene, save_splat_scene, write_spz

    cloud = street_cloud(args.n, np.random.default_rng(0))
    writers = {"a.ply": save_splat_scene, "a.splat": save_splat_scene, "a.spz": save_splat_scene,
               "a.v4.spz": lambda p, c: write_spz(p, c, version=4), "a.glb": save_splat_scene,
               "a.gltf": save_splat_scene, "a.spz.glb": lambda p, c: write_gltf_splats(p, c, compression="spz"),
               "a.sog": save_splat_scene, "a.l0.ksplat": lambda p, c: write_ksplat(p, c, 0),
               "a.l1.ksplat": lambda p, c: write_ksplat(p, c, 1), "a.l2.ksplat": lambda p, c: write_ksplat(p, c, 2)}
    only = {n for n in args.only.split(",") if n}
    ply_bytes = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in writers.items():
            if only and name not in only and name != "a.ply":
                continue
            path = Path(tmp) / name
            t0 = time.perf_counter()
            write(path, cloud)
            t1 = time.perf_counter()
            back = load_splat_scene(path)
            t2 = time.perf_counter()
            size = path.stat().st_size
            ply_bytes = ply_bytes or size
            row = {"format": name, "size_mb": round(size / 1e6, 1), "vs_ply": round(ply_bytes / size, 1),
                   "write_s": round(t1 - t0, 2), "read_s": round(t2 - t1, 2)}
            row.update(_errors(cloud, back, _order(name, cloud)))
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
