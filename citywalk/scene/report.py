"""What a source loaded and what it skipped, so no input turns silently into an empty video.

Sources count what they drew (`loaded`) and what they could not use (`skip`, one reason per
kind of thing); the pipeline prints one warning line per kind skipped and refuses a world with
nothing drawable, naming why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadReport:
    """Counts per kind of content ('triangles', 'splats', 'i3dm tiles', 'textures'…) that a
    source loaded, and per (kind, reason) that it skipped."""

    source: str = ""
    loaded: dict[str, int] = field(default_factory=dict)
    skipped: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        """Count `count` things of `kind` that were loaded."""
        self.loaded[kind] = self.loaded.get(kind, 0) + int(count)

    def skip(self, kind: str, reason: str, count: int = 1) -> None:
        """Count `count` things of `kind` left out, for `reason` (one short phrase)."""
        key = (kind, reason)
        self.skipped[key] = self.skipped.get(key, 0) + int(count)

    def merge(self, other: "LoadReport") -> None:
        for k, n in other.loaded.items():
            self.add(k, n)
        for (k, r), n in other.skipped.items():
            self.skip(k, r, n)

    def warning_lines(self) -> list[str]:
        """One line per kind of thing skipped, e.g. "tiles.json: skipped 3 i3dm tiles (not supported)"."""
        where = f"{self.source}: " if self.source else ""
        return [f"{where}skipped {n} {kind} ({reason})" for (kind, reason), n in sorted(self.skipped.items())]

    def summary(self) -> str:
        """One line of what was loaded, e.g. "loaded 1200 triangles, 4 textures"."""
        parts = [f"{n} {k}" for k, n in sorted(self.loaded.items())]
        return "loaded " + (", ".join(parts) if parts else "nothing")
