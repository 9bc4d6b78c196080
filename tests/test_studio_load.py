"""A bounded load test, loopback only: `citywalk serve` as a process, 20 concurrent clients polling
status, listing jobs and fetching previews for 8 s while two tiny renders run. No answer may be a
5xx or a dropped connection, and both jobs must end done. (The full-size run, 50 clients for 60 s
with four 2-second jobs, is `benchmarks/studio_load.py`.)"""

import argparse
import asyncio
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from citywalk.studio.launch import ServerProcess  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "studio_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("studio_load_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_many_clients_get_no_server_error_and_lose_no_job(tmp_path):
    bench = _bench()
    args = argparse.Namespace(clients=20, seconds=8.0, jobs=2, job_s=1.0, size="160x90", fps=12)
    with ServerProcess(tmp_path / "data") as server:
        out = asyncio.run(bench.load(server, args))
    assert out["server_errors_or_failed_calls"] == 0, out["calls"]
    assert out["jobs_done"] == 2, out["jobs_not_done"]
    assert out["calls"]["status"]["count"] >= 20 and out["calls"]["status"]["codes"] == {
        "200": out["calls"]["status"]["count"]}
    assert sum(out["calls"]["preview"]["codes"].get(c, 0) for c in ("200", "429")) == out["calls"]["preview"]["count"]
