"""City styles as data: a TOML file per style, validated by the `Style` model.

Built-in styles live in `styles/` beside this module; a path to a user's `.toml` works too.
Errors name the file, the key and (for syntax errors) the line.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...errors import StyleError

STYLE_DIR = Path(__file__).parent / "styles"
MAX_STYLE_BYTES = 256_000

Range = tuple[float, float]


def _check_range(v: Range) -> Range:
    lo, hi = v
    if not lo <= hi:
        raise ValueError(f"range [{lo}, {hi}] must have min <= max")
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _ranges(cls, v, info):
        if info.field_name.endswith("_m") and isinstance(v, tuple) and len(v) == 2:
            return _check_range(v)
        return v


class NetworkStyle(_Section):
    main_road_width_m: float = Field(gt=2, le=60)
    main_sidewalk_width_m: float = Field(ge=0, le=15)
    side_road_width_m: Range
    block_length_m: Range
    block_depth_m: Range
    edge_line_offset_m: float = Field(0.6, ge=0, le=3)


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

    @model_validator(mode="after")
    def _storeys(self) -> "BuildingStyle":
        if not self.storeys_min <= self.storeys_mode <= self.storeys_max:
            raise ValueError("need storeys_min <= storeys_mode <= storeys_max")
        return self


class FacadeStyle(_Section):
    bay_width_m: Range
    wall_colors: list[str] = Field(min_length=1)
    wall_textures: list[str] = Field(min_length=1)
    window_styles: list[int] = Field(min_length=1)
    lit_window_share: float = Field(0.5, ge=0, le=1)
    balcony_prob: float = Field(0.0, ge=0, le=1)


class ShopStyle(_Section):
    shop_prob: float = Field(ge=0, le=1)
    shutter_prob: float = Field(ge=0, le=1)
    awning_prob: float = Field(ge=0, le=1)
    awning_colors: list[str] = Field(min_length=1)


class SignStyle(_Section):
    vertical_prob: float = Field(ge=0, le=1)
    horizontal_prob: float = Field(ge=0, le=1)
    sign_colors: list[str] = Field(min_length=1)
    glow: float = Field(ge=0, le=100)


class FurnitureStyle(_Section):
    pole_spacing_m: Range
    pole_height_m: float = Field(gt=2, le=30)
    wires_per_span: tuple[int, int]
    wire_sag_m: Range
    vending_prob: float = Field(ge=0, le=1)
    lamp_on_pole_prob: float = Field(ge=0, le=1)
    main_lamp_spacing_m: float = Field(gt=2, le=200)
    plant_pot_prob: float = Field(0.0, ge=0, le=1)


class MarkingStyle(_Section):
    main_center_dash_m: Range
    crossings: bool = True
    side_edge_lines: bool = True
    stop_marks: bool = False


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


def builtin_styles() -> list[str]:
    """Names of the styles shipped with citywalk."""
    return sorted(p.stem for p in STYLE_DIR.glob("*.toml"))


def load_style(name_or_path: str) -> Style:
    """A built-in style by name (`tokyo`) or a user style file (`path/to/style.toml`)."""
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
        key = ".".join(str(x) for x in err["loc"])
        line = _line_of_key(text, [str(x) for x in err["loc"]])
        where = f" (line {line})" if line else ""
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        raise StyleError(f"{p}: {key}{where}: {msg}") from None


def _line_of_key(text: str, loc: list[str]) -> int | None:
    """Line number of the key named by a validation location, found by scanning the TOML."""
    section, key = (loc[0], loc[1]) if len(loc) > 1 else ("", loc[0])
    current = ""
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line.strip("[]").strip()
            if current == section and len(loc) == 1:
                return i
            continue
        if "=" in line and current == section and line.split("=", 1)[0].strip() == key:
            return i
    return None
