"""Shot → Scene → cameras → frames → video: the one function every front end calls.

Sits right of every stage it drives (sources, camera, look, render, video) and left of the
front ends (cli, studio, farm).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

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
    CameraFrame per output frame, the walker's track for rigs that film one (else None), and
    the shot's pedestrians and traffic (citywalk.agents.Agents, None without a crowd)."""

    scene: object
    lighting: object
    route: np.ndarray
    frames: list
    walker: object = None
    agents: object = None


def prepare(shot: Shot) -> Prepared:
    """Scene, lighting, route and per-frame cameras for a Shot (no GL yet)."""
    from .camera import camera_rig, plan_route
    from .look.lighting import resolve_lighting
    from .sources import build_scene

    shot = resolve_captured_scene(shot)
    scene = build_scene(shot.scene, min_extent_m=scene_extent_m(shot))
    check_drawable(scene, shot.scene.path or shot.scene.source, warn=shot.scene.source != "tiles")
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
        check_drawable(scene, shot.scene.path or shot.scene.source)  # tiles: warn about the final load
    return Prepared(scene, lighting, route, frames, walker, plan_shot_agents(shot, scene, route, frames, walker))


def plan_shot_agents(shot: Shot, scene, route, frames, walker):
    """The crowd and traffic of the Shot (None when its crowd is none), making way for the camera
    and every actor."""
    from .agents import crowd_for_shot, plan_agents

    level = crowd_for_shot(shot)
    if level == "none":
        return None
    n = len(frames)
    cam = np.array([f.position[:2] for f in frames])
    actors = []
    if shot.actors:
        from .camera import dynamics_from_spec
        from .likeness.actor import Actor
        from .likeness.place import actor_track

        dyn = dynamics_from_spec(shot.camera)
        for i, spec in enumerate(shot.actors):
            if i == 0 and walker is not None:
                actors.append(np.asarray(walker.positions, float)[:, :2])
            else:
                track = actor_track(Actor.load(spec.likeness), spec, route, dyn, shot.output.fps, n)
                actors.append(np.asarray(track.positions, float)[:, :2])
    elif walker is not None:
        actors.append(np.asarray(walker.positions, float)[:, :2])
    actors.append(_view_keep_clear(frames))
    act = np.stack(actors, 1)
    return plan_agents(scene, level, shot.scene.seed, shot.output.fps, n, cam, act)


VIEW_CLEAR_AHEAD_M = 1.6  # a point this far ahead of the camera is kept clear like an actor


def _view_keep_clear(frames) -> np.ndarray:
    """(n, 2) points VIEW_CLEAR_AHEAD_M in front of each camera along its level view direction,
    treated by the crowd as one more body: nobody walks right in front of the lens and fills the
    frame with the back of their head."""
    pts = []
    for f in frames:
        fwd = np.asarray(f.R, float)[2, :2]  # the camera's +z (OpenCV forward) in the world, level part
        norm = float(np.linalg.norm(fwd))
        pts.append(np.asarray(f.position[:2], float) + (fwd / norm * VIEW_CLEAR_AHEAD_M if norm > 1e-6 else 0.0))
    return np.array(pts)


def check_drawable(scene, source: str, warn: bool = True) -> None:
    """Say once what the source skipped (one warning line per kind, on stderr through the
    'citywalk' logger), and refuse a world with no triangles and no splats, naming why."""
    import logging

    from .errors import SceneError

    report = scene.report
    for line in report.warning_lines() if report is not None and warn else []:
        logging.getLogger("citywalk").warning(line)
    splats = sum(int(getattr(g, "count", 0)) for g in scene.gaussians)
    if scene.triangle_count == 0 and splats == 0:
        skipped = "; ".join(f"skipped {n} {k} ({r})" for (k, r), n in sorted(report.skipped.items())) \
            if report is not None and report.skipped else ""
        raise SceneError(f"{source}: nothing drawable: no triangles and no splats"
                         + (f" ({skipped})" if skipped else " (the source held no geometry the crop kept)"))


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
                        splat_budget=shot.output.splat_budget, film=shot.look.film,
                        render_scale=shot.output.render_scale)
    add_actors(renderer, shot, p.route, p.walker, len(p.frames))
    if p.agents is not None:
        from .agents import unit_meshes
        from .render.agents import AgentPass

        renderer.add_pass(AgentPass(renderer.ctx, unit_meshes(), p.agents.instances, p.scene.lit_window_share))
    return renderer


def side_paths(video: Path) -> dict[str, Path]:
    """Where the extras go, beside the video: walk.mp4 → walk.camera.json, walk_depth/, walk_frames/."""
    stem = video.with_suffix("")
    return {
        "camera_track": Path(f"{stem}.camera.json"),
        "depth": Path(f"{stem}_depth"),
        "frames": Path(f"{stem}_frames"),
    }


def render_shot(shot: Shot, out_path: str | Path | None = None,
                on_fraction: Callable[[float], None] | None = None,
                on_frame: Callable[[int, np.ndarray], None] | None = None) -> RenderResult:
    """Render a Shot to an MP4 (and the extras it asks for). Deterministic for a given Shot; the
    farm (citywalk.farm) renders the same frames in chunks through the same two passes.
    `on_frame(index, rgb)` sees each frame before it is encoded (benchmarks compare them)."""
    from .video.encode import VideoWriter
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
        timings["scene_s"] = time.perf_counter() - t
        n = len(p.frames)
        t = time.perf_counter()
        renderer = open_renderer(shot, p)  # one GL set-up meters the shot and draws its frames
        timings["gl_setup_s"] = time.perf_counter() - t
        try:
            t = time.perf_counter()
            with progress(n, "metering", on_fraction=_phase(on_fraction, 0.0, METER_SHARE)) as bar:
                meters = meter_frames(shot, 0, n, p, report=_bar_report(bar), renderer=renderer)
            exposures = exposure_track(meters, [f.time_s for f in p.frames])
            timings["meter_s"] = time.perf_counter() - t
            paths = side_paths(video)
            per_frame_files = "depth" in out.extras or "frames" in out.extras
            stats: dict[str, float] = {}
            with progress(n, "rendering", on_fraction=_phase(on_fraction, METER_SHARE, 1.0)) as bar:
                for cam, img in render_frames(shot, 0, n, exposures, p, want_depth="depth" in out.extras,
                                              report=_bar_report(bar), stats=stats, renderer=renderer):
                    if on_frame is not None:
                        on_frame(cam.index, img["rgb"])
                    writer.write(img["rgb"])
                    if per_frame_files:
                        _write_extras(paths, out.extras, cam.index, img)
        finally:
            renderer.close()
        timings.update(stats)
        t = time.perf_counter()
        writer.close()
        timings["encode_flush_s"] = time.perf_counter() - t
    except BaseException:
        writer.abort()
        raise
    extras = write_side_outputs(video, shot, [c.to_dict() for c in p.frames])
    timings["render_fps"] = n / max(timings["render_s"], 1e-9)
    timings["encode_s"] = float(writer.stats.get("encode_s", 0.0))
    timings["total_s"] = time.perf_counter() - t0
    timings["realtime_factor"] = out.duration_s / timings["total_s"]
    return RenderResult(video, n, extras, timings, list(p.scene.copyright))


def write_side_outputs(video: Path, shot: Shot, cameras: list[dict]) -> dict[str, Path]:
    """Write the camera track (if asked for) beside the video → {extra name: path} of every extra
    the Shot asked for (the per-frame folders were filled while rendering)."""
    from .tracks import write_camera_track

    out, paths, extras = shot.output, side_paths(video), {}
    if "camera_track" in out.extras:
        write_camera_track(paths["camera_track"], cameras, fps=out.fps, width=out.size[0], height=out.size[1])
        extras["camera_track"] = paths["camera_track"]
    for key in ("depth", "frames"):
        if key in out.extras:
            extras[key] = paths[key]
    return extras


# ---- the two passes of a render: an exposure meter over the whole shot, then the frames -------
# Each frame is a pure function of (Shot, frame index, exposure track): a chunk [start, stop)
# renders exactly the frames a whole-shot render does, which is what lets the farm split a shot.

METER_WIDTH_PX = 64  # the metering pass draws the shot this wide (at the output's aspect)
METER_SHARE = 0.1    # share of a render's progress given to the metering pass
METER_EVERY = 3      # the meter reads every third frame (8 readings a second at 24 fps)


def meter_size_px(size_px) -> tuple[int, int]:
    """(w, h) of the metering pass for an output of `size_px`: METER_WIDTH_PX wide, same aspect."""
    w, h = int(size_px[0]), int(size_px[1])
    return METER_WIDTH_PX, max(4, round(METER_WIDTH_PX * h / w))


def meter_frames(shot: Shot, start: int, stop: int, p: Prepared | None = None,
                 report: Callable[[int], None] | None = None, renderer=None) -> np.ndarray:
    """Log-average and 95th-percentile luminance (kcd/m²), (stop - start, 2), of frames [start,
    stop) drawn small under the shot's light: what the camera meters, before any adaptation.
    The meter reads every METER_EVERY'th frame of the shot and holds its reading over the frames
    up to the next (a camera's meter runs slower than its frames; adaptation takes seconds), so
    a range starting between two readings draws the reading frame before it. `renderer`: the
    shot's own (Renderer.meter_reading draws into small targets of its own); None: a small one
    of the scene without splats (the meter reads the HDR image before they are composited) is
    opened and closed here. Either gives the same readings."""
    import dataclasses

    p = p or prepare(shot)
    _check_range(start, stop, len(p.frames))
    size = meter_size_px(shot.output.size)
    own = renderer is None
    if own:
        small = shot.model_copy(update={"output": shot.output.model_copy(
            update={"size": list(size), "samples": 1, "render_scale": 1.0})})
        renderer = open_renderer(small, dataclasses.replace(p, scene=dataclasses.replace(p.scene, gaussians=[])))
    try:
        light = LightTimeline(shot, p.lighting)
        meters = np.empty((stop - start, 2))
        for key in range(start - start % METER_EVERY, stop, METER_EVERY):
            cam = p.frames[key]
            light.apply(renderer, cam.time_s)
            lo, hi = max(key, start), min(key + METER_EVERY, stop)
            meters[lo - start:hi - start] = renderer.meter_reading(_resized(cam, size))
            if report is not None:
                report(hi - start)
        return meters
    finally:
        if own:
            renderer.close()


def exposure_track(meters: np.ndarray, times_s) -> np.ndarray:
    """Auto-exposure per frame, (N,), from the whole shot's meter readings (N, 2) at `times_s`:
    partial adaptation (dusk stays darker than noon) smoothed with the camera's time constant."""
    from .render.exposure import ExposureState, adapt

    meters = np.asarray(meters, float).reshape(-1, 2)
    times = np.asarray(times_s, float)
    if len(times) != len(meters):
        raise ValueError(f"exposure track: {len(meters)} meter readings for {len(times)} frames")
    state, out = ExposureState(), np.empty(len(times))
    for i, ((mean, p95), t) in enumerate(zip(meters, times)):
        state = adapt(state, float(mean), float(p95), float(t))
        out[i] = state.exposure
    return out


def render_frames(shot: Shot, start: int, stop: int, exposures, p: Prepared | None = None,
                  want_depth: bool = False, report: Callable[[int], None] | None = None,
                  stats: dict | None = None, renderer=None) -> Iterator[tuple[object, dict]]:
    """Frames [start, stop) of the Shot → (CameraFrame, {'rgb', 'depth'?}) in order, each exposed
    by `exposures` (one per frame of the range, from exposure_track). Drawn by `renderer` (the
    caller's, left open) or by a GL context of its own, closed at the end; `stats` receives
    seconds of scene build, GL set-up, drawing and read-back."""
    stats = stats if stats is not None else {}
    if p is None:
        t = time.perf_counter()
        p = prepare(shot)
        stats["scene_s"] = time.perf_counter() - t
    _check_range(start, stop, len(p.frames))
    exposures = np.asarray(exposures, float)
    if exposures.shape != (stop - start,):
        raise ValueError(f"render_frames: {exposures.shape} exposures for frames {start}..{stop}")
    own = renderer is None
    if own:
        t = time.perf_counter()
        renderer = open_renderer(shot, p)
        stats["gl_setup_s"] = time.perf_counter() - t
    draw_s0, readback_s0 = renderer.stats["draw_s"], renderer.stats["readback_s"]
    try:
        notice = _copyright_overlay(p.scene, tuple(shot.output.size))
        light = LightTimeline(shot, p.lighting)
        render_s = 0.0
        for k, cam in enumerate(p.frames[start:stop]):
            t = time.perf_counter()
            light.apply(renderer, cam.time_s)
            prev = p.frames[start + k - 1] if start + k > 0 else None  # motion blur
            img = renderer.render(cam, want_depth=want_depth, exposure=float(exposures[k]), previous=prev)
            if notice is not None:
                img["rgb"] = notice.apply(img["rgb"])
            render_s += time.perf_counter() - t
            stats.update(render_s=render_s, draw_s=renderer.stats["draw_s"] - draw_s0,
                         readback_s=renderer.stats["readback_s"] - readback_s0)
            yield cam, img
            if report is not None:
                report(k + 1)
    finally:
        if own:
            renderer.close()


def _check_range(start: int, stop: int, n: int) -> None:
    if not (0 <= start < stop <= n):
        raise ValueError(f"frame range {start}..{stop} is not inside the shot's {n} frames")


def _resized(cam, size_px: tuple[int, int]):
    """The same camera for an image of `size_px` (intrinsics scaled per axis)."""
    from .render.frame import resized_frame

    return resized_frame(cam, size_px)


def _phase(on_fraction: Callable[[float], None] | None, lo: float, hi: float):
    """on_fraction for one phase of a job: its 0..1 mapped onto lo..hi of the whole."""
    if on_fraction is None:
        return None
    return lambda f: on_fraction(lo + (hi - lo) * f)


def _bar_report(bar) -> Callable[[int], None]:
    """A report(done) callable (absolute count) that advances a Progress bar."""
    return lambda done: bar.update(done - bar.count)


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
    A pure function of frame time, so a chunk that starts anywhere lights a frame as the whole
    shot does. Keyed weather is resolved at every frame (a stepped fade would show as jumps
    that the exposure then chases); the sun of a long steady shot every STEP_S; lightning
    flashes are added every frame."""

    STEP_S = 0.5

    def __init__(self, shot: Shot, first):
        """`first` is the shot's lighting at t = 0, which the renderer was built with."""
        from .look.lighting import weather_timeline

        self.shot, self.first = shot, first
        keyed = weather_timeline(shot.look) is not None
        self.step_s = 1.0 / shot.output.fps if keyed else self.STEP_S
        self.changes = keyed or shot.output.duration_s > 60.0
        self._step, self._lighting = 0, first
        # (step, flash klux) the renderer holds; None: unknown, so the first apply uploads (a
        # renderer that metered the shot holds its last frame's light, not the first)
        self.applied: tuple[int, float] | None = None

    def step_at(self, t_s: float) -> int:
        """Index of the lighting interval holding shot time t (0 for steady light)."""
        return int(np.floor(t_s / self.step_s + 1e-6)) if self.changes and t_s > 0 else 0

    def lighting_at(self, t_s: float):
        """The Lighting at shot time t (without lightning)."""
        from .look.lighting import resolve_lighting

        step = self.step_at(t_s)
        if step != self._step:
            self._step = step
            self._lighting = self.first if step == 0 else resolve_lighting(self.shot.look,
                                                                           at_seconds=step * self.step_s)
        return self._lighting

    def apply(self, renderer, t_s: float) -> None:
        """Give the renderer the light of shot time t (uploads only when it changed)."""
        from .render.precipitation import lightning_flash_klux

        lighting = self.lighting_at(t_s)
        flash = lightning_flash_klux(t_s, self.shot.scene.seed, lighting.weather.lightning)
        key = (self.step_at(t_s), flash)
        if key != self.applied:
            renderer.update_lighting(lighting, flash_klux=flash)
            self.applied = key


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


DRAFT_SCALE = 0.5  # a draft renders a quarter of the pixels: llvmpipe's cost is per pixel shaded
DRAFT_EXTRAS = ("camera_track",)  # what a draft still writes beside the video (depth and frames cost)


def draft_shot(shot: Shot, box_px: tuple[int, int] | None = None) -> Shot:
    """The Shot at preview cost, with the same walk, world and look: DRAFT_SCALE of the output
    size (or fitted inside box_px, never larger), one sample per pixel, only the cheap extras.
    Used by `--draft`, `citywalk still --draft` and the Studio's live preview."""
    w, h = shot.output.size
    s = DRAFT_SCALE if box_px is None else min(box_px[0] / w, box_px[1] / h, 1.0)
    size = [max(16, int(w * s) // 2 * 2), max(16, int(h * s) // 2 * 2)]
    extras = [e for e in shot.output.extras if e in DRAFT_EXTRAS]
    return shot.updated({"output": {"size": size, "samples": 1, "extras": extras}}, source="draft")


def render_still(shot: Shot, time_s: float = 0.0) -> np.ndarray:
    """One frame (H, W, 3) uint8 of a Shot at `time_s`, exposed as if the clip had started there."""
    p = prepare(shot)
    i = int(np.clip(round(time_s * shot.output.fps), 0, len(p.frames) - 1))
    r = open_renderer(shot, p)
    try:
        rgb = r.render(p.frames[i], previous=p.frames[i - 1] if i > 0 else None)["rgb"]
        notice = _copyright_overlay(p.scene, tuple(shot.output.size))
        return notice.apply(rgb) if notice is not None else rgb
    finally:
        r.close()


def render_synthetic_walk(out_dir: str | Path, frames: int = 100, size_px: tuple[int, int] = (640, 360),
                          fps: int = 24, speed_mps: float = 1.4, style: str = "tokyo", seed: int = 7,
                          when: str = "noon", camera: dict | None = None, crowd: str = "none",
                          film: str = "none") -> tuple[Path, Path]:
    """Render a procedural street walk → (walk.mp4, walk.camera.json with the true cameras);
    `camera` replaces the Shot's camera section (e.g. keyframes that pan while walking). By
    default a static world filmed plainly (no crowd, no grain or motion blur): what structure
    from motion and the splat trainer are measured against."""
    shot = Shot.from_dict({"scene": {"source": "procedural", "style": style, "seed": seed},
                           "camera": camera or {"speed_mps": speed_mps},
                           "look": {"when": when, "crowd": crowd, "film": film},
                           "output": {"duration_s": frames / fps, "fps": fps, "size": list(size_px), "samples": 1,
                                      "crf": 14, "extras": ["camera_track"]}})
    res = render_shot(shot, Path(out_dir) / "walk.mp4")
    return res.video, res.extras["camera_track"]
