"""HighwayHash-64 kernels: FORMAT.md 5.3 vectors, a plain-Python twin, real files."""

from __future__ import annotations

import mmap

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrecord.engine.highway import (
    RIEGELI_KEY,
    hash_bytes,
    highway_hash,
    highway_hash_portable,
)

# --------------------------------------------------------------------------- #
# Plain-Python twin: a direct transcription of the FORMAT.md 5.2 pseudocode
# --------------------------------------------------------------------------- #

M64 = (1 << 64) - 1
KEY = [0x2F696C6567656952, 0x0A7364726F636572, 0x2F696C6567656952, 0x0A7364726F636572]
MUL0_INIT = [0xDBE6D5D5FE4CCE2F, 0xA4093822299F31D0, 0x13198A2E03707344, 0x243F6A8885A308D3]
MUL1_INIT = [0x3BD39E10CB0EF593, 0xC0ACF169B5F18A8C, 0xBE5466CF34E90C6C, 0x452821E638D01377]


def swap32(x: int) -> int:
    return ((x >> 32) | (x << 32)) & M64


def zipper(lo: int, hi: int) -> tuple[int, int]:
    s = lo.to_bytes(8, "little") + hi.to_bytes(8, "little")
    new_lo = bytes([s[3], s[12], s[2], s[5], s[14], s[1], s[15], s[0]])
    new_hi = bytes([s[11], s[4], s[10], s[13], s[9], s[6], s[8], s[7]])
    return int.from_bytes(new_lo, "little"), int.from_bytes(new_hi, "little")


def twin_hash(data: bytes) -> int:
    """HighwayHash-64 with the Riegeli key, exactly as FORMAT.md 5.2 spells it."""
    data = bytes(data)
    mul0 = list(MUL0_INIT)
    mul1 = list(MUL1_INIT)
    v0 = [mul0[i] ^ KEY[i] for i in range(4)]
    v1 = [mul1[i] ^ swap32(KEY[i]) for i in range(4)]

    def update(lanes: list[int]) -> None:
        for i in range(4):
            v1[i] = (v1[i] + mul0[i] + lanes[i]) & M64
            mul0[i] ^= (v1[i] & 0xFFFFFFFF) * (v0[i] >> 32)
            v0[i] = (v0[i] + mul1[i]) & M64
            mul1[i] ^= (v0[i] & 0xFFFFFFFF) * (v1[i] >> 32)
        for j in (0, 2):
            a, b = zipper(v1[j], v1[j + 1])
            v0[j] = (v0[j] + a) & M64
            v0[j + 1] = (v0[j + 1] + b) & M64
        for j in (0, 2):
            a, b = zipper(v0[j], v0[j + 1])
            v1[j] = (v1[j] + a) & M64
            v1[j + 1] = (v1[j + 1] + b) & M64

    def lanes_of(packet: bytes) -> list[int]:
        return [int.from_bytes(packet[8 * i : 8 * i + 8], "little") for i in range(4)]

    full = len(data) - len(data) % 32
    for off in range(0, full, 32):
        update(lanes_of(data[off : off + 32]))
    n = len(data) % 32
    if n:
        tail = data[full:]

        def rot32(x: int) -> int:
            return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

        for i in range(4):
            v0[i] = (v0[i] + (n << 32) + n) & M64
            v1[i] = (rot32(v1[i] >> 32) << 32) | rot32(v1[i] & 0xFFFFFFFF)
        packet = bytearray(32)
        q = n & ~3
        packet[0:q] = tail[0:q]
        if n >= 16:
            packet[28:32] = tail[n - 4 : n]
        elif n % 4:
            r = tail[q:n]
            packet[16] = r[0]
            packet[17] = r[len(r) // 2]
            packet[18] = r[len(r) - 1]
        update(lanes_of(bytes(packet)))
    for _ in range(4):
        update([swap32(v0[2]), swap32(v0[3]), swap32(v0[0]), swap32(v0[1])])
    return (v0[0] + v1[0] + mul0[0] + mul1[0]) & M64


# --------------------------------------------------------------------------- #
# FORMAT.md 5.3, inputs built exactly as the table says
# --------------------------------------------------------------------------- #

VECTORS = [
    (1, b"", 0, 0x72C3B1E9C0139FE1),
    (2, bytes.fromhex("00000000000000004000000000000000"), 16, 0x3F4A880DD170AF83),
    (3, bytes.fromhex("0000000000000000e19f13c0e9b1c372" "73000000000000000000000000000000"), 32, 0xA9E187923CC2BA91),
    (4, bytes.fromhex("00010161"), 4, 0x7798ED6982501640),
    (5, bytes.fromhex("04000000000000004016508269ed9877" "72010000000000000100000000000000"), 32, 0xC1602ED33F7D6749),
    (6, bytes.fromhex("14000000000000003000000000000000"), 16, 0x3C7832838C10D87A),
    (7, bytes.fromhex("73040101000101010061"), 10, 0x5FF2CEAFF2C7F973),
    (8, bytes.fromhex("7a0b0128b52ffd2001090000010128b52ffd200109000061"), 24, 0xE4851230C07D93AF),
    (9, bytes.fromhex("00030d0d0d") + 3 * bytes.fromhex("08c70110dec0ebfe84cec3c971"), 44, 0x65DD6437BADA97A6),
    (10, bytes(65388), 65388, 0xE60680374A0D3130),
    (11, b"a", 1, 0x24793C7DA388949F),
    (12, b"abc", 3, 0x672FE946C18D0ED9),
    (13, bytes(range(0x21)), 33, 0xEC2F920014EAA741),
    (14, bytes(range(0x40)), 64, 0xE34B1E100F1322AF),
]
VECTOR_IDS = [f"vector{v[0]}" for v in VECTORS]
KERNELS = [highway_hash, highway_hash_portable]
KERNEL_IDS = ["simd", "portable"]


def writable(b: bytes) -> np.ndarray:
    return np.frombuffer(bytearray(b), np.uint8)


def readonly(b: bytes) -> np.ndarray:
    arr = np.frombuffer(bytes(b), np.uint8)
    assert not arr.flags.writeable
    return arr


def test_key_is_riegeli_records():
    assert RIEGELI_KEY == tuple(KEY)
    assert b"".join(k.to_bytes(8, "little") for k in KEY) == b"Riegeli/records\n" * 2


@pytest.mark.parametrize("number, data, length, expected", VECTORS, ids=VECTOR_IDS)
def test_twin_reproduces_vectors(number, data, length, expected):
    assert len(data) == length
    assert twin_hash(data) == expected


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("number, data, length, expected", VECTORS, ids=VECTOR_IDS)
def test_kernel_reproduces_vectors(kernel, number, data, length, expected):
    for arr in (readonly(data), writable(data)):
        assert kernel(arr, 0, length) == expected
    # The same bytes in the middle of a larger buffer.
    padded = writable(b"\xaa" * 7 + data + b"\x55" * 5)
    assert kernel(padded, 7, 7 + length) == expected


@pytest.mark.parametrize("number, data, length, expected", VECTORS, ids=VECTOR_IDS)
def test_hash_bytes_reproduces_vectors(number, data, length, expected):
    assert hash_bytes(data) == expected
    assert hash_bytes(bytearray(data)) == expected
    assert hash_bytes(memoryview(data)) == expected


def test_returns_uint64():
    arr = readonly(b"abc")
    assert isinstance(highway_hash(arr, 0, 3), int)  # numba boxes uint64 as int

    @numba.njit
    def inner(a):
        return highway_hash(a, 0, len(a))

    inner(arr)
    assert inner.nopython_signatures[0].return_type == numba.types.uint64


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_every_tail_length_and_offset(kernel):
    rng = np.random.default_rng(5)
    buf = rng.integers(0, 256, 200, dtype=np.uint8)
    for length in range(0, 130):
        for offset in (0, 1, 3, 8, 31):
            expected = twin_hash(buf[offset : offset + length].tobytes())
            assert kernel(buf, offset, offset + length) == expected, (length, offset)


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("size", [1000, 1536, 4095, 65536, 100001])
def test_large_inputs_match_twin(kernel, size):
    data = np.random.default_rng(size).integers(0, 256, size + 3, dtype=np.uint8)
    ro = readonly(data.tobytes())
    expected = twin_hash(data[3:].tobytes())
    assert kernel(data, 3, size + 3) == expected
    assert kernel(ro, 3, size + 3) == expected


@settings(deadline=None, max_examples=200)
@given(
    data=st.binary(max_size=300),
    prefix=st.binary(max_size=40),
    suffix=st.binary(max_size=40),
    make_readonly=st.booleans(),
)
def test_kernels_match_twin_at_random_offsets(data, prefix, suffix, make_readonly):
    whole = prefix + data + suffix
    arr = readonly(whole) if make_readonly else writable(whole)
    start, stop = len(prefix), len(prefix) + len(data)
    expected = twin_hash(data)
    assert highway_hash(arr, start, stop) == expected
    assert highway_hash_portable(arr, start, stop) == expected


@settings(deadline=None, max_examples=50)
@given(data=st.binary(max_size=300))
def test_hash_bytes_matches_twin(data):
    assert hash_bytes(data) == twin_hash(data)


def test_strided_array_takes_portable_path():
    base = np.random.default_rng(1).integers(0, 256, 600, dtype=np.uint8)
    for step in (2, 3, -1):
        view = base[::step]
        assert highway_hash(view, 0, len(view)) == twin_hash(view.tobytes())
        assert highway_hash(view, 5, 77) == twin_hash(view[5:77].tobytes())


def test_hash_bytes_accepts_bytes_like_objects():
    raw = bytes(range(256)) * 3
    expected = twin_hash(raw)
    arr = np.frombuffer(raw, np.uint8)
    assert hash_bytes(raw) == expected
    assert hash_bytes(bytearray(raw)) == expected
    assert hash_bytes(memoryview(raw)) == expected
    assert hash_bytes(arr) == expected
    assert hash_bytes(arr.view(np.uint32)) == expected  # raw bytes of any dtype
    assert hash_bytes(memoryview(raw)[::2]) == twin_hash(raw[::2])  # non-contiguous
    assert hash_bytes(arr[::2]) == twin_hash(raw[::2])


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_bad_offsets_are_clamped_not_read_out_of_bounds(kernel):
    raw = bytes(range(100))
    arr = readonly(raw)
    assert kernel(arr, -5, 10**6) == twin_hash(raw)
    assert kernel(arr, 40, 10**6) == twin_hash(raw[40:])
    assert kernel(arr, 50, 10) == twin_hash(b"")
    assert kernel(arr, -20, -10) == twin_hash(b"")
    assert kernel(arr, 10**6, 10**7) == twin_hash(b"")
    empty = readonly(b"")
    assert kernel(empty, 0, 100) == twin_hash(b"")


def test_callable_from_njit_with_readonly_and_writable_arrays():
    @numba.njit(nogil=True)
    def hash_spans(buf, starts, stops):
        out = np.empty(len(starts), np.uint64)
        for i in range(len(starts)):
            out[i] = highway_hash(buf, starts[i], stops[i])
        return out

    raw = np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    starts = np.array([0, 1, 17, 100, 4000, 4999], np.int64)
    stops = np.array([0, 33, 48, 2100, 5000, 5000], np.int64)
    expected = [twin_hash(raw[a:b]) for a, b in zip(starts, stops)]
    for arr in (readonly(raw), writable(raw)):
        assert hash_spans(arr, starts, stops).tolist() == expected
    # uint64 offsets (as read from headers) must not turn the arithmetic into floats
    assert hash_spans(readonly(raw), starts.astype(np.uint64), stops.astype(np.uint64)).tolist() == expected


# --------------------------------------------------------------------------- #
# Hashes stored by the reference writer
# --------------------------------------------------------------------------- #


def u64(buf, pos: int) -> int:
    return int.from_bytes(bytes(buf[pos : pos + 8]), "little")


def check_file_start(arr: np.ndarray, kernel) -> None:
    # Block header at 0: bytes 0..8 hash bytes 8..24.
    assert kernel(arr, 8, 24) == u64(arr, 0)
    # Signature chunk header at 24: bytes 24..32 hash bytes 32..64; empty data.
    assert kernel(arr, 32, 64) == u64(arr, 24)
    assert u64(arr, 32) == 0  # data_size
    assert kernel(arr, 64, 64) == u64(arr, 40) == 0x72C3B1E9C0139FE1
    # First data chunk at 0x40: header hash over 0x48..0x68, data hash over its data.
    data_size = u64(arr, 0x48)
    assert kernel(arr, 0x48, 0x68) == u64(arr, 0x40)
    assert kernel(arr, 0x68, 0x68 + data_size) == u64(arr, 0x50)


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_reference_file_headers(testdata_dir, kernel):
    raw = (testdata_dir / "vectors" / "gs1_uncompressed.array_record").read_bytes()
    check_file_start(readonly(raw), kernel)
    check_file_start(writable(raw), kernel)
    assert twin_hash(raw[8:24]) == u64(raw, 0)
    assert twin_hash(raw[32:64]) == u64(raw, 24)


def test_reference_file_through_readonly_mmap(testdata_dir):
    path = testdata_dir / "vectors" / "gs1_uncompressed.array_record"
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        arr = np.frombuffer(mm, np.uint8)
        assert not arr.flags.writeable
        try:
            check_file_start(arr, highway_hash)
            check_file_start(arr, highway_hash_portable)
        finally:
            del arr  # release the buffer before the map closes


def test_non_uint8_arrays_are_a_typing_error():
    with pytest.raises(numba.core.errors.TypingError):
        highway_hash(np.zeros(4, np.uint32), 0, 4)
    with pytest.raises(numba.core.errors.TypingError):
        highway_hash(np.zeros((2, 2), np.uint8), 0, 4)
