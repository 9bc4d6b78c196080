"""Everything that makes a Scene. `build_scene` dispatches on the Shot's scene.source."""

from __future__ import annotations

from ..errors import NotBuiltYet
from ..scene import Scene


def build_scene(spec, min_extent_m: float = 200.0) -> Scene:
    """A Scene for a SceneSpec (procedural style + seed, or a file source)."""
    if spec.source == "procedural":
        from .procedural import generate_street, load_style

        style = load_style(spec.style)
        scene = generate_street(style, spec.seed, extent_m=min_extent_m)
        scene.stats["lit_window_share"] = style.facade.lit_window_share
        return scene
    raise NotBuiltYet(f"scene.source '{spec.source}' is not wired into rendering yet")
