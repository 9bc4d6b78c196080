"""Falling rain and snow as GPU particles drawn into their own layer (no vertex buffers).

Rain: streaks whose direction and length follow the drop velocity (fall + wind) over the
shutter time, density from the rain rate, lit by the sky and the lamp volume (so they show
against lights at night). Snow: round flakes drifting with the wind and a slow wobble.
"""

from __future__ import annotations

import numpy as np

from .frame import FrameContext, TextureUnit
from .gl import mat_bytes, set_uniform, shader_source, vec, write_uniform

RAIN_FALL_MPS = 7.0
SNOW_FALL_MPS = 1.0
BOX_HALF_M = (12.0, 12.0, 7.0)
RAIN_PER_MMPH = 350      # visible streaks in the box per mm/h
SNOW_PER_MMPH = 2500     # flakes in the box per mm/h (water equivalent)
MAX_PARTICLES = 30_000


def particle_counts(weather) -> tuple[int, int]:
    """(rain streaks, snowflakes) for a Weather."""
    rain = int(min(MAX_PARTICLES, weather.precipitation_mmph * RAIN_PER_MMPH))
    snow = int(min(MAX_PARTICLES, weather.snowfall_mmph * SNOW_PER_MMPH))
    return rain, snow


class PrecipitationPass:
    """Draws the Weather's rain and snow into the precipitation layer (targets.precip_fbo),
    depth-tested against the scene and never writing its depth, so that wet-ground reflections
    do not mirror streaks and fog applies to them in the post pass. `shutter_s` sets the streak
    length (1/48 s: a 180° shutter at 24 fps)."""

    def __init__(self, ctx, shutter_s: float = 1.0 / 48.0):
        self.ctx, self.shutter_s = ctx, float(shutter_s)
        self.prog = ctx.program(vertex_shader=shader_source("precip.vert"),
                                fragment_shader=shader_source("precip.frag"))
        self.vao = ctx.vertex_array(self.prog, [])
        self.drawn = False  # whether the layer holds particles from the last frame (then it is cleared)

    @staticmethod
    def active(weather) -> bool:
        """Whether this weather has any falling particles."""
        return any(particle_counts(weather))

    def update_lighting(self, light) -> None:
        """Nothing to upload: the weather is read from the frame's light when drawing."""

    def draw(self, fc: FrameContext) -> None:
        """Clear the layer and draw this frame's particles (skipped while nothing falls and the
        layer is already clear)."""
        if self.drawn or self.active(fc.light.lighting.weather):
            fbo = fc.targets.precip_fbo
            fbo.use()
            fbo.clear(0.0, 0.0, 0.0, 0.0)
            self.drawn = self._particles(fc)

    def _particles(self, fc: FrameContext) -> bool:
        """Draw into the bound layer; True if anything fell."""
        import moderngl

        L, frame = fc.light.lighting, fc.frame
        w = L.weather
        rain, snow = particle_counts(w)
        if not rain and not snow:
            return False
        ctx, p = self.ctx, self.prog
        wind = np.array([w.wind_mps[0], w.wind_mps[1], 0.0])
        half = np.array(BOX_HALF_M)
        centre = frame.position + frame.forward * half[0] * 0.6
        write_uniform(p, "u_view_proj", mat_bytes(fc.view_proj))
        set_uniform(p, "u_box_centre", vec(centre))
        set_uniform(p, "u_box_half", vec(half))
        set_uniform(p, "u_time", float(frame.time_s))
        set_uniform(p, "u_shutter_s", self.shutter_s)
        set_uniform(p, "u_focal_px", float(frame.K[0, 0]))
        set_uniform(p, "u_flake_m", 0.025)
        set_uniform(p, "u_ambient", vec(L.ambient_up))
        set_uniform(p, "u_lights_on", float(L.lights_on))
        self._bind_lamps(fc.light.lamps)
        ctx.enable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.PROGRAM_POINT_SIZE)
        ctx.depth_func = "<"
        if rain:
            set_uniform(p, "u_snow", 0.0)
            set_uniform(p, "u_velocity", vec(wind + [0, 0, -RAIN_FALL_MPS]))
            set_uniform(p, "u_opacity", 0.6)
            ctx.blend_func = moderngl.ONE, moderngl.ONE
            self.vao.render(moderngl.LINES, vertices=2 * rain)
        if snow:
            set_uniform(p, "u_snow", 1.0)
            set_uniform(p, "u_velocity", vec(wind * 0.6 + [0, 0, -SNOW_FALL_MPS]))
            set_uniform(p, "u_opacity", 0.9)
            ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
            self.vao.render(moderngl.POINTS, vertices=snow)
        ctx.disable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        return True

    def _bind_lamps(self, lamps) -> None:
        """Streaks catch the street lamps: the lamp volume on its unit (a placeholder without)."""
        p = self.prog
        set_uniform(p, "u_use_lamps", 1.0 if lamps.volume is not None else 0.0)
        lamps.total.use(TextureUnit.LAMP_TOTAL)
        set_uniform(p, "u_lamp_total", int(TextureUnit.LAMP_TOTAL))
        if lamps.volume is not None:
            set_uniform(p, "u_lamp_origin", vec(lamps.volume.origin_m))
            set_uniform(p, "u_lamp_size", vec(lamps.volume.size_m))

    def release(self) -> None:
        self.vao.release()
        self.prog.release()


def lightning_flash_klux(t_s: float, seed: int, enabled: bool) -> float:
    """Extra sky light from lightning at shot time t: a flash every 5–11 s (placed by the seed),
    each a few flickers over ~0.3 s. Deterministic for a given seed."""
    if not enabled:
        return 0.0
    rng = np.random.default_rng(seed + 7919)
    start = float(rng.uniform(0.5, 3.0))
    while start <= t_s + 1.0:
        flickers = rng.uniform(0.0, 0.3, 3)
        strength = rng.uniform(2.0, 6.0, 3)
        for ft, fs in zip(flickers, strength):
            dt = t_s - (start + ft)
            if 0 <= dt < 0.12:
                return float(fs * np.exp(-dt / 0.04))
        start += float(rng.uniform(5.0, 11.0))
    return 0.0
