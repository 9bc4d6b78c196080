"""Everything that makes a Scene. `build_scene` dispatches on the Shot's scene.source and applies
the Shot's placement (up axis, scale, turn, shift, crop)."""

from __future__ import annotations

import numpy as np

from ..errors import SceneError
from ..scene import Scene


def placement_matrix(spec) -> np.ndarray:
    """The user transform of a SceneSpec as a 4×4 similarity: scale, turn about Z, then shift."""
    a = np.radians(spec.rotate_z_deg)
    m = np.eye(4)
    m[:3, :3] = spec.scale * np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    m[:3, 3] = spec.translate_m
    return m


UP_AXES = {"z": np.eye(3), "y": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
           "-y": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])}


def build_scene(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """A Scene for a SceneSpec, by the loader that citywalk.registry names for its source.
    `cameras` (list of (position (3,), fov_y_deg, height_px)) lets 3D Tiles load only the detail
    the walk needs."""
    from ..registry import SCENE_SOURCES

    if spec.source not in SCENE_SOURCES:  # pragma: no cover - the Shot validates the source
        raise SceneError(f"unknown scene.source '{spec.source}'; accepted: {', '.join(SCENE_SOURCES)}")
    scene = SCENE_SOURCES[spec.source].load()(spec, min_extent_m=min_extent_m, cameras=cameras)
    return with_report(scene, getattr(spec, "path", None) or spec.source)


def with_report(scene: Scene, source: str) -> Scene:
    """Every scene leaves its loader with a LoadReport (scene/report.py): the loader's own, or a
    new one, and in either case what is drawable now (after placement and crop) counted in it."""
    from ..scene.report import LoadReport

    report = scene.report if scene.report is not None else LoadReport(source=str(source))
    report.source = report.source or str(source)
    report.loaded["triangles"] = scene.triangle_count
    report.loaded["splats"] = sum(int(getattr(g, "count", 0)) for g in scene.gaussians)
    report.loaded = {k: n for k, n in report.loaded.items() if n or k in ("triangles", "splats")}
    scene.report = report
    return scene


def place(scene: Scene, spec, to_world: np.ndarray | None = None) -> Scene:
    """The user's placement of a file source (scale, turn, shift, then crop) applied to the whole
    scene; `to_world` is the loader's own fix-up (e.g. a splat's ground) applied before it."""
    m = placement_matrix(spec) if to_world is None else placement_matrix(spec) @ to_world
    scene = scene.transformed(m)
    return scene.cropped(*spec.crop_m) if spec.crop_m is not None else scene


def _with_ray_cast_ground(scene: Scene) -> Scene:
    """Imported meshes are not flat: the walk follows the ground found by casting rays down."""
    from .meshes import ground_height_fn

    scene.ground_fn = ground_height_fn(scene)
    return scene


def load_procedural(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """A street generated in the spec's style (placement does not apply: it is built in place)."""
    from .procedural import generate_street, load_style

    style = load_style(spec.style)
    scene = generate_street(style, spec.seed, extent_m=min_extent_m)
    scene.lit_window_share = style.facade.lit_window_share
    return scene


def load_osm_source(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """An OpenStreetMap extract, dressed in the spec's style (flat ground)."""
    from .osm import load_osm

    return place(load_osm(spec.path, style=spec.style, seed=spec.seed), spec)


def load_mesh_source(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    from .meshes import load_mesh_scene

    scene = load_mesh_scene(spec.path, up_axis=None if spec.up == "auto" else spec.up.lstrip("-"))
    return _with_ray_cast_ground(place(scene, spec))


def load_kmz_source(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    from .kmz import load_kmz

    return _with_ray_cast_ground(place(load_kmz(spec.path), spec))


def load_tiles_source(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """3D Tiles; a tileset of point clouds only walks on a flat ground at the points' 2nd height
    percentile (their street), since there are no triangles to cast rays on."""
    from .tiles import load_tiles

    scene = place(load_tiles(spec.path, cameras=cameras), spec)
    if not scene.meshes and scene.gaussians:
        ground_z_m = float(np.percentile(np.concatenate([g.means[:, 2] for g in scene.gaussians]), 2.0))
        scene.ground_fn = lambda x, y: ground_z_m
        return scene
    return _with_ray_cast_ground(scene)


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


def load_splat_source(spec, min_extent_m: float = 200.0, cameras=None) -> Scene:
    """A Gaussian splat file placed metric and Z-up: the up axis is estimated ('auto', from the
    capture cameras when a sidecar has them, else from the ground; a capture package is placed
    already) or given, the ground moved to z = 0, then the user's scale, turn, shift and crop.
    Capture camera centres are kept (in scene metres) so the automatic walk can follow the
    capture's own trajectory."""
    from ..scene.report import LoadReport
    from .splats import estimate_ground, load_splat_scene

    report = LoadReport(source=str(spec.path))
    cloud = load_splat_scene(spec.path, report=report)
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
    raw = Scene(gaussians=[cloud], style="splat", capture_cameras_m=None if cams is None else cams[:, :3, 3],
                report=report)
    scene = place(raw, spec, to_world=ground_t)
    shift_z_m = float(spec.translate_m[2])  # the file's own frame has no ground: it is z = 0 once placed
    scene.ground_fn = None if shift_z_m == 0.0 else (lambda x, y: shift_z_m)
    cloud = scene.gaussians[0]
    if cloud.count == 0:
        raise SceneError(f"{spec.path}: nothing drawable: no splats left after placement and crop")
    scene.bounds_m = (tuple(np.percentile(cloud.means, 1, axis=0)), tuple(np.percentile(cloud.means, 99, axis=0)))
    scene.stats = {"splats": cloud.count}
    return scene
