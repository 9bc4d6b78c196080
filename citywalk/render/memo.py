"""An in-process memo for light data derived from a scene (the AO bake, the lamp volume).

A render builds one renderer to meter exposure and one for the frames, and the Studio's preview
and a farm worker build many for the same street: identical inputs are computed once. Keys are
digests of the inputs' bytes, so an equal scene built anew still hits; results are frozen
(read-only arrays) because every renderer shares them.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")


def digest(*parts) -> str:
    """A key for `parts`: arrays by dtype, shape and bytes; anything else by its pickle."""
    h = hashlib.blake2b(digest_size=20)
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(pickle.dumps(p, protocol=4))
    return h.hexdigest()


def freeze(value):
    """Mark every array attribute of a dataclass-like `value` read-only; returns value."""
    for v in vars(value).values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return value


class ContentMemo:
    """The last `size` results by key (least recently used dropped first); thread-safe."""

    def __init__(self, size: int = 2):
        self.size = int(size)
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str, make: Callable[[], T]) -> T:
        """The stored result for key, else make() (stored frozen)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]  # type: ignore[return-value]
        value = make()
        if value is not None:
            freeze(value)
        with self._lock:
            self.misses += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


__all__ = ["ContentMemo", "digest", "freeze"]
