"""The moderngl renderer: a Scene under a Lighting, frame by frame, as an ordered list of passes.

Per frame one FrameContext (camera matrices, the frame's images, the light, later the exposure)
goes to each pass in order: the scene passes draw HDR light into the scene target (meshes, sky,
then added passes such as actors); after the resolve the layer passes draw their own images
(rain and snow, splats); the exposure is metered; the display passes turn it all into the
sRGB frame (glow, post). See design.md.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import RenderError
from ..look.lighting import Lighting
from ..scene import Scene
from .exposure import CameraExposure, ExposureState
from .frame import FrameContext, Pass, depth_to_distance, ray_lengths, resized_frame
from .geometry import SceneGeometry
from .gl import check_gl, create_context
from .glow import GlowPass
from .lights import SceneLight
from .meshes import MeshPass
from .post import DITHER_PERIOD, PostPass, grain_offset
from .precipitation import PrecipitationPass
from .sky import SkyPass
from .targets import Targets
from .upscale import UpscalePass, inner_size_px, nearest_resize


def _msaa_samples(ctx, samples: int) -> int:
    """Samples per pixel of the scene target, 0 for none. 0 asks for the default: none on a
    software rasteriser (it shades every sample), 4 on a GPU."""
    if samples == 0:
        samples = 1 if "llvmpipe" in ctx.info.get("GL_RENDERER", "").lower() else 4
    return min(samples, ctx.max_samples) if samples > 1 else 0


class Renderer:
    """Renders a Scene under a Lighting from CameraFrames. Create once per shot, then call
    `render(frame)`; `close()` releases the GL context (and with it every pass's objects).

    focus_points (K, 3): the walk, around which the shadow map and lamp volume are built.
    auto_exposure: meter every frame (camera-like, adapting over time) instead of the
    Lighting's fixed exposure; exposure_ev: an offset on top, in stops. baked_light: bake ambient
    occlusion and shop/sign light spill (bake.py, lamps.py; False: the light before the bake).
    film: the camera look of post.py's FILM_PRESETS (cinema, phone, none). render_scale < 1:
    draw each side that much smaller and widen the frame to `size_px` (upscale.py)."""

    def __init__(self, scene: Scene, lighting: Lighting, size_px: tuple[int, int], samples: int = 0,
                 focus_points: np.ndarray | None = None, auto_exposure: bool = True, exposure_ev: float = 0.0,
                 splat_budget: int | None = None, baked_light: bool = True, film: str = "cinema",
                 render_scale: float = 1.0):
        self.scene, self.size = scene, (int(size_px[0]), int(size_px[1]))
        self.inner_size = inner_size_px(self.size, render_scale)
        scaled = self.inner_size != self.size
        self.ctx = ctx = create_context()
        self.samples = _msaa_samples(ctx, samples)
        self.stats = {"frames": 0, "draw_s": 0.0, "readback_s": 0.0}
        self.geometry = SceneGeometry(ctx, scene)
        self.targets = Targets(ctx, self.inner_size, self.samples, splats=bool(scene.gaussians), display_float=scaled)
        self.light = SceneLight(ctx, scene, self.geometry, lighting, focus_points, baked=baked_light)
        self.camera_exposure = CameraExposure(ctx, auto_exposure, exposure_ev)
        lit_share = float(scene.lit_window_share)
        self.scene_passes: list[Pass] = [MeshPass(ctx, self.geometry, lit_share), SkyPass(ctx)]
        self.layer_passes: list[Pass] = [PrecipitationPass(ctx)]
        if scene.gaussians:
            from .splats import SplatLayerPass

            self.layer_passes.append(SplatLayerPass(ctx, scene.gaussians, self.inner_size, splat_budget,
                                                    occluded=scene.triangle_count > 0))
        self.post = PostPass(ctx, fxaa=self.samples == 0, film=film, grain_later=scaled)
        self.upscale = UpscalePass(ctx, self.inner_size, self.size) if scaled else None
        self.display_passes: list[Pass] = [GlowPass(ctx, self.targets.glow_tex), self.post]
        self._meter_targets: Targets | None = None  # meter_reading's, made on first use
        for p in self.passes:
            p.update_lighting(self.light)
        check_gl(ctx, "renderer set-up")

    @property
    def passes(self) -> list[Pass]:
        """Every pass in drawing order."""
        return self.scene_passes + self.layer_passes + self.display_passes

    def add_pass(self, p: Pass) -> None:
        """Add a scene pass (an actor, say): it draws HDR light and depth into the scene target
        after the meshes, the sky and the passes added before it, so fog, reflections and splat
        occlusion treat it like a mesh."""
        p.update_lighting(self.light)
        self.scene_passes.append(p)
        from .splats import SplatLayerPass

        for layer in self.layer_passes:
            if isinstance(layer, SplatLayerPass):
                layer.occluded = True  # the splats now hide behind what it draws

    @property
    def lighting(self) -> Lighting:
        return self.light.lighting

    def update_lighting(self, lighting: Lighting, flash_klux: float = 0.0) -> None:
        """Change the light during a shot (weather keyframes, the sun moving, lightning): cheap
        uniform and sky updates; the shadow map is redrawn only when the sun has moved."""
        self.light.update(lighting, flash_klux)
        for p in self.passes:
            p.update_lighting(self.light)

    # ---- exposure -------------------------------------------------------------------------
    @property
    def exposure(self) -> float | None:
        """The auto exposure reached so far (before the EV offset); None: meter the next frame
        afresh. Setting None restarts the adaptation."""
        return self.camera_exposure.state.exposure

    @exposure.setter
    def exposure(self, value: float | None) -> None:
        self.camera_exposure.state = ExposureState(None if value is None else float(value),
                                                   self.camera_exposure.state.time_s)

    @property
    def exposure_state(self) -> ExposureState:
        """The whole auto-exposure state (read after a frame, set before the next one to carry
        it over to another renderer)."""
        return self.camera_exposure.state

    @exposure_state.setter
    def exposure_state(self, state: ExposureState) -> None:
        self.camera_exposure.state = state

    def metered_luminance(self) -> tuple[float, float]:
        """Log-average and 95th-percentile luminance (kcd/m²) of the HDR frame just drawn."""
        return self.camera_exposure.meter.measure(self.targets.hdr_tex)

    def meter_reading(self, frame) -> tuple[float, float]:
        """metered_luminance of `frame` drawn at its own (small) size by the scene passes alone,
        into targets of their own without multisampling: what the exposure meter reads (before
        the layers and display passes, which leave the HDR image as it is). The renderer of a
        shot's frames meters the shot too, without a second GL set-up; its own targets and
        state are untouched."""
        size = (int(frame.size_px[0]), int(frame.size_px[1]))
        if self._meter_targets is None or self._meter_targets.size_px != size:
            self._meter_targets = Targets(self.ctx, size, 0, splats=False)
        self._draw_scene(FrameContext.build(frame, self._meter_targets, self.light))
        reading = self.camera_exposure.meter.measure(self._meter_targets.hdr_tex)
        check_gl(self.ctx, "meter reading")
        return reading

    def _draw_scene(self, fc: FrameContext) -> None:
        """Clear fc's targets, draw the scene passes into them and resolve the HDR image."""
        fc.targets.begin()
        for p in self.scene_passes:
            p.draw(fc)
        fc.targets.resolve()

    # ---- frames ---------------------------------------------------------------------------
    def render(self, frame, want_depth: bool = False, linear: bool = False,
               exposure: float | None = None, previous=None) -> dict[str, np.ndarray]:
        """Render one CameraFrame. Returns {'rgb': (H, W, 3) uint8 sRGB, top row first} and,
        with want_depth, {'depth': (H, W) float32 metres along the ray, inf for sky}; with
        linear, {'linear': (H, W, 3) float32 exposed radiance after fog, before the tone curve}.
        `exposure` (before exposure_ev) replaces the camera's own metering and adaptation: a
        precomputed per-frame track keeps frames independent of what was rendered before.
        `previous`: the shot's CameraFrame before this one, for motion blur (None: no blur)."""
        t_start = time.perf_counter()
        if tuple(frame.size_px) != self.size:
            raise RenderError(f"frame size {frame.size_px} differs from the renderer's {self.size}")
        if self.upscale is not None:
            frame = resized_frame(frame, self.inner_size)
            previous = None if previous is None else resized_frame(previous, self.inner_size)
        fc = FrameContext.build(frame, self.targets, self.light, linear, previous)
        self._draw_scene(fc)
        for p in self.layer_passes:
            p.draw(fc)
        if exposure is None:
            fc = fc.exposed(self.camera_exposure.for_frame(fc))
        else:
            fc = fc.exposed(float(exposure) * 2.0 ** self.camera_exposure.ev_offset)
        for p in self.display_passes:
            p.draw(fc)
        if self.upscale is not None:
            self.upscale.draw(self.post.result_texture(fc), self.post.film.grain, grain_offset(fc.index),
                              float(fc.index % DITHER_PERIOD))
        self.ctx.finish()
        t_drawn = time.perf_counter()
        out = self._read_back(fc, want_depth)
        check_gl(self.ctx, "frame render")
        self.stats["frames"] += 1
        self.stats["draw_s"] += t_drawn - t_start
        self.stats["readback_s"] += time.perf_counter() - t_drawn
        return out

    def _read_back(self, fc: FrameContext, want_depth: bool) -> dict[str, np.ndarray]:
        """The frame's images at the output size (depth and linear radiance drawn smaller are
        widened by nearest pixel: no blending across edges)."""
        w, h = self.size
        shown = self.post.result(fc) if self.upscale is None else self.upscale.fbo
        rgb = np.frombuffer(shown.read(components=3), np.uint8).reshape(h, w, 3)[::-1]
        out = {"rgb": np.ascontiguousarray(rgb)}
        inner = self._read_inner(fc, want_depth)
        if self.upscale is not None:
            inner = {k: nearest_resize(v, self.size) for k, v in inner.items()}
        out.update(inner)
        return out

    def _read_inner(self, fc: FrameContext, want_depth: bool) -> dict[str, np.ndarray]:
        """Linear radiance and depth at the drawn size, as asked for."""
        w, h = self.inner_size
        out = {}
        if fc.linear:
            lin = np.frombuffer(self.post.linear_fbo.read(components=3, dtype="f4"), np.float32).reshape(h, w, 3)[::-1]
            out["linear"] = np.ascontiguousarray(lin)
        if want_depth:
            K = fc.frame.K
            z = np.frombuffer(self.targets.depth_tex.read(), np.float32).reshape(h, w)[::-1]
            out["depth"] = depth_to_distance(z, K, self.inner_size)
            if self.targets.splat_fbo is not None:
                from .splat_gl import read_splat_target

                sp = read_splat_target(self.targets.splat_color, self.targets.splat_z)
                solid = sp["alpha"] > 0.5
                out["depth"][solid] = (sp["depth"] * ray_lengths(K, self.inner_size))[solid]
        return out

    def close(self) -> None:
        self.ctx.release()


__all__ = ["Renderer"]
