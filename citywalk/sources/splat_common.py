"""What every splat reader shares: the refusal limits and the checks that name the file and the fault.

Readers check header counts against `max_splats` before allocating anything, and refuse NaN/inf
values naming the property and the first splat at fault."""

from __future__ import annotations

import numpy as np

from citywalk.errors import SceneError

MAX_SPLATS = 50_000_000  # default refusal limit for any reader
MAX_DECOMPRESSED_BYTES = 4 << 30  # inflated payload limit of compressed formats (bomb guard)


def check_count(path, n: int, max_splats: int) -> None:
    """Refuse a declared splat count outside 0..max_splats, before anything is allocated."""
    if n < 0 or n > max_splats:
        raise SceneError(f"{path}: header declares {n} splats; accepted 0..{max_splats} "
                         "(raise max_splats if this file is genuine)")


def finite_or_raise(path, name: str, arr: np.ndarray) -> None:
    """Refuse NaN/inf in `arr`, naming the property and the first splat holding one."""
    if arr.size and not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr.reshape(len(arr), -1)))[0][0])
        raise SceneError(f"{path}: property '{name}' is NaN/inf at splat {row}; "
                         "expected finite values")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function (opacity logits → 0..1)."""
    return 1.0 / (1.0 + np.exp(-x))
