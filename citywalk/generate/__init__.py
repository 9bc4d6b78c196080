"""Optional generative backends (extra `generate`: diffusers, transformers, torch), one small call
per task: `first_frame`, `image_to_video`, `restyle`, `extend_canvas`, `world_model`.

Weights come only from local paths, citywalk's model folder or the offline Hugging Face cache
(`backends.resolve_model`); nothing is downloaded. Names load on first access (PEP 562), so
importing this package imports neither torch nor diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "first_frame": "text_to_image",
    "image_to_video": "video_models",
    "register_camera_adapter": "video_models",
    "plucker_embedding": "video_models",
    "restyle": "restyle",
    "restyle_iter": "restyle",
    "RestyleOptions": "restyle",
    "extend_canvas": "outpaint",
    "world_model": "world_models",
    "DriveActions": "world_models",
    "forward_warp": "warp",
    "Camera": "warp",
    "BACKENDS": "backends",
    "backend_status": "backends",
    "resolve_model": "backends",
    "build_tiny": "tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'citywalk.generate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
