"""Snappy (compression type ``'s'``): the raw block format, not the framing format.

cramjam's Rust Snappy (what python-snappy wraps) is used directly. Its output is
valid Snappy but not always byte-identical to the C++ library the reference uses.
"""

from __future__ import annotations

from typing import Any

import cramjam

from .registry import Codec


class Snappy(Codec):
    """Raw Snappy blocks (option ``snappy``; the level is accepted and ignored)."""

    codec_id = 0x73
    name = "snappy"
    level_range = (1, 2)
    level_in_options = False

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        return bytes(cramjam.snappy.compress_raw(data))

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        # Decoding into a buffer of the known size bounds the output of a corrupt block.
        buffer = bytearray(decoded_size)
        self.check_size(cramjam.snappy.decompress_raw_into(data, buffer), decoded_size)
        return bytes(buffer)
