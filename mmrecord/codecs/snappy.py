"""Snappy (compression type ``'s'``): the raw block format, not the framing format.

Blocks are made and read by the kernels of :mod:`mmrecord.engine.snappy`,
whose encoder follows the C++ library the reference bundles (snappy 1.2), so
snappy files are byte-identical to the reference's at both levels. Kernels
call the same decoder directly (a numba ``cfunc``), without the GIL.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import snappy
from ..engine.simple import encode_snappy_chunks
from ..errors import UnsupportedFeatureError
from .registry import Codec


class Snappy(Codec):
    """Raw Snappy blocks (option ``snappy``, level 1 unless ``snappy:2``, which compresses harder).

    Like the reference, the options string does not record the level (it is
    not needed to read the file), so a file's level is unknown: no default is declared.
    """

    codec_id = 0x73
    name = "snappy"
    level_range = (1, 2)
    level_in_options = False

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        raw = np.frombuffer(data, np.uint8)
        if len(raw) > snappy.MAX_INPUT:
            raise UnsupportedFeatureError(
                f"snappy compresses at most {snappy.MAX_INPUT} bytes at once, not {len(raw)}: "
                "use a smaller group_size or another codec")
        return snappy.compress(raw, 1 if level is None else level).tobytes()

    def encode_chunks(self, values: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray,
                      level: int | None, window_log: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        if len(values) > snappy.MAX_INPUT:
            return None  # a blob may be too large: compress() names it
        return encode_snappy_chunks(values, sizes, group_bounds, self.codec_id, 1 if level is None else level)

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        block = np.frombuffer(data, np.uint8)
        declared, _ = snappy.decoded_length(block, 0, len(block))
        if declared < 0:
            raise ValueError("snappy block does not start with a valid length")
        self.check_size(declared, decoded_size)
        out = np.empty(decoded_size, np.uint8)
        if snappy.decode(block, 0, len(block), out, 0, decoded_size) != decoded_size:
            raise ValueError("snappy block is malformed")
        return out.tobytes()

    def kernel_decoder(self) -> tuple[int, int] | None:
        return snappy.kernel_decoder(), 0
