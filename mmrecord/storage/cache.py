"""The bytes the kernels read for a remote object: one mapping of its size, filled as ranges arrive.

The mapping is made once, at the object's size, so kernels index it exactly
as they index a mapped local file. Pages never written cost no memory (an
anonymous mapping) or no disk (a sparse file). A range is marked present only
after its bytes are written, and readers make ranges present before any
kernel runs over them, so a kernel never reads bytes that were not fetched.

In memory by default. With a directory, the mapping is a sparse file there,
keyed by the object's URL, size and version (ETag, generation or mtime), and
the ranges present are logged beside it, each line written after its bytes
were flushed: a later reader of the same version re-reads nothing it has.
"""

from __future__ import annotations

import bisect
import hashlib
import mmap
import os
import threading
from typing import Iterable, Sequence

import numpy as np

Range = tuple[int, int]


class Presence:
    """A set of disjoint, sorted half-open byte ranges; adjacent ones are merged."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._stops: list[int] = []

    def add(self, begin: int, end: int) -> None:
        """Mark ``[begin, end)`` present."""
        if begin >= end:
            return
        lo = bisect.bisect_left(self._stops, begin)  # first range that ends at or after begin
        hi = bisect.bisect_right(self._starts, end)  # ranges from lo to hi touch [begin, end)
        if lo < hi:
            begin = min(begin, self._starts[lo])
            end = max(end, self._stops[hi - 1])
        self._starts[lo:hi] = [begin]
        self._stops[lo:hi] = [end]

    def gaps(self, begin: int, end: int) -> list[Range]:
        """The parts of ``[begin, end)`` not present, in order."""
        out: list[Range] = []
        at = begin
        k = bisect.bisect_right(self._stops, begin)  # first range ending after begin
        while at < end and k < len(self._starts):
            start, stop = self._starts[k], self._stops[k]
            if start >= end:
                break
            if start > at:
                out.append((at, start))
            at = max(at, stop)
            k += 1
        if at < end:
            out.append((at, end))
        return out

    def covers(self, begin: int, end: int) -> bool:
        """Whether all of ``[begin, end)`` is present."""
        k = bisect.bisect_right(self._stops, begin)
        return begin >= end or (k < len(self._starts) and self._starts[k] <= begin and self._stops[k] >= end)

    def ranges(self) -> list[Range]:
        """Every present range, in order."""
        return list(zip(self._starts, self._stops))


def cache_key(url: str, size: int, version: str) -> str:
    """The name a persistent cache gives one version of one object."""
    return hashlib.sha256(f"{url}\0{size}\0{version}".encode()).hexdigest()[:40]


class ByteCache:
    """An object's bytes as kernels read them (:attr:`array`, read-only), filled by :meth:`write`."""

    def __init__(self, size: int, directory: str | os.PathLike | None = None, key: str | None = None) -> None:
        """A cache of ``size`` bytes: anonymous memory, or a sparse file ``key`` in ``directory``."""
        self.size = size
        self.presence = Presence()
        self._lock = threading.Lock()
        self._log: int | None = None
        if directory is None or key is None:
            self.persistent = False
            self._map = mmap.mmap(-1, max(size, 1))
        else:
            self.persistent = True
            self._map, self._log = self._open_files(os.fspath(directory), key, size)
        self._writable = np.frombuffer(self._map, np.uint8, count=size)
        self.array = self._writable.view()
        self.array.flags.writeable = False

    def _open_files(self, directory: str, key: str, size: int) -> tuple[mmap.mmap, int]:
        """Map the sparse data file and open the log of present ranges, reading what it holds."""
        os.makedirs(directory, exist_ok=True)
        data = os.open(os.path.join(directory, key + ".data"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(data).st_size != size:
                os.ftruncate(data, size)
            mapping = mmap.mmap(data, max(size, 1), access=mmap.ACCESS_WRITE) if size else mmap.mmap(-1, 1)
        finally:
            os.close(data)
        log_path = os.path.join(directory, key + ".ranges")
        try:
            with open(log_path, encoding="ascii") as f:
                for line in f:
                    fields = line.split()
                    # A line cut short by a crash is ignored: its bytes are fetched again.
                    if len(fields) == 2 and line.endswith("\n") and all(x.isdigit() for x in fields):
                        begin, end = int(fields[0]), int(fields[1])
                        if 0 <= begin < end <= size:
                            self.presence.add(begin, end)
        except FileNotFoundError:
            pass
        return mapping, os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def missing(self, ranges: Iterable[Range]) -> list[Range]:
        """The parts of ``ranges`` not present yet, in the order given."""
        with self._lock:
            return [gap for begin, end in ranges for gap in self.presence.gaps(begin, end)]

    def covers(self, begin: int, end: int) -> bool:
        """Whether ``[begin, end)`` is present."""
        with self._lock:
            return self.presence.covers(begin, end)

    def write(self, pieces: Sequence[tuple[int, bytes]]) -> None:
        """Write each ``(position, bytes)`` piece, then mark it present (and log it, when persistent)."""
        for at, data in pieces:
            self._writable[at:at + len(data)] = np.frombuffer(data, np.uint8)
        if self._log is not None:
            page = mmap.ALLOCATIONGRANULARITY
            for at, data in pieces:
                first = at - at % page
                self._map.flush(first, at + len(data) - first)
            os.write(self._log, "".join(f"{at} {at + len(data)}\n" for at, data in pieces).encode("ascii"))
        with self._lock:
            for at, data in pieces:
                self.presence.add(at, at + len(data))

    def close(self) -> None:
        """Release the log; the mapping goes with the last view of it."""
        log, self._log = self._log, None
        if log is not None:
            os.close(log)
