"""An example mmrecord codec plugin: LZ4 block compression.

Riegeli has no LZ4, so the codec uses a private compression byte; files written
with it open only in mmrecord, and only where this plugin is installed.
"""

from __future__ import annotations

from typing import Any

import lz4.block

from mmrecord.codecs import Codec

__all__ = ["LZ4"]


class LZ4(Codec):
    """LZ4 blocks: level 0 is LZ4's fast mode, 1..12 its high-compression mode."""

    codec_id = 0x4C  # 'L': outside Riegeli's table (0, 'b', 'z', 's')
    name = "lz4"
    level_range = (0, 12)
    default_level = 0

    def compress(self, data: Any, level: int | None = None, window_log: int | None = None) -> bytes:
        # The chunk records the decoded size, so the block does not store it.
        if not level:
            return lz4.block.compress(data, store_size=False)
        return lz4.block.compress(data, mode="high_compression", compression=level, store_size=False)

    def decompress(self, data: Any, decoded_size: int) -> bytes:
        out = lz4.block.decompress(data, uncompressed_size=decoded_size)  # at most that many
        self.check_size(len(out), decoded_size)
        return out
