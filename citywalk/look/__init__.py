"""The look stage: sun and moon positions, time-of-day presets and the weather model.

Light to import (NumPy, pydantic, stdlib); the sky and weather rendering live in `render/`.
"""

from .sun import (
    MoonPosition,
    SunPosition,
    moon_position,
    refraction_deg,
    sun_altitude_azimuth,
    sun_direction_enu,
    sun_position,
)
from .timeofday import (
    TIME_PRESETS,
    local_tz,
    preset_time_utc,
    preset_times_utc,
    resolve_when,
    solar_noon_utc,
)
from .weather import (
    WEATHER_ALIASES,
    WEATHER_PRESETS,
    Weather,
    WeatherKeyframes,
    blend_weather,
    split_preset,
    weather_from_name,
    weather_from_spec,
)

__all__ = [
    "MoonPosition",
    "SunPosition",
    "TIME_PRESETS",
    "WEATHER_ALIASES",
    "WEATHER_PRESETS",
    "Weather",
    "WeatherKeyframes",
    "blend_weather",
    "local_tz",
    "moon_position",
    "preset_time_utc",
    "preset_times_utc",
    "refraction_deg",
    "resolve_when",
    "solar_noon_utc",
    "split_preset",
    "sun_altitude_azimuth",
    "sun_direction_enu",
    "sun_position",
    "weather_from_name",
    "weather_from_spec",
]
