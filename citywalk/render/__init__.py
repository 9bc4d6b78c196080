"""The moderngl renderer. Importing this package does not create a GL context; `Renderer` does."""

from __future__ import annotations

__all__ = ["Renderer", "CameraFrame"]


def __getattr__(name):
    if name == "Renderer":
        from .renderer import Renderer

        return Renderer
    if name == "CameraFrame":
        from ..camera.track import CameraFrame

        return CameraFrame
    raise AttributeError(name)
