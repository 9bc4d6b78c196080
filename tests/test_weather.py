"""The weather model: units and limits, couplings, presets, names and keyframes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citywalk.errors import ShotError
from citywalk.look import (
    WEATHER_ALIASES,
    WEATHER_PRESETS,
    Weather,
    WeatherKeyframes,
    split_preset,
    weather_from_name,
    weather_from_spec,
)
from citywalk.look.timeofday import TIME_PRESETS

REQUIRED_PRESETS = {
    "clear", "cloudy", "overcast", "fog", "light_fog", "wet", "wet_cloudy", "soft_rain", "mid_rain",
    "hard_rain", "dust_storm", "light_snow", "heavy_snow", "thunderstorm", "after_rain",
}


def test_koschmieder():
    w = Weather(fog_visibility_m=200.0)
    assert w.extinction_per_m() == pytest.approx(3.912 / 200.0)
    # Contrast over the visibility distance falls to 2 %.
    assert math.exp(-w.extinction_per_m() * 200.0) == pytest.approx(0.02, rel=1e-3)
    assert Weather().extinction_per_m() == 0.0
    assert Weather(fog_visibility_m=100_000.0).extinction_per_m() == 0.0
    assert Weather(fog_visibility_m=5.0).extinction_per_m() == pytest.approx(3.912 / 5.0)
    with pytest.raises(ValueError):
        Weather(fog_visibility_m=4.0)


def test_fog_thins_with_height_above_base():
    w = Weather(fog_visibility_m=100.0, fog_base_height_m=2.0, fog_height_falloff_per_m=0.1)
    sigma = w.extinction_at_height_per_m(np.array([0.0, 2.0, 12.0]))
    assert sigma.shape == (3,)
    assert sigma[0] == pytest.approx(sigma[1]) == pytest.approx(w.extinction_per_m())
    assert sigma[2] == pytest.approx(w.extinction_per_m() * math.exp(-1.0))


def test_rain_wets_ground_unless_overridden():
    dry = Weather()
    assert dry.wetness == 0.0 and dry.puddle_coverage == 0.0
    light, heavy = Weather(precipitation_mmph=0.5), Weather(precipitation_mmph=20.0)
    assert 0.0 < light.wetness < heavy.wetness <= 1.0
    assert 0.0 < light.puddle_coverage < heavy.puddle_coverage <= 1.0
    assert heavy.cloud_cover >= 0.8
    told = Weather(precipitation_mmph=20.0, wetness=0.1, puddle_coverage=0.0, cloud_cover=0.2)
    assert (told.wetness, told.puddle_coverage, told.cloud_cover) == (0.1, 0.0, 0.2)
    assert told.model_fields_set >= {"wetness", "puddle_coverage"}


def test_snowfall_covers_ground_unless_overridden():
    assert Weather(snowfall_mmph=2.0).snow_cover > 0.5
    assert Weather(snowfall_mmph=2.0, snow_cover=0.0).snow_cover == 0.0
    assert Weather().snow_cover == 0.0


def test_with_changes_recomputes_couplings():
    rained = WEATHER_PRESETS["overcast"].with_changes(precipitation_mmph=8.0)
    assert rained.wetness > 0.5 and rained.cloud_cover == 1.0  # overcast's own cloud kept
    assert WEATHER_PRESETS["overcast"].wetness == 0.0  # presets are immutable


def test_limits_and_unknown_fields():
    for bad in (
        {"cloud_cover": 1.5},
        {"precipitation_mmph": 151.0},
        {"snowfall_mmph": -1.0},
        {"haze_turbidity": 1.0},
        {"wind_mps": (100.0, 0.0)},
        {"precipitation_mmph": float("nan")},
    ):
        with pytest.raises(ShotError):
            weather_from_spec(bad)
    with pytest.raises(ShotError, match="rain_mm.*unknown field"):
        weather_from_spec({"rain_mm": 3})
    with pytest.raises(ShotError, match="cloud_cover"):
        weather_from_spec({"preset": "fog", "cloud_cover": 7})


def test_every_preset_validates():
    assert REQUIRED_PRESETS <= set(WEATHER_PRESETS)
    for name, w in WEATHER_PRESETS.items():
        again = Weather.model_validate(w.model_dump())
        assert again == w, name
        assert weather_from_name(name) is w
    for alias, target in WEATHER_ALIASES.items():
        assert target in WEATHER_PRESETS, alias
    assert WEATHER_PRESETS["after_rain"].precipitation_mmph == 0.0 < WEATHER_PRESETS["after_rain"].wetness
    assert WEATHER_PRESETS["thunderstorm"].lightning
    assert WEATHER_PRESETS["fog"].fog_visibility_m < WEATHER_PRESETS["light_fog"].fog_visibility_m
    rain = [WEATHER_PRESETS[n].precipitation_mmph for n in ("soft_rain", "mid_rain", "hard_rain")]
    assert rain == sorted(rain) and rain[0] > 0
    assert WEATHER_PRESETS["light_snow"].snow_cover < WEATHER_PRESETS["heavy_snow"].snow_cover


def test_unknown_preset_lists_known_names():
    with pytest.raises(ShotError) as err:
        weather_from_name("blizzard")
    text = str(err.value)
    assert "blizzard" in text
    for name in ("clear", "thunderstorm", "after_rain", "dust_storm"):
        assert name in text


def test_names_are_forgiving():
    assert weather_from_name("Hard Rain") is WEATHER_PRESETS["hard_rain"]
    assert weather_from_name("HardRainNight") is WEATHER_PRESETS["hard_rain"]
    assert weather_from_name("MidRainyNoon") is WEATHER_PRESETS["mid_rain"]
    assert weather_from_name("light_rain") is WEATHER_PRESETS["soft_rain"]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("hard_rain_night", ("hard_rain", "night")),
        ("wet_cloudy_sunset", ("wet_cloudy", "golden_hour")),
        ("clear_noon", ("clear", "noon")),
        ("ClearSunset", ("clear", "golden_hour")),
        ("fog_golden_hour", ("fog", "golden_hour")),
        ("clear", ("clear", None)),
        ("thunderstorm", ("thunderstorm", None)),
    ],
)
def test_split_preset(name, expected):
    weather, time = split_preset(name)
    assert (weather, time) == expected
    assert time is None or time in TIME_PRESETS


def test_spec_with_preset_and_overrides():
    w = weather_from_spec({"preset": "hard_rain", "wetness": 0.2, "wind_mps": [1, 2]})
    assert w.precipitation_mmph == 16.0 and w.wetness == 0.2 and w.wind_mps == (1.0, 2.0)
    assert weather_from_spec("fog") is WEATHER_PRESETS["fog"]
    with pytest.raises(ShotError, match="mapping"):
        weather_from_spec(42)


def test_storm_rolling_in():
    keys = WeatherKeyframes([(0.0, "clear"), (10.0, "thunderstorm")])
    ts = np.linspace(-1.0, 11.0, 49)
    ws = [keys.at(float(t)) for t in ts]
    rain = np.array([w.precipitation_mmph for w in ws])
    sigma = np.array([w.extinction_per_m() for w in ws])
    assert np.all(np.diff(rain) >= 0) and rain[0] == 0.0 and rain[-1] == 30.0
    assert np.all(np.diff(rain[(ts > 0) & (ts < 10)]) > 0)  # strictly rising while it rolls in
    assert np.all(np.diff(sigma) >= 0)  # fog/rain murk thickens steadily
    assert keys.at(5.0).precipitation_mmph == pytest.approx(15.0)
    assert not keys.at(4.9).lightning and keys.at(5.1).lightning
    assert keys.at(0.0) == WEATHER_PRESETS["clear"] and keys.at(10.0) == WEATHER_PRESETS["thunderstorm"]
    mid = keys.at(2.5)
    assert 0.0 < mid.wetness < WEATHER_PRESETS["thunderstorm"].wetness  # interpolated, not re-coupled


def test_keyframes_smoothstep_and_multi_key():
    keys = WeatherKeyframes([(0, "clear"), (4, Weather(cloud_cover=1.0)), (8, {"cloud_cover": 0.0})], ease="smoothstep")
    assert keys.at(1.0).cloud_cover < 0.05 + (1.0 - 0.05) * 0.25  # eased: slower start than linear
    assert keys.at(4.0).cloud_cover == 1.0
    assert keys.at(6.0).cloud_cover == pytest.approx(0.5)
    assert keys.at(100.0).cloud_cover == 0.0


def test_keyframes_reject_bad_input():
    with pytest.raises(ShotError, match="later"):
        WeatherKeyframes([(5.0, "clear"), (5.0, "fog")])
    with pytest.raises(ShotError, match="at least one"):
        WeatherKeyframes([])
    with pytest.raises(ShotError, match="blizzard"):
        WeatherKeyframes([(0.0, "blizzard")])
    with pytest.raises(ShotError, match=r"keyframes\[0\]"):
        WeatherKeyframes([("soon", "clear")])


def test_look_package_is_light():
    import subprocess
    import sys

    code = (
        "import sys, citywalk.look; "
        "heavy = [m for m in ('torch', 'moderngl', 'scipy', 'pandas', 'yaml', 'av') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
