"""The generative backends as plain data (task, the public checkpoints each expects, hardware), and
where their weights are found: a local path, citywalk's model folder, or the offline Hugging Face
cache. Nothing here downloads or imports torch; `citywalk models` prints `backend_status()`."""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MissingModel

EXTRA_MODULES = ("torch", "diffusers", "transformers")


@dataclass(frozen=True)
class Backend:
    """One generative task. `models` names each checkpoint role (e.g. 'base', 'controlnet') and its
    default public Hugging Face repository; `alternatives` are other checkpoints the same code loads."""

    name: str
    task: str
    models: dict[str, str]
    alternatives: tuple[str, ...] = ()
    hardware: str = ""
    pipelines: tuple[str, ...] = field(default_factory=tuple)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("first_frame", "text → first image (SDXL-class text-to-image)",
            {"base": "stabilityai/stable-diffusion-xl-base-1.0"},
            ("stable-diffusion-v1-5/stable-diffusion-v1-5", "stabilityai/sdxl-turbo"),
            "SDXL: a GPU with 10 GB (fp16); a CPU works but takes minutes per image",
            ("StableDiffusionXLPipeline", "StableDiffusionPipeline", "any diffusers text-to-image pipeline")),
    Backend("image_to_video", "image → video (SVD, LTX-Video, Wan 2.1, CogVideoX image-to-video)",
            {"base": "stabilityai/stable-video-diffusion-img2vid-xt"},
            ("Lightricks/LTX-Video", "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "THUDM/CogVideoX-5b-I2V"),
            "SVD-XT at 1024x576: a GPU with 16 GB (fp16, decode in chunks); Wan 14B: 40 GB or CPU offload",
            ("StableVideoDiffusionPipeline", "LTXImageToVideoPipeline", "WanImageToVideoPipeline",
             "CogVideoXImageToVideoPipeline")),
    Backend("restyle", "our rendered walk → photographic look (ControlNet-depth img2img + depth/camera warp)",
            {"base": "stable-diffusion-v1-5/stable-diffusion-v1-5",
             "controlnet": "lllyasviel/control_v11f1p_sd15_depth"},
            ("stabilityai/stable-diffusion-xl-base-1.0 with diffusers/controlnet-depth-sdxl-1.0",),
            "SD 1.5 + ControlNet at 512 px: a GPU with 6 GB, about 1 s per frame at 20 steps on a recent GPU",
            ("StableDiffusionControlNetImg2ImgPipeline", "StableDiffusionXLControlNetImg2ImgPipeline")),
    Backend("extend_canvas", "outpainting: a new aspect (16:9 → 9:16 for phones, or back)",
            {"base": "stable-diffusion-v1-5/stable-diffusion-inpainting"},
            ("diffusers/stable-diffusion-xl-1.0-inpainting-0.1",),
            "SD 1.5 inpainting at 512 px: a GPU with 6 GB",
            ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline")),
    Backend("world_model", "action-conditioned driving world model (Vista) from a local checkout",
            {"checkout": "OpenDriveLab/Vista (git checkout)", "checkpoint": "OpenDriveLab/Vista: vista.safetensors"},
            (),
            "Vista at 576x1024: a GPU with 40 GB or more (its --low_vram mode: about 24 GB)",
            ("Vista sample_utils",)),
)}


def models_root() -> Path:
    """citywalk's own model folder: $CITYWALK_MODELS, else ~/.citywalk/models."""
    return Path(os.environ.get("CITYWALK_MODELS") or Path.home() / ".citywalk" / "models").expanduser()


def hf_cache_root() -> Path:
    """The Hugging Face hub cache the way huggingface_hub finds it (HF_HUB_CACHE, HF_HOME/hub, ~/.cache)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def _cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` in the offline HF cache (the one refs/main names, else the newest)."""
    repo_dir = hf_cache_root() / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        snap = snapshots / ref.read_text(encoding="utf-8").strip()
        if snap.is_dir():
            return snap
    found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def model_places(model: str) -> list[Path]:
    """Where `model` (a path, or an org/name repository id) may be, in the order they are tried."""
    places = [Path(model).expanduser()]
    if "/" in model and not Path(model).is_absolute() and model.count("/") == 1:
        root = models_root()
        places += [root / model.replace("/", "--"), root / model.split("/")[1]]
        places.append(hf_cache_root() / ("models--" + model.replace("/", "--")))
    return places


def resolve_model(model: str, backend: str, role: str = "base") -> Path:
    """The local folder (or file) holding `model`; MissingModel naming every place tried and the fix."""
    path = Path(model).expanduser()
    if path.exists():
        return path
    places = model_places(model)
    for place in places[1:]:
        if place.name.startswith("models--"):
            snap = _cached_snapshot(model)
            if snap is not None:
                return snap
        elif place.exists():
            return place
    suggested = models_root() / model.replace("/", "--")
    how = (f"copy the {backend} {role} checkpoint (a diffusers folder) to {suggested}, or into the Hugging Face "
           f"cache from a machine with network ('hf download {model}'), or pass its local path")
    if backend == "world_model":
        how = (f"clone {BACKENDS['world_model'].models['checkout'].split(' ')[0]} and download its "
               "vista.safetensors, then pass checkout= and checkpoint= paths")
    raise MissingModel(model, [str(p) for p in places], how)


def pipeline_class_name(folder: Path) -> str | None:
    """The diffusers pipeline class a saved pipeline folder names in model_index.json, or None."""
    index = Path(folder) / "model_index.json"
    try:
        return str(json.loads(index.read_text(encoding="utf-8")).get("_class_name"))
    except (OSError, ValueError, AttributeError):
        return None


def extra_installed() -> tuple[bool, list[str]]:
    """Whether the `generate` extra's modules can be imported here (without importing them)."""
    missing = [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]
    return not missing, missing


def backend_status(overrides: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """One row per backend: its checkpoints, where each was found (or the one-line reason it was not)
    and whether it is usable here (extra installed and every checkpoint found)."""
    ok_extra, missing_mods = extra_installed()
    rows = []
    for b in BACKENDS.values():
        found, problems = {}, []
        for role, default in b.models.items():
            model = (overrides or {}).get(b.name, {}).get(role, default)
            if b.name == "world_model":
                problems.append(f"{role}: pass a local path (world_model(checkout=..., checkpoint=...))")
                continue
            try:
                found[role] = str(resolve_model(model, b.name, role))
            except MissingModel as exc:
                problems.append(f"{role}: {exc}")
        if not ok_extra:
            problems.insert(0, f"pip install 'citywalk[generate]' (missing {', '.join(missing_mods)})")
        rows.append({"backend": b.name, "task": b.task, "models": dict(b.models), "found": found,
                     "usable": not problems, "problems": problems, "hardware": b.hardware})
    return rows
