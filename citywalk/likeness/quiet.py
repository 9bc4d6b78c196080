"""Keeping third-party native log output (MediaPipe, TensorFlow Lite, absl/glog) off the
user's terminal: those libraries write straight to file descriptor 2 from C++ threads, so
Python's logging settings cannot silence them. While `native_stderr_silenced()` is active,
fd 2 points at /dev/null and Python's own `sys.stderr` (citywalk's messages, warnings,
tracebacks) keeps writing to the real terminal through a duplicate of the original fd.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

# Read by the native libraries when they are first loaded, so set before importing them.
QUIET_ENV = {"GLOG_minloglevel": "3", "TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "NONE"}

_lock = threading.Lock()
_depth = 0
_saved: dict = {}


def quiet_environment() -> None:
    """Sets the log-level variables the native libraries read at load time (user values win)."""
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)


def silence_absl() -> None:
    """absl's Python logger (used by MediaPipe's Python side) at ERROR, if absl is loaded."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.set_verbosity(absl_logging.ERROR)


def _python_stderr_is_fd2() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # pytest's capsys, an IDE console: no fd
        return False


def _enter() -> None:
    global _depth
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        redirect_python = _python_stderr_is_fd2()
        if sys.stderr is not None:
            sys.stderr.flush()
        saved_fd = os.dup(2)
        null_fd = os.open(os.devnull, os.O_WRONLY)
        _saved.update(fd=saved_fd, py=sys.stderr, replaced=redirect_python)
        if redirect_python:
            enc = getattr(sys.stderr, "encoding", None) or "utf-8"
            sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1, encoding=enc, errors="backslashreplace")
        os.dup2(null_fd, 2)
        os.close(null_fd)


def _exit() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth > 0:
            return
        if _saved["replaced"]:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = _saved["py"]
        os.dup2(_saved["fd"], 2)
        os.close(_saved["fd"])
        _saved.clear()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Within the block, native writes to fd 2 are discarded; Python's sys.stderr still
    reaches the terminal. Re-entrant; the original fd 2 is restored on exit, errors included."""
    _enter()
    try:
        yield
    finally:
        _exit()


__all__ = ["QUIET_ENV", "native_stderr_silenced", "quiet_environment", "silence_absl"]
