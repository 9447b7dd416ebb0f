"""Vectorised decoding of the footer's ``ArrayRecordFooter`` messages.

A footer holds one tiny protobuf message per data chunk; a file can have
millions of them, so they are decoded here in one pass instead of one Python
call each (FORMAT.md §6.3).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .varint import read_varint, write_varint

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LENGTH = 2
WIRE_FIXED32 = 5


#: ``decode_footer_entries`` findings, besides -1 (all good), about entry ``where``.
BAD_ENTRY = 0  # malformed, without chunk_offset, or holding a value past int64
NO_RECORDS = 1  # a chunk of no records
OUT_OF_ORDER = 2  # an offset not after the previous one, before the first block header, or past the footer


@njit(inline="always")
def _entry(buf, pos: int, stop: int):
    """One ``ArrayRecordFooter`` message ``buf[pos:stop]``: ``(ok, chunk_offset, decoded_data_size, num_records)``.

    Unknown fields are skipped as protobuf allows, and absent ones are 0;
    ``ok`` is false for a malformed message, one without ``chunk_offset``,
    or values past int64. The layout writers use (the three fields once each,
    in order) is read straight, a quarter faster than the general loop that
    reads any other.
    """
    if pos < stop and buf[pos] == 0x08:
        offset, p = read_varint(buf, pos + 1, stop)
        if 0 < p < stop and buf[p] == 0x10:
            size, p = read_varint(buf, p + 1, stop)
            if 0 < p < stop and buf[p] == 0x18:
                count, p = read_varint(buf, p + 1, stop)
                if p == stop:
                    return _checked(True, offset, size, count)
    offset = np.uint64(0)
    size = np.uint64(0)
    count = np.uint64(0)
    has_offset = False
    z = np.int64(0)
    while pos < stop:
        tag, pos = read_varint(buf, pos, stop)
        if pos < 0:
            return False, z, z, z
        field = tag >> np.uint64(3)
        wire = tag & np.uint64(7)
        if wire == WIRE_VARINT:
            value, pos = read_varint(buf, pos, stop)
            if pos < 0:
                return False, z, z, z
            if field == 1:
                offset = value
                has_offset = True
            elif field == 2:
                size = value
            elif field == 3:
                count = value
        elif wire == WIRE_LENGTH:
            length, pos = read_varint(buf, pos, stop)
            if pos < 0 or length > np.uint64(stop - pos):
                return False, z, z, z
            pos += np.int64(length)
        elif wire == WIRE_FIXED64:
            pos += 8
        elif wire == WIRE_FIXED32:
            pos += 4
        else:
            return False, z, z, z
    return _checked(pos == stop and has_offset, offset, size, count)


@njit(inline="always")
def _checked(ok: bool, offset, size, count):
    """An entry's fields as int64, ``ok`` only when they fit (offsets below 2**63, sizes and counts 2**62)."""
    ok = ok and offset < np.uint64(1 << 63) and size < np.uint64(1 << 62) and count < np.uint64(1 << 62)
    return ok, np.int64(offset), np.int64(size), np.int64(count)


@njit(cache=True, nogil=True)
def decode_footer_entries(buf, bounds, lo: int, hi: int, footer_offset: int, chunks):
    """Decode and check footer messages ``lo..hi`` (``buf[bounds[k]:bounds[k+1]]``).

    Writes each ``chunk_offset`` and ``decoded_data_size`` into row ``k`` of
    the int64 array ``chunks`` (threads may fill disjoint ranges at once)
    and checks that the offsets increase from 64 (after the signature) and
    stay before the footer, and that every chunk holds records. Returns
    ``(status, where, group, uniform, last, total)``: ``status`` is -1 or a
    finding above about entry ``where``; ``group`` is entry ``lo``'s record
    count; ``uniform`` says the entries before the range's last hold
    ``group`` records and the last at most that; ``last`` is the last's
    count and ``total`` the range's. Counts are not kept: files whose groups
    are uniform (every file the reference writes) need none.
    """
    group = np.int64(0)
    uniform = True
    records = np.int64(0)
    total = np.int64(0)
    previous = np.int64(63)
    for k in range(lo, hi):
        ok, offset, size, records = _entry(buf, bounds[k], bounds[k + 1])
        if not ok:
            return BAD_ENTRY, np.int64(k), group, uniform, records, total
        if records == 0 or records > (np.int64(1) << np.int64(62)) - total:
            return NO_RECORDS, np.int64(k), group, uniform, records, total
        if offset <= previous or offset >= footer_offset:
            return OUT_OF_ORDER, np.int64(k), group, uniform, records, total
        if k == lo:
            group = records
        elif records > group or (records < group and k + 1 < hi):
            uniform = False
        chunks[k, 0] = offset
        chunks[k, 1] = size
        previous = offset
        total += records
    return np.int64(-1), np.int64(-1), group, uniform, records, total


@njit(cache=True, nogil=True)
def footer_first_records(buf, bounds):
    """Each footer message's chunk's first record index, for files whose groups are not uniform."""
    firsts = np.empty(len(bounds) - 1, np.int64)
    first = np.int64(0)
    for k in range(len(bounds) - 1):
        firsts[k] = first
        first += _entry(buf, bounds[k], bounds[k + 1])[3]
    return firsts


@njit(cache=True, nogil=True)
def encode_footer_entries(chunk_offset, decoded_size, num_records):
    """Encode one ``ArrayRecordFooter`` per chunk, every field present as the reference does.

    Returns ``(buf, sizes)``: the concatenated messages and each one's length.
    """
    count = len(chunk_offset)
    buf = np.empty(count * 33, np.uint8)  # 3 tags + 3 varints of at most 10 bytes
    sizes = np.empty(count, np.uint64)
    pos = 0
    for k in range(count):
        start = pos
        buf[pos] = 0x08
        pos = write_varint(buf, pos + 1, chunk_offset[k])
        buf[pos] = 0x10
        pos = write_varint(buf, pos + 1, decoded_size[k])
        buf[pos] = 0x18
        pos = write_varint(buf, pos + 1, num_records[k])
        sizes[k] = pos - start
    return buf[:pos], sizes
