"""Physically based surface families made at run time: albedo, normal and roughness per family.

Each family (brick, stucco, stone, tile, tile_small, concrete, panel, asphalt, asphalt_wear,
sidewalk, metal, glass) is drawn from its own seeded numpy stream, tileable (every pattern and
noise is periodic in the square), and cached in-process: the same size gives the same arrays.

Two layers per family, both (S, S, 4) uint8:
- albedo: sRGB rgb (walls near white, tinted per building by the material colour), alpha 255;
- `name + PBR_SUFFIX`: tangent-space normal xyz encoded 0..255 (x along +u, y along +v = array
  rows, z out of the surface) and linear roughness 0..1 in alpha.
Heights are in millimetres over a known pixel size, so normal slopes are physical.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from ...scene import PBR_SUFFIX

FAMILY_SIZE_PX = 512
FACADE_TILE_M = 1.5  # one repeat of a wall family on a facade (mesh.frag samples walls at this scale)
ROAD_TILE_M = 4.0  # roads and the ground carry uv in 4 m units (street.py)
WEAR_TILE_M = 16.0  # asphalt_wear is sampled at a quarter of the road uv
SIDEWALK_TILE_M = 2.0  # sidewalk boxes: uv_per_m = 0.5
FAMILIES = ("brick", "stucco", "stone", "tile", "tile_small", "concrete", "panel",
            "asphalt", "asphalt_wear", "sidewalk", "metal", "glass")
_SEEDS = {name: 9100 + i for i, name in enumerate(FAMILIES)}


# ---- periodic building blocks ------------------------------------------------------------------
@lru_cache(maxsize=4)
def _freq_log(size: int) -> tuple[np.ndarray, np.ndarray]:
    """|f| in cycles per tile and its log, on the rfft2 grid (size, size // 2 + 1)."""
    fy = np.fft.fftfreq(size)[:, None] * size
    fx = np.fft.rfftfreq(size)[None, :] * size
    f = np.sqrt(fx * fx + fy * fy).astype(np.float32)
    f[0, 0] = 1.0
    return f, np.log(f)


def spectral_noise(rng: np.random.Generator, size: int, beta: float, f_min: float = 1.0,
                   f_max: float | None = None) -> np.ndarray:
    """Periodic noise with a power spectrum ~ f^-beta between f_min and f_max cycles per tile,
    zero mean and unit standard deviation, (size, size) float32. Drawn as random Fourier
    coefficients, so it tiles exactly."""
    f, logf = _freq_log(size)
    shape = f.shape
    spec = rng.standard_normal(shape, np.float32) + 1j * rng.standard_normal(shape, np.float32)
    band = (f >= f_min) if f_max is None else (f >= f_min) & (f <= f_max)
    out = np.fft.irfft2(spec * (np.exp(logf * (-beta / 2.0)) * band), s=(size, size)).astype(np.float32)
    out -= out.mean()
    return out / max(float(out.std()), 1e-9)


def _smooth(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def bond(size: int, cols: int, rows: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """A periodic running bond of cols x rows units, odd rows shifted by `offset` of a unit:
    (unit id (size, size) int, distance to the unit's edge in pixels (size, size) float32).
    A shifted bond needs an even number of rows to tile."""
    if offset and rows % 2:
        raise ValueError(f"a running bond with offset {offset} needs an even row count, got {rows}")
    c = np.arange(size, dtype=np.float32) + 0.5
    cw, ch = size / cols, size / rows
    row = np.floor(c / ch).astype(np.int64) % rows
    fy = c - row * ch
    dy = np.minimum(fy, ch - fy)
    col_p, dx_p = [], []
    for parity in (0, 1):
        xs = (c + parity * offset * cw) % size
        col = np.floor(xs / cw).astype(np.int64) % cols
        fx = xs - col * cw
        col_p.append(col)
        dx_p.append(np.minimum(fx, cw - fx))
    odd = (row % 2 == 1)[:, None]
    col2 = np.where(odd, col_p[1][None, :], col_p[0][None, :])
    dist = np.minimum(np.where(odd, dx_p[1][None, :], dx_p[0][None, :]), dy[:, None])
    return row[:, None] * cols + col2, dist.astype(np.float32)


def height_to_normal(height_mm: np.ndarray, px_mm: float) -> np.ndarray:
    """Tangent-space unit normals (size, size, 3) of a periodic height field (mm), with x along
    the columns (+u) and y along the rows (+v); wrap-around differences keep them tileable."""
    h = np.asarray(height_mm, np.float32)
    gx = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) * np.float32(-0.5 / px_mm)
    gy = (np.roll(h, -1, 0) - np.roll(h, 1, 0)) * np.float32(-0.5 / px_mm)
    inv = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
    return np.stack([gx * inv, gy * inv, inv], -1)


def _pack(albedo_srgb: np.ndarray, height_mm: np.ndarray, rough, px_mm: float):
    """(albedo RGBA8, normal+roughness RGBA8) from float fields."""
    s = height_mm.shape[0]
    alb = np.full((s, s, 4), 255, np.uint8)
    a = np.clip(np.asarray(albedo_srgb, np.float32) + 0.5, 0, 255).astype(np.uint8)
    alb[..., :3] = a[..., None] if a.ndim == 2 else a
    pbr = np.empty((s, s, 4), np.uint8)
    pbr[..., :3] = (height_to_normal(height_mm, px_mm) * 127.5 + 128.0).clip(0, 255).astype(np.uint8)
    pbr[..., 3] = (np.clip(np.broadcast_to(np.asarray(rough, np.float32), (s, s)), 0, 1) * 255 + 0.5).astype(np.uint8)
    return alb, pbr


def _per_unit(rng: np.random.Generator, ids: np.ndarray, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype(np.float32)[ids]


def _tilt(pbr: np.ndarray, rng: np.random.Generator, ids: np.ndarray, n: int, amp: float,
          face: np.ndarray) -> np.ndarray:
    """Each unit (tile, paver) laid a little off plane: a per-unit slope added to the normal
    (a height ramp would break at the periodic seams)."""
    nrm = pbr[..., :3].astype(np.float32) / 127.5 - 1.0
    nrm[..., 0] += _per_unit(rng, ids, n, -amp, amp) * face
    nrm[..., 1] += _per_unit(rng, ids, n, -amp, amp) * face
    nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
    out = pbr.copy()
    out[..., :3] = np.round((nrm * 0.5 + 0.5) * 255).astype(np.uint8)
    return out


def _wrapped_lines(size: int, lines: list[tuple[list[tuple[float, float]], int]], fill: int = 255) -> np.ndarray:
    """Polylines drawn on a periodic canvas (each also drawn shifted by ±size), (size, size) 0..1."""
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    for pts, width in lines:
        for sx in (-size, 0, size):
            for sy in (-size, 0, size):
                d.line([(px + sx, py + sy) for px, py in pts], fill=fill, width=width)
    return np.asarray(img, np.float32) / 255.0


def _random_walk(rng: np.random.Generator, size: int, steps: int, step_px: float, heading: float,
                 wander: float) -> list[tuple[float, float]]:
    p = rng.uniform(0, size, 2)
    pts = [tuple(p)]
    for _ in range(steps):
        heading += rng.normal(0, wander)
        p = p + step_px * np.array([np.cos(heading), np.sin(heading)])
        pts.append(tuple(p))
    return pts


# ---- families ------------------------------------------------------------------------------
def brick(rng, s):
    """Running bond, 7 bricks x 20 courses per 1.5 m (214 x 75 mm with mortar): mortar recessed
    ~4 mm with rounded arrises, per-brick tone and a few darker headers, rough face."""
    px = FACADE_TILE_M * 1000 / s
    ids, dist = bond(s, 7, 20, 0.5)
    joint = 5.0 / px  # half the 10 mm mortar joint, in px
    face = _smooth(dist, joint, joint + 7.0 / px)
    tone = _per_unit(rng, ids, 140, -22, 18)
    dark = (_per_unit(rng, ids, 140, 0, 1) < 0.12) * -22.0
    fine = spectral_noise(rng, s, 1.2, 24)
    grain = spectral_noise(rng, s, 0.3, 64)
    v_brick = 196 + tone + dark + 8 * fine + 5 * grain
    v_mortar = 232 + 6 * fine
    albedo = v_mortar + (v_brick - v_mortar) * face
    height = 4.0 * face + 0.25 * fine + 0.1 * grain + _per_unit(rng, ids, 140, -0.6, 0.6) * face
    rough = 0.95 - 0.1 * face
    return _pack(albedo, height, rough, px)


def stucco(rng, s):
    """Smooth render: trowel undulation and fine sand grain, faint blotches of weathering."""
    px = FACADE_TILE_M * 1000 / s
    low = spectral_noise(rng, s, 3.0, 1, 12)
    mid = spectral_noise(rng, s, 1.5, 8, 80)
    grain = spectral_noise(rng, s, 0.2, 100)
    albedo = 226 + 7 * low + 3 * mid + 3 * grain
    height = 0.25 * mid + 0.08 * grain + 0.6 * low
    return _pack(albedo, height, 0.9 + 0.03 * grain, px)


def stone(rng, s):
    """Cut-stone ashlar: 4 courses of 0.375 m, blocks of 0.75 m, chamfered 5 mm joints, per-block
    tone, tooled grain and soft weathering."""
    px = FACADE_TILE_M * 1000 / s
    ids, dist = bond(s, 2, 4, 0.5)
    face = _smooth(dist, 2.5 / px, 14.0 / px)
    low = spectral_noise(rng, s, 2.5, 1, 16)
    grain = spectral_noise(rng, s, 0.6, 40)
    tone = _per_unit(rng, ids, 8, -9, 9)
    albedo = 200 + (24 + tone + 6 * low + 4 * grain) * face
    height = 5.0 * face + 0.5 * grain + 0.8 * low * face
    return _pack(albedo, height, 0.82 + 0.05 * grain, px)


def _tiles(rng, s, cols, rows, offset, joint_mm, tone_amp):
    px = FACADE_TILE_M * 1000 / s
    ids, dist = bond(s, cols, rows, offset)
    half = joint_mm / 2 / px
    face = _smooth(dist, half, half + 2.5 / px)
    n = cols * rows
    tone = _per_unit(rng, ids, n, -tone_amp, tone_amp)
    low = spectral_noise(rng, s, 2.0, 1, 16)
    albedo = 170 + (62 + tone + 5 * low) * face
    height = 3.0 * face + 0.3 * low
    rough = 0.9 - 0.55 * face
    # glazed tiles sit a little unevenly: each tile tilted a little catches the light on its own
    alb, pbr = _pack(albedo, height, rough, px)
    return alb, _tilt(pbr, rng, ids, n, 0.06, face)


def tile(rng, s):
    """Japanese facade tile: 15 x 34 per 1.5 m (100 x 44 mm), half-offset, grey grout, glazed."""
    return _tiles(rng, s, 15, 34, 0.5, 6.0, 14)


def tile_small(rng, s):
    """Square 50 mm mosaic, stack bond."""
    return _tiles(rng, s, 30, 30, 0.0, 4.0, 10)


def concrete(rng, s):
    """Cast concrete: formwork panel joints every 0.75 m, tie holes, blotches, rain streaks."""
    px = FACADE_TILE_M * 1000 / s
    ids, dist = bond(s, 2, 2, 0.0)
    y, x = np.mgrid[0:s, 0:s].astype(np.float32)
    joint = 1.0 - _smooth(dist, 0.5, 2.0)
    tie_px = s / 4
    ty, tx = (y % tie_px) - tie_px / 2, (x % tie_px) - tie_px / 2
    hole = 1.0 - _smooth(np.sqrt(tx * tx + ty * ty), 6.0 / px * 2, 12.0 / px * 2)
    low = spectral_noise(rng, s, 2.6, 1, 20)
    pores = np.clip(spectral_noise(rng, s, 0.0, 120) - 2.2, 0, None)
    streak = spectral_noise(rng, s, 1.0, 1)[0:1, :].repeat(s, 0)
    streak = np.clip(streak, 0, None) * (0.5 + 0.5 * np.cos(2 * np.pi * y / s))
    albedo = 214 + 10 * low - 14 * streak - 30 * hole - 10 * joint - 25 * pores
    height = 0.8 * low - 2.5 * hole - 1.0 * joint - 1.5 * pores
    return _pack(albedo, height, 0.86 + 0.04 * low, px)


def panel(rng, s):
    """Cladding panels 0.75 x 0.5 m with 10 mm recessed joints and a faint per-panel tone."""
    px = FACADE_TILE_M * 1000 / s
    ids, dist = bond(s, 2, 3, 0.0)
    face = _smooth(dist, 5.0 / px, 8.0 / px)
    tone = _per_unit(rng, ids, 6, -6, 6)
    low = spectral_noise(rng, s, 2.2, 1, 16)
    albedo = 150 + (72 + tone + 3 * low) * face
    height = 4.0 * face + 0.2 * low
    return _pack(albedo, height, 0.65 - 0.15 * face + 0.03 * low, px)


def asphalt(rng, s):
    """Fine asphalt over a 4 m repeat: bitumen with bright aggregate chips, worn tone."""
    px = ROAD_TILE_M * 1000 / s
    low = spectral_noise(rng, s, 2.5, 1, 8)
    mid = spectral_noise(rng, s, 1.0, 8, 60)
    chips = spectral_noise(rng, s, 0.0, 60)
    stone = _smooth(chips, 1.0, 2.2)
    albedo = 80 + 8 * low + 6 * mid + 55 * stone - 8 * _smooth(-chips, 1.2, 2.5)
    height = 1.6 * chips + 0.5 * mid
    rough = 0.92 - 0.12 * stone
    return _pack(albedo, height, rough, px)


def asphalt_wear(rng, s):
    """Road wear over a 16 m repeat, multiplied over the fine asphalt (albedo 188 = x1 in linear):
    hairline cracks, tar-sealed crack lines (dark, glossy), patched rectangles, oil blotches."""
    px = WEAR_TILE_M * 1000 / s
    low = spectral_noise(rng, s, 2.8, 1, 6)
    cracks = _wrapped_lines(s, [(_random_walk(rng, s, 40, 4.0, rng.uniform(0, 6.3), 0.35), 1) for _ in range(22)])
    seals = _wrapped_lines(s, [(_random_walk(rng, s, 30, 6.0, rng.uniform(0, 6.3), 0.12), 3) for _ in range(6)])
    patch = np.zeros((s, s), np.float32)
    edge = np.zeros((s, s), np.float32)
    y, x = np.mgrid[0:s, 0:s]
    for _ in range(4):
        cx, cy = rng.uniform(0, s, 2)
        hw, hh = rng.uniform(20, 70, 2)
        dx = np.abs(((x - cx + s / 2) % s) - s / 2)
        dy = np.abs(((y - cy + s / 2) % s) - s / 2)
        inside = (dx < hw) & (dy < hh)
        patch = np.where(inside, rng.uniform(-0.35, 0.25), patch)
        edge = np.maximum(edge, inside & ((hw - dx < 1.5) | (hh - dy < 1.5)))
    oil = np.clip(spectral_noise(rng, s, 2.0, 4, 40) - 1.6, 0, None)
    lin = 1.0 + 0.12 * low + patch - 0.35 * cracks - 0.45 * seals - 0.3 * edge - 0.25 * np.clip(oil, 0, 1)
    albedo = 255 * (0.5 * np.clip(lin, 0.05, 1.9)) ** (1 / 2.2)
    height = -3.0 * cracks + 1.0 * seals + 2.0 * (patch != 0) + 0.4 * low
    rough = 1.0 - 0.45 * seals - 0.2 * np.clip(oil, 0, 1)
    return _pack(albedo, height, rough, px)


def sidewalk(rng, s):
    """Concrete pavers 0.5 m (4 x 4 per 2 m repeat), 4 mm joints, chamfer, each paver laid a
    little off level, per-paver tone, stains."""
    px = SIDEWALK_TILE_M * 1000 / s
    ids, dist = bond(s, 4, 4, 0.0)
    face = _smooth(dist, 2.0 / px, 10.0 / px)
    tone = _per_unit(rng, ids, 16, -14, 14)
    low = spectral_noise(rng, s, 2.4, 1, 16)
    grain = spectral_noise(rng, s, 0.3, 80)
    stain = np.clip(spectral_noise(rng, s, 2.0, 2, 30) - 1.2, 0, None)
    albedo = 120 + (62 + tone + 8 * low + 6 * grain) * face - 25 * stain
    height = 3.0 * face + 0.3 * grain + 0.5 * low
    alb, pbr = _pack(albedo, height, 0.88 + 0.04 * grain, px)
    return alb, _tilt(pbr, rng, ids, 16, 0.03, face)


def metal(rng, s):
    """Painted steel (1 m repeat): orange-peel paint, a few scratches and chips to dark metal."""
    px = 1000 / s
    peel = spectral_noise(rng, s, 1.0, 30, 160)
    low = spectral_noise(rng, s, 2.5, 1, 10)
    scratches = _wrapped_lines(s, [(_random_walk(rng, s, 6, 10.0, rng.uniform(0, 6.3), 0.05), 1) for _ in range(18)])
    chips = _smooth(spectral_noise(rng, s, 1.2, 10, 120), 2.4, 2.8)
    bare = np.clip(scratches * 0.7 + chips, 0, 1)
    albedo = 232 + 5 * low - 150 * bare
    height = 0.03 * peel - 0.05 * bare
    rough = 0.38 + 0.05 * low + 0.25 * bare
    return _pack(albedo, height, rough, px)


def glass(rng, s):
    """Float glass (1 m repeat): near-flat, a slow waviness that bends reflections, very smooth."""
    px = 1000 / s
    wave = spectral_noise(rng, s, 3.5, 1, 6)
    albedo = np.full((s, s), 30.0)
    return _pack(albedo, 0.12 * wave, np.full((s, s), 0.04, np.float32), px)


_MAKERS = {"brick": brick, "stucco": stucco, "stone": stone, "tile": tile, "tile_small": tile_small,
           "concrete": concrete, "panel": panel, "asphalt": asphalt, "asphalt_wear": asphalt_wear,
           "sidewalk": sidewalk, "metal": metal, "glass": glass}


@lru_cache(maxsize=2)
def family_layers(size_px: int = FAMILY_SIZE_PX) -> dict[str, np.ndarray]:
    """Every family's albedo layer (by name) and normal+roughness layer (name + PBR_SUFFIX),
    made once per process and size (read-only arrays shared by every scene)."""
    out: dict[str, np.ndarray] = {}
    for name in FAMILIES:
        alb, pbr = _MAKERS[name](np.random.default_rng(_SEEDS[name]), size_px)
        for key, arr in ((name, alb), (name + PBR_SUFFIX, pbr)):
            arr.setflags(write=False)
            out[key] = arr
    return out
