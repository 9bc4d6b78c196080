"""Person mattes without ML: chroma key, median-background subtraction, a fast guided filter
that turns a hard or coarse mask into a soft alpha along image edges, and temporal smoothing
that stops edge flicker between frames.  NumPy and Pillow only, so it works without extras.

Arrays: frames are `(H, W, 3) uint8` RGB; masks and alphas are `(H, W) float32` in [0, 1].
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Luma weights (Rec. 601) used for the guide image and frame differences.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Grey level in [0, 1] of an `(H, W, 3) uint8` frame → `(H, W) float32`."""
    return (rgb.astype(np.float32) @ _LUMA) / 255.0


def box_mean(x: np.ndarray, radius_px: int) -> np.ndarray:
    """Mean over a (2r+1)² window clipped at the borders; `(H, W) float32` → same shape.

    Uses running sums (scipy's, accumulated in double, when installed), so the cost does not
    grow with the radius."""
    if radius_px <= 0:
        return x.astype(np.float32, copy=True)
    h, w = x.shape
    r = int(radius_px)
    out = _box_sum(x.astype(np.float32), r)
    out /= np.outer(_window_counts(h, r), _window_counts(w, r))
    return out


def _box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Sum over a (2r+1)² window with zeros outside: `(H, W) float32` → same shape."""
    try:
        from scipy import ndimage
    except ImportError:
        return _box_sum_axis(_box_sum_axis(x, r, 0), r, 1)
    k = 2 * r + 1
    out = ndimage.uniform_filter(x, k, mode="constant", cval=0.0)
    out *= float(k * k)
    return out


def _box_sum_axis(x: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Sum over a window of ±r samples along one axis (clipped at the ends)."""
    n = x.shape[axis]
    c = np.cumsum(x, axis=axis)
    pad_shape = list(x.shape)
    pad_shape[axis] = 1
    c = np.concatenate([np.zeros(pad_shape, c.dtype), c], axis=axis)
    hi = np.minimum(np.arange(n) + r + 1, n)
    lo = np.maximum(np.arange(n) - r, 0)
    return np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)


def _window_counts(n: int, r: int) -> np.ndarray:
    """How many samples each clipped window of ±r along an axis of length n holds."""
    i = np.arange(n)
    return (np.minimum(i + r + 1, n) - np.maximum(i - r, 0)).astype(np.float32)


def resize_float(x: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """Bilinear resize of an `(H, W) float32` array (Pillow mode F) → `(height_px, width_px)`."""
    img = Image.fromarray(np.ascontiguousarray(x, dtype=np.float32), mode="F")
    return np.asarray(img.resize((int(width_px), int(height_px)), Image.BILINEAR), np.float32)


def resized_crop(x: np.ndarray, width_px: int, height_px: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """The `(x0, y0, x1, y1)` window of `resize_float(x, width_px, height_px)` — the same values.

    When both sides scale by a power of two (the models' halved frames) Pillow resizes just the
    matching source box with the same, exactly representable, coefficients."""
    x0, y0, x1, y1 = box
    if not (_power_of_two_ratio(x.shape[1], width_px) and _power_of_two_ratio(x.shape[0], height_px)):
        return resize_float(x, width_px, height_px)[y0:y1, x0:x1]
    sx, sy = x.shape[1] / width_px, x.shape[0] / height_px
    img = Image.fromarray(np.ascontiguousarray(x, dtype=np.float32), mode="F")
    return np.asarray(img.resize((x1 - x0, y1 - y0), Image.BILINEAR, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy)),
                      np.float32)


def _power_of_two_ratio(n_in: int, n_out: int) -> bool:
    """Whether n_out / n_in or n_in / n_out is a power of two (2, 4, 8 …)."""
    big, small = max(n_in, n_out), min(n_in, n_out)
    return small > 0 and big % small == 0 and big != small and (big // small) & (big // small - 1) == 0


def resized_grid(x: np.ndarray, width_px: int, height_px: int, step: int) -> np.ndarray:
    """`resize_float(x, width_px, height_px)[::step, ::step]` without the full-size resize: Pillow's
    bilinear coefficients (double sums, float32 between the passes) at only those rows and columns."""
    xi, xw = _bilinear_taps(x.shape[1], int(width_px), np.arange(0, int(width_px), step))
    yi, yw = _bilinear_taps(x.shape[0], int(height_px), np.arange(0, int(height_px), step))
    across = (x[:, xi].astype(np.float64) * xw[None]).sum(-1).astype(np.float32)
    return (across[yi].astype(np.float64) * yw[..., None]).sum(1).astype(np.float32)


def _bilinear_taps(n_in: int, n_out: int, out_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source indices `(k, taps)` and normalised weights of Pillow's bilinear filter for the
    output positions `out_idx` of an n_in → n_out resize (zero weights pad short windows)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (out_idx + 0.5) * scale
    lo = np.maximum((centre - support + 0.5).astype(int), 0)
    hi = np.minimum((centre + support + 0.5).astype(int), n_in)
    idx = lo[:, None] + np.arange(int((hi - lo).max()))[None]
    w = np.clip(1.0 - np.abs((idx - centre[:, None] + 0.5) / support), 0.0, None)
    w[idx >= hi[:, None]] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return np.minimum(idx, n_in - 1), w


def guided_filter(
    guide: np.ndarray, src: np.ndarray, radius_px: int = 8, eps: float = 1e-3, subsample: int = 4
) -> np.ndarray:
    """Edge-aware smoothing of `src` following the edges of the grey `guide` (He et al. 2010),
    computed on a `subsample`-times smaller grid and upsampled (the "fast guided filter").

    guide, src: `(H, W) float32`; eps: regularisation (smaller → follows edges more tightly).
    Returns `(H, W) float32`."""
    h, w = guide.shape
    s = max(1, int(subsample))
    hs, ws = max(1, h // s), max(1, w // s)
    g = resize_float(guide, ws, hs) if s > 1 else guide.astype(np.float32)
    p = resize_float(src, ws, hs) if s > 1 else src.astype(np.float32)
    r = max(1, int(round(radius_px / s)))
    mean_g, mean_p = box_mean(g, r), box_mean(p, r)
    var_g = box_mean(g * g, r) - mean_g * mean_g
    cov_gp = box_mean(g * p, r) - mean_g * mean_p
    a = cov_gp / (var_g + eps)
    b = mean_p - a * mean_g
    mean_a, mean_b = box_mean(a, r), box_mean(b, r)
    if s > 1:
        mean_a, mean_b = resize_float(mean_a, w, h), resize_float(mean_b, w, h)
    return mean_a * guide + mean_b


def refine_alpha(rgb: np.ndarray, mask: np.ndarray, radius_px: int | None = None,
                 eps: float = 1e-3) -> np.ndarray:
    """Soft alpha from a coarse person mask: guided filter on the frame's luma, then a gentle
    contrast stretch so the inside stays 1 and the outside 0.

    rgb: `(H, W, 3) uint8`; mask: `(H, W) float32` in [0, 1]; radius defaults to ~1 % of the
    frame height.  Returns `(H, W) float32` in [0, 1]."""
    h = rgb.shape[0]
    r = radius_px if radius_px is not None else max(2, int(round(h / 90)))
    a = guided_filter(luma(rgb), mask.astype(np.float32), radius_px=r, eps=eps,
                      subsample=2 if h >= 240 else 1)
    # Stretch [0.1, 0.9] → [0, 1]: guided filtering leaves a faint haze on both sides.
    return np.clip((a - 0.1) / 0.8, 0.0, 1.0).astype(np.float32)


class TemporalSmoother:
    """Blends each new alpha with the previous one where the picture did not change, so
    static edges stop flickering while moving parts follow the new frame at once."""

    def __init__(self, max_keep: float = 0.6, diff_scale: float = 0.04, radius_px: int = 2):
        """max_keep: weight of the previous alpha where the frame is unchanged (0 = off);
        diff_scale: grey difference (0..1) at which the previous alpha is mostly dropped."""
        self.max_keep, self.diff_scale, self.radius_px = float(max_keep), float(diff_scale), radius_px
        self._prev_grey: np.ndarray | None = None
        self._prev_alpha: np.ndarray | None = None
        self.prev_roi: tuple[slice, slice] | None = None  # kept by callers that pass roi

    def __call__(self, rgb: np.ndarray, alpha: np.ndarray,
                 roi: tuple[slice, slice] | None = None) -> np.ndarray:
        """Smooth one frame's alpha: `(H, W, 3) uint8`, `(H, W) float32` → `(H, W) float32`.

        roi: (rows, cols) slices holding all non-zero alpha; work is limited to it (the
        previous alpha outside the previous roi is 0, so nothing is lost)."""
        h, w = alpha.shape
        roi = roi or (slice(0, h), slice(0, w))
        grey = luma(rgb[roi])
        cur = alpha[roi]
        if self._prev_grey is not None and self._prev_grey.shape == (h, w) and self.max_keep > 0:
            diff = box_mean(np.abs(grey - self._prev_grey[roi]), self.radius_px)
            keep = self.max_keep * np.exp(-np.square(diff / self.diff_scale))
            cur = keep * self._prev_alpha[roi] + (1.0 - keep) * cur
        else:
            self._prev_grey = np.zeros((h, w), np.float32)
        self._prev_grey[roi] = grey
        out = np.zeros((h, w), np.float32)
        out[roi] = cur
        self._prev_alpha = out
        return out


def clean_mask(mask: np.ndarray, radius_px: int = 2) -> np.ndarray:
    """Removes specks and fills pinholes in a hard mask by box-filter opening then closing.

    mask: `(H, W)` bool or float (> 0.5 is foreground) → `(H, W) bool`."""
    m = mask > 0.5
    if radius_px <= 0:
        return m
    full = 1.0 - 0.5 / (2 * radius_px + 1) ** 2  # every pixel in the window is set

    def erode(x: np.ndarray) -> np.ndarray:
        return box_mean(x.astype(np.float32), radius_px) >= full

    def dilate(x: np.ndarray) -> np.ndarray:
        return box_mean(x.astype(np.float32), radius_px) > 1.0 - full

    opened = dilate(erode(m))
    return erode(dilate(opened))


def main_components(mask: np.ndarray, min_frac: float = 0.1) -> np.ndarray:
    """Keeps the largest 8-connected region of a hard mask (the person) and any region at least
    `min_frac` of its size (a held object, an arm seen apart), dropping specks.

    Uses scipy when installed; without it the mask is returned unchanged."""
    try:
        from scipy import ndimage
    except ImportError:
        return mask.astype(bool)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = sizes >= min_frac * sizes.max()
    keep[0] = False
    return keep[labels]


def _soft_ramp(dist: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below lo, 1 above hi, linear between: distance from a key → foreground mask."""
    return np.clip((dist - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def border_colour(rgb: np.ndarray, width_px: int = 4) -> np.ndarray:
    """Median colour of the top, left and right borders (a plain backdrop's key) → `(3,) float32`."""
    w = max(1, int(width_px))
    strips = [rgb[:w].reshape(-1, 3), rgb[:, :w].reshape(-1, 3), rgb[:, -w:].reshape(-1, 3)]
    return np.median(np.concatenate(strips), axis=0).astype(np.float32)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Cb, Cr chroma (float32, 0..255 scale) of `(..., 3)` RGB; ignores brightness (shadows)."""
    x = rgb.astype(np.float32)
    cb = -0.168736 * x[..., 0] - 0.331264 * x[..., 1] + 0.5 * x[..., 2]
    cr = 0.5 * x[..., 0] - 0.418688 * x[..., 1] - 0.081312 * x[..., 2]
    return np.stack([cb, cr], axis=-1)


def chroma_mask(rgb: np.ndarray, key_rgb: np.ndarray | None = None,
                lo: float = 12.0, hi: float = 30.0, luma_weight: float = 0.35) -> np.ndarray:
    """Soft foreground mask against a plain backdrop (green screen, a flat wall).

    key_rgb: `(3,)` backdrop colour, default the frame border's median.  Distance is measured
    mostly in chroma so soft shadows on the backdrop stay background.  → `(H, W) float32`."""
    key = border_colour(rgb) if key_rgb is None else np.asarray(key_rgb, np.float32)
    d_chroma = np.linalg.norm(_chroma(rgb) - _chroma(key[None, None, :]), axis=-1)
    d_luma = np.abs(luma(rgb) - float(key @ _LUMA) / 255.0) * 255.0
    return _soft_ramp(d_chroma + luma_weight * d_luma, lo, hi)


def median_background(frames: np.ndarray, max_samples: int = 25) -> np.ndarray:
    """Per-pixel median over up to `max_samples` frames spread through the clip: the empty
    backdrop, as long as the person keeps moving.  `(T, H, W, 3) uint8` → `(H, W, 3) uint8`."""
    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_samples)).round().astype(int))
    return np.median(frames[idx], axis=0).astype(np.uint8)


def background_mask(rgb: np.ndarray, background: np.ndarray, lo: float = 18.0,
                    hi: float = 40.0) -> np.ndarray:
    """Soft foreground mask by colour distance to a known empty background frame.

    rgb, background: `(H, W, 3) uint8` → `(H, W) float32`."""
    d = np.linalg.norm(rgb.astype(np.float32) - background.astype(np.float32), axis=-1)
    return _soft_ramp(box_mean(d, 1), lo, hi)
