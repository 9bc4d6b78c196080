"""The glow pass: what is brighter than BLOOM_THRESHOLD after exposure (signs, lamps, the sun)
spreads into a quarter-resolution bloom that the post pass adds before the tone curve."""

from __future__ import annotations

from .frame import FrameContext, TextureUnit
from .gl import Fullscreen

BLOOM_THRESHOLD = 1.5  # exposed value above which light glows
BLUR_ROUNDS = 2        # separable blur passes (horizontal + vertical) over the downsample


class GlowPass:
    """Downsample the exposed HDR above the threshold into targets.glow_tex, then blur it in
    place (through a scratch texture of the same size)."""

    def __init__(self, ctx, glow_tex):
        import moderngl

        self.down = Fullscreen(ctx, "bloom_down.frag")
        self.blur = Fullscreen(ctx, "blur.frag")
        self.glow_fbo = ctx.framebuffer(glow_tex)
        self.scratch_tex = ctx.texture(glow_tex.size, 4, dtype="f2")
        self.scratch_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.scratch_tex.repeat_x = self.scratch_tex.repeat_y = False
        self.scratch_fbo = ctx.framebuffer(self.scratch_tex)

    def update_lighting(self, light) -> None:
        """Nothing: the glow follows the exposed frame."""

    def draw(self, fc: FrameContext) -> None:
        w, h = fc.size_px
        glow = fc.targets.glow_tex
        bw, bh = glow.size
        self.down.draw(self.glow_fbo, {"u_hdr": (TextureUnit.PASS_INPUT, fc.targets.hdr_tex)},
                       {"u_texel": (1.0 / w, 1.0 / h), "u_exposure": fc.exposure, "u_threshold": BLOOM_THRESHOLD})
        for _ in range(BLUR_ROUNDS):
            self.blur.draw(self.scratch_fbo, {"u_src": (TextureUnit.PASS_INPUT, glow)}, {"u_dir": (1.0 / bw, 0.0)})
            self.blur.draw(self.glow_fbo, {"u_src": (TextureUnit.PASS_INPUT, self.scratch_tex)},
                           {"u_dir": (0.0, 1.0 / bh)})

    def release(self) -> None:
        for obj in (self.down, self.blur, self.glow_fbo, self.scratch_fbo, self.scratch_tex):
            obj.release()
