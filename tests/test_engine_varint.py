"""Varint kernels against a plain-Python twin and hand-checked encodings."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrecord.engine.varint import (
    MAX_VARINT_SIZE,
    decode_varints_into,
    encode_varint,
    encode_varints,
    encode_varints_into,
    read_varint,
    varint_size,
)


def decode_varints(buf, start, stop, count):
    """``count`` varints and the end position, through ``decode_varints_into``."""
    out = np.empty(count, np.uint64)
    return out, decode_varints_into(buf, start, stop, out)


# --------------------------------------------------------------------------- #
# Plain-Python twin
# --------------------------------------------------------------------------- #


def twin_encode(values) -> bytes:
    out = bytearray()
    for v in values:
        v = int(v)
        while True:
            byte = v & 0x7F
            v >>= 7
            if v:
                out.append(byte | 0x80)
            else:
                out.append(byte)
                break
    return bytes(out)


def twin_read(buf: bytes, pos: int, stop: int) -> tuple[int, int]:
    """(value, new_pos), or (0, -1) if truncated, longer than 10 bytes or above 2**64 - 1."""
    stop = min(stop, len(buf))
    if pos < 0:
        return 0, -1
    result = 0
    for i in range(10):
        if pos + i >= stop:
            return 0, -1
        byte = buf[pos + i]
        result |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            if result >= 1 << 64:
                return 0, -1
            return result, pos + i + 1
    return 0, -1


U64_MAX = 2**64 - 1
EDGES = [0, 1, 127, 128, 255, 256, 16383, 16384, 2**32 - 1, 2**32, 2**56 - 1, 2**63 - 1, 2**63,
         U64_MAX]  # fmt: skip
uint64s = st.one_of(st.sampled_from(EDGES), st.integers(0, 127), st.integers(0, 2**21), st.integers(0, U64_MAX))


def ro(b: bytes) -> np.ndarray:
    arr = np.frombuffer(bytes(b), np.uint8)
    assert not arr.flags.writeable
    return arr


def rw(b: bytes) -> np.ndarray:
    return np.frombuffer(bytearray(b), np.uint8)


# --------------------------------------------------------------------------- #
# Known encodings
# --------------------------------------------------------------------------- #

KNOWN = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (300, "ac02"),
    (16383, "ff7f"),
    (16384, "808001"),
    (2**32 - 1, "ffffffff0f"),
    (2**63, "80808080808080808001"),
    (U64_MAX, "ffffffffffffffffff01"),
]


@pytest.mark.parametrize("value, hexed", KNOWN)
def test_known_encodings(value, hexed):
    raw = bytes.fromhex(hexed)
    assert twin_encode([value]) == raw
    assert encode_varint(value) == raw
    assert encode_varints(np.array([value], np.uint64)).tobytes() == raw
    assert varint_size(np.array([value], np.uint64)) == len(raw)
    for buf in (ro(raw), rw(raw), raw):  # numpy arrays and plain bytes
        assert read_varint(buf, 0, len(raw)) == (value, len(raw))
    assert twin_read(raw, 0, len(raw)) == (value, len(raw))


def test_encode_varint_rejects_out_of_range():
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(ValueError):
        encode_varint(2**64)
    with pytest.raises(TypeError):
        encode_varint(1.0)  # type: ignore[arg-type]
    assert encode_varint(np.uint64(U64_MAX)) == bytes.fromhex("ffffffffffffffffff01")
    assert encode_varint(np.int32(5)) == b"\x05"


# --------------------------------------------------------------------------- #
# Round trips
# --------------------------------------------------------------------------- #


@settings(deadline=None, max_examples=200)
@given(values=st.lists(uint64s, max_size=60), prefix=st.binary(max_size=12), suffix=st.binary(max_size=12))
def test_round_trip_matches_twin(values, prefix, suffix):
    arr = np.array(values, dtype=np.uint64)
    enc = encode_varints(arr)
    assert enc.dtype == np.uint8
    assert enc.tobytes() == twin_encode(values)
    assert varint_size(arr) == len(enc)

    whole = prefix + enc.tobytes() + suffix
    start, stop = len(prefix), len(prefix) + len(enc)
    for buf in (ro(whole), rw(whole)):
        got, end = decode_varints(buf, start, stop, len(values))
        assert end == stop
        assert got.dtype == np.uint64
        assert got.tolist() == values
        # A larger stop changes nothing: exactly `count` varints are read.
        got, end = decode_varints(buf, start, len(whole), len(values))
        assert end == stop and got.tolist() == values

    # read_varint walks the same values one by one.
    buf = ro(whole)
    pos = start
    for v in values:
        prev = pos
        value, pos = read_varint(buf, prev, stop)
        assert (value, pos) == twin_read(whole, prev, stop)
        assert value == v
    assert pos == stop


@settings(deadline=None, max_examples=300)
@given(raw=st.binary(max_size=24), pos=st.integers(-2, 26), stop=st.integers(-2, 30))
def test_read_varint_matches_twin_on_arbitrary_bytes(raw, pos, stop):
    assert read_varint(ro(raw), pos, stop) == twin_read(raw, pos, stop)


@settings(deadline=None, max_examples=100)
@given(values=st.lists(uint64s, max_size=40), pos=st.integers(0, 16), room=st.integers(0, 8))
def test_encode_into_composes(values, pos, room):
    arr = np.array(values, dtype=np.uint64)
    need = len(twin_encode(values))
    out = np.full(pos + need + room, 0xEE, np.uint8)
    assert encode_varints_into(arr, out, pos) == pos + need
    assert out[:pos].tolist() == [0xEE] * pos
    assert out[pos : pos + need].tobytes() == twin_encode(values)
    assert out[pos + need :].tolist() == [0xEE] * room
    if need:
        small = np.full(pos + need - 1, 0xEE, np.uint8)
        assert encode_varints_into(arr, small, pos) == -1
        assert small.tolist() == [0xEE] * len(small)  # nothing written on failure


def test_encode_into_rejects_negative_pos():
    out = np.zeros(8, np.uint8)
    assert encode_varints_into(np.array([1], np.uint64), out, -1) == -1
    assert out.tolist() == [0] * 8


def test_empty_inputs():
    empty = np.empty(0, np.uint64)
    assert varint_size(empty) == 0
    assert encode_varints(empty).shape == (0,)
    got, end = decode_varints(ro(b"\x01\x02"), 1, 2, 0)
    assert got.shape == (0,) and end == 1
    assert decode_varints_into(ro(b""), 0, 0, np.empty(0, np.uint64)) == 0


def test_signed_input_is_taken_modulo_2_64():
    values = np.array([-1, 5, -(2**63)], np.int64)
    enc = encode_varints(values)
    assert enc.tobytes() == twin_encode([U64_MAX, 5, 2**63])
    assert varint_size(values) == 21


# --------------------------------------------------------------------------- #
# Damage: every failure is -1, never an exception or a wrong value
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("value", [v for v in EDGES if v >= 128])
def test_truncated_varint(value):
    raw = encode_varint(value)
    buf = ro(raw + b"\x00\x00")  # the bytes are there, but stop says otherwise
    for cut in range(len(raw)):
        assert read_varint(ro(raw[:cut]), 0, cut) == (0, -1)
        assert read_varint(buf, 0, cut) == (0, -1)
        assert decode_varints(buf, 0, cut, 1)[1] == -1
    _, end = decode_varints(ro(raw), 0, len(raw), 2)  # asks for one more than there is
    assert end == -1


def test_eleven_byte_varint_is_rejected():
    for raw in (b"\x80" * 10 + b"\x00", b"\xff" * 10 + b"\x01", b"\x81" * 10 + b"\x00"):
        assert read_varint(ro(raw), 0, len(raw)) == (0, -1)
        assert twin_read(raw, 0, len(raw)) == (0, -1)
        assert decode_varints(ro(raw), 0, len(raw), 1)[1] == -1


@pytest.mark.parametrize("last", [0x02, 0x03, 0x40, 0x7F])
def test_overflow_in_tenth_byte_is_rejected(last):
    for first9 in (b"\xff" * 9, b"\x80" * 9):
        raw = first9 + bytes([last])
        assert read_varint(ro(raw), 0, 10) == (0, -1)
        assert twin_read(raw, 0, 10) == (0, -1)
        assert decode_varints(ro(raw + b"\x00"), 0, 11, 2)[1] == -1


def test_non_canonical_forms_are_accepted_like_riegeli():
    # Riegeli's ReadVarint64 tolerates non-shortest forms up to 10 bytes.
    assert read_varint(ro(b"\x80\x00"), 0, 2) == (0, 2)
    assert read_varint(ro(b"\xff\x80\x00"), 0, 3) == (127, 3)
    assert read_varint(ro(b"\x80" * 9 + b"\x00"), 0, 10) == (0, 10)
    assert read_varint(ro(b"\xff" * 9 + b"\x01"), 0, 10) == (U64_MAX, 10)
    assert read_varint(ro(b"\x80" * 9 + b"\x01"), 0, 10) == (2**63, 10)


def test_bad_positions_and_counts():
    buf = ro(b"\x01\x02\x03")
    assert read_varint(buf, -1, 3) == (0, -1)
    assert read_varint(buf, 3, 3) == (0, -1)
    assert read_varint(buf, 2, 100) == (3, 3)  # stop is clamped to len(buf)
    assert decode_varints(buf, 0, 100, 3)[0].tolist() == [1, 2, 3]
    assert decode_varints(buf, 0, 3, 4)[1] == -1  # one more than there is
    assert decode_varints(buf, -1, 3, 1)[1] == -1
    assert decode_varints_into(buf, -1, 3, np.empty(1, np.uint64)) == -1


# --------------------------------------------------------------------------- #
# Use from other kernels
# --------------------------------------------------------------------------- #


def test_callable_from_njit():
    @numba.njit(nogil=True)
    def sum_all(buf, count):
        out = np.empty(count, np.uint64)
        end = decode_varints_into(buf, 0, len(buf), out)
        first, pos = read_varint(buf, 0, len(buf))
        total = np.uint64(0)
        for v in out:
            total += v
        return total, end, first, pos

    values = [5, 300, 2**40, 0]
    raw = twin_encode(values)
    for buf in (ro(raw), rw(raw)):
        assert sum_all(buf, 4) == (sum(values), len(raw), 5, 1)


def test_max_size_constant():
    assert MAX_VARINT_SIZE == len(encode_varint(U64_MAX)) == 10
