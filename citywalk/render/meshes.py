"""The mesh pass: every triangle of the scene lit by the sun (with its shadow map), the sky
(ambient from above, bounce from the ground), the moon, the lamp volume and lightning, with
weather on the surfaces (wet, puddles, snow). A depth pre-pass first, then shading with depth
test `<=`, so every pixel is shaded once whatever the draw order (llvmpipe pays per pixel)."""

from __future__ import annotations

import numpy as np

from ..errors import RenderError
from ..scene import PLAIN, THIN
from .bake import SAMPLE_OFFSET_CELLS
from .frame import FrameContext, TextureUnit
from .geometry import SceneGeometry
from .gl import is_software_renderer, mat_bytes, set_uniform, shader_source, vec, write_uniform
from .shadow import SUN_SOFTNESS

GROUND_ALBEDO = 0.2  # what the sky's bounce from the ground assumes
BOUNCE_ALBEDO = 0.3  # mean albedo of the walls and ground that hide the sky (one bounce)


THIN_MIN_RADIUS_PX = 0.7  # a 3-sided tube of this circumradius is at least ~1 px wide from any side


def thin_radius_per_m(fc: FrameContext) -> float:
    """The least radius a THIN tube keeps per metre from the camera: THIN_MIN_RADIUS_PX of this
    frame's pixels (its focal length is in the pixels being drawn, render scale included)."""
    return THIN_MIN_RADIUS_PX / float(fc.frame.K[0, 0])


# mesh.frag's light and weather branches (`#define NAME 1`), compiled in only when the light of
# the moment has them: llvmpipe runs a branch at full cost even when a uniform switches it off
# (a sun that has set cost the dusk demo ~10 ms a frame at render scale 0.67).
LIGHT_FEATURES = ("HAS_SUN", "HAS_MOON", "HAS_LAMPS", "HAS_WET", "HAS_PUDDLES", "HAS_SNOW", "HAS_AMBIENT_CUBE")


def light_features(light) -> tuple[str, ...]:
    """The LIGHT_FEATURES that `light` (a SceneLight) needs: each one whose branch would add
    nothing is left out (the sun below the horizon, lamps off or absent, dry ground, no snow)."""
    L, w = light.lighting, light.lighting.weather
    on = {"HAS_SUN": float(np.asarray(L.sun_illuminance)[1]) > 0.0,
          "HAS_MOON": float(L.moon_illuminance) > 0.0,
          "HAS_LAMPS": light.lamps.volume is not None and float(L.lights_on) > 0.0,
          "HAS_WET": float(w.wetness) > 0.0,
          "HAS_PUDDLES": float(w.wetness) > 0.0 and float(w.puddle_coverage) > 0.0,
          "HAS_SNOW": float(w.snow_cover) > 0.0,
          "HAS_AMBIENT_CUBE": bool(light.baked)}
    return tuple(name for name in LIGHT_FEATURES if on[name])


def _redefine(src: str, name: str, default: str, value) -> str:
    """`src` with mesh.frag's `#define name default` set to `value`; a define that is not there
    (an edited shader) raises instead of leaving the default silently in place."""
    line = f"#define {name} {default}"
    if line not in src:
        raise RenderError(f"mesh.frag has no '{line}' to set")
    return src.replace(line, f"#define {name} {value}", 1)


def mesh_fragment_source(ctx, soft_shadows: bool | None = None, kind: int | frozenset[int] | None = None,
                         features: tuple[str, ...] = LIGHT_FEATURES) -> tuple[bool, str]:
    """(soft shadows on?, mesh.frag source). PCSS costs llvmpipe about 2x the frame even where a
    uniform switches it off (it runs the tap loops masked), so on a software rasteriser it is
    compiled out unless asked for. `kind`: a program for that material kind alone (the others'
    branches compiled out, and the foliage alpha test with them), or for a set of kinds read from
    each vertex (the branches of the kinds outside it compiled out); None: every kind.
    `features`: the LIGHT_FEATURES compiled in (all by default)."""
    soft = not is_software_renderer(ctx) if soft_shadows is None else bool(soft_shadows)
    src = _redefine(shader_source("mesh.frag"), "PCSS", "1", int(soft))
    for name in LIGHT_FEATURES:
        if name not in features:
            src = _redefine(src, name, "1", 0)
    if isinstance(kind, frozenset):
        shaded = {PLAIN if k == THIN else int(k) for k in kind}
        src = _redefine(src, "KIND_SET", "63", sum(1 << k for k in shaded))
    elif kind is not None:
        src = src.replace("#version 330\n", f"#version 330\n#define KIND {int(kind)}\n", 1)
    return soft, src


class MeshPass:
    """Draws the scene's meshes into the scene target (HDR linear radiance; alpha = how
    mirror-like the surface is, for the post pass's wet-ground reflections), each material kind
    with its own program. soft_shadows: PCSS sun shadows (None: on a GPU, off on llvmpipe, where
    they would double the frame time)."""

    def __init__(self, ctx, geometry: SceneGeometry, lit_window_share: float = 0.5,
                 soft_shadows: bool | None = None):
        self.ctx, self.geometry = ctx, geometry
        self.lit_window_share = float(lit_window_share)
        self.soft_shadows = not is_software_renderer(ctx) if soft_shadows is None else bool(soft_shadows)
        self.features: tuple[str, ...] | None = None  # those of the programs in use: update_lighting sets them
        self.progs: dict[tuple, object] = {}  # (kind, features) -> program (`_program`)
        self._vaos: dict[tuple, object] = {}  # (kind, features) -> the geometry's vertex array for it
        self.kinds = []  # (program, vertex array, first index, index count) per material kind

    def _program(self, kind: int | frozenset[int] | None, features: tuple[str, ...], vertex_shader: str):
        """mesh.frag for material `kind` (a set or None: read from each vertex) with `features` compiled
        in, behind `vertex_shader`; made on first use, then kept."""
        key = (kind, features)
        if key not in self.progs:
            _, frag = mesh_fragment_source(self.ctx, self.soft_shadows, kind, features)
            self.progs[key] = self.ctx.program(vertex_shader=shader_source(vertex_shader), fragment_shader=frag)
        return self.progs[key]

    def _use_features(self, features: tuple[str, ...]) -> None:
        """Draw with the programs compiled for `features` (made on first use, then kept: a shot
        whose light goes back and forth compiles each set once)."""
        if features == self.features:
            return
        kinds = []
        for kind, first, count in self.geometry.kind_ranges:
            shade = PLAIN if kind == THIN else int(kind)  # THIN tubes share the PLAIN program (mesh.vert widens them)
            prog = self._program(shade, features, "mesh.vert")
            if (shade, features) not in self._vaos:
                self._vaos[(shade, features)] = self.geometry.vertex_array(prog)
            kinds.append((prog, self._vaos[(shade, features)], first, count))
        self.features, self.kinds = features, kinds

    def programs(self) -> list:
        """The programs this pass draws with now (their uniforms are set alike)."""
        return list({id(k[0]): k[0] for k in self.kinds}.values())

    def update_lighting(self, light) -> None:
        """Sun, sky, moon, lamps and weather on the surfaces for the light of the moment, with the
        programs that compile in only the branches this light needs."""
        self._use_features(light_features(light))
        for p in self.programs():
            self._light_uniforms(p, light)

    def _light_uniforms(self, p, light) -> None:
        L, w = light.lighting, light.lighting.weather
        e_ground = GROUND_ALBEDO * (L.sun_illuminance * max(L.sun_dir[2], 0.0) + L.ambient_up)
        set_uniform(p, "u_sun_dir", vec(L.sun_dir))
        set_uniform(p, "u_sun_E", vec(L.sun_illuminance))
        set_uniform(p, "u_amb_up", vec(L.ambient_up))
        set_uniform(p, "u_amb_ground", vec(e_ground))
        set_uniform(p, "u_lights_on", float(L.lights_on))
        set_uniform(p, "u_lit_share", self.lit_window_share)
        set_uniform(p, "u_moon_dir", vec(L.moon_dir))
        set_uniform(p, "u_moon_E", float(L.moon_illuminance))
        set_uniform(p, "u_wetness", float(w.wetness))
        set_uniform(p, "u_puddles", float(w.puddle_coverage if w.wetness > 0 else 0.0))
        set_uniform(p, "u_snow", float(w.snow_cover))
        set_uniform(p, "u_flash", light.flash_klux)
        self._ambient_uniforms(p, light)
        vol = light.lamps.volume
        set_uniform(p, "u_use_lamps", 0.0 if vol is None else 1.0)
        if vol is not None:
            set_uniform(p, "u_lamp_origin", vec(vol.origin_m))
            set_uniform(p, "u_lamp_size", vec(vol.size_m))

    def _ambient_uniforms(self, p, light) -> None:
        """Sky ambient cube, bounce and the baked AO volume (u_use_ao: 1 baked, 0 cube without
        AO, -1 the pre-bake hemisphere light)."""
        L = light.lighting
        if "u_env" in p:
            p["u_env"].write(np.asarray(light.ambient_cube, np.float32).tobytes())
        # sun on the walls that hide the sky: cos(altitude) / π averaged over their azimuths, half sunlit
        sun_wall = L.sun_illuminance * np.sqrt(max(1.0 - L.sun_dir[2] ** 2, 0.0)) * (0.5 / np.pi) * (L.sun_dir[2] > 0)
        set_uniform(p, "u_bounce_E", vec(BOUNCE_ALBEDO * (np.mean(light.ambient_cube[:4], 0) + sun_wall)))
        vol = light.ao.volume
        set_uniform(p, "u_use_ao", (1.0 if vol is not None else 0.0) if light.baked else -1.0)
        if vol is not None:
            set_uniform(p, "u_ao_origin", vec(vol.origin_m))
            set_uniform(p, "u_ao_size", vec(vol.size_m))
            set_uniform(p, "u_ao_offset", SAMPLE_OFFSET_CELLS * vol.cell_m)

    def draw(self, fc: FrameContext) -> None:
        import moderngl

        if self.features is None:
            raise RenderError("MeshPass.draw before update_lighting: no light to compile the programs for")
        ctx = self.ctx
        fc.targets.scene_fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        ctx.depth_func = "<"
        self.geometry.draw_depth(fc.view_proj, fc.cam_pos, thin_radius_per_m(fc))
        ctx.depth_func = "<="
        self.bind_frame(fc, self.geometry.textures, self.geometry.pbr,
                        float(self.geometry.layers.get("asphalt_wear", -1)))
        visible = self.geometry.visible(fc.view_proj)
        for _, vao, first, count in self.kinds:
            for f, c in self.geometry.ranges_in(visible, first, count):
                vao.render(vertices=c, first=f)

    def bind_frame(self, fc: FrameContext, textures, pbr, wear_layer: float = -1.0) -> None:
        """The per-frame uniforms and textures of mesh.frag; the agents pass shades with the same
        program source, so it binds through here too (every sampler on its own unit of its type)."""
        light = fc.light
        light.shadow.depth_sampler.use(int(TextureUnit.SHADOW_DEPTH))
        units = (("u_tex", TextureUnit.SURFACES, textures), ("u_pbr", TextureUnit.SURFACE_PBR, pbr),
                 ("u_sky", TextureUnit.SKY, light.sky_tex), ("u_shadow", TextureUnit.SHADOW, light.shadow.texture),
                 ("u_lamp_total", TextureUnit.LAMP_TOTAL, light.lamps.total),
                 ("u_lamp_dir", TextureUnit.LAMP_DIR, light.lamps.direction),
                 ("u_ao_a", TextureUnit.AO_A, light.ao.textures[0]), ("u_ao_b", TextureUnit.AO_B, light.ao.textures[1]))
        for _, unit, tex in units:
            tex.use(unit)
        view_proj, shadow_mat = mat_bytes(fc.view_proj), mat_bytes(light.shadow.light_mat)
        for p in self.programs():
            write_uniform(p, "u_view_proj", view_proj)
            set_uniform(p, "u_cam_pos", vec(fc.cam_pos))
            set_uniform(p, "u_thin_radius_per_m", thin_radius_per_m(fc))
            write_uniform(p, "u_shadow_mat", shadow_mat)
            set_uniform(p, "u_use_shadow", 1.0 if light.shadow.active else 0.0)
            set_uniform(p, "u_wear_layer", wear_layer)
            set_uniform(p, "u_shadow_depth_m", light.shadow.depth_m)
            set_uniform(p, "u_shadow_extent_m", light.shadow.extent_m)
            set_uniform(p, "u_sun_softness", SUN_SOFTNESS if light.baked else 0.0)
            set_uniform(p, "u_shadow_depth", int(TextureUnit.SHADOW_DEPTH))
            for name, unit, _ in units:
                set_uniform(p, name, int(unit))

    def release(self) -> None:
        for obj in (*self._vaos.values(), *self.progs.values()):
            obj.release()
        self._vaos.clear()
        self.progs.clear()
