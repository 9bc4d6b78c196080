"""Captures whose camera misbehaves: a phone's sideways-stored portrait video and EXIF-rotated
photos come out upright, a lens with radial distortion is estimated and undistorted before
training, and a camera that only turns in place is rejected as pure rotation."""

import math

import numpy as np
import pytest
from PIL import Image

from citywalk.capture.frames import FrameOptions, select_frames
from citywalk.capture.intake import probe_capture_video, probe_image
from citywalk.capture.poses import SfmOptions, pose_errors, rotation_only, run_sfm
from citywalk.capture.process import ProcessOptions, run_capture
from citywalk.pipeline import render_synthetic_walk
from citywalk.tracks import read_camera_track

SIZE = (320, 180)


def _intrinsics(w, h, fov_deg):
    f = w / 2 / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])


def _bilinear(src: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = src.shape[:2]
    x, y = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    s = src.astype(np.float64)
    out = (s[y0, x0] * (1 - fx) * (1 - fy) + s[y0, x0 + 1] * fx * (1 - fy)
           + s[y0 + 1, x0] * (1 - fx) * fy + s[y0 + 1, x0 + 1] * fx * fy)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def panning_walk(n_frames: int, fps: int = 24, every: int = 12, yaw_deg: float = 30.0) -> dict:
    """A camera section that walks the default street route while panning left and right (a pure
    forward walk cannot tell radial distortion from depth)."""
    from citywalk.pipeline import prepare
    from citywalk.shot import Shot

    walk = Shot.from_dict({"scene": {"source": "procedural", "style": "tokyo", "seed": 7},
                           "output": {"duration_s": n_frames / fps, "fps": fps, "size": list(SIZE)}})
    frames = prepare(walk).frames
    keys = []
    for k, i in enumerate(list(range(0, n_frames, every)) + [n_frames - 1]):
        fr = frames[i]
        fwd = fr.forward * [1, 1, 0]
        yaw = math.radians(yaw_deg if k % 2 else -yaw_deg)
        look = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]]) @ fwd
        keys.append({"t_s": fr.time_s, "position": fr.position.tolist(),
                     "look_at": (fr.position + 6 * look / np.linalg.norm(look)).tolist(), "fov_deg": 75})
    return {"rig": "keyframes", "keyframes": keys}


def test_portrait_phone_video_is_turned_upright(tmp_path):
    import av

    rng = np.random.default_rng(0)
    upright = (rng.uniform(0, 255, (8, 4, 3)).repeat(8, 0).repeat(8, 1)).astype(np.uint8)  # 64×32 portrait
    stored = np.rot90(upright, k=1)  # the sensor's landscape frame
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=8, options={"crf": "0"})
        s.width, s.height, s.pix_fmt = stored.shape[1], stored.shape[0], "yuv444p"
        s.set_display_rotation(-90)  # "turn clockwise to show", as phones write it
        for _ in range(4):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="rgb24")))
        c.mux(s.encode())
    info = probe_capture_video(path)
    assert (info["width"], info["height"], info["rotation_deg"]) == (32, 64, 270)
    sel = select_frames(path, tmp_path / "frames", FrameOptions(target_fps=8, duplicate_diff=0))
    got = np.asarray(Image.open(sel.kept_paths()[0]))
    assert got.shape == upright.shape
    assert np.abs(got.astype(int) - upright).mean() < 4


def test_exif_rotated_photo_is_read_upright(tmp_path):
    rng = np.random.default_rng(1)
    upright = rng.uniform(0, 255, (5, 3, 3)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1)))  # stored sideways
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    folder = tmp_path / "photos"
    folder.mkdir()
    img.save(folder / "IMG_0001.jpg", exif=exif, quality=100, subsampling=0)
    assert (probe_image(folder / "IMG_0001.jpg")["width"], probe_image(folder / "IMG_0001.jpg")["height"]) == (24, 40)
    sel = select_frames(folder, tmp_path / "frames", FrameOptions())
    got = np.asarray(Image.open(sel.kept_paths()[0]))
    assert got.shape == upright.shape and np.abs(got.astype(int) - upright).mean() < 12


@pytest.mark.xfail(reason="since the new materials (issue #15) SfM on the synthetic k1 = 0.2 walk keeps the pinhole "
                          "model or bends the path (streets 3, 7 and 11 tried): a known regression, not fixed yet; "
                          "not run (it fails after 90 s of SfM): run it with --runxfail",
                   run=False)
def test_radial_lens_distortion_is_estimated_and_undistorted(tmp_path):
    """A synthetic walk seen through a lens with k1 = 0.2 (COLMAP SIMPLE_RADIAL, an action-camera
    amount): models grown with the lens free beat the pinhole ones, k1 is recovered, the frames are
    resampled to pinhole images, and the poses match the known cameras."""
    import av

    k1 = 0.2
    camera = panning_walk(96, every=24, yaw_deg=20)
    video, track_path = render_synthetic_walk(tmp_path, frames=96, size_px=SIZE, camera=camera,
                                             seed=3)
    track = read_camera_track(track_path)["frames"]
    K = np.asarray(track[0]["K"], np.float64)
    f, cx, cy = K[0, 0], K[0, 2], K[1, 2]
    v, u = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(np.float64)
    xd, yd = (u - cx) / f, (v - cy) / f
    xu, yu = xd.copy(), yd.copy()
    for _ in range(20):  # invert x_d = x_u (1 + k1 r_u²)
        scale = 1 + k1 * (xu * xu + yu * yu)
        xu, yu = xd / scale, yd / scale
    folder = tmp_path / "lens"
    folder.mkdir()
    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i % 3 == 0:
                Image.fromarray(_bilinear(frame.to_ndarray(format="rgb24"), f * xu + cx, f * yu + cy)).save(
                    folder / f"frame_{i:06d}.png")
    names = sorted(p.name for p in folder.iterdir())
    radial = run_sfm(folder, tmp_path / "sfm", names, is_video=True, opts=SfmOptions(focal_px=f))
    assert radial.info["camera_model"] == "SIMPLE_RADIAL"
    assert radial.info["lens"] == "lens distortion estimated"
    assert radial.info["camera_params"][3] == pytest.approx(k1, abs=0.04)
    assert radial.info.get("undistorted") and radial.info["distortion_corner_px"] > 5
    assert len(radial.names) >= 0.9 * len(names)
    with Image.open(f"{radial.image_dir}/{radial.names[0]}") as im:
        assert im.size == radial.size_px
    assert np.allclose(radial.K[0][[0, 1], [0, 1]], radial.K[0][0, 0])  # pinhole now
    idx = [int(n[6:12]) for n in radial.names]
    err = pose_errors(radial, np.array([track[i]["R_w2c"] for i in idx]), np.array([track[i]["t_w2c"] for i in idx]))
    assert err["rotation_median_deg"] < 1.0, (err, radial.info)
    assert err["position_median_m"] < 0.03 * err["path_length_m"], (err, radial.info)
    assert not rotation_only(radial.info)  # it pans a lot, but its widest pairs have parallax


def test_a_camera_turning_in_place_is_rejected_as_pure_rotation(tmp_path):
    from citywalk.pipeline import render_still
    from citywalk.shot import Shot

    shot = Shot.from_dict({"scene": {"source": "procedural", "style": "tokyo", "seed": 7},
                           "camera": {"fov_deg": 110}, "look": {"when": "noon"},
                           "output": {"size": [960, 540], "samples": 1}})
    wide = render_still(shot, 1.0)
    k_src, k_out = _intrinsics(960, 540, 110), _intrinsics(*SIZE, 60)
    v, u = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(k_out).T
    folder = tmp_path / "pan"
    folder.mkdir()
    for i, yaw in enumerate(np.radians(np.linspace(-18, 18, 20))):
        rot = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
        p = rays @ rot.T @ k_src.T
        Image.fromarray(_bilinear(wide, p[..., 0] / p[..., 2], p[..., 1] / p[..., 2])).save(folder / f"IMG_{i:03d}.png")
    run = run_capture(folder, tmp_path / "work", ProcessOptions())
    assert run.report["verdict"] == "rejected" and run.train is None
    assert any("rotated in place" in r for r in run.report["reasons"]), run.report["reasons"]
