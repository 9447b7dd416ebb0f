"""The chunk index: which data chunk holds record ``i``, where that chunk lies, and what it must be.

It keeps 16 bytes per chunk, side by side: its file offset and its decoded
size, which every read compares with the chunk it finds there (one cache
line holds both). Files from the reference writer have uniform groups
(every chunk but the last holds ``group_size`` records), so record ``i`` is
in chunk ``i // group_size``; files with other group layouts keep a
cumulative record count as well and are searched with ``searchsorted``.
"""

from __future__ import annotations

import numpy as np

from .chunk import ChunkRecords, read_chunk_records
from .engine.proto import (
    BAD_ENTRY,
    NO_RECORDS,
    OUT_OF_ORDER,
    decode_footer_entries,
    footer_first_records,
)
from .engine.simple import chunk_span
from .errors import CorruptRecordError
from .layout import FooterMetadata
from .parallel import CPUS, beside

#: Footer entries per thread below which one thread decodes them all.
PARALLEL_ENTRIES = 200_000
_ENTRY_PROBLEMS = {
    BAD_ENTRY: "is malformed",
    NO_RECORDS: "gives a chunk of no records (or too many)",
    OUT_OF_ORDER: "has a chunk offset that is not increasing inside the data region",
}


class ChunkIndex:
    """Chunk offsets, decoded sizes and record-to-chunk mapping of one file."""

    def __init__(self, chunks: np.ndarray, firsts: np.ndarray | None, group_size: int, num_records: int,
                 footer_offset: int) -> None:
        """``chunks``: each checked chunk's offset and decoded size (int64, one row each); ``firsts``,
        their first records, only for non-uniform groups."""
        self.chunks = chunks
        self.offsets, self.sizes = chunks[:, 0], chunks[:, 1]
        self.footer_offset = footer_offset
        self.num_records = num_records
        self.group_size = group_size
        self._first = firsts

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
        begin, limit = chunk_span(self.chunks, self.footer_offset, k)
        return int(begin), int(limit)

    @property
    def one_record_per_chunk(self) -> bool:
        """True when chunk ``i`` holds exactly record ``i`` (group size 1, the default)."""
        return self._first is None and self.group_size == 1

    @property
    def stored_bytes_per_chunk(self) -> int:
        """Mean stored size of a data chunk, headers included (at least 1)."""
        if not len(self):
            return 1
        return max(1, (self.footer_offset - int(self.offsets[0])) // len(self))

    def chunk_records(self, k: int) -> int:
        """How many records chunk ``k`` holds."""
        first = self.first_record(k)
        following = self.first_record(k + 1) if k + 1 < len(self) else self.num_records
        return following - first

    def expected(self, k: int) -> tuple[int, int]:
        """What the footer says chunk ``k`` holds: ``(records, decoded size)``."""
        return self.chunk_records(k), int(self.sizes[k])

    def record_counts(self, first: int = 0, end: int | None = None) -> np.ndarray:
        """How many records each chunk holds (int64): chunks ``first`` to ``end`` (the last by default)."""
        end = len(self) if end is None else end
        if self._first is None:  # uniform groups: all full but the file's last
            counts = np.full(max(0, end - first), self.group_size, np.int64)
            if end == len(self) and len(counts):
                counts[-1] = self.num_records - (end - 1) * self.group_size
            return counts
        following = self.first_record(end) if end < len(self) else self.num_records
        return np.diff(np.append(self._first[first:end], np.int64(following)))

    def counts_of(self, ks: np.ndarray) -> np.ndarray:
        """How many records each of chunks ``ks`` holds (int64)."""
        if self._first is None:
            return np.where(ks == len(self) - 1, self.num_records - (len(self) - 1) * self.group_size,
                            self.group_size).astype(np.int64)
        firsts = np.append(self._first, np.int64(self.num_records))
        return firsts[ks + 1] - firsts[ks]

    def first_record(self, k: int) -> int:
        """Index of the first record of chunk ``k``."""
        return k * self.group_size if self._first is None else int(self._first[k])


def read_footer(src: np.ndarray, at: int, limit: int, verify: bool) -> tuple[FooterMetadata, ChunkIndex]:
    """Read and check the footer chunk at ``at`` (ending by ``limit``): its metadata and the chunk index."""
    return footer_index(read_chunk_records(src, at, limit, verify), at)


def footer_index(footer: ChunkRecords, at: int) -> tuple[FooterMetadata, ChunkIndex]:
    """The metadata and chunk index of the footer chunk ``footer``, read at file position ``at``.

    A large footer's entries are decoded by several threads, each taking a
    range of them.
    """
    if footer.num_records < 1:
        raise CorruptRecordError("footer chunk holds no record")
    meta = FooterMetadata.decode(footer.record(0))
    count = footer.num_records - 1
    if count != meta.num_chunks:
        raise CorruptRecordError(f"footer lists {count} chunks, its metadata says {meta.num_chunks}")
    bounds = footer.bounds[1:]
    parts = min(CPUS, max(1, count // PARALLEL_ENTRIES))
    edges = np.linspace(0, count, parts + 1).astype(np.int64).tolist()
    jobs = list(zip(edges[:-1], edges[1:]))
    chunks = np.empty((count, 2), np.int64)
    others = [beside(decode_footer_entries, footer.values, bounds, lo, hi, at, chunks) for lo, hi in jobs[1:]]
    results = [decode_footer_entries(footer.values, bounds, *jobs[0], at, chunks)]
    results += [result() for result in others]
    offsets = chunks[:, 0]
    for (lo, _), (status, where, *_) in zip(jobs, results):
        if status < 0 and lo and offsets[lo] <= offsets[lo - 1]:
            status, where = OUT_OF_ORDER, lo  # the ranges were checked apart: check where they meet
        if status >= 0:
            raise CorruptRecordError(f"footer entry {where} {_ENTRY_PROBLEMS[status]}")
    group_size = results[0][2] if count else 0
    total = sum(result[5] for result in results)
    if total != meta.num_records:
        raise CorruptRecordError("footer chunk entries do not add up to the file's record count")
    uniform = all(result[2] == group_size and result[3] for result in results) and all(
        result[4] == group_size for result in results[:-1])
    firsts = None if uniform else footer_first_records(footer.values, bounds)
    return meta, ChunkIndex(chunks, firsts, int(group_size), int(total), at)

