"""The sky pass: where no mesh was drawn (depth still 1), the lat-long sky texture plus the sun
disc, the moon and its phase, stars after dusk and drifting clouds."""

from __future__ import annotations

import numpy as np

from .frame import FrameContext, TextureUnit
from .gl import Fullscreen, mat_bytes, set_uniform, vec, write_uniform


class SkyPass:
    """Draws the sky behind everything in the scene target, at the far plane (depth test `<=`
    against the cleared depth of 1)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.fullscreen = Fullscreen(ctx, "sky.frag")

    def update_lighting(self, light) -> None:
        """Sun, moon, stars, clouds and lightning of the light of the moment."""
        L, w = light.lighting, light.lighting.weather
        p = self.fullscreen.prog
        set_uniform(p, "u_sun_dir", vec(L.sun_dir))
        set_uniform(p, "u_sun_E", vec(L.sun_illuminance))
        set_uniform(p, "u_moon_dir", vec(L.moon_dir))
        set_uniform(p, "u_star_scale", float(1e-5 * max(0.0, -L.sun_altitude_deg - 8.0) / 10.0 * (1 - w.cloud_cover)))
        set_uniform(p, "u_flash", light.flash_klux)
        set_uniform(p, "u_cloud_cover", float(w.cloud_cover))
        cloud_light = (L.ambient_up * 0.9 + L.sun_illuminance * max(L.sun_dir[2], 0.05) * 0.6) / np.pi
        set_uniform(p, "u_cloud_light", vec(cloud_light))
        set_uniform(p, "u_wind", (float(w.wind_mps[0]), float(w.wind_mps[1])))

    def draw(self, fc: FrameContext) -> None:
        import moderngl

        p = self.fullscreen.prog
        fc.targets.scene_fbo.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.depth_func = "<="
        fc.light.sky_tex.use(TextureUnit.SKY)
        write_uniform(p, "u_inv_view_proj", mat_bytes(fc.inv_view_proj))
        set_uniform(p, "u_sky", int(TextureUnit.SKY))
        set_uniform(p, "u_clip_depth", 1.0)
        set_uniform(p, "u_time", float(fc.time_s))
        self.fullscreen.render()

    def release(self) -> None:
        self.fullscreen.release()
