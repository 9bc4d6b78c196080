"""The scene package a capture produces: a folder with `scene.ply` (3DGS splats, metric, Z up,
ground at z = 0), `scene.ply.lod.npz` (its level-of-detail tree, so a render under a splat budget
does not build it), `scene.spz` (a compressed copy to share, ~7× smaller), `scene.cameras.json`
(the capture trajectory in the camera-track format, so a walk can follow it), `ground.json`
(up/ground/scale estimate and the transform from the SfM frame) and `metadata.json` (contributor
metadata, QA and training figures, the floaters pruned). `citywalk render --splat
folder/scene.ply` renders it.

Floaters: before writing, Gaussians that no capture camera saw at a trustworthy distance are
dropped (`prune_floaters`): a Gaussian is kept when it lies, with its 3σ radius, inside at least
one camera's frustum (widened by FLOATER_VIEW_MARGIN of the image on every side) and closer to
that camera than the cap max(FLOATER_CAP_PATH_MULTIPLE × the camera path's extent,
FLOATER_CAP_MIN_M). Splats behind or beside every camera were never constrained by an image, and
far ones (a trained cloud's sky shell) are where training parks what it cannot place; the
renderer's own sky shows there instead."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.poses import Poses
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_lod import EXTENT_SIGMA

SCENE_PLY = "scene.ply"
SCENE_SPZ = "scene.spz"
SCENE_CAMERAS = "scene.cameras.json"
GROUND_JSON = "ground.json"
METADATA_JSON = "metadata.json"

FLOATER_CAP_PATH_MULTIPLE = 10.0  # kept within this many camera-path extents of a camera that saw it
FLOATER_CAP_MIN_M = 30.0  # the distance cap is never below this (a short or standing capture)
FLOATER_VIEW_MARGIN = 0.15  # frusta widened by this fraction of the image width/height each side
FLOATER_MAX_CAMERAS = 64  # frusta tested: at most this many cameras spread evenly along the capture
_NEAR_M = 0.05


def prune_floaters(cloud: GaussianCloud, poses: Poses) -> tuple[GaussianCloud, dict]:
    """Drop the Gaussians no capture camera saw within the distance cap (module doc) →
    (kept cloud, report with 'pruned', 'kept', 'cap_m', 'path_extent_m', 'cameras_tested')."""
    centres = poses.centres
    extent_m = float(np.linalg.norm(centres.max(axis=0) - centres.min(axis=0))) if len(centres) else 0.0
    cap_m = max(FLOATER_CAP_PATH_MULTIPLE * extent_m, FLOATER_CAP_MIN_M)
    cams = np.unique(np.linspace(0, len(poses.names) - 1, min(len(poses.names), FLOATER_MAX_CAMERAS)).round()
                     .astype(int)) if len(poses.names) else np.zeros(0, int)
    means = cloud.means.astype(np.float64)
    radius_m = EXTENT_SIGMA * cloud.scales.max(axis=1, initial=0.0).astype(np.float64)
    kept = np.zeros(cloud.count, bool)
    w, h = poses.size_px
    for c in cams:
        todo = np.flatnonzero(~kept)  # a Gaussian one camera saw needs no other
        if not len(todo):
            break
        pc = means[todo] @ np.asarray(poses.R_w2c[c], np.float64).T + poses.t_w2c[c]
        r = radius_m[todo]
        k = np.asarray(poses.K[c], np.float64)
        seen = (pc[:, 2] + r > _NEAR_M) & (np.linalg.norm(pc, axis=1) - r < cap_m)
        for axis, focal, centre_px, side in ((0, k[0, 0], k[0, 2], w), (1, k[1, 1], k[1, 2], h)):
            hi = (side * (1.0 + FLOATER_VIEW_MARGIN) - centre_px) / focal  # plane x = hi · z
            lo = (-side * FLOATER_VIEW_MARGIN - centre_px) / focal
            seen &= (pc[:, axis] - hi * pc[:, 2]) / np.sqrt(1.0 + hi * hi) < r
            seen &= (lo * pc[:, 2] - pc[:, axis]) / np.sqrt(1.0 + lo * lo) < r
        kept[todo[seen]] = True
    report = {"pruned": int(cloud.count - kept.sum()), "kept": int(kept.sum()), "cap_m": round(cap_m, 3),
              "path_extent_m": round(extent_m, 3), "cameras_tested": int(len(cams)),
              "view_margin": FLOATER_VIEW_MARGIN}
    return cloud.subset(kept), report


def to_metric_z_up(cloud: GaussianCloud, poses: Poses, camera_height_m: float = 1.6,
                   scale: float | None = None) -> tuple[GaussianCloud, Poses, np.ndarray, dict]:
    """Move a reconstruction (SfM frame) into citywalk's world: up from the cameras, ground at z = 0,
    metres from the median camera height (`camera_height_m`, 1.6 m for a walked phone; give `scale`
    for drones) → (cloud, poses, (4, 4) transform, ground info)."""
    from citywalk.sources.splats import estimate_ground, metric_z_up_transform, scale_from_camera_height

    if cloud.count < 3:
        raise CaptureError(f"scene package: only {cloud.count} splats; nothing to place")
    c2w = poses.c2w()
    # the ground comes from the SfM points: trained clouds hold sky and fill splats far off the ground
    # and only from points below every camera (facades at eye level can outnumber the road's points)
    up = -c2w[:, :3, 1].sum(0)
    up /= max(np.linalg.norm(up), 1e-12)
    pts = poses.points_xyz.astype(np.float64)
    below = pts[pts @ up < (c2w[:, :3, 3] @ up).min()]
    ref = cloud
    if len(below) >= 3:
        n = len(below)
        ref = GaussianCloud(below, np.zeros((n, 3)), np.tile([1.0, 0, 0, 0], (n, 1)), np.ones(n),
                            np.zeros((n, 1, 3)))
    up, ground, ground_t = estimate_ground(ref, cameras_c2w=c2w, rng=np.random.default_rng(0))
    from_height = scale is None
    if from_height:
        scale = scale_from_camera_height(c2w, up, ground, camera_height_m)
    m = metric_z_up_transform(ground_t, scale)
    placed = cloud.transformed(m)
    info = {"up_in_capture_frame": up.tolist(), "ground_height_capture_units": ground,
            "scale_m_per_unit": float(np.cbrt(np.linalg.det(m[:3, :3]))),
            "camera_height_m": camera_height_m if from_height else None,
            "capture_to_world": m.tolist(), "ground_z_m": 0.0}
    return placed, poses.transformed(m), m, info


def write_scene_package(folder: str | Path, cloud: GaussianCloud, poses: Poses,
                        frame_times: dict[str, tuple[int, float]],
                        fps: float, ground: dict, metadata: dict, prune: bool = True) -> Path:
    """Write the package files into `folder` (already placed cloud and poses) → the scene.ply path.
    frame_times maps an image name to (frame index, time_s) in the source video. With `prune`,
    floaters are dropped first and counted in metadata.json's 'floaters'."""
    from citywalk.scene.splat_lod import cached_lod, lod_sidecar_path
    from citywalk.sources.splat_spz import write_spz
    from citywalk.sources.splats import load_splat_scene, write_ply
    from citywalk.tracks import write_camera_track

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    floaters = None
    if prune:
        cloud, floaters = prune_floaters(cloud, poses)
        if cloud.count < 3:
            raise CaptureError(f"scene package: {floaters['pruned']} of {floaters['pruned'] + cloud.count} "
                               f"splats lie outside every camera's view within {floaters['cap_m']} m; nothing left")
    write_ply(out / SCENE_PLY, cloud)
    # the tree and the compressed copy are made from the file as a render will read it (the cache
    # key fingerprints the cloud read back, and the sidecar the file's size and mtime)
    written = load_splat_scene(out / SCENE_PLY)
    cached_lod(written, out / SCENE_PLY)
    write_spz(out / SCENE_SPZ, written)
    frames = []
    for i, name in enumerate(poses.names):
        index, time_s = frame_times.get(name, (i, float(i)))
        frames.append({"index": int(index), "time_s": float(time_s), "K": poses.K[i], "R_w2c": poses.R_w2c[i],
                       "t_w2c": poses.t_w2c[i], "name": name})
    frames.sort(key=lambda f: f["index"])
    write_camera_track(out / SCENE_CAMERAS, frames, fps=fps or 1.0, width=poses.size_px[0], height=poses.size_px[1])
    (out / GROUND_JSON).write_text(json.dumps(ground, indent=1), encoding="utf-8")
    files = {"lod": lod_sidecar_path(out / SCENE_PLY).name, "compressed": SCENE_SPZ,
             "bytes": {n: (out / n).stat().st_size for n in (SCENE_PLY, lod_sidecar_path(SCENE_PLY).name, SCENE_SPZ)}}
    meta = {**metadata, "files": files, **({"floaters": floaters} if floaters is not None else {})}
    (out / METADATA_JSON).write_text(json.dumps(_plain(meta), indent=1), encoding="utf-8")
    return out / SCENE_PLY


def read_scene_package(folder: str | Path) -> dict:
    """Load a package → {'cloud', 'cameras' (camera track dict), 'ground', 'metadata', 'lod_path' and
    'compressed_path' (None in a package written before they were added)}."""
    from citywalk.sources.splats import read_ply
    from citywalk.tracks import read_camera_track

    p = Path(folder)
    missing = [n for n in (SCENE_PLY, SCENE_CAMERAS, GROUND_JSON, METADATA_JSON) if not (p / n).is_file()]
    if missing:
        raise CaptureError(f"scene package {p}: missing {', '.join(missing)}")
    from citywalk.scene.splat_lod import lod_sidecar_path

    lod, spz = lod_sidecar_path(p / SCENE_PLY), p / SCENE_SPZ
    return {"cloud": read_ply(p / SCENE_PLY), "cameras": read_camera_track(p / SCENE_CAMERAS),
            "ground": json.loads((p / GROUND_JSON).read_text()),
            "metadata": json.loads((p / METADATA_JSON).read_text()),
            "lod_path": lod if lod.is_file() else None, "compressed_path": spz if spz.is_file() else None}


def _plain(x):
    """JSON-able copy: dataclasses → dicts, arrays → lists, Paths → str."""
    if is_dataclass(x) and not isinstance(x, type):
        return _plain(asdict(x))
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x
