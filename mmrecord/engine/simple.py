"""The simple-chunk layout (FORMAT.md §4.1) over bytes: where the two blobs lie.

A simple chunk's data is ``codec byte ‖ varint(sizes_len) ‖ sizes blob ‖ values
blob``; a compressed blob starts with the varint of its decompressed length.
``parse_simple`` finds the payloads; ``read_simple`` does that right after
``framing.read_chunk`` in the same call, which is what a single-record read
needs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .blocks import copy_logical, is_contiguous, skip_logical
from .framing import OK, SAME, SIMPLE_CHUNK, check_chunk, entry_mismatch, read_chunk
from .gather import sizes_to_bounds
from .memory import as_readonly, claim, copy_bytes
from .native import decode_into, encode_into
from .snappy import compress_into as snappy_compress_into
from .snappy import max_compressed_length as snappy_max_length
from .snappy import new_table as new_snappy_table
from .varint import (
    decode_varints_into,
    encode_varints_into,
    read_varint,
    varint_length,
    varint_size,
    write_varint,
)

BAD_LAYOUT = 100  # status: the blob lengths do not fit the chunk data


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
        ok, codec, sp, ss, sn, vp, vs, vn = parse_simple(as_readonly(copy), np.int64(0), size)
    if not ok:
        return BAD_LAYOUT, begin, chunk_type, num_records, decoded, start, size, copy, 0, 0, 0, 0, 0, 0, 0
    return status, where, chunk_type, num_records, decoded, start, size, copy, codec, sp, ss, sn, vp, vs, vn


@njit(cache=True, nogil=True)
def single_record_span(src, begin: int, limit: int, verify: bool, decoded_size: int):
    """Where the record of a one-record simple chunk lies: ``(ok, codec_id, pos, stop, size)``.

    The record is the values payload ``src[pos:stop]`` (decompressing to
    ``size`` bytes). ``ok`` is false when the chunk is damaged, is not a
    one-record simple chunk whose payload matches its decoded size, disagrees
    with its footer entry (one record of ``decoded_size`` bytes, ending where
    the next chunk at ``limit`` begins), or is cut by a block header; the
    caller then takes the general path, which also gives the precise error.
    """
    status, _, chunk_type, num_records, decoded, start, data_size, _, codec, _, _, _, vp, vs, vn = read_simple(
        src, begin, limit, verify)
    ok = status == OK and chunk_type == SIMPLE_CHUNK and start >= 0 and vn == decoded and entry_mismatch(
        src, begin, data_size, chunk_type, num_records, decoded, limit, 1, decoded_size) == SAME
    return ok, codec, vp, vs, vn


@njit(cache=True, nogil=True)
def chunk_span(chunks, footer_offset: int, k: int):
    """File position of data chunk ``k`` and the position it must end by (the next chunk or the footer).

    ``chunks`` is the index's table: row ``k`` holds chunk ``k``'s offset and decoded size.
    """
    return chunks[k, 0], chunks[k + 1, 0] if k + 1 < len(chunks) else footer_offset


@njit(cache=True, nogil=True)
def indexed_record_span(src, chunks, footer_offset: int, k: int, verify: bool):
    """:func:`single_record_span` of data chunk ``k``, found through the index table, in one call."""
    begin, limit = chunk_span(chunks, footer_offset, k)
    return single_record_span(src, begin, limit, verify, chunks[k, 1])


@njit(inline="always")
def _record_into(buf, pos, stop, size, codec, native_codec, function, context, out) -> int:
    """Copy (codec 0) or decode (``native_codec``) the payload ``buf[pos:stop]`` into ``out[:size]``."""
    if codec == 0:
        copy_bytes(out, 0, buf, pos, size)
        return size
    if codec == native_codec and function != 0 and decode_into(function, context, out, 0, size,
                                                               buf, pos, stop - pos):
        return size
    return -1


@njit(cache=True, nogil=True)
def indexed_record_into(src, chunks, footer_offset: int, k: int, verify: bool, native_codec: int,
                        function: int, context: int, out) -> int:
    """The record of one-record data chunk ``k``, checked and copied or decoded into ``out``.

    Returns its size: the record is ``out[:size]``, unless ``size >
    len(out)``, when nothing was written and a longer ``out`` is needed.
    Chunks cut by block headers are read from their joined copy. Returns -1
    when the general path must read it: the chunk is damaged, holds
    several records or disagrees with its footer entry (``chunks[k]``: its
    offset and decoded size), its codec is neither 0 nor ``native_codec``
    (decoded by the C ``function``, see ``native``), or the decoder fails.
    """
    begin, limit = chunk_span(chunks, footer_offset, k)
    status, _, chunk_type, num_records, decoded, start, data_size, copy, codec, _, _, _, pos, stop, size = \
        read_simple(src, begin, limit, verify)
    if status != OK or chunk_type != SIMPLE_CHUNK or size != decoded or entry_mismatch(
            src, begin, data_size, chunk_type, num_records, decoded, limit, 1, chunks[k, 1]) != SAME:
        return -1
    if size > len(out):
        return size
    if start >= 0:
        return _record_into(src, pos, stop, size, codec, native_codec, function, context, out)
    return _record_into(copy, pos, stop, size, codec, native_codec, function, context, out)


@njit(cache=True, nogil=True)
def indexed_record_spans(src, chunks, footer_offset: int, which, verify: bool,
                         ok, codec, pos, stop, size, counter, step: int) -> None:
    """:func:`indexed_record_span` of chunk ``which[i]`` into ``ok[i], codec[i], pos[i], stop[i], size[i]``.

    Any number of threads may call this with the same one-element int64
    ``counter`` (starting at 0): each atomically claims ``step`` chunks at a
    time until none are left.
    """
    while True:
        lo, hi = claim(counter, step, len(which))
        if lo >= hi:
            return
        for i in range(lo, hi):
            ok[i], codec[i], pos[i], stop[i], size[i] = indexed_record_span(
                src, chunks, footer_offset, which[i], verify)


@njit(cache=True, nogil=True)
def in_place_bounds(src, begin: int, limit: int, verify: bool, count: int, decoded_size: int, bounds) -> int:
    """Check the uncompressed simple chunk at ``begin`` and find its records where they lie in ``src``.

    Nothing of the chunk is copied but its sizes: record ``j`` is the
    ``bounds[j+1] - bounds[j]`` logical bytes that begin ``bounds[j]``
    logical bytes after the returned physical position (``skip_logical``),
    block headers and all. ``bounds`` has ``count + 1`` entries, ``count``
    and ``decoded_size`` being what the footer entry says. Returns -1 when
    the general path must read the chunk: damaged, disagreeing with its
    entry (``limit`` is where the next chunk begins), not a simple chunk,
    or compressed.
    """
    c = check_chunk(src, begin, limit, verify)
    if c.status != OK or c.chunk_type != SIMPLE_CHUNK or c.data_size < 1 or entry_mismatch(
            src, begin, c.data_size, c.chunk_type, c.num_records, c.decoded_size, limit, count,
            decoded_size) != SAME:
        return -1
    head = np.empty(11, np.uint8)  # the codec byte and the sizes blob's length
    head_size = min(np.int64(11), c.data_size)
    copy_logical(src, c.data_pos, head, np.int64(0), head_size)
    sizes_len, sizes_at = read_varint(head, 1, head_size)
    if head[0] != 0 or sizes_at < 0 or sizes_len > np.uint64(c.data_size - sizes_at) or \
            np.uint64(count) > sizes_len or c.data_size - sizes_at - np.int64(sizes_len) != decoded_size:
        return -1
    raw = np.empty(np.int64(sizes_len), np.uint8)
    values_pos = copy_logical(src, skip_logical(c.data_pos, sizes_at), raw, np.int64(0), np.int64(sizes_len))
    sizes = np.empty(count, np.uint64)
    if decode_varints_into(raw, 0, len(raw), sizes) != len(raw) or not sizes_to_bounds(sizes, decoded_size, bounds):
        return -1
    return values_pos


@njit(inline="always")
def _place_records(values_pos: int, bounds, within, pos, size, contiguous) -> None:
    """Where records ``within`` of a chunk read in place lie, into ``pos``, ``size`` and ``contiguous``."""
    for i in range(len(within)):
        j = within[i]
        pos[i] = skip_logical(values_pos, bounds[j])
        size[i] = bounds[j + 1] - bounds[j]
        contiguous[i] = is_contiguous(pos[i], size[i])


@njit(cache=True, nogil=True)
def place_records(values_pos: int, bounds, within):
    """``(pos, size, contiguous)`` of records ``within`` of a chunk :func:`in_place_bounds` found.

    Record ``within[i]`` is the ``size[i]`` logical bytes from physical
    ``pos[i]``, which are ``src[pos[i]:pos[i] + size[i]]`` when
    ``contiguous[i]`` (no block header inside).
    """
    n = len(within)
    pos = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    contiguous = np.empty(n, np.bool_)
    _place_records(values_pos, bounds, within, pos, size, contiguous)
    return pos, size, contiguous


@njit(cache=True, nogil=True)
def in_place_spans(src, chunks, footer_offset: int, verify: bool, group_chunk, counts, group_at, within,
                   values_at, bound_at, bounds, pos, size, contiguous, counter, step: int) -> None:
    """:func:`in_place_bounds` of many chunks, and :func:`place_records` of the records wanted from them.

    Group ``g`` wants records ``within[group_at[g]:group_at[g+1]]`` of chunk
    ``group_chunk[g]``, which the footer says holds ``counts[g]`` records;
    where they lie goes to the same places of ``pos``, ``size`` and
    ``contiguous``. The chunk's values position goes to ``values_at[g]``
    (-1: the general path must read it) and its bounds to
    ``bounds[bound_at[g]:bound_at[g+1]]``. Threads share the groups out
    through ``counter`` as :func:`indexed_record_spans` does.
    """
    while True:
        lo, hi = claim(counter, step, len(group_chunk))
        if lo >= hi:
            return
        for g in range(lo, hi):
            k = group_chunk[g]
            begin, limit = chunk_span(chunks, footer_offset, k)
            row = bounds[bound_at[g]:bound_at[g + 1]]
            values_at[g] = in_place_bounds(src, begin, limit, verify, counts[g], chunks[k, 1], row)
            if values_at[g] >= 0:
                r = slice(group_at[g], group_at[g + 1])
                _place_records(values_at[g], row, within[r], pos[r], size[r], contiguous[r])


class DecodedChunks(NamedTuple):
    """What :func:`decode_chunks` made: chunk ``first + j``'s values are
    ``values[value_at[j]:value_at[j+1]]``, its record bounds (relative to those
    values) ``bounds[bound_at[j]:bound_at[j+1]]``, for every ``j < decoded``."""

    decoded: int  # chunks decoded: all asked for, or the number of the first the kernel could not take
    values: np.ndarray
    value_at: np.ndarray
    bounds: np.ndarray
    bound_at: np.ndarray


@njit(cache=True, nogil=True)
def decode_chunks(src, chunks, footer_offset: int, first: int, counts, verify: bool, native_codec: int,
                  function: int, context: int, out) -> DecodedChunks:
    """Check and decode data chunks ``first``, ``first + 1``, ... (``len(counts)`` of them) in one call.

    The values go to ``out`` when it has room (a buffer the caller reuses,
    so that no fresh memory is faulted in per call), else to a new array.

    ``counts[j]`` is how many records the footer says chunk ``first + j``
    holds, and ``chunks`` (the index table) where it lies and its decoded
    size. One call for many chunks is what lets a pool thread decode a whole
    part of a file without taking the GIL between chunks. It stops at the
    first chunk it cannot take (damaged, disagreeing with its entry, not a
    simple chunk, a codec other than 0 and ``native_codec``, a payload the
    decoder refuses): the general path reads that one, and names its problem.
    """
    m = len(counts)
    value_at = np.empty(m + 1, np.int64)
    bound_at = np.empty(m + 1, np.int64)
    value_at[0] = 0
    bound_at[0] = 0
    for j in range(m):
        value_at[j + 1] = value_at[j] + chunks[first + j, 1]
        bound_at[j + 1] = bound_at[j] + counts[j] + 1
    values = out[:value_at[m]] if value_at[m] <= len(out) else np.empty(value_at[m], np.uint8)
    bounds = np.empty(bound_at[m], np.int64)
    for j in range(m):
        if _decode_chunk_into(src, chunks, footer_offset, first + j, counts[j], counts[j], verify, native_codec,
                              function, context, 0, 0, values, value_at[j], bounds[bound_at[j]:bound_at[j + 1]]) < 0:
            return DecodedChunks(j, values, value_at, bounds, bound_at)
    return DecodedChunks(m, values, value_at, bounds, bound_at)


@njit(inline="always")
def _decode_chunk_into(src, chunks, footer_offset: int, k: int, count: int, need: int, verify: bool,
                       native_codec: int, function: int, context: int, prefix_function: int, prefix_context: int,
                       values, value_pos: int, bounds) -> int:
    """One chunk of :func:`decode_chunks`: its values into ``values`` at ``value_pos``, its bounds into ``bounds``.

    With a prefix decoder (``prefix_function``, nonzero: one that stops a
    stream early, ``Codec.kernel_prefix_decoder``) only the values of the
    first ``need`` records are decoded; otherwise all are. Returns how many
    bytes of values it decoded, or -1 when the general path must read the chunk.
    """
    begin, limit = chunk_span(chunks, footer_offset, k)
    status, _, chunk_type, num_records, decoded, start, size, copy, codec, sp, ss, sn, vp, vs, vn = read_simple(
        src, begin, limit, verify)
    if status != OK or chunk_type != SIMPLE_CHUNK or vn != decoded or entry_mismatch(
            src, begin, size, chunk_type, num_records, decoded, limit, count, chunks[k, 1]) != SAME:
        return -1
    if codec != 0 and (codec != native_codec or function == 0):
        return -1
    buf = as_readonly(src) if start >= 0 else as_readonly(copy)
    sizes = np.empty(num_records, np.uint64)
    if codec == 0:
        if decode_varints_into(buf, sp, ss, sizes) != ss or not sizes_to_bounds(sizes, decoded, bounds):
            return -1
        copy_bytes(values, value_pos, buf, vp, decoded)
        return decoded
    raw = np.empty(sn, np.uint8)
    if not decode_into(function, context, raw, 0, sn, buf, sp, ss - sp) or decode_varints_into(
            raw, 0, sn, sizes) != sn or not sizes_to_bounds(sizes, decoded, bounds):
        return -1
    if prefix_function != 0 and bounds[need] < decoded:
        function, context, decoded = prefix_function, prefix_context, bounds[need]
    return decoded if decode_into(function, context, values, value_pos, decoded, buf, vp, vs - vp) else -1


class DecodedRecords(NamedTuple):
    """What one call of :func:`decode_records` took: wanted record ``records[i]`` is
    ``values[starts[i]:stops[i]]``. Group ``last`` (-1: none) is the last it decoded, its chunk's
    values (as far as they were decoded) and bounds being ``last_values`` and ``last_bounds``."""

    values: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    records: np.ndarray
    last: int
    last_values: np.ndarray
    last_bounds: np.ndarray


@njit(cache=True, nogil=True)
def decode_records(src, chunks, footer_offset: int, verify: bool, native_codec: int, function: int, context: int,
                   prefix_function: int, prefix_context: int, group_chunk, counts, group_at, within, taken, counter,
                   step: int) -> DecodedRecords:
    """Decode chunks and copy out the records wanted from them, without the GIL; any number of threads at once.

    Group ``g`` wants records ``within[group_at[g]:group_at[g+1]]`` of chunk
    ``group_chunk[g]``, which the footer says holds ``counts[g]`` records.
    With a prefix decoder (``prefix_function`` nonzero) a chunk's values are
    decoded only as far as the last record wanted from it. Each chunk is
    checked and decoded as :func:`decode_chunks` does, into one
    of two buffers this call reuses (so it stays in the cache, and no fresh
    memory is faulted in per chunk), and only the wanted records are copied
    out. ``taken[g]`` says whether the group was decoded: the general path
    reads the others (damage, another codec, a stream the decoder refuses).
    Threads share the groups out through ``counter`` as
    :func:`indexed_record_spans` does; each call returns what it took.
    """
    most_values = np.int64(0)
    most_records = np.int64(0)
    for g in range(len(group_chunk)):
        most_values = max(most_values, chunks[group_chunk[g], 1])
        most_records = max(most_records, counts[g])
    buffers = (np.empty(most_values, np.uint8), np.empty(most_values, np.uint8))
    bound_buffers = (np.empty(most_records + 1, np.int64), np.empty(most_records + 1, np.int64))
    values = np.empty(max(np.int64(1 << 16), 2 * most_values), np.uint8)
    n = len(within)
    starts = np.empty(n, np.int64)
    stops = np.empty(n, np.int64)
    records = np.empty(n, np.int64)
    taken_here = np.int64(0)
    used = np.int64(0)
    last = np.int64(-1)
    last_size = np.int64(0)  # bytes of values decoded of group last's chunk
    which = 0
    while True:
        lo, hi = claim(counter, step, len(group_chunk))
        if lo >= hi:
            break
        for g in range(lo, hi):
            k = group_chunk[g]
            decoded, bounds = buffers[which], bound_buffers[which][:counts[g] + 1]
            got = _decode_chunk_into(src, chunks, footer_offset, k, counts[g], _needed(group_at, within, g), verify,
                                     native_codec, function, context, prefix_function, prefix_context, decoded, 0,
                                     bounds)
            taken[g] = got >= 0
            if not taken[g]:
                continue
            for r in range(group_at[g], group_at[g + 1]):
                j = within[r]
                size = bounds[j + 1] - bounds[j]
                if used + size > len(values):
                    grown = np.empty(max(2 * len(values), used + size), np.uint8)
                    copy_bytes(grown, 0, values, 0, used)
                    values = grown
                copy_bytes(values, used, decoded, bounds[j], size)
                starts[taken_here] = used
                stops[taken_here] = used + size
                records[taken_here] = r
                taken_here += 1
                used += size
            last, last_size = g, got
            which = 1 - which
    if last < 0:
        return DecodedRecords(values[:used], starts[:taken_here], stops[:taken_here], records[:taken_here], last,
                              buffers[0][:0], bound_buffers[0][:1])
    return DecodedRecords(values[:used], starts[:taken_here], stops[:taken_here], records[:taken_here], last,
                          buffers[1 - which][:last_size], bound_buffers[1 - which][:counts[last] + 1])


@njit(inline="always")
def _needed(group_at, within, g: int) -> int:
    """How many of group ``g``'s first records hold every record wanted from it."""
    need = np.int64(0)
    for r in range(group_at[g], group_at[g + 1]):
        need = max(need, within[r] + 1)
    return need


@njit(inline="always")
def _group_lengths(sizes, group_bounds, g: int):
    """Group ``g``'s raw sizes blob length (its records' varints) and values length."""
    sizes_len = varint_size(sizes[group_bounds[g]:group_bounds[g + 1]])
    values_len = np.int64(0)
    for r in range(group_bounds[g], group_bounds[g + 1]):
        values_len += np.int64(sizes[r])
    return sizes_len, values_len


@njit(cache=True, nogil=True)
def encode_snappy_chunks(values, sizes, group_bounds, codec_id: int, level: int):
    """Simple-chunk data compressed with snappy, for consecutive groups of records, in one call.

    Chunk ``g`` holds records ``group_bounds[g]`` to ``group_bounds[g+1]``
    of ``values`` cut by ``sizes``; its data is ``codec_id
    ‖ varint(len(sizes blob)) ‖ sizes blob ‖ values blob``, a blob being
    ``varint(raw length) ‖ snappy block``: the bytes the per-group path makes
    through the codec, without a Python call per chunk.
    """
    groups = len(group_bounds) - 1
    room = np.int64(0)
    most_sizes = np.int64(0)
    for g in range(groups):
        sizes_len, values_len = _group_lengths(sizes, group_bounds, g)
        room += 31 + snappy_max_length(sizes_len) + snappy_max_length(values_len)
        most_sizes = max(most_sizes, sizes_len)
    data = np.empty(room, np.uint8)
    raw_sizes = np.empty(most_sizes, np.uint8)
    sizes_blob = np.empty(10 + snappy_max_length(most_sizes), np.uint8)
    table = new_snappy_table()
    bounds = np.empty(groups + 1, np.int64)
    bounds[0] = 0
    pos = np.int64(0)
    source = np.int64(0)
    for g in range(groups):
        group = sizes[group_bounds[g]:group_bounds[g + 1]]
        raw_len = encode_varints_into(group, raw_sizes, 0)
        blob_len = write_varint(sizes_blob, 0, raw_len)
        blob_len = snappy_compress_into(raw_sizes, 0, raw_len, sizes_blob, blob_len, level, table)
        data[pos] = codec_id
        pos = write_varint(data, pos + 1, blob_len)
        copy_bytes(data, pos, sizes_blob, 0, blob_len)
        pos += blob_len
        values_len = _group_lengths(sizes, group_bounds, g)[1]
        pos = write_varint(data, pos, values_len)
        pos = snappy_compress_into(values, source, source + values_len, data, pos, level, table)
        source += values_len
        bounds[g + 1] = pos
    return data[:pos], bounds


@njit(inline="always")
def _room_for(length: int) -> int:
    """Room a one-shot compressor gets for a blob of ``length`` bytes (above libzstd's bound)."""
    return length + (length >> 7) + 128


class CalledChunks(NamedTuple):
    """What :func:`encode_chunks_by_call` made: chunk ``g`` is ``data[bounds[g]:bounds[g+1]]``, when ``ok``."""

    ok: bool  # False: a blob was too long for the call, or the compressor failed
    data: np.ndarray
    bounds: np.ndarray


@njit(cache=True, nogil=True)
def encode_chunks_by_call(values, sizes, group_bounds, codec_id: int, function: int, context: int,
                          shorter_than: int) -> CalledChunks:
    """Simple-chunk data whose blobs a C one-shot compressor makes, for consecutive groups, in one call.

    As :func:`encode_snappy_chunks`, a blob being ``varint(raw length) ‖
    function(blob)`` (``native.encode_into``). Every raw blob must be shorter
    than ``shorter_than`` bytes (longer ones are compressed another way: zstd
    pledges their size only below 4096 bytes); otherwise, or when the
    compressor fails, nothing is made and ``ok`` is False.
    """
    groups = len(group_bounds) - 1
    room = np.int64(0)
    most_sizes = np.int64(0)
    for g in range(groups):
        sizes_len, values_len = _group_lengths(sizes, group_bounds, g)
        if sizes_len >= shorter_than or values_len >= shorter_than:
            return CalledChunks(False, np.empty(0, np.uint8), np.zeros(1, np.int64))
        room += 31 + _room_for(sizes_len) + _room_for(values_len)
        most_sizes = max(most_sizes, sizes_len)
    data = np.empty(room, np.uint8)
    raw_sizes = np.empty(most_sizes, np.uint8)
    sizes_blob = np.empty(10 + _room_for(most_sizes), np.uint8)
    bounds = np.empty(groups + 1, np.int64)
    bounds[0] = 0
    pos = np.int64(0)
    source = np.int64(0)
    for g in range(groups):
        raw_len = encode_varints_into(sizes[group_bounds[g]:group_bounds[g + 1]], raw_sizes, 0)
        blob_len = write_varint(sizes_blob, 0, raw_len)
        made = encode_into(function, context, sizes_blob, blob_len, len(sizes_blob) - blob_len, raw_sizes, 0, raw_len)
        values_len = _group_lengths(sizes, group_bounds, g)[1]
        if made < 0:
            return CalledChunks(False, data[:0], bounds[:1])
        blob_len += made
        data[pos] = codec_id
        pos = write_varint(data, pos + 1, blob_len)
        copy_bytes(data, pos, sizes_blob, 0, blob_len)
        pos = write_varint(data, pos + blob_len, values_len)
        made = encode_into(function, context, data, pos, _room_for(values_len), values, source, values_len)
        if made < 0:
            return CalledChunks(False, data[:0], bounds[:1])
        pos += made
        source += values_len
        bounds[g + 1] = pos
    return CalledChunks(True, data[:pos], bounds)


@njit(inline="always")
def _uncompressed_head_into(data, pos: int, group) -> int:
    """An uncompressed chunk's data up to its values, ``00 ‖ varint(len(sizes)) ‖ sizes varints``, at ``data[pos:]``."""
    data[pos] = 0
    pos = write_varint(data, pos + 1, varint_size(group))
    return encode_varints_into(group, data, pos)


class RecordPieces(NamedTuple):
    """Uncompressed chunks as :func:`framing.frame_chunk` takes them, made by :func:`uncompressed_pieces`:
    chunk ``g``'s data is pieces ``chunk_pieces[g]`` to ``chunk_pieces[g+1]``, its head in ``heads`` and
    then its records where they lie."""

    heads: np.ndarray  # uint8: each chunk's ``00 ‖ varint(len(sizes)) ‖ sizes varints``
    piece_at: np.ndarray  # int64 addresses
    piece_size: np.ndarray  # int64
    chunk_pieces: np.ndarray  # int64, one more than chunks
    decoded_size: np.ndarray  # int64: each chunk's bytes of records


@njit(cache=True, nogil=True)
def uncompressed_pieces(record_at, sizes, group_bounds) -> RecordPieces:
    """Uncompressed simple chunks of the records at addresses ``record_at`` (``sizes``, uint64, bytes each), as pieces.

    Group ``g`` holds records ``group_bounds[g]`` to ``group_bounds[g+1]``.
    Only the heads are written here; the records are copied once, by the
    framing, from where they lie into the file's bytes. Records that follow
    each other in memory (a chunk's records cut from one buffer) make one
    piece: a footer of a million entries is then a few pieces, not a million.
    """
    groups = len(group_bounds) - 1
    head_at = np.empty(groups + 1, np.int64)
    head_at[0] = 0
    for g in range(groups):
        sizes_len, _ = _group_lengths(sizes, group_bounds, g)
        head_at[g + 1] = head_at[g] + 1 + varint_length(sizes_len) + sizes_len
    heads = np.empty(head_at[groups], np.uint8)
    records = len(sizes)
    piece_at = np.empty(groups + records, np.int64)
    piece_size = np.empty(groups + records, np.int64)
    chunk_pieces = np.empty(groups + 1, np.int64)
    decoded_size = np.empty(groups, np.int64)
    chunk_pieces[0] = 0
    for g in range(groups):
        first, stop = group_bounds[g], group_bounds[g + 1]
        _uncompressed_head_into(heads, head_at[g], sizes[first:stop])
        at = chunk_pieces[g]
        piece_at[at] = heads.ctypes.data + head_at[g]
        piece_size[at] = head_at[g + 1] - head_at[g]
        decoded_size[g] = 0
        for r in range(first, stop):
            size = np.int64(sizes[r])
            if at > chunk_pieces[g] and piece_at[at] + piece_size[at] == record_at[r]:
                piece_size[at] += size  # it follows the record before in memory
            else:
                at += 1
                piece_at[at] = record_at[r]
                piece_size[at] = size
            decoded_size[g] += size
        chunk_pieces[g + 1] = at + 1
    used = chunk_pieces[groups]
    return RecordPieces(heads, piece_at[:used], piece_size[:used], chunk_pieces, decoded_size)
