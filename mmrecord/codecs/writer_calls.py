"""How the reference's writer hands a blob to its compressor, and so which codec call makes its bytes.

Riegeli writes a chunk's values record by record, and a transposed chunk's
transitions a byte at a time, into a compressing writer that gathers small
writes in a buffer (the first :data:`WRITER_BUFFER_BYTES` of a blob, up to
:data:`GATHERED_CALL_BYTES` later) and passes long ones straight on. What
its compressor sees depends on that, and both zstd and brotli streams
depend on what the compressor saw:

* a blob that ends inside the first buffer reaches the compressor in one
  final call, which tells it the size (zstd records it in the frame and picks
  its parameters for it): ``Codec.compress`` for a blob under the buffer's
  size, ``Codec.compress_sized`` for pieces that fill it exactly;
* any other blob is streamed: ``Codec.compress_streamed``, given the pieces;
  :func:`writer_calls` lays out the calls they make, for a codec whose stream
  depends on them. Brotli sizes its encoder by the input it holds when its
  first block fills, up to the end of that call: past 1 MiB it picks another
  match finder and context modelling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import Codec

#: The bytes of a blob the reference's compressing writer buffers before it first calls the compressor.
WRITER_BUFFER_BYTES = 4096
#: The most bytes of small writes it gathers into one later call; a write this long goes straight on.
GATHERED_CALL_BYTES = 1 << 16


def compress_written(codec: Codec, data: Any, piece_sizes: np.ndarray, level: int | None,
                     window_log: int | None) -> bytes:
    """``data`` compressed as the reference's writer compresses it when written in pieces of ``piece_sizes``."""
    length = memoryview(data).nbytes
    if length < WRITER_BUFFER_BYTES:
        return codec.compress(data, level, window_log)
    if fills_writer_buffer(length, piece_sizes):
        return codec.compress_sized(data, level, window_log)
    return codec.compress_streamed(data, piece_sizes, level, window_log)


def fills_writer_buffer(length: int, piece_sizes: np.ndarray) -> bool:
    """Whether pieces of ``piece_sizes`` (``length`` bytes in all) fill the writer's first buffer exactly.

    A piece that long on its own is passed straight on instead, its size untold.
    """
    return length == WRITER_BUFFER_BYTES and int(np.max(piece_sizes)) < WRITER_BUFFER_BYTES


def writer_calls(piece_sizes: np.ndarray) -> np.ndarray:
    """Where the compressor calls of a blob written in pieces of ``piece_sizes`` end (int64, the last
    at the blob's end).

    A piece of at least :data:`GATHERED_CALL_BYTES` is a call of its own;
    the pieces between such pieces are gathered into calls of that many
    bytes. (The writer's first calls are shorter while its buffer grows,
    which the codecs do not tell apart: they depend on where a call ends
    only past 1 MiB.)
    """
    sizes = np.asarray(piece_sizes, np.int64)
    ends = np.cumsum(sizes)
    long_pieces = np.flatnonzero(sizes >= GATHERED_CALL_BYTES)
    long_starts = set((ends[long_pieces] - sizes[long_pieces]).tolist())
    edges = sorted({0, int(ends[-1]), *long_starts, *ends[long_pieces].tolist()})
    calls = []
    for start, stop in zip(edges[:-1], edges[1:]):
        if start not in long_starts:  # small pieces, gathered
            calls.extend(range(start + GATHERED_CALL_BYTES, stop, GATHERED_CALL_BYTES))
        calls.append(stop)
    return np.array(calls, np.int64)
