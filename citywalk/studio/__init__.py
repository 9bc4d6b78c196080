"""Studio: `citywalk serve` — a REST API, a web page and a job queue for ordering walk videos.

Light to import: FastAPI, uvicorn and the renderer load only inside the functions that need them
(`create_app`, `serve`, the worker and preview processes). Modules: `config` (plans, limits,
token), `paths` (the data folder and every name that may become a path), `store` (SQLite WAL job
store), `resolve` (a requested Shot → a checked Shot with real paths), `uploads` (size/type
checked file intake), `worker` (one job in its own process), `scheduler` (the bounded worker
pool), `preview` (the preview process with its cached scene and GL context), `security`
(token, host, origin and body-size guards), `app` (routes), `server` (start-up).
"""

from __future__ import annotations

from citywalk.errors import CitywalkError


class StudioError(CitywalkError):
    """The Studio cannot start or a request cannot be served; the message names the cause."""


def create_app(*args, **kwargs):
    """See `citywalk.studio.app.create_app` (imports FastAPI on first call)."""
    from .app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["StudioError", "create_app"]
