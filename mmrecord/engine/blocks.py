"""Riegeli's 64 KiB block arithmetic, the one place that knows it.

A Riegeli file is a logical stream of chunks with a 24-byte block header
physically inserted at every file position that is a multiple of 65536. The
functions here map between logical lengths and physical positions, and decide
where a chunk ends (FORMAT.md §2.3).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .highway import hash_final, hash_packets, hash_start, highway_hash
from .memory import copy_bytes, copy_from_address, load_u64, store_u64

BLOCK_SIZE = 1 << 16
BLOCK_HEADER_SIZE = 24
USABLE_BLOCK_SIZE = BLOCK_SIZE - BLOCK_HEADER_SIZE
CHUNK_HEADER_SIZE = 40


@njit(cache=True, nogil=True, inline="always")
def remaining_in_block(pos: int) -> int:
    """Bytes from ``pos`` to the next block boundary (0 at a boundary)."""
    return (BLOCK_SIZE - pos % BLOCK_SIZE) % BLOCK_SIZE


@njit(cache=True, nogil=True, inline="always")
def round_up_to_possible_boundary(pos: int) -> int:
    """Move ``pos`` out of a block header: a chunk never begins at p % 65536 in 1..24."""
    excess = remaining_in_block(pos) - (USABLE_BLOCK_SIZE - 1)
    return pos + excess if excess > 0 else pos


@njit(cache=True, nogil=True, inline="always")
def add_with_overhead(begin: int, length: int) -> int:
    """Physical position reached after ``length`` logical bytes written from ``begin``."""
    blocks = (length + (begin + USABLE_BLOCK_SIZE - 1) % BLOCK_SIZE) // USABLE_BLOCK_SIZE
    return begin + length + BLOCK_HEADER_SIZE * blocks


@njit(cache=True, nogil=True, inline="always")
def chunk_end(begin: int, data_size: int, num_records: int) -> int:
    """Physical end of a chunk: its bytes, or at least one byte per record (the padding rule)."""
    return max(
        add_with_overhead(begin, CHUNK_HEADER_SIZE + data_size),
        round_up_to_possible_boundary(begin + num_records),
    )


@njit(cache=True, nogil=True, inline="always")
def padding_length(pos: int) -> int:
    """Logical length of the padding chunk that moves ``pos`` to a block boundary (0: none needed).

    A padding chunk needs room for its 40-byte header, so with fewer than 40
    bytes left in the block it spills over into the next one (FORMAT.md §3.3).
    """
    remaining = remaining_in_block(pos)
    if remaining == 0 or remaining >= CHUNK_HEADER_SIZE:
        return remaining
    return remaining + USABLE_BLOCK_SIZE


@njit(cache=True, nogil=True)
def padded_end(pos: int) -> int:
    """Where the padding chunk a padding writer puts at ``pos`` ends: ``pos`` itself at a block boundary."""
    length = padding_length(pos)
    return chunk_end(pos, length - CHUNK_HEADER_SIZE, 0) if length else pos


@njit(cache=True, nogil=True)
def write_block_header(out, at: int, block_pos: int, chunk_begin: int, chunk_stop: int) -> None:
    """Write the 24-byte header of the block at file position ``block_pos`` into ``out[at:]``."""
    store_u64(out, at + 8, block_pos - chunk_begin)
    store_u64(out, at + 16, chunk_stop - block_pos)
    store_u64(out, at, highway_hash(out, at + 8, at + 24))


@njit(cache=True, nogil=True)
def check_block_header(buf, block_pos: int, chunk_begin: int, chunk_stop: int) -> bool:
    """True when the block header at ``block_pos`` has a valid hash and points at this chunk."""
    if load_u64(buf, block_pos) != highway_hash(buf, block_pos + 8, block_pos + 24):
        return False
    return (
        load_u64(buf, block_pos + 8) == np.uint64(block_pos - chunk_begin)
        and load_u64(buf, block_pos + 16) == np.uint64(chunk_stop - block_pos)
    )


@njit(cache=True, nogil=True)
def copy_logical(src, pos: int, out, out_pos: int, length: int) -> int:
    """Copy ``length`` logical bytes from physical ``pos`` of ``src``, skipping block headers.

    Returns the physical position after the last byte copied. The caller has
    checked that the whole physical range lies inside ``src``.
    """
    while length > 0:
        if pos % BLOCK_SIZE == 0:
            pos += BLOCK_HEADER_SIZE
        step = min(length, BLOCK_SIZE - pos % BLOCK_SIZE)
        copy_bytes(out, out_pos, src, pos, step)
        pos += step
        out_pos += step
        length -= step
    return pos


@njit(cache=True, nogil=True, inline="always")
def skip_logical(pos: int, length: int) -> int:
    """The physical position :func:`copy_logical` from ``pos`` returns after ``length`` logical bytes."""
    if length <= 0:
        return pos
    if pos % BLOCK_SIZE == 0:
        pos += BLOCK_HEADER_SIZE
    room = BLOCK_SIZE - pos % BLOCK_SIZE
    if length <= room:
        return pos + length
    length -= room
    full = (length - 1) // USABLE_BLOCK_SIZE  # whole blocks crossed before the one the last byte is in
    return pos + room + full * BLOCK_SIZE + BLOCK_HEADER_SIZE + length - full * USABLE_BLOCK_SIZE


@njit(cache=True, nogil=True, inline="always")
def is_contiguous(pos: int, length: int) -> bool:
    """Whether the ``length`` logical bytes from physical ``pos`` are ``src[pos:pos + length]`` (no header inside)."""
    return length == 0 or (pos % BLOCK_SIZE != 0 and pos % BLOCK_SIZE + length <= BLOCK_SIZE)


@njit(cache=True, nogil=True)
def join_logical(src, pos, size):
    """``(values, offsets)``: piece ``i``, the ``size[i]`` logical bytes from physical ``pos[i]``, joined.

    Piece ``i`` is ``values[offsets[i]:offsets[i+1]]``. The caller has
    checked that every physical range lies inside ``src``.
    """
    offsets = np.empty(len(pos) + 1, np.int64)
    offsets[0] = 0
    for i in range(len(pos)):
        offsets[i + 1] = offsets[i] + size[i]
    values = np.empty(offsets[-1], np.uint8)
    for i in range(len(pos)):
        copy_logical(src, pos[i], values, offsets[i], size[i])
    return values, offsets


@njit(cache=True, nogil=True)
def hash_logical(src, base: int, pos: int, length: int):
    """HighwayHash of ``length`` logical bytes from file position ``pos``, block headers skipped.

    ``src[0]`` stands for file position ``base`` (0 for a whole file). What
    hashing their :func:`copy_logical` copy gives, without making it: whole
    packets are hashed where they lie, and only the few that a block header
    cuts through are joined first. The caller has checked that the whole
    physical range lies inside ``src``.
    """
    state = hash_start()
    packet = np.empty(32, np.uint8)
    held = np.int64(0)  # bytes of a cut packet joined so far
    while length > 0:
        if pos % BLOCK_SIZE == 0:
            pos += BLOCK_HEADER_SIZE
        step = min(length, BLOCK_SIZE - pos % BLOCK_SIZE)
        length -= step
        if held:
            take = min(32 - held, step)
            copy_bytes(packet, held, src, pos - base, take)
            held += take
            pos += take
            step -= take
            if held < 32:
                continue
            hash_packets(state, packet, 0, 1)
            held = 0
        whole = step >> 5
        hash_packets(state, src, pos - base, whole)
        pos += whole << 5
        held = step - (whole << 5)
        copy_bytes(packet, 0, src, pos - base, held)
        pos += held
    return hash_final(state, packet, 0, held)


@njit(cache=True, nogil=True)
def emit_logical(out, base: int, pos: int, address: int, length: int, chunk_begin: int, chunk_stop: int) -> int:
    """Write the ``length`` bytes at ``address`` as logical bytes from file position ``pos``.

    ``out[0]`` stands for file position ``base``. A block header for the chunk
    ``[chunk_begin, chunk_stop)`` is written at every boundary crossed. Returns
    the physical position after the last byte. The caller bounds both ranges.
    """
    while length > 0:
        if pos % BLOCK_SIZE == 0:
            write_block_header(out, pos - base, pos, chunk_begin, chunk_stop)
            pos += BLOCK_HEADER_SIZE
        step = min(length, BLOCK_SIZE - pos % BLOCK_SIZE)
        copy_from_address(out, pos - base, address, step)
        pos += step
        address += step
        length -= step
    return pos


@njit(cache=True, nogil=True)
def block_begin(pos: int) -> int:
    """Position of the block boundary at or before ``pos``."""
    return pos - pos % BLOCK_SIZE


@njit(cache=True, nogil=True)
def read_block_header(buf, block_pos: int):
    """The chunk a block header says it interrupts: ``(valid, chunk_begin, chunk_stop)``.

    ``valid`` is false when the header's hash does not match, when it does not
    fit in ``buf``, or when its fields cannot describe a chunk around
    ``block_pos`` (the chunk must begin at or before the block and end after
    its header). Used to find chunk boundaries again after damage.
    """
    if block_pos < 0 or block_pos + BLOCK_HEADER_SIZE > len(buf):
        return False, np.int64(0), np.int64(0)
    if load_u64(buf, block_pos) != highway_hash(buf, block_pos + 8, block_pos + 24):
        return False, np.int64(0), np.int64(0)
    previous_chunk = load_u64(buf, block_pos + 8)
    next_chunk = load_u64(buf, block_pos + 16)
    if previous_chunk > np.uint64(block_pos) or next_chunk <= np.uint64(BLOCK_HEADER_SIZE) \
            or next_chunk > np.uint64(1 << 62):
        return False, np.int64(0), np.int64(0)
    return True, np.int64(block_pos) - np.int64(previous_chunk), np.int64(block_pos) + np.int64(next_chunk)
