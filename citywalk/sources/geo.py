"""Geodesy helpers: WGS84 geodetic (lat, lon, h) <-> ECEF <-> local ENU (east, north, up).

Every geo source (OSM, 3D Tiles, KMZ) converts into the citywalk world frame, which is the
ENU tangent plane at the scene's origin: X east, Y north, Z up, metres. All functions are
vectorised over leading axes and compute in float64 (ECEF coordinates are ~6.4e6 m, so
float32 would lose centimetres); cast to float32 only after moving into the local frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# WGS84 ellipsoid.
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_EP2 = WGS84_E2 / (1.0 - WGS84_E2)  # second eccentricity squared


def geodetic_to_ecef(lat_deg, lon_deg, h_m=0.0) -> np.ndarray:
    """WGS84 latitude/longitude (degrees) and ellipsoidal height (m) -> ECEF (..., 3) float64 m."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(h_m, dtype=np.float64)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)  # prime vertical radius
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (..., 3) m -> (lat_deg, lon_deg, h_m), each (...) float64.

    Bowring's parametric-latitude start plus two Newton-style refinements: sub-millimetre
    from the Earth's centre region out to GEO altitude (far beyond what scenes need).
    """
    p_xyz = np.asarray(xyz_m, dtype=np.float64)
    x, y, z = p_xyz[..., 0], p_xyz[..., 1], p_xyz[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    beta = np.arctan2(z * WGS84_A_M, p * WGS84_B_M)  # parametric latitude guess
    for _ in range(3):
        lat = np.arctan2(
            z + WGS84_EP2 * WGS84_B_M * np.sin(beta) ** 3,
            p - WGS84_E2 * WGS84_A_M * np.cos(beta) ** 3,
        )
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    # Height: projection onto the normal is stable at all latitudes (no division by cos).
    h = p * cos_lat + z * sin_lat - WGS84_A_M * WGS84_A_M / n
    return np.degrees(lat), np.degrees(lon), h


def enu_rotation(lat_deg: float, lon_deg: float) -> np.ndarray:
    """(3, 3) float64 matrix whose rows are the east, north, up unit vectors in ECEF at a point;
    `R @ (ecef - origin_ecef)` gives ENU, `R.T @ enu` goes back."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    return np.array(
        [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ]
    )


@dataclass(frozen=True)
class EnuFrame:
    """A local east-north-up tangent frame at a geodetic origin (the citywalk world frame).

    `origin_lat_deg`, `origin_lon_deg` in degrees, `origin_h_m` ellipsoidal height in metres.
    """

    origin_lat_deg: float
    origin_lon_deg: float
    origin_h_m: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) ECEF -> ENU rotation (rows east, north, up)."""
        return enu_rotation(self.origin_lat_deg, self.origin_lon_deg)

    @property
    def origin_ecef_m(self) -> np.ndarray:
        """(3,) ECEF position of the origin in metres."""
        return geodetic_to_ecef(self.origin_lat_deg, self.origin_lon_deg, self.origin_h_m)

    def from_ecef(self, xyz_m) -> np.ndarray:
        """ECEF (..., 3) m -> ENU (..., 3) float64 m."""
        d = np.asarray(xyz_m, dtype=np.float64) - self.origin_ecef_m
        return d @ self.rotation.T

    def to_ecef(self, enu_m) -> np.ndarray:
        """ENU (..., 3) m -> ECEF (..., 3) float64 m."""
        return np.asarray(enu_m, dtype=np.float64) @ self.rotation + self.origin_ecef_m

    def from_geodetic(self, lat_deg, lon_deg, h_m=0.0) -> np.ndarray:
        """Latitude/longitude (deg) and height (m) -> ENU (..., 3) float64 m."""
        return self.from_ecef(geodetic_to_ecef(lat_deg, lon_deg, h_m))

    def to_geodetic(self, enu_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ENU (..., 3) m -> (lat_deg, lon_deg, h_m)."""
        return ecef_to_geodetic(self.to_ecef(enu_m))

    def ecef_to_enu_matrix(self) -> np.ndarray:
        """(4, 4) float64 affine transform taking homogeneous ECEF points to ENU (for 3D Tiles
        tile transforms: compose as `frame.ecef_to_enu_matrix() @ tile_transform`)."""
        m = np.eye(4)
        r = self.rotation
        m[:3, :3] = r
        m[:3, 3] = -r @ self.origin_ecef_m
        return m


def geodetic_to_enu(lat_deg, lon_deg, h_m, origin_latlon: tuple[float, float], origin_h_m: float = 0.0):
    """Convenience: geodetic points -> ENU (..., 3) float64 m around `origin_latlon` (deg)."""
    return EnuFrame(origin_latlon[0], origin_latlon[1], origin_h_m).from_geodetic(lat_deg, lon_deg, h_m)


def enu_to_geodetic(enu_m, origin_latlon: tuple[float, float], origin_h_m: float = 0.0):
    """Convenience: ENU (..., 3) m around `origin_latlon` (deg) -> (lat_deg, lon_deg, h_m)."""
    return EnuFrame(origin_latlon[0], origin_latlon[1], origin_h_m).to_geodetic(enu_m)
