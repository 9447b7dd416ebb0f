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


@njit(cache=True, nogil=True)
def decode_footer_entries(buf, bounds):
    """Decode messages ``buf[bounds[k]:bounds[k+1]]`` as ``ArrayRecordFooter``.

    Returns ``(chunk_offset, num_records, bad)``: two uint64 arrays, and the
    index of the first message that is malformed or lacks ``chunk_offset``
    (-1 when all are good). Unknown fields are skipped as protobuf allows.
    """
    count = len(bounds) - 1
    chunk_offset = np.zeros(count, np.uint64)
    num_records = np.zeros(count, np.uint64)
    for k in range(count):
        pos = bounds[k]
        stop = bounds[k + 1]
        has_offset = False
        while pos < stop:
            tag, pos = read_varint(buf, pos, stop)
            if pos < 0:
                return chunk_offset, num_records, k
            field = tag >> np.uint64(3)
            wire = tag & np.uint64(7)
            if wire == WIRE_VARINT:
                value, pos = read_varint(buf, pos, stop)
                if pos < 0:
                    return chunk_offset, num_records, k
                if field == 1:
                    chunk_offset[k] = value
                    has_offset = True
                elif field == 3:
                    num_records[k] = value
            elif wire == WIRE_LENGTH:
                length, pos = read_varint(buf, pos, stop)
                if pos < 0 or length > np.uint64(stop - pos):
                    return chunk_offset, num_records, k
                pos += np.int64(length)
            elif wire == WIRE_FIXED64:
                pos += 8
            elif wire == WIRE_FIXED32:
                pos += 4
            else:
                return chunk_offset, num_records, k
        if pos != stop or not has_offset:
            return chunk_offset, num_records, k
    return chunk_offset, num_records, -1


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
