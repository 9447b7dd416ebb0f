"""Byte compatibility both ways: the reference reads mmrecord's files and mmrecord reads the reference's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import reference_reader, reference_writer

import mmrecord

CODECS = ["uncompressed", "snappy", "brotli:3", "zstd:3"]
GROUP_SIZES = [1, 2, 7, 1000]
EDGE_SIZES = [0, 1, 65512, 65536, 200_000, 3 << 20]


def _edge_records() -> list[bytes]:
    """Every edge size, between small records that shift where chunk headers fall."""
    rng = np.random.default_rng(7)
    records = []
    for n, filler in itertools.product(EDGE_SIZES, [3, 40, 1000]):
        records.append(rng.bytes(n) if n % 2 else bytes(rng.integers(0, 4, n, np.uint8)))
        records.append(rng.bytes(filler))
    return records


EDGE_RECORDS = _edge_records()


def _write_mmrecord(path, options, records):
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)


def _write_one_by_one(path, options, records):
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        for record in records:
            writer.write(record)


def _write_reference(path, options, records):
    writer = reference_writer(path, options)
    for r in records:
        writer.write(r)
    writer.close()


@pytest.mark.parametrize("pad", ["false", "true"])
@pytest.mark.parametrize("group_size", GROUP_SIZES)
@pytest.mark.parametrize("codec", CODECS)
def test_both_directions(tmp_path, codec, group_size, pad):
    options = f"group_size:{group_size},{codec},pad_to_block_boundary:{pad}"
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    _write_mmrecord(ours, options, EDGE_RECORDS)
    _write_reference(theirs, options, EDGE_RECORDS)

    reader = reference_reader(ours)
    assert reader.ok() and reader.num_records() == len(EDGE_RECORDS)
    assert reader.read_all() == EDGE_RECORDS
    assert reader.writer_options_string() == reference_reader(theirs).writer_options_string()

    with mmrecord.ArrayRecordReader(theirs) as mine:
        assert mine.read_all() == EDGE_RECORDS
        order = np.random.default_rng(group_size).permutation(len(EDGE_RECORDS))
        assert mine.read(order) == [EDGE_RECORDS[i] for i in order]
    if codec == "uncompressed":
        assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("options", ["", "zstd:19,window_log:31", "brotli:5,window_log:25", "zstd:-5",
                                     "brotli:11,window_log:16", "group_size:65536"])
def test_reads_reference_codec_settings(tmp_path, options):
    rng = np.random.default_rng(1)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 70_000, 40)] + [b"x" * (5 << 20)]
    path = tmp_path / "ref.array_record"
    _write_reference(path, options, records)
    assert mmrecord.ArrayRecordReader(path).read_all() == records


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.binary(max_size=3000), max_size=60),
    group_size=st.integers(1, 9),
    codec=st.sampled_from(CODECS),
    pad=st.booleans(),
)
def test_random_round_trips_match_reference(tmp_path_factory, records, group_size, codec, pad):
    tmp = tmp_path_factory.mktemp("rt")
    options = f"group_size:{group_size},{codec},pad_to_block_boundary:{str(pad).lower()}"
    _write_mmrecord(tmp / "ours", options, records)
    assert reference_reader(tmp / "ours").read_all() == records
    _write_reference(tmp / "theirs", options, records)
    assert mmrecord.ArrayRecordReader(tmp / "theirs").read_all() == records


def _small_records(seed: int, largest: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 1, 30, 700, 1500, largest], 3000)
    return [bytes(rng.integers(97, 97 + int(rng.integers(1, 26)), int(n), np.uint8)) for n in sizes]


@pytest.mark.parametrize("options", ["group_size:1,zstd:3", "group_size:1,zstd:1", "group_size:1,zstd:19,window_log:15",
                                     "group_size:1,zstd:-5", "group_size:2,zstd:3"])
@pytest.mark.parametrize("large", [False, True])
def test_zstd_jobs_of_small_blobs_are_the_reference_bytes(tmp_path, options, large):
    """Jobs whose blobs are all under 4096 bytes are compressed in one kernel call (``ZSTD_compress2``,
    the size pledged); a job with a larger blob goes blob by blob. Both make the reference's file."""
    grouped = "group_size:1," not in options
    records = _small_records(len(options), 2000 if grouped else 4095)
    if large:
        records[1000] = b"x" * 5000 + records[1000] * 20
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    _write_mmrecord(ours, options, records)
    _write_reference(theirs, options, records)
    assert ours.read_bytes() == theirs.read_bytes()


# Records of chunk values around 4096 bytes, the reference writer's first buffer: records that fill it
# exactly reach libzstd in one call (size in the frame); one record of 4096 bytes, or 4097 bytes in all,
# is streamed.
VALUES_AROUND_4096 = [[2048, 2048], [4095, 1], [1, 4095], [1000, 1000, 1000, 1000, 96], [3000, 1096, 0],
                      [2] * 2048, [4096], [0, 4096], [4096, 0], [2048, 2049], [4096, 1], [1, 4096],
                      [4000, 96, 1], [100, 5000]]


@pytest.mark.parametrize("sizes", VALUES_AROUND_4096, ids=lambda sizes: f"{len(sizes)}x{max(sizes)}-{sum(sizes)}")
@pytest.mark.parametrize("write", [_write_mmrecord, _write_one_by_one], ids=["write_many", "write"])
def test_zstd_values_of_4096_bytes_are_the_reference_bytes(tmp_path, sizes, write):
    rng = np.random.default_rng(len(sizes))
    chunk = [bytes(rng.integers(97, 106, n, np.uint8)) for n in sizes]
    records = chunk * 3  # three chunks of those records
    options = f"group_size:{len(sizes)},zstd:3"
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    write(ours, options, records)
    _write_reference(theirs, options, records)
    assert ours.read_bytes() == theirs.read_bytes()


def _texts(seed: int, sizes: list[int]) -> list[bytes]:
    """Records of words, ``sizes`` bytes each."""
    rng = np.random.default_rng(seed)
    words = np.array([bytes(rng.integers(97, 123, int(n), np.uint8)) + b" " for n in rng.integers(2, 10, 500)])
    return [b"".join(words[rng.integers(0, len(words), size // 4 + 1)].tolist())[:size] for size in sizes]


BROTLI_FIRST_RECORDS = [[], [2 << 20], [0, 1 << 20], [(1 << 20) - 1], [3, 3 << 20], [70_000], [30_000, 1 << 20],
                        [5000, 900_000]]


def _brotli_case_id(value) -> str:
    return ("+".join(map(str, value)) or "none") if isinstance(value, list) else f"q{value}"


@pytest.mark.parametrize("quality,first", [(6, first) for first in BROTLI_FIRST_RECORDS] +
                         [(4, []), (4, [2 << 20]), (9, []), (9, [2 << 20]), (11, [])], ids=_brotli_case_id)
def test_brotli_values_past_1_mib_are_the_reference_bytes(tmp_path, quality, first):
    """Values of 1.5 MB and more, written record by record: the reference's encoder expects the
    bytes it holds when its first block fills, which a long record in front changes."""
    records = _texts(quality, first + [1500] * 1000)
    options = f"group_size:{len(records)},brotli:{quality}"
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    _write_mmrecord(ours, options, records)
    _write_reference(theirs, options, records)
    assert ours.read_bytes() == theirs.read_bytes()


def test_brotli_footer_past_1_mib_is_the_reference_bytes(tmp_path):
    """150,000 chunks: a footer of 1.2 MB of entries, written one by one."""
    records = [b"event %d" % i for i in range(150_000)]
    options = "group_size:1,brotli:6"
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    _write_mmrecord(ours, options, records)
    _write_reference(theirs, options, records)
    assert ours.read_bytes() == theirs.read_bytes()
