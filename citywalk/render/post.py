"""The post pass: HDR scene → display. Screen-space reflections on wet ground (the HDR alpha says
how mirror-like), the rain and snow layer, fog by depth with height falloff and clear-air haze,
exposure, glow, the tone curve, splats composited after it (their light is baked), the film
look (vignette, grain), sRGB and dither; then edge anti-aliasing (FXAA) when the scene was not
multisampled. Motion blur comes first: each pixel's HDR radiance is averaged along the path the
camera's motion swept it over while the shutter was open (velocity from depth and the previous
frame's camera), so a still camera gets none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RenderError
from .frame import FAR_M, NEAR_M, FrameContext, TextureUnit
from .gl import Fullscreen, mat_bytes, set_uniform, vec, write_uniform
from .precipitation import particle_counts

BLOOM_STRENGTH = 0.5  # glow added to the exposed radiance before the tone curve
DITHER_PERIOD = 64    # the dither pattern repeats after this many frames
GRAIN_SEED = 15       # the grain of frame i comes from Generator([GRAIN_SEED, i]): same shot, same grain


@dataclass(frozen=True)
class FilmLook:
    """How the camera films: tone curve (0 ACES filmic, 1 phone), shutter (share of the frame
    interval open: 0.5 is a 180° film shutter), cos⁴ vignette share, grain amplitude, bloom and
    colour saturation."""

    tone: int = 0
    shutter: float = 0.0
    vignette: float = 0.0
    grain: float = 0.0
    bloom: float = BLOOM_STRENGTH
    saturation: float = 1.0


FILM_PRESETS = {
    "cinema": FilmLook(tone=0, shutter=0.5, vignette=0.35, grain=0.05, bloom=0.6, saturation=1.0),
    "phone": FilmLook(tone=1, shutter=0.25, vignette=0.08, grain=0.03, bloom=0.35, saturation=1.12),
    "none": FilmLook(),
}


def film_look(name: str) -> FilmLook:
    """The FILM_PRESETS entry `name`, or a RenderError naming the accepted ones."""
    if name not in FILM_PRESETS:
        raise RenderError(f"unknown film look '{name}': use one of {', '.join(FILM_PRESETS)}")
    return FILM_PRESETS[name]


def grain_offset(index: int) -> np.ndarray:
    """(2,) offset of frame `index`'s grain pattern, in pixels: seeded by the frame number."""
    return np.random.default_rng([GRAIN_SEED, max(int(index), 0)]).uniform(0.0, 4096.0, 2)


class PostPass:
    """Tone-maps into targets.ldr_fbo (and, with fc.linear, exposed linear radiance into its own
    float target); with `fxaa`, anti-aliases into targets.final_fbo. `result` names the
    framebuffer holding the finished frame. With `grain_later` the frame leaves without grain
    and dither (an upscale pass adds them at the output's pixels: `grain_at`)."""

    def __init__(self, ctx, fxaa: bool, film: str = "cinema", grain_later: bool = False):
        self.ctx, self.fxaa, self.grain_later = ctx, bool(fxaa), bool(grain_later)
        self._tones: dict[tuple[bool, bool, bool, bool], Fullscreen] = {}  # by the features a frame uses
        self.film = film_look(film)
        self.tone: Fullscreen | None = None  # the program of the latest frame, chosen in draw
        self.antialias = Fullscreen(ctx, "fxaa.frag")
        self.linear_fbo = None  # made on the first frame that asks for linear output

    @property
    def film(self) -> FilmLook:
        """The film look; setting another drops the tone programs compiled for the old one."""
        return self._film

    @film.setter
    def film(self, look: FilmLook) -> None:
        for prog in self._tones.values():
            prog.release()
        self._tones.clear()
        self.tone = None
        self._film = look

    def update_lighting(self, light) -> None:
        """Nothing to upload ahead: fog and reflections are set from the frame's light."""

    def _tone(self, reflections: bool, splats: bool, blur: bool, precip: bool) -> Fullscreen:
        """The tone program with what the frame does not use compiled out (wet-ground reflections,
        the splat layer, motion blur, the rain and snow layer), built on first use."""
        key = (reflections, splats, blur, precip)
        if key not in self._tones:
            off = {"u_ssr": reflections, "u_has_splats": splats, "u_shutter": blur, "u_has_precip": precip}
            constants = {k: 0.0 for k, on in off.items() if not on} | self._film_constants()
            self._tones[key] = Fullscreen(self.ctx, "post.frag", constants)
        return self._tones[key]

    def _film_constants(self) -> dict[str, float]:
        """The film look's uniforms, fixed for this pass's life, as compile-time constants: the
        compiler then drops the tone curve not taken, and the grain and dither of a frame that an
        upscale pass grains later (llvmpipe would run them all)."""
        f = self.film
        return {"u_bloom_strength": f.bloom, "u_tone": float(f.tone), "u_saturation": f.saturation,
                "u_vignette": f.vignette, "u_grain": 0.0 if self.grain_later else f.grain,
                "u_dither": 0.0 if self.grain_later else 1.0}

    def result(self, fc: FrameContext):
        """The framebuffer with the finished sRGB frame."""
        return fc.targets.final_fbo if self.fxaa else fc.targets.ldr_fbo

    def result_texture(self, fc: FrameContext):
        """The finished frame as a texture (targets made with display_float)."""
        return fc.targets.final_tex if self.fxaa else fc.targets.ldr_tex

    def draw(self, fc: FrameContext) -> None:
        import moderngl

        blur = self.film.shutter > 0 and fc.prev_view_proj is not None
        precip = any(particle_counts(fc.light.lighting.weather))  # PrecipitationPass drew the layer
        self.tone = self._tone(bool(fc.light.reflections), fc.targets.splat_fbo is not None, blur, precip)
        self._set_uniforms(fc)
        self._bind_layers(fc)
        fc.targets.ldr_fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        self.tone.render()
        if fc.linear:
            w, h = fc.size_px
            if self.linear_fbo is None:
                self.linear_fbo = self.ctx.framebuffer(self.ctx.renderbuffer((w, h), 4, dtype="f4"))
            self.linear_fbo.use()
            set_uniform(self.tone.prog, "u_linear", 1.0)
            self.tone.render()
            set_uniform(self.tone.prog, "u_linear", 0.0)
        if self.fxaa:
            w, h = fc.size_px
            self.antialias.draw(fc.targets.final_fbo, {"u_ldr": (TextureUnit.PASS_INPUT, fc.targets.ldr_tex)},
                                {"u_texel": (1.0 / w, 1.0 / h)})

    def _set_uniforms(self, fc: FrameContext) -> None:
        q, light, K = self.tone.prog, fc.light, fc.frame.K
        weather = light.lighting.weather
        w, h = fc.size_px
        set_uniform(q, "u_near", NEAR_M)
        set_uniform(q, "u_far", FAR_M)
        set_uniform(q, "u_tan_half", (w / 2 / K[0, 0], h / 2 / K[1, 1]))
        set_uniform(q, "u_exposure", float(fc.exposure))
        set_uniform(q, "u_extinction", light.extinction_per_m)
        set_uniform(q, "u_haze", light.haze_per_m)
        set_uniform(q, "u_fog_falloff", float(weather.fog_height_falloff_per_m))
        set_uniform(q, "u_fog_base", float(weather.fog_base_height_m))
        write_uniform(q, "u_inv_view_proj", mat_bytes(fc.inv_view_proj))
        set_uniform(q, "u_cam_pos", vec(fc.cam_pos))
        set_uniform(q, "u_fog_color", vec(light.fog_color))
        set_uniform(q, "u_frame", float(fc.index % DITHER_PERIOD))
        set_uniform(q, "u_has_splats", 1.0 if fc.targets.splat_fbo is not None else 0.0)
        set_uniform(q, "u_ssr", 1.0 if light.reflections else 0.0)
        set_uniform(q, "u_has_precip", 1.0)  # compiled to 0 in the program of a frame without
        if light.reflections:
            write_uniform(q, "u_view_proj", mat_bytes(fc.view_proj))
        self._film_uniforms(fc)

    def _film_uniforms(self, fc: FrameContext) -> None:
        """Motion blur (only with a previous camera) and where the grain pattern lies this frame (the
        rest of the film look is compiled in: `_film_constants`)."""
        q, f = self.tone.prog, self.film
        blur = f.shutter if fc.prev_view_proj is not None else 0.0
        set_uniform(q, "u_shutter", blur)
        if blur > 0:
            write_uniform(q, "u_prev_view_proj", mat_bytes(fc.prev_view_proj))
        set_uniform(q, "u_grain_offset", vec(grain_offset(fc.index)))

    def _bind_layers(self, fc: FrameContext) -> None:
        """Bind the images the tone pass reads (reflections and splats only when present)."""
        t = fc.targets
        layers = [("u_hdr", TextureUnit.HDR, t.hdr_tex), ("u_depth", TextureUnit.DEPTH, t.depth_tex),
                  ("u_precip", TextureUnit.PRECIP, t.precip_tex), ("u_bloom", TextureUnit.GLOW, t.glow_tex)]
        if fc.light.reflections:
            layers.append(("u_sky", TextureUnit.SKY, fc.light.sky_tex))
        if t.splat_fbo is not None:
            layers += [("u_splat", TextureUnit.SPLAT_COLOR, t.splat_color),
                       ("u_splat_z", TextureUnit.SPLAT_Z, t.splat_z)]
        for name, unit, tex in layers:
            tex.use(int(unit))
            set_uniform(self.tone.prog, name, int(unit))

    def release(self) -> None:
        for tone in self._tones.values():
            tone.release()
        self.antialias.release()
        if self.linear_fbo is not None:
            self.linear_fbo.release()
