"""The frame's images: the framebuffers and textures that one pass writes and a later one reads.

A pass's private scratch images (the bloom ping-pong buffer, the meter's downsample, the mesh
camera-z for splats) belong to that pass; everything handed from pass to pass lives here.
"""

from __future__ import annotations


class Targets:
    """Images of `size_px` (w, h). With `samples` > 1 the scene is drawn into a multisampled
    target and resolved into `hdr_tex`/`depth_tex`; otherwise straight into them.

    scene_fbo: where meshes, sky and actors draw (RGBA16F linear radiance + depth);
    hdr_tex (RGBA16F: rgb kcd/m², a = how mirror-like the ground is) and depth_tex (window depth);
    precip_tex: rain and snow (RGBA16F, additive rain, premultiplied snow), depth-tested against
      depth_tex but never writing it;
    splat_fbo/splat_color/splat_z: the splat layer (see splat_gl), None without splats;
    glow_tex: quarter-resolution bloom; ldr_fbo/ldr_tex: the tone-mapped sRGB 8-bit frame;
    final_fbo/final_tex: the frame after edge anti-aliasing (final_tex only with display_float).
    display_float: the display images in half floats, for an upscale pass that grains and
    dithers after them (render/upscale.py); 8-bit otherwise."""

    def __init__(self, ctx, size_px: tuple[int, int], samples: int, splats: bool, display_float: bool = False):
        import moderngl

        self.ctx = ctx
        self.size_px = w, h = int(size_px[0]), int(size_px[1])
        self.samples = samples
        self.msaa_fbo = None
        if samples:
            self.msaa_fbo = ctx.framebuffer(ctx.renderbuffer((w, h), 4, samples=samples, dtype="f2"),
                                            ctx.depth_renderbuffer((w, h), samples=samples))
        self.hdr_tex = ctx.texture((w, h), 4, dtype="f2")
        self.depth_tex = ctx.depth_texture((w, h))
        self.depth_tex.compare_func = ""  # sampled as plain depth values (fog, splat occlusion)
        self.hdr_fbo = ctx.framebuffer(self.hdr_tex, self.depth_tex)
        display = "f2" if display_float else "f1"
        self.ldr_tex = ctx.texture((w, h), 4, dtype=display)
        self.ldr_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.ldr_fbo = ctx.framebuffer(self.ldr_tex)
        self.final_tex = ctx.texture((w, h), 4, dtype=display) if display_float else None
        self.final_fbo = ctx.framebuffer(self.final_tex or ctx.renderbuffer((w, h), 4))
        self.glow_tex = ctx.texture((max(1, w // 4), max(1, h // 4)), 4, dtype="f2")
        self.glow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.glow_tex.repeat_x = self.glow_tex.repeat_y = False
        self.precip_tex = ctx.texture((w, h), 4, dtype="f2")
        self.precip_fbo = ctx.framebuffer(self.precip_tex, self.depth_tex)
        self.precip_fbo.depth_mask = False  # tests against the scene depth, never writes or clears it
        self.precip_fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.splat_fbo = self.splat_color = self.splat_z = None
        if splats:
            from .splat_gl import make_splat_target

            self.splat_fbo, self.splat_color, self.splat_z = make_splat_target(ctx, (w, h))

    @property
    def scene_fbo(self):
        """The framebuffer meshes, sky and actors draw into."""
        return self.msaa_fbo if self.msaa_fbo is not None else self.hdr_fbo

    def begin(self) -> None:
        """Bind and clear the scene target: black, alpha 1 (not mirror-like), depth 1 (sky)."""
        import moderngl

        fbo = self.scene_fbo
        fbo.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.disable(moderngl.CULL_FACE)
        fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)

    def resolve(self) -> None:
        """Multisampled scene → hdr_tex and depth_tex (nothing to do without multisampling)."""
        if self.msaa_fbo is not None:
            self.ctx.copy_framebuffer(self.hdr_fbo, self.msaa_fbo)
