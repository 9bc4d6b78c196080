"""Likeness: capture a person from a phone clip or photo as an Actor (`.actor` package) that
the renderer places in a scene.  Runs fully offline; likeness files stay on this machine.

Heavy parts (MediaPipe, PyAV) load only when capture runs, so importing this package is cheap.
"""

from __future__ import annotations

from .actor import Actor, Cycle, LikenessError

__all__ = ["Actor", "Cycle", "LikenessError", "capture_actor"]


def capture_actor(*args, **kwargs):
    """See `citywalk.likeness.capture.capture_actor` (imported on first call)."""
    from .capture import capture_actor as _capture

    return _capture(*args, **kwargs)
