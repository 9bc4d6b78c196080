"""Who walks: crowd density by name, and a seeded population of pedestrians spawned on the walk
lanes clear of walls, of each other and of the camera's start — each with a body (height, build),
clothing colours, a walking speed and a side of the sidewalk it keeps to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShotError
from .lanes import ClearanceField, Lane

CROWD_LEVELS = ("none", "light", "busy")
DENSITY_PER_M = {"none": 0.0, "light": 0.05, "busy": 0.2}  # pedestrians per metre of a weight-1 lane ...
REFERENCE_WIDTH_M = 3.0  # ... this wide (wider lanes hold proportionally more)
MAX_PEDESTRIANS = 600
WALL_MARGIN_M = 0.05     # extra clearance kept from walls and props beyond a body's radius
EDGE_MARGIN_M = 0.12     # kept from a lane's edge (the kerb) beyond the radius

# linear RGB palettes (albedo): everyday clothing, skin and hair
TOPS = np.array([
    (0.02, 0.02, 0.025), (0.03, 0.035, 0.05), (0.60, 0.60, 0.58), (0.70, 0.70, 0.68), (0.08, 0.09, 0.12),
    (0.25, 0.04, 0.04), (0.04, 0.08, 0.22), (0.30, 0.22, 0.12), (0.12, 0.20, 0.10), (0.45, 0.35, 0.22),
    (0.55, 0.10, 0.12), (0.15, 0.15, 0.16), (0.50, 0.42, 0.30), (0.06, 0.18, 0.35), (0.62, 0.50, 0.08),
])
BOTTOMS = np.array([
    (0.02, 0.02, 0.025), (0.04, 0.06, 0.14), (0.08, 0.10, 0.18), (0.12, 0.12, 0.13), (0.30, 0.25, 0.17),
    (0.05, 0.05, 0.06), (0.20, 0.20, 0.21), (0.03, 0.04, 0.08),
])
SHOES = np.array([(0.015, 0.015, 0.015), (0.05, 0.03, 0.02), (0.60, 0.60, 0.60), (0.02, 0.02, 0.03)])
SKINS = np.array([(0.60, 0.42, 0.32), (0.52, 0.36, 0.26), (0.42, 0.27, 0.18), (0.25, 0.15, 0.09),
                  (0.62, 0.46, 0.36), (0.13, 0.07, 0.04)])
HAIRS = np.array([(0.012, 0.010, 0.009), (0.03, 0.018, 0.01), (0.08, 0.05, 0.025), (0.30, 0.22, 0.12),
                  (0.35, 0.35, 0.35), (0.015, 0.012, 0.012)])


def check_crowd(value: str, where: str = "look.crowd") -> str:
    """The crowd level as a name from CROWD_LEVELS (ShotError naming the field otherwise)."""
    v = str(value).strip().lower()
    if v not in CROWD_LEVELS:
        raise ShotError(f"{where}: unknown crowd '{value}'; accepted: {', '.join(CROWD_LEVELS)}")
    return v


@dataclass
class Population:
    """M pedestrians: lane index, arc length s (m), left offset (m), direction (+1 along the
    lane, -1 against), preferred offset (m), cruising speed (m/s), radius (m), height (m),
    build (width factor), and colours (M, 5, 3): top, bottom, shoes, skin, hair."""

    lane: np.ndarray
    s_m: np.ndarray
    offset_m: np.ndarray
    direction: np.ndarray
    pref_offset_m: np.ndarray
    speed_mps: np.ndarray
    radius_m: np.ndarray
    height_m: np.ndarray
    build: np.ndarray
    colors: np.ndarray
    skirt: np.ndarray

    def __len__(self) -> int:
        return int(len(self.lane))


def body_radius_m(height_m, build) -> np.ndarray:
    """Half the width a walking body sweeps (shoulders and swinging hands)."""
    return 0.145 * np.asarray(height_m) * np.asarray(build)


def _bodies(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    female = rng.random(n) < 0.5
    height = np.where(female, rng.normal(1.62, 0.065, n), rng.normal(1.75, 0.07, n)).clip(1.45, 1.95)
    build = np.where(female, rng.normal(0.93, 0.06, n), rng.normal(1.03, 0.07, n)).clip(0.8, 1.25)
    speed = rng.normal(1.32, 0.16, n).clip(0.85, 1.8) * (height / 1.7) ** 0.5
    colors = np.stack([
        TOPS[rng.integers(0, len(TOPS), n)], BOTTOMS[rng.integers(0, len(BOTTOMS), n)],
        SHOES[rng.integers(0, len(SHOES), n)], SKINS[rng.integers(0, len(SKINS), n)],
        HAIRS[rng.integers(0, len(HAIRS), n)],
    ], 1) * rng.uniform(0.85, 1.15, (n, 1, 1))
    skirt = female & (rng.random(n) < 0.35)
    colors[skirt, 1] = TOPS[rng.integers(0, len(TOPS), int(skirt.sum()))]
    return dict(height_m=height, build=build, speed_mps=speed, colors=colors, skirt=skirt)


def spawn(lanes: list[Lane], field: ClearanceField, level: str, seed: int,
          keep_clear_xy: np.ndarray) -> Population:
    """A seeded population for crowd `level` on `lanes`: counts from DENSITY_PER_M × lane length ×
    weight × width / REFERENCE_WIDTH_M, positions drawn uniformly and rejected where a body would
    touch a wall, another body or any of the `keep_clear_xy` points (K, 2) (the camera's and
    actors' first positions)."""
    rng = np.random.default_rng([int(seed), 0xC0DE])
    density = DENSITY_PER_M[check_crowd(level)]
    counts = [int(rng.poisson(density * ln.length_m * ln.weight * (2 * ln.half_width_m / REFERENCE_WIDTH_M)))
              for ln in lanes]
    total = min(sum(counts), MAX_PEDESTRIANS)
    body = _bodies(rng, total)
    radius = body_radius_m(body["height_m"], body["build"])
    keep = np.asarray(keep_clear_xy, float).reshape(-1, 2)
    placed: list[tuple[int, float, float, int]] = []
    xy_placed: list[np.ndarray] = []
    r_placed: list[float] = []
    k = 0
    for li, (ln, c) in enumerate(zip(lanes, counts)):
        room = ln.half_width_m - EDGE_MARGIN_M
        for _ in range(c):
            if k >= total:
                break
            r = radius[k]
            if room <= r:
                break
            for _attempt in range(12):
                s = rng.uniform(1.0, ln.length_m - 1.0)
                d = rng.uniform(-(room - r), room - r)
                p = ln.world([s], [d])[0]
                if field.at(p[None], li)[0] < r + WALL_MARGIN_M:
                    continue
                if len(keep) and np.min(np.linalg.norm(keep - p, axis=1)) < r + 1.5:
                    continue
                if xy_placed and np.min(np.linalg.norm(np.array(xy_placed) - p, axis=1) - np.array(r_placed)) < r + 0.1:
                    continue
                direction = 1 if rng.random() < 0.5 else -1
                placed.append((li, s, d, direction))
                xy_placed.append(p)
                r_placed.append(r)
                k += 1
                break
    idx = np.arange(len(placed))
    lane = np.array([p[0] for p in placed], int)
    s = np.array([p[1] for p in placed], float)
    d = np.array([p[2] for p in placed], float)
    direction = np.array([p[3] for p in placed], float)
    half = np.array([lanes[i].half_width_m for i in lane]) if len(lane) else np.zeros(0)
    # keep to one side of the lane by walking direction (streams separate), loosely
    pref = -direction * half * rng.uniform(0.15, 0.55, len(lane))
    return Population(lane, s, d, direction, pref, body["speed_mps"][idx], radius[idx], body["height_m"][idx],
                      body["build"][idx], body["colors"][idx], body["skirt"][idx])
