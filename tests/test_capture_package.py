"""Capture packages: floaters far from every capture camera are pruned (and counted) while the
scene is kept, and a package carries its level-of-detail tree and a compressed copy."""

from __future__ import annotations

import json

import numpy as np

from citywalk.capture.package import FLOATER_CAP_MIN_M, prune_floaters, read_scene_package, write_scene_package
from citywalk.capture.poses import Poses
from citywalk.scene.gaussians import GaussianCloud
from citywalk.scene.splat_lod import cached_lod, lod_sidecar_path
from citywalk.shot import SceneSpec
from citywalk.sources import load_splat_source
from citywalk.sources.splats import load_splat_scene

W, H = 640, 360
K = np.array([[500.0, 0, 319.5], [0, 500.0, 179.5], [0, 0, 1]])
R_FWD = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # OpenCV camera looking along +y, Z up


def walk(n_cams=20, length_m=10.0) -> Poses:
    """A camera walking 0..length_m along +y at 1.6 m, looking ahead (turning ±10° as it goes)."""
    Rs, ts = [], []
    for i, y in enumerate(np.linspace(0.0, length_m, n_cams)):
        a = np.radians(10.0 * np.sin(i))
        yaw = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
        R = R_FWD @ yaw.T
        Rs.append(R)
        ts.append(-R @ np.array([0.0, y, 1.6]))
    return Poses([f"f{i:03d}.png" for i in range(n_cams)], np.array(Rs), np.array(ts), np.tile(K, (n_cams, 1, 1)),
                 (W, H), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), n_cams)


def cloud_of(means, rng) -> GaussianCloud:
    n = len(means)
    return GaussianCloud(means, np.full((n, 3), 0.04), np.tile([1.0, 0, 0, 0], (n, 1)), rng.uniform(0.3, 1, n),
                         rng.normal(0, 0.5, (n, 1, 3)), 0)


def seen_points(poses: Poses, n: int, rng, max_depth_m: float = 60.0) -> np.ndarray:
    """Points each on the ray of a random pixel of a random capture camera, 1.5..max_depth_m deep."""
    cam = rng.integers(0, len(poses.names), n)
    uv = rng.uniform((0, 0), (W - 1, H - 1), (n, 2))
    z = rng.uniform(1.5, max_depth_m, n)
    pc = np.c_[(uv[:, 0] - K[0, 2]) / K[0, 0] * z, (uv[:, 1] - K[1, 2]) / K[1, 1] * z, z]
    return np.einsum("nji,nj->ni", poses.R_w2c[cam], pc - poses.t_w2c[cam])  # Rᵀ (pc − t)


def test_far_floaters_are_pruned_and_the_scene_kept():
    rng = np.random.default_rng(0)
    poses = walk()
    scene = seen_points(poses, 4000, rng)
    far = rng.normal(size=(300, 3))
    far = far / np.linalg.norm(far, axis=1, keepdims=True) * rng.uniform(400, 800, (300, 1))  # a sky shell
    behind = np.c_[rng.uniform(-2, 2, 200), rng.uniform(-6, -2, 200), rng.uniform(0, 3, 200)]  # behind the start
    above = np.c_[rng.uniform(-3, 3, 100), rng.uniform(-5, 12, 100), rng.uniform(30, 50, 100)]  # over the path
    planted = np.vstack([far, behind, above])
    cloud = cloud_of(np.vstack([scene, planted]), rng)
    kept, report = prune_floaters(cloud, poses)
    assert report["cap_m"] == max(10 * report["path_extent_m"], FLOATER_CAP_MIN_M) and report["cap_m"] > 60
    assert report["pruned"] == len(planted) and report["kept"] == len(scene) == kept.count
    np.testing.assert_array_equal(kept.means, cloud.means[: len(scene)])  # the scene, in its order
    # a scene splat seen only from far beyond the cap is a floater too
    deep = seen_points(poses, 50, rng, max_depth_m=3 * report["cap_m"])
    depth = np.min(np.linalg.norm(deep[:, None] - poses.centres[None], axis=2), axis=1)
    _, deep_report = prune_floaters(cloud_of(deep, rng), poses)
    assert deep_report["pruned"] >= int((depth > report["cap_m"] + 0.2).sum()) > 0


def test_package_carries_its_lod_tree_and_a_compressed_copy(tmp_path):
    rng = np.random.default_rng(1)
    poses = walk()
    scene = seen_points(poses, 6000, rng, max_depth_m=30.0)
    floaters = np.c_[rng.uniform(-2, 2, 40), rng.uniform(-6, -2, 40), rng.uniform(0, 3, 40)]
    cloud = cloud_of(np.vstack([scene, floaters]), rng)
    times = {name: (i, i / 24.0) for i, name in enumerate(poses.names)}
    ply = write_scene_package(tmp_path / "pkg", cloud, poses, times, 24.0, {"ground_z_m": 0.0}, {"name": "t"})
    pkg = read_scene_package(tmp_path / "pkg")
    meta = pkg["metadata"]
    assert meta["floaters"]["pruned"] == 40 and pkg["cloud"].count == 6000
    assert pkg["lod_path"] == lod_sidecar_path(ply) and pkg["compressed_path"].name == "scene.spz"
    sizes = meta["files"]["bytes"]
    assert sizes["scene.spz"] < 0.3 * sizes["scene.ply"]
    # the tree is the one a render reads: loading the package as a splat scene finds it, not rebuilt
    stamp = pkg["lod_path"].stat().st_mtime_ns
    placed = load_splat_source(SceneSpec(source="splat", path=str(ply))).gaussians[0]
    lod = cached_lod(placed, placed.source)
    assert pkg["lod_path"].stat().st_mtime_ns == stamp and lod.n_leaves == 6000 and lod.count > 6000
    # the compressed copy holds the same splats (SPZ: 12-bit fixed-point positions)
    spz = load_splat_scene(pkg["compressed_path"])
    assert spz.count == 6000
    np.testing.assert_allclose(spz.means, pkg["cloud"].means, atol=2e-3)
    assert json.loads((tmp_path / "pkg" / "metadata.json").read_text())["files"]["lod"] == pkg["lod_path"].name
