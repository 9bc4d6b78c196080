"""Procedural city streets from style files (see styles/*.toml)."""

from .street import generate_street
from .style import Style, builtin_styles, load_style

__all__ = ["generate_street", "load_style", "builtin_styles", "Style"]
