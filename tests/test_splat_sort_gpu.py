"""The compute-shader depth sort: exactly NumPy's stable order on the keys, and the splat pass
sorting on the GPU draws what it draws sorting on the CPU (run here on llvmpipe's GL 4.5)."""

from __future__ import annotations

import numpy as np
import pytest

moderngl = pytest.importorskip("moderngl")
from citywalk.render.splat_gl import (  # noqa: E402
    SplatPass,
    depth_keys,
    gpu_sort_by_default,
    make_splat_target,
    read_splat_target,
    sort_back_to_front,
)
from citywalk.render.splat_sort_gl import GpuKeySort  # noqa: E402
from citywalk.scene.gaussians import GaussianCloud  # noqa: E402

from builders import gl_context_or_skip  # noqa: E402


@pytest.fixture(scope="module")
def ctx():
    context = gl_context_or_skip(need_compute=True)
    yield context
    context.release()


@pytest.mark.parametrize("n,levels", [(0, 1), (1, 1), (2, 1), (255, 3), (256, 65536), (257, 2),
                                      (1000, 65536), (4099, 5), (70001, 65536), (70001, 300)])
def test_compute_sort_equals_numpy_stable_order(ctx, n, levels):
    rng = np.random.default_rng(n + levels)
    keys = rng.integers(0, levels, n).astype(np.uint16)  # few levels: long runs of ties
    if n > 10:
        keys[: n // 7] = keys[0]  # a block of equal keys across workgroups
        keys[-3:] = (65535, 0, 65535)  # both extremes
    sorter = GpuKeySort(ctx)
    got = sorter.argsort(keys)
    np.testing.assert_array_equal(got, np.argsort(keys, kind="stable"))
    again = sorter.argsort(keys[::-1].copy())  # buffers reused: nothing left from the first sort
    np.testing.assert_array_equal(again, np.argsort(keys[::-1], kind="stable"))
    sorter.release()


def test_compute_sort_of_depth_keys_is_back_to_front(ctx):
    z = np.random.default_rng(3).uniform(0.01, 3000.0, 5000).astype(np.float32)
    z[100:200] = 7.25  # ties
    sorter = GpuKeySort(ctx)
    np.testing.assert_array_equal(sorter.argsort(depth_keys(z, 0.05, 2000.0)), sort_back_to_front(z, 0.05, 2000.0))
    sorter.release()


def _cloud(n, rng):
    means = np.c_[rng.uniform(-3, 3, n), rng.uniform(2, 30, n), rng.uniform(-1, 2, n)]
    return GaussianCloud(means, np.exp(rng.normal(np.log(0.08), 0.5, (n, 3))), rng.normal(size=(n, 4)),
                         rng.uniform(0.2, 1.0, n), rng.normal(0, 0.5, (n, 1, 3)), 0)


@pytest.mark.parametrize("budget", [None, 10_000])  # the whole cloud, then an LOD cut with fades
def test_pass_sorting_on_gpu_draws_the_cpu_image(ctx, budget):
    w, h = 96, 72
    K = np.array([[80.0, 0, 47.5], [0, 80.0, 35.5], [0, 0, 1]])
    R = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    t = -R @ np.array([0.0, 0.0, 0.5])
    cloud = _cloud(30000, np.random.default_rng(5))
    assert not gpu_sort_by_default(ctx)  # llvmpipe: the CPU sort is ~100x faster there
    images = []
    for gpu in (False, True):
        sp = SplatPass(ctx, cloud, primitive="quads", budget=budget, gpu_sort=gpu)
        assert sp.gpu_sort == gpu and (sp.lod is not None) == (budget is not None)
        fbo, color, zsum = make_splat_target(ctx, (w, h))
        drawn = sp.draw(R, t, K, (w, h), fbo)
        images.append((drawn, read_splat_target(color, zsum)))
        fbo.release(), color.release(), zsum.release()
        sp.release()
    (n_cpu, cpu), (n_gpu, gpu) = images
    assert n_cpu == n_gpu > 1000
    assert cpu["alpha"].mean() > 0.3
    np.testing.assert_array_equal(gpu["rgb"], cpu["rgb"])  # same order → the same blend, bit for bit
    np.testing.assert_array_equal(gpu["alpha"], cpu["alpha"])
