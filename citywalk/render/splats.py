"""The splat layer pass: the scene's Gaussian clouds drawn by `splat_gl.SplatPass` into their
own target (premultiplied, display-referred), hidden behind the meshes by the mesh camera z.
The post pass composites the layer after the tone curve (splats carry baked light)."""

from __future__ import annotations

from ..scene.gaussians import GaussianCloud
from .frame import FAR_M, NEAR_M, FrameContext, TextureUnit
from .gl import Fullscreen


class SplatLayerPass:
    """Draws `clouds` (merged into one, so one depth sort covers them all) into
    targets.splat_fbo for frames of `size_px`, at most `budget` Gaussians a frame (a
    level-of-detail cut beyond it; None: the device default). `occluded`: whether anything
    draws depth before it (meshes, actors, agents); without, the splats are drawn by a program
    that reads no scene depth (llvmpipe would read it for every fragment)."""

    def __init__(self, ctx, clouds: list[GaussianCloud], size_px: tuple[int, int],
                 budget: int | None = None, occluded: bool = True):
        from .splat_gl import SplatPass

        cloud = clouds[0] if len(clouds) == 1 else GaussianCloud.concatenate(clouds)
        self.ctx = ctx
        self.splats = SplatPass(ctx, cloud, budget=budget)  # None: the device's default budget
        self.mesh_z_tex = ctx.texture(tuple(size_px), 1, dtype="f4")  # camera z (m) of the meshes
        self.mesh_z_fbo = ctx.framebuffer(self.mesh_z_tex)
        self.linear_depth = Fullscreen(ctx, "linear_depth.frag")
        self.occluded = bool(occluded)

    def update_lighting(self, light) -> None:
        """Nothing: splats carry their own (baked) light."""

    def draw(self, fc: FrameContext) -> None:
        if self.occluded:
            self.linear_depth.draw(self.mesh_z_fbo, {"u_depth": (TextureUnit.DEPTH, fc.targets.depth_tex)},
                                   {"u_near": NEAR_M, "u_far": FAR_M})
        f = fc.frame
        self.splats.draw(f.R, f.t, f.K, fc.size_px, fc.targets.splat_fbo,
                         scene_depth=self.mesh_z_tex if self.occluded else None,
                         near_m=NEAR_M, far_m=FAR_M, scene_depth_unit=int(TextureUnit.MESH_Z))

    def release(self) -> None:
        self.splats.release()
        self.linear_depth.release()
        self.mesh_z_fbo.release()
        self.mesh_z_tex.release()
