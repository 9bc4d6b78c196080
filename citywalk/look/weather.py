"""Weather as physical parameters: the model the renderer, the prompt parser and the CLI read.

A `Weather` says what the air and the ground are like in physical units (rain in mm/h, fog as
visibility in metres, turbidity as Preetham's T).  Some fields follow from others unless set:
rain wets the ground and fills puddles, snowfall covers it, precipitation brings clouds.
Presets are named `Weather`s; CARLA-style names that also carry a time ('hard_rain_night')
are split by `split_preset`.  `WeatherKeyframes` blends weathers over a clip.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ShotError

KOSCHMIEDER_CONTRAST = 3.912  # -ln(0.02): visibility is where contrast falls to 2 %
NO_FOG_VISIBILITY_M = 100_000.0
MAX_KEYFRAMES = 10_000


class Weather(BaseModel):
    """Air and ground state in physical units; see the module docstring for the couplings."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    cloud_cover: float = Field(0.1, ge=0.0, le=1.0, description="sky fraction covered by cloud")
    precipitation_mmph: float = Field(0.0, ge=0.0, le=150.0, description="rain rate, mm/h")
    snowfall_mmph: float = Field(0.0, ge=0.0, le=50.0, description="snowfall, mm/h water equivalent")
    wind_mps: tuple[float, float] = Field((0.0, 0.0), description="wind toward (east, north), m/s")
    fog_visibility_m: float | None = Field(
        None, ge=5.0, description="meteorological visibility; None or >= 100 000 m means no fog"
    )
    fog_height_falloff_per_m: float = Field(
        0.02, ge=0.0, le=1.0, description="fog density falls as exp(-falloff * (z - base)) above the base"
    )
    fog_base_height_m: float = Field(0.0, ge=-1000.0, le=10_000.0, description="fog is full density below this")
    haze_turbidity: float = Field(2.5, ge=2.0, le=10.0, description="Preetham turbidity: 2 clear .. 10 hazy")
    wetness: float = Field(0.0, ge=0.0, le=1.0, description="how wet surfaces look (darker, glossier)")
    puddle_coverage: float = Field(0.0, ge=0.0, le=1.0, description="fraction of flat ground under water")
    snow_cover: float = Field(0.0, ge=0.0, le=1.0, description="fraction of up-facing ground under snow")
    lightning: bool = Field(False, description="occasional lightning flashes")
    dust: float = Field(0.0, ge=0.0, le=1.0, description="airborne dust/sand (tints and thickens the air)")

    @model_validator(mode="after")
    def _coupled_defaults(self) -> "Weather":
        if abs(self.wind_mps[0]) > 75.0 or abs(self.wind_mps[1]) > 75.0:
            raise ValueError(f"wind_mps {self.wind_mps}: each component must be within -75..75 m/s")
        given = self.model_fields_set
        derived: dict[str, float] = {}
        rain, snow = self.precipitation_mmph, self.snowfall_mmph
        if "wetness" not in given and rain > 0.0:
            derived["wetness"] = min(1.0, 0.3 + 0.7 * (1.0 - math.exp(-rain / 2.0)))
        if "puddle_coverage" not in given and rain > 0.0:
            derived["puddle_coverage"] = 0.6 * (1.0 - math.exp(-rain / 8.0))
        if "snow_cover" not in given and snow > 0.0:
            derived["snow_cover"] = min(1.0, 0.2 + 0.8 * (1.0 - math.exp(-snow / 1.0)))
        if "cloud_cover" not in given and (rain > 0.0 or snow > 0.0):
            derived["cloud_cover"] = 0.9
        for name, value in derived.items():  # frozen model: set once, during validation
            object.__setattr__(self, name, value)
        return self

    # --- derived quantities ----------------------------------------------------------------
    @property
    def has_fog(self) -> bool:
        return self.fog_visibility_m is not None and self.fog_visibility_m < NO_FOG_VISIBILITY_M

    def extinction_per_m(self) -> float:
        """Fog extinction coefficient sigma (1/m) at the fog base, by Koschmieder's law
        sigma = 3.912 / visibility; 0 without fog.  Transmittance over d metres is exp(-sigma d)."""
        if not self.has_fog:
            return 0.0
        return KOSCHMIEDER_CONTRAST / float(self.fog_visibility_m)

    def extinction_at_height_per_m(self, z_m: np.ndarray | float) -> np.ndarray:
        """Fog extinction (1/m) at heights `z_m` (any shape, float64): full below the base,
        falling exponentially above it."""
        z = np.asarray(z_m, dtype=np.float64)
        above = np.maximum(z - self.fog_base_height_m, 0.0)
        return self.extinction_per_m() * np.exp(-self.fog_height_falloff_per_m * above)

    @property
    def wind_speed_mps(self) -> float:
        return float(math.hypot(*self.wind_mps))

    def with_changes(self, **changes: Any) -> "Weather":
        """A copy with `changes` applied and couplings recomputed for fields never set explicitly
        (so raising the rain of a preset also wets its ground)."""
        base = {name: getattr(self, name) for name in self.model_fields_set}
        return _validate({**base, **changes}, "weather")


# --- presets ---------------------------------------------------------------------------------
# Only the fields that define each preset; couplings fill in the rest (rain -> wet, snow -> cover).
_PRESET_FIELDS: dict[str, dict[str, Any]] = {
    "clear": {"cloud_cover": 0.05, "haze_turbidity": 2.2},
    "cloudy": {"cloud_cover": 0.6, "haze_turbidity": 2.8, "wind_mps": (2.0, 1.0)},
    "overcast": {"cloud_cover": 1.0, "haze_turbidity": 3.5, "wind_mps": (2.0, 1.0)},
    "wet": {"cloud_cover": 0.1, "wetness": 0.8, "puddle_coverage": 0.3},
    "wet_cloudy": {"cloud_cover": 0.6, "wetness": 0.8, "puddle_coverage": 0.3, "haze_turbidity": 3.0},
    "after_rain": {"cloud_cover": 0.5, "wetness": 0.9, "puddle_coverage": 0.4, "haze_turbidity": 3.0},
    "soft_rain": {"precipitation_mmph": 1.0, "cloud_cover": 0.7, "wind_mps": (1.5, 0.5), "haze_turbidity": 3.0},
    "mid_rain": {
        "precipitation_mmph": 4.0,
        "cloud_cover": 0.9,
        "wind_mps": (3.0, 1.0),
        "fog_visibility_m": 6000.0,
        "fog_height_falloff_per_m": 0.0,
        "haze_turbidity": 3.5,
    },
    "hard_rain": {
        "precipitation_mmph": 16.0,
        "cloud_cover": 1.0,
        "wind_mps": (8.0, 3.0),
        "fog_visibility_m": 1500.0,
        "fog_height_falloff_per_m": 0.0,
        "haze_turbidity": 4.0,
    },
    "thunderstorm": {
        "precipitation_mmph": 30.0,
        "cloud_cover": 1.0,
        "wind_mps": (12.0, 4.0),
        "lightning": True,
        "fog_visibility_m": 1000.0,
        "fog_height_falloff_per_m": 0.0,
        "haze_turbidity": 4.0,
    },
    "fog": {"cloud_cover": 0.8, "fog_visibility_m": 150.0, "fog_height_falloff_per_m": 0.01, "haze_turbidity": 4.0},
    "light_fog": {
        "cloud_cover": 0.4,
        "fog_visibility_m": 800.0,
        "fog_height_falloff_per_m": 0.01,
        "haze_turbidity": 3.0,
    },
    "dust_storm": {
        "dust": 0.9,
        "cloud_cover": 0.2,
        "wind_mps": (14.0, 2.0),
        "fog_visibility_m": 400.0,
        "fog_height_falloff_per_m": 0.005,
        "haze_turbidity": 9.0,
    },
    "light_snow": {"snowfall_mmph": 0.3, "cloud_cover": 0.9, "wind_mps": (1.0, 0.0), "fog_visibility_m": 3000.0},
    "heavy_snow": {
        "snowfall_mmph": 3.0,
        "cloud_cover": 1.0,
        "wind_mps": (5.0, 1.0),
        "fog_visibility_m": 400.0,
        "fog_height_falloff_per_m": 0.0,
    },
}

WEATHER_PRESETS: dict[str, Weather] = {name: Weather(**fields) for name, fields in _PRESET_FIELDS.items()}

# Other spellings (CARLA's 'MidRainy', everyday words) -> preset name.
WEATHER_ALIASES: dict[str, str] = {
    "default": "clear",
    "sunny": "clear",
    "mid_rainy": "mid_rain",
    "light_rain": "soft_rain",
    "rain": "mid_rain",
    "rainy": "mid_rain",
    "heavy_rain": "hard_rain",
    "storm": "thunderstorm",
    "foggy": "fog",
    "mist": "light_fog",
    "snow": "light_snow",
    "wet_ground": "after_rain",
}

# CARLA time suffixes (and our own presets) -> citywalk time preset.
TIME_SUFFIXES: dict[str, str] = {
    "noon": "noon",
    "sunset": "golden_hour",
    "night": "night",
    "dawn": "dawn",
    "morning": "morning",
    "afternoon": "afternoon",
    "golden_hour": "golden_hour",
    "dusk": "dusk",
}


def normalize_name(name: str) -> str:
    """'HardRainNight' / 'hard-rain night' -> 'hard_rain_night'."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[\s\-_]+", "_", text).lower().strip("_")


def split_preset(name: str) -> tuple[str, str | None]:
    """Split a CARLA-style combined name into (weather name, time preset or None):
    'hard_rain_night' -> ('hard_rain', 'night'), 'WetCloudySunset' -> ('wet_cloudy',
    'golden_hour'), 'clear' -> ('clear', None).  The weather part is normalised, not checked."""
    key = normalize_name(name)
    for suffix in sorted(TIME_SUFFIXES, key=len, reverse=True):
        if key.endswith("_" + suffix):
            return key[: -len(suffix) - 1], TIME_SUFFIXES[suffix]
    return key, None


def known_weather_names() -> list[str]:
    return list(WEATHER_PRESETS)


def weather_from_name(name: str) -> Weather:
    """The preset called `name` (aliases and CARLA spellings accepted; a combined name such as
    'hard_rain_night' gives its weather part: use `split_preset` to get the time as well)."""
    key = normalize_name(name)
    if key not in WEATHER_PRESETS and key not in WEATHER_ALIASES:
        key = split_preset(key)[0]
    key = WEATHER_ALIASES.get(key, key)
    if key not in WEATHER_PRESETS:
        raise ShotError(
            f"look.weather: unknown weather '{name}': use one of {', '.join(WEATHER_PRESETS)} "
            f"(or {', '.join(WEATHER_ALIASES)}; a time suffix such as '_night' or '_sunset' is allowed)"
        )
    return WEATHER_PRESETS[key]


def weather_from_spec(spec: "str | Mapping[str, Any] | Weather", source: str = "look.weather") -> Weather:
    """A Weather from a preset name, a mapping of fields (optionally with 'preset': name to start
    from), or a Weather.  Errors name the field and the accepted range."""
    if isinstance(spec, Weather):
        return spec
    if isinstance(spec, str):
        return weather_from_name(spec)
    if not isinstance(spec, Mapping):
        raise ShotError(f"{source}: expected a preset name or a mapping of weather fields, got {type(spec).__name__}")
    fields = dict(spec)
    preset = fields.pop("preset", None)
    if preset is not None:
        if not isinstance(preset, str):
            raise ShotError(f"{source}.preset: expected a preset name, got {preset!r}")
        return weather_from_name(preset).with_changes(**fields) if fields else weather_from_name(preset)
    return _validate(fields, source)


def _validate(fields: Mapping[str, Any], source: str) -> Weather:
    try:
        return Weather.model_validate(dict(fields))
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field (known: {', '.join(Weather.model_fields)})"
            got = err.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            parts.append(f"{source}{'.' + loc if loc else ''}: {msg}{shown}")
        raise ShotError("; ".join(dict.fromkeys(parts))) from None


# --- keyframes -------------------------------------------------------------------------------
_NUMERIC_FIELDS = tuple(
    name for name, f in Weather.model_fields.items() if f.annotation is float
)
_BOOL_FIELDS = tuple(name for name, f in Weather.model_fields.items() if f.annotation is bool)


class WeatherKeyframes:
    """Weather that changes over a clip: (t_s, Weather or preset name) pairs, times increasing.

    `at(t_s)` holds the first/last weather outside the keyed range and blends between keys:
    numbers linearly (or with smoothstep easing), wind per component, fog through its
    extinction coefficient (so clear -> fog thickens steadily rather than jumping), and
    booleans switch at the midpoint between two keys.
    """

    def __init__(
        self,
        keys: Iterable[tuple[float, "Weather | str | Mapping[str, Any]"]],
        ease: Literal["linear", "smoothstep"] = "linear",
    ):
        items = list(keys)
        if not items:
            raise ShotError("look.weather keyframes: need at least one (t_s, weather) pair")
        if len(items) > MAX_KEYFRAMES:
            raise ShotError(f"look.weather keyframes: {len(items)} keys is over the limit of {MAX_KEYFRAMES}")
        if ease not in ("linear", "smoothstep"):
            raise ShotError(f"look.weather keyframes: ease '{ease}' is not 'linear' or 'smoothstep'")
        times: list[float] = []
        weathers: list[Weather] = []
        for i, item in enumerate(items):
            try:
                t_s, w = item
                t = float(t_s)
            except (TypeError, ValueError):
                raise ShotError(f"look.weather keyframes[{i}]: expected (t_s, weather), got {item!r}") from None
            if not math.isfinite(t) or (times and t <= times[-1]):
                raise ShotError(
                    f"look.weather keyframes[{i}]: time {t_s!r} must be finite and later than the previous key"
                )
            times.append(t)
            weathers.append(weather_from_spec(w, f"look.weather keyframes[{i}]"))
        self.times_s: tuple[float, ...] = tuple(times)
        self.weathers: tuple[Weather, ...] = tuple(weathers)
        self.ease = ease

    def __len__(self) -> int:
        return len(self.times_s)

    def at(self, t_s: float) -> Weather:
        """The weather at clip time `t_s` (seconds)."""
        times = self.times_s
        if t_s <= times[0]:
            return self.weathers[0]
        if t_s >= times[-1]:
            return self.weathers[-1]
        i = int(np.searchsorted(times, t_s, side="right")) - 1
        s = (t_s - times[i]) / (times[i + 1] - times[i])
        return blend_weather(self.weathers[i], self.weathers[i + 1], s, self.ease)


def blend_weather(a: Weather, b: Weather, s: float, ease: Literal["linear", "smoothstep"] = "linear") -> Weather:
    """The weather a fraction `s` (0..1) of the way from `a` to `b`; booleans switch at s = 0.5."""
    s = min(1.0, max(0.0, float(s)))
    w = s * s * (3.0 - 2.0 * s) if ease == "smoothstep" else s

    def lerp(x: float, y: float) -> float:
        return x + (y - x) * w

    fields: dict[str, Any] = {name: lerp(getattr(a, name), getattr(b, name)) for name in _NUMERIC_FIELDS}
    fields.update({name: getattr(b if s >= 0.5 else a, name) for name in _BOOL_FIELDS})
    fields["wind_mps"] = (lerp(a.wind_mps[0], b.wind_mps[0]), lerp(a.wind_mps[1], b.wind_mps[1]))
    sigma = lerp(a.extinction_per_m(), b.extinction_per_m())
    no_fog_sigma = KOSCHMIEDER_CONTRAST / NO_FOG_VISIBILITY_M
    fields["fog_visibility_m"] = None if sigma <= no_fog_sigma else max(5.0, KOSCHMIEDER_CONTRAST / sigma)
    return Weather.model_validate(fields)


def sample_keyframes(keys: WeatherKeyframes, times_s: Sequence[float]) -> list[Weather]:
    """`keys.at(t)` for each time in `times_s` (one Weather per frame)."""
    return [keys.at(float(t)) for t in times_s]
