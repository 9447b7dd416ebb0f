"""The model of the reference writer's compressor calls (``codecs.writer_calls``)."""

from __future__ import annotations

import numpy as np
import pytest

from mmrecord.codecs import get_codec
from mmrecord.codecs.writer_calls import (
    GATHERED_CALL_BYTES,
    WRITER_BUFFER_BYTES,
    compress_written,
    fills_writer_buffer,
    writer_calls,
)

CALL = GATHERED_CALL_BYTES


def test_small_pieces_are_gathered_into_calls_of_the_gathering_size():
    assert writer_calls(np.full(100, 1500, np.uint64)).tolist() == [CALL, 2 * CALL, 150_000]
    assert writer_calls(np.broadcast_to(np.int64(1), 3 * CALL)).tolist() == [CALL, 2 * CALL, 3 * CALL]


def test_a_long_piece_is_a_call_of_its_own():
    sizes = np.array([10, 2 << 20, 5, CALL + 4464, 100])
    assert writer_calls(sizes).tolist() == [10, 10 + (2 << 20), 15 + (2 << 20), 15 + (2 << 20) + CALL + 4464,
                                            115 + (2 << 20) + CALL + 4464]
    assert writer_calls(np.array([0, 2 << 20, 0])).tolist() == [2 << 20]
    assert writer_calls(np.array([CALL - 1, CALL])).tolist() == [CALL - 1, 2 * CALL - 1]


def test_only_pieces_that_fill_the_first_buffer_exactly_do():
    assert fills_writer_buffer(WRITER_BUFFER_BYTES, np.array([2048, 2048]))
    assert fills_writer_buffer(WRITER_BUFFER_BYTES, np.array([0, 4095, 1]))
    assert not fills_writer_buffer(WRITER_BUFFER_BYTES, np.array([0, 4096]))
    assert not fills_writer_buffer(WRITER_BUFFER_BYTES + 1, np.array([2048, 2049]))


class _Calls:
    """A codec that says which of its calls made a blob."""

    def compress(self, data, level, window_log):
        return b"compress"

    def compress_sized(self, data, level, window_log):
        return b"sized"

    def compress_streamed(self, data, piece_sizes, level, window_log):
        return b"streamed"


@pytest.mark.parametrize("sizes,call", [([4095], b"compress"), ([1, 2, 3], b"compress"), ([2048, 2048], b"sized"),
                                        ([4096], b"streamed"), ([2048, 2049], b"streamed"),
                                        ([1 << 20], b"streamed")])
def test_each_blob_goes_to_the_call_that_makes_the_reference_bytes(sizes, call):
    assert compress_written(_Calls(), bytes(sum(sizes)), np.array(sizes), None, None) == call


def test_brotli_streams_decode_to_the_blob():
    brotli = get_codec("brotli")
    rng = np.random.default_rng(5)
    blob = bytes(rng.integers(97, 101, 3 << 20, np.uint8))
    sizes = np.array([1000, 1 << 20, 70_000] + [1500] * ((len(blob) - (1 << 20) - 71_000) // 1500))
    sizes[-1] += len(blob) - sizes.sum()
    made = brotli.compress_streamed(blob, sizes, 6, None)
    assert brotli.decompress(made, len(blob)) == blob
