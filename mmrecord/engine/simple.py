"""The simple-chunk layout (FORMAT.md §4.1) over bytes: where the two blobs lie.

A simple chunk's data is ``codec byte ‖ varint(sizes_len) ‖ sizes blob ‖ values
blob``; a compressed blob starts with the varint of its decompressed length.
``parse_simple`` finds the payloads; ``read_simple`` does that right after
``framing.read_chunk`` in the same call, which is what a single-record read
needs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .framing import OK, read_chunk
from .varint import read_varint

BAD_LAYOUT = 100  # status: the blob lengths do not fit the chunk data
SIMPLE_CHUNK = 0x72


@njit(cache=True, nogil=True)
def parse_simple(data, start: int, stop: int):
    """Locate the blobs of the simple chunk ``data[start:stop]``.

    Returns ``(ok, codec_id, sizes_pos, sizes_stop, sizes_size, values_pos,
    values_stop, values_size)``: each blob's payload is ``data[pos:stop]`` and
    decompresses to ``size`` bytes (for codec 0 the payload is the raw bytes).
    """
    if stop <= start:
        return False, np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    codec_id = np.int64(data[start])
    sizes_len, sizes_pos = read_varint(data, start + 1, stop)
    if sizes_pos < 0 or sizes_len > stop - sizes_pos:
        return False, np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    sizes_stop = sizes_pos + np.int64(sizes_len)
    values_pos = sizes_stop
    if codec_id == 0:
        return (True, codec_id, sizes_pos, sizes_stop, sizes_stop - sizes_pos, values_pos, np.int64(stop),
                np.int64(stop) - values_pos)
    sizes_size, sizes_pos = read_varint(data, sizes_pos, sizes_stop)
    values_size, values_pos = read_varint(data, values_pos, stop)
    if sizes_pos < 0 or values_pos < 0 or sizes_size >= 1 << 62 or values_size >= 1 << 62:
        return False, np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    # Every field is int64: a uint64 among them would make numba unify them to float64.
    return (True, codec_id, sizes_pos, sizes_stop, np.int64(sizes_size), values_pos, np.int64(stop),
            np.int64(values_size))


@njit(cache=True, nogil=True)
def read_simple(src, begin: int, limit: int, verify: bool):
    """``read_chunk`` and, for a simple chunk, ``parse_simple`` in one call.

    Returns ``(status, where, chunk_type, num_records, decoded_size,
    data_start, data_size, copy, codec_id, sizes_pos, sizes_stop, sizes_size,
    values_pos, values_stop, values_size)``, the first eight as ``read_chunk``
    gives them. Blob positions are in ``src`` when ``data_start >= 0`` and in
    ``copy`` otherwise (the chunk data was cut by block headers).
    """
    status, where, chunk_type, num_records, decoded, start, size, copy = read_chunk(src, begin, limit, verify)
    if status != OK or chunk_type != SIMPLE_CHUNK:
        return status, where, chunk_type, num_records, decoded, start, size, copy, 0, 0, 0, 0, 0, 0, 0
    if start >= 0:
        ok, codec, sp, ss, sn, vp, vs, vn = parse_simple(src, start, start + size)
    else:
        ok, codec, sp, ss, sn, vp, vs, vn = parse_simple(copy, 0, size)
    if not ok:
        return BAD_LAYOUT, begin, chunk_type, num_records, decoded, start, size, copy, 0, 0, 0, 0, 0, 0, 0
    return status, where, chunk_type, num_records, decoded, start, size, copy, codec, sp, ss, sn, vp, vs, vn


@njit(cache=True, nogil=True)
def read_single_record_spans(src, begins, limits, verify: bool):
    """For many one-record simple chunks at once: where each record's values payload lies.

    Returns ``(ok, codec_id, values_pos, values_stop, values_size)`` arrays. ``ok[i]`` is
    false when chunk ``i`` is damaged, is not a one-record simple chunk whose
    payload matches its decoded size, or is cut by a block header (its bytes
    are not contiguous in ``src``); the caller reads those one at a time,
    which also gives the precise error.
    """
    n = len(begins)
    ok = np.zeros(n, np.bool_)
    codec = np.zeros(n, np.int64)
    pos = np.zeros(n, np.int64)
    stop = np.zeros(n, np.int64)
    size = np.zeros(n, np.int64)
    for i in range(n):
        status, _, chunk_type, num_records, decoded, start, _, _, c, _, _, _, vp, vs, vn = read_simple(
            src, begins[i], limits[i], verify)
        if status == OK and chunk_type == SIMPLE_CHUNK and num_records == 1 and start >= 0 and vn == decoded:
            ok[i] = True
            codec[i] = c
            pos[i] = vp
            stop[i] = vs
            size[i] = vn
    return ok, codec, pos, stop, size
