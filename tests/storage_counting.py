"""A counting, fault-injecting in-process filesystem for the storage layer's tests.

``countmem://`` is fsspec's memory filesystem with every ``info`` and ranged
read recorded, an optional delay per read (to count how many are in flight
at once), and faults injected on the next reads.
"""

from __future__ import annotations

import threading
import time

import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class Status(OSError):
    """A failure carrying an HTTP status, as client libraries raise them."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class CountingFileSystem(MemoryFileSystem):
    protocol = "countmem"
    store: dict = {}  # its own objects, apart from memory://
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        if path.startswith("countmem://"):
            path = path[len("countmem://"):]
        return super()._strip_protocol(path)

    def unstrip_protocol(self, name: str) -> str:
        return "countmem://" + name.lstrip("/")


    def reset(self) -> None:
        """Forget what was counted. The counts are the class's: fsspec makes an instance per thread."""
        cls = type(self)
        cls.reads: list[tuple[int | None, int | None]] = []
        cls.infos = 0
        cls.latency = 0.0
        cls.faults: list[str] = []
        cls.in_flight = 0
        cls.max_in_flight = 0
        cls._lock = threading.Lock()

    def delay(self, seconds: float) -> None:
        """Every read from now on waits ``seconds`` first (a round trip)."""
        type(self).latency = seconds

    def inject(self, kind: str, count: int = 1) -> None:
        """The next ``count`` reads fail: ``"503"``, ``"500"``, ``"reset"``, ``"short"`` or ``"gone"``."""
        self.faults.extend([kind] * count)

    def info(self, path, **kwargs):
        with self._lock:
            type(self).infos += 1
        return super().info(path, **kwargs)

    def cat_file(self, path, start=None, end=None, **kwargs):
        with self._lock:
            self.reads.append((start, end))
            fault = self.faults.pop(0) if self.faults else None
            cls = type(self)
            cls.in_flight += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            if fault in ("500", "503"):
                raise Status(int(fault))
            if fault == "reset":
                raise ConnectionResetError("connection reset by peer")
            if fault == "gone":
                raise FileNotFoundError(path)
            data = super().cat_file(path, start=start, end=end, **kwargs)
            return data[: len(data) // 2] if fault == "short" else data
        finally:
            with self._lock:
                type(self).in_flight -= 1


fsspec.register_implementation("countmem", CountingFileSystem, clobber=True)
CountingFileSystem.reset(CountingFileSystem)


def counting_fs() -> CountingFileSystem:
    """The (process-wide) counting filesystem, reset."""
    fs = fsspec.filesystem("countmem")
    fs.reset()
    return fs
