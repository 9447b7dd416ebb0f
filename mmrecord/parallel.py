"""The process's thread pools: the one readers and writers share, and the named ones beside it.

One pool per process instead of one per reader: a data source over a thousand
shards must not start a thousand pools. ``max_parallelism`` of each reader or
writer bounds how many tasks one call splits into. Work that waits on the
shared pool's tasks runs on pools of its own (:func:`named_pool`), so that no
shared-pool task waits on one queued behind it. A forked child gets fresh
pools on first use, since threads do not survive ``fork``.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

#: Threads the machine runs at once: the pool's size, and the default parallelism.
CPUS = os.cpu_count() or 1

_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def named_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """This process's pool called ``name`` (its threads ``mmrecord-<name>_N``), created on first use.

    ``workers`` counts when it is created. A forked child starts with none
    (:func:`_after_fork_in_child`).
    """
    pool = _pools.get(name)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(name)
            if pool is None:
                pool = _pools[name] = ThreadPoolExecutor(max_workers=workers,
                                                         thread_name_prefix=f"mmrecord-{name}")
    return pool


def _after_fork_in_child() -> None:
    """Drop the parent's pools, and a lock another thread may have held at the fork."""
    global _pools, _pools_lock
    _pools, _pools_lock = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def shared_pool() -> ThreadPoolExecutor:
    """The pool readers and writers share, one thread per CPU."""
    return named_pool("shared", CPUS)


def in_order_thread() -> ThreadPoolExecutor:
    """One thread for work that must run in submission order (writers write their framed chunks there).

    Its tasks may wait for shared-pool tasks; shared-pool tasks never wait for it.
    """
    return named_pool("in-order", 1)


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
