"""What every pass shares for one frame: the FrameContext value, the texture-unit table, the
Pass interface, and the OpenCV → GL camera conversion (the only place that does it).

Passes read the frame through a FrameContext built once before the first pass; none reads
state that another pass set during the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..camera.track import CameraFrame

if TYPE_CHECKING:
    from .lights import SceneLight
    from .targets import Targets

NEAR_M, FAR_M = 0.1, 1500.0  # the GL depth range of every frame


class TextureUnit(IntEnum):
    """Which texture unit each texture is bound to while its pass draws. Samplers of different
    types may not share a unit within one program, so the 3D lamp textures have units of their
    own; a pass binds its textures every frame and never relies on a binding left by another."""

    SURFACES = 0     # 2D array of the scene's surface textures (meshes)
    SKY = 1          # lat-long sky radiance (meshes, sky, post reflections)
    SHADOW = 2       # sun shadow map, depth compare (meshes)
    HDR = 3          # resolved HDR colour (exposure meter, post)
    DEPTH = 4        # scene depth, window 0..1 (post, splat occlusion)
    SPLAT_COLOR = 5  # premultiplied splat layer (post)
    SPLAT_Z = 6      # alpha-weighted splat camera z (post)
    GLOW = 7         # quarter-resolution bloom (post)
    PASS_INPUT = 8   # the one input of the small full-screen passes (bloom, blur, FXAA)
    AO_A = 9         # 3D baked sky visibility +x −x +y −y (meshes)
    LAMP_TOTAL = 10  # 3D lamp illuminance volume (meshes, precipitation)
    LAMP_DIR = 11    # 3D lamp direction volume (meshes)
    PRECIP = 12      # rain and snow layer (post)
    ACTOR = 13       # an actor card's matte (actors)
    MESH_Z = 14      # mesh camera z in metres that hides splats behind geometry (splats)
    AO_B = 15        # 3D baked sky +z, contact +z and horizontal (meshes)
    SURFACE_PBR = 16  # 2D array of the surface textures' normal + roughness layers (meshes)
    SHADOW_DEPTH = 17  # the sun shadow map as plain depths, PCSS blocker search (meshes)


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


def ray_lengths(K: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """Length of each pixel's ray per metre of camera z, (H, W)."""
    w, h = size_px
    u = (np.arange(w) + 0.5 - K[0, 2]) / K[0, 0]
    v = (np.arange(h) + 0.5 - K[1, 2]) / K[1, 1]
    return np.sqrt(1 + u[None, :] ** 2 + v[:, None] ** 2)


def depth_to_distance(z01: np.ndarray, K: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """GL window depth (H, W) in 0..1 (row 0 = top) → distance along each pixel's ray, metres."""
    zn = z01.astype(np.float64) * 2 - 1
    view_z = 2 * NEAR_M * FAR_M / (FAR_M + NEAR_M - zn * (FAR_M - NEAR_M))
    d = (view_z * ray_lengths(K, size_px)).astype(np.float32)
    d[z01 >= 1.0] = np.inf
    return d


@dataclass(frozen=True)
class FrameContext:
    """One frame as the passes see it. Matrices are (4, 4) float64 for GL: `view` maps world to
    GL camera coordinates, `projection` GL camera to clip space. `targets` are the frame's
    images, `light` the light of the moment (sky, shadow map, lamps). `exposure` (multiplier on
    kcd/m²) is None for the passes that draw HDR light and set for those after the meter.
    `linear`: the post pass also writes exposed linear radiance. `prev_view_proj`: the previous
    frame's camera (motion blur), None for a shot's first frame or a still."""

    frame: CameraFrame
    projection: np.ndarray
    view: np.ndarray
    view_proj: np.ndarray
    inv_view_proj: np.ndarray
    targets: Targets
    light: SceneLight
    exposure: float | None = None
    linear: bool = False
    prev_view_proj: np.ndarray | None = None

    @classmethod
    def build(cls, frame: CameraFrame, targets: Targets, light: SceneLight, linear: bool = False,
              previous: CameraFrame | None = None) -> FrameContext:
        """The context of `frame` before exposure is known (`previous`: the frame before it)."""
        projection = gl_projection(frame.K, targets.size_px)
        view = gl_view(frame.R, frame.t)
        view_proj = projection @ view
        prev = None
        if previous is not None:
            prev = gl_projection(previous.K, targets.size_px) @ gl_view(previous.R, previous.t)
        return cls(frame, projection, view, view_proj, np.linalg.inv(view_proj), targets, light, linear=linear,
                   prev_view_proj=prev)

    def exposed(self, exposure: float) -> FrameContext:
        """The same frame with its exposure known (for the passes after the meter)."""
        return replace(self, exposure=float(exposure))

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def time_s(self) -> float:
        return self.frame.time_s

    @property
    def size_px(self) -> tuple[int, int]:
        return self.targets.size_px

    @property
    def cam_pos(self) -> np.ndarray:
        """Camera centre in world metres, (3,)."""
        return self.frame.position


def resized_frame(frame: CameraFrame, size_px: tuple[int, int]) -> CameraFrame:
    """The same camera for an image of `size_px` (intrinsics scaled per axis)."""
    K = frame.K.copy()
    K[0] *= size_px[0] / frame.size_px[0]
    K[1] *= size_px[1] / frame.size_px[1]
    return replace(frame, K=K, size_px=tuple(size_px))


class Pass(Protocol):
    """One step of a frame. `update_lighting` runs when the light changes (between frames),
    `draw` once per frame in the renderer's pass order, `release` frees the pass's GL objects."""

    def update_lighting(self, light: SceneLight) -> None: ...

    def draw(self, fc: FrameContext) -> None: ...

    def release(self) -> None: ...
