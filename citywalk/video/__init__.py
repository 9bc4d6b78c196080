"""The video stage: H.264/MP4 encoding (PyAV), frame and depth PNG exports, progress.

Names are loaded on first access (PEP 562) so importing this package does not load PyAV or Pillow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VideoWriter": "encode",
    "VideoInfo": "encode",  # defined in citywalk.media, re-exported
    "probe_video": "encode",
    "check_video_size": "encode",
    "write_png": "exports",
    "write_depth_png16": "exports",
    "read_depth_png16": "exports",
    "FrameSink": "exports",
    "progress": "progress",
    "Progress": "progress",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'citywalk.video' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
