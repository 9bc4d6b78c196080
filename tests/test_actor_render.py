"""Actors in rendered scenes: the card stands where the camera says, is hidden by what is in
front, is lit by the scene (darker at night, in shadow), casts a sun shadow where the sun
says; and placement along a route keeps its distance with feet that do not slide."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pytest

from citywalk.camera.track import CameraFrame, intrinsics, look_at
from citywalk.camera.walk import WalkDynamics, walk_arc_length
from citywalk.likeness import Actor, Cycle, LikenessError
from citywalk.likeness.place import ActorTrack, actor_track
from citywalk.look.lighting import resolve_lighting
from citywalk.render.actors import ActorPass, card_axes, premultiplied_linear, project_to_ground
from citywalk.render.renderer import Renderer
from citywalk.scene import Material, Scene
from citywalk.shot import LookSpec
from citywalk.sources.geometry import MeshBuilder

SIZE = (192, 108)
HEIGHT_M = 1.75
AFTERNOON = "16:00"  # sun ~40° up at the default place and date: a shadow clear of the feet


# ---------------------------------------------------------------------------- test data
@functools.lru_cache(maxsize=None)
def _person_rgba(n_frames: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """A person-shaped matte (head, torso, two legs) filled with the astronaut photo, on a
    green backdrop with alpha 0 and a 2 px soft edge still green (a halo would show green): (frames (T, 120,
    64, 4) uint8,
    foot anchors (T, 2), height px). Legs swing with the frame index."""
    from PIL import Image

    skdata = pytest.importorskip("skimage.data")
    h, w = 120, 64
    img = np.asarray(Image.fromarray(skdata.astronaut()).resize((w, h), Image.BILINEAR))
    yy, xx = np.mgrid[:h, :w]
    frames = np.zeros((n_frames, h, w, 4), np.uint8)
    for i in range(n_frames):
        swing = 6.0 * np.sin(2 * np.pi * i / max(n_frames, 1))
        legs = (yy >= 75) & (yy <= 115) & ((np.abs(xx - 25 - swing) < 5) | (np.abs(xx - 39 + swing) < 5))
        mask = ((xx - 32) ** 2 + (yy - 16) ** 2 < 11**2) | ((yy > 26) & (yy < 75) & (np.abs(xx - 32) < 15)) | legs
        ring = _grow(mask, 2) & ~mask  # a soft matte edge that kept the backdrop's colour (spill)
        frames[i, ..., :3] = (0, 255, 0)
        frames[i][mask, :3] = img[mask]
        frames[i, ..., 3] = np.where(mask, 255, np.where(ring, 110, 0))
    anchors = np.tile([[32.0, 115.5]], (n_frames, 1))
    return frames, anchors, 110.5


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    """The mask dilated by px pixels (square neighbourhood)."""
    out = mask.copy()
    for _ in range(px):
        p = np.pad(out, 1)
        out = p[1:-1, 1:-1] | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
    return out


def _actor(n_frames: int = 1, stride_m: float | None = None, period_s: float = 1.0) -> Actor:
    frames, anchors, height_px = _person_rgba(n_frames)
    walking = stride_m is not None
    cycle = Cycle(0, n_frames, period_s if walking else n_frames / 24.0, walking, stride_m)
    return Actor(frames, anchors, np.full(n_frames, height_px), np.full((n_frames, 33, 3), np.nan, np.float32),
                 HEIGHT_M / height_px, HEIGHT_M, 24.0, cycle)


def _scene(occluder: bool = False, pole_at=None) -> Scene:
    b = MeshBuilder()
    b.quad(Material("ground", (0.3, 0.3, 0.3), 0.9), (-500, -500, 0), (1000, 0, 0), (0, 1000, 0))
    if occluder:  # a wall between the camera at x = -6 and the actor at the origin
        b.box(Material("wall", (0.5, 0.5, 0.5), 0.9), (-3.0, 0.0, 0.0), (0.3, 4.0, 4.0))
    if pole_at is not None:  # a tall box (a building corner) for casting shadows
        b.box(Material("pole", (0.5, 0.5, 0.5), 0.9), (pole_at[0], pole_at[1], 0.0), (1.5, 1.5, 12.0))
    return Scene(meshes=b.build(), bounds_m=((-30, -30, 0), (30, 30, 12)))


def _frame(eye, target, fov_deg: float = 60.0) -> CameraFrame:
    R, t = look_at(np.asarray(eye, float), np.asarray(target, float))
    return CameraFrame(0, 0.0, R, t, intrinsics(fov_deg, SIZE), SIZE)


def _still_track(ground=(0.0, 0.0, 0.0), heading=(0.0, 1.0, 0.0)) -> ActorTrack:
    return ActorTrack(np.zeros(1), np.array([ground], float), np.array([heading], float), np.zeros(1, np.int64),
                      np.zeros(1), False)


def _render(scene, when, frame, actor=None, track=None, **pass_kw) -> dict:
    """rgb, depth and the HDR radiance (H, W, 3) of one frame, fixed exposure."""
    r = Renderer(scene, resolve_lighting(LookSpec(when=when)), SIZE, samples=1, auto_exposure=False)
    try:
        if actor is not None:
            r.add_pass(ActorPass(r.ctx, actor, track or _still_track(), **pass_kw))
        out = r.render(frame, want_depth=True)
        w, h = SIZE
        out["hdr"] = (
            np.frombuffer(r.targets.hdr_tex.read(), np.float16).reshape(h, w, 4)[::-1, :, :3].astype(np.float32)
        )
        assert r.ctx.error == "GL_NO_ERROR"
        return out
    finally:
        r.close()


def _actor_mask(with_actor: dict, without: dict) -> np.ndarray:
    """Pixels where the actor's card wrote depth (its solid core)."""
    a, b = with_actor["depth"], without["depth"]
    return np.abs(np.where(np.isfinite(a), a, 1e9) - np.where(np.isfinite(b), b, 1e9)) > 0.01


# ---------------------------------------------------------------------------- rendering
def test_actor_stands_where_the_camera_projection_says():
    actor = _actor()
    frame = _frame([-6.0, -1.0, 1.6], [0.0, 0.0, 0.9])
    scene = _scene()
    with_actor = _render(scene, "noon", frame, actor)
    without = _render(scene, "noon", frame)
    mask = _actor_mask(with_actor, without)
    assert mask.sum() > 150
    rows, cols = np.nonzero(mask)
    foot, head = frame.project(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, HEIGHT_M]]))
    assert rows.max() + 1 == pytest.approx(foot[1], abs=2.5)
    assert rows.min() == pytest.approx(head[1], abs=2.5)
    # width: the matte spans pixels 17..47 of 64 around the foot column 32 (0.5 m at 1.58 cm/px)
    right, _, _ = card_axes(np.zeros(3), np.array([0.0, 1.0, 0.0]), frame.position, frame.forward, 0.0)
    m = actor.m_per_px
    edges = frame.project(np.array([(17 - 32) * m * right + [0, 0, 1.0], (47 - 32) * m * right + [0, 0, 1.0]]))
    assert cols.min() == pytest.approx(min(edges[:, 0]), abs=2.5)
    assert cols.max() + 1 == pytest.approx(max(edges[:, 0]), abs=2.5)
    # no halo: no pixel turned greener than the scene and the matte colours allow
    diff = with_actor["rgb"].astype(int) - without["rgb"].astype(int)
    green = (diff[..., 1] - np.maximum(diff[..., 0], diff[..., 2])) > 40
    assert green.sum() <= 2


def test_actor_is_hidden_behind_a_wall():
    actor = _actor()
    frame = _frame([-6.0, 0.0, 1.6], [0.0, 0.0, 0.9])
    scene = _scene(occluder=True)
    with_actor = _render(scene, "noon", frame, actor)
    without = _render(scene, "noon", frame)
    assert not _actor_mask(with_actor, without).any()
    # and the same place without the wall does show the actor
    open_scene = _scene()
    assert _actor_mask(_render(open_scene, "noon", frame, actor), _render(open_scene, "noon", frame)).sum() > 150


def test_actor_is_darker_at_night_and_in_shadow():
    actor = _actor()
    frame = _frame([-6.0, -1.0, 1.6], [0.0, 0.0, 0.9])
    scene = _scene()
    base = _render(scene, "noon", frame)
    lum = {}
    for when in ("noon", "night"):
        out = _render(scene, when, frame, actor)
        mask = _actor_mask(out, base)
        lum[when] = float((out["hdr"][mask] @ [0.2126, 0.7152, 0.0722]).mean())
    assert lum["night"] < 1e-3 * lum["noon"]
    # noon radiance is albedo × E / π for a plausible E: within 0.25..1.2 of the sun+sky on the ground
    L = resolve_lighting(LookSpec(when="noon"))
    albedo = float(np.mean(premultiplied_linear(actor.frames_rgba[0])[..., :3][actor.frames_rgba[0, ..., 3] > 0]
                           .astype(np.float32) @ [0.2126, 0.7152, 0.0722]))
    e_ground = float((L.sun_illuminance * L.sun_dir[2] + L.ambient_up) @ [0.2126, 0.7152, 0.0722])
    assert 0.25 < lum["noon"] / (albedo * e_ground / np.pi) < 1.2
    # in the afternoon, standing in a tall box's shadow is darker than standing in the sun
    L4 = resolve_lighting(LookSpec(when=AFTERNOON))
    sun_h = np.r_[L4.sun_dir[:2], 0.0] / np.linalg.norm(L4.sun_dir[:2])
    side = np.cross([0.0, 0.0, 1.0], sun_h)  # the camera looks across the sun direction
    frame4 = _frame(6.0 * side + [0.0, 0.0, 1.6], [0.0, 0.0, 0.9])
    y = [0.2126, 0.7152, 0.0722]
    lum4 = []
    for pole_at in (2.5 * sun_h, -2.5 * sun_h):  # toward the sun: shade; away: none
        sc = _scene(pole_at=pole_at)
        out = _render(sc, AFTERNOON, frame4, actor)
        mask = _actor_mask(out, _render(sc, AFTERNOON, frame4))
        assert mask.sum() > 100
        lum4.append(float((out["hdr"][mask] @ y).mean()))
    assert lum4[0] < 0.5 * lum4[1]


def test_sun_shadow_falls_where_the_sun_says():
    actor = _actor()
    L = resolve_lighting(LookSpec(when=AFTERNOON))
    assert 0.3 < L.sun_dir[2] < 0.9
    frame = _frame([-5.0, -5.0, 7.0], [0.0, 0.0, 0.0])
    scene = _scene()
    with_actor = _render(scene, AFTERNOON, frame, actor)
    without = _render(scene, AFTERNOON, frame)
    body = _actor_mask(with_actor, without)
    y = [0.2126, 0.7152, 0.0722]
    dark = (with_actor["hdr"] @ y) < 0.8 * (without["hdr"] @ y)
    # the torso's shadow, projected along the sun from 1.0 m up, and the same offset the other way
    torso = np.array([[0.0, 0.0, 1.0]])
    q = project_to_ground(torso, L.sun_dir, 0.0)[0]
    assert np.linalg.norm(q[:2]) > 0.8  # clear of the contact shadow at the feet
    shadow_px = frame.project(q[None])[0]
    away_px = frame.project((-q * [1, 1, 0])[None])[0]
    for px, want in ((shadow_px, True), (away_px, False)):
        c, r = int(px[0]), int(px[1])
        patch = np.s_[r - 1:r + 2, c - 1:c + 2]
        assert not body[patch].any()
        assert bool(dark[patch].mean() > 0.5) is want, (px, want)
    # the darkening stays near the actor: ground 4 m from it, away from the shadow, is untouched
    side = np.cross([0.0, 0.0, 1.0], q / np.linalg.norm(q))
    far_px = frame.project(np.array([4.0 * side, -4.0 * side]))
    far_px = far_px[(far_px[:, 0] > 0) & (far_px[:, 0] < SIZE[0]) & (far_px[:, 1] > 0) & (far_px[:, 1] < SIZE[1])]
    assert len(far_px)
    c, r = int(far_px[0, 0]), int(far_px[0, 1])
    assert np.allclose(with_actor["hdr"][r, c], without["hdr"][r, c], rtol=1e-3)


def test_contact_shadow_at_night_and_no_sun_shadow():
    actor = _actor()
    frame = _frame([-5.0, -5.0, 7.0], [0.0, 0.0, 0.0])
    scene = _scene()
    with_actor = _render(scene, "dusk", frame, actor)
    without = _render(scene, "dusk", frame)
    y = [0.2126, 0.7152, 0.0722]
    ratio = (with_actor["hdr"] @ y + 1e-9) / (without["hdr"] @ y + 1e-9)
    body = _actor_mask(with_actor, without)
    # the card's soft fringe, one pixel around its solid core, is the body too, not its shadow
    # (with the baked sky light the open ground at dusk is brighter than the card's own ambient)
    grown = body.copy()
    grown[1:] |= body[:-1]
    grown[:-1] |= body[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    dark = (ratio < 0.9) & ~grown
    rows, cols = np.nonzero(dark)
    assert 3 <= len(rows) < 400
    centre = frame.project(np.zeros((1, 3)))[0]
    assert np.hypot(cols.mean() + 0.5 - centre[0], rows.mean() + 0.5 - centre[1]) < 6


# ---------------------------------------------------------------------------- placement
def _route() -> np.ndarray:
    return np.array([[0.0, 0.0, 0.0], [60.0, 0.0, 0.0], [60.0, 40.0, 0.0]])


def test_ahead_keeps_its_distance_and_heading():
    actor = _actor(24, stride_m=1.2, period_s=1.0)
    dyn = WalkDynamics(speed_mps=1.4)
    fps, n = 24.0, 48
    track = actor_track(actor, SimpleNamespace(placement="ahead", distance_m=3.0), _route(), dyn, fps, n)
    t = np.arange(n) / fps
    cam_x = walk_arc_length(t, dyn)
    assert np.allclose(track.positions[:, 0] - cam_x, 3.0, atol=1e-6)
    assert np.allclose(track.positions[:, 1:], 0.0, atol=1e-6)
    assert np.allclose(track.headings, [1.0, 0.0, 0.0], atol=1e-6)
    beside = actor_track(actor, SimpleNamespace(placement="beside", distance_m=1.0), _route(), dyn, fps, n)
    assert np.allclose(beside.positions[:, 1], 1.0, atol=1e-6)  # 1 m to the walker's left (+y)
    toward = actor_track(actor, SimpleNamespace(placement="toward", distance_m=3.0), _route(), dyn, fps, n)
    gap = toward.positions[:, 0] - cam_x
    assert gap[-1] == pytest.approx(3.0, abs=1e-6) and np.all(np.diff(gap) < 0)
    assert np.allclose(toward.headings, [-1.0, 0.0, 0.0], atol=1e-6)
    fixed = actor_track(actor, SimpleNamespace(placement="fixed", distance_m=5.0), _route(), dyn, fps, n)
    assert np.allclose(fixed.positions, [5.0, 0.0, 0.0], atol=1e-6)
    assert len(set(fixed.frame_index.tolist())) == 1


def test_feet_do_not_slide():
    """Stored frames advance by distance walked / stride: one full loop (24 frames = 1 period
    covering stride_m) per stride_m of ground, whatever the route speed."""
    stride_m = 1.2
    actor = _actor(24, stride_m=stride_m, period_s=1.0)
    for speed in (0.8, 1.4, 2.0):
        dyn = WalkDynamics(speed_mps=speed, speed_wobble=0.0)
        fps, n = 24.0, 240
        track = actor_track(actor, SimpleNamespace(placement="ahead", distance_m=3.0), _route(), dyn, fps, n)
        steps = np.diff(track.frame_index) % 24  # frames advanced per output frame, unwrapped
        frames_advanced = steps.sum()
        walked = track.walked_m[-1] - track.walked_m[0]
        assert frames_advanced / 24.0 * stride_m == pytest.approx(walked, abs=stride_m / 24.0 * 1.5)
        # ground distance between consecutive frames matches the animation's
        ground = np.linalg.norm(np.diff(track.positions, axis=0), axis=1)
        assert ground.sum() == pytest.approx(walked, rel=1e-3)


def test_third_person_rigs_use_the_walker_track():
    from citywalk.camera.rigs import RigSpec, rig_frames

    actor = _actor(24, stride_m=1.2, period_s=1.0)
    dyn = WalkDynamics()
    cams, walker = rig_frames("side", _route(), RigSpec(24.0, 30, SIZE, 60.0, dyn))
    track = actor_track(actor, SimpleNamespace(placement="ahead", distance_m=3.0), _route(), dyn, 24.0, 30,
                        walker_track=walker)
    assert np.allclose(track.positions, walker.positions) and np.allclose(track.headings, walker.headings)


def test_bad_placement_is_a_clear_error():
    actor = _actor()
    with pytest.raises(LikenessError, match="placement"):
        actor_track(actor, SimpleNamespace(placement="behind", distance_m=3.0), _route(), WalkDynamics(), 24.0, 5)
    with pytest.raises(LikenessError, match="distance_m"):
        actor_track(actor, SimpleNamespace(placement="ahead", distance_m=float("nan")), _route(), WalkDynamics(),
                    24.0, 5)


def test_card_turns_about_vertical_and_mirrors_to_walk_its_way():
    cam = np.array([0.0, -5.0, 1.6])  # looking north at the origin: screen right is east
    fwd = np.array([0.0, 1.0, 0.0])
    right, to_cam, mirrored = card_axes(np.zeros(3), np.array([1.0, 0.0, 0.0]), cam, fwd, walks_right=1.0)
    assert np.allclose(right, [1.0, 0.0, 0.0]) and np.allclose(to_cam, [0.0, -1.0, 0.0]) and not mirrored
    right, _, mirrored = card_axes(np.zeros(3), np.array([-1.0, 0.0, 0.0]), cam, fwd, walks_right=1.0)
    assert mirrored and np.allclose(right, [-1.0, 0.0, 0.0])
    # walking straight at the camera: inside the dead zone, never mirrored (no flip-flop)
    assert not card_axes(np.zeros(3), np.array([0.1, -1.0, 0.0]) / np.hypot(0.1, 1.0), cam, fwd, -1.0)[2]
    # a camera above the card still gives a vertical card (only the horizontal direction counts)
    right, to_cam, _ = card_axes(np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 30.0]), fwd, 0.0)
    assert right[2] == 0.0 and to_cam[2] == 0.0
