"""Restyle our rendered walk into a photographic look with ControlNet-depth img2img, keeping the
geometry and camera we rendered: the depth we know conditions every frame, the noise is the same
every frame (one seed), and the previous stylised frame, forward-warped into the next with our
exact depth and cameras (`warp.forward_warp`), is blended into the next frame's start image and
into its result wherever the occlusion test says the same surface is seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..errors import CitywalkError
from .backends import BACKENDS, pipeline_class_name, resolve_model
from .runtime import (
    cached_pipeline,
    check_frames,
    generator,
    load_model_class,
    load_pipeline,
    native_side_px,
    size_multiple,
    to_pil,
    to_uint8,
    working_size,
)
from .warp import Camera, forward_warp

CONTROLNET_IMG2IMG = {
    "StableDiffusionPipeline": "StableDiffusionControlNetImg2ImgPipeline",
    "StableDiffusionControlNetImg2ImgPipeline": "StableDiffusionControlNetImg2ImgPipeline",
    "StableDiffusionXLPipeline": "StableDiffusionXLControlNetImg2ImgPipeline",
    "StableDiffusionXLControlNetImg2ImgPipeline": "StableDiffusionXLControlNetImg2ImgPipeline",
}


@dataclass(frozen=True)
class RestyleOptions:
    """How hard to restyle and how much of the previous stylised frame to carry over: `strength`
    is img2img's share of noise (0 keeps the render, 1 ignores it); `warp_init` and `warp_keep` are
    the warped previous frame's weights in the start image and in the result (valid pixels only)."""

    prompt: str
    strength: float = 0.5
    steps: int = 20
    guidance_scale: float = 7.5
    controlnet_scale: float = 1.0
    seed: int = 0
    warp_init: float = 0.7
    warp_keep: float = 0.3
    negative_prompt: str = "cartoon, render, cgi, blurry, low quality"

    def check(self) -> None:
        if not self.prompt or not self.prompt.strip():
            raise CitywalkError("restyle: the prompt is empty; describe the look, "
                                "e.g. 'photo of a Tokyo alley at dusk'")
        for name in ("strength", "warp_init", "warp_keep"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0 or (name == "strength" and value == 0.0):
                allowed = "(0, 1]" if name == "strength" else "[0, 1]"
                raise CitywalkError(f"restyle: {name} must be in {allowed}, got {value}")
        if self.steps < 1:
            raise CitywalkError(f"restyle: steps must be at least 1, got {self.steps}")


def load_restyle_pipeline(model: str | None = None, controlnet: str | None = None, device: str | None = None):
    """ControlNet img2img over the base model's folder, with the depth ControlNet's weights."""
    spec = BACKENDS["restyle"].models
    base = resolve_model(model or spec["base"], "restyle", "base")
    cn = resolve_model(controlnet or spec["controlnet"], "restyle", "controlnet")
    cls = CONTROLNET_IMG2IMG.get(pipeline_class_name(base) or "")
    if cls is None:
        bases = sorted(set(CONTROLNET_IMG2IMG) - set(CONTROLNET_IMG2IMG.values()))
        raise CitywalkError(f"restyle: {base} holds a {pipeline_class_name(base) or 'non-diffusers'} pipeline; "
                            f"accepted: {', '.join(bases)}")

    def load():
        net = load_model_class(cn, "ControlNetModel", device)
        return load_pipeline(base, cls, device=device, controlnet=net)

    return cached_pipeline("restyle", (str(base), str(cn), device), load)


def depth_control(depth_m: np.ndarray, near_m: float) -> np.ndarray:
    """The ControlNet-depth condition (H, W, 3) uint8: near bright, far dark, sky black; one fixed
    `near_m` for the whole clip so that the condition does not flicker frame to frame."""
    with np.errstate(divide="ignore"):
        disparity = np.where(np.isfinite(depth_m) & (depth_m > 0), near_m / np.maximum(depth_m, 1e-6), 0.0)
    grey = np.clip(np.rint(np.clip(disparity, 0, 1) ** 0.5 * 255), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, -1)


def _cameras(camera_track) -> list[Camera]:
    frames = camera_track["frames"] if isinstance(camera_track, dict) else camera_track
    return [c if isinstance(c, Camera) else Camera.from_track(c) for c in frames]


def _blend(a: np.ndarray, b: np.ndarray, weight: float, valid: np.ndarray) -> np.ndarray:
    """a with weight x b mixed in where `valid`, as uint8."""
    mixed = a.astype(np.float32) * (1 - weight) + b * weight
    return np.where(valid[..., None], np.clip(np.rint(mixed), 0, 255), a).astype(np.uint8)


def restyle_iter(frames: Iterable[np.ndarray], depth: Iterable[np.ndarray], camera_track, opts: RestyleOptions,
                 model: str | None = None, controlnet: str | None = None,
                 device: str | None = None) -> Iterator[np.ndarray]:
    """Stylised frames (H, W, 3) uint8, one per rendered frame (H, W, 3) uint8 and its depth (H, W) metres
    along the ray; `camera_track` is a read camera-track dict or a list of its frame records."""
    opts.check()
    cams = _cameras(camera_track)
    pipe = load_restyle_pipeline(model, controlnet, device)
    prev = None
    near_m = None
    for i, (rgb, dep) in enumerate(zip(frames, depth)):
        rgb = check_frames(rgb, f"restyle frame {i}")[0]
        dep = np.asarray(dep, np.float32)
        if dep.shape != rgb.shape[:2]:
            raise CitywalkError(f"restyle frame {i}: depth is {dep.shape}, the frame {rgb.shape[:2]}")
        if i >= len(cams):
            raise CitywalkError(f"restyle: the camera track has {len(cams)} frames, fewer than the video")
        size = (rgb.shape[1], rgb.shape[0])
        if near_m is None:
            finite = dep[np.isfinite(dep)]
            near_m = float(np.percentile(finite, 5)) if finite.size else 1.0
        start = rgb
        if prev is not None:
            warped, valid = forward_warp(prev[0], prev[1], prev[2], cams[i], dep)
            start = _blend(rgb, warped, opts.warp_init, valid)
        styled = _run(pipe, start, depth_control(dep, near_m), size, opts)
        if prev is not None:
            styled = _blend(styled, warped, opts.warp_keep, valid)
        prev = (styled, dep, cams[i])
        yield styled


def _run(pipe, start: np.ndarray, control: np.ndarray, size: tuple[int, int], opts: RestyleOptions) -> np.ndarray:
    """One img2img + ControlNet call at the model's working size, resized back to `size`."""
    work = working_size(size, size_multiple(pipe), native_side_px(pipe))
    out = pipe(prompt=opts.prompt, negative_prompt=opts.negative_prompt, image=to_pil(start, work),
               control_image=to_pil(control, work), height=work[1], width=work[0], strength=opts.strength,
               num_inference_steps=opts.steps, guidance_scale=opts.guidance_scale,
               controlnet_conditioning_scale=opts.controlnet_scale, generator=generator(opts.seed),
               output_type="np").images
    return to_uint8(out[0], size)


def restyle(frames, depth, camera_track, prompt: str, strength: float = 0.5, seed: int = 0,
            model: str | None = None, controlnet: str | None = None, device: str | None = None,
            **options) -> np.ndarray:
    """Restyle (N, H, W, 3) uint8 rendered frames with their (N, H, W) depth and camera track into
    (N, H, W, 3) uint8; `options` are further RestyleOptions fields (steps, warp_init, ...)."""
    opts = RestyleOptions(prompt=prompt, strength=strength, seed=seed, **options)
    return np.stack(list(restyle_iter(frames, depth, camera_track, opts, model, controlnet, device)))
