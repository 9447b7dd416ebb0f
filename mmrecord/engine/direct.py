"""A kernel's compiled code, called without numba's per-call dispatch.

Calling a numba kernel first works out the type of every argument to pick
the compiled version (about 0.35 µs for ``simple.indexed_record_into``'s nine
arguments, a fifth of an uncompressed ``reader[i]``). A hot call whose
arguments keep their types for an object's lifetime (the same file map, index
table and scratch buffers) can take the compiled version once, here, and call
it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import typeof
from numba.core.registry import CPUDispatcher


def compiled_for(kernel: CPUDispatcher, *args: Any) -> Callable[..., Any]:
    """``kernel``'s compiled code for arguments of the types of ``args`` (compiled or loaded now if need be).

    The caller must pass arguments of exactly those types (arrays of the same
    dtype, dimensions, layout and writability; Python ints and bools where
    ``args`` held them): the compiled code takes them as such without checking.
    """
    return kernel.compile(tuple(typeof(arg) for arg in args))
