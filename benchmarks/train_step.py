"""Seconds per training step of the CPU splat rasteriser: forward + backward of one 640×360 view
for the Numba tile compositor and the plain-torch pair list, on a random street-like cloud of
N Gaussians (or on a trained scene package with --scene DIR). Prints JSON.
Usage: python benchmarks/train_step.py [--counts 20000,100000] [--scene DIR] [--repeat 5]"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def street_cloud(n: int, rng: np.random.Generator):
    """Two textured walls and a floor 1–30 m ahead of a camera at the origin looking +z."""
    from citywalk.scene.gaussians import GaussianCloud

    side = rng.integers(0, 3, n)
    z = rng.uniform(1.0, 30.0, n)
    x = np.where(side == 0, -3.0, np.where(side == 1, 3.0, rng.uniform(-3, 3, n)))
    y = np.where(side == 2, 1.6, rng.uniform(-6.0, 1.6, n))
    means = np.stack([x, y, z], 1) + rng.normal(0, 0.02, (n, 3))
    scales = np.exp(rng.normal(np.log(0.04), 0.5, (n, 3)))
    return GaussianCloud(means, scales, rng.normal(size=(n, 4)), rng.uniform(0.2, 1.0, n),
                         rng.normal(0, 0.3, (n, 16, 3)), 3)


def time_step(cloud, R, t, K, size, engine: str, repeat: int) -> dict:
    import torch

    from citywalk.capture.raster import rasterize, sh_colors, ssim

    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32, requires_grad=True)  # noqa: E731
    p = {"means": f(cloud.means), "scales": f(cloud.scales), "quats": f(cloud.rotations),
         "op": f(cloud.opacities), "sh": f(cloud.sh)}
    target = torch.rand(size[1], size[0], 3)
    centre = torch.tensor(-np.asarray(R).T @ np.asarray(t), dtype=torch.float32)
    times, pairs = [], 0
    for i in range(repeat + 1):  # the first run compiles (Numba) and warms caches
        t0 = time.perf_counter()
        col = sh_colors(p["sh"], p["means"], centre, 3)
        out = rasterize(p["means"], p["scales"], p["quats"], p["op"], col, R, t, K, size, engine=engine)
        loss = 0.8 * (out["rgb"] - target).abs().mean() + 0.2 * (1 - ssim(out["rgb"], target))
        loss.backward()
        if i:
            times.append(time.perf_counter() - t0)
        pairs = out["pairs"]
        for v in p.values():
            v.grad = None
    return {"step_s": float(np.median(times)), "pairs": pairs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--counts", default="20000,100000")
    ap.add_argument("--scene", default=None, help="a capture scene package folder (scene.ply + cameras)")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    size = (640, 360)
    cases = []
    if a.scene:
        from citywalk.capture.package import read_scene_package

        pkg = read_scene_package(a.scene)
        cam = pkg["cameras"]["frames"][len(pkg["cameras"]["frames"]) // 2]
        cases.append((f"scene ({pkg['cloud'].count} Gaussians)", pkg["cloud"], cam["R_w2c"], cam["t_w2c"], cam["K"]))
    else:
        f = size[0] / 2 / np.tan(np.radians(75) / 2)
        K = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]])
        for n in (int(x) for x in a.counts.split(",")):
            cases.append((f"street {n}", street_cloud(n, np.random.default_rng(0)), np.eye(3), np.zeros(3), K))
    result = {}
    for name, cloud, R, t, K in cases:
        tiles = time_step(cloud, R, t, K, size, "tiles", a.repeat)
        try:
            pairs = time_step(cloud, R, t, K, size, "pairs", a.repeat)
        except Exception as exc:  # the pair list's memory guard
            pairs = {"error": str(exc)}
        result[name] = {"tiles": tiles, "pairs": pairs}
        if "step_s" in pairs:
            result[name]["speedup"] = pairs["step_s"] / tiles["step_s"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
