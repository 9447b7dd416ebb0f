"""Tests of the built-in codecs and the codec registry.

The byte-identity tests write files with the reference package
(``array_record``) and look for mmrecord's compressed blobs inside them.
"""

from __future__ import annotations

import ctypes
import struct
from concurrent.futures import ThreadPoolExecutor

import brotli
import numpy as np
import pytest
import zstandard
from array_record.python.array_record_module import ArrayRecordWriter as ReferenceWriter

from mmrecord.codecs import (
    ENTRY_POINT_GROUP,
    Codec,
    available_codecs,
    get_codec,
    get_codec_by_id,
    register_codec,
)
from mmrecord.engine.native import decode_into, lazy_cfunc
from mmrecord.engine.varint import encode_varint as varint
from mmrecord.errors import (
    InvalidOptionsError,
    UnknownCodecError,
    UnsupportedFeatureError,
)
from support import random_bytes, text_bytes

BUILTINS = {"uncompressed": 0x00, "brotli": 0x62, "zstd": 0x7A, "snappy": 0x73}
LEVELS = {"uncompressed": [None], "zstd": [-5, 1, 3, 19], "brotli": [0, 6, 11], "snappy": [None, 2]}
SIZES = [0, 1, 4095, 4096, 65536, 1 << 20]

# The array_record 0.8.6 wheel bundles libzstd 1.5.6; libzstd 1.5.7 splits blocks
# differently at levels 0, 3 and 4, so their frames match only with 1.5.6.
ZSTD_DFAST_MATCHES = zstandard.ZSTD_VERSION == (1, 5, 6)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def logical_bytes(path) -> bytes:
    """The file without its 24-byte block headers (one at every 64 KiB)."""
    data = path.read_bytes()
    return b"".join(data[i + 24 : i + 65536] for i in range(0, len(data), 65536))


def write_reference(path, options: str, records: list[bytes]):
    writer = ReferenceWriter(str(path), options)
    for record in records:
        writer.write(record)
    writer.close()
    return logical_bytes(path)


# --- round trips -------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", list(BUILTINS))
def test_round_trip(name, size):
    codec = get_codec(name)
    for data in (random_bytes(size, size), text_bytes(size, size)):
        for level in LEVELS[name]:
            compressed = codec.compress(data, level, None)
            assert isinstance(compressed, bytes)
            out = codec.decompress(compressed, size)
            assert isinstance(out, bytes) and out == data


@pytest.mark.parametrize("name", list(BUILTINS))
def test_accepts_any_bytes_like(name):
    codec = get_codec(name)
    data = text_bytes(5000, 1)
    compressed = codec.compress(data, None, None)
    for wrap in (memoryview, bytearray, lambda b: np.frombuffer(b, np.uint8)):
        assert codec.compress(wrap(data), None, None) == compressed
        assert codec.decompress(wrap(compressed), len(data)) == data
    assert codec.decompress(memoryview(b"xx" + compressed)[2:], len(data)) == data


@pytest.mark.parametrize("name", list(BUILTINS))
@pytest.mark.parametrize("size", [0, 3000, 100_000])
def test_wrong_decoded_size_raises(name, size):
    codec = get_codec(name)
    compressed = codec.compress(text_bytes(size, 2), None, None)
    for wrong in {max(size - 1, 0), size + 1} - {size}:
        with pytest.raises(Exception):
            codec.decompress(compressed, wrong)


@pytest.mark.parametrize("window_log", [10, 15, 20, 24, 31])
def test_zstd_window_logs_round_trip(window_log):
    codec = get_codec("zstd")
    data = text_bytes(200_000, window_log)
    assert codec.decompress(codec.compress(data, 3, window_log), len(data)) == data


# --- exact bytes (FORMAT.md 4.3 and 4.2) --------------------------------------

# Record b"def" in a one-record chunk: (sizes blob, values blob), each being the
# payload after the Riegeli length varint.
FORMAT_EXAMPLES = {
    ("zstd", 3): ("28b52ffd2001090000" "03", "28b52ffd2003190000" "646566"),
    ("brotli", 6): ("0b00800303", "0b0180646566" "03"),
    ("snappy", None): ("010003", "0308646566"),
    ("uncompressed", None): ("03", "646566"),
}


@pytest.mark.parametrize("name,level", list(FORMAT_EXAMPLES))
def test_format_example_bytes(name, level):
    codec = get_codec(name)
    sizes_blob, values_blob = FORMAT_EXAMPLES[name, level]
    assert codec.compress(b"\x03", level, None).hex() == sizes_blob
    assert codec.compress(b"def", level, None).hex() == values_blob
    assert codec.decompress(bytes.fromhex(values_blob), 3) == b"def"


def test_zstd_content_size_only_below_4096():
    codec = get_codec("zstd")
    assert zstandard.frame_content_size(codec.compress(bytes(4095), None, None)) == 4095
    assert zstandard.frame_content_size(codec.compress(bytes(4096), None, None)) == -1


@pytest.mark.parametrize("sizes,content_size", [([2048, 2048], 4096), ([4095, 1], 4096), ([4096], -1),
                                                ([0, 4096], -1), ([2048, 2049], -1), ([4095], 4095)])
def test_zstd_values_that_fill_the_writer_buffer_record_their_size(sizes, content_size):
    """A chunk's values of exactly 4096 bytes, in records all shorter than that, get their size in the
    frame (the reference's writer hands them to libzstd in one call); one record that long does not."""
    from mmrecord.chunk import encode_record_values

    records = [text_bytes(n, n) for n in sizes]
    values = np.frombuffer(b"".join(records), np.uint8)
    made = encode_record_values(values, np.array(sizes, np.uint64), np.array([0, len(sizes)], np.int64),
                                get_codec("zstd"), None, None)
    data = b"".join(map(ctypes.string_at, made.piece_at.tolist(), made.piece_size.tolist()))
    # codec byte, varint(len(sizes blob)), sizes blob, varint(len(values)), values frame
    assert data[0] == 0x7A and data[1] < 0x80
    after_sizes = 2 + data[1]
    assert data[after_sizes:after_sizes + 2] == varint(sum(sizes))
    assert zstandard.frame_content_size(data[after_sizes + 2:]) == content_size


def test_empty_blobs():
    """FORMAT.md pitfall 8: a values blob that decompresses to zero bytes."""
    assert get_codec("zstd").compress(b"", None, None).hex() == "28b52ffd2000010000"
    assert get_codec("snappy").compress(b"", None, None).hex() == "00"
    assert get_codec("uncompressed").compress(b"", None, None) == b""


# --- byte identity with the reference writer ----------------------------------

REFERENCE_RECORDS = [
    random_bytes(10, 1),
    text_bytes(3000, 2),
    random_bytes(5000, 3),
    text_bytes(5000, 4),
    random_bytes(100_000, 5),
]
# Compressible and at least 16 KiB: where libzstd 1.5.7's dfast levels diverge.
LARGE_TEXT = text_bytes(100_000, 6)


def reference_cases():
    """(options, codec name, level, window_log, records)."""
    # window_log 10 with records larger than the window: where a one-shot compression call
    # would make other frames than the reference's stream.
    zstd = [(level, wl) for level in (1, 3, 19) for wl in (None, 15, 10)] + [(-5, None), (9, 27)]
    for level, wl in zstd:
        options = f"zstd:{level}" + (f",window_log:{wl}" if wl else "")
        yield pytest.param(options, "zstd", level, wl, REFERENCE_RECORDS, id=options)
        marks = pytest.mark.xfail(
            level == 3 and not ZSTD_DFAST_MATCHES,
            reason="the reference bundles libzstd 1.5.6; dfast output changed in 1.5.7",
        )
        yield pytest.param(
            options, "zstd", level, wl, [LARGE_TEXT], id=options + "-large-text", marks=marks
        )
    for level in (1, 6, 11):
        for wl in (None, 20):
            options = f"brotli:{level}" + (f",window_log:{wl}" if wl else "")
            records = REFERENCE_RECORDS + [LARGE_TEXT]
            yield pytest.param(options, "brotli", level, wl, records, id=options)
    yield pytest.param("brotli:6,window_log:10", "brotli", 6, 10, [LARGE_TEXT], id="brotli-wl10")
    yield pytest.param("brotli:6,window_log:24", "brotli", 6, 24, [LARGE_TEXT], id="brotli-wl24")
    for level in (1, 2):
        yield pytest.param(f"snappy:{level}", "snappy", level, None, REFERENCE_RECORDS + [LARGE_TEXT],
                           id=f"snappy:{level}")


@pytest.mark.parametrize("options,name,level,window_log,records", list(reference_cases()))
def test_byte_identity_with_reference(tmp_path, options, name, level, window_log, records):
    file_bytes = write_reference(tmp_path / "ref.array_record", f"group_size:1,{options}", records)
    codec = get_codec(name)
    for record in records:
        blob = codec.compress(record, level, window_log)
        assert varint(len(record)) + blob in file_bytes, f"record of {len(record)} bytes"


def first_values_payload(file_bytes: bytes) -> tuple[int, int, bytes]:
    """(codec byte, decoded size, values payload) of the first data chunk.

    The first data chunk follows the 64-byte signature chunk (40 logical bytes);
    its simple-chunk data is: codec byte, varint sizes_len, sizes blob, values
    blob = varint(decoded size) + payload.
    """
    (data_size,) = struct.unpack_from("<Q", file_bytes, 40 + 8)
    data = file_bytes[80 : 80 + data_size]
    sizes_len, pos = read_varint(data, 1)
    decoded_size, pos = read_varint(data, pos + sizes_len)
    return data[0], decoded_size, data[pos:]


@pytest.mark.parametrize("window_log", [25, 30])
def test_brotli_reads_reference_large_window(tmp_path, window_log):
    record = text_bytes(300_000, 7)
    file_bytes = write_reference(
        tmp_path / "ref.array_record", f"group_size:1,brotli:6,window_log:{window_log}", [record]
    )
    codec_id, decoded_size, payload = first_values_payload(file_bytes)
    assert (codec_id, decoded_size) == (0x62, len(record))
    with pytest.raises(brotli.error):  # the premise: the brotli module cannot read it
        brotli.decompress(payload)
    assert get_codec_by_id(codec_id).decompress(payload, decoded_size) == record
    with pytest.raises(Exception):
        get_codec("brotli").decompress(payload, decoded_size - 1)


def test_zstd_reads_reference_window_log_31(tmp_path):
    record = text_bytes(300_000, 8)
    file_bytes = write_reference(tmp_path / "ref.array_record", "group_size:1,zstd:3,window_log:31", [record])
    codec_id, decoded_size, payload = first_values_payload(file_bytes)
    assert zstandard.get_frame_parameters(payload).window_size == 1 << 31
    assert get_codec_by_id(codec_id).decompress(payload, decoded_size) == record


@pytest.mark.parametrize("window_log", [25, 30])
def test_brotli_large_window_compress_unsupported(window_log):
    with pytest.raises(UnsupportedFeatureError, match="large-window"):
        get_codec("brotli").compress(b"data", 6, window_log)


def test_brotli_bomb_is_bounded():
    """A stream far longer than its decoded size fails without inflating fully."""
    bomb = brotli.compress(bytes(64 << 20), quality=1)
    with pytest.raises(ValueError):
        get_codec("brotli").decompress(bomb, 100)


# --- registry -------------------------------------------------------------------


def test_builtin_attributes():
    zstd, brotli_, snappy, none = (get_codec(n) for n in ("zstd", "brotli", "snappy", "uncompressed"))
    assert (zstd.level_range, zstd.default_level, zstd.level_in_options) == ((-131072, 22), 3, True)
    assert (zstd.window_log_range, zstd.default_window_log) == ((10, 31), 20)
    assert (brotli_.level_range, brotli_.default_level) == ((0, 11), 6)
    assert (brotli_.window_log_range, brotli_.default_window_log) == ((10, 30), None)
    assert (snappy.level_range, snappy.level_in_options, snappy.window_log_range) == ((1, 2), False, None)
    assert (none.level_range, none.default_level, none.window_log_range) == (None, None, None)


def test_lookup_by_name_and_id():
    codecs = available_codecs()
    assert set(BUILTINS) <= set(codecs)
    for name, codec_id in BUILTINS.items():
        codec = get_codec(name)
        assert isinstance(codec, Codec)
        assert (codec.name, codec.codec_id) == (name, codec_id)
        assert get_codec_by_id(codec_id) is codec is codecs[name]


def test_unknown_name():
    with pytest.raises(InvalidOptionsError) as info:
        get_codec("gzip")
    assert info.value.token == "gzip"
    for name in BUILTINS:
        assert name in str(info.value)


@pytest.mark.parametrize("codec_id,shown", [(0x4C, "0x4c ('L')"), (0x01, "0x01:"), (0xFF, "0xff:")])
def test_unknown_id(codec_id, shown):
    with pytest.raises(UnknownCodecError) as info:
        get_codec_by_id(codec_id)
    assert info.value.codec_id == codec_id
    assert shown in str(info.value)
    assert ENTRY_POINT_GROUP == "mmrecord.codecs"
    assert "mmrecord.codecs" in str(info.value) and "plugin" in str(info.value)


def test_builtins_come_from_entry_points():
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in BUILTINS:
        module, _, cls = declared[name].partition(":")
        assert type(get_codec(name)).__module__ == module
        assert type(get_codec(name)).__name__ == cls


class _Reverse(Codec):
    """A toy codec for registry tests."""

    codec_id = 0xF0
    name = "test-reverse"

    def compress(self, data, level=None, window_log=None):
        return bytes(data)[::-1]

    def decompress(self, data, decoded_size):
        out = bytes(data)[::-1]
        self.check_size(len(out), decoded_size)
        return out


class _ReverseImpostor(_Reverse):
    pass


def _unregister(codec: Codec) -> None:
    from mmrecord.codecs import registry

    registry._by_name.pop(codec.name, None)
    registry._by_id.pop(codec.codec_id, None)


def test_register_codec():
    codec = register_codec(_Reverse)
    try:
        assert get_codec("test-reverse") is codec is get_codec_by_id(0xF0)
        assert register_codec(_Reverse()) is codec  # same class again: no change
        with pytest.raises(ValueError, match="clashes"):
            register_codec(_ReverseImpostor)
        with pytest.raises(ValueError, match="clashes"):
            register_codec(type("Other", (_Reverse,), {"name": "other-name"}))  # same id
        replacement = register_codec(_ReverseImpostor, replace=True)
        assert get_codec("test-reverse") is replacement is get_codec_by_id(0xF0)
        assert replacement.decompress(replacement.compress(b"abc"), 3) == b"abc"
    finally:
        _unregister(get_codec("test-reverse"))
    with pytest.raises(ValueError, match="clashes"):
        register_codec(type("FakeZstd", (_Reverse,), {"name": "zstd", "codec_id": 0xF1}))
    with pytest.raises(TypeError):
        register_codec(object())  # type: ignore[arg-type]


def test_importing_codecs_loads_no_compression_library():
    import subprocess
    import sys

    code = (
        "import sys, mmrecord.codecs\n"
        "assert not {'zstandard', 'brotli', 'cramjam', 'snappy'} & set(sys.modules), sys.modules\n"
        "mmrecord.codecs.get_codec('zstd')\n"
        "assert 'zstandard' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_codecs_are_thread_safe():

    records = [text_bytes(n, n) for n in range(0, 200_000, 7919)]

    def round_trip(args):
        name, record = args
        codec = get_codec(name)
        return codec.decompress(codec.compress(record, None, None), len(record)) == record

    jobs = [(name, r) for name in BUILTINS for r in records]
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, jobs))


KERNEL_CASES = [("zstd", 3, window_log) for window_log in (10, 20, 31)] + [
    ("brotli", 5, 22), ("brotli", 11, 16), ("snappy", 1, None), ("snappy", 2, None)]


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70000, 3 << 20])
@pytest.mark.parametrize("name,level,window_log", KERNEL_CASES)
def test_kernel_decoder_matches_decompress(size, name, level, window_log):
    """The decoder kernels call gives what ``decompress`` gives, and refuses wrong sizes and spans."""
    codec = get_codec(name)
    raw = bytes(np.random.default_rng(size).integers(0, 3, size, dtype=np.uint8))
    payload = np.frombuffer(b"xx" + codec.compress(raw, level, window_log), np.uint8)
    out = np.full(size + 8, 7, np.uint8)
    function, context = codec.kernel_decoder()
    assert decode_into(function, context, out, 4, size, payload, 2, len(payload) - 2)
    assert out[4:4 + size].tobytes() == codec.decompress(payload[2:], size) == raw
    assert (out[:4] == 7).all() and (out[4 + size:] == 7).all()
    for wrong_size in (size - 1, size + 1):
        if wrong_size >= 0:
            assert not decode_into(function, context, out, 0, wrong_size, payload, 2, len(payload) - 2)
    assert not decode_into(function, context, out, 0, size, payload, 2, len(payload) - 3)  # cut short
    assert not decode_into(function, context, out, 9, size, payload, 2, len(payload) - 2)  # past the end


def test_kernel_decoder_is_per_thread():
    """Each thread gets its own zstd context; a thread asking again gets the same one."""
    codec = get_codec("zstd")
    mine = codec.kernel_decoder()
    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(codec.kernel_decoder).result()
    assert codec.kernel_decoder() == mine
    assert theirs[0] == mine[0] and theirs[1] != mine[1]
    assert get_codec("uncompressed").kernel_decoder() is None
    assert all(get_codec(name).kernel_decoder() is not None for name in ("brotli", "snappy"))


def _nothing_decoded(context, dst, capacity, src, size):
    return 0


def test_lazy_cfunc_compiles_once_for_racing_threads():
    """Threads asking for a decoder's address at once all get the one compiled function's."""
    address = lazy_cfunc(_nothing_decoded)
    with ThreadPoolExecutor(8) as pool:
        addresses = set(pool.map(lambda _: address(), range(32)))
    assert len(addresses) == 1 and addresses == {address()}
    empty = np.zeros(4, np.uint8)
    assert decode_into(address(), 0, empty, 0, 0, empty, 0, 4)  # it runs: zero bytes decoded


def test_zstd_lays_out_jobs_of_small_blobs_in_one_call():
    """Under 4096 bytes a blob's size is pledged, which ``ZSTD_compress2`` does: the kernel makes the chunks
    the per-blob path makes; a job with a larger blob is left to that path."""
    from mmrecord.chunk import encode_record_values

    zstd = get_codec("zstd")
    records = [text_bytes(n, n) for n in (0, 1, 100, 1500, 4095, 3000, 7)]
    values = np.frombuffer(b"".join(records), np.uint8)
    sizes = np.array([len(r) for r in records], np.uint64)

    class PerBlob(type(zstd)):
        def encode_chunks(self, *args):
            return None

    for group in (1, 2):
        group_bounds = np.append(np.arange(0, len(records), group), len(records)).astype(np.int64)
        for level, window_log in ((None, None), (1, None), (19, 12), (-3, None)):
            made = zstd.encode_chunks(values, sizes, group_bounds, level, window_log)
            plain = encode_record_values(values, sizes, group_bounds, PerBlob(), level, window_log)
            if group == 1:
                assert plain.chunk_pieces.tolist() == list(range(len(made[1])))  # one piece a chunk
                assert b"".join(map(ctypes.string_at, plain.piece_at.tolist(), plain.piece_size.tolist())) == \
                    made[0].tobytes()
                assert np.array_equal(made[1], np.append(0, np.cumsum(plain.piece_size)))
            else:  # records 3 and 4 together are 7095 bytes
                assert made is None
