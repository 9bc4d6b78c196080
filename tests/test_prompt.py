"""Text prompt → Shot: the phrase table, unknown-word reporting, limits and determinism."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from citywalk.errors import ShotError
from citywalk.prompt import (
    FILLER_WORDS,
    MAX_PROMPT_CHARS,
    PromptResult,
    parse_prompt,
    prompt_to_shot,
    vocabulary,
)
from citywalk.shot import Shot


def _get(shot: Shot, dotted: str):
    section, name = dotted.split(".")
    value = getattr(getattr(shot, section), name)
    return tuple(value) if isinstance(value, (list, tuple)) else value


# prompt → expected fields; every row must also leave no unknown words.
TABLE = [
    ("a walk down a Tokyo side street at dusk",
     {"scene.style": "tokyo", "look.when": "dusk", "camera.street": "side"}),
    ("Shibuya at night", {"scene.style": "tokyo", "look.when": "night"}),
    ("a Japanese alley in the rain", {"scene.style": "tokyo", "camera.street": "side", "look.weather": "mid_rain"}),
    ("a Parisian boulevard at sunset",
     {"scene.style": "paris", "camera.street": "main", "look.when": "golden_hour"}),
    ("Haussmann avenue, overcast", {"scene.style": "paris", "camera.street": "main", "look.weather": "overcast"}),
    ("New York in the snow", {"scene.style": "new_york", "look.weather": "light_snow"}),
    ("NYC blizzard", {"scene.style": "new_york", "look.weather": "heavy_snow"}),
    ("Manhattan in a snowstorm", {"scene.style": "new_york", "look.weather": "heavy_snow"}),
    ("a British high street at noon", {"scene.style": "london", "camera.street": "main", "look.when": "noon"}),
    ("english back street at dawn", {"scene.style": "london", "camera.street": "side", "look.when": "dawn"}),
    ("Hong Kong in heavy rain", {"scene.style": "hong_kong", "look.weather": "hard_rain"}),
    ("HK downpour", {"scene.style": "hong_kong", "look.weather": "hard_rain"}),
    ("a canal street in Amsterdam", {"scene.style": "amsterdam"}),
    ("a dutch lane in light rain",
     {"scene.style": "amsterdam", "camera.street": "side", "look.weather": "soft_rain"}),
    ("foggy morning", {"look.weather": "fog", "look.when": "morning"}),
    ("misty daybreak", {"look.weather": "fog", "look.when": "dawn"}),
    ("drizzle in the afternoon", {"look.weather": "soft_rain", "look.when": "afternoon"}),
    ("after the rain at twilight", {"look.weather": "after_rain", "look.when": "dusk"}),
    ("wet streets during the blue hour", {"look.weather": "after_rain", "look.when": "dusk"}),
    ("a thunderstorm at midnight", {"look.weather": "thunderstorm", "look.when": "night"}),
    ("a dust storm at midday", {"look.weather": "dust_storm", "look.when": "noon"}),
    ("sunny golden hour", {"look.weather": "clear", "look.when": "golden_hour"}),
    ("cloudy evening", {"look.weather": "cloudy", "look.when": "dusk"}),
    ("a drone shot of Kowloon", {"scene.style": "hong_kong", "camera.rig": "drone"}),
    ("bird's-eye view of Tokyo's streets", {"scene.style": "tokyo", "camera.rig": "drone"}),
    ("from above", {"camera.rig": "drone"}),
    ("a tracking shot from the side", {"camera.rig": "side"}),
    ("follow me from behind", {"camera.rig": "follow"}),
    ("over the shoulder", {"camera.rig": "follow"}),
    ("first person POV", {"camera.rig": "walk"}),
    ("through my eyes", {"camera.rig": "walk"}),
    ("orbit", {"camera.rig": "orbit"}),
    ("walking toward the camera", {"camera.rig": "front"}),
    ("from the front", {"camera.rig": "front"}),
    ("wide-angle lens", {"camera.fov_deg": 80.0}),
    ("telephoto", {"camera.fov_deg": 35.0}),
    ("a slow stroll", {"camera.speed_mps": 1.0}),
    ("a brisk walk", {"camera.speed_mps": 1.8}),
    ("a jog through Paris", {"scene.style": "paris", "camera.speed_mps": 3.0}),
    ("in 4K", {"output.size": (3840, 2160)}),
    ("1080p", {"output.size": (1920, 1080)}),
    ("720p", {"output.size": (1280, 720)}),
    ("vertical", {"output.size": (720, 1280)}),
    ("portrait 1080p", {"output.size": (1080, 1920)}),
    ("1920x1080", {"output.size": (1920, 1080)}),
    ("seed 42", {"scene.seed": 42}),
    ("Tokyo, seed: 9!", {"scene.style": "tokyo", "scene.seed": 9}),
    ("half tokyo half paris", {"scene.style": "tokyo:0.5,paris:0.5"}),
    ("70% Tokyo, 30% London", {"scene.style": "tokyo:0.7,london:0.3"}),
    ("tokyo and paris and london", {"scene.style": "tokyo:0.333,paris:0.333,london:0.333"}),
    ("Tokyo and Shibuya", {"scene.style": "tokyo"}),
    ("TOKYO!!! AT... DUSK???", {"scene.style": "tokyo", "look.when": "dusk"}),
    ("walk in tokyo.At dusk", {"scene.style": "tokyo", "look.when": "dusk"}),
]


@pytest.mark.parametrize("text,expected", TABLE, ids=[t for t, _ in TABLE])
def test_phrase_table(text, expected):
    result = parse_prompt(text)
    for dotted, value in expected.items():
        assert _get(result.shot, dotted) == value, (dotted, result.understood)
    assert result.unknown == []


def test_table_is_large_enough():
    assert len(TABLE) >= 30


def test_result_lists_what_each_phrase_set():
    result = parse_prompt("a walk down a Tokyo side street at dusk")
    assert isinstance(result, PromptResult)
    assert result.understood == [
        ("tokyo", "scene.style=tokyo"),
        ("side street", "camera.street=side"),
        ("at dusk", "look.when=dusk"),
    ]


def test_unknown_words_are_reported_in_order_once():
    result = parse_prompt("a walk through Tokyo with purple elephants and purple neon")
    assert result.unknown == ["purple", "elephants", "neon"]
    assert result.shot.scene.style == "tokyo"


def test_filler_words_never_reported():
    result = parse_prompt("please make a video of a walk down the street through the city with me")
    assert result.unknown == []


def test_unknown_only_prompt_keeps_defaults():
    result = parse_prompt("purple elephants")
    assert result.unknown == ["purple", "elephants"]
    assert result.shot == Shot()


@pytest.mark.parametrize(
    "text,when",
    [
        ("7pm", "19:00"),
        ("7 pm", "19:00"),
        ("7 p.m.", "19:00"),
        ("7:30pm", "19:30"),
        ("7:30 PM", "19:30"),
        ("7.30pm", "19:30"),
        ("19:30", "19:30"),
        ("6:05", "06:05"),
        ("7am", "07:00"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("7 in the evening", "19:00"),
        ("3 in the afternoon", "15:00"),
        ("6 in the morning", "06:00"),
        ("11 at night", "23:00"),
        ("8 o'clock", "08:00"),
        ("Tokyo at 7:45 p.m.", "19:45"),
    ],
)
def test_clock_times(text, when):
    result = parse_prompt(text)
    assert result.shot.look.when == when
    assert result.unknown == []


@pytest.mark.parametrize("text", ["25:00", "13pm", "7:75", "0am"])
def test_impossible_clock_time_is_an_error(text):
    with pytest.raises(ShotError, match="not a clock time"):
        parse_prompt(text)


def test_bare_number_is_not_a_time():
    result = parse_prompt("Tokyo at 7")
    assert result.shot.look.when == Shot().look.when
    assert result.unknown == ["7"]


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("15 seconds", 15.0),
        ("15 s", 15.0),
        ("15s", 15.0),
        ("a 15-second clip", 15.0),
        ("90 sec", 90.0),
        ("half a minute", 30.0),
        ("a minute", 60.0),
        ("one minute", 60.0),
        ("2 minutes", 120.0),
        ("1.5 min", 90.0),
        ("a minute and a half", 90.0),
        ("1 minute 30 seconds", 90.0),
        ("2 minutes and 10 seconds", 130.0),
        ("forty five seconds", 45.0),
        ("thirty seconds", 30.0),
    ],
)
def test_durations(text, seconds):
    result = parse_prompt(text)
    assert result.shot.output.duration_s == pytest.approx(seconds)
    assert result.unknown == []


@pytest.mark.parametrize("text", ["Tokyo for 2 hours", "an hour in Paris", "11 minutes"])
def test_out_of_range_duration_is_an_error_naming_the_field(text):
    with pytest.raises(ShotError, match="duration_s") as info:
        parse_prompt(text)
    assert "prompt phrase" in str(info.value)


def test_zero_duration_is_an_error():
    with pytest.raises(ShotError, match="duration_s"):
        parse_prompt("0 seconds")


def test_vertical_4k_is_rejected_by_the_size_limit():
    with pytest.raises(ShotError, match="output.size"):
        parse_prompt("vertical 4k")


def test_seed_out_of_range_is_an_error():
    with pytest.raises(ShotError, match="scene.seed"):
        parse_prompt("seed 99999999999")


@pytest.mark.parametrize("text", ["", "   ", "?!...", "x" * (MAX_PROMPT_CHARS + 1)])
def test_empty_or_too_long_prompt_is_an_error(text):
    with pytest.raises(ShotError, match="prompt"):
        parse_prompt(text)


def test_non_text_is_an_error():
    with pytest.raises(ShotError, match="expected text"):
        parse_prompt(42)  # type: ignore[arg-type]


def test_longest_phrase_wins():
    assert parse_prompt("heavy rain").shot.look.weather == "hard_rain"
    assert parse_prompt("hard rain at night in hong kong").shot.look.weather == "hard_rain"
    assert parse_prompt("light rain").shot.look.weather == "soft_rain"
    assert parse_prompt("rain").shot.look.weather == "mid_rain"
    assert parse_prompt("dust storm").shot.look.weather == "dust_storm"
    assert parse_prompt("storm").shot.look.weather == "thunderstorm"
    assert parse_prompt("heavy snow").shot.look.weather == "heavy_snow"


def test_actor_words_are_understood_not_unknown():
    for text in ("me walking in Tokyo", "with me in it", "myself at dusk"):
        result = parse_prompt(text)
        assert result.actor_requested
        assert result.unknown == []
        assert any("actor requested" in label for _, label in result.understood)
        assert result.shot.actors == []  # no ActorSpec without a likeness file
    assert not parse_prompt("Tokyo at dusk").actor_requested


def test_canal_is_noted():
    result = parse_prompt("a canal street in Amsterdam")
    assert any("canal" in label for _, label in result.understood)
    assert result.unknown == []


def test_later_phrase_overrides_with_a_note():
    result = parse_prompt("Tokyo at dawn, no, at night")
    assert result.shot.look.when == "night"
    assert any("overrides" in n and "look.when" in n for n in result.notes)


def test_negation_sets_nothing():
    result = parse_prompt("Tokyo without any rain")
    assert result.shot.look.weather == Shot().look.weather
    assert ("without any rain", "negated: nothing set") in result.understood
    assert result.unknown == []


def test_same_text_gives_same_result():
    text = "half Tokyo half Paris, a slow walk down a side street in light rain at 7:30pm, 20 s, 1080p"
    a, b = parse_prompt(text), parse_prompt(text)
    assert a.shot == b.shot
    assert a.shot.to_json() == b.shot.to_json()
    assert (a.understood, a.unknown, a.notes) == (b.understood, b.unknown, b.notes)


def test_base_values_kept_when_not_mentioned():
    base = Shot.from_dict({
        "scene": {"style": "london", "seed": 3},
        "camera": {"rig": "side", "speed_mps": 2.0},
        "look": {"weather": "fog", "lat": 51.5, "lon": -0.12},
        "output": {"fps": 30, "size": [1920, 1080], "duration_s": 20},
    })
    shot = prompt_to_shot("at night", base)
    assert shot.look.when == "night"
    assert (shot.scene.style, shot.scene.seed) == ("london", 3)
    assert (shot.camera.rig, shot.camera.speed_mps) == ("side", 2.0)
    assert (shot.look.weather, shot.look.lat, shot.look.lon) == ("fog", 51.5, -0.12)
    assert (shot.output.fps, tuple(shot.output.size)) == (30, (1920, 1080))
    assert shot.output.duration_s == 20.0
    # orientation words turn the base size rather than a default one
    assert tuple(prompt_to_shot("vertical", base).output.size) == (1080, 1920)
    # the base itself is not modified
    assert base.look.when == Shot().look.when


def test_blend_weights_over_one_is_an_error():
    with pytest.raises(ShotError, match="weights"):
        parse_prompt("80% tokyo 40% paris london")


def test_vocabulary_lists_categories():
    vocab = vocabulary()
    assert "fog" in vocab["look.weather"]["fog"]
    assert "3840x2160" in vocab["output.size"]
    assert "drone" in vocab["camera.rig"]


def test_no_vocabulary_word_is_also_filler():
    single_words = {p for table in vocabulary().values() for phrases in table.values() for p in phrases
                    if " " not in p}
    assert single_words & FILLER_WORDS == set()


def test_module_imports_only_shot_and_errors():
    """The prompt stage sits left of every other stage: stdlib plus citywalk.shot/errors only."""
    source = Path(__file__).resolve().parents[1] / "citywalk" / "prompt.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    allowed = {"__future__", "re", "dataclasses", "typing", ".shot", ".errors"}
    assert imported <= allowed, imported - allowed


def test_decades_are_not_durations():
    result = parse_prompt("Tokyo in the 1990s, '80s neon")
    assert result.shot.output.duration_s == Shot().output.duration_s
    assert result.unknown == ["1990s", "80s", "neon"]
    assert parse_prompt("80s").shot.output.duration_s == 80.0  # without the apostrophe: seconds


def test_side_street_after_from_is_a_street_not_a_rig():
    shot = prompt_to_shot("from the side street onto the avenue")
    assert shot.camera.rig == Shot().camera.rig
    assert shot.camera.street == "main"


def test_aspect_ratio_is_not_a_clock_time():
    result = parse_prompt("9:16 Tokyo")
    assert tuple(result.shot.output.size) == (720, 1280)
    assert result.shot.look.when == Shot().look.when


def test_unknown_words_keep_their_spelling_and_punctuation_is_ignored():
    result = parse_prompt("Tokyo's Café-lined street, at dusk!")
    assert result.unknown == ["café", "lined"]
    assert result.shot.scene.style == "tokyo"
