"""Byte-level helpers the kernels share: little-endian integers in uint8 arrays, copies, an atomic add."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic


@njit(cache=True, nogil=True, inline="always")
def load_u64(buf, at: int) -> np.uint64:
    """Little-endian u64 at ``buf[at:at+8]``."""
    value = np.uint64(0)
    for i in range(8):
        value |= np.uint64(buf[at + i]) << np.uint64(8 * i)
    return value


@njit(cache=True, nogil=True, inline="always")
def store_u64(buf, at: int, value) -> None:
    """Write ``value`` as a little-endian u64 at ``buf[at:at+8]``."""
    value = np.uint64(value)
    for i in range(8):
        buf[at + i] = np.uint8((value >> np.uint64(8 * i)) & np.uint64(0xFF))


@intrinsic
def as_readonly(typingctx, array):
    """``array`` typed as read-only (no copy: the same view).

    A kernel that reads both writable and read-only arrays is compiled once for
    each; passing every array through this first compiles it once.
    """
    result = array.copy(readonly=True) if isinstance(array, types.Array) and array.mutable else array

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, result, args[0])

    return result(array), codegen


@njit(inline="always")
def copy_bytes(dst, dst_pos, src, src_pos, count) -> None:
    """``dst[dst_pos:dst_pos+count] = src[src_pos:src_pos+count]``, as a loop LLVM vectorises.

    numba compiles slice assignment to a per-element loop with index checks,
    about 5x slower than this plain loop over unsigned indices.
    """
    d = np.uint64(dst_pos)
    s = np.uint64(src_pos)
    for i in range(np.uint64(count)):
        dst[d + i] = src[s + i]


@intrinsic
def fetch_add(typingctx, address, value):
    """Atomically add ``value`` to the int64 at ``address``; returns the value before."""
    sig = types.int64(types.int64, types.int64)

    def codegen(cgctx, builder, signature, args):
        word = ir.IntType(64)
        pointer = builder.inttoptr(args[0], word.as_pointer())
        return builder.atomic_rmw("add", pointer, args[1], "seq_cst")

    return sig, codegen


@njit(inline="always")
def claim(counter, step: int, count: int):
    """This thread's next ``step`` of ``count`` items shared out through ``counter``: ``(lo, hi)``.

    ``counter`` is a one-element int64 array, 0 before the first claim; every
    thread working on the items claims from the same one. The range is empty
    (``lo >= hi``) once all items are taken.
    """
    lo = fetch_add(counter.ctypes.data, step)
    return lo, min(lo + step, count)


@intrinsic
def copy_from_address(typingctx, dst, dst_pos, address, count):
    """``dst[dst_pos:dst_pos+count] = `` the ``count`` bytes at ``address`` (one ``memcpy``).

    For bytes that no array describes (a ``bytes`` object's, a piece of a
    chunk given by address); the caller bounds both ranges.
    """
    if not (isinstance(dst, types.Array) and dst.layout == "C" and dst.ndim == 1):
        return None
    sig = types.none(dst, types.intp, types.int64, types.intp)

    def codegen(context, builder, signature, args):
        array, pos, source, length = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        cgutils.raw_memcpy(builder, builder.gep(data, [pos]), builder.inttoptr(source, data.type), length, 1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def copy_word(typingctx, dst_address, src_address):
    """Copy the 8 bytes at ``src_address`` to ``dst_address`` (neither needs alignment).

    Short copies go a word at a time with this; the caller bounds both ranges.
    """
    sig = types.void(types.int64, types.int64)

    def codegen(cgctx, builder, signature, args):
        pointer = ir.IntType(64).as_pointer()
        word = builder.load(builder.inttoptr(args[1], pointer), align=1)
        builder.store(word, builder.inttoptr(args[0], pointer), align=1)

    return sig, codegen
