"""Text burned into frames: data providers' copyright notices in the bottom-right corner.

A notice wider than the frame is wrapped onto as many lines as it needs (at word boundaries,
inside a word only when one word alone is too wide), so nothing is cut off on small frames."""

from __future__ import annotations

import numpy as np


def wrap_to_width(text: str, fits) -> list[str]:
    """Split `text` into lines for which `fits(line)` holds: greedy by words, a word that alone
    does not fit is broken between characters (each line keeps at least one character)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if fits(trial):
            current = trial
            continue
        if current:
            lines.append(current)
        current = ""
        for ch in word:
            if current and not fits(current + ch):
                lines.append(current)
                current = ""
            current += ch
    if current:
        lines.append(current)
    return lines


class CornerText:
    """Renders `lines` once into a small RGBA patch and blends it into frames (H, W, 3) uint8.
    `lines` are the notices, joined with ' · ' and wrapped to fit the frame width; the wrapped
    rows are kept in `self.rows`."""

    def __init__(self, lines: list[str], size_px: tuple[int, int], margin_px: int = 6):
        from PIL import Image, ImageDraw, ImageFont

        w, h = size_px
        margin_px = max(0, min(margin_px, (w - 16) // 2))
        text = " · ".join(dict.fromkeys(line.strip() for line in lines if line.strip()))
        font = ImageFont.load_default()
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        inner_w = max(1, w - 2 * margin_px - 8)

        def width(s: str) -> int:
            box = probe.textbbox((0, 0), s, font=font)
            return box[2] - box[0]

        rows = wrap_to_width(text, lambda s: width(s) <= inner_w) if text else []
        box = probe.textbbox((0, 0), "Ag·(c)", font=font)
        line_h = box[3] - box[1] + 2
        tw = min(w - 2 * margin_px, max((width(r) for r in rows), default=0) + 8)
        th = min(h - 2 * margin_px, line_h * len(rows) + 4)
        patch = Image.new("RGBA", (max(tw, 1), max(th, 1)), (0, 0, 0, 140 if rows else 0))
        draw = ImageDraw.Draw(patch)
        for i, row in enumerate(rows):
            draw.text((4, 2 - box[1] + i * line_h), row, font=font, fill=(255, 255, 255, 255))
        self.rgba = np.asarray(patch, np.float32) / 255.0
        self.x0, self.y0 = w - patch.width - margin_px, h - patch.height - margin_px
        self.text = text
        self.rows = rows

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the text blended in (a copy)."""
        out = frame.copy()
        h, w = self.rgba.shape[:2]
        region = out[self.y0:self.y0 + h, self.x0:self.x0 + w].astype(np.float32)
        a = self.rgba[..., 3:4]
        region = region * (1 - a) + self.rgba[..., :3] * 255.0 * a
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return out
