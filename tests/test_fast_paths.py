"""Every fast read path against the plain one: kernels that decode, batch parts, the general fallback.

Files with one record per chunk are read by kernels (copied when
uncompressed, decoded by the codec's kernel decoder: libzstd, the C brotli
library, mmrecord's snappy kernel) unless a chunk is cut by a block header,
uses a codec without a kernel decoder, holds a stream the kernel decoder
refuses, or is damaged; those records take the general path. Each case here
reads the same records every way and compares them with what was written.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import mmrecord
from mmrecord.engine.memory import fetch_add
from mmrecord.engine.simple import indexed_record_into
from mmrecord.errors import CorruptRecordError
from mmrecord.reader import SCRATCH_LIMIT

# Sizes around the block (64 KiB) and scratch (1 MiB) limits, and many small ones.
SIZES = [0, 1, 1500, 65_512, 65_536, 70_000, 5, SCRATCH_LIMIT + 3, 0, 300] + [1500 + i for i in range(200)]


def make_records(sizes, seed=0):
    rng = np.random.default_rng(seed)
    words = [b"alpha ", b"beta ", b"gamma ", b"delta ", b"\x00\xff"]
    return [b"".join(words[w] for w in rng.integers(0, len(words), n // 5 + 1))[:n] for n in sizes]


def read_every_way(path, options=""):
    """The records of ``path`` read by each entry point, as lists of ``bytes``."""
    with mmrecord.ArrayRecordReader(path, options) as r:
        n = len(r)
        order = np.random.default_rng(1).permutation(n)
        values, offsets = r.read_batch(order)
        batch = [None] * n
        for k, i in enumerate(order.tolist()):
            batch[i] = values[offsets[k]:offsets[k + 1]].tobytes()
        shuffled = [None] * n
        for i, record in zip(order.tolist(), r[order]):
            shuffled[i] = record
        sought = [None] * n
        for i in order.tolist():
            r.seek(i)
            sought[i] = r.read()
        r.seek(0)
        return {
            "read()": [r.read() for _ in range(n)],
            "seek(i); read()": sought,
            "r[i]": [r[i] for i in range(n)],
            "read([i])": [r.read([i])[0] for i in range(n)],
            "r[-i]": [r[i - n] for i in range(n)],
            "read(indices)": shuffled,
            "read_batch": batch,
            "read_all": r.read_all(),
            "iteration": list(r),
            "small batches": [rec for lo in range(0, n, 3) for rec in r[lo:lo + 3]],
        }


@pytest.mark.parametrize("codec", ["uncompressed", "zstd:3", "brotli:5", "snappy"])
@pytest.mark.parametrize("pad", [False, True])
def test_every_path_gives_the_records(tmp_path, codec, pad):
    records = make_records(SIZES)
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec},pad_to_block_boundary:{str(pad).lower()}") as w:
        w.write_many(records)
    for options in ("", "max_parallelism:1", "verify_checksums:false"):
        for way, got in read_every_way(path, options).items():
            assert got == records, (way, options)


@pytest.mark.parametrize("codec", ["uncompressed", "zstd:1", "snappy", "brotli:1"])
def test_records_cut_by_block_headers(tmp_path, codec):
    """Records near 64 KiB cross block headers: the batch pass leaves them out, r[i]'s kernel reads them."""
    records = make_records([40_000] * 20 + [10] * 100)
    path = tmp_path / "cut.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec}") as w:
        w.write_many(records)
    with mmrecord.ArrayRecordReader(path) as r:
        ok = r._spans(np.arange(len(r)), parallel=False)[0]
        assert not ok.all() and ok.any()  # both kinds are present
        out = np.empty(1 << 17, np.uint8)
        for i in np.flatnonzero(~ok).tolist():
            size = indexed_record_into(r._src, r._index.chunks, r._index.footer_offset, i, True,
                                       r._kernel_codec_id, *r._kernel_decoder(), out)
            assert out[:size].tobytes() == records[i]
    for way, got in read_every_way(path).items():
        assert got == records, way


@pytest.mark.parametrize("codec", ["zstd:3", "snappy", "brotli:3"])
@pytest.mark.parametrize("verify", [True, False])
def test_damage_in_a_batch_is_named(tmp_path, codec, verify):
    """A damaged payload in a batch raises CorruptRecordError, checked or not, never wrong bytes."""
    records = make_records([3000] * 300)
    path = tmp_path / "d.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec}") as w:
        w.write_many(records)
    with mmrecord.ArrayRecordReader(path) as r:
        _, _, pos, stop, _ = r._spans(np.array([150]), parallel=False)
    data = bytearray(path.read_bytes())
    for at in range(int(pos[0]) + 20, int(stop[0]) - 5, 7):
        data[at] ^= 0x5A
    path.write_bytes(bytes(data))
    with mmrecord.ArrayRecordReader(path, "" if verify else "verify_checksums:false") as r:
        assert r[149] == records[149] and r[151] == records[151]
        for read in (lambda: r[150], lambda: r[np.arange(300)], lambda: r.read_batch(np.arange(300)),
                     lambda: r.read_all(), lambda: list(r), lambda: (r.seek(150), r.read())):
            with pytest.raises(CorruptRecordError):
                read()


@pytest.mark.parametrize("codec", ["zstd:3", "snappy", "brotli:3"])
def test_every_flipped_payload_byte(tmp_path, codec):
    """Each byte of a record's payload flipped in turn: checked, every read path raises; unchecked,
    none crashes, and a record that comes back has its size (a flipped literal byte is not
    detectable without the hash: none of these codecs checksums its output)."""
    records = make_records([2000] * 8)
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec}") as w:
        w.write_many(records)
    with mmrecord.ArrayRecordReader(path) as r:
        _, _, pos, stop, _ = r._spans(np.array([4]), parallel=False)
    original = path.read_bytes()
    for at in range(int(pos[0]), int(stop[0])):
        data = bytearray(original)
        data[at] ^= 0xFF
        path.write_bytes(bytes(data))
        for options in ("", "verify_checksums:false"):
            with mmrecord.ArrayRecordReader(path, options) as r:
                for read in (lambda: [r[4]], lambda: r[np.arange(8)][4:5], lambda: r.read_all()[4:5]):
                    try:
                        got = read()
                    except CorruptRecordError:
                        continue
                    assert options and len(got[0]) == len(records[4])


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 17, 1500, 4095, 4096, 65_535, 65_536, 100_000]),
                      min_size=1, max_size=40),
       codec=st.sampled_from(["uncompressed", "zstd:1", "brotli:1", "snappy"]))
def test_random_files(tmp_path_factory, sizes, codec):
    records = make_records(sizes, seed=len(sizes))
    path = tmp_path_factory.mktemp("h") / "h.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec}") as w:
        w.write_many(records)
    for way, got in read_every_way(path).items():
        assert got == records, way


@njit(nogil=True)
def _count_up(counter, times):
    address = counter.ctypes.data
    for _ in range(times):
        fetch_add(address, 1)


def test_fetch_add_is_atomic():
    """Batch passes share work through fetch_add: no increment may be lost between threads."""
    counter = np.zeros(1, np.int64)
    threads = [threading.Thread(target=_count_up, args=(counter, 200_000)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter[0] == 800_000


@pytest.mark.parametrize("codec,module", [("zstd:3", "zstd"), ("brotli:3", "brotli")])
def test_without_a_kernel_decoder(tmp_path, monkeypatch, codec, module):
    """zstandard without its cffi build, brotli without its C entry point: every path still reads."""
    import importlib

    monkeypatch.setattr(importlib.import_module(f"mmrecord.codecs.{module}"), "_DECODE_FUNCTION", 0)
    assert mmrecord.codecs.get_codec(module).kernel_decoder() is None
    assert mmrecord.codecs.get_codec(module).kernel_prefix_decoder() is None
    records = make_records(SIZES[:40])
    path = tmp_path / "z.array_record"
    with mmrecord.ArrayRecordWriter(path, f"group_size:1,{codec}") as w:
        w.write_many(records)
    for way, got in read_every_way(path).items():
        assert got == records, way


def test_streams_the_kernel_decoder_refuses(tmp_path):
    """Large-window brotli (the reference writes it; the one-shot C decoder refuses it) reads every way."""
    reference = pytest.importorskip("array_record.python.array_record_module")
    records = make_records([3000, 0, 70_000, 5] + [1500] * 100)
    path = tmp_path / "wide.array_record"
    writer = reference.ArrayRecordWriter(str(path), "group_size:1,brotli:5,window_log:25")
    for record in records:
        writer.write(record)
    writer.close()
    for options in ("", "verify_checksums:false"):
        for way, got in read_every_way(path, options).items():
            assert got == records, (way, options)
