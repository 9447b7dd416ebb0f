"""A valid chunk in the wrong place: every read compares the chunk it finds with the footer's entry.

Riegeli's hashes cover a chunk's bytes, not where it lies, so a whole block
copied, swapped or shifted leaves every hash intact. The footer lists each
chunk's record count and decoded size, and the next chunk's offset says where
it must end: a chunk that disagrees is named, never returned as another record.
"""

from __future__ import annotations

import numpy as np
import pytest

import mmrecord
from mmrecord.engine.blocks import BLOCK_SIZE
from mmrecord.errors import CorruptRecordError


def _records(n: int, seed: int = 0) -> list[bytes]:
    """Records of distinct sizes: a chunk's decoded size tells it from every other."""
    rng = np.random.default_rng(seed)
    sizes = rng.permutation(np.arange(100, 100 + 37 * n, 37))
    return [bytes(rng.integers(97, 105, int(size), dtype=np.uint8)) for size in sizes]


def _every_read(path, options: str) -> dict[str, object]:
    """Each read path's result, or the exception it raised."""
    reader = mmrecord.ArrayRecordReader(path, options)
    verify = "false" if "verify_checksums:false" in options else "true"
    source = mmrecord.ArrayRecordDataSource([path], {"verify_checksums": verify})
    n = len(reader)

    def cursor() -> list[bytes]:
        reader.seek(0)
        return [reader.read() for _ in range(n)]

    ways = {
        "r[i]": lambda: [reader[i] for i in range(n)],
        "read_batch": lambda: (lambda v, o: [v[o[k]:o[k + 1]].tobytes() for k in range(n)])(
            *reader.read_batch(np.arange(n))),
        "r[list]": lambda: reader[list(range(n))],
        "slice": lambda: reader[0:n],
        "cursor": cursor,
        "iteration": lambda: list(reader),
        "read_all": reader.read_all,
        "ds[i]": lambda: [source[i] for i in range(n)],
        "ds.__getitems__": lambda: source.__getitems__(list(range(n))),
    }
    out = {}
    for name, way in ways.items():
        try:
            out[name] = way()
        except CorruptRecordError as err:
            out[name] = err
    reader.close()
    return out


@pytest.mark.parametrize("codec", ["uncompressed", "zstd:1", "snappy", "brotli:1"])
@pytest.mark.parametrize("verify", ["", "verify_checksums:false"])
def test_block_copied_over_another_in_a_padded_file(tmp_path, codec, verify):
    records = _records(6)
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec},pad_to_block_boundary:true") as writer:
        writer.write_many(records)
    data = bytearray(path.read_bytes())
    data[2 * BLOCK_SIZE:3 * BLOCK_SIZE] = data[3 * BLOCK_SIZE:4 * BLOCK_SIZE]  # record 3's chunk over record 2's
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path, verify) as reader:
        assert [reader[i] for i in (0, 1, 3, 4, 5)] == [records[i] for i in (0, 1, 3, 4, 5)]
        with pytest.raises(CorruptRecordError) as caught:
            reader[2]
        assert caught.value.chunk_index == 2
        assert f"{len(records[3])} bytes of records, the footer says {len(records[2])}" in str(caught.value)
    for way, got in _every_read(path, verify).items():
        assert isinstance(got, CorruptRecordError), way


@pytest.mark.parametrize("verify", ["", "verify_checksums:false"])
def test_chunks_swapped_in_place_end_in_the_wrong_place(tmp_path, verify):
    """Two chunks of equal record size but different stored size, swapped: positions tell them apart."""
    rng = np.random.default_rng(1)
    records = [b"x" * 1000, rng.bytes(1000), b"a" * 1000, b"y" * 1000]  # the second chunk is the longer
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:1,zstd:1") as writer:
        writer.write_many(records)
    with mmrecord.ArrayRecordReader(path) as reader:
        begins = reader._index.offsets.tolist() + [reader._footer_offset]
    data = bytearray(path.read_bytes())
    first, second, end = begins[1], begins[2], begins[3]
    data[first:end] = data[second:end] + data[first:second]
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path, verify) as reader:
        assert reader[0] == records[0] and reader[3] == records[3]
        with pytest.raises(CorruptRecordError, match=f"the footer has the next chunk begin at byte {second}"):
            reader[1]
        with pytest.raises(CorruptRecordError):
            reader[2]
    for way, got in _every_read(path, verify).items():
        assert isinstance(got, CorruptRecordError), way


def test_group_chunks_are_checked_against_the_footer(tmp_path):
    """Group size 7, padded: a copied chunk of another group is named by its decoded size."""
    records = _records(40)
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:7,zstd:1,pad_to_block_boundary:true") as writer:
        writer.write_many(records)
    data = bytearray(path.read_bytes())
    data[BLOCK_SIZE:2 * BLOCK_SIZE] = data[4 * BLOCK_SIZE:5 * BLOCK_SIZE]
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path) as reader:
        assert reader[0:7] == records[0:7]
        with pytest.raises(CorruptRecordError, match="the footer says"):
            reader[9]
    for way, got in _every_read(path, "").items():
        assert isinstance(got, CorruptRecordError), way


def test_decoded_sizes_past_4_gib_are_kept_whole(tmp_path):
    """A chunk never matches a footer size that differs from its own only past 32 bits."""
    path = tmp_path / "f.array_record"
    writer = mmrecord.ArrayRecordWriter(path, "group_size:1,uncompressed")
    writer.write_many([b"abc", b"defg"])
    writer._flush_records()
    writer._decoded[0] += 1 << 32  # what the footer will say of chunk 0
    writer.close()
    with mmrecord.ArrayRecordReader(path) as reader:
        assert int(reader._index.sizes[0]) == 3 + (1 << 32)
        assert reader[1] == b"defg"
        with pytest.raises(CorruptRecordError, match=f"3 bytes of records, the footer says {3 + (1 << 32)}"):
            reader[0]
