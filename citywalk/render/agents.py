"""The agents pass: pedestrians and cars drawn as instances of a few shared meshes, shaded by the
scene's own mesh shader (sun and shadow map, sky ambient, lamps, wet surfaces), with their sun
shadows flattened onto the ground. A scene pass added with `Renderer.add_pass`.

It takes its per-frame instances from a callable `instances(frame_index, camera_frame) -> {mesh
name: (n, 17) float32}` (a mesh whose name ends in '_far' casts no flattened shadow) and its
meshes as plain arrays (agents.bodies.UnitMesh), so it knows nothing of how agents move."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import RenderError
from .frame import FrameContext, TextureUnit
from .gl import check_gl, float_layout, is_software_renderer, mat_bytes, set_uniform, shader_source, write_uniform
from .meshes import MeshPass

VERTEX_ATTRS = (("in_pos", 3), ("in_nrm", 3), ("in_col", 3), ("in_tint", 1), ("in_rough", 1), ("in_kind", 1),
                ("in_emit", 1))
INSTANCE_ATTRS = (("i_x", 3), ("i_y", 3), ("i_z", 3), ("i_o", 3), ("i_col", 3), ("i_taper", 1), ("i_ground", 1))
MIN_SUN_Z = 0.12       # lower suns cast no flattened shadow (they would be too long to read right)


class AgentPass(MeshPass):
    """Draws the instances of `meshes` ({name: UnitMesh}) that `instances(index, cam_pos)` gives,
    shaded by the mesh pass's own program source, light and frame bindings (it inherits them)."""

    def __init__(self, ctx, meshes: dict, instances: Callable[[int, np.ndarray], dict], lit_window_share=0.5):
        self.ctx, self.instances = ctx, instances
        self.lit_window_share = float(lit_window_share)
        self.soft_shadows = not is_software_renderer(ctx)
        self.features: tuple[str, ...] | None = None  # the light's (meshes.light_features): update_lighting sets them
        self.progs: dict = {}  # (material kind, or the set of them of a part of several, features) -> program
        self.shadow_prog = ctx.program(vertex_shader=shader_source("agents_shadow.vert"),
                                       fragment_shader=shader_source("agents_shadow.frag"))
        self.parts = {}  # name -> [vbo, ibo, instance buffer, shadow vertex array]
        self.part_kind: dict[str, int | frozenset[int]] = {}
        self.vaos: dict[tuple, object] = {}  # (part name, features) -> vertex array of its program
        for name, mesh in meshes.items():
            kinds = np.unique(np.asarray(mesh.kind))
            self.part_kind[name] = int(kinds[0]) if len(kinds) == 1 else frozenset(int(k) for k in kinds)
            vbo = ctx.buffer(mesh.vertex_data().tobytes())
            ibo = ctx.buffer(np.ascontiguousarray(mesh.indices, np.uint32).tobytes())
            inst = ctx.buffer(reserve=17 * 4 * 64, dynamic=True)
            svao = ctx.vertex_array(self.shadow_prog, [float_layout(self.shadow_prog, vbo, VERTEX_ATTRS, ""),
                                                       float_layout(self.shadow_prog, inst, INSTANCE_ATTRS, "/i")],
                                    index_buffer=ibo, index_element_size=4)
            self.parts[name] = [vbo, ibo, inst, svao]
        self.white = ctx.texture_array((1, 1, 1), 4, bytes([255, 255, 255, 255]))
        self.no_pbr = ctx.texture_array((1, 1, 1), 4, bytes(4))  # zeros: keep the mesh normal
        self.shadow_strength = 0.0
        self.sun_dir = (0.0, 0.0, 1.0)
        check_gl(ctx, "agents pass set-up")

    def _use_features(self, features: tuple[str, ...]) -> None:
        """Shade with the programs compiled for `features` (each made on first use, then kept)."""
        self.features = features
        for name, kind in self.part_kind.items():
            if (name, features) in self.vaos:
                continue
            prog = self._program(kind, features, "agents.vert")
            vbo, ibo, inst, _ = self.parts[name]
            self.vaos[(name, features)] = self.ctx.vertex_array(
                prog, [float_layout(prog, vbo, VERTEX_ATTRS, ""), float_layout(prog, inst, INSTANCE_ATTRS, "/i")],
                index_buffer=ibo, index_element_size=4)

    def programs(self) -> list:
        """The programs the agent parts draw with now (one per kind among single-kind parts)."""
        return [p for (_, f), p in self.progs.items() if f == self.features]

    def update_lighting(self, light) -> None:
        """The mesh shader's light, and how dark the flattened sun shadows fall."""
        super().update_lighting(light)
        L = light.lighting
        sun_z = float(L.sun_dir[2])
        e_sun = float(L.sun_illuminance[1]) * max(sun_z, 0.0)
        e_amb = float(L.ambient_up[1])
        self.shadow_strength = 0.0 if sun_z < MIN_SUN_Z else 0.85 * e_sun / max(e_sun + e_amb, 1e-9)
        self.sun_dir = tuple(float(v) for v in L.sun_dir)

    def draw(self, fc: FrameContext) -> None:
        import moderngl

        rows = self.instances(fc.index, fc.frame)
        ctx = self.ctx
        fc.targets.scene_fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)
        ctx.depth_func = "<"
        counts = {}
        for name, part in self.parts.items():
            data = np.ascontiguousarray(rows.get(name, np.zeros((0, 17), np.float32)), np.float32)
            counts[name] = len(data)
            if len(data):
                if part[2].size < data.nbytes:
                    part[2].orphan(data.nbytes * 2)
                part[2].write(data.tobytes())
        if not any(counts.values()):
            return
        if self.features is None:
            raise RenderError("AgentPass.draw before update_lighting: no light to compile the programs for")
        self.bind_frame(fc, self.white, self.no_pbr)
        for name in self.parts:
            if counts[name]:
                self.vaos[(name, self.features)].render(instances=counts[name])
        if self.shadow_strength > 0.0:
            self._draw_shadows(fc, counts)

    def _draw_shadows(self, fc: FrameContext, counts: dict) -> None:
        import moderngl

        ctx, light, sp = self.ctx, fc.light, self.shadow_prog
        write_uniform(sp, "u_view_proj", mat_bytes(fc.view_proj))
        write_uniform(sp, "u_shadow_mat", mat_bytes(light.shadow.light_mat))
        set_uniform(sp, "u_use_shadow", 1.0 if light.shadow.active else 0.0)
        set_uniform(sp, "u_sun_dir", self.sun_dir)
        set_uniform(sp, "u_strength", float(self.shadow_strength))
        light.shadow.texture.use(TextureUnit.SHADOW)
        set_uniform(sp, "u_shadow", int(TextureUnit.SHADOW))
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = (moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE)
        ctx.depth_func = "<"
        fc.targets.scene_fbo.depth_mask = True
        for name, part in self.parts.items():
            if counts[name] and not name.endswith("_far"):
                part[3].render(instances=counts[name])
        ctx.disable(moderngl.BLEND)
        ctx.blend_func = moderngl.DEFAULT_BLENDING

    def release(self) -> None:
        for vao in self.vaos.values():
            vao.release()
        for part in self.parts.values():
            for obj in reversed(part):
                obj.release()
        self.white.release()
        self.no_pbr.release()
        for prog in self.progs.values():
            prog.release()
        self.shadow_prog.release()
