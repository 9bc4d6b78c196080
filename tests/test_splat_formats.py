"""Splat file formats (.ply/.splat/.spz): round trips, documented loss bounds, rejection of bad
files, GaussianCloud helpers and ground/scale estimation."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.scene.gaussians import SH_C0, GaussianCloud, quaternions_to_matrices, sh_basis
from citywalk.sources import splats
from citywalk.sources.splats import (
    estimate_ground,
    load_splat_scene,
    make_metric_z_up,
    read_ply,
    read_splat,
    read_spz,
    rotation_between,
    save_splat_scene,
    scale_from_camera_height,
    scale_from_known_distance,
    write_ply,
    write_splat,
    write_spz,
)

from builders import distinct_sh_cloud, make_cloud


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_ply_round_trip_exact_with_sh_order(tmp_path, degree):
    cloud = distinct_sh_cloud(degree)
    write_ply(tmp_path / "a.ply", cloud)
    back = read_ply(tmp_path / "a.ply")
    assert back.sh_degree == degree
    np.testing.assert_array_equal(back.sh, cloud.sh)
    np.testing.assert_array_equal(back.means, cloud.means)
    np.testing.assert_array_equal(back.rotations, cloud.rotations)
    np.testing.assert_allclose(back.scales, cloud.scales, rtol=1e-6)
    np.testing.assert_allclose(back.opacities, cloud.opacities, rtol=1e-6)


def test_ply_f_rest_is_stored_channel_by_channel(tmp_path):
    cloud = distinct_sh_cloud(1)
    write_ply(tmp_path / "a.ply", cloud)
    raw = open(tmp_path / "a.ply", "rb").read()
    body = raw[raw.index(b"end_header\n") + 11:]
    row = np.frombuffer(body, "<f4")[:len(body) // 8]  # first splat: 3+3+3+9+1+3+4 = 26 floats
    # f_rest_0..2 are red of coeffs 1..3, f_rest_3..5 green, f_rest_6..8 blue
    np.testing.assert_array_equal(row[9:12], cloud.sh[0, 1:, 0])
    np.testing.assert_array_equal(row[12:15], cloud.sh[0, 1:, 1])
    np.testing.assert_array_equal(row[15:18], cloud.sh[0, 1:, 2])


def test_ply_random_round_trip_and_rewrite_is_byte_stable(tmp_path):
    cloud = make_cloud(500, 3, np.random.default_rng(3))
    write_ply(tmp_path / "a.ply", cloud)
    back = read_ply(tmp_path / "a.ply")
    np.testing.assert_array_equal(back.sh, cloud.sh)
    np.testing.assert_array_equal(back.means, cloud.means)
    write_ply(tmp_path / "b.ply", back)
    a = np.frombuffer((tmp_path / "a.ply").read_bytes(), np.uint8)
    b = np.frombuffer((tmp_path / "b.ply").read_bytes(), np.uint8)
    assert a.shape == b.shape
    # stored log-scale / logit values may differ by float32 rounding only
    fa = np.frombuffer(a[-500 * 62 * 4:].tobytes(), "<f4")
    fb = np.frombuffer(b[-500 * 62 * 4:].tobytes(), "<f4")
    np.testing.assert_allclose(fa, fb, rtol=2e-6, atol=2e-6)


def test_splat_round_trip_within_8bit_loss(tmp_path):
    cloud = make_cloud(300, 2, np.random.default_rng(4))
    write_splat(tmp_path / "a.splat", cloud)
    assert (tmp_path / "a.splat").stat().st_size == 300 * 32
    back = read_splat(tmp_path / "a.splat")
    assert back.sh_degree == 0
    np.testing.assert_array_equal(back.means, cloud.means)
    np.testing.assert_array_equal(back.scales, cloud.scales)
    rgb_err = np.abs(back.colors_dc() - np.clip(cloud.colors_dc(), 0, 1))
    assert rgb_err.max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.opacities - cloud.opacities).max() <= 0.5 / 255 + 1e-6
    dot = np.abs(np.sum(back.rotations * cloud.rotations, axis=1))
    assert np.degrees(2 * np.arccos(np.clip(dot, 0, 1))).max() < 2.0


@pytest.mark.parametrize("version", [2, 3, 4])
def test_spz_round_trip_within_documented_loss(tmp_path, version):
    if version == 4:
        pytest.importorskip("zstandard")
    cloud = make_cloud(400, 3, np.random.default_rng(5))
    write_spz(tmp_path / "a.spz", cloud, version=version)
    back = read_spz(tmp_path / "a.spz")
    assert back.sh_degree == 3 and back.count == 400
    assert np.abs(back.means - cloud.means).max() <= 0.5 / 4096 + 1e-5  # 12 fractional bits
    log_err = np.abs(np.log(back.scales) - np.log(cloud.scales))
    assert log_err.max() <= 1 / 32 + 1e-5  # log scale step 1/16
    assert np.abs(back.opacities - cloud.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.sh[:, 0] - cloud.sh[:, 0]).max() <= 0.5 / (255 * 0.15) + 1e-5
    assert np.abs(back.sh[:, 1:4] - cloud.sh[:, 1:4]).max() <= 4.5 / 128  # 5 bits
    assert np.abs(back.sh[:, 4:] - cloud.sh[:, 4:]).max() <= 8.5 / 128  # 4 bits
    dot = np.abs(np.sum(back.rotations * cloud.rotations, axis=1))
    err_deg = np.degrees(2 * np.arccos(np.clip(dot, 0, 1)))
    if version >= 3:  # smallest three, 9 bits + sign
        assert err_deg.max() < 0.5
    else:  # x, y, z in 8 bits, w derived: poor when w ≈ 0 (a property of v2)
        assert np.median(err_deg) < 1.0 and err_deg.max() < 12.0
    assert (tmp_path / "a.spz").stat().st_size < 400 * (9 + 1 + 3 + 3 + 4 + 45)


def test_spz_sh_coefficient_order(tmp_path):
    cloud = distinct_sh_cloud(3)
    sh = cloud.sh.copy()
    sh[:, 1:] = np.round(np.linspace(-0.9, 0.9, 2 * 15 * 3).reshape(2, 15, 3) * 8) / 8
    cloud = GaussianCloud(cloud.means, cloud.scales, cloud.rotations, cloud.opacities, sh, 3)
    write_spz(tmp_path / "a.spz", cloud)
    back = read_spz(tmp_path / "a.spz")
    assert np.abs(back.sh[:, 1:] - sh[:, 1:]).max() <= 8.5 / 128
    # order check: values are monotonic in (splat, coeff, channel) and must stay so
    flat = back.sh[:, 1:].reshape(-1)
    assert np.all(np.diff(flat) >= -1e-6)


def test_spz_smallest_three_extreme_quaternions(tmp_path):
    q = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0.5, -0.5, 0.5, -0.5],
                  [-0.7, 0.1, 0.7, 0.0]])
    n = len(q)
    cloud = GaussianCloud(np.zeros((n, 3)), np.full((n, 3), 0.1), q, np.full(n, 0.5),
                          np.zeros((n, 1, 3)), 0)
    write_spz(tmp_path / "q.spz", cloud)
    back = read_spz(tmp_path / "q.spz")
    np.testing.assert_allclose(quaternions_to_matrices(back.rotations),
                               quaternions_to_matrices(cloud.rotations), atol=3e-3)


def test_load_and_save_dispatch_by_extension(tmp_path):
    cloud = make_cloud(50, 1, np.random.default_rng(6))
    for ext in (".ply", ".splat", ".spz"):
        save_splat_scene(tmp_path / f"s{ext}", cloud)
        back = load_splat_scene(tmp_path / f"s{ext}")
        assert back.count == 50
    shift = np.eye(4)
    shift[:3, 3] = (100, 0, 0)
    moved = load_splat_scene(tmp_path / "s.ply", transform=shift, crop=((100, -20, -20), (120, 20, 20)))
    assert 0 < moved.count < 50 and moved.means[:, 0].min() >= 100
    with pytest.raises(SceneError, match="extension"):
        load_splat_scene(tmp_path / "s.obj")


# ---------------------------------------------------------------- rejection

def _ply_bytes(cloud, tmp_path) -> bytes:
    write_ply(tmp_path / "good.ply", cloud)
    return (tmp_path / "good.ply").read_bytes()


def test_ply_rejects_truncated(tmp_path):
    data = _ply_bytes(make_cloud(20, 0, np.random.default_rng(1)), tmp_path)
    (tmp_path / "t.ply").write_bytes(data[:-10])
    with pytest.raises(SceneError, match="truncated"):
        read_ply(tmp_path / "t.ply")


def test_ply_rejects_wrong_property_count(tmp_path):
    data = _ply_bytes(make_cloud(5, 1, np.random.default_rng(1)), tmp_path)
    bad = data.replace(b"property float f_rest_8\n", b"")
    (tmp_path / "p.ply").write_bytes(bad)
    with pytest.raises(SceneError, match="f_rest"):
        read_ply(tmp_path / "p.ply")
    bad = data.replace(b"property float opacity\n", b"property float opacityx\n")
    (tmp_path / "q.ply").write_bytes(bad)
    with pytest.raises(SceneError, match="missing vertex properties.*opacity"):
        read_ply(tmp_path / "q.ply")


def test_ply_rejects_nan_and_absurd_count_and_ascii(tmp_path):
    data = bytearray(_ply_bytes(make_cloud(5, 0, np.random.default_rng(1)), tmp_path))
    start = data.index(b"end_header\n") + 11
    data[start:start + 4] = np.array([np.nan], "<f4").tobytes()
    (tmp_path / "n.ply").write_bytes(bytes(data))
    with pytest.raises(SceneError, match="NaN"):
        read_ply(tmp_path / "n.ply")
    huge = bytes(data).replace(b"element vertex 5\n", b"element vertex 4000000000\n")
    (tmp_path / "h.ply").write_bytes(huge)
    with pytest.raises(SceneError, match="4000000000 splats"):
        read_ply(tmp_path / "h.ply")
    fake = bytes(data).replace(b"element vertex 5\n", b"element vertex 5000000\n")
    (tmp_path / "f.ply").write_bytes(fake)
    with pytest.raises(SceneError, match="truncated"):
        read_ply(tmp_path / "f.ply")
    asc = bytes(data).replace(b"binary_little_endian", b"ascii")
    (tmp_path / "a.ply").write_bytes(asc)
    with pytest.raises(SceneError, match="ascii"):
        read_ply(tmp_path / "a.ply")
    (tmp_path / "x.ply").write_bytes(b"not a ply")
    with pytest.raises(SceneError, match="magic"):
        read_ply(tmp_path / "x.ply")


def test_splat_rejects_truncated_and_nan(tmp_path):
    write_splat(tmp_path / "a.splat", make_cloud(4, 0, np.random.default_rng(1)))
    data = bytearray((tmp_path / "a.splat").read_bytes())
    (tmp_path / "t.splat").write_bytes(bytes(data[:-5]))
    with pytest.raises(SceneError, match="multiple of 32"):
        read_splat(tmp_path / "t.splat")
    data[32:36] = np.array([np.inf], "<f4").tobytes()
    (tmp_path / "n.splat").write_bytes(bytes(data))
    with pytest.raises(SceneError, match="splat 1"):
        read_splat(tmp_path / "n.splat")
    with pytest.raises(SceneError, match="accepted 0..2"):
        read_splat(tmp_path / "a.splat", max_splats=2)


def _spz_payload(tmp_path, n=30, degree=1) -> bytes:
    write_spz(tmp_path / "g.spz", make_cloud(n, degree, np.random.default_rng(2)))
    return gzip.decompress((tmp_path / "g.spz").read_bytes())


def test_spz_rejects_bad_magic_version_truncation(tmp_path):
    raw = _spz_payload(tmp_path)
    (tmp_path / "m.spz").write_bytes(gzip.compress(b"XXXX" + raw[4:]))
    with pytest.raises(SceneError, match="magic"):
        read_spz(tmp_path / "m.spz")
    (tmp_path / "v.spz").write_bytes(gzip.compress(raw[:4] + np.array([9], "<u4").tobytes() + raw[8:]))
    with pytest.raises(SceneError, match="version 9"):
        read_spz(tmp_path / "v.spz")
    (tmp_path / "t.spz").write_bytes(gzip.compress(raw[:-7]))
    with pytest.raises(SceneError, match="truncated"):
        read_spz(tmp_path / "t.spz")
    (tmp_path / "c.spz").write_bytes((tmp_path / "g.spz").read_bytes()[:40])
    with pytest.raises(SceneError, match="truncated"):
        read_spz(tmp_path / "c.spz")
    (tmp_path / "z.spz").write_bytes(b"definitely not gzip")
    with pytest.raises(SceneError, match="gzip"):
        read_spz(tmp_path / "z.spz")


def test_spz_rejects_absurd_count_and_gzip_bomb(tmp_path):
    raw = _spz_payload(tmp_path)
    absurd = raw[:8] + np.array([4_000_000_000], "<u4").tobytes() + raw[12:]
    (tmp_path / "a.spz").write_bytes(gzip.compress(absurd))
    with pytest.raises(SceneError, match="4000000000 splats"):
        read_spz(tmp_path / "a.spz")
    # a bomb: small file whose header promises 20 M splats of zeros (~1 GB inflated)
    head = np.array([splats.SPZ_MAGIC, 3, 20_000_000], "<u4").tobytes() + bytes([3, 12, 0, 0])
    comp = gzip.compress(head + bytes(8 << 20))  # only the first 8 MB really present
    (tmp_path / "bomb.spz").write_bytes(comp)
    assert len(comp) < 100_000
    with pytest.raises(SceneError, match="inflate to .* above the limit"):
        read_spz(tmp_path / "bomb.spz", max_decompressed_bytes=64 << 20)
    with pytest.raises(SceneError, match="truncated"):
        read_spz(tmp_path / "bomb.spz")  # default limit: inflates in chunks, then finds it short


# ---------------------------------------------------------------- GaussianCloud

def test_cloud_validation_messages():
    rng = np.random.default_rng(0)
    c = make_cloud(3, 1, rng)
    with pytest.raises(SceneError, match=r"sh has shape \(3, 1, 3\); expected \(3, 4, 3\)"):
        GaussianCloud(c.means, c.scales, c.rotations, c.opacities, c.sh[:, :1], 1)
    bad = c.means.copy()
    bad[1, 2] = np.nan
    with pytest.raises(SceneError, match=r"means: non-finite value .* \[1, 2\]"):
        GaussianCloud(bad, c.scales, c.rotations, c.opacities, c.sh, 1)
    with pytest.raises(SceneError, match="opacities"):
        GaussianCloud(c.means, c.scales, c.rotations, c.opacities + 2, c.sh, 1)
    with pytest.raises(SceneError, match="sh_degree"):
        GaussianCloud(c.means, c.scales, c.rotations, c.opacities, c.sh, 4)


def test_transformed_moves_covariances_and_rotates_sh():
    rng = np.random.default_rng(7)
    c = make_cloud(20, 3, rng)
    rot = rotation_between([0, 0, 1], [1, 1, 0.3])
    m = np.eye(4)
    m[:3, :3] = 2.5 * rot
    m[:3, 3] = (1, -2, 3)
    moved = c.transformed(m)
    np.testing.assert_allclose(moved.means, c.means @ (2.5 * rot).T + (1, -2, 3), atol=1e-4)
    np.testing.assert_allclose(moved.covariances(), 6.25 * rot @ c.covariances() @ rot.T,
                               rtol=1e-4, atol=1e-9)
    # colour seen along world direction R·d after the move equals colour along d before
    d = rng.normal(size=(5, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    before = np.einsum("mk,kc->mc", sh_basis(d, 3), c.sh[0])
    after = np.einsum("mk,kc->mc", sh_basis(d @ rot.T, 3), moved.sh[0])
    np.testing.assert_allclose(after, before, atol=1e-4)
    with pytest.raises(SceneError, match="reflection"):
        c.transformed(np.diag([1.0, 1.0, -1.0, 1.0]))
    cropped = c.cropped((-5, -5, -5), (5, 5, 5))
    assert np.all(np.abs(cropped.means) <= 5) and cropped.count < c.count


def test_colors_dc_formula():
    c = distinct_sh_cloud(0)
    np.testing.assert_allclose(c.colors_dc(), np.maximum(SH_C0 * c.sh[:, 0] + 0.5, 0), rtol=1e-6)


# ---------------------------------------------------------------- placement

def _street_cloud(rng, n_ground=4000, n_walls=1500, n_noise=200):
    """Z-up synthetic street: ground plane z=0, two facades, some clutter; metres."""
    g = np.c_[rng.uniform(-10, 10, n_ground), rng.uniform(-30, 30, n_ground),
              rng.normal(0, 0.01, n_ground)]
    side = rng.choice([-6.0, 6.0], n_walls)
    w = np.c_[side + rng.normal(0, 0.01, n_walls), rng.uniform(-30, 30, n_walls),
              rng.uniform(0, 12, n_walls)]
    clutter = np.c_[rng.uniform(-5, 5, n_noise), rng.uniform(-30, 30, n_noise),
                    rng.uniform(0.2, 3, n_noise)]
    pts = np.vstack([g, w, clutter])
    n = len(pts)
    return GaussianCloud(pts, np.full((n, 3), 0.05), np.tile([1.0, 0, 0, 0], (n, 1)),
                         np.full(n, 0.8), np.zeros((n, 1, 3)), 0)


def _angle_deg(a, b) -> float:
    a, b = np.asarray(a) / np.linalg.norm(a), np.asarray(b) / np.linalg.norm(b)
    return float(np.degrees(np.arccos(np.clip(a @ b, -1, 1))))


def test_estimate_ground_recovers_tilted_up_without_cameras():
    rng = np.random.default_rng(11)
    street = _street_cloud(rng)
    tilt = rotation_between([0, 0, 1], [0.3, -0.5, 0.8])
    m = np.eye(4)
    m[:3, :3] = 0.37 * tilt  # arbitrary capture scale, tilt and offset
    m[:3, 3] = (4, 5, -6)
    captured = street.transformed(m)
    up, ground, t = estimate_ground(captured, rng=np.random.default_rng(0))
    assert _angle_deg(up, tilt @ [0, 0, 1]) < 2.0
    level = captured.transformed(t)
    assert abs(np.median(level.means[:4000, 2])) < 0.02  # ground now at z = 0 (capture units)
    assert np.median(level.means[4000:, 2]) > 0.5  # walls above it


def test_estimate_ground_with_cameras_and_metric_scale():
    rng = np.random.default_rng(12)
    street = _street_cloud(rng)
    tilt = rotation_between([0, 0, 1], [-0.4, 0.2, 0.9])
    s = 0.2
    m = np.eye(4)
    m[:3, :3] = s * tilt
    m[:3, 3] = (1, 2, 3)
    captured = street.transformed(m)
    # phone cameras at 1.6 m walking along y, looking along +y (OpenCV: y down, z forward)
    cams = []
    for yy in np.linspace(-20, 20, 9):
        c2w_world = np.eye(4)
        c2w_world[:3, :3] = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # x, y(down)→-z, z→+y
        c2w_world[:3, 3] = (0, yy, 1.6)
        cams.append(m @ c2w_world @ np.diag([1 / s, 1 / s, 1 / s, 1]))
    cams = np.array(cams)
    up, ground, _ = estimate_ground(captured, cams)
    assert _angle_deg(up, tilt @ [0, 0, 1]) < 0.5
    assert scale_from_camera_height(cams, up, ground, 1.6) == pytest.approx(1 / s, rel=0.03)
    metric, _ = make_metric_z_up(captured, cams)
    assert np.median(np.abs(metric.means[:4000, 2])) < 0.05
    assert metric.means[:, 1].max() - metric.means[:, 1].min() == pytest.approx(60, rel=0.02)
    assert scale_from_known_distance((0, 0, 0), (0, 3, 4), 10.0) == pytest.approx(2.0)
    with pytest.raises(SceneError, match="distinct"):
        scale_from_known_distance((1, 1, 1), (1, 1, 1), 2.0)
