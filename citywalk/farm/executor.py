"""Where farm tasks run: in this process (LocalExecutor, the default) or on Ray (RayExecutor).

A Task is a module-level function with its arguments and the resources it asks for; the function
takes a `report(done)` keyword through which it tells how many of its units (frames,
iterations) are finished — an absolute count, so a retried task simply starts again from 0.
`Executor.run` runs a list of tasks, hands each result back to the caller's thread as it
arrives (in any order), and raises the first task's error as the task raised it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from ..errors import CitywalkError, MissingExtra

LOCAL_RAY_OPTIONS = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
POLL_S = 0.2          # how often the driver looks at Ray task progress
MAX_RETRIES = 3       # a task whose worker process or node died is run again up to this often


class FarmError(CitywalkError):
    """The farm could not start, reach its cluster, or finish a task after its retries."""


@dataclass(frozen=True)
class Task:
    """One unit of farm work: `fn(*args, report=...)` somewhere, needing num_cpus and num_gpus.
    `name` shows in Ray's process titles and task lists (e.g. 'citywalk-render')."""

    fn: Callable
    args: tuple = ()
    name: str = "citywalk-task"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    env: dict = field(default_factory=dict)  # environment variables set in the worker first


OnResult = Callable[[int, Any], None]
OnProgress = Callable[[int, int], None]


class Executor(Protocol):
    """Runs Tasks. `slots(task)`: how many such tasks can run at once; `gpus()`: GPUs it has."""

    name: str

    def slots(self, task: Task) -> int: ...

    def gpus(self) -> float: ...

    def run(self, tasks: Sequence[Task], on_result: OnResult, on_progress: OnProgress | None = None) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs tasks one after another in this process (no retries: a local error is not lost work)."""

    name = "local"

    def slots(self, task: Task) -> int:
        return 1

    def gpus(self) -> float:
        return 0.0

    def run(self, tasks: Sequence[Task], on_result: OnResult, on_progress: OnProgress | None = None) -> None:
        for i, task in enumerate(tasks):
            report = (lambda done, i=i: on_progress(i, done)) if on_progress is not None else _ignore
            on_result(i, task.fn(*task.args, report=report))

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ignore(done: int) -> None:
    pass


def import_ray():
    """The ray module, or MissingExtra naming the farm extra."""
    try:
        import ray
    except ImportError:
        raise MissingExtra("ray", "farm", "rendering on a Ray cluster (--farm)") from None
    return ray


class ProgressBoard:
    """Latest progress count per task, written by tasks and read by the driver (a Ray actor)."""

    def __init__(self):
        self.done: dict[int, int] = {}

    def report(self, index: int, done: int) -> None:
        self.done[index] = done

    def snapshot(self) -> dict[int, int]:
        return dict(self.done)


def run_reporting(fn: Callable, args: tuple, index: int, board, env: dict) -> Any:
    """The body of every Ray task: set the task's environment, then fn(*args, report) with a
    report that posts to the driver's ProgressBoard without waiting."""
    for key, value in env.items():
        os.environ.setdefault(key, str(value))

    def report(done: int) -> None:
        board.report.remote(index, int(done))

    return fn(*args, report=report)


class RayExecutor:
    """Runs tasks on Ray. address None starts a local Ray on demand (this machine's CPUs, no
    dashboard) and stops it on close(); 'auto' joins the cluster RAY_ADDRESS (or a local
    `ray start`) names; 'ray://host:port' joins through Ray Client. An already initialised Ray
    (a test's or an application's) is used as it is."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 max_retries: int = MAX_RETRIES):
        self.address, self.num_cpus, self.max_retries = address, num_cpus, max_retries
        self._started = False
        self.ray = None

    def _ensure(self):
        if self.ray is not None:
            return self.ray
        ray = import_ray()
        if not ray.is_initialized():
            try:
                if self.address is None:  # "local": a new Ray here, even when RAY_ADDRESS is set
                    cpus = self.num_cpus or len(os.sched_getaffinity(0))
                    ray.init(address="local", num_cpus=cpus, **LOCAL_RAY_OPTIONS)
                else:
                    ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = {None: "a local Ray", "auto": f"RAY_ADDRESS={os.environ.get('RAY_ADDRESS', '(unset)')}"}
                raise FarmError(f"cannot start or reach {where.get(self.address, self.address)}: {exc}") from None
            self._started = True
        self.ray = ray
        return ray

    def resources(self) -> dict:
        """The cluster's total resources (CPU, GPU, memory, ...)."""
        return dict(self._ensure().cluster_resources())

    def slots(self, task: Task) -> int:
        res = self.resources()
        fits = [res.get("CPU", 0.0) / task.num_cpus] if task.num_cpus > 0 else []
        if task.num_gpus > 0:
            fits.append(res.get("GPU", 0.0) / task.num_gpus)
        return max(1, int(min(fits))) if fits else 1

    def gpus(self) -> float:
        return float(self.resources().get("GPU", 0.0))

    def run(self, tasks: Sequence[Task], on_result: OnResult, on_progress: OnProgress | None = None) -> None:
        """Submit every task (Ray queues what does not fit), then hand results back as they come,
        polling the progress board; the first failure cancels the rest and is raised."""
        ray = self._ensure()
        board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        body = ray.remote(run_reporting)
        refs = {}
        for i, task in enumerate(tasks):
            opts = {"num_cpus": task.num_cpus, "num_gpus": task.num_gpus, "name": task.name,
                    "max_retries": self.max_retries, "retry_exceptions": [OSError]}
            refs[body.options(**opts).remote(task.fn, task.args, i, board, task.env)] = i
        seen: dict[int, int] = {}
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
                if on_progress is not None:
                    self._forward_progress(ray, board, seen, on_progress)
                for ref in ready:
                    on_result(refs[ref], self._get(ray, ref, tasks[refs[ref]]))
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            ray.kill(board)

    @staticmethod
    def _forward_progress(ray, board, seen: dict[int, int], on_progress: OnProgress) -> None:
        for index, done in ray.get(board.snapshot.remote()).items():
            if seen.get(index) != done:
                seen[index] = done
                on_progress(index, done)

    @staticmethod
    def _get(ray, ref, task: Task) -> Any:
        """The task's value; its own exception (a ShotError stays a ShotError) if it raised one."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise FarmError(f"farm task {task.name} failed: {exc}") from None
        except ray.exceptions.RayError as exc:  # worker or node lost more often than retried
            raise FarmError(f"farm task {task.name} was lost: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        """Stop the local Ray this executor started (a joined cluster is left running)."""
        if self._started and self.ray is not None:
            self.ray.shutdown()
        self._started, self.ray = False, None

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def executor_from_spec(spec: str | None) -> LocalExecutor | RayExecutor:
    """The executor a --farm value names: 'local' (default), 'ray' (a local Ray started on
    demand), 'auto' (the cluster in RAY_ADDRESS) or 'ray://host:port' (a remote cluster)."""
    text = (spec or "local").strip()
    if text == "local":
        return LocalExecutor()
    if text == "ray":
        return RayExecutor(None)
    if text == "auto":  # RAY_ADDRESS, else a cluster `ray start` began on this machine
        return RayExecutor("auto")
    if text.startswith("ray://") and len(text) > len("ray://"):
        return RayExecutor(text)
    raise FarmError(f"--farm '{text}': use local, ray, auto (RAY_ADDRESS) or ray://host:port")
