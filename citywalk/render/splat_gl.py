"""SplatPass: 3D Gaussian splats drawn with moderngl (llvmpipe or GPU), matching splat_reference.

Per frame the CPU culls (near/far and a conservative screen bound) and depth-sorts the Gaussians
with 16-bit log-depth keys (NumPy's stable sort on uint16 is a radix sort; relative depth step
ln(far/near)/65535, 1.6e-4 for 0.05..2000 m) and uploads the order as a storage buffer; on a
hardware GPU with compute shaders the same keys are sorted there instead (splat_sort_gl: a radix
sort giving the same order), and then every splat is drawn as a quad. Each
splat is one primitive, drawn in depth order: a point sprite when it surely fits in 255 px (one
vertex: ~2.5× cheaper on llvmpipe), else an indexed quad (not instanced: llvmpipe shades instances
one at a time), in at most MAX_RUNS draw calls. The vertex shader projects the covariance (EWA
with the 3DGS 1.3×-FOV Jacobian clamp, + 0.3 px² dilation), evaluates SH colour for the view, and
covers exactly the pixels where alpha ≥ 1/255; the fragment shader evaluates the Gaussian;
blending is back-to-front "over" with premultiplied alpha (ONE, ONE_MINUS_SRC_ALPHA).

Level of detail: a cloud larger than the splat `budget` (default per device: CPU_SPLAT_BUDGET on
a software rasteriser, GPU_SPLAT_BUDGET otherwise) is drawn through `scene.splat_lod`: the GPU
holds every tree node, each frame culls and sorts only the cut's nodes, and a per-position fade
(SPLAT_FADE, binding 3) scales each node's opacity for the cross-fade between levels. The cut is
kept in back-to-front order while the camera stays within REUSE_MOVE_M / REUSE_TURN_DEG of the view
it was made for; such frames only re-cull that list (filtering keeps its order). Within budget
the path above is used unchanged.

Output contract (target framebuffer, which the caller owns):
  colour attachment 0 (RGBA16F/32F): premultiplied *linear* RGB and alpha; the SH colour is taken
    as sRGB-encoded display colour and decoded to linear per splat before blending;
  colour attachment 1 (R32F or RGBA32F): .r = alpha-weighted camera z in metres, so the expected
    depth of the splat layer is att1.r / att0.a.
Image rows: the image's top row is the framebuffer's top row (GL y up), so `np.flipud` a readback
to get OpenCV row order. `scene_depth` (R32F camera z in metres, same size and layout as the
target) hides splat fragments behind opaque geometry.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from citywalk.errors import MissingExtra, RenderError
from citywalk.render.gl import is_software_renderer
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_math import DILATION_PX2, JACOBIAN_CLAMP, alpha_cutoff_maha

_SHADERS = Path(__file__).with_name("shaders")
_SORT_BITS = 16


MIN_SPLAT_BUDGET = 10_000
CPU_SPLAT_BUDGET = 300_000     # llvmpipe: 1M-Gaussian street at 33.6 dB PSNR vs the full render
GPU_SPLAT_BUDGET = 1_500_000   # a desktop GPU


def default_splat_budget(ctx) -> int:
    """The splat budget for this GL device: CPU_SPLAT_BUDGET on a software rasteriser
    (llvmpipe, softpipe, SwiftShader), GPU_SPLAT_BUDGET otherwise."""
    return CPU_SPLAT_BUDGET if is_software_renderer(ctx) else GPU_SPLAT_BUDGET


def _require_moderngl():
    try:
        import moderngl
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtra("moderngl", "render", "Gaussian splat rendering") from None
    return moderngl


def pack_gaussians(cloud: GaussianCloud, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-Gaussian GPU records → (geo (N, 12) float32: mean, opacity, covariance xx xy xz yy yz zz,
    padding; sh (N, 4·stride) uint32 of packed half floats; stride in uvec4 per Gaussian). Filled
    `chunk` Gaussians at a time, so no full-size float temporaries (10M splats: GiBs) are made."""
    n = cloud.count
    per = 3 * cloud.sh.shape[1]
    stride = -(-per // 8)  # uvec4 holds 8 halves
    geo = np.zeros((n, 12), np.float32)
    halves = np.zeros((n, stride * 8), np.float16)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        part = cloud.subset(slice(a, b))
        geo[a:b, 0:3] = part.means
        geo[a:b, 3] = part.opacities
        cov = part.covariances()
        geo[a:b, 4:10] = cov[:, [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]]
        halves[a:b, :per] = np.clip(part.sh.reshape(b - a, per), -65504, 65504)
    return geo, halves.view(np.uint32), stride


def depth_keys(z_m: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """16-bit sort keys (M,) uint16 of depths (M,): 0 at far_m, 65535 at near_m, uniform in log z
    (relative step ≈ ln(far/near)/65536, e.g. 1.6e-4 for 0.05..2000 m)."""
    lz = np.log(np.clip(z_m, near_m, far_m))
    lo, hi = np.log(near_m), np.log(far_m)
    return ((hi - lz) * ((2 ** _SORT_BITS - 1) / (hi - lo))).astype(np.uint16)


def sort_back_to_front(z_m: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """Indices ordering depths (M,) far → near: a stable radix sort of their depth_keys."""
    if len(z_m) == 0:
        return np.zeros(0, np.int64)
    return np.argsort(depth_keys(z_m, near_m, far_m), kind="stable")


def gpu_sort_by_default(ctx) -> bool:
    """Sort on the GPU where it pays: a hardware GPU with compute shaders. On llvmpipe the
    compute sort of 300k keys takes ~470 ms against 4 ms for NumPy's radix sort."""
    from citywalk.render.splat_sort_gl import compute_supported

    return not is_software_renderer(ctx) and compute_supported(ctx)


class SplatPass:
    """Draws one GaussianCloud into a caller-owned framebuffer; see the module doc for outputs.

    `primitive`: "auto" draws small splats as point sprites (one vertex each, ~2.5× faster on
    llvmpipe) and splats that may exceed MAX_POINT_PX as quads, in depth-ordered runs; "quads"
    draws every splat as a quad (the fallback when the two kinds interleave too often)."""

    MAX_POINT_PX = 255.0  # llvmpipe's largest point size; also a safe value on GPUs
    GUARD_PX = 128.0  # viewport guard band: a point is clipped by its centre
    MAX_RUNS = 64  # at most this many draw calls; short point runs between quads become quads
    # The LOD cut and its order are kept while the camera moves ≤ REUSE_MOVE_M and turns ≤
    # REUSE_TURN_DEG from the view they were made for. On the 1M street at 1280×720 (300k budget)
    # a kept cut vs a fresh one: ≥ 53 dB PSNR moving 0.05–0.8 m forward or back, ≥ 83 dB up to
    # 0.2 m sideways or up, 53 dB at a 0.5–1° turn (47 dB at 2°: the cut's 16 px border margin runs out).
    REUSE_MOVE_M = 0.2
    REUSE_TURN_DEG = 0.5

    def __init__(self, ctx, cloud: GaussianCloud, colors_are_srgb: bool = True,
                 primitive: str = "auto", budget: int | None = None, lod=None,
                 reuse_move_m: float | None = None, reuse_turn_deg: float | None = None,
                 gpu_sort: bool | None = None):
        moderngl = _require_moderngl()
        if primitive not in ("auto", "quads"):
            raise RenderError(f"SplatPass primitive={primitive!r}; accepted 'auto' or 'quads'")
        self.budget = default_splat_budget(ctx) if budget is None else int(budget)
        if self.budget < MIN_SPLAT_BUDGET:
            raise RenderError(f"SplatPass budget={self.budget}; accepted ≥ {MIN_SPLAT_BUDGET} splats")
        # Over budget: draw a per-frame cut of a level-of-detail tree (its nodes live on the GPU).
        self.lod = None
        if cloud.count > self.budget:
            from citywalk.scene.splat_lod import cached_lod

            self.lod = lod if lod is not None else cached_lod(cloud, getattr(cloud, "source", None))
        self.source_cloud = cloud
        drawn_cloud = cloud if self.lod is None else self.lod.nodes
        self.ctx, self.cloud, self.count = ctx, drawn_cloud, drawn_cloud.count
        self.colors_are_srgb, self.primitive = colors_are_srgb, primitive
        geo, sh, stride = pack_gaussians(drawn_cloud)
        self.sh_stride = stride
        defines = f"#define SH_DEGREE {cloud.sh_degree}\n#define SH_STRIDE {stride}\n"
        if self.lod is not None:
            defines += "#define SPLAT_FADE\n"
        vert = (_SHADERS / "splat.vert").read_text().replace(
            "#version 430\n", "#version 430\n" + defines, 1)
        frag = (_SHADERS / "splat.frag").read_text()
        depth_frag = frag.replace("#version 430\n", "#version 430\n#define SCENE_DEPTH\n", 1)
        points_vert = vert.replace("#version 430\n", "#version 430\n#define SPLAT_POINTS\n", 1)
        try:
            # (quads, points) programs by whether splats are hidden behind a scene depth image
            self.programs = {hidden: (ctx.program(vertex_shader=vert, fragment_shader=f),
                                      ctx.program(vertex_shader=points_vert, fragment_shader=f))
                             for hidden, f in ((False, frag), (True, depth_frag))}
        except moderngl.Error as exc:
            raise RenderError(f"splat shaders failed to compile/link: {exc}") from None
        self.geo_buffer = ctx.buffer(geo if len(geo) else bytes(48))  # the array itself: no bytes copy
        self.sh_buffer = ctx.buffer(sh if len(sh) else bytes(16))
        del geo, sh
        self.order_buffer = ctx.buffer(reserve=max(4, 4 * self.count), dynamic=True)
        self.fade_buffer = ctx.buffer(reserve=max(4, 4 * self.count), dynamic=True)
        self._last_view = None  # (view key, order, big, fade) of the previous frame
        self._sorted_cut = None  # the last LOD cut in back-to-front order and the view it was made for
        self.full_sorts = 0  # LOD cuts made and sorted (frames that could not reuse the last one)
        self.reuse_move_m = self.REUSE_MOVE_M if reuse_move_m is None else float(reuse_move_m)
        self.reuse_turn_deg = self.REUSE_TURN_DEG if reuse_turn_deg is None else float(reuse_turn_deg)
        quad = np.array([0, 1, 2, 2, 1, 3], np.uint32)
        corners = (np.arange(max(self.count, 1), dtype=np.uint32)[:, None] * 4 + quad).ravel()
        self.index_buffer = ctx.buffer(corners.tobytes())
        self.vaos = {hidden: (ctx.vertex_array(quads, [], index_buffer=self.index_buffer, index_element_size=4),
                              ctx.vertex_array(points, []))
                     for hidden, (quads, points) in self.programs.items()}
        self._mx, self._my, self._mz = (np.ascontiguousarray(drawn_cloud.means[:, i]) for i in range(3))
        # Conservative world radius beyond which alpha < 1/255 (k sigma of the largest axis).
        self._k_sigma = np.sqrt(alpha_cutoff_maha(drawn_cloud.opacities)).astype(np.float32)
        self._radius_m = (self._k_sigma * drawn_cloud.scales.max(axis=1, initial=0.0)).astype(np.float32)
        self._visible = drawn_cloud.opacities >= 1.0 / 255.0
        self.timings_ms: dict[str, float] = {}
        self.last_stats: dict[str, int] = {}
        # Depth sort by compute shader (None: where it pays, a hardware GPU; see gpu_sort_by_default)
        self.gpu_sort = gpu_sort_by_default(ctx) if gpu_sort is None else bool(gpu_sort)
        self._gpu_sorter = self._ids_buffer = self._fade_in_buffer = None
        if self.gpu_sort:
            from citywalk.render.splat_sort_gl import GpuKeySort

            try:
                self._gpu_sorter = GpuKeySort(ctx)
            except RenderError:
                if gpu_sort:  # asked for by name: say why it cannot be had
                    raise
                self.gpu_sort = False  # chosen by default: a driver without working compute sorts on the CPU
        if self.gpu_sort:
            self._ids_buffer = ctx.buffer(reserve=max(4, 4 * self.count), dynamic=True)
            self._fade_in_buffer = ctx.buffer(reserve=max(4, 4 * self.count), dynamic=True)

    def release(self) -> None:
        """Free GL objects."""
        for obj in (*(v for pair in self.vaos.values() for v in pair), self.index_buffer, self.order_buffer,
                    self.fade_buffer, self.sh_buffer, self.geo_buffer,
                    *(p for pair in self.programs.values() for p in pair),
                    self._gpu_sorter, self._ids_buffer, self._fade_in_buffer):
            if obj is not None:
                obj.release()

    def _screen_cull(self, R_w2c, t_w2c, K, size_px, near_m: float, far_m: float,
                     ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions (M,) into `ids` (default: the whole cloud), in their given order, of the
        Gaussians that may touch this view, with their camera z (M,) float32 (m) and a (M,) bool
        mask of those that may need more than MAX_POINT_PX pixels (drawn as quads)."""
        r = np.asarray(R_w2c, np.float32)
        t = np.asarray(t_w2c, np.float32)
        k = np.asarray(K, np.float64)
        mx, my, mz = self._mx, self._my, self._mz  # contiguous columns: fast 1D passes
        visible, radius_m = self._visible, self._radius_m
        if ids is not None:
            mx, my, mz, visible, radius_m = (a[ids] for a in (mx, my, mz, visible, radius_m))
        z = mx * r[2, 0] + my * r[2, 1] + mz * r[2, 2] + t[2]
        cand = np.flatnonzero((z > near_m) & (z < far_m) & visible)
        cx_, cy_, cz_ = mx[cand], my[cand], mz[cand]
        zc = z[cand]
        iz = 1.0 / zc
        xz = (cx_ * r[0, 0] + cy_ * r[0, 1] + cz_ * r[0, 2] + t[0]) * iz
        yz = (cx_ * r[1, 0] + cy_ * r[1, 1] + cz_ * r[1, 2] + t[1]) * iz
        rad = radius_m[cand] * iz
        # |J d| ≤ f/z · r · (1 + |x/z|) per axis (linearised projection, x/z clamped as in the
        # shader), plus the dilation.
        margin = np.float32(2.0 * float(self._k_sigma.max(initial=0.0)) * np.sqrt(DILATION_PX2) + 1.0)
        fx, fy = np.float32(k[0, 0]), np.float32(k[1, 1])
        cx, cy = np.float32(k[0, 2]), np.float32(k[1, 2])
        w, h = size_px
        half_clamp = 0.5 * JACOBIAN_CLAMP
        lim_x, lim_y = np.float32(half_clamp * w / fx), np.float32(half_clamp * h / fy)
        ru = fx * rad * (1.0 + np.minimum(np.abs(xz), lim_x)) + margin
        rv = fy * rad * (1.0 + np.minimum(np.abs(yz), lim_y)) + margin
        u = fx * xz + cx
        v = fy * yz + cy
        on = np.flatnonzero((u + ru > -0.5) & (u - ru < w - 0.5) & (v + rv > -0.5) & (v - rv < h - 0.5))
        u, v, ru, rv = u[on], v[on], ru[on], rv[on]  # increasing indices: cache-friendly gathers
        # A point needs side 2·k·sqrt(λmax) + 1 ≤ 2·|(ru, rv)| + 1; its centre must lie in the guard.
        g = self.GUARD_PX
        big = ((ru * ru + rv * rv > (0.5 * (self.MAX_POINT_PX - 1.0)) ** 2)
               | (u < -g) | (u > w + g) | (v < -g) | (v > h + g))
        return cand[on], zc[on], big

    def visible_order(self, R_w2c, t_w2c, K, size_px, near_m: float,
                      far_m: float, subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Culled, back-to-front sorted Gaussian indices (M,) uint32 for this view, and a (M,)
        bool mask of those that may need more than MAX_POINT_PX pixels (drawn as quads).
        `subset` (ascending indices) limits culling and sorting to those Gaussians (the LOD cut)."""
        pos, z, big = self._screen_cull(R_w2c, t_w2c, K, size_px, near_m, far_m, ids=subset)
        ids = pos if subset is None else subset[pos]
        order = sort_back_to_front(z, near_m, far_m)
        return ids.astype(np.uint32)[order], big[order]

    def _ordered(self, R_w2c, t_w2c, K, size_px, near_m, far_m):
        """(ids (M,) uint32, big (M,), fade (M,) or None, keys (M,) uint16 or None) for this view:
        the whole cloud culled when within budget, else the LOD cut culled. Sorting on the CPU,
        ids are back to front and keys None; on the GPU, ids are unsorted and keys their depth
        keys. The LOD cut (sorted, on the CPU) is kept while the camera stays within REUSE_MOVE_M
        and REUSE_TURN_DEG of the view it was made for (only the screen cull runs again); an
        unchanged view reuses the previous frame outright."""
        if self.lod is None:
            if not self.gpu_sort:
                order, big = self.visible_order(R_w2c, t_w2c, K, size_px, near_m, far_m)
                return order, big, None, None
            pos, z, big = self._screen_cull(R_w2c, t_w2c, K, size_px, near_m, far_m)
            return pos.astype(np.uint32), big, None, depth_keys(z, near_m, far_m)
        key = (np.asarray(R_w2c, np.float64).tobytes(), np.asarray(t_w2c, np.float64).tobytes(),
               np.asarray(K, np.float64).tobytes(), tuple(size_px), near_m, far_m, self.budget)
        if self._last_view is not None and self._last_view[0] == key:
            return self._last_view[1:]
        r = np.asarray(R_w2c, np.float64)
        centre_m = -r.T @ np.asarray(t_w2c, np.float64)
        setup = (np.asarray(K, np.float64).tobytes(), tuple(size_px), near_m, far_m, self.budget)
        kept = self._sorted_cut
        reused = kept is not None and kept["setup"] == setup and _camera_close(
            kept["R"], kept["centre_m"], r, centre_m, self.reuse_move_m, self.reuse_turn_deg)
        if not reused:
            sel, weight, tau = self.lod.cut(R_w2c, t_w2c, K, size_px, self.budget)
            if not self.gpu_sort:  # keep the cut back to front: later frames only filter it
                rz = np.asarray(R_w2c, np.float32)[2]
                z = (self._mx[sel] * rz[0] + self._my[sel] * rz[1] + self._mz[sel] * rz[2]
                     + np.float32(np.asarray(t_w2c, np.float64)[2]))
                o = sort_back_to_front(z, near_m, far_m)
                sel, weight = sel[o], weight[o]
            kept = {"setup": setup, "R": r, "centre_m": centre_m, "ids": sel,
                    "fade": weight.astype(np.float32), "tau_px": tau}
            self._sorted_cut = kept
            self.full_sorts += 1
        # cull the kept list for this view: filtering keeps its order
        pos, z, big = self._screen_cull(R_w2c, t_w2c, K, size_px, near_m, far_m, ids=kept["ids"])
        ids = kept["ids"][pos].astype(np.uint32)
        fade = np.ascontiguousarray(kept["fade"][pos])
        keys = depth_keys(z, near_m, far_m) if self.gpu_sort else None
        self.last_cut = {"cut": len(kept["ids"]), "tau_px": kept["tau_px"], "reused": reused}
        self._last_view = (key, ids, big, fade, keys)
        return ids, big, fade, keys

    def _runs(self, big: np.ndarray) -> list[tuple[bool, int, int]]:
        """Depth-ordered (as_quads, first, count) draw runs, at most MAX_RUNS of them: short
        point runs between quad runs are drawn as quads too (quads can draw any splat)."""
        n = len(big)
        if n == 0:
            return []
        if self.primitive == "quads" or big.all():
            return [(True, 0, n)]
        quads = big.copy()
        min_len = 0
        while True:
            cuts = np.flatnonzero(quads[1:] != quads[:-1]) + 1
            starts = np.concatenate([[0], cuts])
            lengths = np.diff(np.concatenate([starts, [n]]))
            if len(starts) <= self.MAX_RUNS:
                break
            min_len = max(16, 2 * min_len)
            short = (~quads[starts]) & (lengths < min_len)
            for a, c in zip(starts[short], lengths[short]):
                quads[a:a + c] = True
        return [(bool(quads[a]), int(a), int(c)) for a, c in zip(starts, lengths)]

    def _set_uniforms(self, prog, r, t, k, w, h, near_m, far_m, depth_unit: int) -> None:
        values = {
            "u_t": tuple(t), "u_intr": (k[0, 0], k[1, 1], k[0, 2], k[1, 2]), "u_size": (w, h),
            "u_height": h, "u_guard": self.GUARD_PX, "u_cam_pos": tuple(-r.T @ t),
            "u_near": near_m, "u_far": far_m, "u_to_linear": int(self.colors_are_srgb),
            "u_scene_depth": int(depth_unit)}
        prog["u_R"].write(r.T.astype(np.float32).tobytes())  # GLSL mat3 is column-major
        for name, value in values.items():
            if name in prog:  # a driver may drop uniforms a variant does not use
                prog[name].value = value

    def draw(self, R_w2c, t_w2c, K, size_px, target, scene_depth=None,
             near_m: float = 0.05, far_m: float = 2000.0, clear: bool = True, scene_depth_unit: int = 0) -> int:
        """Render the cloud for an OpenCV camera (R_w2c (3, 3), t_w2c (3,), K (3, 3), size_px
        (w, h)) into `target` (attachments as in the module doc); returns the splats drawn.
        `scene_depth` is bound to texture unit `scene_depth_unit` while drawing.
        Per-stage times (ms) land in `self.timings_ms` ('sort': cut, cull and CPU sort;
        'upload': buffers, and the GPU sort's dispatch when it sorts there; 'raster')."""
        moderngl = _require_moderngl()
        w, h = int(size_px[0]), int(size_px[1])
        if tuple(target.size) != (w, h):
            raise RenderError(f"SplatPass.draw: target is {target.size}, size_px is {(w, h)}")
        if scene_depth is not None and tuple(scene_depth.size) != (w, h):
            raise RenderError(f"SplatPass.draw: scene_depth is {scene_depth.size}; expected {(w, h)}")
        t0 = time.perf_counter()
        order, big, fade, keys = self._ordered(R_w2c, t_w2c, K, (w, h), near_m, far_m)
        # sorted on the GPU: the order is unknown here, so every splat is drawn as a quad
        runs = self._runs(big) if keys is None else ([(True, 0, len(order))] if len(order) else [])
        t1 = time.perf_counter()
        if len(order) and keys is None:
            self.order_buffer.write(order.tobytes())
            if fade is not None:
                self.fade_buffer.write(fade.tobytes())
        elif len(order):  # unsorted ids and fades in, the GPU sorts their keys and gathers
            self._ids_buffer.write(order.tobytes())
            if fade is not None:
                self._fade_in_buffer.write(fade.tobytes())
            self._gpu_sorter.sort(keys)
            self._gpu_sorter.gather(len(order), self._ids_buffer, self.order_buffer,
                                    self._fade_in_buffer if fade is not None else None,
                                    self.fade_buffer if fade is not None else None)
        t2 = time.perf_counter()
        r = np.asarray(R_w2c, np.float64)
        t = np.asarray(t_w2c, np.float64)
        k = np.asarray(K, np.float64)
        hidden = scene_depth is not None
        for prog in self.programs[hidden]:
            self._set_uniforms(prog, r, t, k, w, h, near_m, far_m, scene_depth_unit)
        if hidden:
            scene_depth.use(location=scene_depth_unit)
        quads_vao, points_vao = self.vaos[hidden]
        ctx = self.ctx
        previous_fbo = ctx.fbo
        target.use()
        if clear:
            target.clear(0.0, 0.0, 0.0, 0.0)
        g = int(self.GUARD_PX)
        ctx.viewport = (-g, -g, w + 2 * g, h + 2 * g)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        ctx.blend_equation = moderngl.FUNC_ADD
        self.geo_buffer.bind_to_storage_buffer(0)
        self.sh_buffer.bind_to_storage_buffer(1)
        self.order_buffer.bind_to_storage_buffer(2)
        self.fade_buffer.bind_to_storage_buffer(3)
        for as_quads, first, count in runs:
            if as_quads:
                quads_vao.render(moderngl.TRIANGLES, vertices=6 * count, first=6 * first)
            else:
                points_vao.render(moderngl.POINTS, vertices=count, first=first)
        ctx.finish()
        ctx.disable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        ctx.viewport = (0, 0, w, h)
        if _is_live_framebuffer(previous_fbo):
            previous_fbo.use()  # leave the binding as found
        t3 = time.perf_counter()
        self.timings_ms = {"sort": 1e3 * (t1 - t0), "upload": 1e3 * (t2 - t1),
                           "raster": 1e3 * (t3 - t2)}
        self.last_stats = {"drawn": len(order), "as_quads": int(sum(c for q, _, c in runs if q)),
                           "runs": len(runs)}
        err = ctx.error  # reading clears it
        if err != "GL_NO_ERROR":
            raise RenderError(f"SplatPass.draw: OpenGL error {err}")
        return len(order)


def _camera_close(R0, centre0_m, R1, centre1_m, move_m: float, turn_deg: float) -> bool:
    """Whether camera 1 is within `move_m` metres and `turn_deg` degrees of camera 0."""
    if np.linalg.norm(np.asarray(centre1_m) - centre0_m) > move_m:
        return False
    cos_turn = 0.5 * (float(np.trace(np.asarray(R1) @ np.asarray(R0).T)) - 1.0)
    return cos_turn >= np.cos(np.radians(turn_deg))


def _is_live_framebuffer(fbo) -> bool:
    return (fbo is not None and type(fbo).__name__ == "Framebuffer"
            and type(getattr(fbo, "mglo", None)).__name__ != "InvalidObject")


def make_splat_target(ctx, size_px, depth_components: int = 1):
    """A framebuffer satisfying the SplatPass contract: (fbo, colour RGBA32F, depth-sum R32F)."""
    w, h = int(size_px[0]), int(size_px[1])
    color = ctx.texture((w, h), 4, dtype="f4")
    zsum = ctx.texture((w, h), depth_components, dtype="f4")
    return ctx.framebuffer(color_attachments=[color, zsum]), color, zsum


def read_splat_target(color, zsum) -> dict[str, np.ndarray]:
    """Read a target back in OpenCV row order → {'rgb' premultiplied (H, W, 3), 'alpha' (H, W),
    'depth' expected camera z (H, W), 0 where alpha = 0}."""
    w, h = color.size
    rgba = np.flipud(np.frombuffer(color.read(), np.float32).reshape(h, w, 4))
    zs = np.flipud(np.frombuffer(zsum.read(), np.float32).reshape(h, w, zsum.components))[..., 0]
    alpha = rgba[..., 3]
    depth = np.where(alpha > 1e-6, zs / np.maximum(alpha, 1e-6), 0.0).astype(np.float32)
    return {"rgb": rgba[..., :3].copy(), "alpha": alpha.copy(), "depth": depth}
