"""Falling rain and snow as GPU particles drawn into the HDR target (no vertex buffers).

Rain: streaks whose direction and length follow the drop velocity (fall + wind) over the
shutter time, density from the rain rate, lit by the sky and the lamp volume (so they show
against lights at night). Snow: round flakes drifting with the wind and a slow wobble.
"""

from __future__ import annotations

import numpy as np

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
    """Draws the Weather's rain and snow for a frame; create once per Renderer."""

    def __init__(self, ctx, shader_source):
        self.ctx = ctx
        self.prog = ctx.program(vertex_shader=shader_source("precip.vert"), fragment_shader=shader_source("precip.frag"))
        self.vao = ctx.vertex_array(self.prog, [])

    @staticmethod
    def active(weather) -> bool:
        """Whether this weather has any falling particles."""
        return any(particle_counts(weather))

    def draw(self, renderer, frame, view_proj: np.ndarray, shutter_s: float) -> bool:
        """Draw into the bound framebuffer, whose depth attachment holds the scene and whose
        depth_mask is off (particles are depth-tested, never written); True if anything fell."""
        import moderngl

        from .renderer import _set, _write

        L = renderer.lighting
        w = L.weather
        rain, snow = particle_counts(w)
        if not rain and not snow:
            return False
        ctx, p = self.ctx, self.prog
        wind = np.array([w.wind_mps[0], w.wind_mps[1], 0.0])
        half = np.array(BOX_HALF_M)
        centre = frame.position + frame.forward * half[0] * 0.6
        _write(p, "u_view_proj", np.asarray(view_proj, np.float32).T.copy().tobytes())
        _set(p, "u_box_centre", tuple(map(float, centre)))
        _set(p, "u_box_half", tuple(map(float, half)))
        _set(p, "u_time", float(frame.time_s))
        _set(p, "u_shutter_s", float(shutter_s))
        _set(p, "u_focal_px", float(frame.K[0, 0]))
        _set(p, "u_flake_m", 0.025)
        _set(p, "u_ambient", tuple(map(float, L.ambient_up)))
        _set(p, "u_lights_on", float(L.lights_on))
        use_lamps = renderer.lamp_volume is not None
        _set(p, "u_use_lamps", 1.0 if use_lamps else 0.0)
        renderer.lamp_textures[0].use(10)
        _set(p, "u_lamp_total", 10)
        if use_lamps:
            _set(p, "u_lamp_origin", tuple(map(float, renderer.lamp_volume.origin_m)))
            _set(p, "u_lamp_size", tuple(map(float, renderer.lamp_volume.size_m)))
        ctx.enable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.PROGRAM_POINT_SIZE)
        if rain:
            _set(p, "u_snow", 0.0)
            _set(p, "u_velocity", tuple(map(float, wind + [0, 0, -RAIN_FALL_MPS])))
            _set(p, "u_opacity", 0.6)
            ctx.blend_func = moderngl.ONE, moderngl.ONE
            self.vao.render(moderngl.LINES, vertices=2 * rain)
        if snow:
            _set(p, "u_snow", 1.0)
            _set(p, "u_velocity", tuple(map(float, wind * 0.6 + [0, 0, -SNOW_FALL_MPS])))
            _set(p, "u_opacity", 0.9)
            ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
            self.vao.render(moderngl.POINTS, vertices=snow)
        ctx.disable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        return True


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
