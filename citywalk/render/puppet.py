"""Puppet limbs: a standing view of a captured person made to walk on its own legs, arms swinging.

The legs of the stored image are cut along a standing skeleton (thigh, shin, foot per leg) and
each piece is turned onto the bones of the walk cycle the pedestrians use (`agents.gait`),
projected onto the actor's card, so planted feet stay where the cycle plants them; the upper
body rides on the pelvis. In views from the side the arms are cut the same way (upper arm,
forearm with the hand) and swung with the cycle's arms, both drawn with the near arm's pixels
(the far one hides behind the body), the rest arm set down the middle of the silhouette; where
the near arm covered the torso the hole is filled across each row from the pixels either side.
`ActorPass` uses it for views the capture holds no walk for (a frame of the turn-around, a
photo). Drawn from back to front: the far arm, the far leg, the near leg, the body, the near arm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..agents.gait import ANKLE_H, FOREARM, HEEL_BACK, HIP_H, HIP_HALF, SHOULDER_H, SHOULDER_HALF, TOE_FWD, UPPER_ARM, J

LEG_RADIUS = 0.075        # share of height: half a thigh's width, seen from the side
BAND_MARGIN = 1.35        # a leg's pixels are taken this many radii round its rest line
HIP_OVERLAP = 0.03        # share of height: the body and the legs overlap over this much
ARM_RADIUS = 0.03         # share of height: half an arm's width with its sleeve
HAND_LEN = 0.09           # share of height: wrist to fingertips
ARM_OUT_RAD = np.radians(6.0)  # arms hang this far out from the body (as agents.gait holds them)
ARM_POSE_MIN_SIN = 0.85   # arms are swung in views at least this far round to the side (|sin yaw|)
ARM_SEARCH = 0.15         # share of height: the silhouette is looked for this far either side of an arm
ARM_CENTRE_MAX = 0.05     # share of height: the most the rest arm is moved onto the silhouette's middle
SIDES = ("l", "r")


@dataclass(frozen=True)
class LegPose:
    """Joints of both legs on the card, image px (x right, y down), (2, 5, 2): leg (l, r) ×
    (hip, knee, ankle, heel, toe); the pelvis (2,); which leg is nearer the camera (0 l, 1 r);
    arms (2, 4, 2) (shoulder, elbow, wrist, fingertips; a target's are hung from the drawn
    body's shoulders by `pose_legs`) or None to leave the stored arms be, and which arm is nearer."""

    legs: np.ndarray
    pelvis: np.ndarray
    near: int
    arms: np.ndarray | None = None
    near_arm: int = 0


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


def rest_arms(pelvis_xy: np.ndarray, heading: np.ndarray, ground_z: float, height_m: float,
              build: float = 1.0) -> np.ndarray:
    """The arms of the person of `rest_joints` hanging at rest: world (2, 4, 3), arm (l, r) ×
    (shoulder, elbow, wrist, fingertips)."""
    h = float(height_m)
    fwd = np.array([heading[0], heading[1], 0.0]) / max(float(np.hypot(*heading[:2])), 1e-9)
    right = np.array([fwd[1], -fwd[0], 0.0])
    down = np.array([0.0, 0.0, -np.cos(ARM_OUT_RAD)])
    out = np.zeros((2, 4, 3))
    for k, s in enumerate((-1.0, 1.0)):
        d = down + right * s * np.sin(ARM_OUT_RAD)
        sh = np.array([pelvis_xy[0], pelvis_xy[1], ground_z + SHOULDER_H * h]) + right * s * SHOULDER_HALF * h * build
        out[k] = (sh, sh + d * UPPER_ARM * h, sh + d * (UPPER_ARM + FOREARM) * h,
                  sh + d * (UPPER_ARM + FOREARM + HAND_LEN) * h)
    return out


def gait_arm_joints(joints: np.ndarray, height_m: float) -> np.ndarray:
    """(2, 4, 3) shoulder, elbow, wrist and fingertips (the forearm carried on by HAND_LEN) of
    both arms from one frame's gait joints."""
    out = np.zeros((2, 4, 3))
    for k, s in enumerate(SIDES):
        sh, el, wr = (joints[J[f"{n}_{s}"]] for n in ("shoulder", "elbow", "wrist"))
        fore = wr - el
        out[k] = (sh, el, wr, wr + fore / max(float(np.linalg.norm(fore)), 1e-9) * HAND_LEN * float(height_m))
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


LEG_BONES = ((0, 1), (1, 2), (3, 4))  # thigh, shin, foot (heel to toe)
ARM_BONES = ((0, 1), (1, 3))          # upper arm, forearm with the hand (elbow to fingertips)


def _box_px(box) -> np.ndarray:
    """Pixel centres (N, 2) of box (x0, y0, x1, y1), row by row."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)


def _to_rest(p: np.ndarray, rest: np.ndarray, target: np.ndarray, bones) -> tuple[np.ndarray, np.ndarray]:
    """For points p (N, 2) round a limb posed as `target`: the distance to the nearest target
    bone, and the point of the rest image the same place on the same bone comes from (N, 2)."""
    best = np.full(len(p), np.inf)
    q = np.zeros_like(p)
    for i0, i1 in bones:
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
    return best, q


def _limb_layer(prem, rest, target, bones, box, keep_fn) -> np.ndarray:
    """One limb drawn in its target pose over `box` (x0, y0, x1, y1): each output pixel takes the
    nearest target bone, maps back along it onto the rest bone and samples the stored image
    there where keep_fn(distance to the bone, rest point) allows. Returns the box's premultiplied
    pixels (y1 − y0, x1 − x0, 4)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return np.zeros((max(y1 - y0, 0), max(x1 - x0, 0), 4), np.float32)
    p = _box_px(box)
    best, q = _to_rest(p, rest, target, bones)
    keep = keep_fn(best, q)
    vals = np.zeros((len(p), 4), np.float32)
    if keep.any():
        vals[keep] = _sample(prem, q[keep, 0], q[keep, 1])
    return vals.reshape(y1 - y0, x1 - x0, 4)


def _limb_box(pts: np.ndarray, reach_px: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The image box (x0, y0, x1, y1) round joints pts (N, 2) widened by reach_px, inside the image."""
    H, W = size
    x0 = int(np.clip(np.floor(pts[:, 0].min() - reach_px), 0, W))
    x1 = int(np.clip(np.ceil(pts[:, 0].max() + reach_px), 0, W))
    y0 = int(np.clip(np.floor(pts[:, 1].min() - reach_px), 0, H))
    y1 = int(np.clip(np.ceil(pts[:, 1].max() + reach_px), 0, H))
    return x0, y0, x1, y1


def _over(dst: np.ndarray, layer: np.ndarray, box) -> None:
    """Premultiplied `layer` composited over dst's box, in place."""
    x0, y0, x1, y1 = box
    under = dst[y0:y1, x0:x1]
    dst[y0:y1, x0:x1] = layer + under * (1.0 - layer[..., 3:])


def _without_arm(prem: np.ndarray, arm: np.ndarray, radius_px: float) -> np.ndarray:
    """prem with the rest arm `arm` (4, 2) (within radius_px + 1 of its bones) cut out and the cut
    filled across each row with the body behind it: the stored outline, coloured between the
    nearest solid kept pixels left and right (seen from the side an arm lies over the torso or
    thigh). Rows with no solid pixel beside the cut keep what they had."""
    out = prem.copy()
    H, W = prem.shape[:2]
    box = _limb_box(arm, radius_px + 3.0, (H, W))
    x0, y0, x1, y1 = box
    if x1 - x0 < 3 or y1 <= y0:
        return out
    d, _ = _to_rest(_box_px(box), arm, arm, ARM_BONES)
    m = (d <= radius_px + 1.0).reshape(y1 - y0, x1 - x0)
    if not m.any():
        return out
    sub = prem[y0:y1, x0:x1]
    w = x1 - x0
    solid = ~m & (sub[..., 3] >= 0.5)
    idx = np.broadcast_to(np.arange(w), m.shape)
    left = np.maximum.accumulate(np.where(solid, idx, -1), axis=1)
    right = np.minimum.accumulate(np.where(solid, idx, w)[:, ::-1], axis=1)[:, ::-1]
    has_l, has_r = left >= 0, right < w
    rows = np.arange(m.shape[0])[:, None]
    lv, rv = sub[rows, np.clip(left, 0, w - 1)], sub[rows, np.clip(right, 0, w - 1)]
    cl = lv[..., :3] / np.maximum(lv[..., 3:], 1e-6)
    cr = rv[..., :3] / np.maximum(rv[..., 3:], 1e-6)
    t = np.where(has_l & has_r, (idx - left) / np.maximum(right - left, 1), np.where(has_r, 1.0, 0.0))[..., None]
    a = sub[..., 3:]
    fill = np.concatenate([(cl * (1.0 - t) + cr * t) * a, a], -1).astype(np.float32)
    out[y0:y1, x0:x1] = np.where((m & (has_l | has_r))[..., None], fill, sub)
    return out


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


def centre_arm_dx(alpha: np.ndarray, arm: np.ndarray, height_px: float) -> float:
    """How far (px) to move the rest arm `arm` (4, 2) so its upper arm runs down the middle of
    the silhouette (alpha (H, W) ≥ 0.5) beside it, as an arm hangs in a side view; 0 when the rows
    show no body there."""
    H, W = alpha.shape
    y0, y1 = int(np.clip(np.ceil(arm[0, 1]), 0, H)), int(np.clip(np.floor(arm[1, 1]), 0, H))
    x_arm = 0.5 * (arm[0, 0] + arm[1, 0])
    reach = ARM_SEARCH * height_px
    x0, x1 = int(np.clip(np.floor(x_arm - reach), 0, W)), int(np.clip(np.ceil(x_arm + reach), 0, W))
    if y1 <= y0 or x1 <= x0:
        return 0.0
    solid = alpha[y0:y1, x0:x1] >= 0.5
    rows = solid.any(1)
    if rows.sum() < max(2, 0.5 * (y1 - y0)):
        return 0.0
    first = np.argmax(solid[rows], 1)
    last = solid.shape[1] - 1 - np.argmax(solid[rows][:, ::-1], 1)
    dx = float(np.median(0.5 * (first + last) + x0 + 0.5) - x_arm)
    return float(np.clip(dx, -ARM_CENTRE_MAX * height_px, ARM_CENTRE_MAX * height_px))


def pose_legs(rgba: np.ndarray, rest: LegPose, target: LegPose, height_px: float) -> np.ndarray:
    """The stored straight-alpha image `rgba` (H, W, 4) uint8 of a person standing in `rest`,
    redrawn in `target`: legs along the target bones, upper body moved with the pelvis, and the
    arms along theirs when both poses hold arms."""
    H, W = rgba.shape[:2]
    src = rgba.astype(np.float32) / 255.0
    prem = np.concatenate([src[..., :3] * src[..., 3:], src[..., 3:]], -1)
    radius, arm_r = LEG_RADIUS * height_px, ARM_RADIUS * height_px
    shift = np.round(target.pelvis - rest.pelvis).astype(int)
    with_arms = rest.arms is not None and target.arms is not None
    if with_arms:
        dx = centre_arm_dx(src[..., 3], rest.arms[target.near_arm], height_px)
        rest = dataclasses.replace(rest, arms=rest.arms + [dx, 0.0])
        # the cycle's arms hung from the drawn body's shoulders (the body moves with the pelvis only)
        target = dataclasses.replace(target, arms=target.arms - target.arms[:, :1] + rest.arms[:, :1] + shift)
    # only the near arm is cut from the body: the far one hides behind it in a side view, and
    # both swing with the near arm's pixels
    body_src = _without_arm(prem, rest.arms[target.near_arm], arm_r) if with_arms else prem
    hip_y = float(np.mean(rest.legs[:, 0, 1]))
    overlap = HIP_OVERLAP * height_px
    cut = int(np.clip(np.ceil(hip_y + overlap), 0, H))
    upper = np.zeros_like(prem)
    upper[:cut] = body_src[:cut]
    body = shift_px(upper, int(shift[0]), int(shift[1]))
    out = np.zeros_like(prem)

    def arm(k: int) -> None:
        box = _limb_box(target.arms[k], arm_r + 2.0, (H, W))
        _over(out, _limb_layer(prem, rest.arms[target.near_arm], target.arms[k], ARM_BONES, box,
                               lambda best, q: best <= arm_r), box)

    if with_arms:
        arm(1 - target.near_arm)
    bands = _bands(rest.legs, radius)
    top = hip_y - overlap
    for leg in (1 - target.near, target.near):
        pts = target.legs[leg]
        x0, _, x1, _ = _limb_box(pts, 1.6 * radius, (H, W))
        box = (x0, int(np.clip(np.floor(pts[:, 1].min() - overlap), 0, H)), x1, H)  # down to the image's foot
        lo, hi = bands[leg]

        def keep(best, q, lo=lo, hi=hi):
            return (best <= 1.6 * radius) & (q[:, 0] >= lo) & (q[:, 0] <= hi) & (q[:, 1] >= top)

        _over(out, _limb_layer(body_src, rest.legs[leg], pts, LEG_BONES, box, keep), box)
    out = body + out * (1.0 - body[..., 3:])
    if with_arms:
        arm(target.near_arm)
    a = out[..., 3:]
    rgb = out[..., :3] / np.maximum(a, 1e-6)
    res = np.concatenate([np.where(a > 1e-6, rgb, 0.0), a], -1)
    return np.clip(np.round(res * 255.0), 0, 255).astype(np.uint8)


__all__ = ["LegPose", "gait_arm_joints", "gait_leg_joints", "pose_legs", "rest_arms", "rest_joints", "shift_px",
           "to_card_px"]
