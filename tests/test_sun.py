"""Sun/moon positions against reference values, and time-of-day presets resolved by the sun."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from citywalk.errors import ShotError
from citywalk.look import (
    TIME_PRESETS,
    local_tz,
    moon_position,
    preset_times_utc,
    resolve_when,
    sun_altitude_azimuth,
    sun_direction_enu,
    sun_position,
)
from citywalk.look.sun import refraction_deg, unix_seconds

UTC = dt.timezone.utc

# Reference values from NREL SPA as implemented in pvlib 0.16.1
# (pvlib.solarposition.get_solarposition(method="nrel_numpy"), default pressure 101325 Pa,
# temperature 12 C, default delta_t): apparent elevation, azimuth, equation of time (min).
# name, UTC time, lat, lon, apparent altitude deg, azimuth deg, equation of time min
SPA_REFERENCE = [
    ("tokyo_1930_jst", "2026-06-21 10:30", 35.68, 139.76, -5.9798, 304.5784, -1.800),
    ("paris_winter_noon", "2026-12-21 11:00", 48.8566, 2.3522, 16.9458, 168.3484, 1.959),
    ("new_york_morning", "2026-03-15 13:00", 40.7128, -74.006, 20.0327, 111.2342, -8.860),
    ("sydney_afternoon", "2026-01-10 04:00", -33.8688, 151.2093, 61.5940, 287.0990, -7.369),
    ("tromso_local_midnight", "2026-06-21 22:00", 69.6492, 18.9553, 3.6606, 349.4208, -1.905),
    ("quito_equinox_noon", "2026-03-20 17:00", -0.1807, -78.4678, 84.6853, 87.6586, -7.372),
    ("cape_town_sunrise", "2026-07-01 05:45", -33.9249, 18.4241, -2.1833, 63.4100, -3.840),
]


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("name,when,lat,lon,alt,az,eot", SPA_REFERENCE, ids=[r[0] for r in SPA_REFERENCE])
def test_sun_matches_spa(name, when, lat, lon, alt, az, eot):
    p = sun_position(_utc(when), lat, lon)
    assert abs(p.altitude_deg - alt) < 0.5
    assert abs((p.azimuth_deg - az + 180.0) % 360.0 - 180.0) < 0.5
    # Tighter where both refraction models agree (above the horizon); below it SPA stops
    # refracting at -0.83 deg while NOAA's fit continues smoothly, worth up to ~0.15 deg.
    assert abs(p.altitude_deg - alt) < (0.05 if alt > 0.0 else 0.2)
    assert abs((p.azimuth_deg - az + 180.0) % 360.0 - 180.0) < 0.05
    assert abs(p.equation_of_time_min - eot) < 0.1


def test_declination_at_solstices_and_equinox():
    assert sun_position(_utc("2026-06-21 08:00"), 0.0, 0.0).declination_deg == pytest.approx(23.44, abs=0.02)
    assert sun_position(_utc("2026-12-21 20:00"), 0.0, 0.0).declination_deg == pytest.approx(-23.44, abs=0.02)
    assert abs(sun_position(_utc("2026-03-20 14:46"), 0.0, 0.0).declination_deg) < 0.02


def test_naive_is_utc_and_aware_is_converted():
    naive = sun_position(dt.datetime(2026, 6, 21, 10, 30), 35.68, 139.76)
    jst = dt.datetime(2026, 6, 21, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert sun_position(jst, 35.68, 139.76) == naive


def test_vectorised_matches_scalar():
    times = [_utc(r[1]) for r in SPA_REFERENCE[:3]]
    alt, az = sun_altitude_azimuth(np.array([unix_seconds(t) for t in times]), 35.68, 139.76)
    for t, a, z in zip(times, alt, az):
        p = sun_position(t, 35.68, 139.76)
        assert a == pytest.approx(p.altitude_deg, abs=1e-9)
        assert z == pytest.approx(p.azimuth_deg, abs=1e-9)


def test_refraction_lifts_horizon_and_vanishes_at_zenith():
    assert 0.4 < float(refraction_deg(0.0)) < 0.65
    assert float(refraction_deg(89.0)) == 0.0
    r = refraction_deg(np.linspace(-2.0, 80.0, 500))
    assert np.all(np.diff(r[r.size // 20 :]) < 0)  # decreasing with altitude above ~2 deg


def test_sun_direction_enu_axes():
    np.testing.assert_allclose(sun_direction_enu(0.0, 90.0), [1.0, 0.0, 0.0], atol=1e-12)  # east
    np.testing.assert_allclose(sun_direction_enu(0.0, 0.0), [0.0, 1.0, 0.0], atol=1e-12)  # north
    np.testing.assert_allclose(sun_direction_enu(90.0, 123.0), [0.0, 0.0, 1.0], atol=1e-12)  # zenith
    v = sun_direction_enu(30.0, 225.0)  # south-west, 30 deg up
    assert v.shape == (3,)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert v[0] < 0 and v[1] < 0 and v[2] == pytest.approx(0.5)


def test_morning_sun_is_east_and_afternoon_west():
    morning = sun_position(_utc("2026-06-21 22:00"), 35.68, 139.76)  # 07:00 JST
    afternoon = sun_position(_utc("2026-06-21 07:00"), 35.68, 139.76)  # 16:00 JST
    assert 45.0 < morning.azimuth_deg < 135.0 and morning.altitude_deg > 0
    assert 225.0 < afternoon.azimuth_deg < 315.0 and afternoon.altitude_deg > 0


# --- moon: dates from published lunar phase tables (UTC) -------------------------------------
@pytest.mark.parametrize("when", ["2024-01-25 17:54", "2024-04-23 23:49", "2024-09-18 02:34"])
def test_full_moon(when):
    m = moon_position(_utc(when), 35.68, 139.76)
    assert m.illuminated_fraction > 0.97
    assert m.phase_angle_deg < 15.0


def test_new_moon_and_quarters():
    new = moon_position(_utc("2024-04-08 18:21"), 51.5, 0.0)
    assert new.illuminated_fraction < 0.03
    first = moon_position(_utc("2024-04-15 19:13"), 51.5, 0.0)
    last = moon_position(_utc("2024-04-02 03:15"), 51.5, 0.0)
    assert abs(first.illuminated_fraction - 0.5) < 0.05 and first.waxing
    assert abs(last.illuminated_fraction - 0.5) < 0.05 and not last.waxing


def test_moon_covers_sun_in_total_eclipse():
    """2024-04-08, Dallas (32.78 N, 96.80 W), totality around 18:40-18:44 UTC: the discs
    (0.5 deg wide) overlap only if the topocentric parallax (~1 deg) is applied."""
    when = _utc("2024-04-08 18:42")
    s = sun_position(when, 32.78, -96.80)
    m = moon_position(when, 32.78, -96.80)
    sep = np.degrees(np.arccos(np.clip(
        sun_direction_enu(s.altitude_deg, s.azimuth_deg) @ sun_direction_enu(m.altitude_deg, m.azimuth_deg), -1, 1
    )))
    assert sep < 0.35  # measured 0.20 deg; 0.58 without the parallax correction


# --- time zones and `when` -------------------------------------------------------------------
def test_local_tz_forms():
    when = dt.datetime(2026, 6, 21, 12, 0)
    assert local_tz(35.68, 139.76, None).utcoffset(when) == dt.timedelta(hours=9)
    assert local_tz(40.7, -74.0, None).utcoffset(when) == dt.timedelta(hours=-5)
    assert local_tz(0, 0, "UTC").utcoffset(when) == dt.timedelta(0)
    assert local_tz(0, 0, "+09:00").utcoffset(when) == dt.timedelta(hours=9)
    assert local_tz(0, 0, "-5").utcoffset(when) == dt.timedelta(hours=-5)
    assert local_tz(0, 0, "+05:30").utcoffset(when) == dt.timedelta(hours=5, minutes=30)
    assert local_tz(0, 0, "Europe/Paris").utcoffset(when) == dt.timedelta(hours=2)  # summer time
    with pytest.raises(ShotError, match="Mars/Olympus"):
        local_tz(0, 0, "Mars/Olympus")
    with pytest.raises(ShotError, match="out of range"):
        local_tz(0, 0, "+15:00")


def test_resolve_when_clock_forms():
    d = dt.date(2026, 6, 21)
    assert resolve_when("19:30", d, 35.68, 139.76, None) == _utc("2026-06-21 10:30")
    assert resolve_when("2026-06-21T19:30", d, 35.68, 139.76, None) == _utc("2026-06-21 10:30")
    assert resolve_when("2026-06-21T19:30+02:00", d, 35.68, 139.76, None) == _utc("2026-06-21 17:30")
    assert resolve_when("08:00", d, 48.86, 2.35, "Europe/Paris") == _utc("2026-06-21 06:00")
    assert resolve_when("Golden Hour", d, 35.68, 139.76, None).tzinfo is not None
    with pytest.raises(ShotError, match="dusk"):
        resolve_when("teatime", d, 35.68, 139.76, None)


def test_tokyo_presets_follow_the_sun():
    d, lat, lon = dt.date(2026, 6, 21), 35.68, 139.76
    jst = local_tz(lat, lon, "Asia/Tokyo")
    times = preset_times_utc(d, lat, lon, "Asia/Tokyo")
    assert list(times) == list(TIME_PRESETS)

    def local(p: str) -> dt.time:
        return times[p].astimezone(jst).time()

    assert dt.time(19, 15) <= local("dusk") <= dt.time(19, 45)
    assert dt.time(11, 30) <= local("noon") <= dt.time(12, 0)
    ordered = [times[p] for p in TIME_PRESETS[:-1]]  # dawn .. dusk
    assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
    assert times["night"] > times["dusk"]
    assert sun_position(times["night"], lat, lon).altitude_deg < -20.0
    assert sun_position(times["golden_hour"], lat, lon).altitude_deg == pytest.approx(5.0, abs=0.05)
    assert sun_position(times["dusk"], lat, lon).altitude_deg == pytest.approx(-4.0, abs=0.05)
    assert sun_position(times["morning"], lat, lon).azimuth_deg < 180.0
    noon_alt = sun_position(times["noon"], lat, lon).altitude_deg
    for minutes in (-20, 20):  # noon is the highest point
        near = times["noon"] + dt.timedelta(minutes=minutes)
        assert sun_position(near, lat, lon).altitude_deg < noon_alt
    assert resolve_when("dusk", d, lat, lon, None) == times["dusk"]  # nautical zone = JST here


@pytest.mark.parametrize(
    "lat,lon,date",
    [
        (69.65, 18.96, dt.date(2026, 6, 21)),  # Tromso midnight sun
        (69.65, 18.96, dt.date(2026, 12, 21)),  # Tromso polar night
        (48.86, 2.35, dt.date(2026, 12, 21)),  # Paris: noon sun below +20 deg
        (90.0, 0.0, dt.date(2026, 6, 21)),  # North Pole: constant altitude
        (-90.0, 0.0, dt.date(2026, 6, 21)),
    ],
)
def test_unreachable_presets_fall_back_in_order(lat, lon, date):
    times = preset_times_utc(date, lat, lon, None)
    ordered = [times[p] for p in TIME_PRESETS]
    assert ordered == sorted(ordered)
    assert len(set(ordered)) == len(ordered)  # distinct even at the poles (fixed offsets from noon)


def test_tromso_dusk_in_midnight_sun():
    d = dt.date(2026, 6, 21)
    t = resolve_when("dusk", d, 69.65, 18.96, "Europe/Oslo")
    alt = sun_position(t, 69.65, 18.96).altitude_deg
    lowest = sun_position(resolve_when("night", d, 69.65, 18.96, "Europe/Oslo"), 69.65, 18.96).altitude_deg
    assert lowest < alt < 10.0  # as dark as that day gets, short of midnight


def test_time_presets_match_shot():
    from citywalk.shot import TIME_PRESETS as SHOT_PRESETS

    assert tuple(TIME_PRESETS) == tuple(SHOT_PRESETS)


def test_bad_place_is_a_shot_error():
    with pytest.raises(ShotError, match="look.lat"):
        resolve_when("noon", dt.date(2026, 6, 21), 95.0, 0.0, None)
    with pytest.raises(ShotError, match="look.lon"):
        resolve_when("12:00", dt.date(2026, 6, 21), 0.0, float("nan"), None)
