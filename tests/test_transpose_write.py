"""Writing transposed chunks (``transpose:true``): byte for byte the reference's files.

Random protocol buffer records (nested messages, packed and unpacked repeated
fields, groups, unknown fields, fixed-size values, long varints, field
numbers small and large), mixed with records that are not canonical messages
and with empty records, are written by mmrecord and by the reference with the
same options; the files must be identical, and both readers must give every
record back.
"""

from __future__ import annotations

import random
import struct

import pytest
from support import reference_reader, reference_writer

import mmrecord
from mmrecord import transpose_encoder
from mmrecord.codecs.writer_calls import compress_written
from mmrecord.engine.transpose_split import MAX_DEPTH
from mmrecord.engine.varint import encode_varint

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:6"]

# -- protocol buffer wire format ---------------------------------------------------------------


def _tag(field: int, wire: int) -> bytes:
    return encode_varint(field << 3 | wire)


def _delimited(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + encode_varint(len(payload)) + payload


def _varint_value(rng: random.Random) -> int:
    """Values 0..3 (stored inline in the state machine), and every varint length up to ten bytes."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randrange(4)
    if kind == 1:
        return rng.randrange(4, 128)
    if kind == 2:
        return rng.randrange(1 << (7 * rng.randrange(1, 10)))
    return (1 << 64) - rng.randrange(1, 1 << 40)  # a negative int64: ten bytes


class Schema:
    """A random message type: fields with a number and a kind, some of them nested types."""

    KINDS = ("varint", "fixed32", "fixed64", "string", "packed", "message", "group", "proto_bytes", "empty")

    def __init__(self, rng: random.Random, depth: int = 0):
        numbers = rng.sample(range(1, 40), rng.randrange(2, 9))
        if rng.randrange(3) == 0:
            numbers.append(rng.choice([2047, 2048, 262143, (1 << 29) - 1]))  # two- to five-byte tags
        self.fields = []
        for number in numbers:
            kind = rng.choice(self.KINDS if depth < 3 else self.KINDS[:5])
            nested = Schema(rng, depth + 1) if kind in ("message", "group") else None
            self.fields.append((number, kind, rng.randrange(3) == 0, nested))  # (..., repeated, nested)

    def message(self, rng: random.Random) -> bytes:
        out = bytearray()
        fields = list(self.fields)
        if rng.randrange(8) == 0:
            rng.shuffle(fields)  # fields out of their usual order
        for number, kind, repeated, nested in fields:
            if rng.randrange(4) == 0:
                continue  # absent
            for _ in range(rng.randrange(1, 4) if repeated else 1):
                out += self._field(rng, number, kind, nested)
        if rng.randrange(6) == 0:  # an unknown field
            out += _tag(rng.randrange(40, 1 << 29), 0) + encode_varint(_varint_value(rng))
        return bytes(out)

    @staticmethod
    def _field(rng, number: int, kind: str, nested: "Schema | None") -> bytes:
        if kind == "varint":
            return _tag(number, 0) + encode_varint(_varint_value(rng))
        if kind == "fixed32":
            return _tag(number, 5) + struct.pack("<I", rng.getrandbits(32))
        if kind == "fixed64":
            return _tag(number, 1) + struct.pack("<Q", rng.getrandbits(64))
        if kind == "string":
            return _delimited(number, rng.choice([b"", b"x", b"name", rng.randbytes(rng.randrange(40))]))
        if kind == "packed":
            return _delimited(number, b"".join(encode_varint(_varint_value(rng)) for _ in range(rng.randrange(6))))
        if kind == "message":
            return _delimited(number, nested.message(rng))
        if kind == "group":
            return _tag(number, 3) + nested.message(rng) + _tag(number, 4)
        if kind == "proto_bytes":  # bytes that happen to parse as a message
            return _delimited(number, _tag(1, 0) + encode_varint(rng.randrange(300)))
        return _delimited(number, b"")


def _not_messages(rng: random.Random) -> list[bytes]:
    """Records that are not canonical messages, so they are stored whole."""
    return [
        rng.randbytes(rng.randrange(1, 60)),
        b"plain text, not a message",
        b"\x08\x80\x00",  # a varint with a trailing zero byte
        b"\x88\x00\x01",  # a tag with a trailing zero byte
        b"\x12\x05ab",  # a length past the end
        b"\x1b\x08\x01",  # a group never closed
        b"\x1b\x24",  # a group closed by another field's end tag
        b"\x0e\x01",  # wire type 6
        b"\x00\x01",  # field number 0
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",  # a varint of more than 64 bits
        b"\x09\x01\x02\x03",  # a fixed64 cut short
    ]


def _records(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    schemas = [Schema(rng) for _ in range(rng.randrange(1, 3))]
    odd = _not_messages(rng)
    records = []
    for _ in range(count):
        roll = rng.randrange(20)
        if roll == 0:
            records.append(b"")
        elif roll == 1:
            records.append(rng.choice(odd))
        else:
            records.append(rng.choice(schemas).message(rng))
    return records


def _deep(levels: int, group: bool) -> bytes:
    """A message nested ``levels`` deep, in submessages or in groups."""
    inner = _tag(1, 0) + b"\x05"
    for _ in range(levels):
        inner = (_tag(2, 3) + inner + _tag(2, 4)) if group else _delimited(2, inner)
    return inner


def _many_fields(seed: int, count: int, fields: int) -> list[bytes]:
    """Records over thousands of distinct fields: state lists of several blocks, and no-ops between them."""
    rng = random.Random(seed)
    return [b"".join(_tag(rng.randrange(1, fields), 0) + encode_varint(rng.randrange(200))
                     for _ in range(rng.randrange(1, 30))) for _ in range(count)]


# -- writing with both writers ----------------------------------------------------------------


def _write_both(tmp_path, options: str, records: list[bytes]) -> tuple[bytes, bytes]:
    ours, theirs = tmp_path / "mmrecord.array_record", tmp_path / "reference.array_record"
    with mmrecord.ArrayRecordWriter(ours, options) as writer:
        writer.write_many(records)
    writer = reference_writer(theirs, options)
    for record in records:
        writer.write(record)
    writer.close()
    return ours.read_bytes(), theirs.read_bytes()


def _check(tmp_path, options: str, records: list[bytes]) -> None:
    """Identical files, and every record read back by mmrecord and by the reference."""
    ours, theirs = _write_both(tmp_path, options, records)
    assert ours == theirs
    path = tmp_path / "mmrecord.array_record"
    with mmrecord.ArrayRecordReader(path) as reader:
        assert reader.read_all() == records
    reader = reference_reader(path)
    try:
        assert list(reader.read_all()) == records
    finally:
        reader.close()


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("seed,group_size,bucket", [(1, 1, "256"), (2, 7, "256"), (3, 64, "64"),
                                                     (4, 200, "1k"), (5, 33, "auto")])
def test_random_messages_identical_to_reference(tmp_path, codec, seed, group_size, bucket):
    records = _records(seed * 10 + CODECS.index(codec), 230)
    _check(tmp_path, f"group_size:{group_size},transpose:true,transpose_bucket_size:{bucket},{codec}", records)


@pytest.mark.parametrize("codec", CODECS)
def test_frequent_fields_identical_to_reference(tmp_path, codec):
    """One schema, many records: transitions repeat often enough for private state lists."""
    rng = random.Random(7)
    schema = Schema(rng)
    records = [schema.message(rng) for _ in range(1500)]
    _check(tmp_path, f"group_size:500,transpose:true,{codec}", records)


@pytest.mark.parametrize("codec", ["uncompressed", "zstd:3"])
@pytest.mark.parametrize("fields", [300, 6000])
def test_thousands_of_fields_identical_to_reference(tmp_path, codec, fields):
    _check(tmp_path, f"group_size:2000,transpose:true,{codec}", _many_fields(fields, 2000, fields))


@pytest.mark.parametrize("group", [False, True])
def test_nesting_beyond_the_depth_limit_identical_to_reference(tmp_path, group):
    records = [_deep(MAX_DEPTH + 20, group), _deep(MAX_DEPTH - 1, group), _deep(3, group), b""]
    _check(tmp_path, "group_size:4,transpose:true,zstd:3", records)


@pytest.mark.parametrize("records", [
    [b""], [b"", b""], [b"not a message"], [b"\x08\x01"], [b"\x08\x96\x01"] * 40,
    [b"\x08\x01", b"x"] * 30,
], ids=["empty", "two_empty", "non_proto", "inline", "repeated", "alternating"])
@pytest.mark.parametrize("codec", CODECS)
def test_small_chunks_identical_to_reference(tmp_path, records, codec):
    _check(tmp_path, f"group_size:16,transpose:true,{codec}", records)


@pytest.mark.parametrize("pad", ["true", "false"])
def test_padded_and_parallel_identical_to_reference(tmp_path, pad):
    records = _records(99, 3000)
    _check(tmp_path, f"group_size:10,transpose:true,pad_to_block_boundary:{pad},max_parallelism:2,zstd:3",
           records)


def test_write_one_record_at_a_time(tmp_path):
    records = _records(11, 100)
    path = tmp_path / "one.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:8,transpose:true,max_parallelism:1") as writer:
        for record in records:
            writer.write(record)
    _, theirs = _write_both(tmp_path, "group_size:8,transpose:true,max_parallelism:1", records)
    assert path.read_bytes() == theirs


def test_append_transposed_to_a_file(tmp_path):
    first, more = _records(12, 50), _records(13, 30)
    path = tmp_path / "append.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:8,transpose:true") as writer:
        writer.write_many(first)
    with mmrecord.ArrayRecordWriter(path, "group_size:8,transpose:true", mode="a") as writer:
        writer.write_many(more)
    with mmrecord.ArrayRecordReader(path) as reader:
        assert reader.read_all() == first + more
    reader = reference_reader(path)
    try:
        assert list(reader.read_all()) == first + more
    finally:
        reader.close()


@pytest.mark.parametrize("count", [2848, 2849, 2850])
def test_transitions_filling_the_writer_buffer_identical_to_reference(tmp_path, monkeypatch, count):
    """Riegeli writes transitions a byte at a time: 4096 of them (the chunk of 2,849 records) fill its
    compressing writer's first buffer and reach libzstd in one call, so the frame records their size."""
    lengths = []

    def spy(codec, data, piece_sizes, level, window_log) -> bytes:
        lengths.append(len(data))
        return compress_written(codec, data, piece_sizes, level, window_log)

    monkeypatch.setattr(transpose_encoder, "compress_written", spy)
    records = [b"\x08" + bytes([i % 128]) + b"\x12\x03abc" + b"".join(bytes([0x18, i * j % 128]) for j in range(i % 5))
               for i in range(count)]
    _check(tmp_path, f"group_size:{count},transpose:true,zstd:3", records)
    assert (4096 in lengths) == (count == 2849)
