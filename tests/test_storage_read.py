"""Reading through real servers (HTTP, S3 through moto, GCS through fake-gcs-server), every request counted.

The servers and their counting proxies are ``tests/storage_servers.py``'s
fixtures. Each test asserts on the requests the proxy saw: how many, their
ranges (never open-ended), how many were in flight at once.
"""

from __future__ import annotations

import multiprocessing
import pickle
import time

import numpy as np
import pytest

import mmrecord
from mmrecord.errors import CorruptRecordError, ObjectChangedError
from mmrecord.storage import RemoteConfig

from support import random_bytes

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:6"]
FAST = RemoteConfig(backoff=0.001, max_backoff=0.01)
LATENCY = 0.02


def _records(n: int, seed: int = 0) -> list[bytes]:
    sizes = np.random.default_rng(seed).integers(300, 3000, n)
    return [random_bytes(int(size), seed * 1_000_003 + i) for i, size in enumerate(sizes)]


def _write(tmp_path, records, options: str, name: str = "data.array_record"):
    path = tmp_path / name
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)
    return path


def _data_requests(proxy) -> list:
    """The ranged reads the proxy saw, each checked to be bounded."""
    reads = [r for r in proxy.requests if r.method == "GET" and r.range is not None]
    for r in proxy.requests:
        if r.range is not None:
            start, stop = r.span
            assert stop is not None and start < stop, f"open-ended or empty range {r.range}"
    return reads


def _open(store, url, *args, **kwargs) -> mmrecord.ArrayRecordReader:
    return mmrecord.ArrayRecordReader(url, *args, storage_options=store.storage_options, **kwargs)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("group", [1, 256])
def test_exact_records_every_codec(remote_store, tmp_path, codec, group):
    records = _records(1200, seed=group)
    url = remote_store.put(_write(tmp_path, records, f"group_size:{group},{codec}"), f"{codec}-{group}.ar")
    picks = np.random.default_rng(2).integers(0, len(records), 256)
    with _open(remote_store, url) as reader:
        assert reader[int(picks[0])] == records[picks[0]]
        assert reader[picks] == [records[i] for i in picks]
    with _open(remote_store, url) as reader:
        assert reader.read_all() == records
    _data_requests(remote_store.proxy)


def test_open_costs_one_tail_read_with_the_size_known(remote_store, tmp_path):
    path = _write(tmp_path, _records(2000), "group_size:1,zstd:3")
    url = remote_store.put(path, "open.ar")
    remote_store.proxy.reset()
    reader = _open(remote_store, url, size=path.stat().st_size)
    assert len(remote_store.proxy.requests) == 1
    assert remote_store.proxy.requests[0].span[1] == path.stat().st_size
    remote_store.proxy.reset()
    _open(remote_store, url)
    assert len(remote_store.proxy.requests) <= 2  # what the object is, then the tail
    _data_requests(remote_store.proxy)
    assert len(reader) == 2000


def test_a_large_footer_costs_one_more_round(remote_store, tmp_path):
    path = _write(tmp_path, [b"r"] * 60000, "group_size:1,uncompressed")
    url = remote_store.put(path, "footer.ar")
    remote_store.proxy.reset()
    reader = _open(remote_store, url, "footer_prefetch_bytes:64k", size=path.stat().st_size)
    assert len(_data_requests(remote_store.proxy)) == len(remote_store.proxy.requests) == 2
    assert reader[59999] == b"r"


def test_a_random_record_is_one_bounded_request(remote_store, tmp_path):
    records = _records(3000)
    url = remote_store.put(_write(tmp_path, records, "group_size:1,zstd:3"), "single.ar")
    reader = _open(remote_store, url)
    for i in (1500, 3, 777):
        remote_store.proxy.reset()
        assert reader[i] == records[i]
        (request,) = remote_store.proxy.requests
        assert request.span == (int(reader._bounds[i]), int(reader._bounds[i + 1]))


def test_a_batch_costs_about_one_round_trip(remote_store, tmp_path):
    records = _records(3000)
    url = remote_store.put(_write(tmp_path, records, "group_size:1,uncompressed"), "batch.ar")
    indices = np.random.default_rng(5).choice(len(records), 256, replace=False)
    # Every chunk its own request: all in flight together, not one after another.
    reader = _open(remote_store, url, remote=RemoteConfig(max_gap=0, concurrency=64))
    remote_store.proxy.reset()
    remote_store.proxy.latency = LATENCY
    assert reader[indices] == [records[i] for i in indices]
    assert 128 < len(_data_requests(remote_store.proxy)) <= 256  # touching chunks still merge
    assert remote_store.proxy.max_in_flight >= 32
    # With the default gap, neighbours merge: fewer requests, still concurrent.
    reader = _open(remote_store, url)
    remote_store.proxy.reset()
    assert reader.read_batch(indices)[1][-1] == sum(len(records[i]) for i in indices)
    assert len(_data_requests(remote_store.proxy)) < 128


def test_sequential_reads_keep_windows_in_flight(remote_store, tmp_path):
    records = _records(8000)
    url = remote_store.put(_write(tmp_path, records, "group_size:1,uncompressed"), "seq.ar")
    reader = _open(remote_store, url, "readahead_buffer_size:8M")
    remote_store.proxy.reset()
    remote_store.proxy.latency = LATENCY
    assert list(reader) == records
    assert remote_store.proxy.max_in_flight >= 3
    _data_requests(remote_store.proxy)


@pytest.mark.parametrize("fault", ["500", "503", "reset", "short"])
def test_faults_are_retried(remote_store, tmp_path, fault):
    records = _records(500)
    url = remote_store.put(_write(tmp_path, records, "group_size:1,zstd:3"), f"fault-{fault}.ar")
    reader = _open(remote_store, url, remote=FAST)
    remote_store.proxy.reset()
    remote_store.proxy.inject(fault, 2)
    assert reader[123] == records[123]
    assert len(remote_store.proxy.requests) >= 3  # two failed tries, then the record
    _data_requests(remote_store.proxy)


def test_a_replaced_object_is_named(remote_store, tmp_path):
    first = _write(tmp_path, _records(1000, seed=1), "group_size:1,zstd:3", "first.ar")
    second = _write(tmp_path, _records(1000, seed=2), "group_size:1,zstd:3", "second.ar")
    url = remote_store.put(first, "changing.ar")
    reader = _open(remote_store, url, remote=FAST)
    remote_store.replace("changing.ar", second)
    with pytest.raises(ObjectChangedError):
        reader[10]


def test_damage_is_the_local_error(remote_store, tmp_path):
    path = _write(tmp_path, _records(800), "group_size:1,zstd:3")
    local = mmrecord.ArrayRecordReader(path)
    damaged = bytearray(path.read_bytes())
    damaged[int(local._bounds[400]) + 60] ^= 0x55
    bad = tmp_path / "damaged.ar"
    bad.write_bytes(damaged)
    url = remote_store.put(bad, "damaged.ar")
    caught = []
    for reader in (mmrecord.ArrayRecordReader(bad), _open(remote_store, url)):
        with pytest.raises(CorruptRecordError) as error:
            reader[400]
        caught.append((error.value.what, error.value.offset, error.value.chunk_index))
    assert caught[0] == caught[1]


def test_a_persistent_cache_fetches_nothing_twice(remote_store, tmp_path):
    records = _records(1500)
    url = remote_store.put(_write(tmp_path, records, "group_size:1,zstd:3"), "cached.ar")
    with _open(remote_store, url, cache_dir=tmp_path / "cache") as reader:
        assert reader.read_all() == records
    remote_store.proxy.reset()
    with _open(remote_store, url, cache_dir=tmp_path / "cache") as reader:
        assert reader.read_all() == records and reader[[5, 1499]] == [records[5], records[1499]]
    assert _data_requests(remote_store.proxy) == []


def test_credentials_stay_out_of_errors_and_reprs(s3_store, tmp_path):
    url = s3_store.put(_write(tmp_path, _records(10), "group_size:1"), "secret.ar")
    reader = _open(s3_store, url)
    secret = s3_store.storage_options.get("secret") or s3_store.storage_options.get("key")
    ds = mmrecord.ArrayRecordDataSource([url], storage_options=s3_store.storage_options)
    assert secret not in repr(reader) and secret not in repr(ds)
    s3_store.proxy.inject("500", 100)
    with pytest.raises(Exception) as error:
        _open(s3_store, url.replace("secret.ar", "other.ar"), remote=RemoteConfig(retries=1, backoff=0.001))
    assert secret not in str(error.value) and secret not in repr(error.value)


def _read_in_worker(payload: bytes) -> list[bytes]:
    return pickle.loads(payload)[[0, 333, 599]]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_workers_rebuild_their_filesystem(http_store, tmp_path, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    records = _records(600)
    url = http_store.put(_write(tmp_path, records, "group_size:1,zstd:3"), "workers.ar")
    ds = mmrecord.ArrayRecordDataSource([url], storage_options=http_store.storage_options)
    assert ds[1] == records[1]  # the async filesystem in use here, before the workers start
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(_read_in_worker, [pickle.dumps(ds)] * 2)
    assert got == [[records[0], records[333], records[599]]] * 2


def test_request_counts_and_latency(remote_store, tmp_path, capsys):
    """The figures the README quotes: requests per operation, and times with 20 ms a request."""
    records = _records(10000)
    path = _write(tmp_path, records, "group_size:1,zstd:3")
    url = remote_store.put(path, "figures.ar")
    proxy = remote_store.proxy
    indices = np.random.default_rng(9).choice(len(records), 256, replace=False)
    rows = []

    def measure(name: str, work):
        proxy.reset()
        proxy.latency = LATENCY
        start = time.perf_counter()
        result = work()
        rows.append((name, len(proxy.requests), proxy.max_in_flight, time.perf_counter() - start))
        _data_requests(proxy)
        return result

    reader = measure("open (size unknown)", lambda: _open(remote_store, url))
    measure("open (size known)", lambda: _open(remote_store, url, size=path.stat().st_size))
    assert measure("r[i], group size 1", lambda: reader[4321]) == records[4321]
    assert measure("batch of 256", lambda: reader[indices]) == [records[i] for i in indices]
    exact = _open(remote_store, url, remote=RemoteConfig(max_gap=0))
    assert measure("batch of 256, max_gap 0", lambda: exact[indices]) == [records[i] for i in indices]
    fresh = _open(remote_store, url)
    assert measure("read_all", fresh.read_all) == records
    counts = {name: count for name, count, _, _ in rows}
    assert counts["open (size unknown)"] <= 3 and counts["open (size known)"] <= 2
    assert counts["r[i], group size 1"] == 1
    with capsys.disabled():
        print(f"\n{remote_store.protocol}: {path.stat().st_size:,} bytes, 10,000 records, 20 ms a request")
        for name, count, in_flight, seconds in rows:
            print(f"  {name:<24} {count:4d} requests  {in_flight:3d} at once  {seconds * 1000:8.1f} ms")
