"""City styles as data: a TOML file per style, validated by the `Style` model.

Built-in styles live in `styles/` beside this module; a path to a user's `.toml` works too, and
a blend of styles is written `"tokyo:0.7,paris:0.3"` (see `blend_styles`). Errors name the file,
the key and its line. Every optional section and key defaults to "feature off", so a style
only lists what makes it recognisable.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...errors import StyleError

STYLE_DIR = Path(__file__).parent / "styles"
MAX_STYLE_BYTES = 256_000
MAX_BLEND_PARTS = 8

Range = tuple[float, float]
Color = str
WallTexture = Literal["tile", "tile_small", "concrete", "panel", "brick", "stone", "stucco"]
RoofType = Literal["flat", "parapet", "mansard", "gable"]
CarBody = Literal["sedan", "hatchback", "van", "kei"]


def _check_range(v: Range) -> Range:
    lo, hi = v
    if not lo <= hi:
        raise ValueError(f"range [{lo}, {hi}] must have min <= max")
    return v


def _check_color(c: str) -> str:
    s = c.lstrip("#")
    if not (c.startswith("#") and len(s) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in s)):
        raise ValueError(f"colour '{c}' must be '#rrggbb'")
    return c


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _ranges(cls, v, info):
        name = info.field_name
        if name.endswith("_m") and isinstance(v, tuple) and len(v) == 2:
            return _check_range(v)
        if name.endswith(("_color", "_colors")):
            for c in ([v] if isinstance(v, str) else v or []):
                _check_color(c)
        return v


def _probs_sum(model: BaseModel, names: list[str], what: str) -> None:
    total = sum(getattr(model, n) for n in names)
    if total > 1.0 + 1e-9:
        raise ValueError(f"{' + '.join(names)} = {total:g}: {what} probabilities must add up to at most 1")


class NetworkStyle(_Section):
    main_road_width_m: float = Field(gt=2, le=60)
    main_sidewalk_width_m: float = Field(ge=0, le=15)
    side_road_width_m: Range
    block_length_m: Range
    block_depth_m: Range
    edge_line_offset_m: float = Field(0.6, ge=0, le=3)
    side_sidewalk_width_m: float = Field(0.0, ge=0, le=8)
    canal_width_m: float = Field(0.0, ge=0, le=40)
    canal_water_depth_m: float = Field(1.6, ge=0.3, le=5)
    canal_railings: bool = True

    @model_validator(mode="after")
    def _canal_fits(self) -> "NetworkStyle":
        if self.canal_width_m and self.canal_width_m > self.main_road_width_m - 6.0:
            raise ValueError(f"canal_width_m {self.canal_width_m:g} must leave at least 3 m of quay road each side "
                             f"(<= main_road_width_m - 6 = {self.main_road_width_m - 6:g})")
        if self.side_road_width_m[0] <= 2.0 or self.block_length_m[0] < 10.0 or self.block_depth_m[0] < 8.0:
            raise ValueError("side_road_width_m > 2, block_length_m >= 10 and block_depth_m >= 8 are needed")
        return self


class BuildingStyle(_Section):
    storeys_min: int = Field(ge=1, le=100)
    storeys_max: int = Field(ge=1, le=100)
    storeys_mode: int = Field(ge=1, le=100)
    storeys_main_street_bonus: int = Field(0, ge=0, le=50)
    width_m: Range
    depth_m: Range
    ground_floor_height_m: float = Field(gt=2, le=10)
    floor_height_m: Range
    setback_m: Range = (0.0, 0.0)
    rooftop_clutter_prob: float = Field(0.0, ge=0, le=1)
    tower_prob: float = Field(0.0, ge=0, le=1)
    tower_storeys: tuple[int, int] = (15, 30)
    roof_types: list[RoofType] = Field(default_factory=lambda: ["flat"], min_length=1)
    mansard_height_m: float = Field(3.0, ge=1.0, le=8.0)
    gable_height_ratio: float = Field(0.9, ge=0.2, le=2.5)
    chimney_prob: float = Field(0.0, ge=0, le=1)
    water_tank_prob: float = Field(0.0, ge=0, le=1)
    front_garden_m: Range = (0.0, 0.0)
    stoop_prob: float = Field(0.0, ge=0, le=1)
    fire_escape_prob: float = Field(0.0, ge=0, le=1)
    bay_window_prob: float = Field(0.0, ge=0, le=1)
    bay_window_floors: int = Field(2, ge=1, le=6)

    @model_validator(mode="after")
    def _storeys(self) -> "BuildingStyle":
        if not self.storeys_min <= self.storeys_mode <= self.storeys_max:
            raise ValueError("storeys_mode must lie between storeys_min and storeys_max")
        lo, hi = self.tower_storeys
        if not 1 <= lo <= hi <= 120:
            raise ValueError(f"tower_storeys [{lo}, {hi}] must have 1 <= min <= max <= 120")
        if self.width_m[0] < 2.0 or self.depth_m[0] < 3.0 or self.floor_height_m[0] < 2.0:
            raise ValueError("width_m >= 2, depth_m >= 3 and floor_height_m >= 2 are needed")
        return self


class FacadeStyle(_Section):
    bay_width_m: Range
    wall_colors: list[Color] = Field(min_length=1)
    wall_textures: list[WallTexture] = Field(min_length=1)
    window_styles: list[Literal[0, 1, 2]] = Field(min_length=1)
    lit_window_share: float = Field(0.5, ge=0, le=1)
    balcony_prob: float = Field(0.0, ge=0, le=1)
    ground_floor_windows: bool = False
    door_colors: list[Color] = Field(default_factory=lambda: ["#3b2a1e"], min_length=1)
    cornice_prob: float = Field(0.0, ge=0, le=1)
    continuous_balcony_prob: float = Field(0.0, ge=0, le=1)
    continuous_balcony_floors: list[int] = Field(default_factory=list)
    railing_color: Color = "#161616"
    front_railing_prob: float = Field(0.0, ge=0, le=1)
    stoop_wall_colors: list[Color] = Field(default_factory=list)
    roof_color: Color = "#47474a"
    window_sill_prob: float = Field(0.0, ge=0, le=1)
    ac_unit_prob: float = Field(0.0, ge=0, le=1)
    drain_pipe_prob: float = Field(0.0, ge=0, le=1)
    trim_color: Color | None = None
    pipe_color: Color = "#3a3b3c"

    @field_validator("bay_width_m")
    @classmethod
    def _bay(cls, v: Range) -> Range:
        if v[0] < 0.8:
            raise ValueError("bay_width_m must be at least 0.8 m")
        return v

    @field_validator("continuous_balcony_floors")
    @classmethod
    def _floors(cls, v: list[int]) -> list[int]:
        if any(not 1 <= k <= 100 for k in v):
            raise ValueError("floors count from 1 (the first floor above the ground floor) to 100")
        return v


class ShopStyle(_Section):
    shop_prob: float = Field(ge=0, le=1)
    shutter_prob: float = Field(ge=0, le=1)
    awning_prob: float = Field(ge=0, le=1)
    awning_colors: list[Color] = Field(min_length=1)
    side_street_shop_prob: float | None = Field(None, ge=0, le=1)


class SignStyle(_Section):
    vertical_prob: float = Field(ge=0, le=1)
    horizontal_prob: float = Field(ge=0, le=1)
    sign_colors: list[Color] = Field(min_length=2)
    glow: float = Field(ge=0, le=100)
    projecting_prob: float = Field(0.0, ge=0, le=1)
    projecting_out_m: Range = (3.0, 6.0)
    lettering: str = Field("english", pattern=r"^[a-z_]{1,40}$")  # word list styles/signs/<lettering>.toml


class FurnitureStyle(_Section):
    utility_poles: bool = False
    pole_spacing_m: Range = (18.0, 26.0)
    pole_height_m: float = Field(9.5, gt=2, le=30)
    wires_per_span: tuple[int, int] = (3, 6)
    wire_sag_m: Range = (0.35, 0.9)
    vending_prob: float = Field(0.0, ge=0, le=1)
    lamp_on_pole_prob: float = Field(0.0, ge=0, le=1)
    lamp_kind: Literal["arm", "lantern"] = "arm"
    main_lamp_spacing_m: float = Field(gt=2, le=200)
    side_lamp_spacing_m: float = Field(0.0, ge=0, le=200)  # lamps along side streets (0: none)
    plant_pot_prob: float = Field(0.0, ge=0, le=1)
    tree_spacing_m: float = Field(0.0, ge=0, le=100)
    tree_height_m: Range = (6.0, 9.0)
    tree_crown_colors: list[Color] = Field(default_factory=lambda: ["#3f5f2a", "#4d6b30", "#35552a"], min_length=1)
    item_spacing_m: float = Field(9.0, ge=3, le=100)
    bench_prob: float = Field(0.0, ge=0, le=1)
    bin_prob: float = Field(0.0, ge=0, le=1)
    hydrant_prob: float = Field(0.0, ge=0, le=1)
    phone_box_prob: float = Field(0.0, ge=0, le=1)
    bike_rack_prob: float = Field(0.0, ge=0, le=1)
    bench_color: Color = "#4a3b2c"
    bin_color: Color = "#2d3a2e"
    hydrant_color: Color = "#b0291f"
    post_color: Color = "#1f2420"
    planter_prob: float = Field(0.0, ge=0, le=1)
    planter_color: Color = "#6b6a66"
    a_frame_prob: float = Field(0.0, ge=0, le=1)
    bollards_per_corner: int = Field(0, ge=0, le=3)
    bollard_color: Color = "#1e1e1e"
    traffic_lights: bool = False
    traffic_light_color: Color = "#2b2f2c"

    @model_validator(mode="after")
    def _items(self) -> "FurnitureStyle":
        lo, hi = self.wires_per_span
        if not 0 <= lo <= hi <= 12:
            raise ValueError(f"wires_per_span [{lo}, {hi}] must have 0 <= min <= max <= 12")
        if self.pole_spacing_m[0] < 5.0:
            raise ValueError("pole_spacing_m must be at least 5 m")
        _probs_sum(
            self, ["bench_prob", "bin_prob", "hydrant_prob", "phone_box_prob", "bike_rack_prob", "planter_prob"],
            "kerbside item"
        )
        return self


class MarkingStyle(_Section):
    main_center_dash_m: Range
    crossings: bool = True
    side_edge_lines: bool = True
    stop_marks: bool = False

    @field_validator("main_center_dash_m")
    @classmethod
    def _dash(cls, v: Range) -> Range:
        if v[0] <= 0.1 or v[1] <= 0.1:
            raise ValueError("dash and gap must be longer than 0.1 m")
        return v


class TrafficStyle(_Section):
    parked_car_prob: float = Field(0.0, ge=0, le=1)
    lane_cars_per_100m: float = Field(0.0, ge=0, le=30)
    car_colors: list[Color] = Field(
        default_factory=lambda: ["#d8d8d8", "#1c1c1e", "#7b7f85", "#24344f", "#6b1e1e"], min_length=1
    )
    cab_share: float = Field(0.0, ge=0, le=1)
    cab_color: Color = "#f2b705"
    car_bodies: list[CarBody] = Field(default_factory=lambda: ["sedan", "hatchback"], min_length=1)
    cab_body: CarBody = "sedan"
    buses_per_100m: float = Field(0.0, ge=0, le=5)
    bus_color: Color = "#c8102e"
    trams_per_100m: float = Field(0.0, ge=0, le=5)
    tram_color: Color = "#1f6b3a"
    tram_tracks: bool = False
    bicycles_per_100m: float = Field(0.0, ge=0, le=60)
    boats_per_100m: float = Field(0.0, ge=0, le=10)
    crowd: Literal["none", "light", "busy"] = "light"  # pedestrians and moving cars when a Shot asks for the style's


class Style(BaseModel):
    """A city style: every number the procedural generator draws from."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    network: NetworkStyle
    buildings: BuildingStyle
    facade: FacadeStyle
    shops: ShopStyle
    signs: SignStyle
    furniture: FurnitureStyle
    markings: MarkingStyle
    traffic: TrafficStyle = Field(default_factory=TrafficStyle)


def builtin_styles() -> list[str]:
    """Names of the styles shipped with citywalk."""
    return sorted(p.stem for p in STYLE_DIR.glob("*.toml"))


def load_style(name_or_path: str) -> Style:
    """A built-in style by name (`tokyo`), a user style file (`path/to/style.toml`), or a blend
    of either (`"tokyo:0.7,paris:0.3"`, see `blend_styles`)."""
    text = str(name_or_path).strip()
    if "," in text or (":" in text and not Path(text).is_file()):
        return blend_styles(_parse_blend(text))
    return _load_one(text)


def _load_one(name_or_path: str) -> Style:
    p = Path(name_or_path)
    if p.suffix.lower() == ".toml":
        if not p.is_file():
            raise StyleError(f"style file '{p}' does not exist")
        return _load_file(p)
    key = name_or_path.strip().lower().replace(" ", "_").replace("-", "_")
    f = STYLE_DIR / f"{key}.toml"
    if key not in builtin_styles():
        raise StyleError(
            f"unknown style '{name_or_path}': built-in styles are {', '.join(builtin_styles())}, "
            "or give a path to a .toml style file"
        )
    return _load_file(f)


def _load_file(p: Path) -> Style:
    if p.stat().st_size > MAX_STYLE_BYTES:
        raise StyleError(f"{p}: style file larger than {MAX_STYLE_BYTES} bytes")
    text = p.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"{p}: malformed TOML: {exc}") from None
    try:
        return Style.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"]]
        # list items (wall_colors.3) are reported at their key's line
        keys = [x for x in loc if not x.isdigit()][:2]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        if len(keys) == 1 and keys[0] in Style.model_fields:
            # a cross-field check of a section: its message starts with the key at fault
            section = Style.model_fields[keys[0]].annotation
            first = msg.split(" ")[0]
            if isinstance(section, type) and first in getattr(section, "model_fields", {}):
                loc, keys = loc + [first], keys + [first]
        key = ".".join(loc)
        line = _line_of_key(text, keys)
        where = f" (line {line})" if line else ""
        raise StyleError(f"{p}: {key}{where}: {msg}") from None


def _line_of_key(text: str, loc: list[str]) -> int | None:
    """Line number of the key named by a validation location, found by scanning the TOML."""
    section, key = (loc[0], loc[1]) if len(loc) > 1 else ("", loc[0])
    current = ""
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and line.split("#", 1)[0].strip().endswith("]"):
            current = line.split("#", 1)[0].strip().strip("[]").strip()
            if current == key and len(loc) == 1:
                return i
            if current == section and len(loc) == 1:
                return i
            continue
        if "=" in line and current == section and line.split("=", 1)[0].strip() == key:
            return i
    if len(loc) > 1:  # a missing key: point at its section
        return _line_of_key(text, [section])
    return None


# ---- blends ---------------------------------------------------------------------------------
POOL_ENTRIES = 24  # length of a blended choice list (colours, textures, roof types...)


def _parse_blend(spec: str) -> list[tuple[str, float]]:
    """'tokyo:0.7,paris:0.3' → [('tokyo', 0.7), ('paris', 0.3)]; a part without weight gets 1."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise StyleError(f"style blend '{spec}': give parts like 'tokyo:0.7,paris:0.3'")
    if len(parts) > MAX_BLEND_PARTS:
        raise StyleError(f"style blend '{spec}': at most {MAX_BLEND_PARTS} styles can be blended")
    out = []
    for part in parts:
        name, sep, w = part.rpartition(":")
        if not sep:
            name, w = part, "1"
        try:
            weight = float(w)
        except ValueError:
            raise StyleError(f"style blend '{spec}': weight '{w}' of '{name}' is not a number") from None
        if not weight >= 0 or weight == float("inf"):
            raise StyleError(f"style blend '{spec}': weight {w} of '{name}' must be a finite number >= 0")
        out.append((name.strip(), weight))
    return out


def blend_styles(parts: list[tuple[str, float]]) -> Style:
    """A style between its parents: numbers are weighted means (ints rounded), ranges are
    blended per end, booleans and single choices (lamp_kind) come from the heaviest parent,
    choice lists (colours, textures, window styles, roof types) are mixed: the blended list
    holds about weight × 24 entries cycled from each parent, so a per-building draw picks a
    parent's choice with that parent's weight. Set-like lists (continuous_balcony_floors) are
    united and their probability is blended. Weights are normalised to sum 1."""
    total = sum(w for _, w in parts)
    if total <= 0:
        spec = ",".join(f"{n}:{w:g}" for n, w in parts)
        raise StyleError(f"style blend '{spec}': weights add up to {total:g}; give at least one weight > 0")
    parents = [(_load_one(n), w / total) for n, w in parts if w > 0]
    if len(parents) == 1:
        return parents[0][0]
    dumps = [(s.model_dump(), w) for s, w in parents]
    name = ",".join(f"{s.name}:{w:.3g}" for s, w in parents)
    data = _blend_dicts(dumps)
    data["name"] = name
    data["description"] = "blend of " + ", ".join(f"{s.name} {w:.0%}" for s, w in parents)
    try:
        return Style.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise StyleError(f"style blend '{name}': {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


_SET_LISTS = {"continuous_balcony_floors"}


def _blend_dicts(items: list[tuple[dict, float]], key: str = "") -> dict:
    first = items[0][0]
    out = {}
    for k in first:
        vals = [(d[k], w) for d, w in items]
        out[k] = _blend_value(k, vals)
    return out


def _blend_value(key: str, vals: list[tuple[object, float]]):
    v0 = vals[0][0]
    heaviest = max(vals, key=lambda vw: vw[1])[0]
    if isinstance(v0, dict):
        return _blend_dicts(vals, key)  # type: ignore[arg-type]
    if isinstance(v0, bool) or isinstance(v0, str) or v0 is None or any(v is None for v, _ in vals):
        return heaviest
    if isinstance(v0, int):
        return int(round(sum(float(v) * w for v, w in vals)))  # type: ignore[arg-type]
    if isinstance(v0, float):
        return float(sum(float(v) * w for v, w in vals))  # type: ignore[arg-type]
    if isinstance(v0, tuple):
        ends = [sum(float(v[i]) * w for v, w in vals) for i in range(len(v0))]  # type: ignore[index]
        return tuple(int(round(e)) if isinstance(v0[0], int) else e for e in ends)
    if isinstance(v0, list):
        if key in _SET_LISTS:
            return sorted({x for v, _ in vals for x in v})  # type: ignore[attr-defined]
        pool: list = []
        for v, w in vals:
            if v:
                n = max(1, round(w * POOL_ENTRIES))
                pool.extend(v[i % len(v)] for i in range(n))  # type: ignore[index]
        return pool
    return heaviest


# ---- user styles ----------------------------------------------------------------------------
def write_starter_style(path: str | Path, name: str | None = None) -> Path:
    """Write a commented starter style (the documented `tokyo.toml`, renamed) to `path`;
    refuses to overwrite an existing file. Returns the path written."""
    p = Path(path)
    if p.suffix.lower() != ".toml":
        p = p.with_suffix(".toml")
    if p.exists():
        raise StyleError(f"'{p}' already exists: choose another name or delete it first")
    stem = name or p.stem
    if not stem.replace("_", "").replace("-", "").isalnum():
        raise StyleError(f"style name '{stem}' must be letters, digits, '-' or '_'")
    src = (STYLE_DIR / "tokyo.toml").read_text(encoding="utf-8")
    lines = src.splitlines()
    header = [
        f"# {stem}: a citywalk city style, started from the documented tokyo style.",
        "# Edit the numbers and lists below; every key is listed and explained by its comment.",
        "# Features (trees, canal, traffic, mansards, gables...) are off at 0 / false / []; see the",
        "# other built-in styles (`citywalk styles show paris`) for values that switch them on.",
        f"# Use it with `--style {p}`.",
    ]
    body = []
    for line in lines:
        if line.startswith("name = "):
            line = f'name = "{stem}"'
        elif line.startswith("description = "):
            line = f'description = "{stem}: my own city style (started from tokyo)"'
        body.append(line)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "x", encoding="utf-8") as f:
            f.write("\n".join(header + body) + "\n")
    except OSError as exc:
        raise StyleError(f"cannot write style file '{p}': {exc.strerror}") from None
    return p
