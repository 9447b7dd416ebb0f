"""The process-wide thread pool that readers and writers share.

One pool per process instead of one per reader: a data source over a thousand
shards must not start a thousand pools. ``max_parallelism`` of each reader or
writer bounds how many tasks one call splits into. A forked child gets a fresh
pool on first use, since threads do not survive ``fork``.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

#: Threads the machine runs at once: the pool's size, and the default parallelism.
CPUS = os.cpu_count() or 1

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def shared_pool() -> ThreadPoolExecutor:
    """Return this process's pool, creating it on first use (again after a fork)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = ThreadPoolExecutor(max_workers=CPUS,
                                           thread_name_prefix="mmrecord")
                _pool_pid = os.getpid()
    return _pool


_in_order: ThreadPoolExecutor | None = None
_in_order_pid = -1


def in_order_thread() -> ThreadPoolExecutor:
    """This process's one thread for work that must run in submission order (writers lay out and write
    their chunks there), created on first use (again after a fork).

    It is not a pool thread: its tasks may wait for pool tasks, and pool tasks never wait for it.
    """
    global _in_order, _in_order_pid
    if _in_order is None or _in_order_pid != os.getpid():
        with _lock:
            if _in_order is None or _in_order_pid != os.getpid():
                _in_order = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmrecord-in-order")
                _in_order_pid = os.getpid()
    return _in_order


def beside(fn: Callable[..., T], *args) -> Callable[[], T]:
    """Start ``fn(*args)`` on the shared pool; return a function that gives its result.

    If no pool thread has started the call by the time its result is asked
    for, the asking thread runs it itself. So a task that is itself running
    on the pool never waits on one still queued behind it (no deadlock when
    every pool thread does this at once), and no caller waits on a slow hand-off.
    """
    future = shared_pool().submit(fn, *args)

    def result() -> T:
        return fn(*args) if future.cancel() else future.result()

    return result


def settle(results: list[Callable[[], object]]) -> None:
    """Wait for calls :func:`beside` started, ignoring their errors: the cleanup after a failure.

    Nothing a call starts may outlive it (the calls read the file map), and
    the failure being handled is the one to report.
    """
    for result in results:
        try:
            result()
        except Exception:
            pass
