"""The light of the moment on the GPU: the sky texture, the sun shadow map, the lamp volume and
the fog numbers derived from a Lighting. Passes read it through `FrameContext.light`."""

from __future__ import annotations

import numpy as np

from ..look.lighting import Lighting
from ..scene import Scene
from .lamps import LampLight
from .shadow import ShadowMap


def haze_per_m(L: Lighting) -> float:
    """Clear-air haze extinction (1/m): visibility ≈ 60 km / turbidity on a clear day."""
    return 3.912 / (60_000.0 / max(L.weather.haze_turbidity, 1.0))


class SceneLight:
    """Lighting-dependent GL resources of one shot. `update` is cheap (uniform values, one sky
    upload) except when the sun has moved, which redraws the shadow map; the lamp volume is
    summed once, for the lights of the first Lighting (lamps on or off for the whole shot)."""

    def __init__(self, ctx, scene: Scene, geometry, lighting: Lighting, focus_points: np.ndarray | None):
        self.ctx, self.scene = ctx, scene
        self.lighting, self.flash_klux = lighting, 0.0
        self.sky_tex = None
        self.extinction_per_m = self.haze_per_m = 0.0
        self.reflections = False
        self.shadow = ShadowMap(ctx, geometry, scene.bounds_m, focus_points)
        self.update(lighting)
        self.lamps = LampLight(ctx, scene, lighting.lights_on, focus_points)

    def update(self, lighting: Lighting, flash_klux: float = 0.0) -> None:
        """Take a new Lighting (and lightning flash, klux of extra sky light)."""
        import moderngl

        self.lighting, self.flash_klux = lighting, float(flash_klux)
        sky = np.ascontiguousarray(lighting.sky_texture, np.float32)
        if self.sky_tex is not None and self.sky_tex.size == (sky.shape[1], sky.shape[0]):
            self.sky_tex.write(sky.tobytes())
        else:
            self.sky_tex = self.ctx.texture((sky.shape[1], sky.shape[0]), 3, sky.tobytes(), dtype="f4")
            self.sky_tex.repeat_x, self.sky_tex.repeat_y = True, False
            self.sky_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        w = lighting.weather
        self.extinction_per_m = float(w.extinction_per_m())
        self.haze_per_m = haze_per_m(lighting)
        self.reflections = w.wetness > 0.0 and w.snow_cover < 0.5  # screen-space, on wet ground
        self.shadow.update(lighting)

    @property
    def fog_color(self) -> np.ndarray:
        """In-scattered radiance (3,) kcd/m² at infinite depth: the horizon sky and, after dark,
        the city's own lights (a warm glow)."""
        L = self.lighting
        city_glow = np.array([1.0, 0.78, 0.55]) * 0.003 * L.lights_on
        return L.ambient_horizon * 0.9 + city_glow * min(1.0, self.extinction_per_m * 400.0)

    def sun_visibility(self, points_m: np.ndarray) -> np.ndarray:
        """0..1 per world point (N, 3): how much of the sun reaches it (shadow map, read once)."""
        return self.shadow.visibility(points_m, sun_up=bool(self.lighting.sun_illuminance[1] > 0))

    def lamp_illuminance(self, points_m: np.ndarray) -> np.ndarray:
        """Lamp illuminance (klux, linear RGB) at world points (N, 3), from the lamp volume."""
        return self.lamps.illuminance(points_m, self.lighting.lights_on)

    def release(self) -> None:
        self.shadow.release()
        self.lamps.release()
        if self.sky_tex is not None:
            self.sky_tex.release()
