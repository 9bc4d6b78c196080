"""A test subject for likeness: a procedural articulated human (boxes for head, torso, arms and
legs) whose front, back and sides are coloured distinctly, filmed by our own renderer as it
turns around once on the spot and then walks across the frame — a clip with known yaw and
pose, since there are no real person videos here. Used by tests, docs and benchmarks.

Colours (linear albedo): front red, back blue, both sides green, tops and soles grey. The
backdrop is a neutral grey room, so the chroma matte path can cut the subject out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HEIGHT_M = 1.75
FRONT_RGB, BACK_RGB, SIDE_RGB, CAP_RGB = (0.7, 0.06, 0.05), (0.05, 0.09, 0.7), (0.07, 0.55, 0.08), (0.4, 0.4, 0.4)
HIP_M, SHOULDER_M, LEG_M, ARM_M = 0.9, 1.42, 0.9, 0.62
STRIDE_M = 1.3            # ground covered per gait cycle (two steps)
SWING_DEG = 22.0          # legs swing ± this about the hip; arms the opposite way, 2/3 of it
FLOOR_ALBEDO = 0.36
FILM_LOOK = {"when": "noon", "weather": "overcast"}  # diffuse light: soft shadows, even backdrop
CAMERA_HEIGHT_M = 1.0     # the filming camera: at hip height, level, so no tops are seen


@dataclass(frozen=True)
class SubjectClip:
    """frames (T, H, W, 3) uint8 sRGB; yaw_deg (T,) the subject's yaw as the camera saw it
    (0 facing it, +90 facing image right); walking (T,) bool; positions (T, 3) m; fps."""

    frames: np.ndarray
    yaw_deg: np.ndarray
    walking: np.ndarray
    positions: np.ndarray
    fps: float


def _materials():
    from ..scene import Material

    def m(name, rgb):
        return Material(f"subject_{name}", tuple(rgb), 0.9)

    return {"front": m("front", FRONT_RGB), "back": m("back", BACK_RGB), "side": m("side", SIDE_RGB),
            "cap": m("cap", CAP_RGB)}


def _oriented_box(b, mats, centre, axes, half_m) -> None:
    """A box with axes (forward, left, up) (3, 3) unit rows and half sizes (3,) m; +forward
    faces are 'front', −forward 'back', ±left 'side', ±up 'cap'."""
    f, l, u = (np.asarray(a, float) for a in axes)
    hf, hl, hu = half_m
    c = np.asarray(centre, float)
    # (outward normal, its half size, in-plane axis p, q with p × q = normal), material
    faces = [((f, hf, l, hl, u, hu), "front"), ((-f, hf, u, hu, l, hl), "back"),
             ((l, hl, u, hu, f, hf), "side"), ((-l, hl, f, hf, u, hu), "side"),
             ((u, hu, f, hf, l, hl), "cap"), ((-u, hu, l, hl, f, hf), "cap")]
    for (n, hn, p, hp, q, hq), name in faces:
        o = c + n * hn - p * hp - q * hq
        b.quad(mats[name], o, 2 * hp * p, 2 * hq * q)


def add_subject(b, mats, ground_m, heading_rad: float, phase: float) -> None:
    """The subject standing at ground_m facing heading_rad (world, from +x toward +y) at gait
    phase (cycles; legs straight at whole and half cycles), into MeshBuilder b."""
    g = np.asarray(ground_m, float)
    f = np.array([math.cos(heading_rad), math.sin(heading_rad), 0.0])
    left = np.array([-f[1], f[0], 0.0])
    up = np.array([0.0, 0.0, 1.0])
    swing = math.radians(SWING_DEG) * math.sin(2 * math.pi * phase)
    hip_z = LEG_M * math.cos(swing)  # both feet on the ground
    lift = hip_z - HIP_M
    body = (f, left, up)
    _oriented_box(b, mats, g + up * (lift + (HIP_M + SHOULDER_M) / 2), body, (0.1, 0.18, (SHOULDER_M - HIP_M) / 2))
    _oriented_box(b, mats, g + up * (lift + SHOULDER_M + 0.04), body, (0.05, 0.05, 0.04))  # neck
    _oriented_box(b, mats, g + up * (lift + HEIGHT_M - 0.12), body, (0.1, 0.085, 0.12))  # head
    for side, sgn in ((-1.0, 1.0), (1.0, -1.0)):  # (left/right of the body, swing sign)
        for pivot_z, off, length, half_w, a in ((hip_z, 0.09, LEG_M, 0.07, swing),
                                                 (lift + SHOULDER_M - 0.03, 0.24, ARM_M, 0.05, -swing * 2 / 3)):
            ang = sgn * a
            down = -math.cos(ang) * up + math.sin(ang) * f  # limb axis, hanging from its pivot
            fwd = np.cross(left, down) * -1.0  # the limb's own forward (perpendicular to its axis)
            pivot = g + up * pivot_z + side * off * left
            _oriented_box(b, mats, pivot + down * length / 2, (fwd, left, -down), (half_w, half_w, length / 2))


def _room(b, wall, floor) -> None:
    """A neutral grey floor and walls around the origin (the chroma key backdrop)."""
    b.quad(floor, (-40, -40, 0), (80, 0, 0), (0, 80, 0))
    for o, u in (((-12, 12, 0), (24, 0, 0)), ((12, -12, 0), (-24, 0, 0)), ((-12, -12, 0), (0, 24, 0)),
                 ((12, 12, 0), (0, -24, 0))):
        b.quad(wall, o, u, (0, 0, 12))


def subject_scene(ground_m, heading_rad: float, phase: float, with_subject: bool = True):
    """The grey room with the subject (or empty) as a Scene."""
    from ..scene import Material, Scene
    from ..sources.geometry import MeshBuilder

    b = MeshBuilder()
    # the floor darker than the walls so both look alike under the filming sky (one chroma key)
    _room(b, Material("backdrop", (0.45, 0.45, 0.45), 0.95), Material("backdrop_floor", (FLOOR_ALBEDO,) * 3, 0.95))
    if with_subject:
        add_subject(b, _materials(), ground_m, heading_rad, phase)
    return Scene(meshes=b.build(), bounds_m=((-12, -12, 0), (12, 12, 12)))


def film_frame(eye, target, size_px, fov_deg: float):
    """A CameraFrame at eye looking at target."""
    from ..camera.track import CameraFrame, intrinsics, look_at

    R, t = look_at(np.asarray(eye, float), np.asarray(target, float))
    return CameraFrame(0, 0.0, R, t, intrinsics(fov_deg, size_px), size_px)


def viewing_yaw(heading_rad: float, ground_m, cam_pos) -> float:
    """The subject's yaw as the camera at cam_pos sees it (0 facing it, +90 facing image right)."""
    d = np.asarray(ground_m, float) - np.asarray(cam_pos, float)
    d[2] = 0.0
    d /= max(np.linalg.norm(d), 1e-9)
    right = np.array([d[1], -d[0], 0.0])
    h = np.array([math.cos(heading_rad), math.sin(heading_rad), 0.0])
    return float(math.degrees(math.atan2(h @ right, h @ -d)))


def render_subject(frame, heading_rad: float, phase: float, ground_m=(0.0, 0.0, 0.0), look: dict | None = None,
                   with_subject: bool = True) -> dict:
    """One rendered frame of the subject (rgb, depth) by our renderer, fixed exposure."""
    from ..look.lighting import resolve_lighting
    from ..render.renderer import Renderer
    from ..shot import LookSpec

    scene = subject_scene(ground_m, heading_rad, phase, with_subject)
    spec = LookSpec(**(FILM_LOOK if look is None else look))
    r = Renderer(scene, resolve_lighting(spec), frame.size_px, samples=1, auto_exposure=False, film="none",
                 baked_light=False)  # an evenly lit studio: no AO halo round the feet for the chroma key
    try:
        return r.render(frame, want_depth=True)
    finally:
        r.close()


def film_subject(size_px=(144, 224), fps: float = 12.0, turn_frames: int = 12, walk_frames: int = 8,
                 speed_mps: float = 1.3, distance_m: float = 5.0, fov_deg: float = 40.0) -> SubjectClip:
    """The subject turning once on the spot (starting facing the camera, turning to its left)
    and then walking toward image right, filmed by a still camera distance_m away."""
    eye = np.array([0.0, -distance_m, CAMERA_HEIGHT_M])
    frame = film_frame(eye, eye + [0.0, 1.0, 0.0], tuple(size_px), fov_deg)
    face_cam = -math.pi / 2
    frames, yaws, walking, pos = [], [], [], []
    for i in range(turn_frames + walk_frames):
        if i < turn_frames:
            heading, ground, phase = face_cam + 2 * math.pi * i / turn_frames, np.zeros(3), 0.0
        else:
            walked = speed_mps * (i - turn_frames) / fps
            heading, ground, phase = 0.0, np.array([-0.8 + walked, 0.0, 0.0]), walked / STRIDE_M
        frames.append(render_subject(frame, heading, phase, ground)["rgb"])
        yaws.append(viewing_yaw(heading, ground, eye))
        walking.append(i >= turn_frames)
        pos.append(ground)
    return SubjectClip(np.stack(frames), np.array(yaws, np.float32), np.array(walking), np.stack(pos), fps)


__all__ = ["HEIGHT_M", "SubjectClip", "add_subject", "docs_frames", "docs_walk_strip", "film_frame", "film_subject",
           "render_subject", "subject_scene", "viewing_yaw"]


def docs_frames(out_dir, size_px=(240, 320)) -> list:
    """Writes docs/actor_{front,side,back}_{noon,night}.png: the subject captured as an actor
    (chroma matte, known yaw) and rendered in the grey room from three sides at two times.
    `python -m citywalk.likeness.subject docs/` regenerates them."""
    from pathlib import Path

    from PIL import Image

    from ..look.lighting import resolve_lighting
    from ..render.actors import ActorPass
    from ..render.renderer import Renderer
    from ..scene import PointLight
    from ..shot import LookSpec
    from .capture import capture_actor
    from .place import ActorTrack

    clip = film_subject()
    actor = capture_actor(clip.frames, HEIGHT_M, method="chroma", fps=clip.fps, use_pose=False, yaw_deg=clip.yaw_deg)
    eye = np.array([0.0, -4.0, 1.6])
    frame = film_frame(eye, [0.0, 0.0, 1.0], tuple(size_px), 40.0)
    written = []
    for when in ("noon", "night"):
        for name, heading in (("front", (0.0, -1.0, 0.0)), ("side", (1.0, 0.0, 0.0)), ("back", (0.0, 1.0, 0.0))):
            track = ActorTrack(np.zeros(1), np.zeros((1, 3)), np.array([heading]), np.zeros(1, np.int64),
                               np.zeros(1), False)
            scene = subject_scene(np.zeros(3), 0.0, 0.0, with_subject=False)
            scene.lights.append(PointLight((-1.2, -1.5, 4.0)))  # a street lamp in front, to the left
            r = Renderer(scene, resolve_lighting(LookSpec(when=when)), tuple(size_px), samples=4)
            try:
                r.add_pass(ActorPass(r.ctx, actor, track))
                rgb = r.render(frame)["rgb"]
            finally:
                r.close()
            path = Path(out_dir) / f"actor_{name}_{when}.png"
            Image.fromarray(rgb).save(path)
            written.append(path)
    return written


def docs_walk_strip(out_dir, cell_px=(200, 240), fps: float = 24.0, n_frames: int = 36, per_row: int = 6):
    """Writes docs/actor_walk.png: the turn-only capture of the subject walking (on the walk
    cycle's legs, `render.puppet`) toward the camera, across its view and away, noon light."""
    import dataclasses
    from pathlib import Path

    from PIL import Image

    from ..look.lighting import resolve_lighting
    from ..render.actors import ActorPass
    from ..render.renderer import Renderer
    from ..shot import LookSpec
    from .capture import capture_actor
    from .place import ActorTrack, walk_legs

    clip = film_subject(walk_frames=0)
    actor = capture_actor(clip.frames, HEIGHT_M, method="chroma", fps=clip.fps, use_pose=False, yaw_deg=clip.yaw_deg)
    eye = np.array([0.0, -4.5, 1.5])
    rows = []
    for start, heading in (((0.0, 1.5, 0.0), (0.0, -1.0, 0.0)), ((-1.2, 0.0, 0.0), (1.0, 0.0, 0.0)),
                           ((0.0, -1.5, 0.0), (0.0, 1.0, 0.0))):
        h = np.asarray(heading, float)
        pos = np.asarray(start, float) + np.outer(np.arange(n_frames) * 1.3 / fps, h)
        heads = np.tile(h, (n_frames, 1))
        track = ActorTrack(np.arange(n_frames) / fps, pos, heads, np.zeros(n_frames, np.int64),
                           np.linalg.norm(pos - pos[0], axis=1), False, walk_legs(actor, pos, heads, fps))
        r = Renderer(subject_scene(np.zeros(3), 0.0, 0.0, with_subject=False),
                     resolve_lighting(LookSpec(when="noon")), tuple(cell_px), samples=4)
        try:
            r.add_pass(ActorPass(r.ctx, actor, track))
            frame0 = film_frame(eye, [0.0, 0.0, 0.9], tuple(cell_px), 45.0)
            step = n_frames // per_row
            rows.append(np.concatenate([r.render(dataclasses.replace(frame0, index=i))["rgb"]
                                        for i in range(0, step * per_row, step)], 1))
        finally:
            r.close()
    path = Path(out_dir) / "actor_walk.png"
    Image.fromarray(np.concatenate(rows, 0)).save(path)
    return path


if __name__ == "__main__":
    import sys

    for p in docs_frames(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(p)
    print(docs_walk_strip(sys.argv[1] if len(sys.argv) > 1 else "docs"))
