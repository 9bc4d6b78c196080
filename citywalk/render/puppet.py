"""Puppet legs: a standing view of a captured person made to walk on its own legs.

The legs of the stored image are cut along a standing skeleton (thigh, shin, foot per leg) and
each piece is turned onto the bones of the walk cycle the pedestrians use (`agents.gait`),
projected onto the actor's card, so planted feet stay where the cycle plants them; the upper
body rides on the pelvis. `ActorPass` uses it for views the capture holds no walk for (a frame
of the turn-around, a photo). The far leg is drawn first, then the near leg, then the body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..agents.gait import ANKLE_H, HEEL_BACK, HIP_H, HIP_HALF, TOE_FWD, J

LEG_RADIUS = 0.075        # share of height: half a thigh's width, seen from the side
BAND_MARGIN = 1.35        # a leg's pixels are taken this many radii round its rest line
HIP_OVERLAP = 0.03        # share of height: the body and the legs overlap over this much
SIDES = ("l", "r")


@dataclass(frozen=True)
class LegPose:
    """Joints of both legs on the card, image px (x right, y down), (2, 5, 2): leg (l, r) ×
    (hip, knee, ankle, heel, toe); the pelvis (2,); which leg is nearer the camera (0 l, 1 r)."""

    legs: np.ndarray
    pelvis: np.ndarray
    near: int


def rest_joints(pelvis_xy: np.ndarray, heading: np.ndarray, ground_z: float, height_m: float,
                build: float = 1.0) -> np.ndarray:
    """A person standing straight at pelvis_xy facing `heading` (2,): world joints (2, 5, 3) of
    both legs (hip, knee, ankle, heel, toe) in the proportions `agents.gait` walks with."""
    h = float(height_m)
    fwd = np.array([heading[0], heading[1], 0.0]) / max(float(np.hypot(*heading[:2])), 1e-9)
    right = np.array([fwd[1], -fwd[0], 0.0])
    out = np.zeros((2, 5, 3))
    for k, s in enumerate((-1.0, 1.0)):
        base = np.array([pelvis_xy[0], pelvis_xy[1], ground_z]) + right * s * HIP_HALF * h * build
        ankle = base + [0.0, 0.0, ANKLE_H * h]
        hip = base + [0.0, 0.0, HIP_H * h]
        out[k] = (hip, (hip + ankle) / 2, ankle, base - fwd * HEEL_BACK * h, base + fwd * TOE_FWD * h)
    return out


def gait_leg_joints(joints: np.ndarray) -> np.ndarray:
    """(2, 5, 3) hip, knee, ankle, heel, toe of both legs from one frame's gait joints (len(JOINTS), 3)."""
    names = ("hip", "knee", "ankle", "heel", "toe")
    return np.stack([np.stack([joints[J[f"{n}_{s}"]] for n in names]) for s in SIDES])


def to_card_px(points_m: np.ndarray, ground_m: np.ndarray, right: np.ndarray, anchor_px: np.ndarray,
               m_per_px: float, cam_pos: np.ndarray | None = None) -> np.ndarray:
    """World points (..., 3) → card image px (..., 2). With cam_pos, each point goes where the
    camera's ray through it meets the card, so the flat card shows it where the camera would
    see it (a foot planted ahead stays put on screen while the card turns); else along `right`."""
    pts = np.asarray(points_m, float)
    g, r = np.asarray(ground_m, float), np.asarray(right, float)
    if cam_pos is not None:
        cam = np.asarray(cam_pos, float)
        n = np.array([r[1], -r[0], 0.0])  # the card's normal (horizontal)
        den = (pts - cam) @ n
        t = ((g - cam) @ n) / np.where(np.abs(den) < 1e-9, 1e-9, den)
        pts = cam + t[..., None] * (pts - cam)
    d = pts - g
    x = anchor_px[0] + d @ r / m_per_px
    y = anchor_px[1] - d[..., 2] / m_per_px
    return np.stack([x, y], -1)


def shift_px(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """img moved by whole pixels (dx right, dy down); what falls outside is dropped, what comes in
    is empty."""
    out = np.zeros_like(img)
    h, w = img.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


def _sample(prem: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, 4) of premultiplied `prem` (H, W, 4) at continuous px (pixel centres
    at +0.5); taps outside the image are empty."""
    H, W = prem.shape[:2]
    x, y = qx - 0.5, qy - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0).astype(np.float32)[:, None], (y - y0).astype(np.float32)[:, None]
    out = np.zeros((len(qx), 4), np.float32)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            yi, xi = y0 + dy, x0 + dx
            inside = ((yi >= 0) & (yi < H) & (xi >= 0) & (xi < W))[:, None]
            out += prem[np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)] * (wy * wx * inside)
    return out


def _leg_layer(prem, rest, target, band, top_y_rest, radius_px, box) -> np.ndarray:
    """One leg drawn in its target pose over `box` (x0, y0, x1, y1): each output pixel takes the
    nearest target bone, maps back along it onto the rest bone, and samples the stored image
    there — only inside the leg's band of the rest image and below `top_y_rest` (just above its
    hip). Returns the box's premultiplied pixels (y1 − y0, x1 − x0, 4)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return np.zeros((max(y1 - y0, 0), max(x1 - x0, 0), 4), np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    p = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    best = np.full(len(p), np.inf)
    q = np.zeros_like(p)
    for i0, i1 in ((0, 1), (1, 2), (3, 4)):  # thigh, shin, foot (heel to toe)
        b0, b1, a0, a1 = target[i0], target[i1], rest[i0], rest[i1]
        bv, av = b1 - b0, a1 - a0
        lb, la = max(float(np.hypot(*bv)), 1e-6), max(float(np.hypot(*av)), 1e-6)
        bu, au = bv / lb, av / la
        rel = p - b0
        t = rel @ bu
        nrm = rel @ np.array([-bu[1], bu[0]])
        dist = np.hypot(np.clip(t, 0.0, lb) - t, nrm)
        take = dist < best
        best = np.where(take, dist, best)
        mapped = a0 + (t * la / lb)[:, None] * au + nrm[:, None] * np.array([-au[1], au[0]])
        q = np.where(take[:, None], mapped, q)
    lo, hi = band
    keep = (best <= 1.6 * radius_px) & (q[:, 0] >= lo) & (q[:, 0] <= hi) & (q[:, 1] >= top_y_rest)
    vals = np.zeros((len(p), 4), np.float32)
    if keep.any():
        vals[keep] = _sample(prem, q[keep, 0], q[keep, 1])
    return vals.reshape(y1 - y0, x1 - x0, 4)


def _bands(rest_px: np.ndarray, radius_px: float) -> list[tuple[float, float]]:
    """Columns of the rest image each leg's pixels are taken from: split at the midline when the
    legs stand apart on the card, shared when one hides the other (a side view)."""
    xl, xr = float(rest_px[0, 0, 0]), float(rest_px[1, 0, 0])
    mid, d = (xl + xr) / 2, abs(xl - xr)
    reach = BAND_MARGIN * radius_px + d / 2
    if d < 0.6 * radius_px:
        return [(mid - reach, mid + reach)] * 2
    out = []
    for x in (xl, xr):
        out.append((mid, mid + reach) if x > mid else (mid - reach, mid))
    return out


def pose_legs(rgba: np.ndarray, rest: LegPose, target: LegPose, height_px: float) -> np.ndarray:
    """The stored straight-alpha image `rgba` (H, W, 4) uint8 of a person standing in `rest`,
    redrawn in `target`: legs along the target bones, upper body moved with the pelvis."""
    H, W = rgba.shape[:2]
    src = rgba.astype(np.float32) / 255.0
    prem = np.concatenate([src[..., :3] * src[..., 3:], src[..., 3:]], -1)
    radius = LEG_RADIUS * height_px
    hip_y = float(np.mean(rest.legs[:, 0, 1]))
    overlap = HIP_OVERLAP * height_px
    shift = np.round(target.pelvis - rest.pelvis).astype(int)
    cut = int(np.clip(np.ceil(hip_y + overlap), 0, H))
    upper = np.zeros_like(prem)
    upper[:cut] = prem[:cut]
    body = shift_px(upper, int(shift[0]), int(shift[1]))
    out = np.zeros_like(prem)
    bands = _bands(rest.legs, radius)
    for leg in (1 - target.near, target.near):
        pts = target.legs[leg]
        x0 = int(np.clip(np.floor(pts[:, 0].min() - 1.6 * radius), 0, W))
        x1 = int(np.clip(np.ceil(pts[:, 0].max() + 1.6 * radius), 0, W))
        y0 = int(np.clip(np.floor(pts[:, 1].min() - overlap), 0, H))
        layer = _leg_layer(prem, rest.legs[leg], pts, bands[leg], hip_y - overlap, radius, (x0, y0, x1, H))
        under = out[y0:H, x0:x1]
        out[y0:H, x0:x1] = layer + under * (1.0 - layer[..., 3:])
    out = body + out * (1.0 - body[..., 3:])
    a = out[..., 3:]
    rgb = out[..., :3] / np.maximum(a, 1e-6)
    res = np.concatenate([np.where(a > 1e-6, rgb, 0.0), a], -1)
    return np.clip(np.round(res * 255.0), 0, 255).astype(np.uint8)


__all__ = ["LegPose", "gait_leg_joints", "pose_legs", "rest_joints", "shift_px", "to_card_px"]
