"""The drone rig over real procedural streets: never inside a building, sky in every frame,
and lifted smoothly over a roof that stands in its way."""

import numpy as np
import pytest

from citywalk.camera.rigs import drone_frames
from citywalk.camera.walk import RigSpec, WalkDynamics
from citywalk.pipeline import prepare
from citywalk.shot import Shot
from citywalk.sources.procedural import load_style
from citywalk.sources.procedural.street import StreetGenerator

SIZE = (160, 90)


def _shot(style: str) -> Shot:
    return Shot.model_validate({
        "scene": {"source": "procedural", "style": style, "seed": 7},
        "camera": {"rig": "drone"},
        "look": {"when": "noon"},
        "output": {"size": list(SIZE), "duration_s": 3.0, "fps": 4},
    })


def _footprints(style: str, extent_m: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]]:
    """(front corner, along, outward normal, width, depth, roof top) of every building, from the
    plan (not from the meshes the rig looked at)."""
    gen = StreetGenerator(load_style(style), np.random.default_rng(7), extent_m)
    gen.generate()
    out = []
    for sp in gen.specs:
        n = np.array(sp.lot.normal)
        front = np.array(sp.lot.origin_m) - n * (sp.body.setback_m + sp.ground.garden_m)
        out.append((front, np.array(sp.lot.along), n, sp.lot.width_m, sp.lot.depth_m,
                    max(sp.roof.top_m, sp.body.height_m + 4.0)))  # + water tanks, clutter
    return out


def _inside(p: np.ndarray, fp, margin_m: float = 0.5) -> bool:
    front, t, n, w, d, top = fp
    rel = p - front
    a, b = rel @ t, -(rel @ n)
    return -margin_m <= a <= w + margin_m and -margin_m <= b <= d + margin_m and p[2] <= top + margin_m


@pytest.mark.parametrize("style", ["tokyo", "new_york"])
def test_drone_stays_out_of_buildings_and_always_sees_sky(style):
    from citywalk.pipeline import scene_extent_m
    from citywalk.render.renderer import Renderer

    shot = _shot(style)
    p = prepare(shot)
    fps = _footprints(style, scene_extent_m(shot))
    for f in p.frames:
        hits = [fp for fp in fps if _inside(f.position, fp)]
        assert not hits, f"frame {f.index}: camera {f.position} inside a building"
    r = Renderer(p.scene, p.lighting, SIZE, samples=1)
    try:
        for f in p.frames:
            depth = r.render(f, want_depth=True)["depth"]
            assert (~np.isfinite(depth[:4])).any(), f"frame {f.index}: no sky in the top rows"
            assert np.isfinite(depth[-10:]).mean() > 0.9, f"frame {f.index}: the street is not below"
    finally:
        r.close()


def test_drone_is_lifted_smoothly_over_a_roof_in_its_way():
    route = np.array([[0.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    spec = RigSpec(24, 24 * 8, (320, 180), 75.0, WalkDynamics())

    def roofs(x, y):  # a 60 m tower over the route at x in [-20, -5]
        return 60.0 if -20.0 <= x <= -5.0 and abs(y) < 8.0 else 0.0

    free, _ = drone_frames(route, spec, altitude_m=25.0)
    lifted, _ = drone_frames(route, spec, roofs, altitude_m=25.0, clearance_m=4.0)
    z_free = np.array([f.position[2] for f in free])
    pos = np.array([f.position for f in lifted])
    near = np.array([roofs(x + dx, y + dy) for x, y, _ in pos for dx, dy in ((0, 0), (3, 0), (-3, 0))])
    assert z_free.max() < 60.0 and (near > 0).any(), "the free flight would pass through the tower"
    need = near.reshape(-1, 3).max(1) + 4.0
    assert np.all(pos[:, 2] >= need - 1e-6), "clear of the roof by the clearance"
    accel = np.abs(np.diff(pos[:, 2], 2)) * 24 * 24
    assert accel.max() < 8.0, f"vertical acceleration {accel.max():.1f} m/s^2: lifted without a jump"
    auto, _ = drone_frames(route, spec, roofs)
    assert min(f.position[2] for f in auto) >= 25.0 - 8.0 - 1e-6
