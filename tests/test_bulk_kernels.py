"""Kernels that do a whole part's work in one call: many chunks decoded, many records made ``bytes``.

``decode_chunks`` must give what ``read_chunk_records`` gives chunk by chunk,
and stop at the first chunk it cannot take (damage, a transposed chunk, a
codec without a kernel decoder), which the general path then reads and names.
``bytes_list`` must give exactly Python's slices, and refuse spans outside
its buffer before making anything; ``bytes_list_logical`` the same for
pieces of a file map that block headers may cut through.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import mmrecord
from mmrecord.chunk import read_chunk_records
from mmrecord.engine.blocks import BLOCK_HEADER_SIZE, BLOCK_SIZE, join_logical, skip_logical
from mmrecord.engine.pybytes import bytes_list, bytes_list_from_two, bytes_list_logical, join_records
from mmrecord.engine.simple import decode_chunks

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:6"]


def _records(n: int, seed: int = 0) -> list[bytes]:
    """Text-like records, some long enough that chunks are cut by block headers."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 3000, n)
    sizes[::97] = 70_000
    return [bytes(rng.integers(97, 101, int(size), dtype=np.uint8)) for size in sizes]


def _write(path, records, options: str) -> str:
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)
    return str(path)


def _decode(reader: mmrecord.ArrayRecordReader, first: int, end: int, out=None):
    index = reader._index
    return decode_chunks(reader._src, index.chunks, index.footer_offset, first, index.record_counts(first, end),
                         True, reader._kernel_codec_id, *reader._kernel_decoder(),
                         np.empty(0, np.uint8) if out is None else out)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("group", [1, 7, 256])
def test_decode_chunks_gives_what_each_chunk_decodes_to(tmp_path, codec, group):
    records = _records(600)
    path = _write(tmp_path / "f.ar", records, f"group_size:{group},{codec}")
    with mmrecord.ArrayRecordReader(path) as reader:
        index = reader._index
        first, end = 1, len(index)
        made = _decode(reader, first, end)
        assert made.decoded == end - first
        for j, k in enumerate(range(first, end)):
            plain = read_chunk_records(reader._src, *index.span(k), True, index.expected(k))
            values = made.values[made.value_at[j]:made.value_at[j + 1]]
            bounds = made.bounds[made.bound_at[j]:made.bound_at[j + 1]]
            assert values.tobytes() == plain.values.tobytes()
            assert bounds.tolist() == plain.bounds.tolist()
        start = index.first_record(first)
        assert made.values.tobytes() == b"".join(records[start:])
        room = np.zeros(len(made.values) + 10, np.uint8)  # a buffer with room: the values go there
        again = _decode(reader, first, end, room)
        assert np.shares_memory(again.values, room) and again.values.tobytes() == made.values.tobytes()
        short = np.zeros(len(made.values) - 1, np.uint8)  # one without: a new array
        assert not np.shares_memory(_decode(reader, first, end, short).values, short)


@pytest.mark.parametrize("codec", ["zstd:3", "snappy", "brotli:3"])
def test_readers_in_order_on_one_thread_share_its_scratch_safely(tmp_path, codec):
    """Without decoding ahead, a chunk is decoded into the thread's scratch and cut into bytes before the
    next: readers (and r[i] of a one-record file) taking turns on one thread get their own records."""
    records = _records(300, seed=2)
    first = _write(tmp_path / "a.ar", records, f"group_size:16,{codec}")
    second = _write(tmp_path / "b.ar", records[::-1], f"group_size:16,{codec}")
    single = _write(tmp_path / "c.ar", records, f"group_size:1,{codec}")
    options = "readahead_buffer_size:0,max_parallelism:0"
    with mmrecord.ArrayRecordReader(first, options) as a, mmrecord.ArrayRecordReader(second, options) as b, \
            mmrecord.ArrayRecordReader(single, options) as c:
        got = [(a.read(), b.read(), c[len(records) - 1 - i]) for i in range(len(records))]
    assert got == list(zip(records, records[::-1], records[::-1]))


@pytest.mark.parametrize("codec", ["zstd:3", "snappy", "uncompressed"])
def test_decode_chunks_stops_at_a_damaged_chunk(tmp_path, codec):
    records = _records(200, seed=1)
    path = tmp_path / "f.ar"
    _write(path, records, f"group_size:10,{codec}")
    with mmrecord.ArrayRecordReader(path) as reader:
        begin = int(reader._index.offsets[5])
    data = bytearray(path.read_bytes())
    data[begin + 50] ^= 0x01
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(str(path)) as reader:
        made = _decode(reader, 2, 12)
        assert made.decoded == 3  # chunks 2, 3 and 4; chunk 5 is left to the general path
        assert made.values[:made.value_at[3]].tobytes() == b"".join(records[20:50])


def test_decode_chunks_leaves_transposed_chunks_to_the_general_path(tmp_path):
    path = _write(tmp_path / "f.ar", [b"\x08\x01", b"\x08\x02"] * 50, "group_size:10,transpose:true,zstd:3")
    with mmrecord.ArrayRecordReader(path) as reader:
        assert _decode(reader, 0, 3).decoded == 0
        assert list(reader) == [b"\x08\x01", b"\x08\x02"] * 50


def test_decode_chunks_leaves_a_codec_without_its_decoder_to_the_general_path(tmp_path):
    path = _write(tmp_path / "f.ar", _records(50), "group_size:10,zstd:3")
    with mmrecord.ArrayRecordReader(path) as reader:
        index = reader._index
        made = decode_chunks(reader._src, index.chunks, index.footer_offset, 0, index.record_counts(0, 5),
                             True, -1, 0, 0, np.empty(0, np.uint8))
        assert made.decoded == 0


def test_bytes_list_gives_python_slices():
    rng = np.random.default_rng(3)
    buffer = rng.integers(0, 256, 10_000, dtype=np.uint8)
    starts = np.sort(rng.integers(0, 10_000, 500))
    stops = np.minimum(starts + rng.integers(0, 300, 500), 10_000)
    stops[::50] = starts[::50]  # empty records
    got = bytes_list(buffer, starts, stops)
    raw = buffer.tobytes()
    assert got == [raw[a:b] for a, b in zip(starts.tolist(), stops.tolist())]
    assert all(type(record) is bytes for record in got)
    assert sys.getrefcount(got) == 2  # the kernel handed over its one reference
    readonly = buffer.copy()
    readonly.flags.writeable = False
    assert bytes_list(readonly, starts, stops) == got
    assert bytes_list(buffer, starts[:0], stops[:0]) == []


def test_bytes_list_from_two_takes_each_piece_from_its_buffer():
    first = np.frombuffer(b"abcdefgh", np.uint8)
    second = np.frombuffer(b"012345", np.uint8).copy()
    starts, stops = np.array([0, 1, 6, 2]), np.array([3, 4, 8, 2])
    in_first = np.array([True, False, True, False])
    assert bytes_list_from_two(first, second, starts, stops, in_first) == [b"abc", b"123", b"gh", b""]


@pytest.mark.parametrize("starts, stops", [([0, 5], [4, 11]), ([-1], [2]), ([3], [2]), ([0, 1], [1])])
def test_bytes_list_refuses_spans_outside_the_buffer(starts, stops):
    buffer = np.zeros(10, np.uint8)
    with pytest.raises(ValueError):
        bytes_list(buffer, np.array(starts, np.int64), np.array(stops, np.int64))
    with pytest.raises(ValueError):
        bytes_list_from_two(buffer, buffer[:2], np.array(starts, np.int64), np.array(stops, np.int64),
                            np.ones(len(starts), np.bool_))


MAP = np.frombuffer(np.random.default_rng(11).bytes(4 * BLOCK_SIZE), np.uint8)


def _contiguous(pos: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Whether no block header lies inside each piece (the plain arithmetic, not the engine's)."""
    return (size == 0) | ((pos % BLOCK_SIZE != 0) & (pos % BLOCK_SIZE + size <= BLOCK_SIZE))


def test_bytes_list_logical_gives_each_piece_without_block_headers():
    rng = np.random.default_rng(12)
    pos = rng.integers(0, 3 * BLOCK_SIZE, 400)
    size = rng.integers(0, 5000, 400)
    pos[:6] = [BLOCK_SIZE, BLOCK_SIZE, 2 * BLOCK_SIZE - 3, BLOCK_SIZE - 1, 5, 2 * BLOCK_SIZE]
    size[:6] = [1, 0, 3, 1, 0, 70_000]  # a lone byte after a header, empty pieces, pieces ending at a header
    contiguous = _contiguous(pos, size)
    assert 0 < contiguous.sum() < len(pos)
    joined, offsets = join_logical(MAP, pos, size)
    got = bytes_list_logical(MAP, pos, size, contiguous)
    assert got == [joined[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])]
    assert all(type(piece) is bytes for piece in got)
    assert sys.getrefcount(got) == 2  # the kernel handed over its one reference


def test_bytes_list_logical_fills_new_bytes_only():
    """A piece made empty and then filled is a new object: CPython's shared one-byte ``bytes`` stay as they were."""
    singles = [bytes([value]) for value in range(256)]
    pos = np.array([BLOCK_SIZE, 2 * BLOCK_SIZE, 3 * BLOCK_SIZE], np.int64)
    size = np.array([1, 1, 1], np.int64)
    got = bytes_list_logical(MAP, pos, size, np.zeros(3, np.bool_))
    assert got == [bytes(MAP[p + BLOCK_HEADER_SIZE:p + BLOCK_HEADER_SIZE + 1]) for p in pos.tolist()]
    assert [single[0] for single in singles] == list(range(256))


@pytest.mark.parametrize("pos, size, contiguous", [
    ([-1], [2], [True]), ([0], [-1], [True]), ([4 * BLOCK_SIZE - 2], [3], [True]),
    ([3 * BLOCK_SIZE + 10], [BLOCK_SIZE], [False]), ([0, 1], [1], [True, True])])
def test_bytes_list_logical_refuses_pieces_outside_the_map(pos, size, contiguous):
    with pytest.raises(ValueError):
        bytes_list_logical(MAP, np.array(pos, np.int64), np.array(size, np.int64), np.array(contiguous, np.bool_))


def test_bytes_list_logical_bounds_a_cut_piece_by_where_it_ends():
    """A piece a header cuts through ends a header further on than its length: that end must lie in the map."""
    pos = np.array([3 * BLOCK_SIZE - 10], np.int64)  # 10 bytes before the last block's header
    fits = np.array([BLOCK_SIZE - 14], np.int64)
    assert skip_logical(int(pos[0]), int(fits[0])) == len(MAP)
    assert bytes_list_logical(MAP, pos, fits, np.array([False]))[0] == join_logical(MAP, pos, fits)[0].tobytes()
    one_more = fits + 1  # ends one byte past the map, though pos + size does not
    assert pos[0] + one_more[0] < len(MAP)
    with pytest.raises(ValueError):
        bytes_list_logical(MAP, pos, one_more, np.array([False]))


def test_join_records_gives_the_joined_bytes_and_sizes():
    records = _records(300, seed=4) + [b""]
    values, sizes = join_records(records)
    assert values.tobytes() == b"".join(records)
    assert sizes.tolist() == [len(r) for r in records]
    room = np.empty(len(values) + 10, np.uint8)
    again, _ = join_records(records, room)
    assert np.shares_memory(again, room) and again.tobytes() == values.tobytes()
    short = np.empty(3, np.uint8)
    grown, _ = join_records(records, short)
    assert not np.shares_memory(grown, short) and grown.tobytes() == values.tobytes()
    assert join_records([])[0].size == 0


@pytest.mark.parametrize("bad", [[b"a", "text"], [b"a", bytearray(b"b")], (b"a", b"b")])
def test_join_records_refuses_what_is_not_a_list_of_bytes(bad):
    with pytest.raises(TypeError):
        join_records(bad)
