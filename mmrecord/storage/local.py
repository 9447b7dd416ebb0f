"""Local files: memory-mapped read-only, every byte present from the start."""

from __future__ import annotations

import mmap

import numpy as np


class LocalSource:
    """A local file's bytes for kernels (:attr:`array`), through a read-only map.

    Files that cannot be memory-mapped are read into memory.
    """

    remote = False

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            try:
                self._buffer: object = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                self._buffer = f.read()
        self.array = np.frombuffer(self._buffer, np.uint8)
        self.size = len(self.array)
        self.url = path

    def close(self) -> None:
        """Release the map. A record view still alive keeps it until that view goes."""
        buffer, self._buffer = self._buffer, None
        self.array = np.empty(0, np.uint8)  # this view no longer holds the map open
        if isinstance(buffer, mmap.mmap):
            try:
                buffer.close()
            except BufferError:
                pass

    def __repr__(self) -> str:
        return f"LocalSource({self.url!r}, {self.size} bytes)"
