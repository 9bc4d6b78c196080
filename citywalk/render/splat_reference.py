"""Slow, obviously-correct NumPy rasteriser for Gaussian splats (the yardstick for the GL pass).

Follows the 3DGS forward pass: OpenCV camera (x right, y down, z forward, x_cam = R x_world + t,
pinhole K), EWA projection of the covariance (Jacobian at x/z, y/z clamped to 1.3× the half field
of view, as 3DGS does) with a 0.3 px² low-pass dilation, colour from real SH
(+0.5, clamped ≥ 0), front-to-back blending in camera-depth order with alpha = opacity·exp(−½ dᵀΣ⁻¹d)
clamped ≤ 0.99, skipped below 1/255, and a pixel stops once transmittance would drop below 1e-4.
Pixel centres are at integer (u, v) = (column, row). Tiny scenes only (≤ a few hundred Gaussians).
"""

from __future__ import annotations

import numpy as np

from citywalk.scene.gaussians import GaussianCloud, sh_basis

DILATION_PX2 = 0.3
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
T_MIN = 1e-4
JACOBIAN_CLAMP = 1.3


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values (≥ 0, may exceed 1) → linear (the standard piecewise curve)."""
    c = np.maximum(c, 0.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def project_gaussians(cloud: GaussianCloud, R_w2c, t_w2c, K, size_px: tuple[int, int]):
    """Camera-space depth (N,), pixel centres (N, 2), 2D covariances (N, 2, 2) incl. dilation."""
    r = np.asarray(R_w2c, np.float64)
    t = np.asarray(t_w2c, np.float64)
    k = np.asarray(K, np.float64)
    pc = cloud.means.astype(np.float64) @ r.T + t
    x, y, z = pc[:, 0], pc[:, 1], np.where(np.abs(pc[:, 2]) < 1e-9, 1e-9, pc[:, 2])
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    uv = np.stack([fx * x / z + cx, fy * y / z + cy], axis=1)
    # As 3DGS: the Jacobian is taken at x/z, y/z clamped to 1.3× the half field of view, so
    # Gaussians far outside the view do not blow up into screen-filling ellipses.
    lim_x, lim_y = JACOBIAN_CLAMP * 0.5 * size_px[0] / fx, JACOBIAN_CLAMP * 0.5 * size_px[1] / fy
    xz, yz = np.clip(x / z, -lim_x, lim_x), np.clip(y / z, -lim_y, lim_y)
    j = np.zeros((len(pc), 2, 3))
    j[:, 0, 0] = fx / z
    j[:, 0, 2] = -fx * xz / z
    j[:, 1, 1] = fy / z
    j[:, 1, 2] = -fy * yz / z
    jw = j @ r  # (N, 2, 3): Jacobian w.r.t. world coordinates
    cov2d = jw @ cloud.covariances() @ np.transpose(jw, (0, 2, 1))
    cov2d[:, 0, 0] += DILATION_PX2
    cov2d[:, 1, 1] += DILATION_PX2
    return pc[:, 2], uv, cov2d


def splat_colors(cloud: GaussianCloud, R_w2c, t_w2c) -> np.ndarray:
    """View-dependent colour per Gaussian (N, 3): SH · basis(dir) + 0.5, clamped ≥ 0, where dir is
    the unit vector from the camera centre to the Gaussian's mean (world frame)."""
    r = np.asarray(R_w2c, np.float64)
    centre = -r.T @ np.asarray(t_w2c, np.float64)
    d = cloud.means.astype(np.float64) - centre
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    basis = sh_basis(d, cloud.sh_degree)  # (N, K)
    rgb = np.einsum("nk,nkc->nc", basis, cloud.sh.astype(np.float64)) + 0.5
    return np.maximum(rgb, 0.0)


def render_reference(cloud: GaussianCloud, R_w2c, t_w2c, K, size_px: tuple[int, int],
                     near_m: float = 0.05, far_m: float = 2000.0,
                     to_linear: bool = False) -> dict[str, np.ndarray]:
    """Render → {'rgb': (H, W, 3) float32 premultiplied (no background), 'alpha': (H, W),
    'depth': (H, W) expected camera z of the covered part (Σ wᵢzᵢ / alpha; 0 where alpha = 0)}.

    `to_linear=True` converts each splat's SH colour from sRGB encoding to linear before
    blending, which is what the GL pass does."""
    w, h = int(size_px[0]), int(size_px[1])
    z, uv, cov2d = project_gaussians(cloud, R_w2c, t_w2c, K, (w, h))
    rgb_splat = splat_colors(cloud, R_w2c, t_w2c)
    if to_linear:
        rgb_splat = srgb_to_linear(rgb_splat)
    keep = (z > near_m) & (z < far_m) & (cloud.opacities >= ALPHA_MIN)
    order = np.argsort(z, kind="stable")
    order = order[keep[order]]
    cols, rows = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rgb = np.zeros((h, w, 3))
    depth_w = np.zeros((h, w))
    trans = np.ones((h, w))
    done = np.zeros((h, w), bool)
    for i in order:
        a, b, c = cov2d[i, 0, 0], cov2d[i, 0, 1], cov2d[i, 1, 1]
        det = a * c - b * b
        if det <= 0:
            continue
        dx, dy = cols - uv[i, 0], rows - uv[i, 1]
        maha = (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det
        alpha = np.minimum(ALPHA_MAX, cloud.opacities[i] * np.exp(-0.5 * maha))
        alpha[alpha < ALPHA_MIN] = 0.0
        test_t = trans * (1.0 - alpha)
        newly_done = (test_t < T_MIN) & (alpha > 0) & ~done
        done |= newly_done
        alpha[done] = 0.0
        weight = alpha * trans
        rgb += weight[..., None] * rgb_splat[i]
        depth_w += weight * z[i]
        trans = trans * (1.0 - alpha)
    alpha_img = 1.0 - trans
    depth = np.where(alpha_img > 1e-8, depth_w / np.maximum(alpha_img, 1e-8), 0.0)
    return {"rgb": rgb.astype(np.float32), "alpha": alpha_img.astype(np.float32),
            "depth": depth.astype(np.float32)}
