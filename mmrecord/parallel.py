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

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def shared_pool() -> ThreadPoolExecutor:
    """Return this process's pool, creating it on first use (again after a fork)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                           thread_name_prefix="mmrecord")
                _pool_pid = os.getpid()
    return _pool
