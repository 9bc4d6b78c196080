"""View-indexed actors: which way the person faces in each captured frame (yaw), and which
stored view(s) to show for a given viewing angle, so that from behind the viewer sees the back.

Yaw convention (degrees, relative to whoever looks: the capture camera or the scene camera):
0 — the person faces the viewer; +90 — faces image right; ±180 — shows their back.
Mirroring an image negates the yaw (facing right ↔ facing left), so a side seen once serves
both sides. Views are binned every `BIN_DEG`; neighbours are blended by angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BIN_DEG = 30.0           # one representative stored frame per bin of yaw
WALK_MATCH_DEG = 35.0    # the walking loop is shown while its yaw is this close to the wanted one
SNAP_DEG = 2.0           # a view this close to the wanted yaw is shown alone (no blend)
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


def viewing_yaw_deg(heading: np.ndarray, ground_m: np.ndarray, cam_pos: np.ndarray) -> float:
    """Yaw of a person at ground_m facing `heading` (horizontal) as the camera at cam_pos sees
    them (same convention: 0 facing the camera, +90 facing image right)."""
    d = np.asarray(ground_m, float) - np.asarray(cam_pos, float)
    d[2] = 0.0
    n = np.linalg.norm(d)
    if n < 1e-9:
        return 0.0
    d /= n
    right = np.array([d[1], -d[0], 0.0])
    h = np.asarray(heading, float)
    return float(math.degrees(math.atan2(float(h @ right), float(h @ -d))))


def view_table(yaw_deg: np.ndarray) -> list[tuple[int, float]]:
    """(stored frame, yaw) per occupied bin: the frame whose yaw is nearest the bin's centre."""
    yaw = np.asarray(yaw_deg, float)
    best: dict[int, tuple[float, int]] = {}
    for i in np.flatnonzero(np.isfinite(yaw)):
        y = float(wrap_deg(yaw[i]))
        b = int(math.floor((y + 180.0) / BIN_DEG + 0.5)) % int(round(360 / BIN_DEG))
        centre = b * BIN_DEG - 180.0
        off = abs(float(wrap_deg(y - centre)))
        if b not in best or off < best[b][0]:
            best[b] = (off, int(i))
    return [(i, float(wrap_deg(yaw[i]))) for _, (_, i) in sorted(best.items())]


@dataclass(frozen=True)
class ViewChoice:
    """What to draw: stored frame a (mirrored or not) blended with frame b by weight_b."""

    index_a: int
    mirror_a: bool
    index_b: int
    mirror_b: bool
    weight_b: float
    yaw_shown_deg: float  # the yaw the blend stands for

    @property
    def single(self) -> bool:
        return self.weight_b <= 0.0


def choose_view(yaw_deg: np.ndarray, walk_index: int, want_deg: float,
                table: list[tuple[int, float]] | None = None) -> ViewChoice | None:
    """The stored view(s) closest to `want_deg`: the walking loop's frame `walk_index` while its
    yaw (or its mirror) is within WALK_MATCH_DEG, else the two bin views (mirrors included) on
    either side of the wanted yaw, blended by angle. None when no frame knows its yaw."""
    yaw = np.asarray(yaw_deg, float)
    table = view_table(yaw) if table is None else table
    if not table:
        return None
    want = float(wrap_deg(want_deg))
    yw = yaw[walk_index] if 0 <= walk_index < len(yaw) else float("nan")
    if np.isfinite(yw):
        for mirror, y in ((False, yw), (True, -yw)):
            if abs(float(wrap_deg(want - y))) <= WALK_MATCH_DEG:
                return ViewChoice(walk_index, mirror, walk_index, mirror, 0.0, float(wrap_deg(y)))
    cands = [(i, False, y) for i, y in table] + [(i, True, float(wrap_deg(-y))) for i, y in table]
    below = min(cands, key=lambda c: (float(wrap_deg(want - c[2])) % 360.0, c[1]))
    above = min(cands, key=lambda c: (float(wrap_deg(c[2] - want)) % 360.0, c[1]))
    db = float(wrap_deg(want - below[2])) % 360.0
    da = float(wrap_deg(above[2] - want)) % 360.0
    if db <= SNAP_DEG or (below[0], below[1]) == (above[0], above[1]) or db + da <= 0:
        return ViewChoice(below[0], below[1], below[0], below[1], 0.0, below[2])
    if da <= SNAP_DEG:
        return ViewChoice(above[0], above[1], above[0], above[1], 0.0, above[2])
    w = db / (db + da)
    return ViewChoice(below[0], below[1], above[0], above[1], w, want)


def _placed(rgba: np.ndarray, anchor_px: np.ndarray, mirror: bool, target_anchor: np.ndarray) -> np.ndarray:
    """rgba (float) mirrored about its anchor column if asked, shifted so its anchor lands on
    target_anchor (whole pixels; what falls outside is dropped, what comes in is empty)."""
    img = rgba[:, ::-1] if mirror else rgba
    ax = (rgba.shape[1] - float(anchor_px[0])) if mirror else float(anchor_px[0])
    dx = int(round(float(target_anchor[0]) - ax))
    dy = int(round(float(target_anchor[1]) - float(anchor_px[1])))
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


def compose_view(frames_rgba: np.ndarray, anchors_px: np.ndarray, choice: ViewChoice) -> tuple[np.ndarray, np.ndarray]:
    """The chosen view as one straight-alpha `(H, W, 4) uint8` image and its foot anchor (2,):
    mirroring done in pixels about the foot column, b aligned on a's foot and cross-faded
    (premultiplied, so the silhouettes fade rather than add)."""
    a_anchor = np.asarray(anchors_px[choice.index_a], float).copy()
    if choice.mirror_a:
        a_anchor[0] = frames_rgba.shape[2] - a_anchor[0]
    fa = _placed(frames_rgba[choice.index_a].astype(np.float32), anchors_px[choice.index_a], choice.mirror_a,
                 a_anchor)
    if choice.single:
        return np.round(fa).astype(np.uint8), a_anchor
    fb = _placed(frames_rgba[choice.index_b].astype(np.float32), anchors_px[choice.index_b], choice.mirror_b,
                 a_anchor)
    w = float(choice.weight_b)
    pa, pb = fa[..., 3:] / 255.0, fb[..., 3:] / 255.0
    prem = (1 - w) * fa[..., :3] * pa + w * fb[..., :3] * pb
    alpha = (1 - w) * pa + w * pb
    rgb = prem / np.maximum(alpha, 1e-6)
    out = np.concatenate([rgb, alpha * 255.0], axis=-1)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), a_anchor


__all__ = ["BIN_DEG", "ViewChoice", "choose_view", "compose_view", "view_table", "viewing_yaw_deg",
           "wrap_deg", "yaw_from_world"]
