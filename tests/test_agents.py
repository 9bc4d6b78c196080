"""Life in the streets (citywalk.agents): a 10-s busy walk on a Tokyo main street checked by
geometry — nobody walks through a wall, a prop, another person, the camera or the actor, feet in
contact sit on the ground and do not slide, cars keep their lanes and never overlap — plus
determinism of the states and of a rendered clip, and the Shot's look.crowd field."""

from __future__ import annotations

import numpy as np
import pytest

from citywalk.agents import crowd_for_shot, plan_agents
from citywalk.agents.gait import J
from citywalk.agents.lanes import mesh_slices
from citywalk.agents.steer import MOVER_RADIUS_M
from citywalk.agents.traffic import CAR_LENGTH_M, CAR_WIDTH_M
from citywalk.errors import ShotError
from citywalk.shot import Shot
from citywalk.sources import build_scene
from citywalk.sources.meshes import ground_height_fn

FPS, SECONDS = 24, 10.0
N = int(FPS * SECONDS)


@pytest.fixture(scope="module")
def walk():
    """A busy Tokyo main street; the camera walks the south sidewalk's centre east at 1.4 m/s
    with an actor 3 m ahead of it, both through the crowd."""
    shot = Shot.from_dict({"scene": {"source": "procedural", "style": "tokyo", "seed": 7}})
    scene = build_scene(shot.scene, min_extent_m=160.0)
    t = np.arange(N) / FPS
    cam = np.stack([-20.0 + 1.4 * t, np.full(N, -6.0)], 1)
    actor = (cam + [3.0, 0.0])[:, None, :]
    agents = plan_agents(scene, "busy", 7, FPS, N, cam, actor)
    return scene, cam, actor, agents


def _segment_distance(p, a, b):
    ab = b - a
    u = np.clip(np.sum((p - a) * ab, 1) / np.maximum(np.sum(ab * ab, 1), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + ab * u[:, None]), axis=1)


def test_a_busy_street_has_a_crowd_and_traffic(walk):
    _, cam, _, agents = walk
    near = np.linalg.norm(agents.track.xy[0] - cam[0], axis=1) < 40
    assert len(agents.population) > 80 and near.sum() >= 8
    assert agents.traffic.position.shape[1] >= 4
    walked = np.linalg.norm(agents.track.xy[-1] - agents.track.xy[0], axis=1)
    assert np.median(walked) > 8.0  # they walk (about 1.3 m/s), they do not stand


def test_nobody_touches_another_body_the_camera_or_the_actor(walk):
    _, cam, actor, agents = walk
    xy, r = agents.track.xy, agents.population.radius_m
    need = r[:, None] + r[None, :]
    np.fill_diagonal(need, -1.0)
    worst = np.inf
    for f in range(N):
        d = np.linalg.norm(xy[f, :, None] - xy[f, None], axis=2)
        worst = min(worst, float((d - need)[need > 0].min()))
        assert np.all(np.linalg.norm(xy[f] - cam[f], axis=1) >= r + MOVER_RADIUS_M), f"camera, frame {f}"
        assert np.all(np.linalg.norm(xy[f] - actor[f, 0], axis=1) >= r + MOVER_RADIUS_M), f"actor, frame {f}"
    assert worst > 0.0


def test_nobody_walks_through_a_wall_or_a_prop(walk):
    from scipy.spatial import cKDTree

    scene, _, _, agents = walk
    seg = mesh_slices(scene)
    a, b = seg[:, 0], seg[:, 1]
    n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / 0.05).astype(int)) + 1
    k = np.repeat(np.arange(len(a)), n)
    u = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n)
    tree = cKDTree(a[k] + (b[k] - a[k]) * u[:, None])
    r = agents.population.radius_m
    for f in range(0, N, 2):
        p = agents.track.xy[f]
        for i, cand in enumerate(tree.query_ball_point(p, r + 0.1)):
            if cand:
                ids = np.unique(k[cand])
                d = _segment_distance(np.broadcast_to(p[i], (len(ids), 2)), a[ids], b[ids])
                assert d.min() >= r[i], f"pedestrian {i} {d.min():.3f} m from a wall at frame {f}"


def test_feet_in_contact_are_on_the_ground_and_do_not_slide(walk):
    scene, _, _, agents = walk
    ground = ground_height_fn(scene)
    g = agents.gait
    pts = g.contact_point[g.contact]
    assert len(pts) > 10000
    sample = pts[:: max(1, len(pts) // 4000)]
    err = np.array([p[2] - ground(p[0], p[1], p[2] + 0.5) for p in sample])
    assert np.abs(err).max() < 0.03, f"foot {np.abs(err).max():.3f} m off the ground"
    # a planted heel (heel strike and flat foot) and toe (flat foot and push-off) stay put
    for joint, parts in (("heel", (0, 1)), ("toe", (1, 2))):
        for foot, side in enumerate(("l", "r")):
            p = g.joints[:, :, J[f"{joint}_{side}"]]
            part = g.contact_part[:, :, foot]
            same = np.isin(part[1:], parts) & np.isin(part[:-1], parts) & (g.step_index[1:, :, foot]
                                                                         == g.step_index[:-1, :, foot])
            slide = np.linalg.norm(p[1:] - p[:-1], axis=2)[same]
            assert same.sum() > 1000 and slide.max() < 0.02, f"{joint} slides {slide.max():.3f} m"


def test_cars_keep_their_lanes_and_never_overlap(walk):
    scene, _, _, agents = walk
    tr = agents.traffic
    main = next(st for st in scene.streets if st.kind == "main")
    half_road = main.road_width_m / 2
    assert np.all(np.abs(tr.position[:, :, 1]) + CAR_WIDTH_M / 2 < half_road)   # on the carriageway
    for ln in np.unique(tr.lane):
        y = tr.position[:, tr.lane == ln, 1]
        assert np.ptp(y) < 1e-6  # in its lane all the time
    for f in range(N):
        p, h = tr.position[f, :, :2], tr.heading[f]
        for i in range(len(p)):
            for j in range(i + 1, len(p)):
                rel = p[j] - p[i]
                along, across = abs(rel @ h[i]), abs(rel @ np.array([-h[i, 1], h[i, 0]]))
                assert along >= CAR_LENGTH_M or across >= CAR_WIDTH_M, f"cars {i}, {j} overlap at frame {f}"
    speed = np.linalg.norm(np.diff(tr.position[:, :, :2], axis=0), axis=2).mean(axis=0) * FPS
    assert np.median(speed) > 3.0  # they drive


def test_same_inputs_give_the_same_states(walk):
    scene, cam, actor, agents = walk
    a = plan_agents(scene, "busy", 7, FPS, 36, cam[:36], actor[:36])
    b = plan_agents(scene, "busy", 7, FPS, 36, cam[:36], actor[:36])
    np.testing.assert_array_equal(a.track.xy, b.track.xy)
    np.testing.assert_array_equal(a.gait.joints, b.gait.joints)
    np.testing.assert_array_equal(a.traffic.position, b.traffic.position)
    np.testing.assert_array_equal(a.track.xy, agents.track.xy[:36])  # the crowd does not look ahead
    other = plan_agents(scene, "busy", 8, FPS, 2, cam[:2], actor[:2])
    assert other.track.xy.shape != a.track.xy[:2].shape or not np.array_equal(other.track.xy, a.track.xy[:2])


def test_a_clip_with_a_crowd_renders_the_same_twice(tmp_path):
    from citywalk.pipeline import render_shot

    def shot(crowd):
        return Shot.from_dict({"scene": {"source": "procedural", "style": "tokyo", "seed": 7},
                               "camera": {"route": [[-20.0, -6.0], [20.0, -6.0]]},
                               "look": {"when": "noon", "crowd": crowd},
                               "output": {"size": [96, 64], "fps": 12, "duration_s": 2 / 12, "samples": 1}})
    def frames(crowd, name):  # the frames handed to the encoder (x264 here is not bit-repeatable)
        seen = []
        render_shot(shot(crowd), tmp_path / name, on_frame=lambda i, rgb: seen.append(rgb.tobytes()))
        return seen

    a, b, c = frames("busy", "a.mp4"), frames("busy", "b.mp4"), frames("none", "c.mp4")
    assert len(a) == 2 and a == b
    assert a != c  # the crowd is drawn


def test_look_crowd_is_validated_and_defaults_by_world():
    with pytest.raises(ShotError, match="crowd"):
        Shot.from_dict({"look": {"crowd": "packed"}})
    assert crowd_for_shot(Shot.from_dict({"scene": {"style": "tokyo"}})) == "busy"
    assert crowd_for_shot(Shot.from_dict({"scene": {"style": "paris"}, "look": {"crowd": "none"}})) == "none"
    assert crowd_for_shot(Shot.from_dict({"scene": {"source": "splat", "path": "x.ply"}})) == "none"
    assert plan_agents(build_scene(Shot.from_dict({}).scene, min_extent_m=160.0), "none", 1, 24, 2,
                       np.zeros((2, 2))) is None
