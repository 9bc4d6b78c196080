"""Image → video with a diffusers image-to-video pipeline (SVD, LTX-Video, Wan 2.1 and CogVideoX
image-to-video; each run end to end on tiny random-weight builds of its pipeline), chained past the
model's own clip length by conditioning each chunk on the last frame of the one before.

Camera-controlled checkpoints plug in as camera adapters: a function registered for a pipeline
class name (here with `register_camera_adapter`, or from another package through the
`citywalk.camera_adapters` entry-point group) that turns our OpenCV camera path into the
pipeline's own conditioning (for CameraCtrl-style models: `plucker_embedding` per frame)."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import CitywalkError, MissingExtra
from .backends import BACKENDS, pipeline_class_name, resolve_model
from .runtime import (
    cached_pipeline,
    check_frames,
    generator,
    load_pipeline,
    native_side_px,
    pixels_per_token,
    size_multiple,
    to_pil,
    to_uint8,
    vae_spatial_factor,
    working_size,
)

CameraAdapter = Callable[[Any, dict, list[dict], tuple[int, int]], dict]
CAMERA_ADAPTERS: dict[str, CameraAdapter] = {}
ENTRY_POINT_GROUP = "citywalk.camera_adapters"


@dataclass(frozen=True)
class VideoFamily:
    """How one kind of image-to-video pipeline is called: its clip length where the checkpoint's config
    does not say, the frame-count rule (n = step*k + 1; the step is the VAE's temporal compression,
    `frame_step` only where the pipeline does not name it), whether it takes a text prompt and a frame
    rate, the pixel multiple its own size check wants, and the transformer's token grid (w, h) at its
    trained size where the config does not say (LTX-Video at 768x512, Wan 2.1 480P at 832x480)."""

    default_frames: int
    frame_step: int = 1
    takes_prompt: bool = True
    takes_frame_rate: bool = False
    size_multiple: int = 8
    native_tokens: tuple[int, int] | None = None
    needs: tuple[str, ...] = ()  # Python packages the pipeline needs beyond torch/diffusers/transformers


FAMILIES = {
    "StableVideoDiffusionPipeline": VideoFamily(25, takes_prompt=False),
    "LTXImageToVideoPipeline": VideoFamily(97, 8, takes_frame_rate=True, size_multiple=32, native_tokens=(24, 16)),
    # diffusers 0.42.1: Wan's transformer loads only with accelerate (it keeps modules in fp32, which
    # needs low_cpu_mem_usage), and its prompt cleaning calls ftfy unconditionally
    "WanImageToVideoPipeline": VideoFamily(81, 4, size_multiple=16, native_tokens=(52, 30),
                                           needs=("accelerate", "ftfy")),
    "CogVideoXImageToVideoPipeline": VideoFamily(49, 4),
}


def register_camera_adapter(pipeline_class: str, adapter: CameraAdapter) -> None:
    """Make `image_to_video(..., camera_path=...)` work for pipelines of `pipeline_class`: the adapter
    gets (pipe, call kwargs, cameras [{K, R_w2c, t_w2c}], (w, h)) and returns the kwargs to call with."""
    CAMERA_ADAPTERS[pipeline_class] = adapter


def camera_adapter_for(pipeline_class: str) -> CameraAdapter | None:
    """The adapter registered for `pipeline_class`, here or through the entry-point group."""
    if pipeline_class in CAMERA_ADAPTERS:
        return CAMERA_ADAPTERS[pipeline_class]
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == pipeline_class:
            CAMERA_ADAPTERS[pipeline_class] = ep.load()
            return CAMERA_ADAPTERS[pipeline_class]
    return None


def plucker_embedding(K: np.ndarray, R_w2c: np.ndarray, t_w2c: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """Per-pixel Plücker ray coordinates (6, H, W): unit direction d and moment o × d in world space,
    the camera conditioning CameraCtrl-style video models take."""
    w, h = size_px
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    pix = np.stack([u, v, np.ones_like(u)], -1)
    d_cam = pix @ np.linalg.inv(K).T
    d_world = d_cam @ np.asarray(R_w2c)  # R^T applied to each row vector
    d_world /= np.linalg.norm(d_world, axis=-1, keepdims=True)
    origin = -np.asarray(R_w2c).T @ np.asarray(t_w2c)
    moment = np.cross(np.broadcast_to(origin, d_world.shape), d_world)
    return np.concatenate([d_world, moment], -1).transpose(2, 0, 1).astype(np.float32)


def load_video_pipeline(model: str | None = None, device: str | None = None):
    """The image-to-video pipeline of `model` (local folder or cached repository id) and its class name."""
    model = model or BACKENDS["image_to_video"].models["base"]
    folder = resolve_model(model, "image_to_video")
    cls = pipeline_class_name(folder)
    if cls not in FAMILIES:
        raise CitywalkError(f"image_to_video: {folder} holds a {cls or 'non-diffusers'} pipeline; "
                            f"accepted: {', '.join(FAMILIES)}")
    for module in FAMILIES[cls].needs:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(module, "generate", f"image_to_video with {cls}")
    pipe = cached_pipeline("image_to_video", (str(folder), device), lambda: load_pipeline(folder, device=device))
    return pipe, cls


def _frame_step(pipe, family: VideoFamily) -> int:
    """Frames per latent frame: the VAE's temporal compression (LTX 8, Wan and CogVideoX 4), 1 for SVD."""
    for name in ("vae_temporal_compression_ratio", "vae_scale_factor_temporal"):
        value = getattr(pipe, name, None)
        if value:
            return int(value)
    return family.frame_step


def _frame_count(n: int, step: int) -> int:
    """The clip length to ask for: at least 2 frames, and step*k + 1 for a temporally compressing VAE."""
    if step <= 1:
        return max(2, n)
    return max(1, -(-(n - 1) // step)) * step + 1


def _clip_length(pipe, family: VideoFamily, chunk_frames: int | None) -> int:
    """Frames per call: `chunk_frames`, else the checkpoint's own (SVD unet.num_frames, CogVideoX
    transformer.sample_frames), else the family's."""
    if chunk_frames:
        return int(chunk_frames)
    for net, key in (("unet", "num_frames"), ("transformer", "sample_frames")):
        value = getattr(getattr(getattr(pipe, net, None), "config", None), key, None)
        if value:
            return int(value)
    return family.default_frames


def _work_size(pipe, family: VideoFamily, out_size: tuple[int, int], side_px: int | None) -> tuple[int, int]:
    """(w, h) the pipeline is called at: the aspect of `out_size` over the area of a `side_px` square
    (default: the checkpoint's trained area), in the pixel multiples it needs. A CogVideoX transformer
    with learned positional embeddings (CogVideoX-5b-I2V) runs at its one trained size only."""
    multiple = math.lcm(size_multiple(pipe), family.size_multiple)
    cfg = getattr(getattr(pipe, "transformer", None), "config", None)
    if getattr(cfg, "use_learned_positional_embeddings", False) and getattr(cfg, "sample_width", None):
        factor = vae_spatial_factor(pipe)
        return int(cfg.sample_width) * factor, int(cfg.sample_height) * factor
    if side_px is None and family.native_tokens is not None:
        w, h = family.native_tokens
        side_px = int(round(math.sqrt(w * h) * pixels_per_token(pipe)))
    return working_size(out_size, multiple, side_px or native_side_px(pipe))


def _call_kwargs(pipe, family: VideoFamily, image, n: int, fps: int, size: tuple[int, int], steps: int,
                 seed: int, prompt: str, motion: int) -> dict:
    kwargs = {"image": image, "width": size[0], "height": size[1], "num_frames": n,
              "num_inference_steps": steps, "generator": generator(seed), "output_type": "np"}
    if family.takes_prompt:
        kwargs["prompt"] = prompt or "a first-person walk along a city street"
        # CogVideoX's positional table covers exactly its text length (226 for the real checkpoints)
        text_len = getattr(getattr(getattr(pipe, "transformer", None), "config", None), "max_text_seq_length", None)
        if text_len:
            kwargs["max_sequence_length"] = int(text_len)
    if family.takes_frame_rate:
        kwargs["frame_rate"] = fps
    if not family.takes_prompt:  # SVD: frame-rate and motion conditioning, decoded in chunks
        kwargs.update(fps=int(np.clip(fps, 1, 30)), motion_bucket_id=int(motion), decode_chunk_size=8)
    return kwargs


def image_to_video(image: np.ndarray, frames: int, fps: int, seed: int, camera_path: list | None = None,
                   model: str | None = None, steps: int = 25, prompt: str = "", motion: int = 127,
                   chunk_frames: int | None = None, device: str | None = None,
                   side_px: int | None = None) -> np.ndarray:
    """`frames` (N, H, W, 3) uint8 frames that start from `image` (H, W, 3) uint8. Longer than the model's
    clip (or `chunk_frames`): chained chunks, each conditioned on the last frame so far. `fps` is the
    frame rate SVD and LTX-Video are conditioned on. The model works at the image's aspect over the
    area of a `side_px` square (default: its trained area; Wan 2.1 720P checkpoints want 960), and
    the frames come back at the image's size. `camera_path` (one {K, R_w2c, t_w2c} per frame) needs a
    camera adapter for the checkpoint's pipeline class."""
    first = check_frames(image, "image_to_video image")[0]
    if frames < 1:
        raise CitywalkError(f"image_to_video: frames must be at least 1, got {frames}")
    pipe, cls = load_video_pipeline(model, device)
    family = FAMILIES[cls]
    adapter = None
    if camera_path is not None:
        adapter = camera_adapter_for(cls)
        if adapter is None:
            raise CitywalkError(f"image_to_video: {cls} takes no camera path; register a camera adapter for it "
                                f"(citywalk.generate.register_camera_adapter or entry-point group {ENTRY_POINT_GROUP})")
        if len(camera_path) < frames:
            raise CitywalkError(f"image_to_video: camera_path has {len(camera_path)} cameras for {frames} frames")
    out_size = (first.shape[1], first.shape[0])
    size = _work_size(pipe, family, out_size, side_px)
    step = _frame_step(pipe, family)
    chunk = _frame_count(min(_clip_length(pipe, family, chunk_frames), max(frames, 2)), step)
    video, cond, done, k = [], first, 0, 0
    while done < frames:
        kwargs = _call_kwargs(pipe, family, to_pil(cond, size), chunk, fps, size, steps, seed + k, prompt, motion)
        if adapter is not None:
            cams = camera_path[max(0, done - 1): max(0, done - 1) + chunk]
            cams = cams + [cams[-1]] * (chunk - len(cams))
            kwargs = adapter(pipe, kwargs, cams, size)
        clip = to_uint8(pipe(**kwargs).frames[0], out_size)
        if k == 0:
            clip[0] = first  # the first frame is the given image, not its re-encoding
        new = clip if k == 0 else clip[1:]
        video.extend(new[: frames - done])
        done += len(new[: frames - done])
        cond, k = clip[-1], k + 1
    return np.stack(video)
