"""Mesh files (glTF/GLB, OBJ+MTL, PLY) → Scene, and a ground-height lookup by ray casting.

World frame: metres, Z up, X east, Y north. glTF is Y-up by specification, so glTF
(x, y, z) becomes world (x, −z, y); OBJ defaults to Y-up too (what most exporters write),
PLY to Z-up (scans); `up_axis` overrides. UVs follow the image convention: (u, v) samples
column u·W and row v·H of the texture array, row 0 at the top (no flip when uploading).
trimesh is an optional dependency (extra `meshes`), imported on first use.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from citywalk.errors import MissingExtra, SceneError
from citywalk.safeio import check_nesting, check_size, read_capped
from citywalk.scene import EMISSIVE, PLAIN, Material, Mesh, Scene
from citywalk.scene.report import LoadReport

MESH_SUFFIXES = {".glb": "glb", ".gltf": "gltf", ".obj": "obj", ".ply": "ply"}
DEFAULT_UP_AXIS = {"glb": "y", "gltf": "y", "obj": "y", "ply": "z"}
MAX_FILE_BYTES = 2 << 30
MAX_MTL_BYTES = 16 << 20
MAX_MTL_NAMES = 64  # material libraries an OBJ may name (repeats counted)
MAX_MTL_MAPS = 256  # texture statements per MTL file: trimesh decodes the image once per statement
MAX_JSON_NESTING = 64  # glTF documents nest ~6 deep; deeper ones are refused before parsing
MAX_TEXTURE_PX = 4096
_MAX_GRID_ENTRIES = 20_000_000
# glTF emission (emissiveFactor × KHR_materials_emissive_strength) of 1 → Material.emissive in
# 100 cd/m² (a lit shop sign; the procedural styles use 1.5, neon 5).
GLTF_EMISSIVE_UNIT = 1.0

# glTF / Y-up (x, y, z) → world Z-up (x, −z, y), as a 4×4 matrix acting on column vectors.
Y_UP_TO_Z_UP = np.array(
    [[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float64
)


def _trimesh():
    """Import trimesh lazily; a missing install names the extra that brings it."""
    try:
        import trimesh
    except ImportError as exc:
        raise MissingExtra("trimesh", "meshes", "Loading glTF/OBJ/PLY meshes") from exc
    return trimesh


def _check_obj_materials(path: Path) -> None:
    """Bound the MTL files an OBJ names (size, texture statements) before trimesh reads them:
    a small MTL repeating `map_Kd x.png` thousands of times took trimesh minutes."""
    from citywalk.safeio import safe_join

    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    names = [n for line in head.splitlines() if line.strip().startswith(b"mtllib") for n in line.split()[1:]]
    if len(names) > MAX_MTL_NAMES:  # trimesh opens every one: 100 000 names took it minutes
        raise SceneError(f"{path}: its mtllib lines name {len(names)} material files; at most {MAX_MTL_NAMES} "
                         "are accepted")
    for line in head.splitlines():
        if line.strip().startswith(b"mtllib"):
            for name in line.split()[1:]:
                try:
                    mtl = safe_join(path.parent, name.decode("utf-8", "replace"))
                except SceneError:
                    continue  # trimesh ignores what it cannot find; so do we
                if not mtl.is_file():
                    continue
                text = read_capped(mtl, MAX_MTL_BYTES, "MTL file")
                maps = sum(1 for ln in text.splitlines() if ln.lstrip().lower().startswith((b"map_", b"bump", b"disp")))
                if maps > MAX_MTL_MAPS:
                    raise SceneError(f"{mtl}: {maps} texture statements; at most {MAX_MTL_MAPS} are accepted")


def _up_matrix(up_axis: str, path: Path) -> np.ndarray:
    """4×4 matrix taking file coordinates with the given up axis to world Z-up."""
    up = up_axis.lower()
    if up == "y":
        return Y_UP_TO_Z_UP.copy()
    if up == "z":
        return np.eye(4)
    raise SceneError(f"{path}: up_axis '{up_axis}' is not supported; use 'y' or 'z'")


def image_to_rgba8(image, key: str) -> np.ndarray:
    """PIL image → (H, W, 4) uint8 sRGB array, downscaled to MAX_TEXTURE_PX on its long side."""
    from PIL import Image

    image = image.convert("RGBA")
    w, h = image.size
    if max(w, h) > MAX_TEXTURE_PX:
        scale = MAX_TEXTURE_PX / max(w, h)
        image = image.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 4:
        raise SceneError(f"texture '{key}': could not be decoded to RGBA8")
    return np.ascontiguousarray(array)


def _material_from_visual(
    visual, name: str, textures: dict, prefix: str, image_keys: dict[int, str]
) -> Material:
    """Translate a trimesh visual (PBR, MTL or vertex colours) into our Material; base colour
    textures are stored once in `textures` (sRGB RGBA8) under a key made from the material
    name (deterministic); `image_keys` maps already-stored image objects to their keys."""
    kind = getattr(visual, "kind", None)
    albedo, roughness, emissive, texture_key, image = (0.8, 0.8, 0.8), 0.8, 0.0, None, None
    material = getattr(visual, "material", None) if kind == "texture" else None
    if material is not None:
        mname = getattr(material, "name", None) or name
        name = f"{prefix}{mname}"
        if type(material).__name__ == "PBRMaterial":  # glTF: the spec's defaults where a field is absent
            factor = getattr(material, "baseColorFactor", None)  # trimesh keeps it as uint8 RGBA
            albedo = (1.0, 1.0, 1.0) if factor is None else tuple(float(c) / 255.0 for c in np.asarray(factor)[:3])
            rough = getattr(material, "roughnessFactor", None)
            roughness = 1.0 if rough is None else float(rough)
            image = getattr(material, "baseColorTexture", None)
            emissive_factor = getattr(material, "emissiveFactor", None)
            if emissive_factor is not None and float(np.max(emissive_factor)) > 0.0:
                glow = np.asarray(emissive_factor, dtype=np.float64)
                emissive = GLTF_EMISSIVE_UNIT * float(glow.max())
                # our EMISSIVE shading glows in the surface colour: give it the emission's hue
                tint = glow / glow.max()
                albedo = tuple(tint) if image is None else tuple(a * t for a, t in zip(albedo, tint))
        else:  # OBJ/MTL SimpleMaterial: Kd diffuse, glossiness (Ns) → roughness
            diffuse = getattr(material, "diffuse", None)
            if diffuse is not None:
                albedo = tuple(float(c) / 255.0 for c in np.asarray(diffuse)[:3])
            gloss = getattr(material, "glossiness", None)
            if gloss is not None:
                roughness = float(np.clip(1.0 - np.sqrt(float(gloss) / 1000.0), 0.05, 1.0))
            image = getattr(material, "image", None)
    elif kind == "vertex" or kind == "face":
        colors = np.asarray(visual.vertex_colors if kind == "vertex" else visual.face_colors)
        albedo = tuple(float(c) / 255.0 for c in colors[:, :3].mean(axis=0))
    if image is not None:
        texture_key = image_keys.get(id(image))
        if texture_key is None:
            texture_key, n = f"{prefix}{name}", 1
            while texture_key in textures:
                texture_key, n = f"{prefix}{name}#{n}", n + 1
            textures[texture_key] = image_to_rgba8(image, texture_key)
            image_keys[id(image)] = texture_key
    albedo = tuple(float(np.clip(c, 0.0, 1.0)) for c in albedo)
    return Material(
        name=name,
        albedo=albedo,
        roughness=float(np.clip(roughness, 0.0, 1.0)),
        texture=texture_key,
        emissive=emissive,
        kind=EMISSIVE if emissive > 0.0 else PLAIN,  # an imported sign glows at night
    )


def _geometry_to_mesh(
    geom, matrix: np.ndarray, name: str, textures: dict, prefix: str, image_keys: dict[int, str]
) -> Mesh | None:
    """One trimesh.Trimesh placed by `matrix` (4×4, float64, applied to file coordinates)
    → our Mesh; non-triangle geometry (points, paths) gives None."""
    faces = getattr(geom, "faces", None)
    if faces is None or len(faces) == 0:
        return None
    positions = np.asarray(geom.vertices, dtype=np.float64)
    normals = np.asarray(geom.vertex_normals, dtype=np.float64)  # computed when missing
    world = positions @ matrix[:3, :3].T + matrix[:3, 3]
    normal_matrix = np.linalg.inv(matrix[:3, :3]).T
    world_normals = normals @ normal_matrix.T
    lengths = np.linalg.norm(world_normals, axis=1, keepdims=True)
    world_normals = np.where(lengths > 1e-12, world_normals / np.maximum(lengths, 1e-12), 0.0)
    indices = np.asarray(faces, dtype=np.uint32)
    if np.linalg.det(matrix[:3, :3]) < 0:  # a mirroring transform flips winding
        indices = indices[:, ::-1].copy()
    uv = getattr(geom.visual, "uv", None) if getattr(geom.visual, "kind", None) == "texture" else None
    if uv is not None and len(uv) == len(positions):
        uvs = np.asarray(uv, dtype=np.float64).copy()
        uvs[:, 1] = 1.0 - uvs[:, 1]  # trimesh keeps OpenGL v-up; we use image rows
    else:
        uvs = np.zeros((len(positions), 2))
    material = _material_from_visual(geom.visual, name, textures, prefix, image_keys)
    return Mesh(
        positions=world.astype(np.float32),
        normals=world_normals.astype(np.float32),
        uvs=uvs.astype(np.float32),
        indices=np.ascontiguousarray(indices),
        material=material,
    )


def trimesh_scene_to_meshes(
    tm_scene,
    matrix: np.ndarray,
    textures: dict,
    prefix: str = "",
    max_triangles: int = 5_000_000,
    source: str = "mesh",
) -> list[Mesh]:
    """Flatten a trimesh.Scene into our Meshes, each node's transform followed by `matrix`
    (4×4 float64 from file coordinates to world). Raises SceneError over `max_triangles`."""
    nodes = list(tm_scene.graph.nodes_geometry)
    total = 0
    for node in nodes:
        _, geom_name = tm_scene.graph[node]
        faces = getattr(tm_scene.geometry[geom_name], "faces", None)
        total += 0 if faces is None else len(faces)
    if total > max_triangles:
        raise SceneError(
            f"{source}: {total} triangles; at most {max_triangles} are accepted (max_triangles)"
        )
    meshes, image_keys = [], {}
    for node in nodes:
        node_matrix, geom_name = tm_scene.graph[node]
        mesh = _geometry_to_mesh(
            tm_scene.geometry[geom_name],
            matrix @ np.asarray(node_matrix, dtype=np.float64),
            str(geom_name),
            textures,
            prefix,
            image_keys,
        )
        if mesh is not None:
            meshes.append(mesh)
    return meshes


def load_trimesh_scene(source, file_type: str, where: str, report: LoadReport | None = None,
                       base_dir: Path | None = None):
    """Load a file path or bytes into a trimesh.Scene without processing (keeps vertex
    order and UV seams); any loader failure becomes a SceneError naming `where`. glTF goes
    through gltf_prep first (Draco, instancing, KTX2, texture transform, emissive strength),
    which records what it skipped in `report`; `base_dir` holds a .gltf's external files."""
    trimesh = _trimesh()
    if file_type in ("glb", "gltf"):
        from citywalk.sources.gltf_prep import prepare_gltf

        if not isinstance(source, (bytes, bytearray)):
            base_dir = Path(source).parent if base_dir is None else base_dir
            source = read_capped(Path(source), MAX_FILE_BYTES, "mesh file")
        source, file_type = prepare_gltf(bytes(source), file_type, where, base_dir, report), "glb"
    try:
        if isinstance(source, (bytes, bytearray)):
            return trimesh.load(io.BytesIO(source), file_type=file_type, force="scene", process=False)
        return trimesh.load(str(source), file_type=file_type, force="scene", process=False)
    except SceneError:
        raise
    except Exception as exc:  # trimesh raises many types for corrupt files
        raise SceneError(f"{where}: could not read {file_type} data ({type(exc).__name__}: {exc})") from exc


def glb_json(data: bytes, where: str) -> dict:
    """The JSON chunk of a GLB blob (header checked), e.g. for asset.copyright or CESIUM_RTC."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise SceneError(f"{where}: not a binary glTF (GLB) blob: magic {data[:4]!r}, expected b'glTF'")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2 or length != len(data):
        raise SceneError(
            f"{where}: GLB header says version {version}, length {length}; expected version 2 "
            f"and length {len(data)}"
        )
    chunk_len, chunk_type = struct.unpack_from("<II", data, 12)
    if chunk_type != 0x4E4F534A or 20 + chunk_len > len(data):
        raise SceneError(f"{where}: GLB first chunk is not a JSON chunk of valid length")
    try:
        check_nesting(data[20 : 20 + chunk_len], MAX_JSON_NESTING, where)
        return json.loads(data[20 : 20 + chunk_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SceneError(f"{where}: GLB JSON chunk is malformed ({exc})") from exc


def scene_bounds(meshes: list[Mesh]) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Axis-aligned bounds ((min xyz), (max xyz)) in metres over all mesh positions."""
    if not meshes:
        return ((-1.0, -1.0, 0.0), (1.0, 1.0, 1.0))
    lo = np.min([m.positions.min(axis=0) for m in meshes if len(m.positions)], axis=0)
    hi = np.max([m.positions.max(axis=0) for m in meshes if len(m.positions)], axis=0)
    return (tuple(float(v) for v in lo), tuple(float(v) for v in hi))


def load_mesh_scene(
    path: str | Path,
    origin_latlon: tuple[float, float] | None = None,
    max_triangles: int = 5_000_000,
    up_axis: str | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Scene:
    """Read a glTF/GLB, OBJ(+MTL) or PLY file into a Scene in world coordinates (Z up).

    `up_axis` ('y' or 'z') overrides the format default (glTF/OBJ 'y', PLY 'z').
    `origin_latlon` is recorded as the scene's geo origin (mesh files carry none)."""
    path = Path(path)
    file_type = MESH_SUFFIXES.get(path.suffix.lower())
    if file_type is None:
        raise SceneError(
            f"{path}: unsupported mesh suffix '{path.suffix}'; accepted: {', '.join(sorted(MESH_SUFFIXES))}"
        )
    if file_type in ("glb", "gltf"):
        data = read_capped(path, max_file_bytes, "mesh file")
    else:  # trimesh reads OBJ/PLY (and their MTL/textures) from the path itself
        check_size(path, max_file_bytes, "mesh file")
        if file_type == "obj":
            _check_obj_materials(path)
    matrix = _up_matrix(up_axis or DEFAULT_UP_AXIS[file_type], path)
    copyright_lines: list[str] = []
    report = LoadReport(source=str(path))
    if file_type == "glb":
        asset = glb_json(data, str(path)).get("asset", {})
        tm_scene = load_trimesh_scene(data, "glb", str(path), report)
    else:
        if file_type == "gltf":
            try:
                check_nesting(data, MAX_JSON_NESTING, str(path))
                doc = json.loads(data.decode("utf-8"))
                asset = doc.get("asset", {}) if isinstance(doc, dict) else {}
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise SceneError(f"{path}: glTF JSON is malformed ({exc})") from exc
        else:
            asset = {}
        tm_scene = load_trimesh_scene(data if file_type == "gltf" else path, file_type, str(path), report,
                                      base_dir=path.parent)
    if isinstance(asset, dict) and isinstance(asset.get("copyright"), str) and asset["copyright"]:
        copyright_lines.append(asset["copyright"])
    textures: dict[str, np.ndarray] = {}
    try:  # trimesh decodes lazily: corrupt indices, images or arrays surface only here
        meshes = trimesh_scene_to_meshes(
            tm_scene, matrix, textures, prefix=f"{path.name}:", max_triangles=max_triangles, source=str(path)
        )
    except (SceneError, MemoryError):
        raise
    except Exception as exc:
        raise SceneError(f"{path}: corrupt {file_type} content ({type(exc).__name__}: {exc})") from exc
    if not meshes:
        skipped = "; ".join(f"{n} {k} ({r})" for (k, r), n in sorted(report.skipped.items()))
        raise SceneError(f"{path}: nothing drawable: contains no triangles (points and lines are not rendered)"
                         + (f"; skipped {skipped}" if skipped else ""))
    report.add("triangles", sum(m.triangle_count for m in meshes))
    if textures:
        report.add("textures", len(textures))
    scene = Scene(
        meshes=meshes,
        textures=textures,
        bounds_m=scene_bounds(meshes),
        copyright=copyright_lines,
        style="mesh",
        stats={"source": str(path), "triangles": sum(m.triangle_count for m in meshes)},
        report=report,
    )
    if origin_latlon is not None:
        scene.origin_latlon = (float(origin_latlon[0]), float(origin_latlon[1]))
    return scene


# ---------------------------------------------------------------------------------------
# Ground height by ray casting straight down onto the scene's triangles.


def _ground_triangles(scene: Scene, min_up: float) -> np.ndarray:
    """All triangles facing up or down enough to stand on: (T, 3, 3) float64 world xyz.
    Near-vertical walls (|normal z| < min_up) are dropped: a vertical ray cannot land on them."""
    chunks = []
    for mesh in scene.meshes:
        if not len(mesh.indices):
            continue
        tri = mesh.positions.astype(np.float64)[mesh.indices]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(normal, axis=1)
        keep = (length > 1e-12) & (np.abs(normal[:, 2]) >= min_up * np.maximum(length, 1e-12))
        chunks.append(tri[keep])
    return np.concatenate(chunks) if chunks else np.zeros((0, 3, 3))


def ground_height_fn(
    scene: Scene,
    default_m: float = 0.0,
    max_cells: int = 512,
    min_up: float = 0.2,
) -> Callable[..., float]:
    """Return `height(x, y, z_from=inf, lowest=False, default=None) -> z`: the highest mesh
    surface under (x, y) at or below `z_from` (pass the last height plus a step to stay at street
    level beside a statue, under bridges and awnings), or with `lowest` the lowest surface facing
    up (any facing, if none faces up): where a walk starts. Where no triangle lies under the
    point: `default` if given (e.g. NaN to tell "nothing here"), else `default_m`.

    A uniform 2D grid (at most `max_cells` per side) buckets triangles by their xy
    bounding box, so a query tests only the triangles of one cell."""
    tri = _ground_triangles(scene, min_up)
    if len(tri) == 0:
        return lambda x, y, z_from=np.inf, lowest=False, default=None: float(
            default_m if default is None else default)
    faces_up = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 0
    xy_min = tri[:, :, :2].min(axis=1)
    xy_max = tri[:, :, :2].max(axis=1)
    lo = xy_min.min(axis=0)
    hi = xy_max.max(axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    cell_m = float(max(extent.max() / max_cells, np.sqrt(extent[0] * extent[1] / max(len(tri), 1))))
    cell_m = max(cell_m, 1e-3)
    while True:  # coarsen until the triangle→cell entries fit in memory
        shape = np.maximum(np.ceil(extent / cell_m).astype(np.int64), 1)
        c0 = np.clip(((xy_min - lo) / cell_m).astype(np.int64), 0, shape - 1)
        c1 = np.clip(((xy_max - lo) / cell_m).astype(np.int64), 0, shape - 1)
        width = c1[:, 0] - c0[:, 0] + 1
        count = width * (c1[:, 1] - c0[:, 1] + 1)
        if int(count.sum()) <= max(_MAX_GRID_ENTRIES, 4 * len(tri)) or shape.max() == 1:
            break
        cell_m *= 2.0
    starts = np.cumsum(count) - count
    tri_ids = np.repeat(np.arange(len(tri)), count)
    k = np.arange(int(count.sum())) - np.repeat(starts, count)
    cx = np.repeat(c0[:, 0], count) + k % np.repeat(width, count)
    cy = np.repeat(c0[:, 1], count) + k // np.repeat(width, count)
    cell = cy * shape[0] + cx
    order = np.argsort(cell, kind="stable")
    cell_sorted, tri_sorted = cell[order], tri_ids[order]
    bounds = np.searchsorted(cell_sorted, np.arange(shape[0] * shape[1] + 1))

    def height(x: float, y: float, z_from: float = np.inf, lowest: bool = False, default=None) -> float:
        missing = float(default_m if default is None else default)
        ix, iy = int((x - lo[0]) // cell_m), int((y - lo[1]) // cell_m)
        if not (0 <= ix < shape[0] and 0 <= iy < shape[1]):
            return missing
        c = iy * shape[0] + ix
        ids = tri_sorted[bounds[c] : bounds[c + 1]]
        cand = tri[ids]
        if len(cand) == 0:
            return missing
        a, b, d = cand[:, 0], cand[:, 1], cand[:, 2]
        # 2D barycentric coordinates of (x, y) in each candidate's xy projection.
        v0, v1 = b[:, :2] - a[:, :2], d[:, :2] - a[:, :2]
        p = np.array([x, y]) - a[:, :2]
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        ok = np.abs(den) > 1e-15
        den = np.where(ok, den, 1.0)
        s = (p[:, 0] * v1[:, 1] - v1[:, 0] * p[:, 1]) / den
        t = (v0[:, 0] * p[:, 1] - p[:, 0] * v0[:, 1]) / den
        eps = 1e-9
        inside = ok & (s >= -eps) & (t >= -eps) & (s + t <= 1 + eps)
        z = a[:, 2] + s * (b[:, 2] - a[:, 2]) + t * (d[:, 2] - a[:, 2])
        if lowest:
            up_z = z[inside & faces_up[ids]]
            z = up_z if len(up_z) else z[inside]
            return float(z.min()) if len(z) else missing
        z = z[inside & (z <= z_from + 1e-6)]
        return float(z.max()) if len(z) else missing

    return height
