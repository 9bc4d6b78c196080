"""City styles as data: every built-in style validates, generated streets follow their files,
blends land between their parents, user styles round-trip, bad files name key and line."""

import time

import numpy as np
import pytest

from citywalk.errors import StyleError
from citywalk.sources.procedural import generate_street, load_style
from citywalk.sources.procedural.style import STYLE_DIR, Style, builtin_styles, write_starter_style

SIX = ["tokyo", "paris", "new_york", "london", "hong_kong", "amsterdam"]
EXTENT_M = 160


@pytest.fixture(scope="module")
def scenes():
    out = {}
    for name in SIX:
        t0 = time.perf_counter()
        out[name] = (generate_street(load_style(name), seed=3, extent_m=EXTENT_M), time.perf_counter() - t0)
    return out


def test_six_builtin_styles_validate_and_document_every_key():
    assert set(SIX) <= set(builtin_styles())
    for name in SIX:
        st = load_style(name)
        assert isinstance(st, Style) and st.name == name and st.description
        text = (STYLE_DIR / f"{name}.toml").read_text()
        for line in text.splitlines():
            # every key = value line carries a comment, except long lists/descriptions of the header
            if "=" in line and not line.lstrip().startswith("#") and not line.startswith(("name", "description")):
                key = line.split("=")[0].strip()
                if not key.endswith(("_colors", "colors")):
                    assert "#" in line.split("=", 1)[1].replace('"#', '"'), f"{name}.toml: '{key}' has no comment"


@pytest.mark.parametrize("name", SIX)
def test_generated_street_follows_its_style(scenes, name):
    st = load_style(name)
    scene, _ = scenes[name]
    bs = st.buildings
    b = scene.stats["buildings"]
    assert len(b) > 40
    plain = np.array([x["storeys"] for x in b if not x["tower"]])
    assert plain.min() >= bs.storeys_min and plain.max() <= bs.storeys_max + bs.storeys_main_street_bonus
    # side-street storeys follow the triangular distribution over [min, max] peaking at the mode
    side = np.array([x["storeys"] for x in b if x["street"] == "side" and not x["tower"]], float)
    assert side.max() <= bs.storeys_max
    lo, mode, hi = bs.storeys_min - 0.49, bs.storeys_mode, bs.storeys_max + 0.49
    expected = (lo + mode + hi) / 3
    sd = np.sqrt((lo**2 + mode**2 + hi**2 - lo * mode - lo * hi - mode * hi) / 18)
    assert abs(side.mean() - expected) < max(0.35, 4 * sd / np.sqrt(len(side)))
    towers = [x["storeys"] for x in b if x["tower"]]
    assert all(bs.tower_storeys[0] <= s <= bs.tower_storeys[1] for s in towers)
    assert bool(towers) == (bs.tower_prob > 0)
    # heights and widths
    for x in b:
        fh0, fh1 = bs.floor_height_m
        z = bs.ground_floor_height_m + (x["storeys"] - 1) * np.array([fh0, fh1])
        assert z[0] - 1e-6 <= x["height_m"] <= z[1] + 1e-6
    widths = np.array([x["width_m"] for x in b if not x["short_frontage"]])
    assert np.mean((widths >= bs.width_m[0] - 1e-6) & (widths <= bs.width_m[1] * 1.6)) > 0.95
    # street widths
    net = st.network
    main = [s for s in scene.streets if s.kind == "main"]
    side_w = [s.road_width_m for s in scene.streets if s.kind == "side"]
    assert main[0].road_width_m == pytest.approx(net.main_road_width_m)
    assert main[0].sidewalk_width_m == pytest.approx(net.main_sidewalk_width_m)
    assert all(net.side_road_width_m[0] <= w <= net.side_road_width_m[1] for w in side_w)
    assert all(s.sidewalk_width_m == net.side_sidewalk_width_m for s in scene.streets if s.kind == "side")
    # new_york is the heaviest (~157k): fire-escape railings ~66k, window sills and heads ~20k, cars ~15k
    assert scene.triangle_count < 170_000


def test_each_style_shows_its_signature(scenes):
    def names(n):
        return {m.material.name for m in scenes[n][0].meshes}

    def props(n):
        return scenes[n][0].stats["props"]

    def bld(n):
        return scenes[n][0].stats["buildings"]

    assert {"wire", "vending_body"} <= names("tokyo")
    assert all(x["roof"] == "mansard" and x["storeys"] == 6 for x in bld("paris"))
    assert props("paris")["tree"] > 10 and "railing" in names("paris")
    assert any(x["stoop"] for x in bld("new_york")) and any(x["tower"] for x in bld("new_york"))
    assert props("new_york").get("cab", 0) + props("new_york").get("parked_car", 0) > 5 and "water_tank" in names(
        "new_york"
    )
    assert props("london")["phone_box"] >= 1 and props("london")["bus"] >= 1 and "railing" in names("london")
    assert props("hong_kong")["tram"] >= 1 and np.median([x["storeys"] for x in bld("hong_kong")]) >= 12
    assert scenes["amsterdam"][0].stats["canal_width_m"] > 0 and "water" in names("amsterdam")
    assert props("amsterdam")["bicycle"] > 10 and any(x["roof"] == "gable" for x in bld("amsterdam"))


def _digest(scene):
    return [(m.material.name, m.positions.tobytes(), m.indices.tobytes()) for m in scene.meshes]


@pytest.mark.parametrize("name", ["paris", "amsterdam"])
def test_same_seed_same_street(scenes, name):
    st = load_style(name)
    a = generate_street(st, seed=11, extent_m=100)
    b = generate_street(st, seed=11, extent_m=100)
    c = generate_street(st, seed=12, extent_m=100)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def _numbers(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, prefix + k + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield prefix + k, float(v), isinstance(v, int)
        elif isinstance(v, tuple):
            for i, x in enumerate(v):
                yield f"{prefix}{k}[{i}]", float(x), isinstance(x, int)


def test_blend_lands_between_parents():
    a, b = load_style("tokyo").model_dump(), load_style("paris").model_dump()
    mix = load_style("tokyo:0.7,paris:0.3")
    m = mix.model_dump()
    va = {k: v for k, v, _ in _numbers(a)}
    vb = {k: v for k, v, _ in _numbers(b)}
    checked = 0
    for key, v, is_int in _numbers(m):
        lo, hi = min(va[key], vb[key]), max(va[key], vb[key])
        if lo == hi:
            assert v == pytest.approx(lo), key
        elif is_int:
            assert lo <= v <= hi, key
        else:
            assert lo < v < hi, key
            assert v == pytest.approx(0.7 * va[key] + 0.3 * vb[key]), key
            checked += 1
    assert checked > 10
    assert mix.network.main_road_width_m == pytest.approx(0.7 * 9.0 + 0.3 * 14.0)
    # choice lists mix both parents, weighted
    walls = mix.facade.wall_textures
    assert "stone" in walls and "tile" in walls
    assert 0.2 < walls.count("stone") / len(walls) < 0.4
    assert mix.name.startswith("tokyo:0.7")
    # it builds a street, and the same blend gives the same street
    s1 = generate_street(mix, seed=2, extent_m=100)
    assert _digest(s1) == _digest(generate_street(load_style("tokyo:0.7,paris:0.3"), seed=2, extent_m=100))
    # weights are normalised
    assert load_style("tokyo:7,paris:3").model_dump() == m


@pytest.mark.parametrize("spec, words", [
    ("tokyo:0.5,atlantis:0.5", ["atlantis", "tokyo"]),
    ("tokyo:-1,paris:2", ["-1", ">= 0"]),
    ("tokyo:0,paris:0", ["add up to 0"]),
    ("tokyo:abc,paris:1", ["abc", "not a number"]),
])
def test_bad_blends_say_what_is_wrong(spec, words):
    with pytest.raises(StyleError) as e:
        load_style(spec)
    for w in words:
        assert w in str(e.value)


def test_bad_style_file_names_key_and_line(tmp_path):
    src = (STYLE_DIR / "paris.toml").read_text()
    cases = [
        (
            "canal_width_m",
            src.replace("side_sidewalk_width_m = 2.2", "side_sidewalk_width_m = 2.2\ncanal_width_m = 12.0"),
            "network.canal_width_m",
        ),
        ("roof_types", src.replace('roof_types = ["mansard"]', 'roof_types = ["pagoda"]'), "buildings.roof_types"),
        ("roof_color", src.replace('roof_color = "#6f7a86"', 'roof_color = "blue"'), "facade.roof_color"),
        ("tree_spacing_m", src.replace("tree_spacing_m = 8.0", "tree_spacing_m = -8.0"), "furniture.tree_spacing_m"),
        ("flying_cars", src.replace("[traffic]", "[traffic]\nflying_cars = 3"), "traffic.flying_cars"),
    ]
    for key, text, dotted in cases:
        bad = tmp_path / f"bad_{key}.toml"
        bad.write_text(text)
        with pytest.raises(StyleError) as e:
            load_style(str(bad))
        msg = str(e.value)
        assert dotted in msg and "line" in msg, msg
        line = int(msg.split("line ")[1].split(")")[0])
        assert key in text.splitlines()[line - 1], (key, line)


def test_starter_file_round_trips_and_refuses_to_overwrite(tmp_path):
    p = write_starter_style(tmp_path / "mystyle.toml")
    st = load_style(str(p))
    assert st.name == "mystyle"
    tokyo = load_style("tokyo").model_dump()
    mine = st.model_dump()
    tokyo.pop("name"), mine.pop("name"), tokyo.pop("description"), mine.pop("description")
    assert mine == tokyo
    text = p.read_text()
    assert text.count("#") > 60
    with pytest.raises(StyleError, match="already exists"):
        write_starter_style(p)
    # a user edit shows up in the street
    p.write_text(text.replace("storeys_max = 10", "storeys_max = 3").replace("storeys_mode = 3", "storeys_mode = 2"))
    scene = generate_street(load_style(str(p)), seed=1, extent_m=100)
    assert max(x["storeys"] for x in scene.stats["buildings"]) <= 3 + 2  # main-street bonus may add 2
    assert max(x["storeys"] for x in scene.stats["buildings"] if x["street"] == "side") <= 3


def test_styles_cli_new_and_sheet(tmp_path, capsys, monkeypatch):
    """`citywalk styles new NAME` writes a starter file that renders; `styles sheet` tiles styles."""
    from PIL import Image

    from citywalk.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["styles", "new", "mystyle"]) == 0
    assert (tmp_path / "mystyle.toml").exists()
    assert main(["styles", "new", "mystyle"]) == 2, "never overwrites"
    capsys.readouterr()
    assert main(["shot", "--style", "mystyle.toml"]) == 0
    out = tmp_path / "s.png"
    assert main(["styles", "sheet", "tokyo,amsterdam", "--cell", "64x36", "-o", str(out)]) == 0
    assert np.asarray(Image.open(out)).shape[:2] == (36, 128)


def test_styles_grid_has_a_cell_per_street_and_time():
    """One row per style, one cell per street x time; unknown styles are refused before rendering."""
    from citywalk.sheets import styles_grid

    one = styles_grid(["tokyo"], times=("noon", "night"), streets=("side",), size=(64, 36))
    assert one.shape[1] == 2 * 64 and one.ndim == 3
    day, night = one[:, :64].astype(float).mean(), one[:, 64:].astype(float).mean()
    assert day > night
    with pytest.raises(StyleError):
        styles_grid(["atlantis"])
