"""Moving and cropping a whole Scene: every positioned thing in it follows (meshes, lights,
streets, walk network, Gaussians, capture cameras, bounds, ground), so a placed world stays whole."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import SceneError


def _similarity_parts(m: np.ndarray) -> tuple[float, np.ndarray]:
    """(uniform scale s, rotation (3, 3)) of a 4×4 similarity; SceneError for anything else."""
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise SceneError(f"scene transform: expected a finite 4x4 matrix, got shape {m.shape}")
    det = float(np.linalg.det(m[:3, :3]))
    if det <= 0:
        raise SceneError(f"scene transform: determinant {det:.3g}; expected rotation × positive uniform scale")
    s = float(np.cbrt(det))
    return s, m[:3, :3] / s


def _points(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    return p @ m[:3, :3].T + m[:3, 3]


def transform_scene(scene, m: np.ndarray):
    """See Scene.transformed."""
    if np.allclose(m, np.eye(4)):
        return scene
    from . import Mesh, PointLight, Street, WalkNetwork

    s, rot = _similarity_parts(m)
    meshes = [Mesh(_points(mesh.positions, m).astype(np.float32), (mesh.normals @ rot.T).astype(np.float32),
                   mesh.uvs, mesh.indices, mesh.material, mesh.colors, mesh.variation) for mesh in scene.meshes]
    lights = [PointLight(tuple(map(float, _points(np.asarray(L.position, float), m))), L.color,
                         L.intensity * s * s, L.range_m * s) for L in scene.lights]
    m2 = _planar(m)
    streets = [Street(st.name, st.kind, _points2(st.centerline, m2), st.road_width_m * s, st.sidewalk_width_m * s)
               for st in scene.streets]
    network = None
    if scene.network is not None:
        n = scene.network
        network = WalkNetwork(_points(np.asarray(n.nodes, float), m), n.edges, list(n.edge_kinds), list(n.edge_streets))
    lo, hi = np.array(scene.bounds_m[0]), np.array(scene.bounds_m[1])
    corners = _points(np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]), m)
    cams = None if scene.capture_cameras_m is None else _points(np.asarray(scene.capture_cameras_m, float), m)
    return dataclasses.replace(
        scene, meshes=meshes, lights=lights, streets=streets, network=network, capture_cameras_m=cams,
        gaussians=[g.transformed(m) for g in scene.gaussians],
        bounds_m=(tuple(corners.min(0)), tuple(corners.max(0))),
        ground_fn=_moved_ground(scene.ground_fn, m, s, m2),
        side_street_x_m=() if m2 is None else scene.side_street_x_m)


def _planar(m: np.ndarray) -> np.ndarray | None:
    """The 2D part (3, 3) of a transform that keeps Z up (turns about Z, scale, shift), else None."""
    if np.abs(m[2, :2]).max() > 1e-9 or np.abs(m[:2, 2]).max() > 1e-9:
        return None
    out = np.eye(3)
    out[:2, :2], out[:2, 2] = m[:2, :2], m[:2, 3]
    return out


def _points2(p: np.ndarray, m2: np.ndarray | None) -> np.ndarray:
    if m2 is None:
        raise SceneError("scene transform: streets lie on the ground; only turns about Z keep them there")
    return np.asarray(p, float) @ m2[:2, :2].T + m2[:2, 2]


def _moved_ground(ground_fn, m: np.ndarray, s: float, m2: np.ndarray | None):
    """The ground height function in the moved scene: flat ground (None) moves up by the shift,
    a height field is looked up where the new point came from and scaled."""
    tz = float(m[2, 3])
    if ground_fn is None:
        return None if tz == 0.0 else (lambda x, y: tz)
    if m2 is None:
        raise SceneError("scene transform: a ground height field only survives turns about Z")
    inv = np.linalg.inv(m2)

    def moved(x: float, y: float) -> float:
        x0, y0 = inv[:2, :2] @ (x, y) + inv[:2, 2]
        return s * float(ground_fn(float(x0), float(y0))) + tz

    return moved


def crop_scene(scene, lo: np.ndarray, hi: np.ndarray):
    """See Scene.cropped."""
    from . import Mesh, Street, WalkNetwork

    if lo.shape != (3,) or hi.shape != (3,) or np.any(lo > hi):
        raise SceneError(f"crop box {lo.tolist()}..{hi.tolist()}: expected two (3,) corners, min ≤ max")

    def inside(p):
        return np.all((p >= lo) & (p <= hi), axis=-1)

    meshes = []
    for mesh in scene.meshes:
        keep = inside(mesh.positions[mesh.indices].mean(1))
        if keep.any():
            meshes.append(Mesh(mesh.positions, mesh.normals, mesh.uvs, mesh.indices[keep], mesh.material,
                               mesh.colors, mesh.variation))
    lights = [L for L in scene.lights if inside(np.asarray(L.position, float))]
    streets = []
    for st in scene.streets:
        line = np.asarray(st.centerline, float)
        kept = line[np.all((line >= lo[:2]) & (line <= hi[:2]), axis=1)]
        if len(kept) >= 2:
            streets.append(Street(st.name, st.kind, kept, st.road_width_m, st.sidewalk_width_m))
    network = None
    if scene.network is not None:
        n = scene.network
        keep = inside(np.asarray(n.nodes, float))
        new_id = np.cumsum(keep) - 1
        e = np.asarray(n.edges).reshape(-1, 2)
        both = keep[e[:, 0]] & keep[e[:, 1]] if len(e) else np.zeros(0, bool)
        if keep.any():
            network = WalkNetwork(np.asarray(n.nodes)[keep], new_id[e[both]].reshape(-1, 2),
                                  [k for k, b in zip(n.edge_kinds, both) if b],
                                  [k for k, b in zip(n.edge_streets, both) if b])
    cams = scene.capture_cameras_m
    if cams is not None:
        cams = np.asarray(cams)[inside(np.asarray(cams, float))]
    return dataclasses.replace(
        scene, meshes=meshes, lights=lights, streets=streets, network=network, capture_cameras_m=cams,
        gaussians=[g.cropped(lo, hi) for g in scene.gaussians],
        bounds_m=(tuple(np.maximum(lo, scene.bounds_m[0])), tuple(np.minimum(hi, scene.bounds_m[1]))),
        side_street_x_m=tuple(x for x in scene.side_street_x_m if lo[0] <= x <= hi[0]))
