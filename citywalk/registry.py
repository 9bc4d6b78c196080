"""The one list of scene sources: name → loader, CLI flag, whether it reads a file. The Shot
validates `scene.source` against it, the CLI makes its world flags from it, and
`sources.build_scene` calls the loader it names. Adding a world is one row here and one loader."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class SceneSource:
    """One kind of world. `loader` is 'module:function', imported only when a scene is built;
    the function takes (spec, min_extent_m, cameras) and returns a placed Scene. A source with a
    `video_route` has no Scene: `pipeline.render_shot` hands its Shot to that function instead of
    the renderer: (shot, video_path, side_paths, on_fraction, render=render_shot) → (frame count,
    extras, timings_s, copyright)."""

    name: str
    loader: str
    needs_path: bool
    cli_help: str = ""
    video_route: str | None = None

    @property
    def cli_flag(self) -> str | None:
        """The `citywalk render` flag that picks this source with a path (None for procedural)."""
        return f"--{self.name}" if self.needs_path else None

    def load(self) -> Callable:
        return _import(self.loader)

    def load_video_route(self) -> Callable | None:
        """The function that makes this source's video without a renderer, or None for Scene sources."""
        return _import(self.video_route) if self.video_route else None


def _import(target: str) -> Callable:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


SCENE_SOURCES: dict[str, SceneSource] = {s.name: s for s in (
    SceneSource("procedural", "citywalk.sources:load_procedural", False),
    SceneSource("osm", "citywalk.sources:load_osm_source", True,
                "walk through an OpenStreetMap extract (.osm, .osm.pbf), dressed in --style"),
    SceneSource("mesh", "citywalk.sources:load_mesh_source", True, "walk through a mesh (.glb, .gltf, .obj, .ply)"),
    SceneSource("kmz", "citywalk.sources:load_kmz_source", True, "walk through Google Earth-style KMZ models"),
    SceneSource("tiles", "citywalk.sources:load_tiles_source", True, "walk through local 3D Tiles (tileset.json)"),
    SceneSource("splat", "citywalk.sources:load_splat_source", True,
                "walk through a Gaussian splat scene (.ply .splat .spz .sog .ksplat .glb) or a captured scene by name"),
    SceneSource("generated", "citywalk.generate.shot:no_scene", False,
                "text → first frame → image-to-video (scene.prompt); no geometry",
                video_route="citywalk.generate.shot:render_generated"),
)}
