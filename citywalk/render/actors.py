"""Actors in rendered scenes: a captured person drawn as a camera-facing card (it turns about
the vertical axis only) standing on the ground at its foot anchor, lit like the scene, with a
sun shadow projected on the ground and a soft contact shadow at the feet.

`ActorPass` is a scene pass added with `Renderer.add_pass`: it draws after the meshes and the
sky into the scene target. The card writes depth where it is solid (alpha ≥ 0.5), so
poles and corners in front hide it, splats behind it are hidden, and fog applies by depth.
The soft edge of the matte takes the colour of the solid pixels next to it (no spill of the
capture's backdrop) and colours are premultiplied in linear light before filtering, so the
edges carry no halo.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..agents.gait import J as JOINT
from ..errors import RenderError
from .color import LUMA, srgb_to_linear
from .frame import FrameContext, TextureUnit
from .gl import check_gl, mat_bytes, set_uniform, shader_source, vec
from .puppet import (
    ARM_POSE_MIN_SIN,
    LegPose,
    gait_arm_joints,
    gait_leg_joints,
    pose_legs,
    rest_arms,
    rest_joints,
    shift_px,
    to_card_px,
)

BODY_RADIUS_M = 0.22      # half-width of the rounded body the card is shaded as
VIS_HEIGHTS = (0.1, 0.35, 0.6, 0.85, 0.97)  # fractions of height where sun visibility is sampled,
VIS_OFFSETS_M = ((0, 0, 0), (0.15, 0, 0), (-0.15, 0, 0), (0, 0.15, 0), (0, -0.15, 0))  # × these: smooth
# changes when a shadow edge sweeps over the body (steps of 1/25, not 1/5)
GROUND_ALBEDO = 0.2       # as the renderer assumes for ground bounce
LAMP_SHARE = 0.45         # lamp illuminance on the body relative to the total at the point
SHADOW_LIFT_M = 0.02      # ground shadows sit this far above the ground (no z-fighting)
MIN_SUN_Z = 0.08          # lower suns are clamped: shadows at most ~12 body heights long
CONTACT_STRENGTH = 0.5
CONTACT_HALF_M = (0.32, 0.2)  # contact shadow semi-axes: along the card, toward the camera
SHADOW_BLUR_LOD = 1.5
EDGE_ALPHA = (0.12, 0.88)  # matte alpha mapped to 0..1 over this range
CACHE_BYTES = 256 * 1024**2  # prepared actor frames kept in memory (a walk loop repeats)
MIRROR_DEAD_ZONE = 0.2    # |heading · screen right| below this never mirrors (no flicker)
VIEW_BLEND_STEPS = 8      # blend weights between neighbouring views are rounded to 1/8
# View-indexed actors. Yaw (deg) as `likeness.views` defines it: 0 the person faces the viewer,
# +90 faces image right, ±180 shows their back; mirroring an image negates it.
BIN_DEG = 30.0            # one representative stored frame per bin of yaw
WALK_MATCH_DEG = 35.0     # the walking loop is shown while its yaw is this close to the wanted one
PUPPET_PAD = 0.35        # share of the person's height added each side of a posed card (striding legs)
SNAP_DEG = 2.0            # a view this close to the wanted yaw is shown alone (no blend)


def wrap_deg(a):
    """Angle(s) wrapped to [-180, 180)."""
    return (np.asarray(a, float) + 180.0) % 360.0 - 180.0



def defringe(rgba: np.ndarray, solid_alpha: int = 230, iterations: int = 12) -> np.ndarray:
    """(H, W, 4) uint8 with the colour of every partly transparent pixel replaced by that of
    the nearest solid pixels (alpha ≥ solid_alpha), grown outward `iterations` pixels: a matte
    keeps the backdrop's colour in its soft edge (green spill), which would show as a halo."""
    col = rgba[..., :3].astype(np.float32)
    known = rgba[..., 3] >= solid_alpha
    if not known.any():
        return rgba
    out = col.copy()
    filled = known.copy()
    h, w = known.shape
    for _ in range(iterations):
        if filled.all():
            break
        wk = np.pad(filled.astype(np.float32), 1)
        ck = np.pad(out * filled[..., None], ((1, 1), (1, 1), (0, 0)))
        num = sum(ck[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
        den = sum(wk[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
        grow = ~filled & (den > 0)
        out[grow] = num[grow] / den[grow, None]
        filled |= grow
    out[~filled] = col[known].mean(0)
    res = rgba.copy()
    res[..., :3] = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return res


def premultiplied_linear(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 straight-alpha sRGB → (H, W, 4) float16 premultiplied linear RGB + alpha,
    the alpha ramp tightened to EDGE_ALPHA (a matte's faint outer fringe reads as a ghost)."""
    f = rgba.astype(np.float32) / 255.0
    lo, hi = EDGE_ALPHA
    a = np.clip((f[..., 3:4] - lo) / (hi - lo), 0.0, 1.0)
    out = np.empty(f.shape, np.float32)
    out[..., :3] = srgb_to_linear(f[..., :3]) * a
    out[..., 3:4] = a
    return out.astype(np.float16)


def capture_direction(actor) -> float:
    """+1 if the person walked toward image right in the capture, −1 toward the left, 0 if
    unknown (walking in place, a still): from the crops' travel over the loop."""
    c = actor.cycle
    if not c.walking or actor.crop_origin_px is None:
        return 0.0
    dx = float(actor.crop_origin_px[c.end_frame - 1, 0] - actor.crop_origin_px[c.start_frame, 0])
    if abs(dx) < 0.1 * float(np.median(actor.height_px)):
        return 0.0
    return float(np.sign(dx))


def card_axes(ground_m: np.ndarray, heading: np.ndarray, cam_pos: np.ndarray, cam_forward: np.ndarray,
              walks_right: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """(right (3,), to_cam (3,), mirrored) for a card at ground_m seen from cam_pos: horizontal
    unit vectors, `right` along image +x (reversed when mirrored so that a person captured
    walking right appears to walk along `heading` on screen)."""
    d = np.asarray(ground_m, float) - cam_pos
    d[2] = 0.0
    if np.linalg.norm(d) < 1e-6:
        d = np.array([cam_forward[0], cam_forward[1], 0.0])
    if np.linalg.norm(d) < 1e-9:
        d = np.array([1.0, 0.0, 0.0])
    d /= np.linalg.norm(d)
    right = np.array([d[1], -d[0], 0.0])
    along = float(np.dot(heading, right))
    mirrored = walks_right != 0.0 and abs(along) > MIRROR_DEAD_ZONE and along * walks_right < 0
    return (-right if mirrored else right), -d, mirrored


def card_corners(ground_m: np.ndarray, right: np.ndarray, anchor_px: np.ndarray, size_px: tuple[int, int],
                 m_per_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vertical card whose foot anchor pixel sits on ground_m: corners (4, 3) m (top-left,
    top-right, bottom-left, bottom-right), uvs (4, 2) (v = 0 at the image top) and each
    corner's offset along `right` from the foot column (4,) m."""
    w, h = size_px
    ax, ay = float(anchor_px[0]), float(anchor_px[1])
    up = np.array([0.0, 0.0, 1.0])
    px = np.array([[0, 0], [w, 0], [0, h], [w, h]], float)
    side = (px[:, 0] - ax) * m_per_px
    rise = (ay - px[:, 1]) * m_per_px
    corners = ground_m[None] + side[:, None] * right[None] + rise[:, None] * up[None]
    uv = px / np.array([w, h], float)
    return corners, uv, side


def project_to_ground(points_m: np.ndarray, sun_dir: np.ndarray, ground_z_m: float) -> np.ndarray:
    """Points (N, 3) moved along the sun direction onto the plane z = ground_z_m."""
    s = np.asarray(sun_dir, float).copy()
    s[2] = max(s[2], MIN_SUN_Z)
    k = (points_m[:, 2] - ground_z_m) / s[2]
    return points_m - k[:, None] * s[None]


def _quad_vertices(corners: np.ndarray, uv: np.ndarray, side: np.ndarray) -> bytes:
    """Two triangles (6, 6) float32: position, uv, side — from corners in TL, TR, BL, BR order."""
    order = [0, 2, 1, 1, 2, 3]
    v = np.concatenate([corners[order], uv[order], side[order, None]], 1).astype(np.float32)
    return v.tobytes()


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
    return shift_px(img, dx, dy)


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


class ActorPass:
    """Draws one Actor following an ActorTrack (see `citywalk.likeness.place`) into the scene
    target (a scene pass: `Renderer.add_pass`). walks_right: +1/−1 the direction the person
    walked in the capture's image (None: from the capture), used to mirror the card so they
    face their way along the route."""

    def __init__(self, ctx, actor, track, *, walks_right: float | None = None, shadows: bool = True):
        import moderngl

        if len(track) < 1:
            raise RenderError("actor track is empty; it needs one entry per frame")
        self.ctx, self.actor, self.track, self.shadows = ctx, actor, track, shadows
        self.walks_right = capture_direction(actor) if walks_right is None else float(np.sign(walks_right))
        self.card_prog = ctx.program(
            vertex_shader=shader_source("actor.vert"), fragment_shader=shader_source("actor.frag")
        )
        self.shadow_prog = ctx.program(vertex_shader=shader_source("actor.vert"),
                                       fragment_shader=shader_source("actor_shadow.frag"))
        self.vbo = ctx.buffer(reserve=6 * 6 * 4, dynamic=True)
        fmt = (self.vbo, "3f 2f 1f", "in_pos", "in_uv", "in_side")
        self.card_vao = ctx.vertex_array(self.card_prog, [fmt])
        self.shadow_vao = ctx.vertex_array(self.shadow_prog, [(self.vbo, "3f 2f 4x", "in_pos", "in_uv")])
        # the walk cycle, for views that hold no walk (a one-view walking capture always has its own)
        self.legs = getattr(track, "legs", None) if actor.view_indexed or not actor.cycle.walking else None
        self.pad_px = int(math.ceil(PUPPET_PAD * float(np.median(actor.height_px)))) if self.legs is not None else 0
        w, h = actor.size_px
        self.size_px = (w + 2 * self.pad_px, h)
        self.tex = ctx.texture(self.size_px, 4, dtype="f2")
        self.tex.repeat_x = self.tex.repeat_y = False
        self.tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self._loaded = None
        self._prepared: dict = {}  # stored frame, composed view or posed frame → defringed premultiplied pixels
        self._anchors: dict = {}  # the same keys → foot anchor px in the (padded) texture
        self._table = None
        if actor.view_indexed:
            self._table = view_table(actor.yaw_deg)
        self._cache_limit = max(1, CACHE_BYTES // max(1, self.size_px[0] * h * 8))
        self.last: dict = {}  # what the latest draw used (tests and debugging)
        check_gl(ctx, "actor pass set-up")

    def _upload(self, key, make) -> np.ndarray:
        """Puts the image for `key` in the texture and returns its foot anchor px; make() gives
        its straight-alpha pixels and anchor (padded to the texture) when it is not cached."""
        if key != self._loaded:
            data = self._prepared.get(key)
            if data is None:
                rgba, self._anchors[key] = make()
                data = premultiplied_linear(defringe(rgba))
                if len(self._prepared) >= self._cache_limit:
                    self._prepared.pop(next(iter(self._prepared)))
                self._prepared[key] = data
            self.tex.write(data.tobytes())
            self.tex.build_mipmaps()
            self._loaded = key
        return np.asarray(self._anchors[key], float)

    def _pad(self, rgba: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """rgba widened by pad_px empty columns each side (room for striding legs), and its anchor."""
        if not self.pad_px:
            return rgba, np.asarray(anchor, float)
        p = self.pad_px
        return np.pad(rgba, ((0, 0), (p, p), (0, 0))), np.asarray(anchor, float) + [p, 0.0]

    def _choice(self, index: int, want_deg: float) -> ViewChoice:
        """The stored view(s) for a view-indexed actor seen at want_deg; the blend weight is
        rounded to VIEW_BLEND_STEPS so a turning actor reuses its composed images."""
        c = choose_view(self.actor.yaw_deg, index, want_deg, self._table)
        w = round(c.weight_b * VIEW_BLEND_STEPS) / VIEW_BLEND_STEPS
        if w >= 1.0:
            return ViewChoice(c.index_b, c.mirror_b, c.index_b, c.mirror_b, 0.0, c.yaw_shown_deg)
        return ViewChoice(c.index_a, c.mirror_a, c.index_b, c.mirror_b, w, c.yaw_shown_deg)

    def _posed(self, base, f: int, ground: np.ndarray, right: np.ndarray, to_cam: np.ndarray, cam_pos: np.ndarray):
        """base() (a padded standing image and anchor) redrawn with its legs in the walk cycle's
        pose of shot frame f (`render.puppet`), as the camera at cam_pos sees that pose; in views
        from the side (the arms' swing crosses the view) the arms swing with the cycle too."""
        rgba, anchor = base()
        mpp, h_m = float(self.actor.m_per_px), float(self.actor.height_m)
        f = min(max(int(f), 0), self.legs.joints.shape[0] - 1)
        joints = np.asarray(self.legs.joints[f, 0], float)
        pelvis = joints[JOINT["pelvis"]]
        heading = np.asarray(self.legs.heading[f, 0], float)
        rest3 = rest_joints(pelvis[:2], heading, float(ground[2]), h_m)
        tgt3 = gait_leg_joints(joints)
        to_cam = np.asarray(to_cam, float)
        near = int(np.argmax((tgt3[:, 0] - ground) @ to_cam))  # the hip nearer the camera

        def px(p):
            return to_card_px(p, ground, right, anchor, mpp, cam_pos)

        rest_pelvis = px(rest3[:, 0].mean(0))  # between its hips
        arms_r = arms_t = None
        near_arm = 0
        side_on = abs(float(heading @ np.asarray(right, float)[:2])) / max(float(np.hypot(*heading)), 1e-9)
        if side_on >= ARM_POSE_MIN_SIN:
            rest_a, tgt_a = rest_arms(pelvis[:2], heading, float(ground[2]), h_m), gait_arm_joints(joints, h_m)
            near_arm = int(np.argmax((tgt_a[:, 0] - ground) @ to_cam))
            arms_r, arms_t = px(rest_a), px(tgt_a)
        rest = LegPose(px(rest3), rest_pelvis, near, arms_r, near_arm)
        target = LegPose(px(tgt3), px(pelvis), near, arms_t, near_arm)
        return pose_legs(rgba, rest, target, h_m / mpp), anchor

    def update_lighting(self, light) -> None:
        """Nothing to upload: the card is lit from the frame's light when drawn."""

    def light(self, light, ground_m: np.ndarray) -> dict[str, np.ndarray]:
        """Illuminance (klux RGB) on the actor at ground_m under `light` (a SceneLight): 'sun'
        (× visibility averaged over the body), 'ambient' (sky + ground bounce on a vertical
        surface), 'lamps', and the sun's visibility 'vis' (0..1)."""
        L = light.lighting
        h = float(self.actor.height_m)
        pts = (ground_m[None, None] + np.asarray(VIS_OFFSETS_M)[None, :]
               + np.outer(VIS_HEIGHTS, [0.0, 0.0, h])[:, None]).reshape(-1, 3)
        vis = float(np.mean(light.sun_visibility(pts)))
        vis_ground = float(light.sun_visibility(ground_m[None] + [0.0, 0.0, 0.05])[0])
        sun_e = np.asarray(L.sun_illuminance, float)
        amb_up = np.asarray(L.ambient_up, float)
        e_ground = GROUND_ALBEDO * (sun_e * max(float(L.sun_dir[2]), 0.0) * vis_ground + amb_up)
        chest = ground_m + [0.0, 0.0, 0.72 * h]
        lamps = LAMP_SHARE * light.lamp_illuminance(chest[None])[0]
        return {"sun": sun_e * vis, "ambient": 0.5 * amb_up + 0.5 * e_ground, "lamps": lamps, "vis": vis}

    def shadow_strength(self, light, shadow_pts: np.ndarray) -> float:
        """How much the actor's sun shadow darkens the ground: the sun's share of the ground's
        illuminance where the shadow falls (0 where the ground is already in shadow)."""
        L = light.lighting
        if not light.shadow.active or L.sun_dir[2] <= 0:
            return 0.0
        vis = float(np.mean(light.sun_visibility(shadow_pts + [0.0, 0.0, 0.05])))
        direct = float(np.dot(np.asarray(L.sun_illuminance, float), LUMA)) * float(L.sun_dir[2]) * vis
        amb = float(np.dot(np.asarray(L.ambient_up, float), LUMA))
        return 0.95 * direct / max(direct + amb, 1e-12)

    def card(self, frame, ground: np.ndarray, heading: np.ndarray, index: int):
        """What the card shows in `frame` for the actor at ground facing heading with stored frame
        index: (texture key, make() → straight-alpha rgba and foot anchor px, right, to_cam,
        mirrored, view info). Views the capture holds no walk for get the walk cycle's legs."""
        view, actor = {}, self.actor
        if self._table is not None:  # view-indexed: the stored side that faces the camera
            want = viewing_yaw_deg(heading, ground, frame.position)
            c = self._choice(index, want)
            right, to_cam, mirrored = card_axes(ground, heading, frame.position, frame.forward, 0.0)
            view = {"view": c, "view_yaw_deg": want}
            walk_shown = actor.cycle.walking and c.single and c.index_a == index
            key = ("view", c.index_a, c.mirror_a, c.index_b, c.mirror_b, c.weight_b)

            def make():
                return self._pad(*compose_view(actor.frames_rgba, actor.foot_anchor_px, c))
        else:
            right, to_cam, mirrored = card_axes(ground, heading, frame.position, frame.forward, self.walks_right)
            walk_shown, key = actor.cycle.walking, index

            def make():
                return self._pad(actor.frames_rgba[index], actor.foot_anchor_px[index])
        posed = self.legs is not None and not walk_shown
        if posed:
            key = ("posed", frame.index, key)
            make = functools.partial(self._posed, make, frame.index, ground, right, to_cam,
                                     np.asarray(frame.position, float))
        return key, make, right, to_cam, mirrored, view

    def draw(self, fc: FrameContext) -> None:
        """Draw the actor for frame fc.frame into the scene target: ground shadows first, then
        the card's solid core (writing depth), then its soft edge (blended, no depth write)."""
        import moderngl

        ctx, frame = self.ctx, fc.frame
        ground, heading, index = self.track.at(frame.index)
        ground = np.asarray(ground, float)
        key, make, right, to_cam, mirrored, view = self.card(frame, ground, np.asarray(heading, float), index)
        posed = isinstance(key, tuple) and key[0] == "posed"
        anchor = self._upload(key, make)
        corners, uv, side = card_corners(ground, right, anchor, self.size_px, float(self.actor.m_per_px))
        light = self.light(fc.light, ground)
        self.last = {"ground": ground, "index": index, "mirrored": mirrored, "corners": corners, "posed": posed,
                     "anchor": anchor, **view, **light}
        vp = mat_bytes(fc.view_proj)
        target = fc.targets.scene_fbo
        target.use()
        self.tex.use(TextureUnit.ACTOR)
        ctx.enable(moderngl.DEPTH_TEST | moderngl.BLEND)
        ctx.disable(moderngl.CULL_FACE)
        target.depth_mask = False
        try:
            p = self.shadow_prog
            p["u_view_proj"].write(vp)
            set_uniform(p, "u_tex", int(TextureUnit.ACTOR))
            ctx.depth_func = "<="
            ctx.blend_func = moderngl.ZERO, moderngl.SRC_COLOR
            if self.shadows:
                self._draw_shadows(fc.light, ground, anchor, right, to_cam)
            self._draw_card(fc, vp, light, _quad_vertices(corners, uv, side), right, to_cam)
        finally:
            target.depth_mask = True
            ctx.depth_func = "<="
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
            ctx.disable(moderngl.BLEND)
        check_gl(ctx, "actor pass")

    def _draw_card(self, fc: FrameContext, vp: bytes, light: dict, quad: bytes, right, to_cam) -> None:
        """The card, lit: its solid core with depth, then the soft edge without."""
        import moderngl

        ctx, p, target = self.ctx, self.card_prog, fc.targets.scene_fbo
        p["u_view_proj"].write(vp)
        set_uniform(p, "u_tex", int(TextureUnit.ACTOR))
        set_uniform(p, "u_sun_dir", vec(fc.light.lighting.sun_dir))
        set_uniform(p, "u_sun_E", vec(light["sun"]))
        set_uniform(p, "u_amb_E", vec(light["ambient"]))
        set_uniform(p, "u_lamp_E", vec(light["lamps"]))
        set_uniform(p, "u_to_cam", vec(to_cam))
        set_uniform(p, "u_right", vec(right))
        set_uniform(p, "u_body_radius_m", BODY_RADIUS_M)
        self.vbo.write(quad)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        target.depth_mask = True
        ctx.depth_func = "<"
        set_uniform(p, "u_pass", 0.0)
        self.card_vao.render(moderngl.TRIANGLES, vertices=6)
        target.depth_mask = False
        set_uniform(p, "u_pass", 1.0)
        self.card_vao.render(moderngl.TRIANGLES, vertices=6)

    def _draw_shadows(self, light, ground, anchor, right, to_cam) -> None:
        """The sun shadow on the ground (where the sun is up and the ground not already in
        shadow) and the soft contact shadow at the feet, darkening what is drawn."""
        import moderngl

        p = self.shadow_prog
        sun = np.asarray(light.lighting.sun_dir, float)
        lift = ground[2] + SHADOW_LIFT_M
        sun_h = np.array([sun[0], sun[1], 0.0])
        if sun[2] > 0 and np.linalg.norm(sun_h) > 1e-6:
            sun_h /= np.linalg.norm(sun_h)
            # the silhouette as the sun sees it: a card facing the sun, projected on the ground
            s_right = np.array([sun_h[1], -sun_h[0], 0.0])
            sc, suv, sside = card_corners(ground, s_right, anchor, self.size_px, float(self.actor.m_per_px))
            shadow = project_to_ground(sc, sun, lift)
            head = ground + [0.0, 0.0, float(self.actor.height_m)]
            samples = np.stack([ground + f * (project_to_ground(head[None], sun, ground[2])[0] - ground)
                                for f in (0.25, 0.5, 0.75, 1.0)])
            k = self.shadow_strength(light, samples)
            self.last["shadow_strength"] = k
            self.last["shadow_corners"] = shadow
            if k > 1e-3:
                set_uniform(p, "u_kind", 0.0)
                set_uniform(p, "u_strength", float(k))
                set_uniform(p, "u_blur_lod", SHADOW_BLUR_LOD)
                self.vbo.write(_quad_vertices(shadow, suv, sside))
                self.shadow_vao.render(moderngl.TRIANGLES, vertices=6)
        a, b = CONTACT_HALF_M
        base = ground + [0.0, 0.0, SHADOW_LIFT_M]
        ell = np.stack([base - a * right + b * to_cam, base + a * right + b * to_cam,
                        base - a * right - b * to_cam, base + a * right - b * to_cam])
        euv = np.array([[-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
        set_uniform(p, "u_kind", 1.0)
        set_uniform(p, "u_strength", CONTACT_STRENGTH)
        self.vbo.write(_quad_vertices(ell, euv, np.zeros(4)))
        self.shadow_vao.render(moderngl.TRIANGLES, vertices=6)

    def release(self) -> None:
        """Free the GL objects (the context stays the renderer's)."""
        for obj in (self.card_vao, self.shadow_vao, self.vbo, self.tex, self.card_prog, self.shadow_prog):
            obj.release()


__all__ = ["ActorPass", "ViewChoice", "card_axes", "card_corners", "capture_direction", "choose_view",
           "compose_view", "defringe", "premultiplied_linear", "project_to_ground", "view_table", "viewing_yaw_deg"]
