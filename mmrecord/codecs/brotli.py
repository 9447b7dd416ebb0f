"""Brotli (compression type ``'b'``).

The ``brotli`` module's encoder with the same quality and window reproduces the
reference's streams for window_log up to 24, fed as the reference's writer
feeds it (:meth:`Brotli.compress_streamed`). Larger windows need Brotli's
large-window extension, which the ``brotli`` module can neither write nor
read; such streams from the reference are decoded with cramjam instead.

Kernels call the C library's one-shot decoder, ``BrotliDecoderDecompress``,
which the ``brotli`` module's extension exports (through the adapter for its
calling convention, ``native.sized_output_adapter``). It refuses large-window
streams, which then decode through :meth:`Brotli.decompress`. Where the
extension does not export it, every record decodes through ``decompress``.
"""

from __future__ import annotations

import ctypes
from typing import Any

import brotli
import cramjam
import numpy as np

from ..engine.native import sized_output_adapter
from ..errors import UnsupportedFeatureError
from .registry import Codec
from .writer_calls import writer_calls

_WINDOW_LOG_WHEN_UNSET = 22
_MAX_STANDARD_WINDOW_LOG = 24


def _one_shot_decoder() -> int:
    """The address of ``BrotliDecoderDecompress`` in the ``brotli`` module's extension; 0 if not exported."""
    try:
        import _brotli

        return ctypes.cast(ctypes.CDLL(_brotli.__file__).BrotliDecoderDecompress, ctypes.c_void_p).value or 0
    except (ImportError, OSError, AttributeError):
        return 0


_DECODE_FUNCTION = _one_shot_decoder()


class Brotli(Codec):
    """Raw Brotli streams (option ``brotli``)."""

    codec_id = 0x62
    name = "brotli"
    level_range = (0, 11)
    default_level = 6
    window_log_range = (10, 30)

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        return brotli.compress(data, **self._settings(level, window_log))

    def compress_streamed(self, data: Any, piece_sizes: np.ndarray, level: int | None = None,
                          window_log: int | None = None) -> bytes:
        """Fed in the calls the reference's writer makes: the encoder expects as many bytes as it holds
        when its first block fills, up to the end of that call, and past 1 MiB that picks another match
        finder and context modelling, so a large blob written record by record is not ``compress``'s
        stream (given at once, the encoder expects all of it)."""
        encoder = brotli.Compressor(**self._settings(level, window_log))
        view = memoryview(data)
        ends = writer_calls(piece_sizes).tolist()
        out = [encoder.process(view[start:end]) for start, end in zip([0, *ends[:-1]], ends)]
        return b"".join(out) + encoder.finish()

    def _settings(self, level: int | None, window_log: int | None) -> dict[str, int]:
        """The encoder's quality and window for the options' level and window_log."""
        window_log = _WINDOW_LOG_WHEN_UNSET if window_log is None else window_log
        if window_log > _MAX_STANDARD_WINDOW_LOG:
            raise UnsupportedFeatureError(
                f"brotli window_log:{window_log} needs Brotli's large-window mode, which "
                f"mmrecord cannot write (the brotli module lacks it); use a window_log of "
                f"at most {_MAX_STANDARD_WINDOW_LOG} (files written with a larger one are readable)"
            )
        return {"quality": self.default_level if level is None else level, "lgwin": window_log}

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        decoder = brotli.Decompressor()
        try:
            # The limit stops a corrupt stream from inflating far beyond decoded_size.
            out = decoder.process(data, output_buffer_limit=decoded_size + 1)
        except brotli.error:
            # A large-window stream (window_log > 24); cramjam fails if it overflows `buffer`.
            buffer = bytearray(decoded_size)
            self.check_size(cramjam.brotli.decompress_into(data, buffer), decoded_size)
            return bytes(buffer)
        if not decoder.is_finished():
            raise ValueError(f"brotli stream does not end within {decoded_size} bytes")
        self.check_size(len(out), decoded_size)
        return out

    def kernel_decoder(self) -> tuple[int, int] | None:
        return (sized_output_adapter(), _DECODE_FUNCTION) if _DECODE_FUNCTION else None
