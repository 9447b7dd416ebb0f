"""The chunk index read from the footer: uniform and uneven groups, split decoding, bad entries."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import mmrecord
import mmrecord.chunk
import mmrecord.index
from mmrecord.chunk import encode_simple_chunks
from mmrecord.errors import CorruptRecordError

RECORDS = [b"r%d" % i * (i % 5) for i in range(60)]


def write_groups(path, cuts, tamper=None):
    """A file whose chunks hold ``RECORDS[cuts[g]:cuts[g+1]]``; ``tamper(writer)`` edits the footer lists."""
    with mmrecord.ArrayRecordWriter(path, "uncompressed") as w:
        for a, b in zip(cuts[:-1], cuts[1:]):
            w._write_data(encode_simple_chunks(RECORDS[a:b], b - a, w.options.codec, None, None))
        if tamper:
            tamper(w)
    return path


@pytest.fixture(params=[10**9, 1], ids=["one thread", "split"])
def parallel_entries(request, monkeypatch):
    monkeypatch.setattr(mmrecord.index, "PARALLEL_ENTRIES", request.param)


@pytest.mark.parametrize("cuts", [
    [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60],  # uniform
    [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 58],  # uniform, short last chunk
    [0, 3, 8, 9, 20, 21, 22, 40, 60],  # uneven
    [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 54, 60],  # a short chunk before the last
    [0, 4, 8, 12, 16, 20, 24, 28, 33, 38, 43, 48, 53, 58, 60],  # two runs of even groups, 4 then 5
    [0, 60],  # one chunk
])
def test_groups(tmp_path, cuts, parallel_entries):
    path = write_groups(tmp_path / "g.array_record", cuts)
    with mmrecord.ArrayRecordReader(path) as r:
        records = RECORDS[:cuts[-1]]
        assert len(r) == len(records) and r.num_chunks == len(cuts) - 1
        assert [r[i] for i in range(len(r))] == records == r.read_all() == list(r)
        order = np.random.default_rng(0).permutation(len(r))
        assert r[order] == [records[i] for i in order]
        counts = np.diff(cuts)
        assert r._index.record_counts().tolist() == counts.tolist()
        assert r.group_size == counts[0]


def swap_offsets(w):
    w._offsets[2], w._offsets[3] = w._offsets[3], w._offsets[2]


def swap_offsets_where_the_halves_meet(w):
    w._offsets[6], w._offsets[7] = w._offsets[7], w._offsets[6]


def zero_count(w):
    w._counts[3] = 0


def offset_past_footer(w):
    w._offsets[-1] = 1 << 40


def offset_in_signature(w):
    w._offsets[0] = 10


@pytest.mark.parametrize("tamper, message", [
    (swap_offsets, "entry 3 has a chunk offset that is not increasing"),
    (swap_offsets_where_the_halves_meet, "entry 7 has a chunk offset that is not increasing"),
    (zero_count, "entry 3 gives a chunk of no records"),
    (offset_past_footer, "entry 14 has a chunk offset that is not increasing"),
    (offset_in_signature, "entry 0 has a chunk offset that is not increasing"),
])
def test_bad_entries_are_named(tmp_path, tamper, message, parallel_entries):
    cuts = list(range(0, 61, 4))
    path = write_groups(tmp_path / "bad.array_record", cuts, tamper)
    with pytest.raises(CorruptRecordError, match=message):
        mmrecord.ArrayRecordReader(path)


def test_opens_on_the_pool_never_wait_on_each_other(tmp_path, monkeypatch):
    """A data source opens its shards on the shared pool, and each open splits its own work there too."""
    monkeypatch.setattr(mmrecord.index, "PARALLEL_ENTRIES", 1)
    monkeypatch.setattr(mmrecord.chunk, "PARALLEL_VALUES_BYTES", 1)
    cuts = list(range(0, 61, 4))
    paths = [str(write_groups(tmp_path / f"s{k}.array_record", cuts)) for k in range(12)]
    got = []

    def read_everything() -> None:
        with mmrecord.ArrayRecordDataSource(paths) as ds:
            got.extend(ds[np.arange(len(ds))])

    worker = threading.Thread(target=read_everything, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "opening shards in parallel deadlocked"
    assert got == RECORDS * 12


def _field(number: int, value: int | bytes) -> bytes:
    from mmrecord.engine.varint import encode_varint

    if isinstance(value, bytes):
        return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value
    return encode_varint(number << 3) + encode_varint(value)


@pytest.mark.parametrize("message, expected", [
    (_field(1, 100) + _field(2, 7) + _field(3, 1), (100, 7, 1)),  # the writers' layout
    (_field(3, 2) + _field(2, 9) + _field(1, 200), (200, 9, 2)),  # any order
    (_field(1, 300) + _field(7, 5) + _field(2, 4) + _field(9, b"xy") + _field(3, 3), (300, 4, 3)),  # unknown
    (_field(1, 400) + _field(3, 4), (400, 0, 4)),  # no decoded size: 0
    (_field(1, 1) + _field(2, 1) + _field(3, 1) + _field(1, 500) + _field(2, 6), (500, 6, 1)),  # last wins
])
def test_footer_entries_in_any_field_layout(message, expected):
    from mmrecord.engine.proto import decode_footer_entries

    buf = np.frombuffer(message, np.uint8)
    bounds = np.array([0, len(buf)], np.int64)
    chunks = np.zeros((1, 2), np.int64)
    status = decode_footer_entries(buf, bounds, 0, 1, 1 << 40, chunks)[0]
    assert status == -1 and tuple(chunks[0].tolist()) == expected[:2]


@pytest.mark.parametrize("message", [
    _field(2, 7) + _field(3, 1),  # no chunk offset
    _field(1, 100) + _field(2, 7) + b"\x18",  # cut short
    _field(1, 100) + _field(2, 1 << 62) + _field(3, 1),  # a size past int64's quarter
])
def test_malformed_footer_entries(message):
    from mmrecord.engine.proto import BAD_ENTRY, decode_footer_entries

    buf = np.frombuffer(message, np.uint8)
    bounds = np.array([0, len(buf)], np.int64)
    status = decode_footer_entries(buf, bounds, 0, 1, 1 << 40, np.zeros((1, 2), np.int64))[0]
    assert status == BAD_ENTRY
