"""Benchmark the GL Gaussian-splat pass on synthetic street scenes (100k / 1M / 3M splats, 1280×720).

Prints one JSON object: per scene fps and the per-frame breakdown (cull+sort, upload, raster incl.
glFinish, readback of both attachments), plus the GL renderer string. Figures depend on machine
load; on a shared machine, run twice. Usage: python benchmarks/render_splats.py [--quick]

`--lod` instead renders each size under a splat budget (default: the device's) along a walk and
reports fps, the LOD tree's build time, peak RSS and PSNR of every frame against the full
(unbudgeted) render; `--plot FILE.png` draws ms per frame against cloud size for both.
`--big N` writes an N-Gaussian street .ply and, in child processes, loads it, builds (then reads
back) its LOD tree and renders at the budget: load/LOD seconds, fps and peak RSS (ru_maxrss).
`--reuse` walks at 1.4 m/s (24 fps) under the budget and reports the cut+cull+sort ms saved per
frame by keeping the LOD cut while the camera moves little, against re-cutting every frame.
`--coverage constant` sizes the splats so every count covers the 1M street's summed area (a finer
capture of the same street); the default, fixed sizes, makes a 10M street ten layers thicker.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from citywalk.scene.gaussians import GaussianCloud

COVERAGE_REF_SPLATS = 1_000_000  # --coverage constant: splats are sized as at this count


def street_cloud(n: int, rng: np.random.Generator, sh_degree: int = 3,
                 length_m: float = 300.0, coverage: str = "fixed") -> GaussianCloud:
    """A street-like cloud: 45% road/sidewalk surface, 40% facades (±8 m, up to 18 m), 15% clutter
    (trees, cars, poles) beside a free walking corridor; 3DGS-like sizes (mostly 1–10 cm, some
    large) and opacities. coverage "fixed": those sizes at any count, so the splats' summed area
    (and the overdraw of every view) grows with n; "constant": sides scaled by
    √(COVERAGE_REF_SPLATS / n), so the summed area stays that of the 1M street, as a finer
    capture of the same street would have it (3DGS densifies by splitting splats)."""
    if coverage not in ("fixed", "constant"):
        raise ValueError(f"street_cloud coverage={coverage!r}; accepted 'fixed' or 'constant'")
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
    if coverage == "constant":
        scales *= np.float32(np.sqrt(COVERAGE_REF_SPLATS / n))
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
          primitive: str = "auto", gpu_sort: bool | None = None) -> dict:
    from citywalk.render.splat_gl import SplatPass, make_splat_target

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    cloud = street_cloud(n, rng, sh_degree)
    t1 = time.perf_counter()
    sp = SplatPass(ctx, cloud, primitive=primitive, gpu_sort=gpu_sort)
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
    return {"splats": n, "sh_degree": sh_degree, "primitive": primitive, "gpu_sort": sp.gpu_sort,
            "size": list(size), "frames": frames,
            "drawn_per_frame": int(np.median(drawn)), "last_frame": stats, "fps": round(1e3 / total, 2),
            "ms": {k: round(v, 1) for k, v in ms.items()}, "ms_total": round(total, 1),
            "build_cloud_s": round(t1 - t0, 2), "upload_init_s": round(t2 - t1, 2)}


def bench_sort(ctx, n: int, repeats: int = 3) -> dict:
    """Median ms to sort n random 16-bit keys: NumPy's stable sort, and the compute shader
    (glFinish included; the permutation is not read back)."""
    from citywalk.render.splat_sort_gl import GpuKeySort

    keys = np.random.default_rng(0).integers(0, 65536, n).astype(np.uint16)
    sorter = GpuKeySort(ctx)
    times = {"numpy_ms": [], "compute_ms": []}
    for _ in range(repeats + 1):  # the first round warms up
        s0 = time.perf_counter()
        np.argsort(keys, kind="stable")
        s1 = time.perf_counter()
        sorter.sort(keys)
        ctx.finish()
        s2 = time.perf_counter()
        times["numpy_ms"].append(1e3 * (s1 - s0))
        times["compute_ms"].append(1e3 * (s2 - s1))
    sorter.release()
    return {"keys": n, "renderer": ctx.info["GL_RENDERER"],
            **{k: round(float(np.median(v[1:])), 2) for k, v in times.items()}}


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two premultiplied RGB images, values clipped to 0..1."""
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return float("inf") if mse == 0 else -10.0 * np.log10(mse)


def bench_lod(ctx, n: int, frames: int, budget: int | None, size=(1280, 720), sh_degree: int = 3,
              coverage: str = "fixed") -> dict:
    """Budgeted render vs the full render of an n-Gaussian street: fps of each, PSNR per frame."""
    import resource

    from citywalk.render.splat_gl import SplatPass, make_splat_target, read_splat_target

    cloud = street_cloud(n, np.random.default_rng(0), sh_degree, coverage=coverage)
    t0 = time.perf_counter()
    lod_pass = SplatPass(ctx, cloud, budget=budget)
    t1 = time.perf_counter()
    full_pass = SplatPass(ctx, cloud, budget=max(n, 10_000))
    w, h = size
    f = 0.5 * w / np.tan(np.radians(60.0) / 2)
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]])
    fbo, color, zsum = make_splat_target(ctx, size)
    lod_ms, full_ms, psnrs, cuts, stages = [], [], [], [], []
    for i in range(frames + 1):  # frame 0 warms both passes up
        R, t = walk_pose(-60.0 + 1.4 * i / 24.0 * 10)
        images = []
        for sp, times in ((lod_pass, lod_ms), (full_pass, full_ms)):
            s0 = time.perf_counter()
            sp.draw(R, t, K, size, fbo)
            images.append(read_splat_target(color, zsum)["rgb"])
            if i:
                times.append(1e3 * (time.perf_counter() - s0))
        if i:
            psnrs.append(psnr_db(images[0], images[1]))
            cuts.append(lod_pass.last_stats["drawn"])
            stages.append(dict(lod_pass.timings_ms))
    park = ctx.simple_framebuffer((1, 1))
    park.use()
    fbo.release(), color.release(), zsum.release()
    result = {
        "splats": n,
        "coverage": coverage,
        "budget": lod_pass.budget,
        "lod_nodes": lod_pass.count,
        "lod_build_s": round(t1 - t0, 2),
        "drawn_per_frame": int(np.median(cuts)),
        "lod_ms": round(float(np.median(lod_ms)), 1),
        "full_ms": round(float(np.median(full_ms)), 1),
        "lod_stage_ms": {k: round(float(np.median([s[k] for s in stages])), 1) for k in stages[0]},
        "lod_fps": round(1e3 / float(np.median(lod_ms)), 2),
        "full_fps": round(1e3 / float(np.median(full_ms)), 2),
        "psnr_db_min": round(min(psnrs), 2),
        "psnr_db_median": round(float(np.median(psnrs)), 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    lod_pass.release()
    full_pass.release()
    return result


def bench_reuse(ctx, n: int, frames: int, budget: int | None, size=(1280, 720), sh_degree: int = 3) -> dict:
    """A walk at 1.4 m/s and 24 fps under the budget, with the LOD cut kept while the camera moves
    little (the default) and re-cut every frame: ms per frame of each, full sorts, PSNR between."""
    from citywalk.render.splat_gl import SplatPass, make_splat_target, read_splat_target

    cloud = street_cloud(n, np.random.default_rng(0), sh_degree)
    keep = SplatPass(ctx, cloud, budget=budget)
    fresh = SplatPass(ctx, cloud, budget=budget, lod=keep.lod, reuse_move_m=0.0, reuse_turn_deg=0.0)
    w, h = size
    f = 0.5 * w / np.tan(np.radians(60.0) / 2)
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]])
    fbo, color, zsum = make_splat_target(ctx, size)
    ms = {"reuse": [], "fresh": []}
    stage = {"reuse": [], "fresh": []}
    psnrs = []
    for i in range(frames + 1):  # frame 0 warms both passes up
        R, t = walk_pose(-60.0 + 1.4 * i / 24.0)
        images = []
        for name, sp in (("reuse", keep), ("fresh", fresh)):
            s0 = time.perf_counter()
            sp.draw(R, t, K, size, fbo)
            dt = 1e3 * (time.perf_counter() - s0)
            images.append(read_splat_target(color, zsum)["rgb"])
            if i:
                ms[name].append(dt)
                stage[name].append(sp.timings_ms["sort"])
        if i:
            psnrs.append(psnr_db(images[0], images[1]))
    park = ctx.simple_framebuffer((1, 1))
    park.use()
    fbo.release(), color.release(), zsum.release()
    result = {"splats": n, "budget": keep.budget, "frames": frames, "step_m": round(1.4 / 24.0, 4),
              "reuse_move_m": keep.reuse_move_m, "reuse_turn_deg": keep.reuse_turn_deg,
              "full_sorts_reuse": keep.full_sorts - 1, "full_sorts_fresh": fresh.full_sorts - 1,
              "ms_reuse": round(float(np.mean(ms["reuse"])), 1), "ms_fresh": round(float(np.mean(ms["fresh"])), 1),
              "cut_sort_ms_reuse": round(float(np.mean(stage["reuse"])), 1),
              "cut_sort_ms_fresh": round(float(np.mean(stage["fresh"])), 1),
              "psnr_db_min_reuse_vs_fresh": round(min(psnrs), 2)}
    result["ms_saved_per_frame"] = round(result["cut_sort_ms_fresh"] - result["cut_sort_ms_reuse"], 1)
    keep.release(), fresh.release()
    return result


def plot_cost(results: list[dict], path: str, bigs: list[dict] | None = None, note: str = "") -> None:
    """ms per frame against cloud size (log-log), budgeted and full, one pair of lines per
    coverage in `results`; each of `bigs` (from --big: load + LOD + render in a child process)
    extends its coverage's budgeted line, labelled with its peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for coverage, colour in (("fixed", "tab:blue"), ("constant", "tab:orange")):
        rows = [r for r in results if r.get("coverage", "fixed") == coverage]
        big = [b for b in bigs or [] if b.get("coverage", "fixed") == coverage]
        if not rows and not big:
            continue
        what = "fixed splat sizes" if coverage == "fixed" else "constant coverage"
        n = [r["splats"] for r in rows]
        if rows:
            ax.plot(n, [r["full_ms"] for r in rows], "o--", color=colour, alpha=0.6, label=f"full cloud, {what}")
        lod_n = n + [b["build"]["splats"] for b in big]
        lod_ms = [r["lod_ms"] for r in rows] + [b["build"]["ms"] for b in big]
        budget = (rows or [b["build"] for b in big])[0]["budget"]
        ax.plot(lod_n, lod_ms, "s-", color=colour, label=f"LOD budget {budget:,}, {what}")
        for r in rows:
            if np.isfinite(r["psnr_db_min"]):
                ax.annotate(f"{r['psnr_db_min']:.1f} dB", (r["splats"], r["lod_ms"]), textcoords="offset points",
                            xytext=(4, -12) if coverage == "fixed" else (4, 6), fontsize=8, color=colour)
        for b in (b["build"] for b in big):
            ax.annotate(f"peak RSS {b['peak_rss_mib'] / 1024:.1f} GiB", (b["splats"], b["ms"]),
                        textcoords="offset points", xytext=(-70, 8), fontsize=8, color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Gaussians in the cloud")
    ax.set_ylabel("ms per 1280×720 frame (draw + readback)")
    ax.set_title(f"Splat frame cost vs cloud size{note}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def bench_big_child(path: str, frames: int, budget: int | None) -> dict:
    """In this (fresh) process: load the splat file, build or read its LOD tree, render `frames`
    walk frames at 1280×720 under the budget → timings, fps and peak RSS (ru_maxrss)."""
    import resource

    import moderngl

    from citywalk.render.splat_gl import SplatPass, make_splat_target, read_splat_target
    from citywalk.sources.splats import load_splat_scene

    t0 = time.perf_counter()
    cloud = load_splat_scene(path)
    t1 = time.perf_counter()
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ctx = moderngl.create_standalone_context(backend="egl")
    sp = SplatPass(ctx, cloud, budget=budget)
    t2 = time.perf_counter()
    size = (1280, 720)
    w, h = size
    f = 0.5 * w / np.tan(np.radians(60.0) / 2)
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]])
    fbo, color, zsum = make_splat_target(ctx, size)
    ms = []
    for i in range(frames + 1):
        R, t = walk_pose(-60.0 + 1.4 * i / 24.0 * 10)
        s0 = time.perf_counter()
        sp.draw(R, t, K, size, fbo)
        read_splat_target(color, zsum)
        if i:
            ms.append(1e3 * (time.perf_counter() - s0))
    return {"splats": cloud.count, "budget": sp.budget, "lod_nodes": sp.count, "load_s": round(t1 - t0, 1),
            "lod_s": round(t2 - t1, 1), "ms": round(float(np.median(ms)), 1),
            "fps": round(1e3 / float(np.median(ms)), 2), "drawn": sp.last_stats["drawn"],
            "stage_ms": {k: round(float(v), 1) for k, v in sp.timings_ms.items()},
            "peak_rss_mib_after_load": round(rss_load, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}


def bench_big(n: int, frames: int, budget: int | None, sh_degree: int, folder: str,
              coverage: str = "fixed") -> dict:
    """Write an n-Gaussian street .ply into `folder` (if not there), then measure bench_big_child
    twice in fresh processes: first building the LOD tree (and its sidecar), then reading it."""
    import subprocess
    import sys
    from pathlib import Path

    from citywalk.scene.splat_lod import lod_sidecar_path

    path = Path(folder) / f"street_{n}_sh{sh_degree}{'' if coverage == 'fixed' else '_' + coverage}.ply"
    if not path.is_file():  # in its own process: a child's peak RSS starts at its parent's size
        subprocess.run([sys.executable, __file__, "--big-write", str(path), "--big", str(n),
                        "--sh-degree", str(sh_degree), "--coverage", coverage], check=True)
    lod_sidecar_path(path).unlink(missing_ok=True)
    out = {"file": str(path), "file_mib": round(path.stat().st_size / 2**20, 1), "coverage": coverage}
    for run in ("build", "cached"):
        cmd = [sys.executable, __file__, "--big-child", str(path), "--frames", str(frames)]
        if budget is not None:
            cmd += ["--budget", str(budget)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[run] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k splats only")
    parser.add_argument("--sizes", default="100000,1000000,3000000")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--sh-degree", type=int, default=3)
    parser.add_argument("--primitive", choices=["auto", "quads"], default="auto")
    parser.add_argument("--gpu-sort", choices=["auto", "on", "off"], default="auto",
                        help="depth sort by compute shader (auto: on a hardware GPU)")
    parser.add_argument("--sort-only", action="store_true",
                        help="time the compute-shader sort against NumPy's on random keys of each size")
    parser.add_argument("--lod", action="store_true", help="budgeted (LOD) vs full render, with PSNR")
    parser.add_argument("--budget", type=int, default=None, help="splat budget (default: the device's)")
    parser.add_argument("--reuse", action="store_true",
                        help="slow walk: LOD cut kept while the camera moves little vs re-cut every frame")
    parser.add_argument("--big", type=int, default=None,
                        help="peak RSS and fps of load + LOD + render of a cloud this big, in child processes")
    parser.add_argument("--big-dir", default="/tmp", help="where --big writes its .ply")
    parser.add_argument("--coverage", choices=["fixed", "constant", "both"], default="fixed",
                        help="street splat sizes: fixed (overdraw grows with the count), constant "
                             "summed area (a finer capture of the same street), or both in turn")
    parser.add_argument("--big-from", default=None, help="with --plot: saved --big JSON lines to plot (comma list)")
    parser.add_argument("--big-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--big-write", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plot", default=None, help="with --lod: write ms-vs-size to this PNG")
    args = parser.parse_args()
    coverages = ["fixed", "constant"] if args.coverage == "both" else [args.coverage]
    if args.big_child:
        print(json.dumps(bench_big_child(args.big_child, args.frames, args.budget)), flush=True)
        return
    if args.big_write:
        from citywalk.sources.splats import write_ply

        write_ply(args.big_write, street_cloud(args.big, np.random.default_rng(0), args.sh_degree,
                                               coverage=coverages[0]))
        return
    saved = args.big_from.split(",") if args.big_from else []
    bigs = [json.loads(open(f).read().strip().splitlines()[-1]) for f in saved]
    if args.big:
        for coverage in coverages:
            bigs.append(bench_big(args.big, args.frames, args.budget, args.sh_degree, args.big_dir, coverage))
            print(json.dumps(bigs[-1]), flush=True)
        if not args.lod:
            return
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl")
    if args.reuse:
        for n in [int(s) for s in args.sizes.split(",")]:
            print(json.dumps(bench_reuse(ctx, n, args.frames, args.budget, sh_degree=args.sh_degree)), flush=True)
        return
    if args.lod:
        sizes = [int(s) for s in args.sizes.split(",")]
        results = []
        for coverage in coverages:
            for n in sizes:
                results.append(bench_lod(ctx, n, args.frames, args.budget, sh_degree=args.sh_degree,
                                         coverage=coverage))
                print(json.dumps(results[-1]), flush=True)
        if args.plot:
            note = f" ({os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}, {ctx.info['GL_RENDERER'][:8]})"
            plot_cost(results, args.plot, bigs=bigs, note=note)
        print(json.dumps({"renderer": ctx.info["GL_RENDERER"], "cpu_count": os.cpu_count(),
                          "load_avg": [round(x, 2) for x in os.getloadavg()], "lod": results}, indent=1))
        return
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if args.sort_only:
        for n in sizes:
            print(json.dumps(bench_sort(ctx, n)), flush=True)
        return
    gpu_sort = {"auto": None, "on": True, "off": False}[args.gpu_sort]
    results = [bench(ctx, n, args.frames, sh_degree=args.sh_degree, primitive=args.primitive, gpu_sort=gpu_sort)
               for n in sizes]
    print(json.dumps({"renderer": ctx.info["GL_RENDERER"], "cpu_count": os.cpu_count(),
                      "load_avg": [round(x, 2) for x in os.getloadavg()],
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
