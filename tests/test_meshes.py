"""Mesh files → Scene: a trimesh-exported box lands Z-up at the right place with its colour
and texture; limits and bad inputs give SceneErrors; ground ray casting; safe zip/path/XML."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.safeio import open_zip_safely, parse_xml_safely, safe_join
from citywalk.sources.meshes import ground_height_fn, load_mesh_scene

trimesh = pytest.importorskip("trimesh")
from PIL import Image  # noqa: E402

# A 2 × 4 × 6 m box (glTF/OBJ Y-up axes) whose centre sits at glTF (10, 3, -20):
# in the world (x, -z, y) that is centre (10, 20, 3), extents x 2, y 6, z 4.
BOX_EXTENTS = (2.0, 4.0, 6.0)
BOX_CENTER_YUP = (10.0, 3.0, -20.0)
WORLD_MIN = np.array([9.0, 17.0, 1.0])
WORLD_MAX = np.array([11.0, 23.0, 5.0])


def _textured_box(material) -> "trimesh.Trimesh":
    box = trimesh.creation.box(extents=BOX_EXTENTS)
    box.apply_translation(BOX_CENTER_YUP)
    uv = np.column_stack([np.linspace(0, 1, len(box.vertices)), np.full(len(box.vertices), 0.25)])
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return box


def _two_colour_image() -> Image.Image:
    """8×8 image: top half red, bottom half blue (to check the v direction of UVs)."""
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[:4] = (220, 20, 20)
    pixels[4:] = (20, 20, 220)
    return Image.fromarray(pixels)


def test_glb_box_lands_z_up_with_pbr_material_and_texture(tmp_path):
    material = trimesh.visual.material.PBRMaterial(
        name="brick", baseColorFactor=[1.0, 0.5, 0.25, 1.0], roughnessFactor=0.3,
        metallicFactor=0.0, baseColorTexture=_two_colour_image(),
    )
    path = tmp_path / "box.glb"
    _textured_box(material).export(path)
    scene = load_mesh_scene(path, origin_latlon=(48.85, 2.29))
    assert scene.triangle_count == 12
    positions = np.concatenate([m.positions for m in scene.meshes])
    np.testing.assert_allclose(positions.min(axis=0), WORLD_MIN, atol=0.01)
    np.testing.assert_allclose(positions.max(axis=0), WORLD_MAX, atol=0.01)
    np.testing.assert_allclose(np.array(scene.bounds_m), [WORLD_MIN, WORLD_MAX], atol=0.01)
    assert scene.origin_latlon == (48.85, 2.29)
    mesh = scene.meshes[0]
    assert mesh.material.albedo == pytest.approx((1.0, 0.5, 0.25), abs=0.01)
    assert mesh.material.roughness == pytest.approx(0.3)
    texture = scene.textures[mesh.material.texture]
    assert texture.dtype == np.uint8 and texture.shape == (8, 8, 4)
    # trimesh v = 0.25 counts from the image bottom; our image-row convention says 0.75,
    # which samples the bottom (blue) half of the texture array.
    np.testing.assert_allclose(mesh.uvs[:, 1], 0.75, atol=1e-6)
    sample = texture[int(mesh.uvs[0, 1] * texture.shape[0]), 0]
    assert sample[2] > 200 and sample[0] < 50
    assert texture[2, 2, 0] > 200  # top rows are red
    # normals are unit, and on top (+z world, glTF +y) they point up (corner-averaged on a box)
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-5)
    top = mesh.positions[:, 2] > 4.99
    assert top.sum() == 4 and np.all(mesh.normals[top, 2] > 0.5)


def test_obj_with_mtl_colour_lands_z_up(tmp_path):
    box = trimesh.creation.box(extents=BOX_EXTENTS)
    box.apply_translation(BOX_CENTER_YUP)
    box.visual = trimesh.visual.TextureVisuals(
        uv=np.zeros((len(box.vertices), 2)),
        material=trimesh.visual.material.SimpleMaterial(
            name="paint", diffuse=[51, 153, 204, 255], image=_two_colour_image()
        ),
    )
    path = tmp_path / "box.obj"
    box.export(path)
    assert (tmp_path / "material.mtl").exists() or list(tmp_path.glob("*.mtl"))
    scene = load_mesh_scene(path)
    positions = np.concatenate([m.positions for m in scene.meshes])
    np.testing.assert_allclose(positions.min(axis=0), WORLD_MIN, atol=0.01)
    np.testing.assert_allclose(positions.max(axis=0), WORLD_MAX, atol=0.01)
    material = scene.meshes[0].material
    assert material.albedo == pytest.approx((0.2, 0.6, 0.8), abs=0.01)
    assert material.texture in scene.textures


def test_ply_is_z_up_and_normals_computed(tmp_path):
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    box.apply_translation((0.0, 0.0, 1.0))
    path = tmp_path / "scan.ply"
    box.export(path, include_attributes=False)
    scene = load_mesh_scene(path)
    mesh = scene.meshes[0]
    assert mesh.positions[:, 2].min() == pytest.approx(0.0, abs=1e-6)
    assert mesh.positions[:, 2].max() == pytest.approx(2.0, abs=1e-6)
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-5)


def test_limits_and_bad_files_raise_scene_errors(tmp_path):
    box = trimesh.creation.box()
    glb = tmp_path / "b.glb"
    box.export(glb)
    with pytest.raises(SceneError, match="max_triangles"):
        load_mesh_scene(glb, max_triangles=5)
    with pytest.raises(SceneError, match="bytes"):
        load_mesh_scene(glb, max_file_bytes=10)
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    with pytest.raises(SceneError, match="broken.glb"):
        load_mesh_scene(bad)
    with pytest.raises(SceneError, match="unsupported mesh suffix"):
        load_mesh_scene(tmp_path / "x.fbx")
    with pytest.raises(SceneError, match="up_axis"):
        load_mesh_scene(glb, up_axis="w")


def test_ground_height_by_ray_casting(tmp_path):
    # A 40 m ground plane at z = 0 with a 2 m high box (a step) on it; Z-up file (PLY).
    ground = trimesh.creation.box(extents=(40.0, 40.0, 0.2))
    ground.apply_translation((0, 0, -0.1))
    step = trimesh.creation.box(extents=(4.0, 4.0, 2.0))
    step.apply_translation((10.0, 0.0, 1.0))
    path = tmp_path / "ground.ply"
    trimesh.util.concatenate([ground, step]).export(path)
    height = ground_height_fn(load_mesh_scene(path), default_m=-99.0)
    assert height(0.0, 0.0) == pytest.approx(0.0, abs=1e-6)
    assert height(10.0, 0.5) == pytest.approx(2.0, abs=1e-6)
    assert height(10.0, 0.5, z_from=1.0) == pytest.approx(0.0, abs=1e-6)  # under the roof
    assert height(100.0, 0.0) == -99.0


def test_open_zip_safely_rejects_hostile_archives(tmp_path):
    def make(name, entries):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for entry, data in entries:
                z.writestr(entry, data)
        return path

    ok = make("ok.zip", [("doc.kml", b"<kml/>"), ("models/a.dae", b"x")])
    with open_zip_safely(ok) as archive:
        assert sorted(archive.namelist()) == ["doc.kml", "models/a.dae"]
    for name in ["../../evil.dae", "/etc/passwd", "C:/evil.dae", "a\\..\\..\\evil.dae"]:
        with pytest.raises(SceneError, match="not a plain relative path"):
            open_zip_safely(make("bad.zip", [(name, b"x")]))
    with pytest.raises(SceneError, match="at most 3"):
        open_zip_safely(make("many.zip", [(f"{i}.txt", b"x") for i in range(4)]), max_files=3)
    with pytest.raises(SceneError, match="zip bomb"):
        open_zip_safely(make("bomb.zip", [("zeros.bin", b"\0" * 1_000_000)]))
    with pytest.raises(SceneError, match="exceed"):
        open_zip_safely(make("big.zip", [("a.bin", bytes(range(256)) * 8)]), max_total_bytes=1000)
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (0o120777 << 16)
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(SceneError, match="symlink"):
        open_zip_safely(path)


def test_safe_join_and_xml(tmp_path):
    (tmp_path / "sub").mkdir()
    assert safe_join(tmp_path, "sub/a.glb") == (tmp_path / "sub" / "a.glb").resolve()
    for bad in ["../x.glb", "sub/../../x.glb", "/etc/passwd", "http://example.com/a.glb"]:
        with pytest.raises(SceneError):
            safe_join(tmp_path, bad)
    (tmp_path / "escape").symlink_to("/etc")
    with pytest.raises(SceneError, match="outside"):
        safe_join(tmp_path, "escape/passwd")
    assert parse_xml_safely(b"<a><b>1</b></a>").find("b").text == "1"
    with pytest.raises(SceneError, match="DOCTYPE"):
        parse_xml_safely(
            '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16")
        )
    with pytest.raises(SceneError, match="malformed"):
        parse_xml_safely(b"<a><b></a>")
