"""The snappy kernels: whole files byte-identical to the reference writer's, and a decoder that never strays.

The reference writer (``array_record``) compresses with Google's C++ snappy;
mmrecord's encoder follows that library's algorithm, so files written with
the same records and options must be the same bytes. The decoder runs on
untrusted blocks: it must decode exactly what python-snappy decodes, refuse
the rest, and never touch a byte outside the ranges it is given.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import snappy as python_snappy
from hypothesis import given, settings
from hypothesis import strategies as st

import mmrecord
from mmrecord.codecs import get_codec
from mmrecord.engine import snappy
from mmrecord.engine.varint import encode_varint as varint
from mmrecord.errors import UnsupportedFeatureError
from support import random_bytes, text_bytes

reference = pytest.importorskip("array_record.python.array_record_module")


# Record shapes: each is a list of records written as one file.
SHAPES = {
    "empty": [b""] * 5,
    "tiny": [bytes([i]) * i for i in range(1, 20)] + [b"abc", b"a" * 15, b"ab" * 8],
    "text": [text_bytes(n, n) for n in (100, 1500, 3000, 20_000)],
    "random": [random_bytes(n, n) for n in (16, 100, 5000, 70_000)],
    "repetitive": [b"a" * 100_000, b"abcd" * 30_000, b"hello world " * 5000, bytes(65_536 * 3 + 7)],
    "fragment edges": [text_bytes(n, 7) for n in (65_535, 65_536, 65_537, 65_536 + 14, 65_536 + 15, 131_072)],
    "long text": [text_bytes(600_000, 1)],
    "mixed": [random_bytes(3000, 1) + text_bytes(3000, 2) + b"z" * 300 + random_bytes(70_000, 3) + text_bytes(70_000, 4)],
}


def _write_both(tmp_path, options: str, records: list[bytes]) -> tuple[bytes, bytes]:
    ours, theirs = tmp_path / "ours.array_record", tmp_path / "theirs.array_record"
    with mmrecord.ArrayRecordWriter(ours, options) as writer:
        writer.write_many(records)
    writer = reference.ArrayRecordWriter(str(theirs), options)
    for record in records:
        writer.write(record)
    writer.close()
    return ours.read_bytes(), theirs.read_bytes()


@pytest.mark.parametrize("codec", ["snappy", "snappy:2"])
@pytest.mark.parametrize("group_size", [1, 256])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_files_identical_to_reference(tmp_path, shape, group_size, codec):
    ours, theirs = _write_both(tmp_path, f"group_size:{group_size},{codec}", SHAPES[shape])
    assert ours == theirs


records_strategy = st.lists(
    st.one_of(
        st.binary(max_size=300),
        st.builds(lambda unit, times: unit * times, st.binary(min_size=1, max_size=9), st.integers(1, 3000)),
        st.builds(lambda n, seed: text_bytes(n, seed), st.integers(0, 140_000), st.integers(0, 1000)),
        st.builds(lambda parts: b"".join(parts),
                  st.lists(st.sampled_from([b"ab", b"abcdefgh", b"\x00" * 13, b"xyz" * 5, b"q"]), max_size=400)),
    ),
    min_size=1, max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(records=records_strategy, group_size=st.sampled_from([1, 3, 256]), codec=st.sampled_from(["snappy", "snappy:2"]))
def test_random_files_identical_to_reference(tmp_path_factory, records, group_size, codec):
    ours, theirs = _write_both(tmp_path_factory.mktemp("h"), f"group_size:{group_size},{codec}", records)
    assert ours == theirs


# --- the decoder -------------------------------------------------------------------

PAD = 16


def _decode(block: bytes, capacity: int) -> tuple[int, bytes]:
    """Decode ``block`` between guard bytes; asserts that nothing outside the output range changed."""
    src = np.frombuffer(b"\xee" * PAD + block + b"\xee" * PAD, np.uint8)
    dst = np.full(capacity + 2 * PAD, 0xCC, np.uint8)
    got = snappy.decode(src, PAD, PAD + len(block), dst, PAD, capacity)
    assert (dst[:PAD] == 0xCC).all() and (dst[PAD + capacity:] == 0xCC).all()
    return got, dst[PAD:PAD + max(got, 0)].tobytes()


def _oracle(block: bytes) -> bytes | None:
    """python-snappy's decoding of ``block``, ``None`` if it refuses it."""
    try:
        return python_snappy.uncompress(block)
    except python_snappy.UncompressError:
        return None


def _check_against_oracle(block: bytes, capacity: int) -> None:
    got, out = _decode(block, capacity)
    expected = _oracle(block)
    if got >= 0:
        assert out == expected
    else:  # refused: malformed for the oracle too, or longer than the room given
        assert expected is None or len(expected) > capacity


@pytest.mark.parametrize("seed", range(4))
def test_decoder_on_damaged_blocks(seed):
    """Blocks with flipped bits, cut short, or random bytes: python-snappy's verdict, inside the given ranges."""
    rng = random.Random(seed)
    for _ in range(3000):
        raw = text_bytes(rng.randrange(0, 4000), rng.randrange(10**6))
        block = bytearray(snappy.compress(np.frombuffer(raw, np.uint8), rng.choice((1, 2))).tobytes())
        damage = rng.randrange(3)
        if damage == 0:
            for _ in range(rng.randrange(1, 4)):
                block[rng.randrange(len(block))] ^= 1 << rng.randrange(8)
        elif damage == 1:
            del block[rng.randrange(len(block) + 1):]
        else:
            block = bytearray(rng.randbytes(rng.randrange(80)))
        _check_against_oracle(bytes(block), len(raw) + rng.choice((0, 0, 7)))


@settings(max_examples=500, deadline=None)
@given(block=st.binary(max_size=200), capacity=st.integers(0, 400))
def test_decoder_on_arbitrary_bytes(block, capacity):
    _check_against_oracle(block, capacity)


@pytest.mark.parametrize("block,expected", [
    (b"\x00", b""),
    (varint(3) + b"\x08abc", b"abc"),
    # literal lengths in 1..4 operand bytes (tags 60..63)
    (varint(61) + bytes([60 << 2, 60]) + b"x" * 61, b"x" * 61),
    (varint(300) + bytes([61 << 2]) + (299).to_bytes(2, "little") + b"y" * 300, b"y" * 300),
    (varint(70_000) + bytes([62 << 2]) + (69_999).to_bytes(3, "little") + b"z" * 70_000, b"z" * 70_000),
    (varint(5) + bytes([63 << 2]) + (4).to_bytes(4, "little") + b"hello", b"hello"),
    # copies: 1-byte offset overlapping (a run), 2-byte offset, 4-byte offset
    (varint(12) + b"\x00a" + bytes([1 | (11 - 4) << 2, 1]), b"a" * 12),
    (varint(10) + b"\x0cabcd" + bytes([2 | 5 << 2, 4, 0]), b"abcdabcdab"),
    (varint(10) + b"\x0cabcd" + bytes([3 | 5 << 2, 4, 0, 0, 0]), b"abcdabcdab"),
    (varint(70) + b"\x00q" + bytes([2 | 63 << 2, 1, 0]) + bytes([1 | 1 << 2, 1]), b"q" * 70),
])
def test_decoder_reads_every_element_form(block, expected):
    assert _decode(block, len(expected)) == (len(expected), expected)
    assert _oracle(block) == expected


@pytest.mark.parametrize("block,capacity", [
    (b"", 0),  # no length
    (b"\x80", 0),  # length cut short
    (b"\xff\xff\xff\xff\x10", 8),  # length beyond 32 bits
    (varint(4) + b"\x0cabcd", 3),  # longer than the room given
    (varint(5) + b"\x0cabcd", 5),  # fewer bytes than declared
    (varint(3) + b"\x0cabcd", 4),  # more bytes than declared
    (varint(8) + b"\x0cabcd" + bytes([1, 0]), 8),  # offset 0
    (varint(8) + b"\x0cabcd" + bytes([1, 5]), 8),  # offset before the start
    (varint(8) + b"\x0cabcd" + bytes([2, 4]), 8),  # operand cut short
    (varint(8) + b"\x0cabcd" + bytes([3, 4, 0, 0]), 8),
    (varint(70) + bytes([61 << 2, 69, 0]), 70),  # literal longer than the block
    (varint(70) + bytes([62 << 2, 69, 0]), 70),  # literal length cut short
    (varint(70) + bytes([63 << 2, 69, 0, 0, 0]) + b"x" * 10, 70),
    (varint(2) + bytes([60 << 2]), 2),  # literal length byte missing
])
def test_decoder_refuses_malformed_blocks(block, capacity):
    assert _decode(block, capacity)[0] == -1


def test_codec_errors():
    codec = get_codec("snappy")
    with pytest.raises(ValueError, match="valid length"):
        codec.decompress(b"\x80", 0)
    with pytest.raises(ValueError, match="expected 4"):
        codec.decompress(varint(3) + b"\x08abc", 4)
    with pytest.raises(ValueError, match="malformed"):
        codec.decompress(varint(8) + b"\x0cabcd" + bytes([1, 0]), 8)


def test_compress_refuses_more_than_snappy_holds(monkeypatch):
    monkeypatch.setattr(snappy, "MAX_INPUT", 10)
    with pytest.raises(UnsupportedFeatureError, match="at most 10 bytes"):
        get_codec("snappy").compress(b"x" * 11)
