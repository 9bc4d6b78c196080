"""The Studio's FastAPI app: the REST API under /api/v1, the web page at /, OpenAPI at
/api/v1/openapi.json. `create_app(config)` builds it; the scheduler and the preview process start
with the app's lifespan and stop with it."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import CitywalkError
from . import StudioError
from .config import Plan, StudioConfig
from .paths import DataDir
from .preview import PreviewBusy, PreviewFailed, PreviewService
from .resolve import FieldError
from .scheduler import Scheduler
from .security import Guard
from .store import JobStore
from .uploads import UploadRefused

API = "/api/v1"
# What any request may get before it reaches its route (the guard, the body parser); in the document
# so that clients know them.
COMMON_RESPONSES = {
    400: {"description": "the body is not valid JSON or form data"},
    401: {"description": "this Studio needs a token"},
    403: {"description": "a request from another site's page"},
    413: {"description": "the request body is over its limit"},
    421: {"description": "the Host header names another server"},
}


@dataclass
class Studio:
    """What every route needs: configuration, data folder, job store, scheduler, preview."""

    config: StudioConfig
    data: DataDir
    store: JobStore
    scheduler: Scheduler
    preview: PreviewService

    def plan(self, request: Request) -> tuple[str, Plan]:
        name = request.scope.get("state", {}).get("plan") or self.config.default_plan
        return name, self.config.plans[name]


def static_dir() -> Path:
    return Path(str(resources.files("citywalk.studio").joinpath("static")))


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FieldError)
    async def _field(_req, exc: FieldError):
        return JSONResponse({"detail": exc.detail()}, status_code=422)

    @app.exception_handler(UploadRefused)
    async def _upload(_req, exc: UploadRefused):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(PreviewBusy)
    async def _busy(_req, exc: PreviewBusy):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "1"})

    @app.exception_handler(PreviewFailed)
    async def _failed(_req, exc: PreviewFailed):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(CitywalkError)
    async def _citywalk(_req, exc: CitywalkError):
        return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]},
                            status_code=422)


def create_app(config: StudioConfig | None = None) -> FastAPI:
    """The app for `config` (defaults: loopback, ~/.citywalk/studio)."""
    from .routes_info import add_info_routes
    from .routes_jobs import add_job_routes
    from .routes_uploads import add_upload_routes

    config = config or StudioConfig()
    data = DataDir(config.data_dir)
    store = JobStore(data.db_path)
    studio = Studio(config, data, store, Scheduler(config, data, store),
                    PreviewService(config.preview_size_px, config.preview_timeout_s))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        studio.scheduler.start()
        try:
            yield
        finally:
            studio.scheduler.stop()
            studio.preview.close()

    app = FastAPI(title="citywalk Studio", version=__version__, lifespan=lifespan,
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None, responses=COMMON_RESPONSES,
                  description="Order walk videos: compose a Shot, preview it, render it, download it.")
    app.state.studio = studio
    _errors(app)
    add_info_routes(app, studio)
    add_job_routes(app, studio)
    add_upload_routes(app, studio)
    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml")

    app.add_middleware(Guard, config=config)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], allow_credentials=False)
    return app


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no {what}")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["API", "Studio", "create_app", "StudioError"]
