"""The light of the moment on the GPU: the sky texture, the sun shadow map, the lamp volume and
the fog numbers derived from a Lighting. Passes read it through `FrameContext.light`."""

from __future__ import annotations

import numpy as np

from ..look.lighting import Lighting
from ..scene import Scene
from .bake import AOVolume, bake_ao
from .lamps import LampLight
from .shadow import ShadowMap

GROUND_ALBEDO = 0.2  # what the sky's bounce from the ground assumes


def haze_per_m(L: Lighting) -> float:
    """Clear-air haze extinction (1/m): visibility ≈ 60 km / turbidity on a clear day."""
    return 3.912 / (60_000.0 / max(L.weather.haze_turbidity, 1.0))


def ambient_cube(sky_tex: np.ndarray, ground_exitance_klux: np.ndarray) -> np.ndarray:
    """(6, 3) irradiance (klux) on planes facing +x, −x, +y, −y, +z, −z from the sky model's own
    lat-long radiance above the horizon and a uniform ground of the given exitance below it: the
    sky light of a surface comes from the sky it faces (bluer away from the sun, warmer toward it)."""
    h, w, _ = sky_tex.shape
    el = (np.arange(h) + 0.5) / h * np.pi - np.pi / 2
    az = (np.arange(w) + 0.5) / w * 2 * np.pi
    E, A = np.meshgrid(el, az, indexing="ij")
    dirs = np.stack([np.cos(E) * np.sin(A), np.cos(E) * np.cos(A), np.sin(E)], -1)
    d_omega = (np.cos(E) * (np.pi / h) * (2 * np.pi / w))[..., None]
    radiance = np.where((E > 0)[..., None], sky_tex, np.asarray(ground_exitance_klux) / np.pi)
    from .bake import AXES

    cos = np.maximum(np.einsum("hwc,ac->ahw", dirs, AXES), 0.0)
    return np.einsum("ahw,hwc->ac", cos, radiance * d_omega)


class AOLight:
    """The baked AO volume (bake.py) as two 3D RGBA8 textures: sky visibility +x −x +y −y; and
    sky +z, contact +z, contact of the most open horizontal axis (a wall's own facing; −z and
    the rest are 1 by construction). 1-texel open placeholders without a volume. Two fetches,
    not three: llvmpipe pays for each."""

    def __init__(self, ctx, volume: AOVolume | None):
        import moderngl

        self.volume = volume
        if volume is None:
            full = np.full((1, 1, 1, 4), 255, np.uint8).tobytes()
            self.textures = [ctx.texture3d((1, 1, 1), 4, full) for _ in range(2)]
            return
        z, y, x, _ = volume.vis.shape
        v = volume.vis
        packed = np.stack([v[..., 4], v[..., 10], v[..., 6:10].max(-1), np.full((z, y, x), 255, np.uint8)], -1)
        self.textures = []
        for data in (v[..., 0:4], packed):
            t = ctx.texture3d((x, y, z), 4, np.ascontiguousarray(data).tobytes())
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = t.repeat_z = False
            self.textures.append(t)

    def release(self) -> None:
        for t in self.textures:
            t.release()


class SceneLight:
    """Lighting-dependent GL resources of one shot. `update` is cheap (uniform values, one sky
    upload) except when the sun has moved, which redraws the shadow map; the lamp volume is
    summed once, for the lights of the first Lighting (lamps on or off for the whole shot).

    With `baked`, ambient occlusion is baked over the walk (`ao`, bake.py) and light spilling
    from shopfronts and signs joins the lamp volume; without, the pre-bake light (tests compare)."""

    def __init__(self, ctx, scene: Scene, geometry, lighting: Lighting, focus_points: np.ndarray | None,
                 baked: bool = True):
        self.ctx, self.scene = ctx, scene
        self.lighting, self.flash_klux = lighting, 0.0
        self.sky_tex = None
        self.extinction_per_m = self.haze_per_m = 0.0
        self.reflections = False
        self.baked = bool(baked)
        self.shadow = ShadowMap(ctx, geometry, scene.bounds_m, focus_points)
        self.update(lighting)
        self.lamps = LampLight(ctx, scene, lighting.lights_on, focus_points, spill=self.baked)
        self.ao = AOLight(ctx, bake_ao(scene, focus_points) if self.baked else None)

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
        L = lighting
        self.ground_exitance = GROUND_ALBEDO * (L.sun_illuminance * max(L.sun_dir[2], 0.0) + L.ambient_up)
        self.ambient_cube = ambient_cube(lighting.sky_texture, self.ground_exitance)

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
        self.ao.release()
        if self.sky_tex is not None:
            self.sky_tex.release()
