"""Camera frames in the OpenCV convention (x right, y down, z forward) and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_FRAMES = 100_000  # the most frames one camera path may have


@dataclass(frozen=True)
class CameraFrame:
    """One frame's camera: world→camera rotation R (3, 3) and translation t (3,), so that
    x_cam = R @ x_world + t; pinhole intrinsics K (3, 3) for an image of `size_px` (w, h)."""

    index: int
    time_s: float
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    size_px: tuple[int, int]

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world metres, (3,)."""
        return -self.R.T @ self.t

    @property
    def forward(self) -> np.ndarray:
        return self.R[2]

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) of world points (N, 3); points behind the camera get NaN."""
        pc = points_world @ self.R.T + self.t
        uvw = pc @ self.K.T
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = uvw[:, :2] / uvw[:, 2:3]
        uv[pc[:, 2] <= 0] = np.nan
        return uv

    def to_dict(self) -> dict:
        return {"index": self.index, "time_s": self.time_s, "K": self.K.tolist(), "R_w2c": self.R.tolist(),
                "t_w2c": self.t.tolist(), "position_m": self.position.tolist()}


def intrinsics(fov_x_deg: float, size_px: tuple[int, int]) -> np.ndarray:
    """Pinhole K (3, 3) with square pixels and the principal point at the image centre, from
    the horizontal field of view."""
    w, h = size_px
    f = (w / 2) / np.tan(np.radians(fov_x_deg) / 2)
    return np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])


def look_at(position: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """World→camera (R, t) for a camera at `position` looking at `target`, image up ≈ `up`."""
    f = np.asarray(target, float) - position
    f /= np.linalg.norm(f)
    r = np.cross(f, up)
    if np.linalg.norm(r) < 1e-6:  # looking straight up or down
        r = np.cross(f, (0.0, 1.0, 0.0))
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    R = np.stack([r, d, f])
    return R, -R @ position
