"""Shot → Scene → cameras → frames → video: the one function every front end calls.

Sits right of every stage it drives (sources, camera, look, render, video) and left of the
front ends (cli, studio, farm).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .shot import Shot


@dataclass
class RenderResult:
    """What a render produced: the video path, side outputs, and seconds per stage."""

    video: Path
    frames: int
    extras: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    copyright: list[str] = field(default_factory=list)



def scene_extent_m(shot: Shot) -> float:
    """How big a procedural neighbourhood the walk needs (metres along the main street)."""
    walk_m = shot.camera.speed_mps * shot.output.duration_s
    return float(np.clip(walk_m * 0.5 + 150.0, 160.0, 500.0))


@dataclass
class Prepared:
    """Everything a Shot needs before GL: the scene, its lighting, the walked route (N, 3), one
    CameraFrame per output frame, and the walker's track for rigs that film one (else None)."""

    scene: object
    lighting: object
    route: np.ndarray
    frames: list
    walker: object = None


def prepare(shot: Shot) -> Prepared:
    """Scene, lighting, route and per-frame cameras for a Shot (no GL yet)."""
    from .camera import camera_rig, plan_route
    from .look.lighting import resolve_lighting
    from .sources import build_scene

    shot = resolve_captured_scene(shot)
    scene = build_scene(shot.scene, min_extent_m=scene_extent_m(shot))
    lighting = resolve_lighting(shot.look)
    if shot.camera.rig == "keyframes":
        frames, walker = camera_rig(scene, shot)
        route = np.array([f.position for f in frames]) * [1, 1, 0]  # where the shot looks from, on the ground
    else:
        route = plan_route(scene, shot)
        frames, walker = camera_rig(scene, shot, route)
    if shot.scene.source == "tiles":
        # reload with only the tiles (and the detail) that the walk's cameras need
        step = max(1, len(frames) // 64)
        cams = [(f.position, float(np.degrees(2 * np.arctan(f.size_px[1] / 2 / f.K[1, 1]))), f.size_px[1])
                for f in frames[::step]]
        scene = build_scene(shot.scene, cameras=cams)
    return Prepared(scene, lighting, route, frames, walker)


def resolve_captured_scene(shot: Shot) -> Shot:
    """A splat scene named by its capture-catalog name (`--splat shibuya`) → the trained file."""
    spec = shot.scene
    if spec.source != "splat" or Path(spec.path).exists() or Path(spec.path).suffix:
        return shot
    from .capture.catalog import resolve_scene

    return shot.updated({"scene": {"path": str(resolve_scene(spec.path))}})


def add_actors(renderer, shot: Shot, route, walker, n_frames: int) -> None:
    """Put the Shot's actors into the renderer: the first one is the walker the rig films (if the
    rig films one), the others walk where their placement says."""
    if not shot.actors:
        return
    from .camera import dynamics_from_spec
    from .likeness.actor import Actor
    from .likeness.place import actor_track
    from .render.actors import ActorPass

    dyn = dynamics_from_spec(shot.camera)
    for i, spec in enumerate(shot.actors):
        actor = Actor.load(spec.likeness)
        track = actor_track(actor, spec, route, dyn, shot.output.fps, n_frames,
                            walker_track=walker if i == 0 else None)
        renderer.add_pass(ActorPass(renderer.ctx, actor, track))


def open_renderer(shot: Shot, p: Prepared):
    """A Renderer for the prepared Shot at its output size, with its actors in place."""
    from .render.renderer import Renderer

    renderer = Renderer(p.scene, p.lighting, tuple(shot.output.size), shot.output.samples,
                        focus_points=p.route, exposure_ev=shot.look.exposure_ev,
                        splat_budget=shot.output.splat_budget)
    add_actors(renderer, shot, p.route, p.walker, len(p.frames))
    return renderer


def side_paths(video: Path) -> dict[str, Path]:
    """Where the extras go, beside the video: walk.mp4 → walk.camera.json, walk_depth/, walk_frames/."""
    stem = video.with_suffix("")
    return {"camera_track": Path(f"{stem}.camera.json"), "depth": Path(f"{stem}_depth"), "frames": Path(f"{stem}_frames")}


def render_shot(shot: Shot, out_path: str | Path | None = None,
                on_fraction: Callable[[float], None] | None = None) -> RenderResult:
    """Render a Shot to an MP4 (and the extras it asks for). Deterministic for a given Shot."""
    from .video.encode import VideoWriter
    from .tracks import write_camera_track
    from .video.progress import progress

    routed = _generative_route(shot, out_path, on_fraction)
    if routed is not None:
        return routed
    t0 = time.perf_counter()
    out = shot.output
    video = Path(out_path or out.path)
    timings: dict[str, float] = {}
    writer = VideoWriter(video, out.fps, tuple(out.size), crf=out.crf)  # fails fast on a bad path
    try:
        t = time.perf_counter()
        p = prepare(shot)
        scene, lighting, frames = p.scene, p.lighting, p.frames
        timings["scene_s"] = time.perf_counter() - t
        t = time.perf_counter()
        renderer = open_renderer(shot, p)
        timings["gl_setup_s"] = time.perf_counter() - t
        paths = side_paths(video)
        want_depth = "depth" in out.extras
        per_frame_files = want_depth or "frames" in out.extras
        notice = _copyright_overlay(scene, tuple(out.size))
        render_s = 0.0
        light_at = LightTimeline(shot, lighting)
        with progress(len(frames), "rendering", on_fraction=on_fraction) as bar:
            for cam in frames:
                t = time.perf_counter()
                light_at.apply(renderer, cam.time_s)
                img = renderer.render(cam, want_depth=want_depth)
                if notice is not None:
                    img["rgb"] = notice.apply(img["rgb"])
                render_s += time.perf_counter() - t
                writer.write(img["rgb"])
                if per_frame_files:
                    _write_extras(paths, out.extras, cam.index, img)
                bar.update()
        timings["draw_s"] = renderer.stats["draw_s"]
        timings["readback_s"] = renderer.stats["readback_s"]
        renderer.close()
        t = time.perf_counter()
        writer.close()
        timings["encode_flush_s"] = time.perf_counter() - t
    except BaseException:
        writer.abort()
        raise
    extras = {}
    if "camera_track" in out.extras:
        write_camera_track(paths["camera_track"], [c.to_dict() for c in frames], fps=out.fps,
                           width=out.size[0], height=out.size[1])
        extras["camera_track"] = paths["camera_track"]
    for key in ("depth", "frames"):
        if key in out.extras:
            extras[key] = paths[key]
    timings["render_s"] = render_s
    timings["render_fps"] = len(frames) / max(render_s, 1e-9)
    timings["encode_s"] = float(writer.stats.get("encode_s", 0.0))
    timings["total_s"] = time.perf_counter() - t0
    timings["realtime_factor"] = out.duration_s / timings["total_s"]
    return RenderResult(video, len(frames), extras, timings, list(scene.copyright))


def _generative_route(shot: Shot, out_path, on_fraction) -> RenderResult | None:
    """Shots made by citywalk.generate: a source whose registry row has a video route (`generated`:
    no renderer), or output.restyle (rendered with this function, then restyled). None otherwise."""
    from .registry import SCENE_SOURCES

    route = SCENE_SOURCES[shot.scene.source].load_video_route()
    if route is None and shot.output.restyle is None:
        return None
    if route is None:
        from .generate.shot import restyle_shot as route
    video = Path(out_path or shot.output.path)
    frames, extras, timings, notice = route(shot, video, side_paths(video), on_fraction, render=render_shot)
    return RenderResult(video, frames, extras, timings, notice)


class LightTimeline:
    """Light that changes during a shot: keyframed weather, the sun over long shots, lightning.
    Re-resolved at most every STEP_S of shot time; flashes are applied every frame."""

    STEP_S = 0.5

    def __init__(self, shot: Shot, first):
        from .look.lighting import weather_timeline

        self.shot, self.current, self.current_t = shot, first, 0.0
        self.timeline = weather_timeline(shot.look)
        self.long = shot.output.duration_s > 60.0
        self.flash = 0.0

    def apply(self, renderer, t_s: float) -> None:
        from .look.lighting import resolve_lighting
        from .render.precipitation import lightning_flash_klux

        changed = False
        if (self.timeline is not None or self.long) and t_s - self.current_t >= self.STEP_S:
            self.current = resolve_lighting(self.shot.look, at_seconds=t_s)
            self.current_t, changed = t_s, True
        flash = lightning_flash_klux(t_s, self.shot.scene.seed, self.current.weather.lightning)
        if changed or flash != self.flash:
            renderer.update_lighting(self.current, flash_klux=flash)
            self.flash = flash


def _copyright_overlay(scene, size_px):
    """Providers' terms ask for their copyright on screen: burn it into the corner."""
    if not scene.copyright:
        return None
    from .video.overlay import CornerText

    return CornerText(scene.copyright, size_px)


def _write_extras(paths: dict[str, Path], extras: list[str], index: int, img: dict) -> None:
    from .video.exports import write_depth_png16, write_png

    if "frames" in extras:
        write_png(paths["frames"] / f"{index:06d}.png", img["rgb"])
    if "depth" in extras:
        write_depth_png16(paths["depth"] / f"{index:06d}.png", img["depth"])


def render_still(shot: Shot, time_s: float = 0.0) -> np.ndarray:
    """One frame (H, W, 3) uint8 of a Shot at `time_s`, exposed as if the clip had started there."""
    p = prepare(shot)
    i = int(np.clip(round(time_s * shot.output.fps), 0, len(p.frames) - 1))
    r = open_renderer(shot, p)
    try:
        rgb = r.render(p.frames[i])["rgb"]
        notice = _copyright_overlay(p.scene, tuple(shot.output.size))
        return notice.apply(rgb) if notice is not None else rgb
    finally:
        r.close()


def render_synthetic_walk(out_dir: str | Path, frames: int = 100, size_px: tuple[int, int] = (640, 360),
                          fps: int = 24, speed_mps: float = 1.4, style: str = "tokyo", seed: int = 7,
                          when: str = "noon", camera: dict | None = None) -> tuple[Path, Path]:
    """Render a procedural street walk → (walk.mp4, walk.camera.json with the true cameras);
    `camera` replaces the Shot's camera section (e.g. keyframes that pan while walking)."""
    shot = Shot.from_dict({"scene": {"source": "procedural", "style": style, "seed": seed},
                           "camera": camera or {"speed_mps": speed_mps},
                           "look": {"when": when},
                           "output": {"duration_s": frames / fps, "fps": fps, "size": list(size_px), "samples": 1,
                                      "crf": 14, "extras": ["camera_track"]}})
    res = render_shot(shot, Path(out_dir) / "walk.mp4")
    return res.video, res.extras["camera_track"]
