"""Record boundaries, and the kernel that assembles many records into one buffer."""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import claim, copy_bytes
from .native import decode_into


@njit(cache=True, nogil=True)
def sizes_to_bounds(sizes, total: int, bounds) -> bool:
    """Fill ``bounds`` (one more than ``sizes``) so that record ``k`` is ``values[bounds[k]:bounds[k+1]]``.

    Returns False when the sizes do not add up to exactly ``total`` (checked
    without overflow, whatever the sizes say).
    """
    bounds[0] = 0
    acc = np.uint64(0)
    limit = np.uint64(total)
    for k in range(len(sizes)):
        if sizes[k] > limit - acc:
            return False
        acc += sizes[k]
        bounds[k + 1] = np.int64(acc)
    return acc == limit


#: How :func:`fill_records` gets a piece: copied from ``src``, decoded from ``src``, copied from ``extra``.
COPY, DECODE, EXTRA = 0, 1, 2


@njit(cache=True, nogil=True)
def fill_records(values, offsets, src, extra, starts, stops, how, function: int, context: int,
                 lo: int, hi: int) -> int:
    """Fill pieces ``lo..hi`` into ``values[offsets[k]:offsets[k+1]]`` from ``src[starts[k]:stops[k]]``.

    ``how[k]`` says whether piece ``k`` is copied (``COPY``), decoded by the
    C decoder ``function`` (``DECODE``, see ``native``) or copied from
    ``extra`` (``EXTRA``). Threads may fill disjoint ranges of one output at
    once. Returns the first piece that failed to decode, or -1.
    """
    for k in range(lo, hi):
        size = offsets[k + 1] - offsets[k]
        if how[k] == DECODE:
            if not decode_into(function, context, values, offsets[k], size, src, starts[k], stops[k] - starts[k]):
                return k
        elif how[k] == EXTRA:
            copy_bytes(values, offsets[k], extra, starts[k], size)
        else:
            copy_bytes(values, offsets[k], src, starts[k], size)
    return -1


@njit(cache=True, nogil=True)
def fill_records_shared(values, offsets, src, extra, starts, stops, how, function: int, context: int,
                        counter, step: int) -> int:
    """:func:`fill_records` over pieces that any number of threads take ``step`` at a time.

    Each thread calling this with the same one-element int64 ``counter``
    (starting at 0) atomically claims the next ``step`` pieces until none
    are left, so threads that start late simply find less to do. Returns the
    first piece this thread failed to decode, or -1; a failure also ends the
    others' work.
    """
    count = len(offsets) - 1
    while True:
        lo, hi = claim(counter, step, count)
        if lo >= hi:
            return -1
        bad = fill_records(values, offsets, src, extra, starts, stops, how, function, context, lo, hi)
        if bad >= 0:
            claim(counter, count, count)  # nothing left for anyone
            return bad
