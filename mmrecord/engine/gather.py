"""Record boundaries and many-record copies over decoded chunk buffers."""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import copy_bytes


@njit(cache=True, nogil=True)
def sizes_to_bounds(sizes, total: int):
    """Turn record sizes into ``bounds`` (``record k = values[bounds[k]:bounds[k+1]]``).

    Returns ``(bounds, ok)``; ``ok`` is false when the sizes do not add up to
    exactly ``total`` (checked without overflow, whatever the sizes say).
    """
    bounds = np.empty(len(sizes) + 1, np.int64)
    bounds[0] = 0
    acc = np.uint64(0)
    limit = np.uint64(total)
    for k in range(len(sizes)):
        if sizes[k] > limit - acc:
            return bounds, False
        acc += sizes[k]
        bounds[k + 1] = np.int64(acc)
    return bounds, acc == limit


@njit(cache=True, nogil=True)
def gather_spans_into(values, offsets, src, extra, starts, stops, in_extra, lo: int, hi: int) -> None:
    """Copy pieces ``lo..hi`` to ``values[offsets[k]:offsets[k+1]]`` from ``src[starts[k]:stops[k]]``.

    A piece with ``in_extra[k]`` comes from ``extra`` instead. Threads may fill
    disjoint ranges of the same output at once.
    """
    for k in range(lo, hi):
        if in_extra[k]:
            copy_bytes(values, offsets[k], extra, starts[k], stops[k] - starts[k])
        else:
            copy_bytes(values, offsets[k], src, starts[k], stops[k] - starts[k])
