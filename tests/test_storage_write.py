"""Writing to URLs: built locally, uploaded whole on close, and nothing at the URL after a failure.

Against real servers on loopback (moto's S3, fake-gcs-server) through the counting proxy; the
objects are fetched back with plain fsspec and read by mmrecord from a local copy, so these
tests stand on the write side alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import fsspec
from fsspec.implementations.memory import MemoryFileSystem
import pytest
from storage_servers import Store
from support import fail_groups_containing

import mmrecord
from mmrecord import cli
from mmrecord.convert import ConvertError, convert
from mmrecord.errors import RemoteWriteError
from mmrecord.storage import Location, display_url
from mmrecord.storage.upload import Upload

CODECS = ["uncompressed", "zstd:3", "brotli:6", "snappy"]
RECORDS = [b"record %d " % i + bytes([i % 251]) * (i % 700) for i in range(600)]
UPLOADS = ("PUT", "POST")


@pytest.fixture(params=["s3", "gcs"])
def store(request: pytest.FixtureRequest) -> Store:
    """A writable store (the HTTP server is read-only)."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The writer's local copies go to a folder of the test's own, to see that none is left."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def read_back(store: Store, url: str, tmp_path: Path) -> list[bytes]:
    """The object's records: fetched whole with fsspec, read by mmrecord from a local copy."""
    local = tmp_path / "fetched.array_record"
    local.write_bytes(store.filesystem().cat_file(url))
    with mmrecord.ArrayRecordReader(local) as reader:
        return reader.read_all()


def exists(store: Store, url: str) -> bool:
    store.proxy.reset()
    return store.filesystem().exists(url)


@pytest.mark.parametrize("group_size", [1, 256])
@pytest.mark.parametrize("codec", CODECS)
def test_records_come_back_exactly_and_the_bytes_are_the_local_files(
    store: Store, tmp_path: Path, private_tempdir: Path, codec: str, group_size: int
) -> None:
    options = f"group_size:{group_size},{codec}"
    url = store.url(f"write/{codec.replace(':', '')}-{group_size}.array_record")
    with mmrecord.ArrayRecordWriter(url, options, storage_options=store.storage_options) as writer:
        writer.write_many(RECORDS)
        assert store.proxy.requests == []  # nothing is sent before close
    assert read_back(store, url, tmp_path) == RECORDS
    local = tmp_path / "local.array_record"
    with mmrecord.ArrayRecordWriter(local, options) as writer:
        writer.write_many(RECORDS)
    assert store.filesystem().cat_file(url) == local.read_bytes()
    assert list(private_tempdir.iterdir()) == []


def test_one_upload_request_for_a_small_file(store: Store, tmp_path: Path) -> None:
    url = store.url("write/one-request.array_record")
    with mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=store.storage_options) as writer:
        writer.write_many(RECORDS)
    uploads = [r for r in store.proxy.requests if r.method in UPLOADS]
    assert len(uploads) == 1 and uploads[0].status == 200


def test_a_ready_filesystem_is_used_as_given(store: Store, tmp_path: Path) -> None:
    url = store.url("write/given-filesystem.array_record")
    with mmrecord.ArrayRecordWriter(url, "group_size:1", filesystem=store.filesystem()) as writer:
        writer.write_many(RECORDS[:10])
    assert read_back(store, url, tmp_path) == RECORDS[:10]


def test_an_exception_in_the_with_block_leaves_no_object(store: Store, private_tempdir: Path) -> None:
    url = store.url("write/interrupted.array_record")
    with pytest.raises(KeyError):
        with mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=store.storage_options) as writer:
            writer.write_many(RECORDS)
            raise KeyError("stop")
    assert not [r for r in store.proxy.requests if r.method in UPLOADS]
    assert not exists(store, url)
    assert list(private_tempdir.iterdir()) == []


def test_a_record_that_fails_to_encode_uploads_nothing(
    store: Store, private_tempdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_groups_containing(monkeypatch)
    url = store.url("write/bad-record.array_record")
    writer = mmrecord.ArrayRecordWriter(url, "group_size:2,max_parallelism:1", storage_options=store.storage_options)
    writer.write_many([b"a", b"b", b"c", b"bad"])
    with pytest.raises(MemoryError):
        writer.close()
    assert not exists(store, url)  # a local file would keep "a" and "b"; a URL gets all or nothing
    assert list(private_tempdir.iterdir()) == []


def test_a_refused_upload_is_a_remote_write_error_and_leaves_nothing(store: Store, private_tempdir: Path) -> None:
    url = store.url("write/refused.array_record")
    store.proxy.inject("403", count=10, when=lambda r: r.method in UPLOADS)
    writer = mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=store.storage_options)
    writer.write_many(RECORDS)
    with pytest.raises(RemoteWriteError) as raised:
        writer.close()
    assert raised.value.url == url
    assert isinstance(raised.value, OSError) and raised.value.__cause__ is not None
    assert any(r.fault == "403" for r in store.proxy.requests)
    assert not exists(store, url)
    assert list(private_tempdir.iterdir()) == []
    assert not writer.is_open()
    writer.close()  # closed is closed


@pytest.mark.parametrize("kind", ["500", "503", "reset"])
def test_a_transient_upload_fault_is_retried_and_the_object_is_whole(
    store: Store, tmp_path: Path, kind: str
) -> None:
    url = store.url(f"write/retried-{kind}.array_record")
    store.proxy.inject(kind, when=lambda r: r.method in UPLOADS)
    with mmrecord.ArrayRecordWriter(url, "group_size:16,zstd:1", storage_options=store.storage_options) as writer:
        writer.write_many(RECORDS)
    faulted, *rest = [r for r in store.proxy.requests if r.method in UPLOADS]
    assert faulted.fault == kind and rest and rest[-1].status == 200
    assert read_back(store, url, tmp_path) == RECORDS


def test_a_missing_bucket_fails_at_close_with_nothing_left(store: Store, private_tempdir: Path) -> None:
    url = store.url("x").replace("mmrecord-test", "no-such-bucket-here")
    writer = mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=store.storage_options)
    writer.write(b"record")
    with pytest.raises(RemoteWriteError, match="no-such-bucket-here"):
        writer.close()
    assert list(private_tempdir.iterdir()) == []


def test_credentials_appear_in_no_error_or_repr(s3_store: Store, private_tempdir: Path) -> None:
    secret = "Do-Not-Show-This-Secret-0123"
    options = {**s3_store.storage_options, "secret": secret}
    url = s3_store.url("write/credentials.array_record")
    s3_store.proxy.inject("403", count=10, when=lambda r: r.method in UPLOADS)
    writer = mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=options)
    assert secret not in repr(writer)
    writer.write(b"record")
    with pytest.raises(RemoteWriteError) as raised:
        writer.close()
    assert secret not in str(raised.value) and secret not in repr(raised.value)


def test_urls_are_shown_without_user_password_or_query() -> None:
    assert display_url("https://user:pw@host:8/a/b.array_record?X-Signature=abc#f") == "https://host:8/a/b.array_record"
    assert display_url("s3://bucket/key.array_record") == "s3://bucket/key.array_record"
    upload = Upload(Location("memory://shown/x.array_record?token=abc"))
    assert repr(upload) == "Upload('memory://shown/x.array_record')"
    upload.discard()


def test_appending_to_a_url_is_refused_before_anything_happens(s3_store: Store, private_tempdir: Path) -> None:
    with pytest.raises(ValueError, match="appending needs a local file"):
        mmrecord.ArrayRecordWriter(s3_store.url("write/append.array_record"), mode="a",
                                   storage_options=s3_store.storage_options)
    assert s3_store.proxy.requests == []
    assert list(private_tempdir.iterdir()) == []


def test_which_paths_are_written_through_fsspec(tmp_path: Path) -> None:
    remote = ["s3://b/k", "gs://b/k", "https://h/k", "memory://k"]
    assert all(Location(url).is_remote for url in remote)
    assert not Location("file:///tmp/x").is_remote and not Location(str(tmp_path / "x")).is_remote
    assert Location(str(tmp_path / "x"), filesystem=fsspec.filesystem("memory")).is_remote


def test_a_file_url_is_a_local_path_written_in_place(tmp_path: Path, private_tempdir: Path) -> None:
    target = tmp_path / "local.array_record"
    with mmrecord.ArrayRecordWriter(f"file://{target}", "group_size:1") as writer:
        writer.write_many(RECORDS[:5])
    assert list(private_tempdir.iterdir()) == []  # no local copy: the file itself
    with mmrecord.ArrayRecordReader(target) as reader:
        assert reader.read_all() == RECORDS[:5]


class FailingMemory(MemoryFileSystem):
    """An in-memory filesystem whose uploads stop half-way, leaving a partial object."""

    protocol = "failingmemory"

    def put_file(self, lpath, rpath, **kwargs) -> None:
        with open(lpath, "rb") as f, self.open(rpath, "wb") as out:
            out.write(f.read(100))
        raise ConnectionResetError("the connection dropped half-way")


def test_other_filesystems_get_a_staged_upload_and_a_move(tmp_path: Path, private_tempdir: Path) -> None:
    fs = fsspec.filesystem("memory", skip_instance_cache=True)
    with mmrecord.ArrayRecordWriter("memory://staged/good.array_record", "group_size:1", filesystem=fs) as writer:
        writer.write_many(RECORDS)
    assert fs.ls("/staged", detail=False) == ["/staged/good.array_record"]  # nothing staged is left
    local = tmp_path / "good.array_record"
    local.write_bytes(fs.cat_file("/staged/good.array_record"))
    with mmrecord.ArrayRecordReader(local) as reader:
        assert reader.read_all() == RECORDS

    failing = FailingMemory(skip_instance_cache=True)
    failing.store.clear()
    writer = mmrecord.ArrayRecordWriter("failingmemory://staged/bad.array_record", "group_size:1", filesystem=failing)
    writer.write_many(RECORDS)
    with pytest.raises(RemoteWriteError, match="ConnectionResetError"):
        writer.close()
    assert failing.store == {}  # neither the partial staged object nor anything at the name
    assert list(private_tempdir.iterdir()) == []


def test_an_unclosed_writer_to_a_url_uploads_nothing(s3_store: Store, private_tempdir: Path) -> None:
    url = s3_store.url("write/unclosed.array_record")
    writer = mmrecord.ArrayRecordWriter(url, "group_size:1", storage_options=s3_store.storage_options)
    writer.write(b"record")
    with pytest.warns(ResourceWarning, match="nothing was uploaded"):
        writer.__del__()
    assert not exists(s3_store, url)
    assert list(private_tempdir.iterdir()) == []


@pytest.fixture
def fsspec_config(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store's options as fsspec's configuration, which is how the command line reaches a store."""
    monkeypatch.setitem(fsspec.config.conf, store.protocol, dict(store.storage_options))
    if store.protocol == "gcs":
        monkeypatch.setitem(fsspec.config.conf, "gs", dict(store.storage_options))
    return store


def test_convert_writes_shards_to_urls(fsspec_config: Store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = fsspec_config
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(f'{{"n": {i}}}\n' for i in range(50)))
    destination = store.url("write/convert/data.array_record")
    assert cli.main(["convert", str(lines), "-o", destination, "--shards", "2", "--options", "group_size:4,zstd:1",
                     "--progress", "never"]) == 0
    shards = [destination.replace("data.", f"data-{i:05d}-of-00002.") for i in range(2)]
    assert capsys.readouterr().out.count(shards[0]) == 1
    records = read_back(store, shards[0], tmp_path) + read_back(store, shards[1], tmp_path)
    assert records == [f'{{"n": {i}}}'.encode() for i in range(50)]


def test_a_failed_convert_uploads_nothing_of_its_shard(fsspec_config: Store, tmp_path: Path) -> None:
    store = fsspec_config
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"n": 1}\n{"n": 2}\nnot json\n')
    destination = store.url("write/convert/failed.array_record")
    with pytest.raises(ConvertError):
        convert([str(lines)], destination, fmt="jsonl")
    assert not exists(store, destination)


def test_compact_and_recover_write_to_urls(fsspec_config: Store, tmp_path: Path) -> None:
    store = fsspec_config
    source = tmp_path / "source.array_record"
    with mmrecord.ArrayRecordWriter(source, "group_size:4,zstd:1") as writer:
        writer.write_many(RECORDS[:40])
    compacted, recovered = store.url("write/compacted.array_record"), store.url("write/recovered.array_record")
    assert cli.main(["compact", str(source), "-o", compacted, "--progress", "never"]) == 0
    assert cli.main(["recover", str(source), "-o", recovered, "--progress", "never"]) == 0
    assert read_back(store, compacted, tmp_path) == RECORDS[:40]
    assert read_back(store, recovered, tmp_path) == RECORDS[:40]


def test_import_mmrecord_imports_no_fsspec() -> None:
    code = "import sys, mmrecord, mmrecord.storage.upload; sys.exit('fsspec' in sys.modules or 'aiohttp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0
