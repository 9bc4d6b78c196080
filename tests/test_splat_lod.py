"""Splat level of detail: the tree's moments, level selection by distance, the budget, the
cross-fade (weights sum to one along every path; no popping over a slow walk), the sidecar cache,
and the GL pass unchanged when the budget covers the cloud."""

from __future__ import annotations

import os

import numpy as np
import pytest

from citywalk.errors import RenderError
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_lod import build_lod, cached_lod, lod_sidecar_path
from citywalk.sources.splats import load_splat_scene, write_ply

W, H = 160, 120
K = np.array([[140.0, 0, 79.5], [0, 140.0, 59.5], [0, 0, 1]])
# OpenCV camera at the origin looking along +y of a Z-up world (rows: right, down, forward)
R_FWD = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def pose(y_m: float):
    eye = np.array([0.0, y_m, 1.6])
    return R_FWD, -R_FWD @ eye


def patch(n, centre, rng, spread_m=2.0, scale_m=0.05):
    means = np.asarray(centre) + rng.uniform(-spread_m, spread_m, (n, 3))
    return GaussianCloud(means, np.full((n, 3), scale_m), np.tile([1.0, 0, 0, 0], (n, 1)),
                         rng.uniform(0.3, 1.0, n), rng.normal(0, 0.5, (n, 1, 3)), 0)


def street(n, rng):
    """Facades at x = ±6 m and a road, 0..120 m ahead."""
    side = rng.choice([-6.0, 6.0], n)
    means = np.c_[np.where(rng.random(n) < 0.5, side, rng.uniform(-6, 6, n)),
                  rng.uniform(0, 120, n), rng.uniform(0, 10, n)]
    means[np.abs(np.abs(means[:, 0]) - 6) > 1e-6, 2] = 0.0
    scales = np.exp(rng.normal(np.log(0.08), 0.4, (n, 3)))
    return GaussianCloud(means, scales, np.tile([1.0, 0, 0, 0], (n, 1)), rng.uniform(0.4, 1.0, n),
                         rng.normal(0, 0.5, (n, 1, 3)), 0)


def test_parent_matches_its_childrens_moments():
    rng = np.random.default_rng(1)
    cloud = patch(64, (0, 0, 0), rng, spread_m=0.5)
    lod = build_lod(cloud)
    n = lod.n_leaves
    assert np.all(lod.parent[:n] >= n) and (lod.parent == -1).sum() == 1
    assert np.all(np.diff(lod.child_ptr) >= 2) and np.all(np.diff(lod.child_ptr) <= 8)
    nodes = lod.nodes
    cov_all = nodes.covariances()
    for j in (0, lod.count - n - 1):  # a first-level cell and the root
        kids = lod.children[lod.child_ptr[j]:lod.child_ptr[j + 1]]
        cov = cov_all[kids]
        area = np.sqrt(np.einsum("nii->n", cov) ** 2 / 2 - np.einsum("nij,nji->n", cov, cov) / 2)
        w = nodes.opacities[kids] * area
        mu = (w[:, None] * nodes.means[kids]).sum(0) / w.sum()
        d = nodes.means[kids] - mu
        sigma = (w[:, None, None] * (cov + d[:, :, None] * d[:, None, :])).sum(0) / w.sum()
        np.testing.assert_allclose(nodes.means[n + j], mu, atol=1e-5)
        np.testing.assert_allclose(cov_all[n + j], sigma, rtol=2e-3, atol=1e-7)
        np.testing.assert_allclose(nodes.sh[n + j], (w[:, None, None] * nodes.sh[kids]).sum(0) / w.sum(),
                                   atol=1e-4)
        assert 0 < nodes.opacities[n + j] <= 1
        assert np.all(lod.parent[kids] == n + j)


def test_far_patch_drawn_coarser_than_near_patch():
    rng = np.random.default_rng(2)
    near, far = patch(6000, (0, 8, 1.6), rng), patch(6000, (0, 80, 1.6), rng)
    lod = build_lod(GaussianCloud.concatenate([near, far]))
    sel, weight, tau = lod.cut(*pose(0.0), K, (W, H), budget=4000)
    assert len(sel) <= 4000 and tau > 0
    is_near_leaf = sel < 6000
    is_far_leaf = (sel >= 6000) & (sel < 12000)
    # the near patch keeps most of its leaves, the far one is drawn almost only by parents
    assert is_near_leaf.sum() > 1000
    assert is_far_leaf.sum() < 0.2 * is_near_leaf.sum()
    far_parents = sel[(sel >= 12000) & (np.linalg.norm(lod.nodes.means[sel] - (0, 80, 1.6), axis=1) < 4)]
    assert len(far_parents) > 0


def test_weights_sum_to_one_along_every_path():
    rng = np.random.default_rng(3)
    lod = build_lod(street(30000, rng))
    for y in (0.0, 20.0):
        sel, weight, tau = lod.cut(*pose(y), K, (W, H), budget=6000)
        total = np.zeros(lod.count)
        total[sel] = weight
        path_sum = np.zeros(lod.n_leaves)
        node = np.arange(lod.n_leaves)
        while True:
            ok = node >= 0
            if not ok.any():
                break
            path_sum[ok] += total[node[ok]]
            node[ok] = lod.parent[node[ok]]
        # every leaf in view is covered once: leaves far outside the view may be dropped whole
        pc = lod.nodes.means[:lod.n_leaves] @ R_FWD.T + pose(y)[1]
        uv = pc[:, :2] / np.maximum(pc[:, 2:], 1e-6) * 140.0 + (79.5, 59.5)
        inside = (pc[:, 2] > 0.5) & np.all((uv > 0) & (uv < (W, H)), axis=1)
        np.testing.assert_allclose(path_sum[inside], 1.0, atol=2e-3)
        assert path_sum.max() <= 1.0 + 2e-3


def test_budget_covering_the_cloud_returns_it_exactly():
    rng = np.random.default_rng(4)
    lod = build_lod(street(5000, rng))
    sel, weight, tau = lod.cut(*pose(0.0), K, (W, H), budget=5000)
    assert np.array_equal(sel, np.arange(5000)) and np.all(weight == 1.0) and tau == 0.0


def test_sidecar_cache_reused_then_invalidated(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "s.ply"
    write_ply(path, street(3000, rng))
    cloud = load_splat_scene(path)
    assert cloud.source == str(path)
    first = cached_lod(cloud, cloud.source)
    side = lod_sidecar_path(path)
    assert side.is_file() and not list(tmp_path.glob("*.tmp"))
    stamp = side.stat().st_mtime_ns
    again = cached_lod(cloud, cloud.source)
    assert side.stat().st_mtime_ns == stamp  # read, not rewritten
    np.testing.assert_array_equal(again.nodes.means, first.nodes.means)
    np.testing.assert_array_equal(again.parent, first.parent)
    # a different cloud from the same file (a crop) does not reuse the tree
    cropped = cloud.cropped((-10, 0, -1), (10, 60, 20))
    assert cached_lod(cropped, cropped.source).n_leaves == cropped.count
    # the file changes: rebuilt; a corrupt sidecar: rebuilt, never an error
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    side.write_bytes(b"not an npz")
    rebuilt = cached_lod(cloud, cloud.source)
    np.testing.assert_array_equal(rebuilt.parent, first.parent)
    assert side.stat().st_size > 100


# ---------------------------------------------------------------- GL


@pytest.fixture(scope="module")
def ctx():
    moderngl = pytest.importorskip("moderngl")
    try:
        context = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:  # no EGL/GL on this machine
        pytest.skip(f"no OpenGL context: {exc}")
    parking = context.simple_framebuffer((1, 1))
    parking.use()
    yield context
    context.release()


def _render(ctx, sp, y_m):
    from citywalk.render.splat_gl import make_splat_target, read_splat_target

    fbo, color, zsum = make_splat_target(ctx, (W, H))
    R, t = pose(y_m)
    sp.draw(R, t, K, (W, H), fbo)
    out = read_splat_target(color, zsum)
    fbo.release(), color.release(), zsum.release()
    return np.clip(out["rgb"], 0, 1)


def test_gl_budget_covering_cloud_is_unchanged(ctx):
    from citywalk.render.splat_gl import SplatPass

    cloud = street(12000, np.random.default_rng(6))
    a, b = SplatPass(ctx, cloud), SplatPass(ctx, cloud, budget=12000)
    assert a.lod is None and b.lod is None
    np.testing.assert_array_equal(_render(ctx, a, 0.0), _render(ctx, b, 0.0))
    a.release(), b.release()
    with pytest.raises(RenderError, match="budget"):
        SplatPass(ctx, cloud, budget=5)


def test_gl_slow_walk_does_not_pop(ctx):
    """Frame-to-frame change of the budgeted render over a slow walk stays within a bound set
    by the full render's own change (measured: ratio 0.91-0.92, PSNR 32.6 dB vs the full render)."""
    from citywalk.render.splat_gl import SplatPass

    cloud = street(60000, np.random.default_rng(7))
    full = SplatPass(ctx, cloud, budget=60000)
    lod = SplatPass(ctx, cloud, budget=15000)
    assert lod.lod is not None
    prev_full = prev_lod = None
    ratios, psnrs = [], []
    for i in range(8):
        y = 0.05 * i  # 5 cm steps: 1.2 m/s at 24 fps
        f, g = _render(ctx, full, y), _render(ctx, lod, y)
        assert lod.last_stats["drawn"] <= 15000
        psnrs.append(-10 * np.log10(np.mean((f - g) ** 2)))
        if prev_full is not None:
            ratios.append(np.abs(g - prev_lod).mean() / max(np.abs(f - prev_full).mean(), 1e-6))
        prev_full, prev_lod = f, g
    assert max(ratios) < 1.5, ratios
    assert min(psnrs) > 20.0, psnrs
    full.release(), lod.release()


def test_splat_budget_flag_and_shot_field():
    from pydantic import ValidationError

    from citywalk.cli import build_shot, make_parser
    from citywalk.shot import Shot

    args = make_parser().parse_args(["render", "--splat-budget", "250000"])
    shot, _ = build_shot(args)
    assert shot.output.splat_budget == 250000
    assert Shot().output.splat_budget is None  # the device's default
    with pytest.raises(ValidationError, match="splat_budget"):
        Shot(output={"splat_budget": 5})


def _turned(y_m: float, yaw_deg: float):
    """pose(y_m) turned left about the world z axis by yaw_deg."""
    a = np.radians(yaw_deg)
    yaw = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    R = R_FWD @ yaw.T
    return R, -R @ np.array([0.0, y_m, 1.6])


def _render_pose(ctx, sp, R, t):
    from citywalk.render.splat_gl import make_splat_target, read_splat_target

    fbo, color, zsum = make_splat_target(ctx, (W, H))
    sp.draw(R, t, K, (W, H), fbo)
    out = read_splat_target(color, zsum)
    fbo.release(), color.release(), zsum.release()
    return np.clip(out["rgb"], 0, 1)


def test_gl_small_move_reuses_the_sorted_cut(ctx):
    """A small step or turn keeps the last LOD cut and its order (only the screen cull runs
    again) within a measured bound of a fresh cut and sort; a large move or turn re-cuts."""
    from citywalk.render.splat_gl import SplatPass

    cloud = street(60000, np.random.default_rng(7))
    sp = SplatPass(ctx, cloud, budget=15000)
    fresh = SplatPass(ctx, cloud, budget=15000, reuse_move_m=0.0, reuse_turn_deg=0.0)
    assert sp.reuse_move_m > 0.1 and sp.reuse_turn_deg > 0.25
    _render_pose(ctx, sp, *_turned(0.0, 0.0))
    assert sp.full_sorts == 1 and not sp.last_cut["reused"]
    for y, yaw in ((0.1, 0.0), (0.0, 0.25), (0.1, -0.25)):
        kept = _render_pose(ctx, sp, *_turned(y, yaw))
        assert sp.last_cut["reused"] and sp.full_sorts == 1
        new = _render_pose(ctx, fresh, *_turned(y, yaw))
        assert not fresh.last_cut["reused"]
        psnr = -10 * np.log10(max(np.mean((kept - new) ** 2), 1e-12))
        assert psnr > 50.0, psnr  # measured 62-66 dB
    for R, t in (_turned(1.0, 0.0), _turned(1.0, 5.0)):  # a large step, then a large turn
        before = sp.full_sorts
        _render_pose(ctx, sp, R, t)
        assert sp.full_sorts == before + 1 and not sp.last_cut["reused"]
    sp.release(), fresh.release()


def test_grid_bins_equal_searchsorted():
    """The cut's arithmetic binning of projected sizes equals a binary search of the τ grid,
    including values on, just below and just above the grid's own values, 0 and ∞."""
    from citywalk.scene.splat_lod import _GRID, _grid_bins

    rng = np.random.default_rng(8)
    grid32 = _GRID.astype(np.float32)
    x = np.concatenate([np.exp(rng.uniform(-12, 14, 50000)), grid32, np.nextafter(grid32, np.float32(0)),
                        np.nextafter(grid32, np.float32(np.inf)), [0.0, 1e-30, 1e6, np.inf]]).astype(np.float32)
    for side in ("left", "right"):
        np.testing.assert_array_equal(_grid_bins(x, side), np.searchsorted(_GRID, x, side=side))


def _full_cut(lod, view, budget):
    """The cut computed the long way: every parent measured (sizes capped by the parent's, top
    down), τ from all of them — what the walk from the roots must reproduce."""
    from citywalk.scene.splat_lod import _GRID, FADE_BAND, _cut_sizes

    n = lod.n_leaves
    px = lod.parent_px(*view)
    grand = lod.parent[n:] - n
    for lv in reversed(range(len(lod.level_ptr) - 1)):
        ids = np.arange(lod.level_ptr[lv], lod.level_ptr[lv + 1])
        up = grand[ids] >= 0
        px[ids[up]] = np.minimum(px[ids[up]], px[grand[ids[up]]])
    nc = np.diff(lod.child_ptr)
    fits = np.flatnonzero(_cut_sizes(px, nc, n) <= budget)
    tau = float(_GRID[fits[0]] if len(fits) else _GRID[-1])
    hi = np.where(grand >= 0, px[np.maximum(grand, 0)], np.inf).astype(np.float32)
    with np.errstate(divide="ignore"):
        lo_r = np.clip(np.log(tau / px) / np.log(FADE_BAND), 0, 1)
        hi_r = np.clip(np.log(tau / hi) / np.log(FADE_BAND), 0, 1)
    w = np.zeros(lod.count)
    w[n:] = lo_r - hi_r
    has_parent = lod.parent[:n] >= 0
    w[:n][has_parent] = 1.0 - lo_r[lod.parent[:n][has_parent] - n]
    return w, tau


def test_cut_walked_from_the_roots_equals_measuring_every_parent():
    """The cut visits only subtrees that may be open, yet picks the same nodes, weights and τ as
    measuring every parent, whatever threshold it starts looking at."""
    rng = np.random.default_rng(5)
    lod = build_lod(street(40000, rng))
    visited = []
    for y, budget in ((0.0, 3000), (30.0, 8000), (-20.0, 12000)):
        view = (*pose(y), K, (W, H))
        w_ref, tau_ref = _full_cut(lod, view, budget)
        for hint in (1e-3, 4.0, 500.0):
            lod._tau_hint = hint
            sel, weight, tau = lod.cut(*view, budget)
            assert tau == tau_ref and len(sel) <= budget
            got = np.zeros(lod.count)
            got[sel] = weight
            keep = w_ref > 1.0 / 1024.0
            assert np.array_equal(np.sort(sel), np.flatnonzero(keep))
            np.testing.assert_allclose(got[keep], w_ref[keep], rtol=1e-5)
            assert np.all(np.diff(sel[sel < lod.n_leaves]) != 0)
        visited.append(len(lod._measure(*view, budget)[0]))
    assert min(visited) < 0.5 * (lod.count - lod.n_leaves), visited
