"""Everything that makes a Scene. `build_scene` dispatches on the Shot's scene.source and applies
the Shot's placement (up axis, scale, turn, shift, crop)."""

from __future__ import annotations

import numpy as np

from ..errors import SceneError
from ..scene import Mesh, Scene


def placement_matrix(spec) -> np.ndarray:
    """The user transform of a SceneSpec as a 4×4 similarity: scale, turn about Z, then shift."""
    a = np.radians(spec.rotate_z_deg)
    m = np.eye(4)
    m[:3, :3] = spec.scale * np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    m[:3, 3] = spec.translate_m
    return m


UP_AXES = {"z": np.eye(3), "y": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
           "-y": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])}


def transform_meshes(scene: Scene, m: np.ndarray) -> Scene:
    """Apply a 4×4 similarity to every mesh (positions, normals), lights and bounds, in place."""
    if np.allclose(m, np.eye(4)):
        return scene
    rot = m[:3, :3] / np.cbrt(np.linalg.det(m[:3, :3]))
    for mesh in scene.meshes:
        mesh.positions = (mesh.positions @ m[:3, :3].T + m[:3, 3]).astype(np.float32)
        mesh.normals = (mesh.normals @ rot.T).astype(np.float32)
    lo, hi = np.array(scene.bounds_m[0]), np.array(scene.bounds_m[1])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    c = corners @ m[:3, :3].T + m[:3, 3]
    scene.bounds_m = (tuple(c.min(0)), tuple(c.max(0)))
    return scene


def _crop_meshes(scene: Scene, lo, hi) -> Scene:
    """Keep triangles whose centroid lies in the box."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    kept = []
    for mesh in scene.meshes:
        cen = mesh.positions[mesh.indices].mean(1)
        inside = np.all((cen >= lo) & (cen <= hi), axis=1)
        if inside.any():
            kept.append(Mesh(mesh.positions, mesh.normals, mesh.uvs, mesh.indices[inside], mesh.material,
                             mesh.colors, mesh.variation))
    scene.meshes = kept
    scene.bounds_m = (tuple(np.maximum(lo, scene.bounds_m[0])), tuple(np.minimum(hi, scene.bounds_m[1])))
    return scene


def build_scene(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """A Scene for a SceneSpec (procedural style + seed, or a file source). `cameras` (list of
    (position (3,), fov_y_deg, height_px)) lets 3D Tiles load only the detail the walk needs."""
    if spec.source == "procedural":
        from .procedural import generate_street, load_style

        style = load_style(spec.style)
        scene = generate_street(style, spec.seed, extent_m=min_extent_m)
        scene.stats["lit_window_share"] = style.facade.lit_window_share
        return scene
    if spec.source == "splat":
        return _splat_scene(spec)
    if spec.source == "osm":
        from .osm import load_osm

        scene = load_osm(spec.path, style=spec.style, seed=spec.seed)
    elif spec.source == "mesh":
        from .meshes import load_mesh_scene

        scene = load_mesh_scene(spec.path, up_axis=None if spec.up == "auto" else spec.up.lstrip("-"))
    elif spec.source == "kmz":
        from .kmz import load_kmz

        scene = load_kmz(spec.path)
    elif spec.source == "tiles":
        from .tiles import load_tiles

        scene = load_tiles(spec.path, cameras=cameras)
    else:  # pragma: no cover - the Shot validates the source
        raise SceneError(f"unknown scene.source '{spec.source}'")
    transform_meshes(scene, placement_matrix(spec))
    if spec.crop_m is not None:
        _crop_meshes(scene, *spec.crop_m)
    if spec.source != "osm":
        from .meshes import ground_height_fn

        scene.ground_fn = ground_height_fn(scene)
    return scene


def capture_cameras_c2w(splat_path) -> np.ndarray | None:
    """Camera-to-world poses (M, 4, 4), OpenCV convention, of the capture behind a splat file, from
    a sidecar beside it: `<stem>.cameras.json` (citywalk camera track) or nerfstudio `transforms.json`."""
    import json
    from pathlib import Path

    p = Path(splat_path)
    track = p.with_name(p.name.split(".")[0] + ".cameras.json")
    if track.is_file():
        from ..tracks import read_camera_track

        frames = read_camera_track(track)["frames"]
        c2w = np.tile(np.eye(4), (len(frames), 1, 1))
        for i, f in enumerate(frames):
            R, t = np.asarray(f["R_w2c"]), np.asarray(f["t_w2c"])
            c2w[i, :3, :3] = R.T
            c2w[i, :3, 3] = -R.T @ t
        return c2w if len(frames) else None
    ns = p.with_name("transforms.json")
    if ns.is_file():
        try:
            data = json.loads(ns.read_text(encoding="utf-8"))
            gl = np.array([f["transform_matrix"] for f in data["frames"]], float)
        except (ValueError, KeyError, TypeError) as exc:
            raise SceneError(f"{ns}: not a nerfstudio transforms.json ({exc})") from None
        if gl.ndim != 3 or gl.shape[1:] != (4, 4) or not len(gl):
            raise SceneError(f"{ns}: transform_matrix must be 4x4 per frame")
        return gl @ np.diag([1.0, -1.0, -1.0, 1.0])  # OpenGL camera axes → OpenCV
    return None


def packaged_ground_z_m(splat_path) -> float | None:
    """The ground height of a splat file that a capture package already placed metric and Z-up
    (its `ground.json` beside it says `ground_z_m`), else None. Re-estimating the ground from a
    trained cloud would be wrong: it holds fill and sky splats far below and above the street."""
    import json
    from pathlib import Path

    g = Path(splat_path).with_name("ground.json")
    if not g.is_file():
        return None
    try:
        z = json.loads(g.read_text(encoding="utf-8"))["ground_z_m"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SceneError(f"{g}: not a capture package's ground file ({exc})") from None
    if not isinstance(z, (int, float)) or not np.isfinite(z):
        raise SceneError(f"{g}: ground_z_m must be a finite number, got {z!r}")
    return float(z)


def _splat_scene(spec) -> Scene:
    """A Gaussian splat file placed metric and Z-up: the up axis is estimated ('auto', from the
    capture cameras when a sidecar has them, else from the ground; a capture package is placed
    already) or given, the ground moved to z = 0, then the user's scale, turn, shift and crop.
    Capture camera centres are kept (in scene metres) so the automatic walk can follow the
    capture's own trajectory."""
    from .splats import estimate_ground, load_splat_scene

    cloud = load_splat_scene(spec.path)
    cams = capture_cameras_c2w(spec.path)
    placed_z = packaged_ground_z_m(spec.path)
    if spec.up == "auto" and placed_z is not None:  # a citywalk capture package: already placed
        ground_t = np.eye(4)
        ground_t[2, 3] = -placed_z
    elif spec.up == "auto":
        _, _, ground_t = estimate_ground(cloud, cameras_c2w=cams, rng=np.random.default_rng(spec.seed))
    else:
        ground_t = np.eye(4)
        ground_t[:3, :3] = UP_AXES[spec.up]
        z = (cloud.means @ UP_AXES[spec.up].T)[:, 2]
        ground_t[2, 3] = -float(np.percentile(z, 2))
    cloud = cloud.transformed(placement_matrix(spec) @ ground_t)
    if spec.crop_m is not None:
        cloud = cloud.cropped(*spec.crop_m)
    if cloud.count == 0:
        raise SceneError(f"{spec.path}: no splats left after placement and crop")
    lo = np.percentile(cloud.means, 1, axis=0)
    hi = np.percentile(cloud.means, 99, axis=0)
    stats = {"splats": cloud.count}
    if cams is not None:
        m = placement_matrix(spec) @ ground_t
        stats["capture_cameras_m"] = cams[:, :3, 3] @ m[:3, :3].T + m[:3, 3]
    return Scene(gaussians=[cloud], bounds_m=(tuple(lo), tuple(hi)), style="splat", stats=stats)
