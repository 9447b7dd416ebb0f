"""Lists of ``bytes`` and NumPy buffers, each made from the other by one kernel call.

Every record a reader hands out is a ``bytes`` object, and making them from
Python costs an interpreter round per record (a slice, a view, a method
call) on top of the allocation and copy themselves: about twice as much as
those. ``bytes_list`` builds the list through CPython's C API instead (the
same calls numba makes when it boxes a result), and ``bytes_list_logical``
from pieces of a file map that block headers may cut through (such a piece
is made empty, then written around the header); ``join_records`` reads a
writer's list of ``bytes`` the same way, into one buffer, and
``record_addresses`` finds where each one's bytes lie. They are the
engine's only kernels that touch Python objects, and its only kernels that
hold the GIL (no ``nogil``), which also keeps the list from changing under
them.

Every piece is checked against its buffer before anything is made, so a bad
span raises ``ValueError`` and cannot read outside the buffer; a failed
allocation raises ``MemoryError`` and leaves nothing behind; an item that
is not ``bytes`` raises ``TypeError``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import box, intrinsic, models, register_model

from .blocks import copy_logical, skip_logical
from .memory import as_readonly, copy_from_address


class _NewList(types.Opaque):
    """A ``PyObject *`` to a new list the kernel owns (NULL, with the exception set, when making it failed).

    Returned from a kernel, the reference passes to the caller as the list
    itself: boxing hands it over as it is.
    """

    def __init__(self) -> None:
        super().__init__(name="mmrecord.NewList")


_new_list_type = _NewList()
register_model(_NewList)(models.OpaqueModel)


@box(_NewList)
def _hand_over(typ, value, c):
    return value


@intrinsic
def _new_list(typingctx, count):
    """A new list of ``count`` empty slots (``PyList_New``)."""

    def codegen(context, builder, signature, args):
        return context.get_python_api(builder).list_new(args[0])

    return _new_list_type(types.intp), codegen


@intrinsic
def _is_null(typingctx, handle):
    def codegen(context, builder, signature, args):
        return cgutils.is_null(builder, args[0])

    return types.boolean(handle), codegen


@intrinsic
def _put_bytes(typingctx, handle, slot, buffer, start, stop):
    """``list[slot] = bytes(buffer[start:stop])``; False when the ``bytes`` could not be made.

    ``buffer`` must be a contiguous uint8 array and ``0 <= start <= stop <=
    len(buffer)`` (the callers check).
    """
    if not (isinstance(buffer, types.Array) and buffer.layout == "C" and buffer.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        pyapi = context.get_python_api(builder)
        target, at, array, begin, end = args
        data = context.make_array(signature.args[2])(context, builder, array).data
        piece = pyapi.bytes_from_string_and_size(builder.gep(data, [begin]), builder.sub(end, begin))
        made = cgutils.is_not_null(builder, piece)
        with builder.if_then(made, likely=True):
            pyapi.list_setitem(target, at, piece)  # steals the new reference
        return made

    return types.boolean(handle, types.intp, buffer, types.intp, types.intp), codegen


@intrinsic
def _put_empty_bytes(typingctx, handle, slot, size):
    """``list[slot] =`` a new ``bytes`` of ``size`` bytes not yet written: the address of its bytes (0: not made).

    The kernel that makes it fills it before anyone else can see it, as
    CPython's own readers fill a ``bytes`` they make for a ``read``.
    """

    def codegen(context, builder, signature, args):
        pyapi = context.get_python_api(builder)
        target, at, length = args
        piece = pyapi.bytes_from_string_and_size(cgutils.get_null_value(pyapi.cstring), length)
        address = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(64), 0))
        with builder.if_then(cgutils.is_not_null(builder, piece), likely=True):
            builder.store(builder.ptrtoint(pyapi.bytes_as_string(piece), ir.IntType(64)), address)
            pyapi.list_setitem(target, at, piece)  # steals the new reference
        return builder.load(address)

    return types.int64(handle, types.intp, types.intp), codegen


@intrinsic
def _bytes_at_address(typingctx, address):
    """The byte at ``address`` as a pointer :func:`numba.carray` can view."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return types.CPointer(types.uint8)(types.int64), codegen


@intrinsic
def _release(typingctx, handle):
    """Drop the kernel's list (after a failure), returning a NULL handle; the exception stays set."""

    def codegen(context, builder, signature, args):
        context.get_python_api(builder).decref(args[0])
        return cgutils.get_null_value(args[0].type)

    return _new_list_type(handle), codegen


@njit(cache=True)
def bytes_list(buffer, starts, stops):
    """``[bytes(buffer[a:b]) for a, b in zip(starts, stops)]`` (``buffer`` a contiguous uint8 array)."""
    if len(stops) != len(starts):
        raise ValueError("starts and stops differ in length")
    for k in range(len(starts)):
        if not 0 <= starts[k] <= stops[k] <= len(buffer):
            raise ValueError("a record span lies outside its buffer")
    out = _new_list(len(starts))
    if _is_null(out):
        return out
    for k in range(len(starts)):
        if not _put_bytes(out, k, buffer, starts[k], stops[k]):
            return _release(out)
    return out


@njit(cache=True)
def bytes_list_from_two(first, second, starts, stops, in_first):
    """As :func:`bytes_list`, piece ``k`` cut from ``first`` where ``in_first[k]`` and from ``second`` elsewhere."""
    first, second = as_readonly(first), as_readonly(second)  # one type, whichever is writable
    if not len(starts) == len(stops) == len(in_first):
        raise ValueError("starts, stops and in_first differ in length")
    for k in range(len(starts)):
        if not 0 <= starts[k] <= stops[k] <= len(first if in_first[k] else second):
            raise ValueError("a record span lies outside its buffer")
    out = _new_list(len(starts))
    if _is_null(out):
        return out
    for k in range(len(starts)):
        if not _put_bytes(out, k, first if in_first[k] else second, starts[k], stops[k]):
            return _release(out)
    return out


@njit(cache=True)
def bytes_list_logical(src, pos, size, contiguous):
    """``bytes`` of the ``size[k]`` logical bytes from physical ``pos[k]`` of a file map, block headers skipped.

    Piece ``k`` is made straight from ``src`` where ``contiguous[k]`` (no
    block header inside, as :func:`~mmrecord.engine.blocks.is_contiguous`
    says); the few a header cuts through are made empty and filled by
    :func:`~mmrecord.engine.blocks.copy_logical`, so every piece is copied
    once, in one kernel call.
    """
    if not len(pos) == len(size) == len(contiguous):
        raise ValueError("pos, size and contiguous differ in length")
    for k in range(len(pos)):
        if not (0 <= pos[k] and 0 <= size[k] and
                (pos[k] + size[k] if contiguous[k] else skip_logical(pos[k], size[k])) <= len(src)):
            raise ValueError("a record span lies outside its buffer")
    src = as_readonly(src)
    out = _new_list(len(pos))
    if _is_null(out):
        return out
    for k in range(len(pos)):
        if contiguous[k]:
            if not _put_bytes(out, k, src, pos[k], pos[k] + size[k]):
                return _release(out)
        else:
            address = _put_empty_bytes(out, k, size[k])
            if address == 0:
                return _release(out)
            copy_logical(src, pos[k], carray(_bytes_at_address(address), size[k]), 0, size[k])
    return out


# --- the other way: a list of ``bytes`` joined into a buffer ------------------------------------


@intrinsic
def _bytes_at(typingctx, list_address, k):
    """``(address, length)`` of the ``bytes`` at ``list[k]`` (borrowed); ``(0, -1)`` if it is not ``bytes``.

    After a ``-1`` the exception CPython set is cleared: the caller raises its own.
    """
    result = types.UniTuple(types.int64, 2)

    def codegen(context, builder, signature, args):
        pyapi = context.get_python_api(builder)
        address, at = args
        records = builder.inttoptr(address, pyapi.pyobj)
        item = pyapi.list_getitem(records, at)
        data = cgutils.alloca_once_value(builder, cgutils.get_null_value(pyapi.cstring))
        length = cgutils.alloca_once_value(builder, ir.Constant(pyapi.py_ssize_t, -1))
        with builder.if_else(cgutils.is_not_null(builder, item)) as (present, absent):
            with present:
                ok = pyapi.bytes_as_string_and_size(item, data, length)
                with builder.if_then(builder.not_(ok)):
                    builder.store(ir.Constant(pyapi.py_ssize_t, -1), length)
            with absent:
                pass
        with builder.if_then(builder.icmp_signed("<", builder.load(length), ir.Constant(pyapi.py_ssize_t, 0))):
            pyapi.err_clear()
        pair = (builder.ptrtoint(builder.load(data), ir.IntType(64)), builder.sext(builder.load(length), ir.IntType(64))
                if pyapi.py_ssize_t.width < 64 else builder.load(length))
        return context.make_tuple(builder, result, pair)

    return result(types.int64, types.intp), codegen


@njit(cache=True)
def _record_places(list_address: int, count: int):
    """Each item's ``(address, length)`` up to the first that is not ``bytes`` (the arrays end there)."""
    addresses = np.empty(count, np.int64)
    lengths = np.empty(count, np.int64)
    for k in range(count):
        addresses[k], lengths[k] = _bytes_at(list_address, k)
        if lengths[k] < 0:
            return addresses[:k], lengths[:k]
    return addresses, lengths


@njit(cache=True)
def _join_into(list_address: int, count: int, out) -> int:
    pos = 0
    for k in range(count):
        address, length = _bytes_at(list_address, k)
        if length < 0 or length > len(out) - pos:
            return -1
        copy_from_address(out, pos, address, length)
        pos += length
    return pos


def record_addresses(records: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``(addresses, sizes)`` (int64) of the bytes inside each record of a list of ``bytes``.

    They stay valid while the records live: the caller keeps the list, and
    no one else changes it, for as long as it uses them. What lets the
    writer frame uncompressed records from where they lie, without joining
    them first.
    """
    if type(records) is not list:
        raise TypeError(f"records must be a list of bytes, not {type(records).__name__}")
    addresses, sizes = _record_places(id(records), len(records))
    if len(sizes) < len(records):
        raise TypeError(f"record {len(sizes)} is {type(records[len(sizes)]).__name__}, not bytes")
    return addresses, sizes


def join_records(records: list[bytes], out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values, sizes)``: the records' bytes one after another, and their lengths (int64).

    What ``b"".join(records)`` and ``map(len, records)`` give, in one copy
    and without a Python step per record. ``values`` is ``out[:total]`` when
    the caller's ``out`` has room (a buffer it reuses: no fresh pages to
    fault in), else a new array. ``records`` must be a list of ``bytes``.
    """
    count = len(records)
    sizes = record_addresses(records)[1]
    total = int(sizes.sum())
    if out is None or len(out) < total:
        out = np.empty(total, np.uint8)
    if _join_into(id(records), count, out) != total:
        raise RuntimeError("the list of records changed while it was being joined")
    return out[:total], sizes
