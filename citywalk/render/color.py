"""Colour helpers shared by the passes: Rec. 709 luminance weights and the sRGB decode curve."""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])  # linear RGB → luminance (Rec. 709 / sRGB primaries)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values (negatives clamp to 0; may exceed 1) → linear light, the standard
    piecewise curve; same shape and floating dtype as `c`."""
    c = np.maximum(c, 0.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
