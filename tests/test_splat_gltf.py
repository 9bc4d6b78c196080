"""glTF KHR_gaussian_splatting splats: lossless round trips (.glb and .gltf, SH degrees 0-3),
normalized integer attributes, and malformed files rejected with a SceneError naming the fault."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.scene.gaussians import GaussianCloud
from citywalk.sources.splat_formats import read_gltf_splats, write_gltf_splats
from citywalk.sources.splats import load_splat_scene, save_splat_scene


def cloud(n=300, degree=2, seed=0):
    rng = np.random.default_rng(seed)
    k = (degree + 1) ** 2
    return GaussianCloud(rng.normal(size=(n, 3)) * 5, rng.uniform(0.01, 0.3, (n, 3)), rng.normal(size=(n, 4)),
                         rng.uniform(0, 1, n), rng.normal(0, 0.5, (n, k, 3)), degree)


@pytest.mark.parametrize("ext", [".glb", ".gltf"])
@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_is_lossless(tmp_path, ext, degree):
    c = cloud(degree=degree)
    path = tmp_path / f"s{ext}"
    save_splat_scene(path, c)
    d = load_splat_scene(path)
    assert d.sh_degree == degree and d.count == c.count
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(d, name), getattr(c, name))


def _glb_parts(path):
    raw = path.read_bytes()
    jlen = struct.unpack_from("<I", raw, 12)[0]
    doc = json.loads(raw[20:20 + jlen])
    blob = raw[20 + jlen + 8:]
    return doc, bytearray(blob)


def _write_glb(path, doc, blob):
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    blob = bytes(blob) + b"\0" * (-len(blob) % 4)
    with open(path, "wb") as f:
        f.write(struct.pack("<III", 0x46546C67, 2, 28 + len(js) + len(blob)))
        f.write(struct.pack("<II", len(js), 0x4E4F534A) + js)
        f.write(struct.pack("<II", len(blob), 0x004E4942) + blob)


def test_normalized_byte_opacity_and_short_rotation(tmp_path):
    c = cloud(n=4, degree=0)
    path = tmp_path / "s.glb"
    save_splat_scene(path, c)
    doc, blob = _glb_parts(path)
    attrs = doc["meshes"][0]["primitives"][0]["attributes"]
    opac = np.array([0, 64, 128, 255], np.uint8).tobytes()
    rot = (np.array([[0, 0, 0, 1]] * 4) * 32767).astype("<i2").tobytes()
    for name, data, comp in (("KHR_gaussian_splatting:OPACITY", opac, 5121),
                             ("KHR_gaussian_splatting:ROTATION", rot, 5122)):
        acc = doc["accessors"][attrs[name]]
        doc["bufferViews"].append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        acc.update(bufferView=len(doc["bufferViews"]) - 1, componentType=comp, normalized=True)
        blob += data + b"\0" * (-len(data) % 4)
    doc["buffers"][0]["byteLength"] = len(blob)
    _write_glb(path, doc, blob)
    d = load_splat_scene(path)
    np.testing.assert_allclose(d.opacities, np.array([0, 64, 128, 255]) / 255.0, atol=1e-6)
    np.testing.assert_allclose(d.rotations, [[1, 0, 0, 0]] * 4, atol=1e-6)


def _corrupt(tmp_path, change):
    path = tmp_path / "bad.glb"
    save_splat_scene(path, cloud(n=10, degree=1))
    doc, blob = _glb_parts(path)
    change(doc, blob)
    _write_glb(path, doc, blob)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d, b: d["meshes"][0]["primitives"][0].pop("extensions"), "no mesh primitive carries"),
    (lambda d, b: d["meshes"][0]["primitives"][0]["attributes"].pop("KHR_gaussian_splatting:SCALE"),
     "lacks attributes"),
    (lambda d, b: d["meshes"][0]["primitives"][0]["attributes"].pop("KHR_gaussian_splatting:SH_DEGREE_1_COEF_2"),
     "missing"),
    (lambda d, b: d["accessors"][0].update(count=10**6), "needs bytes"),
    (lambda d, b: d["accessors"][0].update(count=10**9), "declares"),
    (lambda d, b: d["accessors"][2].update(type="VEC4"), "expected VEC3"),
    (lambda d, b: d["meshes"][0]["primitives"][0].update(mode=4), "mode 4"),
    (lambda d, b: d["bufferViews"][0].update(byteOffset=-8), "needs bytes"),
    (lambda d, b: b.__setitem__(slice(0, 4), struct.pack("<f", float("nan"))), "NaN"),
])
def test_malformed_glb_rejected(tmp_path, change, message):
    path = _corrupt(tmp_path, change)
    with pytest.raises(SceneError, match=message) as err:
        load_splat_scene(path)
    assert str(path) in str(err.value)


def test_truncated_and_non_gltf_files_rejected(tmp_path):
    path = tmp_path / "s.glb"
    save_splat_scene(path, cloud(n=10))
    raw = path.read_bytes()
    path.write_bytes(raw[:-7])
    with pytest.raises(SceneError, match="GLB header says"):
        load_splat_scene(path)
    path.write_bytes(b"PK\x03\x04 not a gltf at all, but long enough")
    with pytest.raises(SceneError, match="not a glTF 2.0 binary"):
        load_splat_scene(path)
    text = tmp_path / "s.gltf"
    text.write_text("{ not json")
    with pytest.raises(SceneError, match="does not parse"):
        load_splat_scene(text)
    text.write_text(json.dumps({"buffers": [{"uri": "../../etc/passwd", "byteLength": 4}]}))
    with pytest.raises(SceneError, match="not a file beside"):
        load_splat_scene(text)


# ---------------------------------------------------------------- KHR_gaussian_splatting_compression_spz_2

def _spz_cloud(n=300, degree=3):
    from tests.test_splat_formats import make_cloud

    return make_cloud(n, degree, np.random.default_rng(11))


@pytest.mark.parametrize("name", ["a.spz.glb", "a.spz.gltf"])
def test_gltf_spz_round_trip_within_spz_loss(tmp_path, name):
    cloud = _spz_cloud()
    save_splat_scene(tmp_path / name, cloud)
    doc = _doc(tmp_path / name)
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["extensions"]["KHR_gaussian_splatting"]["extensions"] == {
        "KHR_gaussian_splatting_compression_spz_2": {"bufferView": 0}}
    assert doc["extensionsRequired"] == ["KHR_gaussian_splatting_compression_spz_2"]
    assert all("bufferView" not in acc for acc in doc["accessors"])
    back = load_splat_scene(tmp_path / name)
    assert back.count == 300 and back.sh_degree == 3
    assert np.abs(back.means - cloud.means).max() <= 0.5 / 4096 + 1e-5
    assert np.abs(np.log(back.scales) - np.log(cloud.scales)).max() <= 1 / 32 + 1e-5
    assert np.abs(back.opacities - cloud.opacities).max() <= 0.5 / 255 + 1e-6
    sign = np.sign(np.sum(back.rotations * cloud.rotations, axis=1))[:, None]
    assert np.abs(back.rotations * sign - cloud.rotations).max() < 0.003
    assert np.abs(back.sh[:, 1:] - cloud.sh[:, 1:]).max() < 0.07


def test_spz_blob_is_in_spz_axes_a_half_turn_about_y(tmp_path):
    from citywalk.scene.splat_math import covariances
    from citywalk.sources.splat_formats import flip_luf_rub
    from citywalk.sources.splat_spz import read_spz_bytes

    cloud = _spz_cloud(50)
    turn = np.diag([-1.0, 1.0, -1.0, 1.0])
    flipped, rotated = flip_luf_rub(cloud), cloud.transformed(turn)
    np.testing.assert_allclose(flipped.means, rotated.means, atol=1e-6)
    np.testing.assert_allclose(flipped.sh, rotated.sh, atol=1e-5)  # SH signs = the exact SH rotation
    # the SPZ library negates quaternion x and z: a different quaternion, the same covariance
    np.testing.assert_allclose(covariances(flipped.scales, flipped.rotations),
                               covariances(rotated.scales, rotated.rotations), atol=1e-6)
    write_gltf_splats(tmp_path / "a.glb", cloud, compression="spz")
    doc, blob = _doc(tmp_path / "a.glb"), _bin(tmp_path / "a.glb")
    view = doc["bufferViews"][0]
    raw = read_spz_bytes(blob[view["byteOffset"]:view["byteOffset"] + view["byteLength"]], "blob")
    assert np.abs(raw.means - flipped.means).max() <= 0.5 / 4096 + 1e-5


def _doc(path):
    if path.suffix == ".gltf":
        return json.loads(path.read_text())
    return _glb_parts(path)[0]


def _bin(path):
    return bytes(_glb_parts(path)[1])


def _spz_ext(doc):
    return doc["meshes"][0]["primitives"][0]["extensions"]["KHR_gaussian_splatting"]["extensions"]


@pytest.mark.parametrize("change, message", [
    (lambda d, b: (_spz_ext(d).update({"KHR_gaussian_splatting_compression_spz_2": {"bufferView": 7}}), b)[1],
     "names bufferView 7"),
    (lambda d, b: (d["bufferViews"][0].update(byteLength=10 ** 9), b)[1], "spans bytes 0..1000000000"),
    (lambda d, b: (d["accessors"][0].update(count=5), b)[1],
     "POSITION accessor declares 5 splats; the SPZ blob holds 40"),
    (lambda d, b: b"\0" * len(b), "(bufferView 0, SPZ): not a .spz file"),
    (lambda d, b: (_spz_ext(d).update({"KHR_gaussian_splatting_compression_spz_2": 3}), b)[1], "is not an object"),
])
def test_gltf_spz_malformed_refused_naming_file(tmp_path, change, message):
    path = tmp_path / "a.glb"
    write_gltf_splats(path, _spz_cloud(40, 1), compression="spz")
    doc = _doc(path)
    blob = change(doc, _bin(path))
    _write_glb(path, doc, blob)
    with pytest.raises(SceneError) as err:
        read_gltf_splats(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_gltf_spz_huge_count_refused_before_inflating(tmp_path):
    import gzip

    path = tmp_path / "a.glb"
    write_gltf_splats(path, _spz_cloud(40, 0), compression="spz")
    doc = _doc(path)
    head = np.array([0x5053474E, 3, 30_000_000], "<u4").tobytes() + bytes([0, 12, 0, 0])
    blob = gzip.compress(head)
    blob += b"\0" * (-len(blob) % 4)
    doc["bufferViews"][0]["byteLength"] = len(blob)
    doc["buffers"][0]["byteLength"] = len(blob)
    _write_glb(path, doc, blob)
    with pytest.raises(SceneError, match="header declares 30000000 splats"):
        read_gltf_splats(path, max_splats=1_000_000)
    with pytest.raises(SceneError, match="compression='zip'"):
        write_gltf_splats(path, _spz_cloud(4, 0), compression="zip")
