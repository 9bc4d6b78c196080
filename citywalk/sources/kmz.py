"""KMZ (zipped KML + COLLADA models + textures) → Scene.

Each KML `<Model>` is placed at its `<Location>` (longitude, latitude, altitude) in the local
ENU frame around the scene origin (default: the first model's location), turned by its
`<Orientation>` (heading clockwise from north about up, then tilt and roll) and stretched by
`<Scale>`. COLLADA `<unit meter>` and `<up_axis>` are respected. All XML is checked for
DOCTYPE/ENTITY declarations before parsing (billion laughs, external entities) and all archive
names are checked for zip-slip. pycollada is optional (extra `meshes`), imported on first use.
"""

from __future__ import annotations

import io
import posixpath
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citywalk.errors import MissingExtra, SceneError
from citywalk.safeio import check_xml_bytes, open_zip_safely, parse_xml_safely, read_zip_entry
from citywalk.scene import Material, Mesh, Scene
from citywalk.scene.report import LoadReport
from citywalk.sources.geo import EnuFrame, enu_rotation, geodetic_to_ecef
from citywalk.sources.meshes import image_to_rgba8, scene_bounds

MAX_MODELS = 10_000

# COLLADA up axes → (3, 3) rotation into Z-up (right = +X, up = +Z, "in" = −Y).
_UP_AXIS_ROTATION = {
    "Z_UP": np.eye(3),
    "Y_UP": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "X_UP": np.array([[0.0, -1, 0], [0, 0, -1], [1, 0, 0]]),
}


@dataclass(frozen=True)
class KmlModel:
    """One `<Model>` placement read from KML: degrees, metres, the altitude mode and the
    archive path of its COLLADA file."""

    href: str
    lon_deg: float
    lat_deg: float
    altitude_m: float = 0.0
    altitude_mode: str = "clampToGround"
    heading_deg: float = 0.0
    tilt_deg: float = 0.0
    roll_deg: float = 0.0
    scale_xyz: tuple[float, float, float] = (1.0, 1.0, 1.0)
    name: str = ""


@dataclass
class _Loaded:
    """Meshes, textures and copyright lines gathered while reading the archive."""

    meshes: list[Mesh] = field(default_factory=list)
    textures: dict[str, np.ndarray] = field(default_factory=dict)
    copyright: list[str] = field(default_factory=list)
    report: LoadReport = field(default_factory=LoadReport)


def _collada():
    """Import pycollada lazily; a missing install names the extra that brings it."""
    try:
        import collada
    except ImportError as exc:
        raise MissingExtra("pycollada", "meshes", "Reading COLLADA models in KMZ files") from exc
    return collada


def _local(tag: str) -> str:
    """Tag name without its '{namespace}'."""
    return tag.rsplit("}", 1)[-1]


def _child(elem, name: str):
    """First direct child with local tag `name`, or None."""
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _number(elem, name: str, default: float, where: str) -> float:
    """Float text of child `name`, `default` when absent; malformed numbers raise SceneError."""
    c = None if elem is None else _child(elem, name)
    if c is None or c.text is None or not c.text.strip():
        return default
    try:
        value = float(c.text.strip())
    except ValueError as exc:
        raise SceneError(f"{where}: <{name}> is '{c.text.strip()}', expected a number") from exc
    if not np.isfinite(value):
        raise SceneError(f"{where}: <{name}> is '{c.text.strip()}', expected a finite number")
    return value


def parse_kml_models(kml: bytes, where: str, kml_dir: str = "") -> list[KmlModel]:
    """All `<Model>` elements of a KML document (parsed safely), with hrefs made relative to
    the archive root; hrefs that climb out of the archive are refused."""
    root = parse_xml_safely(kml)
    models = []
    for elem in root.iter():
        if _local(elem.tag) != "Model":
            continue
        if len(models) >= MAX_MODELS:
            raise SceneError(f"{where}: more than {MAX_MODELS} models; refused")
        link = _child(elem, "Link")
        href_elem = None if link is None else _child(link, "href")
        if href_elem is None or not (href_elem.text or "").strip():
            raise SceneError(f"{where}: a <Model> has no <Link><href> to a COLLADA .dae file")
        href = href_elem.text.strip()
        joined = posixpath.normpath(posixpath.join(kml_dir, href.replace("\\", "/")))
        if href.startswith("/") or "://" in href or joined.startswith("..") or joined.startswith("/"):
            raise SceneError(
                f"{where}: model href '{href}' points outside the archive; only entries inside it are read"
            )
        location = _child(elem, "Location")
        if location is None:
            raise SceneError(f"{where}: model '{href}' has no <Location> (longitude/latitude)")
        lat = _number(location, "latitude", np.nan, where)
        lon = _number(location, "longitude", np.nan, where)
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise SceneError(
                f"{where}: model '{href}' location latitude {lat}, longitude {lon} is missing or out "
                "of range (latitude −90..90, longitude −180..180)"
            )
        orientation = _child(elem, "Orientation")
        scale = _child(elem, "Scale")
        mode_elem = _child(elem, "altitudeMode")
        scale_xyz = tuple(_number(scale, axis, 1.0, where) for axis in ("x", "y", "z"))
        if any(s == 0.0 for s in scale_xyz):
            raise SceneError(f"{where}: model '{href}' has a zero <Scale> component {scale_xyz}")
        models.append(
            KmlModel(
                href=joined,
                lon_deg=lon,
                lat_deg=lat,
                altitude_m=_number(location, "altitude", 0.0, where),
                altitude_mode=_altitude_mode(mode_elem),
                heading_deg=_number(orientation, "heading", 0.0, where),
                tilt_deg=_number(orientation, "tilt", 0.0, where),
                roll_deg=_number(orientation, "roll", 0.0, where),
                scale_xyz=scale_xyz,
                name=elem.get("id") or href,
            )
        )
    return models


def _altitude_mode(elem) -> str:
    """KML altitudeMode text; absent or empty means 'clampToGround'."""
    text = (elem.text or "").strip() if elem is not None else ""
    return text or "clampToGround"


def _rotation_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def _rotation_x(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[1.0, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _rotation_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1.0, 0], [-np.sin(a), 0, np.cos(a)]])


def model_matrix(model: KmlModel, frame: EnuFrame) -> np.ndarray:
    """(4, 4) float64 from the model's own Z-up metric frame (x east, y north at heading 0) to
    the scene's ENU world. KML angles turn clockwise, i.e. negative about each axis; the
    model's local east/north/up at its own location is rotated into the origin's frame."""
    height_m = 0.0 if model.altitude_mode == "clampToGround" else model.altitude_m
    location_ecef = geodetic_to_ecef(model.lat_deg, model.lon_deg, height_m)
    turn = _rotation_z(-model.heading_deg) @ _rotation_x(-model.tilt_deg) @ _rotation_y(-model.roll_deg)
    local_to_origin = frame.rotation @ enu_rotation(model.lat_deg, model.lon_deg).T
    m = np.eye(4)
    m[:3, :3] = local_to_origin @ turn @ np.diag(model.scale_xyz)
    m[:3, 3] = frame.from_ecef(location_ecef)
    return m


def _collada_material(
    material, dae_dir: str, archive: zipfile.ZipFile, loaded: _Loaded, prefix: str
) -> Material:
    """pycollada material → our Material: diffuse colour (linear) or a diffuse texture image
    read from the archive (decoded to sRGB RGBA8)."""
    if material is None:
        return Material(name=f"{prefix}default", albedo=(0.7, 0.7, 0.7))
    effect = getattr(material, "effect", None)
    name = f"{prefix}{getattr(material, 'id', None) or 'material'}"
    diffuse = getattr(effect, "diffuse", None)
    albedo, texture = (0.8, 0.8, 0.8), None
    if isinstance(diffuse, tuple) and len(diffuse) >= 3:
        albedo = tuple(float(np.clip(c, 0.0, 1.0)) for c in diffuse[:3])
    elif diffuse is not None and hasattr(diffuse, "sampler"):
        image = getattr(getattr(getattr(diffuse.sampler, "surface", None), "image", None), "path", None)
        if image:
            entry = posixpath.normpath(posixpath.join(dae_dir, image.replace("\\", "/")))
            if entry.startswith("..") or entry.startswith("/") or "://" in image:
                raise SceneError(f"{prefix}: texture '{image}' points outside the archive; refused")
            texture = f"{prefix}{entry}"
            if entry not in archive.namelist():
                loaded.report.skip("textures", f"'{entry}' not in the archive")
                return Material(name=name, albedo=albedo)
            if texture not in loaded.textures:
                from PIL import Image, UnidentifiedImageError

                data = read_zip_entry(archive, entry, max_bytes=256 << 20)
                try:
                    loaded.textures[texture] = image_to_rgba8(Image.open(io.BytesIO(data)), texture)
                except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
                    raise SceneError(f"{prefix}: texture '{entry}' could not be decoded ({exc})") from exc
            albedo = (1.0, 1.0, 1.0)
    shininess = getattr(effect, "shininess", None)
    roughness = 0.8
    if isinstance(shininess, (int, float)) and shininess > 0:
        roughness = float(np.clip(np.sqrt(2.0 / (float(shininess) + 2.0)), 0.05, 1.0))
    return Material(name=name, albedo=albedo, roughness=roughness, texture=texture)


def _primitive_mesh(prim, to_world: np.ndarray, material: Material) -> Mesh | None:
    """One bound COLLADA triangle set (already in document space) → a Mesh with one vertex per
    triangle corner, placed by `to_world` (4, 4)."""
    if prim.vertex is None or prim.vertex_index is None or len(prim.vertex_index) == 0:
        return None
    corners = np.asarray(prim.vertex, dtype=np.float64)[np.asarray(prim.vertex_index)].reshape(-1, 3)
    positions = corners @ to_world[:3, :3].T + to_world[:3, 3]
    tri = positions.reshape(-1, 3, 3)
    if prim.normal is not None and prim.normal_index is not None:
        normals = np.asarray(prim.normal, dtype=np.float64)[np.asarray(prim.normal_index)].reshape(-1, 3)
        normals = normals @ np.linalg.inv(to_world[:3, :3])  # inverse transpose, row vectors
    else:
        face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals = np.repeat(face, 3, axis=0)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    uvs = np.zeros((len(positions), 2))
    if prim.texcoordset and prim.texcoord_indexset:
        uv_index = np.asarray(prim.texcoord_indexset[0])
        uvs = np.asarray(prim.texcoordset[0], dtype=np.float64)[uv_index].reshape(-1, 2)
        uvs = np.column_stack([uvs[:, 0], 1.0 - uvs[:, 1]])  # COLLADA v points up; we use image rows
    indices = np.arange(len(positions), dtype=np.uint32).reshape(-1, 3)
    if np.linalg.det(to_world[:3, :3]) < 0:
        indices = indices[:, ::-1].copy()
    return Mesh(
        positions=positions.astype(np.float32),
        normals=normals.astype(np.float32),
        uvs=uvs.astype(np.float32),
        indices=indices,
        material=material,
    )


def load_collada_meshes(
    data: bytes,
    dae_entry: str,
    archive: zipfile.ZipFile,
    placement: np.ndarray,
    loaded: _Loaded,
    max_triangles: int,
) -> None:
    """Parse one COLLADA document (bytes checked for DOCTYPE/ENTITY first) and append its
    triangles, placed by `placement` (4, 4) after unit and up-axis conversion, to `loaded`."""
    where = f"{archive.filename}:{dae_entry}"
    check_xml_bytes(data, where)
    collada = _collada()
    dae_dir = posixpath.dirname(dae_entry)

    def aux_loader(name: str) -> bytes:
        entry = posixpath.normpath(posixpath.join(dae_dir, name.replace("\\", "/")))
        if entry.startswith("..") or entry.startswith("/"):
            raise SceneError(f"{where}: reference '{name}' points outside the archive; refused")
        return read_zip_entry(archive, entry)

    try:
        with warnings.catch_warnings():  # pycollada uses numpy.matrix internally
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            dae = collada.Collada(
                io.BytesIO(data),
                aux_file_loader=aux_loader,
                ignore=[collada.common.DaeUnsupportedError, collada.common.DaeBrokenRefError],
            )
            primitives = []
            if dae.scene is not None:
                for geometry in dae.scene.objects("geometry"):
                    primitives.extend(geometry.primitives())
    except SceneError:
        raise
    except Exception as exc:  # pycollada raises many types for malformed documents
        raise SceneError(f"{where}: could not read COLLADA ({type(exc).__name__}: {exc})") from exc
    info = dae.assetInfo
    unit_m = float(getattr(info, "unitmeter", None) or 1.0)
    up = str(getattr(info, "upaxis", None) or "Y_UP")
    if up not in _UP_AXIS_ROTATION:
        raise SceneError(f"{where}: up_axis '{up}' is not one of X_UP, Y_UP, Z_UP")
    to_model = np.eye(4)
    to_model[:3, :3] = _UP_AXIS_ROTATION[up] * unit_m
    to_world = placement @ to_model
    for contributor in getattr(info, "contributors", None) or []:
        text = getattr(contributor, "copyright", None)
        if text and text.strip() and text.strip() not in loaded.copyright:
            loaded.copyright.append(text.strip())
    if dae.scene is None:
        raise SceneError(f"{where}: COLLADA document has no <scene> to place")
    prefix = f"{Path(str(archive.filename)).name}:{dae_entry}:"
    materials: dict[int, Material] = {}
    for prim in primitives:
        if hasattr(prim, "triangleset"):
            prim = prim.triangleset()
        if not hasattr(prim, "vertex_index") or type(prim).__name__ == "BoundLineSet":
            loaded.report.skip("COLLADA primitives", "lines and points are not drawn")
            continue
        key = id(prim.material)
        if key not in materials:
            materials[key] = _collada_material(prim.material, dae_dir, archive, loaded, prefix)
        mesh = _primitive_mesh(prim, to_world, materials[key])
        if mesh is None:
            continue
        loaded.meshes.append(mesh)
        if sum(m.triangle_count for m in loaded.meshes) > max_triangles:
            raise SceneError(
                f"{archive.filename}: more than {max_triangles} triangles (max_triangles); refused"
            )


def _find_kml(archive: zipfile.ZipFile) -> str:
    """The archive's main KML: 'doc.kml' if present, else the first .kml at the shallowest depth."""
    names = archive.namelist()
    if "doc.kml" in names:
        return "doc.kml"
    kmls = sorted((n for n in names if n.lower().endswith(".kml")), key=lambda n: (n.count("/"), n))
    if not kmls:
        raise SceneError(f"{archive.filename}: no .kml document in the archive (expected doc.kml)")
    return kmls[0]


def load_kmz(
    path: str | Path,
    origin_latlon: tuple[float, float] | None = None,
    max_triangles: int = 5_000_000,
) -> Scene:
    """Read a KMZ archive's placed COLLADA models into a Scene (ENU metres, Z up) around
    `origin_latlon` (default: the first model's latitude/longitude, ellipsoid height 0)."""
    path = Path(path)
    loaded = _Loaded(report=LoadReport(source=str(path)))
    with open_zip_safely(path) as archive:
        kml_entry = _find_kml(archive)
        models = parse_kml_models(
            read_zip_entry(archive, kml_entry, max_bytes=64 << 20),
            f"{path}:{kml_entry}",
            posixpath.dirname(kml_entry),
        )
        if not models:
            raise SceneError(f"{path}: {kml_entry} has no <Model> placemarks; nothing to load")
        if origin_latlon is None:
            origin_latlon = (models[0].lat_deg, models[0].lon_deg)
        frame = EnuFrame(float(origin_latlon[0]), float(origin_latlon[1]), 0.0)
        names = set(archive.namelist())
        for model in models:
            if model.href not in names:
                raise SceneError(f"{path}: model '{model.href}' named in {kml_entry} is not in the archive")
            data = read_zip_entry(archive, model.href, max_bytes=512 << 20)
            load_collada_meshes(data, model.href, archive, model_matrix(model, frame), loaded, max_triangles)
    if not loaded.meshes:
        skipped = "; ".join(f"{n} {k} ({r})" for (k, r), n in sorted(loaded.report.skipped.items()))
        raise SceneError(f"{path}: nothing drawable: the models contain no triangles"
                         + (f"; skipped {skipped}" if skipped else ""))
    loaded.report.add("models", len(models))
    if loaded.textures:
        loaded.report.add("textures", len(loaded.textures))
    return Scene(
        meshes=loaded.meshes,
        textures=loaded.textures,
        origin_latlon=(float(origin_latlon[0]), float(origin_latlon[1])),
        bounds_m=scene_bounds(loaded.meshes),
        copyright=loaded.copyright,
        style="kmz",
        report=loaded.report,
        stats={
            "source": str(path),
            "models": len(models),
            "triangles": sum(m.triangle_count for m in loaded.meshes),
        },
    )
