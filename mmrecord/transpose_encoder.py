"""Encoding transposed chunks (``transpose:true``), byte for byte as the reference writes them.

The kernels of :mod:`mmrecord.engine.transpose_encode` turn each group of
records into uncompressed segments (buckets, header tail, transitions) the
way Riegeli's ``TransposeEncoder`` does; this module compresses them and
lays out each chunk's data (FORMAT.md §9)::

    compression_type | varint(header blob length) | header blob | bucket blobs | transitions blob

where the header is ``varint(num_buckets) varint(num_buffers)``, each
bucket blob's length, then the header tail. Compressed as Riegeli does:
buckets and header with their size pledged to the compressor
(:meth:`~mmrecord.codecs.Codec.compress_sized`), transitions without.
Uncompressed chunks are laid out by one kernel call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .chunk import TRANSPOSED, EncodedChunks
from .codecs import Codec
from .codecs.writer_calls import compress_written
from .engine.transpose_encode import encode_transposed_groups, frame_uncompressed
from .engine.varint import encode_varint

#: Riegeli packs an uncompressed chunk's buffers without a bucket limit.
_NO_BUCKET_LIMIT = 1 << 62


def encode_transposed_chunks(records: Sequence[bytes], group_size: int, codec: Codec, level: int | None,
                             window_log: int | None, bucket_size: int) -> EncodedChunks:
    """Encode records as transposed chunks of ``group_size`` records (the last may hold fewer)."""
    group_bounds = np.append(np.arange(0, len(records), group_size, dtype=np.int64), len(records))
    sizes = np.fromiter(map(len, records), np.int64, len(records))
    bounds = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    counts = np.diff(group_bounds)
    decoded = bounds[group_bounds[1:]] - bounds[group_bounds[:-1]]
    values = np.frombuffer(b"".join(records), np.uint8)
    uncompressed = codec.codec_id == 0
    segments = encode_transposed_groups(values, bounds, group_bounds,
                                        _NO_BUCKET_LIMIT if uncompressed else min(bucket_size, _NO_BUCKET_LIMIT))
    if uncompressed:
        data, chunk_bounds = frame_uncompressed(segments)
        return EncodedChunks.from_buffer(data, chunk_bounds, counts, decoded, TRANSPOSED)
    parts = _compressed_chunks(segments, codec, level, window_log)
    chunk_bounds = np.concatenate(([0], np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)))))
    return EncodedChunks.from_buffer(np.frombuffer(b"".join(parts), np.uint8), chunk_bounds, counts, decoded, TRANSPOSED)


def _compressed_chunks(segments, codec: Codec, level: int | None, window_log: int | None) -> list[bytes]:
    """Each chunk's data: its segments compressed, the header written around the bucket sizes."""
    data = memoryview(segments.data)
    cuts = segments.bounds.tolist()
    prefix = bytes((codec.codec_id,))

    def sized(raw) -> bytes:
        return encode_varint(len(raw)) + codec.compress_sized(raw, level, window_log)

    parts = []
    for first, num_buckets, num_buffers in zip(segments.first_segment.tolist(), segments.num_buckets.tolist(),
                                               segments.num_buffers.tolist()):
        tail = first + num_buckets
        buckets = [sized(data[cuts[s]:cuts[s + 1]]) for s in range(first, tail)]
        header = b"".join([encode_varint(num_buckets), encode_varint(num_buffers),
                           *map(encode_varint, map(len, buckets)), data[cuts[tail]:cuts[tail + 1]]])
        header_blob = sized(header)
        transitions = data[cuts[tail + 1]:cuts[tail + 2]]
        # The reference writes the transitions a byte at a time.
        written = compress_written(codec, transitions, np.broadcast_to(np.int64(1), len(transitions)),
                                   level, window_log)
        parts.append(b"".join([prefix, encode_varint(len(header_blob)), header_blob, *buckets,
                               encode_varint(len(transitions)), written]))
    return parts
