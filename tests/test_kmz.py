"""KMZ → Scene: COLLADA models placed by KML location/heading/scale in ENU metres, with
COLLADA units and up axis respected; hostile archives and XML are refused."""

from __future__ import annotations

import numpy as np
import pytest

from citywalk.errors import SceneError

from builders import BILLION_LAUGHS, ORIGIN, _dae, _good_kmz, _kml, _lon_east_of, _placemark, _write_kmz

pytest.importorskip("collada")

from citywalk.sources.kmz import load_kmz  # noqa: E402


def _extent(meshes):
    pos = np.concatenate([m.positions for m in meshes])
    return pos.min(axis=0), pos.max(axis=0)


def test_kmz_models_placed_and_oriented_in_metres(tmp_path):
    scene = load_kmz(_good_kmz(tmp_path))
    assert scene.origin_latlon == pytest.approx(ORIGIN)
    assert len(scene.meshes) == 2 and scene.triangle_count == 24
    a, b = scene.meshes
    lo, hi = _extent([a])
    np.testing.assert_allclose(lo, [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(hi, [2, 10, 3], atol=0.01)
    # heading 90: the model's north (10 m long) axis now points east; its x axis points south.
    lo, hi = _extent([b])
    np.testing.assert_allclose(lo, [100, -2, 0], atol=0.5)
    np.testing.assert_allclose(hi, [110, 0, 3], atol=0.5)
    assert hi[0] - lo[0] == pytest.approx(10.0, abs=0.01) and hi[1] - lo[1] == pytest.approx(2.0, abs=0.01)
    assert a.material.albedo == pytest.approx((0.2, 0.4, 0.6))
    texture = scene.textures[b.material.texture]
    assert texture.shape == (4, 4, 4) and tuple(texture[0, 0, :3]) == (230, 10, 10)
    assert scene.copyright == ["Model A (c) Alice", "Model B (c) Bob"]
    # the top face of each box (triangles with all corners at z = 3) has normals pointing up,
    # and the winding agrees with the normals (outward faces stay outward after placement)
    for mesh in scene.meshes:
        tri = mesh.positions[mesh.indices]
        top = np.all(tri[:, :, 2] > 2.99, axis=1)
        assert top.sum() == 2
        assert np.allclose(mesh.normals[mesh.indices[top]], [0, 0, 1], atol=1e-4)
        winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        assert np.all(np.einsum("ij,ij->i", winding, mesh.normals[mesh.indices[:, 0]]) > 0)


def test_kmz_given_origin_and_scale(tmp_path):
    lon_b = _lon_east_of(ORIGIN[0], ORIGIN[1], 100.0)
    path = _write_kmz(
        tmp_path / "scaled.kmz",
        {
            "doc.kml": _kml(_placemark("a.dae", ORIGIN[0], ORIGIN[1], 0.0, scale=2.0)),
            "a.dae": _dae((0, 0, 0), (2, 10, 3), "Z_UP", 1.0, None, ""),
        },
    )
    scene = load_kmz(path, origin_latlon=(ORIGIN[0], lon_b))
    lo, hi = _extent(scene.meshes)
    np.testing.assert_allclose(lo, [-100, 0, 0], atol=0.5)
    np.testing.assert_allclose(hi - lo, [4, 20, 6], atol=0.01)


def test_kmz_zip_slip_entry_refused(tmp_path):
    path = _write_kmz(
        tmp_path / "slip.kmz",
        {"doc.kml": _kml(_placemark("a.dae", *ORIGIN, 0.0)), "../../evil.dae": b"<COLLADA/>"},
    )
    with pytest.raises(SceneError, match=r"\.\./\.\./evil\.dae"):
        load_kmz(path)


def test_kmz_href_climbing_out_refused(tmp_path):
    path = _write_kmz(tmp_path / "href.kmz", {"doc.kml": _kml(_placemark("../../evil.dae", *ORIGIN, 0.0))})
    with pytest.raises(SceneError, match="outside the archive"):
        load_kmz(path)


def test_kmz_billion_laughs_refused(tmp_path):
    path = _write_kmz(tmp_path / "lol.kmz", {"doc.kml": BILLION_LAUGHS})
    with pytest.raises(SceneError, match="DOCTYPE"):
        load_kmz(path)
    dae_bomb = BILLION_LAUGHS.replace(b"<kml", b"<COLLADA").replace(b"</kml>", b"</COLLADA>")
    path = _write_kmz(
        tmp_path / "lol_dae.kmz", {"doc.kml": _kml(_placemark("a.dae", *ORIGIN, 0.0)), "a.dae": dae_bomb}
    )
    with pytest.raises(SceneError, match="DOCTYPE"):
        load_kmz(path)


def test_kmz_bad_inputs_named(tmp_path):
    path = _write_kmz(tmp_path / "missing.kmz", {"doc.kml": _kml(_placemark("nope.dae", *ORIGIN, 0.0))})
    with pytest.raises(SceneError, match="nope.dae"):
        load_kmz(path)
    path = _write_kmz(tmp_path / "empty.kmz", {"doc.kml": _kml()})
    with pytest.raises(SceneError, match="no <Model>"):
        load_kmz(path)
    path = _write_kmz(tmp_path / "badlat.kmz", {"doc.kml": _kml(_placemark("a.dae", 123.0, 0.0, 0.0))})
    with pytest.raises(SceneError, match="latitude"):
        load_kmz(path)
    (tmp_path / "notzip.kmz").write_bytes(b"hello")
    with pytest.raises(SceneError, match="zip"):
        load_kmz(tmp_path / "notzip.kmz")
