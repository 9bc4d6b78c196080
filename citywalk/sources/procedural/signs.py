"""Shop signs with real lettering: seeded shop names from a style's word list, drawn in the
style's script with a Noto CJK font into a few atlas textures.

A style names its word list (`signs.lettering` → `styles/signs/<lettering>.toml`): patterns such
as "{name}{kind}" filled from seeded word draws. `SignBank` makes `n` horizontal and `n` vertical
names for a street, chooses their colours from the style's palette (with enough contrast to
read), and packs every face into 512² atlas layers (4 slots each). Vertical faces stack CJK
glyphs top to bottom (Latin capitals likewise). The kit maps a face onto a sign keeping the
lettering's proportions; the bank draws no numbers after it is made.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...errors import SceneError, StyleError
from .textures import hex_to_srgb

WORDS_DIR = Path(__file__).parent / "styles" / "signs"
FONT_DIRS = (  # where Debian, Fedora/Arch and a user install put Noto CJK
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
    Path("/usr/share/fonts/OTF"),
    Path.home() / ".local/share/fonts",
)
FONT_FILES = {"sans": "NotoSansCJK-Bold.ttc", "serif": "NotoSerifCJK-Bold.ttc"}
FACE_INDEX = {"japanese": 0, "traditional_chinese": 3, "latin": 0}  # JP, TC faces of the collection
ATLAS_PX = 512  # atlas layer side
SLOT_PX = 128  # slot thickness: horizontal slots are 512 x 128, vertical 128 x 512
SLOTS = ATLAS_PX // SLOT_PX
PAD_PX = 10
RENDER_PT = 112  # glyphs are drawn at this size, then fitted into a slot
GLOW_LUMINANCE = 0.22  # lit backgrounds brighter than this (relative luminance) are damped to it
ROTATE_IN_VERTICAL = set("ー－-〜")  # long marks turn to run down a vertical sign


class Lettering(BaseModel):
    """A word list file: the script, a font family and name patterns over word lists."""

    model_config = ConfigDict(extra="forbid")
    script: Literal["japanese", "traditional_chinese", "latin"]
    font: Literal["sans", "serif"] = "sans"
    upper_prob: float = Field(0.0, ge=0, le=1)
    patterns: list[str] = Field(min_length=1)
    vertical_patterns: list[str] = Field(default_factory=list)
    words: dict[str, list[str]]

    @model_validator(mode="after")
    def _keys(self) -> "Lettering":
        for pat in self.patterns + self.vertical_patterns:
            for key in _keys_of(pat):
                if not self.words.get(key):
                    raise ValueError(f"pattern '{pat}' uses {{{key}}} but [words] has no non-empty list '{key}'")
        return self


def _keys_of(pattern: str) -> list[str]:
    return [part.split("}", 1)[0] for part in pattern.split("{")[1:]]


@lru_cache(maxsize=16)
def load_lettering(name: str) -> Lettering:
    """The word list `styles/signs/<name>.toml`; a StyleError names the file and the fault."""
    p = WORDS_DIR / f"{name}.toml"
    if not p.is_file():
        known = ", ".join(sorted(f.stem for f in WORDS_DIR.glob("*.toml")))
        raise StyleError(f"signs.lettering '{name}': no word list {p}; known: {known}")
    try:
        return Lettering.model_validate(tomllib.loads(p.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"{p}: malformed TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "file"
        raise StyleError(f"{p}: {where}: {err['msg'].removeprefix('Value error, ')}") from None


def shop_name(rng: np.random.Generator, lettering: Lettering, vertical: bool = False) -> str:
    """One shop name: a pattern with each {key} filled by a word drawn from its list."""
    pats = (lettering.vertical_patterns or lettering.patterns) if vertical else lettering.patterns
    out = pats[int(rng.integers(len(pats)))]
    for key in _keys_of(out):
        words = lettering.words[key]
        out = out.replace("{" + key + "}", words[int(rng.integers(len(words)))], 1)
    if lettering.script == "latin" and (vertical or rng.random() < lettering.upper_prob):
        out = out.upper()
    return out


def font_path(family: str) -> Path:
    """The Noto CJK collection for `family` ('sans' | 'serif'); a SceneError says what to install."""
    name = FONT_FILES[family]
    for d in FONT_DIRS:
        if (d / name).is_file():
            return d / name
    raise SceneError(
        f"sign lettering needs the font {name}, not found in {', '.join(map(str, FONT_DIRS))}: "
        "install the Debian package fonts-noto-cjk (sudo apt-get install fonts-noto-cjk, or run "
        "scripts/sysdeps.sh)"
    )


@lru_cache(maxsize=8)
def _font(family: str, script: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(family)), RENDER_PT, index=FACE_INDEX[script])


@dataclass(frozen=True)
class SignFace:
    """One sign's lettering in the atlas: `uv` ((u0, v0) bottom-left, (u1, v1) top-right) frames
    the lettering, `bg_uv` is a texel of plain background, `aspect` the lettering's width/height;
    a vertical face also lists each glyph's square `cells` (top to bottom) so a tall sign can
    spread its glyphs down its length."""

    text: str
    vertical: bool
    texture: str
    uv: tuple[tuple[float, float], tuple[float, float]]
    bg_uv: tuple[float, float]
    aspect: float
    cells: tuple = ()
    glow_scale: float = 1.0


def _luminance(rgb: tuple[int, int, int]) -> float:
    c = np.asarray(rgb, float) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def pick_colors(rng: np.random.Generator, palette: list[tuple[int, int, int]]) -> tuple[tuple, tuple]:
    """A background and a lettering colour from `palette` with a contrast ratio of at least 3
    (WCAG large text); falls back to near-black or off-white lettering."""
    bg = palette[int(rng.integers(len(palette)))]
    fits = [c for c in palette if c != bg and _contrast(bg, c) >= 3.0]
    if fits:
        return bg, fits[int(rng.integers(len(fits)))]
    dark, light = (24, 24, 24), (246, 244, 236)
    return bg, dark if _contrast(bg, dark) > _contrast(bg, light) else light


def _mask(text: str, family: str, script: str) -> Image.Image:
    """The text as an 'L' mask cropped to its ink, drawn at RENDER_PT."""
    font = _font(family, script)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(img).text((-x0, -y0), text, font=font, fill=255)
    return img


def _glyph_cell(ch: str, family: str, script: str, cell_px: int) -> Image.Image:
    """One glyph centred in a cell_px square (a Latin capital keeps its own width)."""
    font = _font(family, script)
    img = Image.new("L", (RENDER_PT, RENDER_PT), 0)
    ImageDraw.Draw(img).text((RENDER_PT / 2, RENDER_PT / 2), ch, font=font, fill=255, anchor="mm")
    if ch in ROTATE_IN_VERTICAL:
        img = img.rotate(-90)
    return img.resize((cell_px, cell_px), Image.LANCZOS)


def _draw_horizontal(mask: Image.Image, box_w: int, box_h: int, cjk: bool) -> tuple[Image.Image, int]:
    """Fit the text mask into box_w x box_h: full height, condensed to 72% at most (CJK signs
    are often condensed), then shrunk. Returns the fitted mask and the slot width used."""
    w, h = mask.size
    th = box_h
    tw = w * th / h
    if tw > box_w:
        squeeze = max(0.72 if cjk else 0.85, box_w / tw)
        tw *= squeeze
        if tw > box_w:
            th *= box_w / tw
            tw = box_w
    return mask.resize((max(1, round(tw)), max(1, round(th))), Image.LANCZOS), round(tw)


class SignBank:
    """`n` horizontal and `n` vertical sign faces for one street, and their atlas textures."""

    def __init__(self, style, rng: np.random.Generator, n: int):
        self.lettering = load_lettering(style.signs.lettering)
        self.glow = float(style.signs.glow)
        palette = [hex_to_srgb(c) for c in style.signs.sign_colors]
        self.h: list[SignFace] = []
        self.v: list[SignFace] = []
        self.textures: dict[str, np.ndarray] = {}
        layers: dict[str, Image.Image] = {}
        for vertical, faces in ((False, self.h), (True, self.v)):
            names = self._names(rng, n, vertical)
            for i, text in enumerate(names):
                key = f"signs_{'v' if vertical else 'h'}{i // SLOTS}"
                if key not in layers:
                    layers[key] = Image.new("RGB", (ATLAS_PX, ATLAS_PX), (0, 0, 0))
                bg, fg = pick_colors(rng, palette)
                faces.append(self._paint(layers[key], key, i % SLOTS, text, vertical, bg, fg))
        for key, img in layers.items():
            a = np.asarray(img, np.uint8)
            self.textures[key] = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, np.uint8)], 2)

    def _names(self, rng: np.random.Generator, n: int, vertical: bool) -> list[str]:
        """n names, distinct while the word list allows."""
        out: list[str] = []
        for _ in range(n * 8):
            if len(out) == n:
                break
            name = shop_name(rng, self.lettering, vertical)
            if name not in out:
                out.append(name)
        while len(out) < n:
            out.append(out[len(out) % max(1, len(out))] if out else shop_name(rng, self.lettering, vertical))
        return out

    def _paint(self, layer: Image.Image, key: str, slot: int, text: str, vertical: bool, bg, fg) -> SignFace:
        """Draw `text` into `slot` of `layer` and return where it lies."""
        L = self.lettering
        cjk = L.script != "latin"
        sx, sy = (slot * SLOT_PX, 0) if vertical else (0, slot * SLOT_PX)
        sw, sh = (SLOT_PX, ATLAS_PX) if vertical else (ATLAS_PX, SLOT_PX)
        ImageDraw.Draw(layer).rectangle([sx, sy, sx + sw - 1, sy + sh - 1], fill=bg)
        ink = Image.new("RGB", (sw, sh), fg)
        if vertical:
            chars = [c for c in text if not c.isspace()]
            cell = min(SLOT_PX - 2 * PAD_PX, (ATLAS_PX - 2 * PAD_PX) // max(1, len(chars)))
            step = cell if cjk else int(cell * 0.92)
            mask = Image.new("L", (sw, sh), 0)
            cells = []
            for k, ch in enumerate(chars):
                gx, gy = sx + (sw - cell) // 2, PAD_PX + k * step
                mask.paste(_glyph_cell(ch, L.font, L.script, cell), (gx - sx, gy))
                cells.append(self._uv_rect(gx, gy, gx + cell, gy + cell, 1.0))
            used_h = 2 * PAD_PX + step * (len(chars) - 1) + cell
            rect = (sx, sy, sx + sw, sy + used_h)
        else:
            fitted, used_w = _draw_horizontal(_mask(text, L.font, L.script), sw - 2 * PAD_PX, sh - 2 * PAD_PX, cjk)
            mask = Image.new("L", (sw, sh), 0)
            mask.paste(fitted, (PAD_PX, (sh - fitted.height) // 2))
            rect = (sx, sy, sx + used_w + 2 * PAD_PX, sy + sh)
            cells = []
        layer.paste(ink, (sx, sy), mask)
        x0, y0, x1, y1 = rect
        bg_uv = ((sx + 3.5) / ATLAS_PX, (sy + 3.5) / ATLAS_PX)
        # a light background glows less, so the lettering still reads at night instead of drowning
        glow_scale = min(1.0, GLOW_LUMINANCE / max(_luminance(bg), 1e-3))
        return SignFace(text, vertical, key, self._uv_rect(x0, y0, x1, y1, 1.5), bg_uv, (x1 - x0) / (y1 - y0),
                        tuple(cells), glow_scale)

    @staticmethod
    def _uv_rect(x0, y0, x1, y1, inset_px: float):
        """Pixel rect → ((u0, v0), (u1, v1)) for a quad from its bottom-left corner: atlas row 0
        is v = 0, so the rect's bottom edge (y1) is v0."""
        S = float(ATLAS_PX)
        return ((x0 + inset_px) / S, (y1 - inset_px) / S), ((x1 - inset_px) / S, (y0 + inset_px) / S)
