"""The farm: a Shot rendered in chunks — in this process or on a local two-CPU Ray — decodes to
exactly the frames of the local render; the light and the exposure do not depend on where a
chunk starts; a killed worker's chunk is redone; a bad Shot fails with the local error.

One Ray session serves the whole module (starting Ray takes seconds)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from citywalk import pipeline
from citywalk.cli import main
from citywalk.errors import SceneError
from citywalk.farm import FarmError, LocalExecutor, RayExecutor, executor_from_spec
from citywalk.farm import render as farm_render
from citywalk.render.precipitation import lightning_flash_klux
from citywalk.shot import Shot

FPS = 16
N_FRAMES = 24  # 1.5 s at 16 fps, 160x90
STORM_AT_S = 0.6


def _storm_seed() -> int:
    """A scene seed whose first lightning flash falls inside the shot, after the storm arrives."""
    return next(s for s in range(500)
                if any(lightning_flash_klux(i / FPS, s, True) > 0 for i in range(round(0.9 * FPS), N_FRAMES - 2)))


@pytest.fixture(scope="module")
def actor_path(tmp_path_factory):
    from citywalk.likeness.capture import capture_actor

    rng = np.random.default_rng(0)
    img = np.zeros((120, 64, 3), np.uint8)
    img[:] = (0, 200, 0)
    img[10:115, 20:44] = rng.integers(60, 200, (105, 24, 3))  # a person-shaped block on green
    path = tmp_path_factory.mktemp("actor") / "me.actor"
    capture_actor(img, height_m=1.7, method="chroma").save(path)
    return path


@pytest.fixture(scope="module")
def shot(actor_path) -> Shot:
    """Weather keyed from clear to a thunderstorm (with a flash in the shot) and an actor ahead."""
    return Shot.from_dict({
        "scene": {"source": "procedural", "style": "tokyo", "seed": _storm_seed()},
        "actors": [{"likeness": str(actor_path), "placement": "ahead", "distance_m": 3.0}],
        "look": {"when": "17:30", "weather": [{"t_s": 0.0, "weather": "clear"},
                                              {"t_s": STORM_AT_S, "weather": "thunderstorm"}]},
        "output": {"duration_s": N_FRAMES / FPS, "fps": FPS, "size": [160, 90], "samples": 1,
                   "extras": ["camera_track"]}})


@pytest.fixture(scope="module")
def reference(shot, tmp_path_factory):
    """The local render (pipeline.render_shot): the hashes of the frames it encoded (in order)
    and its decoded frames."""
    seen = []
    res = pipeline.render_shot(shot, tmp_path_factory.mktemp("ref") / "local.mp4",
                               on_frame=lambda i, rgb: seen.append((i, _hash(rgb))))
    return SimpleNamespace(result=res, frames=decoded(res.video), hashes=[h for _, h in seen],
                           indices=[i for i, _ in seen])


def farm_frames(shot, executor, path, **kw):
    """farm.render_shot, keeping the hash of every frame it hands the encoder."""
    seen = []
    res = farm_render.render_shot(shot, executor, path, on_frame=lambda i, rgb: seen.append((i, _hash(rgb))), **kw)
    return res, [h for _, h in seen], [i for i, _ in seen]


def assert_same_video(res, reference, hashes, indices):
    """The farm encoded the local render's frames bit for bit, in order; its video decodes to
    them within the encoder's own run-to-run wobble (this libx264 is not always bit-repeatable)."""
    assert indices == reference.indices == list(range(len(reference.hashes)))
    assert hashes == reference.hashes
    frames = decoded(res.video)
    assert len(frames) == len(reference.frames)
    for a, b in zip(frames, reference.frames):
        assert np.abs(a.astype(int) - b).mean() < 1.0


@pytest.fixture(scope="module")
def ray_farm():
    pytest.importorskip("ray")
    ex = RayExecutor(num_cpus=2)
    ex.resources()  # start it now, not inside the first timed test
    yield ex
    ex.close()


def decoded(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _hash(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


# ---------------------------------------------------------------- time-pure light and exposure
class _RecordingRenderer:
    """Holds what LightTimeline last uploaded (the part of the Renderer interface it uses)."""

    def __init__(self, first):
        self.state = (first, 0.0)

    def update_lighting(self, lighting, flash_klux: float = 0.0) -> None:
        self.state = (lighting, flash_klux)


def _light_key(state) -> tuple:
    lighting, flash = state
    return lighting.when_utc, lighting.weather.model_dump_json(), flash


def test_light_timeline_depends_only_on_frame_time(shot):
    from citywalk.look.lighting import resolve_lighting

    first = resolve_lighting(shot.look)
    times = [i / FPS for i in range(N_FRAMES)]
    whole, r = pipeline.LightTimeline(shot, first), _RecordingRenderer(first)
    sequence = []
    for t in times:
        whole.apply(r, t)
        sequence.append(_light_key(r.state))
    assert len({k[1] for k in sequence}) > 2, "the keyed weather changes during the shot"
    assert any(k[2] > 0 for k in sequence), "a lightning flash falls inside the shot"
    for start in (1, 7, 13, 20):  # a chunk that starts here sees the same light frame by frame
        tl, r = pipeline.LightTimeline(shot, first), _RecordingRenderer(first)
        for i in range(start, min(start + 3, N_FRAMES)):
            tl.apply(r, times[i])
            assert _light_key(r.state) == sequence[i], (start, i)


def test_exposure_track_is_the_cameras_adaptation():
    """Constant light holds its exposure; a step in scene luminance is followed with the camera's
    time constant; a brighter highlight lowers the exposure (the p95 guard)."""
    from citywalk.render.exposure import ADAPTATION_TIME_S

    times = np.arange(48) / 24.0
    meters = np.tile([[0.5, 2.0]], (48, 1))
    steady = pipeline.exposure_track(meters, times)
    assert np.allclose(steady, steady[0])
    meters[24:, 0] = 4.0  # the street gets 8x brighter at t = 1 s
    track = np.log(pipeline.exposure_track(meters, times))
    final = np.log(pipeline.exposure_track(meters[-1:], times[-1:]))[0]
    assert track[23] == pytest.approx(np.log(steady[0])) and final < track[23]
    i_tau = 24 + round(ADAPTATION_TIME_S * 24)
    left = (track[i_tau] - final) / (track[23] - final)
    assert left == pytest.approx(np.exp(-(i_tau - 23) / 24 / ADAPTATION_TIME_S), rel=1e-6)
    assert np.all(np.diff(track[23:]) < 0)  # smooth, no overshoot
    hot = meters.copy()
    hot[:, 1] = 50.0
    assert np.all(pipeline.exposure_track(hot, times) < np.exp(track))


def test_exposure_track_agrees_with_the_renderers_own_metering(shot):
    """The renderer's built-in auto-exposure and the precomputed track give the same exposure
    for the same meter readings (both go through render.exposure.adapt)."""
    p = pipeline.prepare(shot)
    size = pipeline.meter_size_px(shot.output.size)
    small = shot.model_copy(update={"output": shot.output.model_copy(update={"size": list(size), "samples": 1})})
    r = pipeline.open_renderer(small, p)
    try:
        light, meters, own = pipeline.LightTimeline(shot, p.lighting), [], []
        for cam in p.frames[:10]:
            light.apply(r, cam.time_s)
            r.render(pipeline._resized(cam, size))
            meters.append(r.metered_luminance())
            own.append(r.exposure)
    finally:
        r.close()
    track = pipeline.exposure_track(np.array(meters), [c.time_s for c in p.frames[:10]])
    assert np.allclose(track, own, rtol=1e-9)


def test_chunks_of_1_3_and_whole_render_the_same_pixels(shot):
    p = pipeline.prepare(shot)
    n = len(p.frames)
    meters = pipeline.meter_frames(shot, 0, n, p)
    exposures = pipeline.exposure_track(meters, [f.time_s for f in p.frames])
    whole = [img["rgb"] for _, img in pipeline.render_frames(shot, 0, n, exposures, p)]
    flash = next(i for i, f in enumerate(p.frames) if lightning_flash_klux(f.time_s, shot.scene.seed, True) > 0)
    storm = round(STORM_AT_S * FPS)
    for size, starts in ((1, [0, storm, flash, n - 1]), (3, [storm - 2, flash - 1])):
        for a in starts:
            b = min(n, a + size)
            assert np.array_equal(pipeline.meter_frames(shot, a, b, p), meters[a:b]), (size, a)
            part = [img["rgb"] for _, img in pipeline.render_frames(shot, a, b, exposures[a:b], p)]
            for k, rgb in enumerate(part):
                assert np.array_equal(rgb, whole[a + k]), f"chunk size {size}: frame {a + k} differs"
    assert np.ptp([f.mean() for f in whole]) > 1.0, "the light changes in the shot"


def test_local_executor_in_chunks_matches_the_local_render(shot, reference, tmp_path, monkeypatch):
    opened = []
    real_open = pipeline.open_renderer
    monkeypatch.setattr(pipeline, "open_renderer", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    seen = []
    res, hashes, indices = farm_frames(shot, LocalExecutor(), tmp_path / "farm.mp4", on_fraction=seen.append,
                                       chunk_frames=5)
    assert_same_video(res, reference, hashes, indices)
    assert res.timings_s["render_tasks"] == 5 and seen[-1] == pytest.approx(1.0)
    # the metering task's renderer draws the first chunk; each later chunk opens its own
    assert res.timings_s["meter_tasks"] == 1 and len(opened) == 5
    assert not farm_render._RENDERER and not farm_render._PREPARED, "nothing kept after the render"
    assert np.all(np.diff(seen) >= 0)
    assert (tmp_path / "farm.camera.json").read_text() == reference.result.extras["camera_track"].read_text()


def test_segments_joined_by_stream_copy_would_not_match(reference, tmp_path):
    """Why the farm encodes once: two x264 segments joined packet by packet decode differently."""
    import av

    from citywalk.video.encode import VideoWriter

    frames = reference.frames
    half = len(frames) // 2
    parts = []
    for k, chunk in enumerate((frames[:half], frames[half:])):
        parts.append(tmp_path / f"part{k}.mp4")
        with VideoWriter(parts[-1], FPS, (160, 90), crf=20) as w:
            for f in chunk:
                w.write(f)
    joined = tmp_path / "joined.mp4"
    with av.open(str(joined), "w") as out:
        stream, offset_s = None, 0.0
        for part, count in zip(parts, (half, len(frames) - half)):
            with av.open(str(part)) as src:
                s = src.streams.video[0]
                stream = stream or out.add_stream_from_template(s)
                shift = int(round(offset_s / s.time_base))
                for packet in src.demux(s):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, stream
                    out.mux(packet)
            offset_s += count / FPS
    single = tmp_path / "single.mp4"
    with VideoWriter(single, FPS, (160, 90), crf=20) as w:
        for f in frames:
            w.write(f)
    a, b = decoded(joined), decoded(single)
    assert len(a) == len(b) == len(frames)
    assert any(not np.array_equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- on a local Ray (two CPUs)
def test_ray_render_matches_the_local_render_and_reports_progress(shot, reference, ray_farm, tmp_path):
    seen = []
    res, hashes, indices = farm_frames(shot, ray_farm, tmp_path / "ray.mp4", on_fraction=seen.append,
                                       chunk_frames=3)
    assert_same_video(res, reference, hashes, indices)
    assert res.timings_s["render_tasks"] == N_FRAMES // 3
    assert seen[-1] == pytest.approx(1.0) and np.all(np.diff(seen) >= 0) and len(seen) > 8
    assert res.copyright == reference.result.copyright


def _ray_task_pids(title: str) -> list[int]:
    """Worker processes whose title Ray set to `title` (it names the task a worker runs)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0].decode(errors="replace").strip() == title:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_a_killed_worker_is_replaced_and_the_video_is_still_identical(shot, reference, ray_farm, tmp_path):
    killed, stop = [], threading.Event()

    def kill_one_render_worker():
        while not stop.is_set() and not killed:
            for pid in _ray_task_pids("ray::citywalk-render"):
                time.sleep(0.3)  # let it get into the chunk
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_render_worker, daemon=True)
    killer.start()
    try:
        res, hashes, indices = farm_frames(shot, ray_farm, tmp_path / "killed.mp4", chunk_frames=6)
    finally:
        stop.set()
        killer.join()
    assert killed, "a render worker was killed mid-job"
    assert_same_video(res, reference, hashes, indices)


def test_a_bad_shot_fails_fast_with_the_local_error(ray_farm, tmp_path):
    bad_mesh = tmp_path / "broken.glb"
    bad_mesh.write_bytes(b"glTF not really")
    shot = Shot.from_dict({"scene": {"source": "mesh", "path": str(bad_mesh)},
                           "output": {"duration_s": 1.0, "fps": 8, "size": [160, 90]}})
    with pytest.raises(SceneError) as local:
        pipeline.render_shot(shot, tmp_path / "local.mp4")
    t = time.perf_counter()
    with pytest.raises(SceneError) as farm:
        farm_render.render_shot(shot, ray_farm, tmp_path / "farm.mp4")
    assert time.perf_counter() - t < 30.0  # not retried: a bad input is not a lost worker
    assert str(farm.value) == str(local.value) and type(farm.value) is type(local.value)
    assert not (tmp_path / "farm.mp4").exists() and not list(tmp_path.glob(".farm*"))


def test_cli_render_on_the_farm(ray_farm, tmp_path, capsys):
    argv = ["render", "--duration", "0.5", "--fps", "8", "--size", "160x90", "-o", str(tmp_path / "cli.mp4")]
    assert main([*argv, "--farm", "ray"]) == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out
    assert main([*argv, "--farm", "local", "-o", str(tmp_path / "cli_local.mp4")]) == 0
    ray_frames, local_frames = decoded(tmp_path / "cli.mp4"), decoded(tmp_path / "cli_local.mp4")
    assert len(ray_frames) == len(local_frames) == 4  # (same frames; x264 may wobble a level or so)
    assert all(np.abs(a.astype(int) - b).mean() < 1.0 for a, b in zip(ray_frames, local_frames))
    code = main([*argv, "--farm", "slurm"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("citywalk: error: --farm 'slurm'") and err.count("\n") == 1


# ---------------------------------------------------------------- executors and imports
def test_farm_specs_name_their_executor():
    assert isinstance(executor_from_spec(None), LocalExecutor)
    assert isinstance(executor_from_spec("local"), LocalExecutor)
    assert executor_from_spec("ray").address is None
    assert executor_from_spec("auto").address == "auto"
    assert executor_from_spec("ray://head:10001").address == "ray://head:10001"
    for bad in ("ray://", "slurm", "http://head:8265"):
        with pytest.raises(FarmError, match="--farm"):
            executor_from_spec(bad)


def test_chunk_plans_cover_every_frame_once():
    assert farm_render.plan_chunks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert farm_render.plan_chunks(7, 100) == [(0, 7)]
    assert farm_render.auto_chunk_frames(240, 2, (640, 360)) == 120
    assert farm_render.auto_chunk_frames(240, 1, (3840, 2160)) == 10  # 10 UHD frames ≈ 249 MB
    with pytest.raises(ValueError):
        farm_render.plan_chunks(7, 0)


def test_import_farm_does_not_load_ray():
    code = "import sys, citywalk.farm, citywalk.farm.render; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- capture jobs
def test_capture_process_runs_sfm_and_training_as_ray_tasks(ray_farm, tmp_path):
    """A tiny synthetic capture through the catalog with SfM and training on Ray (CPU here: the
    training task asks for a GPU only where the cluster has one)."""
    pytest.importorskip("pycolmap")
    pytest.importorskip("torch")
    from citywalk.capture.catalog import CaptureMeta, resolve_scene
    from citywalk.capture.frames import FrameOptions
    from citywalk.capture.intake import submit
    from citywalk.capture.process import ProcessOptions
    from citywalk.capture.train import TrainOptions
    from citywalk.farm import capture as farm_capture

    video, _ = pipeline.render_synthetic_walk(tmp_path, frames=24, size_px=(256, 144))
    root = tmp_path / "catalog"
    submit(root, video, CaptureMeta(place="procedural tokyo", contributor="test", consent=True), name="walk")
    opts = ProcessOptions(frames=FrameOptions(target_fps=12),
                          train=TrainOptions(iterations=20, max_side_px=128, sh_degree=1, sh_every=60,
                                             densify_from=40, densify_every=40, fill_points=1000))
    assert farm_capture.train_resources(ray_farm) == {"num_cpus": 2.0}
    seen = []
    entry = farm_capture.process_capture(root, "walk", opts, seen.append, executor=ray_farm)
    assert entry.status == "processed", entry.reasons
    assert seen and seen[-1] == pytest.approx(1.0)
    assert entry.qa["training"]["device"] == "cpu" and entry.qa["training"]["iterations"] == 20
    assert resolve_scene("walk", root).is_file()


def test_a_renderer_that_metered_the_shot_draws_what_a_fresh_one_does(shot):
    """pipeline.render_shot meters and draws with one renderer: its meter readings are those of
    the small renderer a farm's metering task opens, and its frames those of a fresh renderer,
    though the metering left it holding the storm's light of the last frame."""
    p = pipeline.prepare(shot)
    n = len(p.frames)
    own = pipeline.meter_frames(shot, 0, n, p)
    r = pipeline.open_renderer(shot, p)
    try:
        assert np.array_equal(pipeline.meter_frames(shot, 0, n, p, renderer=r), own)
        exposures = pipeline.exposure_track(own, [f.time_s for f in p.frames])
        shared = [_hash(img["rgb"]) for _, img in pipeline.render_frames(shot, 0, n, exposures, p, renderer=r)]
    finally:
        r.close()
    fresh = [_hash(img["rgb"]) for _, img in pipeline.render_frames(shot, 0, n, exposures, p)]
    assert shared == fresh
