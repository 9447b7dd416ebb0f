"""Chunk framing: the 40-byte chunk header, its hashes and the block headers around it.

``check_chunk`` finds and checks one chunk inside a mapped file (``read_chunk``
also joins its data when block headers cut through it); ``frame_chunk``
lays one chunk out for writing. Both go through ``blocks.py`` for every
position and ``highway.py`` for every hash (FORMAT.md §2, §3, §5).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .blocks import (
    BLOCK_HEADER_SIZE,
    BLOCK_SIZE,
    CHUNK_HEADER_SIZE,
    add_with_overhead,
    check_block_header,
    chunk_end,
    copy_logical,
    emit_logical,
    hash_logical,
    padded_end,
    padding_length,
    write_block_header,
)
from .highway import highway_hash
from .memory import load_u64, store_u64

# read_chunk status codes; the Python layer turns them into CorruptRecordError.
OK = 0
TRUNCATED = 1  # the chunk runs past the end of the region it must lie in
HEADER_HASH = 2  # the chunk header's hash does not match its bytes
BLOCK_HEADER = 3  # a block header inside the chunk is damaged or points elsewhere
DATA_HASH = 4  # the chunk data's hash does not match
BAD_POSITION = 5  # the chunk cannot begin there (inside a block header)

PADDING_CHUNK = 0x70
SIMPLE_CHUNK = 0x72
TRANSPOSED_CHUNK = 0x74

# entry_mismatch findings: how a chunk disagrees with the footer entry that lists it.
SAME = 0
NOT_DATA = 1  # neither a simple nor a transposed chunk
RECORDS = 2  # another record count
DECODED = 3  # another decoded size
MISPLACED = 4  # it ends neither where the next chunk begins nor where padding after it would end

@njit(cache=True, nogil=True)
def _blocks_ok(src, first: int, stop: int, chunk_begin: int, chunk_stop: int) -> int:
    """Position of the first bad block header in ``[first, stop)``, or -1 if all are good."""
    block = first + (BLOCK_SIZE - first % BLOCK_SIZE) % BLOCK_SIZE
    while block < stop:
        if not check_block_header(src, block, chunk_begin, chunk_stop):
            return block
        block += BLOCK_SIZE
    return -1


@njit(cache=True, nogil=True)
def _header(src, begin: int, header_stop: int):
    """The chunk header at ``begin`` (ending at ``header_stop``, inside ``src``): ``(stored hash,
    computed hash, data size, data hash, type and record count, decoded size)``."""
    at = begin + BLOCK_HEADER_SIZE if begin % BLOCK_SIZE == 0 else begin
    if header_stop == at + CHUNK_HEADER_SIZE:  # the usual case: read the header in place
        return (load_u64(src, at), highway_hash(src, at + 8, header_stop), load_u64(src, at + 8),
                load_u64(src, at + 16), load_u64(src, at + 24), load_u64(src, at + 32))
    header = np.empty(CHUNK_HEADER_SIZE, np.uint8)  # a block header cuts through the chunk header
    copy_logical(src, begin, header, np.int64(0), np.int64(CHUNK_HEADER_SIZE))
    return (load_u64(header, 0), highway_hash(header, 8, CHUNK_HEADER_SIZE), load_u64(header, 8),
            load_u64(header, 16), load_u64(header, 24), load_u64(header, 32))


@njit(cache=True, nogil=True)
def is_earlier_tail(src, pos: int, next_begin: int) -> bool:
    """Whether ``[pos, next_begin)`` is the tail earlier versions of the file left behind (appends).

    Appending leaves the old last partial chunk, footer and postscript in
    place, unlisted, and starts the new chunks at the old end; several appends
    leave several such tails in a row. The run must be whole chunks with
    intact headers ending exactly at ``next_begin`` on a block boundary, its
    last block holding a postscript-shaped chunk (simple, three records) and
    its padding.
    """
    if next_begin % BLOCK_SIZE or next_begin - pos < BLOCK_SIZE or next_begin > len(src):
        return False
    postscript_at = next_begin - BLOCK_SIZE
    seen_postscript = False
    while pos < next_begin:
        if pos < 0 or 0 < pos % BLOCK_SIZE <= BLOCK_HEADER_SIZE:
            return False
        header_stop = add_with_overhead(pos, CHUNK_HEADER_SIZE)
        if header_stop > next_begin:
            return False
        stored, computed, data_size, _, type_and_count, _ = _header(src, pos, header_stop)
        if stored != computed or data_size > np.uint64(next_begin):
            return False
        num_records = np.int64(type_and_count >> np.uint64(8))
        if pos == postscript_at:
            seen_postscript = (type_and_count & np.uint64(0xFF)) == SIMPLE_CHUNK and num_records == 3
        pos = chunk_end(pos, np.int64(data_size), num_records)
    return pos == next_begin and seen_postscript


@njit(cache=True, nogil=True)
def entry_mismatch(src, begin: int, data_size: int, chunk_type: int, num_records: int, decoded_size: int,
                   next_begin: int, records: int, size: int) -> int:
    """How the chunk at ``begin`` (its header's fields) disagrees with the footer entry listing it there.

    The entry says the chunk holds ``records`` records of ``size`` decoded
    bytes, and the next chunk (or the footer) begins at ``next_begin``.
    Riegeli's hashes do not cover where a chunk lies, so these are what tell
    a chunk in its place from a valid chunk copied or shifted there. Between
    the chunk and ``next_begin`` may lie the tail of the file before an
    append (:func:`is_earlier_tail`, read from ``src``). Returns ``SAME`` or
    the first finding.
    """
    if chunk_type != SIMPLE_CHUNK and chunk_type != TRANSPOSED_CHUNK:
        return NOT_DATA
    if num_records != records:
        return RECORDS
    if decoded_size != size:
        return DECODED
    end = chunk_end(begin, data_size, num_records)
    if end != next_begin and padded_end(end) != next_begin and not is_earlier_tail(src, end, next_begin):
        return MISPLACED
    return SAME


@njit(cache=True, nogil=True)
def entry_mismatches(src, begin, data_size, chunk_type, num_records, decoded_size, next_begin, records, size):
    """:func:`entry_mismatch` over arrays, one finding per chunk."""
    out = np.empty(len(begin), np.int64)
    for k in range(len(begin)):
        out[k] = entry_mismatch(src, begin[k], data_size[k], chunk_type[k], num_records[k], decoded_size[k],
                                next_begin[k], records[k], size[k])
    return out


class CheckedChunk(NamedTuple):
    """What :func:`check_chunk` found: the header's fields and where the chunk data lies."""

    status: int  # OK, or what is wrong
    where: int  # the file position of the damage when status is not OK
    chunk_type: int
    num_records: int
    decoded_size: int
    data_pos: int  # the physical position of the data's first byte
    data_size: int  # logical bytes of data, from data_pos
    cut: bool  # block headers cut through the data: it is not src[data_pos:data_pos + data_size]


@njit(cache=True, nogil=True)
def check_chunk(src, begin: int, limit: int, verify: bool) -> CheckedChunk:
    """Locate and check the chunk beginning at file position ``begin``, copying nothing.

    The chunk must end at or before ``limit``. With ``verify`` false the
    hashes are not checked, but every size still is, so a bad file cannot
    make a kernel read out of bounds. The data of a chunk that block headers
    cut through is hashed where it lies (``hash_logical``).
    """
    limit = min(limit, len(src))
    if begin < 0 or 0 < begin % BLOCK_SIZE <= BLOCK_HEADER_SIZE:
        return CheckedChunk(BAD_POSITION, begin, 0, 0, 0, -1, 0, False)
    header_stop = add_with_overhead(begin, CHUNK_HEADER_SIZE)
    if header_stop > limit:
        return CheckedChunk(TRUNCATED, begin, 0, 0, 0, -1, 0, False)
    stored, computed, data_size_u, data_hash, type_and_count, decoded_size_u = _header(src, begin, header_stop)
    if verify and stored != computed:
        return CheckedChunk(HEADER_HASH, begin, 0, 0, 0, -1, 0, False)
    if data_size_u > np.uint64(limit) or decoded_size_u > np.uint64(1 << 62):
        return CheckedChunk(TRUNCATED, begin, 0, 0, 0, -1, 0, False)
    data_size = np.int64(data_size_u)
    num_records = np.int64(type_and_count >> np.uint64(8))
    chunk_type = np.int64(type_and_count & np.uint64(0xFF))
    stop = chunk_end(begin, data_size, num_records)
    if stop > limit:
        return CheckedChunk(TRUNCATED, begin, 0, 0, 0, -1, 0, False)
    data_stop = add_with_overhead(begin, CHUNK_HEADER_SIZE + data_size)
    if verify:
        bad = _blocks_ok(src, begin, data_stop, begin, stop)
        if bad >= 0:
            return CheckedChunk(BLOCK_HEADER, bad, 0, 0, 0, -1, 0, False)
    data_pos = header_stop
    if data_size > 0 and data_pos % BLOCK_SIZE == 0:
        data_pos += BLOCK_HEADER_SIZE
    cut = data_stop - data_pos != data_size
    if verify:
        digest = hash_logical(src, 0, data_pos, data_size) if cut else highway_hash(src, data_pos, data_pos + data_size)
        if digest != data_hash:
            return CheckedChunk(DATA_HASH, begin, 0, 0, 0, -1, 0, False)
    return CheckedChunk(OK, begin, chunk_type, num_records, np.int64(decoded_size_u), data_pos, data_size, cut)


@njit(cache=True, nogil=True)
def read_chunk(src, begin: int, limit: int, verify: bool):
    """:func:`check_chunk`, and the chunk data joined when block headers cut through it.

    Returns ``(status, where, chunk_type, num_records, decoded_data_size,
    data_start, data_size, data)``: when the chunk data is contiguous in
    ``src`` it is ``src[data_start:data_start + data_size]`` and ``data`` is
    empty; when block headers cut through it, ``data`` is a fresh copy of the
    logical bytes and ``data_start`` is -1. ``where`` is the file position of
    the damage when ``status`` is not ``OK``.
    """
    empty = np.empty(0, np.uint8)  # not a global: numba would unpickle it on every call
    c = check_chunk(src, begin, limit, verify)
    if c.status != OK:
        return c.status, c.where, 0, 0, 0, -1, 0, empty
    if not c.cut:
        return OK, begin, c.chunk_type, c.num_records, c.decoded_size, c.data_pos, c.data_size, empty
    data = np.empty(c.data_size, np.uint8)
    copy_logical(src, c.data_pos, data, np.int64(0), c.data_size)
    return OK, begin, c.chunk_type, c.num_records, c.decoded_size, np.int64(-1), c.data_size, data


@njit(cache=True, nogil=True)
def frame_chunk(out, base: int, begin: int, piece_at, piece_size, chunk_type: int, num_records: int,
                decoded_size: int) -> int:
    """Lay out one chunk at file position ``begin`` into ``out`` (``out[0]`` is ``base``).

    The chunk data is its pieces one after another, piece ``i`` being the
    ``piece_size[i]`` bytes at address ``piece_at[i]`` (a compressed blob, or
    an uncompressed chunk's sizes and then each record where it lies: no
    piece is joined first). Writes the data and the block headers, then the
    chunk header with both hashes (the data's hashed where it now lies in
    ``out``), and zeros up to the chunk's end (a chunk takes at least a byte
    per record). Returns the chunk's end position.
    """
    data_size = np.int64(0)
    for i in range(len(piece_size)):
        data_size += piece_size[i]
    stop = chunk_end(begin, data_size, num_records)
    data_pos = add_with_overhead(begin, CHUNK_HEADER_SIZE)
    pos = data_pos
    for i in range(len(piece_at)):
        pos = emit_logical(out, base, pos, piece_at[i], piece_size[i], begin, stop)
    out[pos - base:stop - base] = 0
    # Block headers inside the zero tail.
    block = pos + (BLOCK_SIZE - pos % BLOCK_SIZE) % BLOCK_SIZE
    while block < stop:
        write_block_header(out, block - base, block, begin, stop)
        block += BLOCK_SIZE
    header = np.empty(CHUNK_HEADER_SIZE, np.uint8)
    store_u64(header, 8, data_size)
    store_u64(header, 16, hash_logical(out, base, data_pos, data_size))
    store_u64(header, 24, (np.uint64(num_records) << np.uint64(8)) | np.uint64(chunk_type))
    store_u64(header, 32, decoded_size)
    store_u64(header, 0, highway_hash(header, 8, CHUNK_HEADER_SIZE))
    emit_array(out, base, begin, header, begin, stop)
    return stop


@njit(cache=True, nogil=True)
def emit_array(out, base: int, pos: int, src, chunk_begin: int, chunk_stop: int) -> int:
    """``blocks.emit_logical`` of the whole array ``src`` (an argument, so it lives while its bytes are read)."""
    return emit_logical(out, base, pos, src.ctypes.data, len(src), chunk_begin, chunk_stop)


@njit(cache=True, nogil=True)
def frame_padding(out, base: int, begin: int, zeros, length: int) -> int:
    """Lay out a padding chunk of ``length`` logical bytes at ``begin`` (its data: the first of ``zeros``)."""
    piece_at = np.full(1, zeros.ctypes.data, np.int64)
    piece_size = np.full(1, length - CHUNK_HEADER_SIZE, np.int64)
    none = np.int64(0)
    return frame_chunk(out, base, begin, piece_at, piece_size, np.int64(PADDING_CHUNK), none, none)


@njit(cache=True, nogil=True)
def lay_out_chunks(begin: int, piece_at, piece_size, chunk_pieces, num_records, decoded_size, chunk_type: int,
                   pad: bool, out):
    """Frame chunks one after another from file position ``begin``.

    Chunk ``k``'s data is pieces ``chunk_pieces[k]`` to ``chunk_pieces[k+1]``
    (see :func:`frame_chunk`). With ``pad`` every chunk is followed by a
    padding chunk up to the next block boundary. The bytes go to
    ``out[:end - begin]`` (a buffer the caller keeps, so that writing
    allocates nothing per job) when it has room; otherwise nothing is
    written. Returns ``(begins, end)``: each chunk's file position and the
    position after the last byte.
    """
    count = len(chunk_pieces) - 1
    begins = np.empty(count, np.int64)
    pos = begin
    for k in range(count):
        begins[k] = pos
        data_size = np.int64(0)
        for i in range(chunk_pieces[k], chunk_pieces[k + 1]):
            data_size += piece_size[i]
        pos = chunk_end(pos, data_size, num_records[k])
        if pad:
            pos = padded_end(pos)
    if pos - begin > len(out):
        return begins, pos
    zeros = np.zeros(BLOCK_SIZE, np.uint8)  # a padding chunk's data: fewer than BLOCK_SIZE zeros
    for k in range(count):
        pieces = slice(chunk_pieces[k], chunk_pieces[k + 1])
        end = frame_chunk(out, begin, begins[k], piece_at[pieces], piece_size[pieces],
                          chunk_type, num_records[k], decoded_size[k])
        if pad:
            length = padding_length(end)
            if length:
                frame_padding(out, begin, end, zeros, length)
    return begins, pos
