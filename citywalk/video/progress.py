"""Progress reporting for long work: a tqdm bar on a terminal, silence otherwise, and an optional
callback with the fraction done (the REST API reports it to clients)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator


class Progress:
    """Counts finished steps out of `total`; `.fraction` is in 0..1 (1.0 when total is 0)."""

    def __init__(self, total: int, bar: Any = None, on_fraction: Callable[[float], None] | None = None):
        self.total, self.count = int(total), 0
        self._bar, self._on_fraction = bar, on_fraction

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.count / self.total)

    def update(self, n: int = 1) -> None:
        """Mark `n` more steps done; refreshes the bar and calls on_fraction(fraction)."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        if self._on_fraction is not None:
            self._on_fraction(self.fraction)


@contextlib.contextmanager
def progress(
    total: int, desc: str, on_fraction: Callable[[float], None] | None = None, stream: Any = None
) -> Iterator[Progress]:
    """Context manager yielding a Progress; draws a tqdm bar only when `stream` (stderr) is a TTY."""
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"progress total must be a non-negative integer, got {total!r}")
    stream = sys.stderr if stream is None else stream
    bar = None
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, file=stream, unit="frame", leave=True, dynamic_ncols=True)
    try:
        yield Progress(total, bar, on_fraction)
    finally:
        if bar is not None:
            bar.close()
