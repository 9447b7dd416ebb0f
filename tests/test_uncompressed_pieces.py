"""``simple.uncompressed_pieces``: uncompressed chunks as a head and the records where they lie."""

from __future__ import annotations

import numpy as np

from mmrecord.engine.simple import uncompressed_pieces


def _pieces(buffer: np.ndarray, starts: list[int], sizes: list[int], group_bounds: list[int]):
    record_at = buffer.ctypes.data + np.array(starts, np.int64)
    return uncompressed_pieces(record_at, np.array(sizes, np.uint64), np.array(group_bounds, np.int64))


def test_records_that_follow_each_other_in_memory_make_one_piece():
    buffer = np.frombuffer(b"abcdefghij", np.uint8)
    pieces = _pieces(buffer, [0, 3, 3, 5], [3, 0, 2, 5], [0, 3, 4])
    assert pieces.chunk_pieces.tolist() == [0, 2, 4]  # each chunk: its head, then one piece
    assert pieces.piece_size.tolist()[1::2] == [5, 5]
    assert pieces.piece_at.tolist()[1::2] == [buffer.ctypes.data, buffer.ctypes.data + 5]
    assert pieces.decoded_size.tolist() == [5, 5]
    head = pieces.heads[:pieces.piece_size[0]].tobytes()
    assert head == bytes([0, 3, 3, 0, 2])  # no codec, the sizes' length, the sizes


def test_records_apart_in_memory_stay_pieces_of_their_own():
    buffer = np.frombuffer(b"abc-de+f", np.uint8)
    pieces = _pieces(buffer, [0, 4, 7, 8], [3, 2, 1, 0], [0, 4])
    assert pieces.chunk_pieces.tolist() == [0, 4]  # the head, "abc", "de", "f" (the empty record joins "f")
    assert pieces.piece_size.tolist() == [pieces.piece_size[0], 3, 2, 1]
    assert (pieces.piece_at[1:] - buffer.ctypes.data).tolist() == [0, 4, 7]
    assert pieces.decoded_size.tolist() == [6]


def test_a_chunk_never_continues_the_chunk_before():
    buffer = np.frombuffer(b"abcdef", np.uint8)
    pieces = _pieces(buffer, [0, 3], [3, 3], [0, 1, 2])
    assert pieces.chunk_pieces.tolist() == [0, 2, 4]
    assert (pieces.piece_at[[1, 3]] - buffer.ctypes.data).tolist() == [0, 3]
