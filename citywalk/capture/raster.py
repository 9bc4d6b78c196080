"""Differentiable Gaussian-splat rasteriser for the CPU, the same forward pass as
`citywalk.render.splat_reference.render_reference` so they agree on tiny scenes: the formulas
and constants are `citywalk.scene.splat_math`'s, evaluated here on torch tensors for autograd.

The projection is plain torch (autograd). Compositing has two engines: `raster_tiles` (Numba
tiles with an analytic backward, the fast one) and a pair list in plain torch, which enumerates
every (Gaussian, pixel) pair inside the ellipse where alpha can reach 1/255, sorts the pairs by
pixel and depth and blends them with a segmented cumulative sum of log(1 − α) (float64); the
reference's early stop (transmittance < 1e-4) is reproduced pair by pair. The pair list needs
about 100 bytes per pair; `max_pairs` guards against blow-ups.
"""

from __future__ import annotations

import math

import numpy as np

from citywalk.capture import CaptureError
from citywalk.errors import MissingExtra
from citywalk.scene.splat_math import (
    ALPHA_MAX,
    ALPHA_MIN,
    DILATION_PX2,
    JACOBIAN_CLAMP,
    SH_C0,
    T_MIN,
    rotation_terms,
    sh_basis_terms,
)

MAX_PAIRS = 8_000_000


def import_torch():
    """torch, or MissingExtra naming the 'capture' extra."""
    try:
        import torch
    except ImportError:
        raise MissingExtra("torch", "capture", "training a splat scene from a capture") from None
    return torch


def quats_to_matrices(q):
    """(N, 4) w-first quaternions (any norm) → (N, 3, 3) rotation matrices (torch)."""
    torch = import_torch()
    q = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.stack(rotation_terms(*q.unbind(1)), 1).reshape(-1, 3, 3)


def sh_colors(sh, means, cam_centre, degree: int):
    """View-dependent colour (N, 3) = SH(dir) · sh[:, :K] + 0.5, clamped ≥ 0, with dir the unit vector
    from the camera centre (3,) to each mean; sh (N, K_total, 3), only the first (degree+1)² used."""
    torch = import_torch()
    d = means - cam_centre
    d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
    x, y, z = d.unbind(1)
    cols = sh_basis_terms(x, y, z, degree, torch.full_like(x, SH_C0))
    basis = torch.stack(cols, 1)  # (N, K)
    return (torch.einsum("nk,nkc->nc", basis, sh[:, :basis.shape[1]]) + 0.5).clamp_min(0.0)


def rasterize(means, scales, quats, opacities, colors, R_w2c, t_w2c, K, size_px: tuple[int, int],
              background=None, near_m: float = 0.05, far_m: float = 2000.0, max_pairs: int = MAX_PAIRS,
              engine: str = "auto") -> dict:
    """Render Gaussians (torch tensors: means (N, 3), linear scales (N, 3), quats (N, 4) w-first,
    opacities (N,) in 0..1, colors (N, 3)) with an OpenCV camera → {'rgb' (H, W, 3), 'alpha' (H, W),
    'depth' (H, W), 'means2d' (N, 2) (retains grad, for densification), 'visible' (N,) bool,
    'engine', 'pairs': (Gaussian, tile) pairs for 'tiles', (Gaussian, pixel) pairs for 'pairs'}. rgb is
    premultiplied plus (1 − alpha) · background when a (3,) background is given.
    engine: 'tiles' (Numba, fast), 'pairs' (plain torch) or 'auto' (tiles when Numba is installed)."""
    torch = import_torch()
    if engine not in ("auto", "tiles", "pairs"):
        raise CaptureError(f"splat rasteriser engine={engine!r}: expected 'auto', 'tiles' or 'pairs'")
    from citywalk.capture import raster_tiles

    if engine == "auto":
        engine = "tiles" if raster_tiles.available() and means.device.type == "cpu" else "pairs"
    w, h = int(size_px[0]), int(size_px[1])
    p = _project(means, scales, quats, opacities, R_w2c, t_w2c, K, (w, h), near_m, far_m)
    if engine == "tiles":
        bounds = [b.cpu().numpy() for b in (p["x0"], p["x1"], p["y0"], p["y1"])]
        (rgb, trans, dep), total = raster_tiles.composite_tiles(
            p["uv"], p["conic"], opacities, colors, p["z"], *bounds, p["visible"].cpu().numpy(), (w, h))
        acc = (1 - trans).reshape(-1)
        rgb, dep = rgb.reshape(-1, 3), dep.reshape(-1)
    else:
        rgb, acc, dep, total = _composite_pairs(p, opacities, colors, (w, h), max_pairs)
    if background is not None:
        rgb = rgb + (1 - acc)[:, None] * background
    depth = torch.where(acc > 1e-8, dep / acc.clamp_min(1e-8), torch.zeros_like(dep))
    return {"rgb": rgb.reshape(h, w, 3), "alpha": acc.reshape(h, w), "depth": depth.reshape(h, w),
            "means2d": p["means2d"], "visible": p["visible"], "engine": engine, "pairs": total}


def _project(means, scales, quats, opacities, R_w2c, t_w2c, K, size_px, near_m, far_m) -> dict:
    """EWA projection (differentiable): pixel centres, inverse 2D covariance (a, b, c), depth, and
    (no grad) the pixel bounds where alpha can reach 1/255 and the visibility mask."""
    torch = import_torch()
    dev, dt = means.device, means.dtype
    w, h = size_px
    R = torch.as_tensor(np.asarray(R_w2c), dtype=dt, device=dev)
    t = torch.as_tensor(np.asarray(t_w2c), dtype=dt, device=dev)
    Kt = np.asarray(K, np.float64)
    fx, fy, cx, cy = (float(Kt[0, 0]), float(Kt[1, 1]), float(Kt[0, 2]), float(Kt[1, 2]))
    pc = means @ R.T + t
    x, y, z = pc.unbind(1)
    z_safe = torch.where(z.abs() < 1e-9, torch.full_like(z, 1e-9), z)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], 1)
    if means2d.requires_grad:
        means2d.retain_grad()  # its gradient drives densification
    u, v = means2d.unbind(1)
    lim_x, lim_y = JACOBIAN_CLAMP * 0.5 * w / fx, JACOBIAN_CLAMP * 0.5 * h / fy
    xz = (x / z_safe).clamp(-lim_x, lim_x)
    yz = (y / z_safe).clamp(-lim_y, lim_y)
    zero = torch.zeros_like(z)
    J = torch.stack([fx / z_safe, zero, -fx * xz / z_safe, zero, fy / z_safe, -fy * yz / z_safe], 1).reshape(-1, 2, 3)
    Jw = J @ R
    RS = quats_to_matrices(quats) * scales[:, None, :]
    cov3 = RS @ RS.transpose(1, 2)
    cov2 = Jw @ cov3 @ Jw.transpose(1, 2)
    a = cov2[:, 0, 0] + DILATION_PX2
    b = cov2[:, 0, 1]
    c = cov2[:, 1, 1] + DILATION_PX2
    det = a * c - b * b
    with torch.no_grad():
        op = opacities.clamp(0, 1)
        k = 2.0 * torch.log((255.0 * op).clamp_min(1.0))  # maha where op·exp(−½maha) = 1/255
        rx, ry = torch.sqrt(k * a.clamp_min(0)), torch.sqrt(k * c.clamp_min(0))
        x0 = torch.ceil(u - rx).clamp(0, w).long()
        x1 = torch.floor(u + rx).clamp(-1, w - 1).long()
        y0 = torch.ceil(v - ry).clamp(0, h).long()
        y1 = torch.floor(v + ry).clamp(-1, h - 1).long()
        visible = ((z > near_m) & (z < far_m) & (op >= ALPHA_MIN) & (det > 0) & (x1 >= x0) & (y1 >= y0)
                   & torch.isfinite(u) & torch.isfinite(v))
    conic = torch.stack([c / det, -b / det, a / det], 1)
    return {"means2d": means2d, "uv": means2d, "conic": conic, "z": z, "x0": x0, "x1": x1, "y0": y0, "y1": y1,
            "visible": visible}


def _composite_pairs(p: dict, opacities, colors, size_px, max_pairs: int):
    """The plain-torch compositor: every (Gaussian, pixel) pair inside the 1/255 bounds, sorted by
    pixel and depth, blended with a segmented cumulative sum of log(1 − α) (float64)."""
    torch = import_torch()
    w, h = size_px
    z, visible, dev, dt = p["z"], p["visible"], opacities.device, opacities.dtype
    with torch.no_grad():
        x0, x1, y0, y1 = p["x0"], p["x1"], p["y0"], p["y1"]
        nx = torch.where(visible, x1 - x0 + 1, torch.zeros_like(x0))
        ny = torch.where(visible, y1 - y0 + 1, torch.zeros_like(y0))
        counts = nx * ny
        total = int(counts.sum())
        if total > max_pairs:
            raise CaptureError(f"splat rasteriser: {total} Gaussian-pixel pairs exceed the limit {max_pairs}; "
                               "lower the image size or the number of Gaussians")
        gid = torch.repeat_interleave(torch.arange(len(z), device=dev), counts)
        start = torch.cumsum(counts, 0) - counts
        local = torch.arange(total, device=dev) - start[gid]
        px = x0[gid] + local % nx[gid]
        py = y0[gid] + local // nx[gid]
        pix = py * w + px
        rank = torch.empty_like(z, dtype=torch.long)
        rank[torch.argsort(z, stable=True)] = torch.arange(len(z), device=dev)
        order = torch.argsort(pix * len(z) + rank[gid], stable=True)
        gid, pix, px, py = gid[order], pix[order], px[order], py[order]
    # one gather of every per-Gaussian quantity (its backward is a single index_add)
    g = torch.cat([p["uv"], p["conic"], opacities[:, None], z[:, None], colors], 1)[gid]
    dx = px.to(dt) - g[:, 0]
    dy = py.to(dt) - g[:, 1]
    maha = g[:, 2] * dx * dx + 2 * g[:, 3] * dx * dy + g[:, 4] * dy * dy
    alpha = (g[:, 5] * torch.exp(-0.5 * maha)).clamp(max=ALPHA_MAX)
    alpha = alpha * (alpha >= ALPHA_MIN).to(dt)
    log1m = torch.log1p(-alpha).double()
    cs = torch.cumsum(log1m, 0)
    cs_excl = cs - log1m
    with torch.no_grad():
        _, seg_counts = torch.unique_consecutive(pix, return_counts=True)
        seg_start = torch.cumsum(seg_counts, 0) - seg_counts
        base_index = torch.repeat_interleave(seg_start, seg_counts)
    log_t = cs_excl - cs_excl[base_index]
    trans = torch.exp(log_t).to(dt)
    with torch.no_grad():
        keep = (trans * (1 - alpha) >= T_MIN).to(dt)
    weight = alpha * trans * keep
    acc_all = torch.zeros(h * w, 5, dtype=dt, device=dev).index_add(
        0, pix, weight[:, None] * torch.cat([g[:, 7:10], torch.ones_like(g[:, :1]), g[:, 6:7]], 1))
    return acc_all[:, :3], acc_all[:, 3], acc_all[:, 4], total


def render_cloud(cloud, R_w2c, t_w2c, K, size_px: tuple[int, int], background=None,
                 engine: str = "auto") -> dict[str, np.ndarray]:
    """Render a GaussianCloud with the CPU rasteriser → NumPy {'rgb', 'alpha', 'depth'} (float32)."""
    torch = import_torch()
    f = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    centre = -np.asarray(R_w2c, np.float64).T @ np.asarray(t_w2c, np.float64)
    with torch.no_grad():
        colors = sh_colors(f(cloud.sh), f(cloud.means), f(centre), cloud.sh_degree)
        out = rasterize(f(cloud.means), f(cloud.scales), f(cloud.rotations), f(cloud.opacities), colors,
                        R_w2c, t_w2c, K, size_px, None if background is None else f(background), engine=engine)
    return {k: out[k].numpy().astype(np.float32) for k in ("rgb", "alpha", "depth")}


def ssim(img1, img2, window_px: int = 11, sigma_px: float = 1.5):
    """Mean SSIM of two (H, W, 3) images in 0..1 (Gaussian window, zero padding), differentiable
    (torch). The window is applied as two 1D passes over all five moment maps at once."""
    torch = import_torch()
    F = torch.nn.functional
    g = torch.exp(-((torch.arange(window_px, dtype=img1.dtype) - window_px // 2) ** 2) / (2 * sigma_px ** 2))
    g = (g / g.sum()).to(img1.device)
    x, y = img1.permute(2, 0, 1), img2.permute(2, 0, 1)
    maps = torch.cat([x, y, x * x, y * y, x * y])[None]  # (1, 15, H, W)
    pad = window_px // 2
    maps = F.conv2d(maps, g.reshape(1, 1, 1, -1).expand(15, 1, 1, window_px), padding=(0, pad), groups=15)
    maps = F.conv2d(maps, g.reshape(1, 1, -1, 1).expand(15, 1, window_px, 1), padding=(pad, 0), groups=15)
    mx, my, exx, eyy, exy = maps[0].split(3)
    sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def psnr(img1: np.ndarray, img2: np.ndarray) -> float:
    """PSNR in dB of two images in 0..1."""
    mse = float(np.mean((np.asarray(img1, np.float64) - np.asarray(img2, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)
