"""`citywalk serve` as a child process on a free loopback port: for the browser, durability and
load tests and the Studio benchmarks, which need a real server they can kill and restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import StudioError


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One `citywalk serve --data-dir DIR` process; `start()` waits until /api/v1/health answers."""

    def __init__(self, data_dir: Path, port: int | None = None, config_file: Path | None = None,
                 log_path: Path | None = None):
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.config_file = config_file
        self.log_path = log_path or self.data_dir.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> "ServerProcess":
        cmd = [sys.executable, "-m", "citywalk.cli", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env.pop("CITYWALK_STUDIO_TOKEN", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise StudioError(f"citywalk serve exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                self.get("/api/v1/health", timeout_s=2)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise StudioError(f"citywalk serve did not answer within {timeout_s:g} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def request(self, method: str, path: str, body: dict | None = None, timeout_s: float = 30.0):
        """(status, parsed JSON or raw bytes, headers) for one request; HTTP errors are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                status, raw, headers = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            status, raw, headers = exc.code, exc.read(), dict(exc.headers)
        if headers.get("content-type", headers.get("Content-Type", "")).startswith("application/json"):
            return status, json.loads(raw or b"null"), headers
        return status, raw, headers

    def get(self, path: str, timeout_s: float = 30.0):
        status, body, _ = self.request("GET", path, timeout_s=timeout_s)
        if status != 200:
            raise StudioError(f"GET {path}: HTTP {status}: {body!r:.300}")
        return body

    def kill(self) -> None:
        """SIGKILL the server, as a crash or a power cut would (its workers die with it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the server politely (SIGINT, as Ctrl-C), then by force."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
