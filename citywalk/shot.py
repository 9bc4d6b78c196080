"""The Shot: one declarative description of a clip (scene, camera, actors, look, output).

Every entry point (CLI flags, text prompt, YAML/JSON files, later the REST API) builds a Shot;
rendering a Shot with the same seed gives the same frames on the same machine.  This module
checks structure and hard limits; names (style, weather) are resolved by the stage that owns them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ShotError
from .registry import SCENE_SOURCES as _REGISTRY

MAX_DURATION_S = 600.0
MAX_FPS = 60
MAX_WIDTH, MAX_HEIGHT = 3840, 2160
MIN_SIDE_PX = 16
MAX_SHOT_FILE_BYTES = 1_000_000
MAX_SHOT_NESTING = 64  # brackets deeper than this are refused before parsing (PyYAML takes seconds, then recurses out)

TIME_PRESETS = ("dawn", "morning", "noon", "afternoon", "golden_hour", "dusk", "night")
CAMERA_RIGS = ("walk", "follow", "side", "front", "orbit", "drone", "keyframes")
SCENE_SOURCES = tuple(_REGISTRY)
EXTRAS = ("depth", "camera_track", "frames")

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


FILM_LOOKS = ("cinema", "phone", "none")  # look.film; the renderer's FILM_PRESETS has these keys


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Vec3 = tuple[float, float, float]


class SceneSpec(_Model):
    """Where the world comes from: a procedural style (default) or a file source, and how a file's
    content is placed: which axis is up ('auto' estimates it for splats), a uniform scale to metres,
    a turn about Z, a shift, and an optional crop box (applied last, in scene metres)."""

    source: Literal[SCENE_SOURCES] = "procedural"  # type: ignore[valid-type]
    style: str = "tokyo"
    seed: int = Field(7, ge=0, le=2**31 - 1)
    path: str | None = None
    up: Literal["auto", "z", "y", "-y"] = "auto"
    scale: float = Field(1.0, gt=0.0, le=10_000.0)
    rotate_z_deg: float = Field(0.0, ge=-360.0, le=360.0)
    translate_m: Vec3 = (0.0, 0.0, 0.0)
    crop_m: tuple[Vec3, Vec3] | None = None
    # source 'generated': the text of the first frame, and the text-to-image / image-to-video
    # checkpoints (local folders or cached repository ids; None: the backends' defaults)
    prompt: str | None = Field(None, min_length=1, max_length=2000)
    image_model: str | None = None
    video_model: str | None = None
    steps: int | None = Field(None, ge=1, le=200)  # denoising steps of both (None: each backend's default)

    @model_validator(mode="after")
    def _path_for_files(self) -> "SceneSpec":
        if _REGISTRY[self.source].needs_path and not self.path:
            raise ValueError(f"scene.source '{self.source}' needs scene.path (the file to read)")
        if self.source == "generated" and not self.prompt:
            raise ValueError("scene.source 'generated' needs scene.prompt (the street to generate)")
        if self.source != "generated" and (self.prompt or self.image_model or self.video_model or self.steps):
            raise ValueError(f"scene.prompt, image_model, video_model and steps are read only by source "
                             f"'generated', not '{self.source}'")
        return self


Waypoint = Annotated[list[float], Field(min_length=2, max_length=3)]


class CameraSpec(_Model):
    """Camera rig and walking dynamics; positions in scene metres (X east, Y north, Z up)."""

    rig: Literal[CAMERA_RIGS] = "walk"  # type: ignore[valid-type]
    route: Union[Literal["auto"], Annotated[list[Waypoint], Field(min_length=2, max_length=10_000)]] = "auto"
    route_latlon: (
        Annotated[
            list[Annotated[list[float], Field(min_length=2, max_length=2)]], Field(min_length=2, max_length=10_000)
        ]
        | None
    ) = None
    street: Literal["auto", "side", "main", "any"] = "auto"  # auto: side streets, main for side/orbit rigs
    speed_mps: float = Field(1.4, gt=0.0, le=30.0)
    eye_height_m: float = Field(1.65, gt=0.05, le=500.0)
    fov_deg: float = Field(75.0, ge=10.0, le=150.0)  # horizontal field of view
    step_hz: float = Field(1.95, ge=0.5, le=4.0)
    bob_m: float = Field(0.03, ge=0.0, le=0.2)
    sway_m: float = Field(0.015, ge=0.0, le=0.2)
    look_ahead_m: float = Field(8.0, ge=1.0, le=100.0)
    rig_params: dict[str, Union[float, str]] = Field(default_factory=dict, max_length=16)
    keyframes: Annotated[list[dict[str, Any]], Field(min_length=2, max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _keyframes_for_keyframes(self) -> "CameraSpec":
        if self.rig == "keyframes" and not self.keyframes:
            raise ValueError("camera.rig 'keyframes' needs camera.keyframes (a list of keys, or --camera keys.json)")
        return self


class ActorSpec(_Model):
    """A captured person placed in the shot (rendering them is a later stage)."""

    likeness: str
    placement: Literal["ahead", "beside", "toward", "fixed"] = "ahead"
    distance_m: float = Field(3.0, ge=0.3, le=200.0)


class LookSpec(_Model):
    """Time, place and weather. `when` is an ISO date-time, 'HH:MM' or a preset such as 'dusk'."""

    when: str = "dusk"
    date: dt.date = dt.date(2026, 6, 21)
    lat: float = Field(35.68, ge=-90.0, le=90.0)
    lon: float = Field(139.76, ge=-180.0, le=180.0)
    tz: str | None = None
    # a preset name, a mapping of weather fields ({preset: fog, fog_visibility_m: 120}), or
    # keyframes [{t_s: 0, weather: clear}, {t_s: 10, weather: thunderstorm}]
    weather: Union[str, dict[str, Any], Annotated[list[dict[str, Any]], Field(min_length=1, max_length=256)]] = "clear"
    exposure_ev: float = Field(0.0, ge=-10.0, le=10.0)
    # pedestrians and moving cars: none | light | busy, or 'style' (the style's own default;
    # imported worlds — mesh, tiles, splat — have none unless asked)
    crowd: str = "style"
    film: str = "cinema"  # how the camera films (render/post.py FILM_PRESETS): cinema | phone | none

    @field_validator("crowd")
    @classmethod
    def _crowd_name(cls, v: str) -> str:
        key = str(v).strip().lower()
        if key not in ("none", "light", "busy", "style"):
            raise ValueError(f"unknown crowd '{v}': use none, light, busy or style (the style's default)")
        return key

    @field_validator("film")
    @classmethod
    def _film_name(cls, v: str) -> str:
        if v not in FILM_LOOKS:
            raise ValueError(f"unknown film look '{v}': use one of {', '.join(FILM_LOOKS)}")
        return v

    @field_validator("when")
    @classmethod
    def _when_syntax(cls, v: str) -> str:
        key = v.strip().lower().replace(" ", "_").replace("-", "_")
        if key in TIME_PRESETS:
            return key
        if _HHMM.match(v.strip()):
            return v.strip()
        try:
            dt.datetime.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(
                f"'{v}' is not a time: use an ISO date-time (2026-06-21T19:30), HH:MM (19:30) "
                f"or one of {', '.join(TIME_PRESETS)}"
            ) from None
        return v.strip()

    @field_validator("tz")
    @classmethod
    def _tz_syntax(cls, v: str | None) -> str | None:
        if v is None or re.match(r"^[+-]\d{1,2}(:\d{2})?$", v) or v.upper() == "UTC":
            return v
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone '{v}': use an IANA name (Asia/Tokyo) or an offset (+09:00)") from None
        return v


class RestyleSpec(_Model):
    """Photographic restyle of the rendered frames (citywalk.generate): the look to reach, how far
    from the render (img2img strength), and the base / depth-ControlNet checkpoints (None: defaults)."""

    prompt: str = Field(min_length=1, max_length=1000)
    strength: float = Field(0.5, gt=0.0, le=1.0)
    model: str | None = None
    controlnet: str | None = None
    steps: int = Field(20, ge=1, le=200)


class OutputSpec(_Model):
    """What to write: an MP4 plus optional depth PNGs, frame PNGs and a camera-track JSON."""

    duration_s: float = Field(10.0, gt=0.0, le=MAX_DURATION_S)
    fps: int = Field(24, ge=1, le=MAX_FPS)
    size: tuple[int, int] = (1280, 720)
    path: str = "walk.mp4"
    extras: list[Literal[EXTRAS]] = Field(default_factory=list)  # type: ignore[valid-type]
    crf: int = Field(20, ge=0, le=51)
    samples: Literal[0, 1, 2, 4, 8] = 0  # multisampling; 0 = auto: 1 + edge AA on a CPU, 4 on a GPU
    # Gaussians drawn per frame at most (a level-of-detail cut beyond it); None = per device:
    # 300k on a CPU rasteriser, 1.5M on a GPU (render/splat_gl.py)
    splat_budget: int | None = Field(None, ge=10_000, le=100_000_000)
    # each side drawn this much smaller, then widened to `size` (grain added at the output's
    # pixels): 0.67 shades 45 % of the pixels; 1 = draw at the output size
    render_scale: float = Field(1.0, ge=0.25, le=1.0)
    restyle: RestyleSpec | None = None

    @field_validator("size")
    @classmethod
    def _size_limits(cls, v: tuple[int, int]) -> tuple[int, int]:
        w, h = v
        if not (MIN_SIDE_PX <= w <= MAX_WIDTH and MIN_SIDE_PX <= h <= MAX_HEIGHT):
            raise ValueError(
                f"{w}x{h} is out of range: width {MIN_SIDE_PX}..{MAX_WIDTH}, height {MIN_SIDE_PX}..{MAX_HEIGHT}"
            )
        if w % 2 or h % 2:
            raise ValueError(f"{w}x{h}: width and height must be even (H.264 yuv420p)")
        return v

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_s * self.fps))


class Shot(_Model):
    """A whole clip: scene + camera + actors + look + output."""

    scene: SceneSpec = Field(default_factory=SceneSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    actors: list[ActorSpec] = Field(default_factory=list, max_length=16)
    look: LookSpec = Field(default_factory=LookSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @model_validator(mode="after")
    def _generated_has_no_geometry(self) -> "Shot":
        if self.scene.source == "generated":
            geometric = [e for e in self.output.extras if e in ("depth", "camera_track")]
            if geometric:
                raise ValueError(f"output.extras {', '.join(geometric)}: scene.source 'generated' has no depth or "
                                 "cameras; accepted: frames")
            if self.output.restyle is not None:
                raise ValueError("output.restyle needs a rendered scene's depth and cameras; "
                                 "scene.source 'generated' has neither")
        return self

    # --- construction with readable errors -------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "shot") -> "Shot":
        """Validate a plain dict; errors name the dotted field, the problem and the bad value."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ShotError(f"{source}: a Shot must be a mapping of sections, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ShotError(f"{source}: {format_validation_error(exc)}") from None

    def updated(self, changes: dict[str, Any], source: str = "options") -> "Shot":
        """A copy with nested `changes` ({'look': {'weather': 'fog'}}) merged in and re-validated."""
        return Shot.from_dict(_deep_merge(self.model_dump(mode="json"), changes), source)

    # --- files ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Shot":
        """Read a Shot from YAML or JSON (chosen by extension; YAML accepts JSON too)."""
        from .safeio import check_nesting, read_text_capped

        p = Path(path)
        text = read_text_capped(p, MAX_SHOT_FILE_BYTES, "Shot file", ShotError)
        check_nesting(text, MAX_SHOT_NESTING, str(p), ShotError)
        if p.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ShotError(f"{p}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
            except RecursionError:
                raise ShotError(f"{p}: JSON nested too deeply to be a Shot") from None
        else:
            try:
                data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster
            except RecursionError:
                raise ShotError(f"{p}: YAML nested too deeply to be a Shot") from None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise ShotError(f"{p}: malformed YAML{where}: {problem}") from None
        return cls.from_dict(data, str(p))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.write_text(self.to_json() if p.suffix.lower() == ".json" else self.to_yaml(), encoding="utf-8")


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: 'output.duration_s: Input should be ... (got 1000)'."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"] if not (isinstance(x, str) and x.startswith(("literal[", "list["))))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or err["type"] in ("missing",) else f" (got {got!r})"
        parts.append(f"{loc or 'shot'}: {msg}{shown}")
    return "; ".join(dict.fromkeys(parts))


def _deep_merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
