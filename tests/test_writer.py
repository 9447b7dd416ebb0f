"""The writer: byte identity with the reference, options, bytes-like input, lifetime."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
from support import fail_groups_containing, manifest, records_from_recipe, sha256_file

import mmrecord
from mmrecord.errors import InvalidOptionsError

# Files whose bytes a writer following FORMAT.md reproduces: every file written through the writer
# (simple and transposed chunks alike).
IDENTICAL = [e for e in manifest("vectors") if e["writer_options"] is not None]


@pytest.mark.parametrize("entry", IDENTICAL, ids=lambda e: e["name"])
def test_byte_identical_to_reference_vector(entry, tmp_path):
    path = tmp_path / entry["name"]
    with mmrecord.ArrayRecordWriter(path, entry["writer_options"]) as writer:
        writer.write_many(records_from_recipe(entry["recipe"]))
    assert path.stat().st_size == entry["file_size"]
    assert sha256_file(path) == entry["file_sha256"]


def test_reads_back_every_bytes_like_record(tmp_path):
    path = tmp_path / "kinds.array_record"
    records = [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"),
               np.frombuffer(b"numpy", np.uint8), np.arange(3, dtype=np.uint8), b""]
    with mmrecord.ArrayRecordWriter(path, "group_size:2") as writer:
        for r in records:
            writer.write(r)
    assert mmrecord.ArrayRecordReader(path).read_all() == [bytes(r) for r in records]


def test_writer_copies_mutable_records(tmp_path):
    path = tmp_path / "copy.array_record"
    buf = bytearray(b"first")
    with mmrecord.ArrayRecordWriter(path, "group_size:10") as writer:
        writer.write(buf)
        buf[:] = b"later"
        writer.write(buf)
    assert mmrecord.ArrayRecordReader(path).read_all() == [b"first", b"later"]


@pytest.mark.parametrize("bad", ["text", 3, None, np.zeros((4, 4), np.uint8)[:, 1]])
def test_rejects_non_bytes(tmp_path, bad):
    with mmrecord.ArrayRecordWriter(tmp_path / "x.array_record") as writer:
        with pytest.raises(TypeError):
            writer.write(bad)


def test_writing_goes_on_after_a_refused_record(tmp_path):
    path = tmp_path / "x.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:2") as writer:
        writer.write(b"a")
        with pytest.raises(TypeError):
            writer.write("text")
        writer.write(bytearray(b"b"))
        writer.write(b"c")
    assert mmrecord.ArrayRecordReader(path).read_all() == [b"a", b"b", b"c"]


@pytest.mark.parametrize("lengths", ["tiny", "mixed"])
def test_chunks_hold_group_size_records_whatever_the_records_weigh(tmp_path, lengths):
    """Records go to the pool in jobs of whole groups, however many bytes or records fill a job."""
    rng = np.random.default_rng(7)
    sizes = rng.integers(0, 40, 9_500) if lengths == "tiny" else rng.choice([0, 10, 300_000], 2_500, p=[.4, .5, .1])
    records = [bytes([k % 251]) * int(n) for k, n in enumerate(sizes)]
    path = tmp_path / "weights.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:1000,zstd:1") as writer:
        for record in records:
            writer.write(record)
    reader = mmrecord.ArrayRecordReader(path)
    assert reader.num_chunks == -(-len(records) // 1000)
    assert reader.read_all() == records


def test_exception_inside_with_keeps_written_records(tmp_path):
    path = tmp_path / "partial.array_record"
    with pytest.raises(RuntimeError):
        with mmrecord.ArrayRecordWriter(path, "group_size:3,zstd:1") as writer:
            for i in range(10):
                writer.write(b"record %d" % i)
            raise RuntimeError("the job died")
    assert mmrecord.ArrayRecordReader(path).read_all() == [b"record %d" % i for i in range(10)]


def test_write_after_close_raises(tmp_path):
    writer = mmrecord.ArrayRecordWriter(tmp_path / "x.array_record")
    writer.close()
    writer.close()  # idempotent
    assert not writer.is_open() and writer.ok()
    with pytest.raises(ValueError):
        writer.write(b"late")


def test_dropped_writer_is_finalized_with_warning(tmp_path):
    path = tmp_path / "dropped.array_record"
    writer = mmrecord.ArrayRecordWriter(path)
    writer.write(b"kept")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del writer
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    assert mmrecord.ArrayRecordReader(path).read_all() == [b"kept"]


@pytest.mark.parametrize("options", ["group_size:0", "zstd,brotli", "nonsense", "group_size:2,group_size:3",
                                     "uncompressed,window_log:20", "zstd:23", " group_size:3", "zstd,default"])
def test_bad_options_raise_before_creating_file(tmp_path, options):
    path = tmp_path / "never.array_record"
    with pytest.raises(InvalidOptionsError):
        mmrecord.ArrayRecordWriter(path, options)
    assert not path.exists()


@pytest.mark.parametrize("parallelism", [1, 2, 8])
@pytest.mark.parametrize("codec", ["zstd:1", "uncompressed"])
def test_parallel_encoding_keeps_order(tmp_path, parallelism, codec):
    rng = np.random.default_rng(parallelism)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 5000, 3000)]
    path = tmp_path / "order.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:3,{codec},max_parallelism:{parallelism}") as writer:
        writer.write_many(records)
    serial = tmp_path / "serial.array_record"
    with mmrecord.ArrayRecordWriter(serial, f"group_size:3,{codec},max_parallelism:1") as writer:
        writer.write_many(records)
    assert mmrecord.ArrayRecordReader(path).read_all() == records
    assert path.read_bytes() == serial.read_bytes()


def test_failed_chunk_still_leaves_a_valid_file(tmp_path, monkeypatch):
    """A codec failure mid-file keeps every record before the failed group."""
    fail_groups_containing(monkeypatch)
    path = tmp_path / "failing.array_record"
    writer = mmrecord.ArrayRecordWriter(path, "group_size:2,max_parallelism:1")
    writer.write_many([b"a", b"b", b"c", b"bad", b"e", b"f"])
    with pytest.raises(MemoryError):
        writer.close()
    assert not writer.ok() and not writer.is_open()
    assert mmrecord.ArrayRecordReader(path).read_all() == [b"a", b"b"]
    with pytest.raises(ValueError):
        writer.write(b"late")


class _FailingFile:
    """A file that fails its ``fail_at``-th write (counting from 1) and records every write it was asked for."""

    def __init__(self, file, fail_at: int) -> None:
        self.file, self.fail_at, self.calls = file, fail_at, 0
        self.after_failure = 0

    def write(self, data):
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(28, "No space left on device")
        if self.calls > self.fail_at:
            self.after_failure += 1
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_failed_file_write_is_raised_and_nothing_is_written_after_it(tmp_path):
    """Framed jobs are written on another thread: a write that fails still reaches the caller, and stops the rest."""
    records = [bytes([i % 251]) * 3000 for i in range(4000)]  # several jobs
    writer = mmrecord.ArrayRecordWriter(tmp_path / "f.array_record", "group_size:16,uncompressed")
    failing = writer._writes.file = _FailingFile(writer._writes.file, fail_at=2)
    with pytest.raises(OSError, match="No space"):
        writer.write_many(records)
        writer.close()
    with pytest.raises(OSError):
        writer.close()
    assert not writer.is_open()
    assert failing.calls >= 2 and failing.after_failure == 0
