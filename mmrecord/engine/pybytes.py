"""Records cut into a list of ``bytes`` by one kernel call.

Every record a reader hands out is a ``bytes`` object, and making them from
Python costs an interpreter round per record (a slice, a view, a method
call) on top of the allocation and copy themselves: about twice as much as
those. These kernels build the list through CPython's C API instead (the
same calls numba makes when it boxes a result), so they are the engine's
only kernels that create Python objects, and its only kernels that hold the
GIL (no ``nogil``).

Every piece is checked against its buffer before anything is made, so a bad
span raises ``ValueError`` and cannot read outside the buffer; a failed
allocation raises ``MemoryError`` and leaves nothing behind.
"""

from __future__ import annotations

from numba import njit, types
from numba.core import cgutils
from numba.extending import box, intrinsic, models, register_model

from .memory import as_readonly


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
