"""GaussianSplats3D .ksplat: round trips at compression levels 0–2 within their stated loss, the
stored SH order, several sections, and refusal of malformed headers naming the file and fault."""

from __future__ import annotations

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.sources.splat_ksplat import (
    MAIN_HEADER_BYTES,
    SECTION_HEADER_BYTES,
    bucket_order,
    read_ksplat,
    write_ksplat,
)
from citywalk.sources.splats import load_splat_scene, save_splat_scene

from builders import distinct_sh_cloud, make_cloud


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("degree", [0, 1, 2])
def test_ksplat_round_trip_within_stated_loss(tmp_path, level, degree):
    cloud = make_cloud(1500, degree, np.random.default_rng(10 * level + degree))
    write_ksplat(tmp_path / "a.ksplat", cloud, compression_level=level)
    back = read_ksplat(tmp_path / "a.ksplat")
    assert back.count == 1500 and back.sh_degree == degree
    order = np.arange(1500) if level == 0 else bucket_order(cloud.means.astype(np.float64), 5.0, 256)[0]
    assert sorted(order.tolist()) == list(range(1500))
    c = cloud.means[order], cloud.scales[order], cloud.rotations[order], cloud.opacities[order], cloud.sh[order]
    pos_m, rel, rot, rest = (0, 0, 0, 0) if level == 0 else (2.5 / 32767 / 2 + 1e-6, 2 ** -11, 2 ** -11, 2 ** -11)
    assert np.abs(back.means - c[0]).max() <= pos_m + 2e-6
    assert np.abs(back.scales / c[1] - 1).max() <= rel + 1e-6
    assert np.abs(back.rotations - c[2]).max() <= rot + 1e-6
    assert np.abs(back.opacities - c[3]).max() <= 0.5 / 255 + 1e-6
    srgb = np.clip(0.5 + 0.28209479177387814 * c[4][:, 0], 0, 1)
    assert np.abs(back.colors_dc() - srgb).max() <= 0.5 / 255 + 1e-6
    if degree:
        span = c[4][:, 1:].max() - c[4][:, 1:].min()
        bound = {0: 1e-7, 1: 2 ** -11, 2: 0.5 * span / 255 + 1e-6}[level]
        assert np.abs(back.sh[:, 1:] - c[4][:, 1:]).max() <= bound


def test_ksplat_stores_sh_channel_by_channel_and_drops_degree_3(tmp_path):
    cloud = distinct_sh_cloud(3)
    save_splat_scene(tmp_path / "a.ksplat", cloud)  # level 1 by default
    write_ksplat(tmp_path / "b.ksplat", cloud, compression_level=0)
    raw = (tmp_path / "b.ksplat").read_bytes()[MAIN_HEADER_BYTES + SECTION_HEADER_BYTES:]
    first = np.frombuffer(raw[44:44 + 24 * 4], "<f4")
    np.testing.assert_array_equal(first[:3], cloud.sh[0, 1:4, 0])  # red of degree 1
    np.testing.assert_array_equal(first[3:6], cloud.sh[0, 1:4, 1])
    np.testing.assert_array_equal(first[9:14], cloud.sh[0, 4:9, 0])  # red of degree 2
    back = load_splat_scene(tmp_path / "b.ksplat")
    assert back.sh_degree == 2
    np.testing.assert_array_equal(back.sh[:, 1:], cloud.sh[:, 1:9])
    assert load_splat_scene(tmp_path / "a.ksplat").sh_degree == 2


def test_ksplat_two_sections_of_different_degree(tmp_path):
    a, b = make_cloud(40, 0, np.random.default_rng(1)), make_cloud(30, 1, np.random.default_rng(2))
    write_ksplat(tmp_path / "a.ksplat", a, 0)
    write_ksplat(tmp_path / "b.ksplat", b, 0)
    ra, rb = (tmp_path / "a.ksplat").read_bytes(), (tmp_path / "b.ksplat").read_bytes()
    head = bytearray(ra[:MAIN_HEADER_BYTES])
    head[4:20] = np.array([2, 2, 70, 70], "<u4").tobytes()
    sec_a = ra[MAIN_HEADER_BYTES:MAIN_HEADER_BYTES + SECTION_HEADER_BYTES]
    sec_b = rb[MAIN_HEADER_BYTES:MAIN_HEADER_BYTES + SECTION_HEADER_BYTES]
    body = ra[MAIN_HEADER_BYTES + SECTION_HEADER_BYTES:] + rb[MAIN_HEADER_BYTES + SECTION_HEADER_BYTES:]
    (tmp_path / "ab.ksplat").write_bytes(bytes(head) + sec_a + sec_b + body)
    back = read_ksplat(tmp_path / "ab.ksplat")
    assert back.count == 70 and back.sh_degree == 1
    np.testing.assert_array_equal(back.means[40:], b.means)
    np.testing.assert_array_equal(back.sh[:40, 1:], 0)
    np.testing.assert_array_equal(back.sh[40:, 1:], b.sh[:, 1:])


def _patch(raw: bytes, at: int, value: bytes) -> bytes:
    return raw[:at] + value + raw[at + len(value):]


S = MAIN_HEADER_BYTES  # the first section header


@pytest.mark.parametrize("change, message", [
    (lambda r: r[:3000], "a .ksplat needs a 4096-byte header"),
    (lambda r: r[:-100], "(truncated)"),
    (lambda r: _patch(r, 0, bytes([1, 0])), "version 1.0"),
    (lambda r: _patch(r, 20, np.array([3], "<u2").tobytes()), "compression level 3"),
    (lambda r: _patch(r, 4, np.array([2 ** 31], "<u4").tobytes()), "declares 2147483648 sections"),
    (lambda r: _patch(r, S, np.array([4 * 10 ** 6, 4 * 10 ** 6], "<u4").tobytes()), "declares 4000000 splats"),
    (lambda r: _patch(r, S, np.array([200], "<u4").tobytes()), "holds 200 splats but has room for 100"),
    (lambda r: _patch(r, S + 40, np.array([3], "<u2").tobytes()), "SH degree 3; accepted 0..2"),
    (lambda r: _patch(r, S + 32, np.array([0, 0], "<u4").tobytes()), "full + partial = buckets"),
    (lambda r: _patch(r, S + 16, np.array([np.nan], "<f4").tobytes()), "block size > 0"),
    (lambda r: _patch(r, S + SECTION_HEADER_BYTES, bytes(4)), "buckets hold"),  # first partial bucket: 0
])
def test_ksplat_malformed_headers_refused_by_name(tmp_path, change, message):
    write_ksplat(tmp_path / "a.ksplat", make_cloud(100, 1, np.random.default_rng(3)), 1)
    bad = tmp_path / "bad.ksplat"
    bad.write_bytes(change((tmp_path / "a.ksplat").read_bytes()))
    with pytest.raises(SceneError) as err:
        read_ksplat(bad, max_splats=1_000_000)
    assert str(bad) in str(err.value) and message in str(err.value)


def test_ksplat_nan_and_zero_quaternion_refused(tmp_path):
    write_ksplat(tmp_path / "a.ksplat", make_cloud(10, 0, np.random.default_rng(4)), 0)
    raw = (tmp_path / "a.ksplat").read_bytes()
    data = S + SECTION_HEADER_BYTES
    (tmp_path / "n.ksplat").write_bytes(_patch(raw, data + 44 * 3, np.array([np.nan], "<f4").tobytes()))
    with pytest.raises(SceneError, match="section 0 centre' is NaN/inf at splat 3"):
        read_ksplat(tmp_path / "n.ksplat")
    (tmp_path / "q.ksplat").write_bytes(_patch(raw, data + 44 * 2 + 24, bytes(16)))
    with pytest.raises(SceneError, match="zero rotation quaternion at splat 2"):
        read_ksplat(tmp_path / "q.ksplat")


def test_ksplat_empty_cloud_and_bad_level(tmp_path):
    write_ksplat(tmp_path / "e.ksplat", make_cloud(0, 1, np.random.default_rng(0)), 1)
    assert read_ksplat(tmp_path / "e.ksplat").count == 0
    with pytest.raises(SceneError, match="compression_level=5"):
        write_ksplat(tmp_path / "x.ksplat", make_cloud(3, 0, np.random.default_rng(0)), 5)
