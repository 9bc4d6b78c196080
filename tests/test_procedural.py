"""The procedural street: follows its style file, deterministic by seed, and walkable."""

import numpy as np
import pytest

from citywalk.errors import StyleError
from citywalk.scene import FACADE, SHOPFRONT
from citywalk.sources.procedural import generate_street, load_style


@pytest.fixture(scope="module")
def tokyo():
    return load_style("tokyo")


@pytest.fixture(scope="module")
def scene(tokyo):
    return generate_street(tokyo, seed=7, extent_m=160)


def _digest(scene):
    return [(m.material.name, m.positions.tobytes(), m.indices.tobytes()) for m in scene.meshes]


def test_same_seed_same_street_other_seed_other_street(tokyo, scene):
    again = generate_street(tokyo, seed=7, extent_m=160)
    assert _digest(again) == _digest(scene)
    for name in scene.textures:
        assert np.array_equal(again.textures[name], scene.textures[name])
    other = generate_street(tokyo, seed=8, extent_m=160)
    assert _digest(other) != _digest(scene)


def test_buildings_follow_the_style(tokyo, scene):
    b = scene.stats["buildings"]
    storeys = np.array([x["storeys"] for x in b])
    widths = np.array([x["width_m"] for x in b])
    assert len(b) > 100
    assert storeys.min() >= tokyo.buildings.storeys_min and storeys.max() <= tokyo.buildings.storeys_max
    assert storeys.max() >= 7, "a Tokyo street has some tall buildings"
    side = np.array([x["storeys"] for x in b if x["street"] == "side"])
    # storeys are drawn from a triangular distribution over [min, max] peaking at the mode
    bs = tokyo.buildings
    expected_mean = ((bs.storeys_min - 0.49) + bs.storeys_mode + (bs.storeys_max + 0.49)) / 3
    assert side.mean() == pytest.approx(expected_mean, abs=0.6)
    assert np.bincount(side).argmax() in (bs.storeys_mode, bs.storeys_mode + 1)
    lo, hi = tokyo.buildings.width_m
    # widths come from the range; the last lot of a frontage may stretch a little to end flush
    assert np.mean((widths >= lo - 1e-6) & (widths <= hi * 1.6)) > 0.97
    assert np.median(widths) == pytest.approx((lo + hi) / 2, abs=1.5)


def test_street_widths_follow_the_style(tokyo, scene):
    side = [s.road_width_m for s in scene.streets if s.kind == "side"]
    main = [s for s in scene.streets if s.kind == "main"]
    lo, hi = tokyo.network.side_road_width_m
    assert side and all(lo <= w <= hi for w in side)
    assert all(s.sidewalk_width_m == 0 for s in scene.streets if s.kind == "side")
    assert main and main[0].road_width_m == tokyo.network.main_road_width_m
    assert main[0].sidewalk_width_m == tokyo.network.main_sidewalk_width_m


def test_street_has_its_parts(scene):
    names = {m.material.name for m in scene.meshes}
    kinds = {m.material.kind for m in scene.meshes}
    for part in ("road", "sidewalk", "paint", "pole", "wire", "awning", "shutter", "lamp", "vending_body"):
        assert part in names, part
    assert any(n.startswith("signs_v") for n in names) and any(n.startswith("signs_h") for n in names)
    assert FACADE in kinds and SHOPFRONT in kinds
    assert len(scene.lights) > 20
    wires = next(m for m in scene.meshes if m.material.name == "wire")
    assert wires.positions[:, 2].max() > 7.0, "wires hang high on the poles"


def test_walk_network_is_connected_with_an_intersection(scene):
    net = scene.network
    adj = net.neighbours()
    assert max(len(v) for v in adj.values()) >= 3, "at least one junction"
    seen, todo = {0}, [0]
    while todo:
        for n in adj[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    assert len(seen) == len(net.nodes)
    assert {"sidewalk", "street_edge", "crossing"} <= set(net.edge_kinds)


def test_unknown_style_names_the_choices():
    with pytest.raises(StyleError) as e:
        load_style("tokio")
    assert "tokio" in str(e.value) and "tokyo" in str(e.value)


def test_bad_style_file_names_key_and_line(tmp_path):
    src = (load_style.__globals__["STYLE_DIR"] / "tokyo.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace("storeys_max = 10", "storeys_max = -3"))
    with pytest.raises(StyleError) as e:
        load_style(str(bad))
    msg = str(e.value)
    assert "buildings.storeys_max" in msg and "line" in msg
    line = int(msg.split("line ")[1].split(")")[0])
    assert "storeys_max" in bad.read_text().splitlines()[line - 1]
    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'x'\n[network\n")
    with pytest.raises(StyleError, match="malformed TOML"):
        load_style(str(broken))


def _plan(style, seed, monkeypatch=None, extra_draw_at=None):
    """The street's BuildingSpecs for `seed`; optionally lot number `extra_draw_at` draws one
    more number first (as a lot that gains a prop would)."""
    from citywalk.sources.procedural import plan as plan_mod

    if extra_draw_at is not None:
        original, calls = plan_mod.plan_building, [0]

        def plan_building(rng, *args, **kw):
            if calls[0] == extra_draw_at:
                rng.random()
            calls[0] += 1
            return original(rng, *args, **kw)

        monkeypatch.setattr(plan_mod, "plan_building", plan_building)
    rng = np.random.default_rng(seed)
    street = plan_mod.plan_street(style, rng, 160.0)
    return plan_mod.plan_blocks(style, rng, street, 8)


def test_one_lot_drawing_more_leaves_every_other_lot_as_it_was(tokyo, monkeypatch):
    before = _plan(tokyo, 7)
    for k in (5, len(before) // 3, len(before) // 2):
        with monkeypatch.context() as mp:
            after = _plan(tokyo, 7, mp, extra_draw_at=k)
        assert len(after) == len(before)
        assert after[k] != before[k], "the lot that drew more changed"
        assert [s for i, s in enumerate(after) if i != k] == [s for i, s in enumerate(before) if i != k]
        assert after[k].lot == before[k].lot, "where the lot lies is the street's choice, not the lot's"


def test_same_seed_same_plan_and_meshes(tokyo, scene):
    from citywalk.sources.procedural.kit import N_SIGNS, Kit
    from citywalk.sources.procedural.signs import SignBank

    assert _plan(tokyo, 7) == _plan(tokyo, 7)
    assert _plan(tokyo, 7) != _plan(tokyo, 8)
    meshes = []
    for _ in range(2):
        kit = Kit(tokyo, signs=SignBank(tokyo, np.random.default_rng(7), N_SIGNS))
        for spec in _plan(tokyo, 7):
            kit.building(spec)
        meshes.append([(m.material.name, m.positions.tobytes(), m.colors.tobytes()) for m in kit.meshes()])
    assert meshes[0] == meshes[1] and len(meshes[0]) > 5

