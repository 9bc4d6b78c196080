"""Scene: plain data that every source produces and every renderer consumes.

World frame: metres, right-handed, Z up, X east, Y north (local ENU around `origin`).
Nothing here draws or loads anything; renderers pick a handler per content type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .report import LoadReport  # noqa: F401  (the type of Scene.report)

# Shading kinds understood by the renderer (Material.kind).
PLAIN, FACADE, SHOPFRONT, EMISSIVE, ROAD, FOLIAGE = 0, 1, 2, 3, 4, 5
# THIN: a tube built by MeshBuilder.tube (uv.x = its radius, normals radial), shaded as PLAIN and
# widened in the vertex shader to about a pixel wherever it would be thinner (wires stay lines)
THIN = 6
# Scene.textures[name + PBR_SUFFIX], when present, is the texture's normal + roughness layer.
PBR_SUFFIX = ".pbr"


@dataclass(frozen=True)
class Material:
    """Surface appearance: linear albedo tint, roughness, optional texture, emission.

    `texture` names an entry of Scene.textures (sRGB RGBA8), multiplied by `albedo`; an entry
    `texture + PBR_SUFFIX` (tangent-space normal xyz 0..255, roughness in alpha), if there is
    one, bends the shading normal and replaces `roughness` (procedural material families).
    `emissive` is radiance relative to the albedo (1 = as bright as a white surface at noon
    would look under exposure for dusk); it is what makes signs and vending machines glow.
    `kind` selects a shading path (FACADE draws windows from the UV grid, one cell per bay/floor;
    on EMISSIVE surfaces a mesh's per-vertex `variation` damps the glow: 0 full, 1 none).
    """

    name: str
    albedo: tuple[float, float, float] = (0.5, 0.5, 0.5)
    roughness: float = 0.8
    texture: str | None = None
    emissive: float = 0.0
    kind: int = PLAIN


@dataclass
class Mesh:
    """Triangles with one material. positions/normals: (N, 3) float32, uvs: (N, 2) float32,
    indices: (M, 3) uint32. Optional per-vertex `colors` (N, 3) linear multiply the albedo and
    `variation` (N,) in 0..1 keys procedural shading (e.g. one value per building)."""

    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    indices: np.ndarray
    material: Material
    colors: np.ndarray | None = None
    variation: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.positions)
        if self.normals.shape != (n, 3) or self.uvs.shape != (n, 2) or self.indices.ndim != 2:
            raise ValueError(f"mesh '{self.material.name}': inconsistent array shapes")
        if self.colors is not None and self.colors.shape != (n, 3):
            raise ValueError(f"mesh '{self.material.name}': colors must be (N, 3)")
        if self.variation is not None and self.variation.shape != (n,):
            raise ValueError(f"mesh '{self.material.name}': variation must be (N,)")
        if len(self.indices) and int(self.indices.max()) >= n:
            raise ValueError(f"mesh '{self.material.name}': index out of range")

    @property
    def triangle_count(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class PointLight:
    """A local light (street lamp): position (3,) m, linear colour, luminous intensity in
    candela (illuminance at d metres = intensity / d² lux), and the range beyond which it is ignored."""

    position: tuple[float, float, float]
    color: tuple[float, float, float] = (1.0, 0.85, 0.6)
    intensity: float = 2500.0
    range_m: float = 18.0


@dataclass
class Street:
    """A street's centre line (2D polyline (K, 2)), its carriageway width and sidewalk width
    (0 for Japanese-style side streets without separate sidewalks)."""

    name: str
    kind: str  # "main" | "side"
    centerline: np.ndarray
    road_width_m: float
    sidewalk_width_m: float


@dataclass
class WalkNetwork:
    """Where people walk: nodes (N, 3) m and undirected edges (E, 2) into nodes, each edge
    tagged with a kind ('sidewalk', 'street_edge', 'crossing') and the street it belongs to."""

    nodes: np.ndarray
    edges: np.ndarray
    edge_kinds: list[str]
    edge_streets: list[str]

    def neighbours(self) -> dict[int, list[int]]:
        adj: dict[int, list[int]] = {i: [] for i in range(len(self.nodes))}
        for a, b in self.edges:
            adj[int(a)].append(int(b))
            adj[int(b)].append(int(a))
        return adj


@dataclass
class Scene:
    """Everything a renderer needs about the world, plus the walkable network for cameras.

    Typed fields carry what one stage tells another (`lit_window_share` for the renderer,
    `capture_cameras_m` and `side_street_x_m` for the camera and sheets); `stats` holds only
    counts and timings for logs and benchmarks — no stage reads it to decide anything."""

    meshes: list[Mesh] = field(default_factory=list)
    textures: dict[str, np.ndarray] = field(default_factory=dict)
    lights: list[PointLight] = field(default_factory=list)
    streets: list[Street] = field(default_factory=list)
    network: WalkNetwork | None = None
    origin_latlon: tuple[float, float] = (35.68, 139.76)
    bounds_m: tuple[tuple[float, float, float], tuple[float, float, float]] = ((-1, -1, 0), (1, 1, 1))
    gaussians: list = field(default_factory=list)
    copyright: list[str] = field(default_factory=list)
    style: str = ""
    stats: dict = field(default_factory=dict)
    ground_fn: Callable[[float, float], float] | None = None
    lit_window_share: float = 0.5  # share of windows lit at night (a style's facade parameter)
    capture_cameras_m: np.ndarray | None = None  # (M, 3) centres of the cameras that captured a splat scene
    side_street_x_m: tuple[float, ...] = ()  # procedural: where side streets cross the main street
    report: "LoadReport | None" = None  # what the source loaded and skipped (scene/report.py)

    @property
    def triangle_count(self) -> int:
        return sum(m.triangle_count for m in self.meshes)

    def ground_height_m(self, x: float, y: float) -> float:
        """Height of walkable ground under (x, y): from `ground_fn` (e.g. a ray cast onto an
        imported mesh) when set, else 0 (procedural streets are flat)."""
        return float(self.ground_fn(x, y)) if self.ground_fn is not None else 0.0

    def transformed(self, matrix: np.ndarray) -> "Scene":
        """The scene moved by a 4×4 similarity (uniform scale, rotation, shift): meshes, lights,
        streets, walk network, Gaussians, capture cameras, bounds and the ground all move together.
        Lamps keep their look: their range scales with the world and their intensity with its square."""
        from .placement import transform_scene

        return transform_scene(self, np.asarray(matrix, np.float64))

    def cropped(self, box_min, box_max) -> "Scene":
        """The part of the scene inside the axis-aligned box (3,) m: triangles by centroid, lights,
        street points, network nodes (and the edges between kept nodes), Gaussians, cameras."""
        from .placement import crop_scene

        return crop_scene(self, np.asarray(box_min, np.float64), np.asarray(box_max, np.float64))
