"""One fuzz target per citywalk reader: seed file sets written by citywalk's own writers (trimesh
for mesh formats citywalk only reads), the reader call, and which files are text/JSON/zip.

Seeds are built once in the parent (`build_targets`) so forked workers only run readers."""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

FileSet = dict[str, bytes]


@dataclasses.dataclass
class Target:
    """A reader under test: `read(path of main)`; seeds are file sets holding `main`."""

    name: str
    main: str
    read: Callable[[Path], object]
    seeds: list[FileSet]
    kinds: dict[str, str]


def _files_of(folder: Path) -> FileSet:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one(tmp: Path, name: str, write: Callable[[Path], object], main: str | None = None) -> FileSet:
    """Run a writer into a fresh folder and collect what it wrote, renamed so `main` is the entry."""
    d = Path(tempfile.mkdtemp(dir=tmp))
    write(d / name)
    files = _files_of(d)
    if main and main != name:
        files[main] = files.pop(name)
    return files


# ------------------------------------------------------------------ OSM

def _osm_data(n_buildings: int):
    from citywalk.sources.osm import OsmData

    ids, lonlat, ways = [], [], {}
    nid = 1
    for b in range(n_buildings):
        x0, y0 = 139.7 + 0.0003 * b, 35.68
        ring = []
        for dx, dy in ((0, 0), (0.0002, 0), (0.0002, 0.0001), (0, 0.0001)):
            ids.append(nid)
            lonlat.append((x0 + dx, y0 + dy))
            ring.append(nid)
            nid += 1
        ways[100 + b] = (np.array(ring + ring[:1], np.int64), {"building": "yes", "building:levels": "3"})
    ids += [nid, nid + 1]
    lonlat += [(139.7, 35.6798), (139.7 + 0.0003 * n_buildings, 35.6798)]
    ways[99] = (np.array([nid, nid + 1], np.int64), {"highway": "residential", "sidewalk": "both"})
    relations = {500: ([("w", 100, "outer")], {"type": "multipolygon", "building": "yes"})}
    return OsmData(np.array(ids, np.int64), np.array(lonlat, float), {nid: {"highway": "street_lamp"}}, ways,
                   relations, (35.6795, 139.6995, 35.6805, 139.702))


def _osm_targets(tmp: Path) -> list[Target]:
    from citywalk.sources.osm import load_osm, write_osm

    xml = [_one(tmp, "map.osm", lambda p, n=n: write_osm(p, _osm_data(n))) for n in (1, 3)]
    pbf = [_one(tmp, "map.osm.pbf", lambda p, n=n: write_osm(p, _osm_data(n))) for n in (1, 3)]
    return [Target("osm_xml", "map.osm", load_osm, xml, {".osm": "text"}),
            Target("osm_pbf", "map.osm.pbf", load_osm, pbf, {})]


# ------------------------------------------------------------------ meshes

def _box_scene(textured: bool):
    import trimesh
    from PIL import Image

    box = trimesh.creation.box(extents=(2.0, 3.0, 1.0))
    if textured:
        uv = np.c_[box.vertices[:, 0] > 0, box.vertices[:, 1] > 0].astype(float)
        img = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
        box.visual = trimesh.visual.TextureVisuals(uv=uv, image=img)
    else:
        box.visual.face_colors = (200, 50, 50, 255)
    return box


def _mesh_targets(tmp: Path) -> list[Target]:
    from citywalk.sources.meshes import load_mesh_scene

    def export(kind, textured):
        return lambda p: _box_scene(textured).export(str(p), file_type=kind)

    glb = [_one(tmp, "m.glb", export("glb", t)) for t in (False, True)] + _extension_glbs(tmp)
    gltf = [_one(tmp, "m.gltf", export("gltf", t)) for t in (False, True)]
    obj = [_one(tmp, "m.obj", export("obj", t)) for t in (False, True)]
    ply = [_one(tmp, "m.ply", export("ply", False)),
           _one(tmp, "m.ply", lambda p: _box_scene(False).export(str(p), file_type="ply", encoding="ascii"))]
    kinds = {".gltf": "json", ".obj": "text", ".mtl": "text", ".ply": "text"}
    return [Target("glb", "m.glb", load_mesh_scene, glb, kinds),
            Target("gltf", "m.gltf", load_mesh_scene, gltf, kinds),
            Target("obj_mtl", "m.obj", load_mesh_scene, obj, kinds),
            Target("ply_mesh", "m.ply", load_mesh_scene, ply, kinds)]


def _extension_glbs(tmp: Path) -> list[FileSet]:
    """GLBs using the extensions `gltf_prep` decodes (Draco, texture transform, GPU instancing,
    quantized accessors, KTX2), so mutations reach those decoders and not only trimesh's."""
    from fuzz.gltf_build import GltfBuilder, grid, png_bytes

    red = png_bytes(np.tile(np.array((200, 40, 90), np.uint8), (4, 4, 1)))
    seeds: list[GltfBuilder] = []
    try:
        import DracoPy  # noqa: F401

        seeds.append(GltfBuilder().quad(n=2, draco=True))
    except ImportError:
        pass
    g = GltfBuilder()
    tex = g.texture(red)
    g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex, "extensions": {
        "KHR_texture_transform": {"offset": [0.5, 0.25], "rotation": 0.3, "scale": [0.5, 0.5]}}}}})
    seeds.append(g.uses("KHR_texture_transform"))
    g = GltfBuilder().quad(n=2)
    shifts = np.c_[np.arange(3) * 3.0, np.zeros(3), np.zeros(3)].astype(np.float32)
    g.doc["nodes"][0]["extensions"] = {"EXT_mesh_gpu_instancing": {"attributes": {
        "TRANSLATION": g.accessor(shifts, "VEC3"),
        "SCALE": g.accessor(np.full((3, 3), 2.0, np.float32), "VEC3")}}}
    seeds.append(g.uses("EXT_mesh_gpu_instancing", required=True))
    g = GltfBuilder()
    pos, uv, tris = grid(1)
    qpos = np.c_[np.round(pos * 1000).astype(np.int16), np.zeros(len(pos), np.int16)]
    view = g.view(qpos.tobytes())
    g.doc["bufferViews"][view]["byteStride"] = 8
    g.doc["accessors"].append({"bufferView": view, "componentType": 5122, "count": len(pos), "type": "VEC3",
                               "min": [-1000, 0, 0], "max": [1000, 2000, 0]})
    g.doc["meshes"].append({"primitives": [{"attributes": {"POSITION": len(g.doc["accessors"]) - 1},
                                            "indices": g.accessor(tris.ravel(), "SCALAR")}]})
    g.doc["nodes"][0]["scale"] = [0.001] * 3
    seeds.append(g.uses("KHR_mesh_quantization", required=True))
    try:
        import alktx2

        ktx = alktx2.encode_bytes_to_ktx2(red, mime="image/png", codec="uastc")
    except ImportError:
        ktx = b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(64)
    g = GltfBuilder()
    tex = g.texture(ktx, ktx2=True)
    seeds.append(g.quad(material={"pbrMetallicRoughness": {"baseColorTexture": {"index": tex}}}))
    out = []
    for b in seeds:
        d = Path(tempfile.mkdtemp(dir=tmp))
        out.append({"m.glb": b.write(d / "m.glb").read_bytes()})
    return out


# ------------------------------------------------------------------ KMZ / COLLADA

_DAE = """<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
 <asset><unit name="m" meter="1"/><up_axis>Z_UP</up_axis></asset>
 <library_effects><effect id="fx"><profile_COMMON><technique sid="t"><lambert>
  <diffuse><color>0.2 0.4 0.6 1</color></diffuse></lambert></technique></profile_COMMON></effect></library_effects>
 <library_materials><material id="mat"><instance_effect url="#fx"/></material></library_materials>
 <library_geometries><geometry id="g"><mesh>
  <source id="pos"><float_array id="pos-a" count="12">0 0 0 4 0 0 4 3 0 0 3 2</float_array>
   <technique_common><accessor source="#pos-a" count="4" stride="3">
    <param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>
   </accessor></technique_common></source>
  <vertices id="v"><input semantic="POSITION" source="#pos"/></vertices>
  <triangles material="m" count="2"><input semantic="VERTEX" source="#v" offset="0"/><p>0 1 2 0 2 3</p></triangles>
 </mesh></geometry></library_geometries>
 <library_visual_scenes><visual_scene id="vs"><node id="n"><instance_geometry url="#g"><bind_material>
  <technique_common><instance_material symbol="m" target="#mat"/></technique_common></bind_material>
 </instance_geometry></node></visual_scene></library_visual_scenes>
 <scene><instance_visual_scene url="#vs"/></scene>
</COLLADA>"""

_KML = """<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>{}</Document></kml>"""
_PLACEMARK = """<Placemark><Model><altitudeMode>relativeToGround</altitudeMode>
<Location><longitude>{lon}</longitude><latitude>35.68</latitude><altitude>0</altitude></Location>
<Orientation><heading>{h}</heading><tilt>0</tilt><roll>0</roll></Orientation>
<Scale><x>1</x><y>1</y><z>1</z></Scale><Link><href>models/a.dae</href></Link></Model></Placemark>"""


def _kmz_bytes(n_models: int) -> bytes:
    out = io.BytesIO()
    marks = "".join(_PLACEMARK.format(lon=139.7 + 0.0001 * i, h=30 * i) for i in range(n_models))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", _KML.format(marks))
        zf.writestr("models/a.dae", _DAE)
    return out.getvalue()


def _kmz_targets(tmp: Path) -> list[Target]:
    from citywalk.sources.kmz import load_kmz

    return [Target("kmz", "city.kmz", load_kmz, [{"city.kmz": _kmz_bytes(n)} for n in (1, 2)],
                   {".kmz": "zip"})]


# ------------------------------------------------------------------ 3D Tiles

def _tileset_files(b3dm_root: bool) -> FileSet:
    from citywalk.sources.geo import enu_rotation, geodetic_to_ecef
    from citywalk.sources.tiles import write_b3dm

    m = np.eye(4)
    m[:3, :3] = enu_rotation(35.68, 139.7).T
    m[:3, 3] = geodetic_to_ecef(35.68, 139.7, 0.0)
    glb = _box_scene(False).export(file_type="glb")
    root_uri = "root.b3dm" if b3dm_root else "root.glb"
    doc = {"asset": {"version": "1.0", "copyright": "fuzz"}, "geometricError": 100,
           "root": {"transform": m.T.ravel().tolist(),
                    "boundingVolume": {"box": [0, 0, 0, 50, 0, 0, 0, 50, 0, 0, 0, 10]},
                    "geometricError": 10, "refine": "REPLACE", "content": {"uri": root_uri},
                    "children": [{"boundingVolume": {"box": [10, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5]},
                                  "geometricError": 0, "content": {"uri": "c/c0.glb"}}]}}
    files = {"tileset.json": json.dumps(doc).encode(), "c/c0.glb": glb}
    files[root_uri] = write_b3dm(glb, {"BATCH_LENGTH": 0, "RTC_CENTER": [0, 0, 0]}) if b3dm_root else glb
    return files


def _tileset_more_files() -> FileSet:
    """An implicit quadtree (one binary subtree) whose content is a composite of an i3dm and a pnts."""
    from citywalk.sources.tiles_formats import write_cmpt, write_i3dm, write_pnts
    from citywalk.sources.tiles_implicit import write_subtree

    glb = _box_scene(False).export(file_type="glb")
    inner = [write_i3dm(glb, [[0, 0, 0], [3, 0, 0]], [[0, 1, 0]] * 2, [[1, 0, 0]] * 2, [1.0, 2.0]),
             write_pnts(np.arange(30, dtype=np.float32).reshape(10, 3), np.full((10, 3), 200, np.uint8))]
    doc = {"asset": {"version": "1.1"}, "geometricError": 100,
           "root": {"boundingVolume": {"box": [0, 0, 0, 50, 0, 0, 0, 50, 0, 0, 0, 10]}, "geometricError": 10,
                    "refine": "ADD", "content": {"uri": "t/{level}_{x}_{y}.cmpt"},
                    "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "availableLevels": 2,
                                       "subtrees": {"uri": "s/{level}_{x}_{y}.subtree"}}}}
    return {"tileset.json": json.dumps(doc).encode(),
            "s/0_0_0.subtree": write_subtree([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]),
            "t/0_0_0.cmpt": write_cmpt(inner), "t/1_1_1.cmpt": write_cmpt(inner[:1])}


def _tiles_targets(tmp: Path) -> list[Target]:
    from citywalk.sources.tiles import load_tiles

    return [Target("tiles", "tileset.json", load_tiles,
                   [_tileset_files(True), _tileset_files(False), _tileset_more_files()], {".json": "json"})]


# ------------------------------------------------------------------ splats

def _cloud(n: int, degree: int):
    from citywalk.scene.gaussians import GaussianCloud, sh_coeff_count

    rng = np.random.default_rng(n)
    return GaussianCloud(rng.normal(size=(n, 3)), np.full((n, 3), 0.1), np.tile([1.0, 0, 0, 0], (n, 1)),
                         np.full(n, 0.8), rng.normal(size=(n, sh_coeff_count(degree), 3)) * 0.3, degree)


def _splat_targets(tmp: Path) -> list[Target]:
    from citywalk.sources.splat_formats import write_gltf_splats
    from citywalk.sources.splats import load_splat_scene, write_ply, write_splat, write_spz

    ply = [_one(tmp, "s.ply", lambda p, d=d: write_ply(p, _cloud(20, d))) for d in (0, 1)]
    spl = [_one(tmp, "s.splat", lambda p: write_splat(p, _cloud(20, 0)))]
    spz = [_one(tmp, "s.spz", lambda p, d=d, v=v: write_spz(p, _cloud(20, d), version=v))
           for d, v in ((0, 3), (1, 2), (1, 4))]
    gltf = [_one(tmp, "s.glb", lambda p, d=d: write_gltf_splats(p, _cloud(20, d))) for d in (0, 1)]
    return [Target("splat_ply", "s.ply", load_splat_scene, ply, {".ply": "text"}),
            Target("splat_splat", "s.splat", load_splat_scene, spl, {}),
            Target("splat_spz", "s.spz", load_splat_scene, spz, {}),
            Target("splat_gltf", "s.glb", load_splat_scene, gltf, {".gltf": "json"}),
            *_more_splat_targets(tmp)]


def _more_splat_targets(tmp: Path) -> list[Target]:
    """SOG (bundle and meta.json folder), .ksplat (levels 0-2) and glTF with the SPZ extension."""
    from citywalk.sources.splat_formats import write_gltf_splats
    from citywalk.sources.splats import load_splat_scene, write_ksplat, write_sog

    sog = [_one(tmp, "s.sog", lambda p, d=d: write_sog(p, _cloud(20, d))) for d in (0, 1)]
    sog_dir = [_one(tmp, "meta.json", lambda p: write_sog(p, _cloud(12, 1)))]
    ksplat = [_one(tmp, "s.ksplat", lambda p, d=d, v=v: write_ksplat(p, _cloud(20, d), v))
              for d, v in ((0, 0), (1, 1), (2, 2))]
    gltf_spz = [_one(tmp, "s.glb", lambda p, d=d: write_gltf_splats(p, _cloud(20, d), compression="spz"))
                for d in (0, 1)]
    return [Target("splat_sog", "s.sog", load_splat_scene, sog, {".sog": "zip"}),
            Target("splat_sog_folder", "meta.json", load_splat_scene, sog_dir, {".json": "json"}),
            Target("splat_ksplat", "s.ksplat", load_splat_scene, ksplat, {}),
            Target("splat_gltf_spz", "s.glb", load_splat_scene, gltf_spz, {})]


# ------------------------------------------------------------------ Shot, actor, camera files

def _shot_targets(tmp: Path) -> list[Target]:
    from citywalk.shot import Shot

    raw = {"scene": {"source": "procedural", "style": "tokyo", "seed": 7},
           "camera": {"rig": "walk", "speed_mps": 1.4, "fov_deg": 70},
           "look": {"when": "dusk", "weather": "rain"},
           "output": {"duration_s": 2, "fps": 12, "size": [64, 48], "path": "out/x.mp4"}}
    shot = Shot.from_dict(raw)
    yaml_seeds = [_one(tmp, "shot.yaml", shot.save)]
    json_seeds = [_one(tmp, "shot.json", shot.save)]
    kinds = {".yaml": "text", ".json": "json"}
    return [Target("shot_yaml", "shot.yaml", Shot.load, yaml_seeds, kinds),
            Target("shot_json", "shot.json", Shot.load, json_seeds, kinds)]


def _actor_targets(tmp: Path) -> list[Target]:
    from citywalk.likeness.actor import Actor, Cycle

    n, h, w = 4, 16, 8
    rgba = np.zeros((n, h, w, 4), np.uint8)
    rgba[:, 2:15, 2:6] = (180, 120, 90, 255)
    actor = Actor(rgba, np.tile([4.0, 15.0], (n, 1)), np.full(n, 13.0), np.full((n, 33, 3), np.nan),
                  m_per_px=0.13, height_m=1.7, fps=8.0, cycle=Cycle(0, n, 0.5, True, 0.7), method="still-test")
    return [Target("actor", "p.actor", Actor.load, [_one(tmp, "p.actor", actor.save)], {".actor": "zip"})]


def _camera_frames(n: int = 6):
    from citywalk.camera.keyframes import keyframe_frames

    keys = [{"t_s": 0, "position": [0, 0, 1.6], "look_at": [10, 0, 1.6], "fov_deg": 70},
            {"t_s": 1, "position": [2, 1, 1.6], "look_at": [12, 2, 1.5], "fov_deg": 60, "ease": "ease_in_out"}]
    return keys, keyframe_frames(keys, 6.0, n, (64, 48))


def _camera_targets(tmp: Path) -> list[Target]:
    from citywalk.camera import paths_io as pio
    from citywalk.tracks import read_camera_track, write_camera_track

    keys, frames = _camera_frames()
    track = [{"index": f.index, "time_s": f.time_s, "K": f.K, "R_w2c": f.R, "t_w2c": f.t} for f in frames]
    return [
        Target("keyframes_json", "keys.json", pio.read_keyframes,
               [_one(tmp, "keys.json", lambda p: pio.write_keyframes(p, keys))], {".json": "json"}),
        Target("camera_path_json", "path.json", pio.read_camera_path_json,
               [_one(tmp, "path.json", lambda p: pio.write_camera_path_json(p, frames, 6.0))], {".json": "json"}),
        Target("realestate10k", "re10k.txt", lambda p: pio.read_realestate10k(p, (64, 48)),
               [_one(tmp, "re10k.txt", lambda p: pio.write_realestate10k(p, frames))], {".txt": "text"}),
        Target("camera_track", "track.json", read_camera_track,
               [_one(tmp, "track.json", lambda p: write_camera_track(p, track, fps=6, width=64, height=48))],
               {".json": "json"}),
    ]


# ------------------------------------------------------------------ capture videos and photo folders

def _video_bytes(n: int, codec: str, suffix: str) -> bytes:
    import av

    rng = np.random.default_rng(n)
    out = io.BytesIO()
    with av.open(out, "w", format={"mp4": "mp4", "mov": "mov"}[suffix]) as c:
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(n):
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return out.getvalue()


def _image_bytes(seed: int, fmt: str) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(out, format=fmt)
    return out.getvalue()


def _read_capture_video(path: Path) -> None:
    from citywalk.capture.frames import FrameOptions, select_frames
    from citywalk.capture.intake import probe_capture_video

    probe_capture_video(path)
    select_frames(path, path.parent / "kept", FrameOptions(max_side_px=64, max_decode_frames=200))


def _read_photo_folder(path: Path) -> None:
    from citywalk.capture.frames import FrameOptions, select_frames
    from citywalk.capture.intake import list_images, probe_image

    for p in list_images(path):
        probe_image(p)
    select_frames(path, path.parent / "kept", FrameOptions(max_side_px=64, max_decode_frames=200))


def _capture_targets(tmp: Path) -> list[Target]:
    videos = [{"v.mp4": _video_bytes(8, "mpeg4", "mp4")}, {"v.mp4": _video_bytes(6, "libx264", "mp4")}]
    photos = [{f"photos/{i:03d}.{ext}": _image_bytes(i, fmt) for i in range(3)}
              for ext, fmt in (("jpg", "JPEG"), ("png", "PNG"))]
    return [Target("capture_video", "v.mp4", _read_capture_video, videos, {}),
            Target("photo_folder", "photos", _read_photo_folder, photos, {})]


_GROUPS = (_osm_targets, _mesh_targets, _kmz_targets, _tiles_targets, _splat_targets, _shot_targets,
           _actor_targets, _camera_targets, _capture_targets)


def build_targets(only: set[str] | None = None) -> dict[str, Target]:
    """Every target (or those named in `only`) with its seeds written now."""
    tmp = Path(tempfile.mkdtemp(prefix="cw_fuzz_seeds_"))
    targets: dict[str, Target] = {}
    for group in _GROUPS:
        for t in group(tmp):
            if only is None or t.name in only:
                targets[t.name] = t
    return targets


def clean_errors() -> tuple[type[BaseException], ...]:
    from citywalk.errors import CitywalkError

    return (CitywalkError,)
