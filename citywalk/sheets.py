"""Contact sheets that render through the pipeline: one still per city style, and one viewpoint
under every time of day × weather. They sit beside the CLI, right of the pipeline they drive."""

from __future__ import annotations

import numpy as np

from .errors import StyleError
from .shot import Shot
from .sources.procedural import load_style

MAX_SHEET_STYLES = 16


def styles_sheet(styles: list[str], when: str = "golden_hour", size: tuple[int, int] = (480, 270), seed: int = 7,
                 street: str = "main", at_s: float = 0.0, columns: int = 3) -> np.ndarray:
    """Render one still per style (walking the main street at `when`) and tile them with their
    names: (H, W, 3) uint8. Styles may be names, .toml paths or blends."""
    from .pipeline import render_still
    from .video.sheet import tile

    if not styles:
        raise StyleError("styles sheet: give at least one style")
    if len(styles) > MAX_SHEET_STYLES:
        raise StyleError(f"styles sheet: at most {MAX_SHEET_STYLES} styles, got {len(styles)}")
    for s in styles:
        load_style(s)  # fail early, naming the bad style
    images, labels = [], []
    for s in styles:
        images.append(render_still(_street_still(s, street, when, size, seed, at_s), at_s))
        labels.append(load_style(s).name)
    return tile(images, columns=min(columns, len(images)), cell_width_px=size[0], labels=labels)


def styles_grid(styles: list[str], times: tuple[str, ...] = ("noon", "night"),
                streets: tuple[str, ...] = ("main", "side"), size: tuple[int, int] = (320, 180), seed: int = 7,
                at_s: float = 4.0) -> np.ndarray:
    """One row per style, one column per street × time (main and side street, day and night),
    each a still of the style's default crowd: (H, W, 3) uint8, the look book of the README."""
    from .pipeline import render_still
    from .video.sheet import tile

    if not styles or len(styles) > MAX_SHEET_STYLES:
        raise StyleError(f"styles grid: give 1 to {MAX_SHEET_STYLES} styles, got {len(styles)}")
    for s in styles:
        load_style(s)
    images, labels = [], []
    for s in styles:
        for street in streets:
            for when in times:
                images.append(render_still(_street_still(s, street, when, size, seed, at_s), at_s))
                labels.append(f"{load_style(s).name} · {street} · {when}")
    return tile(images, columns=len(streets) * len(times), cell_width_px=size[0], labels=labels)


def _street_still(style: str, street: str, when: str, size: tuple[int, int], seed: int, at_s: float) -> Shot:
    """The Shot of one sheet cell: a walk in `style` on its main street (along the sidewalk) or a
    side street at `when`, long enough to hold the still at `at_s`."""
    from .pipeline import scene_extent_m

    spec = {"scene": {"source": "procedural", "style": style, "seed": seed},
            "camera": {"street": street}, "look": {"when": when},
            "output": {"size": list(size), "duration_s": max(10.0, at_s + 1.0), "extras": []}}
    if street == "main":
        spec["camera"]["route"] = main_street_route(style, seed, scene_extent_m(Shot.model_validate(spec)))
    return Shot.model_validate(spec)


def main_street_route(style: str, seed: int, extent_m: float, length_m: float = 40.0) -> list[list[float]]:
    """Waypoints [[x, y], ...] m for a walk along the main street's south sidewalk (or along
    the quay of a canal), starting mid-block past the side street at x = 0, heading +X."""
    from .sources.procedural import generate_street

    st = load_style(style)
    scene = generate_street(st, seed, extent_m)
    xs = list(scene.side_street_x_m)
    widths = [s.road_width_m for s in scene.streets if s.kind == "side"][: len(xs)]
    i = xs.index(0.0)
    net = st.network
    x0 = widths[i] / 2 + net.side_sidewalk_width_m + 7.0
    hw = net.main_road_width_m / 2
    y = -(net.canal_width_m / 2 + 3.0) if net.canal_width_m > 0 else -(hw + net.main_sidewalk_width_m / 2)
    return [[x0, y], [x0 + length_m, y]]


SHEET_TIMES = ("dawn", "noon", "golden_hour", "dusk", "night")
SHEET_WEATHERS = ("clear", "overcast", "fog", "hard_rain", "heavy_snow", "thunderstorm")


def look_sheet(
    shot: Shot, times=SHEET_TIMES, weathers=SHEET_WEATHERS, cell_px=(320, 180), at_s: float = 2.0
) -> np.ndarray:
    """One viewpoint of the Shot's street under every time × weather, tiled with labels (rows =
    times, columns = weathers): the quickest way to pick a look."""
    from .look.lighting import resolve_lighting
    from .pipeline import prepare
    from .render.renderer import Renderer
    from .video.sheet import tile

    small = shot.updated({"output": {"size": list(cell_px), "duration_s": max(at_s + 0.5, 1.0)}})
    p = prepare(small)
    scene, route, frames = p.scene, p.route, p.frames
    frame = frames[min(len(frames) - 1, int(at_s * small.output.fps))]
    images, labels = [], []
    for when in times:
        look = small.look.model_copy(update={"when": when})
        renderer = None
        for weather in weathers:
            lighting = resolve_lighting(look.model_copy(update={"weather": weather}))
            if renderer is None:
                renderer = Renderer(scene, lighting, tuple(cell_px), small.output.samples, focus_points=route)
            else:
                renderer.update_lighting(lighting)
            renderer.exposure = None  # meter each look afresh
            images.append(renderer.render(frame)["rgb"])
            labels.append(f"{when} / {weather}")
        renderer.close()
    return tile(images, len(weathers), cell_px[0], labels)
