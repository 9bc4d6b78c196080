"""Extend canvas: outpaint video frames to a new aspect (16:9 → 9:16 for phones, or the reverse)
with a diffusers inpainting pipeline. The original pixels are kept exactly; the new area starts
from the frame's edges stretched outwards, uses the same noise every frame, and is blended with the
previous frame's new area so that it does not flicker."""

from __future__ import annotations

import re

import numpy as np

from ..errors import CitywalkError
from .backends import BACKENDS, pipeline_class_name, resolve_model
from .runtime import (
    cached_pipeline,
    check_frames,
    generator,
    load_pipeline,
    native_side_px,
    size_multiple,
    to_pil,
    to_uint8,
    working_size,
)

INPAINT_PIPELINES = ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline")
SEAM_PX = 8


def parse_aspect(text: str | tuple) -> tuple[int, int]:
    """'9:16' (or '9x16', or (9, 16)) → (9, 16); CitywalkError naming the text otherwise."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        a, b = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", str(text))
        if not m:
            raise CitywalkError(f"aspect '{text}' is not W:H (e.g. 9:16 or 16:9)")
        a, b = float(m.group(1)), float(m.group(2))
    if not (0 < float(a) and 0 < float(b)) or not 0.1 <= float(a) / float(b) <= 10:
        raise CitywalkError(f"aspect '{text}' must be two positive numbers within 1:10 .. 10:1")
    return float(a), float(b)


def canvas_geometry(size_px: tuple[int, int], aspect: tuple[float, float]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The new canvas (w, h), even sides, that holds a `size_px` frame whole at `aspect`, and where
    the frame sits in it (x0, y0), centred: only the short side grows."""
    w, h = size_px
    target = aspect[0] / aspect[1]
    if target < w / h:
        cw, ch = w, int(round(w / target / 2)) * 2
    else:
        cw, ch = int(round(h * target / 2)) * 2, h
    cw, ch = max(cw, w), max(ch, h)
    return (cw, ch), ((cw - w) // 2, (ch - h) // 2)


def _start_canvas(frame: np.ndarray, canvas: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """The frame on the canvas with its border rows and columns stretched into the new area."""
    (cw, ch), (x0, y0) = canvas, offset
    h, w = frame.shape[:2]
    pad = ((y0, ch - h - y0), (x0, cw - w - x0), (0, 0))
    return np.pad(frame, pad, mode="edge")


def _masks(canvas: tuple[int, int], offset: tuple[int, int], size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(inpaint mask: new area plus a seam into the frame, (H, W) uint8 0/255; keep weight (H, W) in
    0..1 of the original pixels, 1 inside the frame and ramping to 0 across the seam)."""
    (cw, ch), (x0, y0), (w, h) = canvas, offset, size_px
    yy, xx = np.mgrid[0:ch, 0:cw]
    inside_dist = np.minimum.reduce([xx - x0 + 0.5, x0 + w - xx - 0.5, yy - y0 + 0.5, y0 + h - yy - 0.5])
    edge = [x0 > 0, x0 + w < cw, y0 > 0, y0 + h < ch]
    # distance to the frame's borders that face new area only
    d = np.full((ch, cw), np.inf)
    for grow, dist in zip(edge, (xx - x0 + 0.5, x0 + w - xx - 0.5, yy - y0 + 0.5, y0 + h - yy - 0.5)):
        if grow:
            d = np.minimum(d, dist)
    d = np.where(inside_dist > 0, d, -1.0)
    keep = np.clip(d / SEAM_PX, 0.0, 1.0)
    mask = np.where(keep < 1.0, 255, 0).astype(np.uint8)
    return mask, keep


def load_outpaint_pipeline(model: str | None = None, device: str | None = None):
    """The inpainting pipeline of `model` (local folder or cached repository id)."""
    folder = resolve_model(model or BACKENDS["extend_canvas"].models["base"], "extend_canvas")
    cls = pipeline_class_name(folder)
    if cls not in INPAINT_PIPELINES:
        raise CitywalkError(f"extend_canvas: {folder} holds a {cls or 'non-diffusers'} pipeline; "
                            f"accepted: {', '.join(INPAINT_PIPELINES)}")
    return cached_pipeline("extend_canvas", (str(folder), device), lambda: load_pipeline(folder, device=device))


def extend_canvas(frames, new_aspect, prompt: str = "", seed: int = 0, model: str | None = None, steps: int = 30,
                  temporal_blend: float = 0.5, device: str | None = None) -> np.ndarray:
    """(N, H, W, 3) uint8 frames → (N, H', W', 3) at `new_aspect` ('9:16'); the original pixels are unchanged."""
    video = check_frames(frames, "extend_canvas frames")
    if not 0.0 <= temporal_blend < 1.0:
        raise CitywalkError(f"extend_canvas: temporal_blend must be in [0, 1), got {temporal_blend}")
    size = (video.shape[2], video.shape[1])
    canvas, offset = canvas_geometry(size, parse_aspect(new_aspect))
    if canvas == size:
        return video.copy()
    pipe = load_outpaint_pipeline(model, device)
    work = working_size(canvas, size_multiple(pipe), native_side_px(pipe))
    mask, keep = _masks(canvas, offset, size)
    text = prompt or "a city street, photo, continuing the scene"
    out, prev_new = [], None
    for frame in video:
        start = _start_canvas(frame, canvas, offset)
        gen = pipe(prompt=text, image=to_pil(start, work), mask_image=to_pil(np.repeat(mask[..., None], 3, -1), work),
                   height=work[1], width=work[0], strength=1.0, num_inference_steps=steps,
                   generator=generator(seed), output_type="np").images
        new = to_uint8(gen[0], canvas).astype(np.float32)
        if prev_new is not None:
            new = (1 - temporal_blend) * new + temporal_blend * prev_new
        prev_new = new
        mixed = start.astype(np.float32) * keep[..., None] + new * (1 - keep[..., None])
        out.append(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))
    return np.stack(out)
