"""3D Tiles as people have them: i3dm instances, cmpt composites, pnts point clouds and glTF
POINTS (drawn as splats), implicit quadtree/octree tilesets with subtree files, viewer request
volumes, and a clear refusal when nothing drawable is left. All files are built here."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from citywalk.errors import SceneError

from builders import _box_volume, _glb_box

trimesh = pytest.importorskip("trimesh")

from citywalk.sources.tiles import load_tiles, write_b3dm  # noqa: E402
from citywalk.sources.tiles_formats import (  # noqa: E402
    PNTS_HEADER_BYTES,
    _write_tile,
    parse_cmpt,
    parse_i3dm,
    parse_pnts,
    write_cmpt,
    write_i3dm,
    write_pnts,
)
from citywalk.sources.tiles_implicit import morton_encode, write_subtree  # noqa: E402

NEAR = [((0.0, 0.0, 5.0), 60.0, 720)]
BOX_TRIANGLES = 12


def _tileset(folder, root: dict, version="1.1") -> str:
    """A local (not georeferenced, Z-up metres) tileset.json around `root`."""
    root.setdefault("boundingVolume", _box_volume(0, 0, 0, 100, 100, 50))
    root.setdefault("geometricError", 0)
    root.setdefault("refine", "ADD")
    path = folder / "tileset.json"
    path.write_text(json.dumps({"asset": {"version": version}, "geometricError": 100, "root": root}))
    return path


def _clusters(mesh, count):
    """Centres (count, 3) of the `count` equal vertex blocks of an instanced mesh."""
    return mesh.positions.reshape(count, -1, 3).mean(axis=1)


def test_i3dm_draws_every_instance_placed_rotated_and_scaled(tmp_path):
    unit = _glb_box((1, 1, 1), (0, 0, 0.5))
    positions = [(0, 0, 0), (10, 0, 0), (20, 0, 0), (0, 10, 0), (0, 20, 3)]
    up = [(0, 1, 0)] * 4 + [(-1, 0, 0)]  # the last one turned 90° about Z
    right = [(1, 0, 0)] * 4 + [(0, 1, 0)]
    scale = [1, 1, 1, 1, 2]
    blob = write_i3dm(unit, positions, up, right, scale)
    inst = parse_i3dm(blob, "t.i3dm")
    assert inst.matrices.shape == (5, 4, 4) and inst.gltf == unit
    (tmp_path / "trees.i3dm").write_bytes(blob)
    scene = load_tiles(_tileset(tmp_path, {"content": {"uri": "trees.i3dm"}}), cameras=NEAR)
    assert scene.triangle_count == 5 * BOX_TRIANGLES
    assert scene.report.loaded["i3dm tiles"] == 1 and scene.report.loaded["instances"] == 5
    mesh = scene.meshes[0]
    centres = _clusters(mesh, 5)
    expected = np.array(positions, float) + ([[0, 0, 0.5]] * 4 + [[0, 0, 1.0]])  # scale 2 lifts the centre
    np.testing.assert_allclose(centres, expected, atol=1e-4)
    last = mesh.positions.reshape(5, -1, 3)[4]
    np.testing.assert_allclose(last.max(axis=0) - last.min(axis=0), [2, 2, 2], atol=1e-4)


def test_i3dm_rotation_turns_a_long_model(tmp_path):
    bar = _glb_box((4, 1, 1), (0, 0, 0.5))  # long along x
    blob = write_i3dm(bar, [(0, 0, 0), (0, 0, 0)], [(0, 1, 0), (-1, 0, 0)], [(1, 0, 0), (0, 1, 0)])
    (tmp_path / "bars.i3dm").write_bytes(blob)
    scene = load_tiles(_tileset(tmp_path, {"content": {"uri": "bars.i3dm"}}), cameras=NEAR)
    a, b = scene.meshes[0].positions.reshape(2, -1, 3)
    np.testing.assert_allclose(a.max(0) - a.min(0), [4, 1, 1], atol=1e-4)
    np.testing.assert_allclose(b.max(0) - b.min(0), [1, 4, 1], atol=1e-4)  # right = +y: long along y


def test_i3dm_with_external_gltf_uri_and_a_missing_one(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "lamp.glb").write_bytes(_glb_box((1, 1, 3), (0, 0, 1.5)))
    (tmp_path / "a.i3dm").write_bytes(write_i3dm("models/lamp.glb", [(0, 0, 0), (5, 0, 0), (10, 0, 0)]))
    (tmp_path / "b.i3dm").write_bytes(write_i3dm("models/gone.glb", [(0, 5, 0)]))
    root = {"contents": [{"uri": "a.i3dm"}, {"uri": "b.i3dm"}]}
    scene = load_tiles(_tileset(tmp_path, root), cameras=NEAR)
    assert scene.triangle_count == 3 * BOX_TRIANGLES
    assert scene.report.skipped == {("i3dm tiles", "glTF 'models/gone.glb' not found"): 1}
    with pytest.raises(SceneError, match="outside"):
        (tmp_path / "c.i3dm").write_bytes(write_i3dm("../../etc/passwd", [(0, 0, 0)]))
        load_tiles(_tileset(tmp_path, {"content": {"uri": "c.i3dm"}}), cameras=NEAR)


def test_cmpt_with_b3dm_and_i3dm_inside_and_nesting_limit(tmp_path):
    b3dm = write_b3dm(_glb_box((50, 50, 1), (0, 0, -0.5)))
    i3dm = write_i3dm(_glb_box((1, 1, 1), (0, 0, 0.5)), [(0, 0, 0), (3, 0, 0), (6, 0, 0)])
    cmpt = write_cmpt([b3dm, write_cmpt([i3dm])])  # the i3dm one composite deeper
    assert [t[:4] for t in parse_cmpt(cmpt, "x")] == [b"b3dm", b"cmpt"]
    (tmp_path / "block.cmpt").write_bytes(cmpt)
    scene = load_tiles(_tileset(tmp_path, {"content": {"uri": "block.cmpt"}}), cameras=NEAR)
    assert scene.triangle_count == BOX_TRIANGLES + 3 * BOX_TRIANGLES
    loaded = scene.report.loaded
    assert (loaded["b3dm tiles"], loaded["i3dm tiles"], loaded["cmpt tiles"]) == (1, 1, 2)
    deep = i3dm
    for _ in range(6):
        deep = write_cmpt([deep])
    (tmp_path / "deep.cmpt").write_bytes(deep)
    with pytest.raises(SceneError, match="nest more than"):
        load_tiles(_tileset(tmp_path, {"content": {"uri": "deep.cmpt"}}), cameras=NEAR)
    truncated = bytearray(cmpt)
    struct.pack_into("<I", truncated, 16 + 8, len(cmpt))  # the first inner tile claims too much
    with pytest.raises(SceneError, match="inner tile 0"):
        parse_cmpt(bytes(truncated), "bad.cmpt")


def test_pnts_points_become_one_splat_each(tmp_path):
    g = np.stack(np.meshgrid(np.arange(40) * 0.1, np.arange(25) * 0.1, indexing="ij"), -1).reshape(-1, 2)
    positions = np.column_stack([g, np.zeros(len(g))])
    rgb = np.zeros((len(g), 3), np.uint8)
    rgb[:, 0] = 200
    rgb[::2, 2] = 100
    (tmp_path / "cloud.pnts").write_bytes(write_pnts(positions, rgb, rtc_center=(5, 0, 1)))
    scene = load_tiles(_tileset(tmp_path, {"content": {"uri": "cloud.pnts"}}), cameras=NEAR)
    (cloud,) = scene.gaussians
    assert cloud.count == 1000 == scene.report.loaded["splats"]
    assert not scene.meshes and scene.report.loaded["pnts tiles"] == 1
    np.testing.assert_allclose(cloud.means, positions + [5, 0, 1], atol=1e-5)
    np.testing.assert_allclose(cloud.colors_dc()[:2], [[200 / 255, 0, 100 / 255], [200 / 255, 0, 0]], atol=1e-4)
    assert cloud.scales[0, 0] == pytest.approx(0.05, rel=0.15)  # half the 0.1 m spacing
    assert scene.bounds_m[0][0] == pytest.approx(5.0, abs=1e-4)


def test_pnts_quantized_positions_and_constant_colour():
    q = np.array([[0, 0, 0], [65535, 0, 0], [0, 65535, 65535]], np.uint16)
    table = {"POINTS_LENGTH": 3, "POSITION_QUANTIZED": {"byteOffset": 0},
             "QUANTIZED_VOLUME_OFFSET": [1, 2, 3], "QUANTIZED_VOLUME_SCALE": [10, 20, 30],
             "CONSTANT_RGBA": [255, 0, 0, 128]}
    points = parse_pnts(_write_tile(b"pnts", PNTS_HEADER_BYTES, table, q.tobytes(), b""), "q.pnts")
    np.testing.assert_allclose(points.positions, [[1, 2, 3], [11, 2, 3], [1, 22, 33]], atol=1e-9)
    np.testing.assert_allclose(points.colors[0], [1, 0, 0])
    np.testing.assert_allclose(points.alpha, 128 / 255)
    with pytest.raises(SceneError, match="byteLength"):
        parse_pnts(write_pnts(np.zeros((2, 3)))[:PNTS_HEADER_BYTES], "short.pnts")
    with pytest.raises(SceneError, match="POINTS_LENGTH is 2; at most 1"):
        parse_pnts(write_pnts(np.zeros((2, 3))), "many.pnts", max_points=1)


def test_gltf_points_primitives_become_splats(tmp_path):
    pts = np.random.default_rng(1).uniform(-1, 1, (300, 3))
    cloud = trimesh.PointCloud(pts, colors=np.tile([0, 255, 0, 255], (300, 1)))
    (tmp_path / "pts.glb").write_bytes(trimesh.Scene(cloud).export(file_type="glb"))
    scene = load_tiles(_tileset(tmp_path, {"content": {"uri": "pts.glb"}}), cameras=NEAR)
    assert scene.gaussians[0].count == 300
    np.testing.assert_allclose(scene.gaussians[0].means[:, 2], pts[:, 1], atol=1e-5)  # glTF Y-up → Z-up
    assert scene.gaussians[0].colors_dc()[0, 1] == pytest.approx(1.0, abs=1e-4)


def _bits(available: set[int], count: int) -> list[int]:
    return [1 if i in available else 0 for i in range(count)]


def test_implicit_quadtree_loads_available_tiles_only(tmp_path):
    """subtreeLevels 2, availableLevels 3: the root subtree (levels 0-1) marks L1 (0,0) and (1,1)
    available and two child subtrees at level 2, (2,2) and (3,3); a decoy file for the
    unavailable tile L1 (1,0) must not be read."""
    (tmp_path / "subtrees" / "0" / "0").mkdir(parents=True)
    for level, x, y in [(1, 0, 0), (1, 1, 1), (2, 2, 2), (2, 3, 3), (1, 1, 0)]:
        folder = tmp_path / "content" / str(level) / str(x)
        folder.mkdir(parents=True, exist_ok=True)
        size = 100 / 2 ** level
        cx, cy = -50 + (x + 0.5) * size, -50 + (y + 0.5) * size
        (folder / f"{y}.glb").write_bytes(_glb_box((size / 2, size / 2, 1), (cx, cy, 0.5)))
    l1 = {morton_encode(0, 0, 0, 2), morton_encode(1, 1, 0, 2)}
    root_tiles = [1] + _bits(l1, 4)
    root_content = [0] + _bits(l1, 4)
    children = _bits({morton_encode(2, 2, 0, 2), morton_encode(3, 3, 0, 2)}, 16)
    (tmp_path / "subtrees" / "0" / "0" / "0.subtree").write_bytes(write_subtree(root_tiles, root_content, children))
    for x in (2, 3):
        (tmp_path / "subtrees" / "2" / str(x)).mkdir(parents=True)
        (tmp_path / "subtrees" / "2" / str(x) / f"{x}.subtree").write_bytes(
            write_subtree([1, 0, 0, 0, 0], [1, 0, 0, 0, 0]))
    root = {"geometricError": 100, "boundingVolume": _box_volume(0, 0, 0, 50, 50, 10),
            "content": {"uri": "content/{level}/{x}/{y}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "availableLevels": 3,
                               "subtrees": {"uri": "subtrees/{level}/{x}/{y}.subtree"}}}
    scene = load_tiles(_tileset(tmp_path, root), cameras=NEAR)
    assert sorted(scene.stats["tiles_selected"]) == ["root/L1/0/0", "root/L1/1/1", "root/L2/2/2", "root/L2/3/3"]
    assert scene.stats["tiles_total"] == 5
    centres = sorted(tuple(np.round((m.positions.min(0) + m.positions.max(0))[:2] / 2, 3)) for m in scene.meshes)
    assert centres == [(-25.0, -25.0), (12.5, 12.5), (25.0, 25.0), (37.5, 37.5)]
    for x in (2, 3):  # a far camera never opens the child subtrees: they are not even read
        (tmp_path / "subtrees" / "2" / str(x) / f"{x}.subtree").unlink()
    far = load_tiles(tmp_path / "tileset.json", cameras=[((0, 0, 1e6), 60.0, 720)])
    assert sorted(far.stats["tiles_selected"]) == ["root/L1/0/0", "root/L1/1/1"]  # the root has no content
    assert far.stats["tiles_total"] == 3


def test_implicit_octree_with_constant_availability(tmp_path):
    (tmp_path / "sub").mkdir()
    tree = {"buffers": [], "bufferViews": [], "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}], "childSubtreeAvailability": {"constant": 0}}
    (tmp_path / "sub" / "0.0.0.0.json").write_text(json.dumps(tree))
    for level, n in ((0, 1), (1, 2)):
        for x in range(n):
            for y in range(n):
                for z in range(n):
                    size = 40 / n
                    c = [-20 + (i + 0.5) * size for i in (x, y, z)]
                    (tmp_path / f"{level}_{x}_{y}_{z}.glb").write_bytes(_glb_box((1, 1, 1), c))
    root = {"geometricError": 50, "boundingVolume": _box_volume(0, 0, 0, 20, 20, 20),
            "content": {"uri": "{level}_{x}_{y}_{z}.glb"},
            "implicitTiling": {"subdivisionScheme": "OCTREE", "subtreeLevels": 2, "availableLevels": 2,
                               "subtrees": {"uri": "sub/{level}.{x}.{y}.{z}.json"}}}
    scene = load_tiles(_tileset(tmp_path, root), cameras=NEAR)
    assert len(scene.meshes) == 9  # ADD: the root and its eight children
    z_centres = sorted({round(float(m.positions[:, 2].mean()), 3) for m in scene.meshes})
    assert z_centres == [-10.0, 0.0, 10.0]


def test_implicit_refuses_missing_subtree_and_too_many_tiles(tmp_path):
    root = {"geometricError": 50, "boundingVolume": _box_volume(0, 0, 0, 20, 20, 20),
            "content": {"uri": "{level}/{x}/{y}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 4, "availableLevels": 4,
                               "subtrees": {"uri": "st/{level}/{x}/{y}.subtree"}}}
    with pytest.raises(SceneError, match="subtree .*no such file"):
        load_tiles(_tileset(tmp_path, root), cameras=NEAR)
    (tmp_path / "st" / "0" / "0").mkdir(parents=True)
    (tmp_path / "st" / "0" / "0" / "0.subtree").write_bytes(write_subtree([1] * 85, [1] * 85))
    with pytest.raises(SceneError, match="more than 20 available tiles"):
        load_tiles(tmp_path / "tileset.json", cameras=NEAR, max_tiles=20)
    # a constant-1 octree ten levels deep (a billion tiles) is refused at once, not listed
    tree = {"tileAvailability": {"constant": 1}, "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 0}}
    (tmp_path / "huge.json").write_text(json.dumps(tree))
    root["implicitTiling"] = {"subdivisionScheme": "OCTREE", "subtreeLevels": 10, "availableLevels": 10,
                              "subtrees": {"uri": "huge.json"}}
    with pytest.raises(SceneError, match="more than 5000 available tiles"):
        load_tiles(_tileset(tmp_path, root), cameras=NEAR)


def test_viewer_request_volume_is_respected(tmp_path):
    (tmp_path / "street.glb").write_bytes(_glb_box((100, 100, 1), (0, 0, -0.5)))
    (tmp_path / "inside.glb").write_bytes(_glb_box((2, 2, 2), (30, 30, 1)))
    root = {"content": {"uri": "street.glb"},
            "children": [{"boundingVolume": _box_volume(30, 30, 1, 1, 1, 1), "geometricError": 0,
                          "viewerRequestVolume": _box_volume(30, 30, 2, 5, 5, 5),
                          "content": {"uri": "inside.glb"}}]}
    path = _tileset(tmp_path, root)
    outside = load_tiles(path, cameras=[((0, 0, 1.6), 60.0, 720)])
    assert len(outside.meshes) == 1
    assert outside.report.skipped == {("tiles", "no camera inside their viewerRequestVolume"): 1}
    inside = load_tiles(path, cameras=[((0, 0, 1.6), 60.0, 720), ((29, 29, 1.6), 60.0, 720)])
    assert len(inside.meshes) == 2 and not inside.report.skipped


def test_only_unsupported_content_fails_with_one_clear_line(tmp_path, capsys):
    vctr = struct.pack("<4sII", b"vctr", 1, 16) + b"\0" * 4
    (tmp_path / "roads.vctr").write_bytes(vctr)
    root = {"contents": [{"uri": "roads.vctr"}, {"uri": "gone.b3dm"}]}
    path = _tileset(tmp_path, root)
    with pytest.raises(SceneError) as err:
        load_tiles(path, cameras=NEAR)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "nothing drawable" in message
    assert "vctr tiles" in message and "file missing" in message
    from citywalk.cli import main

    out = tmp_path / "still.png"
    code = main(["still", "--tiles", str(path), "--size", "160x90", "-o", str(out)])
    assert code != 0 and not out.exists()
    assert "nothing drawable" in capsys.readouterr().err


def test_i3dm_east_north_up_on_a_georeferenced_tileset(tmp_path):
    from builders import _enu_to_ecef_columns

    bar = _glb_box((4, 1, 1), (0, 0, 0.5))
    blob = write_i3dm(bar, [(0, 0, 0), (0, 30, 0)])
    table_len = struct.unpack_from("<I", blob, 12)[0]
    table = json.loads(blob[32:32 + table_len])
    table["EAST_NORTH_UP"] = True
    raw = json.dumps(table).encode()
    raw += b" " * ((8 - (32 + len(raw)) % 8) % 8)
    blob = bytearray(blob[:32] + raw + blob[32 + table_len:])
    struct.pack_into("<II", blob, 8, len(blob), len(raw))
    (tmp_path / "enu.i3dm").write_bytes(bytes(blob))
    lat, lon, h = 48.8584, 2.2945, 35.0
    root = {"transform": _enu_to_ecef_columns(lat, lon, h), "content": {"uri": "enu.i3dm"}}
    path = _tileset(tmp_path, root, version="1.0")
    scene = load_tiles(path, cameras=[((0, 0, h + 2), 60.0, 720)])
    a, b = scene.meshes[0].positions.reshape(2, -1, 3)
    np.testing.assert_allclose(a.max(0) - a.min(0), [4, 1, 1], atol=0.01)  # east stays east
    np.testing.assert_allclose((a.max(0) + a.min(0)) / 2, [0, 0, h + 0.5], atol=0.01)
    np.testing.assert_allclose((b.max(0) + b.min(0))[:2] / 2, [0, 30], atol=0.01)


def test_implicit_region_volumes_subdivide_longitude_and_latitude():
    from citywalk.sources.tiles_implicit import _child_volume, fill_template, morton_decode

    region = {"region": [0.0, 0.0, 0.4, 0.2, 0.0, 100.0]}
    assert _child_volume(region, 1, 1, 0, 0, 2, "t")["region"] == pytest.approx([0.2, 0.0, 0.4, 0.1, 0.0, 100.0])
    assert _child_volume(region, 1, 0, 1, 1, 3, "t")["region"] == pytest.approx([0.0, 0.1, 0.2, 0.2, 50.0, 100.0])
    assert morton_decode(morton_encode(5, 3, 6, 3), 3) == (5, 3, 6)
    assert morton_decode(0b1101, 2) == (3, 2, 0)  # x takes the lowest bit
    assert fill_template("c/{level}/{x}/{y}/{z}.glb", 3, 1, 2, 4) == "c/3/1/2/4.glb"


def test_point_cloud_only_tileset_walks_on_its_street(tmp_path):
    from citywalk.pipeline import prepare
    from citywalk.shot import Shot

    from builders import _enu_to_ecef_columns

    rng = np.random.default_rng(2)
    street = np.column_stack([rng.uniform(-40, 40, 4000), rng.uniform(-6, 6, 4000), np.zeros(4000)])
    walls = np.column_stack([rng.uniform(-40, 40, 4000), np.repeat([-6.0, 6.0], 2000), rng.uniform(0, 12, 4000)])
    (tmp_path / "street.pnts").write_bytes(write_pnts(np.vstack([street, walls]),
                                                      np.full((8000, 3), 150, np.uint8)))
    h = 35.0
    root = {"transform": _enu_to_ecef_columns(48.8584, 2.2945, h), "content": {"uri": "street.pnts"},
            "boundingVolume": _box_volume(0, 0, 6, 40, 6, 6)}
    path = _tileset(tmp_path, root, version="1.0")
    shot = Shot.from_dict({"scene": {"source": "tiles", "path": str(path)},
                           "output": {"duration_s": 2, "fps": 4, "size": [160, 90]}})
    prepared = prepare(shot)
    z = np.array([f.position[2] for f in prepared.frames])
    assert np.all(np.abs(z - (h + shot.camera.eye_height_m)) < 0.15)
