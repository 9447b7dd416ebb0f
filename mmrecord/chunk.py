"""Riegeli chunks: find and check one in a mapped file, encode and decode simple chunks.

A simple chunk (type ``r``) holds a compression byte, a blob of record sizes
(varints) and a blob of the concatenated record values (FORMAT.md §4). This
module knows that layout; compression itself is the codec registry's job and
positions are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .codecs import Codec, get_codec_by_id
from .engine import framing
from .engine.gather import sizes_to_bounds
from .engine.varint import decode_varints, encode_varint, encode_varints, read_varint
from .errors import CorruptRecordError
from .transposed import decode_transposed_chunk

SIGNATURE = ord("s")
METADATA = ord("m")
PADDING = ord("p")
SIMPLE = ord("r")
TRANSPOSED = ord("t")

_STATUS_TEXT = {
    framing.TRUNCATED: "chunk runs past the end of its region (file truncated or offset wrong)",
    framing.HEADER_HASH: "chunk header hash mismatch",
    framing.BLOCK_HEADER: "block header hash mismatch or block header points elsewhere",
    framing.DATA_HASH: "chunk data hash mismatch",
    framing.BAD_POSITION: "chunk offset lies inside a block header",
}


@dataclass(frozen=True)
class Chunk:
    """A checked chunk: its header fields and its logical data bytes."""

    chunk_type: int
    num_records: int
    decoded_size: int
    data: np.ndarray  # uint8; a view into the map when the data was contiguous


def load_chunk(src: np.ndarray, begin: int, limit: int, verify: bool) -> Chunk:
    """Read the chunk at file position ``begin``, which must end by ``limit``."""
    status, where, chunk_type, num_records, decoded, start, size, data = framing.read_chunk(
        src, begin, limit, verify
    )
    if status != framing.OK:
        raise CorruptRecordError(_STATUS_TEXT[status], offset=int(where))
    if start >= 0:
        data = src[start : start + size]
    return Chunk(int(chunk_type), int(num_records), int(decoded), data)


def _split_blob(data: np.ndarray, pos: int, stop: int, codec: Codec, what: str) -> np.ndarray:
    """Return the decompressed bytes of the blob ``data[pos:stop]``."""
    if codec.codec_id == 0:
        return data[pos:stop]
    size, body = read_varint(data, pos, stop)
    if body < 0:
        raise CorruptRecordError(f"{what} blob has a bad length varint")
    try:
        raw = codec.decompress(data[body:stop], int(size))
    except Exception as exc:  # the codec library's own error types vary
        raise CorruptRecordError(f"{what} blob does not decompress with {codec.name}: {exc}") from None
    out = np.frombuffer(raw, np.uint8)
    if len(out) != size:
        raise CorruptRecordError(f"{what} blob decompressed to {len(out)} bytes, expected {size}")
    return out


def decode_records(chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """Decode a data chunk into ``(values, bounds)``: record k is ``values[bounds[k]:bounds[k+1]]``."""
    if chunk.chunk_type == SIMPLE:
        return decode_simple_chunk(chunk)
    if chunk.chunk_type == TRANSPOSED:
        return decode_transposed_chunk(chunk.data, chunk.num_records, chunk.decoded_size)
    raise CorruptRecordError(f"expected a data chunk, found chunk type {chunk.chunk_type:#04x}")


def decode_simple_chunk(chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """Decode a simple chunk (type ``r``) into ``(values, bounds)``."""
    if chunk.chunk_type != SIMPLE:
        raise CorruptRecordError(f"expected a simple chunk, found chunk type {chunk.chunk_type:#04x}")
    data = chunk.data
    if len(data) == 0:
        raise CorruptRecordError("simple chunk has no data")
    codec = get_codec_by_id(int(data[0]))
    sizes_len, sizes_pos = read_varint(data, 1, len(data))
    if sizes_pos < 0 or sizes_len > len(data) - sizes_pos:
        raise CorruptRecordError("simple chunk's sizes length is wrong")
    sizes_stop = sizes_pos + int(sizes_len)
    sizes_raw = _split_blob(data, sizes_pos, sizes_stop, codec, "sizes")
    sizes, end = decode_varints(sizes_raw, 0, len(sizes_raw), chunk.num_records)
    if end != len(sizes_raw):
        raise CorruptRecordError("record sizes do not decode to exactly num_records varints")
    bounds, ok = sizes_to_bounds(sizes, chunk.decoded_size)
    if not ok:
        raise CorruptRecordError("record sizes do not add up to the chunk's decoded size")
    values = _split_blob(data, sizes_stop, len(data), codec, "values")
    if len(values) != chunk.decoded_size:
        raise CorruptRecordError("record values do not match the chunk's decoded size")
    return values, bounds


def _blob(raw: bytes, codec: Codec, level: int | None, window_log: int | None) -> bytes:
    if codec.codec_id == 0:
        return raw
    return encode_varint(len(raw)) + codec.compress(raw, level, window_log)


@dataclass(frozen=True)
class EncodedChunk:
    """A simple chunk's data ready to be framed: bytes and counts."""

    data: bytes
    num_records: int
    decoded_size: int


def encode_simple_chunk(
    records: Sequence[bytes], codec: Codec, level: int | None, window_log: int | None
) -> EncodedChunk:
    """Encode records as one simple chunk."""
    sizes = np.fromiter(map(len, records), np.uint64, len(records))
    values = b"".join(records)
    sizes_blob = _blob(encode_varints(sizes).tobytes(), codec, level, window_log)
    data = (
        bytes((codec.codec_id,))
        + encode_varint(len(sizes_blob))
        + sizes_blob
        + _blob(values, codec, level, window_log)
    )
    return EncodedChunk(data, len(records), len(values))
