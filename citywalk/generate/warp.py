"""Forward warp of one frame into the next with our exact depth and cameras (NumPy, no weights):
the temporal glue of `restyle`. Cameras are OpenCV (x_cam = R_w2c @ x_world + t_w2c, K pixel
centres at +0.5), depth is the renderer's distance along each pixel's ray in metres (inf = sky).

Each source pixel is lifted to 3D, moved into the next camera and splatted onto the 2x2 pixel
centres around where it lands, nearest surface first (a z-buffer); each receiving pixel then
samples the source bilinearly at the point that maps onto its own centre, so there are neither
cracks (walking forward magnifies) nor half-pixel rounding. Sky (no depth) moves as points at
infinity (rotation only). A pixel is valid when something landed on it and, given the next
frame's depth, the landed surface is the one the next camera sees (the occlusion test)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import CitywalkError


@dataclass(frozen=True)
class Camera:
    """An OpenCV pinhole camera: K (3, 3), R_w2c (3, 3), t_w2c (3,)."""

    K: np.ndarray
    R_w2c: np.ndarray
    t_w2c: np.ndarray

    @classmethod
    def from_track(cls, frame: dict) -> "Camera":
        """From a camera-track record (`citywalk.tracks.read_camera_track`'s frames)."""
        return cls(np.asarray(frame["K"], float), np.asarray(frame["R_w2c"], float), np.asarray(frame["t_w2c"], float))


def unit_rays(K: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) unit ray directions in camera coordinates through each pixel centre."""
    w, h = size_px
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _landing(depth_a: np.ndarray, cam_a: Camera, cam_b: Camera):
    """Where each source pixel lands in camera b: (uv (N, 2), distance along b's ray (N,), source flat index)."""
    h, w = depth_a.shape
    rays = unit_rays(cam_a.K, (w, h)).reshape(-1, 3)
    dist = depth_a.reshape(-1).astype(np.float64)
    solid = np.isfinite(dist) & (dist > 0)
    R_ab = cam_b.R_w2c @ cam_a.R_w2c.T
    t_ab = cam_b.t_w2c - R_ab @ cam_a.t_w2c
    pts = np.where(solid[:, None], rays * np.where(solid, dist, 0.0)[:, None], rays)
    xb = pts @ R_ab.T + np.where(solid[:, None], t_ab, 0.0)  # sky: direction only
    z = xb[:, 2]
    ok = z > 1e-3
    uvw = xb @ cam_b.K.T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = uvw[:, :2] / uvw[:, 2:3]
    d_b = np.where(solid, np.linalg.norm(xb, axis=1), np.inf)
    ok &= np.isfinite(uv).all(axis=1)
    idx = np.nonzero(ok)[0]
    return uv[idx], d_b[idx], idx


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """img (H, W, C) sampled at pixel-index coordinates x, y (N,), clamped at the borders."""
    h, w = img.shape[:2]
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2 if w > 1 else 0)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2 if h > 1 else 0)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _depth_range_3x3(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the nearest and farthest finite depth among its 3x3 neighbours (inf, inf at sky):
    one pixel of a surface seen at a grazing angle spans a range of depths, and so must the test."""
    finite = np.where(np.isfinite(depth), depth, np.nan)
    pad = np.pad(finite, 1, mode="edge")
    h, w = depth.shape
    stack = np.stack([pad[i:i + h, j:j + w] for i in range(3) for j in range(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: sky, set below
        lo, hi = np.nanmin(stack, 0), np.nanmax(stack, 0)
    sky = ~np.isfinite(depth)
    lo[sky], hi[sky] = np.inf, np.inf
    return lo, hi


def forward_warp(image_a: np.ndarray, depth_a: np.ndarray, cam_a: Camera, cam_b: Camera,
                 depth_b: np.ndarray | None = None, rel_tol: float = 0.02, abs_tol_m: float = 0.05
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Frame a's image (H, W, C) as camera b sees it → (warped (H, W, C) float32, valid (H, W) bool).
    With `depth_b` (H, W) a pixel is valid only where the surface that landed there lies within
    rel_tol x depth + abs_tol_m of b's own depth (else it is occluded or newly revealed)."""
    img = np.asarray(image_a, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    h, w = img.shape[:2]
    if np.shape(depth_a) != (h, w) or (depth_b is not None and np.shape(depth_b) != (h, w)):
        raise CitywalkError(f"forward_warp: depth maps must be {(h, w)} like the image, got "
                            f"{np.shape(depth_a)} and {None if depth_b is None else np.shape(depth_b)}")
    uv, d_b, src = _landing(np.asarray(depth_a), cam_a, cam_b)
    # the 2x2 pixel centres around each landing point (pixel centres sit at index + 0.5)
    base = np.floor(uv - 0.5).astype(np.int64)
    cand_x = (base[:, 0:1] + np.array([0, 1, 0, 1])).ravel()
    cand_y = (base[:, 1:2] + np.array([0, 0, 1, 1])).ravel()
    rep = np.repeat(np.arange(len(src)), 4)
    inside = (cand_x >= 0) & (cand_x < w) & (cand_y >= 0) & (cand_y < h)
    cand_x, cand_y, rep = cand_x[inside], cand_y[inside], rep[inside]
    target = cand_y * w + cand_x
    order = np.lexsort((d_b[rep], target))  # by target, nearest first
    target, rep = target[order], rep[order]
    first = np.ones(len(target), bool)
    first[1:] = target[1:] != target[:-1]
    target, rep = target[first], rep[first]
    # the source point that lands on the receiving pixel's centre (first order: same offset)
    tx, ty = target % w + 0.5, target // w + 0.5
    sx = src[rep] % w + (tx - uv[rep, 0])
    sy = src[rep] // w + (ty - uv[rep, 1])
    out = np.zeros((h * w, img.shape[2]), np.float32)
    out[target] = _bilinear(img, sx, sy)
    valid = np.zeros(h * w, bool)
    valid[target] = True
    if depth_b is not None:
        lo, hi = _depth_range_3x3(np.asarray(depth_b, np.float64))
        landed = d_b[rep]
        lo, hi = lo.reshape(-1)[target], hi.reshape(-1)[target]
        sky_b = ~np.isfinite(lo)
        with np.errstate(invalid="ignore"):
            seen = (landed >= lo * (1 - rel_tol) - abs_tol_m) & (landed <= hi * (1 + rel_tol) + abs_tol_m)
        valid[target] = np.where(sky_b, ~np.isfinite(landed), seen)
    shape = image_a.shape if np.ndim(image_a) == 3 else (h, w)
    return out.reshape(shape), valid.reshape(h, w)
