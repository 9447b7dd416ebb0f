"""TFRecord without TensorFlow: CRC-32C, framing, compression, damage, and TensorFlow's own files."""

from __future__ import annotations

import gzip
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support import require

from mmrecord.engine import tfrecord as kernels
from mmrecord.errors import CorruptRecordError
from mmrecord.tfrecord import (
    TFRecordReader,
    TFRecordWriter,
    read_tfrecords,
    sniff_compression,
)

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
from make_tfrecord_fixtures import FIXTURES, fixture_records  # noqa: E402

# -- CRC-32C against a plain-Python twin and published values ------------------

def py_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def py_masked(data: bytes) -> int:
    crc = py_crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _crc(data: bytes) -> int:
    return int(kernels.crc32c(np.frombuffer(data, np.uint8), 0, len(data), kernels.TABLES))


def test_crc32c_published_values():
    assert _crc(b"123456789") == 0xE3069283
    assert _crc(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert _crc(b"\xff" * 32) == 0x62A8AB43
    assert _crc(bytes(range(32))) == 0x46DD794E
    assert _crc(b"") == 0


@given(st.binary(max_size=300))
def test_crc32c_and_mask_match_twin(data):
    arr = np.frombuffer(data, np.uint8)
    assert _crc(data) == py_crc32c(data)
    assert int(kernels.masked_crc32c(arr, 0, len(data), kernels.TABLES)) == py_masked(data)


def py_frame(record: bytes) -> bytes:
    header = struct.pack("<Q", len(record))
    return header + struct.pack("<I", py_masked(header)) + record + struct.pack("<I", py_masked(record))


# -- round trips -----------------------------------------------------------------

@given(st.lists(st.binary(max_size=2000), max_size=30))
def test_framing_matches_twin_and_round_trips(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("tf") / "r.tfrecord"
    with TFRecordWriter(path) as writer:
        writer.write_many(records)
    assert path.read_bytes() == b"".join(map(py_frame, records))
    assert list(read_tfrecords(path)) == records


@pytest.mark.parametrize("compression,suffix", [("GZIP", ".tfrecord.gz"), ("ZLIB", ".tfrecord.zlib"),
                                                (None, ".tfrecord")])
def test_compressed_round_trip(tmp_path, compression, suffix):
    rng = np.random.default_rng(1)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 200_000, 40)] + [b"", b"x" * 10]
    path = tmp_path / f"data{suffix}"
    with TFRecordWriter(path, compression=compression) as writer:
        for r in records:
            writer.write(memoryview(r))
    assert list(TFRecordReader(path)) == records  # compression from the name
    plain = tmp_path / "no_suffix"
    plain.write_bytes(path.read_bytes())
    assert list(TFRecordReader(plain, compression=compression)) == records
    if compression != "ZLIB":  # GZIP and uncompressed are recognised from their first bytes
        with open(plain, "rb") as f:
            assert list(TFRecordReader(f)) == records


def test_file_objects(tmp_path):
    path = tmp_path / "f.tfrecord.gz"
    with open(path, "wb") as f, TFRecordWriter(f, compression="GZIP") as writer:
        writer.write(b"abc")
    assert gzip.decompress(path.read_bytes()) == py_frame(b"abc")
    with open(path, "rb") as f:
        assert list(TFRecordReader(f, compression="GZIP")) == [b"abc"]


def test_sniff():
    assert sniff_compression(py_frame(b"hello")) == ""
    assert sniff_compression(gzip.compress(py_frame(b"hello"))) == "GZIP"
    assert sniff_compression(zlib.compress(py_frame(b"hello"))) == "ZLIB"
    assert sniff_compression(b"plain text that is not a frame") is None


@pytest.mark.parametrize("damaged", [
    b"\xf8" + bytes(15),  # passes zlib's header check; its window size is not one zlib allows
    b"\x78\x01" + bytes(14),  # a zlib header, then a stored block whose lengths disagree
    b"\x1f\x8b\x00" + bytes(13),  # gzip's magic, then no compression method gzip has
], ids=["zlib window size", "zlib stored block", "gzip method"])
def test_sniff_does_not_take_damage_for_a_compressed_start(damaged):
    """An uncompressed file whose first length is damaged can begin like a compressed stream; it is not one."""
    assert sniff_compression(damaged) is None


def test_bad_compression_name():
    with pytest.raises(ValueError):
        TFRecordWriter(os.devnull, compression="LZ4")


# -- TensorFlow's files -----------------------------------------------------------

@pytest.mark.parametrize("compression", list(FIXTURES))
def test_reads_files_tensorflow_wrote(compression):
    """Fixtures made by tf.io.TFRecordWriter (tests/data/make_tfrecord_fixtures.py)."""
    assert list(TFRecordReader(DATA / FIXTURES[compression])) == fixture_records()


def test_writes_the_bytes_tensorflow_writes(tmp_path):
    path = tmp_path / "mine.tfrecord"
    with TFRecordWriter(path) as writer:
        writer.write_many(fixture_records())
    assert path.read_bytes() == (DATA / FIXTURES[""]).read_bytes()


@pytest.mark.parametrize("compression", ["", "GZIP", "ZLIB"])
def test_against_tensorflow_in_this_run(tmp_path, compression):
    tf = require("tensorflow", "tf")
    rng = np.random.default_rng(7)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 70_000, 60)] + [b""]
    theirs = tmp_path / "theirs.tfrecord"
    with tf.io.TFRecordWriter(str(theirs), options=compression or None) as writer:
        for r in records:
            writer.write(r)
    assert list(TFRecordReader(theirs, compression=compression)) == records
    mine = tmp_path / "mine.tfrecord"
    with TFRecordWriter(mine, compression=compression) as writer:
        writer.write_many(records)
    got = [x.numpy() for x in tf.data.TFRecordDataset(str(mine), compression_type=compression)]
    assert got == records
    if not compression:
        assert mine.read_bytes() == theirs.read_bytes()


# -- damage -----------------------------------------------------------------

@pytest.fixture()
def good(tmp_path):
    records = [bytes([i]) * (100 + i) for i in range(50)]
    path = tmp_path / "good.tfrecord"
    with TFRecordWriter(path) as writer:
        writer.write_many(records)
    return path, records


def _offsets(records):
    out, pos = [], 0
    for r in records:
        out.append(pos)
        pos += 16 + len(r)
    return out


@pytest.mark.parametrize("where,what", [(0, "length"), (12, "data"), (8, "length")])
def test_damage_names_offset_and_record(good, tmp_path, where, what):
    path, records = good
    data = bytearray(path.read_bytes())
    at = _offsets(records)[7]
    data[at + where] ^= 0x10
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError) as err:
        list(TFRecordReader(bad))
    assert err.value.offset == at
    assert f"{what} CRC mismatch" in str(err.value) and "record 7" in str(err.value)
    reader = TFRecordReader(bad, skip_corrupt=True)
    assert list(reader) == records[:7] + records[8:]
    assert reader.skipped == 1 and reader.skipped_bytes == 16 + len(records[7])
    # Without verification the data CRC is not checked, the length CRC still is.
    if what == "data":
        assert len(list(TFRecordReader(bad, verify=False))) == len(records)


def test_truncated(good, tmp_path):
    path, records = good
    data = path.read_bytes()
    for cut in (5, 16 + 99, _offsets(records)[10] + 13):
        bad = tmp_path / "cut.tfrecord"
        bad.write_bytes(data[:cut])
        with pytest.raises(CorruptRecordError, match="ends inside a record"):
            list(TFRecordReader(bad))
        reader = TFRecordReader(bad, skip_corrupt=True)
        got = list(reader)
        assert got == records[:len(got)] and reader.skipped == 1


def test_damaged_gzip_stream(good, tmp_path):
    path, records = good
    packed = bytearray(gzip.compress(path.read_bytes()))
    bad = tmp_path / "bad.tfrecord.gz"
    bad.write_bytes(bytes(packed[: len(packed) // 2]))
    with pytest.raises(CorruptRecordError):
        list(TFRecordReader(bad))


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4))
@example(flips=[(0, 248)])  # the first length's low byte becomes 0xf8: its first two bytes pass for a zlib header
def test_skip_corrupt_never_invents(tmp_path_factory, flips):
    records = [bytes([i % 251]) * (i * 37 % 300) for i in range(60)]
    data = bytearray(b"".join(map(py_frame, records)))
    for at, x in flips:
        data[at % len(data)] ^= x
    path = tmp_path_factory.mktemp("flip") / "f.tfrecord"
    path.write_bytes(bytes(data))
    reader = TFRecordReader(path, skip_corrupt=True)
    got = list(reader)
    # Every record returned is an original one, in order.
    it = iter(records)
    assert all(any(r == o for o in it) for r in got)
    assert len(got) >= len(records) - 2 * len(flips)
