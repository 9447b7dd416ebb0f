"""TFRecord framing and CRC-32C (Castagnoli), as kernels over byte arrays.

A TFRecord file is a sequence of frames::

    u64le length | u32le masked_crc32c(length bytes) | data[length] | u32le masked_crc32c(data)

with ``masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8`` (mod 2**32). The
CRC is computed eight bytes at a time with the slicing-by-8 tables.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import copy_bytes, load_u64

_POLY = 0x82F63B78  # CRC-32C, reflected
_MASK_DELTA = 0xA282EAD8
HEADER_SIZE = 12  # length + its CRC
FOOTER_SIZE = 4  # the data's CRC
MAX_LENGTH = 1 << 40  # longer claimed lengths are taken as damage

# scan statuses
OK = 0  # stopped at ``stop`` or after ``max_records`` records
MORE = 1  # the next frame is not whole in the buffer: give more bytes (or it is cut, at the end)
BAD_LENGTH = 2  # the length's CRC does not match (or the length is absurd)
BAD_DATA = 3  # the data's CRC does not match


def _tables() -> np.ndarray:
    table = np.zeros((8, 256), np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[0, n] = c
    for n in range(256):
        c = int(table[0, n])
        for k in range(1, 8):
            c = int(table[0, c & 0xFF]) ^ (c >> 8)
            table[k, n] = c
    return table


TABLES = _tables()


@njit(cache=True, nogil=True)
def crc32c(buf, start: int, stop: int, table) -> np.uint32:
    """CRC-32C of ``buf[start:stop]``."""
    crc = np.uint32(0xFFFFFFFF)
    pos = start
    while pos + 8 <= stop:
        lo = crc ^ (np.uint32(buf[pos]) | (np.uint32(buf[pos + 1]) << np.uint32(8))
                    | (np.uint32(buf[pos + 2]) << np.uint32(16)) | (np.uint32(buf[pos + 3]) << np.uint32(24)))
        crc = (table[7, lo & np.uint32(0xFF)] ^ table[6, (lo >> np.uint32(8)) & np.uint32(0xFF)]
               ^ table[5, (lo >> np.uint32(16)) & np.uint32(0xFF)] ^ table[4, lo >> np.uint32(24)]
               ^ table[3, buf[pos + 4]] ^ table[2, buf[pos + 5]] ^ table[1, buf[pos + 6]]
               ^ table[0, buf[pos + 7]])
        pos += 8
    while pos < stop:
        crc = table[0, (crc ^ np.uint32(buf[pos])) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
        pos += 1
    return np.uint32(crc ^ np.uint32(0xFFFFFFFF))


@njit(cache=True, nogil=True)
def masked_crc32c(buf, start: int, stop: int, table) -> np.uint32:
    """The masked CRC-32C that TFRecord stores."""
    crc = np.uint64(crc32c(buf, start, stop, table))
    rotated = ((crc >> np.uint64(15)) | (crc << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return np.uint32((rotated + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF))


@njit(cache=True, nogil=True)
def _load_u32(buf, at: int) -> np.uint32:
    return (np.uint32(buf[at]) | (np.uint32(buf[at + 1]) << np.uint32(8))
            | (np.uint32(buf[at + 2]) << np.uint32(16)) | (np.uint32(buf[at + 3]) << np.uint32(24)))


@njit(cache=True, nogil=True)
def _store_u32(buf, at: int, value) -> None:
    for i in range(4):
        buf[at + i] = np.uint8((value >> np.uint32(8 * i)) & np.uint32(0xFF))


@njit(cache=True, nogil=True)
def length_ok(buf, pos: int, table) -> bool:
    """Is there an intact length header at ``pos`` (12 bytes available)?"""
    if masked_crc32c(buf, pos, pos + 8, table) != _load_u32(buf, pos + 8):
        return False
    return load_u64(buf, pos) < np.uint64(MAX_LENGTH)


@njit(cache=True, nogil=True)
def scan_frames(buf, pos: int, stop: int, max_records: int, verify: bool, table):
    """Frames of ``buf[pos:stop]``, from ``pos`` on.

    Returns ``(status, next_pos, starts, lengths)``: the data of record ``k`` is
    ``buf[starts[k]:starts[k] + lengths[k]]``; ``next_pos`` is where the next
    frame begins (or the damaged one, for ``BAD_LENGTH``/``BAD_DATA``). The
    length's CRC is always checked; the data's CRC when ``verify``.
    """
    cap = max(1, min(max_records, (stop - pos) // 16 + 1))
    starts = np.empty(cap, np.int64)
    lengths = np.empty(cap, np.int64)
    k = 0
    status = OK
    while pos < stop and k < max_records:
        if pos + HEADER_SIZE > stop:
            status = MORE
            break
        if not length_ok(buf, pos, table):
            status = BAD_LENGTH
            break
        length = np.int64(load_u64(buf, pos))
        if pos + HEADER_SIZE + length + FOOTER_SIZE > stop:
            status = MORE
            break
        data = pos + HEADER_SIZE
        if verify and masked_crc32c(buf, data, data + length, table) != _load_u32(buf, data + length):
            status = BAD_DATA
            break
        starts[k] = data
        lengths[k] = length
        k += 1
        pos = data + length + FOOTER_SIZE
    return status, pos, starts[:k], lengths[:k]


@njit(cache=True, nogil=True)
def find_length_header(buf, pos: int, stop: int, table) -> int:
    """The first position in ``[pos, stop - 12]`` with an intact length header, or -1."""
    for p in range(pos, stop - HEADER_SIZE + 1):
        if length_ok(buf, p, table):
            return p
    return -1


@njit(cache=True, nogil=True)
def frame_records(values, bounds, table):
    """TFRecord frames of the records ``values[bounds[k]:bounds[k+1]]``, concatenated."""
    n = len(bounds) - 1
    total = bounds[n] - bounds[0] + n * (HEADER_SIZE + FOOTER_SIZE)
    out = np.empty(total, np.uint8)
    pos = 0
    for k in range(n):
        a = bounds[k]
        length = bounds[k + 1] - a
        for i in range(8):
            out[pos + i] = np.uint8((np.uint64(length) >> np.uint64(8 * i)) & np.uint64(0xFF))
        _store_u32(out, pos + 8, masked_crc32c(out, pos, pos + 8, table))
        copy_bytes(out, pos + HEADER_SIZE, values, a, length)
        end = pos + HEADER_SIZE + length
        _store_u32(out, end, masked_crc32c(values, a, a + length, table))
        pos = end + FOOTER_SIZE
    return out
