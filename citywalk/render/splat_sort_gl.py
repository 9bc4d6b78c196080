"""GpuKeySort: the splat depth sort on the GPU (GL 4.3 compute shaders, shaders/splat_sort.comp).

A stable least-significant-digit radix sort of 16-bit keys in four 4-bit passes, each a block
histogram, one prefix sum over (digit, block) and a stable scatter, so its order is exactly that
of NumPy's stable argsort (`splat_gl.sort_back_to_front`). The permutation stays on the GPU: a
gather writes the splat pass's order and fade buffers from it, so no readback is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from citywalk.errors import RenderError

_SOURCE = Path(__file__).with_name("shaders") / "splat_sort.comp"
_BLOCK = 256  # keys per workgroup (local_size_x of the histogram and scatter kernels)
_RADIX_BITS = 4
_KEY_BITS = 16


def compute_supported(ctx) -> bool:
    """Whether `ctx` runs compute shaders with storage buffers (OpenGL 4.3 or later)."""
    return int(getattr(ctx, "version_code", 0)) >= 430


class GpuKeySort:
    """Sorts uint16 keys ascending and stably on the GPU of `ctx`; buffers grow to the largest
    array sorted so far."""

    def __init__(self, ctx):
        if not compute_supported(ctx):
            raise RenderError(f"GpuKeySort needs OpenGL 4.3 compute shaders; this context is "
                              f"{getattr(ctx, 'version_code', '?')}")
        self.ctx = ctx
        src = _SOURCE.read_text()
        self.programs = {}
        for kernel in ("HIST", "SCAN", "SCATTER", "GATHER"):
            text = src.replace("#version 430\n", f"#version 430\n#define SORT_{kernel}\n", 1)
            try:
                self.programs[kernel] = ctx.compute_shader(text)
            except Exception as exc:  # moderngl.Error: a driver without these features
                raise RenderError(f"splat sort compute shader {kernel} failed to compile: {exc}") from None
        self.capacity = 0
        self._buffers: list = []

    def release(self) -> None:
        """Free GL objects."""
        for obj in [*self.programs.values(), *self._buffers]:
            obj.release()
        self._buffers = []

    def _reserve(self, n: int) -> None:
        if n <= self.capacity:
            return
        for b in self._buffers:
            b.release()
        cap = max(n, 2 * self.capacity, _BLOCK)
        blocks = -(-cap // _BLOCK)
        ctx = self.ctx
        self.keys_a, self.keys_b, self.vals_a, self.vals_b = (ctx.buffer(reserve=4 * cap) for _ in range(4))
        self.hist = ctx.buffer(reserve=4 * (1 << _RADIX_BITS) * blocks)
        self._buffers = [self.keys_a, self.keys_b, self.vals_a, self.vals_b, self.hist]
        self.capacity = cap

    def sort(self, keys: np.ndarray) -> int:
        """Sort `keys` (M,) uint16 on the GPU; the permutation (positions into `keys`, ascending
        key, ties in input order) is left in `self.vals_a`. Returns M."""
        keys = np.ascontiguousarray(keys, np.uint16)
        n = len(keys)
        if n == 0:
            return 0
        self._reserve(n)
        blocks = -(-n // _BLOCK)
        self.keys_a.write(keys.astype(np.uint32).tobytes())
        hist, scan, scatter = self.programs["HIST"], self.programs["SCAN"], self.programs["SCATTER"]
        for prog in (hist, scan, scatter):
            for name, value in (("u_n", n), ("u_blocks", blocks)):
                if name in prog:
                    prog[name].value = value
        src = (self.keys_a, self.vals_a)
        dst = (self.keys_b, self.vals_b)
        self.hist.bind_to_storage_buffer(4)
        barrier = self.ctx.memory_barrier
        for p, shift in enumerate(range(0, _KEY_BITS, _RADIX_BITS)):
            src[0].bind_to_storage_buffer(0)
            src[1].bind_to_storage_buffer(1)
            dst[0].bind_to_storage_buffer(2)
            dst[1].bind_to_storage_buffer(3)
            hist["u_shift"].value = shift
            hist.run(blocks)
            barrier()
            scan.run(1)
            barrier()
            scatter["u_shift"].value = shift
            scatter["u_iota"].value = int(p == 0)
            scatter.run(blocks)
            barrier()
            src, dst = dst, src
        # four passes ping-pong a→b→a→b→a: the result is back in keys_a / vals_a
        return n

    def argsort(self, keys: np.ndarray) -> np.ndarray:
        """The permutation (M,) int64 for `keys`, read back (for tests and measurement)."""
        n = self.sort(keys)
        if n == 0:
            return np.zeros(0, np.int64)
        return np.frombuffer(self.vals_a.read(size=4 * n), np.uint32).astype(np.int64)

    def gather(self, n: int, ids_buffer, order_buffer, fade_in_buffer=None, fade_out_buffer=None) -> None:
        """After sort(): order[i] = ids[perm[i]] (and fade_out[i] = fade_in[perm[i]] when given)
        for i < n, written into the caller's buffers."""
        if n == 0:
            return
        prog = self.programs["GATHER"]
        self.vals_a.bind_to_storage_buffer(1)
        ids_buffer.bind_to_storage_buffer(5)
        order_buffer.bind_to_storage_buffer(7)
        with_fade = fade_in_buffer is not None and fade_out_buffer is not None
        if with_fade:
            fade_in_buffer.bind_to_storage_buffer(6)
            fade_out_buffer.bind_to_storage_buffer(8)
        else:  # bind something: the kernel declares the buffers even when it skips them
            ids_buffer.bind_to_storage_buffer(6)
            self.keys_b.bind_to_storage_buffer(8)
        prog["u_n"].value = n
        if "u_with_fade" in prog:
            prog["u_with_fade"].value = int(with_fade)
        prog.run(-(-n // _BLOCK))
        self.ctx.memory_barrier()
