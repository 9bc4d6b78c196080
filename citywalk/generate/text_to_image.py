"""Text → first image: an SDXL-class text-to-image pipeline loaded from local weights."""

from __future__ import annotations

import numpy as np

from ..errors import CitywalkError
from .backends import BACKENDS, resolve_model
from .runtime import cached_pipeline, generator, load_pipeline, native_side_px, size_multiple, to_uint8, working_size


def load_first_frame_pipeline(model: str | None = None, device: str | None = None):
    """The text-to-image pipeline of `model` (a local folder or a cached repository id)."""
    model = model or BACKENDS["first_frame"].models["base"]
    folder = resolve_model(model, "first_frame")
    return cached_pipeline("first_frame", (str(folder), device), lambda: load_pipeline(folder, device=device))


def first_frame(prompt: str, size: tuple[int, int], seed: int, model: str | None = None, steps: int = 30,
                guidance_scale: float | None = None, negative_prompt: str | None = None,
                device: str | None = None) -> np.ndarray:
    """One (H, W, 3) uint8 image of `size` (w, h) for `prompt`; the same seed gives the same image.
    The pipeline runs at its native area in its size multiple, then the image is resized to `size`."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise CitywalkError("first_frame: the prompt is empty; describe the street to generate")
    if steps < 1:
        raise CitywalkError(f"first_frame: steps must be at least 1, got {steps}")
    pipe = load_first_frame_pipeline(model, device)
    w, h = working_size(tuple(size), size_multiple(pipe), native_side_px(pipe))
    kwargs = {"prompt": prompt, "height": h, "width": w, "num_inference_steps": int(steps),
              "generator": generator(seed), "output_type": "np"}
    if guidance_scale is not None:
        kwargs["guidance_scale"] = float(guidance_scale)
    if negative_prompt:
        kwargs["negative_prompt"] = negative_prompt
    images = pipe(**kwargs).images
    return to_uint8(images[0], tuple(size))
