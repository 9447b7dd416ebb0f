"""Uncompressed chunks read where they lie: hashed in place, records copied once into their ``bytes``.

A chunk that block headers cut through is hashed piece by piece
(``blocks.hash_logical``) instead of being joined first, and its records are
found by block arithmetic (``blocks.skip_logical``). Each piece is checked
here against the plain way (join, then hash or cut), and every read path
against the records written, with chunks in and out of the cache, damaged
chunks and chunks of another codec.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import mmrecord
from mmrecord.chunk import InPlaceRecords, read_chunk_records, read_in_place
from mmrecord.engine.blocks import BLOCK_SIZE, copy_logical, hash_logical, skip_logical
from mmrecord.engine.highway import hash_final, hash_packets, hash_start, highway_hash
from mmrecord.errors import CorruptRecordError
from mmrecord.reader import CHUNK_CACHE_SIZE

SOURCE = np.frombuffer(np.random.default_rng(5).bytes(6 * BLOCK_SIZE), np.uint8)


@njit
def _joined(src, pos, length):
    out = np.empty(length, np.uint8)
    end = copy_logical(src, pos, out, 0, length)
    return out, end


@njit
def _hash_in_pieces(data, cuts):
    """HighwayHash of ``data`` taken in at the 32-byte packet positions ``cuts``."""
    state = hash_start()
    at = 0
    for cut in cuts:
        hash_packets(state, data, at, (cut - at) // 32)
        at = cut
    whole = (len(data) - at) // 32
    hash_packets(state, data, at, whole)
    at += 32 * whole
    return hash_final(state, data, at, len(data) - at)


# A physical position (never inside a block header) and a logical length that stay inside SOURCE.
positions = st.integers(0, 3 * BLOCK_SIZE).filter(lambda p: not 0 < p % BLOCK_SIZE <= 24)
edge_positions = st.builds(lambda b, d: max(0, b * BLOCK_SIZE - d), st.integers(1, 3), st.integers(0, 70))
lengths = st.one_of(st.integers(0, 100), st.integers(0, 2 * BLOCK_SIZE + 100))


@settings(max_examples=300, deadline=None)
@given(pos=st.one_of(positions, edge_positions), length=lengths)
def test_hash_logical_is_the_hash_of_the_joined_bytes(pos, length):
    joined, end = _joined(SOURCE, pos, length)
    assert hash_logical(SOURCE, 0, pos, length) == highway_hash(joined, 0, length)
    assert skip_logical(pos, length) == end


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 1000), cuts=st.lists(st.integers(0, 31), max_size=4))
def test_a_hash_taken_in_pieces_is_the_hash(size, cuts):
    data = SOURCE[:size]
    at = np.cumsum([32 * c for c in cuts]).astype(np.int64)
    at = at[at <= size]
    assert _hash_in_pieces(data, at) == highway_hash(data, 0, size)
    strided = np.repeat(data, 2)[::2]  # not unit-stride: the portable loop
    assert _hash_in_pieces(strided, at) == highway_hash(data, 0, size)


def _records(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 9, 1500, 30_000, 70_000], size=n, p=[0.05, 0.2, 0.55, 0.15, 0.05])
    return [rng.integers(0, 256, size).astype(np.uint8).tobytes() for size in sizes]


def _write(path, records, options):
    with mmrecord.ArrayRecordWriter(path, options) as w:
        w.write_many(records)
    return path


@pytest.mark.parametrize("pad", ["false", "true"])
def test_each_chunk_in_place_is_the_chunk_joined(tmp_path, pad):
    """Same bounds and records as decoding the joined chunk, for chunks cut by headers and not."""
    records = _records(200)
    path = _write(tmp_path / "u.array_record", records, f"group_size:9,uncompressed,pad_to_block_boundary:{pad}")
    with mmrecord.ArrayRecordReader(path) as r:
        src, index = r._src, r._index
        for k in range(len(index)):
            begin, limit = index.span(k)
            found = read_in_place(src, begin, limit, True, index.expected(k))
            plain = read_chunk_records(src, begin, limit, True, index.expected(k))
            assert isinstance(found, InPlaceRecords)
            assert np.array_equal(found.bounds, plain.bounds)
            assert found.records(np.arange(found.num_records)) == plain.records(np.arange(plain.num_records))
            assert np.array_equal(found.values, plain.values)
            assert found.record(found.num_records - 1) == plain.record(plain.num_records - 1)
            assert found.records_from(2) == plain.records_from(2)


def test_compressed_and_damaged_chunks_are_left_to_the_general_path(tmp_path):
    records = _records(40)
    zstd = _write(tmp_path / "z.array_record", records, "group_size:8,zstd:1")
    with mmrecord.ArrayRecordReader(zstd) as r:
        begin, limit = r._index.span(1)
        assert read_in_place(r._src, begin, limit, True, r._index.expected(1)) is None
    plain = _write(tmp_path / "u.array_record", records, "group_size:8,uncompressed")
    with mmrecord.ArrayRecordReader(plain) as r:
        begin, limit = r._index.span(1)
        expected = r._index.expected(1)
        assert read_in_place(r._src, begin, limit, True, (expected[0] + 1, expected[1])) is None
        assert read_in_place(r._src, begin, limit, True, (expected[0], expected[1] + 1)) is None


@pytest.mark.parametrize("group", [2, 9, 256])
@pytest.mark.parametrize("options", ["", "max_parallelism:0", "max_parallelism:1", "verify_checksums:false"])
def test_batches_in_and_out_of_the_cache(tmp_path, group, options):
    records = _records(600, seed=group)
    path = _write(tmp_path / "b.array_record", records, f"group_size:{group},uncompressed")
    order = np.random.default_rng(2).permutation(len(records))
    with mmrecord.ArrayRecordReader(path, options) as r:
        assert r.read(order.tolist()) == [records[i] for i in order]
        assert len(r._cache) == min(CHUNK_CACHE_SIZE, -(-len(records) // group))
        assert all(isinstance(c, InPlaceRecords) for c in r._cache.values())
        assert r.read(order[:50].tolist()) == [records[i] for i in order[:50]]  # some chunks cached now
        for lo in range(0, len(records), 100):  # in order, batches not aligned with chunks
            assert r.read(lo, min(lo + 100, len(records))) == records[lo:lo + 100]
        assert r.read([5, 5, 599, 0, 5]) == [records[i] for i in (5, 5, 599, 0, 5)]
        assert r.read([]) == []
        assert r.read_all() == records
        assert list(r) == records


def _damage(path, chunk: int, where: str) -> None:
    """Flip a byte of chunk ``chunk``: in its header, its sizes, or its values."""
    with mmrecord.ArrayRecordReader(path) as r:
        begin, limit = r._index.span(chunk)
    at = {"header": begin + 20, "sizes": begin + 43, "values": (begin + limit) // 2}[where]
    data = bytearray(path.read_bytes())
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["header", "sizes", "values"])
def test_damage_is_named_on_every_path(tmp_path, where):
    records = _records(90, seed=4)
    path = _write(tmp_path / "d.array_record", records, "group_size:30,uncompressed")
    _damage(path, 1, where)
    with mmrecord.ArrayRecordReader(path) as r:
        assert r[0] == records[0] and r[89] == records[89]
        assert r.read([89, 0]) == [records[89], records[0]]
        for read in (lambda: r[40], lambda: r.read(list(range(90))), lambda: r.read([0, 45, 89]),
                     lambda: r.read_batch(np.arange(90)), lambda: r.read_all(), lambda: list(r)):
            with pytest.raises(CorruptRecordError):
                read()


def test_unchecked_damage_never_gives_a_record_of_another_size(tmp_path):
    records = _records(90, seed=4)
    path = _write(tmp_path / "d.array_record", records, "group_size:30,uncompressed")
    _damage(path, 1, "values")
    with mmrecord.ArrayRecordReader(path, "verify_checksums:false") as r:
        got = r.read(list(range(90)))
        assert [len(g) for g in got] == [len(x) for x in records]
        assert got[:30] == records[:30] and got[60:] == records[60:]
