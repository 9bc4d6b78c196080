"""Load on the Studio, loopback only: `citywalk serve` runs as a process; 4 two-second render jobs are
queued at once while N concurrent clients (default 50) poll job status, list jobs and fetch
previews for a fixed time (default 60 s). Prints JSON: render throughput (jobs/min), latency of each
call (median, p95), how many answers were 5xx (must be 0) or 429 (preview busy, the client retries
later), and whether every job ended done (no job lost)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from citywalk.studio.launch import ServerProcess


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def job_shot(args, i: int) -> dict:
    w, h = (int(v) for v in args.size.split("x"))
    return {"scene": {"style": "paris", "seed": i}, "look": {"when": "golden_hour"},
            "output": {"duration_s": args.job_s, "size": [w, h], "fps": args.fps}}


def preview_body(rng: random.Random) -> dict:
    minutes = 6 * 60 + 30 * rng.randrange(24)  # 24 slider stops: some new frames, then cache hits
    return {"shot": {"scene": {"style": "tokyo"}, "look": {"when": f"{minutes // 60:02d}:{minutes % 60:02d}"},
                     "output": {"duration_s": 10, "size": [1280, 720], "fps": 24}}, "at_s": 2.0}


async def client_loop(c: httpx.AsyncClient, ids: list[str], until: float, seed: int, out: dict) -> None:
    """One person's tab: mostly status polls, now and then the job list or a preview."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.7:
            name, req = "status", c.build_request("GET", f"/api/v1/jobs/{rng.choice(ids)}")
        elif roll < 0.85:
            name, req = "list", c.build_request("GET", "/api/v1/jobs?kind=render&limit=48")
        else:
            name, req = "preview", c.build_request("POST", "/api/v1/preview", json=preview_body(rng))
        t0 = time.perf_counter()
        try:
            r = await c.send(req)
            code = r.status_code
        except httpx.HTTPError as exc:
            code = f"error {type(exc).__name__}"
        out[name].append((1000 * (time.perf_counter() - t0), code))
        await asyncio.sleep(rng.uniform(0.2, 0.6) if name == "status" else rng.uniform(0.5, 1.5))


async def load(server: ServerProcess, args) -> dict:
    limits = httpx.Limits(max_connections=args.clients + 4, max_keepalive_connections=args.clients + 4)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as c:
        t_submit = time.monotonic()
        ids = []
        for i in range(args.jobs):
            r = await c.post("/api/v1/jobs", json={"shot": job_shot(args, i)})
            r.raise_for_status()
            ids.append(r.json()["id"])
        out: dict[str, list] = defaultdict(list)
        until = time.monotonic() + args.seconds
        await asyncio.gather(*(client_loop(c, ids, until, k, out) for k in range(args.clients)))
        t_load_end = time.monotonic()
        jobs = {}
        while True:
            jobs = {i: (await c.get(f"/api/v1/jobs/{i}")).json() for i in ids}
            if all(j["state"] in ("done", "failed", "cancelled") for j in jobs.values()) or \
                    time.monotonic() - t_submit > args.seconds + 900:
                break
            await asyncio.sleep(0.5)
        preview_stats = (await c.get("/api/v1/health")).json()["preview"]
    done = [j for j in jobs.values() if j["state"] == "done"]
    last_done = max((j["finished_at"] for j in done), default=None)
    span_s = None
    if done:
        from datetime import datetime

        first = min(datetime.fromisoformat(j["created_at"]) for j in jobs.values())
        span_s = (datetime.fromisoformat(last_done) - first).total_seconds()
    calls = {}
    for name, rows in out.items():
        ms = [m for m, code in rows if code == 200]
        codes = defaultdict(int)
        for _, code in rows:
            codes[str(code)] += 1
        calls[name] = {"count": len(rows), "codes": dict(codes),
                       "median_ms": round(statistics.median(ms), 1) if ms else None,
                       "p95_ms": round(pct(ms, 0.95), 1) if ms else None}
    five = sum(n for rows in calls.values() for code, n in rows["codes"].items()
               if code.startswith("5") or "error" in code)
    return {"load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "clients": args.clients, "load_s": round(t_load_end - t_submit, 1), "jobs": args.jobs,
            "job": f"{args.job_s:g} s at {args.size}, {args.fps} fps", "jobs_done": len(done),
            "jobs_not_done": {i: (j["state"], j["reason"]) for i, j in jobs.items() if j["state"] != "done"},
            "render_span_s": round(span_s, 1) if span_s else None,
            "throughput_jobs_per_min": round(60 * len(done) / span_s, 2) if span_s else None,
            "calls": calls, "preview_process": preview_stats, "server_errors_or_failed_calls": five}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--job-s", type=float, default=2.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", type=int, default=24)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="citywalk-bench-") as tmp, ServerProcess(Path(tmp) / "data") as server:
        print(json.dumps(asyncio.run(load(server, a)), indent=2))


if __name__ == "__main__":
    main()
