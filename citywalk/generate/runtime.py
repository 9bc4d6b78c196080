"""What every backend shares: the lazy torch/diffusers import with the extra's name when missing,
the device and dtype, loading a saved pipeline offline, seeded generators, and sizes and image
conversions between our uint8 frames and the pipelines' PIL/float images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CitywalkError, MissingExtra

FEATURE = "generative backends"


def import_diffusers() -> tuple[Any, Any]:
    """(torch, diffusers), imported on first use; MissingExtra names `citywalk[generate]`. Their
    progress bars and advisory warnings are silenced: citywalk shows its own progress."""
    for module in ("torch", "transformers", "diffusers"):
        try:
            __import__(module)
        except ImportError:
            raise MissingExtra(module, "generate", FEATURE) from None
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # its weight loading/saving bars
    import diffusers
    import torch

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    return torch, diffusers


def device_and_dtype(device: str | None = None) -> tuple[str, Any]:
    """'cuda' with float16 where a GPU is present, else 'cpu' with float32 (half precision is slow
    and inexact on CPUs)."""
    torch, _ = import_diffusers()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CitywalkError(f"device '{device}' was asked for but torch sees no CUDA GPU")
    return device, (torch.float16 if device.startswith("cuda") else torch.float32)


def generator(seed: int, device: str = "cpu"):
    """A torch Generator seeded with `seed` (CPU-side so a seed gives the same noise on any device)."""
    torch, _ = import_diffusers()
    del device
    return torch.Generator("cpu").manual_seed(int(seed))


def load_pipeline(folder: Path, cls_name: str | None = None, device: str | None = None, **components):
    """A diffusers pipeline from a local folder, never the network (local_files_only). `cls_name`
    picks the class (e.g. ControlNet img2img over a plain SD folder); default: the folder's own."""
    torch, diffusers = import_diffusers()
    device, dtype = device_and_dtype(device)
    cls = getattr(diffusers, cls_name) if cls_name else diffusers.DiffusionPipeline
    try:
        pipe = cls.from_pretrained(str(folder), local_files_only=True, dtype=dtype, **components)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CitywalkError(f"cannot load the pipeline in {folder}: {first}") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def load_model_class(folder: Path, cls_name: str, device: str | None = None):
    """One diffusers model (e.g. ControlNetModel) from a local folder, offline."""
    torch, diffusers = import_diffusers()
    _, dtype = device_and_dtype(device)
    try:
        return getattr(diffusers, cls_name).from_pretrained(str(folder), local_files_only=True, dtype=dtype)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CitywalkError(f"cannot load {cls_name} from {folder}: {first}") from None


def vae_spatial_factor(pipe) -> int:
    """How many pixels one latent cell spans: the pipeline's VAE scale factor, whatever it calls it
    (SD/SVD `vae_scale_factor`, LTX-Video `vae_spatial_compression_ratio`, Wan and CogVideoX
    `vae_scale_factor_spatial`)."""
    for name in ("vae_scale_factor", "vae_spatial_compression_ratio", "vae_scale_factor_spatial"):
        value = getattr(pipe, name, None)
        if value:
            return int(value)
    return 8


def pixels_per_token(pipe) -> int:
    """Pixels along one side of a transformer token: VAE factor x the transformer's spatial patch."""
    patch = getattr(getattr(getattr(pipe, "transformer", None), "config", None), "patch_size", 2) or 2
    patch = patch[-1] if isinstance(patch, (tuple, list)) else patch
    return vae_spatial_factor(pipe) * int(patch)


def size_multiple(pipe) -> int:
    """Pixel multiple the pipeline's image size must be: VAE downsampling x the UNet's (or
    transformer's) own downsampling of the latent, and a multiple of 8 (the pipelines check it)."""
    net = getattr(pipe, "unet", None)
    if net is not None and hasattr(net.config, "down_block_types"):
        return math.lcm(8, vae_spatial_factor(pipe) * 2 ** (len(net.config.down_block_types) - 1))
    return math.lcm(8, pixels_per_token(pipe))


def native_side_px(pipe, fallback: int = 512) -> int:
    """The side of the square image area the checkpoint was trained at (its latent sample size x VAE factor)."""
    net = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    cfg = getattr(net, "config", None)
    sample = getattr(cfg, "sample_size", None)
    if sample is None and getattr(cfg, "sample_height", None) and getattr(cfg, "sample_width", None):
        sample = (cfg.sample_height, cfg.sample_width)  # CogVideoX
    if isinstance(sample, (tuple, list)):
        sample = int(math.sqrt(sample[0] * sample[1]))
    if not sample:
        return fallback
    return int(sample) * vae_spatial_factor(pipe)


def working_size(size_px: tuple[int, int], multiple: int, native_side: int) -> tuple[int, int]:
    """(w, h) with the aspect of `size_px`, the area of a native_side² square, in multiples of `multiple`."""
    w, h = size_px
    scale = native_side / math.sqrt(w * h)
    ww = max(multiple, int(round(w * scale / multiple)) * multiple)
    hh = max(multiple, int(round(h * scale / multiple)) * multiple)
    return ww, hh


def to_pil(rgb_uint8: np.ndarray, size_px: tuple[int, int] | None = None):
    """(H, W, 3) uint8 → PIL image, resized (Lanczos) to `size_px` (w, h) when given."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb_uint8[..., :3]))
    return img if size_px is None or img.size == tuple(size_px) else img.resize(tuple(size_px), Image.LANCZOS)


def to_uint8(images: Any, size_px: tuple[int, int] | None = None) -> np.ndarray:
    """A pipeline's np output (..., H, W, 3) floats in 0..1 → uint8, each image resized to `size_px`."""
    arr = np.asarray(images, dtype=np.float32)
    out = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    if size_px is None or out.shape[-2:-4:-1] == tuple(size_px):
        return out
    flat = out.reshape(-1, *out.shape[-3:])
    resized = np.stack([np.asarray(to_pil(f, size_px)) for f in flat])
    return resized.reshape(*out.shape[:-3], *resized.shape[-3:])


def check_frames(frames: Any, what: str) -> np.ndarray:
    """Frames as an (N, H, W, 3) uint8 array, or CitywalkError naming `what` and the shape found."""
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) == 0:
        raise CitywalkError(f"{what}: expected (N, H, W, 3) uint8 frames, got {arr.shape} {arr.dtype}")
    return arr


_LOADED: dict[str, tuple[tuple, Any]] = {}


def cached_pipeline(backend: str, key: tuple, load):
    """The pipeline `load()` builds, kept for the next call with the same key (one per backend:
    loading SDXL takes longer than a frame, and two copies would not fit a GPU)."""
    hit = _LOADED.get(backend)
    if hit is not None and hit[0] == key:
        return hit[1]
    _LOADED.pop(backend, None)
    pipe = load()
    _LOADED[backend] = (key, pipe)
    return pipe


def release_pipelines() -> None:
    """Forget every cached pipeline (frees their memory once nothing else holds them)."""
    _LOADED.clear()
