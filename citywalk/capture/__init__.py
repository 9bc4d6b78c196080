"""Capture stage: a walked phone video, a drone flight or a folder of photos → frames → QA →
camera poses (pycolmap SfM) → a trained Gaussian-splat scene package, kept in a catalog.

Light to import: every heavy dependency (av, pycolmap, torch, numba) loads inside the function
that needs it. Modules: `catalog` (SQLite store), `intake` (submit), `frames` (extract + select),
`qa` (report), `poses` (SfM / imports / lens), `raster` (differentiable splat rasteriser) with
`raster_tiles` (its Numba tile compositor), `train` (splat trainer), `package` (scene folder),
`process` (the whole chain), `evaluate` (synthetic capture with known cameras).
"""

from __future__ import annotations

from citywalk.errors import CaptureError

__all__ = ["CaptureError"]
