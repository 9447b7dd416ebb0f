"""The reference's cursor API: ``read()`` in order streams records ahead, ``seek`` jumps, damage is contained."""

from __future__ import annotations

import numpy as np
import pytest

import mmrecord
from mmrecord.errors import ClosedError, CorruptRecordError
from mmrecord import reader as reader_module
from mmrecord.reader import READ_PART_BYTES

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:6"]
OPTIONS = ["", "readahead_buffer_size:0,max_parallelism:0"]


def _records(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [b"%06d " % i + bytes(rng.integers(97, 100, int(rng.integers(0, 3000)), dtype=np.uint8))
            for i in range(n)]


def _write(path, records, options):
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)
    return str(path)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("group", [1, 7, 256])
@pytest.mark.parametrize("reader_options", OPTIONS, ids=["default", "ra0"])
def test_read_loop_returns_every_record(tmp_path, codec, group, reader_options):
    records = _records(1500)
    path = _write(tmp_path / "f.array_record", records, f"group_size:{group},{codec}")
    with mmrecord.ArrayRecordReader(path, reader_options) as reader:
        assert [reader.read() for _ in records] == records
        with pytest.raises(IndexError):
            reader.read()
        reader.seek(700)
        assert [reader.read() for _ in range(800)] == records[700:]


@pytest.mark.parametrize("group", [1, 256])
def test_seeks_and_reads_in_any_mix(tmp_path, group):
    records = _records(2000, seed=1)
    path = _write(tmp_path / "f.array_record", records, f"group_size:{group},zstd:3")
    rng = np.random.default_rng(2)
    with mmrecord.ArrayRecordReader(path) as reader:
        cursor = 0
        for _ in range(3000):
            move = rng.integers(0, 4)
            if move == 0:
                cursor = int(rng.integers(0, len(records) + 1))
                reader.seek(cursor)
            elif move == 1:  # a run of reads in order
                for _ in range(int(rng.integers(1, 40))):
                    if cursor == len(records):
                        with pytest.raises(IndexError):
                            reader.read()
                        break
                    assert reader.read() == records[cursor]
                    cursor += 1
            elif move == 2 and cursor < len(records):
                assert reader.read() == records[cursor]
                cursor += 1
            else:  # batch forms do not move the cursor
                picks = rng.integers(0, len(records), 5).tolist()
                assert reader.read(picks) == [records[i] for i in picks]
            assert reader.record_index() == cursor


@pytest.mark.parametrize("reader_options", OPTIONS, ids=["default", "ra0"])
@pytest.mark.parametrize("writer_options", ["group_size:1,uncompressed", "group_size:16,zstd:3",
                                            "group_size:16,snappy", "group_size:16,uncompressed"])
def test_damage_ahead_costs_only_the_damaged_records(tmp_path, reader_options, writer_options):
    """A damaged chunk in a part decoded ahead: every intact record still comes back, in order."""
    records = [b"%05d" % i + bytes(np.random.default_rng(i).integers(97, 123, 400, dtype=np.uint8))
               for i in range(3000)]
    path = tmp_path / "f.array_record"
    _write(path, records, writer_options)
    with mmrecord.ArrayRecordReader(path) as reader:
        group = reader.group_size
        damaged_chunk = 1234 // group
        begin = int(reader._index.offsets[damaged_chunk])
    data = bytearray(path.read_bytes())
    data[begin + 60] ^= 0xFF  # inside the chunk's data: its hash no longer matches
    path.write_bytes(bytes(data))
    assert 3000 * 450 > 2 * READ_PART_BYTES // 16  # the damage sits in a part decoded ahead
    got = []
    with mmrecord.ArrayRecordReader(path, reader_options) as reader:
        for i in range(len(records)):
            try:
                got.append(reader.read())
            except CorruptRecordError:
                got.append(None)
                reader.seek(i + 1)
    assert [i for i, record in enumerate(got) if record is None] == list(
        range(damaged_chunk * group, (damaged_chunk + 1) * group))
    assert all(record == records[i] for i, record in enumerate(got) if record is not None)


def test_a_closed_reader_drops_its_stream(tmp_path):
    records = _records(300)
    path = _write(tmp_path / "f.array_record", records, "group_size:1")
    reader = mmrecord.ArrayRecordReader(path)
    assert reader.read() == records[0]
    reader.close()
    with pytest.raises(ClosedError):
        reader.read()


def test_a_failed_read_leaves_the_cursor_on_the_damaged_record(tmp_path):
    records = [b"%04d" % i + b"y" * 300 for i in range(200)]
    path = tmp_path / "f.array_record"
    _write(path, records, "group_size:1,uncompressed")
    with mmrecord.ArrayRecordReader(path) as reader:
        begin = int(reader._index.offsets[120])
    data = bytearray(path.read_bytes())
    data[begin + 50] ^= 0xFF
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path, "readahead_buffer_size:0,max_parallelism:0") as reader:
        reader.seek(120)
        with pytest.raises(CorruptRecordError):
            reader.read()
        assert reader.record_index() == 120
        with pytest.raises(CorruptRecordError):
            reader.read()
        reader.seek(121)
        assert reader.read() == records[121] and reader.record_index() == 122


@pytest.mark.parametrize("codec", ["snappy", "zstd:3", "brotli:6"])
@pytest.mark.parametrize("reader_options", OPTIONS, ids=["default", "ra0"])
def test_parts_decode_into_handed_back_buffers(tmp_path, monkeypatch, codec, reader_options):
    """Reading in order decodes later parts into the buffers of parts already cut, and every record comes back."""
    monkeypatch.setattr(reader_module, "READ_PART_BYTES", 1 << 12)  # many parts of a chunk or two
    taken = []
    take = reader_module._SpareBuffers.take
    monkeypatch.setattr(reader_module._SpareBuffers, "take",
                        lambda self, size: taken.append(take(self, size)) or taken[-1])
    records = _records(3000, seed=2)
    path = _write(tmp_path / "f.array_record", records, f"group_size:4,{codec}")
    with mmrecord.ArrayRecordReader(path, reader_options) as reader:
        assert [reader.read() for _ in records] == records
        reader.seek(1001)
        assert [reader.read() for _ in range(1000)] == records[1001:2001]
        assert list(reader) == records
    assert len(taken) > 500
    if reader_options:  # one part at a time on this thread: each buffer goes back before the next part
        assert len({id(buffer) for buffer in taken}) < len(taken) // 2


def test_a_handed_back_buffer_serves_a_part_it_fits():
    spares = reader_module._SpareBuffers()
    first = spares.take(1000)
    assert len(first) >= 1000
    spares.give(first)
    assert spares.take(1200) is first  # new buffers have a quarter more room than asked
    spares.give(first)
    bigger = spares.take(len(first) + 1)
    assert bigger is not first and len(bigger) > len(first)
    assert spares.take(10) is not first  # the one too small was dropped, not kept
