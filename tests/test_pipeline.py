"""End to end: Shot → MP4 + extras, the CLI's commands and its one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from citywalk.cli import main
from citywalk.pipeline import render_shot
from citywalk.shot import Shot
from citywalk.tracks import read_camera_track
from citywalk.video import probe_video, read_depth_png16


def test_render_shot_encodes_decodable_video_with_extras(tmp_path):
    shot = Shot.from_dict({"output": {"duration_s": 1.0, "fps": 24, "size": [160, 90], "samples": 1,
                                      "extras": ["depth", "camera_track", "frames"]}})
    res = render_shot(shot, tmp_path / "walk.mp4")
    info = probe_video(res.video)
    assert (info.frame_count, info.width, info.height, info.fps) == (24, 160, 90, 24)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    track = read_camera_track(res.extras["camera_track"])
    assert len(track["frames"]) == 24 and track["convention"] == "opencv"
    pos = np.array([f["position_m"] for f in track["frames"]])
    assert np.linalg.norm(pos[-1, :2] - pos[0, :2]) == pytest.approx(1.4 * 23 / 24, rel=0.08)
    depths = sorted((tmp_path / "walk_depth").glob("*.png"))
    assert len(depths) == 24 and len(list((tmp_path / "walk_frames").glob("*.png"))) == 24
    d = read_depth_png16(depths[0])
    assert d.shape == (90, 160) and np.isfinite(d).mean() > 0.3
    assert res.timings_s["render_fps"] > 0 and res.timings_s["realtime_factor"] > 0


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("argv_tail, words", [
    (["--style", "tokio"], "unknown style 'tokio'"),
    (["--duration", "-3"], "output.duration_s"),
    (["--size", "100000x100000"], "output.size"),
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--weather", "lava"], "lava"),
    (["--time", "teatime"], "look.when"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv_tail, words):
    opts = {"--duration": "0.2", "--size": "64x36"}
    opts.update(dict(zip(argv_tail[::2], argv_tail[1::2])))
    argv = ["render", *[x for kv in opts.items() for x in kv], "-o", str(tmp_path / "x.mp4")]
    code, err = _run(argv, capsys)
    assert code == 2
    assert err.startswith("citywalk: error:") and words in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.mp4").exists()


def test_cli_malformed_yaml_and_unwritable_output(tmp_path, capsys):
    bad = tmp_path / "shot.yaml"
    bad.write_text("output: {duration_s: 3\nlook: [\n")
    code, err = _run(["render", str(bad)], capsys)
    assert code == 2 and "malformed YAML" in err and "shot.yaml" in err
    code, err = _run(["render", "--duration", "0.2", "--size", "64x36", "-o", "/proc/walk.mp4"], capsys)
    assert code == 2 and "/proc/walk.mp4" in err and err.count("\n") == 1


def test_console_script_prints_no_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "citywalk.cli", "render", "--style", "tokio", "-o", str(tmp_path / "a.mp4")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr and "tokio" in out.stderr


def test_shot_command_prints_an_editable_shot(tmp_path, capsys):
    assert main(["shot", "a walk down a Tokyo side street at dusk"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    shot = Shot.from_dict(data)
    assert shot.look.when == "dusk" and shot.scene.style == "tokyo" and shot.camera.street == "side"
    (tmp_path / "shot.yaml").write_text(text)
    assert Shot.load(tmp_path / "shot.yaml") == shot


def test_prompt_unknown_words_are_warned(tmp_path, capsys):
    assert main(["shot", "a walk in tokyo with purple elephants"]) == 0
    err = capsys.readouterr().err
    assert "purple" in err and "elephants" in err


def test_weather_with_time_suffix_sets_both(capsys):
    assert main(["shot", "--weather", "hard_rain_night"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["look"]["weather"] == "hard_rain" and data["look"]["when"] == "night"


@pytest.mark.parametrize("rig", ["follow", "side", "front", "orbit", "drone"])
def test_every_rig_renders_from_the_cli(tmp_path, capsys, rig):
    out = tmp_path / f"{rig}.mp4"
    code = main(["render", "--camera", rig, "--duration", "0.25", "--size", "64x36", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert probe_video(out).frame_count == 6


def test_keyframe_file_drives_the_camera(tmp_path, capsys):
    keys = {"keys": [{"t_s": 0, "position": [0, -30, 20], "look_at": [0, 0, 0], "fov_deg": 60},
                     {"t_s": 1, "position": [10, -20, 10], "look_at": [0, 0, 5], "fov_deg": 40, "ease": "ease_in_out"}]}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(keys))
    assert main(["shot", "--camera", str(path)]) == 0
    shot = Shot.from_dict(yaml.safe_load(capsys.readouterr().out))
    assert shot.camera.rig == "keyframes" and len(shot.camera.keyframes) == 2
    from citywalk.pipeline import prepare

    frames = prepare(shot.updated({"output": {"duration_s": 1.0, "size": [64, 36]}})).frames
    assert frames[0].position == pytest.approx([0, -30, 20])
    assert frames[0].K[0, 0] == pytest.approx(32 / np.tan(np.radians(30)))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"keys": [keys["keys"][0], {**keys["keys"][1], "fov_deg": 500}]}))
    assert main(["shot", "--camera", str(bad)]) == 2
    assert "fov_deg" in capsys.readouterr().err


def test_actor_walks_in_the_rendered_shot(tmp_path, capsys):
    """--actor puts a captured person in the shot; with the side rig they are the walker."""
    from citywalk.likeness.capture import capture_actor

    rng = np.random.default_rng(0)
    img = np.zeros((120, 64, 3), np.uint8)
    img[:] = (0, 200, 0)
    img[10:115, 20:44] = rng.integers(60, 200, (105, 24, 3))  # a person-shaped block on green
    actor = capture_actor(img, height_m=1.7, method="chroma")
    path = tmp_path / "me.actor"
    actor.save(path)
    base = [
        "render",
        "--camera",
        "side",
        "--street",
        "main",
        "--duration",
        "0.25",
        "--size",
        "128x72",
        "--time",
        "noon",
    ]
    assert main([*base, "-o", str(tmp_path / "empty.mp4")]) == 0
    assert main([*base, "--actor", str(path), "-o", str(tmp_path / "actor.mp4")]) == 0, capsys.readouterr().err
    from citywalk.video.sheet import video_frames_at

    a = video_frames_at(tmp_path / "empty.mp4", 1)[0].astype(float)
    b = video_frames_at(tmp_path / "actor.mp4", 1)[0].astype(float)
    diff = np.abs(a - b).mean(-1) > 20
    ys, xs = np.nonzero(diff)
    assert diff.sum() > 50, "the actor shows"
    assert abs(xs.mean() - 64) < 16, "the side rig keeps the walker near the centre line"
    code = main([*base, "--actor", str(tmp_path / "nobody.actor"), "-o", str(tmp_path / "x.mp4")])
    assert code == 2 and "nobody.actor" in capsys.readouterr().err


def test_draft_keeps_the_walk_and_look_at_a_quarter_of_the_pixels():
    """`--draft` (render, still) and the Studio's preview share one draft: half the size (even
    sides), one sample, only the camera track kept; walk, world, look and timing unchanged."""
    from citywalk.cli import build_shot, make_parser
    from citywalk.pipeline import draft_shot
    from citywalk.studio.preview import preview_shot

    args = make_parser().parse_args(["render", "--size", "1280x720", "--samples", "4", "--time", "night",
                                     "--extras", "depth,camera_track,frames", "--draft"])
    shot, _ = build_shot(args)
    full, _ = build_shot(make_parser().parse_args(["render", "--size", "1280x720", "--time", "night"]))
    assert tuple(shot.output.size) == (640, 360) and shot.output.samples == 1
    assert list(shot.output.extras) == ["camera_track"]
    assert shot.look == full.look and shot.camera == full.camera and shot.scene == full.scene
    assert shot.output.duration_s == full.output.duration_s and shot.output.fps == full.output.fps
    odd = draft_shot(full.updated({"output": {"size": [1278, 718]}}))
    assert tuple(odd.output.size) == (638, 358)  # even sides for the encoder
    assert tuple(preview_shot(full, (480, 270)).output.size) == (480, 270)
    assert tuple(preview_shot(full, (4000, 4000)).output.size) == (1280, 720)  # never larger than asked
