"""The scene package a capture produces: a folder with `scene.ply` (3DGS splats, metric, Z up,
ground at z = 0), `scene.cameras.json` (the capture trajectory in the camera-track format, so a walk
can follow it), `ground.json` (up/ground/scale estimate and the transform from the SfM frame) and
`metadata.json` (contributor metadata, QA and training figures). `citywalk render --splat
folder/scene.ply` renders it."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.poses import Poses
from citywalk.scene.gaussians import GaussianCloud

SCENE_PLY = "scene.ply"
SCENE_CAMERAS = "scene.cameras.json"
GROUND_JSON = "ground.json"
METADATA_JSON = "metadata.json"


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
                        fps: float, ground: dict, metadata: dict) -> Path:
    """Write the package files into `folder` (already placed cloud and poses) → the scene.ply path.
    frame_times maps an image name to (frame index, time_s) in the source video."""
    from citywalk.sources.splats import write_ply
    from citywalk.tracks import write_camera_track

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_ply(out / SCENE_PLY, cloud)
    frames = []
    for i, name in enumerate(poses.names):
        index, time_s = frame_times.get(name, (i, float(i)))
        frames.append({"index": int(index), "time_s": float(time_s), "K": poses.K[i], "R_w2c": poses.R_w2c[i],
                       "t_w2c": poses.t_w2c[i], "name": name})
    frames.sort(key=lambda f: f["index"])
    write_camera_track(out / SCENE_CAMERAS, frames, fps=fps or 1.0, width=poses.size_px[0], height=poses.size_px[1])
    (out / GROUND_JSON).write_text(json.dumps(ground, indent=1), encoding="utf-8")
    (out / METADATA_JSON).write_text(json.dumps(_plain(metadata), indent=1), encoding="utf-8")
    return out / SCENE_PLY


def read_scene_package(folder: str | Path) -> dict:
    """Load a package → {'cloud', 'cameras' (camera track dict), 'ground', 'metadata'}."""
    from citywalk.sources.splats import read_ply
    from citywalk.tracks import read_camera_track

    p = Path(folder)
    missing = [n for n in (SCENE_PLY, SCENE_CAMERAS, GROUND_JSON, METADATA_JSON) if not (p / n).is_file()]
    if missing:
        raise CaptureError(f"scene package {p}: missing {', '.join(missing)}")
    return {"cloud": read_ply(p / SCENE_PLY), "cameras": read_camera_track(p / SCENE_CAMERAS),
            "ground": json.loads((p / GROUND_JSON).read_text()),
            "metadata": json.loads((p / METADATA_JSON).read_text())}


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
