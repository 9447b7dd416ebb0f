"""Riegeli chunks: read and check one in a mapped file, encode and decode simple chunks.

A simple chunk (type ``r``) holds a compression byte, a blob of record sizes
(varints) and a blob of the concatenated record values (FORMAT.md §4). This
module knows that layout; compression itself is the codec registry's job and
positions are the engine's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .blob import decompress_payload
from .codecs import Codec
from .codecs.writer_calls import compress_written
from .engine import framing, simple
from .engine.blocks import chunk_end, join_logical
from .engine.gather import sizes_to_bounds
from .engine.pybytes import bytes_list, bytes_list_logical, join_records, record_addresses
from .engine.varint import (
    decode_varints_into,
    encode_varint,
    encode_varints,
    varint_lengths,
)
from .errors import CorruptRecordError
from .parallel import beside, settle
from .transposed import decode_transposed_chunk

#: Chunks decoding to at least this many bytes (footers of millions of chunks)
#: decompress their values on another thread while the sizes are decoded.
PARALLEL_VALUES_BYTES = 1 << 22

SIGNATURE = ord("s")
PADDING = ord("p")
SIMPLE = ord("r")
TRANSPOSED = ord("t")

_STATUS_TEXT = {
    framing.TRUNCATED: "chunk runs past the end of its region (file truncated or offset wrong)",
    framing.HEADER_HASH: "chunk header hash mismatch",
    framing.BLOCK_HEADER: "block header hash mismatch or block header points elsewhere",
    framing.DATA_HASH: "chunk data hash mismatch",
    framing.BAD_POSITION: "chunk offset lies inside a block header",
    simple.BAD_LAYOUT: "simple chunk's blob lengths do not fit its data",
}


@dataclass(frozen=True)
class ChunkRecords:
    """A decoded data chunk: record k is ``values[bounds[k]:bounds[k+1]]``."""

    values: np.ndarray  # uint8; a view into the map for uncompressed chunks
    bounds: np.ndarray  # int64, num_records + 1 entries

    @property
    def num_records(self) -> int:
        return len(self.bounds) - 1

    def holds(self, last: int) -> bool:
        """Whether records ``0..last`` are decoded (a chunk read for its first records may hold no more)."""
        return int(self.bounds[last + 1]) <= len(self.values)

    def record(self, k: int) -> bytes:
        return self.values[self.bounds[k]:self.bounds[k + 1]].tobytes()

    def records(self, ks: np.ndarray) -> list[bytes]:
        """Records ``ks`` (in that order), each copied straight from the values (no whole-chunk copy first)."""
        return bytes_list(self.values, self.bounds[ks], self.bounds[ks + 1])

    def records_from(self, first: int) -> list[bytes]:
        """Records ``first`` to the chunk's last, as :meth:`records` gives them."""
        return bytes_list(self.values, self.bounds[first:-1], self.bounds[first + 1:])


@dataclass(frozen=True)
class InPlaceRecords:
    """An uncompressed data chunk read where it lies in the file map (``simple.in_place_bounds``).

    Record ``k`` is the ``bounds[k+1] - bounds[k]`` logical bytes that begin
    ``bounds[k]`` logical bytes after physical position ``values_pos`` of
    ``src``: nothing of the chunk is copied until a record is asked for, and
    a record is copied once, into its ``bytes``.
    """

    src: np.ndarray  # the file map
    values_pos: int
    bounds: np.ndarray  # int64, num_records + 1 entries

    @property
    def num_records(self) -> int:
        return len(self.bounds) - 1

    def holds(self, last: int) -> bool:
        return True

    @property
    def values(self) -> np.ndarray:
        """All the records' bytes, joined (a copy)."""
        return join_logical(self.src, np.array([self.values_pos]), self.bounds[-1:])[0]

    def record(self, k: int) -> bytes:
        return self.records(np.array([k]))[0]

    def records(self, ks: np.ndarray) -> list[bytes]:
        return bytes_list_logical(self.src, *simple.place_records(self.values_pos, self.bounds, ks))

    def records_from(self, first: int) -> list[bytes]:
        return self.records(np.arange(first, self.num_records))


#: A data chunk as a reader holds it.
DecodedChunk = ChunkRecords | InPlaceRecords


def read_in_place(src: np.ndarray, begin: int, limit: int, verify: bool,
                  expect: tuple[int, int]) -> InPlaceRecords | None:
    """The uncompressed data chunk at ``begin`` as :class:`InPlaceRecords`, if it can be read in place.

    ``expect`` is the footer entry's ``(records, decoded size)`` and ``limit``
    where the next chunk begins. None when it cannot (damaged, compressed,
    not a simple chunk, disagreeing with its entry): :func:`read_chunk_records`
    then reads it, or names its problem.
    """
    bounds = np.empty(expect[0] + 1, np.int64)
    values_pos = simple.in_place_bounds(src, begin, limit, verify, expect[0], expect[1], bounds)
    return InPlaceRecords(src, values_pos, bounds) if values_pos >= 0 else None


def _read(src: np.ndarray, begin: int, limit: int, verify: bool):
    """``read_simple`` with its status turned into an exception."""
    fields = simple.read_simple(src, begin, limit, verify)
    if fields[0] != framing.OK:
        raise CorruptRecordError(_STATUS_TEXT[fields[0]], offset=int(fields[1]))
    return fields


def entry_mismatch_text(finding: int, begin: int, data_size: int, chunk_type: int, num_records: int,
                        decoded_size: int, next_begin: int, records: int, size: int) -> str:
    """What ``framing.entry_mismatch`` found, naming the chunk's value and the footer's."""
    if finding == framing.NOT_DATA:
        return f"expected a data chunk, found chunk type {chunk_type:#04x}"
    if finding == framing.RECORDS:
        return f"chunk holds {num_records} records, the footer says {records}"
    if finding == framing.DECODED:
        return f"chunk holds {decoded_size} bytes of records, the footer says {size}"
    end = int(chunk_end(begin, data_size, num_records))
    return f"chunk ends at byte {end}, the footer has the next chunk begin at byte {next_begin}"


def read_chunk_records(src: np.ndarray, begin: int, limit: int, verify: bool,
                       expect: tuple[int, int] | None = None, need: int | None = None) -> ChunkRecords:
    """Read, check and decode the data chunk at file position ``begin`` (ending by ``limit``).

    With ``expect``, the footer entry's ``(records, decoded size)``, the chunk
    must agree with it and end where the next chunk (at ``limit``) begins
    (``framing.entry_mismatch``): this check stays on without ``verify``.
    With ``need``, only records ``0..need-1`` are wanted: a simple chunk's
    values are then decoded only that far where the codec can stop early,
    and the result may hold no more (:meth:`ChunkRecords.holds`).
    """
    (_, _, chunk_type, num_records, decoded, start, size, copy,
     codec_id, sizes_pos, sizes_stop, sizes_size, values_pos, values_stop, values_size) = _read(
        src, begin, limit, verify)
    if expect is not None:
        finding = framing.entry_mismatch(src, begin, size, chunk_type, num_records, decoded, limit, *expect)
        if finding != framing.SAME:
            raise CorruptRecordError(entry_mismatch_text(finding, begin, size, chunk_type, num_records, decoded,
                                                         limit, *expect), offset=begin)
    buf = src if start >= 0 else copy
    if chunk_type == TRANSPOSED:
        data = src[start:start + size] if start >= 0 else copy
        return ChunkRecords(*decode_transposed_chunk(data, num_records, decoded))
    if chunk_type != SIMPLE:
        raise CorruptRecordError(f"expected a data chunk, found chunk type {chunk_type:#04x}")
    values_blob = buf[values_pos:values_stop]
    if need is not None and need < num_records and codec_id != 0:
        bounds = _bounds(decompress_payload(codec_id, buf[sizes_pos:sizes_stop], sizes_size, "sizes blob"),
                         num_records, decoded)
        values = decompress_payload(codec_id, values_blob, values_size, "values blob", int(bounds[need]))
        return ChunkRecords(np.frombuffer(values, np.uint8), bounds)
    # A large chunk's values are decompressed on another thread while this one decodes the sizes.
    pending = beside(decompress_payload, codec_id, values_blob, values_size, "values blob") \
        if decoded >= PARALLEL_VALUES_BYTES else None
    try:
        bounds = _bounds(decompress_payload(codec_id, buf[sizes_pos:sizes_stop], sizes_size, "sizes blob"),
                         num_records, decoded)
    except BaseException:
        settle([pending] if pending is not None else [])
        raise
    values = np.frombuffer(pending() if pending is not None else
                           decompress_payload(codec_id, values_blob, values_size, "values blob"), np.uint8)
    if len(values) != decoded:
        raise CorruptRecordError("record values do not match the chunk's decoded size")
    return ChunkRecords(values, bounds)


def _bounds(sizes_blob, num_records: int, decoded: int) -> np.ndarray:
    """Record bounds from a chunk's decompressed sizes blob, checked against its record count and size."""
    sizes_raw = np.frombuffer(sizes_blob, np.uint8)
    if num_records > len(sizes_raw):  # every size takes a byte at least: no huge allocation
        raise CorruptRecordError("record sizes do not decode to exactly num_records varints")
    # NumPy allocates these (a large array gets huge pages: far fewer page faults).
    sizes = np.empty(num_records, np.uint64)
    if decode_varints_into(sizes_raw, 0, len(sizes_raw), sizes) != len(sizes_raw):
        raise CorruptRecordError("record sizes do not decode to exactly num_records varints")
    bounds = np.empty(num_records + 1, np.int64)
    if not sizes_to_bounds(sizes, decoded, bounds):
        raise CorruptRecordError("record sizes do not add up to the chunk's decoded size")
    return bounds


def record_at(src: np.ndarray, codec_id: int, pos: int, stop: int, size: int) -> bytes:
    """The record of a one-record chunk whose values payload is ``src[pos:stop]``.

    The fast path of random access at group size 1: the values blob is the
    record, so the sizes blob is not decoded (the chunk's hashes vouch for it).
    """
    if codec_id == 0:
        return src[pos:stop].tobytes()
    record = decompress_payload(codec_id, src[pos:stop], size, "values blob")
    return record if type(record) is bytes else bytes(record)


# Each thread's buffer that a job's records are joined into before they are encoded.
_join_buffer = threading.local()


@dataclass(frozen=True)
class EncodedChunks:
    """Data chunks ready to be framed (``framing.lay_out_chunks``).

    Chunk ``k``'s data is pieces ``chunk_pieces[k]`` to ``chunk_pieces[k+1]``,
    piece ``i`` being the ``piece_size[i]`` bytes at address ``piece_at[i]``
    (one piece a chunk when it is made whole in a buffer; a head and then
    each record where it lies for uncompressed records). ``owners`` hold
    that memory: the addresses are good while this object lives.
    """

    piece_at: np.ndarray  # int64
    piece_size: np.ndarray  # int64
    chunk_pieces: np.ndarray  # int64, one more than chunks
    num_records: np.ndarray  # int64
    decoded_size: np.ndarray  # int64
    chunk_type: int = SIMPLE  # SIMPLE or TRANSPOSED
    owners: tuple = ()

    @classmethod
    def from_buffer(cls, data: np.ndarray, bounds: np.ndarray, num_records: np.ndarray,
                    decoded_size: np.ndarray, chunk_type: int = SIMPLE) -> "EncodedChunks":
        """Chunks made whole one after another in ``data`` (uint8): chunk ``k`` is ``data[bounds[k]:bounds[k+1]]``."""
        bounds = np.asarray(bounds, np.int64)
        data = np.ascontiguousarray(data)
        return cls(data.ctypes.data + bounds[:-1], np.diff(bounds), np.arange(len(bounds), dtype=np.int64),
                   num_records, decoded_size, chunk_type, (data,))

    @classmethod
    def empty(cls) -> "EncodedChunks":
        """One chunk with no data and no records (the file signature's shape)."""
        zero = np.zeros(1, np.int64)
        return cls.from_buffer(np.empty(0, np.uint8), np.zeros(2, np.int64), zero, zero)


def encode_simple_chunks(records: Sequence[bytes], group_size: int, codec: Codec, level: int | None,
                         window_log: int | None) -> EncodedChunks:
    """Encode records as simple chunks of ``group_size`` records (the last may hold fewer).

    Uncompressed records are not copied here: the framing copies each once,
    from where it lies, into the file's bytes (the chunks keep the list,
    which no one else changes). Others are joined into this thread's scratch
    buffer: the chunks made from it never refer to it.
    """
    records = records if type(records) is list else list(records)
    group_bounds = np.append(np.arange(0, len(records), group_size, dtype=np.int64), len(records))
    if codec.codec_id == 0:
        addresses, sizes = record_addresses(records)
        return _uncompressed_chunks(addresses, sizes.astype(np.uint64), group_bounds, records)
    values, sizes = join_records(records, getattr(_join_buffer, "buffer", None))
    _join_buffer.buffer = values.base  # the buffer given, or the larger one made in its place
    return encode_record_values(values, sizes.astype(np.uint64), group_bounds, codec, level, window_log)


def _uncompressed_chunks(record_at: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray,
                         owner: object) -> EncodedChunks:
    """Uncompressed simple chunks of the records at addresses ``record_at`` (``sizes``, uint64), which
    ``owner`` keeps alive: framed from where they lie, each record copied once (``simple.uncompressed_pieces``)."""
    pieces = simple.uncompressed_pieces(record_at, sizes, group_bounds)
    return EncodedChunks(pieces.piece_at, pieces.piece_size, pieces.chunk_pieces, np.diff(group_bounds),
                         pieces.decoded_size, SIMPLE, (owner, pieces.heads))


def encode_record_values(values: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray, codec: Codec,
                         level: int | None, window_log: int | None) -> EncodedChunks:
    """Simple chunks of records given as one buffer: ``values`` cut by ``sizes``, grouped at ``group_bounds``.

    No object per record is made (a footer of millions of entries is one
    buffer). A codec that lays out whole chunks in a kernel (uncompressed,
    snappy: :meth:`~mmrecord.codecs.Codec.encode_chunks`) does it in one call;
    the others take a codec call per blob.
    """
    counts = np.diff(group_bounds)
    ends = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    if codec.codec_id == 0:
        values = np.ascontiguousarray(values)
        return _uncompressed_chunks(values.ctypes.data + ends[:-1], sizes, group_bounds, values)
    decoded = ends[group_bounds[1:]] - ends[group_bounds[:-1]]
    laid_out = codec.encode_chunks(values, sizes, group_bounds, level, window_log)
    if laid_out is not None:
        return EncodedChunks.from_buffer(*laid_out, counts, decoded)
    # Chunk g is head ‖ varint(decoded size) ‖ compressed values, where the head,
    # codec byte ‖ varint(len(sizes blob)) ‖ sizes blob, is made once per distinct
    # sizes (small groups repeat theirs). The varints come from kernels.
    compress = codec.compress
    prefix = bytes((codec.codec_id,))
    heads: dict[bytes, bytes] = {}
    all_sizes = encode_varints(sizes).tobytes()
    sizes_ends = np.concatenate(([0], np.cumsum(varint_lengths(sizes)))).tolist()
    decoded_varints = encode_varints(decoded.astype(np.uint64)).tobytes()
    decoded_ends = np.concatenate(([0], np.cumsum(varint_lengths(decoded.astype(np.uint64))))).tolist()
    cuts, value_ends = group_bounds.tolist(), ends.tolist()
    parts = []
    lengths = []
    for g in range(len(counts)):
        first, stop = cuts[g], cuts[g + 1]
        raw_sizes = all_sizes[sizes_ends[first]:sizes_ends[stop]]
        head = heads.get(raw_sizes)
        if head is None:
            sizes_blob = encode_varint(len(raw_sizes)) + compress(raw_sizes, level, window_log)
            head = heads[raw_sizes] = prefix + encode_varint(len(sizes_blob)) + sizes_blob
        # The reference writes the values record by record (the sizes blob at once).
        compressed = compress_written(codec, values[value_ends[first]:value_ends[stop]], sizes[first:stop],
                                      level, window_log)
        length = decoded_varints[decoded_ends[g]:decoded_ends[g + 1]]
        parts += (head, length, compressed)
        lengths.append(len(head) + len(length) + len(compressed))
    bounds = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    return EncodedChunks.from_buffer(np.frombuffer(b"".join(parts), np.uint8), bounds, counts, decoded)
