"""Pose utilities without SfM: Umeyama alignment, pose errors, nerfstudio import, and the scene
package (metric Z-up placement, files the splat source reads back)."""

import json

import numpy as np
import pytest

from citywalk.capture import CaptureError
from citywalk.capture.package import read_scene_package, to_metric_z_up, write_scene_package
from citywalk.capture.poses import Poses, pose_errors, read_transforms_json, similarity_matrix, umeyama
from citywalk.scene.gaussians import GaussianCloud
from citywalk.sources import capture_cameras_c2w
from tests.test_capture_train import K, look_at


def walk_poses(n=12, rng=None):
    """Cameras walking along +x at 1.6 m height, looking ahead and slightly sideways; ground points."""
    rng = rng or np.random.default_rng(0)
    Rs, ts = [], []
    for i in range(n):
        eye = np.array([0.5 * i, 0.0, 1.6])
        R, t = look_at(eye, eye + [1.0, 0.3 * np.sin(i), 0.0])  # level, as a walk averages
        Rs.append(R)
        ts.append(t)
    pts = np.concatenate(
        [rng.uniform([-2, -4, 0], [8, 4, 0], (300, 3)), rng.uniform([-2, 4, 0], [8, 4.2, 6], (200, 3))]
    )
    return Poses([f"frame_{i:06d}.png" for i in range(n)], np.array(Rs), np.array(ts), np.tile(K, (n, 1, 1)), (48, 32),
                 pts.astype(np.float32), np.full((len(pts), 3), 200, np.uint8), n)


def random_similarity(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return 0.37, q, rng.normal(size=3)


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    s, R, t = random_similarity(rng)
    s2, R2, t2 = umeyama(src, s * src @ R.T + t)
    assert s2 == pytest.approx(s) and np.allclose(R2, R) and np.allclose(t2, t)
    with pytest.raises(CaptureError, match="≥ 3"):
        umeyama(src[:2], src[:2])


def test_pose_errors_are_zero_up_to_similarity_and_see_a_bad_camera():
    rng = np.random.default_rng(2)
    true = walk_poses()
    s, R, t = random_similarity(rng)
    est = true.transformed(similarity_matrix(s, R, t))
    err = pose_errors(est, true.R_w2c, true.t_w2c)
    assert err["position_rmse_m"] < 1e-9 and err["rotation_max_deg"] < 1e-5 and err["scale"] == pytest.approx(1 / s)
    est.R_w2c[3] = look_at(np.zeros(3), [0, 1, 0])[0]
    assert pose_errors(est, true.R_w2c, true.t_w2c)["rotation_max_deg"] > 10


def test_nerfstudio_transforms_import(tmp_path):
    true = walk_poses(4)
    c2w = true.c2w() @ np.diag([1.0, -1, -1, 1])  # OpenCV → OpenGL camera axes
    doc = {"fl_x": 40.0, "fl_y": 40.0, "cx": 24.0, "cy": 16.0, "w": 48, "h": 32,
           "frames": [{"file_path": f"images/{n}", "transform_matrix": m.tolist()} for n, m in zip(true.names, c2w)]}
    (tmp_path / "transforms.json").write_text(json.dumps(doc))
    got = read_transforms_json(tmp_path / "transforms.json")
    assert got.names == true.names and np.allclose(got.R_w2c, true.R_w2c) and np.allclose(got.t_w2c, true.t_w2c)
    assert np.allclose(got.K[0], K) and got.size_px == (48, 32)
    doc["frames"][1].pop("transform_matrix")
    (tmp_path / "transforms.json").write_text(json.dumps(doc))
    with pytest.raises(CaptureError, match="frame 1"):
        read_transforms_json(tmp_path / "transforms.json")


def test_package_is_metric_z_up_and_readable_by_the_splat_source(tmp_path):
    rng = np.random.default_rng(3)
    true = walk_poses()
    s, R, t = random_similarity(rng)
    est = true.transformed(similarity_matrix(s, R, t))  # an SfM frame: arbitrary rotation and scale
    n = len(est.points_xyz)
    cloud = GaussianCloud(est.points_xyz, np.full((n, 3), 0.01), np.tile([1.0, 0, 0, 0], (n, 1)), np.full(n, 0.8),
                          np.zeros((n, 1, 3)))
    placed, poses, m, ground = to_metric_z_up(cloud, est, camera_height_m=1.6)
    assert np.allclose(np.median(poses.centres[:, 2]), 1.6, atol=1e-6)
    assert ground["scale_m_per_unit"] == pytest.approx(1 / s, rel=1e-3)
    assert np.percentile(placed.means[:, 2], 30) == pytest.approx(0.0, abs=0.02)  # the ground is at z = 0
    walk_dir = poses.centres[-1] - poses.centres[0]
    assert abs(walk_dir[2]) < 1e-3 * np.linalg.norm(walk_dir)
    times = {name: (3 * i, 3 * i / 24) for i, name in enumerate(poses.names)}
    ply = write_scene_package(tmp_path / "pkg", placed, poses, times, 24.0, ground, {"name": "t", "arr": np.ones(2)})
    pkg = read_scene_package(tmp_path / "pkg")
    assert pkg["cloud"].count == n and len(pkg["cameras"]["frames"]) == len(poses.names)
    assert pkg["cameras"]["frames"][2]["index"] == 6 and pkg["metadata"]["arr"] == [1.0, 1.0]
    c2w = capture_cameras_c2w(ply)
    assert c2w is not None and np.allclose(c2w[:, :3, 3], poses.centres, atol=1e-9)
    from citywalk.errors import SceneError
    from citywalk.sources import packaged_ground_z_m

    assert packaged_ground_z_m(ply) == 0.0
    (tmp_path / "pkg" / "ground.json").write_text('{"ground_z_m": "low"}')
    with pytest.raises(SceneError, match="ground.json: ground_z_m must be a finite number"):
        packaged_ground_z_m(ply)
    (tmp_path / "pkg" / "ground.json").unlink()
    assert packaged_ground_z_m(ply) is None  # a bare splat file: the source estimates the ground
    with pytest.raises(CaptureError, match="ground.json"):
        read_scene_package(tmp_path / "pkg")
