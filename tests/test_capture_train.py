"""The torch splat rasteriser against the NumPy reference, its gradients, and the trainer:
loss/PSNR improve, densify keeps Adam state aligned, SH schedule, checkpoint and resume."""

import numpy as np
import pytest
import torch

from citywalk.capture.poses import Poses
from citywalk.capture.raster import psnr, rasterize, render_cloud, sh_colors
from citywalk.capture.train import SplatTrainer, TrainOptions, TrainView
from citywalk.render.splat_reference import render_reference
from citywalk.scene.gaussians import GaussianCloud

from builders import K, look_at


def random_cloud(rng, n=60, degree=3):
    return GaussianCloud(
        rng.uniform([-1, -1, 2], [1, 1, 5], (n, 3)),
        rng.uniform(0.02, 0.4, (n, 3)),
        rng.normal(size=(n, 4)),
        rng.uniform(0.05, 1, n),
        rng.normal(0, 0.5, (n, (degree + 1) ** 2, 3)),
        degree,
    )


@pytest.mark.parametrize("engine", ["tiles", "pairs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_torch_rasteriser_matches_reference(seed, engine):
    rng = np.random.default_rng(seed)
    cloud = random_cloud(rng)
    behind = random_cloud(rng, 5)
    behind.means[:, 2] *= -1  # behind the camera: must not draw
    stack = GaussianCloud(np.tile([0.1, 0.0, 1.5], (12, 1)) + rng.normal(0, 0.01, (12, 3)), np.full((12, 3), 0.3),
                          np.tile([1.0, 0, 0, 0], (12, 1)), np.full(12, 0.98), rng.normal(0, 0.5, (12, 16, 3)), 3)
    cloud = GaussianCloud.concatenate([cloud, behind, stack])  # the opaque stack hits the T < 1e-4 stop
    R, t = look_at(np.array([0.2, -0.3, 0.1]), [0, 0.2, 3.5])
    for rot, trans in ((np.eye(3), np.zeros(3)), (R, t)):
        ref = render_reference(cloud, rot, trans, K, (48, 32))
        got = render_cloud(cloud, rot, trans, K, (48, 32), engine=engine)
        for key in ("rgb", "alpha", "depth"):
            assert np.abs(ref[key] - got[key]).max() < 1e-4, key
        assert ref["alpha"].max() > 0.99 and ref["alpha"].min() < 0.5


@pytest.mark.parametrize("engine", ["tiles", "pairs"])
def test_rasteriser_gradients_match_finite_differences(engine):
    rng = np.random.default_rng(3)
    c = random_cloud(rng, 8, degree=1)
    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)  # noqa: E731
    params = {"means": f(c.means), "scales": f(c.scales), "op": f(c.opacities * 0.9), "sh": f(c.sh)}
    target = torch.tensor(rng.uniform(0, 1, (32, 48, 3)))

    def loss():
        col = sh_colors(params["sh"], params["means"], torch.zeros(3, dtype=torch.float64), 1)
        out = rasterize(params["means"], params["scales"], torch.tensor(c.rotations, dtype=torch.float64),
                        params["op"], col, np.eye(3), np.zeros(3), K, (48, 32), engine=engine)
        return ((out["rgb"] - target) ** 2).mean()

    loss().backward()
    for name, index in (("means", (2, 0)), ("means", (5, 2)), ("scales", (1, 1)), ("op", (4,)), ("sh", (3, 0, 1))):
        p = params[name]
        analytic = float(p.grad[index])
        with torch.no_grad():
            p[index] += 1e-5
            up = float(loss())
            p[index] -= 2e-5
            down = float(loss())
            p[index] += 1e-5
        numeric = (up - down) / 2e-5
        assert analytic == pytest.approx(numeric, rel=0.05, abs=1e-7), (name, index)


def test_tile_and_pair_engines_agree_on_values_and_every_gradient():
    """The Numba tile compositor's analytic backward equals autograd through the pair list, for
    means, scales, rotations, opacities, SH, background and the 2D means (densification)."""
    rng = np.random.default_rng(5)
    cloud = random_cloud(rng, 90)
    stack = GaussianCloud(
        np.tile([0.1, 0.0, 1.5], (12, 1)) + rng.normal(0, 0.01, (12, 3)),
        np.full((12, 3), 0.3),
        np.tile([1.0, 0, 0, 0], (12, 1)),
        np.r_[0.995, np.full(11, 0.98)],
        rng.normal(0, 0.5, (12, 16, 3)),
        3,
    )
    # a clamped alpha and the early stop; not two clamped ones, whose (1 − 0.99)² ties with T_MIN
    cloud = GaussianCloud.concatenate([cloud, stack])
    R, t = look_at(np.array([0.2, -0.3, 0.1]), [0, 0.2, 3.5])
    target = torch.tensor(rng.uniform(0, 1, (40, 56, 3)))
    results = {}
    for engine in ("pairs", "tiles"):
        f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)  # noqa: E731
        p = {"means": f(cloud.means), "scales": f(cloud.scales), "quats": f(cloud.rotations),
             "op": f(cloud.opacities), "sh": f(cloud.sh), "bg": f([0.2, 0.3, 0.4])}
        col = sh_colors(p["sh"], p["means"], torch.tensor(-R.T @ t), 3)
        out = rasterize(p["means"], p["scales"], p["quats"], p["op"], col, R, t, K * [[1.2], [1.2], [1]], (56, 40),
                        p["bg"], engine=engine)
        loss = ((out["rgb"] - target) ** 2).mean() + 0.3 * out["alpha"].mean()
        loss.backward()
        results[engine] = ({k: out[k].detach() for k in ("rgb", "alpha", "depth")},
                           {k: v.grad for k, v in p.items()}, out["means2d"].grad)
    (va, ga, ma), (vb, gb, mb) = results["pairs"], results["tiles"]
    assert float(va["alpha"].max()) > 0.99
    for k in va:
        assert float((va[k] - vb[k]).abs().max()) < 1e-6, k
    for k in ga:
        assert float(ga[k].abs().max()) > 0, k
        assert float((ga[k] - gb[k]).abs().max()) < 1e-5 * float(ga[k].abs().max()), k
    assert float((ma - mb).abs().max()) < 1e-5 * float(ma.abs().max())


def tiny_capture(rng, n_views=10):
    """A ground-truth cloud seen by a ring of cameras → (Poses with noisy sparse points, views)."""
    gt = random_cloud(rng, 120, degree=0)
    gt.means[:] = rng.uniform([-1, -1, -0.5], [1, 1, 0.5], (120, 3))
    gt.scales[:] = rng.uniform(0.05, 0.2, (120, 3))
    gt.opacities[:] = rng.uniform(0.5, 1.0, 120)
    views, Rs, ts = [], [], []
    for i in range(n_views):
        a = 2 * np.pi * i / n_views
        R, t = look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 1.0]), [0, 0, 0])
        img = render_reference(gt, R, t, K, (48, 32))["rgb"]
        views.append(TrainView(f"v{i}.png", (np.clip(img, 0, 1) * 255).astype(np.uint8), R, t, K))
        Rs.append(R)
        ts.append(t)
    pts = (gt.means + rng.normal(0, 0.05, gt.means.shape)).astype(np.float32)
    poses = Poses([v.name for v in views], np.array(Rs), np.array(ts), np.tile(K, (n_views, 1, 1)), (48, 32), pts,
                  np.full((len(pts), 3), 128, np.uint8), n_views)
    return poses, views


def held_out_psnr(trainer, views):
    with torch.no_grad():
        return np.mean([psnr(trainer.render_view(v.R_w2c, v.t_w2c, v.K, (48, 32))["rgb"].clamp(0, 1).numpy(),
                             v.image / 255.0) for v in views])


def test_training_raises_held_out_psnr_and_densifies(tmp_path):
    rng = np.random.default_rng(4)
    poses, views = tiny_capture(rng)
    train, test = views[1::2], views[::2]
    opts = TrainOptions(iterations=80, fill_points=0, sh_degree=1, sh_every=40, densify_from=20, densify_every=20,
                        grad_threshold=1e-5, lr_means=1e-3)
    trainer = SplatTrainer(poses, train, opts)
    before = held_out_psnr(trainer, test)
    n0 = len(trainer.params["means"])
    result = trainer.run(log_every=10)
    after = held_out_psnr(trainer, test)
    assert after > before + 4.0, (before, after)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.cloud.count > n0 and trainer.active_sh_degree == 1 and result.cloud.sh_degree == 1
    for group in trainer.optim.param_groups:  # Adam moments follow the densified parameters
        p = group["params"][0]
        assert trainer.optim.state[p]["exp_avg"].shape == p.shape
    assert set(result.exposure) == {v.name for v in train} and result.exposure["v1.png"].shape == (3, 4)


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    rng = np.random.default_rng(5)
    poses, views = tiny_capture(rng, 6)
    ck = tmp_path / "train.ckpt"
    opts = TrainOptions(iterations=12, fill_points=0, sh_degree=0, densify_from=1000, checkpoint_every=6)
    a = SplatTrainer(poses, views, opts, checkpoint=ck)
    a.run()
    b = SplatTrainer(poses, views, TrainOptions(**{**opts.__dict__, "iterations": 20}), checkpoint=ck)
    assert b.resumed_from == 12 and b.iteration == 12
    assert torch.equal(a.params["means"], b.params["means"])
    assert b.run().iterations == 20
    other = SplatTrainer(poses, views[:3], opts, checkpoint=ck)  # other views: starts afresh
    assert other.resumed_from is None and other.iteration == 0


def test_time_budget_stops_early_and_reports_progress():
    rng = np.random.default_rng(6)
    poses, views = tiny_capture(rng, 4)
    seen = []
    trainer = SplatTrainer(poses, views, TrainOptions(iterations=100000, time_budget_s=1.5, fill_points=0,
                                                      sh_every=25000, densify_from=10, densify_every=10))
    res = trainer.run(seen.append)
    assert 0 < res.iterations < 100000 and seen and seen[-1] >= 0.99 * min(1.0, res.seconds / 1.5)
    # the schedule followed the time budget: full SH degree, densification over (after 60 %)
    assert trainer.active_sh_degree == 3 and trainer.schedule_iteration >= 99000
    trainer.elapsed_s = 0.7 * 1.5  # 70 % of the time spent: SH degree 2, past the densify window
    assert trainer.active_sh_degree == 2 and abs(trainer.schedule_iteration - 70000) <= 1
    n, it = len(trainer.params["means"]), trainer.iteration
    trainer.iteration = (it // 10 + 1) * 10 - 1  # the next step lands on a densify step
    trainer.step()
    assert len(trainer.params["means"]) == n
