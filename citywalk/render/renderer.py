"""The moderngl renderer: sky, meshes with a sun shadow map and lamps, fog, tone mapping.

One interleaved vertex buffer and one draw call hold every mesh of the scene; textures are one
2D array. Per frame: a main pass into a multisampled HDR target, a resolve, a post pass to
sRGB 8-bit, and a read-back (colour, and depth when asked).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import RenderError
from ..look.lighting import Lighting
from ..scene import Scene
from .gl import check_gl, create_context, shader_source

TEX_SIZE_PX = 256
SHADOW_SIZE_PX = 4096
NEAR_M, FAR_M = 0.1, 1500.0
METER_SIZE_PX = (64, 36)
EXPOSURE_KEY = 0.18        # mid-grey the metered scene maps to (before partial adaptation)
ADAPTATION = 0.75          # 1 = full adaptation; less keeps dusk and night darker than noon
REFERENCE_LUMINANCE = 2.0  # kcd/m²: a typical daylit street, the partial-adaptation anchor
ADAPTATION_TIME_S = 0.7    # camera auto-exposure time constant
BLOOM_THRESHOLD = 1.5      # exposed value above which light glows (signs, lamps, the sun)
HIGHLIGHT_EXPOSED = 1.4    # the metered 95th-percentile luminance is kept at or below this
BLOOM_STRENGTH = 0.5


def gl_projection(K: np.ndarray, size_px: tuple[int, int], near: float = NEAR_M, far: float = FAR_M) -> np.ndarray:
    """OpenGL clip matrix (4, 4) for an OpenCV pinhole K applied to GL camera coordinates."""
    w, h = size_px
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return np.array([
        [2 * fx / w, 0, 1 - 2 * cx / w, 0],
        [0, 2 * fy / h, 2 * cy / h - 1, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, -1, 0],
    ])


def gl_view(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """World → GL camera (4, 4): the OpenCV pose with y and z flipped."""
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = t
    return np.diag([1.0, -1.0, -1.0, 1.0]) @ m


def _set(prog, name: str, value) -> None:
    """Set a uniform if the linked program kept it (unused uniforms are optimised away)."""
    if name in prog:
        prog[name].value = value


def _write(prog, name: str, data: bytes) -> None:
    if name in prog:
        prog[name].write(data)


def _mat(m: np.ndarray) -> bytes:
    return np.asarray(m, np.float32).T.copy().tobytes()  # GL wants column-major


def interleave(scene: Scene, layers: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vertex array (N, 16) float32: pos, normal, uv, colour, (layer, kind, emissive, variation),
    roughness; and index array (M,) uint32 — all meshes in one buffer."""
    verts, idx, base = [], [], 0
    for mesh in scene.meshes:
        n = len(mesh.positions)
        mat = mesh.material
        col = np.asarray(mat.albedo, np.float32)[None, :] * (mesh.colors if mesh.colors is not None else 1.0)
        col = np.broadcast_to(col, (n, 3))
        var = mesh.variation if mesh.variation is not None else np.zeros(n, np.float32)
        layer = layers.get(mat.texture, 0) if mat.texture else 0
        m4 = np.empty((n, 4), np.float32)
        m4[:, 0], m4[:, 1], m4[:, 2], m4[:, 3] = layer, mat.kind, mat.emissive, var
        v = np.concatenate([mesh.positions, mesh.normals, mesh.uvs, col, m4, np.full((n, 1), mat.roughness, np.float32)], 1)
        verts.append(v.astype(np.float32))
        idx.append(mesh.indices.reshape(-1).astype(np.uint32) + base)
        base += n
    if not verts:  # a world of splats only: one degenerate triangle keeps the passes uniform
        return np.zeros((3, 16), np.float32), np.zeros(3, np.uint32)
    return np.concatenate(verts), np.concatenate(idx)


def _texture_layers(scene: Scene) -> tuple[np.ndarray, dict[str, int]]:
    """Stack scene textures (resized to 256²) after a white layer 0; (L, S, S, 4) uint8."""
    from PIL import Image

    names = sorted(scene.textures)
    stack = [np.full((TEX_SIZE_PX, TEX_SIZE_PX, 4), 255, np.uint8)]
    for name in names:
        a = np.asarray(scene.textures[name])
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise RenderError(f"texture '{name}' must be (H, W, 3|4) uint8, got {a.shape}")
        if a.shape[2] == 3:
            a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], 2)
        if a.shape[:2] != (TEX_SIZE_PX, TEX_SIZE_PX):
            a = np.asarray(Image.fromarray(a.astype(np.uint8)).resize((TEX_SIZE_PX, TEX_SIZE_PX), Image.BILINEAR))
        stack.append(a.astype(np.uint8))
    return np.stack(stack), {n: i + 1 for i, n in enumerate(names)}


class Renderer:
    """Renders a Scene under a Lighting from CameraFrames. Create once per shot, then call
    `render(frame)`; `close()` releases the GL context."""

    def __init__(self, scene: Scene, lighting: Lighting, size_px: tuple[int, int], samples: int = 0,
                 focus_points: np.ndarray | None = None, auto_exposure: bool = True, exposure_ev: float = 0.0):
        import moderngl

        self.scene, self.size = scene, (int(size_px[0]), int(size_px[1]))
        self.auto_exposure, self.exposure_ev = auto_exposure, exposure_ev
        self.ctx = ctx = create_context()
        if samples == 0:  # auto: a software rasteriser shades every sample, a GPU does not care
            samples = 1 if "llvmpipe" in ctx.info.get("GL_RENDERER", "").lower() else 4
        self.samples = min(samples, ctx.max_samples) if samples > 1 else 0
        self.mesh_prog = ctx.program(vertex_shader=shader_source("mesh.vert"), fragment_shader=shader_source("mesh.frag"))
        self.shadow_prog = ctx.program(vertex_shader=shader_source("shadow.vert"), fragment_shader=shader_source("shadow.frag"))
        self.sky_prog = ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=shader_source("sky.frag"))
        self.post_prog = ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=shader_source("post.frag"))
        self.empty_vao = ctx.vertex_array(self.sky_prog, [])
        self.post_vao = ctx.vertex_array(self.post_prog, [])
        self.meter_prog = ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=shader_source("meter.frag"))
        self.meter_vao = ctx.vertex_array(self.meter_prog, [])
        self.meter_fbo = ctx.framebuffer(ctx.renderbuffer(METER_SIZE_PX, 4, dtype="f4"))
        self.exposure: float | None = None
        self.stats = {"frames": 0, "draw_s": 0.0, "readback_s": 0.0}
        self._last_time_s: float | None = None

        tex, self.layers = _texture_layers(scene)
        self.tex = ctx.texture_array((TEX_SIZE_PX, TEX_SIZE_PX, len(tex)), 4, tex.tobytes())
        self.tex.build_mipmaps()
        self.tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        verts, idx = interleave(scene, self.layers)
        self.n_vertices = len(verts)
        self.vbo = ctx.buffer(verts.tobytes())
        self.ibo = ctx.buffer(idx.tobytes())
        fmt = "3f 3f 2f 3f 4f 1f"
        attrs = ["in_pos", "in_nrm", "in_uv", "in_col", "in_mat", "in_rough"]
        self.mesh_vao = ctx.vertex_array(self.mesh_prog, [(self.vbo, fmt, *attrs)], self.ibo)
        self.shadow_vao = ctx.vertex_array(self.shadow_prog, [(self.vbo, "3f 52x", "in_pos")], self.ibo)

        w, h = self.size
        if self.samples:
            self.msaa_fbo = ctx.framebuffer(ctx.renderbuffer((w, h), 4, samples=self.samples, dtype="f2"),
                                            ctx.depth_renderbuffer((w, h), samples=self.samples))
        self.hdr_tex = ctx.texture((w, h), 4, dtype="f2")
        self.depth_tex = ctx.depth_texture((w, h))
        self.depth_tex.compare_func = ""  # sampled as plain depth values (fog, splat occlusion)
        self.hdr_fbo = ctx.framebuffer(self.hdr_tex, self.depth_tex)
        self.out_tex = ctx.texture((w, h), 4)
        self.out_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.out_fbo = ctx.framebuffer(self.out_tex)
        self.final_fbo = ctx.framebuffer(ctx.renderbuffer((w, h), 4))
        self.fxaa = self.samples == 0
        self.fxaa_prog = self._fullscreen_program("fxaa.frag")
        bw, bh = max(1, w // 4), max(1, h // 4)
        self.bloom_tex = [ctx.texture((bw, bh), 4, dtype="f2") for _ in range(2)]
        for t in self.bloom_tex:
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = False
        self.bloom_fbo = [ctx.framebuffer(t) for t in self.bloom_tex]
        self.bloom_down_prog = self._fullscreen_program("bloom_down.frag")
        self.blur_prog = self._fullscreen_program("blur.frag")
        self.overlays: list = []  # passes drawn after the meshes into the HDR target (actors)
        from .precipitation import PrecipitationPass

        self.precipitation = PrecipitationPass(ctx, shader_source)
        self.precip_tex = ctx.texture((w, h), 4, dtype="f2")
        self.precip_fbo = ctx.framebuffer(self.precip_tex, self.depth_tex)
        self.precip_fbo.depth_mask = False  # tests against the scene depth, never writes or clears it
        self.precip_fbo.clear(0.0, 0.0, 0.0, 0.0)
        self._precip_drawn = False
        self.shutter_s = 1.0 / 48.0  # a 180° shutter at 24 fps: sets rain streak length
        self._shadow_cpu = None
        self.splats = None
        if scene.gaussians:
            self._setup_splats(scene.gaussians)
        self.set_lighting(lighting, focus_points)
        check_gl(ctx, "renderer set-up")

    def _fullscreen_program(self, frag: str):
        prog = self.ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=shader_source(frag))
        return prog, self.ctx.vertex_array(prog, [])

    def _fullscreen(self, prog_vao, fbo, textures: dict, uniforms: dict) -> None:
        """Draw a full-screen pass into `fbo` with textures bound to units 8.. and uniforms set."""
        import moderngl

        prog, vao = prog_vao
        fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        for unit, (name, tex) in enumerate(textures.items(), start=8):
            tex.use(unit)
            _set(prog, name, unit)
        for name, value in uniforms.items():
            _set(prog, name, value)
        vao.render(moderngl.TRIANGLES, vertices=3)

    def _bloom(self, exposure: float) -> None:
        """Quarter-resolution glow of what is brighter than BLOOM_THRESHOLD after exposure."""
        w, h = self.size
        bw, bh = self.bloom_tex[0].size
        self._fullscreen(self.bloom_down_prog, self.bloom_fbo[0], {"u_hdr": self.hdr_tex},
                         {"u_texel": (1.0 / w, 1.0 / h), "u_exposure": exposure, "u_threshold": BLOOM_THRESHOLD})
        for _ in range(2):
            self._fullscreen(self.blur_prog, self.bloom_fbo[1], {"u_src": self.bloom_tex[0]}, {"u_dir": (1.0 / bw, 0.0)})
            self._fullscreen(self.blur_prog, self.bloom_fbo[0], {"u_src": self.bloom_tex[1]}, {"u_dir": (0.0, 1.0 / bh)})

    def _setup_splats(self, clouds) -> None:
        """A SplatPass for the scene's Gaussian clouds (merged, so one depth sort covers all), its
        target, and the mesh camera-z texture that hides splats behind geometry."""
        from ..scene.gaussians import GaussianCloud
        from .splat_gl import SplatPass, make_splat_target

        cloud = clouds[0] if len(clouds) == 1 else GaussianCloud.concatenate(clouds)
        ctx, size = self.ctx, self.size
        self.splats = SplatPass(ctx, cloud)
        self.splat_fbo, self.splat_color, self.splat_z = make_splat_target(ctx, size)
        self.zmesh_tex = ctx.texture(size, 1, dtype="f4")
        self.zmesh_fbo = ctx.framebuffer(self.zmesh_tex)
        self.zlin_prog = ctx.program(vertex_shader=shader_source("fullscreen.vert"), fragment_shader=shader_source("linear_depth.frag"))
        self.zlin_vao = ctx.vertex_array(self.zlin_prog, [])

    def _draw_splats(self, frame) -> None:
        import moderngl

        self.zmesh_fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        self.depth_tex.use(4)
        _set(self.zlin_prog, "u_depth", 4)
        _set(self.zlin_prog, "u_near", NEAR_M)
        _set(self.zlin_prog, "u_far", FAR_M)
        self.zlin_vao.render(moderngl.TRIANGLES, vertices=3)
        self.splats.draw(frame.R, frame.t, frame.K, self.size, self.splat_fbo, scene_depth=self.zmesh_tex,
                         near_m=NEAR_M, far_m=FAR_M)

    # ---- lighting -------------------------------------------------------------------------
    def set_lighting(self, lighting: Lighting, focus_points: np.ndarray | None = None) -> None:
        """Upload sky, sun, weather and fog parameters and build the shadow map and lamp volume."""
        self.focus_points = focus_points
        self._sun_for_shadow = None
        self.update_lighting(lighting)
        self._build_lamp_volume(focus_points)

    def update_lighting(self, lighting: Lighting, flash_klux: float = 0.0) -> None:
        """Change the light during a shot (weather keyframes, the sun moving, lightning): cheap
        uniform and sky updates; the shadow map is rebuilt only when the sun has moved."""
        import moderngl

        ctx, L = self.ctx, lighting
        self.lighting = L
        sky = np.ascontiguousarray(L.sky_texture, np.float32)
        if getattr(self, "sky_tex", None) is not None and self.sky_tex.size == (sky.shape[1], sky.shape[0]):
            self.sky_tex.write(sky.tobytes())
        else:
            self.sky_tex = ctx.texture((sky.shape[1], sky.shape[0]), 3, sky.tobytes(), dtype="f4")
            self.sky_tex.repeat_x, self.sky_tex.repeat_y = True, False
            self.sky_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        ground_albedo = 0.2
        e_ground = ground_albedo * (L.sun_illuminance * max(L.sun_dir[2], 0.0) + L.ambient_up)
        w = L.weather
        p = self.mesh_prog
        _set(p, "u_sun_dir", tuple(map(float, L.sun_dir)))
        _set(p, "u_sun_E", tuple(map(float, L.sun_illuminance)))
        _set(p, "u_amb_up", tuple(map(float, L.ambient_up)))
        _set(p, "u_amb_ground", tuple(map(float, e_ground)))
        _set(p, "u_lights_on", float(L.lights_on))
        _set(p, "u_lit_share", float(self.scene.stats.get("lit_window_share", 0.5)))
        _set(p, "u_moon_dir", tuple(map(float, L.moon_dir)))
        _set(p, "u_moon_E", float(L.moon_illuminance))
        _set(p, "u_wetness", float(w.wetness))
        _set(p, "u_puddles", float(w.puddle_coverage if w.wetness > 0 else 0.0))
        _set(p, "u_snow", float(w.snow_cover))
        _set(p, "u_flash", float(flash_klux))
        s = self.sky_prog
        _set(s, "u_sun_dir", tuple(map(float, L.sun_dir)))
        _set(s, "u_sun_E", tuple(map(float, L.sun_illuminance)))
        _set(s, "u_moon_dir", tuple(map(float, L.moon_dir)))
        _set(s, "u_star_scale", float(1e-5 * max(0.0, -L.sun_altitude_deg - 8.0) / 10.0 * (1 - w.cloud_cover)))
        _set(s, "u_flash", float(flash_klux))
        _set(s, "u_cloud_cover", float(w.cloud_cover))
        cloud_light = (L.ambient_up * 0.9 + L.sun_illuminance * max(L.sun_dir[2], 0.05) * 0.6) / np.pi
        _set(s, "u_cloud_light", tuple(map(float, cloud_light)))
        _set(s, "u_wind", (float(w.wind_mps[0]), float(w.wind_mps[1])))
        self.extinction = float(L.weather.extinction_per_m())
        self.haze = self._haze(L)
        self.ssr = w.wetness > 0.0 and w.snow_cover < 0.5
        # the map follows the rounded sun, so it is the same whichever lighting first moved there
        sun = (tuple(np.round(L.sun_dir, 3)), bool(L.sun_illuminance[1] > 0))
        if sun != self._sun_for_shadow:
            self._sun_for_shadow = sun
            self._build_shadow_map(self.focus_points)

    def _build_lamp_volume(self, focus_points: np.ndarray | None) -> None:
        """Sum the scene's lamps into a 3D texture around the walk (once per shot)."""
        import moderngl

        from .lamps import lamp_volume

        self.lamp_volume = None
        # samplers of different types may not share a unit: keep 3D textures on units 10, 11
        empty = np.zeros((1, 1, 1, 4), np.float16).tobytes()
        self.lamp_textures = [self.ctx.texture3d((1, 1, 1), 4, empty, dtype="f2") for _ in range(2)]
        _set(self.mesh_prog, "u_use_lamps", 0.0)
        if not self.scene.lights or self.lighting.lights_on <= 0:
            return
        (x0, y0, _), (x1, y1, _) = self.scene.bounds_m
        if focus_points is not None and len(focus_points):
            lo = np.maximum(focus_points[:, :2].min(0) - 90.0, (x0, y0))
            hi = np.minimum(focus_points[:, :2].max(0) + 90.0, (x1, y1))
        else:
            lo, hi = np.array([x0, y0]), np.array([x1, y1])
        vol = lamp_volume(self.scene.lights, lo, hi)
        self.lamp_volume = vol
        if vol is None:
            return
        texs = []
        for data in (vol.total, vol.direction):
            t = self.ctx.texture3d(data.shape[2::-1], 4, np.ascontiguousarray(data).tobytes(), dtype="f2")
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.repeat_x = t.repeat_y = t.repeat_z = False
            texs.append(t)
        self.lamp_textures = texs
        p = self.mesh_prog
        _set(p, "u_use_lamps", 1.0)
        _set(p, "u_lamp_origin", tuple(map(float, vol.origin_m)))
        _set(p, "u_lamp_size", tuple(map(float, vol.size_m)))

    @staticmethod
    def _haze(L: Lighting) -> float:
        """Clear-air haze extinction (1/m): visibility ≈ 60 km / turbidity on a clear day."""
        return 3.912 / (60_000.0 / max(L.weather.haze_turbidity, 1.0))

    def _build_shadow_map(self, focus_points: np.ndarray | None) -> None:
        import moderngl

        ctx, L = self.ctx, self.lighting
        self._shadow_cpu = None  # sun_visibility reads the new map on demand
        sun_dir, sunlit = np.asarray(self._sun_for_shadow[0], float), self._sun_for_shadow[1]
        self.use_shadow = bool(sunlit and sun_dir[2] > 0.0)
        if not hasattr(self, "shadow_tex"):
            self.shadow_tex = ctx.depth_texture((SHADOW_SIZE_PX, SHADOW_SIZE_PX))
            self.shadow_tex.compare_func = "<="
            self.shadow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self.shadow_fbo = ctx.framebuffer(depth_attachment=self.shadow_tex)
        if not self.use_shadow:
            self.light_mat = np.eye(4)
            return
        (x0, y0, z0), (x1, y1, z1) = self.scene.bounds_m
        if focus_points is not None and len(focus_points):
            c = focus_points.mean(0)
            radius = float(np.linalg.norm(focus_points - c, axis=1).max()) + 90.0
        else:
            c = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
            radius = float(np.hypot(x1 - x0, y1 - y0)) / 2
        top = max(z1, 10.0)
        d = sun_dir / np.linalg.norm(sun_dir)
        up = np.array([0, 0, 1.0]) if abs(d[2]) < 0.99 else np.array([0, 1.0, 0])
        f = -d
        r = np.cross(f, up); r /= np.linalg.norm(r)
        u = np.cross(r, f)
        eye = c + d * (top + radius * 2)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = r, u, -f
        view[:3, 3] = -view[:3, :3] @ eye
        depth = (top + radius * 2) * 2 + radius
        proj = np.diag([1 / radius, 1 / radius, -2 / depth, 1.0])
        proj[2, 3] = -1.0
        self.light_mat = proj @ view
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        self.shadow_prog["u_light_mat"].write(_mat(self.light_mat))
        self.shadow_vao.render()
        check_gl(ctx, "shadow pass")

    # ---- frames ---------------------------------------------------------------------------
    def render(self, frame, want_depth: bool = False, linear: bool = False,
               exposure: float | None = None) -> dict[str, np.ndarray]:
        """Render one CameraFrame. Returns {'rgb': (H, W, 3) uint8 sRGB, top row first} and,
        with want_depth, {'depth': (H, W) float32 metres along the ray, inf for sky}; with
        linear, {'linear': (H, W, 3) float32 exposed radiance after fog, before the tone curve}.
        `exposure` (before exposure_ev) replaces the camera's own metering and adaptation: a
        precomputed per-frame track keeps frames independent of what was rendered before."""
        import moderngl

        ctx = self.ctx
        t_start = time.perf_counter()
        if tuple(frame.size_px) != self.size:
            raise RenderError(f"frame size {frame.size_px} differs from the renderer's {self.size}")
        proj = gl_projection(frame.K, self.size)
        view = gl_view(frame.R, frame.t)
        vp = proj @ view
        inv_vp = np.linalg.inv(vp)
        cam = frame.position
        target = self.msaa_fbo if self.samples else self.hdr_fbo
        target.use()
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        target.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
        # depth pre-pass: each pixel is then shaded once, whatever the draw order
        self.shadow_prog["u_light_mat"].write(_mat(vp))
        self.shadow_vao.render()
        ctx.depth_func = "<="
        p = self.mesh_prog
        _write(p, "u_view_proj", _mat(vp))
        _set(p, "u_cam_pos", tuple(map(float, cam)))
        _write(p, "u_shadow_mat", _mat(self.light_mat))
        _set(p, "u_use_shadow", 1.0 if self.use_shadow else 0.0)
        self.tex.use(0)
        self.sky_tex.use(1)
        self.shadow_tex.use(2)
        self.lamp_textures[0].use(10)
        self.lamp_textures[1].use(11)
        _set(p, "u_lamp_total", 10)
        _set(p, "u_lamp_dir", 11)
        _set(p, "u_tex", 0)
        _set(p, "u_sky", 1)
        _set(p, "u_shadow", 2)
        self.mesh_vao.render()
        # sky where nothing was drawn
        s = self.sky_prog
        _write(s, "u_inv_view_proj", _mat(inv_vp))
        _set(s, "u_sky", 1)
        _set(s, "u_clip_depth", 1.0)
        _set(s, "u_time", float(frame.time_s))
        self.empty_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.depth_func = "<"
        # overlays (actors) after the sky, so their soft edges blend over it too
        self.target = target
        self.view_proj = vp
        for overlay in self.overlays:
            overlay.draw(self, frame)
        if self.samples:
            ctx.copy_framebuffer(self.hdr_fbo, self.msaa_fbo)
        # rain and snow in their own layer, depth-tested against the scene, so that wet-ground
        # reflections do not mirror streaks and fog applies to them in the post pass
        if self._precip_drawn or self.precipitation.active(self.lighting.weather):
            self.precip_fbo.use()
            self.precip_fbo.clear(0.0, 0.0, 0.0, 0.0)
            self._precip_drawn = self.precipitation.draw(self, frame, vp, shutter_s=self.shutter_s)
        exposure = (self._expose(frame.time_s) if exposure is None else float(exposure)) * 2.0 ** self.exposure_ev
        if self.splats is not None:
            self._draw_splats(frame)
        self._bloom(exposure)
        # post
        self.out_fbo.use()
        ctx.disable(moderngl.DEPTH_TEST)
        self.hdr_tex.use(3)
        self.depth_tex.use(4)
        q = self.post_prog
        _set(q, "u_hdr", 3)
        _set(q, "u_near", NEAR_M)
        _set(q, "u_far", FAR_M)
        w, h = self.size
        _set(q, "u_tan_half", (w / 2 / frame.K[0, 0], h / 2 / frame.K[1, 1]))
        _set(q, "u_exposure", float(exposure))
        _set(q, "u_extinction", self.extinction)
        _set(q, "u_haze", self.haze)
        _set(q, "u_fog_falloff", float(self.lighting.weather.fog_height_falloff_per_m))
        _set(q, "u_fog_base", float(self.lighting.weather.fog_base_height_m))
        _write(q, "u_inv_view_proj", _mat(inv_vp))
        _set(q, "u_cam_pos", tuple(map(float, cam)))
        # fog in-scatters the sky and, after dark, the city's own lights (a warm glow)
        city_glow = np.array([1.0, 0.78, 0.55]) * 0.003 * self.lighting.lights_on
        fog_col = self.lighting.ambient_horizon * 0.9 + city_glow * min(1.0, self.extinction * 400.0)
        _set(q, "u_fog_color", tuple(map(float, fog_col)))
        _set(q, "u_frame", float(frame.index % 64))
        _set(q, "u_depth", 4)
        _set(q, "u_has_splats", 1.0 if self.splats is not None else 0.0)
        _set(q, "u_ssr", 1.0 if self.ssr else 0.0)
        self.precip_tex.use(12)
        _set(q, "u_precip", 12)
        if self.ssr:
            _write(q, "u_view_proj", _mat(vp))
            self.sky_tex.use(1)
            _set(q, "u_sky", 1)
        self.bloom_tex[0].use(7)
        _set(q, "u_bloom", 7)
        _set(q, "u_bloom_strength", BLOOM_STRENGTH)
        if self.splats is not None:
            self.splat_color.use(5)
            self.splat_z.use(6)
            _set(q, "u_splat", 5)
            _set(q, "u_splat_z", 6)
        self.post_vao.render(moderngl.TRIANGLES, vertices=3)
        if linear:
            if getattr(self, "linear_fbo", None) is None:
                self.linear_fbo = ctx.framebuffer(ctx.renderbuffer((w, h), 4, dtype="f4"))
            self.linear_fbo.use()
            _set(q, "u_linear", 1.0)
            self.post_vao.render(moderngl.TRIANGLES, vertices=3)
            _set(q, "u_linear", 0.0)
        result_fbo = self.out_fbo
        if self.fxaa:
            self._fullscreen(self.fxaa_prog, self.final_fbo, {"u_ldr": self.out_tex}, {"u_texel": (1.0 / w, 1.0 / h)})
            result_fbo = self.final_fbo
        ctx.finish()
        t_drawn = time.perf_counter()
        rgb = np.frombuffer(result_fbo.read(components=3), np.uint8).reshape(h, w, 3)[::-1]
        out = {"rgb": np.ascontiguousarray(rgb)}
        if linear:
            lin = np.frombuffer(self.linear_fbo.read(components=3, dtype="f4"), np.float32).reshape(h, w, 3)[::-1]
            out["linear"] = np.ascontiguousarray(lin)
        if want_depth:
            z = np.frombuffer(self.depth_tex.read(), np.float32).reshape(h, w)[::-1]
            out["depth"] = depth_to_distance(z, frame.K, self.size)
            if self.splats is not None:
                from .splat_gl import read_splat_target

                sp = read_splat_target(self.splat_color, self.splat_z)
                solid = sp["alpha"] > 0.5
                out["depth"][solid] = (sp["depth"] * _ray_lengths(frame.K, self.size))[solid]
        check_gl(ctx, "frame render")
        self.stats["frames"] += 1
        self.stats["draw_s"] += t_drawn - t_start
        self.stats["readback_s"] += time.perf_counter() - t_drawn
        return out

    def sun_visibility(self, points_m: np.ndarray) -> np.ndarray:
        """0..1 per world point (N, 3): how much of the sun reaches it (shadow map, read once)."""
        pts = np.atleast_2d(np.asarray(points_m, float))
        if not self.use_shadow:
            return np.zeros(len(pts)) if self.lighting.sun_illuminance[1] <= 0 else np.ones(len(pts))
        if self._shadow_cpu is None:
            self.shadow_tex.compare_func = ""
            raw = self.shadow_tex.read()
            self.shadow_tex.compare_func = "<="
            self._shadow_cpu = np.frombuffer(raw, np.float32).reshape(SHADOW_SIZE_PX, SHADOW_SIZE_PX)
        h = np.c_[pts, np.ones(len(pts))] @ self.light_mat.T
        c = h[:, :3] / h[:, 3:4] * 0.5 + 0.5
        ij = np.clip((c[:, :2] * SHADOW_SIZE_PX).astype(int), 0, SHADOW_SIZE_PX - 1)
        stored = self._shadow_cpu[ij[:, 1], ij[:, 0]]
        inside = np.all((c[:, :2] >= 0) & (c[:, :2] <= 1), axis=1)
        return np.where(inside, (c[:, 2] - 0.0015 <= stored).astype(float), 1.0)

    def lamp_illuminance(self, points_m: np.ndarray) -> np.ndarray:
        """Lamp illuminance (klux, linear RGB) at world points (N, 3), from the lamp volume."""
        pts = np.atleast_2d(np.asarray(points_m, float))
        vol = self.lamp_volume
        if vol is None:
            return np.zeros((len(pts), 3))
        shape = np.array(vol.total.shape[2::-1])
        cell = vol.size_m / shape
        ijk = np.clip(((pts - vol.origin_m) / cell).astype(int), 0, shape - 1)
        inside = np.all((pts >= vol.origin_m) & (pts <= vol.origin_m + vol.size_m), axis=1)
        e = vol.total[ijk[:, 2], ijk[:, 1], ijk[:, 0], :3].astype(float) * self.lighting.lights_on
        return np.where(inside[:, None], e, 0.0)

    def metered_luminance(self) -> tuple[float, float]:
        """Log-average and 95th-percentile luminance (kcd/m²) of the HDR frame just drawn."""
        import moderngl

        self.meter_fbo.use()
        self.ctx.disable(moderngl.DEPTH_TEST)
        self.hdr_tex.use(3)
        _set(self.meter_prog, "u_hdr", 3)
        self.meter_vao.render(moderngl.TRIANGLES, vertices=3)
        rgb = np.frombuffer(self.meter_fbo.read(components=3, dtype="f4"), np.float32).reshape(-1, 3)
        lum = np.maximum(rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32), 0.0)
        return float(np.exp(np.mean(np.log(lum + 1e-6)))), float(np.percentile(lum, 95))

    def _expose(self, time_s: float) -> float:
        """Camera auto-exposure: meter this frame, adapt partially (dusk stays darker than noon)
        and smoothly over time (no flicker). Deterministic for a given frame sequence."""
        if not self.auto_exposure:
            return float(self.lighting.exposure)
        mean, p95 = self.metered_luminance()
        lum = max(mean, 1e-7)
        target = EXPOSURE_KEY / (lum**ADAPTATION * REFERENCE_LUMINANCE ** (1 - ADAPTATION))
        target = min(target, HIGHLIGHT_EXPOSED / max(p95, 1e-7))  # keep sunlit streets from burning out
        if self.exposure is None or self._last_time_s is None or time_s <= self._last_time_s:
            self.exposure = target
        else:
            k = 1.0 - np.exp(-(time_s - self._last_time_s) / ADAPTATION_TIME_S)
            self.exposure = float(np.exp(np.log(self.exposure) + k * (np.log(target) - np.log(self.exposure))))
        self._last_time_s = time_s
        return self.exposure

    def close(self) -> None:
        self.ctx.release()


def _ray_lengths(K: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """Length of each pixel's ray per metre of camera z, (H, W)."""
    w, h = size_px
    u = (np.arange(w) + 0.5 - K[0, 2]) / K[0, 0]
    v = (np.arange(h) + 0.5 - K[1, 2]) / K[1, 1]
    return np.sqrt(1 + u[None, :] ** 2 + v[:, None] ** 2)


def depth_to_distance(z01: np.ndarray, K: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """GL window depth (H, W) in 0..1 (row 0 = top) → distance along each pixel's ray, metres."""
    zn = z01.astype(np.float64) * 2 - 1
    view_z = 2 * NEAR_M * FAR_M / (FAR_M + NEAR_M - zn * (FAR_M - NEAR_M))
    d = (view_z * _ray_lengths(K, size_px)).astype(np.float32)
    d[z01 >= 1.0] = np.inf
    return d
