"""citywalk: short walking videos through procedural, mapped or captured city streets.

Importing the package stays light: no OpenGL context, no torch, no video codecs. Heavy stages
are imported when first used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
