"""Generative backends end to end on the CPU with tiny random-weight pipelines built from configs,
saved like real checkpoints and loaded through citywalk's own loading code (toy sizes, 2 steps)."""

import json

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from citywalk.errors import CitywalkError, MissingModel  # noqa: E402
from citywalk.generate import backends  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Toy-sized models run 10x faster on one thread than on two contended ones (2-core CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folders of every tiny pipeline kind (sdxl, sd, controlnet_depth, svd, inpaint, ltx, wan, cogvideox)."""
    from citywalk.generate.tiny import TINY_KINDS, build_tiny

    root = tmp_path_factory.mktemp("tiny_models")
    return {kind: str(build_tiny(kind, root / kind, seed=i)) for i, kind in enumerate(TINY_KINDS)}


@pytest.fixture(autouse=True)
def _offline_places(tmp_path, monkeypatch):
    """No real model folder or HF cache leaks in: both point at empty folders of this test."""
    monkeypatch.setenv("CITYWALK_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


def test_first_frame_shape_and_seed(tiny):
    from citywalk.generate import first_frame

    a = first_frame("a tokyo alley at dusk", (48, 32), seed=3, model=tiny["sdxl"], steps=2)
    b = first_frame("a tokyo alley at dusk", (48, 32), seed=3, model=tiny["sdxl"], steps=2)
    c = first_frame("a tokyo alley at dusk", (48, 32), seed=4, model=tiny["sdxl"], steps=2)
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 1.0


def test_missing_model_is_one_line_naming_model_places_and_fix(tmp_path):
    from citywalk.generate import first_frame

    with pytest.raises(MissingModel) as err:
        first_frame("x", (32, 32), 0, model="someone/no-such-model")
    msg = str(err.value)
    assert "\n" not in msg and "someone/no-such-model" in msg
    assert str(tmp_path / "models" / "someone--no-such-model") in msg and str(tmp_path / "hf") in msg
    assert "hf download someone/no-such-model" in msg


def test_models_are_found_in_citywalk_folder_and_offline_hf_cache(tmp_path):
    root = tmp_path / "models" / "org--name"
    root.mkdir(parents=True)
    assert backends.resolve_model("org/name", "first_frame") == root
    snap = tmp_path / "hf" / "models--org--other" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    assert backends.resolve_model("org/other", "first_frame") == snap


def test_backend_status_and_models_command(tiny, tmp_path, capsys):
    import shutil

    from citywalk.cli import main

    shutil.copytree(tiny["sdxl"], tmp_path / "models" / "stabilityai--stable-diffusion-xl-base-1.0")
    rows = {r["backend"]: r for r in backends.backend_status()}
    assert rows["first_frame"]["usable"] and not rows["restyle"]["usable"]
    assert set(rows) == {"first_frame", "image_to_video", "restyle", "extend_canvas", "world_model"}
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "first_frame" in out and "ready" in out and "missing" in out and "restyle" in out


def test_image_to_video_chains_chunks_deterministically(tiny):
    from citywalk.generate import image_to_video

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 40, 3), dtype=np.uint8)
    a = image_to_video(image, frames=6, fps=8, seed=1, model=tiny["svd"], steps=2)
    b = image_to_video(image, frames=6, fps=8, seed=1, model=tiny["svd"], steps=2)
    assert a.shape == (6, 32, 40, 3) and a.dtype == np.uint8  # 4-frame model: two chained chunks
    assert np.array_equal(a, b) and np.array_equal(a[0], image)
    c = image_to_video(image, frames=3, fps=8, seed=2, model=tiny["svd"], steps=2)
    assert c.shape == (3, 32, 40, 3) and np.abs(c[1:].astype(int) - a[1:3]).mean() > 0.5


@pytest.fixture
def pipe_calls(monkeypatch):
    """calls(cls) → a list that gets the keyword arguments of every call of diffusers pipeline `cls`."""
    import diffusers

    def calls(cls_name):
        cls, seen = getattr(diffusers, cls_name), []
        real = cls.__call__

        def spy(self, *args, **kwargs):
            seen.append({k: v for k, v in kwargs.items() if k not in ("image", "generator")})
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", spy)
        return seen

    return calls


def _three_runs(model, frames, **kw):
    """Two runs with seed 1 and one with seed 2 of a random 32x40 image (the first frame kept)."""
    from citywalk.generate import image_to_video

    image = np.random.default_rng(0).integers(0, 255, (32, 40, 3), dtype=np.uint8)
    a, b, c = (image_to_video(image, frames, seed=s, model=model, steps=2, **kw) for s in (1, 1, 2))
    assert a.shape == (frames, 32, 40, 3) and a.dtype == np.uint8 and np.array_equal(a[0], image)
    assert np.array_equal(a, b) and np.abs(a[1:].astype(int) - c[1:]).mean() > 0.5
    return image, a


def test_ltx_image_to_video_chains_at_its_frame_rule_and_takes_the_frame_rate(tiny, pipe_calls):
    from citywalk.generate import image_to_video

    seen = pipe_calls("LTXImageToVideoPipeline")
    image, a = _three_runs(tiny["ltx"], 8, fps=24, chunk_frames=5)
    # 4x4x4 VAE (the real one 32x32x8): 4k+1 frames, sizes in multiples of 32 at the trained token grid
    assert [(c["width"], c["height"], c["num_frames"], c["frame_rate"]) for c in seen[:2]] == [(96, 64, 5, 24)] * 2
    slow = image_to_video(image, 8, fps=8, seed=1, model=tiny["ltx"], steps=2, chunk_frames=5)
    assert seen[-1]["frame_rate"] == 8 and not np.array_equal(slow[1:], a[1:])  # the rate conditions the model


def test_wan_image_to_video_chains_with_its_clip_image_encoder(tiny, pipe_calls):
    pytest.importorskip("accelerate")  # Wan's transformer does not load without it (diffusers 0.42.1)
    pytest.importorskip("ftfy")  # Wan's prompt cleaning calls it
    seen = pipe_calls("WanImageToVideoPipeline")
    _three_runs(tiny["wan"], 8, fps=16, chunk_frames=5, side_px=32)
    assert [(c["width"], c["height"], c["num_frames"]) for c in seen[:2]] == [(32, 32, 5)] * 2
    assert "frame_rate" not in seen[0] and seen[0]["prompt"]


def test_wan_without_its_extra_packages_names_them(tiny, monkeypatch):
    import importlib.util

    from citywalk.errors import MissingExtra
    from citywalk.generate import image_to_video

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "accelerate" else real(name, *a))
    with pytest.raises(MissingExtra, match="'accelerate'.*citywalk\\[generate\\]"):
        image_to_video(np.zeros((32, 32, 3), np.uint8), 2, 8, 0, model=tiny["wan"], steps=2)


def test_cogvideox_image_to_video_runs_at_its_one_size_and_own_clip_length(tiny, pipe_calls):
    seen = pipe_calls("CogVideoXImageToVideoPipeline")
    _three_runs(tiny["cogvideox"], 12, fps=8)
    # learned positional embeddings: only the trained 32x32; clip length from the config (9 frames)
    assert [(c["width"], c["height"], c["num_frames"], c["max_sequence_length"]) for c in seen[:2]] == \
        [(32, 32, 9, 16)] * 2


def test_camera_path_needs_an_adapter_and_adapters_get_the_cameras(tiny):
    from citywalk.generate import image_to_video, register_camera_adapter
    from citywalk.generate.video_models import CAMERA_ADAPTERS

    image = np.full((32, 32, 3), 128, np.uint8)
    cams = [{"K": np.eye(3), "R_w2c": np.eye(3), "t_w2c": np.array([0.0, 0.0, -0.1 * i])} for i in range(4)]
    with pytest.raises(CitywalkError, match="takes no camera path"):
        image_to_video(image, 4, 8, 0, camera_path=cams, model=tiny["svd"], steps=2)
    seen = []

    def adapter(pipe, kwargs, cameras, size):
        seen.append((len(cameras), size, kwargs["num_frames"]))
        return kwargs

    register_camera_adapter("StableVideoDiffusionPipeline", adapter)
    try:
        out = image_to_video(image, 4, 8, 0, camera_path=cams, model=tiny["svd"], steps=2)
    finally:
        CAMERA_ADAPTERS.pop("StableVideoDiffusionPipeline")
    assert out.shape == (4, 32, 32, 3) and seen == [(4, (32, 32), 4)]


def test_plucker_embedding_rays():
    from citywalk.generate import plucker_embedding

    K = np.array([[20.0, 0, 8], [0, 20.0, 6], [0, 0, 1]])
    yaw = np.radians(30)
    R = np.array([[np.cos(yaw), 0, -np.sin(yaw)], [0, 1, 0], [np.sin(yaw), 0, np.cos(yaw)]])
    t = np.array([0.5, -1.0, 2.0])
    p = plucker_embedding(K, R, t, (16, 12))
    d, m = p[:3].reshape(3, -1).T, p[3:].reshape(3, -1).T
    origin = -R.T @ t
    assert p.shape == (6, 12, 16)
    assert np.allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5) and np.allclose((d * m).sum(1), 0, atol=1e-4)
    # a point along a pixel's ray projects back onto that pixel
    x = origin + 7.0 * d[5 * 16 + 3]
    uvw = K @ (R @ x + t)
    assert np.allclose(uvw[:2] / uvw[2], [3.5, 5.5], atol=1e-4)


def test_extend_canvas_to_portrait_keeps_the_original(tiny):
    from citywalk.generate import extend_canvas
    from citywalk.generate.outpaint import SEAM_PX, canvas_geometry, parse_aspect

    assert canvas_geometry((64, 36), parse_aspect("9:16")) == ((64, 114), (0, 39))
    assert canvas_geometry((36, 64), parse_aspect("16:9")) == ((114, 64), (39, 0))
    with pytest.raises(CitywalkError, match="not W:H"):
        parse_aspect("tall")
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (2, 36, 64, 3), dtype=np.uint8)
    a = extend_canvas(frames, "9:16", seed=2, model=tiny["inpaint"], steps=2)
    b = extend_canvas(frames, "9:16", seed=2, model=tiny["inpaint"], steps=2)
    assert a.shape == (2, 114, 64, 3) and np.array_equal(a, b)
    inner = a[:, 39 + SEAM_PX: 39 + 36 - SEAM_PX]
    assert np.array_equal(inner, frames[:, SEAM_PX: 36 - SEAM_PX])
    assert a[:, :30].std() > 1.0  # the new area holds generated pixels, not a constant


def test_world_model_adapter_checks_paths_and_converts_actions(tmp_path):
    from citywalk.generate import DriveActions, world_model
    from citywalk.generate.world_models import vista_conditions

    frames = np.zeros((1, 36, 64, 3), np.uint8)
    act = DriveActions(trajectory_m=np.array([[2.0, 0.0], [4.0, 0.1], [6.0, 0.3], [8.0, 0.6]]),
                       speed_mps=np.array([8.0]), steer_deg=np.array([78.0]), command="left", goal_px=(32, 18))
    with pytest.raises(MissingModel, match="pass both as local paths"):
        world_model(frames, act)
    (tmp_path / "vista").mkdir()
    with pytest.raises(MissingModel) as err:
        world_model(frames, act, checkout=tmp_path / "vista", checkpoint=tmp_path / "vista.safetensors")
    assert "sample_utils.py" in str(err.value) and "\n" not in str(err.value)
    cond = vista_conditions(act, (64, 36), 25)
    assert cond["trajectory"].shape == (8,) and cond["speed"].shape == (24,) and int(cond["command"]) == 1
    assert cond["angle"][0] == pytest.approx(0.1) and np.allclose(cond["goal"], [0.5, 0.5])
    with pytest.raises(CitywalkError, match="command 'reverse'"):
        DriveActions(command="reverse").check((64, 36))


def test_generated_scene_renders_through_the_pipeline(tiny, tmp_path):
    from citywalk.media import probe_video
    from citywalk.pipeline import render_shot
    from citywalk.shot import Shot

    shot = Shot.from_dict({"scene": {"source": "generated", "prompt": "a rainy street in Osaka", "seed": 5,
                                     "image_model": tiny["sdxl"], "video_model": tiny["svd"], "steps": 2},
                           "output": {"duration_s": 0.25, "fps": 24, "size": [32, 32], "extras": ["frames"]}})
    res = render_shot(shot, tmp_path / "gen.mp4")
    info = probe_video(res.video)
    assert (info.frame_count, info.width, info.height) == (6, 32, 32) and res.frames == 6
    assert len(list(res.extras["frames"].glob("*.png"))) == 6
    with pytest.raises(CitywalkError, match="has no depth or cameras"):
        Shot.from_dict({"scene": {"source": "generated", "prompt": "x"}, "output": {"extras": ["depth"]}})


def test_generated_scene_fails_fast_without_weights(tmp_path, capsys):
    from citywalk.cli import main

    shot = tmp_path / "gen.yaml"
    shot.write_text(json.dumps({"scene": {"source": "generated", "prompt": "a street"},
                                "output": {"duration_s": 0.5, "size": [32, 32]}}))
    assert main(["render", str(shot), "-o", str(tmp_path / "g.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stabilityai/stable-diffusion-xl-base-1.0" in err
    assert not (tmp_path / "g.mp4").exists()


def test_extend_command_outpaints_a_video(tiny, tmp_path, capsys):
    from citywalk.cli import main
    from citywalk.media import probe_video
    from citywalk.video.encode import VideoWriter

    src = tmp_path / "wide.mp4"
    rng = np.random.default_rng(2)
    with VideoWriter(src, 12, (64, 36)) as w:
        for _ in range(3):
            w.write(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8))
    out = tmp_path / "tall.mp4"
    assert main(["extend", str(src), "--aspect", "9:16", "--model", tiny["inpaint"], "--steps", "2",
                 "-o", str(out)]) == 0
    info = probe_video(out)
    assert (info.frame_count, info.width, info.height) == (3, 64, 114)
    assert main(["extend", str(src), "--aspect", "wide"]) == 2
    assert "not W:H" in capsys.readouterr().err
