"""Snappy's raw block format as kernels: a bounded decoder and an encoder that matches the C++ library.

A block is ``varint32(decoded length)`` followed by elements, each a tag byte
and its operands: the tag's low two bits say literal (0), or a copy with a
1-, 2- or 4-byte offset (1, 2, 3) of bytes already decoded.

The encoder makes the same bytes as Google's C++ snappy 1.2 (what the
reference's Riegeli bundles; the algorithm is the same in 1.2.0–1.2.2 built
without SSE4.2/ARM CRC hashing): the input is cut into 64 KiB fragments, each
compressed on its own with a hash table sized from the fragment; level 1 finds
4-byte matches through one table and skips ahead faster the longer nothing
matches, level 2 looks through an 8-byte and a 4-byte table and extends
matches backwards. Every emitted element, and how long copies are split,
follows that library, so whole files written with snappy are the reference's.

Kernels never raise: the decoder returns -1 for any block it cannot decode
exactly, after reading and writing only inside the ranges it was given.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit
from numba.cpython.unsafe.numbers import trailing_zeros

from .memory import as_readonly, copy_bytes, copy_word
from .native import lazy_cfunc

#: Snappy compresses at most 4 GiB - 1 bytes (the length is a varint32).
MAX_INPUT = (1 << 32) - 1
_FRAGMENT = 1 << 16
_MIN_TABLE = 1 << 8
_MAX_TABLE = 1 << 15
#: The main loops stop this far before a fragment's end, so that 8-byte loads stay inside it.
_MARGIN = 15

_U32 = np.uint64(0xFFFFFFFF)
_K_LEVEL1 = np.uint64(0x1E35A7BD)
_K_HASH4 = np.uint64(2654435761)
_K_HASH8 = np.uint64(58295818150454627)


@njit(cache=True, nogil=True)
def max_compressed_length(size: int) -> int:
    """The most bytes :func:`compress` can produce for ``size`` input bytes (the C++ library's bound)."""
    return 32 + size + size // 6


# --- shared helpers -------------------------------------------------------------


@njit(inline="always")
def _load32(buf, at):
    """Little-endian u32 at ``buf[at:at+4]``, as uint64 so that hashes never mix in signed types.

    Unsigned indices spare the negative-index fix-up, so LLVM makes this one load.
    """
    u = np.uint64(at)
    return (np.uint64(buf[u]) | np.uint64(buf[u + np.uint64(1)]) << np.uint64(8)
            | np.uint64(buf[u + np.uint64(2)]) << np.uint64(16)
            | np.uint64(buf[u + np.uint64(3)]) << np.uint64(24))


@njit(inline="always")
def _load64(buf, at):
    """Little-endian u64 at ``buf[at:at+8]`` (one load, as :func:`_load32`)."""
    return _load32(buf, at) | _load32(buf, np.uint64(at) + np.uint64(4)) << np.uint64(32)


@njit(cache=True, nogil=True, forceinline=True)
def _common_length(buf, a, b, end):
    """How many bytes ``buf[a:]`` and ``buf[b:end]`` share from the start (``a < b``)."""
    n = 0
    while b + n + 8 <= end:
        diff = _load64(buf, a + n) ^ _load64(buf, b + n)
        if diff != 0:  # the lowest differing bit tells how many low (earlier) bytes agree
            return n + (np.int64(trailing_zeros(diff)) >> 3)
        n += 8
    while b + n < end and buf[a + n] == buf[b + n]:
        n += 1
    return n


# --- encoder --------------------------------------------------------------------


@njit(cache=True, nogil=True, forceinline=True)
def _table_size(size):
    """Hash-table entries for a fragment of ``size`` bytes: the next power of two, within bounds."""
    entries = _MIN_TABLE
    while entries < size and entries < _MAX_TABLE:
        entries *= 2
    return entries


@njit(inline="always")
def _slot(data, mask):
    """Level 1's table slot for the four bytes ``data`` (multiplicative hash, top bits)."""
    return ((data & _U32) * _K_LEVEL1 & _U32) >> np.uint64(17) & mask


@njit(inline="always")
def _slot4(data, mask):
    """Level 2's slot for four bytes."""
    return ((data & _U32) * _K_HASH4 & _U32) >> np.uint64(18) & mask


@njit(inline="always")
def _slot8(data, mask):
    """Level 2's slot for eight bytes."""
    return (data * _K_HASH8) >> np.uint64(50) & mask


@njit(cache=True, nogil=True, forceinline=True)
def _emit_literal(dst, op, src, pos, length):
    """Write a literal element for ``src[pos:pos+length]`` (``length >= 1``); returns the new end."""
    n = length - 1
    if n < 16 and op + 17 <= len(dst) and pos + 16 <= len(src):
        # Two words carry it; what they write past the literal is overwritten next.
        dst[op] = n << 2
        copy_word(dst.ctypes.data + op + 1, src.ctypes.data + pos)
        copy_word(dst.ctypes.data + op + 9, src.ctypes.data + pos + 8)
        return op + 1 + length
    if n < 60:
        dst[op] = n << 2
        op += 1
    else:
        count = 1 if n < 1 << 8 else 2 if n < 1 << 16 else 3 if n < 1 << 24 else 4
        dst[op] = (59 + count) << 2
        for i in range(count):
            dst[op + 1 + i] = (n >> (8 * i)) & 0xFF
        op += 1 + count
    copy_bytes(dst, op, src, pos, length)
    return op + length


@njit(cache=True, nogil=True, forceinline=True)
def _emit_short_copy(dst, op, offset, length):
    """One copy element of 4..64 bytes: the 2-byte form when it fits (under 12 bytes, offset under 2 KiB)."""
    if length < 12 and offset < 2048:
        dst[op] = 1 | (length - 4) << 2 | (offset >> 8) << 5
        dst[op + 1] = offset & 0xFF
        return op + 2
    dst[op] = 2 | (length - 1) << 2
    dst[op + 1] = offset & 0xFF
    dst[op + 2] = offset >> 8
    return op + 3


@njit(cache=True, nogil=True, forceinline=True)
def _emit_copy(dst, op, offset, length):
    """Copy elements for a match of ``length >= 4`` bytes at ``offset``.

    Long matches go out as 64-byte pieces while at least 68 bytes remain
    (so that the last piece keeps 4 bytes or more), then possibly one of 60,
    then the rest.
    """
    while length >= 68:
        op = _emit_short_copy(dst, op, offset, 64)
        length -= 64
    if length > 64:
        op = _emit_short_copy(dst, op, offset, 60)
        length -= 60
    return _emit_short_copy(dst, op, offset, length)


@njit(cache=True, nogil=True)
def _compress_fragment(src, start, end, dst, op, table):
    """Level 1 over ``src[start:end]``; returns ``(op, ip)``: the literal tail ``src[ip:end]`` is left to write."""
    mask = np.uint64(len(table) - 1)
    ip = start
    if end - start < _MARGIN:
        return op, ip
    limit = end - _MARGIN
    while True:
        pending = ip  # bytes from here on are not yet written
        ip += 1
        skip = 32  # hash lookups advance skip >> 5 bytes: slower the longer nothing matched
        found = False
        if limit - ip >= 16:
            # The first sixteen positions are all looked at.
            for i in range(16):
                data = _load32(src, ip + i)
                slot = _slot(data, mask)
                candidate = start + np.int64(table[slot])
                table[slot] = ip + i - start
                if _load32(src, candidate) == data:
                    ip += i
                    found = True
                    break
            if not found:
                ip += 16
                skip += 16
        if not found:
            while True:
                data = _load32(src, ip)
                slot = _slot(data, mask)
                step = skip >> 5
                skip += step
                if ip + step > limit:
                    return op, pending
                candidate = start + np.int64(table[slot])
                table[slot] = ip - start
                if _load32(src, candidate) == data:
                    break
                ip += step
        op = _emit_literal(dst, op, src, pending, ip - pending)
        while True:  # copies, as long as the bytes right after one match again
            length = 4 + _common_length(src, candidate + 4, ip + 4, end)
            op = _emit_copy(dst, op, ip - candidate, length)
            ip += length
            if ip >= limit:
                return op, ip
            table[_slot(_load32(src, ip - 1), mask)] = ip - 1 - start
            data = _load32(src, ip)
            slot = _slot(data, mask)
            candidate = start + np.int64(table[slot])
            table[slot] = ip - start
            if _load32(src, candidate) != data:
                break


@njit(cache=True, nogil=True)
def _compress_fragment_double(src, start, end, dst, op, table4, table8):
    """Level 2 over ``src[start:end]``; returns ``(op, ip)`` as :func:`_compress_fragment` does."""
    mask = np.uint64(len(table4) - 1)
    ip = start
    if end - start < _MARGIN:
        return op, ip
    limit = end - _MARGIN
    while True:
        pending = ip
        ip += 1
        skip = 512  # lookups advance skip >> 9 bytes
        while True:
            data = _load64(src, ip)
            slot = _slot8(data, mask)
            step = skip >> 9
            skip += 1
            if ip + step > limit:
                return op, pending
            candidate = start + np.int64(table8[slot])
            table8[slot] = ip - start
            if _load32(src, candidate) == data & _U32:
                length = 4 + _common_length(src, candidate + 4, ip + 4, end)
                break
            slot = _slot4(data, mask)
            candidate = start + np.int64(table4[slot])
            table4[slot] = ip - start
            if _load32(src, candidate) == data & _U32:
                length = 4 + _common_length(src, candidate + 4, ip + 4, end)
                # A longer match starting one byte later wins.
                slot = _slot8(_load64(src, ip + 1), mask)
                later = start + np.int64(table8[slot])
                later_length = _common_length(src, later, ip + 1, end)
                if later_length > length:
                    table8[slot] = ip - start
                    candidate, length = later, later_length
                    ip += 1
                break
            ip += step
        while ip > pending and candidate > start and src[ip - 1] == src[candidate - 1]:
            ip -= 1
            candidate -= 1
            length += 1
        table8[_slot8(_load64(src, ip + 1), mask)] = ip - start + 1
        table8[_slot8(_load64(src, ip + 2), mask)] = ip - start + 2
        table4[_slot4(_load32(src, ip + 1), mask)] = ip - start + 1
        if ip > pending:
            op = _emit_literal(dst, op, src, pending, ip - pending)
        while True:
            op = _emit_copy(dst, op, ip - candidate, length)
            ip += length
            if ip >= limit:
                return op, ip
            if ip - start > 7:
                table8[_slot8(_load64(src, ip - 7), mask)] = ip - start - 7
                table8[_slot8(_load64(src, ip - 4), mask)] = ip - start - 4
            table8[_slot8(_load64(src, ip - 3), mask)] = ip - start - 3
            table8[_slot8(_load64(src, ip - 2), mask)] = ip - start - 2
            table4[_slot4(_load32(src, ip - 2), mask)] = ip - start - 2
            table4[_slot4(_load32(src, ip - 1), mask)] = ip - start - 1
            here = _load32(src, ip)
            slot = _slot8(_load64(src, ip), mask)
            candidate = start + np.int64(table8[slot])
            table8[slot] = ip - start
            if _load32(src, candidate) != here:
                slot = _slot4(here, mask)
                candidate = start + np.int64(table4[slot])
                table4[slot] = ip - start
                if _load32(src, candidate) != here:
                    break
            length = 4 + _common_length(src, candidate + 4, ip + 4, end)


@njit(cache=True, nogil=True)
def compress(src, level: int):
    """The snappy block of ``src`` (at most :data:`MAX_INPUT` bytes) at ``level`` 1 or 2, as a uint8 array."""
    size = len(src)
    dst = np.empty(max_compressed_length(size), np.uint8)
    return dst[:compress_into(src, 0, size, dst, 0, level, new_table())]


@njit(cache=True, nogil=True)
def new_table():
    """A hash table for :func:`compress_into`, large enough for any fragment."""
    return np.empty(_MAX_TABLE, np.uint16)


@njit(nogil=True, inline="always")
def compress_into(src, begin: int, stop: int, dst, op: int, level: int, table) -> int:
    """Write the snappy block of ``src[begin:stop]`` at ``dst[op:]``; returns where it ends.

    ``dst`` must have :func:`max_compressed_length` bytes of room from ``op``,
    and ``table`` comes from :func:`new_table`. The block is the one the C++
    library makes for those bytes alone, wherever they lie in ``src``.
    """
    return _compress_into(as_readonly(src), np.int64(begin), np.int64(stop), dst, np.int64(op),
                          np.int64(level), table)


@njit(cache=True, nogil=True)
def _compress_into(src, begin: int, stop: int, dst, op: int, level: int, table) -> int:
    """:func:`compress_into` for a read-only ``src`` and int64 arguments (one compiled version)."""
    rest = stop - begin
    while rest >= 0x80:
        dst[op] = rest & 0x7F | 0x80
        rest >>= 7
        op += 1
    dst[op] = rest
    op += 1
    for start in range(begin, stop, _FRAGMENT):
        end = min(start + _FRAGMENT, stop)
        entries = _table_size(end - start)
        table[:entries] = 0
        if level == 2:
            half = entries // 2
            op, ip = _compress_fragment_double(src, start, end, dst, op, table[:half], table[half:entries])
        else:
            op, ip = _compress_fragment(src, start, end, dst, op, table[:entries])
        if ip < end:
            op = _emit_literal(dst, op, src, ip, end - ip)
    return op


# --- decoder --------------------------------------------------------------------


@njit(cache=True, nogil=True)
def decoded_length(src, pos: int, stop: int):
    """The length a block at ``src[pos:stop]`` declares, and where its elements start; ``(-1, -1)`` if malformed."""
    value = 0
    for i in range(5):
        if pos + i >= stop:
            return -1, -1
        byte = np.int64(src[pos + i])
        if i == 4 and byte >= 16:  # more than 32 bits
            return -1, -1
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    return -1, -1


def _tag_table() -> np.ndarray:
    """For each tag byte: ``length | offset_high << 8 | operand_bytes << 11``.

    ``length`` is the element's length (0 for a literal whose length follows
    in its operand bytes), ``offset_high`` a 1-byte-offset copy's top three
    offset bits, ``operand_bytes`` how many bytes follow the tag.
    """
    table = np.zeros(256, np.uint16)
    for tag in range(256):
        kind, high = tag & 3, tag >> 2
        if kind == 0:
            table[tag] = high + 1 if high < 60 else (high - 59) << 11
        elif kind == 1:
            table[tag] = 4 + (high & 7) | (tag >> 5) << 8 | 1 << 11
        else:
            table[tag] = high + 1 | (2 if kind == 2 else 4) << 11
    return table


_TAGS = _tag_table()
_OPERAND_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF], np.uint64)


@njit(cache=True, nogil=True)
def decode(src, pos: int, stop: int, dst, dst_pos: int, capacity: int) -> int:
    """Decode the block ``src[pos:stop]`` into ``dst[dst_pos:dst_pos+capacity]``; returns its length or -1.

    -1 means the block is malformed (a bad varint, an element cut short, an
    offset before the start of the output, output past its declared length or
    the capacity, or fewer bytes than declared). Only those two ranges are
    read and written; the caller checks that they lie inside the arrays.
    """
    length, p = decoded_length(src, pos, stop)
    if p < 0 or length > capacity:
        return -1
    op = dst_pos
    end = dst_pos + length
    src_at = src.ctypes.data
    dst_at = dst.ctypes.data
    while p < stop:
        if stop - p >= 21 and end - op >= 16:
            # Plenty of room on both sides: a literal or copy of at most 16 bytes is two
            # words from its source, chosen without a branch on the element's kind.
            tag = src[np.uint64(p)]
            entry = np.int64(_TAGS[tag])
            n = entry & 0xFF
            extra = entry >> 11
            operand = np.int64(_load32(src, np.uint64(p + 1)) & _OPERAND_MASK[extra])
            literal = tag & 3 == 0
            offset = (entry & 0x700) + operand
            source = src_at + p + 1 if literal else dst_at + op - offset
            short = 0 < n <= 16 if literal else n <= 16 and 8 <= offset <= op - dst_pos
            if short:
                copy_word(dst_at + op, source)
                copy_word(dst_at + op + 8, source + 8)
                op += n
                p += 1 + extra + (n if literal else 0)
                continue
        tag = src[np.uint64(p)]
        entry = np.int64(_TAGS[tag])
        extra = entry >> 11
        if stop - p >= 5:
            operand = np.int64(_load32(src, np.uint64(p + 1)) & _OPERAND_MASK[extra])
        elif stop - p > extra:
            operand = 0
            for i in range(extra):
                operand |= np.int64(src[p + 1 + i]) << (8 * i)
        else:
            return -1
        p += 1 + extra
        if tag & 3 == 0:
            n = entry & 0xFF
            if n == 0:
                n = operand + 1
            if n > stop - p or n > end - op:
                return -1
            copy_bytes(dst, op, src, p, n)
            p += n
            op += n
            continue
        n = entry & 0xFF
        offset = (entry & 0x700) + operand
        if offset == 0 or offset > op - dst_pos or n > end - op:
            return -1
        if offset >= 8 and end - op >= n + 7:
            # Word by word: each word read was written at least a word earlier.
            copy_word(dst_at + op, dst_at + op - offset)
            i = 8
            while i < n:
                copy_word(dst_at + op + i, dst_at + op - offset + i)
                i += 8
        else:  # near the end, or a copy overlapping what it writes: byte by byte repeats the pattern
            for i in range(n):
                dst[op + i] = dst[op - offset + i]
        op += n
    return length if op == end else -1



def _decode_entry(context, dst, capacity, src, size):
    return decode(carray(src, (size,)), 0, size, carray(dst, (capacity,)), 0, capacity)


#: The address of :func:`decode` as kernels call a decoder (``native.DECODER_SIGNATURE``; no context),
#: compiled on first use.
kernel_decoder = lazy_cfunc(_decode_entry)
