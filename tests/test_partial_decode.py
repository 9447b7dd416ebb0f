"""Random reads at group size > 1 decode a chunk only as far as the records they need.

A chunk first read for some of its records is decoded up to the last of them
where the codec can stop a stream early (zstd); a chunk needed further later
is decoded whole. Every read path must give the records written, in every
order, for every codec, with records cut by block headers.
"""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

import mmrecord
from mmrecord.blob import decompress_payload
from mmrecord.codecs import get_codec
from mmrecord.engine.native import decode_into
from mmrecord.errors import CorruptRecordError

CODECS = ["uncompressed", "zstd:3", "brotli:5", "snappy"]


def make_records(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([0, 7, 1500, 20_000, 70_000], size=n, p=[0.05, 0.2, 0.6, 0.1, 0.05])
    return [rng.integers(0, 4, size).astype(np.uint8).tobytes() for size in sizes]


def write(path, records, options):
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)
    return path


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("group", [7, 64])
@pytest.mark.parametrize("options", ["max_parallelism:0", "", "verify_checksums:false"])
def test_every_order_gives_the_records(tmp_path, codec, group, options):
    records = make_records(300)
    path = write(tmp_path / "f.array_record", records, f"group_size:{group},{codec}")
    order = np.random.default_rng(1).permutation(len(records)).tolist()
    with mmrecord.ArrayRecordReader(path, options) as r:
        assert [r[i] for i in order] == [records[i] for i in order]
    with mmrecord.ArrayRecordReader(path, options) as r:  # each chunk read front to back, one by one
        assert [r.read([i])[0] for i in range(len(records))] == records
    with mmrecord.ArrayRecordReader(path, options) as r:  # back to front: the first read needs the most
        assert [r[i] for i in reversed(range(len(records)))] == records[::-1]
    with mmrecord.ArrayRecordReader(path, options) as r:
        for lo in range(0, len(order), 37):
            batch = order[lo:lo + 37]
            assert r.read(batch) == [records[i] for i in batch]
            values, offsets = r.read_batch(batch)
            assert [values[offsets[k]:offsets[k + 1]].tobytes() for k in range(len(batch))] == \
                [records[i] for i in batch]
        assert r.read_all() == records


def test_a_chunk_is_decoded_only_as_far_as_needed_then_whole(tmp_path):
    records = make_records(256)
    path = write(tmp_path / "z.array_record", records, "group_size:256,zstd:3")
    with mmrecord.ArrayRecordReader(path) as r:
        assert r[3] == records[3]
        (chunk,) = r._cache.values()
        assert chunk.holds(3) and not chunk.holds(255)
        assert len(chunk.values) < sum(map(len, records))
        assert r[255] == records[255]  # needed further: decoded whole this time
        (chunk,) = r._cache.values()
        assert chunk.holds(255) and len(chunk.values) == sum(map(len, records))
        assert r[:] == records


@pytest.mark.parametrize("prefix", [0, 1, 1000, 99_999, 100_000])
def test_zstd_prefix(prefix):
    data = np.random.default_rng(2).integers(0, 8, 100_000).astype(np.uint8).tobytes()
    frame = zstandard.ZstdCompressor(level=3).compress(data)
    out = get_codec("zstd").decompress_prefix(frame, len(data), prefix)
    assert prefix <= len(out) <= len(data) and bytes(out) == data[:len(out)]


def test_a_short_zstd_stream_is_named():
    data = bytes(range(256)) * 400
    frame = zstandard.ZstdCompressor(level=3).compress(data)
    payload = np.frombuffer(frame[: len(frame) // 2], np.uint8)
    with pytest.raises(CorruptRecordError, match="values blob"):
        decompress_payload(get_codec("zstd").codec_id, payload, len(data), "values blob", len(data) - 10)


@pytest.mark.parametrize("codec", ["zstd:3", "brotli:5", "snappy"])
def test_damage_before_the_needed_record_is_named(tmp_path, codec):
    records = make_records(256, seed=3)
    path = write(tmp_path / "d.array_record", records, f"group_size:256,{codec}")
    data = bytearray(path.read_bytes())
    with mmrecord.ArrayRecordReader(path) as r:
        begin, limit = r._index.span(0)
    data[begin + 200] ^= 0x40  # inside the chunk's data, near its start
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path) as r:
        for read in (lambda: r[5], lambda: r.read([5]), lambda: r.read([9, 2])):
            with pytest.raises(CorruptRecordError):
                read()


@pytest.mark.parametrize("codec", ["snappy", "brotli:3", "zstd:3"])
@pytest.mark.parametrize("options", ["max_parallelism:0", "", "max_parallelism:1"])
def test_batches_go_through_kernels(tmp_path, codec, options):
    """A batch's chunks are decoded by kernels, each thread's last one kept in the cache (whole: the batch
    wants every record); chunks in the cache are not decoded again."""
    records = make_records(600, seed=5)
    path = write(tmp_path / "w.array_record", records, f"group_size:16,{codec}")
    order = np.random.default_rng(6).permutation(len(records)).tolist()
    with mmrecord.ArrayRecordReader(path, options) as r:
        assert r._kernel_codec is not None
        assert r.read(order) == [records[i] for i in order]
        assert r._cache and all(c.holds(c.num_records - 1) for c in r._cache.values())
        assert r.read(order[:100]) == [records[i] for i in order[:100]]
        for lo in range(0, len(records), 37):  # in order, batches not aligned with chunks
            assert r.read(lo, min(lo + 37, len(records))) == records[lo:lo + 37]
        assert r.read([3, 3, 599, 0]) == [records[i] for i in (3, 3, 599, 0)]
        assert r.read_all() == records


def test_zstd_batches_decode_prefixes():
    assert get_codec("zstd").decodes_prefix and get_codec("zstd").kernel_prefix_decoder() is not None
    for name in ("brotli", "snappy"):
        assert not get_codec(name).decodes_prefix and get_codec(name).kernel_prefix_decoder() is None


@pytest.mark.parametrize("options", ["max_parallelism:0", "", "verify_checksums:false"])
def test_a_batch_decodes_a_chunk_as_far_as_its_last_wanted_record(tmp_path, options):
    """zstd batches: the kernel's prefix decoder stops at the last record a chunk is wanted for; the
    cached prefix serves later batches within it, and a batch wanting more decodes the chunk whole."""
    records = make_records(256, seed=9)
    path = write(tmp_path / "p.array_record", records, "group_size:256,zstd:3")
    with mmrecord.ArrayRecordReader(path, options) as r:
        assert r.read([40, 3, 17]) == [records[i] for i in (40, 3, 17)]
        (chunk,) = r._cache.values()
        assert chunk.holds(40) and not chunk.holds(41)
        assert len(chunk.values) == sum(map(len, records[:41]))
        assert r.read([0, 40]) == [records[0], records[40]]  # from the cache
        assert r.read([200, 41]) == [records[200], records[41]]
        (chunk,) = r._cache.values()
        assert chunk.holds(255)
        assert r.read_all() == records


@pytest.mark.parametrize("prefix", [0, 1, 1000, 131_073, 299_999, 300_000])
def test_the_zstd_kernel_prefix_decoder(prefix):
    """``native.stream_adapter`` over libzstd's streaming decoder: exactly the bytes asked for, across blocks."""
    data = np.random.default_rng(4).integers(0, 8, 300_000).astype(np.uint8).tobytes()
    stream = zstandard.ZstdCompressor(level=3).compressobj(size=-1)  # no size in the frame, as written
    frame = np.frombuffer(stream.compress(data) + stream.flush(), np.uint8)
    function, context = get_codec("zstd").kernel_prefix_decoder()
    out = np.zeros(len(data) + 8, np.uint8)
    assert decode_into(function, context, out, 8, prefix, frame, 0, len(frame))
    assert out[8:8 + prefix].tobytes() == data[:prefix] and not out[8 + prefix:].any()
    assert not decode_into(function, context, out, 0, len(data) + 1, frame, 0, len(frame))  # more than it holds
    if prefix > 1000:  # the input ends before the bytes asked for, or turns to garbage
        assert not decode_into(function, context, out, 0, prefix, frame, 0, len(frame) * prefix // len(data) // 2)
        garbage = frame.copy()
        garbage[len(garbage) // 8:] = 0xAA
        assert not decode_into(function, context, out, 0, prefix, garbage, 0, len(garbage))
    assert decode_into(function, context, out, 0, len(data), frame, 0, len(frame))  # the context is fine after
    assert out[:len(data)].tobytes() == data


def test_batches_of_streams_the_kernel_decoder_refuses(tmp_path):
    """Large-window brotli (the reference writes it; the one-shot C decoder refuses it): the general path."""
    reference = pytest.importorskip("array_record.python.array_record_module")
    records = make_records(120, seed=7)
    path = tmp_path / "wide.array_record"
    writer = reference.ArrayRecordWriter(str(path), "group_size:8,brotli:5,window_log:25")
    for record in records:
        writer.write(record)
    writer.close()
    order = np.random.default_rng(8).permutation(len(records)).tolist()
    for options in ("", "max_parallelism:0", "verify_checksums:false"):
        with mmrecord.ArrayRecordReader(path, options) as r:
            assert r.read(order) == [records[i] for i in order]
            assert r.read_all() == records
