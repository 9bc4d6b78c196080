"""Durability: `citywalk serve` as a process gets SIGKILLed while a render runs, then restarts on
the same data folder. Every job ends done, the interrupted one re-queued and finished, outputs
finished before the kill are still whole, the job store passes SQLite's integrity check, uploads
are still there, and no worker outlives the server it belonged to."""

import sqlite3
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
av = pytest.importorskip("av")

from citywalk.studio.launch import ServerProcess  # noqa: E402
from citywalk.studio.paths import DataDir  # noqa: E402

TINY_S = {"output": {"duration_s": 1, "size": [160, 90], "fps": 12}}
LONGER = {"output": {"duration_s": 2, "size": [160, 90], "fps": 12}}
OSM = b"""<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6"><node id="1" lat="48.8566" lon="2.3522"/><node id="2" lat="48.8570" lon="2.3530"/>
<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way></osm>"""


def wait(client, job_id, states, timeout_s=180.0, min_fraction=0.0) -> dict:
    t = time.monotonic()
    while time.monotonic() - t < timeout_s:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in states and job["fraction"] >= min_fraction:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {job['state']} ({job['fraction']:.2f}), not {states}, after {timeout_s} s")


def frames_in(data: bytes) -> int:
    import io

    with av.open(io.BytesIO(data)) as c:
        return sum(1 for _ in c.decode(video=0))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_sigkill_mid_render_loses_no_job(tmp_path):
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    try:
        with httpx.Client(base_url=first.url, timeout=30) as c:
            r = c.post("/api/v1/worlds", data={"name": "block"}, files={"file": ("block.osm", OSM, "application/xml")})
            assert r.status_code == 201, r.text
            done_before = c.post("/api/v1/jobs", json={"shot": TINY_S}).json()["id"]
            before = wait(c, done_before, ("done",))
            video_before = c.get(before["files"]["video"]).content
            ids = [c.post("/api/v1/jobs", json={"shot": s}).json()["id"] for s in (LONGER, TINY_S)]
            wait(c, ids[0], ("running",), min_fraction=0.2)  # frames are being drawn
            pids = _query(data, "SELECT worker_pid FROM jobs WHERE state = 'running' AND worker_pid IS NOT NULL")
        first.kill()
    finally:
        first.stop()
    assert pids, "no worker was running when the server was killed"
    t = time.monotonic()
    while any(alive(p) for p in pids) and time.monotonic() - t < 10:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids), "a worker outlived its server"
    assert _query(data, "PRAGMA integrity_check") == ["ok"]

    with ServerProcess(data, port=first.port) as second, httpx.Client(base_url=second.url, timeout=30) as c:
        jobs = [wait(c, i, ("done", "failed", "cancelled"), timeout_s=240) for i in ids]
        for job, seconds in zip(jobs, (2, 1)):
            assert job["state"] == "done", job["reason"]
            video = c.get(job["files"]["video"]).content
            assert len(video) == job["facts"]["video_bytes"] and frames_in(video) == 12 * seconds
        assert jobs[0]["attempts"] == 2
        events = c.get(f"/api/v1/jobs/{ids[0]}/events").json()
        assert any("restarted" in e["detail"] for e in events), events
        again = c.get(f"/api/v1/jobs/{done_before}").json()
        assert again["state"] == "done" and c.get(again["files"]["video"]).content == video_before
        assert [w["name"] for w in c.get("/api/v1/worlds").json()] == ["block"]
    assert not [p for p in data.rglob("*") if p.name.endswith(".tmp")], "a temp file was left behind"


def _query(data, sql: str) -> list:
    """First column of each row of `sql` on the job store (a reader beside the server, as WAL allows)."""
    db = sqlite3.connect(DataDir(data).db_path, timeout=10)
    try:
        return [row[0] for row in db.execute(sql)]
    finally:
        db.close()
