"""Slow, obviously-correct NumPy rasteriser for Gaussian splats (the yardstick for the GL pass).

Follows the 3DGS forward pass: OpenCV camera (x right, y down, z forward, x_cam = R x_world + t,
pinhole K), EWA projection of the covariance (Jacobian at x/z, y/z clamped to 1.3× the half field
of view, as 3DGS does) with a 0.3 px² low-pass dilation, colour from real SH
(+0.5, clamped ≥ 0), front-to-back blending in camera-depth order with alpha = opacity·exp(−½ dᵀΣ⁻¹d)
clamped ≤ 0.99, skipped below 1/255, and a pixel stops once transmittance would drop below 1e-4.
Pixel centres are at integer (u, v) = (column, row). Tiny scenes only (≤ a few hundred Gaussians).
The projection, colour and constants are `citywalk.scene.splat_math`'s, shared with the trainer.
"""

from __future__ import annotations

import numpy as np

from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_math import ALPHA_MAX, ALPHA_MIN, T_MIN, project_gaussians, sh_colors

from .color import srgb_to_linear


def render_reference(cloud: GaussianCloud, R_w2c, t_w2c, K, size_px: tuple[int, int],
                     near_m: float = 0.05, far_m: float = 2000.0,
                     to_linear: bool = False) -> dict[str, np.ndarray]:
    """Render → {'rgb': (H, W, 3) float32 premultiplied (no background), 'alpha': (H, W),
    'depth': (H, W) expected camera z of the covered part (Σ wᵢzᵢ / alpha; 0 where alpha = 0)}.

    `to_linear=True` converts each splat's SH colour from sRGB encoding to linear before
    blending, which is what the GL pass does."""
    w, h = int(size_px[0]), int(size_px[1])
    z, uv, cov2d = project_gaussians(cloud.means, cloud.covariances(), R_w2c, t_w2c, K, (w, h))
    centre = -np.asarray(R_w2c, np.float64).T @ np.asarray(t_w2c, np.float64)
    rgb_splat = sh_colors(cloud.sh, cloud.means, centre, cloud.sh_degree)
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
