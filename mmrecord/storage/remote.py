"""Remote objects read by bounded byte ranges through fsspec, into a :class:`ByteCache`.

A reader says which ranges it needs before a kernel runs over them
(:meth:`RemoteSource.ensure`). The ranges not present yet are merged where
the gap between them is at most ``max_gap``, cut to at most ``max_request``
bytes each, and fetched concurrently: on the filesystem's event loop for
async filesystems (``_cat_file`` coroutines gathered, up to ``concurrency`` at
once), on a bounded thread pool otherwise. Every request has both ends.
Transient failures (5xx, throttling, resets, timeouts) and responses of the
wrong length are retried with jittered, bounded exponential backoff; a
response is data only when it holds exactly the bytes asked for. Ranges
another thread is already fetching are waited for, not fetched twice.
"""

from __future__ import annotations

import errno
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import ObjectChangedError, RemoteReadError
from ..parallel import named_pool
from .backends import async_range_reader, describe, is_changed, is_transient, object_info, version_of
from .cache import ByteCache, Presence, Range


@dataclass(frozen=True)
class RemoteConfig:
    """How remote objects are read.

    ``max_gap``: needed ranges closer than this are fetched as one request
    (the bytes between are cheaper than another round trip);
    ``max_request``: the most bytes one request asks for (larger ranges are
    fetched in parallel parts); ``concurrency``: requests in flight at once
    per call; ``retries``: further tries of a failed request, waiting a random
    time up to ``backoff`` · 2^try seconds, at most ``max_backoff``.
    """

    max_gap: int = 64 << 10
    max_request: int = 8 << 20
    concurrency: int = 64
    retries: int = 6
    backoff: float = 0.05
    max_backoff: float = 2.0


# Two pools of threads that mostly wait. Fetch threads run single requests (of
# filesystems without async reads) and never wait on another task; wait
# threads run read-ahead and shard opening, which wait on fetches. Kept apart,
# no task can wait on a task queued behind it.
IO_THREADS = 32


def fetch_pool() -> ThreadPoolExecutor:
    """Threads that each run one request of a filesystem without async reads."""
    return named_pool("fetch", IO_THREADS)


def wait_pool() -> ThreadPoolExecutor:
    """Threads for work that waits on fetches: read-ahead, opening many remote shards."""
    return named_pool("wait", IO_THREADS)


def plan_requests(gaps: Sequence[Range], max_gap: int, max_request: int) -> list[Range]:
    """Sorted, disjoint ``gaps`` as requests: neighbours at most ``max_gap`` apart merged, none over ``max_request``."""
    requests: list[Range] = []
    for begin, end in gaps:
        if requests and begin - requests[-1][1] <= max_gap and end - requests[-1][0] <= max_request:
            requests[-1] = (requests[-1][0], end)
        else:
            requests.append((begin, end))
    out: list[Range] = []
    for begin, end in requests:
        parts = -(-(end - begin) // max_request)
        edges = np.linspace(begin, end, parts + 1).astype(np.int64).tolist()
        out.extend(zip(edges[:-1], edges[1:]))
    return out


def _pause(config: RemoteConfig, attempt: int) -> None:
    """Wait before try ``attempt + 2``: a random time up to ``backoff`` · 2^attempt, at most ``max_backoff``."""
    time.sleep(random.uniform(0, min(config.max_backoff, config.backoff * 2 ** attempt)))


def retrying(call, config: RemoteConfig, url: str):
    """``call()``, tried again on transient errors; others (not found, denied) raised as they come."""
    for attempt in range(config.retries + 1):
        try:
            return call()
        except Exception as error:
            if not is_transient(error):
                if isinstance(error, FileNotFoundError):
                    raise FileNotFoundError(errno.ENOENT, "no such object", url) from None
                if isinstance(error, PermissionError):
                    raise PermissionError(errno.EACCES, "access denied", url) from None
                raise RemoteReadError(f"cannot read the object's metadata: {describe(error)}", url=url) from None
            if attempt == config.retries:
                raise RemoteReadError(f"cannot read the object's metadata after {attempt + 1} tries: "
                                      f"{describe(error)}", url=url) from None
            _pause(config, attempt)


class RemoteFile:
    """One object of an fsspec filesystem: exact, bounded, retried range reads, many at once."""

    def __init__(self, fs: Any, path: str, url: str, size: int, version: str | None, config: RemoteConfig) -> None:
        self.fs, self.path, self.url, self.size, self.version, self.config = fs, path, url, size, version, config
        self._async = bool(getattr(fs, "async_impl", False))
        self._read_range = async_range_reader(fs, path, version) if self._async else None

    def read(self, ranges: Sequence[Range]) -> list[bytes]:
        """The bytes of each range, in order; raises :class:`RemoteReadError` or :class:`ObjectChangedError`."""
        results: list[bytes | None] = [None] * len(ranges)
        todo = list(range(len(ranges)))
        config = self.config
        for attempt in range(config.retries + 1):
            outcomes = self._wave([ranges[k] for k in todo])
            failed, last = [], None
            for k, outcome in zip(todo, outcomes):
                begin, end = ranges[k]
                if isinstance(outcome, BaseException):
                    if is_changed(outcome):
                        raise ObjectChangedError(
                            f"the object changed or was deleted while open (reading bytes {begin}-{end - 1}: "
                            f"{describe(outcome)})", url=self.url) from None
                    if not is_transient(outcome):
                        raise RemoteReadError(f"cannot read bytes {begin}-{end - 1}: {describe(outcome)}",
                                              url=self.url) from None
                    failed.append(k)
                    last = describe(outcome)
                elif len(outcome) != end - begin:
                    failed.append(k)  # short (or long): never data
                    last = f"a response of {len(outcome)} bytes for {end - begin}"
                else:
                    results[k] = outcome
            if not failed:
                return results  # type: ignore[return-value]
            todo = failed
            if attempt < config.retries:
                _pause(config, attempt)
        begin, end = ranges[todo[0]]
        raise RemoteReadError(f"cannot read bytes {begin}-{end - 1} after {config.retries + 1} tries: {last}",
                              url=self.url)

    def _wave(self, ranges: list[Range]) -> list:
        """One try of every range at once: each result is the bytes or the exception raised."""
        if self._async:
            from fsspec.asyn import sync

            return sync(self.fs.loop, _gather, self._read_range, ranges, self.config.concurrency)
        if len(ranges) == 1:
            return [self._read_sync(ranges[0])]
        return list(fetch_pool().map(self._read_sync, ranges))

    def _read_sync(self, span: Range) -> bytes | BaseException:
        begin, end = span
        try:
            return self.fs.cat_file(self.path, start=begin, end=end)
        except Exception as error:  # classified by the caller
            return error

    def current_version(self) -> tuple[int, str | None]:
        """The object's size and version now (one metadata request)."""
        info = object_info(self.fs, self.path)
        return int(info["size"]), version_of(info)


async def _gather(read_range, ranges: list[Range], limit: int) -> list:
    import asyncio

    gate = asyncio.Semaphore(limit)

    async def one(begin: int, end: int):
        async with gate:
            return await read_range(begin, end)

    return await asyncio.gather(*(one(b, e) for b, e in ranges), return_exceptions=True)


class RemoteSource:
    """A remote object's bytes for kernels: :attr:`array`, filled by :meth:`ensure` before any read."""

    remote = True

    def __init__(self, file: RemoteFile, cache: ByteCache) -> None:
        self.file, self.cache = file, cache
        self.size, self.url = file.size, file.url
        self.array = cache.array
        self.config = file.config
        self._lock = threading.Lock()
        self._inflight: list[tuple[int, int, threading.Event]] = []

    def ensure(self, begins: np.ndarray, ends: np.ndarray) -> None:
        """Make every ``[begins[k], ends[k])`` present, in as few round trips as the config allows."""
        if len(begins) == 1:
            self.ensure_range(int(begins[0]), int(ends[0]))
            return
        order = np.argsort(begins, kind="stable")
        b, e = begins[order], np.maximum.accumulate(ends[order])
        cut = np.flatnonzero(b[1:] > e[:-1]) + 1  # spans that neither overlap nor touch the ones before
        firsts, lasts = np.concatenate(([0], cut)), np.concatenate((cut - 1, [len(b) - 1]))
        self._ensure(list(zip(b[firsts].tolist(), e[lasts].tolist())))

    def ensure_range(self, begin: int, end: int) -> None:
        """Make ``[begin, end)`` present."""
        if not self.cache.covers(begin, end):
            self._ensure([(begin, end)])

    def prefetch(self, begin: int, end: int) -> Future:
        """Start making ``[begin, end)`` present on another thread (read-ahead); the future says when it is."""
        return wait_pool().submit(self.ensure_range, begin, end)

    def _ensure(self, spans: list[Range]) -> None:
        while True:
            with self._lock:
                gaps = self.cache.missing(spans)
                if not gaps:
                    return
                waits: list[threading.Event] = []
                todo: list[Range] = []
                for begin, end in gaps:
                    busy = Presence()
                    for lo, hi, event in self._inflight:
                        if lo < end and begin < hi:
                            busy.add(lo, hi)
                            waits.append(event)
                    todo.extend(busy.gaps(begin, end))
                requests = plan_requests(todo, self.config.max_gap, self.config.max_request)
                mine = threading.Event()
                claimed = [(begin, end, mine) for begin, end in requests]
                self._inflight.extend(claimed)
            try:
                if requests:
                    pieces = self.file.read(requests)
                    self.cache.write([(begin, data) for (begin, _), data in zip(requests, pieces)])
            finally:
                with self._lock:
                    self._inflight = [item for item in self._inflight if item[2] is not mine]
                mine.set()
            for event in waits:
                event.wait()
            # Ranges another thread was fetching may have failed there: look again.

    def check_unchanged(self) -> None:
        """Raise :class:`ObjectChangedError` if the object's size or version is not the one opened."""
        if self.file.version is None:
            return
        try:
            size, version = self.file.current_version()
        except FileNotFoundError:
            raise ObjectChangedError("the object was deleted while open", url=self.url) from None
        except Exception:
            return  # cannot tell; the caller's own error stands
        if (size, version) != (self.size, self.file.version):
            raise ObjectChangedError(f"the object changed while open ({self.file.version} when opened, "
                                     f"{version} now)", url=self.url)

    def close(self) -> None:
        self.cache.close()

    def __repr__(self) -> str:
        return f"RemoteSource({self.url!r}, {self.size} bytes)"
