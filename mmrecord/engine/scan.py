"""Walk a Riegeli file chunk by chunk without its index, and find chunks again after damage.

``walk_chunks`` follows the chain of chunks from a position (each intact chunk
header gives the next chunk's position through ``blocks.chunk_end``), checks
every chunk header, data hash and block header on the way, and where a chunk
header is damaged or cut off it resynchronises: the first intact block header
after the damage names a chunk boundary (FORMAT.md §2.2), and the bytes
before it are searched for chunk headers whose chain of successors lands
exactly on that boundary — so a chunk stored inside a record is never taken for
a real one. The result is a list of entries, each an intact-header chunk or a
gap, that ``mmrecord.survey`` turns into a report.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from .blocks import (
    BLOCK_HEADER_SIZE,
    BLOCK_SIZE,
    CHUNK_HEADER_SIZE,
    add_with_overhead,
    block_begin,
    check_block_header,
    chunk_end,
    copy_logical,
    read_block_header,
    remaining_in_block,
    round_up_to_possible_boundary,
)
from .highway import highway_hash
from .memory import load_u64

# Entry kinds.
CHUNK = 0  # a chunk whose header is intact
GAP = 1  # bytes where no intact chunk header begins the next chunk

# Entry statuses. For CHUNK entries:
OK = 0  # header, data and every block header inside the chunk are intact
DATA_HASH = 1  # the chunk data's hash does not match
BLOCK_HEADER = 2  # data intact, but a block header inside the chunk is damaged (``where``)
DATA_CUT = 3  # the file ends inside the chunk's header or data
PADDING_CUT = 4  # data whole and intact; the file ends inside the padding after it
# For GAP entries:
HEADER_HASH = 5  # a chunk header's hash does not match (or its fields are impossible)
HEADER_CUT = 6  # the file ends inside a chunk header
BAD_POSITION = 7  # the chain points inside a block header

# read_header results
_HEADER_OK = 0
_HEADER_BAD = 1
_HEADER_CUT = 2
_HEADER_BAD_POSITION = 3

_MAX_SIZE = 1 << 48  # larger data sizes or record counts are taken as damage

#: What :func:`walk_chunks` found: one element per entry in each array.
Walk = namedtuple("Walk", ["kind", "status", "begin", "end", "where", "chunk_type", "num_records",
                           "decoded_size", "data_size", "data_hash"])


@njit(cache=True, nogil=True)
def read_header(src, begin: int):
    """Check the chunk header at ``begin``.

    Returns ``(status, data_size, data_hash, chunk_type, num_records,
    decoded_size)``; the fields are meaningful only when status is ``_HEADER_OK``.
    """
    z = np.int64(0)
    if begin < 0 or round_up_to_possible_boundary(begin) != begin:
        return _HEADER_BAD_POSITION, z, np.uint64(0), z, z, z
    if add_with_overhead(begin, CHUNK_HEADER_SIZE) > len(src):
        return _HEADER_CUT, z, np.uint64(0), z, z, z
    header = np.empty(CHUNK_HEADER_SIZE, np.uint8)
    copy_logical(src, begin, header, 0, CHUNK_HEADER_SIZE)
    if load_u64(header, 0) != highway_hash(header, 8, CHUNK_HEADER_SIZE):
        return _HEADER_BAD, z, np.uint64(0), z, z, z
    data_size = load_u64(header, 8)
    type_and_count = load_u64(header, 24)
    decoded = load_u64(header, 32)
    num_records = type_and_count >> np.uint64(8)
    if data_size >= np.uint64(_MAX_SIZE) or num_records >= np.uint64(_MAX_SIZE) \
            or decoded >= np.uint64(1 << 62):
        return _HEADER_BAD, z, np.uint64(0), z, z, z
    return (_HEADER_OK, np.int64(data_size), load_u64(header, 16),
            np.int64(type_and_count & np.uint64(0xFF)), np.int64(num_records), np.int64(decoded))


@njit(cache=True, nogil=True)
def _maybe_header(src, pos: int) -> bool:
    """Cheap test before hashing: can a chunk of a known type begin at ``pos``?

    Only headers that lie whole inside one block are filtered; the few positions
    whose header a block boundary cuts always get the full check.
    """
    if remaining_in_block(pos) <= CHUNK_HEADER_SIZE:
        return True
    t = src[pos + 24]
    if t != 0x72 and t != 0x74 and t != 0x70 and t != 0x73 and t != 0x6D:
        return False
    # data_size < 2**40 and num_records < 2**40: the high bytes are zero.
    return (src[pos + 13] | src[pos + 14] | src[pos + 15] | src[pos + 30] | src[pos + 31]) == 0


@njit(cache=True, nogil=True)
def _data_intact(src, begin: int, data_size: int, data_hash) -> bool:
    """True when the chunk's data (whole inside ``src``) matches its hash."""
    buf = np.empty(CHUNK_HEADER_SIZE + data_size, np.uint8)
    copy_logical(src, begin, buf, 0, CHUNK_HEADER_SIZE + data_size)
    return highway_hash(buf, CHUNK_HEADER_SIZE, CHUNK_HEADER_SIZE + data_size) == data_hash


@njit(cache=True, nogil=True)
def _first_bad_block(src, begin: int, stop: int) -> int:
    """Position of the first damaged block header inside the chunk ``[begin, stop)`` (-1: none)."""
    block = begin + remaining_in_block(begin)
    while block < stop and block + BLOCK_HEADER_SIZE <= len(src):
        if not check_block_header(src, block, begin, stop):
            return block
        block += BLOCK_SIZE
    return -1


@njit(cache=True, nogil=True)
def _chain_reaches(src, pos: int, target: int) -> bool:
    """Do the chunks from ``pos`` on, each intact-headed, end exactly at ``target``?

    With no target (-1: no intact block header follows), the chunk at ``pos``
    must have intact data instead.
    """
    if target < 0:
        status, data_size, data_hash, _, _, _ = read_header(src, pos)
        if status != _HEADER_OK or add_with_overhead(pos, CHUNK_HEADER_SIZE + data_size) > len(src):
            return False
        return _data_intact(src, pos, data_size, data_hash)
    while pos < target:
        status, data_size, _, _, num_records, _ = read_header(src, pos)
        if status != _HEADER_OK:
            return False
        pos = chunk_end(pos, data_size, num_records)
    return pos == target


@njit(cache=True, nogil=True)
def resync(src, pos: int):
    """Where the next chunk begins after a damaged chunk header at ``pos``.

    Returns ``(next_pos, chunks)``: ``chunks`` is 1 when an intact block header
    proves that exactly one chunk (the damaged one) lies in ``[pos, next_pos)``,
    and -1 when the count is unknown. ``next_pos`` is ``len(src)`` when no chunk
    can be found again.
    """
    n = len(src)
    block = pos + remaining_in_block(pos)
    valid = False
    chunk_begin = np.int64(0)
    chunk_stop = np.int64(0)
    while block + BLOCK_HEADER_SIZE <= n:
        valid, chunk_begin, chunk_stop = read_block_header(src, block)
        if valid:
            break
        block += BLOCK_SIZE
    target = np.int64(-1)
    if valid:
        if chunk_begin == pos:
            return chunk_stop, 1  # this header interrupts the damaged chunk: it says where it ends
        target = chunk_begin if chunk_begin > pos else chunk_stop
    limit = target if target >= 0 else n
    for c in range(pos + 1, limit):
        if c + CHUNK_HEADER_SIZE > n:
            break
        if not _maybe_header(src, c):
            continue
        status, _, _, _, _, _ = read_header(src, c)
        if status == _HEADER_OK and _chain_reaches(src, c, target):
            return c, -1
    return (target if target >= 0 else n), -1


@njit(cache=True, nogil=True)
def walk_chunks(src, start: int):
    """Every chunk and gap from ``start`` to the end of ``src``, in file order.

    Returns a :data:`Walk` of arrays, one element per entry. For a CHUNK,
    ``end`` is where its header says it ends (possibly past the end of
    ``src`` for a cut one) and ``where`` is the damaged block header for
    ``BLOCK_HEADER``. For a GAP, ``num_records`` holds how many chunks it is
    known to hide (1) or -1 when that is unknown. ``data_hash`` is the
    chunk header's hash of the data (two chunks with equal hashes, sizes and
    counts hold the same records).
    """
    n = len(src)
    cap = 64
    kind = np.zeros(cap, np.int64)
    status = np.zeros(cap, np.int64)
    begin = np.zeros(cap, np.int64)
    end = np.zeros(cap, np.int64)
    where = np.zeros(cap, np.int64)
    ctype = np.zeros(cap, np.int64)
    nrec = np.zeros(cap, np.int64)
    decoded = np.zeros(cap, np.int64)
    dsize = np.zeros(cap, np.int64)
    dhash = np.zeros(cap, np.uint64)
    k = 0
    pos = np.int64(start)
    while pos < n:
        if k == cap:
            cap *= 2
            kind = _grow(kind, cap)
            status = _grow(status, cap)
            begin = _grow(begin, cap)
            end = _grow(end, cap)
            where = _grow(where, cap)
            ctype = _grow(ctype, cap)
            nrec = _grow(nrec, cap)
            decoded = _grow(decoded, cap)
            dsize = _grow(dsize, cap)
            dhash = _grow(dhash, cap)
        hstatus, data_size, data_hash, chunk_type, num_records, decoded_size = read_header(src, pos)
        begin[k] = pos
        where[k] = pos
        if hstatus == _HEADER_OK:
            stop = chunk_end(pos, data_size, num_records)
            kind[k] = CHUNK
            end[k] = stop
            ctype[k] = chunk_type
            nrec[k] = num_records
            decoded[k] = decoded_size
            dsize[k] = data_size
            dhash[k] = data_hash
            if add_with_overhead(pos, CHUNK_HEADER_SIZE + data_size) > n:
                status[k] = DATA_CUT
                k += 1
                break
            st = OK
            if not _data_intact(src, pos, data_size, data_hash):
                st = DATA_HASH
            else:
                bad = _first_bad_block(src, pos, stop)
                if bad >= 0:
                    st = BLOCK_HEADER
                    where[k] = bad
            if stop > n and st == OK:
                st = PADDING_CUT
            status[k] = st
            k += 1
            if stop > n:
                break
            pos = stop
            continue
        kind[k] = GAP
        nrec[k] = -1
        if hstatus == _HEADER_CUT:
            status[k] = HEADER_CUT
            end[k] = n
            k += 1
            break
        status[k] = BAD_POSITION if hstatus == _HEADER_BAD_POSITION else HEADER_HASH
        following, chunks = resync(src, pos)
        end[k] = following
        nrec[k] = chunks
        k += 1
        pos = following
    return Walk(kind[:k], status[:k], begin[:k], end[:k], where[:k], ctype[:k], nrec[:k],
                decoded[:k], dsize[:k], dhash[:k])


@njit(cache=True, nogil=True)
def _grow(a, cap: int):
    out = np.zeros(cap, a.dtype)
    out[: len(a)] = a
    return out


@njit(cache=True, nogil=True)
def detached_chunk(src, begin: int, stop: int):
    """A copy of the blocks holding the chunk ``[begin, stop)``, zero-filled past ``src``'s end.

    Returns ``(buf, begin_in_buf)``. A chunk whose data is whole but whose
    padding the file lost can be decoded from it, since block positions keep
    their place modulo the block size.
    """
    base = block_begin(begin)
    buf = np.zeros(stop - base, np.uint8)
    have = min(len(src), stop) - base
    buf[:have] = src[base:base + have]
    return buf, begin - base
