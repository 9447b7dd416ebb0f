"""Conversion into ArrayRecord: formats, sharding, name templates, damaged input."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from support import VECTORS, entry, record_digest

import mmrecord
from mmrecord.convert import (
    ConvertError,
    convert,
    count_records,
    detect_format,
    shard_names,
)
from mmrecord.tfrecord import TFRecordWriter


def _read(path) -> list[bytes]:
    with mmrecord.ArrayRecordReader(path) as reader:
        return reader.read_all()


def _records(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.bytes(int(k)) for k in rng.integers(0, 3000, n)]


def _tfrecord(path, records, compression=None):
    with TFRecordWriter(path, compression=compression) as writer:
        writer.write_many(records)
    return path


def test_tfrecord_shards_to_one_file(tmp_path):
    a, b = _records(300, 1), _records(200, 2)
    _tfrecord(tmp_path / "in-0.tfrecord", a)
    _tfrecord(tmp_path / "in-1.tfrecord.gz", b, "GZIP")
    stats = convert([str(tmp_path / "in-*")], str(tmp_path / "out.array_record"), options="group_size:4,zstd:1")
    assert stats.records == 500 and stats.outputs == [str(tmp_path / "out.array_record")]
    assert _read(tmp_path / "out.array_record") == a + b
    with mmrecord.ArrayRecordReader(tmp_path / "out.array_record") as reader:
        assert reader.group_size == 4


def test_sharding_is_contiguous_and_named(tmp_path):
    records = _records(1001)
    src = _tfrecord(tmp_path / "train.tfrecord", records)
    stats = convert([str(src)], str(tmp_path / "out" / "data.array_record"), shards=8)
    names = [str(tmp_path / "out" / f"data-{i:05d}-of-00008.array_record") for i in range(8)]
    assert stats.outputs == names
    parts = [_read(n) for n in names]
    assert [len(p) for p in parts] == [125, 125, 125, 125, 125, 125, 125, 126]
    assert [r for p in parts for r in p] == records


def test_name_templates():
    assert shard_names("x/d.array_record", 2) == ["x/d-00000-of-00002.array_record",
                                                  "x/d-00001-of-00002.array_record"]
    assert shard_names("t_{shard:03d}_{num_shards}.ar", 2) == ["t_000_2.ar", "t_001_2.ar"]
    assert shard_names("plain", 1) == ["plain"]
    assert shard_names("plain", 2) == ["plain-00000-of-00002", "plain-00001-of-00002"]
    with pytest.raises(ConvertError):
        shard_names("same{num_shards}", 2)


def test_more_shards_than_records(tmp_path):
    src = _tfrecord(tmp_path / "a.tfrecord", [b"1", b"2"])
    stats = convert([str(src)], str(tmp_path / "o.array_record"), shards=4)
    assert [len(_read(n)) for n in stats.outputs] == [0, 1, 0, 1]


def test_jsonl_and_text(tmp_path):
    lines = [json.dumps({"i": i, "text": "ünï" * i}) for i in range(50)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:25]) + "\n\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as f:
        f.write("\r\n".join(lines[25:]))
    convert([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl.gz")], str(tmp_path / "j.array_record"))
    assert _read(tmp_path / "j.array_record") == [line.encode() for line in lines]

    (tmp_path / "t.txt").write_bytes(b"one\n\ntwo\r\nthree")
    convert([str(tmp_path / "t.txt")], str(tmp_path / "t.array_record"))
    assert _read(tmp_path / "t.array_record") == [b"one", b"", b"two", b"three"]


def test_bad_json_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"a": 1}\n{"b": \n[3]\n')
    with pytest.raises(ConvertError, match="line 2"):
        convert([str(tmp_path / "a.jsonl")], str(tmp_path / "o.array_record"))
    stats = convert([str(tmp_path / "a.jsonl")], str(tmp_path / "o.array_record"), skip_corrupt=True)
    assert stats.skipped == 1 and _read(tmp_path / "o.array_record") == [b'{"a": 1}', b"[3]"]


def test_regroup_old_arrayrecord_file(tmp_path):
    """The old group_size:65536 files become group_size:1 files with the same records."""
    old = entry("gs65536_zstd3.array_record")
    stats = convert([str(VECTORS / old["name"])], str(tmp_path / "gs1.array_record"),
                    options="group_size:1,zstd:3")
    got = _read(tmp_path / "gs1.array_record")
    assert stats.records == old["num_records"] and record_digest(got) == old["records_sha256"]
    with mmrecord.ArrayRecordReader(tmp_path / "gs1.array_record") as reader:
        assert reader.group_size == 1 and reader.num_chunks == old["num_records"]


def test_reference_reads_the_output(tmp_path):
    pytest.importorskip("array_record")
    from support import reference_reader

    records = _records(120)
    src = _tfrecord(tmp_path / "x.tfrecord", records)
    convert([str(src)], str(tmp_path / "r.array_record"), shards=3)
    got = []
    for i in range(3):
        reader = reference_reader(tmp_path / f"r-{i:05d}-of-00003.array_record")
        got += reader.read_all()
        reader.close()
    assert got == records


def test_damaged_tfrecord_rejected_or_skipped(tmp_path):
    records = _records(40)
    src = _tfrecord(tmp_path / "d.tfrecord", records)
    data = bytearray(src.read_bytes())
    at = sum(16 + len(r) for r in records[:9])
    data[at + 20] ^= 1  # inside record 9's data
    src.write_bytes(bytes(data))
    with pytest.raises(ConvertError) as err:
        convert([str(src)], str(tmp_path / "o.array_record"))
    assert f"at byte {at}" in str(err.value) and "record 9" in str(err.value)
    stats = convert([str(src)], str(tmp_path / "o.array_record"), skip_corrupt=True)
    assert stats.skipped == 1 and stats.records == 39
    assert _read(tmp_path / "o.array_record") == records[:9] + records[10:]


def test_format_detection(tmp_path):
    _tfrecord(tmp_path / "noext", [b"a"])
    _tfrecord(tmp_path / "noext.gz", [b"a"], "GZIP")
    (tmp_path / "lines").write_text("hello\n")
    assert detect_format(str(tmp_path / "noext")) == "tfrecord"
    assert detect_format(str(tmp_path / "noext.gz")) == "tfrecord"
    assert detect_format(str(VECTORS / "gs1_zstd3.array_record")) == "arrayrecord"
    assert detect_format("train.tfrecord-00003-of-00010") == "tfrecord"
    with pytest.raises(ConvertError, match="--from"):
        detect_format(str(tmp_path / "lines"))
    assert count_records([str(tmp_path / "lines")], "text") == 1


def test_missing_inputs(tmp_path):
    with pytest.raises(ConvertError, match="no file matches"):
        convert([str(tmp_path / "*.tfrecord")], str(tmp_path / "o.array_record"))
    with pytest.raises(ConvertError, match="no such file"):
        convert([str(tmp_path / "none.tfrecord")], str(tmp_path / "o.array_record"))


def test_output_may_not_be_an_input(tmp_path):
    src = tmp_path / "a.array_record"
    with mmrecord.ArrayRecordWriter(src) as writer:
        writer.write(b"x")
    with pytest.raises(ConvertError, match="one of the inputs"):
        convert([str(src)], str(src))
