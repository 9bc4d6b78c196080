"""WGS84 <-> ECEF <-> ENU conversions used by every geo source."""

from __future__ import annotations

import numpy as np

from citywalk.sources import geo


def test_known_ecef_points():
    # Equator/prime meridian is (a, 0, 0); the north pole is (0, 0, b).
    np.testing.assert_allclose(geo.geodetic_to_ecef(0.0, 0.0, 0.0), [geo.WGS84_A_M, 0, 0], atol=1e-6)
    np.testing.assert_allclose(geo.geodetic_to_ecef(90.0, 0.0, 0.0), [0, 0, geo.WGS84_B_M], atol=1e-6)
    np.testing.assert_allclose(geo.geodetic_to_ecef(0.0, 90.0, 100.0), [0, geo.WGS84_A_M + 100, 0], atol=1e-6)


def test_ecef_round_trip_within_1mm():
    rng = np.random.default_rng(3)
    lat = rng.uniform(-89.9, 89.9, 2000)
    lon = rng.uniform(-180, 180, 2000)
    h = rng.uniform(-500, 20000, 2000)
    lat2, lon2, h2 = geo.ecef_to_geodetic(geo.geodetic_to_ecef(lat, lon, h))
    back = geo.geodetic_to_ecef(lat2, lon2, h2)
    err_m = np.linalg.norm(back - geo.geodetic_to_ecef(lat, lon, h), axis=-1)
    assert err_m.max() < 1e-3
    assert np.abs(h2 - h).max() < 1e-3
    assert np.abs(lat2 - lat).max() < 1e-8  # ~1 mm in degrees


def test_enu_of_point_north_and_east():
    frame = geo.EnuFrame(35.68, 139.76)
    north = frame.from_geodetic(35.681, 139.76, 0.0)
    assert abs(north[0]) < 1e-6 and abs(north[1] - 110.95) < 0.3, north  # ~111 m per 0.001 deg
    assert north[2] < 0 and north[2] > -0.01  # the Earth curves away (~1 mm at 111 m)
    east = frame.from_geodetic(35.68, 139.761, 0.0)
    assert abs(east[0] - 111.32 * np.cos(np.radians(35.68))) < 0.5, east  # ~90.5 m
    assert abs(east[1]) < 0.01


def test_enu_north_at_equator_is_111_m():
    enu = geo.geodetic_to_enu(0.001, 0.0, 0.0, (0.0, 0.0))
    assert abs(enu[1] - 110.57) < 0.1  # meridian arc at the equator
    enu45 = geo.geodetic_to_enu(45.001, 0.0, 0.0, (45.0, 0.0))
    assert abs(enu45[1] - 111.13) < 0.1


def test_enu_round_trip_and_matrix():
    frame = geo.EnuFrame(48.8566, 2.3522, 35.0)
    rng = np.random.default_rng(0)
    enu = rng.uniform(-2000, 2000, (500, 3))
    lat, lon, h = frame.to_geodetic(enu)
    np.testing.assert_allclose(frame.from_geodetic(lat, lon, h), enu, atol=1e-3)
    ecef = frame.to_ecef(enu)
    hom = np.concatenate([ecef, np.ones((len(ecef), 1))], axis=1)
    np.testing.assert_allclose((frame.ecef_to_enu_matrix() @ hom.T).T[:, :3], enu, atol=1e-3)
    # The origin maps to zero and "up" is the ellipsoid normal.
    np.testing.assert_allclose(frame.from_geodetic(48.8566, 2.3522, 35.0), 0.0, atol=1e-6)
    np.testing.assert_allclose(frame.from_geodetic(48.8566, 2.3522, 135.0), [0, 0, 100], atol=1e-6)
    r = frame.rotation
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
