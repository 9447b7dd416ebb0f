"""Unsigned LEB128 varints (protobuf/Riegeli varint64) as numba kernels.

A varint holds 7 bits per byte, low group first; the high bit of a byte says
"more follows". A 64-bit value takes 1..10 bytes. Writers here emit the
shortest form. Readers, like Riegeli's ``ReadVarint64``, accept longer
(non-canonical) forms, but reject more than 10 bytes and bits beyond 64.

Readers never raise for bad bytes: they return a position of ``-1`` that the
Python layer turns into an error. Positions are ``int64``; values are ``uint64``.
"""

from __future__ import annotations

import operator

import numba
import numpy as np

__all__ = [
    "MAX_VARINT_SIZE",
    "read_varint",
    "decode_varints_into",
    "varint_size",
    "varint_length",
    "varint_lengths",
    "encode_varints",
    "encode_varints_into",
    "write_varint",
    "encode_varint",
]

#: The longest varint64 in bytes.
MAX_VARINT_SIZE = 10

_U0 = np.uint64(0)
_U7 = np.uint64(7)
_U63 = np.uint64(63)
_LOW7 = np.uint64(0x7F)
_MORE = np.uint64(0x80)


@numba.njit(inline="always")
def _read(buf, pos, stop):
    """Varint at ``buf[pos:stop]`` with ``0 <= pos`` and ``stop <= len(buf)`` already checked.

    One bounded loop with a single early exit: this shape compiles to ~1 ns per
    short varint, while a ``while True`` loop with several exits ran 10x slower.
    """
    result = _U0
    shift = _U0
    end = min(stop, pos + MAX_VARINT_SIZE)
    p = pos
    while p < end:
        byte = np.uint64(buf[np.uint64(p)])  # unsigned index: no wraparound code
        result |= (byte & _LOW7) << shift
        p += 1
        if byte < _MORE:
            if shift == _U63 and byte > np.uint64(1):
                return _U0, np.int64(-1)  # 10th byte carries bits beyond 64
            return result, p
        shift += _U7
    return _U0, np.int64(-1)  # truncated at stop, or more than 10 bytes


@numba.njit(cache=True, nogil=True)
def read_varint(buf, pos, stop):
    """Read one varint from ``buf[pos:stop]`` (1-D uint8 array or bytes).

    Returns ``(value: uint64, new_pos: int64)``. ``new_pos`` is the position
    after the varint, or ``-1`` if it is truncated (runs past ``stop``), longer
    than 10 bytes, or overflows 64 bits (then ``value`` is 0).
    ``stop`` is clamped to ``len(buf)``; a negative ``pos`` gives ``-1``.
    """
    stop = min(np.int64(stop), np.int64(len(buf)))
    pos = np.int64(pos)
    if pos < 0:
        return _U0, np.int64(-1)
    return _read(buf, pos, stop)


@numba.njit(cache=True, nogil=True)
def decode_varints_into(buf, start, stop, out):
    """Decode exactly ``len(out)`` varints from ``buf[start:stop]`` into ``out`` (uint64).

    Returns the position after the last varint, or ``-1`` on a bad or missing
    varint (``out`` is then partly written). Allocates nothing, so it composes
    inside other kernels.
    """
    stop = min(np.int64(stop), np.int64(len(buf)))
    pos = np.int64(start)
    if pos < 0:
        return np.int64(-1)
    for i in range(len(out)):
        value, pos = _read(buf, pos, stop)
        if pos < 0:
            return np.int64(-1)
        out[i] = value
    return pos


@numba.njit(inline="always")
def varint_length(v):
    """Shortest varint length of the uint64 ``v`` (1..10), branch-free so loops vectorise."""
    n = np.int64(1)
    for k in range(1, 10):
        n += np.int64(v >= (np.uint64(1) << np.uint64(7 * k)))
    return n


@numba.njit(cache=True, nogil=True)
def varint_size(values):
    """Total length in bytes of the shortest varints of all ``values`` (int64).

    ``values`` should be uint64; other integer dtypes are taken modulo 2**64
    (so a negative int64 costs 10 bytes, as in protobuf).
    """
    total = np.int64(0)
    for i in range(len(values)):
        total += varint_length(np.uint64(values[i]))
    return total


@numba.njit(inline="always")
def write_varint(out, pos, value):
    """Write the shortest varint of ``value`` at ``out[pos:]`` (room already checked); return the end."""
    v = np.uint64(value)
    p = np.uint64(pos)
    while v >= _MORE:
        out[p] = np.uint8((v & _LOW7) | _MORE)
        v >>= _U7
        p += np.uint64(1)
    out[p] = np.uint8(v)
    return np.int64(p + np.uint64(1))


@numba.njit(cache=True, nogil=True)
def varint_lengths(values):
    """The shortest varint length of each of ``values`` (int64 array)."""
    out = np.empty(len(values), np.int64)
    for i in range(len(values)):
        out[i] = varint_length(np.uint64(values[i]))
    return out


@numba.njit(cache=True, nogil=True)
def encode_varints_into(values, out, pos):
    """Write the shortest varints of ``values`` into the uint8 array ``out`` from ``pos``.

    Returns the position after the last byte written, or ``-1`` (nothing
    written) if ``pos`` is negative or ``out`` is too short.
    """
    pos = np.int64(pos)
    if pos < 0 or pos + varint_size(values) > len(out):
        return np.int64(-1)
    for i in range(len(values)):
        pos = write_varint(out, pos, values[i])
    return pos


@numba.njit(cache=True, nogil=True)
def encode_varints(values):
    """The shortest varints of ``values`` (uint64 array), concatenated, as a new uint8 array."""
    out = np.empty(varint_size(values), np.uint8)
    encode_varints_into(values, out, 0)
    return out


def encode_varint(value: int) -> bytes:
    """The shortest varint of one integer in ``[0, 2**64)``, for scalar fields built in Python."""
    value = operator.index(value)
    if value < 0x80:
        if value < 0:
            raise ValueError(f"varint value must be in [0, 2**64), got {value}")
        return bytes((value,))
    if value >> 64:
        raise ValueError(f"varint value must be in [0, 2**64), got {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
