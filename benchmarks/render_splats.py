"""Benchmark the GL Gaussian-splat pass on synthetic street scenes (100k / 1M / 3M splats, 1280×720).

Prints one JSON object: per scene fps and the per-frame breakdown (cull+sort, upload, raster incl.
glFinish, readback of both attachments), plus the GL renderer string. Figures depend on machine
load; on a shared machine, run twice. Usage: python benchmarks/render_splats.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from citywalk.scene.gaussians import GaussianCloud


def street_cloud(n: int, rng: np.random.Generator, sh_degree: int = 3,
                 length_m: float = 300.0) -> GaussianCloud:
    """A street-like cloud: 45% road/sidewalk surface, 40% facades (±8 m, up to 18 m), 15% clutter
    (trees, cars, poles) beside a free walking corridor; 3DGS-like sizes (mostly 1–10 cm, some
    large) and opacities."""
    n_ground, n_wall = int(0.45 * n), int(0.40 * n)
    n_clutter = n - n_ground - n_wall
    half = length_m / 2
    ground = np.c_[rng.uniform(-9, 9, n_ground), rng.uniform(-half, half, n_ground),
                   rng.normal(0, 0.02, n_ground)]
    side = rng.choice([-8.0, 8.0], n_wall)
    wall = np.c_[side + rng.normal(0, 0.05, n_wall), rng.uniform(-half, half, n_wall),
                 rng.uniform(0, 18, n_wall) ** 1.0]
    # trees, poles, parked cars and bins along the kerbs; the walking corridor |x| < 2.5 m is free
    # (a capture's own camera path holds no geometry, so nothing sits right at the lens)
    clutter = np.c_[rng.choice([-1.0, 1.0], n_clutter) * rng.uniform(2.5, 7.5, n_clutter),
                    rng.uniform(-half, half, n_clutter), rng.gamma(2.0, 1.0, n_clutter)]
    means = np.vstack([ground, wall, clutter]).astype(np.float32)
    scales = np.exp(rng.normal(np.log(0.04), 0.7, (n, 3))).astype(np.float32)
    scales[:n_ground, 2] *= 0.2  # flat on the road
    scales[n_ground:n_ground + n_wall, 0] *= 0.2  # flat on facades
    q = rng.normal(size=(n, 4)).astype(np.float32)
    q[:n_ground + n_wall] = (1, 0, 0, 0)
    opac = np.clip(rng.beta(0.8, 0.5, n), 0, 1).astype(np.float32)
    k = (sh_degree + 1) ** 2
    sh = rng.normal(0, 0.15, (n, k, 3)).astype(np.float32)
    sh[:, 0] = rng.normal(0, 0.6, (n, 3))
    return GaussianCloud(means, scales, q, opac, sh, sh_degree)


def walk_pose(y_m: float, eye_height_m: float = 1.65):
    """OpenCV world→camera for a walker at (0, y, eye height) looking along +y (Z-up world)."""
    R = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # rows: right=x, down=-z, fwd=y
    eye = np.array([0.0, y_m, eye_height_m])
    return R, -R @ eye


def bench(ctx, n: int, frames: int, size=(1280, 720), sh_degree: int = 3,
          primitive: str = "auto") -> dict:
    from citywalk.render.splat_gl import SplatPass, make_splat_target

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    cloud = street_cloud(n, rng, sh_degree)
    t1 = time.perf_counter()
    sp = SplatPass(ctx, cloud, primitive=primitive)
    t2 = time.perf_counter()
    w, h = size
    f = 0.5 * w / np.tan(np.radians(60.0) / 2)  # 60° horizontal FOV
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]])
    fbo, color, zsum = make_splat_target(ctx, size)
    rows, drawn, stats = [], [], {}
    for i in range(frames + 1):  # first frame is warm-up
        R, t = walk_pose(-60.0 + 1.4 * i / 24.0 * 10)
        drawn.append(sp.draw(R, t, K, size, fbo))
        stats = sp.last_stats
        r0 = time.perf_counter()
        color.read()
        zsum.read()
        readback = 1e3 * (time.perf_counter() - r0)
        if i:
            rows.append({**sp.timings_ms, "readback": readback})
    ms = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    total = sum(ms.values())
    park = ctx.simple_framebuffer((1, 1))  # moderngl re-binds its last fbo: keep a live one bound
    park.use()
    fbo.release(), color.release(), zsum.release()
    sp.release()
    return {"splats": n, "sh_degree": sh_degree, "primitive": primitive, "size": list(size), "frames": frames,
            "drawn_per_frame": int(np.median(drawn)), "last_frame": stats, "fps": round(1e3 / total, 2),
            "ms": {k: round(v, 1) for k, v in ms.items()}, "ms_total": round(total, 1),
            "build_cloud_s": round(t1 - t0, 2), "upload_init_s": round(t2 - t1, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k splats only")
    parser.add_argument("--sizes", default="100000,1000000,3000000")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--sh-degree", type=int, default=3)
    parser.add_argument("--primitive", choices=["auto", "quads"], default="auto")
    args = parser.parse_args()
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl")
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    results = [bench(ctx, n, args.frames, sh_degree=args.sh_degree, primitive=args.primitive)
               for n in sizes]
    print(json.dumps({"renderer": ctx.info["GL_RENDERER"], "cpu_count": os.cpu_count(),
                      "load_avg": [round(x, 2) for x in os.getloadavg()],
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
