"""Ray execution of render and capture jobs (the `farm` extra), with an in-process executor as
the default. Nothing here imports ray until a RayExecutor is used.

    from citywalk.farm import executor_from_spec, render_shot
    with executor_from_spec("ray") as ex:          # or "auto", "ray://head:10001", "local"
        result = render_shot(shot, ex, on_fraction=print)
"""

from __future__ import annotations

from .executor import Executor, FarmError, LocalExecutor, RayExecutor, Task, executor_from_spec

__all__ = ["Executor", "FarmError", "LocalExecutor", "RayExecutor", "Task", "executor_from_spec",
           "render_shot", "process_capture"]


def __getattr__(name: str):
    """render_shot and process_capture load their job modules on first use."""
    if name == "render_shot":
        from .render import render_shot

        return render_shot
    if name == "process_capture":
        from .capture import process_capture

        return process_capture
    raise AttributeError(f"module 'citywalk.farm' has no attribute '{name}'")
