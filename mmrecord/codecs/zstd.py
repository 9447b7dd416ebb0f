"""Zstandard (compression type ``'z'``), byte-identical to the reference writer.

The reference (Riegeli's ZstdWriter) sets only the level and the window log and
lets libzstd derive every other parameter from them and the source size; it
streams each blob, pledging the size (so that the frame records it) only for
blobs under 4096 bytes. Doing the same through python-zstandard reproduces its
frames exactly when both use the same libzstd: the array_record 0.8.6 wheel
bundles libzstd 1.5.6 (zstandard 0.23); libzstd 1.5.7 (zstandard 0.24+) splits
blocks differently at levels 0, 3 and 4.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import zstandard

from .registry import Codec

#: Blobs shorter than this get their size in the frame header (FORMAT.md §4.2).
_PLEDGE_BELOW = 4096


class _Contexts(threading.local):
    """One thread's zstd contexts: costly to create, and not thread-safe."""

    def __init__(self) -> None:
        self.compressors: dict[tuple[int, int], zstandard.ZstdCompressor] = {}
        # window_log may be up to 31; libzstd's default limit is 27.
        self.decompressor = zstandard.ZstdDecompressor(max_window_size=1 << 31)


class Zstd(Codec):
    """Zstandard frames without checksum or dictionary (option ``zstd``)."""

    codec_id = 0x7A
    name = "zstd"
    level_range = (-131072, 22)
    default_level = 3
    window_log_range = (10, 31)
    default_window_log = 20

    def __init__(self) -> None:
        self._contexts = _Contexts()

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        size = memoryview(data).nbytes
        stream = self._compressor(level, window_log).compressobj(
            size=size if size < _PLEDGE_BELOW else -1
        )
        return stream.compress(data) + stream.flush()

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        # A size in the frame header would be trusted for the allocation: check it.
        declared = zstandard.frame_content_size(data)
        if declared not in (-1, decoded_size):
            raise ValueError(f"zstd frame declares {declared} bytes, expected {decoded_size}")
        # max_output_size=0 would mean "unbounded"; 1 still fits an empty frame.
        out = self._contexts.decompressor.decompress(data, max_output_size=decoded_size or 1)
        self.check_size(len(out), decoded_size)
        return out

    def decompress_spans(self, buffer: Any, starts: Any, stops: Any, sizes: Any,
                         threads: int = 1) -> list[bytes]:
        """Decode many frames in one C call on ``threads`` threads of libzstd's, then cut them into ``bytes``."""
        if not len(sizes) or np.min(sizes) == 0:
            # The batch decoder aborts the process on an all-empty batch: empty frames go one by one.
            return super().decompress_spans(buffer, starts, stops, sizes)
        segments = np.empty((len(starts), 2), np.uint64)
        segments[:, 0] = starts
        segments[:, 1] = np.asarray(stops) - np.asarray(starts)
        frames = zstandard.BufferWithSegments(buffer, segments.tobytes())
        # The sizes are given, so frames without a content size decode too, each bounded by its size.
        decoded = self._contexts.decompressor.multi_decompress_to_buffer(
            frames, decompressed_sizes=np.asarray(sizes, np.uint64).tobytes(), threads=threads)
        out = [decoded[i].tobytes() for i in range(len(segments))]
        for record, size in zip(out, np.asarray(sizes).tolist()):
            self.check_size(len(record), size)
        return out

    def _compressor(self, level: int | None, window_log: int | None) -> zstandard.ZstdCompressor:
        """This thread's compressor for (level, window_log), made on first use.

        Only the level and the window log are set, as the reference does: the
        other parameters stay "auto", derived by libzstd per blob.
        """
        key = (
            self.default_level if level is None else level,
            self.default_window_log if window_log is None else window_log,
        )
        compressors = self._contexts.compressors
        if key not in compressors:
            params = zstandard.ZstdCompressionParameters(compression_level=key[0], window_log=key[1])
            compressors[key] = zstandard.ZstdCompressor(compression_params=params)
        return compressors[key]
