"""A hash table from non-negative int64 keys to int64 values, in two NumPy arrays (numba kernels).

The transposed-chunk encoder looks up a node or a transition for every field
it meets; numba's typed ``Dict`` costs a C call per lookup and microseconds
to create, which dominated small chunks. Open addressing with linear probing
over arrays costs a multiply and usually one probe. Empty slots hold key -1;
the table keeps at most half its slots full.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing


@njit(cache=True, nogil=True)
def new_table(capacity):
    """Empty ``(keys, values)`` with room for ``capacity`` entries (rounded up to a power of two, doubled)."""
    size = 16
    while size < 2 * capacity:
        size *= 2
    return np.full(size, -1, np.int64), np.empty(size, np.int64)


@njit(inline="always")
def slot(keys, key):
    """The slot holding ``key``, or the empty slot where it belongs."""
    mask = np.uint64(len(keys) - 1)
    i = np.int64(((np.uint64(key) * _MIX) >> np.uint64(32)) & mask)
    while keys[i] != key and keys[i] != -1:
        i = (i + 1) & np.int64(mask)
    return i


@njit(cache=True, nogil=True)
def insert(keys, values, count, at, key, value):
    """Put ``key -> value`` in the empty slot ``at`` that ``slot`` gave; return the table and count.

    The table doubles when it becomes half full, so the returned arrays may be new.
    """
    keys[at] = key
    values[at] = value
    count += 1
    if 2 * count > len(keys):
        old_keys, old_values = keys, values
        keys = np.full(2 * len(old_keys), -1, np.int64)
        values = np.empty(2 * len(old_keys), np.int64)
        for i in range(len(old_keys)):
            if old_keys[i] != -1:
                j = slot(keys, old_keys[i])
                keys[j] = old_keys[i]
                values[j] = old_values[i]
    return keys, values, count


@njit(inline="always")
def number(keys, values, count, key):
    """``key``'s number in a table numbering keys in order of first sight: ``(number, added, keys, values, count)``.

    A key not seen before gets ``count`` (and ``added`` is true); the returned
    arrays may be new, as with :func:`insert`.
    """
    at = slot(keys, key)
    if keys[at] == key:
        return values[at], False, keys, values, count
    value = count
    keys, values, count = insert(keys, values, count, at, key, value)
    return value, True, keys, values, count
