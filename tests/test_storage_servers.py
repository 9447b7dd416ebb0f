"""The storage test servers keep their promises, seen through plain fsspec.

Each backend honours bounded ranges and reports sizes and versions; the counting proxy records
every request, measures concurrency, delays requests and delivers each kind of fault.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import aiohttp
import pytest
from storage_servers import ProxiedRequest, Store

SIZE = 300_000


def version_of(store: Store, info: dict) -> str:
    """The object's version as its filesystem reports it: ETag, or GCS's generation."""
    return str(info["generation"] if store.protocol == "gcs" else info["ETag"])


def gets(store: Store) -> list[ProxiedRequest]:
    return [r for r in store.proxy.requests if r.method == "GET"]


@pytest.fixture
def payload(tmp_path: Path) -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def placed(remote_store: Store, tmp_path: Path, payload: bytes, request: pytest.FixtureRequest) -> str:
    """``payload`` placed in the store under a name of this test's own."""
    local = tmp_path / "payload.bin"
    local.write_bytes(payload)
    return remote_store.put(local, f"servers/{request.node.name}.bin")


def test_a_bounded_range_is_one_request_for_exactly_its_bytes(remote_store: Store, placed: str, payload: bytes) -> None:
    fs = remote_store.filesystem()
    assert fs.cat_file(placed, start=70_000, end=71_000) == payload[70_000:71_000]
    (only,) = remote_store.proxy.requests
    assert (only.method, only.span, only.status, only.bytes_sent) == ("GET", (70_000, 71_000), 206, 1_000)
    assert only.fault is None


def test_size_and_whole_object(remote_store: Store, placed: str, payload: bytes) -> None:
    fs = remote_store.filesystem()
    assert fs.info(placed)["size"] == SIZE
    assert fs.cat_file(placed) == payload


def test_replace_makes_a_new_version(remote_store: Store, tmp_path: Path) -> None:
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    first.write_bytes(b"the first version")
    second.write_bytes(b"the second version, of another size")
    url = remote_store.put(first, "servers/replaced.bin")
    before = version_of(remote_store, remote_store.filesystem().info(url))
    remote_store.replace("servers/replaced.bin", second)
    fs = remote_store.filesystem()
    assert fs.cat_file(url) == second.read_bytes()
    assert version_of(remote_store, fs.info(url)) != before


def test_requests_are_counted_and_reset(remote_store: Store, placed: str, payload: bytes) -> None:
    fs = remote_store.filesystem()
    starts = [i * 30_000 for i in range(8)]
    assert fs.cat_ranges([placed] * 8, starts, [s + 100 for s in starts]) == [payload[s : s + 100] for s in starts]
    assert sorted(r.span for r in gets(remote_store)) == [(s, s + 100) for s in starts]
    remote_store.proxy.reset()
    assert remote_store.proxy.requests == []
    assert remote_store.proxy.max_in_flight == 0


def test_latency_is_added_to_every_request_and_concurrency_is_measured(remote_store: Store, placed: str) -> None:
    fs = remote_store.filesystem()
    fs.info(placed)  # any connection setup of the filesystem's own, before the clock starts
    remote_store.proxy.reset()
    remote_store.proxy.latency = 0.2
    starts = [i * 30_000 for i in range(8)]
    began = time.perf_counter()
    fs.cat_ranges([placed] * 8, starts, [s + 100 for s in starts])
    elapsed = time.perf_counter() - began
    assert elapsed >= 0.2  # a lower bound only: the proxy sleeps that long before answering
    assert {r.span for r in gets(remote_store)} == {(s, s + 100) for s in starts}
    # Eight concurrent requests, each held 0.2 s by the proxy: they overlap there.
    assert remote_store.proxy.max_in_flight > 1
    remote_store.proxy.reset()
    assert remote_store.proxy.latency == 0


def test_forbidden_is_not_retried(remote_store: Store, placed: str) -> None:
    fs = remote_store.filesystem()
    remote_store.proxy.inject("403", when=lambda r: r.method == "GET")
    # fsspec's HTTP filesystem raises aiohttp's error, s3fs PermissionError, gcsfs OSError.
    with pytest.raises((aiohttp.ClientResponseError, OSError)):
        fs.cat_file(placed, start=0, end=1_000)
    (refused,) = gets(remote_store)
    assert (refused.status, refused.fault) == (403, "403")


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_answered_by_the_proxy(remote_store: Store, placed: str, payload: bytes, kind: str) -> None:
    fs = remote_store.filesystem()
    remote_store.proxy.inject(kind, when=lambda r: r.method == "GET")
    if remote_store.protocol == "http":  # fsspec's HTTP filesystem does not retry
        with pytest.raises(aiohttp.ClientResponseError) as raised:
            fs.cat_file(placed, start=0, end=1_000)
        assert raised.value.status == int(kind)
        (failed,) = gets(remote_store)
    else:  # s3fs and gcsfs retry server errors
        assert fs.cat_file(placed, start=0, end=1_000) == payload[:1_000]
        failed, retried = gets(remote_store)
        assert (retried.status, retried.fault, retried.bytes_sent) == (206, None, 1_000)
    assert (failed.status, failed.fault) == (int(kind), kind)


def test_a_reset_breaks_the_body_after_half(remote_store: Store, placed: str, payload: bytes) -> None:
    fs = remote_store.filesystem()
    remote_store.proxy.inject("reset", when=lambda r: r.method == "GET")
    if remote_store.protocol == "http":
        with pytest.raises(aiohttp.ClientPayloadError):
            fs.cat_file(placed, start=0, end=10_000)
        (broken,) = gets(remote_store)
    else:
        assert fs.cat_file(placed, start=0, end=10_000) == payload[:10_000]
        broken, retried = gets(remote_store)
        assert (retried.fault, retried.bytes_sent) == (None, 10_000)
    assert (broken.fault, broken.status, broken.bytes_sent) == ("reset", 206, 5_000)


def test_a_short_response_is_well_formed_so_clients_accept_it(remote_store: Store, placed: str, payload: bytes) -> None:
    fs = remote_store.filesystem()
    remote_store.proxy.inject("short", when=lambda r: r.method == "GET")
    # No client notices: only a reader that checks the length it asked for can.
    assert fs.cat_file(placed, start=1_000, end=11_000) == payload[1_000:6_000]
    (short,) = gets(remote_store)
    assert (short.fault, short.status, short.bytes_sent, short.span) == ("short", 206, 5_000, (1_000, 11_000))


def test_faults_follow_their_count_and_filter(http_store: Store, tmp_path: Path) -> None:
    local = tmp_path / "small.bin"
    local.write_bytes(bytes(range(256)) * 8)
    url = http_store.put(local, "servers/count-and-filter.bin")
    fs = http_store.filesystem()
    http_store.proxy.inject("500", count=2, when=lambda r: r.range is not None)
    assert fs.info(url)["size"] == 2048  # no Range header: not a target
    for _ in range(2):
        with pytest.raises(aiohttp.ClientResponseError):
            fs.cat_file(url, start=0, end=10)
    assert fs.cat_file(url, start=0, end=10) == bytes(range(10))
    assert [r.fault for r in http_store.proxy.requests if r.range] == ["500", "500", None]


def test_unknown_faults_are_refused(http_store: Store) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        http_store.proxy.inject("timeout")
    with pytest.raises(ValueError, match="at least 1"):
        http_store.proxy.inject("500", count=0)


@pytest.mark.parametrize("backend", ["s3", "gcs"])
def test_multipart_uploads_pass_through_the_proxy(request: pytest.FixtureRequest, backend: str) -> None:
    store: Store = request.getfixturevalue(f"{backend}_store")
    data = os.urandom(12 << 20)
    url = store.url("servers/uploaded.bin")
    fs = store.filesystem()
    with fs.open(url, "wb", block_size=5 << 20) as f:  # three parts
        f.write(data)
    uploads = [r for r in store.proxy.requests if r.method in ("PUT", "POST")]
    assert len(uploads) >= 3  # parts or resumable-session pieces, every one through the proxy
    assert store.filesystem().cat_file(url) == data


def test_span_reads_single_byte_ranges() -> None:
    assert ProxiedRequest("GET", "/", "bytes=5-9").span == (5, 10)
    assert ProxiedRequest("GET", "/", "bytes=5-").span == (5, None)
    assert ProxiedRequest("GET", "/", "bytes=-100").span == (-100, None)
    assert ProxiedRequest("GET", "/", "bytes=5-").open_ended
    assert not ProxiedRequest("GET", "/", "bytes=-100").open_ended
    assert not ProxiedRequest("GET", "/", "bytes=5-9").open_ended
    assert not ProxiedRequest("GET", "/", None).open_ended
    assert ProxiedRequest("GET", "/", None).span is None
    with pytest.raises(ValueError):
        ProxiedRequest("GET", "/", "bytes=0-1,5-9").span
