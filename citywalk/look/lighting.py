"""From a Look (time, place, weather) to the numbers a renderer lights with.

Units: luminance in kcd/m² and illuminance in klux, so the Preetham zenith luminance (kcd/m²)
is used as is and a white diffuse surface under illuminance E has radiance E/π.
Colours are linear sRGB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..errors import ShotError
from .sun import moon_position, sun_direction_enu, sun_position
from .timeofday import resolve_when
from .weather import Weather, weather_from_spec

XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])
SUN_EXTRATERRESTRIAL_KLUX = 128.0
NIGHT_STREET_LUMINANCE = 0.0015  # kcd/m²: a lit city street at night, what a camera exposes for
URBAN_NIGHT_SKY = np.array([0.9, 0.75, 0.6]) * 4e-6  # kcd/m²: orange sky glow over a city


@dataclass(frozen=True)
class Lighting:
    """Everything the renderer needs about light for one moment of a Shot."""

    when_utc: dt.datetime
    sun_altitude_deg: float
    sun_azimuth_deg: float
    sun_dir: np.ndarray          # (3,) unit vector toward the sun, ENU
    sun_illuminance: np.ndarray  # (3,) klux, linear RGB, on a surface facing the sun (0 below horizon)
    sky_texture: (
        np.ndarray
    )  # (H, W, 3) float32 kcd/m²: rows = elevation −90..90°, cols = azimuth 0..360° from north, clockwise
    ambient_up: np.ndarray       # (3,) klux: sky irradiance on an up-facing surface
    ambient_horizon: np.ndarray  # (3,) kcd/m²: mean sky luminance near the horizon (fog colour)
    lights_on: float             # 0..1: street lamps, lit windows
    exposure: float              # multiplier from luminance to display-referred values
    weather: Weather
    moon_dir: np.ndarray
    moon_illuminance: float


def _perez(theta, gamma, A, B, C, D, E):
    cos_t = np.maximum(np.cos(theta), 0.01)
    return (1 + A * np.exp(B / cos_t)) * (1 + C * np.exp(D * gamma) + E * np.cos(gamma) ** 2)


def preetham_sky(dirs: np.ndarray, sun_dir: np.ndarray, turbidity: float) -> np.ndarray:
    """Clear-sky luminance (kcd/m²) in linear RGB for unit directions dirs (N, 3) above the
    horizon, after Preetham, Shirley & Smits (1999). The sun is clamped to the horizon."""
    T = turbidity
    s = sun_dir.copy()
    s[2] = max(s[2], 0.0)
    s /= np.linalg.norm(s)
    theta_s = np.arccos(np.clip(s[2], -1, 1))
    d = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    theta = np.arccos(np.clip(d[..., 2], 0.0, 1.0))
    gamma = np.arccos(np.clip(d @ s, -1, 1))
    coY = (0.1787 * T - 1.4630, -0.3554 * T + 0.4275, -0.0227 * T + 5.3251, 0.1206 * T - 2.5771, -0.0670 * T + 0.3703)
    cox = (-0.0193 * T - 0.2592, -0.0665 * T + 0.0008, -0.0004 * T + 0.2125, -0.0641 * T - 0.8989, -0.0033 * T + 0.0452)
    coy = (-0.0167 * T - 0.2608, -0.0950 * T + 0.0092, -0.0079 * T + 0.2102, -0.0441 * T - 1.6537, -0.0109 * T + 0.0529)
    chi = (4.0 / 9.0 - T / 120.0) * (np.pi - 2 * theta_s)
    Yz = (4.0453 * T - 4.9710) * np.tan(chi) - 0.2155 * T + 2.4192
    ts = theta_s
    xz = (T * T * (0.00166 * ts**3 - 0.00375 * ts**2 + 0.00209 * ts)
          + T * (-0.02903 * ts**3 + 0.06377 * ts**2 - 0.03202 * ts + 0.00394)
          + (0.11693 * ts**3 - 0.21196 * ts**2 + 0.06052 * ts + 0.25886))
    yz = (T * T * (0.00275 * ts**3 - 0.00610 * ts**2 + 0.00317 * ts)
          + T * (-0.04214 * ts**3 + 0.08970 * ts**2 - 0.04153 * ts + 0.00516)
          + (0.15346 * ts**3 - 0.26756 * ts**2 + 0.06670 * ts + 0.26688))
    Y = Yz * _perez(theta, gamma, *coY) / _perez(0.0, theta_s, *coY)
    x = xz * _perez(theta, gamma, *cox) / _perez(0.0, theta_s, *cox)
    y = yz * _perez(theta, gamma, *coy) / _perez(0.0, theta_s, *coy)
    X = x / y * Y
    Z = (1 - x - y) / y * Y
    rgb = np.stack([X, Y, Z], -1) @ XYZ_TO_SRGB.T
    return np.maximum(rgb, 0.0)


def twilight_scale(sun_alt_deg: float) -> float:
    """How much of the sunset-sky luminance remains with the sun below the horizon: about 1/300
    at −6° (end of civil twilight), as measured twilight illuminance falls."""
    if sun_alt_deg >= 2.0:
        return 1.0
    if sun_alt_deg >= 0.0:
        return 0.4 + 0.3 * sun_alt_deg
    return 0.4 * float(np.exp(0.95 * sun_alt_deg))


def sky_radiance(dirs: np.ndarray, sun_dir: np.ndarray, sun_alt_deg: float, weather: Weather) -> np.ndarray:
    """Sky luminance (kcd/m², linear RGB) for unit directions (N, 3) with z ≥ 0: Preetham clear
    sky, dimmed and blued through twilight, greyed toward a CIE overcast sky by cloud cover."""
    T = float(np.clip(weather.haze_turbidity, 1.7, 10.0))
    clear = preetham_sky(dirs, sun_dir, T)
    k = twilight_scale(sun_alt_deg)
    cos_z = np.clip(dirs[..., 2], 0.0, 1.0)[..., None]
    if sun_alt_deg < 4.0:
        # twilight: blue zenith, warm band low in the sun's direction
        az_sun = np.array([sun_dir[0], sun_dir[1], 0.0])
        az_sun /= max(np.linalg.norm(az_sun), 1e-6)
        toward = np.clip(dirs[..., :2] @ az_sun[:2], -1, 1)[..., None]
        band = np.exp(-cos_z / 0.12) * (0.35 + 0.65 * (0.5 + 0.5 * toward) ** 2)
        warm = np.array([1.0, 0.42, 0.18])
        blue = np.array([0.42, 0.55, 0.95])
        lum = clear.mean(-1, keepdims=True)
        depth = float(np.clip((4.0 - sun_alt_deg) / 8.0, 0.0, 1.0))
        tint = (1 - depth) * clear + depth * lum * (blue * (1 - band) + 2.2 * warm * band)
        clear = tint
    clear = clear * k
    cover = float(weather.cloud_cover)
    if cover > 0:
        zen = float(preetham_sky(np.array([[0, 0, 1.0]]), sun_dir, T).mean()) * k
        overcast = zen * 0.55 * (1 + 2 * cos_z) / 3 * np.array([0.92, 0.95, 1.0])
        clear = (1 - cover) * clear + cover * overcast
    return np.maximum(clear, URBAN_NIGHT_SKY)


def sun_illuminance(sun_alt_deg: float, turbidity: float, cloud_cover: float) -> np.ndarray:
    """Direct sun illuminance (klux, linear RGB) on a surface facing it, through an atmosphere
    of the given turbidity: Rayleigh + aerosol extinction along the Kasten–Young air mass."""
    if sun_alt_deg <= -0.8:
        return np.zeros(3)
    zenith = 90.0 - max(sun_alt_deg, -0.8)
    airmass = 1.0 / (np.cos(np.radians(zenith)) + 0.50572 * (96.07995 - zenith) ** -1.6364)
    tau_rayleigh = np.array([0.055, 0.10, 0.21])
    tau_aerosol = 0.035 * turbidity * np.array([0.9, 1.0, 1.1])
    t = np.exp(-airmass * (tau_rayleigh + tau_aerosol))
    fade = float(np.clip((sun_alt_deg + 0.8) / 1.6, 0.0, 1.0))
    cloud = 1.0 - 0.97 * cloud_cover**1.5
    return SUN_EXTRATERRESTRIAL_KLUX * t * fade * cloud


def make_sky_texture(sun_dir, sun_alt_deg, weather: Weather, width: int = 128, height: int = 64) -> np.ndarray:
    """Lat-long sky map (H, W, 3) float32: row 0 = straight down, last row = zenith; column 0 =
    north, azimuth increasing clockwise (east at W/4). Below the horizon the horizon colour is
    darkened toward the ground."""
    el = (np.arange(height) + 0.5) / height * np.pi - np.pi / 2
    az = (np.arange(width) + 0.5) / width * 2 * np.pi
    E, A = np.meshgrid(el, az, indexing="ij")
    up = np.maximum(E, 0.0)
    dirs = np.stack([np.cos(up) * np.sin(A), np.cos(up) * np.cos(A), np.sin(up)], -1)
    sky = sky_radiance(dirs.reshape(-1, 3), sun_dir, sun_alt_deg, weather).reshape(height, width, 3)
    below = E < 0
    sky[below] *= (0.35 + 0.65 * np.exp(E[below] / 0.08))[:, None]
    return sky.astype(np.float32)


def ambient_from_sky(sky_tex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Irradiance on an up-facing surface (klux) and mean near-horizon luminance (kcd/m²)."""
    h, w, _ = sky_tex.shape
    el = (np.arange(h) + 0.5) / h * np.pi - np.pi / 2
    upper = el > 0
    weight = (np.sin(el) * np.cos(el))[upper] * (np.pi / h) * (2 * np.pi / w)
    e_up = (sky_tex[upper] * weight[:, None, None]).sum((0, 1))
    band = (el > 0) & (el < np.radians(8))
    horizon = sky_tex[band].mean((0, 1))
    return e_up, horizon


def weather_timeline(look):
    """WeatherKeyframes for a Look whose weather is keyed over time, else None."""
    if not isinstance(look.weather, list):
        return None
    from .weather import WeatherKeyframes

    keys = []
    for i, k in enumerate(look.weather):
        if not isinstance(k, dict) or "t_s" not in k or "weather" not in k:
            raise ShotError(f"look.weather[{i}]: a keyframe is {{t_s: seconds, weather: preset or fields}}")
        keys.append((k["t_s"], k["weather"]))
    return WeatherKeyframes(keys, ease="smoothstep")


def resolve_lighting(look, at_seconds: float = 0.0, weather: Weather | None = None) -> Lighting:
    """Lighting for `look` (a LookSpec) `at_seconds` into the shot (the weather of keyframed looks
    is taken at that time unless `weather` is given)."""
    when = resolve_when(look.when, look.date, look.lat, look.lon, look.tz) + dt.timedelta(seconds=at_seconds)
    if weather is None:
        timeline = weather_timeline(look)
        weather = timeline.at(at_seconds) if timeline is not None else weather_from_spec(look.weather)
    sun = sun_position(when, look.lat, look.lon)
    sdir = np.asarray(sun_direction_enu(sun.altitude_deg, sun.azimuth_deg), float)
    sky = make_sky_texture(sdir, sun.altitude_deg, weather)
    e_up, horizon = ambient_from_sky(sky)
    e_sun = sun_illuminance(sun.altitude_deg, weather.haze_turbidity, weather.cloud_cover)
    moon = moon_position(when, look.lat, look.lon)
    mdir = np.asarray(sun_direction_enu(moon.altitude_deg, moon.azimuth_deg), float)
    moon_lux = 0.0003 * moon.illuminated_fraction * max(0.0, np.sin(np.radians(moon.altitude_deg)))
    lights_on = float(np.clip((6.0 - sun.altitude_deg) / 8.0, 0.0, 1.0))
    exposure = auto_exposure(e_sun, sdir, e_up, lights_on) * 2.0 ** look.exposure_ev
    return Lighting(when, sun.altitude_deg, sun.azimuth_deg, sdir, e_sun, sky, e_up, horizon,
                    lights_on, exposure, weather, mdir, moon_lux)


def auto_exposure(e_sun: np.ndarray, sun_dir: np.ndarray, e_up: np.ndarray, lights_on: float) -> float:
    """Exposure from the expected street luminance, with partial adaptation so that dusk and
    night still look darker than noon (as they do to the eye), keyed to 18 % grey."""
    albedo = 0.3
    e_street = float(np.mean(e_sun)) * (0.25 + 0.5 * max(sun_dir[2], 0.0)) + float(np.mean(e_up)) * 0.8
    lum = albedo * e_street / np.pi + NIGHT_STREET_LUMINANCE * lights_on
    lum_noon = 6.0
    return 0.18 / (lum**0.88 * lum_noon**0.12)
