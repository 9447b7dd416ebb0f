"""Block arithmetic and chunk framing kernels against plain-Python twins and FORMAT.md's examples."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mmrecord.engine import blocks, framing

BLOCK, HEADER, USABLE = 65536, 24, 65512


# -- plain-Python twins (FORMAT.md §2.3) ---------------------------------------

def py_add_with_overhead(begin, length):
    pos = begin
    while length:
        if pos % BLOCK == 0:
            pos += HEADER
        step = min(length, BLOCK - pos % BLOCK)
        pos += step
        length -= step
    return pos


def py_chunk_end(begin, data_size, num_records):
    end = py_add_with_overhead(begin, 40 + data_size)
    floor = begin + num_records
    if 0 < floor % BLOCK <= HEADER:
        floor += HEADER - floor % BLOCK + 1
    return max(end, floor)


positions = st.integers(0, 10 * BLOCK).filter(lambda p: not 0 < p % BLOCK <= HEADER)


@given(positions, st.integers(0, 4 * BLOCK))
def test_add_with_overhead_matches_twin(begin, length):
    assert blocks.add_with_overhead(begin, length) == py_add_with_overhead(begin, length)


@given(positions, st.integers(0, 3 * BLOCK), st.integers(0, 3 * BLOCK))
def test_chunk_end_matches_twin(begin, data_size, num_records):
    assert blocks.chunk_end(begin, data_size, num_records) == py_chunk_end(begin, data_size, num_records)


def test_format_examples():
    assert blocks.chunk_end(0xFFEC, 4, 1) == 0x10030          # example 2.4(b)
    assert blocks.add_with_overhead(64, 100045) == 0x18725    # example 2.4(c)
    assert blocks.chunk_end(0x40, 32, 10000) == 0x2750        # example 2.4(d)
    assert blocks.round_up_to_possible_boundary(BLOCK + 1) == BLOCK + 25
    assert blocks.round_up_to_possible_boundary(BLOCK) == BLOCK


def _frame(begin, data, chunk_type=ord("r"), num_records=1, decoded=None):
    data = np.frombuffer(data, np.uint8)
    end = blocks.chunk_end(begin, len(data), num_records)
    base = begin - begin % BLOCK
    out = np.zeros(end - base, np.uint8)
    framing.frame_chunk(out, base, begin, np.array([data.ctypes.data]), np.array([len(data)]),
                        chunk_type, num_records, len(data) if decoded is None else decoded)
    return out, base, end


def test_signature_chunk_bytes():
    out, _, end = _frame(0, b"", ord("s"), 0, 0)
    assert end == 64
    assert out[:32].tobytes().hex() == (
        "83af70d10d884a3f" "0000000000000000" "4000000000000000" "91bac23c9287e1a9")
    assert out[32:64].tobytes().hex() == (
        "0000000000000000" "e19f13c0e9b1c372" "7300000000000000" "0000000000000000")


def test_chunk_header_split_by_block_header():
    """FORMAT.md 2.4(b): a chunk 20 bytes before a boundary."""
    out, base, end = _frame(0xFFEC, bytes.fromhex("00010162"), decoded=1)
    assert end == 0x10030
    assert out[0xFFEC - base:].tobytes().hex() == (
        "5933a5aca907de30" "0400000000000000" "ddeccebb"
        "7ad8108c8332783c" "1400000000000000" "3000000000000000"
        "7961cff6" "7201000000000000" "0100000000000000" "00010162")


@given(st.integers(0, 3 * BLOCK).filter(lambda p: not 0 < p % BLOCK <= HEADER),
       st.binary(max_size=3 * BLOCK), st.integers(1, 100_000))
def test_read_chunk_inverts_frame_chunk(begin, payload, num_records):
    out, base, end = _frame(begin, payload, num_records=num_records, decoded=7)
    src = np.zeros(end, np.uint8)
    src[base:] = out
    src.flags.writeable = False
    status, _, ctype, count, decoded, start, size, copy = framing.read_chunk(src, begin, end, True)
    assert (status, ctype, count, decoded, size) == (framing.OK, ord("r"), num_records, 7, len(payload))
    data = src[start:start + size] if start >= 0 else copy
    assert data.tobytes() == payload
    # The chunk does not fit a region one byte shorter.
    assert framing.read_chunk(src, begin, end - 1, True)[0] == framing.TRUNCATED


@given(st.integers(0, 3 * BLOCK).filter(lambda p: not 0 < p % BLOCK <= HEADER),
       st.lists(st.binary(max_size=BLOCK + 100), max_size=6), st.integers(0, 300))
def test_a_chunk_framed_from_pieces_is_the_chunk_framed_from_them_joined(begin, pieces, num_records):
    """The writer frames uncompressed records from where they lie, one piece each (empty ones too)."""
    held = [np.frombuffer(piece, np.uint8) for piece in pieces]  # keeps each piece's memory alive
    piece_at = np.array([piece.ctypes.data for piece in held], np.int64)
    piece_size = np.array([len(piece) for piece in held], np.int64)
    joined, base, end = _frame(begin, b"".join(pieces), num_records=num_records, decoded=5)
    out = np.full(end - base, 0xEE, np.uint8)
    assert framing.frame_chunk(out, base, begin, piece_at, piece_size, ord("r"), num_records, 5) == end
    assert out[begin - base:].tobytes() == joined[begin - base:].tobytes()


@given(st.data())
def test_read_chunk_detects_any_flipped_byte(data):
    payload = data.draw(st.binary(min_size=1, max_size=2 * BLOCK))
    begin = data.draw(st.sampled_from([64, BLOCK - 30, BLOCK - 41, BLOCK, 100]))
    out, base, end = _frame(begin, payload)
    src = np.zeros(end, np.uint8)
    src[base:] = out
    data_stop = blocks.add_with_overhead(begin, 40 + len(payload))
    at = data.draw(st.integers(begin, data_stop - 1))
    src[at] ^= data.draw(st.integers(1, 255))
    assert framing.read_chunk(src, begin, end, True)[0] != framing.OK
