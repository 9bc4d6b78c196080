"""Job routes: submit a render, status, list, events, cancel, delete, and downloads with ranges."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

from .paths import inside
from .resolve import resolve_shot
from .schemas import JobEvent, JobList, JobRequest, JobView
from .store import STATES, Job

API = "/api/v1"
JOB_ID = PathParam(pattern=r"^[0-9a-f]{32}$", description="32 hexadecimal digits")
OUTPUTS = {"video": "video/mp4", "poster": "image/jpeg", "camera_track": "application/json",
           "depth": "application/zip", "frames": "application/zip"}
DOWNLOAD_NAMES = {"video": "mp4", "poster": "jpg", "camera_track": "camera.json", "depth": "depth.zip",
                  "frames": "frames.zip"}


def shot_title(shot) -> str:
    """'tokyo · dusk · clear · walk · 10 s' — how a render is named in lists."""
    s = shot.scene
    world = s.style if s.source == "procedural" else f"{s.source}:{s.path}"
    weather = shot.look.weather if isinstance(shot.look.weather, str) else "custom weather"
    return f"{world} · {shot.look.when} · {weather} · {shot.camera.rig} · {shot.output.duration_s:g} s"


def job_view(job: Job, position: int | None = None) -> JobView:
    files = {}
    if job.state == "done" and job.kind == "render":
        files = {k: f"{API}/jobs/{job.id}/files/{k}" for k in OUTPUTS if k in job.outputs}
    facts = {k: v for k, v in job.outputs.items() if k not in OUTPUTS}
    return JobView(id=job.id, kind=job.kind, state=job.state, title=job.title, plan=job.plan, fraction=job.fraction,
                   stage=job.stage, eta_s=job.eta_s, queue_position=position, attempts=job.attempts,
                   reason=job.reason, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at, files=files, facts=facts, request=job.request)


def queue_positions(store) -> dict[str, int]:
    """Queued job id → how many queued jobs of its pool are ahead of it."""
    from .scheduler import POOLS

    out, ahead = {}, {}
    pool_of = {k: p for p, kinds in POOLS.items() for k in kinds}
    for j in store.list(state="queued", limit=10_000, newest_first=False):
        pool = pool_of[j.kind]
        out[j.id] = ahead.get(pool, 0)
        ahead[pool] = out[j.id] + 1
    return out


def get_job(studio, job_id: str) -> Job:
    try:
        return studio.store.get(job_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no job {job_id}") from None


def check_room(studio, plan_name: str, plan, estimate_bytes: int) -> JSONResponse | None:
    """429 when the plan's queue is full, 507 when the disk cannot take the job; else None."""
    waiting = studio.store.count(("queued", "running"), plan=plan_name)
    if waiting >= plan.max_queued_jobs:
        return JSONResponse({"detail": f"the '{plan_name}' plan allows {plan.max_queued_jobs} jobs waiting or "
                                       "running at once; wait for some to finish"}, status_code=429,
                            headers={"Retry-After": "10"})
    need = estimate_bytes + studio.store.pending_estimate_bytes()
    used = studio.data.used_bytes()
    cfg = studio.config
    if used + need > cfg.quota_bytes or studio.data.free_bytes() - need < cfg.min_free_bytes:
        return JSONResponse({"detail": f"not enough room: the data folder holds {used / 2**20:.0f} MiB of its "
                                       f"{cfg.quota_bytes / 2**20:.0f} MiB quota and the queued jobs may add "
                                       f"{need / 2**20:.0f} MiB; delete old renders"}, status_code=507)
    return None


def _submit_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/jobs", status_code=201, response_model=JobView, tags=["jobs"],
              responses={422: {"description": "the Shot is not acceptable (the field is named)"},
                         429: {"description": "the plan's queue is full"}, 507: {"description": "disk full"}})
    def submit(body: JobRequest, request: Request):
        """Queue a render of a Shot → the job (poll it for fraction, stage and ETA)."""
        name, plan = studio.plan(request)
        r = resolve_shot(body.shot, name, plan, studio.data, studio.config.catalog_root())
        refusal = check_room(studio, name, plan, r.estimate_bytes)
        if refusal is not None:
            return refusal
        requested = r.requested.updated({"output": {"path": "walk.mp4"}})
        job = studio.store.submit("render", name, {"shot": requested.model_dump(mode="json")},
                                  {"shot": r.runnable.model_dump(mode="json")}, title=shot_title(requested),
                                  estimate_bytes=r.estimate_bytes)
        studio.scheduler.wake.set()
        return job_view(job, queue_positions(studio.store).get(job.id))

    @app.get(f"{API}/jobs", response_model=JobList, tags=["jobs"])
    async def list_jobs(kind: Literal["render", "actor", "capture"] | None = None,
                  state: Literal[STATES] | None = None,  # type: ignore[valid-type]
                  limit: int = Query(100, ge=1, le=1000)) -> JobList:
        """Jobs, newest first."""
        pos = queue_positions(studio.store)
        return JobList(jobs=[job_view(j, pos.get(j.id)) for j in studio.store.list(kind, state, limit)])

    @app.get(f"{API}/jobs/{{job_id}}", response_model=JobView, tags=["jobs"],
             responses={404: {"description": "no such job"}})
    async def status(job_id: str = JOB_ID) -> JobView:
        """A job's state, fraction done, stage and ETA. Read-only and quick, so it runs on the event loop
        (no thread hop): pollers stay fast while previews and uploads hold worker threads."""
        job = get_job(studio, job_id)
        pos = queue_positions(studio.store).get(job_id) if job.state == "queued" else None
        return job_view(job, pos)

    @app.get(f"{API}/jobs/{{job_id}}/events", response_model=list[JobEvent], tags=["jobs"],
             responses={404: {"description": "no such job"}})
    async def events(job_id: str = JOB_ID):
        """Every state transition of the job (and each change of stage while it ran)."""
        get_job(studio, job_id)
        return studio.store.events(job_id)


def _control_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/jobs/{{job_id}}/cancel", response_model=JobView, tags=["jobs"],
              responses={404: {"description": "no such job"}})
    def cancel(job_id: str = JOB_ID) -> JobView:
        """Stop a queued or running job (a finished job is left as it is)."""
        get_job(studio, job_id)
        job = studio.store.cancel(job_id)
        studio.scheduler.wake.set()
        return job_view(job)

    @app.delete(f"{API}/jobs/{{job_id}}", status_code=204, tags=["jobs"],
                responses={404: {"description": "no such job"}, 409: {"description": "still queued or running"}})
    def delete(job_id: str = JOB_ID) -> Response:
        """Remove a finished job and its files (cancel a queued or running one first)."""
        job = get_job(studio, job_id)
        if not job.final:
            return JSONResponse({"detail": f"job {job_id} is {job.state}: cancel it first"}, status_code=409)
        studio.store.delete(job_id)
        import shutil

        shutil.rmtree(studio.data.job_dir(job_id), ignore_errors=True)
        return Response(status_code=204)

    @app.get(f"{API}/jobs/{{job_id}}/files/{{output}}", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {t: {} for t in set(OUTPUTS.values())}},
                        206: {"description": "the requested byte range"},
                        404: {"description": "no such job or output"}, 416: {"description": "range not satisfiable"}})
    def download(request: Request, job_id: str = JOB_ID,
                 output: Literal["video", "poster", "camera_track", "depth", "frames"] = PathParam(),
                 download: bool = Query(False, description="as an attachment")):
        """A finished render's file; honours HTTP Range (the player seeks in the video)."""
        job = get_job(studio, job_id)
        if job.state != "done" or job.kind != "render" or output not in job.outputs:
            raise HTTPException(status_code=404, detail=f"job {job_id} has no {output}")
        path = inside(studio.data.job_output_dir(job_id), str(job.outputs[output]))
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"job {job_id}: {output} is missing on disk")
        name = f"citywalk-{job_id[:8]}.{DOWNLOAD_NAMES[output]}" if download else None
        return FileResponse(path, media_type=OUTPUTS[output], filename=name,
                            content_disposition_type="attachment" if download else "inline")


def add_job_routes(app: FastAPI, studio) -> None:
    _submit_routes(app, studio)
    _control_routes(app, studio)
