"""Geometry kits measured from the meshes they make: trees (trunk, limbs, alpha-tested leaf
cards), cars (body types, four wheels, lit lamps), facade depth (fire escapes, sills), street
furniture, and a plan that gives the same meshes for the same seed."""

from dataclasses import replace

import numpy as np
import pytest

from citywalk.errors import StyleError
from citywalk.scene import EMISSIVE, FOLIAGE
from citywalk.sources.geometry import MeshBuilder
from citywalk.sources.procedural import generate_street, load_style
from citywalk.sources.procedural import props as kit_props
from citywalk.sources.procedural.kit import Kit
from citywalk.sources.procedural.plan import plan_blocks, plan_street
from citywalk.sources.procedural.plan_props import lamp_positions, plan_props
from citywalk.sources.procedural.style import STYLE_DIR


def _by_material(b: MeshBuilder) -> dict:
    return {m.material.name: m for m in b.build()}


def test_tree_has_trunk_limbs_and_a_leaf_card_per_cluster():
    b = MeshBuilder()
    limbs = ((0.0, 0.8, 0.9), (1.3, 0.7, 0.8), (2.6, 0.9, 1.0), (3.9, 0.6, 0.85), (5.2, 0.75, 0.95))
    kit_props.tree(b, (0, 0, 0), 8.0, (0.1, 0.25, 0.05), 0.3, 1.0, limbs)
    m = _by_material(b)
    trunk, leaves = m["tree_trunk"], m["tree_leaves"]
    # one 7-sided trunk and one 5-sided limb per branch (open cylinders: 2 triangles a side)
    assert len(trunk.indices) == 2 * 7 + len(limbs) * 2 * 5
    limb_tips = trunk.positions[trunk.positions[:, 2] > 3.3]
    assert np.ptp(limb_tips[:, 0]) > 2.0 and np.ptp(limb_tips[:, 1]) > 2.0, "limbs spread out round the trunk"
    # a cluster at the top, one at each limb's tip and one half way: 3 crossed cards each
    assert len(leaves.indices) == 2 * kit_props.LEAF_CARDS * (1 + 2 * len(limbs))
    assert leaves.material.kind == FOLIAGE and leaves.material.texture == "leaves"
    assert leaves.uvs.min() == 0.0 and leaves.uvs.max() == 1.0
    assert leaves.positions[:, 2].max() > 7.0 and leaves.positions[:, 2].min() > 2.0, "a crown, not a bush"


def test_leaf_texture_is_cut_out_by_its_alpha():
    tex = kit_props.leaf_texture()
    assert tex.shape == (256, 256, 4) and tex.dtype == np.uint8
    alpha = tex[..., 3]
    leaf = alpha >= 128
    assert set(np.unique(alpha)) >= {0, 255}
    assert 0.3 < leaf.mean() < 0.8, "leaves with gaps between them"
    assert leaf[112:144, 112:144].mean() > 0.9 and leaf[:8].mean() < 0.05, "dense middle, open edge"
    assert np.array_equal(tex, kit_props.leaf_texture()), "the same texture every time"
    scene = generate_street(load_style("paris"), 3, 80.0)
    assert "leaves" in scene.textures and scene.textures["leaves"].shape[2] == 4


@pytest.mark.parametrize("body", sorted(kit_props.CAR_BODIES))
def test_car_has_four_wheels_glass_and_lit_lamps(body):
    b = MeshBuilder()
    kit_props.car(b, (10.0, 5.0, 0.0), 0.0, (0.6, 0.1, 0.1), body=body)
    m = _by_material(b)
    cb = kit_props.CAR_BODIES[body]
    tyre = m["tyre"].positions - (10.0, 5.0, 0.0)
    corners = {(bool(x > 0), bool(y > 0)) for x, y, _ in tyre}
    assert len(corners) == 4, "a wheel at each corner"
    assert np.allclose(np.unique(np.round(np.abs(tyre[:, 0]), 3)).max(), cb.wheelbase_m / 2 + cb.wheel_r_m,
                       atol=0.01)
    heads, tails = m["car_headlight"], m["car_taillight"]
    assert heads.material.kind == EMISSIVE and heads.material.emissive > 0 and tails.material.emissive > 0
    assert heads.positions[:, 0].min() > 10.0 + cb.length_m / 2 - 0.05, "headlights at the front"
    assert tails.positions[:, 0].max() < 10.0 - cb.length_m / 2 + 0.05, "tail lights at the back"
    glass = m["car_glass"].positions
    assert glass[:, 2].min() >= cb.belt_m - 1e-3 and glass[:, 2].max() <= cb.height_m
    body_pts = m["car_body"].positions
    assert np.ptp(body_pts[:, 0]) == pytest.approx(cb.length_m, abs=0.01)
    assert body_pts[:, 2].max() == pytest.approx(cb.height_m, abs=1e-3)


def test_car_bodies_differ_and_are_checked():
    assert kit_props.CAR_BODIES["kei"].length_m < kit_props.CAR_BODIES["hatchback"].length_m \
        < kit_props.CAR_BODIES["sedan"].length_m < kit_props.CAR_BODIES["van"].length_m
    assert kit_props.CAR_BODIES["van"].height_m > kit_props.CAR_BODIES["sedan"].height_m + 0.3
    with pytest.raises(ValueError, match="car body 'truck' is unknown"):
        kit_props.car(MeshBuilder(), (0, 0, 0), 0.0, (1, 1, 1), body="truck")


def test_style_car_bodies_are_validated(tmp_path):
    text = (STYLE_DIR / "tokyo.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('car_bodies = ["kei"', 'car_bodies = ["truck"'))
    with pytest.raises(StyleError, match="car_bodies"):
        load_style(str(bad))
    tokyo = load_style("tokyo")
    assert "kei" in tokyo.traffic.car_bodies


def _plan(style_name: str, seed: int = 7):
    style = load_style(style_name)
    rng = np.random.default_rng(seed)
    street = plan_street(style, rng, 120.0)
    return style, street, plan_blocks(style, rng, street, 8)


def _built(style, spec) -> dict:
    kit = Kit(style)
    kit.building(spec)
    return {m.material.name: len(m.indices) for m in kit.meshes()}


def test_new_york_facades_carry_fire_escapes_and_sills():
    style, _, specs = _plan("new_york")
    fire = [s for s in specs if s.extras.fire_escape]
    assert len(fire) >= 5, "fire escapes are common in new_york"
    spec = fire[0]
    with_fe = _built(style, spec)
    without = _built(style, replace(spec, extras=replace(spec.extras, fire_escape=False)))
    assert with_fe["railing"] - without.get("railing", 0) > 50 * (spec.body.storeys - 1)
    sill = next(s for s in specs if s.extras.sills and int(s.body.variation * 4) == 0)
    plain = replace(sill, extras=replace(sill.extras, sills=False))
    windows = sill.body.bays * (sill.body.storeys - 1)
    assert _built(style, sill)["trim"] - _built(style, plain).get("trim", 0) == 8 * windows
    tokyo, _, tspecs = _plan("tokyo")
    assert not any(s.extras.fire_escape for s in tspecs)
    assert any(s.extras.ac_units for s in tspecs) and any(s.extras.pipe_at_m is not None for s in tspecs)


def test_street_furniture_follows_the_style():
    for name, expected in (("tokyo", {"traffic_light", "bollard", "planter", "car"}),
                           ("paris", {"traffic_light", "bollard", "tree", "bench"}),
                           ("amsterdam", {"tree", "bicycle"})):
        style, street, specs = _plan(name)
        items = plan_props(style, np.random.default_rng(1), street, lamp_positions(style, street))
        kinds = {p.kind for p in items}
        assert expected <= kinds, (name, expected - kinds)
        kit = Kit(style)
        for p in items:
            kit.prop(p)  # every planned kind has a builder
        if name == "amsterdam":
            assert "bollard" not in kinds and "traffic_light" not in kinds, "none along a canal"
        if name == "tokyo":
            bodies = {p.body for p in items if p.kind == "car"}
            assert "kei" in bodies
            assert any(s.extras.a_frame is not None for s in specs)


def test_same_seed_same_meshes_other_seed_other_street():
    style = load_style("tokyo")
    a, b, c = (generate_street(style, seed, 80.0) for seed in (11, 11, 12))
    assert [m.material.name for m in a.meshes] == [m.material.name for m in b.meshes]
    for ma, mb in zip(a.meshes, b.meshes):
        assert np.array_equal(ma.positions, mb.positions) and np.array_equal(ma.indices, mb.indices)
        assert (ma.colors is None) == (mb.colors is None)
        if ma.colors is not None:
            assert np.array_equal(ma.colors, mb.colors)
    assert sum(len(m.indices) for m in a.meshes) != sum(len(m.indices) for m in c.meshes)
