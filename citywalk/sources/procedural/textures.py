"""Procedural textures made at run time: every layer is an (S, S, 4) uint8 sRGB array.

Nothing is loaded from disk; the same rng gives the same textures.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SIZE_PX = 256


def hex_to_srgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' → (r, g, b) 0..255."""
    c = color.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"colour '{color}' is not #rrggbb")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def srgb_to_linear(rgb255: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB 0..255 → linear 0..1 (IEC 61966-2-1)."""
    out = []
    for v in rgb255:
        c = v / 255.0
        out.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return tuple(out)  # type: ignore[return-value]


def _noise(rng: np.random.Generator, octaves: int = 4, size: int = SIZE_PX) -> np.ndarray:
    """Tileable value noise in 0..1: sum of upsampled random grids, (size, size) float32."""
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 4 * 2**o
        grid = rng.random((cells, cells)).astype(np.float32)
        rep = size // cells
        # bilinear upsampling with wrap-around keeps the texture tileable
        g = np.kron(grid, np.ones((rep, rep), np.float32))
        shifted = (
            g + np.roll(g, rep // 2, 0) + np.roll(g, rep // 2, 1) + np.roll(np.roll(g, rep // 2, 0), rep // 2, 1)
        ) / 4
        out += amp * shifted
        total += amp
        amp *= 0.5
    return out / total


def _rgba(gray_or_rgb: np.ndarray) -> np.ndarray:
    a = np.clip(gray_or_rgb, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    alpha = np.full(a.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([a, alpha], axis=2)


def shutter(rng: np.random.Generator) -> np.ndarray:
    y = np.arange(SIZE_PX)[:, None] * np.ones((1, SIZE_PX))
    ridges = 0.5 + 0.5 * np.cos(y / SIZE_PX * 2 * np.pi * 24)
    v = 150 + 60 * ridges + 15 * (_noise(rng, 3) - 0.5)
    return _rgba(v)


def awning(rng: np.random.Generator, striped: bool) -> np.ndarray:
    x = np.arange(SIZE_PX)[None, :] * np.ones((SIZE_PX, 1))
    v = 235 + 12 * (_noise(rng, 3) - 0.5)
    if striped:
        v = np.where((x // 32) % 2 == 0, v, v * 0.55)
    y = np.arange(SIZE_PX)[:, None] * np.ones((1, SIZE_PX))
    v = np.where(y > SIZE_PX - 20, v * 0.8, v)  # hem
    return _rgba(v)


def vending(rng: np.random.Generator) -> np.ndarray:
    """Front of a drink vending machine: coloured body, 3 rows of bottles, lit panel, slot."""
    body = [(235, 235, 235), (200, 30, 40), (30, 80, 170), (40, 140, 80)][int(rng.integers(0, 4))]
    img = Image.new("RGB", (SIZE_PX, SIZE_PX), body)
    d = ImageDraw.Draw(img)
    d.rectangle([16, 12, SIZE_PX - 16, 150], fill=(245, 245, 240))
    palette = [
        (220, 40, 40),
        (40, 90, 200),
        (240, 200, 40),
        (60, 170, 70),
        (250, 250, 250),
        (120, 60, 30),
        (250, 130, 30),
    ]
    for row in range(3):
        y = 20 + row * 44
        for col in range(8):
            x = 22 + col * 27
            c = palette[int(rng.integers(0, len(palette)))]
            d.rectangle([x, y + 6, x + 16, y + 34], fill=c)
            d.rectangle([x + 4, y, x + 12, y + 6], fill=(90, 90, 90))
        d.rectangle([22, y + 36, SIZE_PX - 22, y + 40], fill=(70, 70, 70))
    d.rectangle([60, 170, 196, 200], fill=(30, 30, 30))
    d.rectangle([150, 215, 210, 240], fill=(20, 20, 20))
    return _rgba(np.asarray(img, np.float32))


def phone_box(rng: np.random.Generator) -> np.ndarray:
    """A red telephone box side: red frame, a light 'TELEPHONE' band, 3 x 8 small glazing panes."""
    red = (190, 18, 36)
    img = Image.new("RGB", (SIZE_PX, SIZE_PX), red)
    d = ImageDraw.Draw(img)
    d.rectangle([40, 14, SIZE_PX - 40, 30], fill=(235, 232, 220))
    for k in range(9):
        d.rectangle([60 + k * 15, 18, 68 + k * 15, 26], fill=(40, 30, 30))
    for row in range(8):
        for col in range(3):
            x0, y0 = 38 + col * 62, 44 + row * 22
            d.rectangle([x0, y0, x0 + 52, y0 + 16], fill=(38, 44, 52))
    v = np.asarray(img, np.float32) * (0.94 + 0.12 * _noise(rng, 3)[..., None])
    return _rgba(v)


def vehicle_side(rng: np.random.Generator) -> np.ndarray:
    """Side of a double-deck bus or tram (white, tinted per vehicle): two dark window bands,
    a light band between decks and a dark skirt."""
    img = Image.new("RGB", (SIZE_PX, SIZE_PX), (235, 235, 235))
    d = ImageDraw.Draw(img)
    for y0, y1 in ((28, 92), (140, 198)):
        for k in range(6):
            d.rectangle([8 + k * 41, y0, 44 + k * 41, y1], fill=(30, 34, 40))
    d.rectangle([0, 112, SIZE_PX, 122], fill=(250, 246, 225))
    d.rectangle([0, 238, SIZE_PX, SIZE_PX], fill=(40, 40, 40))
    v = np.asarray(img, np.float32) * (0.96 + 0.08 * _noise(rng, 3)[..., None])
    return _rgba(v)


def make_textures(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All layers a procedural street uses but its signs' (`signs.SignBank`), keyed by name: the
    material families (albedo and normal+roughness, the same for every street, cached) and the
    street's own props."""
    from .materials import family_layers

    tex: dict[str, np.ndarray] = dict(family_layers())
    tex["shutter"] = shutter(rng)
    tex["awning"] = awning(rng, False)
    tex["awning_striped"] = awning(rng, True)
    for i in range(3):
        tex[f"vending{i}"] = vending(rng)
    extra = np.random.default_rng(rng.integers(2**31))
    tex["phone_box"] = phone_box(extra)
    tex["vehicle_side"] = vehicle_side(extra)
    return tex
