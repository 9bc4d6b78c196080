"""Live preview: one small frame of a Shot at clip time t, fast enough to follow a slider.

`PreviewEngine` runs in a dedicated process that owns the only GL context there. It keeps the
prepared scenes of the last few scene specs (scene, camera, actors, clip length) and one renderer
for the current one, so moving the time-of-day or weather controls only re-resolves the lighting
(~5 ms) and draws (~60 ms at 480×270 on two CPU cores). `PreviewService` is the server's side:
it starts the process, sends one request at a time over a pipe, restarts the process if it dies,
and keeps recent answers (identical requests are answered from memory).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import OrderedDict

from ..errors import CitywalkError
from . import StudioError

SCENES_KEPT = 4


class PreviewBusy(StudioError):
    """Too many previews are waiting; try again in a moment (HTTP 429)."""


class PreviewFailed(StudioError):
    """The preview process crashed or timed out (it is restarted for the next request)."""


def preview_shot(shot, box_px):
    """The Shot as the preview draws it: the pipeline's draft (same walk and look, one sample,
    cheap extras only) fitted inside box_px."""
    from ..pipeline import draft_shot

    return draft_shot(shot, box_px)


def scene_key(shot) -> str:
    """What the prepared scene and the cameras depend on (everything but the look)."""
    d = shot.model_dump(mode="json")
    d["output"] = {k: d["output"][k] for k in ("duration_s", "fps", "size", "samples")}
    d.pop("look")
    return json.dumps(d, sort_keys=True)


def local_clock(lighting, look) -> str:
    """HH:MM of the lighting's instant at the Shot's place."""
    from ..look.timeofday import local_tz

    return lighting.when_utc.astimezone(local_tz(look.lat, look.lon, look.tz)).strftime("%H:%M")


class PreviewEngine:
    """Draws preview frames with cached prepared scenes and one live renderer (one GL context)."""

    def __init__(self, box_px=(480, 270), quality: int = 82):
        self.box_px, self.quality = tuple(box_px), quality
        self.prepared: OrderedDict[str, object] = OrderedDict()
        self.renderer, self.renderer_key = None, None

    def _prepare(self, key: str, shot):
        from ..pipeline import prepare

        if key in self.prepared:
            self.prepared.move_to_end(key)
            return self.prepared[key], True
        p = prepare(shot)
        self.prepared[key] = p
        while len(self.prepared) > SCENES_KEPT:
            self.prepared.popitem(last=False)
        return p, False

    def _renderer(self, key: str, shot, p):
        from ..pipeline import open_renderer

        if self.renderer_key != key:
            self.close()
            self.renderer = open_renderer(shot, p)
            self.renderer_key = key
        return self.renderer

    def frame(self, shot, at_s: float):
        """(H, W, 3) uint8 preview of `shot` at `at_s` seconds into the clip, and facts about it."""
        from ..look.lighting import resolve_lighting

        small = preview_shot(shot, self.box_px)
        key = scene_key(small)
        t, cpu = time.perf_counter(), time.process_time()
        p, warm = self._prepare(key, small)
        r = self._renderer(key, small, p)
        i = int(min(max(round(at_s * small.output.fps), 0), len(p.frames) - 1))
        lighting = resolve_lighting(small.look, at_seconds=p.frames[i].time_s)
        r.update_lighting(lighting)
        r.exposure = None  # an unrelated still: meter afresh
        rgb = r.render(p.frames[i])["rgb"]
        info = {"ms": round(1000 * (time.perf_counter() - t), 1), "frame": i, "warm": warm,
                "cpu_ms": round(1000 * (time.process_time() - cpu), 1),  # all threads: llvmpipe's too
                "size": list(small.output.size), "sun_altitude_deg": round(float(lighting.sun_altitude_deg), 2),
                "local_time": local_clock(lighting, small.look)}
        return rgb, info

    def jpeg(self, shot, at_s: float) -> tuple[bytes, dict]:
        from PIL import Image

        rgb, info = self.frame(shot, at_s)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=self.quality)
        return buf.getvalue(), info

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
        self.renderer, self.renderer_key = None, None


def serve_previews(conn, box_px) -> None:
    """The preview process: answer ('render', shot_dict, at_s) requests until the pipe closes."""
    from ..shot import Shot

    engine = PreviewEngine(box_px)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] == "stop":
            break
        try:
            data, info = engine.jpeg(Shot.from_dict(msg[1], source="shot"), float(msg[2]))
            conn.send(("ok", data, info))
        except CitywalkError as exc:
            conn.send(("input", str(exc), None))
        except Exception as exc:  # reported to the client as a server fault, process stays up
            engine.close()
            engine.prepared.clear()
            conn.send(("internal", f"{type(exc).__name__}: {exc}", None))
    engine.close()


class PreviewService:
    """The server's handle on the preview process (thread-safe, one request at a time)."""

    def __init__(self, box_px=(480, 270), timeout_s: float = 60.0, max_waiting: int = 24, cache_items: int = 256):
        self.box_px, self.timeout_s, self.max_waiting = tuple(box_px), timeout_s, max_waiting
        self.lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.waiting = 0
        self.cache: OrderedDict[str, tuple[bytes, dict]] = OrderedDict()
        self.cache_items = cache_items
        self.proc = self.conn = None
        self.stats = {"rendered": 0, "cached": 0, "restarts": 0}
        self._spawner = None  # the one thread that starts the process (see _ensure)

    def _ensure(self) -> None:
        """Start the preview process if it is not running: a fresh interpreter (it owns its GL
        context) joined to this one by a socket pair."""
        import os
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection
        from pathlib import Path

        if self.proc is not None and self.proc.poll() is None:
            return
        if self.proc is not None:
            self.stats["restarts"] += 1
        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-m", "citywalk.studio.preview", "--fd", str(theirs.fileno()),
               "--box", f"{self.box_px[0]}x{self.box_px[1]}", "--parent", str(os.getpid())]
        # Started from one long-lived thread: the process dies when its parent dies, and Linux takes
        # the forking *thread* as the parent; the web server's worker threads come and go.
        if self._spawner is None:
            from concurrent.futures import ThreadPoolExecutor

            self._spawner = ThreadPoolExecutor(1, thread_name_prefix="citywalk-preview-spawn")
        self.proc = self._spawner.submit(subprocess.Popen, cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True).result()
        theirs.close()
        self.conn = Connection(mine.detach())

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def render(self, shot_dict: dict, at_s: float) -> tuple[bytes, dict]:
        """JPEG bytes and facts for a runnable Shot (a dict) at `at_s`; CitywalkError for bad input."""
        key = hashlib.sha256(json.dumps([shot_dict, round(float(at_s), 3)], sort_keys=True).encode()).hexdigest()
        with self.count_lock:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache.move_to_end(key)
                self.stats["cached"] += 1
                return hit[0], {**hit[1], "cached": True}
            if self.waiting >= self.max_waiting:
                raise PreviewBusy(f"{self.waiting} previews are waiting; try again shortly")
            self.waiting += 1
        try:
            if not self.lock.acquire(timeout=self.timeout_s):
                raise PreviewBusy("the preview is busy; try again shortly")
            try:
                data, info = self._ask(shot_dict, at_s)
            finally:
                self.lock.release()
        finally:
            with self.count_lock:
                self.waiting -= 1
        with self.count_lock:
            self.cache[key] = (data, info)
            while len(self.cache) > self.cache_items:
                self.cache.popitem(last=False)
            self.stats["rendered"] += 1
        return data, {**info, "cached": False}

    def _ask(self, shot_dict: dict, at_s: float) -> tuple[bytes, dict]:
        self._ensure()
        try:
            self.conn.send(("render", shot_dict, float(at_s)))
            if not self.conn.poll(self.timeout_s):
                self._kill()
                raise PreviewFailed(f"the preview took longer than {self.timeout_s:g} s and was stopped")
            status, payload, info = self.conn.recv()
        except (EOFError, OSError):
            self._kill()
            raise PreviewFailed("the preview process stopped unexpectedly; it restarts with the next request") from None
        if status == "input":
            raise CitywalkError(payload)
        if status == "internal":
            raise PreviewFailed(f"the preview failed: {payload}")
        return payload, info

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                try:
                    self.conn.send(("stop",))
                except OSError:
                    pass
            if self.proc is not None:
                try:
                    self.proc.wait(3)
                except Exception:
                    pass
            self._kill()
            if self._spawner is not None:
                self._spawner.shutdown(wait=False)
                self._spawner = None


def main(argv: list[str] | None = None) -> int:
    """`python -m citywalk.studio.preview --fd N --box 480x270 --parent PID` (started by PreviewService)."""
    import argparse
    from multiprocessing.connection import Connection

    from .worker import _die_with_parent

    p = argparse.ArgumentParser(prog="citywalk.studio.preview")
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--box", default="480x270")
    p.add_argument("--parent", type=int, required=True)
    a = p.parse_args(argv)
    _die_with_parent(a.parent)
    w, h = (int(v) for v in a.box.split("x"))
    serve_previews(Connection(a.fd), (w, h))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
