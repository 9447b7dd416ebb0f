"""Remote reads through the storage layer, counted request by request (an in-process counting filesystem)."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import subprocess
import sys

import fsspec
import numpy as np
import pytest

import mmrecord
from mmrecord.errors import CorruptRecordError, ObjectChangedError, RemoteReadError
from mmrecord.storage import RemoteConfig
from mmrecord.storage.remote import plan_requests

from storage_counting import counting_fs
from support import random_bytes, text_bytes

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:6"]
FAST = RemoteConfig(backoff=0.001, max_backoff=0.01)


def _records(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [random_bytes(int(size), seed * 100_000 + i) for i, size in enumerate(rng.integers(200, 2000, n))]


def _put(tmp_path, records, options: str, name: str = "data.array_record") -> tuple[str, bytes]:
    """Write ``records`` locally, copy the file to ``countmem://``; its URL and bytes."""
    local = tmp_path / name
    with mmrecord.ArrayRecordWriter(local, options) as writer:
        writer.write_many(records)
    data = local.read_bytes()
    fs = counting_fs()
    fs.pipe(f"/bucket/{name}", data)
    fs.reset()
    return f"countmem://bucket/{name}", data


@pytest.fixture
def fs():
    return counting_fs()


def _bounded(reads) -> bool:
    return all(start is not None and end is not None and 0 <= start < end for start, end in reads)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("group", [1, 256])
def test_every_read_gives_the_exact_records(tmp_path, fs, codec, group):
    records = _records(3000, seed=group)
    url, _ = _put(tmp_path, records, f"group_size:{group},{codec}")
    rng = np.random.default_rng(1)
    with mmrecord.ArrayRecordReader(url, remote=FAST) as reader:
        picks = rng.integers(0, len(records), 300)
        assert [reader[int(i)] for i in picks[:20]] == [records[i] for i in picks[:20]]
        assert reader[picks] == [records[i] for i in picks]
        values, offsets = reader.read_batch(picks[::-1])
        assert [values[offsets[k]:offsets[k + 1]].tobytes() for k in range(len(picks))] == \
            [records[i] for i in picks[::-1]]
    with mmrecord.ArrayRecordReader(url, remote=FAST) as reader:
        assert list(reader) == records
    with mmrecord.ArrayRecordReader(url, remote=FAST) as reader:
        assert reader.read_all() == records
        reader.seek(10)
        assert [reader.read() for _ in range(5)] == records[10:15]
    assert _bounded(fs.reads)


def test_open_reads_the_tail_once_with_the_size_known(tmp_path, fs):
    url, data = _put(tmp_path, _records(2000), "group_size:1,zstd:3")
    reader = mmrecord.ArrayRecordReader(url, size=len(data))
    assert (fs.infos, len(fs.reads)) == (0, 1)
    assert fs.reads[0][1] == len(data)
    fs.reset()
    mmrecord.ArrayRecordReader(url)
    assert fs.infos + len(fs.reads) == 2
    assert len(reader) == 2000


def test_open_fetches_a_footer_beyond_the_tail_in_one_more_round(tmp_path, fs):
    records = [b"x"] * 60000
    url, data = _put(tmp_path, records, "group_size:1,uncompressed")
    reader = mmrecord.ArrayRecordReader(url, "footer_prefetch_bytes:64k", size=len(data))
    assert len(fs.reads) == 2 and fs.infos == 0
    assert _bounded(fs.reads)
    assert reader[59999] == b"x"


def test_a_large_footer_is_fetched_in_parallel_parts(tmp_path, fs):
    records = [b"%d" % i for i in range(60000)]
    url, data = _put(tmp_path, records, "group_size:1,uncompressed")
    fs.delay(0.01)
    reader = mmrecord.ArrayRecordReader(url, "footer_prefetch_bytes:64k", size=len(data),
                                        remote=RemoteConfig(max_request=64 << 10))
    assert len(fs.reads) > 3 and fs.max_in_flight == len(fs.reads) - 1  # the tail, then every part at once
    assert _bounded(fs.reads)
    assert reader[[0, 59999]] == [b"0", b"59999"]


def test_a_random_record_is_one_bounded_request(tmp_path, fs):
    records = _records(2000)
    url, _ = _put(tmp_path, records, "group_size:1,zstd:3")
    reader = mmrecord.ArrayRecordReader(url)
    for i in (1234, 7, 1000, 0):  # none in the tail read at opening
        fs.reset()
        assert reader[i] == records[i]
        assert len(fs.reads) == 1
        start, end = fs.reads[0]
        assert (start, end) == (int(reader._bounds[i]), int(reader._bounds[i + 1]))
    fs.reset()
    assert reader[1234] == records[1234]  # present already
    assert fs.reads == []


def test_a_batch_is_merged_requests_in_one_concurrent_round(tmp_path, fs):
    records = [text_bytes(3000, i) for i in range(4000)]
    url, _ = _put(tmp_path, records, "group_size:1,uncompressed")
    indices = np.random.default_rng(3).choice(len(records), 256, replace=False)
    # No merging: one request per chunk, all of them in flight together.
    reader = mmrecord.ArrayRecordReader(url, remote=RemoteConfig(max_gap=0, concurrency=64))
    fs.reset()
    fs.delay(0.02)
    assert reader[indices] == [records[i] for i in indices]
    assert len(fs.reads) <= 256 and _bounded(fs.reads)
    assert fs.max_in_flight >= 16  # a round trip for the batch, not one per record
    # Merging (the default gap, 64 KiB): far fewer requests, none larger than the cap.
    reader = mmrecord.ArrayRecordReader(url, remote=RemoteConfig(max_request=1 << 20))
    fs.reset()
    assert reader[indices] == [records[i] for i in indices]
    assert len(fs.reads) < 128
    assert all(end - start <= 1 << 20 for start, end in fs.reads)


def test_planning_merges_small_gaps_and_caps_requests():
    assert plan_requests([(0, 10), (20, 30), (100, 110)], 10, 1000) == [(0, 30), (100, 110)]
    assert plan_requests([(0, 2500)], 0, 1000) == [(0, 833), (833, 1666), (1666, 2500)]
    assert plan_requests([(0, 600), (610, 1200)], 100, 1000) == [(0, 600), (610, 1200)]


def test_sequential_reads_keep_windows_in_flight(tmp_path, fs):
    records = [text_bytes(2000, i) for i in range(6000)]
    url, _ = _put(tmp_path, records, "group_size:1,uncompressed")
    reader = mmrecord.ArrayRecordReader(url, "readahead_buffer_size:4M")
    fs.reset()
    fs.delay(0.02)
    assert reader.read_all() == records
    assert fs.max_in_flight >= 3
    assert _bounded(fs.reads)


@pytest.mark.parametrize("fault", ["500", "503", "reset", "short"])
def test_transient_faults_are_retried(tmp_path, fs, fault):
    records = _records(500)
    url, _ = _put(tmp_path, records, "group_size:1,zstd:3")
    reader = mmrecord.ArrayRecordReader(url, remote=FAST)
    fs.reset()
    fs.inject(fault, 2)
    assert reader[100] == records[100]
    assert len(fs.reads) == 3


def test_a_fault_that_persists_is_a_precise_error(tmp_path, fs):
    url, _ = _put(tmp_path, _records(500), "group_size:1,zstd:3")
    reader = mmrecord.ArrayRecordReader(url, remote=FAST)
    fs.inject("short", 100)
    with pytest.raises(RemoteReadError, match=r"bytes \d+-\d+ after 7 tries: a response of"):
        reader[3]
    fs.faults.clear()
    assert reader[3]  # nothing half-written was marked present


def test_a_changed_object_is_named(tmp_path, fs):
    url, _ = _put(tmp_path, _records(500, seed=1), "group_size:1,zstd:3")
    reader = mmrecord.ArrayRecordReader(url, remote=FAST)
    _, other = _put(tmp_path, _records(500, seed=2), "group_size:1,zstd:3", "other.array_record")
    fs.pipe("/bucket/data.array_record", other)
    with pytest.raises(ObjectChangedError, match="changed while open"):
        reader[250]
    fs.inject("gone")
    with pytest.raises(ObjectChangedError, match="deleted"):
        reader[251]


def test_damage_is_the_same_error_as_a_local_file(tmp_path, fs):
    url, data = _put(tmp_path, _records(500), "group_size:1,zstd:3")
    local = mmrecord.ArrayRecordReader(tmp_path / "data.array_record")
    at = int(local._bounds[200]) + 50
    damaged = bytearray(data)
    damaged[at] ^= 0xFF
    (tmp_path / "damaged.array_record").write_bytes(damaged)
    fs.pipe("/bucket/damaged.array_record", bytes(damaged))
    errors = []
    for path in (tmp_path / "damaged.array_record", "countmem://bucket/damaged.array_record"):
        with pytest.raises(CorruptRecordError) as caught:
            mmrecord.ArrayRecordReader(path)[200]
        errors.append(caught.value)
    assert [(e.what, e.offset, e.chunk_index) for e in errors[:1]] == \
        [(e.what, e.offset, e.chunk_index) for e in errors[1:]]


def test_a_persistent_cache_reads_nothing_twice(tmp_path, fs):
    records = _records(1500)
    url, _ = _put(tmp_path, records, "group_size:1,zstd:3")
    cache = tmp_path / "cache"
    with mmrecord.ArrayRecordReader(url, cache_dir=cache) as reader:
        assert reader.read_all() == records
    fs.reset()
    with mmrecord.ArrayRecordReader(url, cache_dir=cache) as reader:
        assert reader.read_all() == records
        assert reader[[3, 1400]] == [records[3], records[1400]]
    assert fs.reads == [] and fs.infos == 1  # the version is checked; no byte is fetched again


def test_credentials_stay_out_of_reprs_and_errors(tmp_path):
    url = "https://user:secret@localhost:9/none.array_record?X-Amz-Signature=secret"
    with pytest.raises(Exception) as caught:
        mmrecord.ArrayRecordReader(url, storage_options={"client_kwargs": {"token": "secret"}},
                                   remote=RemoteConfig(retries=0))
    assert "secret" not in str(caught.value) and "secret" not in repr(caught.value)


def test_data_source_globs_and_pickles(tmp_path, fs):
    shards = [_records(300, seed=s) for s in range(3)]
    for s, records in enumerate(shards):
        _put(tmp_path, records, "group_size:1,zstd:3", f"train-{s}.array_record")
    fs.reset()
    ds = mmrecord.ArrayRecordDataSource("countmem://bucket/train-*.array_record")
    flat = [r for records in shards for r in records]
    assert len(ds) == 900 and len(ds._listed) == 3  # sizes and versions from the listing
    assert len(fs.reads) == 3  # so one tail read per shard, no metadata request
    assert ds[[899, 0, 450]] == [flat[899], flat[0], flat[450]]
    copy = pickle.loads(pickle.dumps(ds))
    assert copy[[5, 600]] == [flat[5], flat[600]]
    reader = pickle.loads(pickle.dumps(mmrecord.ArrayRecordReader("countmem://bucket/train-1.array_record")))
    assert reader[7] == shards[1][7]


def _read_in_worker(payload: bytes) -> list[bytes]:
    return pickle.loads(payload)[[1, 250, 599]]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_workers_rebuild_the_filesystem(tmp_path, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    records = _records(600)
    local = tmp_path / "data.array_record"
    with mmrecord.ArrayRecordWriter(local, "group_size:1,zstd:3") as writer:
        writer.write_many(records)
    # A ready filesystem object (fsspec's local one), so the reads take the remote path.
    ds = mmrecord.ArrayRecordDataSource(str(local), filesystem=fsspec.filesystem("file"))
    assert ds[0] == records[0]  # opened here, before the workers start
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_read_in_worker, [pickle.dumps(ds)] * 2)
    assert results == [[records[1], records[250], records[599]]] * 2


def test_import_mmrecord_does_not_import_fsspec():
    code = "import sys, mmrecord; mmrecord.ArrayRecordReader; print('fsspec' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(mmrecord.__file__))})
    assert out.stdout.strip() == "False"


def test_command_line_reads_urls(tmp_path, fs, capsys):
    from mmrecord.cli import main

    records = [f"record {i}".encode() for i in range(400)]
    url, _ = _put(tmp_path, records, "group_size:1,zstd:3", "cli.array_record")
    assert main(["info", "--json", url]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["records"], facts["path"]) == (400, url)
    assert main(["verify", url]) == 0
    assert "OK (400 records" in capsys.readouterr().out
    assert main(["cat", url, "--index", "5,-1"]) == 0
    assert capsys.readouterr().out == "record 5\nrecord 399\n"
    assert main(["head", url, "-n", "2"]) == 0
    assert capsys.readouterr().out == "record 0\nrecord 1\n"
    out = tmp_path / "regrouped.array_record"
    assert main(["convert", "countmem://bucket/cli*.array_record", "-o", str(out), "--options", "group_size:16"]) == 0
    assert mmrecord.ArrayRecordReader(out).read_all() == records
