"""Cheaper frames. Drawing below the output size (output.render_scale): the frame comes out at
the output size, close to the native one, grained at the output's own pixels, deterministic; bad
scales refused. Culling: cells out of view are skipped, the pixels unchanged. A NaN pixel from
any pass stays one pixel (the glow does not spread it)."""

import types

import numpy as np
import pytest

from citywalk import pipeline
from citywalk.errors import RenderError
from citywalk.render.upscale import inner_size_px, nearest_resize
from citywalk.shot import Shot

SIZE = [320, 180]


@pytest.fixture(scope="module")
def street():
    shot = Shot.model_validate({"scene": {"source": "procedural", "style": "tokyo", "seed": 3},
                                "look": {"when": "golden_hour"},
                                "output": {"size": SIZE, "duration_s": 0.25, "fps": 24}})
    return shot, pipeline.prepare(shot)


def _frames(shot, p, scale, indices=(0, 3)):
    r = pipeline.open_renderer(shot.updated({"output": {"render_scale": scale}}), p)
    try:
        out = [r.render(p.frames[i], want_depth=True, exposure=1.0, previous=p.frames[i - 1] if i else None)
               for i in indices]
        return out, r.inner_size
    finally:
        r.close()


def test_inner_size_is_even_and_bounded():
    assert inner_size_px((1280, 720), 1.0) == (1280, 720)
    assert inner_size_px((1280, 720), 0.5) == (640, 360)
    w, h = inner_size_px((1280, 720), 0.67)
    assert w % 2 == 0 and h % 2 == 0 and abs(w - 858) <= 2 and abs(h - 482) <= 2
    assert inner_size_px((32, 32), 0.25) == (16, 16)
    with pytest.raises(RenderError, match="render scale"):
        inner_size_px((1280, 720), 0.1)


def test_render_scale_is_validated_in_the_shot():
    with pytest.raises(ValueError, match="render_scale"):
        Shot.model_validate({"output": {"render_scale": 0.1}})
    with pytest.raises(ValueError, match="render_scale"):
        Shot.model_validate({"output": {"render_scale": 1.5}})


def test_nearest_resize_keeps_values():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = nearest_resize(a, (8, 6))
    assert b.shape == (6, 8) and set(np.unique(b)) == set(np.unique(a))
    assert np.array_equal(nearest_resize(a, (4, 3)), a)


def test_half_scale_frame_is_full_size_close_to_native_and_deterministic(street):
    shot, p = street
    native, _ = _frames(shot, p, 1.0)
    half, inner = _frames(shot, p, 0.5)
    again, _ = _frames(shot, p, 0.5)
    assert inner == (160, 90)
    for n, h, a in zip(native, half, again):
        assert h["rgb"].shape == n["rgb"].shape == (SIZE[1], SIZE[0], 3)
        assert h["depth"].shape == n["depth"].shape
        assert np.array_equal(h["rgb"], a["rgb"]), "same Shot, same frame: same pixels"
        err = (h["rgb"].astype(float) - n["rgb"]) ** 2
        psnr = 10 * np.log10(255.0**2 / err.mean())
        assert psnr > 22.0, psnr  # a quarter of the pixels at this tiny size; ~30 dB at 720p (benchmark)
        sky_native, sky_half = ~np.isfinite(n["depth"]), ~np.isfinite(h["depth"])
        assert (sky_native == sky_half).mean() > 0.97
    assert not np.array_equal(native[0]["rgb"], half[0]["rgb"])


def test_grain_is_drawn_at_the_output_pixels(street):
    """The grain of a half-scale frame is as fine as the output's pixels, as in a native frame:
    neighbouring output pixels' grain is nearly uncorrelated (grain drawn small and widened would
    correlate strongly)."""
    import dataclasses

    shot, p = street
    film = shot.updated({"look": {"film": "cinema"}})
    corr = {}
    for scale in (1.0, 0.5):
        r = pipeline.open_renderer(film.updated({"output": {"render_scale": scale}}), p)
        try:
            grained = r.render(p.frames[2], exposure=1.0, previous=p.frames[1])["rgb"].astype(float).mean(2)
            r.post.film = dataclasses.replace(r.post.film, grain=0.0)
            clean = r.render(p.frames[2], exposure=1.0, previous=p.frames[1])["rgb"].astype(float).mean(2)
        finally:
            r.close()
        noise, lit = grained - clean, (clean > 40) & (clean < 215)
        assert noise[lit].std() > 0.5, "the film look grains the frame"
        pairs = lit[:, :-1] & lit[:, 1:]
        corr[scale] = np.corrcoef(noise[:, :-1][pairs], noise[:, 1:][pairs])[0, 1]
    assert abs(corr[0.5]) < 0.3 and abs(corr[0.5] - corr[1.0]) < 0.15, corr


def test_a_nan_pixel_does_not_become_a_black_box():
    """One non-finite HDR pixel (a degenerate normal somewhere) leaves the glow finite."""
    from citywalk.render.glow import GlowPass

    from builders import gl_context_or_skip

    ctx = gl_context_or_skip()
    w, h = 64, 48
    hdr = np.full((h, w, 4), 0.5, np.float32)
    hdr[20, 30, :3] = np.nan
    hdr_tex = ctx.texture((w, h), 4, data=hdr.tobytes(), dtype="f4")
    glow_tex = ctx.texture((w // 4, h // 4), 4, dtype="f2")
    glow = GlowPass(ctx, glow_tex)
    fc = types.SimpleNamespace(size_px=(w, h), exposure=40.0,
                               targets=types.SimpleNamespace(hdr_tex=hdr_tex, glow_tex=glow_tex))
    glow.draw(fc)
    out = np.frombuffer(glow_tex.read(), np.float16).reshape(h // 4, w // 4, 4).astype(float)
    assert np.isfinite(out).all()
    assert out[..., :3].max() > 0.0, "the bright frame still glows"
    ctx.release()


def test_culling_draws_fewer_triangles_and_the_same_pixels(street):
    """Cells of triangles wholly outside the view are not drawn; what is drawn is unchanged."""
    from citywalk.render.frame import FrameContext
    from citywalk.render.geometry import boxes_in_view

    shot, p = street
    r = pipeline.open_renderer(shot, p)
    try:
        g = r.geometry
        fc = FrameContext.build(p.frames[0], r.targets, r.light)
        first, count = g.visible(fc.view_proj)
        assert 0 < count.sum() < 0.8 * g.cell_count.sum(), (count.sum(), g.cell_count.sum())
        assert g.cell_count.sum() == sum(c for _, _, c in g.kind_ranges), "every triangle is in one cell"
        culled = r.render(p.frames[0], want_depth=True, exposure=1.0)
        g.cull = False
        full = r.render(p.frames[0], want_depth=True, exposure=1.0)
    finally:
        r.close()
    assert np.array_equal(culled["rgb"], full["rgb"])
    assert np.array_equal(culled["depth"], full["depth"])
    # a box behind the camera is out, one straddling the view is in
    eye, ahead = p.frames[0].position, p.frames[0].R[2]
    behind = eye - 30 * ahead
    inside = eye + 10 * ahead
    lo, hi = np.array([behind - 1, inside - 1]), np.array([behind + 1, inside + 1])
    assert boxes_in_view(fc.view_proj, lo, hi).tolist() == [False, True]
