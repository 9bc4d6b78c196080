"""Likeness seen from every side: the person's yaw per frame, the view the renderer shows for
the camera's viewing angle, the versioned `.actor` package, and the rule that a capture
without feet is refused rather than left floating. The end-to-end test films a procedural
articulated human (front red, back blue, sides green) with our renderer, captures it as an
actor (chroma matte path: MediaPipe pose does not detect a box figure) and renders that actor
from the front, the side and behind."""

from __future__ import annotations

import functools
import json
import math
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from citywalk.camera.walk import WalkDynamics
from citywalk.likeness import Actor, Cycle, LikenessError
from citywalk.likeness import capture as cap
from citywalk.likeness import subject as S
from citywalk.likeness.place import ActorTrack, actor_track, walk_legs
from citywalk.likeness.views import yaw_from_world
from citywalk.render.actors import ActorPass, choose_view, compose_view, view_table, viewing_yaw_deg


# ---------------------------------------------------------------------------- yaw
def _world_pose(yaw_deg: float, labels_swapped: bool = False) -> np.ndarray:
    """Shoulders and hips (33, 3) of a person with the given yaw in MediaPipe world axes
    (x right, y down, z away from the camera); swapped: left/right labels exchanged, as
    MediaPipe does for a back view."""
    w = np.zeros((33, 3))
    a = math.radians(yaw_deg)
    left = np.array([math.cos(a), 0.0, math.sin(a)])  # the person's left, seen from the camera
    for i_l, i_r, half, y in ((11, 12, 0.2, -0.5), (23, 24, 0.15, 0.0)):
        w[i_l], w[i_r] = half * left + [0, y, 0], -half * left + [0, y, 0]
        if labels_swapped:
            w[i_l], w[i_r] = w[i_r].copy(), w[i_l].copy()
    return w


@pytest.mark.parametrize("yaw", [0.0, 40.0, 90.0, -60.0])
def test_yaw_from_world_landmarks_front_views(yaw):
    assert yaw_from_world(_world_pose(yaw), 0.95) == pytest.approx(yaw, abs=1e-6)


@pytest.mark.parametrize("yaw", [180.0, 140.0, -130.0])
def test_back_view_is_told_by_the_hidden_nose(yaw):
    """MediaPipe sees a back as a front with left and right swapped; the nose decides."""
    got = yaw_from_world(_world_pose(yaw, labels_swapped=True), 0.05)
    assert abs((got - yaw + 180) % 360 - 180) < 1e-6
    assert math.isnan(yaw_from_world(np.full((33, 3), np.nan), 0.9))


def test_viewing_yaw_follows_the_camera():
    ground = np.zeros(3)
    cam = np.array([0.0, -5.0, 1.6])
    assert viewing_yaw_deg(np.array([0.0, -1.0, 0.0]), ground, cam) == pytest.approx(0.0, abs=1e-9)
    assert abs(viewing_yaw_deg(np.array([0.0, 1.0, 0.0]), ground, cam)) == pytest.approx(180.0)
    assert viewing_yaw_deg(np.array([1.0, 0.0, 0.0]), ground, cam) == pytest.approx(90.0)  # faces image right


# ---------------------------------------------------------------------------- view choice
def test_choose_view_picks_blends_and_mirrors():
    yaws = np.array([0.0, 90.0, 180.0, 85.0], np.float32)
    table = view_table(yaws)
    assert sorted(i for i, _ in table) == [0, 1, 2]  # one per bin: 85° shares the 90° bin, 90 is nearer its centre
    back = choose_view(yaws, 0, 179.0, table)
    assert back.single and back.index_a == 2
    mid = choose_view(yaws, 0, 45.0, table)
    assert {mid.index_a, mid.index_b} == {0, 1} and mid.weight_b == pytest.approx(0.5)
    left = choose_view(yaws, 0, -90.0, table)  # never filmed facing left: the right side, mirrored
    assert left.single and left.index_a == 1 and left.mirror_a
    walking = choose_view(yaws, 3, 100.0, table)  # the walking frame is kept while it matches
    assert walking.single and walking.index_a == 3 and not walking.mirror_a
    assert choose_view(np.full(4, np.nan), 0, 10.0) is None


def test_compose_view_mirrors_about_the_foot_and_cross_fades():
    frames = np.zeros((2, 10, 8, 4), np.uint8)
    frames[0, 2:9, 1:3] = (255, 0, 0, 255)  # a red bar left of the foot column x = 4
    frames[1, 2:9, 5:7] = (0, 0, 255, 255)
    anchors = np.array([[4.0, 9.0], [4.0, 9.0]], np.float32)
    from citywalk.render.actors import ViewChoice

    img, anchor = compose_view(frames, anchors, ViewChoice(0, True, 0, True, 0.0, 0.0))
    assert anchor.tolist() == [4.0, 9.0] and img[5, 5:7, 0].min() == 255 and img[5, 1:3, 3].max() == 0
    img, _ = compose_view(frames, anchors, ViewChoice(0, False, 1, False, 0.5, 0.0))
    assert img[5, 1, 3] == pytest.approx(128, abs=1) and img[5, 1, 0] == 255  # colour kept, alpha halved
    assert img[5, 5, 3] == pytest.approx(128, abs=1) and img[5, 5, 2] == 255


# ---------------------------------------------------------------------------- package
def _small_actor(yaw=None, scale_from="feet") -> Actor:
    n = 3
    frames = np.zeros((n, 12, 6, 4), np.uint8)
    frames[:, 1:11, 2:4] = 200
    return Actor(frames, np.tile([[3.0, 11.0]], (n, 1)), np.full(n, 10.0), np.full((n, 33, 3), np.nan, np.float32),
                 0.17, 1.7, 24.0, Cycle(0, n, n / 24.0), source_name="me.mp4", scale_from=scale_from, yaw_deg=yaw)


def test_package_keeps_yaw_and_old_packages_load_as_single_view(tmp_path):
    a = _small_actor(yaw=[0.0, 90.0, np.nan])
    b = Actor.load(a.save(tmp_path / "v2.actor"))
    assert b.view_indexed and b.yaw_deg[:2].tolist() == [0.0, 90.0] and np.isnan(b.yaw_deg[2]) and b.full_body
    # a citywalk.actor/1 package (no yaw, no full_body) still loads, as one view
    with zipfile.ZipFile(tmp_path / "v2.actor") as zf:
        meta = json.loads(zf.read("actor.json"))
        pngs = {n: zf.read(n) for n in zf.namelist() if n != "actor.json"}
    meta["format"] = "citywalk.actor/1"
    del meta["yaw_deg"], meta["full_body"]
    with zipfile.ZipFile(tmp_path / "v1.actor", "w") as zf:
        zf.writestr("actor.json", json.dumps(meta))
        for n, data in pngs.items():
            zf.writestr(n, data)
    old = Actor.load(tmp_path / "v1.actor")
    assert not old.view_indexed and old.full_body and old.n_frames == 3
    meta["format"] = "citywalk.actor/9"
    with zipfile.ZipFile(tmp_path / "v9.actor", "w") as zf:
        zf.writestr("actor.json", json.dumps(meta))
    with pytest.raises(LikenessError, match="v9.actor.*format"):
        Actor.load(tmp_path / "v9.actor")


# ---------------------------------------------------------------------------- never floats
def _route() -> np.ndarray:
    return np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]])


def _assert_refused(actor: Actor) -> None:
    with pytest.raises(LikenessError) as e:
        actor_track(actor, SimpleNamespace(placement="ahead", distance_m=3.0), _route(), WalkDynamics(), 24.0, 5)
    msg = str(e.value)
    assert "\n" not in msg and "upper body" in msg and "feet" in msg


@pytest.mark.skipif(not cap.mediapipe_available(), reason="mediapipe not installed")
def test_waist_up_astronaut_photo_is_refused_for_placement():
    skdata = pytest.importorskip("skimage.data")
    actor = cap.capture_actor(skdata.astronaut(), 1.7)
    assert actor.scale_from == "shoulders" and not actor.full_body
    _assert_refused(actor)


def test_waist_up_chroma_capture_is_refused_and_a_whole_body_is_placed(monkeypatch):
    """Without landmarks: a matte cut by the frame's bottom edge is upper body only."""
    monkeypatch.setattr(cap, "mediapipe_available", lambda: False)
    img = np.zeros((120, 64, 3), np.uint8)
    img[:] = (0, 200, 0)
    rng = np.random.default_rng(1)
    img[30:, 16:48] = rng.integers(60, 200, (90, 32, 3))  # runs off the bottom edge
    cut = cap.capture_actor(img, 1.7, method="chroma", use_pose=False)
    assert not cut.full_body
    _assert_refused(cut)
    img[110:, :] = (0, 200, 0)  # now the body ends above the edge: feet in view
    whole = cap.capture_actor(img, 1.7, method="chroma", use_pose=False)
    assert whole.full_body and whole.standing_refusal() is None
    track = actor_track(whole, SimpleNamespace(placement="ahead", distance_m=3.0), _route(), WalkDynamics(), 24.0, 5)
    assert len(track) == 5


# ---------------------------------------------------------------------------- test subject
VIEW_SIZE = (128, 192)
HUES = {"front": 0, "side": 1, "back": 2}  # dominant channel of each side's colour


@functools.lru_cache(maxsize=1)
def _subject_actor() -> tuple[Actor, S.SubjectClip]:
    clip = S.film_subject()
    actor = cap.capture_actor(clip.frames, S.HEIGHT_M, method="chroma", fps=clip.fps, use_pose=False,
                              yaw_deg=clip.yaw_deg)
    return actor, clip


def _view_camera():
    eye = np.array([0.0, -5.0, S.CAMERA_HEIGHT_M])
    return eye, S.film_frame(eye, eye + [0.0, 1.0, 0.0], VIEW_SIZE, 40.0)


def _render_actor(actor: Actor, heading, when: str = "noon") -> tuple[dict, dict, dict]:
    """(with the actor, the empty room, the pass's last draw) for an actor at the origin."""
    from citywalk.look.lighting import resolve_lighting
    from citywalk.render.renderer import Renderer
    from citywalk.shot import LookSpec

    _, frame = _view_camera()
    track = ActorTrack(np.zeros(1), np.zeros((1, 3)), np.array([heading], float), np.zeros(1, np.int64),
                       np.zeros(1), False)
    outs = []
    for with_actor in (True, False):
        scene = S.subject_scene(np.zeros(3), 0.0, 0.0, with_subject=False)
        r = Renderer(scene, resolve_lighting(LookSpec(when=when)), VIEW_SIZE, samples=1, auto_exposure=False)
        try:
            p = ActorPass(r.ctx, actor, track)
            if with_actor:
                r.add_pass(p)
            outs.append(r.render(frame, want_depth=True))
            if with_actor:
                last = dict(p.last)
        finally:
            r.close()
    return outs[0], outs[1], last


def _mask(a: dict, b: dict) -> np.ndarray:
    da, db = (np.where(np.isfinite(x["depth"]), x["depth"], 1e9) for x in (a, b))
    return np.abs(da - db) > 0.01


def test_subject_clip_captures_as_a_view_indexed_full_body_actor():
    actor, clip = _subject_actor()
    assert actor.view_indexed and actor.full_body and actor.n_frames == len(clip.frames)
    assert actor.height_m == S.HEIGHT_M and actor.method == "chroma"
    assert len(view_table(actor.yaw_deg)) == 12  # the turn covers every 30° bin


@pytest.mark.parametrize("side, heading", [("front", (0.0, -1.0, 0.0)), ("side", (1.0, 0.0, 0.0)),
                                           ("side", (-1.0, 0.0, 0.0)), ("back", (0.0, 1.0, 0.0))])
def test_actor_shows_the_side_that_faces_the_camera(side, heading):
    actor, _ = _subject_actor()
    with_actor, without, last = _render_actor(actor, heading)
    assert abs(last["view_yaw_deg"]) == pytest.approx({"front": 0, "side": 90, "back": 180}[side], abs=1e-6)
    mask = _mask(with_actor, without)
    assert mask.sum() > 300
    rgb = with_actor["rgb"][mask].astype(int)
    right = (np.argmax(rgb, axis=1) == HUES[side]).mean()
    assert right >= 0.9, f"{side}: only {right:.0%} of the actor's pixels show the {side} colour"


def test_actor_silhouette_matches_the_subject_seen_in_the_same_pose():
    """From the front the card's solid core covers what the subject itself covers (IoU ≥ 0.8)."""
    actor, _ = _subject_actor()
    with_actor, without, _ = _render_actor(actor, (0.0, -1.0, 0.0))
    _, frame = _view_camera()
    subj = S.render_subject(frame, -math.pi / 2, 0.0, look={"when": "noon"})
    empty = S.render_subject(frame, -math.pi / 2, 0.0, look={"when": "noon"}, with_subject=False)
    a, b = _mask(with_actor, without), _mask(subj, empty)
    iou = (a & b).sum() / max(1, (a | b).sum())
    assert iou >= 0.8, f"silhouette IoU {iou:.2f}"


# ---------------------------------------------------------------------------- walking on its own legs
WALK_FPS = 24.0


def _walk_cards(actor: Actor, heading, n: int = 48, speed_mps: float = 1.4, eye_m=(0.0, -5.0, S.CAMERA_HEIGHT_M)):
    """What the actor's card shows in each of n frames while it walks from x = −0.8 m along
    `heading` past a still camera at eye_m: [(rgba, anchor px, ground, right)], the legs, posed flags."""
    import dataclasses

    from citywalk.look.lighting import resolve_lighting
    from citywalk.render.renderer import Renderer
    from citywalk.shot import LookSpec

    h = np.asarray(heading, float)
    pos = np.array([-0.8, 0.0, 0.0]) + np.outer(np.arange(n) * speed_mps / WALK_FPS, h)
    heads = np.tile(h, (n, 1))
    legs = walk_legs(actor, pos, heads, WALK_FPS)
    track = ActorTrack(np.arange(n) / WALK_FPS, pos, heads, np.full(n, actor.cycle.start_frame, np.int64),
                       np.linalg.norm(pos - pos[0], axis=1), False, legs)
    eye = np.asarray(eye_m, float)
    frame0 = S.film_frame(eye, eye + [0.0, 1.0, 0.0], VIEW_SIZE, 40.0)
    r = Renderer(S.subject_scene(np.zeros(3), 0.0, 0.0, with_subject=False),
                 resolve_lighting(LookSpec(when="noon")), VIEW_SIZE, samples=1, auto_exposure=False)
    try:
        p = ActorPass(r.ctx, actor, track)
        cards, posed = [], []
        for i in range(n):
            ground, head, index = track.at(i)
            key, make, right, _, _, _ = p.card(dataclasses.replace(frame0, index=i), ground, head, index)
            rgba, anchor = make()
            cards.append((rgba, anchor, ground, right))
            posed.append(isinstance(key, tuple) and key[0] == "posed")
    finally:
        r.close()
    return cards, legs, posed


def _sole_x_m(card, centre_m, mpp: float, foot_len_m: float, cam_m, band_m: float = 0.03) -> np.ndarray:
    """Where on the ground (x, y) the camera at cam_m sees the alpha-weighted centre of the sole
    pixels drawn round the plant centre_m (the card's rows up to band_m above it, ±0.6 foot lengths)."""
    from citywalk.render.puppet import to_card_px

    rgba, anchor, ground, right = card
    cam = np.asarray(cam_m, float)
    c = to_card_px(np.asarray(centre_m, float), ground, right, anchor, mpp, cam)
    r0, r1 = max(0, int(np.floor(c[1] - band_m / mpp))), min(rgba.shape[0], int(np.ceil(c[1] + 0.5)))
    cols = np.arange(rgba.shape[1])
    near = np.abs(cols + 0.5 - c[0]) <= 0.6 * foot_len_m / mpp
    a = rgba[r0:r1, :, 3].astype(float) * near[None]
    x_px = float((a.sum(0) * (cols + 0.5)).sum() / max(a.sum(), 1e-9))
    y_px = float((a.sum(1) * (np.arange(r0, r1) + 0.5)).sum() / max(a.sum(), 1e-9))
    on_card = ground + (x_px - anchor[0]) * mpp * right + [0.0, 0.0, (anchor[1] - y_px) * mpp]
    t = (ground[2] + 0.5 * band_m - cam[2]) / (on_card[2] - cam[2])  # the ray to the sole's height
    return (cam + t * (on_card - cam))[:2]


def _flat_foot_slides_m(actor, cards, legs, cam_m) -> list[float]:
    """Per step of either foot: how far the sole, where the camera sees it on the ground, moves
    across the view while the foot is flat (the walk cycle pins it there)."""
    from citywalk.agents.gait import HEEL_BACK, TOE_FWD, J

    foot_len = (HEEL_BACK + TOE_FWD) * actor.height_m
    slides = []
    for foot, side in enumerate("lr"):
        flat = legs.contact_part[:, 0, foot] == 1
        steps = legs.step_index[:, 0, foot]
        for k in np.unique(steps[flat]):
            fr = np.flatnonzero(flat & (steps == k))
            if len(fr) < 3:
                continue
            centre = (legs.joints[fr[0], 0, J["heel_" + side]] + legs.joints[fr[0], 0, J["toe_" + side]]) / 2
            xs = np.array([_sole_x_m(cards[f], centre, float(actor.m_per_px), foot_len, cam_m) for f in fr])
            ray = centre[:2] - np.asarray(cam_m, float)[:2]
            across = np.array([-ray[1], ray[0]]) / np.linalg.norm(ray)  # depth along the ray is not seen
            slides.append(float(np.abs((xs - xs[0]) @ across).max()))
    return slides


@pytest.mark.parametrize("eye", [(0.4, -60.0, S.CAMERA_HEIGHT_M), (0.0, -5.0, 1.6)])
def test_walking_actor_keeps_feet_on_the_ground_without_sliding(eye):
    """A turn-only capture walks on the pedestrians' walk cycle. Seen from the side, a flat foot
    moves < 2 cm per step across the view where the camera sees it on the ground (from far, and
    from 5 m, where the card turns as the actor passes); from far the lowest solid pixel is
    within 3 cm of the ground in every frame."""
    actor, _ = _subject_actor()
    cards, legs, posed = _walk_cards(actor, (1.0, 0.0, 0.0), eye_m=eye)
    assert all(posed) and legs is not None
    if eye[1] < -50:
        mpp = float(actor.m_per_px)
        for f, (rgba, anchor, _, _) in enumerate(cards):
            gap_m = abs(anchor[1] - (np.flatnonzero((rgba[..., 3] >= 128).any(1)).max() + 1)) * mpp
            assert gap_m <= 0.03, f"frame {f}: feet {gap_m:.3f} m off the ground"
    slides = _flat_foot_slides_m(actor, cards, legs, eye)
    print("slides_m", np.round(slides, 4))
    assert len(slides) >= 3, slides
    assert max(slides) < 0.02, f"flat feet slide up to {max(slides) * 100:.1f} cm per step"


def test_walking_moves_the_legs_and_carries_the_body():
    """A quarter cycle apart (legs astride, then passing) the leg pixels change while the head and
    torso keep their shape (they ride on the pelvis, a pixel or two of bob; the arms swing beside)."""
    actor, _ = _subject_actor()
    cards, legs, _ = _walk_cards(actor, (1.0, 0.0, 0.0), n=24)
    stride_frames = 2 * 0.37 * actor.height_m / 1.4 * WALK_FPS  # frames per cycle, roughly
    a, b = cards[0][0][..., 3] >= 128, cards[int(round(stride_frames / 4))][0][..., 3] >= 128
    h_px = actor.height_m / actor.m_per_px
    hip_row = int(cards[0][1][1] - 0.53 * h_px)
    torso = np.abs(np.arange(a.shape[1]) + 0.5 - cards[0][1][0]) <= 0.06 * h_px
    a[: hip_row - 4] &= torso
    b[: hip_row - 4] &= torso
    iou = [(x & y).sum() / max(1, (x | y).sum()) for x, y in ((a[: hip_row - 4], b[: hip_row - 4]),
                                                              (a[hip_row:], b[hip_row:]))]
    assert iou[0] >= 0.85, f"upper body IoU {iou[0]:.2f}"
    assert iou[1] <= 0.75, f"legs IoU {iou[1]:.2f}: they do not move"


def test_own_walk_shown_where_it_matches_and_standing_actors_are_not_posed():
    import dataclasses

    from citywalk.agents.gait import Gait

    actor, _ = _subject_actor()
    walker = dataclasses.replace(actor, cycle=Cycle(actor.cycle.start_frame, actor.cycle.end_frame, 1.0, True, 1.3))
    side_yaw = float(np.nanmedian(actor.yaw_deg[-4:]))  # the clip's walk heads to image right (~ +90)
    assert side_yaw > 45
    _, _, posed_side = _walk_cards(walker, (1.0, 0.0, 0.0), n=4)
    _, _, posed_front = _walk_cards(walker, (0.0, -1.0, 0.0), n=4)
    assert not any(posed_side) and all(posed_front)
    spec = SimpleNamespace(placement="fixed", distance_m=3.0)
    route = np.array([[0.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    standing = actor_track(actor, spec, route, WalkDynamics(), 12.0, 6)
    assert standing.legs is None
    ahead = actor_track(actor, SimpleNamespace(placement="ahead", distance_m=3.0), route, WalkDynamics(), 12.0, 24)
    assert isinstance(ahead.legs, Gait)  # the pedestrians' walk cycle, one walker
    planted = ahead.legs.contact_point[:, 0]
    for foot in (0, 1):
        for k in np.unique(ahead.legs.step_index[:, 0, foot]):
            sel = (ahead.legs.step_index[:, 0, foot] == k) & (ahead.legs.contact_part[:, 0, foot] == 1)
            if sel.sum() > 1:
                assert np.ptp(planted[sel, foot, :2], axis=0).max() < 1e-6


def _arm_reach_and_torso(cards, h_px: float):
    """Per card: how far the solid pixels at arm height (0.61..0.75 of the height, above the thighs) reach ahead of
    the torso's middle column, and the torso's solid width (median over 0.6..0.78 of the height,
    within 0.12 of the height of its middle)."""
    reach, width = [], []
    for rgba, anchor, _, _ in cards:
        def rows(lo, hi):
            return rgba[int(anchor[1] - hi * h_px): int(anchor[1] - lo * h_px), :, 3] >= 128
        torso = rows(0.6, 0.78)
        filled = torso.any(1)
        mids = [np.flatnonzero(r).mean() + 0.5 for r in torso[filled]]
        mid = float(np.median(mids)) if mids else float(anchor[0])
        arm_cols = np.flatnonzero(rows(0.61, 0.75).any(0))
        reach.append(float(arm_cols.max() + 1 - mid) if len(arm_cols) else 0.0)
        near = np.abs(np.arange(rgba.shape[1]) + 0.5 - mid) <= 0.12 * h_px
        width.append(float(np.median((torso & near[None]).sum(1))))
    return np.array(reach), np.array(width)


def test_arms_swing_in_a_side_view_and_the_torso_stays_whole(monkeypatch):
    """Walking across the view, the arms swing with the cycle: the body's reach ahead at arm height
    moves by ≥ 0.1 of the height over a cycle (legs-only posing: < 0.05), while the torso keeps
    ≥ 90 % of its width in every frame (the near arm's place is filled with the body behind it).
    Seen from the front the arms swing toward the camera and are left as stored."""
    from citywalk.render import actors

    actor, _ = _subject_actor()
    h_px = actor.height_m / actor.m_per_px
    cards, _, posed = _walk_cards(actor, (1.0, 0.0, 0.0), n=24)
    front, _, _ = _walk_cards(actor, (0.0, -1.0, 0.0), n=6)
    monkeypatch.setattr(actors, "ARM_POSE_MIN_SIN", 2.0)  # arms never posed: the legs-only puppet
    still, _, _ = _walk_cards(actor, (1.0, 0.0, 0.0), n=24)
    front_still, _, _ = _walk_cards(actor, (0.0, -1.0, 0.0), n=6)
    assert all(posed)
    reach, torso = _arm_reach_and_torso(cards, h_px)
    reach_still, torso_still = _arm_reach_and_torso(still, h_px)
    print("reach px", np.ptp(reach), np.ptp(reach_still), "height px", h_px, "torso", torso, torso_still)
    assert np.ptp(reach) >= 0.1 * h_px, f"arms reach moves only {np.ptp(reach):.1f} px"
    assert np.ptp(reach_still) < 0.05 * h_px, f"legs-only reach moves {np.ptp(reach_still):.1f} px"
    assert (torso >= 0.9 * torso_still).all(), (torso, torso_still)
    for a, b in zip(front, front_still):
        assert np.array_equal(a[0], b[0])
