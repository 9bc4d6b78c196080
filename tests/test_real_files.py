"""Real files as people have them (issue #21): Draco geometry, KTX2 textures, textures without a
baseColorFactor, GPU instancing, emissive strength, texture transforms, missing texture files,
SPZ version 4 — each loads completely or fails with one line naming why; never an empty video."""

from __future__ import annotations

import json

import numpy as np
import pytest

from citywalk.errors import SceneError
from citywalk.scene import EMISSIVE

trimesh = pytest.importorskip("trimesh")

from citywalk.sources.meshes import GLTF_EMISSIVE_UNIT, load_mesh_scene  # noqa: E402
from fuzz.gltf_build import GltfBuilder, grid, png_bytes  # noqa: E402

RED = (200, 40, 90)


def _solid(rgb, size=4) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (size, size, 1))


# ---------------------------------------------------------------- rendering a quad

def _render_centre(scene, when: str = "noon") -> np.ndarray:
    """Mean linear-ish RGB of the image centre, the quad filling it (camera 3 m south of it)."""
    from citywalk.camera.track import CameraFrame, intrinsics, look_at
    from citywalk.look.lighting import resolve_lighting
    from citywalk.render.renderer import Renderer
    from citywalk.shot import LookSpec

    size = (96, 64)
    R, t = look_at(np.array([0.0, -3.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    frame = CameraFrame(0, 0.0, R, t, intrinsics(40.0, size), size)
    r = Renderer(scene, resolve_lighting(LookSpec(when=when)), size, samples=1)
    try:
        rgb = r.render(frame)["rgb"]
    finally:
        r.close()
    return rgb[24:40, 36:60].reshape(-1, 3).astype(np.float64).mean(axis=0)


# ---------------------------------------------------------------- glTF


def test_draco_mesh_loads_with_its_triangle_count(tmp_path):
    pytest.importorskip("DracoPy")
    path = GltfBuilder().quad(n=6, draco=True).write(tmp_path / "draco.glb")
    scene = load_mesh_scene(path)
    assert scene.triangle_count == 2 * 6 * 6
    lo, hi = scene.bounds_m
    assert np.allclose(lo, (-1, 0, 0), atol=1e-3) and np.allclose(hi, (1, 0, 2), atol=1e-3)  # glTF Y up → Z up
    assert scene.report.loaded["Draco primitives"] == 1


def test_texture_without_base_color_factor_renders_the_texture_colour(tmp_path):
    g = GltfBuilder()
    tex = g.texture(png_bytes(_solid(RED)))
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}, "doubleSided": True})
    scene = load_mesh_scene(g.write(tmp_path / "tex.glb"))
    mat = scene.meshes[0].material
    assert mat.albedo == (1.0, 1.0, 1.0) and mat.texture is not None  # the spec default, texture kept
    r, gr, b = _render_centre(scene)
    assert r > 2.0 * gr and r > 1.3 * b, (r, gr, b)  # red, not white


def test_ktx2_texture_shows_its_colour_or_fails_naming_basisu(tmp_path):
    g = GltfBuilder()
    try:
        import alktx2

        ktx = alktx2.encode_bytes_to_ktx2(png_bytes(_solid(RED, 8)), mime="image/png", codec="uastc")
    except ImportError:
        ktx = b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(64)  # a header alone: no transcoder here anyway
    tex = g.texture(ktx, ktx2=True)
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}, "doubleSided": True})
    path = g.write(tmp_path / "ktx2.glb")
    try:
        import alktx2  # noqa: F401,F811
    except ImportError:
        with pytest.raises(SceneError, match="KHR_texture_basisu"):
            load_mesh_scene(path)
        return
    scene = load_mesh_scene(path)
    texel = scene.textures[scene.meshes[0].material.texture][0, 0, :3].astype(int)
    assert np.abs(texel - RED).max() <= 8, texel
    r, gr, b = _render_centre(scene)
    assert r > 2.0 * gr and r > 1.3 * b, (r, gr, b)


def test_gpu_instancing_gives_instances_times_triangles(tmp_path):
    g = GltfBuilder().quad(n=2)
    k = 5
    shifts = np.c_[np.arange(k) * 3.0, np.zeros(k), np.zeros(k)].astype(np.float32)
    g.doc["nodes"][0]["extensions"] = {"EXT_mesh_gpu_instancing": {"attributes": {
        "TRANSLATION": g.accessor(shifts, "VEC3")}}}
    g.uses("EXT_mesh_gpu_instancing", required=True)
    scene = load_mesh_scene(g.write(tmp_path / "inst.glb"))
    assert scene.triangle_count == k * 8
    assert scene.report.loaded["instances"] == k
    assert scene.bounds_m[1][0] == pytest.approx(1 + 3.0 * (k - 1), abs=1e-4)  # the last instance is in place


def test_emissive_strength_carries_into_a_glowing_material(tmp_path):
    g = GltfBuilder()
    g.quad(material={"emissiveFactor": [1.0, 0.5, 0.2], "doubleSided": True,
                     "pbrMetallicRoughness": {"baseColorFactor": [1.0, 0.5, 0.2, 1.0]},
                     "extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 4.0}}})
    g.uses("KHR_materials_emissive_strength")
    scene = load_mesh_scene(g.write(tmp_path / "sign.glb"))
    mat = scene.meshes[0].material
    assert mat.emissive == pytest.approx(4.0 * GLTF_EMISSIVE_UNIT) and mat.kind == EMISSIVE
    plain = GltfBuilder().quad(material={"doubleSided": True, "pbrMetallicRoughness": {
        "baseColorFactor": [1.0, 0.5, 0.2, 1.0]}}).write(tmp_path / "plain.glb")
    lit = _render_centre(scene, "night").sum()
    dark = _render_centre(load_mesh_scene(plain), "night").sum()
    assert lit > 3.0 * dark + 10, (lit, dark)  # the sign glows at night; the painted board does not
    neon = GltfBuilder()
    tex = neon.texture(png_bytes(_solid((40, 200, 255))))
    neon.quad(material={"emissiveFactor": [1.0, 1.0, 1.0], "emissiveTexture": {"index": tex},
                        "pbrMetallicRoughness": {"baseColorFactor": [0.05, 0.05, 0.05, 1.0]}})
    red = GltfBuilder().quad(material={"emissiveFactor": [1.0, 0.0, 0.0],
                                 "pbrMetallicRoughness": {"baseColorFactor": [0.1, 0.1, 0.1, 1.0]}})
    glow = load_mesh_scene(neon.write(tmp_path / "neon.glb"))
    assert glow.meshes[0].material.texture is not None and glow.meshes[0].material.albedo == (1.0, 1.0, 1.0)
    assert load_mesh_scene(red.write(tmp_path / "red.glb")).meshes[0].material.albedo == (1.0, 0.0, 0.0)


def test_texture_transform_moves_the_uvs(tmp_path):
    g = GltfBuilder()
    tex = g.texture(png_bytes(_solid(RED)))
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex, "extensions": {
        "KHR_texture_transform": {"offset": [0.5, 0.25], "scale": [0.5, 0.5]}}}}})
    g.uses("KHR_texture_transform")
    scene = load_mesh_scene(g.write(tmp_path / "tt.glb"))
    uv = scene.meshes[0].uvs
    assert uv[:, 0].min() == pytest.approx(0.5) and uv[:, 0].max() == pytest.approx(1.0)
    assert uv[:, 1].min() == pytest.approx(0.25) and uv[:, 1].max() == pytest.approx(0.75)
    g = GltfBuilder()  # the extension's own example: the lower left quadrant, turned 90° clockwise
    tex = g.texture(png_bytes(_solid(RED)))
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex, "extensions": {
        "KHR_texture_transform": {"offset": [0, 1], "rotation": np.pi / 2, "scale": [0.5, 0.5]}}}}})
    uv = load_mesh_scene(g.write(tmp_path / "rot.glb")).meshes[0].uvs
    assert np.allclose(uv.min(0), (0.0, 0.5), atol=1e-6) and np.allclose(uv.max(0), (0.5, 1.0), atol=1e-6)


def test_missing_texture_file_warns_and_keeps_the_geometry(tmp_path):
    g = GltfBuilder()
    tex = g.texture(uri="facade.png")
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}})
    scene = load_mesh_scene(g.write(tmp_path / "lost.gltf"))
    assert scene.triangle_count == 2 and scene.meshes[0].material.texture is None
    lines = scene.report.warning_lines()
    assert len(lines) == 1 and "facade.png" in lines[0] and "not found" in lines[0], lines


def test_required_extension_we_cannot_decode_is_named(tmp_path):
    g = GltfBuilder().quad().uses("EXT_meshopt_compression", required=True)
    with pytest.raises(SceneError, match="EXT_meshopt_compression"):
        load_mesh_scene(g.write(tmp_path / "meshopt.glb"))
    optional = GltfBuilder().quad().uses("EXT_lights_image_based")
    scene = load_mesh_scene(optional.write(tmp_path / "ibl.glb"))
    assert any("EXT_lights_image_based" in line for line in scene.report.warning_lines())
    # older b3dm exports require a shading technique; the geometry draws without it (reported)
    webgl = GltfBuilder().quad().uses("KHR_techniques_webgl", required=True)
    scene = load_mesh_scene(webgl.write(tmp_path / "techniques.glb"))
    assert scene.triangle_count == 2
    assert any("KHR_techniques_webgl" in line for line in scene.report.warning_lines())


# ---------------------------------------------------------------- SPZ version 4


def _cloud(n=200, degree=1):
    from citywalk.scene.gaussians import GaussianCloud, sh_coeff_count

    rng = np.random.default_rng(5)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    sh = rng.uniform(-0.4, 0.4, (n, sh_coeff_count(degree), 3))
    return GaussianCloud(rng.uniform(-20, 20, (n, 3)), np.exp(rng.uniform(-4, 0, (n, 3))), q,
                         rng.uniform(0.05, 0.95, n), sh, degree)


def test_spz_v4_round_trip_and_version_errors(tmp_path):
    pytest.importorskip("zstandard")
    from citywalk.sources.splats import read_spz, write_spz

    cloud = _cloud()
    path = tmp_path / "v4.spz"
    write_spz(path, cloud, version=4)
    raw = path.read_bytes()
    assert raw[:4] == b"NGSP" and int.from_bytes(raw[4:8], "little") == 4 and raw[15] == 6  # six zstd streams
    back = read_spz(path)
    assert back.count == cloud.count and back.sh_degree == 1
    assert np.abs(back.means - cloud.means).max() < 1e-3
    assert np.abs(np.log(back.scales) - np.log(cloud.scales)).max() <= 1 / 32 + 1e-6
    assert np.abs(back.opacities - cloud.opacities).max() <= 1 / 255 + 1e-6
    dots = np.abs((back.rotations * cloud.rotations).sum(axis=1))
    assert dots.min() > 0.999
    assert np.abs(back.sh[:, 1:] - cloud.sh[:, 1:]).max() < 0.05
    bad = bytearray(raw)
    bad[4:8] = (7).to_bytes(4, "little")
    (tmp_path / "v7.spz").write_bytes(bytes(bad))
    with pytest.raises(SceneError, match=r"version 7.*accepted 2 or 3 \(gzip\) and 4 \(zstd\)"):
        read_spz(tmp_path / "v7.spz")
    with pytest.raises(SceneError, match="version=5"):
        write_spz(tmp_path / "x.spz", cloud, version=5)
    (tmp_path / "junk.spz").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(40))
    with pytest.raises(SceneError, match="version 4"):
        read_spz(tmp_path / "junk.spz")


# ---------------------------------------------------------------- the CLI never renders nothing


def test_cli_refuses_a_file_with_nothing_drawable(tmp_path, capsys):
    from citywalk.cli import main

    g = GltfBuilder()
    pos, _, _ = grid(1)
    g.doc["meshes"].append({"primitives": [{"attributes": {"POSITION": g.accessor(pos, "VEC3")}, "mode": 0}]})
    g.uses("EXT_lights_image_based")
    path = g.write(tmp_path / "points.glb")
    out = tmp_path / "walk.mp4"
    code = main(["render", "--mesh", str(path), "--size", "64x36", "--duration", "0.5", "--fps", "4",
                 "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and not out.exists()
    assert len(err) == 1 and "nothing drawable" in err[0] and str(path) in err[0], err
    assert "EXT_lights_image_based" in err[0]  # says what it skipped, in the one line


def test_pipeline_warns_once_per_kind_and_refuses_an_empty_world(caplog):
    from citywalk.pipeline import check_drawable
    from citywalk.scene import Material, Scene
    from citywalk.scene.report import LoadReport
    from citywalk.sources import with_report
    from citywalk.sources.geometry import MeshBuilder

    b = MeshBuilder()
    b.quad(Material("wall"), (0, 0, 0), (1, 0, 0), (0, 0, 1))
    report = LoadReport(source="tiles.json")
    report.skip("i3dm tiles", "not supported", 3)
    report.skip("textures", "file 'a.png' not found")
    scene = with_report(Scene(meshes=b.build(), report=report), "tiles.json")
    with caplog.at_level("WARNING", logger="citywalk"):
        check_drawable(scene, "tiles.json")
    assert [r.getMessage() for r in caplog.records] == [
        "tiles.json: skipped 3 i3dm tiles (not supported)", "tiles.json: skipped 1 textures (file 'a.png' not found)"]
    assert scene.report.loaded["triangles"] == 2
    empty = with_report(Scene(report=report), "tiles.json")
    with pytest.raises(SceneError, match=r"tiles.json: nothing drawable: .*3 i3dm tiles \(not supported\)"):
        check_drawable(empty, "tiles.json", warn=False)


def test_osm_reports_what_it_left_out(tmp_path):
    from citywalk.sources.osm import load_osm

    lat, lon, d = 35.68, 139.76, 0.0002
    nodes = [(1, lat, lon), (2, lat, lon + d), (3, lat + d, lon + d), (4, lat + d, lon),
             (5, lat + 2 * d, lon), (6, lat + 2 * d, lon + d), (7, lat + 3 * d, lon + d)]
    xml = ['<?xml version="1.0"?>', '<osm version="0.6">']
    xml += [f'<node id="{i}" lat="{a}" lon="{o}"/>' for i, a, o in nodes]
    xml += ['<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
            '<tag k="building" v="yes"/><tag k="height" v="9"/></way>',
            '<way id="11"><nd ref="5"/><nd ref="6"/><nd ref="7"/><tag k="building" v="yes"/></way>', "</osm>"]
    path = tmp_path / "x.osm"
    path.write_text("\n".join(xml))
    scene = load_osm(path)
    assert scene.report.loaded["buildings"] == 1
    lines = scene.report.warning_lines()
    assert len(lines) == 1 and "skipped 1 OSM features (way is not closed, area skipped)" in lines[0], lines


def test_gpu_instancing_rotation_and_scale(tmp_path):
    g = GltfBuilder().quad()
    s = np.float32(np.sqrt(0.5))
    g.doc["nodes"][0]["extensions"] = {"EXT_mesh_gpu_instancing": {"attributes": {
        "ROTATION": g.accessor(np.array([[0, 0, s, s]], np.float32), "VEC4"),  # 90° about glTF Z
        "SCALE": g.accessor(np.array([[2, 2, 2]], np.float32), "VEC3")}}}
    g.uses("EXT_mesh_gpu_instancing")
    lo, hi = load_mesh_scene(g.write(tmp_path / "rot.glb")).bounds_m
    # glTF quad x -1..1, y 0..2 → scaled ×2, turned: x -4..0, y -2..2 → world (x, −z, y)
    assert np.allclose(lo, (-4, 0, -2), atol=1e-4) and np.allclose(hi, (0, 0, 2), atol=1e-4), (lo, hi)


def test_quantized_positions_and_uvs_are_read_as_meant(tmp_path):
    """KHR_mesh_quantization (what gltfpack writes): int16 positions scaled by the node, uint16
    normalized UVs."""
    g = GltfBuilder()
    pos, uv, tris = grid(1)
    qpos = np.round(pos * 1000).astype(np.int16)
    qpos = np.c_[qpos, np.zeros(len(qpos), np.int16)]  # VEC3 int16 padded to 4-byte rows
    view = g.view(qpos.tobytes())
    g.doc["bufferViews"][view]["byteStride"] = 8
    g.doc["accessors"].append({"bufferView": view, "componentType": 5122, "count": len(pos), "type": "VEC3",
                               "min": [-1000, 0, 0], "max": [1000, 2000, 0]})
    p_acc = len(g.doc["accessors"]) - 1
    g.doc["accessors"].append({"bufferView": g.view(np.round(uv * 65535).astype(np.uint16).tobytes()),
                               "componentType": 5123, "normalized": True, "count": len(uv), "type": "VEC2"})
    uv_acc = len(g.doc["accessors"]) - 1
    tex = g.texture(png_bytes(_solid(RED)))
    g.doc["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}}]
    g.doc["meshes"].append({"primitives": [{"attributes": {"POSITION": p_acc, "TEXCOORD_0": uv_acc}, "material": 0,
                                            "indices": g.accessor(tris.ravel(), "SCALAR")}]})
    g.doc["nodes"][0]["scale"] = [0.001, 0.001, 0.001]
    g.uses("KHR_mesh_quantization", required=True)
    scene = load_mesh_scene(g.write(tmp_path / "q.glb"))
    lo, hi = scene.bounds_m
    assert np.allclose(lo, (-1, 0, 0), atol=1e-4) and np.allclose(hi, (1, 0, 2), atol=1e-4), (lo, hi)
    assert scene.meshes[0].uvs.min() >= 0.0 and scene.meshes[0].uvs.max() == pytest.approx(1.0, abs=1e-4)


def test_ktx2_without_a_transcoder_uses_the_fallback_or_names_the_extension(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "alktx2", None)  # as on a machine without the transcoder
    ktx = b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(64)
    g = GltfBuilder()
    tex = g.texture(ktx, ktx2=True)
    g.doc["textures"][tex]["source"] = len(g.doc["images"])  # the PNG fallback the extension allows
    g.doc["images"].append({"bufferView": g.view(png_bytes(_solid((30, 60, 200)))), "mimeType": "image/png"})
    g.doc["extensionsRequired"].remove("KHR_texture_basisu")
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}})
    scene = load_mesh_scene(g.write(tmp_path / "fallback.glb"))
    assert tuple(scene.textures[scene.meshes[0].material.texture][0, 0, :3]) == (30, 60, 200)
    assert any("KTX2" in line and "fallback" in line for line in scene.report.warning_lines())
    only = GltfBuilder()
    tex = only.texture(ktx, ktx2=True)
    only.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}})
    with pytest.raises(SceneError, match="KHR_texture_basisu.*alktx2"):
        load_mesh_scene(only.write(tmp_path / "only.glb"))


def test_cli_render_prints_one_warning_per_kind_skipped(tmp_path, capsys):
    from citywalk.cli import main

    g = GltfBuilder()
    tex = g.texture(uri="facade.png")
    g.quad(n=2, material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}, "doubleSided": True})
    g.doc["nodes"][0]["matrix"] = [20, 0, 0, 0, 0, 0, -20, 0, 0, 20, 0, 0, 0, -20, 0, 1]  # a 40 m floor
    path = g.write(tmp_path / "floor.gltf")
    out = tmp_path / "walk.mp4"
    code = main(["render", "--mesh", str(path), "--size", "64x36", "--duration", "0.5", "--fps", "4",
                 "-o", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("citywalk: warning:")]
    assert code == 0 and out.exists()
    assert err == [f"citywalk: warning: {path}: skipped 1 textures (file 'facade.png' not found)"], err


def test_splat_gltf_reports_the_primitives_it_does_not_read(tmp_path):
    from citywalk.scene.report import LoadReport
    from citywalk.sources.splat_formats import write_gltf_splats
    from citywalk.sources.splats import load_splat_scene

    path = tmp_path / "two.gltf"
    write_gltf_splats(path, _cloud(20, 0))
    doc = json.loads(path.read_text())
    prim = doc["meshes"][0]["primitives"][0]
    doc["meshes"][0]["primitives"] += [dict(prim), {"attributes": {"POSITION": prim["attributes"]["POSITION"]}}]
    path.write_text(json.dumps(doc))
    report = LoadReport(source=str(path))
    assert load_splat_scene(path, report=report).count == 20
    assert report.warning_lines() == [
        f"{path}: skipped 1 mesh primitives (a splat file's meshes are not drawn)",
        f"{path}: skipped 1 splat primitives (only the first KHR_gaussian_splatting primitive is read)"]


def test_gltf_with_external_buffer_and_texture_files(tmp_path):
    g = GltfBuilder()
    tex = g.texture(uri="tex/red%20wall.png")
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}})
    (tmp_path / "tex").mkdir()
    (tmp_path / "tex" / "red wall.png").write_bytes(png_bytes(_solid(RED)))
    (tmp_path / "quad.bin").write_bytes(bytes(g.blob))
    g.doc["buffers"] = [{"byteLength": len(g.blob), "uri": "quad.bin"}]
    (tmp_path / "quad.gltf").write_text(json.dumps(g.doc))
    scene = load_mesh_scene(tmp_path / "quad.gltf")
    assert scene.triangle_count == 2 and scene.report.warning_lines() == []
    assert tuple(scene.textures[scene.meshes[0].material.texture][0, 0, :3]) == RED
    g.doc["buffers"][0]["uri"] = "../outside.bin"
    (tmp_path / "escape.gltf").write_text(json.dumps(g.doc))
    with pytest.raises(SceneError):
        load_mesh_scene(tmp_path / "escape.gltf")
