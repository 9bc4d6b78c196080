"""Text burned into frames: data providers' copyright notices in the bottom-right corner."""

from __future__ import annotations

import numpy as np


class CornerText:
    """Renders `lines` once into a small RGBA patch and blends it into frames (H, W, 3) uint8."""

    def __init__(self, lines: list[str], size_px: tuple[int, int], margin_px: int = 6):
        from PIL import Image, ImageDraw, ImageFont

        w, h = size_px
        text = " · ".join(dict.fromkeys(line.strip() for line in lines if line.strip()))
        font = ImageFont.load_default()
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        box = probe.textbbox((0, 0), text, font=font)
        tw, th = box[2] - box[0] + 8, box[3] - box[1] + 6
        tw = min(tw, w - 2 * margin_px)
        patch = Image.new("RGBA", (tw, th), (0, 0, 0, 140))
        ImageDraw.Draw(patch).text((4, 2 - box[1]), text, font=font, fill=(255, 255, 255, 255))
        self.rgba = np.asarray(patch, np.float32) / 255.0
        self.x0, self.y0 = w - tw - margin_px, h - th - margin_px
        self.text = text

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame with the text blended in (a copy)."""
        out = frame.copy()
        h, w = self.rgba.shape[:2]
        region = out[self.y0:self.y0 + h, self.x0:self.x0 + w].astype(np.float32)
        a = self.rgba[..., 3:4]
        region = region * (1 - a) + self.rgba[..., :3] * 255.0 * a
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return out
