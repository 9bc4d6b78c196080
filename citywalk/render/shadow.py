"""The sun's shadow map: the scene's depth seen from the sun, orthographic, over the walk (or the
whole scene). Rebuilt only when the sun has moved; read back to the CPU on demand for actors."""

from __future__ import annotations

import numpy as np

from ..look.lighting import Lighting
from .gl import check_gl

SHADOW_SIZE_PX = 4096
FOCUS_MARGIN_M = 90.0  # the map covers the walk's points plus this much around them
# penumbra half-width per metre from surface to occluder: the sun's 0.27° radius, widened ×2
# for the sky's forward scatter around it (soft far shadows, hard contact shadows: PCSS)
SUN_SOFTNESS = 2.0 * np.tan(np.radians(0.27))


def light_matrix(sun_dir: np.ndarray, bounds_m, focus_points: np.ndarray | None) -> np.ndarray:
    """Clip-from-world (4, 4) of an orthographic camera looking down `sun_dir` (toward the sun)
    that covers the focus points (+ FOCUS_MARGIN_M) or, without them, the scene's bounds."""
    (x0, y0, z0), (x1, y1, z1) = bounds_m
    if focus_points is not None and len(focus_points):
        c = focus_points.mean(0)
        radius = float(np.linalg.norm(focus_points - c, axis=1).max()) + FOCUS_MARGIN_M
    else:
        c = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
        radius = float(np.hypot(x1 - x0, y1 - y0)) / 2
    top = max(z1, 10.0)
    d = sun_dir / np.linalg.norm(sun_dir)
    up = np.array([0, 0, 1.0]) if abs(d[2]) < 0.99 else np.array([0, 1.0, 0])
    f = -d
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    eye = c + d * (top + radius * 2)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = r, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    depth = (top + radius * 2) * 2 + radius
    proj = np.diag([1 / radius, 1 / radius, -2 / depth, 1.0])
    proj[2, 3] = -1.0
    return proj @ view


class ShadowMap:
    """Depth texture (compare mode, for sampler2DShadow) of the scene from the sun. `active` is
    False when the sun is down or dark (then `light_mat` is the identity and nothing is drawn)."""

    def __init__(self, ctx, geometry, bounds_m, focus_points: np.ndarray | None):
        import moderngl

        self.ctx, self.geometry, self.bounds_m, self.focus_points = ctx, geometry, bounds_m, focus_points
        self.texture = ctx.depth_texture((SHADOW_SIZE_PX, SHADOW_SIZE_PX))
        self.texture.compare_func = "<="
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.fbo = ctx.framebuffer(depth_attachment=self.texture)
        # the same map read as plain depths (no compare), for the PCSS blocker search
        self.depth_sampler = ctx.sampler(texture=self.texture, filter=(moderngl.NEAREST, moderngl.NEAREST),
                                         repeat_x=False, repeat_y=False, compare_func="")
        self.depth_m = self.extent_m = 1.0  # depth range and width of the map's box, metres
        self.active = False
        self.light_mat = np.eye(4)
        self.sun_key: tuple | None = None  # the sun direction (rounded) the map was drawn for
        self._cpu: np.ndarray | None = None  # the map read back, for `visibility`

    def update(self, lighting: Lighting) -> None:
        """Redraw the map if the sun has moved (direction rounded to 1e-3) since the last one.
        The map is drawn for the rounded sun, so it is the same whichever lighting first moved
        there (a frame range rendered on its own gets the map a whole shot would have)."""
        sun = (tuple(np.round(lighting.sun_dir, 3)), bool(lighting.sun_illuminance[1] > 0))
        if sun != self.sun_key:
            self.sun_key = sun
            self._draw(np.asarray(sun[0], float), sun[1])

    def _draw(self, sun_dir: np.ndarray, sunlit: bool) -> None:
        import moderngl

        self._cpu = None
        self.active = bool(sunlit and sun_dir[2] > 0.0)
        if not self.active:
            self.light_mat = np.eye(4)
            return
        self.light_mat = light_matrix(sun_dir, self.bounds_m, self.focus_points)
        self.depth_m = 2.0 / float(np.linalg.norm(self.light_mat[2, :3]))
        self.extent_m = 2.0 / float(np.linalg.norm(self.light_mat[0, :3]))
        self.fbo.use()
        self.fbo.clear(depth=1.0)
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.ctx.disable(moderngl.CULL_FACE)
        self.ctx.depth_func = "<"
        self.geometry.draw_depth(self.light_mat)
        check_gl(self.ctx, "shadow pass")

    def visibility(self, points_m: np.ndarray, sun_up: bool) -> np.ndarray:
        """0..1 per world point (N, 3): how much of the sun reaches it. Without a map: 1 where
        `sun_up` (the sun gives light), else 0."""
        pts = np.atleast_2d(np.asarray(points_m, float))
        if not self.active:
            return np.ones(len(pts)) if sun_up else np.zeros(len(pts))
        if self._cpu is None:
            self.texture.compare_func = ""
            raw = self.texture.read()
            self.texture.compare_func = "<="
            self._cpu = np.frombuffer(raw, np.float32).reshape(SHADOW_SIZE_PX, SHADOW_SIZE_PX)
        h = np.c_[pts, np.ones(len(pts))] @ self.light_mat.T
        c = h[:, :3] / h[:, 3:4] * 0.5 + 0.5
        ij = np.clip((c[:, :2] * SHADOW_SIZE_PX).astype(int), 0, SHADOW_SIZE_PX - 1)
        stored = self._cpu[ij[:, 1], ij[:, 0]]
        inside = np.all((c[:, :2] >= 0) & (c[:, :2] <= 1), axis=1)
        return np.where(inside, (c[:, 2] - 0.0015 <= stored).astype(float), 1.0)

    def release(self) -> None:
        self.depth_sampler.release()
        self.fbo.release()
        self.texture.release()
