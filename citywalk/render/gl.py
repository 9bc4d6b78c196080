"""OpenGL context creation: headless EGL (Mesa llvmpipe on a CPU, the NVIDIA driver on a GPU)."""

from __future__ import annotations

from importlib import resources

from ..errors import RenderError


def create_context():
    """A standalone OpenGL ≥ 3.3 context through EGL, or a RenderError saying how to get one."""
    try:
        import moderngl
    except ImportError as exc:  # pragma: no cover - core dependency
        raise RenderError(f"moderngl is not installed ({exc}); reinstall citywalk") from None
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:
        raise RenderError(
            f"cannot create a headless OpenGL context through EGL ({exc}); on Debian/Ubuntu: "
            "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"
        ) from None
    return ctx


def shader_source(name: str) -> str:
    """Text of a GLSL file shipped in citywalk/render/shaders/."""
    return resources.files("citywalk.render").joinpath("shaders", name).read_text(encoding="utf-8")


def check_gl(ctx, where: str) -> None:
    """Raise a RenderError if the context has a pending GL error."""
    err = ctx.error
    if err != "GL_NO_ERROR":
        raise RenderError(f"OpenGL error {err} after {where}")
