"""GaussianCloud: 3D Gaussian splats as plain NumPy data (the 3DGS parametrisation, activated).

Unlike the training files, values here are *activated*: linear scales in metres, opacities in
0..1, unit quaternions (w, x, y, z). Colour is a real spherical-harmonic expansion per channel
with the standard 3DGS constants and ordering; colour(dir) = SH · basis(dir) + 0.5. The maths
(SH, quaternions, covariances, projection) lives in `splat_math`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from citywalk.errors import SceneError

from .splat_math import (
    MAX_SH_DEGREE,
    SH_C0,
    covariances,
    matrix_to_quaternion,
    quaternion_multiply,
    quaternions_to_matrices,
    rgb_from_sh_dc,
    sh_basis,
    sh_coeff_count,
    sh_rotation_matrix,
)


@dataclass
class GaussianCloud:
    """N Gaussians. means (N, 3) float32 m; scales (N, 3) float32 linear m (std-dev per local
    axis); rotations (N, 4) float32 unit quaternions w-first (normalised on construction);
    opacities (N,) float32 in 0..1; sh (N, K, 3) float32 with K = (sh_degree + 1)², sh[:, 0] DC.
    `source`: the file it was read from, if any (its level-of-detail tree is cached beside it);
    kept through transforms and crops."""

    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    sh_degree: int = 0
    source: str | None = field(default=None, repr=False, compare=False)

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
        return covariances(self.scales, self.rotations)

    def colors_dc(self) -> np.ndarray:
        """View-independent colour SH_C0·sh[:, 0] + 0.5 clamped ≥ 0, (N, 3) float32."""
        return np.maximum(rgb_from_sh_dc(self.sh[:, 0]), 0.0).astype(np.float32)

    def subset(self, index: np.ndarray) -> "GaussianCloud":
        """The Gaussians selected by a boolean mask or index array (copies)."""
        return GaussianCloud(self.means[index], self.scales[index], self.rotations[index],
                             self.opacities[index], self.sh[index], self.sh_degree, self.source)

    @staticmethod
    def concatenate(clouds: "list[GaussianCloud]") -> "GaussianCloud":
        """One cloud holding all of `clouds`; SH is zero-padded to the highest degree."""
        degree = max(c.sh_degree for c in clouds)
        k = sh_coeff_count(degree)
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
        return GaussianCloud(means, self.scales * s, q, self.opacities.copy(), sh, self.sh_degree,
                             self.source)


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


# The cloud's maths that readers of this module use, next to the cloud (defined in splat_math).
__all__ = ["GaussianCloud", "empty_cloud", "MAX_SH_DEGREE", "SH_C0", "matrix_to_quaternion",
           "quaternions_to_matrices", "sh_basis", "sh_coeff_count"]
