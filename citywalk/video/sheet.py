"""Contact sheets: evenly spaced frames of a video (or a list of images) tiled into one picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import VideoError


def video_frames_at(path: str | Path, count: int) -> list[np.ndarray]:
    """`count` evenly spaced decoded frames (H, W, 3) uint8 of a video."""
    from ..media import VideoFile

    frames = [f.rgb for f in VideoFile(path, VideoError, "contact sheet").frames()]
    idx = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in idx]


def tile(images: list[np.ndarray], columns: int, cell_width_px: int, labels: list[str] | None = None) -> np.ndarray:
    """Tile images (resized to `cell_width_px` wide) in rows of `columns`, with optional labels."""
    from PIL import Image, ImageDraw

    if not images:
        raise VideoError("contact sheet: no images")
    h0, w0 = images[0].shape[:2]
    cell_h = round(cell_width_px * h0 / w0)
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_width_px, rows * cell_h), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for k, img in enumerate(images):
        x, y = (k % columns) * cell_width_px, (k // columns) * cell_h
        sheet.paste(Image.fromarray(img).resize((cell_width_px, cell_h), Image.LANCZOS), (x, y))
        if labels:
            draw.rectangle([x, y, x + 7 * len(labels[k]) + 8, y + 16], fill=(0, 0, 0))
            draw.text((x + 4, y + 2), labels[k], fill=(255, 255, 255))
    return np.asarray(sheet)


def contact_sheet(video: str | Path, columns: int = 3, rows: int = 2, cell_width_px: int = 426) -> np.ndarray:
    """A sheet of columns × rows frames of `video`, labelled with their time."""
    from ..media import probe_video

    info = probe_video(video)
    frames = video_frames_at(video, columns * rows)
    times = np.linspace(0, (info.frame_count - 1) / (info.fps or 24.0), len(frames))
    return tile(frames, columns, cell_width_px, [f"{t:.1f} s" for t in times])
