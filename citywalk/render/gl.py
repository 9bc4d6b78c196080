"""OpenGL plumbing every pass uses: the headless context (EGL: Mesa llvmpipe on a CPU, the
NVIDIA driver on a GPU), shader sources, error checks, uniform helpers and the full-screen
triangle."""

from __future__ import annotations

import re
from importlib import resources

from ..errors import RenderError

_INCLUDE = re.compile(r'^#include "([\w.]+)"[ \t]*$', re.MULTILINE)


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
    """Text of a GLSL file shipped in citywalk/render/shaders/, with each `#include "other.glsl"`
    line replaced by that file's text (code two shaders must share word for word)."""
    text = resources.files("citywalk.render").joinpath("shaders", name).read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda m: shader_source(m.group(1)), text)


def is_software_renderer(ctx) -> bool:
    """Whether the GL device is a CPU rasteriser (llvmpipe, softpipe, SwiftShader): what the
    passes choose their cheaper paths by."""
    name = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(s in name for s in ("llvmpipe", "softpipe", "swiftshader", "software"))


def check_gl(ctx, where: str) -> None:
    """Raise a RenderError if the context has a pending GL error."""
    err = ctx.error
    if err != "GL_NO_ERROR":
        raise RenderError(f"OpenGL error {err} after {where}")


def set_uniform(prog, name: str, value) -> None:
    """Set a uniform if the linked program kept it (drivers drop uniforms a shader never reads)."""
    if name in prog:
        prog[name].value = value


def write_uniform(prog, name: str, data: bytes) -> None:
    """Write raw bytes (a matrix, see `mat_bytes`) to a uniform if the program kept it."""
    if name in prog:
        prog[name].write(data)


def float_layout(prog, buffer, attrs, suffix: str = ""):
    """A vertex-array entry for interleaved float attributes `attrs` ((name, count), ...),
    padding those the linked program dropped (a specialised shader may not read them all)."""
    fmt, names = [], []
    for name, n in attrs:
        if name in prog:
            fmt.append(f"{n}f")
            names.append(name)
        else:
            fmt.append(f"{4 * n}x")
    return (buffer, " ".join(fmt) + suffix, *names)


def mat_bytes(m) -> bytes:
    """A (4, 4) or (3, 3) matrix as float32 bytes in the column-major order GLSL wants."""
    import numpy as np

    return np.asarray(m, np.float32).T.copy().tobytes()


def vec(v) -> tuple[float, ...]:
    """A NumPy vector as a tuple of Python floats (what moderngl takes for vecN uniforms)."""
    return tuple(map(float, v))


def specialize(source: str, constants: dict[str, float]) -> str:
    """GLSL `source` with the float uniforms named in `constants` made compile-time constants, so
    the compiler drops what they switch off (llvmpipe would run those branches masked)."""
    for name, value in constants.items():
        decl = f"uniform float {name};"
        if decl not in source:
            raise RenderError(f"shader has no '{decl}' to specialise")
        source = source.replace(decl, f"const float {name} = {float(value)!r};", 1)
    return source


class Fullscreen:
    """A program drawing one full-screen triangle (fullscreen.vert + a fragment shader), with
    the float uniforms in `constants` fixed at compile time (`specialize`)."""

    def __init__(self, ctx, fragment: str, constants: dict[str, float] | None = None):
        self.ctx = ctx
        frag = specialize(shader_source(fragment), constants or {})
        self.prog = ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=frag)
        self.vao = ctx.vertex_array(self.prog, [])

    def draw(self, fbo, textures: dict | None = None, uniforms: dict | None = None) -> None:
        """Draw into `fbo` (depth test off) with `textures` {sampler name: (unit, texture)} bound
        and `uniforms` {name: value} set."""
        import moderngl

        fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        for name, (unit, tex) in (textures or {}).items():
            tex.use(int(unit))
            set_uniform(self.prog, name, int(unit))
        for name, value in (uniforms or {}).items():
            set_uniform(self.prog, name, value)
        self.render()

    def render(self) -> None:
        """Draw the triangle with whatever framebuffer, textures and GL state are current."""
        import moderngl

        self.vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        self.vao.release()
        self.prog.release()
