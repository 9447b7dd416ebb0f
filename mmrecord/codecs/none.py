"""No compression: Riegeli's compression type 0, blobs stored as they are."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.simple import encode_uncompressed_chunks
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

    def encode_chunks(self, values: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray,
                      level: int | None, window_log: int | None) -> tuple[np.ndarray, np.ndarray]:
        return encode_uncompressed_chunks(values, sizes, group_bounds)
