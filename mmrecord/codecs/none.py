"""No compression: Riegeli's compression type 0, blobs stored as they are."""

from __future__ import annotations

from typing import Any

from .registry import Codec


class Uncompressed(Codec):
    """The identity codec (option ``uncompressed``)."""

    codec_id = 0
    name = "uncompressed"

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        return bytes(data)

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        out = bytes(data)
        self.check_size(len(out), decoded_size)
        return out
