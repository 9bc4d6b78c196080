"""Request and response bodies of the Studio API (they make the published OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..shot import Shot


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobRequest(_Body):
    """A render order: the Shot (names of styles, worlds, scenes and actors, never paths)."""

    shot: Shot


class PreviewRequest(_Body):
    shot: Shot
    at_s: float = Field(0.0, ge=0.0, le=600.0, description="seconds into the clip")


class PromptRequest(_Body):
    text: str = Field(min_length=1, max_length=2000)
    base: Shot | None = Field(None, description="the Shot the prompt edits (fields it does not mention stay)")


class PromptResponse(BaseModel):
    shot: dict[str, Any]
    understood: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        description="[words of the prompt, what they set] pairs")
    unknown: list[str]
    notes: list[str]


class SessionRequest(_Body):
    token: str = Field(min_length=1, max_length=512)


class SessionView(BaseModel):
    required: bool
    authenticated: bool
    plan: str | None


class PlanView(BaseModel):
    name: str
    max_duration_s: float
    max_width_px: int
    max_height_px: int
    max_fps: int
    max_queued_jobs: int
    upload_limits_bytes: dict[str, int]


class JobView(BaseModel):
    id: str
    kind: Literal["render", "actor", "capture"]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    title: str
    plan: str
    fraction: float = Field(description="0..1 done")
    stage: str
    eta_s: float | None = Field(description="seconds left, estimated from the rate so far")
    queue_position: int | None = Field(description="jobs ahead of this one in its queue (queued jobs)")
    attempts: int
    reason: str | None = Field(description="why it failed or was cancelled")
    created_at: str
    started_at: str | None
    finished_at: str | None
    files: dict[str, str] = Field(description="output name → download URL (done jobs)")
    facts: dict[str, Any] = Field(description="frames, size, timings… of a done job")
    request: dict[str, Any]


class JobList(BaseModel):
    jobs: list[JobView]


class JobEvent(BaseModel):
    seq: int
    at: str
    state: str
    attempt: int
    detail: str


class StyleInfo(BaseModel):
    name: str
    description: str
    thumbnail: str


class WeatherInfo(BaseModel):
    name: str
    cloud_cover: float
    precipitation_mmph: float
    snowfall_mmph: float
    fog_visibility_m: float | None
    lightning: bool


class TimeInfo(BaseModel):
    name: str
    description: str
    local_time: str | None = None


class RigInfo(BaseModel):
    name: str
    description: str


class SceneInfo(BaseModel):
    name: str
    status: str
    kind: str
    place: str
    created_at: str
    reasons: list[str]


class ActorInfo(BaseModel):
    name: str
    thumbnail: str | None
    bytes: int


class WorldInfo(BaseModel):
    name: str
    source: str
    bytes: int


class Options(BaseModel):
    """Everything the compose form offers, in one call."""

    styles: list[StyleInfo]
    weathers: list[WeatherInfo]
    times: list[TimeInfo]
    rigs: list[RigInfo]
    placements: list[str]
    extras: list[str]
    scenes: list[SceneInfo]
    actors: list[ActorInfo]
    worlds: list[WorldInfo]
    plan: PlanView
    default_shot: dict[str, Any]


class Health(BaseModel):
    ok: bool
    version: str
    queued: int
    running: int
    preview: dict[str, int]
