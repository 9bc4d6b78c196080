"""Weather in rendered frames, by measurable properties (linear exposed radiance where it matters)."""

import numpy as np
import pytest

from citywalk.camera.track import CameraFrame, intrinsics, look_at
from citywalk.look.lighting import resolve_lighting
from citywalk.look.weather import known_weather_names
from citywalk.render.renderer import Renderer
from citywalk.scene import Material, Scene
from citywalk.shot import LookSpec
from citywalk.sources.geometry import MeshBuilder

SIZE = (160, 90)


def _scene(black_box_at_m: float | None = None, wall: bool = False) -> Scene:
    b = MeshBuilder()
    b.quad(Material("ground", (0.3, 0.3, 0.3), 0.9), (-3000, -3000, 0), (6000, 0, 0), (0, 6000, 0))
    if black_box_at_m is not None:
        b.box(Material("black", (0.0, 0.0, 0.0), 1.0), (black_box_at_m, 0, 0), (2.0, 30.0, 30.0))
    if wall:
        b.box(Material("wall", (0.4, 0.4, 0.4), 0.9), (12, 0, 0), (1.0, 12.0, 8.0))
    return Scene(meshes=b.build(), bounds_m=((-60, -60, 0), (60, 60, 10)))


def _frame(eye, target, t_s=0.0):
    R, t = look_at(np.asarray(eye, float), np.asarray(target, float))
    return CameraFrame(0, t_s, R, t, intrinsics(75.0, SIZE), SIZE)


def _render(scene, frame, when="noon", weather="clear", **kw):
    r = Renderer(scene, resolve_lighting(LookSpec(when=when, weather=weather)), SIZE, samples=1, **kw)
    try:
        out = r.render(frame, want_depth=True, linear=True)
        assert r.ctx.error == "GL_NO_ERROR"
        return out, r.exposure
    finally:
        r.close()


def test_black_object_at_the_visibility_distance_keeps_two_percent_contrast():
    V = 120.0
    weather = {"preset": "fog", "fog_visibility_m": V, "fog_height_falloff_per_m": 0.0, "haze_turbidity": 2.0}
    scene = _scene(black_box_at_m=V + 1.0)  # its near face is V metres from the eye
    out, _ = _render(scene, _frame([0, 0, 1.6], [100, 0, 1.6]), weather=weather)
    lin = out["linear"].mean(-1)
    cy, cx = SIZE[1] // 2, SIZE[0] // 2
    box = lin[cy - 6:cy - 2, cx - 2:cx + 2].mean()
    sky = lin[2:6, cx - 2:cx + 2].mean()  # above the box: sky, faded into the fog colour
    contrast = (sky - box) / sky
    assert contrast == pytest.approx(0.02, abs=0.01)


def test_fog_transmittance_follows_depth():
    """Each pixel is mixed toward the fog colour by exp(-sigma d) of its own depth."""
    scene = _scene(wall=True)
    frame = _frame([0, 0, 1.6], [100, 0, 0])
    V = 40.0
    clear, _ = _render(scene, frame, auto_exposure=False)
    fog, _ = _render(scene, frame, weather={"preset": "clear", "fog_visibility_m": V, "fog_height_falloff_per_m": 0.0},
                     auto_exposure=False)
    d = clear["depth"]
    c, f = clear["linear"].mean(-1), fog["linear"].mean(-1)
    F = f[~np.isfinite(d)].mean()  # the sky is fully fogged
    use = np.isfinite(d) & (np.abs(c - F) > 0.3 * F)
    t_est = (f[use] - F) / (c[use] - F)
    t_model = np.exp(-3.912 / V * d[use])
    assert use.sum() > 500
    assert np.median(np.abs(t_est - t_model)) < 0.03


def test_wet_ground_raises_specular_highlights():
    scene = _scene()
    L = resolve_lighting(LookSpec(when="golden_hour"))
    sun_flat = np.array([L.sun_dir[0], L.sun_dir[1], 0.0])
    sun_flat /= np.linalg.norm(sun_flat)
    frame = _frame([0, 0, 1.6], sun_flat * 30 + [0, 0, 0.0])  # looking down toward the low sun
    dry, e_dry = _render(scene, frame, when="golden_hour", auto_exposure=False)
    wet, e_wet = _render(
        scene,
        frame,
        when="golden_hour",
        weather={"preset": "clear", "wetness": 1.0, "puddle_coverage": 0.0},
        auto_exposure=False,
    )
    ground = np.isfinite(dry["depth"])
    lum = lambda o: o["linear"].mean(-1)[ground]  # noqa: E731
    assert np.percentile(lum(wet), 99) > 1.5 * np.percentile(lum(dry), 99)


def _streak_coverage(rate_mmph: float) -> float:
    scene = _scene()
    frame = _frame([0, 0, 1.6], [30, 0, 1.0])
    weather = {"preset": "clear", "precipitation_mmph": rate_mmph, "wetness": 0.0, "cloud_cover": 0.5}
    base, _ = _render(scene, frame, when="noon", weather={**weather, "precipitation_mmph": 0.0}, auto_exposure=False)
    rain, _ = _render(scene, frame, when="noon", weather=weather, auto_exposure=False)
    return float((np.abs(rain["linear"] - base["linear"]).max(-1) > 1e-3).mean())


def test_rain_streak_coverage_grows_with_rate():
    cover = [_streak_coverage(r) for r in (1.0, 5.0, 25.0)]
    assert 0 < cover[0] < cover[1] < cover[2]


def test_snow_cover_whitens_up_facing_surfaces_not_walls():
    scene = _scene(wall=True)
    frame = _frame([0, 0, 1.6], [12, 0, 2.0])
    dry, _ = _render(scene, frame, when="noon", weather="cloudy", auto_exposure=False)
    snow, _ = _render(scene, frame, when="noon", weather={"preset": "cloudy", "snow_cover": 1.0}, auto_exposure=False)
    d = dry["depth"]
    h, w = d.shape
    ground = np.zeros_like(d, bool)
    ground[int(h * 0.85):, :] = True
    wall = np.zeros_like(d, bool)
    wall[int(h * 0.35):int(h * 0.45), int(w * 0.45):int(w * 0.55)] = True
    lum = lambda o, m: o["linear"].mean(-1)[m].mean()  # noqa: E731
    assert lum(snow, ground) > 1.8 * lum(dry, ground)
    assert lum(snow, wall) == pytest.approx(lum(dry, wall), rel=0.1)


@pytest.mark.parametrize("name", known_weather_names())
def test_every_preset_renders(name):
    scene = _scene(wall=True)
    out, _ = _render(scene, _frame([0, 0, 1.6], [12, 0, 2.0]), when="dusk", weather=name)
    assert out["rgb"].shape == (SIZE[1], SIZE[0], 3) and out["rgb"].std() > 1


def test_night_is_darker_but_lamps_keep_their_pools_bright():
    from citywalk.pipeline import prepare
    from citywalk.shot import Shot

    shot = Shot.from_dict({"output": {"size": list(SIZE), "duration_s": 0.5, "samples": 1}})
    means, bright = {}, {}
    for when in ("noon", "night"):
        s = shot.updated({"look": {"when": when}})
        p = prepare(s)
        scene, lighting, route, frames = p.scene, p.lighting, p.route, p.frames
        r = Renderer(scene, lighting, SIZE, 1, focus_points=route)
        img = r.render(frames[0])["rgb"].astype(float).mean(-1)
        r.close()
        means[when], bright[when] = img.mean(), np.percentile(img, 99)
    assert means["night"] < 0.7 * means["noon"]
    assert bright["night"] > 150, "lamp-lit and glowing pixels stay bright at night"


def test_keyframed_weather_changes_across_frames(tmp_path):
    from citywalk.pipeline import render_shot
    from citywalk.shot import Shot
    from citywalk.video.sheet import video_frames_at

    keys = [
        {"t_s": 0.0, "weather": "clear"},
        {"t_s": 1.0, "weather": {"preset": "hard_rain", "fog_visibility_m": 200000}},
    ]
    shot = Shot.from_dict({"look": {"when": "noon", "weather": keys},
                           "output": {"size": [96, 54], "duration_s": 1.0, "fps": 12, "samples": 1}})
    res = render_shot(shot, tmp_path / "storm.mp4")
    first, last = video_frames_at(res.video, 2)
    from citywalk.look.lighting import weather_timeline

    tl = weather_timeline(shot.look)
    assert tl.at(0.0).precipitation_mmph == 0 and tl.at(1.0).precipitation_mmph > 10
    assert np.abs(first.astype(float) - last).mean() > 3, "the storm shows in the last frame"


def test_look_sheet_command_tiles_times_by_weathers(tmp_path, capsys):
    from PIL import Image

    from citywalk.cli import main

    out = tmp_path / "sheet.png"
    code = main(["look-sheet", "--times", "noon,night", "--weathers", "clear,fog,heavy_snow", "--cell", "64x36",
                 "--samples", "1", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    img = np.asarray(Image.open(out))
    assert img.shape[:2] == (72, 192)
    cells = img.reshape(2, 36, 3, 64, 3).mean(axis=(1, 3, 4))
    assert cells[0].mean() > cells[1].mean() + 20, "the noon row is brighter than the night row"
    # each weather looks different: every pair of noon cells differs pixel by pixel (their mean
    # brightness alone can coincide: fog and snow both brighten a street)
    noon = img.reshape(2, 36, 3, 64, 3)[0].transpose(1, 0, 2, 3).astype(float)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(noon[i] - noon[j]).mean() > 8, ("each weather looks different", i, j)
