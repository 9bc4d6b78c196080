"""Action-conditioned driving world models (Vista: SVD-based, conditioned on a trajectory, speed
and steering, a command or a goal point) behind one small adapter interface.

An adapter is given a local checkout of the model's code and a checkpoint file; nothing is
downloaded. `world_model(first_frames, actions)` checks both, turns our `DriveActions` into the
model's own conditions and returns the predicted frames. The Vista adapter calls the functions of
the checkout's `sample_utils.py` the way its `sample.py` does."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import CitywalkError, MissingModel
from .runtime import check_frames, import_diffusers

COMMANDS = ("right", "left", "straight")  # Vista's command ids 0, 1, 2
VISTA_STEER_SCALE_DEG = 780.0  # its steering angles are the wheel angle over 780 degrees


@dataclass(frozen=True)
class DriveActions:
    """What the ego car does over the predicted clip. Any subset: `trajectory_m` future ego positions
    (K, 2) in metres (x forward, y left) at 0.5 s spacing; `speed_mps` and `steer_deg` (steering-wheel
    angle, positive left) per frame; `command` one of COMMANDS; `goal_px` the (x, y) image point to reach."""

    trajectory_m: np.ndarray | None = None
    speed_mps: np.ndarray | None = None
    steer_deg: np.ndarray | None = None
    command: str | None = None
    goal_px: tuple[float, float] | None = None

    def check(self, frame_size: tuple[int, int]) -> None:
        if self.trajectory_m is not None and (np.ndim(self.trajectory_m) != 2 or np.shape(self.trajectory_m)[1] != 2):
            raise CitywalkError(f"world_model: trajectory_m must be (K, 2) metres, "
                                f"got shape {np.shape(self.trajectory_m)}")
        for name in ("trajectory_m", "speed_mps", "steer_deg"):
            value = getattr(self, name)
            if value is not None and not np.all(np.isfinite(value)):
                raise CitywalkError(f"world_model: {name} must be finite numbers")
        if self.command is not None and self.command not in COMMANDS:
            raise CitywalkError(f"world_model: command '{self.command}' is unknown; accepted: {', '.join(COMMANDS)}")
        if self.goal_px is not None:
            x, y = self.goal_px
            if not (0 < x < frame_size[0] and 0 < y < frame_size[1]):
                raise CitywalkError(f"world_model: goal_px {self.goal_px} is outside the {frame_size} frame")


def vista_conditions(actions: DriveActions, frame_size: tuple[int, int], frames: int) -> dict[str, np.ndarray]:
    """Our actions in Vista's value_dict form: flattened trajectory waypoints, per-frame speed and
    steering/780 (one value per predicted frame after the first), command id, goal in 0..1."""
    actions.check(frame_size)
    out: dict[str, np.ndarray] = {}
    if actions.trajectory_m is not None:
        out["trajectory"] = np.asarray(actions.trajectory_m, np.float32).reshape(-1)
    for key, value, scale in (("speed", actions.speed_mps, 1.0), ("angle", actions.steer_deg, VISTA_STEER_SCALE_DEG)):
        if value is not None:
            v = np.asarray(value, np.float32).reshape(-1) / scale
            out[key] = np.resize(v, frames - 1) if v.size else v
    if actions.command is not None:
        out["command"] = np.array(COMMANDS.index(actions.command))
    if actions.goal_px is not None:
        out["goal"] = np.array([actions.goal_px[0] / frame_size[0], actions.goal_px[1] / frame_size[1]], np.float32)
    return out


class WorldModelAdapter(Protocol):
    """What a world-model adapter does: check its checkout and checkpoint (MissingModel when absent),
    then predict frames from conditioning frames and actions."""

    name: str

    def check(self, checkout: Path, checkpoint: Path) -> None: ...

    def predict(self, checkout: Path, checkpoint: Path, first_frames: np.ndarray, actions: DriveActions,
                frames: int, seed: int) -> np.ndarray: ...


class VistaAdapter:
    """Vista (SVD-based) from its git checkout (`sample_utils.py`, `configs/inference/vista.yaml`, the
    `vwm` package) and its `vista.safetensors`; predicts 25-frame rounds at 576x1024 and 10 fps."""

    name = "vista"
    files = ("sample_utils.py", "configs/inference/vista.yaml", "vwm/__init__.py")

    def check(self, checkout: Path, checkpoint: Path) -> None:
        missing = [str(checkout / f) for f in self.files if not (checkout / f).exists()]
        how = ("clone the Vista repository to a local folder and pass it as checkout=; "
               "its weights (vista.safetensors) as checkpoint=")
        if missing:
            raise MissingModel("Vista checkout", missing, how)
        if not checkpoint.is_file():
            raise MissingModel("Vista checkpoint", [str(checkpoint)], how)

    def predict(self, checkout, checkpoint, first_frames, actions, frames, seed):
        torch, _ = import_diffusers()
        sys.path.insert(0, str(checkout))
        try:
            import sample_utils as su  # the checkout's own module
        finally:
            sys.path.remove(str(checkout))
        h, w = first_frames.shape[1:3]
        model = su.init_model({"config": str(checkout / "configs/inference/vista.yaml"), "ckpt": str(checkpoint)})
        keys = {x.input_key for x in model.conditioner.embedders}
        values = su.init_embedder_options(keys)
        images = torch.from_numpy(first_frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).cuda()
        if frames > len(images):  # Vista takes a full-length clip; frames past the conditioning are masked
            images = torch.cat([images, images[-1:].repeat(frames - len(images), 1, 1, 1)])
        values["cond_frames_without_noise"] = images[:1]
        values["cond_aug"] = 0.0
        values["cond_frames"] = images[:1]
        for key, value in vista_conditions(actions, (w, h), frames).items():
            values[key] = torch.from_numpy(np.asarray(value))
        torch.manual_seed(int(seed))
        sampler = su.init_sampling(steps=50, cfg_scale=2.5, num_frames=frames)
        samples, _, _ = su.do_sample(images, model, sampler, values, num_rounds=1, num_frames=frames,
                                     force_uc_zero_embeddings=["cond_frames", "cond_frames_without_noise", "command",
                                                               "trajectory", "speed", "angle", "goal"],
                                     initial_cond_indices=list(range(len(first_frames))))
        return (samples.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


WORLD_MODELS: dict[str, WorldModelAdapter] = {"vista": VistaAdapter()}


def world_model(first_frames, actions: DriveActions, checkout: str | Path | None = None,
                checkpoint: str | Path | None = None, backend: str = "vista", frames: int = 25,
                seed: int = 0) -> np.ndarray:
    """Predict `frames` (N, H, W, 3) uint8 from conditioning frames (K, H, W, 3) uint8 and the ego
    car's actions, with the world model `backend` from a local checkout and checkpoint."""
    adapter = WORLD_MODELS.get(backend)
    if adapter is None:
        raise CitywalkError(f"world_model: unknown backend '{backend}'; accepted: {', '.join(WORLD_MODELS)}")
    video = check_frames(first_frames, "world_model first_frames")
    actions.check((video.shape[2], video.shape[1]))
    if checkout is None or checkpoint is None:
        raise MissingModel(f"{backend} checkout and checkpoint", [f"checkout={checkout}", f"checkpoint={checkpoint}"],
                           "pass both as local paths (a git checkout of the model's code and its weights file)")
    checkout, checkpoint = Path(checkout).expanduser(), Path(checkpoint).expanduser()
    adapter.check(checkout, checkpoint)
    if len(video) >= frames:
        raise CitywalkError(f"world_model: {len(video)} conditioning frames leave nothing to predict in {frames}")
    return adapter.predict(checkout, checkpoint, video, actions, frames, seed)
