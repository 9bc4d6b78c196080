"""Camera poses for a capture: pycolmap SfM on the CPU (SIFT, sequential matching for video,
exhaustive for small sets, incremental mapping), or imported from a COLMAP model or a nerfstudio
`transforms.json`. Also the Umeyama similarity used to compare poses with known cameras.

Poses are OpenCV world→camera (x_cam = R x_world + t) in the reconstruction's own arbitrary frame."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citywalk.capture import CaptureError
from citywalk.errors import MissingExtra

MIN_IMAGES = 3


@dataclass
class Poses:
    """Registered cameras and sparse points. names (M,) image file names; R_w2c (M, 3, 3);
    t_w2c (M, 3); K (M, 3, 3) px; size_px (w, h); points_xyz (P, 3) float32; points_rgb (P, 3)
    uint8; frames_total counts the images given to SfM (registered or not)."""

    names: list[str]
    R_w2c: np.ndarray
    t_w2c: np.ndarray
    K: np.ndarray
    size_px: tuple[int, int]
    points_xyz: np.ndarray
    points_rgb: np.ndarray
    frames_total: int
    mean_reproj_error_px: float = float("nan")
    info: dict = field(default_factory=dict)
    image_dir: str | None = None  # where the images these cameras fit live, when not the frames folder

    @property
    def centres(self) -> np.ndarray:
        """Camera centres (M, 3): −Rᵀ t."""
        return -np.einsum("mji,mj->mi", self.R_w2c, self.t_w2c)

    def c2w(self) -> np.ndarray:
        """Camera-to-world matrices (M, 4, 4), OpenCV axes."""
        m = np.tile(np.eye(4), (len(self.names), 1, 1))
        m[:, :3, :3] = np.transpose(self.R_w2c, (0, 2, 1))
        m[:, :3, 3] = self.centres
        return m

    def summary(self) -> dict:
        """Figures for the QA report."""
        return {"registered": len(self.names), "frames_total": self.frames_total,
                "registered_share": len(self.names) / max(1, self.frames_total),
                "points": int(len(self.points_xyz)),
                "mean_reproj_error_px": float(self.mean_reproj_error_px), **self.info}

    def transformed(self, m: np.ndarray) -> "Poses":
        """The same cameras and points after a (4, 4) similarity x' = s R x + t of the world."""
        m = np.asarray(m, np.float64)
        s = np.cbrt(np.linalg.det(m[:3, :3]))
        rot = m[:3, :3] / s
        r_new = self.R_w2c @ rot.T
        c_new = self.centres @ m[:3, :3].T + m[:3, 3]
        t_new = -np.einsum("mij,mj->mi", r_new, c_new)
        pts = (self.points_xyz.astype(np.float64) @ m[:3, :3].T + m[:3, 3]).astype(np.float32)
        return Poses(list(self.names), r_new, t_new, self.K.copy(), self.size_px, pts, self.points_rgb.copy(),
                     self.frames_total, self.mean_reproj_error_px, dict(self.info), self.image_dir)


@dataclass
class SfmOptions:
    """SfM settings. matching: 'auto' (sequential for video — only frames close in time are
    matched, so repeated facades far apart cannot fold the path; exhaustive for photo sets up to
    exhaustive_max_images), 'sequential' or 'exhaustive'; focal_px: a known focal length (pixels of
    the kept frames), else focal_factor × the longer side is the starting guess. camera_model: a
    COLMAP model; the radial ones estimate lens distortion, and frames are then undistorted to
    pinhole images for training when it moves a corner by more than undistort_min_px. The
    attempts hold distortion at zero while mapping; if the whole model then shows more than
    lens_evidence_px, lens_attempts more refine it as they map and compete with the pinhole
    models."""

    matching: str = "auto"
    exhaustive_max_images: int = 200
    overlap: int = 10
    focal_px: float | None = None
    focal_factor: float = 1.0
    max_features: int = 4000
    peak_threshold: float = 0.003
    num_threads: int = 2
    seed: int = 0
    deterministic: bool = True  # one thread throughout and seeded RANSAC: the same frames give the same model
    attempts: int = 3  # incremental mapping runs (seeds seed, seed+1, …); the best model wins
    lens_attempts: int = 2  # more runs with the lens distortion refined while mapping, when called for
    camera_model: str = "SIMPLE_RADIAL"
    undistort_min_px: float = 0.3
    lens_evidence_px: float = 1.0  # distortion (corner shift) that calls for models grown with it refined

    def check(self) -> "SfmOptions":
        if self.camera_model not in CAMERA_MODELS:
            raise CaptureError(f"SfM camera_model={self.camera_model!r}: expected one of {', '.join(CAMERA_MODELS)}")
        return self


# COLMAP camera models we accept → their starting parameters from (focal, cx, cy)
CAMERA_MODELS = {
    "SIMPLE_PINHOLE": lambda f, cx, cy: [f, cx, cy],
    "PINHOLE": lambda f, cx, cy: [f, f, cx, cy],
    "SIMPLE_RADIAL": lambda f, cx, cy: [f, cx, cy, 0.0],
    "RADIAL": lambda f, cx, cy: [f, cx, cy, 0.0, 0.0],
    "OPENCV": lambda f, cx, cy: [f, f, cx, cy, 0.0, 0.0, 0.0, 0.0],
}


def _import_pycolmap():
    try:
        import pycolmap
    except ImportError:
        raise MissingExtra("pycolmap", "capture", "camera poses from a capture (SfM)") from None
    return pycolmap


def _extract_and_match(pycolmap, opts: SfmOptions, image_dir: Path, names: list[str], db_path: Path,
                       is_video: bool, threads: int) -> str:
    """SIFT features of `names` into the database at `db_path`, then matching (sequential for
    video, exhaustive for small photo sets) with verified two-view geometry; the mode used."""
    from PIL import Image

    with Image.open(image_dir / names[0]) as im:
        w, h = im.size
    focal = opts.focal_px or opts.focal_factor * max(w, h)
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = opts.camera_model
    reader.camera_params = ",".join(str(x) for x in CAMERA_MODELS[opts.camera_model](focal, w / 2, h / 2))
    extract = pycolmap.FeatureExtractionOptions()
    extract.use_gpu, extract.num_threads = False, threads
    extract.sift.max_num_features = opts.max_features
    extract.sift.peak_threshold = opts.peak_threshold
    device = pycolmap.Device.cpu
    pycolmap.extract_features(db_path, image_dir, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                              reader_options=reader, extraction_options=extract, device=device)
    matching = pycolmap.FeatureMatchingOptions()
    matching.use_gpu, matching.num_threads = False, threads
    verification = pycolmap.TwoViewGeometryOptions()
    if opts.deterministic:
        verification.ransac.random_seed = opts.seed
    mode = opts.matching
    if mode == "auto":
        mode = "exhaustive" if (not is_video and len(names) <= opts.exhaustive_max_images) else "sequential"
    if mode == "sequential":
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap, pairing.loop_detection = opts.overlap, False
        pycolmap.match_sequential(db_path, matching_options=matching, pairing_options=pairing,
                                  verification_options=verification, device=device)
    elif mode == "exhaustive":
        pycolmap.match_exhaustive(db_path, matching_options=matching, verification_options=verification,
                                  device=device)
    else:
        raise CaptureError(f"SfM matching={opts.matching!r}: expected 'auto', 'sequential' or 'exhaustive'")
    return mode


def _choose_lens(pycolmap, found: list, db_path: Path, image_dir: Path, work: Path, mapping, opts: SfmOptions,
                 lens: bool, n: int):
    """(best model, models grown, lens note): the best pinhole-grown model, or, when adjusting
    it with the lens free moves the far corner by more than lens_evidence_px, the best of it and
    models grown with the lens free."""
    best = _best(found)
    models, lens_note = len(found), "pinhole model"
    if lens:
        probe = pycolmap.Reconstruction(best)
        _refine_lens(pycolmap, probe, opts)
        if abs(corner_shift_px(_camera(probe))) <= opts.lens_evidence_px:
            best, lens_note = probe, "little distortion"
        else:
            more = _map_attempts(pycolmap, db_path, image_dir, work, mapping, range(n, n + opts.lens_attempts),
                                 refine_lens=True, seed=opts.seed)
            models += len(more)
            winner = _best([best, *more])
            if winner is not best:  # a model grown with the lens free fits better than every pinhole one
                best, lens_note = winner, "lens distortion estimated"
            else:
                lens_note = (f"pinhole model kept: models with the lens free fit worse (the whole-model "
                             f"adjustment suggested {corner_shift_px(_camera(probe)):.1f} px at the corner)")
    return best, models, lens_note


def run_sfm(image_dir: str | Path, work_dir: str | Path, names: list[str] | None = None,
            is_video: bool = True, opts: SfmOptions | None = None) -> Poses:
    """Structure from motion on the images of `image_dir` (all, or `names`) → the largest
    reconstruction as Poses. CaptureError with the likely cause when nothing registers."""
    pycolmap = _import_pycolmap()
    opts = (opts or SfmOptions()).check()
    image_dir, work = Path(image_dir), Path(work_dir)
    names = sorted(names if names is not None else [p.name for p in image_dir.iterdir() if p.is_file()])
    if len(names) < MIN_IMAGES:
        raise CaptureError(f"camera poses: only {len(names)} frame(s) to register; SfM needs at least "
                           f"{MIN_IMAGES} overlapping frames (film longer, moving slowly)")
    if work.exists():
        shutil.rmtree(work)
    (work / "sparse").mkdir(parents=True)
    db_path = work / "database.db"
    threads = 1 if opts.deterministic else opts.num_threads  # with more, matches vary from run to run
    mode = _extract_and_match(pycolmap, opts, image_dir, names, db_path, is_video, threads)
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.num_threads = threads
    mapping.ba_refine_focal_length = opts.focal_px is None
    lens = opts.camera_model not in ("SIMPLE_PINHOLE", "PINHOLE")
    mapping.min_model_size = MIN_IMAGES
    mapper = mapping.mapper
    # walking footage moves forward: allow forward motion and small angles for the first pair
    mapper.init_min_tri_angle, mapper.init_max_forward_motion = 4.0, 0.999
    mapper.init_min_num_inliers, mapper.abs_pose_min_num_inliers = 50, 15
    # Forward walking is near-degenerate: a poor initial pair sometimes bends the path. Such models
    # show a higher reprojection error, so map a few times and keep the model that registers the
    # most frames with the lowest mean reprojection error.
    # Lens distortion is held at zero while those models grow: a forward walk cannot tell it from
    # depth, and a free guess bends such paths. A copy of the best model is then adjusted with it
    # free; if that suggests a distorting lens, more models are grown with it free and compete with
    # the pinhole ones on the same terms (frames registered, then reprojection error).
    n = max(1, opts.attempts)
    found = _map_attempts(pycolmap, db_path, image_dir, work, mapping, range(n), refine_lens=False, seed=opts.seed)
    stats = pair_stats(pycolmap, db_path)
    if not found:
        raise CaptureError(_diagnose(stats, len(names)))
    best, models, lens_note = _choose_lens(pycolmap, found, db_path, image_dir, work, mapping, opts, lens, n)
    (work / "model").mkdir()
    best.write(str(work / "model"))  # the chosen model, for read_colmap_model
    poses = poses_from_reconstruction(best, len(names))
    cam = _camera(best)
    shift_px = distortion_shift_px(cam)
    poses.info.update(camera_model=opts.camera_model, camera_params=[float(x) for x in cam.params],
                      distortion_corner_px=shift_px, lens=lens_note)
    if shift_px > opts.undistort_min_px:
        poses = undistort(pycolmap, work, image_dir, poses)
    poses.info["matching"] = mode
    poses.info["models"] = models
    poses.info.update(verified_pairs=stats["verified_pairs"], rotation_only_share=stats["rotation_only_share"])
    return poses


def _map_attempts(pycolmap, db_path: Path, image_dir: Path, work: Path, mapping, attempts, refine_lens: bool,
                  seed: int) -> list:
    """Incremental mapping once per attempt number (seeded seed + attempt) → every model found."""
    found = []
    for attempt in attempts:
        mapping.random_seed = seed + attempt
        mapping.ba_refine_extra_params = refine_lens
        out = work / "sparse" / f"try{attempt}"
        out.mkdir()
        found.extend(pycolmap.incremental_mapping(db_path, image_dir, out, options=mapping).values())
    return found


def _best(models: list):
    """The model that registers the most frames, then with the lowest mean reprojection error."""
    return max(models, key=lambda rec: (rec.num_reg_images(), -rec.compute_mean_reprojection_error()))


def _refine_lens(pycolmap, rec, opts: SfmOptions) -> None:
    """Bundle-adjust the whole model with the lens distortion free (focal too when unknown)."""
    ba = pycolmap.BundleAdjustmentOptions()
    ba.refine_focal_length, ba.refine_extra_params = opts.focal_px is None, True
    ba.refine_principal_point = False
    pycolmap.bundle_adjustment(rec, ba)


def _camera(rec):
    return next(iter(rec.cameras.values()))


def _distortion_px(cam, pixels: np.ndarray) -> np.ndarray:
    """(N, 2) image points minus where a pinhole with the same intrinsics would put their rays."""
    k = np.asarray(cam.calibration_matrix(), np.float64)
    rays = np.asarray(cam.cam_from_img(pixels), np.float64)
    return pixels - (rays @ k[:2, :2].T + k[:2, 2])


def corner_shift_px(cam) -> float:
    """Signed shift (px) of the far image corner by the lens distortion: + outward (pincushion)."""
    corner = np.array([[float(cam.width), float(cam.height)]])
    radial = corner[0] - np.asarray(cam.calibration_matrix(), np.float64)[:2, 2]
    return float(_distortion_px(cam, corner)[0] @ radial / np.linalg.norm(radial))


def distortion_shift_px(cam) -> float:
    """How far (px) the lens distortion of a pycolmap camera moves the image corners."""
    w, h = float(cam.width), float(cam.height)
    corners = np.array([[0.0, 0.0], [w, 0.0], [0.0, h], [w, h], [w / 2, 0.0], [0.0, h / 2]])
    return float(np.abs(_distortion_px(cam, corners)).max())


def undistort(pycolmap, work: Path, image_dir: Path, poses: Poses) -> Poses:
    """Resample the registered frames to pinhole images (COLMAP's undistorter, cropped to valid
    pixels) → the same cameras with pinhole intrinsics and image_dir pointing at the new images."""
    out = work / "undistorted"
    pycolmap.undistort_images(out, work / "model", image_dir, image_names=list(poses.names))
    rec = pycolmap.Reconstruction(str(out / "sparse"))
    fixed = poses_from_reconstruction(rec, poses.frames_total)
    fixed.info = {**poses.info, "undistorted": True}
    fixed.image_dir = str(out / "images")
    return fixed


ROTATION_ONLY = ("PANORAMIC", "PLANAR_OR_PANORAMIC")


def pair_stats(pycolmap, db_path: Path) -> dict:
    """Verified frame pairs in the SfM database: how many, the share of the widest pairs whose best
    two-view model is a homography of a turning camera (pure rotation, no depth), and the feature
    count."""
    db = pycolmap.Database.open(str(db_path))
    try:
        pair_ids, geoms = db.read_two_view_geometries()
        n_kp = sum(db.num_keypoints_for_image(i.image_id) for i in db.read_all_images())
    finally:
        db.close()
    verified = [(abs(int(a) - int(b)), pycolmap.TwoViewGeometryConfiguration(g.config).name)
                for (a, b), g in zip(map(pycolmap.pair_id_to_image_pair, pair_ids), geoms) if len(g.inlier_matches)]
    # judge by the pairs furthest apart in the sequence: frames close in time of a good walk have
    # too little baseline and fit a homography as well as a turning camera does
    far = max((gap for gap, _ in verified), default=0)
    wide = [name for gap, name in verified if gap >= max(1, far // 2)]
    total = len(verified)
    rot = sum(name in ROTATION_ONLY for name in wide)
    return {"verified_pairs": total, "rotation_only_share": rot / len(wide) if wide else 0.0, "features": n_kp}


def rotation_only(stats: dict) -> bool:
    """Whether nearly all verified pairs fit a turning camera. Frames close in time of a good walk
    can fit one too (small baseline), so this explains a failed registration; it is no test alone."""
    return stats.get("verified_pairs", 0) > 0 and stats.get("rotation_only_share", 0.0) >= 0.8


PURE_ROTATION = ("the camera only rotated in place (pure rotation gives no depth); walk sideways or forward "
                 "while filming")


def _diagnose(stats: dict, n_images: int) -> str:
    """Why SfM found no model: featureless frames, no overlap, pure rotation, or too few matches."""
    base = f"camera poses: no reconstruction from {n_images} frames: "
    if stats["features"] < 50 * n_images:
        return base + (f"only {stats['features']} features in all frames — the images are featureless (blank "
                       "wall, sky, darkness); film textured surroundings")
    if stats["verified_pairs"] == 0:
        return base + "no pair of frames overlaps (no verified matches); film continuously, moving slowly"
    if rotation_only(stats):
        return base + PURE_ROTATION
    return base + (f"the frames overlap too little ({stats['verified_pairs']} verified pairs); "
                   "film slowly with more overlap")


def poses_from_reconstruction(rec, frames_total: int | None = None) -> Poses:
    """A pycolmap.Reconstruction → Poses (registered images sorted by name)."""
    images = sorted((im for im in rec.images.values() if im.has_pose), key=lambda im: im.name)
    if not images:
        raise CaptureError("camera poses: the reconstruction has no registered image")
    rs, ts, ks = [], [], []
    size = None
    for im in images:
        pose = im.cam_from_world()
        rs.append(pose.rotation.matrix())
        ts.append(np.asarray(pose.translation))
        cam = rec.cameras[im.camera_id]
        ks.append(cam.calibration_matrix())
        size = size or (int(cam.width), int(cam.height))
    pts = list(rec.points3D.values())
    xyz = np.array([p.xyz for p in pts], np.float32).reshape(-1, 3)
    rgb = np.array([p.color for p in pts], np.uint8).reshape(-1, 3)
    err = float(np.mean([p.error for p in pts])) if pts else float("nan")
    return Poses([im.name for im in images], np.array(rs), np.array(ts), np.array(ks), size, xyz, rgb,
                 frames_total or len(rec.images), err)


def read_colmap_model(path: str | Path) -> Poses:
    """Import an existing COLMAP sparse model folder (cameras/images/points3D .bin or .txt)."""
    pycolmap = _import_pycolmap()
    p = Path(path)
    if not p.is_dir() or not any((p / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
        raise CaptureError(f"COLMAP model {p}: expected a folder with cameras/images/points3D .bin or .txt")
    try:
        rec = pycolmap.Reconstruction(str(p))
    except Exception as exc:  # pycolmap raises plain RuntimeError/ValueError on bad files
        raise CaptureError(f"COLMAP model {p}: cannot read ({exc})") from None
    poses = poses_from_reconstruction(rec)
    poses.info["distortion_px"] = max(distortion_shift_px(cam) for cam in rec.cameras.values())
    sizes = {(int(c.width), int(c.height)) for c in rec.cameras.values()}
    if len(sizes) > 1:
        raise CaptureError(f"COLMAP model {p}: cameras of {len(sizes)} image sizes {sorted(sizes)}; "
                           "one image size per capture is accepted")
    return poses


POSE_FILES = ("colmap", "nerfstudio")
MAX_DISTORTION_PX = 1.0
_DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def read_given_poses(spec: str) -> Poses:
    """Cameras a capture already has: `colmap:DIR` (a COLMAP sparse model: cameras, images,
    points3D as .bin or .txt) or `nerfstudio:FILE` (transforms.json) → Poses, info['poses_from']
    naming them. Lens distortion over MAX_DISTORTION_PX is refused (training assumes pinhole)."""
    kind, sep, path = str(spec).partition(":")
    if not sep or kind not in POSE_FILES or not path:
        raise CaptureError(f"--poses {spec!r}: expected colmap:MODEL_FOLDER or nerfstudio:transforms.json")
    if kind == "colmap":
        poses = read_colmap_model(path)
        shift = poses.info.get("distortion_px", 0.0)
    else:
        if not Path(path).is_file():
            raise CaptureError(f"--poses {spec}: no such file {path}")
        poses = read_transforms_json(path)
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        coeffs = [float(d.get(k, 0.0) or 0.0) for d in [doc, *doc.get("frames", [])] if isinstance(d, dict)
                  for k in _DISTORTION_KEYS]
        shift = np.inf if any(abs(c) > 1e-9 for c in coeffs) else 0.0
    if shift > MAX_DISTORTION_PX:
        raise CaptureError(f"--poses {spec}: the cameras have lens distortion (moves image corners by "
                           f"{shift:.1f} px); give an undistorted model (e.g. COLMAP image_undistorter output) "
                           "whose images are the capture's")
    poses.info["poses_from"] = f"{kind}:{Path(path).resolve()}"
    poses.info["cameras_given"] = len(poses.names)
    return poses


def read_transforms_json(path: str | Path, points_xyz: np.ndarray | None = None) -> Poses:
    """Import nerfstudio/instant-ngp `transforms.json` (OpenGL camera axes, c2w per frame; shared or
    per-frame fl_x, fl_y, cx, cy, w, h). Sparse points come from `points_xyz` or `ply_file_path`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        frames = doc["frames"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CaptureError(f"{p}: not a nerfstudio transforms.json ({exc})") from None
    names, rs, ts, ks = [], [], [], []
    size = None
    for i, f in enumerate(frames):
        try:
            get = lambda k: float(f[k] if k in f else doc[k])  # noqa: E731 (per-frame overrides shared)
            w, h = int(get("w")), int(get("h"))
            fx, fy = get("fl_x"), get("fl_y") if ("fl_y" in f or "fl_y" in doc) else get("fl_x")
            cx = get("cx") if ("cx" in f or "cx" in doc) else w / 2
            cy = get("cy") if ("cy" in f or "cy" in doc) else h / 2
            c2w = np.asarray(f["transform_matrix"], np.float64) @ np.diag([1.0, -1.0, -1.0, 1.0])
            names.append(Path(f["file_path"]).name)
        except (KeyError, TypeError, ValueError) as exc:
            raise CaptureError(f"{p} frame {i}: missing or bad field ({exc}); expected file_path, "
                               "transform_matrix (4x4) and intrinsics fl_x, w, h") from None
        if c2w.shape != (4, 4):
            raise CaptureError(f"{p} frame {i}: transform_matrix must be 4x4")
        rs.append(c2w[:3, :3].T)
        ts.append(-c2w[:3, :3].T @ c2w[:3, 3])
        ks.append(np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]))
        size = size or (w, h)
    if not names:
        raise CaptureError(f"{p}: no frames")
    xyz = np.zeros((0, 3), np.float32) if points_xyz is None else np.asarray(points_xyz, np.float32)
    rgb = np.full((len(xyz), 3), 128, np.uint8)
    if points_xyz is None and doc.get("ply_file_path"):
        xyz, rgb = _read_point_ply(p.parent / doc["ply_file_path"])
    return Poses(names, np.array(rs), np.array(ts), np.array(ks), size, xyz, rgb, len(names))


def _read_point_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """x, y, z (+ red, green, blue) of a binary little-endian or ASCII point PLY."""
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if end < 0:
        raise CaptureError(f"{path}: not a PLY file")
    header = data[:end].decode("ascii", "replace").splitlines()
    n = next(int(x.split()[2]) for x in header if x.startswith("element vertex"))
    props = [x.split()[1:] for x in header if x.startswith("property")]
    types = {"float": "<f4", "double": "<f8", "uchar": "u1", "int": "<i4", "float32": "<f4", "uint8": "u1"}
    body = data[end + len("end_header\n"):]
    if n == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8)
    if any("ascii" in x for x in header):
        arr = np.loadtxt(body.decode().splitlines()[:n], ndmin=2)
        rec = {name: arr[:, i] for i, (_, name) in enumerate(props)}
    else:
        dt = np.dtype([(name, types[t]) for t, name in props])
        rec = np.frombuffer(body, dt, count=n)
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], 1).astype(np.float32)
    names = rec.dtype.names if hasattr(rec, "dtype") else tuple(rec)
    rgb = (np.stack([rec["red"], rec["green"], rec["blue"]], 1).astype(np.uint8) if "red" in names
           else np.full((n, 3), 128, np.uint8))
    return xyz, rgb


# -- comparison with known cameras --------------------------------------------------------

def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (s, R (3, 3), t (3,)) with dst ≈ s R src + t, for (N, 3) point sets."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if len(src) < 3 or src.shape != dst.shape:
        raise CaptureError(f"umeyama: need ≥ 3 matching points, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    rot = u @ sign @ vt
    var = (a ** 2).sum() / len(src)
    s = float(np.trace(np.diag(d) @ sign) / var) if with_scale and var > 0 else 1.0
    return s, rot, mu_d - s * rot @ mu_s


def similarity_matrix(s: float, rot: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(4, 4) matrix of x → s R x + t."""
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = s * rot, t
    return m


def pose_errors(est: Poses, true_R_w2c: np.ndarray, true_t_w2c: np.ndarray) -> dict:
    """Compare estimated cameras with known ones (same order, same count) after a Umeyama similarity
    on the centres → {'position_rmse_m', 'position_median_m', 'rotation_median_deg',
    'rotation_max_deg', 'scale', 'path_length_m'}; positions in the known cameras' units."""
    true_R, true_t = np.asarray(true_R_w2c, np.float64), np.asarray(true_t_w2c, np.float64)
    true_c = -np.einsum("mji,mj->mi", true_R, true_t)
    s, rot, t = umeyama(est.centres, true_c)
    aligned = est.transformed(similarity_matrix(s, rot, t))
    d = np.linalg.norm(aligned.centres - true_c, axis=1)
    # Rotation error after the best global rotation of the orientations: the centres of a straight
    # walk are nearly collinear, so their similarity leaves the roll about the walk axis undefined.
    u, _, vt = np.linalg.svd(np.einsum("mji,mjk->ik", true_R, est.R_w2c))  # Σ R_trueᵀ R_est
    g = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    rel = np.einsum("mij,kj,mlk->mil", est.R_w2c, g, true_R)  # R_est gᵀ R_trueᵀ
    ang = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    return {"position_rmse_m": float(np.sqrt((d ** 2).mean())), "position_median_m": float(np.median(d)),
            "rotation_median_deg": float(np.median(ang)), "rotation_max_deg": float(ang.max()),
            "scale": s, "path_length_m": float(np.linalg.norm(np.diff(true_c, axis=0), axis=1).sum())}
