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

from builders import K, look_at


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
    floaters = pkg["metadata"]["floaters"]  # ground behind the first camera was never seen: pruned
    assert pkg["cloud"].count == floaters["kept"] == n - floaters["pruned"] and 0 < floaters["kept"] < n
    assert len(pkg["cameras"]["frames"]) == len(poses.names)
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


# -- captures from cameras they already have (`capture process --poses`) ------------------

@pytest.fixture(scope="module")
def photo_capture(tmp_path_factory):
    return _photo_capture(tmp_path_factory.mktemp("photo_capture"))


def _photo_capture(tmp_path, frames=24):
    """A synthetic walk's kept frames as a folder of photos (IMG_<frame>.png) and the true cameras
    of those photos (R_w2c, t_w2c, K per name) from the walk's camera track."""
    import shutil

    from citywalk.capture.frames import FrameOptions, select_frames
    from citywalk.pipeline import render_synthetic_walk
    from citywalk.tracks import read_camera_track

    video, track_path = render_synthetic_walk(tmp_path, frames=frames, size_px=(320, 180))
    track = read_camera_track(track_path)["frames"]
    sel = select_frames(video, tmp_path / "picked", FrameOptions(target_fps=12))
    photos = tmp_path / "photos"
    photos.mkdir()
    truth = {}
    for rec in sel.kept:
        name = rec.file.replace("frame_", "IMG_")
        shutil.copy(sel.folder / rec.file, photos / name)
        f = track[rec.index]
        truth[name] = (np.asarray(f["R_w2c"]), np.asarray(f["t_w2c"]), np.asarray(f["K"]))
    return photos, truth


def _sparse_points(truth, rng, per_image=15):
    """Points on random pixels' rays at 4..12 m, each seen by the image it came from: (name, u, v, xyz)."""
    out = []
    for name, (R, t, k) in truth.items():
        for _ in range(per_image):
            u, v = rng.uniform(0, 319), rng.uniform(0, 179)
            ray = np.linalg.solve(k, [u, v, 1.0])
            out.append((name, u, v, R.T @ (ray * rng.uniform(4, 12) - t)))
    return out


def _write_colmap_text(folder, truth, points):
    from scipy.spatial.transform import Rotation

    folder.mkdir(parents=True)
    K = next(iter(truth.values()))[2]
    (folder / "cameras.txt").write_text(f"1 PINHOLE 320 180 {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}\n")
    ids = {name: i + 1 for i, name in enumerate(truth)}
    obs = {name: [] for name in truth}
    lines = []
    for pid, (name, u, v, xyz) in enumerate(points, start=1):
        obs[name].append((u, v, pid))
        lines.append(f"{pid} {xyz[0]} {xyz[1]} {xyz[2]} 200 180 160 0.5 {ids[name]} {len(obs[name]) - 1}")
    (folder / "points3D.txt").write_text("\n".join(lines) + "\n")
    rows = []
    for name, (R, t, _) in truth.items():
        qx, qy, qz, qw = Rotation.from_matrix(R).as_quat()
        rows.append(f"{ids[name]} {qw} {qx} {qy} {qz} {t[0]} {t[1]} {t[2]} 1 {name}")
        rows.append(" ".join(f"{u} {v} {pid}" for u, v, pid in obs[name]))
    (folder / "images.txt").write_text("\n".join(rows) + "\n")


def _write_transforms(path, truth, points):
    K = next(iter(truth.values()))[2]
    frames = []
    for name, (R, t, _) in truth.items():
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = R.T, -R.T @ t
        frames.append({"file_path": f"images/{name}", "transform_matrix": (c2w @ np.diag([1, -1, -1, 1])).tolist()})
    xyz = np.array([p[3] for p in points])
    ply = "ply\nformat ascii 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n" \
          "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n" % len(xyz)
    ply += "".join(f"{x} {y} {z} 200 180 160\n" for x, y, z in xyz)
    (path.parent / "sparse_pc.ply").write_text(ply)
    path.write_text(json.dumps({"fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "w": 320, "h": 180,
                                "ply_file_path": "sparse_pc.ply", "frames": frames}))


def _tiny_training():
    from citywalk.capture.frames import FrameOptions
    from citywalk.capture.process import ProcessOptions
    from citywalk.capture.train import TrainOptions

    return ProcessOptions(frames=FrameOptions(target_fps=12),
                          train=TrainOptions(iterations=5, max_side_px=96, sh_degree=0, densify_from=1000,
                                             fill_points=200))


def test_capture_trains_on_given_poses_without_sfm(tmp_path, photo_capture):
    from dataclasses import replace

    from citywalk.capture.intake import list_images
    from citywalk.capture.process import given_poses_for_frames, run_capture

    photos, truth = photo_capture
    points = _sparse_points(truth, np.random.default_rng(3))
    (tmp_path / "ns").mkdir()
    _write_transforms(tmp_path / "ns" / "transforms.json", truth, points)
    _write_colmap_text(tmp_path / "colmap_txt", truth, points)
    import pycolmap

    rec = pycolmap.Reconstruction(str(tmp_path / "colmap_txt"))
    (tmp_path / "colmap_bin").mkdir()
    rec.write_binary(str(tmp_path / "colmap_bin"))
    assert (tmp_path / "colmap_bin" / "images.bin").is_file()
    files = [p.name for p in list_images(photos)]

    def check_cameras(poses):
        assert len(poses.names) == len(truth) and len(poses.points_xyz) == len(points)
        for name, R, t, k in zip(poses.names, poses.R_w2c, poses.t_w2c, poses.K):
            R0, t0, K0 = truth[files[int(name.split("_")[1].split(".")[0])]]  # frame_<index in the folder>
            np.testing.assert_allclose(R, R0, atol=1e-6)
            np.testing.assert_allclose(t, t0, atol=1e-5)
            np.testing.assert_allclose(k, K0, atol=1e-4)

    spec = f"nerfstudio:{tmp_path / 'ns' / 'transforms.json'}"
    run = run_capture(photos, tmp_path / "work", replace(_tiny_training(), poses=spec))
    assert run.ok, run.report["reasons"]
    assert not (tmp_path / "work" / "sfm").exists()  # no SfM ran
    qa = run.report["poses"]
    assert qa["poses_from"].startswith("nerfstudio:") and qa["sfm"] is False
    assert qa["registered_share"] == 1.0 and qa["cameras_given"] == len(truth) == run.report["frames_kept"]
    check_cameras(run.poses)
    assert run.train.iterations == 5 and run.train.cloud.count > 0
    for spec in (f"colmap:{tmp_path / 'colmap_txt'}", f"colmap:{tmp_path / 'colmap_bin'}"):
        poses = given_poses_for_frames(spec, photos, run.selection)
        assert poses.info["poses_from"].startswith("colmap:") and poses.info["distortion_px"] == 0.0
        check_cameras(poses)


def test_given_poses_are_checked(tmp_path, photo_capture):
    from dataclasses import replace

    from citywalk.capture.poses import read_given_poses
    from citywalk.capture.process import run_capture

    photos, truth = photo_capture
    (tmp_path / "ns").mkdir()
    given = replace(_tiny_training(), poses=f"nerfstudio:{tmp_path}/ns/transforms.json")
    few = dict(list(truth.items())[:2])  # cameras for 2 of the photos only
    _write_transforms(tmp_path / "ns" / "transforms.json", few, [])
    run = run_capture(photos, tmp_path / "w1", given)
    assert run.report["verdict"] == "rejected" and not run.ok
    assert any("got a camera pose" in r for r in run.report["reasons"])
    other = {"DSC_0001.JPG": next(iter(truth.values()))}
    _write_transforms(tmp_path / "ns" / "transforms.json", other, [])
    run = run_capture(photos, tmp_path / "w2", given)
    assert any("DSC_0001.JPG" in r and "does not have" in r for r in run.report["reasons"])
    doc = json.loads((tmp_path / "ns" / "transforms.json").read_text())
    doc["k1"] = -0.12
    (tmp_path / "ns" / "transforms.json").write_text(json.dumps(doc))
    with pytest.raises(CaptureError, match="lens distortion"):
        read_given_poses(f"nerfstudio:{tmp_path}/ns/transforms.json")
    del doc["fl_x"]
    (tmp_path / "ns" / "transforms.json").write_text(json.dumps(doc))
    with pytest.raises(CaptureError, match="fl_x"):
        read_given_poses(f"nerfstudio:{tmp_path}/ns/transforms.json")
    for bad in ("transforms.json", "sfm:x", "colmap:"):
        with pytest.raises(CaptureError, match="expected colmap:"):
            read_given_poses(bad)
    with pytest.raises(CaptureError, match="COLMAP model"):
        read_given_poses(f"colmap:{tmp_path}")
    video = photos.parent / "walk.mp4"
    _write_transforms(tmp_path / "ns" / "transforms.json", truth, [])
    run = run_capture(video, tmp_path / "w3", given)
    assert any("is a video" in r for r in run.report["reasons"])


def test_cli_capture_process_takes_poses(tmp_path, photo_capture, monkeypatch, capsys):
    from citywalk.capture.catalog import CaptureMeta
    from citywalk.capture.intake import submit
    from citywalk.cli import main

    photos, truth = photo_capture
    (tmp_path / "ns").mkdir()
    _write_transforms(tmp_path / "ns" / "transforms.json", dict(list(truth.items())[:3]), [])
    submit(tmp_path / "catalog", photos, CaptureMeta(consent=True), name="plaza")
    monkeypatch.chdir(tmp_path)  # the poses path is relative to where the command runs
    code = main(["capture", "process", "plaza", "--catalog", str(tmp_path / "catalog"), "--iterations", "5",
                 "--poses", "nerfstudio:ns/transforms.json"])
    err = capsys.readouterr().err
    assert code != 0 and "got a camera pose" in err and "25%" in err  # 3 cameras for 12 photos
    assert list((tmp_path / "catalog").rglob("frames")) and not list((tmp_path / "catalog").rglob("sfm"))
