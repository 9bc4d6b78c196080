"""Sun and moon positions for a place and a UTC instant, in pure NumPy.

The sun follows NOAA's solar-position equations (after Meeus, *Astronomical Algorithms*):
about 0.01 deg between 1800 and 2100, refraction included.  The moon follows the
Astronomical Almanac's low-precision series (about 0.3 deg), corrected for topocentric
parallax, which is enough to place a moon disc and shade its phase.

Angles are degrees: altitude above the horizon, azimuth clockwise from north (90 = east).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

_J2000_JD = 2451545.0
_UNIX_EPOCH_JD = 2440587.5
_AU_KM = 149_597_870.7
_EARTH_RADIUS_KM = 6378.14


@dataclass(frozen=True)
class SunPosition:
    """Where the sun is: apparent altitude (with refraction), azimuth from north, declination,
    and the equation of time (true minus mean solar time, minutes)."""

    altitude_deg: float
    azimuth_deg: float
    declination_deg: float
    equation_of_time_min: float


@dataclass(frozen=True)
class MoonPosition:
    """Where the moon is and how lit: phase angle 0 = full, 180 = new; waxing between new and full."""

    altitude_deg: float
    azimuth_deg: float
    phase_angle_deg: float
    illuminated_fraction: float
    waxing: bool


# --- time ------------------------------------------------------------------------------------
def _as_utc(when: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def unix_seconds(when: dt.datetime) -> float:
    """Seconds since 1970-01-01 UTC (naive datetimes are taken as UTC)."""
    return _as_utc(when).timestamp()


def julian_day(unix_s: np.ndarray | float) -> np.ndarray:
    """Julian day (UT) of Unix times in seconds; any shape in, same shape out (float64)."""
    return np.asarray(unix_s, dtype=np.float64) / 86400.0 + _UNIX_EPOCH_JD


# --- sun -------------------------------------------------------------------------------------
def _sun_ecliptic(jd: np.ndarray) -> dict[str, np.ndarray]:
    """Sun's apparent ecliptic longitude, obliquity, distance, declination, right ascension and
    equation of time for Julian days `jd` (NOAA equations; every output has jd's shape)."""
    t = (jd - _J2000_JD) / 36525.0
    mean_long = np.mod(280.46646 + t * (36000.76983 + t * 0.0003032), 360.0)
    mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    m = np.radians(mean_anom)
    centre = (
        np.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + np.sin(2 * m) * (0.019993 - 0.000101 * t)
        + np.sin(3 * m) * 0.000289
    )
    true_long = mean_long + centre
    true_anom = np.radians(mean_anom + centre)
    dist_au = 1.000001018 * (1 - ecc**2) / (1 + ecc * np.cos(true_anom))
    omega = np.radians(125.04 - 1934.136 * t)
    app_long = true_long - 0.00569 - 0.00478 * np.sin(omega)
    mean_obliq = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    obliq = mean_obliq + 0.00256 * np.cos(omega)
    eps, lam = np.radians(obliq), np.radians(app_long)
    decl = np.degrees(np.arcsin(np.sin(eps) * np.sin(lam)))
    ra = np.degrees(np.arctan2(np.cos(eps) * np.sin(lam), np.cos(lam)))
    y = np.tan(eps / 2) ** 2
    l0 = np.radians(mean_long)
    eot_min = 4.0 * np.degrees(
        y * np.sin(2 * l0)
        - 2 * ecc * np.sin(m)
        + 4 * ecc * y * np.sin(m) * np.cos(2 * l0)
        - 0.5 * y * y * np.sin(4 * l0)
        - 1.25 * ecc * ecc * np.sin(2 * m)
    )
    return {
        "longitude_deg": app_long,
        "obliquity_deg": obliq,
        "distance_au": dist_au,
        "declination_deg": decl,
        "right_ascension_deg": ra,
        "equation_of_time_min": eot_min,
    }


def refraction_deg(true_altitude_deg: np.ndarray | float) -> np.ndarray:
    """Standard atmospheric refraction (NOAA's piecewise fit, ~1010 hPa, 10 C) to add to a
    geometric altitude; 0 above 85 deg, about 0.57 deg at the horizon.  Same shape as input."""
    e = np.asarray(true_altitude_deg, dtype=np.float64)
    te = np.tan(np.radians(np.clip(e, -89.0, 89.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        high = 58.1 / te - 0.07 / te**3 + 0.000086 / te**5
        low = -20.772 / te
    near = 1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    arcsec = np.where(e > 85.0, 0.0, np.where(e > 5.0, high, np.where(e > -0.575, near, low)))
    return arcsec / 3600.0


def _alt_az(decl_deg: np.ndarray, hour_angle_deg: np.ndarray, lat_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Geometric altitude and azimuth (clockwise from north) from declination and hour angle
    (positive west of the meridian)."""
    d, h, p = np.radians(decl_deg), np.radians(hour_angle_deg), np.radians(lat_deg)
    sin_alt = np.sin(p) * np.sin(d) + np.cos(p) * np.cos(d) * np.cos(h)
    alt = np.degrees(np.arcsin(np.clip(sin_alt, -1.0, 1.0)))
    east = -np.cos(d) * np.sin(h)
    north = np.sin(d) * np.cos(p) - np.cos(d) * np.cos(h) * np.sin(p)
    az = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
    return alt, az


def sun_hour_angle_deg(unix_s: np.ndarray | float, lon_deg: float) -> np.ndarray:
    """Sun's hour angle at Unix times `unix_s` and east longitude `lon_deg`, wrapped to
    [-180, 180): 0 at solar noon, negative in the morning."""
    jd = julian_day(unix_s)
    sun = _sun_ecliptic(jd)
    minutes_utc = np.mod(np.asarray(unix_s, dtype=np.float64), 86400.0) / 60.0
    true_solar_min = minutes_utc + sun["equation_of_time_min"] + 4.0 * lon_deg
    return np.mod(true_solar_min / 4.0, 360.0) - 180.0  # hour angle = solar time / 4 - 180


def sun_altitude_azimuth(unix_s: np.ndarray | float, lat_deg: float, lon_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Apparent sun altitude and azimuth (deg) at Unix times `unix_s` (any shape, vectorised)."""
    sun = _sun_ecliptic(julian_day(unix_s))
    alt, az = _alt_az(sun["declination_deg"], sun_hour_angle_deg(unix_s, lon_deg), lat_deg)
    return alt + refraction_deg(alt), az


def sun_position(when_utc: dt.datetime, lat_deg: float, lon_deg: float) -> SunPosition:
    """The sun seen from latitude/longitude (deg, east positive) at `when_utc` (naive = UTC)."""
    unix_s = unix_seconds(when_utc)
    sun = _sun_ecliptic(julian_day(unix_s))
    alt, az = _alt_az(sun["declination_deg"], sun_hour_angle_deg(unix_s, lon_deg), lat_deg)
    return SunPosition(
        altitude_deg=float(alt + refraction_deg(alt)),
        azimuth_deg=float(az),
        declination_deg=float(sun["declination_deg"]),
        equation_of_time_min=float(sun["equation_of_time_min"]),
    )


def sun_direction_enu(altitude_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector toward a sky object in the world frame (X east, Y north, Z up): (3,) float64."""
    alt, az = np.radians(altitude_deg), np.radians(azimuth_deg)
    return np.array([np.cos(alt) * np.sin(az), np.cos(alt) * np.cos(az), np.sin(alt)], dtype=np.float64)


# --- moon ------------------------------------------------------------------------------------
def _moon_ecliptic(jd: float) -> tuple[float, float, float]:
    """Moon's geocentric ecliptic longitude, latitude and horizontal parallax (deg), from the
    Astronomical Almanac's low-precision series (~0.3 deg in longitude, ~0.2 deg in latitude)."""
    t = (jd - _J2000_JD) / 36525.0

    def s(a: float, b: float) -> float:
        return float(np.sin(np.radians(a + b * t)))

    def c(a: float, b: float) -> float:
        return float(np.cos(np.radians(a + b * t)))

    lon = (
        218.32 + 481267.881 * t
        + 6.29 * s(135.0, 477198.87) - 1.27 * s(259.3, -413335.36)
        + 0.66 * s(235.7, 890534.22) + 0.21 * s(269.9, 954397.74)
        - 0.19 * s(357.5, 35999.05) - 0.11 * s(186.5, 966404.03)
    )
    lat = (
        5.13 * s(93.3, 483202.02) + 0.28 * s(228.2, 960400.89)
        - 0.28 * s(318.3, 6003.15) - 0.17 * s(217.6, -407332.21)
    )
    parallax = (
        0.9508 + 0.0518 * c(135.0, 477198.87) + 0.0095 * c(259.3, -413335.36)
        + 0.0078 * c(235.7, 890534.22) + 0.0028 * c(269.9, 954397.74)
    )
    return float(np.mod(lon, 360.0)), lat, parallax


def greenwich_sidereal_deg(jd: float) -> float:
    """Greenwich mean sidereal time (deg) at Julian day `jd` (UT)."""
    d = jd - _J2000_JD
    t = d / 36525.0
    return float(np.mod(280.46061837 + 360.98564736629 * d + 0.000387933 * t * t - t**3 / 38710000.0, 360.0))


def moon_position(when_utc: dt.datetime, lat_deg: float, lon_deg: float) -> MoonPosition:
    """The moon seen from latitude/longitude (deg) at `when_utc` (naive = UTC): apparent
    altitude (parallax and refraction applied), azimuth and phase.  Accuracy ~0.5 deg."""
    jd = float(julian_day(unix_seconds(when_utc)))
    lam_deg, beta_deg, parallax_deg = _moon_ecliptic(jd)
    sun = _sun_ecliptic(np.asarray(jd))
    eps = np.radians(float(sun["obliquity_deg"]))
    lam, beta = np.radians(lam_deg), np.radians(beta_deg)
    decl = np.degrees(np.arcsin(np.sin(beta) * np.cos(eps) + np.cos(beta) * np.sin(eps) * np.sin(lam)))
    ra = np.degrees(np.arctan2(np.sin(lam) * np.cos(eps) - np.tan(beta) * np.sin(eps), np.cos(lam)))
    hour_angle = np.mod(greenwich_sidereal_deg(jd) + lon_deg - ra + 180.0, 360.0) - 180.0
    geo_alt, az = _alt_az(decl, hour_angle, lat_deg)
    # Seen from the surface rather than the Earth's centre the moon sits lower by up to ~1 deg.
    topo_alt = geo_alt - np.degrees(np.arcsin(np.sin(np.radians(parallax_deg)) * np.cos(np.radians(geo_alt))))

    # Phase: the Sun-Moon-Earth angle from the geocentric elongation and the two distances.
    elong_lon = np.radians(lam_deg - float(sun["longitude_deg"]))
    cos_psi = np.cos(beta) * np.cos(elong_lon)
    psi = np.arccos(np.clip(cos_psi, -1.0, 1.0))
    sun_km = float(sun["distance_au"]) * _AU_KM
    moon_km = _EARTH_RADIUS_KM / np.sin(np.radians(parallax_deg))
    phase = np.degrees(np.arctan2(sun_km * np.sin(psi), moon_km - sun_km * np.cos(psi)))
    return MoonPosition(
        altitude_deg=float(topo_alt + refraction_deg(topo_alt)),
        azimuth_deg=float(az),
        phase_angle_deg=float(phase),
        illuminated_fraction=float((1.0 + np.cos(np.radians(phase))) / 2.0),
        waxing=bool(np.mod(np.degrees(elong_lon), 360.0) < 180.0),
    )
