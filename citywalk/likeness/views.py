"""View-indexed actors: which way the person faces in each captured frame (yaw). The renderer
(`render/actors.py`) picks the stored view(s) matching the viewing angle.

Yaw convention (degrees, relative to whoever looks: the capture camera or the scene camera):
0 — the person faces the viewer; +90 — faces image right; ±180 — shows their back.
Mirroring an image negates the yaw (facing right ↔ facing left), so a side seen once serves
both sides. Views are binned every `BIN_DEG`; neighbours are blended by angle.
"""

from __future__ import annotations

import math

import numpy as np

NOSE_VISIBLE = 0.5
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, NOSE = 11, 12, 23, 24, 0


def wrap_deg(a):
    """Angle(s) wrapped to [-180, 180)."""
    return (np.asarray(a, float) + 180.0) % 360.0 - 180.0


def yaw_from_world(world: np.ndarray, nose_visibility: float) -> float:
    """The person's yaw (deg) from MediaPipe world landmarks `(33, 3)` (x right, y down, z away
    from the camera, metres): the shoulder and hip lines give the facing up to front/back, which
    the nose decides (MediaPipe labels a back view as if it were a front, left/right swapped).
    NaN when the landmarks are missing."""
    w = np.asarray(world, float)
    across = (w[L_SHOULDER] - w[R_SHOULDER]) + (w[L_HIP] - w[R_HIP])  # toward the person's left
    if not np.isfinite(across).all() or math.hypot(across[0], across[2]) < 1e-6:
        return float("nan")
    yaw = math.degrees(math.atan2(across[2], across[0]))
    front = np.isfinite(nose_visibility) and nose_visibility >= NOSE_VISIBLE
    if front != (abs(yaw) <= 90.0):
        yaw += 180.0
    return float(wrap_deg(yaw))


__all__ = ["wrap_deg", "yaw_from_world"]
