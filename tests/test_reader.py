"""The reader's API: the reference's calls, Python's indexing, threads, closing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import mmrecord
from mmrecord.errors import InvalidOptionsError

RECORDS = [b"record %d " % i * (i % 7) for i in range(300)]


@pytest.fixture(scope="module", params=["group_size:1,uncompressed", "group_size:1,zstd:3",
                                        "group_size:7,snappy", "group_size:1000,brotli:1"])
def path(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "r.array_record"
    with mmrecord.ArrayRecordWriter(path, request.param) as writer:
        writer.write_many(RECORDS)
    return path


def test_python_indexing(path):
    with mmrecord.ArrayRecordReader(path) as r:
        assert len(r) == r.num_records() == len(RECORDS)
        assert r[0] == RECORDS[0] and r[-1] == RECORDS[-1] and r[np.int32(5)] == RECORDS[5]
        assert r[10:20] == RECORDS[10:20] and r[::-37] == RECORDS[::-37] and r[290:400] == RECORDS[290:]
        assert r[[3, 1, 3, -2]] == [RECORDS[3], RECORDS[1], RECORDS[3], RECORDS[-2]]
        assert r[np.array([5, 4], np.uint16)] == [RECORDS[5], RECORDS[4]] and r[[]] == []
        assert list(r) == RECORDS
        for bad in (300, -301):
            with pytest.raises(IndexError):
                r[bad]
        with pytest.raises(IndexError):
            r[[0, 300]]
        with pytest.raises(TypeError):
            r[[0.5]]


def test_reference_calls(path):
    with mmrecord.ArrayRecordReader(path) as r:
        assert r.record_index() == 0 and r.read() == RECORDS[0] and r.record_index() == 1
        r.seek(298)
        assert r.read() == RECORDS[298] and r.read() == RECORDS[299]
        with pytest.raises(IndexError):
            r.read()
        r.seek(10_000)
        assert r.record_index() == 300
        r.seek(5)
        assert r.read([7, 2]) == [RECORDS[7], RECORDS[2]] and r.record_index() == 5
        assert r.read(3, 6) == RECORDS[3:6] and r.read(-3, 300) == RECORDS[-3:]
        for begin, end in [(5, 5), (0, 301), (7, 3)]:
            with pytest.raises(IndexError):
                r.read(begin, end)
        assert r.read_all() == RECORDS
        assert r.writer_options_string().startswith("group_size:")
        assert r.ok() and r.is_open()


def test_many_threads_one_reader(path):
    reader = mmrecord.ArrayRecordReader(path)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                i = int(rng.integers(0, len(RECORDS)))
                assert reader[i] == RECORDS[i]
            batch = rng.integers(0, len(RECORDS), 64)
            assert reader[batch] == [RECORDS[i] for i in batch]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_closed_reader(path):
    r = mmrecord.ArrayRecordReader(path)
    r.close()
    r.close()
    assert not r.is_open()
    with pytest.raises(ValueError):
        r[0]
    with pytest.raises(ValueError):
        r.read_all()


def test_options(path):
    assert mmrecord.ArrayRecordReader(path, "verify_checksums:false,max_parallelism:0").read_all() == RECORDS
    assert list(mmrecord.ArrayRecordReader(path, "readahead_buffer_size:1k")) == RECORDS
    with pytest.raises(InvalidOptionsError):
        mmrecord.ArrayRecordReader(path, "readahead_buffer_size:lots")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        mmrecord.ArrayRecordReader(tmp_path / "nope.array_record")


def test_read_batch_matches_records(path):
    """The zero-copy batch holds exactly the records the plain path returns, in order."""
    rng = np.random.default_rng(11)
    with mmrecord.ArrayRecordReader(path) as r:
        for indices in [rng.integers(-300, 300, 500), [5], [], np.arange(300), [299, 0, 299]]:
            values, offsets = r.read_batch(indices)
            assert values.dtype == np.uint8 and offsets.dtype == np.int64 and len(offsets) == len(indices) + 1
            got = [values[offsets[k]:offsets[k + 1]].tobytes() for k in range(len(indices))]
            assert got == r[list(indices)]
        with pytest.raises(IndexError):
            r.read_batch([300])
