"""The automatic walk stays at street level: beside a tall statue on a plaza, not on top of it,
also when the file drapes one surface over the statue; and on an OSM extract whose middle is an
open field it starts among the buildings."""

from __future__ import annotations

import numpy as np
import pytest

from builders import _Osm, _rect

trimesh = pytest.importorskip("trimesh")

from citywalk.camera import camera_frames, plan_route  # noqa: E402
from citywalk.camera.route import drape  # noqa: E402
from citywalk.shot import Shot  # noqa: E402
from citywalk.sources import build_scene  # noqa: E402

EYE_M = 1.65


def _shot(source: str, path, seconds=6.0) -> Shot:
    return Shot.from_dict({"scene": {"source": source, "path": str(path)},
                           "camera": {"eye_height_m": EYE_M},
                           "output": {"duration_s": seconds, "fps": 4, "size": [160, 90]}})


def _plaza_with_statue(path, draped: bool):
    """A 60 × 40 m plaza at z = 0 with a 4 × 4 × 8 m statue in its middle: as two closed boxes,
    or (draped) as one height-field surface lifted over the statue, as photogrammetry gives."""
    if draped:
        n = 121
        xs, ys = np.linspace(-30, 30, n), np.linspace(-20, 20, 81)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        gz = np.where((np.abs(gx) <= 2) & (np.abs(gy) <= 2), 8.0, 0.0)
        verts = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
        idx = np.arange(n * 81).reshape(n, 81)
        a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
        mesh = trimesh.Trimesh(verts, np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])]),
                               process=False)
    else:
        plaza = trimesh.creation.box(extents=(60.0, 40.0, 0.2))
        plaza.apply_translation((0, 0, -0.1))
        statue = trimesh.creation.box(extents=(4.0, 4.0, 8.0))
        statue.apply_translation((0, 0, 4.0))
        mesh = trimesh.util.concatenate([plaza, statue])
    mesh.export(path)
    return path


@pytest.mark.parametrize("draped", [False, True])
def test_walk_passes_beside_a_statue_at_street_level(tmp_path, draped):
    path = _plaza_with_statue(tmp_path / "plaza.ply", draped)
    shot = _shot("mesh", path)
    scene = build_scene(shot.scene)
    assert scene.ground_fn(0.0, 0.0) == pytest.approx(8.0, abs=1e-3)  # the statue's top is there
    route = plan_route(scene, shot)
    assert np.abs(route[:, 2]).max() < 1e-3  # the route stays on the plaza
    # beside the statue: the route keeps off its 4 × 4 m footprint
    assert np.min(np.maximum(np.abs(route[:, 0]), np.abs(route[:, 1]))) > 3.0  # with a shoulder of room
    frames = camera_frames(scene, shot, route)
    z = np.array([f.position[2] for f in frames])
    assert np.all(np.abs(z - EYE_M) < 0.1)


def test_drape_keeps_street_level_through_an_object(tmp_path):
    """Walking straight at the statue: the draped route does not climb its 8 m, where the first
    hit from above would."""
    scene = build_scene(_shot("mesh", _plaza_with_statue(tmp_path / "plaza.ply", draped=True)).scene)
    line = np.array([[-20.0, 0.0, 0.0], [20.0, 0.0, 0.0]])
    walked = drape(line, scene.ground_fn)
    assert np.abs(walked[:, 2]).max() < 1e-3
    top = np.array([scene.ground_fn(x, y) for x, y in walked[:, :2]])
    assert top.max() == pytest.approx(8.0, abs=1e-3)


def test_drape_still_climbs_steps_and_slopes(tmp_path):
    steps = [trimesh.creation.box(extents=(40.0, 10.0, 0.2))]
    steps[0].apply_translation((0, 0, -0.1))
    for i in range(6):  # 6 steps of 0.3 m, 1 m deep, from x = 0
        box = trimesh.creation.box(extents=(1.0, 10.0, 0.3 * (i + 1)))
        box.apply_translation((0.5 + i, 0, 0.15 * (i + 1)))
        steps.append(box)
    top = trimesh.creation.box(extents=(14.0, 10.0, 1.8))
    top.apply_translation((13.0, 0, 0.9))
    steps.append(top)
    path = tmp_path / "steps.ply"
    trimesh.util.concatenate(steps).export(path)
    scene = build_scene(_shot("mesh", path).scene)
    walked = drape(np.array([[-10.0, 0.0, 0.0], [18.0, 0.0, 0.0]]), scene.ground_fn, step_m=0.5)
    assert walked[0, 2] == pytest.approx(0.0, abs=1e-3)
    assert walked[-1, 2] == pytest.approx(1.8, abs=1e-3)  # up the stairs onto the terrace


def _open_field_extract(path):
    """A grid of paths across an empty field (the extract's middle) and one street, 300 m north,
    lined with buildings."""
    o = _Osm()
    grid = {}
    for i, x in enumerate(range(-100, 101, 50)):
        for j, y in enumerate(range(-100, 101, 50)):
            grid[i, j] = o.node(x, y)
    wid = 7000
    for i in range(5):
        o.way_refs(wid, [grid[i, j] for j in range(5)], {"highway": "residential", "name": f"Field {i}"})
        o.way_refs(wid + 1, [grid[j, i] for j in range(5)], {"highway": "residential", "name": f"Cross {i}"})
        wid += 2
    a, b = o.node(-100, 300), o.node(100, 300)
    o.way_refs(wid, [a, b], {"highway": "residential", "name": "Shop St"})
    x = -90.0
    while x < 90:
        for y0 in (306.0, 282.0):
            wid += 1
            o.way(wid, _rect(x, y0, 9.0, 12.0), {"building": "yes", "building:levels": "4"}, closed=True)
        x += 10.0
    path.write_text(o.xml())
    return path


def _distance_to_buildings(xy, lo_y=282.0, hi_y=318.0, lo_x=-90.0, hi_x=89.0):
    dx = max(lo_x - xy[0], 0.0, xy[0] - hi_x)
    dy = 0.0 if lo_y <= xy[1] <= hi_y else min(abs(xy[1] - lo_y), abs(xy[1] - hi_y))
    if lo_y + 12 < xy[1] < hi_y - 12:  # on the street between the two rows
        dy = min(xy[1] - (lo_y + 12), (hi_y - 12) - xy[1])
    return float(np.hypot(dx, dy))


def test_osm_walk_starts_among_buildings(tmp_path):
    shot = _shot("osm", _open_field_extract(tmp_path / "field.osm"))
    scene = build_scene(shot.scene)
    centre = scene.network.nodes[:, :2].mean(0)
    assert _distance_to_buildings(centre) > 150  # the network's middle is the empty field
    route = plan_route(scene, shot)
    assert _distance_to_buildings(route[0, :2]) < 30.0
    assert abs(route[0, 1] - 300.0) < 15.0
