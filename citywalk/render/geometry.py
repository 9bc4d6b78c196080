"""The scene's meshes on the GPU: one interleaved vertex buffer, one index buffer grouped by
material kind (one draw call per kind, each with its own shader) and the surface textures as
one 2D array. Built once per shot."""

from __future__ import annotations

import numpy as np

from ..errors import RenderError
from ..scene import FOLIAGE, PBR_SUFFIX, Scene
from .gl import float_layout, is_software_renderer, mat_bytes, set_uniform, shader_source, vec, write_uniform

TEX_SIZE_PX = 256  # the smallest layer size; a scene with bigger textures (sign atlases, material
MAX_TEX_SIZE_PX = 512  # families) gets up to this, so shop lettering keeps its texel density
GPU_ANISOTROPY = 8.0  # roads seen at grazing angles stay sharp without shimmering (GPUs)
CPU_ANISOTROPY = 1.0  # llvmpipe: 8x anisotropic lookups tripled the frame time; trilinear only


def texture_anisotropy(ctx) -> float:
    """Anisotropic filtering for this GL device: cheap on GPUs, dear on software rasterisers."""
    return CPU_ANISOTROPY if is_software_renderer(ctx) else GPU_ANISOTROPY


CULL_CELL_M = 24.0  # triangles are grouped by this xy grid (of their centroid) within a kind, for culling
VERTEX_LAYOUT = (("in_pos", 3), ("in_nrm", 3), ("in_uv", 2), ("in_col", 3), ("in_mat", 4), ("in_rough", 1))  # 16 floats


def interleave(scene: Scene, layers: dict[str, int]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Vertex array (N, 16) float32: pos, normal, uv, colour, (layer, kind, emissive, variation),
    roughness; index array (M,) uint32 — all meshes in one buffer, grouped by material kind (in
    scene order within a kind); and the groups as (kind, first index, index count)."""
    verts, idx, base = [], [], 0
    ranges: list[list[int]] = []
    for mesh in sorted(scene.meshes, key=lambda m: int(m.material.kind)):
        n = len(mesh.positions)
        mat = mesh.material
        col = np.asarray(mat.albedo, np.float32)[None, :] * (mesh.colors if mesh.colors is not None else 1.0)
        col = np.broadcast_to(col, (n, 3))
        var = mesh.variation if mesh.variation is not None else np.zeros(n, np.float32)
        layer = layers.get(mat.texture, 0) if mat.texture else 0
        m4 = np.empty((n, 4), np.float32)
        m4[:, 0], m4[:, 1], m4[:, 2], m4[:, 3] = layer, mat.kind, mat.emissive, var
        v = np.concatenate(
            [mesh.positions, mesh.normals, mesh.uvs, col, m4, np.full((n, 1), mat.roughness, np.float32)], 1
        )
        verts.append(v.astype(np.float32))
        idx.append(mesh.indices.reshape(-1).astype(np.uint32) + base)
        base += n
        first = ranges[-1][1] + ranges[-1][2] if ranges else 0
        if ranges and ranges[-1][0] == int(mat.kind):
            ranges[-1][2] += idx[-1].size
        else:
            ranges.append([int(mat.kind), first, idx[-1].size])
    if not verts:  # a world of splats only: one degenerate triangle keeps the passes uniform
        return np.zeros((3, 16), np.float32), np.zeros(3, np.uint32), [(0, 0, 3)]
    return np.concatenate(verts), np.concatenate(idx), [tuple(r) for r in ranges]


def cull_cells(verts: np.ndarray, idx: np.ndarray, kind_ranges, cell_m: float = CULL_CELL_M):
    """Reorder each kind's triangles of `idx` (in place) by the CULL_CELL_M grid cell of their
    centroid, so a cell's triangles are one index range → (first (C,), count (C,), lo (C, 3),
    hi (C, 3)): every cell's index range and the box around its triangles' vertices."""
    firsts, counts, los, his = [], [], [], []
    for _, first, count in kind_ranges:
        tris = idx[first:first + count].reshape(-1, 3)
        if len(tris) == 0:
            continue
        corners = verts[tris, :3]  # (T, 3 corners, xyz)
        cell = np.floor(corners.mean(1)[:, :2] / cell_m).astype(np.int64)
        cell -= cell.min(0)
        key = cell[:, 0] * (cell[:, 1].max() + 1) + cell[:, 1]
        order = np.argsort(key, kind="stable")
        tris, key, corners = tris[order], key[order], corners[order]
        idx[first:first + count] = tris.reshape(-1)
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        ends = np.r_[starts[1:], len(key)]
        lo, hi = corners.min(1), corners.max(1)
        firsts.append(first + 3 * starts)
        counts.append(3 * (ends - starts))
        los.append(np.minimum.reduceat(lo, starts))
        his.append(np.maximum.reduceat(hi, starts))
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 3))
    return np.concatenate(firsts), np.concatenate(counts), np.concatenate(los), np.concatenate(his)


def boxes_in_view(clip_from_world: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(C,) bool: which axis-aligned boxes (lo, hi (C, 3) world metres) may show in the view of
    the 4x4 `clip_from_world` — False only for a box wholly outside one of the frustum's planes."""
    m = np.asarray(clip_from_world, float)
    planes = np.stack([m[3] + m[0], m[3] - m[0], m[3] + m[1], m[3] - m[1], m[3] + m[2], m[3] - m[2]])
    normal = planes[:, :3]
    # per plane, the box corner farthest along its normal: if even it is behind, the box is out
    far = np.where(normal[None, :, :] >= 0, hi[:, None, :], lo[:, None, :])  # (C, 6, 3)
    return ((far * normal[None]).sum(-1) + planes[None, :, 3] >= 0).all(1)


def _merged(firsts: np.ndarray, counts: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges (first, count) sorted, with touching ranges joined (fewer draw calls)."""
    out: list[list[int]] = []
    for f, c in zip(firsts.tolist(), counts.tolist()):
        if out and out[-1][0] + out[-1][1] == f:
            out[-1][1] += c
        else:
            out.append([f, c])
    return [(f, c) for f, c in out]


def depth_runs(kind_ranges) -> list[tuple[bool, int, int]]:
    """The index ranges of `interleave`'s kind groups merged into runs (alpha-tested?, first,
    count): foliage needs the alpha test, the rest draws depth without one."""
    runs: list[list] = []
    for kind, first, count in kind_ranges:
        tested = int(kind) == FOLIAGE
        if runs and runs[-1][0] == tested and runs[-1][1] + runs[-1][2] == first:
            runs[-1][2] += count
        else:
            runs.append([tested, first, count])
    return [tuple(r) for r in runs]


def _rgba_layer(name: str, a, size: int) -> np.ndarray:
    from PIL import Image

    a = np.asarray(a)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise RenderError(f"texture '{name}' must be (H, W, 3|4) uint8, got {a.shape}")
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], 2)
    if a.shape[:2] != (size, size):
        a = np.asarray(Image.fromarray(a.astype(np.uint8)).resize((size, size), Image.BILINEAR))
    return a.astype(np.uint8)


def texture_layers(scene: Scene) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Stack scene textures (resized to S² with S the largest texture side, 256..512) after a white
    layer 0: albedo (L, S, S, 4) uint8, and the matching normal+roughness layers (zeros where a
    texture has none: the shader then keeps the mesh normal and the material roughness)."""
    names = sorted(n for n in scene.textures if not n.endswith(PBR_SUFFIX))
    side = max([TEX_SIZE_PX] + [max(np.shape(scene.textures[n])[:2], default=0) for n in names])
    size = min(MAX_TEX_SIZE_PX, side)
    stack = [np.full((size, size, 4), 255, np.uint8)]
    pbr = [np.zeros((size, size, 4), np.uint8)]
    for name in names:
        stack.append(_rgba_layer(name, scene.textures[name], size))
        extra = scene.textures.get(name + PBR_SUFFIX)
        pbr.append(pbr[0] if extra is None else _rgba_layer(name + PBR_SUFFIX, extra, size))
    return np.stack(stack), np.stack(pbr), {n: i + 1 for i, n in enumerate(names)}


class SceneGeometry:
    """The scene's vertex and index buffers, its texture array, and a depth-only drawing of all
    of it (the depth pre-pass and the sun shadow map)."""

    def __init__(self, ctx, scene: Scene):
        import moderngl

        self.ctx = ctx
        tex, pbr, self.layers = texture_layers(scene)
        self.textures = ctx.texture_array((tex.shape[1], tex.shape[2], len(tex)), 4, tex.tobytes())
        self.pbr = ctx.texture_array((pbr.shape[1], pbr.shape[2], len(pbr)), 4, pbr.tobytes())
        aniso = texture_anisotropy(ctx)
        for t in (self.textures, self.pbr):
            t.build_mipmaps()
            t.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            t.anisotropy = aniso
        verts, idx, self.kind_ranges = interleave(scene, self.layers)
        self.cell_first, self.cell_count, self.cell_lo, self.cell_hi = cull_cells(verts, idx, self.kind_ranges)
        self.cull = True  # False: draw every cell (tests compare the two)
        self.n_vertices = len(verts)
        self.vbo = ctx.buffer(verts.tobytes())
        self.ibo = ctx.buffer(idx.tobytes())
        self.depth_prog = ctx.program(vertex_shader=shader_source("shadow.vert"),
                                      fragment_shader=shader_source("shadow.frag"))
        # position, normal, uv and (layer, kind) of the 16-float vertex: foliage is alpha-tested in
        # depth too, and thin tubes are widened as in the mesh pass
        depth_layout = [(self.vbo, "3f 3f 2f 12x 2f 12x", "in_pos", "in_nrm", "in_uv", "in_mat")]
        self.depth_vao = ctx.vertex_array(self.depth_prog, depth_layout, self.ibo)
        solid = shader_source("shadow.frag").replace("#version 330\n", "#version 330\n#define SOLID\n", 1)
        self.solid_depth_prog = ctx.program(vertex_shader=shader_source("shadow.vert"), fragment_shader=solid)
        self.solid_depth_vao = ctx.vertex_array(self.solid_depth_prog, depth_layout, self.ibo)
        self.depth_runs = depth_runs(self.kind_ranges)

    def vertex_array(self, prog):
        """A vertex array feeding the buffer's vertex attributes that `prog` reads to it."""
        return self.ctx.vertex_array(prog, [float_layout(prog, self.vbo, VERTEX_LAYOUT)], self.ibo)

    def visible(self, clip_from_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first, count) of the cells that may show in the view of `clip_from_world`, in index
        order (all of them with cull off)."""
        if not self.cull or len(self.cell_first) == 0:
            return self.cell_first, self.cell_count
        keep = boxes_in_view(clip_from_world, self.cell_lo, self.cell_hi)
        return self.cell_first[keep], self.cell_count[keep]

    def ranges_in(self, visible: tuple[np.ndarray, np.ndarray], first: int, count: int) -> list[tuple[int, int]]:
        """The visible index ranges inside [first, first + count), touching ones joined."""
        f, c = visible
        inside = (f >= first) & (f < first + count)
        return _merged(f[inside], c[inside])

    def draw_depth(self, clip_from_world: np.ndarray, eye_m=None, thin_radius_per_m: float = 0.0) -> None:
        """Draw the depth (no colour) of every triangle in view into the bound framebuffer:
        foliage through the alpha-tested program, everything else through one without a discard.
        A camera's prepass gives its `eye_m` and `thin_radius_per_m` (meshes.thin_radius_per_m) so thin
        tubes are widened as the mesh pass widens them; a shadow map leaves them as modelled."""
        for prog in (self.depth_prog, self.solid_depth_prog):
            write_uniform(prog, "u_light_mat", mat_bytes(clip_from_world))
            set_uniform(prog, "u_thin_radius_per_m", float(thin_radius_per_m))
            set_uniform(prog, "u_cam_pos", vec(eye_m if eye_m is not None else (0, 0, 0)))
        self.textures.use(0)  # TextureUnit.SURFACES, for the foliage alpha test
        if "u_tex" in self.depth_prog:
            self.depth_prog["u_tex"].value = 0
        visible = self.visible(clip_from_world)
        for alpha_tested, first, count in self.depth_runs:
            vao = self.depth_vao if alpha_tested else self.solid_depth_vao
            for f, c in self.ranges_in(visible, first, count):
                vao.render(vertices=c, first=f)

    def release(self) -> None:
        for obj in (self.depth_vao, self.depth_prog, self.solid_depth_vao, self.solid_depth_prog, self.vbo, self.ibo,
                    self.textures, self.pbr):
            obj.release()
