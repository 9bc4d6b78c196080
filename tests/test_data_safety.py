"""Interrupted jobs lose nothing: a render, a capture submit and a likeness capture SIGKILLed at
random points leave the previous output intact, no half-written file under the final name and a
consistent capture catalog, and a rerun completes; a full disk (RLIMIT_FSIZE in the child) is a
one-line citywalk error with no partial output."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from citywalk.cli import main; sys.exit(main())"]
SHOT = """scene: {{source: procedural, style: tokyo, seed: {seed}}}
camera: {{rig: walk, speed_mps: 1.4, fov_deg: 70}}
look: {{when: noon, weather: clear}}
output: {{duration_s: {dur}, fps: 12, size: [96, 64], path: out.mp4, samples: 0}}
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _run(args, cwd, preexec=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec)


def _kill_after(args, cwd, delay_s: float) -> int:
    """Start the CLI, SIGKILL it after delay_s (if still running) → its return code."""
    proc = subprocess.Popen(CLI + list(args), cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(delay_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(30)


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _disk_full() -> None:
    """In the child: writes past 4 KiB fail with EFBIG, as on a full disk (not a SIGXFSZ kill)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 10, 4 << 10))


def test_killed_render_keeps_previous_video_and_rerun_completes(tmp_path):
    from citywalk.media import probe_video

    (tmp_path / "a.yaml").write_text(SHOT.format(seed=3, dur=1))
    (tmp_path / "b.yaml").write_text(SHOT.format(seed=4, dur=2))
    done = _run(["render", "a.yaml", "-o", "out.mp4"], tmp_path)
    assert done.returncode == 0, done.stderr
    before = (tmp_path / "out.mp4").read_bytes()
    rng = np.random.default_rng(18)
    for delay_s in rng.uniform(0.5, 4.0, 3):
        _kill_after(["render", "b.yaml", "-o", "out.mp4"], tmp_path, float(delay_s))
        now = (tmp_path / "out.mp4").read_bytes()
        assert now == before or probe_video(tmp_path / "out.mp4").frame_count == 24  # old, or new and whole
        before = now
        assert _visible(tmp_path) == ["a.yaml", "b.yaml", "out.mp4"]  # leftovers are hidden .part files only
    again = _run(["render", "b.yaml", "-o", "out.mp4"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert probe_video(tmp_path / "out.mp4").frame_count == 24


def test_render_on_a_full_disk_is_a_clear_error_without_partial_output(tmp_path):
    (tmp_path / "a.yaml").write_text(SHOT.format(seed=3, dur=4))
    res = _run(["render", "a.yaml", "-o", "out.mp4"], tmp_path, preexec=_disk_full)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert res.stderr.strip().splitlines()[-1].startswith("citywalk: error:"), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".mp4" or ".part" in p.name]


def _video(path: Path, n: int = 12) -> Path:
    import av

    rng = np.random.default_rng(n)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=12)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for _ in range(n):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), format="rgb24")
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _catalog_consistent(root: Path) -> list[str]:
    """Every catalog row has its folder and files; after sweep() no folder lacks a row."""
    from citywalk.capture.catalog import Catalog

    cat = Catalog(root)
    cat.sweep()
    names = sorted(e.name for e in cat.list())
    for e in cat.list():
        assert e.path.is_dir() and (e.path / e.source).exists(), e
    entry_dirs = {e.path.resolve() for e in cat.list()}
    folders = {p.parent.resolve() for p in entry_dirs} | {root / "entries"}
    stray = [p for f in folders if f.is_dir() for p in f.iterdir()
             if p.is_dir() and not p.name.startswith(".") and p.resolve() not in entry_dirs]
    assert not stray, stray
    return names


def test_killed_capture_submit_keeps_catalog_consistent_and_rerun_completes(tmp_path):
    catalog = tmp_path / "catalog"
    src = _video(tmp_path / "walk.mp4")
    args = ["capture", "submit", str(src), "--consent", "--catalog", str(catalog)]
    assert _run(args + ["--name", "first"], tmp_path).returncode == 0
    rng = np.random.default_rng(3)
    for delay_s in rng.uniform(0.3, 3.0, 3):
        _kill_after(args + ["--name", "second"], tmp_path, float(delay_s))
        names = _catalog_consistent(catalog)
        assert names in (["first"], ["first", "second"]), names
        if names == ["first", "second"]:
            break
    again = _run(args + ["--name", "second"], tmp_path)
    assert again.returncode == 0 or "already" in again.stderr, again.stderr
    assert _catalog_consistent(catalog) == ["first", "second"]


def _person_photo(path: Path) -> Path:
    from PIL import Image
    from skimage import data as skimage_data

    Image.fromarray(skimage_data.astronaut()).save(path, quality=92)
    return path


def test_killed_likeness_capture_keeps_previous_actor_and_rerun_completes(tmp_path):
    from citywalk.likeness.actor import Actor

    photo = _person_photo(tmp_path / "me.jpg")
    args = ["likeness", "capture", str(photo), "--height-m", "1.7", "-o", "me.actor"]
    done = _run(args, tmp_path)
    if done.returncode != 0:
        pytest.skip(f"likeness capture unavailable here: {done.stderr.strip()[-300:]}")
    before = Actor.load(tmp_path / "me.actor").frames_rgba
    rng = np.random.default_rng(7)
    for delay_s in rng.uniform(0.5, 4.0, 3):
        _kill_after(args[:-1] + ["me.actor"], tmp_path, float(delay_s))
        assert _visible(tmp_path) == ["me.actor", "me.jpg"]
        # the package under the final name is always whole: the old one, or the finished new one
        # (same input, so the same frames; only the zip timestamps may differ)
        assert np.array_equal(Actor.load(tmp_path / "me.actor").frames_rgba, before)
    res = _run(args, tmp_path, preexec=_disk_full)
    assert res.returncode in (0, 2), res.stderr
    if res.returncode == 2:
        assert res.stderr.strip().splitlines()[-1].startswith("citywalk: error:")
    assert np.array_equal(Actor.load(tmp_path / "me.actor").frames_rgba, before)
    assert _visible(tmp_path) == ["me.actor", "me.jpg"]


def test_finished_files_get_the_normal_file_mode(tmp_path):
    """Temp-then-rename writes must not leave finished files private (mkstemp makes them 0600)."""
    import os

    import numpy as np

    from citywalk.safeio import _process_umask
    from citywalk.tracks import atomic_write
    from citywalk.video.encode import VideoWriter

    want = 0o666 & ~_process_umask()
    track = atomic_write(tmp_path / "t.json", lambda p: p.write_text("{}"))
    with VideoWriter(tmp_path / "v.mp4", fps=4, size_px=(32, 16)) as w:
        for _ in range(2):
            w.write(np.zeros((16, 32, 3), np.uint8))
    for p in (track, tmp_path / "v.mp4"):
        assert os.stat(p).st_mode & 0o777 == want, p
