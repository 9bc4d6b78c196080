"""Walking through imported worlds from the CLI: OSM, meshes, KMZ, 3D Tiles and Gaussian splats."""

import json

import numpy as np
import pytest

from citywalk.cli import main
from citywalk.pipeline import prepare, render_shot
from citywalk.shot import Shot
from citywalk.video import probe_video

from builders import _city, _good_kmz, _osm_street_with_fronts, _synthetic_splat_street, _write_tileset

FAST = ["--duration", "0.5", "--fps", "12", "--size", "96x54", "--samples", "1"]


def _render(argv, out, capsys):
    code = main(["render", *argv, *FAST, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    info = probe_video(out)
    assert (info.frame_count, info.width, info.height) == (6, 96, 54)
    return info


def test_osm_extract_walk(tmp_path, capsys):

    path = tmp_path / "city.osm"
    path.write_text(_city().xml())
    _render(["--osm", str(path), "--style", "tokyo"], tmp_path / "osm.mp4", capsys)
    shot = Shot.from_dict({"scene": {"source": "osm", "path": str(path)}})
    p = prepare(shot)
    scene, route, frames = p.scene, p.route, p.frames
    nodes = scene.network.nodes
    assert np.min(np.linalg.norm(nodes[:, :2] - route[0, :2], axis=1)) < 0.5, "the walk starts on the network"


def test_mesh_walk_keeps_eye_height_over_the_ground(tmp_path, capsys):
    trimesh = pytest.importorskip("trimesh")
    ground = trimesh.creation.box(extents=(80, 80, 1.0))
    ground.apply_translation((0, 0, 2.5))  # top surface at y_gltf = 3 after the z-up swap below
    ground.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, (1, 0, 0)))
    path = tmp_path / "city.glb"
    trimesh.Scene([ground]).export(path)
    _render(["--mesh", str(path)], tmp_path / "mesh.mp4", capsys)
    shot = Shot.from_dict({"scene": {"source": "mesh", "path": str(path)}, "output": {"duration_s": 2}})
    p = prepare(shot)
    scene, route, frames = p.scene, p.route, p.frames
    top = max(m.positions[:, 2].max() for m in scene.meshes)
    assert top == pytest.approx(3.0, abs=0.01)
    eye = np.array([f.position[2] for f in frames])
    assert np.all(np.abs(eye - (top + 1.65)) < 0.05)


def test_kmz_walk(tmp_path, capsys):
    pytest.importorskip("collada")

    path = _good_kmz(tmp_path)
    _render(["--kmz", str(path)], tmp_path / "kmz.mp4", capsys)


def test_tiles_walk_burns_in_copyright(tmp_path, capsys):
    pytest.importorskip("trimesh")

    path = _write_tileset(tmp_path / "ts")
    _render(["--tiles", str(path)], tmp_path / "tiles.mp4", capsys)
    shot = Shot.from_dict(
        {
            "scene": {"source": "tiles", "path": str(path)},
            "output": {"size": [320, 180], "duration_s": 0.5, "samples": 1},
        }
    )
    scene = prepare(shot).scene
    assert "Tileset (c) City" in scene.copyright
    from citywalk.pipeline import render_still

    with_notice = render_still(shot)
    scene.copyright.clear()
    assert with_notice[-20:, -120:].std() > 10, "text in the bottom-right corner"


def test_splat_walk_with_path_and_fog_by_depth(tmp_path, capsys):
    path = tmp_path / "street.ply"
    _synthetic_splat_street(path, np.random.default_rng(0))
    wp = tmp_path / "waypoints.json"
    wp.write_text(json.dumps({"waypoints": [[-15, 0], [15, 0]]}))
    _render(["--splat", str(path), "--path", str(wp)], tmp_path / "splat.mp4", capsys)
    _render(["--splat", str(path)], tmp_path / "splat_auto.mp4", capsys)  # automatic path
    base = {"scene": {"source": "splat", "path": str(path)}, "camera": {"route": [[-15, 0], [15, 0]]},
            "output": {"size": [160, 90], "duration_s": 0.5, "samples": 1, "extras": ["depth"]}}
    clear = render_shot(Shot.from_dict(base), tmp_path / "c.mp4")
    from citywalk.pipeline import render_still

    a = render_still(Shot.from_dict(base)).astype(float)
    fog = render_still(Shot.from_dict({**base, "look": {"weather": "fog"}})).astype(float)
    from citywalk.render.renderer import Renderer  # noqa: F401 - depth comes from the renderer
    p = prepare(Shot.from_dict(base))
    scene, lighting, route, frames = p.scene, p.lighting, p.route, p.frames
    r = Renderer(scene, lighting, (160, 90), 1, focus_points=route)
    depth = r.render(frames[0], want_depth=True)["depth"]
    r.close()
    assert np.isfinite(depth).mean() > 0.5, "splats give depth"
    near = np.isfinite(depth) & (depth < 6)
    far = np.isfinite(depth) & (depth > 15)
    assert near.sum() > 50 and far.sum() > 50
    # fog changes far pixels more than near ones
    change = np.abs(fog - a).mean(-1)
    assert change[far].mean() > change[near].mean() + 5
    assert clear.frames == 12


def test_splat_walk_follows_the_capture_cameras(tmp_path):
    """Without --path, a splat scene with a camera sidecar is walked along the capture trajectory."""
    from citywalk.camera.track import look_at
    from citywalk.tracks import write_camera_track

    path = tmp_path / "scene.ply"
    _synthetic_splat_street(path, np.random.default_rng(1))
    # capture cameras in the file's Y-up frame, 1.6 m above the ground, walking along -x → +x at y_file
    frames = []
    for i, x in enumerate(np.linspace(-12, 12, 9)):
        pos_zup = np.array([x, 1.0, 1.6])
        R_zup, _ = look_at(pos_zup, pos_zup + [1.0, 0, 0])
        to_file = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # z-up → y-up, as the splats
        R = R_zup @ to_file.T
        c = to_file @ pos_zup
        frames.append(
            {"index": i, "time_s": i / 8, "K": np.eye(3).tolist(), "R_w2c": R.tolist(), "t_w2c": (-R @ c).tolist()}
        )
    write_camera_track(tmp_path / "scene.cameras.json", frames, fps=8, width=64, height=36)
    shot = Shot.from_dict(
        {"scene": {"source": "splat", "path": str(path)}, "output": {"duration_s": 2, "size": [64, 36]}}
    )
    p = prepare(shot)
    scene, route, cams = p.scene, p.route, p.frames
    assert np.abs(route[:, 1] - 1.0).max() < 0.05, "walks the capture's line (y = 1 m)"
    assert route[0, 0] == pytest.approx(-12, abs=0.1)
    eye = np.array([c.position for c in cams])
    assert np.abs(eye[:, 2] - 1.65).max() < 0.05


def test_osm_facades_are_dressed_in_the_style(tmp_path, capsys):
    from citywalk.scene import SHOPFRONT
    from citywalk.sources.osm import load_osm

    path = tmp_path / "shops.osm"
    path.write_text(_osm_street_with_fronts().xml())
    scene = load_osm(path, style="tokyo", backend="xml")
    assert scene.stats["dressed_fronts"] >= 10
    shop = [m for m in scene.meshes if m.material.kind == SHOPFRONT]
    assert shop, "shopfront glass on the street walls"
    # every shopfront faces the street: its glass normals point toward y = 0
    for m in shop:
        side = np.sign(m.positions[:, 1].mean())
        assert np.all(m.normals[:, 1] * side < 0) or len({round(v) for v in np.sign(m.positions[:, 1])}) > 1
    assert any(n.startswith("signs_") for n in scene.textures)
    assert scene.stats["signs"] and all(s["text"] for s in scene.stats["signs"]), "lettered signs, listed"
    plain = load_osm(path, style=None, backend="xml")
    assert not any(m.material.kind == SHOPFRONT for m in plain.meshes)
