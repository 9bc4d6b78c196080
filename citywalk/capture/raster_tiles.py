"""Tile-based splat compositing on the CPU, compiled with Numba, as a torch autograd Function.

`raster.py` projects Gaussians with torch (autograd does that part); this module does the
per-pixel part the way the 3DGS CUDA rasteriser does: Gaussians are binned into 16×16-pixel tiles
in depth order, each pixel blends its tile's list front to back (the skip, clamp and early-stop
rules of `scene/splat_math.py`, as in `render/splat_reference.py`), and the backward pass walks
each pixel's list back to front with the analytic gradients. Tiles run in parallel; gradients go to one
buffer per worker
so there are no write races. It is about an order of magnitude faster than the pair-list torch
path, which stays as the check for this one.
"""

from __future__ import annotations

import math

import numpy as np

from citywalk.errors import MissingExtra
from citywalk.scene.splat_math import ALPHA_MAX, ALPHA_MIN, T_MIN, alpha_cutoff_maha

TILE_PX = 16
_KERNELS: dict = {}


def available() -> bool:
    """Whether Numba can be imported (the 'capture' extra installs it)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _kernels() -> dict:
    """Compile (once per process; cached on disk by Numba) and return the kernels."""
    if _KERNELS:
        return _KERNELS
    try:
        import numba
        from numba import njit, prange
    except ImportError:
        raise MissingExtra("numba", "capture", "the fast CPU splat rasteriser") from None

    @njit(cache=True)
    def bin_tiles(order, tx0, tx1, ty0, ty1, tiles_x, n_tiles):
        """Gaussians (indices in depth order) → tile_start (n_tiles + 1,), tile_ids (pairs,):
        each tile's Gaussians front to back (a counting sort keeps the depth order)."""
        counts = np.zeros(n_tiles + 1, np.int64)
        for g in order:
            for ty in range(ty0[g], ty1[g] + 1):
                for tx in range(tx0[g], tx1[g] + 1):
                    counts[ty * tiles_x + tx + 1] += 1
        start = np.cumsum(counts)
        fill = start[:-1].copy()
        ids = np.empty(start[-1], np.int64)
        for g in order:
            for ty in range(ty0[g], ty1[g] + 1):
                for tx in range(tx0[g], tx1[g] + 1):
                    t = ty * tiles_x + tx
                    ids[fill[t]] = g
                    fill[t] += 1
        return start, ids

    @njit(parallel=True, cache=True, fastmath=True)
    def forward(start, ids, bx0, bx1, by0, by1, uv, conic, opac, maha_max, colors, depth, width, height,
                tiles_x, tile_px):
        """Premultiplied colour (H, W, 3), final transmittance (H, W), Σ wᵢzᵢ (H, W) and, per pixel,
        the end (exclusive) of the part of its tile list that was blended. Within a tile each
        Gaussian visits only the pixels of its bounds, front to back, so the cost follows the
        (Gaussian, pixel) pairs rather than the tile area."""
        n_tiles = len(start) - 1
        out_c = np.zeros((height, width, 3), np.float64)
        out_t = np.ones((height, width), np.float64)
        out_d = np.zeros((height, width), np.float64)
        last = np.zeros((height, width), np.int64)
        for t in prange(n_tiles):
            y_lo, x_lo = (t // tiles_x) * tile_px, (t % tiles_x) * tile_px
            y_hi, x_hi = min(y_lo + tile_px, height) - 1, min(x_lo + tile_px, width) - 1
            s, e = start[t], start[t + 1]
            done = np.zeros((tile_px, tile_px), np.bool_)
            n_left = (y_hi - y_lo + 1) * (x_hi - x_lo + 1)
            for py in range(y_lo, y_hi + 1):
                for px in range(x_lo, x_hi + 1):
                    last[py, px] = s
            for j in range(s, e):
                if n_left == 0:
                    break
                g = ids[j]
                for py in range(max(y_lo, by0[g]), min(y_hi, by1[g]) + 1):
                    dy = py - uv[g, 1]
                    for px in range(max(x_lo, bx0[g]), min(x_hi, bx1[g]) + 1):
                        if done[py - y_lo, px - x_lo]:
                            continue
                        dx = px - uv[g, 0]
                        maha = conic[g, 0] * dx * dx + 2.0 * conic[g, 1] * dx * dy + conic[g, 2] * dy * dy
                        if maha > maha_max[g]:
                            continue
                        alpha = min(ALPHA_MAX, opac[g] * math.exp(-0.5 * maha))
                        if alpha < ALPHA_MIN:
                            continue
                        trans = out_t[py, px]
                        test_t = trans * (1.0 - alpha)
                        if test_t < T_MIN:
                            done[py - y_lo, px - x_lo] = True
                            n_left -= 1
                            continue
                        w = alpha * trans
                        out_c[py, px, 0] += w * colors[g, 0]
                        out_c[py, px, 1] += w * colors[g, 1]
                        out_c[py, px, 2] += w * colors[g, 2]
                        out_d[py, px] += w * depth[g]
                        out_t[py, px] = test_t
                        last[py, px] = j + 1
        return out_c, out_t, out_d, last

    @njit(parallel=True, cache=True, fastmath=True)
    def backward(start, ids, bx0, bx1, by0, by1, uv, conic, opac, maha_max, colors, width, height, tiles_x,
                 tile_px, out_t, last, grad_c, grad_t, n_workers):
        """Gradients per Gaussian, columns (u, v, conic a, b, c, opacity, r, g, b), for the loss
        gradients of the premultiplied colour and the final transmittance: each tile's list is
        walked back to front, each pixel starting at the last Gaussian it blended."""
        n_tiles = len(start) - 1
        n = len(opac)
        acc = np.zeros((n_workers, n, 9), np.float64)
        for wk in prange(n_workers):
            trans = np.empty((tile_px, tile_px), np.float64)
            behind = np.empty((tile_px, tile_px, 3), np.float64)  # colour behind, relative to trans
            for t in range(wk, n_tiles, n_workers):
                y_lo, x_lo = (t // tiles_x) * tile_px, (t % tiles_x) * tile_px
                y_hi, x_hi = min(y_lo + tile_px, height) - 1, min(x_lo + tile_px, width) - 1
                s = start[t]
                e = s
                for py in range(y_lo, y_hi + 1):
                    for px in range(x_lo, x_hi + 1):
                        trans[py - y_lo, px - x_lo] = out_t[py, px]
                        behind[py - y_lo, px - x_lo, :] = 0.0
                        e = max(e, last[py, px])
                for j in range(e - 1, s - 1, -1):
                    g = ids[j]
                    ca, cb, cc = conic[g, 0], conic[g, 1], conic[g, 2]
                    cr, cg, cbl = colors[g, 0], colors[g, 1], colors[g, 2]
                    for py in range(max(y_lo, by0[g]), min(y_hi, by1[g]) + 1):
                        dy = py - uv[g, 1]
                        for px in range(max(x_lo, bx0[g]), min(x_hi, bx1[g]) + 1):
                            if j >= last[py, px]:
                                continue
                            dx = px - uv[g, 0]
                            maha = ca * dx * dx + 2.0 * cb * dx * dy + cc * dy * dy
                            if maha > maha_max[g]:
                                continue
                            gauss = math.exp(-0.5 * maha)
                            raw = opac[g] * gauss
                            alpha = min(ALPHA_MAX, raw)
                            if alpha < ALPHA_MIN:
                                continue
                            ly, lx = py - y_lo, px - x_lo
                            gr, gg, gb = grad_c[py, px, 0], grad_c[py, px, 1], grad_c[py, px, 2]
                            t_before = trans[ly, lx] / (1.0 - alpha)
                            br, bg, bb = behind[ly, lx, 0], behind[ly, lx, 1], behind[ly, lx, 2]
                            w = alpha * t_before
                            acc[wk, g, 6] += w * gr
                            acc[wk, g, 7] += w * gg
                            acc[wk, g, 8] += w * gb
                            d_alpha = t_before * (gr * (cr - br) + gg * (cg - bg) + gb * (cbl - bb)) \
                                - grad_t[py, px] * out_t[py, px] / (1.0 - alpha)
                            behind[ly, lx, 0] = alpha * cr + (1.0 - alpha) * br
                            behind[ly, lx, 1] = alpha * cg + (1.0 - alpha) * bg
                            behind[ly, lx, 2] = alpha * cbl + (1.0 - alpha) * bb
                            trans[ly, lx] = t_before
                            if raw > ALPHA_MAX:  # clamped: no gradient through alpha
                                continue
                            acc[wk, g, 5] += d_alpha * gauss
                            d_maha = -0.5 * raw * d_alpha
                            acc[wk, g, 0] -= d_maha * (2.0 * ca * dx + 2.0 * cb * dy)
                            acc[wk, g, 1] -= d_maha * (2.0 * cb * dx + 2.0 * cc * dy)
                            acc[wk, g, 2] += d_maha * dx * dx
                            acc[wk, g, 3] += d_maha * 2.0 * dx * dy
                            acc[wk, g, 4] += d_maha * dy * dy
        return acc.sum(axis=0)

    _KERNELS.update(bin_tiles=bin_tiles, forward=forward, backward=backward,
                    workers=max(1, min(8, int(numba.get_num_threads()))))  # one gradient buffer each
    return _KERNELS


def bin_gaussians(x0, x1, y0, y1, z, visible, size_px: tuple[int, int], tile_px: int = TILE_PX):
    """Pixel bounds (inclusive, NumPy int) of each Gaussian → (tile_start, tile_ids, tiles_x)."""
    k = _kernels()
    w, h = size_px
    tiles_x, tiles_y = -(-w // tile_px), -(-h // tile_px)
    vis = np.flatnonzero(visible)
    order = vis[np.argsort(z[vis], kind="stable")]
    start, ids = k["bin_tiles"](order.astype(np.int64), (x0 // tile_px).astype(np.int64),
                                (x1 // tile_px).astype(np.int64), (y0 // tile_px).astype(np.int64),
                                (y1 // tile_px).astype(np.int64), tiles_x, tiles_x * tiles_y)
    return start, ids, tiles_x


def composite_tiles(uv, conic, opac, colors, z, x0, x1, y0, y1, visible, size_px: tuple[int, int]):
    """Blend projected Gaussians (torch tensors uv (N, 2), conic (N, 3) = Σ⁻¹ as (a, b, c),
    opacity (N,), colour (N, 3), depth (N,); NumPy bounds and visibility) → torch
    (premultiplied rgb (H, W, 3), transmittance (H, W), Σ wᵢzᵢ (H, W), pairs). Differentiable in
    uv, conic, opacity and colour."""
    start, ids, tiles_x = bin_gaussians(x0, x1, y0, y1, z.detach().cpu().numpy(), visible, size_px)
    bounds = tuple(np.ascontiguousarray(b, np.int64) for b in (x0, x1, y0, y1))
    return _TileComposite.apply(uv, conic, opac, colors, z, (start, ids, tiles_x, size_px, bounds)), int(len(ids))


def _np(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float64))


def _maha_max(opac: np.ndarray) -> np.ndarray:
    """Mahalanobis distance beyond which opacity·exp(−½m) < 1/255 (a little slack: the exact test follows)."""
    return alpha_cutoff_maha(opac) + 1e-6


def _function():
    import torch

    class TileComposite(torch.autograd.Function):
        @staticmethod
        def forward(ctx, uv, conic, opac, colors, z, binning):
            start, ids, tiles_x, (w, h), bounds = binning
            k = _kernels()
            arrays = (_np(uv), _np(conic), _np(opac), _np(colors))
            mm = _maha_max(arrays[2])
            c, t, d, last = k["forward"](start, ids, *bounds, arrays[0], arrays[1], arrays[2], mm, arrays[3],
                                         _np(z), w, h, tiles_x, TILE_PX)
            ctx.binning, ctx.arrays, ctx.mm, ctx.saved = binning, arrays, mm, (t, last)
            ctx.dtype, ctx.device = uv.dtype, uv.device
            as_t = lambda a: torch.from_numpy(a).to(device=uv.device, dtype=uv.dtype)  # noqa: E731
            depth_sum = as_t(d)
            ctx.mark_non_differentiable(depth_sum)  # no depth loss, so no gradient
            return as_t(c), as_t(t), depth_sum

        @staticmethod
        def backward(ctx, grad_c, grad_t, _grad_d):
            start, ids, tiles_x, (w, h), bounds = ctx.binning
            k = _kernels()
            uv, conic, opac, colors = ctx.arrays
            t, last = ctx.saved
            gc = _np(grad_c) if grad_c is not None else np.zeros((h, w, 3))
            gt = _np(grad_t) if grad_t is not None else np.zeros((h, w))
            g = k["backward"](start, ids, *bounds, uv, conic, opac, ctx.mm, colors, w, h, tiles_x, TILE_PX, t,
                              last, gc, gt, k["workers"])
            g = torch.from_numpy(g).to(device=ctx.device, dtype=ctx.dtype)
            return g[:, 0:2], g[:, 2:5], g[:, 5], g[:, 6:9], None, None

    return TileComposite


class _Lazy:
    """Builds the autograd Function on first use so importing this module needs no torch."""

    _fn = None

    def apply(self, *args):
        if _Lazy._fn is None:
            _Lazy._fn = _function()
        return _Lazy._fn.apply(*args)


_TileComposite = _Lazy()
