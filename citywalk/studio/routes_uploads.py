"""Upload routes: a likeness clip or photo → actor job; a capture video or photo set → capture job;
a world file (OSM, mesh, KMZ, splat) stored for Shots to name. Also listing and removing them."""

from __future__ import annotations

import shutil
import uuid
from typing import Literal

from fastapi import FastAPI, File, Form, HTTPException, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from .paths import NAME_RE, WORLD_SUFFIXES
from .resolve import FieldError
from .routes_info import list_actors, list_worlds
from .routes_jobs import job_view, queue_positions
from .schemas import ActorInfo, JobView, WorldInfo
from .uploads import (
    CAPTURE_PHOTO_SUFFIXES,
    CAPTURE_VIDEO_SUFFIXES,
    LIKENESS_SUFFIXES,
    WORLD_CONTENT,
    UploadRefused,
    save_upload,
    suffix_of,
)

API = "/api/v1"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
UPLOAD_RESPONSES = {
    409: {"description": "the name is taken"},
    413: {"description": "over the size limit"},
    415: {"description": "not an accepted file type"},
    422: {"description": "a field is not acceptable"},
}


def _pending_names(studio, kind: str) -> set[str]:
    jobs = studio.store.list(kind=kind, state="queued", limit=10_000) + studio.store.list(kind=kind, state="running",
                                                                                          limit=10_000)
    return {j.request.get("name") for j in jobs}


def _taken(what: str, name: str) -> JSONResponse:
    return JSONResponse({"detail": f"{what} '{name}' exists already (or is being made): choose another name"},
                        status_code=409)


def _actor_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/actors", status_code=202, response_model=JobView, tags=["actors"], responses=UPLOAD_RESPONSES)
    def upload_likeness(
        file: UploadFile = File(description="a clip (MP4/MOV) or a photo (PNG/JPEG/WebP) of one person"),
        name: str = Form(pattern=NAME_PATTERN),
        height_m: float = Form(ge=0.3, le=2.8),
        method: Literal["auto", "mediapipe", "chroma", "background"] = Form("auto"),
    ):
        """Start an actor job: the person is cut out and becomes actor `name` for Shots' actors."""
        if studio.data.actor_path(name).exists() or name in _pending_names(studio, "actor"):
            return _taken("actor", name)
        suffix = suffix_of(file.filename, LIKENESS_SUFFIXES, "likeness upload")
        job_id = uuid.uuid4().hex
        dest = studio.data.upload_dir(job_id) / f"source{suffix}"
        try:
            size = save_upload(file, dest, studio.config.uploads.likeness_bytes, LIKENESS_SUFFIXES[suffix],
                               "likeness upload")
        except BaseException:
            shutil.rmtree(dest.parent, ignore_errors=True)
            raise
        request = {"name": name, "height_m": height_m, "method": method, "bytes": size}
        job = studio.store.submit("actor", studio.config.default_plan, request,
                                  {**request, "source": str(dest)}, title=f"actor {name}", job_id=job_id)
        studio.scheduler.wake.set()
        return job_view(job, queue_positions(studio.store).get(job.id))

    @app.get(f"{API}/actors", response_model=list[ActorInfo], tags=["actors"])
    def actors():
        return list_actors(studio)

    @app.delete(f"{API}/actors/{{name}}", status_code=204, tags=["actors"], responses={404: {"description": "none"}})
    def delete_actor(name: str = PathParam(pattern=NAME_PATTERN)):
        p = studio.data.actor_path(name)
        if not p.is_file():
            raise HTTPException(status_code=404, detail=f"no actor {name}")
        p.unlink()
        p.with_suffix(".png").unlink(missing_ok=True)
        return Response(status_code=204)


def _save_capture(studio, job_id: str, files: list[UploadFile]) -> str:
    """One video, or photos saved as 0001.jpg… in upload order → the staged source path."""
    limits = studio.config.uploads
    folder = studio.data.upload_dir(job_id)
    if len(files) == 1 and files[0].filename and files[0].filename.lower().endswith(tuple(CAPTURE_VIDEO_SUFFIXES)):
        suffix = suffix_of(files[0].filename, CAPTURE_VIDEO_SUFFIXES, "capture upload")
        dest = folder / f"source{suffix}"
        save_upload(files[0], dest, limits.capture_bytes, "isobmff", "capture video")
        return str(dest)
    if len(files) > limits.capture_photos:
        raise UploadRefused(f"capture upload: {len(files)} photos; at most {limits.capture_photos}", 413)
    left = limits.capture_bytes
    for i, f in enumerate(files):
        suffix = suffix_of(f.filename, CAPTURE_PHOTO_SUFFIXES, f"capture photo {i + 1}")
        left -= save_upload(f, folder / "photos" / f"{i + 1:04d}{suffix}", left,
                            CAPTURE_PHOTO_SUFFIXES[suffix], f"capture photo {i + 1}")
    return str(folder / "photos")


def _capture_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/captures", status_code=202, response_model=JobView, tags=["captures"],
              responses=UPLOAD_RESPONSES)
    def upload_capture(files: list[UploadFile] = File(description="one video (MP4/MOV) or several photos (JPEG/PNG)"),
                       name: str = Form(pattern=NAME_PATTERN), place: str = Form("", max_length=200),
                       lat: float | None = Form(None, ge=-90, le=90), lon: float | None = Form(None, ge=-180, le=180),
                       contributor: str = Form("", max_length=200), licence: str = Form("CC-BY-4.0", max_length=200),
                       consent: bool = Form(description="the people and owners shown agreed to publication")):
        """Start a capture job: intake, frames and QA, camera poses, splat training → scene `name`."""
        if not consent:
            raise FieldError(("consent",), "confirm that the people and property shown may be published")
        if not licence.strip():
            raise FieldError(("licence",), "name a licence, e.g. CC-BY-4.0")
        from ..capture.catalog import Catalog

        known = {e.name for e in Catalog(studio.config.catalog_root()).list()}
        if name in known or name in _pending_names(studio, "capture"):
            return _taken("scene", name)
        job_id = uuid.uuid4().hex
        try:
            source = _save_capture(studio, job_id, files)
        except BaseException:
            shutil.rmtree(studio.data.upload_dir(job_id), ignore_errors=True)
            raise
        meta = {"place": place, "lat": lat, "lon": lon, "contributor": contributor, "licence": licence,
                "consent": True}
        request = {"name": name, "files": len(files), **meta}
        spec = {"name": name, "source": source, "meta": meta, "iterations": studio.config.capture_iterations,
                "budget_s": studio.config.capture_budget_s}
        job = studio.store.submit("capture", studio.config.default_plan, request, spec, title=f"capture {name}",
                                  job_id=job_id)
        studio.scheduler.wake.set()
        return job_view(job, queue_positions(studio.store).get(job.id))


def _world_routes(app: FastAPI, studio) -> None:
    @app.post(f"{API}/worlds", status_code=201, response_model=WorldInfo, tags=["worlds"], responses=UPLOAD_RESPONSES)
    def upload_world(file: UploadFile = File(description=".osm/.osm.pbf, .glb/.obj/.ply mesh, .kmz, .splat/.spz"),
                     name: str = Form(pattern=NAME_PATTERN)) -> WorldInfo:
        """Store a world file; Shots walk it with scene.source as listed and scene.path = name."""
        if studio.data.world_file(name) is not None:
            return _taken("world", name)
        suffix = suffix_of(file.filename, WORLD_CONTENT, "world upload")
        folder = studio.data.world_dir(name)
        dest = folder / f"world{suffix}"
        try:
            size = save_upload(file, dest, studio.config.uploads.world_bytes, WORLD_CONTENT[suffix], "world upload")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        source = "splat" if suffix == ".ply" and _is_splat_ply(dest) else WORLD_SUFFIXES[suffix]
        (folder / "source.txt").write_text(source, encoding="utf-8")
        return WorldInfo(name=name, source=source, bytes=size)

    @app.get(f"{API}/worlds", response_model=list[WorldInfo], tags=["worlds"])
    def worlds():
        return list_worlds(studio)

    @app.delete(f"{API}/worlds/{{name}}", status_code=204, tags=["worlds"], responses={404: {"description": "none"}})
    def delete_world(name: str = PathParam(pattern=NAME_PATTERN)):
        if studio.data.world_file(name) is None:
            raise HTTPException(status_code=404, detail=f"no world {name}")
        shutil.rmtree(studio.data.world_dir(name), ignore_errors=True)
        return Response(status_code=204)


def _is_splat_ply(path) -> bool:
    """A Gaussian-splat PLY carries per-vertex opacity and scales; a mesh PLY does not."""
    with open(path, "rb") as f:
        head = f.read(8192)
    end = head.find(b"end_header")
    header = head[:end if end > 0 else len(head)]
    return b"property float opacity" in header and b"scale_0" in header


def add_upload_routes(app: FastAPI, studio) -> None:
    _actor_routes(app, studio)
    _capture_routes(app, studio)
    _world_routes(app, studio)


__all__ = ["add_upload_routes", "NAME_RE"]
