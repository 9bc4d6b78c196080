"""Shot validation: defaults, file round trips, and every hard limit's error message."""

import json

import pytest

from citywalk.errors import ShotError
from citywalk.shot import MAX_DURATION_S, Shot


def test_defaults_make_a_ten_second_720p_clip():
    s = Shot()
    assert s.output.duration_s == 10 and s.output.fps == 24 and s.output.size == (1280, 720)
    assert s.output.frame_count == 240
    assert s.scene.style == "tokyo" and s.camera.rig == "walk" and s.camera.speed_mps == pytest.approx(1.4)


@pytest.mark.parametrize("data, field, words", [
    ({"output": {"duration_s": -1}}, "output.duration_s", "greater than 0"),
    ({"output": {"duration_s": 0}}, "output.duration_s", "greater than 0"),
    ({"output": {"duration_s": MAX_DURATION_S + 1}}, "output.duration_s", "less than or equal to 600"),
    ({"output": {"fps": 120}}, "output.fps", "less than or equal to 60"),
    ({"output": {"fps": 0}}, "output.fps", "greater than or equal to 1"),
    ({"output": {"size": [100000, 100000]}}, "output.size", "width 16..3840, height 16..2160"),
    ({"output": {"size": [8, 8]}}, "output.size", "width 16..3840"),
    ({"output": {"size": [641, 360]}}, "output.size", "must be even"),
    ({"output": {"crf": 60}}, "output.crf", "less than or equal to 51"),
    ({"output": {"samples": 3}}, "output.samples", "0, 1, 2, 4 or 8"),
    ({"output": {"extras": ["holograms"]}}, "output.extras", "'depth', 'camera_track' or 'frames'"),
    ({"camera": {"speed_mps": 0}}, "camera.speed_mps", "greater than 0"),
    ({"camera": {"fov_deg": 200}}, "camera.fov_deg", "less than or equal to 150"),
    ({"camera": {"rig": "crane"}}, "camera.rig", "'walk'"),
    ({"camera": {"route": [[0, 0]]}}, "camera.route", "at least 2"),
    ({"look": {"lat": 91}}, "look.lat", "less than or equal to 90"),
    ({"look": {"when": "teatime"}}, "look.when", "not a time"),
    ({"look": {"tz": "Mars/Olympus"}}, "look.tz", "unknown time zone"),
    ({"scene": {"source": "osm"}}, "scene", "needs scene.path"),
    ({"scene": {"bogus": 1}}, "scene.bogus", "unknown field"),
    ({"actors": [{"likeness": "me.actor"}] * 17}, "actors", "at most 16"),
])
def test_each_limit_names_field_and_range(data, field, words):
    with pytest.raises(ShotError) as e:
        Shot.from_dict(data)
    msg = str(e.value)
    assert field in msg and words in msg, msg
    assert "\n" not in msg


def test_yaml_and_json_round_trip(tmp_path):
    s = Shot.from_dict(
        {"look": {"when": "19:30", "weather": "overcast"}, "output": {"duration_s": 3.5, "extras": ["depth"]}}
    )
    for name in ("shot.yaml", "shot.json"):
        s.save(tmp_path / name)
        assert Shot.load(tmp_path / name) == s
    assert json.loads((tmp_path / "shot.json").read_text())["look"]["when"] == "19:30"


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("scene:\n  style: tokyo\n look: [unclosed\n")
    with pytest.raises(ShotError) as e:
        Shot.load(p)
    assert "bad.yaml" in str(e.value) and "line" in str(e.value)


def test_missing_and_huge_files_are_refused(tmp_path):
    with pytest.raises(ShotError, match="Shot file .*nope.yaml: no such file"):
        Shot.load(tmp_path / "nope.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("#" * 2_000_000)
    with pytest.raises(ShotError, match="bytes"):
        Shot.load(big)


def test_updated_merges_nested_changes_and_revalidates():
    s = Shot().updated({"look": {"weather": "fog"}})
    assert s.look.weather == "fog" and s.look.when == "dusk"
    with pytest.raises(ShotError, match="output.fps"):
        s.updated({"output": {"fps": 1000}})
