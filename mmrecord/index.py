"""The chunk index: which data chunk holds record ``i``, and where that chunk lies.

It keeps 8 bytes per chunk (its file offset). Files from the reference writer
have uniform groups (every chunk but the last holds ``group_size`` records), so
record ``i`` is in chunk ``i // group_size``; files with other group layouts
keep a cumulative record count as well and are searched with ``searchsorted``.
"""

from __future__ import annotations

import numpy as np

from .chunk import read_chunk_records
from .engine.proto import decode_footer_entries
from .engine.simple import chunk_span
from .errors import CorruptRecordError
from .layout import FooterMetadata


class ChunkIndex:
    """Chunk offsets and record-to-chunk mapping of one file."""

    def __init__(self, chunk_offset: np.ndarray, chunk_records: np.ndarray, num_records: int,
                 footer_offset: int) -> None:
        count = len(chunk_offset)
        if int(chunk_records.sum(dtype=np.uint64)) != num_records or (count and chunk_records.min() == 0):
            raise CorruptRecordError("footer chunk entries do not add up to the file's record count")
        if count and (
            chunk_offset[0] < 64
            or np.any(chunk_offset[1:] <= chunk_offset[:-1])
            or chunk_offset[-1] >= footer_offset
        ):
            raise CorruptRecordError("footer chunk offsets are not increasing inside the data region")
        self.offsets = chunk_offset.astype(np.int64)
        self.footer_offset = footer_offset
        self.num_records = num_records
        self.group_size = int(chunk_records[0]) if count else 0
        uniform = count == 0 or (
            bool(np.all(chunk_records[:-1] == self.group_size)) and chunk_records[-1] <= self.group_size
        )
        self._first = None if uniform else np.concatenate(([0], np.cumsum(chunk_records[:-1]))).astype(np.int64)

    def __len__(self) -> int:
        return len(self.offsets)

    def locate(self, i: int) -> tuple[int, int]:
        """Chunk number and position inside it of record ``i`` (0 <= i < num_records)."""
        if self._first is None:
            return divmod(i, self.group_size)
        k = int(np.searchsorted(self._first, i, side="right")) - 1
        return k, i - int(self._first[k])

    def locate_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`locate` over an int64 array."""
        if self._first is None:
            return np.divmod(indices, self.group_size)
        chunks = np.searchsorted(self._first, indices, side="right") - 1
        return chunks, indices - self._first[chunks]

    def span(self, k: int) -> tuple[int, int]:
        """File position of chunk ``k`` and the position it must end by."""
        begin, limit = chunk_span(self.offsets, self.footer_offset, k)
        return int(begin), int(limit)

    @property
    def one_record_per_chunk(self) -> bool:
        """True when chunk ``i`` holds exactly record ``i`` (group size 1, the default)."""
        return self._first is None and self.group_size == 1

    def chunk_records(self, k: int) -> int:
        """How many records chunk ``k`` holds."""
        first = self.first_record(k)
        following = self.first_record(k + 1) if k + 1 < len(self) else self.num_records
        return following - first

    def record_counts(self) -> np.ndarray:
        """How many records each chunk holds (int64)."""
        firsts = np.arange(len(self), dtype=np.int64) * self.group_size if self._first is None else self._first
        return np.diff(np.append(firsts, np.int64(self.num_records)))

    def first_record(self, k: int) -> int:
        """Index of the first record of chunk ``k``."""
        return k * self.group_size if self._first is None else int(self._first[k])


def read_footer(src: np.ndarray, at: int, limit: int, verify: bool) -> tuple[FooterMetadata, ChunkIndex]:
    """Read and check the footer chunk at ``at`` (ending by ``limit``): its metadata and the chunk index."""
    footer = read_chunk_records(src, at, limit, verify)
    if footer.num_records < 1:
        raise CorruptRecordError("footer chunk holds no record")
    meta = FooterMetadata.decode(footer.record(0))
    offsets, counts, bad = decode_footer_entries(footer.values, footer.bounds[1:])
    if bad >= 0:
        raise CorruptRecordError(f"footer entry {bad} is malformed")
    if len(offsets) != meta.num_chunks:
        raise CorruptRecordError(f"footer lists {len(offsets)} chunks, its metadata says {meta.num_chunks}")
    return meta, ChunkIndex(offsets, counts, meta.num_records, at)
