"""Zstandard (compression type ``'z'``), byte-identical to the reference writer.

The reference (Riegeli's ZstdWriter) sets only the level and the window log and
lets libzstd derive every other parameter from them and the source size; it
streams each blob, and libzstd learns the size (and the frame records it) only
when the whole blob reaches it in one call: a blob written at once under 4096
bytes, or records that end inside the writer's first 4096-byte buffer
(:mod:`~mmrecord.codecs.writer_calls`, which then calls
:meth:`Zstd.compress_sized`). Doing the same through python-zstandard
reproduces its frames exactly when both use the same libzstd: the
array_record 0.8.6 wheel bundles libzstd 1.5.6 (zstandard 0.23); libzstd
1.5.7 (zstandard 0.24+) splits blocks differently at levels 0, 3 and 4.

Reads that go through the engine's kernels call libzstd directly: its
one-shot decoder for whole blobs, its streaming decoder (through
``native.stream_adapter``) for a prefix, which stops as soon as the bytes
asked for are out, so that a random read of a chunk decodes only as far as
the last record it needs. The ``zstandard`` package's cffi build (the
``cffi`` extra, which mmrecord depends on) gives the functions' addresses,
and each thread owns a decoding context. Without that build, zstd records
decode through python-zstandard, record by record.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import zstandard

try:
    from zstandard import _cffi
except ImportError:  # zstandard without its cffi build: reads decode through python-zstandard
    _cffi = None

from ..engine.native import stream_adapter
from ..engine.simple import encode_chunks_by_call
from .registry import Codec
from .writer_calls import WRITER_BUFFER_BYTES

#: The largest window a frame may ask for: the format allows a window_log of 31,
#: libzstd's default limit is 27.
_MAX_WINDOW_LOG = 31


def _address(pointer: Any) -> int:
    return int(_cffi.ffi.cast("uintptr_t", pointer))


_DECODE_FUNCTION = _address(_cffi.ffi.addressof(_cffi.lib, "ZSTD_decompressDCtx")) if _cffi else 0
_STREAM_FUNCTIONS = [_address(_cffi.ffi.addressof(_cffi.lib, name)) for name in
                     ("ZSTD_decompressStream", "ZSTD_DCtx_reset")] if _cffi else []
_ENCODE_FUNCTION = _address(_cffi.ffi.addressof(_cffi.lib, "ZSTD_compress2")) if _cffi else 0


class _Contexts(threading.local):
    """One thread's zstd contexts: costly to create, and not thread-safe."""

    def __init__(self) -> None:
        self.compressors: dict[tuple[int, int], zstandard.ZstdCompressor] = {}
        self.decompressor = zstandard.ZstdDecompressor(max_window_size=1 << _MAX_WINDOW_LOG)
        self.kernel_decoder: tuple[int, int] | None = None
        self.kernel_prefix_decoder: tuple[int, int] | None = None
        self._kernel_context: Any = None  # keeps the context alive; freed with the thread
        self._stream_words: np.ndarray | None = None  # the stream adapter's context: its functions and stream
        # (level, window_log) -> ((function, context address), the context, kept alive with the thread)
        self._kernel_encoders: dict[tuple[int, int], tuple[tuple[int, int], Any]] = {}

    def make_kernel_decoder(self) -> tuple[int, int]:
        lib = _cffi.lib
        context = _cffi.ffi.gc(lib.ZSTD_createDCtx(), lib.ZSTD_freeDCtx)
        if context == _cffi.ffi.NULL or lib.ZSTD_isError(
                lib.ZSTD_DCtx_setParameter(context, lib.ZSTD_d_windowLogMax, _MAX_WINDOW_LOG)):
            raise MemoryError("libzstd could not make a decoding context")
        self._kernel_context = context
        self.kernel_decoder = (_DECODE_FUNCTION, _address(context))
        # The same context streams (one thread uses one at a time); the adapter resets it per stream.
        self._stream_words = np.array(_STREAM_FUNCTIONS + [_address(context)], np.int64)
        self.kernel_prefix_decoder = (stream_adapter(), self._stream_words.ctypes.data)
        return self.kernel_decoder


    def kernel_encoder(self, key: tuple[int, int]) -> tuple[int, int]:
        """``ZSTD_compress2`` and this thread's compression context for (level, window_log).

        Only the level and the window log are set, as in :meth:`Zstd._compressor`:
        the one-shot call pledges the blob's size, so it makes the frames
        python-zstandard's ``compress`` makes, for the blobs whose size the
        reference pledges.
        """
        made = self._kernel_encoders.get(key)
        if made is None:
            lib = _cffi.lib
            context = _cffi.ffi.gc(lib.ZSTD_createCCtx(), lib.ZSTD_freeCCtx)
            if context == _cffi.ffi.NULL or any(lib.ZSTD_isError(lib.ZSTD_CCtx_setParameter(context, parameter, value))
                                                for parameter, value in ((lib.ZSTD_c_compressionLevel, key[0]),
                                                                         (lib.ZSTD_c_windowLog, key[1]))):
                raise MemoryError("libzstd could not make a compression context")
            made = self._kernel_encoders[key] = ((_ENCODE_FUNCTION, _address(context)), context)
        return made[0]


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
        compressor = self._compressor(level, window_log)
        if size < WRITER_BUFFER_BYTES:
            # The reference's writer buffers it whole and ends the stream in one call, which
            # pledges the size: the one-shot call makes that frame.
            return compressor.compress(data)
        # A stream without a pledged size: libzstd's one-shot call would pledge it, which
        # changes the frame (and blobs larger than a small window get other frames still).
        stream = compressor.compressobj(size=-1)
        return stream.compress(data) + stream.flush()

    def compress_sized(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        """Compress with the size pledged whatever it is (transposed chunks' buckets and header; records
        that fill the reference writer's first buffer exactly)."""
        stream = self._compressor(level, window_log).compressobj(size=memoryview(data).nbytes)
        return stream.compress(data) + stream.flush()

    def encode_chunks(self, values: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray,
                      level: int | None, window_log: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Small blobs (those whose size is pledged) are compressed by one kernel call a job, without the GIL."""
        if not _ENCODE_FUNCTION:
            return None
        encoder = self._contexts.kernel_encoder(self._key(level, window_log))
        made = encode_chunks_by_call(values, sizes, group_bounds, self.codec_id, *encoder, WRITER_BUFFER_BYTES)
        return (made.data, made.bounds) if made.ok else None

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        # A size in the frame header would be trusted for the allocation: check it.
        declared = zstandard.frame_content_size(data)
        if declared not in (-1, decoded_size):
            raise ValueError(f"zstd frame declares {declared} bytes, expected {decoded_size}")
        # max_output_size=0 would mean "unbounded"; 1 still fits an empty frame.
        out = self._contexts.decompressor.decompress(data, max_output_size=decoded_size or 1)
        self.check_size(len(out), decoded_size)
        return out

    def decompress_prefix(self, data: Any, decoded_size: int, prefix: int) -> Any:
        if prefix >= decoded_size:
            return self.decompress(data, decoded_size)
        # A stream reader decodes only as far as its reads ask.
        reader = self._contexts.decompressor.stream_reader(data)
        parts = [reader.read(prefix)]
        got = len(parts[0])
        while got < prefix:
            more = reader.read(prefix - got)
            if not more:
                raise ValueError(f"zstd stream ends after {got} bytes, expected {decoded_size}")
            parts.append(more)
            got += len(more)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def kernel_decoder(self) -> tuple[int, int] | None:
        if not _DECODE_FUNCTION:
            return None
        contexts = self._contexts
        return contexts.kernel_decoder or contexts.make_kernel_decoder()

    def kernel_prefix_decoder(self) -> tuple[int, int] | None:
        return self._contexts.kernel_prefix_decoder if self.kernel_decoder() else None  # made together

    def _key(self, level: int | None, window_log: int | None) -> tuple[int, int]:
        """(level, window_log), defaults filled in."""
        return (self.default_level if level is None else level,
                self.default_window_log if window_log is None else window_log)

    def _compressor(self, level: int | None, window_log: int | None) -> zstandard.ZstdCompressor:
        """This thread's compressor for (level, window_log), made on first use.

        Only the level and the window log are set, as the reference does: the
        other parameters stay "auto", derived by libzstd per blob.
        """
        key = self._key(level, window_log)
        compressors = self._contexts.compressors
        if key not in compressors:
            params = zstandard.ZstdCompressionParameters(compression_level=key[0], window_log=key[1])
            compressors[key] = zstandard.ZstdCompressor(compression_params=params)
        return compressors[key]
