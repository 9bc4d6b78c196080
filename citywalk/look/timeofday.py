"""Turn a Shot's `when` (ISO date-time, 'HH:MM' or a preset such as 'dusk') into a UTC instant.

Presets follow the sun on that date and place, not the clock, so 'dusk' in Tokyo in June and
in Paris in December both mean the blue hour:

| preset      | sun                                            |
|-------------|------------------------------------------------|
| dawn        | rising through -4 deg (morning blue hour)      |
| morning     | rising through +20 deg                         |
| noon        | solar noon (hour angle 0, highest)             |
| afternoon   | descending through +35 deg                     |
| golden_hour | descending through +5 deg                      |
| dusk        | descending through -4 deg (evening blue hour)  |
| night       | solar midnight after that day (lowest)         |

Where the sun never reaches a target that day (polar day or night, or a low winter sun), the
target is pulled inside the altitudes the sun does reach, keeping the presets' order: see
`_reachable_target_deg`.  At the poles, where the altitude barely changes all day, presets
are fixed offsets from solar noon (`PRESET_FALLBACK_HOURS`).  A valid place and date never
raises; 'night' is the solar midnight that follows the date's solar noon.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np

from ..errors import ShotError
from .sun import sun_altitude_azimuth, sun_hour_angle_deg

TIME_PRESETS = ("dawn", "morning", "noon", "afternoon", "golden_hour", "dusk", "night")

# preset -> (target apparent altitude deg, +1 rising before noon / -1 descending after noon)
PRESET_TARGETS_DEG: dict[str, tuple[float, int]] = {
    "dawn": (-4.0, +1),
    "morning": (20.0, +1),
    "afternoon": (35.0, -1),
    "golden_hour": (5.0, -1),
    "dusk": (-4.0, -1),
}

# preset -> hours from solar noon, used where the sun's altitude hardly changes over the half
# day (within ~0.25 deg of a pole), so that altitude cannot tell the presets apart.
PRESET_FALLBACK_HOURS: dict[str, float] = {
    "dawn": -9.0, "morning": -5.0, "afternoon": 3.0, "golden_hour": 6.0, "dusk": 9.0,
}
FLAT_SUN_RANGE_DEG = 0.5

SAMPLE_STEP_S = 300.0  # sampling step along the half day before bisection
_HOUR_ANGLE_DEG_PER_S = 360.0 / 86400.0
_HALF_DAY_S = 43200.0
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?$")
_HHMM = re.compile(r"^(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$")


# --- time zones ------------------------------------------------------------------------------
def local_tz(lat_deg: float, lon_deg: float, tz: str | None) -> dt.tzinfo:
    """The time zone clock times are read in.

    `tz` is an IANA name ('Asia/Tokyo', with daylight saving), 'UTC', or a fixed offset
    ('+09:00', '-5', '+0530').  None means the nautical time zone of the longitude:
    UTC + round(lon / 15) hours, which is within about 30 min of the sun everywhere but can
    differ from the legal zone by an hour or more (China, Spain, summer time).
    """
    if tz is None:
        return dt.timezone(dt.timedelta(hours=int(round(lon_deg / 15.0))))
    text = tz.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return dt.timezone.utc
    m = _OFFSET.match(text)
    if m:
        hours, minutes = int(m["h"]), int(m["m"] or 0)
        if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
            raise ShotError(f"look.tz: offset '{tz}' is out of range: use -14:00 .. +14:00")
        sign = 1 if m["sign"] == "+" else -1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(text)
    except Exception:
        raise ShotError(
            f"look.tz: unknown time zone '{tz}': use an IANA name (Asia/Tokyo), 'UTC' or an offset (+09:00, -5)"
        ) from None


def check_place(lat_deg: float, lon_deg: float) -> None:
    """Raise ShotError unless latitude is in [-90, 90] and longitude in [-180, 180] degrees."""
    if not (math.isfinite(lat_deg) and -90.0 <= lat_deg <= 90.0):
        raise ShotError(f"look.lat: {lat_deg!r} is not a latitude: use -90 .. 90 degrees (north positive)")
    if not (math.isfinite(lon_deg) and -180.0 <= lon_deg <= 180.0):
        raise ShotError(f"look.lon: {lon_deg!r} is not a longitude: use -180 .. 180 degrees (east positive)")


# --- solving for the sun ---------------------------------------------------------------------
def solar_noon_utc(date: dt.date, lat_deg: float, lon_deg: float, tz: str | None = None) -> dt.datetime:
    """Solar noon (sun on the meridian, highest) nearest 12:00 local clock time on `date`."""
    check_place(lat_deg, lon_deg)
    return _as_datetime(_solar_noon_unix(date, lon_deg, local_tz(lat_deg, lon_deg, tz)))


def _solar_noon_unix(date: dt.date, lon_deg: float, tzinfo: dt.tzinfo) -> float:
    t = dt.datetime.combine(date, dt.time(12, 0), tzinfo=tzinfo).timestamp()
    for _ in range(4):  # Newton steps on the hour angle; converges to < 0.1 s
        t -= float(sun_hour_angle_deg(t, lon_deg)) / _HOUR_ANGLE_DEG_PER_S
    return t


def _altitude(unix_s: np.ndarray | float, lat_deg: float, lon_deg: float) -> np.ndarray:
    return sun_altitude_azimuth(unix_s, lat_deg, lon_deg)[0]


def _reachable_target_deg(target_deg: float, low_deg: float, high_deg: float) -> float:
    """`target_deg` if it sits well inside [low, high] (the sun's lowest and highest altitude
    on that half day); otherwise squeezed smoothly toward the nearer end so it stays reachable.

    The map is the identity on the middle 90 % of the range and a slow x / (1 + x) roll-off
    outside it that never passes 95 %: strictly increasing, so presets on one half day keep
    their order and stay apart in time even when both are far out of reach (Paris in
    December: 'morning' +20 deg, above the 17.8 deg noon sun, becomes ~15.2 deg, 11:20).
    """
    centre, half = (high_deg + low_deg) / 2.0, (high_deg - low_deg) / 2.0
    if half < 1e-6:
        return centre
    u = (target_deg - centre) / half
    knee, width = 0.9, 0.05
    if abs(u) > knee:
        x = (abs(u) - knee) / width
        u = math.copysign(knee + width * x / (1.0 + x), u)
    return centre + u * half


def _crossing_unix(
    t_start: float, t_end: float, target_deg: float, rising: bool, lat_deg: float, lon_deg: float
) -> float:
    """First time in [t_start, t_end] the sun's altitude crosses `target_deg` (upward if `rising`),
    by sampling every SAMPLE_STEP_S and bisecting to ~1 s; the closest sample if none crosses."""
    n = max(2, int(math.ceil((t_end - t_start) / SAMPLE_STEP_S)) + 1)
    ts = np.linspace(t_start, t_end, n)
    alt = _altitude(ts, lat_deg, lon_deg) - target_deg
    sign = 1.0 if rising else -1.0
    hits = np.nonzero((sign * alt[:-1] <= 0.0) & (sign * alt[1:] > 0.0))[0]
    if hits.size == 0:
        return float(ts[int(np.argmin(np.abs(alt)))])
    lo, hi = float(ts[hits[0]]), float(ts[hits[0] + 1])
    while hi - lo > 1.0:
        mid = 0.5 * (lo + hi)
        if sign * (float(_altitude(mid, lat_deg, lon_deg)) - target_deg) <= 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def preset_time_utc(preset: str, date: dt.date, lat_deg: float, lon_deg: float, tz: str | None = None) -> dt.datetime:
    """The UTC instant of a time-of-day preset (see the module table) on local `date`."""
    if preset not in TIME_PRESETS:
        raise ShotError(f"look.when: unknown time preset '{preset}': use one of {', '.join(TIME_PRESETS)}")
    check_place(lat_deg, lon_deg)
    noon = _solar_noon_unix(date, lon_deg, local_tz(lat_deg, lon_deg, tz))
    if preset == "noon":
        return _as_datetime(noon)
    if preset == "night":
        return _as_datetime(noon + _HALF_DAY_S)
    target_deg, direction = PRESET_TARGETS_DEG[preset]
    rising = direction > 0
    t_start, t_end = (noon - _HALF_DAY_S, noon) if rising else (noon, noon + _HALF_DAY_S)
    alt_ends = _altitude(np.array([t_start, t_end]), lat_deg, lon_deg)
    low, high = float(alt_ends.min()), float(alt_ends.max())
    if high - low < FLAT_SUN_RANGE_DEG:
        return _as_datetime(noon + 3600.0 * PRESET_FALLBACK_HOURS[preset])
    target = _reachable_target_deg(target_deg, low, high)
    return _as_datetime(_crossing_unix(t_start, t_end, target, rising, lat_deg, lon_deg))


def preset_times_utc(date: dt.date, lat_deg: float, lon_deg: float, tz: str | None = None) -> dict[str, dt.datetime]:
    """Every time-of-day preset on `date` at that place, in preset order."""
    return {p: preset_time_utc(p, date, lat_deg, lon_deg, tz) for p in TIME_PRESETS}


# --- the Shot's `when` -----------------------------------------------------------------------
def normalize_preset(when: str) -> str:
    """'Golden hour' / 'golden-hour' -> 'golden_hour' (lower case, underscores)."""
    return when.strip().lower().replace(" ", "_").replace("-", "_")


def resolve_when(when: str, date: dt.date, lat_deg: float, lon_deg: float, tz: str | None) -> dt.datetime:
    """An aware UTC datetime for a Shot's `when`.

    `when` is a preset name (by the sun on `date` at lat/lon), 'HH:MM' on `date` in the local
    zone (`local_tz`), or an ISO date-time: naive ones are local, ones with an offset keep it
    (and then `date` is ignored).
    """
    check_place(lat_deg, lon_deg)
    text = when.strip()
    key = normalize_preset(text)
    if key in TIME_PRESETS:
        return preset_time_utc(key, date, lat_deg, lon_deg, tz)
    zone = local_tz(lat_deg, lon_deg, tz)
    m = _HHMM.match(text)
    if m:
        local = dt.datetime.combine(date, dt.time(int(m["h"]), int(m["m"])), tzinfo=zone)
        return local.astimezone(dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ShotError(
            f"look.when: '{when}' is not a time: use an ISO date-time (2026-06-21T19:30), "
            f"HH:MM (19:30) or one of {', '.join(TIME_PRESETS)}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.timezone.utc)


def _as_datetime(unix_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(round(unix_s, 3), tz=dt.timezone.utc)
