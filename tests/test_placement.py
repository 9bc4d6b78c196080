"""Placing a file world (scale, turn, shift, crop) moves everything in it together: meshes, lamps,
streets, the walk network, capture cameras and the ground. Before #20 only meshes and bounds
moved, so an OSM scene with `translate_m` left its lamps and walk network behind."""

import numpy as np
import pytest

from citywalk.scene import Material, Mesh, PointLight, Scene, Street, WalkNetwork
from citywalk.shot import Shot


def _osm_spec(path, **placement):
    return Shot.from_dict({"scene": {"source": "osm", "path": str(path), "style": "tokyo", **placement}}).scene


def test_osm_scene_moves_whole_with_its_placement(tmp_path, osm_city_path):
    from citywalk.sources import build_scene

    base = build_scene(_osm_spec(osm_city_path))
    moved = build_scene(_osm_spec(osm_city_path, translate_m=(100.0, -50.0, 2.0), rotate_z_deg=90.0, scale=2.0))
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])

    def expect(p):
        p = np.asarray(p, float)
        return np.concatenate([2.0 * p[..., :2] @ turn.T + [100.0, -50.0], 2.0 * p[..., 2:] + 2.0], -1)

    assert base.lights and base.streets and base.network is not None
    np.testing.assert_allclose([L.position for L in moved.lights], expect([L.position for L in base.lights]), atol=1e-4)
    np.testing.assert_allclose(moved.network.nodes, expect(base.network.nodes), atol=1e-4)
    for a, b in zip(base.streets, moved.streets):
        np.testing.assert_allclose(b.centerline, expect(np.c_[a.centerline, np.zeros(len(a.centerline))])[:, :2],
                                   atol=1e-4)
        assert b.road_width_m == pytest.approx(2 * a.road_width_m)
    assert moved.ground_height_m(0.0, 0.0) == pytest.approx(2.0), "flat ground moves up with the shift"
    np.testing.assert_allclose(np.concatenate([m.positions for m in moved.meshes]),
                               expect(np.concatenate([m.positions for m in base.meshes])), atol=1e-3)


def test_osm_walk_starts_on_the_moved_network(osm_city_path):
    from citywalk.pipeline import prepare

    shot = Shot.from_dict({"scene": {"source": "osm", "path": str(osm_city_path), "translate_m": [500.0, 0.0, 0.0]},
                           "output": {"duration_s": 1.0, "size": [64, 36]}})
    p = prepare(shot)
    nearest = np.min(np.linalg.norm(p.scene.network.nodes[:, :2] - p.route[0, :2], axis=1))
    assert nearest < 0.5, "the walk starts on the (moved) network"
    lamp_x = np.array([L.position[0] for L in p.scene.lights])
    assert lamp_x.min() > 300.0, "lamps moved with the buildings"


def _tiny_scene() -> Scene:
    quad = Mesh(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]], np.float32), np.tile(np.float32([0, 0, 1]), (3, 1)),
                np.zeros((3, 2), np.float32), np.array([[0, 1, 2]], np.uint32), Material("m"))
    far = Mesh(quad.positions + np.float32([50, 0, 0]), quad.normals, quad.uvs, quad.indices, Material("far"))
    net = WalkNetwork(np.array([[0.5, 0.5, 0], [2, 0, 0], [60, 0, 0]], float), np.array([[0, 1], [1, 2]]),
                      ["sidewalk", "sidewalk"], ["a", "a"])
    return Scene(meshes=[quad, far], lights=[PointLight((0.5, 0.5, 3.0)), PointLight((55.0, 0.0, 3.0))],
                 streets=[Street("a", "side", np.array([[0.0, 0], [30, 0], [60, 0]]), 4.0, 1.0)], network=net,
                 bounds_m=((0, 0, 0), (61, 1, 3)), capture_cameras_m=np.array([[1.0, 0, 1.6], [58, 0, 1.6]]),
                 ground_fn=lambda x, y: 0.1 * x)


def test_transformed_moves_cameras_lamp_range_and_height_field():
    m = np.eye(4)
    m[:3, :3] *= 3.0
    m[:3, 3] = (10.0, 0.0, 1.0)
    s = _tiny_scene().transformed(m)
    np.testing.assert_allclose(s.capture_cameras_m[0], [13.0, 0.0, 5.8])
    assert s.lights[0].range_m == pytest.approx(3 * 18.0) and s.lights[0].intensity == pytest.approx(9 * 2500.0)
    # the old ground at x = 2 was 0.2 m; that point is now at x = 16 and 3 × 0.2 + 1 m high
    assert s.ground_height_m(16.0, 0.0) == pytest.approx(1.6)
    assert s.bounds_m[1][0] == pytest.approx(10 + 3 * 61)


def test_cropped_keeps_what_lies_inside_and_a_consistent_network():
    s = _tiny_scene().cropped((-1, -1, -1), (10, 10, 10))
    assert [m.material.name for m in s.meshes] == ["m"]
    assert len(s.lights) == 1 and len(s.capture_cameras_m) == 1
    assert len(s.network.nodes) == 2 and s.network.edges.tolist() == [[0, 1]] and s.network.edge_kinds == ["sidewalk"]
    assert s.streets == [], "a street with one point left inside is dropped"


def test_a_shear_or_mirror_is_refused():
    from citywalk.errors import SceneError

    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    with pytest.raises(SceneError, match="determinant"):
        _tiny_scene().transformed(mirror)


def test_splat_ground_follows_the_users_shift_not_the_files_frame(tmp_path):
    from citywalk.sources import build_scene

    from builders import _synthetic_splat_street

    path = tmp_path / "street.ply"
    _synthetic_splat_street(path, np.random.default_rng(0))
    spec = {"source": "splat", "path": str(path)}
    placed = build_scene(Shot.from_dict({"scene": spec}).scene)
    assert placed.ground_fn is None, "the estimated ground is z = 0"
    lifted = build_scene(Shot.from_dict({"scene": {**spec, "translate_m": [0, 0, 3.0]}}).scene)
    assert lifted.ground_height_m(1.0, 2.0) == pytest.approx(3.0)
    assert np.median(lifted.gaussians[0].means[:, 2]) == pytest.approx(
        np.median(placed.gaussians[0].means[:, 2]) + 3, abs=1e-3
    )
