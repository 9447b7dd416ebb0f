"""The ``mmrecord`` command, run as a subprocess, with its output checked."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import pytest
from support import CORRUPT, VECTORS, entry, records_from_recipe

import mmrecord
from mmrecord.progress import Progress
from mmrecord.tfrecord import TFRecordWriter

GS2 = VECTORS / "gs2_zstd3.array_record"


def run(*args, check_exit: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mmrecord", *map(str, args)], capture_output=True,
                          timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if check_exit is not None:
        assert proc.returncode == check_exit, proc.stderr.decode()
    return proc


@pytest.fixture(scope="module")
def gs2_records() -> list[bytes]:
    return records_from_recipe(entry(GS2.name)["recipe"])


def damaged_chunk(name: str) -> tuple[int, int, int, int]:
    """(data chunk index, its file offset, its first record, its end record) of a damaged file."""
    chunk = entry(name, "corrupt")["damaged_data_chunk"]
    return chunk["index"], chunk["offset"], *chunk["records"]


def test_info_text_and_json():
    text = run("info", GS2).stdout.decode()
    assert "records         301" in text and "group size      2" in text
    assert "zstd level 3, window_log 20" in text and "health          intact" in text
    facts = [json.loads(line) for line in run("info", "--json", GS2, VECTORS / "gs1_brotli6.array_record")
             .stdout.decode().splitlines()]
    assert [f["records"] for f in facts] == [301, 60]
    assert facts[0]["group_size"] == 2 and facts[0]["codec"] == "zstd" and facts[0]["level"] == 3
    assert facts[1]["codec"] == "brotli" and facts[1]["level"] == 6
    assert facts[0]["file_size"] == 196608 and facts[0]["compression_ratio"] > 1
    assert facts[0]["record_sizes"]["count"] == 301 and not facts[0]["damaged"]


def test_verify_good_and_damaged():
    proc = run("verify", GS2, VECTORS / "transpose_protobuf.array_record")
    assert proc.stdout.decode().count(": OK (") == 2
    proc = run("verify", CORRUPT / "flipped_data_byte.array_record", check_exit=1)
    out = proc.stdout.decode()
    index, offset, first, end = damaged_chunk("flipped_data_byte.array_record")
    assert (index, offset) == (0, 64)
    assert "DAMAGED" in out and (f"data chunk 0 at byte 64: chunk data hash mismatch; records {first}..{end - 1} "
                                 f"({end - first}) unreadable") in out
    report = json.loads(run("verify", "--json", CORRUPT / "flipped_chunk_header_byte.array_record",
                            check_exit=1).stdout)
    index, offset, first, end = damaged_chunk("flipped_chunk_header_byte.array_record")
    assert not report["ok"] and report["damage"][0]["records"] == [first, end]
    assert report["damage"][0]["offset"] == offset


def test_verify_never_crashes_on_the_corrupt_files():
    files = sorted(CORRUPT.glob("*.array_record"))
    proc = run("verify", *files, check_exit=1)
    assert proc.stdout.decode().count("DAMAGED") == len(files)
    assert b"Traceback" not in proc.stderr and proc.stderr == b""


def test_cat_and_head(gs2_records):
    assert run("cat", GS2, "--index", "5", "-f", "raw").stdout == gs2_records[5]
    lines = run("cat", GS2, "--index", "3,-1", "--index", "0", "-f", "hex").stdout.decode().splitlines()
    assert lines == [f"{i}\t{gs2_records[i].hex()}" for i in (3, 300, 0)]
    items = [json.loads(line) for line in run("cat", GS2, "--range", "10:20", "-f", "jsonl").stdout.splitlines()]
    assert [item["index"] for item in items] == list(range(10, 20))
    for item in items:
        record = gs2_records[item["index"]]
        assert (item["text"].encode() if "text" in item else base64.b64decode(item["base64"])) == record
    assert run("cat", GS2, "-f", "raw").stdout == b"".join(gs2_records)
    assert run("cat", GS2, "--range", "::100", "-f", "raw").stdout == b"".join(gs2_records[::100])
    head = run("head", GS2, "-n", "3").stdout
    assert head == b"".join(r.decode("utf-8", "backslashreplace").encode() + b"\n" for r in gs2_records[:3])


def test_errors_are_one_line():
    proc = run("cat", GS2, "--index", "301", check_exit=1)
    assert proc.stderr.decode().strip() == "mmrecord: error: record index 301 out of range: the file has 301 records"
    proc = run("info", "/no/such/file.array_record", check_exit=1)
    assert proc.stderr.decode().strip() == "mmrecord: error: /no/such/file.array_record: No such file or directory"
    proc = run("cat", CORRUPT / "truncated_mid_chunk.array_record", check_exit=1)
    err = proc.stderr.decode()
    assert err.startswith("mmrecord: error: ") and err.count("\n") == 1 and "Traceback" not in err
    proc = run("--debug", "cat", CORRUPT / "truncated_mid_chunk.array_record", check_exit=1)
    assert "Traceback" in proc.stderr.decode()
    proc = run("cat", CORRUPT / "truncated_mid_chunk.array_record", "--debug", check_exit=1)
    assert "Traceback" in proc.stderr.decode()
    assert run("convert", "x.tfrecord", check_exit=2).returncode == 2  # usage error: no -o


def test_convert_and_read_back(tmp_path):
    records = [b"record %d" % i for i in range(1000)]
    for part in range(2):
        with TFRecordWriter(tmp_path / f"in-{part}.tfrecord.gz", compression="GZIP") as writer:
            writer.write_many(records[part * 500:(part + 1) * 500])
    out = run("convert", tmp_path / "in-*.tfrecord.gz", "-o", tmp_path / "ar" / "data.array_record",
              "--shards", "4", "--options", "group_size:16,zstd:1").stdout.decode()
    assert out.startswith("converted 1,000 records") and "records/s" in out
    got = []
    for i in range(4):
        with mmrecord.ArrayRecordReader(tmp_path / "ar" / f"data-{i:05d}-of-00004.array_record") as reader:
            assert reader.group_size == 16
            got += reader.read_all()
    assert got == records
    stats = json.loads(run("convert", tmp_path / "in-0.tfrecord.gz", "-o", tmp_path / "one.array_record",
                           "--json").stdout)
    assert stats["records"] == 500 and stats["outputs"] == [str(tmp_path / "one.array_record")]


def test_convert_damaged_tfrecord(tmp_path):
    src = tmp_path / "d.tfrecord"
    with TFRecordWriter(src) as writer:
        writer.write_many([b"x" * 100] * 10)
    data = bytearray(src.read_bytes())
    data[116 * 4 + 50] ^= 1
    src.write_bytes(bytes(data))
    proc = run("convert", src, "-o", tmp_path / "o.array_record", check_exit=1)
    assert "TFRecord data CRC mismatch (record 4)" in proc.stderr.decode()
    assert f"at byte {116 * 4}" in proc.stderr.decode()
    out = run("convert", src, "-o", tmp_path / "o.array_record", "--skip-corrupt").stdout.decode()
    assert "converted 9 records" in out and "skipped 1 damaged record" in out


def test_recover(tmp_path, gs2_records):
    out = run("recover", CORRUPT / "truncated_mid_chunk.array_record", "-o", tmp_path / "new.array_record")
    text = out.stdout.decode()
    index, _, first, end = damaged_chunk("truncated_mid_chunk.array_record")  # the chunk the cut goes through
    assert text.startswith(f"recovered {first} records from {index} intact chunks")
    assert f"kept           original records 0..{first - 1} -> new 0..{first - 1}" in text
    assert f"records {first}..{end - 1} ({end - first}) unreadable" in text
    with mmrecord.ArrayRecordReader(tmp_path / "new.array_record") as reader:
        assert reader.read_all() == gs2_records[:first]
    report = json.loads(run("recover", CORRUPT / "flipped_data_byte.array_record", "-o",
                            tmp_path / "b.array_record", "--json").stdout)
    _, _, first, end = damaged_chunk("flipped_data_byte.array_record")
    kept = len(gs2_records) - end
    assert first == 0 and report["records_written"] == kept and report["kept"] == [
        {"original_first": end, "count": kept, "new_first": 0}]


def test_recover_never_crashes_on_the_corrupt_files(tmp_path):
    for n, path in enumerate(sorted(CORRUPT.glob("*.array_record"))):
        proc = run("recover", path, "-o", tmp_path / f"{n}.array_record")
        assert proc.stderr == b"" and proc.stdout.startswith(b"recovered ")
        assert len(mmrecord.ArrayRecordReader(tmp_path / f"{n}.array_record")) <= 301


def test_quiet_when_piped_progress_on_request():
    proc = run("verify", VECTORS / "many_small_gs1.array_record")
    assert proc.stderr == b""  # no progress line into a pipe
    stream = io.StringIO()
    bar = Progress(1000, "test", enabled=True, stream=stream)
    bar._last -= 1  # as if the last redraw were long ago
    bar.update(500)
    bar.close()
    assert " 50% |############............| " in stream.getvalue() and stream.getvalue().endswith("\r")
    quiet = io.StringIO()
    with Progress(10, stream=quiet) as bar:  # a StringIO is not a terminal
        bar.update(5)
    assert quiet.getvalue() == ""


def test_demo_still_works():
    out = run("demo", "--records", "2000").stdout.decode()
    assert "verify: all records match" in out


def test_version_and_help():
    assert run("--version").stdout.decode().startswith("mmrecord ")
    helptext = run("--help").stdout.decode()
    for command in ("info", "cat", "head", "verify", "convert", "recover", "demo"):
        assert command in helptext
