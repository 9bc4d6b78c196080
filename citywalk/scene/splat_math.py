"""The maths of 3D Gaussian splats, in one place for the renderer (the NumPy reference and the GL
pass) and the capture trainer (its torch rasteriser): spherical harmonics, quaternions, world
and screen covariances, and the compositing rules of the 3DGS forward pass.

Conventions: unit quaternions w-first; OpenCV cameras (x right, y down, z forward,
x_cam = R x_world + t, pinhole K); pixel centres at integer (u, v) = (column, row). SH use the
standard 3DGS constants and ordering; colour(dir) = SH · basis(dir) + 0.5, clamped ≥ 0.
Functions ending in `_terms` take any array type with elementwise arithmetic (NumPy or torch),
so the torch code evaluates the very same formulas.
"""

from __future__ import annotations

import numpy as np

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005,
         -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)
MAX_SH_DEGREE = 3

# The forward pass of 3DGS, as every rasteriser here follows it
DILATION_PX2 = 0.3       # low-pass added to both axes of each screen covariance
ALPHA_MIN = 1.0 / 255.0  # a Gaussian's alpha below this is skipped
ALPHA_MAX = 0.99         # alpha is clamped to this
T_MIN = 1e-4             # a pixel stops blending once its transmittance would drop below this
JACOBIAN_CLAMP = 1.3     # the projection's Jacobian is taken at x/z, y/z clamped to 1.3× the half FOV


def sh_coeff_count(degree: int) -> int:
    """Number of SH coefficients per channel for `degree` (0..3): (degree + 1)^2."""
    return (degree + 1) ** 2


def sh_basis_terms(x, y, z, degree: int, c0) -> list:
    """The (degree+1)² real-SH basis terms (3DGS sign and order) as a list, for any array type with
    elementwise arithmetic (NumPy or torch): x, y, z are unit-direction components, c0 the constant
    term already shaped like x."""
    cols = [c0]
    if degree >= 1:
        cols += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        cols += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy),
                 SH_C2[3] * x * z, SH_C2[4] * (xx - yy)]
    if degree >= 3:
        cols += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z,
                 SH_C3[2] * y * (4 * zz - xx - yy), SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
                 SH_C3[4] * x * (4 * zz - xx - yy), SH_C3[5] * z * (xx - yy),
                 SH_C3[6] * x * (xx - 3 * yy)]
    return cols


def sh_basis(dirs: np.ndarray, degree: int) -> np.ndarray:
    """Real SH basis at unit directions `dirs` (M, 3) → (M, K) float64, 3DGS sign/order."""
    d = np.asarray(dirs, np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    return np.stack(sh_basis_terms(x, y, z, degree, np.full_like(x, SH_C0)), axis=1)


def sh_colors(sh: np.ndarray, means: np.ndarray, cam_centre: np.ndarray, degree: int) -> np.ndarray:
    """View-dependent colour (N, 3) float64 = SH(dir) · sh + 0.5, clamped ≥ 0, with dir the unit
    vector from `cam_centre` (3,) to each mean (N, 3); sh (N, K, 3) with K = (degree + 1)²."""
    d = np.asarray(means, np.float64) - np.asarray(cam_centre, np.float64)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    basis = sh_basis(d, degree)  # (N, K)
    rgb = np.einsum("nk,nkc->nc", basis, np.asarray(sh, np.float64)) + 0.5
    return np.maximum(rgb, 0.0)


def rgb_from_sh_dc(dc):
    """The view-independent colour of DC coefficients (…, 3): SH_C0 · dc + 0.5 (not clamped)."""
    return SH_C0 * dc + 0.5


def sh_dc_from_rgb(rgb):
    """DC coefficients (…, 3) whose view-independent colour is `rgb`."""
    return (rgb - 0.5) / SH_C0


def rotation_terms(w, x, y, z) -> list:
    """The nine entries (row-major) of the rotation matrix of unit quaternions (w, x, y, z), for
    any array type with elementwise arithmetic (NumPy or torch)."""
    return [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (N, 4) w-first → rotation matrices (N, 3, 3) float64."""
    q = np.asarray(q, np.float64)
    return np.stack(rotation_terms(q[:, 0], q[:, 1], q[:, 2], q[:, 3]), axis=1).reshape(-1, 3, 3)


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """One rotation matrix (3, 3) → unit quaternion (4,) w-first (Shepperd's method)."""
    m = np.asarray(m, np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b of w-first quaternions, broadcasting (…, 4)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, np.float64), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def sh_rotation_matrix(rotation: np.ndarray, degree: int) -> np.ndarray:
    """(K, K) matrix D with sh_new = D @ sh_old so that f_new(d) = f_old(Rᵀ d), K = (degree+1)².

    Exact for band-limited functions: solved by least squares on a fixed set of directions
    (each band maps to itself under rotation, so the fit has zero residual)."""
    k = sh_coeff_count(degree)
    golden = np.pi * (3.0 - np.sqrt(5.0))
    i = np.arange(64) + 0.5
    zs = 1 - 2 * i / 64
    r = np.sqrt(1 - zs * zs)
    dirs = np.stack([r * np.cos(golden * i), r * np.sin(golden * i), zs], axis=1)
    a = sh_basis(dirs, degree)
    b = sh_basis(dirs @ np.asarray(rotation, np.float64), degree)  # rows: Rᵀ d
    d = np.linalg.lstsq(a, b, rcond=None)[0]
    return d.reshape(k, k)


def covariances(scales: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """World covariances Σ = R S Sᵀ Rᵀ (N, 3, 3) float64 m² of Gaussians with linear scales
    (N, 3) m (std-dev per local axis) and unit quaternions (N, 4) w-first."""
    rs = quaternions_to_matrices(rotations) * np.asarray(scales, np.float64)[:, None, :]
    return rs @ np.transpose(rs, (0, 2, 1))


def project_gaussians(means: np.ndarray, cov3d: np.ndarray, R_w2c, t_w2c, K,
                      size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EWA projection: camera-space depth (N,), pixel centres (N, 2) and screen covariances
    (N, 2, 2) px² incl. the DILATION_PX2 low-pass, float64. The Jacobian is taken at x/z, y/z
    clamped to JACOBIAN_CLAMP × the half field of view, as 3DGS does, so Gaussians far outside
    the view do not blow up into screen-filling ellipses."""
    r = np.asarray(R_w2c, np.float64)
    k = np.asarray(K, np.float64)
    pc = np.asarray(means, np.float64) @ r.T + np.asarray(t_w2c, np.float64)
    x, y, z = pc[:, 0], pc[:, 1], np.where(np.abs(pc[:, 2]) < 1e-9, 1e-9, pc[:, 2])
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    uv = np.stack([fx * x / z + cx, fy * y / z + cy], axis=1)
    lim_x, lim_y = JACOBIAN_CLAMP * 0.5 * size_px[0] / fx, JACOBIAN_CLAMP * 0.5 * size_px[1] / fy
    xz, yz = np.clip(x / z, -lim_x, lim_x), np.clip(y / z, -lim_y, lim_y)
    j = np.zeros((len(pc), 2, 3))
    j[:, 0, 0] = fx / z
    j[:, 0, 2] = -fx * xz / z
    j[:, 1, 1] = fy / z
    j[:, 1, 2] = -fy * yz / z
    jw = j @ r  # (N, 2, 3): Jacobian w.r.t. world coordinates
    cov2d = jw @ cov3d @ np.transpose(jw, (0, 2, 1))
    cov2d[:, 0, 0] += DILATION_PX2
    cov2d[:, 1, 1] += DILATION_PX2
    return pc[:, 2], uv, cov2d


def alpha_cutoff_maha(opacities) -> np.ndarray:
    """Squared Mahalanobis distance (N,) float64 beyond which opacity · exp(−½ d²) < ALPHA_MIN,
    i.e. 2 ln(255 · opacity), and 0 for Gaussians that never reach ALPHA_MIN."""
    return 2.0 * np.log(np.maximum(255.0 * np.asarray(opacities, np.float64), 1.0))
