"""GaussianCloud: 3D Gaussian splats as plain NumPy data (the 3DGS parametrisation, activated).

Unlike the training files, values here are *activated*: linear scales in metres, opacities in
0..1, unit quaternions (w, x, y, z). Colour is a real spherical-harmonic expansion per channel
with the standard 3DGS constants and ordering; colour(dir) = SH · basis(dir) + 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citywalk.errors import SceneError

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005,
         -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)
MAX_SH_DEGREE = 3


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


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (N, 4) w-first → rotation matrices (N, 3, 3) (same dtype as float64 math)."""
    q = np.asarray(q, np.float64)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.empty((len(q), 3, 3))
    m[:, 0, 0] = 1 - 2 * (y * y + z * z)
    m[:, 0, 1] = 2 * (x * y - w * z)
    m[:, 0, 2] = 2 * (x * z + w * y)
    m[:, 1, 0] = 2 * (x * y + w * z)
    m[:, 1, 1] = 1 - 2 * (x * x + z * z)
    m[:, 1, 2] = 2 * (y * z - w * x)
    m[:, 2, 0] = 2 * (x * z - w * y)
    m[:, 2, 1] = 2 * (y * z + w * x)
    m[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return m


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


@dataclass
class GaussianCloud:
    """N Gaussians. means (N, 3) float32 m; scales (N, 3) float32 linear m (std-dev per local
    axis); rotations (N, 4) float32 unit quaternions w-first (normalised on construction);
    opacities (N,) float32 in 0..1; sh (N, K, 3) float32 with K = (sh_degree + 1)², sh[:, 0] DC."""

    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    sh_degree: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.sh_degree, (int, np.integer)) or not 0 <= self.sh_degree <= MAX_SH_DEGREE:
            raise SceneError(f"GaussianCloud.sh_degree={self.sh_degree!r}: expected an int 0..3")
        self.sh_degree = int(self.sh_degree)
        self.means = _as_f32("means", self.means)
        n = len(self.means) if self.means.ndim >= 1 else -1
        k = sh_coeff_count(self.sh_degree)
        self.scales = _as_f32("scales", self.scales)
        self.rotations = _as_f32("rotations", self.rotations)
        self.opacities = _as_f32("opacities", self.opacities)
        self.sh = _as_f32("sh", self.sh)
        for name, shape in (("means", (n, 3)), ("scales", (n, 3)), ("rotations", (n, 4)),
                            ("opacities", (n,)), ("sh", (n, k, 3))):
            got = getattr(self, name).shape
            if got != shape:
                raise SceneError(f"GaussianCloud.{name} has shape {got}; expected {shape} "
                                 f"(N={n}, sh_degree={self.sh_degree} → K={k})")
        if n and np.any(self.scales < 0):
            raise SceneError("GaussianCloud.scales: negative scale; expected linear sizes ≥ 0 m")
        if n and (self.opacities.min() < 0 or self.opacities.max() > 1):
            raise SceneError("GaussianCloud.opacities: values outside 0..1 (logits must be "
                             "passed through a sigmoid first)")
        norms = np.linalg.norm(self.rotations, axis=1)
        if n and norms.min() < 1e-8:
            raise SceneError(f"GaussianCloud.rotations: zero quaternion at index "
                             f"{int(np.argmin(norms))}; expected unit quaternions w-first")
        if n and np.abs(norms - 1).max() > 1e-6:
            self.rotations = (self.rotations / norms[:, None]).astype(np.float32)

    def __len__(self) -> int:
        return len(self.means)

    @property
    def count(self) -> int:
        return len(self.means)

    def covariances(self) -> np.ndarray:
        """World covariances Σ = R S Sᵀ Rᵀ, (N, 3, 3) float64 m²."""
        r = quaternions_to_matrices(self.rotations)
        rs = r * self.scales.astype(np.float64)[:, None, :]
        return rs @ np.transpose(rs, (0, 2, 1))

    def colors_dc(self) -> np.ndarray:
        """View-independent colour SH_C0·sh[:, 0] + 0.5 clamped ≥ 0, (N, 3) float32."""
        return np.maximum(SH_C0 * self.sh[:, 0] + 0.5, 0.0).astype(np.float32)

    def subset(self, index: np.ndarray) -> "GaussianCloud":
        """The Gaussians selected by a boolean mask or index array (copies)."""
        return GaussianCloud(self.means[index], self.scales[index], self.rotations[index],
                             self.opacities[index], self.sh[index], self.sh_degree)

    @staticmethod
    def concatenate(clouds: "list[GaussianCloud]") -> "GaussianCloud":
        """One cloud holding all of `clouds`; SH is zero-padded to the highest degree."""
        degree = max(c.sh_degree for c in clouds)
        k = (degree + 1) ** 2
        sh = [np.pad(c.sh, ((0, 0), (0, k - c.sh.shape[1]), (0, 0))) for c in clouds]
        return GaussianCloud(np.concatenate([c.means for c in clouds]), np.concatenate([c.scales for c in clouds]),
                             np.concatenate([c.rotations for c in clouds]),
                             np.concatenate([c.opacities for c in clouds]), np.concatenate(sh), degree)

    def cropped(self, box_min, box_max) -> "GaussianCloud":
        """Gaussians whose means lie inside the axis-aligned box [box_min, box_max] (3,) m."""
        lo, hi = np.asarray(box_min, np.float32), np.asarray(box_max, np.float32)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo > hi):
            raise SceneError(f"crop box {box_min}..{box_max}: expected two (3,) corners, min ≤ max")
        inside = np.all((self.means >= lo) & (self.means <= hi), axis=1)
        return self.subset(inside)

    def transformed(self, matrix) -> "GaussianCloud":
        """Apply a 4×4 similarity (uniform scale s, rotation R, translation t) to every Gaussian.

        Means map by the full transform, rotations are pre-multiplied by R, scales multiply by s.
        SH coefficients of degree ≥ 1 are rotated exactly (per-band rotation matrix), so
        view-dependent colour follows the rotation. Reflections and shear are rejected."""
        m = np.asarray(matrix, np.float64)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise SceneError(f"transform: expected a finite 4x4 matrix, got shape {m.shape}")
        a = m[:3, :3]
        det = np.linalg.det(a)
        if det <= 0:
            raise SceneError(f"transform: determinant {det:.3g}; expected a proper similarity "
                             "(rotation × positive uniform scale, no reflection)")
        s = det ** (1.0 / 3.0)
        r = a / s
        if np.abs(r @ r.T - np.eye(3)).max() > 1e-4:
            raise SceneError("transform: the 3x3 part is not a rotation times a uniform scale")
        if np.any(np.abs(m[3] - [0, 0, 0, 1]) > 1e-9):
            raise SceneError(f"transform: last row {m[3].tolist()}; expected [0, 0, 0, 1]")
        means = self.means.astype(np.float64) @ a.T + m[:3, 3]
        q = quaternion_multiply(matrix_to_quaternion(r)[None], self.rotations)
        sh = self.sh
        if self.sh_degree > 0:
            d = sh_rotation_matrix(r, self.sh_degree)
            sh = np.einsum("kj,njc->nkc", d, self.sh.astype(np.float64))
        return GaussianCloud(means, self.scales * s, q, self.opacities.copy(), sh, self.sh_degree)


def _as_f32(name: str, value) -> np.ndarray:
    arr = np.ascontiguousarray(value, dtype=np.float32)
    if arr.size and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise SceneError(f"GaussianCloud.{name}: non-finite value (NaN/inf) at index {bad}")
    return arr


def empty_cloud(sh_degree: int = 0) -> GaussianCloud:
    """A cloud with no Gaussians (useful as a neutral element)."""
    k = sh_coeff_count(sh_degree)
    return GaussianCloud(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)), np.zeros(0),
                         np.zeros((0, k, 3)), sh_degree)
