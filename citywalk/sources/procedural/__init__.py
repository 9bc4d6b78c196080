"""Procedural city streets from style files (see styles/*.toml), blends of styles and user styles."""

from .street import generate_street
from .style import Style, blend_styles, builtin_styles, load_style, write_starter_style

__all__ = ["generate_street", "load_style", "blend_styles", "builtin_styles", "write_starter_style", "Style"]
