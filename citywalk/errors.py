"""One exception family for citywalk: every bad input raises a CitywalkError subclass whose
message names the file, field or value at fault and what would be accepted."""

from __future__ import annotations


class CitywalkError(Exception):
    """Base of all errors that the CLI reports as one line, without a traceback."""


class ShotError(CitywalkError):
    """A Shot (file, flags or prompt) is invalid: a field is out of range, unknown or malformed."""


class StyleError(CitywalkError):
    """A city style name or style file is unknown or invalid."""


class SceneError(CitywalkError):
    """A scene source could not be built or read (corrupt file, unsupported content)."""


class LikenessError(CitywalkError):
    """A likeness source or `.actor` package is invalid (corrupt, too big, unsafe, inconsistent)."""


class CaptureError(SceneError):
    """A capture could not be stored, read, registered or trained; the message says why."""


class RenderError(CitywalkError):
    """The renderer could not start (no OpenGL) or failed while drawing."""


class VideoError(CitywalkError):
    """Encoding or writing output files failed (unwritable path, codec error)."""


class NotBuiltYet(CitywalkError):
    """A feature the Shot asks for exists in the design but is not implemented yet."""


class MissingExtra(CitywalkError):
    """An optional dependency is missing; the message names the pip extra that installs it."""

    def __init__(self, module: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the Python package '{module}': pip install 'citywalk[{extra}]'"
        )
        self.module, self.extra = module, extra


class MissingModel(CitywalkError):
    """A generative backend's weights are not on this machine (nothing is downloaded at run time);
    the one-line message names the model, where citywalk looked and how to provide it."""

    def __init__(self, model: str, looked_in: list[str], how: str):
        where = "; ".join(looked_in) if looked_in else "nowhere"
        super().__init__(f"model '{model}' is not on this machine (looked in: {where}); {how}")
        self.model, self.looked_in = model, list(looked_in)
