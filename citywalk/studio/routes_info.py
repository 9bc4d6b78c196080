"""Routes that describe and preview: session, health, plan, listings, prompt, preview."""

from __future__ import annotations

import datetime as dt
import os

from fastapi import FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from .. import __version__
from ..errors import CitywalkError
from .resolve import FieldError, check_plan, resolve_shot
from .schemas import (
    ActorInfo,
    Health,
    Options,
    PlanView,
    PreviewRequest,
    PromptRequest,
    PromptResponse,
    RigInfo,
    SceneInfo,
    SessionRequest,
    SessionView,
    StyleInfo,
    TimeInfo,
    WeatherInfo,
    WorldInfo,
)
from .security import COOKIE
from .thumbs import THUMB_SIZE_PX, shipped_thumbnail, thumbnail_shot

API = "/api/v1"
RIG_NOTES = {
    "walk": "first person: you are walking", "follow": "over the shoulder of the walker",
    "side": "tracking beside the walker", "front": "walking toward the camera",
    "orbit": "circling the walker", "drone": "rising drone shot", "keyframes": "your own camera keys",
}
TIME_NOTES = {
    "dawn": "sun rising through −4°", "morning": "sun at +20°, rising", "noon": "solar noon",
    "afternoon": "sun at +35°, going down", "golden_hour": "sun at +5°, warm light",
    "dusk": "blue hour, sun at −4°", "night": "solar midnight",
}


def plan_view(name, plan, config) -> PlanView:
    up = config.uploads
    return PlanView(name=name, **plan.model_dump(), upload_limits_bytes={
        "likeness": up.likeness_bytes, "capture": up.capture_bytes, "world": up.world_bytes})


def list_styles() -> list[StyleInfo]:
    from ..sources.procedural.style import builtin_styles, load_style

    return [StyleInfo(name=n, description=load_style(n).description, thumbnail=f"{API}/styles/{n}/thumbnail")
            for n in builtin_styles()]


def list_weathers() -> list[WeatherInfo]:
    from ..look.weather import WEATHER_PRESETS

    return [WeatherInfo(name=n, cloud_cover=w.cloud_cover, precipitation_mmph=w.precipitation_mmph,
                        snowfall_mmph=w.snowfall_mmph, fog_visibility_m=w.fog_visibility_m, lightning=w.lightning)
            for n, w in WEATHER_PRESETS.items()]


def list_times(lat=None, lon=None, date=None, tz=None) -> list[TimeInfo]:
    from ..look.timeofday import TIME_PRESETS, local_tz, preset_times_utc

    local = {}
    if lat is not None and lon is not None and date is not None:
        zone = local_tz(lat, lon, tz)
        local = {k: v.astimezone(zone).strftime("%H:%M") for k, v in preset_times_utc(date, lat, lon, tz).items()}
    return [TimeInfo(name=n, description=TIME_NOTES.get(n, ""), local_time=local.get(n)) for n in TIME_PRESETS]


def list_scenes(studio) -> list[SceneInfo]:
    from ..capture.catalog import list_scenes as catalog_scenes

    return [SceneInfo(name=r["name"], status=r["status"], kind=r["kind"], place=r["place"] or "",
                      created_at=r["created_at"], reasons=r["reasons"])
            for r in catalog_scenes(studio.config.catalog_root())]


def list_actors(studio) -> list[ActorInfo]:
    out = []
    for n in studio.data.actor_names():
        p = studio.data.actor_path(n)
        thumb = f"{API}/actors/{n}/thumbnail" if p.with_suffix(".png").is_file() else None
        out.append(ActorInfo(name=n, thumbnail=thumb, bytes=p.stat().st_size))
    return out


def list_worlds(studio) -> list[WorldInfo]:
    out = []
    for n in studio.data.world_names():
        f = studio.data.world_file(n)
        out.append(WorldInfo(name=n, source=studio.data.world_source(n), bytes=f.stat().st_size))
    return out


def _session_routes(app: FastAPI, studio) -> None:
    @app.get(f"{API}/session", response_model=SessionView, tags=["session"])
    def session(request: Request) -> SessionView:
        """Whether this Studio needs a token, and whether this request carries a valid one."""
        from .security import Guard

        required = studio.config.needs_token()
        plan = Guard(None, studio.config)._token_plan(request.scope) if required else studio.config.default_plan
        return SessionView(required=required, authenticated=plan is not None, plan=plan)

    @app.post(f"{API}/session", status_code=204, tags=["session"], responses={401: {"description": "wrong token"}})
    def log_in(body: SessionRequest, request: Request) -> Response:
        """Check a token and keep it in an HttpOnly same-site cookie for the page (and its video player)."""
        tokens = studio.config.all_tokens()
        import hmac

        if not any(hmac.compare_digest(body.token.encode(), t.encode()) for t in tokens):
            return Response(status_code=401)
        resp = Response(status_code=204)
        resp.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return resp


def _listing_routes(app: FastAPI, studio) -> None:
    @app.get(f"{API}/health", response_model=Health, tags=["info"])
    async def health() -> Health:
        s = studio.store
        return Health(ok=True, version=__version__, queued=s.count(("queued",)), running=s.count(("running",)),
                      preview=studio.preview.stats)

    @app.get(f"{API}/plan", response_model=PlanView, tags=["info"])
    def plan(request: Request) -> PlanView:
        """The limits of the plan this request runs under."""
        return plan_view(*studio.plan(request), studio.config)

    @app.get(f"{API}/styles", response_model=list[StyleInfo], tags=["listings"])
    def styles():
        return list_styles()

    @app.get(f"{API}/weathers", response_model=list[WeatherInfo], tags=["listings"])
    def weathers():
        return list_weathers()

    @app.get(f"{API}/times", response_model=list[TimeInfo], tags=["listings"])
    def times(lat: float | None = Query(None, ge=-90, le=90), lon: float | None = Query(None, ge=-180, le=180),
              date: dt.date | None = None, tz: str | None = Query(None, max_length=64)):
        """Time-of-day presets; with lat, lon and date also the local clock time of each there."""
        try:
            return list_times(lat, lon, date, tz)
        except CitywalkError as exc:
            raise FieldError(("query", "tz"), str(exc)) from None

    @app.get(f"{API}/rigs", response_model=list[RigInfo], tags=["listings"])
    def rigs():
        from ..shot import CAMERA_RIGS

        return [RigInfo(name=r, description=RIG_NOTES.get(r, "")) for r in CAMERA_RIGS]

    @app.get(f"{API}/scenes", response_model=list[SceneInfo], tags=["listings"])
    def scenes():
        """Captured places in the catalog (processed ones can be walked: scene.source 'splat', path = name)."""
        return list_scenes(studio)

    @app.get(f"{API}/options", response_model=Options, tags=["listings"])
    def options(request: Request) -> Options:
        from ..shot import CAMERA_RIGS, EXTRAS

        return Options(styles=list_styles(), weathers=list_weathers(), times=list_times(),
                       rigs=[RigInfo(name=r, description=RIG_NOTES.get(r, "")) for r in CAMERA_RIGS],
                       placements=["ahead", "beside", "toward", "fixed"], extras=list(EXTRAS),
                       scenes=list_scenes(studio), actors=list_actors(studio), worlds=list_worlds(studio),
                       plan=plan_view(*studio.plan(request), studio.config),
                       default_shot=_default_shot(*studio.plan(request)))


def _default_shot(plan_name, plan) -> dict:
    from ..shot import Shot

    w, h = (1280, 720) if plan.max_width_px >= 1280 and plan.max_height_px >= 720 else (640, 360)
    return Shot().updated({"output": {"duration_s": min(10.0, plan.max_duration_s), "size": [w, h],
                                      "fps": min(24, plan.max_fps)}}).model_dump(mode="json")


def _thumbnail_routes(app: FastAPI, studio) -> None:
    @app.get(f"{API}/styles/{{name}}/thumbnail", tags=["listings"], response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no such style"}})
    def style_thumbnail(name: str = PathParam(pattern=r"^[a-z0-9_]{1,64}$")):
        """A still of the style's main street at golden hour (shipped, else rendered once and kept)."""
        from ..sources.procedural.style import builtin_styles

        if name not in builtin_styles():
            return Response(status_code=404)
        shipped = shipped_thumbnail(name)
        if shipped is not None:
            return FileResponse(shipped, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})
        cached = studio.data.cache_file(f"style-{name}.jpg")
        if not cached.is_file():
            data, _ = studio.preview.render(thumbnail_shot(name).model_dump(mode="json"), 2.0)
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        return FileResponse(cached, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @app.get(f"{API}/actors/{{name}}/thumbnail", tags=["listings"], response_class=FileResponse,
             responses={200: {"content": {"image/png": {}}}, 404: {"description": "no such actor"}})
    def actor_thumbnail(name: str = PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")):
        p = studio.data.actor_path(name).with_suffix(".png")
        if not p.is_file():
            return Response(status_code=404)
        return FileResponse(p, media_type="image/png")


def _compose_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/prompt", response_model=PromptResponse, tags=["compose"])
    def prompt(body: PromptRequest) -> PromptResponse:
        """A text prompt → the Shot it describes (built on `base`), with what was and was not understood."""
        from ..prompt import parse_prompt

        try:
            r = parse_prompt(body.text, base=body.base)
        except CitywalkError as exc:
            raise FieldError(("text",), str(exc)) from None
        return PromptResponse(shot=r.shot.model_dump(mode="json"), understood=r.understood, unknown=r.unknown,
                              notes=r.notes)

    @app.post(f"{API}/preview", tags=["compose"], response_class=Response,
              responses={200: {"content": {"image/jpeg": {}}, "description": "one JPEG frame"},
                         422: {"description": "the Shot is not acceptable"},
                         429: {"description": "too many previews waiting"}})
    def preview(body: PreviewRequest, request: Request) -> Response:
        """One small frame (≤ 480×270) of the Shot `at_s` seconds into the clip."""
        name, plan = studio.plan(request)
        shot = body.shot
        check_plan(shot, name, plan)
        if body.at_s > shot.output.duration_s:
            raise FieldError(("at_s",), f"{body.at_s:g} s is past the clip's end ({shot.output.duration_s:g} s)")
        r = resolve_shot(shot, name, plan, studio.data, studio.config.catalog_root())
        data, info = studio.preview.render(r.runnable.model_dump(mode="json"), body.at_s)
        headers = {"X-Preview-Ms": str(info["ms"]), "X-Preview-Cpu-Ms": str(info.get("cpu_ms", "")),
                   "X-Preview-Cached": "1" if info.get("cached") else "0",
                   "X-Local-Time": info["local_time"], "X-Sun-Altitude-Deg": str(info["sun_altitude_deg"]),
                   "Cache-Control": "no-store"}
        return Response(content=data, media_type="image/jpeg", headers=headers)


def add_info_routes(app: FastAPI, studio) -> None:
    _session_routes(app, studio)
    _listing_routes(app, studio)
    _thumbnail_routes(app, studio)
    _compose_routes(app, studio)


__all__ = ["add_info_routes", "THUMB_SIZE_PX"]
