"""Rendering below the output size: the scene, light and tone passes draw a frame `render_scale`
times the output's width and height, and this pass widens it to the output (separable
Catmull-Rom), then adds the film grain and dither at the output's own pixels, so grain stays as
fine as in a full-size frame. Shading cost falls with the pixel count (llvmpipe's limit)."""

from __future__ import annotations

import numpy as np

from ..errors import RenderError
from .frame import TextureUnit
from .gl import Fullscreen

MIN_RENDER_SCALE = 0.25


def inner_size_px(size_px: tuple[int, int], render_scale: float) -> tuple[int, int]:
    """(w, h) drawn for an output of `size_px` at `render_scale` (each side, rounded to even and
    at least 16 px); the output size itself at scale 1."""
    scale = float(render_scale)
    if not MIN_RENDER_SCALE <= scale <= 1.0:
        raise RenderError(f"render scale {render_scale!r} must be in {MIN_RENDER_SCALE}..1")
    w, h = int(size_px[0]), int(size_px[1])
    if scale == 1.0:
        return w, h
    return max(16, 2 * round(w * scale / 2)), max(16, 2 * round(h * scale / 2))


def nearest_resize(img: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """`img` (h, w, ...) resampled to (size_px[1], size_px[0], ...) by nearest pixel centre: for
    values that must not be blended across edges (depth, linear radiance for analysis)."""
    h, w = img.shape[:2]
    ys = np.minimum(((np.arange(size_px[1]) + 0.5) * h / size_px[1]).astype(int), h - 1)
    xs = np.minimum(((np.arange(size_px[0]) + 0.5) * w / size_px[0]).astype(int), w - 1)
    return np.ascontiguousarray(img[ys][:, xs])


class UpscalePass:
    """The display image (a float texture at the drawn size) → the output size, grained and
    dithered, in `fbo` (RGBA8). Two draws: along x into a float strip, then along y."""

    def __init__(self, ctx, inner_px: tuple[int, int], size_px: tuple[int, int]):
        self.ctx, self.size_px = ctx, (int(size_px[0]), int(size_px[1]))
        w, h = self.size_px
        self.strip = ctx.texture((w, int(inner_px[1])), 4, dtype="f2")
        self.strip_fbo = ctx.framebuffer(self.strip)
        self.fbo = ctx.framebuffer(ctx.renderbuffer((w, h), 4))
        self.along_x = Fullscreen(ctx, "upscale.frag", {"u_vertical": 0.0, "u_grain": 0.0})
        self.along_y = Fullscreen(ctx, "upscale.frag", {"u_vertical": 1.0})

    def draw(self, src_tex, grain: float, grain_offset, frame: float) -> None:
        """Upscale `src_tex` into self.fbo with grain amplitude `grain` at `grain_offset` and the
        dither pattern of frame number `frame` (post.py's per-frame values)."""
        w, h = self.size_px
        self.along_x.draw(self.strip_fbo, {"u_src": (TextureUnit.PASS_INPUT, src_tex)}, {"u_out_len": float(w)})
        self.along_y.draw(self.fbo, {"u_src": (TextureUnit.PASS_INPUT, self.strip)},
                          {"u_out_len": float(h), "u_grain": float(grain),
                           "u_grain_offset": tuple(map(float, grain_offset)), "u_frame": float(frame)})

    def release(self) -> None:
        for obj in (self.along_x, self.along_y, self.strip_fbo, self.strip, self.fbo):
            obj.release()
