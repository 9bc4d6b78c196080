"""Level of detail for Gaussian clouds: a tree of moment-matched parents and a per-frame cut.

The leaves are the cloud's Gaussians in their own order; parents are the cells of an octree over
the cloud's bounding cube (Morton codes) that hold two or more nodes, up to 8 children each. A parent matches
its children's moments
(weights w = opacity × area, area ∝ sqrt(e2(Σ))): mean and covariance (incl. the spread of the
children's means), SH as the weighted mean, and opacity so the opacity-weighted area is kept.

Per frame, each node gets a projected size in pixels (3σ extent · f / distance, 0 off-screen),
made monotone up the tree (a parent is at least as large as any child; a child's size is also
capped by its parent's, so floating point cannot break that). For a threshold τ px a
node is drawn with weight ramp(lo) − ramp(hi), where lo is its own size (0 for leaves), hi its
parent's (∞ at the root) and ramp(x) = clamp(log(τ/x) / log FADE_BAND, 0, 1): along every
root-to-leaf path the weights sum to 1, so a parent fades in as its children fade out over a
band of projected sizes instead of popping. τ is the smallest value whose cut fits the budget.
The cut walks down from the roots and stops where a subtree is closed for every τ it can pick,
so its cost follows the cut's size rather than the cloud's.

The tree is cached beside the source file (`<file>.lod.npz`), keyed by the file's size, mtime,
a hash of its first 64 KiB and a fingerprint of the cloud (so a transform or crop rebuilds it).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citywalk.errors import SceneError

from .gaussians import GaussianCloud
from .splat_math import alpha_cutoff_maha

MORTON_BITS = 21         # octree depth: cells down to span / 2^21
FADE_BAND = 1.6          # a parent and its children cross-fade over this ratio of projected sizes
EXTENT_SIGMA = 3.0       # a node's size is this many std-devs of its largest axis
LOD_CACHE_VERSION = 1
_HINT_MARGIN = 1.05       # the cut starts looking just below the previous frame's τ
CULL_MARGIN_PX = 16.0     # a node counts as visible this far beyond the image border
_HEADER_HASH_BYTES = 64 << 10
_BUILD_CHUNK = 1 << 20   # the build gathers and merges about this many nodes at a time
_GRID = np.geomspace(1e-3, 1e5, 801)  # candidate thresholds τ (px), ratio ≈ 1.023
_LOG_GRID0 = np.float32(np.log(_GRID[0]))
_INV_LOG_STEP = np.float32((len(_GRID) - 1) / np.log(_GRID[-1] / _GRID[0]))


@dataclass
class SplatLOD:
    """A tree over a cloud. `nodes` holds the leaves [0, n_leaves) (the cloud itself, same order)
    then the parents level by level; `parent` (M,) int64 (-1 at roots); `children` and
    `child_ptr` list each parent's children (parent n_leaves + j owns children[child_ptr[j]:
    child_ptr[j + 1]]); `level_ptr` (L+1,) bounds the parent levels inside that numbering
    (relative to n_leaves); `extent_m` (M,) 3σ size; `bound_m` (M,) radius of a sphere about the
    node's mean holding its whole subtree."""

    nodes: GaussianCloud
    n_leaves: int
    parent: np.ndarray
    children: np.ndarray
    child_ptr: np.ndarray
    level_ptr: np.ndarray
    extent_m: np.ndarray
    bound_m: np.ndarray

    def __post_init__(self) -> None:
        n, nodes = self.n_leaves, self.nodes
        ext = self.extent_m.astype(np.float64)
        spread = np.zeros(nodes.count)
        means = nodes.means.astype(np.float64)
        bound = np.maximum(self.bound_m, self.extent_m).astype(np.float64)
        for lv in range(len(self.level_ptr) - 1):
            kids, offs, ids = self._level(lv)
            rep = np.repeat(ids, np.diff(self.child_ptr[self.level_ptr[lv]:self.level_ptr[lv + 1] + 1]))
            gap = np.linalg.norm(means[kids] - means[rep], axis=1)
            spread[ids] = np.maximum.reduceat(gap + spread[kids], offs)
            bound[ids] = np.maximum(bound[ids], np.maximum.reduceat(gap + bound[kids], offs))
            ext[ids] = np.maximum(ext[ids], np.maximum.reduceat(ext[kids], offs))
        # Per parent: largest extent in its subtree and how far the subtree's means reach from
        # its own, so f·E/(d − D) bounds every descendant's projected size (monotone up the tree).
        self.bound_m = (bound * (1.0 + 1e-6)).astype(np.float32)  # nested: a child's sphere inside its parent's
        self._sub_extent_m = ext[n:].astype(np.float32)
        self._sub_spread_m = spread[n:].astype(np.float32)
        self._n_children = np.diff(self.child_ptr)
        self._pm = [np.ascontiguousarray(nodes.means[n:, i]) for i in range(3)]
        self._grand = self.parent[n:] - n  # a parent's parent, relative (-1 - n at roots)
        owner = np.repeat(np.arange(len(self._n_children)), self._n_children)
        is_leaf = self.children < n
        self._leaf_kids, self._leaf_owner = self.children[is_leaf], owner[is_leaf]
        # the leaf children of parent j are _leaf_kids[_leaf_ptr[j]:_leaf_ptr[j + 1]] (owner is sorted)
        self._leaf_ptr = np.searchsorted(self._leaf_owner, np.arange(len(self._n_children) + 1))
        # the parent children of parent j (relative ids) are _pkids[_pkid_ptr[j]:_pkid_ptr[j + 1]]
        self._pkids = self.children[~is_leaf] - n
        self._pkid_ptr = np.searchsorted(owner[~is_leaf], np.arange(len(self._n_children) + 1))
        self._leaf_count, self._pkid_count = np.diff(self._leaf_ptr), np.diff(self._pkid_ptr)
        self._roots = np.flatnonzero(self._grand < 0)
        # per parent, Σ (1 − children) over the parents below it: what a subtree closed at any
        # threshold adds to the cut's size beyond its own root (so the cut need not visit it)
        below = np.zeros(len(self._n_children), np.int64)
        for lv in range(len(self.level_ptr) - 1):
            kids, offs, ids = self._level(lv)
            rel = kids - n
            inner = rel >= 0
            term = np.zeros(len(kids), np.int64)
            term[inner] = 1 - self._n_children[rel[inner]] + below[rel[inner]]
            below[ids - n] = np.add.reduceat(term, offs)
        self._below = below
        self._tau_hint = 4.0  # where the next cut starts looking (any value gives the same cut)

    def _level(self, lv: int):
        """(children ids, reduceat offsets, parent ids) of parent level `lv`."""
        a, z = self.level_ptr[lv], self.level_ptr[lv + 1]
        kids = self.children[self.child_ptr[a]:self.child_ptr[z]]
        return kids, self.child_ptr[a:z] - self.child_ptr[a], self.n_leaves + np.arange(a, z)

    @property
    def count(self) -> int:
        return self.nodes.count

    def cut(self, R_w2c, t_w2c, K, size_px, budget: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Nodes to draw for this view under `budget` splats → (indices (S,) int64, fade (S,)
        float32 in (0, 1], threshold τ px). With budget ≥ n_leaves every leaf is returned at
        full weight (the exact cloud). Only parents are measured: a leaf's weight follows its
        parent's projected size. The tree is walked from the roots and a subtree is entered only
        while it may still be open, so a frame's cost follows the cut, not the cloud."""
        n = self.n_leaves
        if budget >= n or self.count == n:
            return np.arange(n), np.ones(n, np.float32), 0.0
        ids, px, tau = self._measure(R_w2c, t_w2c, K, size_px, budget)
        self._tau_hint = tau
        n_par = len(self._n_children)
        px_of = np.empty(n_par, np.float32)  # only the measured entries are ever read
        px_of[ids] = px
        grand = self._grand[ids]
        hi = np.full(len(ids), np.inf, np.float32)
        has = grand >= 0
        hi[has] = px_of[grand[has]]
        inv = 1.0 / np.log(FADE_BAND)
        with np.errstate(divide="ignore"):
            ramp_lo = np.clip(np.log(tau / px) * inv, 0.0, 1.0)  # px = 0 (off-screen) → 1
            ramp_hi = np.clip(np.log(tau / hi) * inv, 0.0, 1.0)  # root: hi = ∞ → 0
        eps = 1.0 / 1024.0
        # parents in id order (the depth sort is stable: ties keep this order, frame after frame)
        w_of = np.zeros(n_par, np.float32)
        w_of[ids] = ramp_lo - ramp_hi
        p_sel = np.flatnonzero(w_of > eps)
        w_parent = w_of[p_sel]
        # a leaf's weight is 1 − ramp_lo of its parent (not yet faded in): only the leaves of
        # parents still open are gathered, by their ranges in the owner-sorted leaf list
        w_of[ids] = 1.0 - ramp_lo  # every entry set above is overwritten; the rest stay 0
        open_p = np.flatnonzero(w_of > eps)
        first, count = self._leaf_ptr[open_p], self._leaf_count[open_p]
        sel = np.concatenate([self._leaf_kids[_ranges(first, count)], n + p_sel])
        weight = np.concatenate([np.repeat(w_of[open_p], count), w_parent]).astype(np.float32)
        return sel, weight, float(tau)

    def _measure(self, R_w2c, t_w2c, K, size_px, budget: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The parents a cut may need → (ids (V,) relative, px (V,), τ). A parent is measured
        when every ancestor is open at a trial threshold x (px · FADE_BAND > x); a subtree below
        one closed at x is closed at every τ ≥ x and adds a known constant to the cut's size, so
        sizes for all grid τ ≥ x are exact. If even the smallest of those fits the budget, x is
        lowered and the walk goes deeper. A node's px is capped by its parent's (monotone by
        construction), so the result does not depend on x."""
        view = self._view(R_w2c, t_w2c, K, size_px)
        n_children = self._n_children
        roots = self._roots
        seen_ids, seen_px = [roots], [self._px(roots, view)]
        frontier, frontier_px = roots, seen_px[0]
        x = self._tau_hint / _HINT_MARGIN
        while True:
            closed, closed_px = [], []
            expand, expand_px = frontier, frontier_px
            while len(expand):
                is_open = expand_px * np.float32(FADE_BAND) > x
                closed.append(expand[~is_open])
                closed_px.append(expand_px[~is_open])
                expand, parent_px = expand[is_open], expand_px[is_open]
                kid_count = self._pkid_count[expand]
                kids = self._pkids[_ranges(self._pkid_ptr[expand], kid_count)]
                if not len(kids):
                    break
                expand_px = np.minimum(self._px(kids, view), np.repeat(parent_px, kid_count))
                expand = kids
                seen_ids.append(kids)
                seen_px.append(expand_px)
            ids, px = np.concatenate(seen_ids), np.concatenate(seen_px)
            frontier, frontier_px = np.concatenate(closed), np.concatenate(closed_px)
            g0 = int(np.searchsorted(_GRID, x, "left"))
            base = self.n_leaves + int(self._below[frontier].sum())
            sizes = _cut_sizes(px, n_children[ids], base)
            if g0 == 0 or sizes[g0] > budget:
                fits = np.flatnonzero(sizes[g0:] <= budget)
                tau = float(_GRID[g0 + fits[0]] if len(fits) else _GRID[-1])
                return ids, px, tau
            x = x / FADE_BAND if x / FADE_BAND >= _GRID[0] else 0.0

    def _view(self, R_w2c, t_w2c, K, size_px) -> tuple:
        """The camera as parent_px reads it: rotation and translation float32, intrinsics, size."""
        return (np.asarray(R_w2c, np.float32), np.asarray(t_w2c, np.float32), np.asarray(K, np.float64),
                tuple(size_px))

    def parent_px(self, R_w2c, t_w2c, K, size_px) -> np.ndarray:
        """Per parent (P,) float32: f · (largest extent in its subtree) / (distance − subtree
        spread), an upper bound on every descendant's projected size; 0 where the node's
        bounding sphere is outside the view."""
        return self._px(None, self._view(R_w2c, t_w2c, K, size_px))

    def _px(self, ids, view) -> np.ndarray:
        """parent_px for the parents `ids` (relative; None: all of them)."""
        r, t, k, (w, h) = view
        sel = (lambda a: a) if ids is None else (lambda a: a[ids])
        mx, my, mz = (sel(a) for a in self._pm)
        pc = [mx * r[i, 0] + my * r[i, 1] + mz * r[i, 2] + t[i] for i in range(3)]
        dist = np.sqrt(pc[0] * pc[0] + pc[1] * pc[1] + pc[2] * pc[2])
        f = np.float32(max(k[0, 0], k[1, 1]))
        px = f * sel(self._sub_extent_m) / np.maximum(dist - sel(self._sub_spread_m), np.float32(1e-3))
        b = sel(self.bound_m[self.n_leaves:])
        out = pc[2] + b < 0.0
        for axis, focal, c, side in ((0, k[0, 0], k[0, 2], w), (1, k[1, 1], k[1, 2], h)):
            for slope, sign in (((side - 0.5 - c + CULL_MARGIN_PX) / focal, 1.0),
                                ((-0.5 - c - CULL_MARGIN_PX) / focal, -1.0)):
                # signed distance beyond the side plane (x = slope · z), positive outside
                d = (pc[axis] - np.float32(slope) * pc[2]) * np.float32(sign / np.sqrt(1.0 + slope * slope))
                out |= d > b
        px[out] = 0.0
        return px


def _ranges(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The positions first[i] .. first[i] + count[i] − 1 of every range, concatenated."""
    return np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))


def _grid_bins(x: np.ndarray, side: str) -> np.ndarray:
    """np.searchsorted(_GRID, x, side) for x ≥ 0, exactly, in a few passes instead of a binary
    search per value (4× faster on millions): the grid is geometric, so a log gives the bin to
    within one, and comparisons with the grid's own values settle it."""
    g = len(_GRID)
    with np.errstate(divide="ignore", invalid="ignore"):
        approx = np.floor((np.log(x.astype(np.float32)) - _LOG_GRID0) * _INV_LOG_STEP) + 1.0
    k = np.clip(np.nan_to_num(approx, nan=0.0, posinf=g, neginf=0.0), 0, g).astype(np.int64)
    xd = x.astype(np.float64)
    for _ in range(2):  # 'right' counts grid values ≤ x, 'left' those < x
        below = _GRID[np.minimum(k, g - 1)]
        k += (k < g) & ((below <= xd) if side == "right" else (below < xd))
        above = _GRID[np.maximum(k - 1, 0)]
        k -= (k > 0) & ((above > xd) if side == "right" else (above >= xd))
    return k


def _cut_sizes(px: np.ndarray, n_children: np.ndarray, base: int) -> np.ndarray:
    """The soft cut's size at every grid τ (len(_GRID),): base + #{parents with px < τ} −
    Σ children of parents with px · FADE_BAND ≤ τ (those children have faded out), over the
    parents given; `base` holds the leaves and whatever is not listed."""
    g = len(_GRID)
    # off-screen parents (px = 0) are in bin 0 of both: a constant, counted without binning them
    on = np.flatnonzero(px > 0)
    base = base + (len(px) - len(on)) - (int(n_children.sum()) - int(n_children[on].sum()))
    px, n_children = px[on], n_children[on]
    lo_bin = _grid_bins(px, "right")  # px < grid[k] ⇔ bin ≤ k
    hi_bin = _grid_bins(px * np.float32(FADE_BAND), "left")  # ≤ grid[k] ⇔ bin ≤ k
    count_lo = np.cumsum(np.bincount(lo_bin, minlength=g + 1)[:g])
    count_hi = np.cumsum(np.bincount(hi_bin, weights=n_children, minlength=g + 1)[:g])
    return base + count_lo - count_hi


# ---------------------------------------------------------------- building

def build_lod(cloud: GaussianCloud) -> SplatLOD:
    """The tree over `cloud`: an octree over 21-bit Morton codes, one parent per cell holding two
    or more nodes (single-child cells are skipped), so every parent covers a compact cell."""
    n = cloud.count
    if n == 0:
        raise SceneError("build_lod: the cloud is empty; nothing to build a level-of-detail tree over")
    cov6 = np.empty((n, 6))
    for a in range(0, n, _BUILD_CHUNK):  # (chunk, 3, 3) float64 at a time, not the whole cloud's
        cov6[a:a + _BUILD_CHUNK] = _cov6(cloud.subset(slice(a, a + _BUILD_CHUNK)).covariances())
    leaf = (cloud.means.astype(np.float64), cov6, cloud.opacities.astype(np.float64),
            cloud.sh.reshape(n, -1),  # float32 already: a view, not a copy
            np.sqrt(alpha_cutoff_maha(cloud.opacities)) * cloud.scales.max(axis=1))
    store = tuple(np.empty((max(n - 1, 1),) + a.shape[1:], a.dtype) for a in leaf)  # parents

    def rows(ids):
        is_leaf = ids < n
        out = tuple(np.empty((len(ids),) + a.shape[1:], a.dtype) for a in leaf)
        for o, lv, st in zip(out, leaf, store):
            o[is_leaf] = lv[ids[is_leaf]]
            o[~is_leaf] = st[ids[~is_leaf] - n]
        return out

    codes = _morton_codes(cloud.means)
    cur_ids = np.argsort(codes, kind="stable")
    codes = codes[cur_ids]
    links, children, child_ptr, level_ptr = [], [], [0], [0]
    next_id = n
    for _ in range(MORTON_BITS + 1):
        if len(cur_ids) == 1:
            break
        codes >>= np.uint64(3)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        sizes = np.diff(np.append(starts, len(codes)))
        multi = sizes > 1
        if not multi.any():
            continue
        member = np.repeat(multi, sizes)
        kids = cur_ids[member]
        k_sizes = sizes[multi]
        new_ids = next_id + np.arange(len(k_sizes))
        group_start = np.r_[0, np.cumsum(k_sizes)]
        # merge the level's groups in batches of about _BUILD_CHUNK children (bounded temporaries)
        cuts = np.unique(np.r_[np.searchsorted(group_start, np.arange(0, len(kids), _BUILD_CHUNK)), len(k_sizes)])
        for g0, g1 in zip(cuts[:-1], cuts[1:]):
            k0, k1 = group_start[g0], group_start[g1]
            merged = _merge(rows(kids[k0:k1]), group_start[g0:g1] - k0)
            for st, v in zip(store, merged):
                st[next_id - n + g0:next_id - n + g1] = v
        links.append((kids, np.repeat(new_ids, k_sizes)))
        children.append(kids)
        child_ptr.extend((child_ptr[-1] + np.cumsum(k_sizes)).tolist())
        level_ptr.append(level_ptr[-1] + len(new_ids))
        cur_ids = cur_ids[starts]
        cur_ids[multi] = new_ids
        codes = codes[starts]
        next_id += len(new_ids)
    parent = np.full(next_id, -1, np.int64)
    for ids, par in links:
        parent[ids] = par
    parts = tuple(st[:next_id - n] for st in store)
    return _assemble(cloud, parts, parent, np.concatenate(children), np.asarray(child_ptr, np.int64),
                     np.asarray(level_ptr, np.int64))


def _merge(arrays, starts):
    """Moment-matched parents of consecutive groups (starting at `starts`) of the nodes given as
    (means (g, 3), cov6 (g, 6), opacity (g,), sh (g, 3K), bound (g,)) in group order."""
    means, cov6, opac, sh, bound = arrays
    area = np.sqrt(np.maximum(_e2(cov6), 1e-30))
    w = opac * area + 1e-30
    wsum = np.add.reduceat(w, starts)
    mu = np.add.reduceat(means * w[:, None], starts) / wsum[:, None]
    sizes = np.diff(np.append(starts, len(w)))
    d = means - np.repeat(mu, sizes, axis=0)
    outer = np.stack([d[:, 0] * d[:, 0], d[:, 0] * d[:, 1], d[:, 0] * d[:, 2],
                      d[:, 1] * d[:, 1], d[:, 1] * d[:, 2], d[:, 2] * d[:, 2]], axis=1)
    cv = np.add.reduceat((cov6 + outer) * w[:, None], starts) / wsum[:, None]
    p_area = np.sqrt(np.maximum(_e2(cv), 1e-30))
    op = np.clip(np.add.reduceat(opac * area, starts) / p_area, 0.0, 1.0)
    s = np.add.reduceat(sh * w[:, None], starts) / wsum[:, None]
    b = np.maximum.reduceat(np.linalg.norm(d, axis=1) + bound, starts)
    return mu, cv, op, s, b


def _assemble(cloud, parts, parent, children, child_ptr, level_ptr) -> SplatLOD:
    mu, cv, op, sh, bound_p = parts
    scales, quats = _cov6_to_scales_quats(cv)
    k = cloud.sh.shape[1]
    parents_cloud = GaussianCloud(mu, scales, quats, op, sh.reshape(-1, k, 3), cloud.sh_degree)
    nodes = GaussianCloud.concatenate([cloud, parents_cloud])
    bound = np.concatenate([np.sqrt(alpha_cutoff_maha(cloud.opacities)) * cloud.scales.max(axis=1),
                            bound_p]).astype(np.float32)
    extent = (EXTENT_SIGMA * nodes.scales.max(axis=1)).astype(np.float32)
    return SplatLOD(nodes, cloud.count, parent, children, child_ptr, level_ptr, extent, bound)


def _cov6(cov: np.ndarray) -> np.ndarray:
    return cov[:, [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]]


def _e2(c: np.ndarray) -> np.ndarray:
    """Sum of the principal 2×2 minors of symmetric 3×3 matrices given as (xx xy xz yy yz zz)."""
    xx, xy, xz, yy, yz, zz = c.T
    return xx * yy - xy * xy + xx * zz - xz * xz + yy * zz - yz * yz


def _cov6_to_scales_quats(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariances (G, 6) → std-dev scales (G, 3) and w-first unit quaternions (G, 4)."""
    m = np.empty((len(c), 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 1], m[:, 1, 2], m[:, 2, 2] = c.T
    m[:, 1, 0], m[:, 2, 0], m[:, 2, 1] = m[:, 0, 1], m[:, 0, 2], m[:, 1, 2]
    evals, evecs = np.linalg.eigh(m)
    flip = np.linalg.det(evecs) < 0
    evecs[flip, :, 2] *= -1.0
    return np.sqrt(np.maximum(evals, 1e-14)), _matrices_to_quaternions(evecs)


def _matrices_to_quaternions(r: np.ndarray) -> np.ndarray:
    """Rotation matrices (G, 3, 3) → w-first unit quaternions (G, 4), branch by largest term."""
    tr = r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2]
    cand = np.stack([tr, r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]], axis=1)
    best = np.argmax(cand, axis=1)
    q = np.empty((len(r), 4))
    s = np.sqrt(np.maximum(1.0 + tr, 1e-12)) * 2.0
    i = best == 0
    q[i] = np.stack([0.25 * s[i], (r[i, 2, 1] - r[i, 1, 2]) / s[i], (r[i, 0, 2] - r[i, 2, 0]) / s[i],
                     (r[i, 1, 0] - r[i, 0, 1]) / s[i]], axis=1)
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3
        i = best == a + 1
        s = 2.0 * np.sqrt(np.maximum(1.0 + r[i, a, a] - r[i, b, b] - r[i, c, c], 1e-12))
        q[i, 0] = (r[i, c, b] - r[i, b, c]) / s
        q[i, 1 + a] = 0.25 * s
        q[i, 1 + b] = (r[i, b, a] + r[i, a, b]) / s
        q[i, 1 + c] = (r[i, c, a] + r[i, a, c]) / s
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _morton_codes(means: np.ndarray) -> np.ndarray:
    """3D Z-curve codes (N,) uint64 of points quantised to MORTON_BITS bits per axis over their
    bounding cube (a cube, so octree cells stay cubes)."""
    lo = means.min(axis=0).astype(np.float64)
    span = max(float((means.max(axis=0) - lo).max()), 1e-9)
    top = (1 << MORTON_BITS) - 1
    q = np.clip((means - lo) / span * top, 0, top).astype(np.uint64)
    code = np.zeros(len(means), np.uint64)
    for axis in range(3):
        v = q[:, axis]
        for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                            (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        code |= v << np.uint64(axis)
    return code


# ---------------------------------------------------------------- sidecar cache

def lod_sidecar_path(source) -> Path:
    """Where the tree of `source` is cached: beside it, `<name>.lod.npz`."""
    source = Path(source)
    return source.with_name(source.name + ".lod.npz")


def lod_cache_key(source, cloud: GaussianCloud) -> str:
    """The file's size, mtime and a hash of its first 64 KiB, plus a fingerprint of the cloud."""
    st = os.stat(source)
    h = hashlib.blake2b(digest_size=16)
    with open(source, "rb") as f:
        h.update(f.read(_HEADER_HASH_BYTES))
    h.update(np.ascontiguousarray(cloud.means).tobytes())
    h.update(np.ascontiguousarray(cloud.opacities).tobytes())
    h.update(f"{cloud.count}:{cloud.sh_degree}:{MORTON_BITS}:{LOD_CACHE_VERSION}".encode())
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()}"


def cached_lod(cloud: GaussianCloud, source=None) -> SplatLOD:
    """The tree for `cloud`, read from the sidecar beside `source` when its key matches, else
    built and written there atomically (a temporary file renamed into place). Without a
    source, or when the directory is not writable, the tree is just built."""
    if source is None or not Path(source).is_file():
        return build_lod(cloud)
    side = lod_sidecar_path(source)
    key = lod_cache_key(source, cloud)
    if side.is_file():
        lod = _read_sidecar(side, key, cloud)
        if lod is not None:
            return lod
    lod = build_lod(cloud)
    tmp = side.with_name(f"{side.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), parent=lod.parent, children=lod.children,
                     child_ptr=lod.child_ptr, level_ptr=lod.level_ptr, bound_m=lod.bound_m,
                     **_parent_arrays(lod))
        os.replace(tmp, side)
    except OSError:
        tmp.unlink(missing_ok=True)
    return lod


def _parent_arrays(lod: SplatLOD) -> dict:
    p = lod.nodes.subset(slice(lod.n_leaves, None))
    return {"means": p.means, "scales": p.scales, "rotations": p.rotations,
            "opacities": p.opacities, "sh": p.sh}


def _read_sidecar(path: Path, key: str, cloud: GaussianCloud) -> SplatLOD | None:
    """The cached tree, or None when the key differs or the file is unreadable/inconsistent."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            parents = GaussianCloud(z["means"], z["scales"], z["rotations"], z["opacities"],
                                    z["sh"], cloud.sh_degree)
            arrays = {k: z[k] for k in ("parent", "children", "child_ptr", "level_ptr", "bound_m")}
    except (OSError, ValueError, KeyError, SceneError):
        return None
    nodes = GaussianCloud.concatenate([cloud, parents])
    if len(arrays["parent"]) != nodes.count or len(arrays["bound_m"]) != nodes.count:
        return None
    extent = (EXTENT_SIGMA * nodes.scales.max(axis=1)).astype(np.float32)
    return SplatLOD(nodes, cloud.count, arrays["parent"], arrays["children"], arrays["child_ptr"],
                    arrays["level_ptr"], extent, arrays["bound_m"])
