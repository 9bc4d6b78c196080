"""A parametric walk cycle: skeleton joints from the distance walked and the body's proportions.

The phase of the cycle is distance walked over stride length, so feet keep pace with the body
whatever the speed. Every step is planted: while a foot is on the ground its heel (first), its
whole sole, then its toe (push-off) stays at one world point on the ground under it, so feet
never slide; the swing carries it to the next plant in an arc. The pelvis sits as high as the
legs reach the planted feet (which gives the walk its bob); arms swing against the legs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STANCE = 0.6            # share of the cycle a foot is on the ground
HEEL_SHARE = 0.15       # of the stance: heel strike, toes coming down
TOE_SHARE = 0.4         # of the stance, at its end: heel up, rolling over the toes
STRIKE_PITCH_RAD = np.radians(14.0)
PUSH_PITCH_RAD = np.radians(-38.0)
LIFT_M = 0.075          # swing foot clearance at mid-swing (for a 1.7 m body)
HEADING_TAU_S = 0.25    # smoothing of the facing direction
ARM_SWING_RAD = np.radians(22.0)
STALL_SPEED_MPS = 0.3   # slower than this, a swinging foot comes down (a stopped walker stands)

# proportions (share of height) of a standing adult
HIP_H, LEG, ANKLE_H = 0.53, 0.49, 0.039
THIGH_SHARE = 0.5       # of the leg (hip to ankle)
SHOULDER_H, NECK_H, HEAD_H = 0.815, 0.85, 0.935
SHOULDER_HALF, HIP_HALF = 0.1, 0.05
UPPER_ARM, FOREARM = 0.175, 0.15
HEEL_BACK, TOE_FWD = 0.03, 0.12     # foot from the ankle, share of height

JOINTS = ("pelvis", "neck", "head", "hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r",
          "toe_l", "toe_r", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "wrist_l", "wrist_r",
          "heel_l", "heel_r")
J = {name: i for i, name in enumerate(JOINTS)}
UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Gait:
    """Per frame and pedestrian: joints (N, M, len(JOINTS), 3) world m, facing heading (N, M, 2),
    contact (N, M, 2) bool per foot (left, right) and the pinned contact point of each foot on the
    ground (N, M, 2, 3) (heel, sole centre or toe, by stance part; NaN in swing); ground_z (N, M)
    the walking surface under the body (from the feet's plants); contact_part (N, M, 2) -1 in
    swing, 0 heel strike, 1 flat foot, 2 push-off; step_index (N, M, 2) which step of the foot."""

    joints: np.ndarray
    heading: np.ndarray
    contact: np.ndarray
    contact_point: np.ndarray
    ground_z: np.ndarray
    contact_part: np.ndarray
    step_index: np.ndarray


def headings(xy: np.ndarray, fps: float, first: np.ndarray) -> np.ndarray:
    """Smoothed facing directions (N, M, 2) from positions (N, M, 2); `first` (M, 2) at frame 0."""
    n = len(xy)
    out = np.zeros_like(xy)
    h = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-9)
    a = min(1.0, (1.0 / fps) / HEADING_TAU_S)
    for f in range(n):
        if f > 0:
            v = (xy[f] - xy[f - 1]) * fps
            sp = np.linalg.norm(v, axis=1, keepdims=True)
            moving = sp > 0.15
            h = np.where(moving, h + a * (v / np.maximum(sp, 1e-9) - h), h)
            h /= np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-9)
        out[f] = h
    return out


def _body_at(dist: np.ndarray, walked: np.ndarray, xy: np.ndarray, head: np.ndarray):
    """Body position and heading of one pedestrian at walked distances `dist` (extrapolated
    along the first and last heading outside the walk)."""
    ux = np.interp(dist, walked, xy[:, 0])
    uy = np.interp(dist, walked, xy[:, 1])
    hx = np.interp(dist, walked, head[:, 0])
    hy = np.interp(dist, walked, head[:, 1])
    before, after = dist < walked[0], dist > walked[-1]
    ux = np.where(before, xy[0, 0] + head[0, 0] * (dist - walked[0]), ux)
    uy = np.where(before, xy[0, 1] + head[0, 1] * (dist - walked[0]), uy)
    ux = np.where(after, xy[-1, 0] + head[-1, 0] * (dist - walked[-1]), ux)
    uy = np.where(after, xy[-1, 1] + head[-1, 1] * (dist - walked[-1]), uy)
    h = np.stack([hx, hy], -1)
    return np.stack([ux, uy], -1), h / np.maximum(np.linalg.norm(h, axis=-1, keepdims=True), 1e-9)


def _rot(pitch, fwd2, local_fwd, local_up):
    """A foot-frame vector (forward, up) turned by pitch about the foot's side axis → world (…, 3)."""
    c, s = np.cos(pitch), np.sin(pitch)
    f = local_fwd * c - local_up * s
    u = local_fwd * s + local_up * c
    return np.concatenate([fwd2 * f[..., None], u[..., None]], -1)


def _plants(walked, xy, head, stride, height, build, ground, foot: int):
    """Heel points (K, 3) and headings (K, 2) of every step of one foot, k = -1 .. K-2."""
    off = 0.5 * foot
    phi0, phi1 = walked[0] / stride + off, walked[-1] / stride + off
    k = np.arange(int(np.floor(phi0)), int(np.floor(phi1)) + 2)
    dist = (k - off + STANCE * 0.4) * stride
    p, h = _body_at(dist, walked, xy, head)
    right = np.stack([h[:, 1], -h[:, 0]], 1)
    side = (-1.0 if foot == 0 else 1.0) * 0.055 * height * build
    heel2 = p + right * side - h * (HEEL_BACK * height)
    foot_len = (HEEL_BACK + TOE_FWD) * height
    z = np.zeros(len(heel2))
    for i in range(len(heel2)):
        heel2[i], z[i] = _level_plant(heel2[i], h[i], foot_len, ground)
    return np.concatenate([heel2, z[:, None]], 1), h, k


def _level_plant(heel, h, foot_len, ground):
    """A plant whose heel, middle and toe rest on one level: a step that would straddle a kerb
    or a stair edge moves a little forward or back, as a walker places a foot on a step."""
    for shift in (0.0, 0.1, -0.1, 0.2, -0.2, 0.3, -0.3):
        q = heel + h * shift * foot_len / 0.255
        zs = [ground(float(x), float(y)) for x, y in (q, q + h * foot_len / 2, q + h * foot_len)]
        if max(zs) - min(zs) < 0.02:
            return q, zs[0]
    return heel, max(zs)


def _foot(phi, plants, plant_h, k0, height, foot: int, stall=None):
    """Ankle (N, 3), heel (N, 3), toe (N, 3), contact (N,), contact point (N, 3) of one foot and
    the ground height (N,) under it (its plant's, blended across a swing)."""
    u_all = phi + 0.5 * foot
    k = np.floor(u_all).astype(int)
    u = u_all - k
    i = np.clip(k - k0, 0, len(plants) - 2)
    heel_len, toe_len, ankle_up = HEEL_BACK * height, TOE_FWD * height, ANKLE_H * height
    stance = u < STANCE

    def pose(idx, w):
        """Heel-pinned, flat, then toe-pinned foot of plant idx at stance progress w."""
        h2, base = plant_h[idx], plants[idx]
        toe = base + np.concatenate([h2 * (heel_len + toe_len), np.zeros((len(w), 1))], 1)
        pitch = np.where(w < HEEL_SHARE, STRIKE_PITCH_RAD * (1 - w / HEEL_SHARE), 0.0)
        push = np.clip((w - (1 - TOE_SHARE)) / TOE_SHARE, 0, 1)
        pitch = np.where(w > 1 - TOE_SHARE, PUSH_PITCH_RAD * push ** 1.5, pitch)
        from_heel = base + _rot(pitch, h2, np.full(len(w), heel_len), np.full(len(w), ankle_up))
        from_toe = toe + _rot(pitch, h2, np.full(len(w), -toe_len), np.full(len(w), ankle_up))
        ankle = np.where((w > 1 - TOE_SHARE)[:, None], from_toe, from_heel)
        heel = ankle + _rot(pitch, h2, np.full(len(w), -heel_len), np.full(len(w), -ankle_up))
        toe_now = ankle + _rot(pitch, h2, np.full(len(w), toe_len), np.full(len(w), -ankle_up))
        point = np.where((w < HEEL_SHARE)[:, None], base, np.where((w > 1 - TOE_SHARE)[:, None], toe,
                                                                   (base + toe) / 2))
        return ankle, heel, toe_now, pitch, h2, point

    w_st = np.where(stance, u / STANCE, 0.0)
    a_st, he_st, to_st, _, _, pt = pose(i, w_st)
    # swing: from toe-off of plant i to heel strike of plant i + 1
    w_sw = np.where(stance, 0.0, (u - STANCE) / (1 - STANCE))
    a0, _, _, p0, h0, _ = pose(i, np.ones(len(u)))
    a1, _, _, p1, h1, _ = pose(i + 1, np.zeros(len(u)))
    e = w_sw * w_sw * (3 - 2 * w_sw)
    ankle_sw = a0 + (a1 - a0) * e[:, None]
    ankle_sw[:, 2] += LIFT_M * (height / 1.7) * np.sin(np.pi * w_sw)
    pitch_sw = p0 + (p1 - p0) * e
    ground_z = plants[i, 2] + (plants[i + 1, 2] - plants[i, 2]) * np.where(stance, 0.0, e)
    if stall is not None:  # a walker who has stopped mid-stride puts the swinging foot down flat
        ankle_sw[:, 2] += (ground_z + ankle_up - ankle_sw[:, 2]) * stall
        pitch_sw = pitch_sw * (1 - stall)
    h_sw = h0 + (h1 - h0) * e[:, None]
    h_sw /= np.maximum(np.linalg.norm(h_sw, axis=1, keepdims=True), 1e-9)
    heel_sw = ankle_sw + _rot(pitch_sw, h_sw, np.full(len(u), -heel_len), np.full(len(u), -ankle_up))
    toe_sw = ankle_sw + _rot(pitch_sw, h_sw, np.full(len(u), toe_len), np.full(len(u), -ankle_up))
    pick = stance[:, None]
    point = np.where(pick, pt, np.nan)
    return (np.where(pick, a_st, ankle_sw), np.where(pick, he_st, heel_sw), np.where(pick, to_st, toe_sw),
            stance, point, ground_z)


def _knee(hip, ankle, fwd3, thigh, shin):
    """Two-bone leg: the knee, bending forward."""
    d_vec = ankle - hip
    d = np.linalg.norm(d_vec, axis=1)
    dc = np.clip(d, 1e-6, (thigh + shin) * 0.9999)
    u = d_vec / np.maximum(d, 1e-9)[:, None]
    x = (thigh ** 2 - shin ** 2 + dc ** 2) / (2 * dc)
    y = np.sqrt(np.maximum(thigh ** 2 - x ** 2, 0.0))
    perp = fwd3 - u * np.sum(fwd3 * u, axis=1, keepdims=True)
    perp /= np.maximum(np.linalg.norm(perp, axis=1, keepdims=True), 1e-9)
    return hip + u * x[:, None] + perp * y[:, None]


def walk_cycle(xy: np.ndarray, fps: float, height_m: np.ndarray, build: np.ndarray, speed_mps: np.ndarray,
               first_heading: np.ndarray, ground) -> Gait:
    """The gait of M pedestrians over N frames from their positions (N, M, 2); `ground(x, y)` gives
    the walking surface height."""
    n, m = xy.shape[:2]
    head = headings(xy, fps, first_heading)
    joints = np.zeros((n, m, len(JOINTS), 3))
    contact = np.zeros((n, m, 2), bool)
    cpoint = np.full((n, m, 2, 3), np.nan)
    gz = np.zeros((n, m))
    part = np.full((n, m, 2), -1, np.int8)
    step = np.zeros((n, m, 2), np.int64)
    for a in range(m):
        joints[:, a], contact[:, a], cpoint[:, a], gz[:, a], part[:, a], step[:, a] = _one(
            xy[:, a], head[:, a], fps, float(height_m[a]), float(build[a]), float(speed_mps[a]), ground)
    return Gait(joints.astype(np.float32), head.astype(np.float32), contact, cpoint, gz.astype(np.float32),
                part, step)


def _one(xy, head, fps, height, build, speed, ground):
    """Joints (N, J, 3), contact (N, 2) and contact points (N, 2, 3) of one pedestrian."""
    n = len(xy)
    step = np.diff(xy, axis=0)
    walked = np.concatenate([[0.0], np.cumsum(np.linalg.norm(step, axis=1))])
    walked = walked + np.arange(n) * 1e-9  # strictly increasing for interpolation
    stride = 2 * 0.37 * height * np.clip(speed / 1.3, 0.7, 1.3) ** 0.5
    phi = walked / stride
    out = np.zeros((n, len(JOINTS), 3))
    contact = np.zeros((n, 2), bool)
    cpoint = np.full((n, 2, 3), np.nan)
    fwd3 = np.concatenate([head, np.zeros((n, 1))], 1)
    right3 = np.stack([head[:, 1], -head[:, 0], np.zeros(n)], 1)
    rate = np.gradient(walked) * fps if n > 1 else np.zeros(n)
    rate = np.convolve(np.pad(rate, 4, mode="edge"), np.ones(9) / 9, mode="valid")
    stall = np.clip(1.0 - rate / STALL_SPEED_MPS, 0.0, 1.0)
    feet = []
    for foot in (0, 1):
        plants, plant_h, k = _plants(walked, xy, head, stride, height, build, ground, foot)
        ankle, heel, toe, st, pt, gz = _foot(phi, plants, plant_h, int(k[0]), height, foot, stall)
        feet.append((ankle, heel, toe, gz))
        contact[:, foot], cpoint[:, foot] = st, pt
    leg = LEG * height
    thigh, shin = leg * THIGH_SHARE, leg * (1 - THIGH_SHARE)
    hip_off = HIP_HALF * height * build
    hips = [np.concatenate([xy, np.zeros((n, 1))], 1) + right3 * s * hip_off for s in (-1, 1)]
    ground_mid = np.mean([f[3] for f in feet], axis=0)
    z = ground_mid + HIP_H * height
    for foot, (ankle, _, _, _) in enumerate(feet):
        horiz = np.linalg.norm(ankle[:, :2] - hips[foot][:, :2], axis=1)
        reach = np.sqrt(np.maximum((leg * 0.985) ** 2 - horiz ** 2, 0.0))
        z = np.minimum(z, np.where(contact[:, foot], ankle[:, 2] + reach, np.inf))
    z = np.convolve(np.pad(z, 1, mode="edge"), np.ones(3) / 3, mode="valid") if n >= 3 else z
    pelvis = np.concatenate([xy, z[:, None]], 1)
    out[:, J["pelvis"]] = pelvis
    for foot, side in enumerate(("l", "r")):
        hip = pelvis + right3 * (-1 if foot == 0 else 1) * hip_off
        ankle, heel, toe, _ = feet[foot]
        out[:, J["hip_" + side]] = hip
        out[:, J["ankle_" + side]] = ankle
        out[:, J["knee_" + side]] = _knee(hip, ankle, fwd3, thigh, shin)
        out[:, J["heel_" + side]], out[:, J["toe_" + side]] = heel, toe
    _upper_body(out, pelvis, fwd3, right3, phi, height, build, speed)
    part = np.full((n, 2), -1, np.int8)
    steps = np.zeros((n, 2), np.int64)
    for foot in (0, 1):
        u_all = phi + 0.5 * foot
        steps[:, foot] = np.floor(u_all).astype(np.int64)
        w = (u_all - np.floor(u_all)) / STANCE
        code = np.where(w < HEEL_SHARE, 0, np.where(w > 1 - TOE_SHARE, 2, 1))
        part[:, foot] = np.where(contact[:, foot], code, -1)
    return out, contact, cpoint, ground_mid, part, steps


def _upper_body(out, pelvis, fwd3, right3, phi, height, build, speed):
    lean = np.radians(4.0)
    rise = (NECK_H - HIP_H) * height
    neck = pelvis + UP * rise * np.cos(lean) + fwd3 * rise * np.sin(lean)
    out[:, J["neck"]] = neck
    out[:, J["head"]] = neck + UP * (HEAD_H - NECK_H) * height + fwd3 * 0.012 * height
    shoulder_c = pelvis + (neck - pelvis) * ((SHOULDER_H - HIP_H) / (NECK_H - HIP_H))
    amp = ARM_SWING_RAD * np.clip(speed / 1.3, 0.6, 1.4)
    for k, side in enumerate(("l", "r")):
        sgn = -1 if k == 0 else 1
        sh = shoulder_c + right3 * sgn * SHOULDER_HALF * height * build
        theta = -amp * np.cos(2 * np.pi * (phi + 0.5 * k))
        out_rad = np.radians(6.0)
        d1 = -UP * np.cos(theta)[:, None] + fwd3 * np.sin(theta)[:, None] + right3 * sgn * np.sin(out_rad)
        flex = np.radians(12.0) + np.radians(25.0) * np.clip(theta / amp, 0, 1)
        d2 = -UP * np.cos(theta + flex)[:, None] + fwd3 * np.sin(theta + flex)[:, None] + right3 * sgn * 0.03
        elbow = sh + d1 * UPPER_ARM * height
        out[:, J["shoulder_" + side]] = sh
        out[:, J["elbow_" + side]] = elbow
        out[:, J["wrist_" + side]] = elbow + d2 / np.linalg.norm(d2, axis=1, keepdims=True) * FOREARM * height
