"""A Shot from a client → a Shot the workers may run: plan limits, names checked, paths filled in.

A client names things (a built-in style, an uploaded world, a captured scene, an actor); it never
gives a path. Each name is checked and replaced by the file under the data folder or the capture
catalog. Problems raise `FieldError` with the dotted field at fault, which the API answers as 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CitywalkError
from ..shot import Shot
from .config import Plan
from .paths import NAME_RE, DataDir

OUTPUT_NAME = "walk.mp4"


class FieldError(CitywalkError):
    """A request field is not acceptable: `loc` is its path (('shot', 'output', 'duration_s'))."""

    def __init__(self, loc: tuple, message: str, kind: str = "value_error"):
        super().__init__(f"{'.'.join(str(x) for x in loc)}: {message}")
        self.loc, self.message, self.kind = tuple(loc), message, kind

    def detail(self, prefix: tuple = ("body",)) -> list[dict]:
        """FastAPI's 422 body shape: [{loc, msg, type}]."""
        return [{"loc": [*prefix, *self.loc], "msg": self.message, "type": self.kind}]


@dataclass
class Resolved:
    """The Shot as the client sent it (names) and as the worker runs it (paths)."""

    requested: Shot
    runnable: Shot
    estimate_bytes: int


def check_plan(shot: Shot, plan_name: str, plan: Plan, loc: tuple = ("shot",)) -> None:
    out = shot.output
    if out.duration_s > plan.max_duration_s:
        raise FieldError((*loc, "output", "duration_s"), f"the '{plan_name}' plan allows clips of at most "
                         f"{plan.max_duration_s:g} s (asked {out.duration_s:g} s)", "plan_limit")
    w, h = out.size
    if w > plan.max_width_px or h > plan.max_height_px:
        raise FieldError((*loc, "output", "size"), f"the '{plan_name}' plan allows at most "
                         f"{plan.max_width_px}x{plan.max_height_px} (asked {w}x{h})", "plan_limit")
    if out.fps > plan.max_fps:
        raise FieldError((*loc, "output", "fps"), f"the '{plan_name}' plan allows at most {plan.max_fps} fps "
                         f"(asked {out.fps})", "plan_limit")


def _style(spec: str, loc: tuple) -> None:
    """Built-in styles and blends of them only: a style file path would read the server's disk."""
    from ..sources.procedural.style import builtin_styles, load_style

    names = [part.rpartition(":")[0] if ":" in part else part for part in spec.split(",") if part.strip()]
    known = builtin_styles()
    for name in names:
        key = name.strip().lower().replace(" ", "_").replace("-", "_")
        if key not in known:
            raise FieldError((*loc, "scene", "style"), f"unknown style '{name.strip()}': the Studio offers "
                             f"{', '.join(known)} and blends such as 'tokyo:0.7,paris:0.3'")
    try:
        load_style(spec)
    except CitywalkError as exc:
        raise FieldError((*loc, "scene", "style"), str(exc)) from None


def _world_path(shot: Shot, data: DataDir, catalog_root: Path, loc: tuple) -> str | None:
    """scene.path (a name) → the file it names; None for procedural scenes."""
    spec = shot.scene
    if spec.source == "procedural":
        _style(spec.style, loc)
        return None
    here = (*loc, "scene", "path")
    if spec.source == "tiles":
        raise FieldError((*loc, "scene", "source"), "3D Tiles folders cannot be uploaded to the Studio yet; "
                         "render them with `citywalk render --tiles`")
    name = spec.path or ""
    if not NAME_RE.match(name):
        raise FieldError(here, f"'{name[:80]}' is not a world or scene name: give the name of an uploaded "
                         "world (GET /api/v1/worlds) or, for splats, a captured scene (GET /api/v1/scenes)")
    world = data.world_file(name)
    if world is not None:
        kind = data.world_source(name)
        if kind != spec.source:
            raise FieldError(here, f"world '{name}' is a {kind} world, not {spec.source}: set scene.source "
                             f"to '{kind}'")
        return str(world)
    if spec.source == "splat":
        from ..capture.catalog import resolve_scene

        try:
            return str(resolve_scene(name, catalog_root))
        except CitywalkError as exc:
            raise FieldError(here, str(exc)) from None
    raise FieldError(here, f"no uploaded world named '{name}' (GET /api/v1/worlds lists them)")


def _look(shot: Shot, loc: tuple) -> None:
    """Time, place and weather resolve (preset names, time zones, weather fields and keyframes)."""
    from ..look.lighting import resolve_lighting, weather_timeline

    try:
        resolve_lighting(shot.look)
        weather_timeline(shot.look)
    except CitywalkError as exc:
        m = re.match(r"^(look\.[a-z_]+)", str(exc))
        field = m.group(1).split(".")[1:] if m else []
        raise FieldError((*loc, "look", *field), str(exc)) from None


def _camera(shot: Shot, loc: tuple) -> None:
    if shot.camera.rig != "keyframes":
        return
    from ..camera.keyframes import keyframe_frames

    out = shot.output
    try:
        keyframe_frames(shot.camera.keyframes, out.fps, out.frame_count, tuple(out.size), where="camera.keyframes")
    except CitywalkError as exc:
        raise FieldError((*loc, "camera", "keyframes"), str(exc)) from None


def estimate_output_bytes(shot: Shot) -> int:
    """A generous guess of what a render writes: H.264 at ~0.15 bit per pixel plus the extras."""
    out = shot.output
    w, h = out.size
    pixels = w * h * out.frame_count
    total = pixels * 0.15 / 8 + 200_000
    if "depth" in out.extras:
        total += pixels * 1.2
    if "frames" in out.extras:
        total += pixels * 1.5
    return int(total * 1.5)  # the zipped extras beside the folders


def resolve_shot(shot: Shot, plan_name: str, plan: Plan, data: DataDir, catalog_root: Path,
                 loc: tuple = ("shot",)) -> Resolved:
    """Check a requested Shot against the plan and the Studio's names → the runnable Shot."""
    check_plan(shot, plan_name, plan, loc)
    changes: dict = {"output": {"path": OUTPUT_NAME}}
    path = _world_path(shot, data, catalog_root, loc)
    if path is not None:
        changes["scene"] = {"path": path}
    actors = []
    for i, actor in enumerate(shot.actors):
        name = actor.likeness
        if not NAME_RE.match(name) or not data.actor_path(name).is_file():
            raise FieldError((*loc, "actors", i, "likeness"), f"no actor named '{name[:80]}': upload a likeness "
                             "(POST /api/v1/actors) and use its name; GET /api/v1/actors lists them")
        actors.append({**actor.model_dump(mode="json"), "likeness": str(data.actor_path(name))})
    if actors:
        changes["actors"] = actors
    _look(shot, loc)
    _camera(shot, loc)
    runnable = shot.updated(changes, source="studio")
    return Resolved(shot, runnable, estimate_output_bytes(shot))
