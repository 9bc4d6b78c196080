"""Gaussian-splat training from SfM: initialise from the sparse points (plus fill points along
random camera rays), optimise L1 + D-SSIM with Adam through the torch rasteriser (or gsplat on
CUDA when installed), densify (clone/split by view-space gradient) and prune, raise the SH degree
on a schedule, compensate exposure with an affine colour per training image, stop at an iteration
or time budget, report progress and checkpoint/resume."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from citywalk.capture import CaptureError
from citywalk.capture.poses import Poses
from citywalk.capture.raster import MAX_PAIRS, import_torch, quats_to_matrices, rasterize, sh_colors, ssim
from citywalk.scene.gaussians import SH_C0, GaussianCloud, sh_coeff_count


@dataclass
class TrainOptions:
    """Training settings. Budgets: stop at `iterations` or after `time_budget_s` seconds, whichever
    comes first; the schedule (SH degree, densification) follows whichever is further along.
    Lengths scale with the scene extent (radius of the camera centres × 1.1)."""

    iterations: int = 3000
    time_budget_s: float | None = None
    sh_degree: int = 3
    sh_every: int = 1000
    lambda_dssim: float = 0.2
    densify_from: int = 200
    densify_until_share: float = 0.6
    densify_every: int = 100
    grad_threshold: float = 0.0002  # mean view-space gradient, NDC units as in 3DGS
    percent_dense: float = 0.01
    prune_opacity: float = 0.005
    prune_scale_share: float = 1.0  # prune splats larger than this share of the scene extent
    max_gaussians: int = 300_000
    fill_points: int = 2000
    max_init_px: float = 4.0
    exposure: bool = True
    learn_background: bool = True
    lr_means: float = 1.6e-4
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacity: float = 5e-2
    lr_sh: float = 2.5e-3
    lr_exposure: float = 1e-3
    checkpoint_every: int = 500
    seed: int = 0
    backend: str = "auto"  # auto | torch | gsplat
    max_side_px: int | None = None  # train on views downscaled to this longer side (CPU budget)

    def check(self) -> "TrainOptions":
        if not 1 <= self.iterations <= 1_000_000:
            raise CaptureError(f"train iterations={self.iterations}: expected 1..1000000")
        if not 0 <= self.sh_degree <= 3:
            raise CaptureError(f"train sh_degree={self.sh_degree}: expected 0..3")
        if self.backend not in ("auto", "torch", "gsplat"):
            raise CaptureError(f"train backend={self.backend!r}: expected 'auto', 'torch' or 'gsplat'")
        return self


@dataclass
class TrainView:
    """One training image (H, W, 3) uint8 with its OpenCV camera (R_w2c, t_w2c, K)."""

    name: str
    image: np.ndarray
    R_w2c: np.ndarray
    t_w2c: np.ndarray
    K: np.ndarray


@dataclass
class TrainResult:
    """The trained cloud (activated), per-image exposure (3, 4) affine, background, and figures."""

    cloud: GaussianCloud
    exposure: dict[str, np.ndarray]
    background: np.ndarray
    iterations: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def load_views(poses: Poses, image_dir: str | Path, names: list[str] | None = None) -> list[TrainView]:
    """The registered images of `poses` (or only `names`) as TrainViews."""
    from PIL import Image

    want = set(names) if names is not None else None
    views = []
    for i, n in enumerate(poses.names):
        if want is not None and n not in want:
            continue
        with Image.open(Path(image_dir) / n) as im:
            views.append(TrainView(n, np.asarray(im.convert("RGB")), poses.R_w2c[i], poses.t_w2c[i], poses.K[i]))
    return views


def downscale_view(v: TrainView, max_side_px: int | None) -> TrainView:
    """The view resized so its longer side is ≤ max_side_px, intrinsics scaled to match."""
    h, w = v.image.shape[:2]
    if not max_side_px or max(h, w) <= max_side_px:
        return v
    from PIL import Image

    s = max_side_px / max(h, w)
    size = (max(2, round(w * s)), max(2, round(h * s)))
    img = np.asarray(Image.fromarray(v.image).resize(size, Image.Resampling.BOX))
    k = np.asarray(v.K, np.float64).copy()
    sx, sy = size[0] / w, size[1] / h
    k[0, 0], k[0, 2] = k[0, 0] * sx, (k[0, 2] + 0.5) * sx - 0.5
    k[1, 1], k[1, 2] = k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5
    return TrainView(v.name, img, v.R_w2c, v.t_w2c, k)


def scene_extent(views: list[TrainView]) -> tuple[np.ndarray, float]:
    """Centre (3,) and radius (1.1 × the largest camera distance from the mean centre; ≥ 1e-3)."""
    centres = np.array([-v.R_w2c.T @ v.t_w2c for v in views])
    mid = centres.mean(0)
    return mid, max(1e-3, 1.1 * float(np.linalg.norm(centres - mid, axis=1).max()))


def init_cloud(poses: Poses, views: list[TrainView], opts: TrainOptions, rng: np.random.Generator) -> dict:
    """Initial parameters (NumPy, raw = pre-activation) from SfM points plus `fill_points` points on
    random pixels' rays at depths drawn from the sparse points seen by that camera."""
    xyz = [poses.points_xyz.astype(np.float64)]
    rgb = [poses.points_rgb.astype(np.float64) / 255.0]
    if opts.fill_points and views:
        med_depth = float(np.median([_median_depth(v, poses.points_xyz) for v in views]))
        for _ in range(opts.fill_points):
            v = views[int(rng.integers(len(views)))]
            h, w = v.image.shape[:2]
            px, py = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
            ray = np.linalg.solve(v.K, [px, py, 1.0])
            depth = med_depth * float(np.exp(rng.normal(0.0, 0.6)))
            xyz.append((v.R_w2c.T @ (ray * depth - v.t_w2c))[None])
            rgb.append(v.image[int(round(py)), int(round(px))][None] / 255.0)
    xyz_all = np.concatenate(xyz)
    rgb_all = np.concatenate(rgb)
    if len(xyz_all) < 4:
        raise CaptureError(f"training: only {len(xyz_all)} initial points; need SfM points or fill points")
    from scipy.spatial import cKDTree

    d, _ = cKDTree(xyz_all).query(xyz_all, k=4)
    scale = np.sqrt(np.maximum((d[:, 1:] ** 2).mean(1), 1e-10))
    # cap the footprint at ~max_init_px pixels in the nearest camera so sparse fill points start small
    depth = np.min([np.maximum((xyz_all @ v.R_w2c.T + v.t_w2c)[:, 2], 1e-3) / v.K[0, 0] for v in views], axis=0)
    scale = np.minimum(scale, opts.max_init_px * depth)
    n, k = len(xyz_all), sh_coeff_count(opts.sh_degree)
    sh = np.zeros((n, k, 3))
    sh[:, 0] = (rgb_all - 0.5) / SH_C0
    return {"means": xyz_all, "log_scales": np.log(np.repeat(scale[:, None], 3, 1)),
            "quats": np.tile([1.0, 0, 0, 0], (n, 1)), "logit_opacity": np.full(n, math.log(0.1 / 0.9)),
            "sh_dc": sh[:, :1], "sh_rest": sh[:, 1:]}


def _median_depth(v: TrainView, pts: np.ndarray) -> float:
    z = (pts.astype(np.float64) @ v.R_w2c.T + v.t_w2c)[:, 2]
    z = z[z > 0]
    return float(np.median(z)) if len(z) else 1.0


class SplatTrainer:
    """Holds parameters, optimiser and schedule; `run()` trains until a budget is spent."""

    def __init__(self, poses: Poses, views: list[TrainView], opts: TrainOptions | None = None,
                 checkpoint: str | Path | None = None):
        self.torch = torch = import_torch()
        self.opts = (opts or TrainOptions()).check()
        if not views:
            raise CaptureError("training: no registered training views")
        self.views = [downscale_view(v, self.opts.max_side_px) for v in views]
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.rng = np.random.default_rng(self.opts.seed)
        self.gen = torch.Generator().manual_seed(self.opts.seed)
        self.centre, self.extent = scene_extent(views)
        # a forward walk has a tiny camera spread: size the scene by what the cameras look at too
        self.extent = max(self.extent, float(np.median([_median_depth(v, poses.points_xyz) for v in views])))
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.backend = self._pick_backend()
        self.targets = [torch.tensor(np.asarray(v.image), dtype=torch.float32, device=self.device) / 255.0
                        for v in self.views]
        self.iteration = 0
        self.elapsed_s = 0.0  # training time so far, across resumes
        self.last_pairs = 0
        self.last_engine = ""
        self.resumed_from: int | None = None
        self.history: list[dict] = []
        init = init_cloud(poses, views, self.opts, self.rng)
        self.params = {k: torch.nn.Parameter(torch.as_tensor(v, dtype=torch.float32, device=self.device))
                       for k, v in init.items()}
        n_img = len(views)
        self.params["exposure"] = torch.nn.Parameter(torch.zeros(n_img, 3, 4, device=self.device))
        self.params["background"] = torch.nn.Parameter(torch.zeros(3, device=self.device))
        self._make_optimizer()
        self._reset_stats()
        if self.checkpoint is not None and self.checkpoint.is_file():
            try:
                self.load(self.checkpoint)
            except CaptureError:  # made for other frames or damaged: start afresh, overwrite it later
                self.resumed_from = None
            else:
                self.resumed_from = self.iteration

    # -- setup -----------------------------------------------------------------------------

    def _pick_backend(self) -> str:
        if self.opts.backend == "torch" or (self.opts.backend == "auto" and self.device == "cpu"):
            return "torch"
        try:
            import gsplat  # noqa: F401
        except ImportError:
            if self.opts.backend == "gsplat":
                from citywalk.errors import MissingExtra

                raise MissingExtra("gsplat", "capture", "CUDA splat training with gsplat") from None
            return "torch"
        if self.device != "cuda":
            raise CaptureError("train backend='gsplat' needs a CUDA GPU; use backend='torch' on the CPU")
        return "gsplat"

    def _lrs(self) -> dict[str, float]:
        o = self.opts
        return {"means": o.lr_means * self.extent, "log_scales": o.lr_scales, "quats": o.lr_quats,
                "logit_opacity": o.lr_opacity, "sh_dc": o.lr_sh, "sh_rest": o.lr_sh / 20,
                "exposure": o.lr_exposure if o.exposure else 0.0,
                "background": 1e-2 if o.learn_background else 0.0}

    def _make_optimizer(self) -> None:
        lrs = self._lrs()
        self.optim = self.torch.optim.Adam([{"params": [p], "lr": lrs[k], "name": k} for k, p in self.params.items()],
                                           eps=1e-15)

    def _reset_stats(self) -> None:
        n = len(self.params["means"])
        self.grad_accum = self.torch.zeros(n, device=self.device)
        self.grad_count = self.torch.zeros(n, device=self.device)

    # -- one step --------------------------------------------------------------------------

    @property
    def schedule_iteration(self) -> int:
        """Where the schedule (SH degree, densification window) stands: the step count, or the share
        of the time budget spent times the iteration budget when that is further, so a run cut
        short by its time budget still raises the SH degree and stops densifying on time."""
        o = self.opts
        if not o.time_budget_s:
            return self.iteration
        return max(self.iteration, int(self.elapsed_s / o.time_budget_s * o.iterations))

    @property
    def active_sh_degree(self) -> int:
        return min(self.opts.sh_degree, self.schedule_iteration // max(1, self.opts.sh_every))

    def render_view(self, R_w2c, t_w2c, K, size_px, exposure_index: int | None = None) -> dict:
        """Render the current model with a camera; apply training image `exposure_index`'s affine colour."""
        torch, p = self.torch, self.params
        sh = torch.cat([p["sh_dc"], p["sh_rest"]], 1)
        scales = torch.exp(p["log_scales"])
        opac = torch.sigmoid(p["logit_opacity"])
        bg = p["background"].sigmoid() if self.opts.learn_background else torch.zeros(3, device=self.device)
        if self.backend == "gsplat":
            out = self._render_gsplat(sh, scales, opac, bg, R_w2c, t_w2c, K, size_px)
        else:
            centre = torch.as_tensor(-np.asarray(R_w2c).T @ np.asarray(t_w2c), dtype=torch.float32,
                                     device=self.device)
            colors = sh_colors(sh, p["means"], centre, self.active_sh_degree)
            out = rasterize(p["means"], scales, p["quats"], opac, colors, R_w2c, t_w2c, K, size_px, bg)
        if exposure_index is not None and self.opts.exposure:
            e = p["exposure"][exposure_index]
            out["rgb"] = out["rgb"] + out["rgb"] @ e[:, :3].T + e[:, 3]
        return out

    def _render_gsplat(self, sh, scales, opac, bg, R_w2c, t_w2c, K, size_px) -> dict:
        """gsplat's CUDA rasteriser (optional; same camera and SH conventions)."""
        import gsplat

        torch = self.torch
        view = torch.eye(4, device=self.device)
        view[:3, :3] = torch.as_tensor(np.asarray(R_w2c), dtype=torch.float32)
        view[:3, 3] = torch.as_tensor(np.asarray(t_w2c), dtype=torch.float32)
        Kt = torch.as_tensor(np.asarray(K), dtype=torch.float32, device=self.device)
        rgb, alpha, meta = gsplat.rasterization(self.params["means"], self.params["quats"], scales, opac, sh,
                                                view[None], Kt[None], int(size_px[0]), int(size_px[1]),
                                                sh_degree=self.active_sh_degree, backgrounds=bg[None],
                                                packed=False)  # means2d (1, N, 2), one row per Gaussian
        m2d = meta["means2d"]
        if m2d.requires_grad:
            m2d.retain_grad()
        return {"rgb": rgb[0], "alpha": alpha[0, ..., 0], "means2d": m2d, "visible": meta["radii"].reshape(
            len(scales), -1).max(1).values > 0}

    def step(self) -> float:
        """One optimisation step on a random training view → loss."""
        torch = self.torch
        i = int(self.rng.integers(len(self.views)))
        v, target = self.views[i], self.targets[i]
        size = (target.shape[1], target.shape[0])
        out = self.render_view(v.R_w2c, v.t_w2c, v.K, size, exposure_index=i)
        img = out["rgb"]
        self.last_pairs = int(out.get("pairs", 0))
        self.last_engine = out.get("engine", "")
        l1 = (img - target).abs().mean()
        loss = (1 - self.opts.lambda_dssim) * l1 + self.opts.lambda_dssim * (1 - ssim(img, target))
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()
        with torch.no_grad():
            g = out["means2d"].grad
            if g is not None:
                g = g.reshape(-1, 2)  # gsplat's carries a leading camera axis
                vis = out["visible"]
                half = torch.tensor([size[0] / 2, size[1] / 2], device=g.device)  # px → NDC
                self.grad_accum[vis] += (g[vis] * half).norm(dim=1)
                self.grad_count[vis] += 1
        self.iteration += 1
        self._maybe_densify()
        return float(loss.detach())

    # -- densify / prune -------------------------------------------------------------------

    def _maybe_densify(self) -> None:
        o, it = self.opts, self.schedule_iteration
        until = int(o.densify_until_share * o.iterations)
        if it < o.densify_from or it > until or self.iteration % o.densify_every:
            return
        torch = self.torch
        with torch.no_grad():
            grad = self.grad_accum / self.grad_count.clamp_min(1)
            scales = torch.exp(self.params["log_scales"]).max(1).values
            big = scales > o.percent_dense * self.extent
            hot = grad > o.grad_threshold
            room = o.max_gaussians - len(grad)
            if self.last_engine == "pairs" and self.last_pairs > MAX_PAIRS // 2:  # its memory guard is near
                room = 0
            clone = hot & ~big
            split = hot & big
            if room <= 0:
                clone[:] = False
                split[:] = False
            opac = torch.sigmoid(self.params["logit_opacity"])
            prune = (opac < o.prune_opacity) | (scales > o.prune_scale_share * self.extent)
            prune |= split  # a split Gaussian is replaced by its two children
            keep = ~prune
            extra = self._clone(clone)
            children = self._split(split)
            new = {k: torch.cat([extra[k], children[k]]) for k in extra}
            self._replace(keep, new)
        self._reset_stats()

    def _gaussian_keys(self) -> list[str]:
        return ["means", "log_scales", "quats", "logit_opacity", "sh_dc", "sh_rest"]

    def _clone(self, mask) -> dict:
        return {k: self.params[k].detach()[mask].clone() for k in self._gaussian_keys()}

    def _split(self, mask, n: int = 2) -> dict:
        """Two children per masked Gaussian: sampled inside it, scales ÷ 1.6."""
        torch = self.torch
        p = {k: self.params[k].detach()[mask] for k in self._gaussian_keys()}
        std = torch.exp(p["log_scales"]).repeat(n, 1)
        offset = torch.randn(std.shape, generator=self.gen).to(std) * std
        rot = quats_to_matrices(p["quats"].repeat(n, 1))
        out = {k: v.repeat(n, *([1] * (v.dim() - 1))) for k, v in p.items()}
        out["means"] = out["means"] + (rot @ offset[..., None])[..., 0]
        out["log_scales"] = out["log_scales"] - math.log(1.6)
        return out

    def _replace(self, keep, new: dict) -> None:
        """Keep `keep` rows of every Gaussian parameter, append `new` rows; Adam moments follow."""
        torch = self.torch
        for group in self.optim.param_groups:
            name = group["name"]
            if name not in new:
                continue
            old = group["params"][0]
            state = self.optim.state.pop(old, None)
            param = torch.nn.Parameter(torch.cat([old.detach()[keep], new[name]]))
            group["params"][0] = param
            if state:
                for key in ("exp_avg", "exp_avg_sq"):
                    state[key] = torch.cat([state[key][keep], torch.zeros_like(new[name])])
                self.optim.state[param] = state
            self.params[name] = param

    # -- loop, checkpoints, export ---------------------------------------------------------

    def run(self, on_fraction: Callable[[float], None] | None = None, log_every: int = 100) -> TrainResult:
        """Train until the iteration or time budget; checkpoints every `checkpoint_every` steps."""
        o = self.opts
        t0 = time.perf_counter()
        before_s = self.elapsed_s
        losses = []
        while self.iteration < o.iterations:
            losses.append(self.step())
            self.elapsed_s = before_s + time.perf_counter() - t0
            elapsed = self.elapsed_s
            if self.iteration % log_every == 0 or self.iteration == o.iterations:
                self.history.append({"iteration": self.iteration, "loss": float(np.mean(losses[-log_every:])),
                                     "gaussians": len(self.params["means"]), "seconds": elapsed,
                                     "pairs": self.last_pairs})
            if on_fraction is not None:
                frac = self.iteration / o.iterations
                if o.time_budget_s:
                    frac = max(frac, min(1.0, elapsed / o.time_budget_s))
                on_fraction(frac)
            if self.checkpoint is not None and o.checkpoint_every and self.iteration % o.checkpoint_every == 0:
                self.save(self.checkpoint)
            if o.time_budget_s is not None and elapsed >= o.time_budget_s:
                break
        if self.checkpoint is not None:
            self.save(self.checkpoint)
        return self.result(time.perf_counter() - t0)

    def result(self, seconds: float = 0.0) -> TrainResult:
        torch, p = self.torch, self.params
        with torch.no_grad():
            k = sh_coeff_count(self.opts.sh_degree)
            sh = torch.cat([p["sh_dc"], p["sh_rest"]], 1)[:, :k].cpu().numpy()
            cloud = GaussianCloud(p["means"].cpu().numpy(), torch.exp(p["log_scales"]).cpu().numpy(),
                                  p["quats"].cpu().numpy(), torch.sigmoid(p["logit_opacity"]).cpu().numpy(),
                                  sh, self.opts.sh_degree)
            eye = np.concatenate([np.eye(3), np.zeros((3, 1))], 1)
            expo = {v.name: eye + p["exposure"][i].cpu().numpy() for i, v in enumerate(self.views)}
            bg = torch.sigmoid(p["background"]).cpu().numpy() if self.opts.learn_background else np.zeros(3)
        return TrainResult(cloud, expo, bg, self.iteration, seconds, list(self.history))

    def save(self, path: Path) -> None:
        """Checkpoint (parameters, Adam state, iteration, RNG states) written atomically."""
        torch = self.torch
        tmp = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"iteration": self.iteration, "params": {k: v.detach() for k, v in self.params.items()},
                    "optim": self.optim.state_dict(), "rng": self.rng.bit_generator.state,
                    "gen": self.gen.get_state(), "history": self.history, "options": asdict(self.opts),
                    "elapsed_s": self.elapsed_s,
                    "views": [v.name for v in self.views]}, tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Resume from a checkpoint written by `save` for the same views."""
        torch = self.torch
        try:
            ck = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as exc:  # torch raises many types for a damaged file
            raise CaptureError(f"training checkpoint {path}: cannot read ({exc})") from None
        if ck.get("views") != [v.name for v in self.views]:
            raise CaptureError(f"training checkpoint {path}: made for other training views; delete it to restart")
        self.params = {k: torch.nn.Parameter(v) for k, v in ck["params"].items()}
        self._make_optimizer()
        self.optim.load_state_dict(ck["optim"])
        self.iteration, self.history = int(ck["iteration"]), list(ck["history"])
        self.elapsed_s = float(ck.get("elapsed_s", 0.0))
        self.rng.bit_generator.state = ck["rng"]
        self.gen.set_state(ck["gen"])
        self._reset_stats()


def train_splats(poses: Poses, views: list[TrainView], opts: TrainOptions | None = None,
                 checkpoint: str | Path | None = None,
                 on_fraction: Callable[[float], None] | None = None) -> TrainResult:
    """Train a splat scene on `views` (cameras in the SfM frame of `poses`) → TrainResult."""
    return SplatTrainer(poses, views, opts, checkpoint).run(on_fraction)
