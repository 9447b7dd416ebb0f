"""Record boundaries and many-record copies over decoded chunk buffers."""

from __future__ import annotations

import numpy as np
from numba import njit


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
