"""Style thumbnails for the picker: a still of each style's main street at golden hour.

The built-in styles' thumbnails ship in static/thumbs/ (remake them with
`python -m citywalk.studio.thumbs`); a style without one is rendered by the preview process
on first request and kept in the data folder's cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

THUMB_SIZE_PX = (320, 180)
THUMB_AT_S = 2.0


def thumbnail_shot(style: str):
    from ..shot import Shot

    return Shot.from_dict({"scene": {"source": "procedural", "style": style, "seed": 7},
                           "camera": {"street": "main"}, "look": {"when": "golden_hour"},
                           "output": {"duration_s": 4, "size": list(THUMB_SIZE_PX), "samples": 1}})


def shipped_dir() -> Path:
    return Path(__file__).parent / "static" / "thumbs"


def shipped_thumbnail(style: str) -> Path | None:
    p = shipped_dir() / f"{style}.jpg"
    return p if p.is_file() else None


def main() -> int:
    """Render every built-in style's thumbnail into static/thumbs/."""
    from ..sources.procedural.style import builtin_styles
    from .preview import PreviewEngine

    engine = PreviewEngine(THUMB_SIZE_PX, quality=80)
    shipped_dir().mkdir(parents=True, exist_ok=True)
    for name in builtin_styles():
        data, info = engine.jpeg(thumbnail_shot(name), THUMB_AT_S)
        (shipped_dir() / f"{name}.jpg").write_bytes(data)
        print(f"{name}: {len(data)} bytes, {info['ms']} ms")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
