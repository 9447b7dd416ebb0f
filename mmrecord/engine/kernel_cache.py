"""Where mmrecord's compiled kernels are kept, and noticing when they are being compiled.

numba caches a kernel's machine code beside its source by default, in the
package's ``__pycache__``. Inside ``site-packages`` those files outlive the
package: ``pip uninstall`` removes only the files it installed, so a folder
holding just the cache survives, and Python then imports it as an empty
namespace package in place of a later (for example editable) install of
mmrecord. So mmrecord's kernels are cached in a per-user folder instead:
``$MMRECORD_CACHE_DIR`` when set, else the platform's cache folder
(``$XDG_CACHE_HOME/mmrecord`` or ``~/.cache/mmrecord`` on Linux), one
sub-folder per installed copy of the package. ``NUMBA_CACHE_DIR``, when set,
takes precedence as it does for every numba user; kernels of other packages
are cached as numba decides.

The first call of a kernel on a machine compiles it (seconds for the whole
engine); :func:`watch_compiles` lets the command line say so, and logs it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from numba.core import caching, config, event

__all__ = ["cache_dir", "install", "watch_compiles", "CompileWatch"]

CACHE_DIR_VARIABLE = "MMRECORD_CACHE_DIR"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_log = logging.getLogger("mmrecord")


def cache_dir() -> Path:
    """The folder under which mmrecord's compiled kernels are kept."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "mmrecord" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mmrecord"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mmrecord"


def _in_package(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(_PACKAGE_DIR)
    except OSError:
        return False


class _PackageCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba cache locator for mmrecord's own kernels: the per-user folder of :func:`cache_dir`."""

    def __init__(self, py_func, py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file: str):
        # Returning None hands the function to numba's own locators.
        if config.CACHE_DIR or not _in_package(py_file):
            return None
        return super().from_function(py_func, py_file)


def install() -> None:
    """Put mmrecord's locator first in numba's list (once; before any kernel is defined)."""
    # numba 0.59 names the class _CacheImpl; later versions CacheImpl.
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    locators = impl._locator_classes
    if _PackageCacheLocator not in locators:
        locators.insert(0, _PackageCacheLocator)


class CompileWatch(event.Listener):
    """Times numba compilations of mmrecord's kernels (cache misses only: loads from the cache are not events)."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.seconds = 0.0
        self.kernels = 0
        self._on_first = on_first
        self._taken_kernels, self._taken_seconds = 0, 0.0
        self._depth = 0
        self._started = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def _ours(ev: event.Event) -> bool:
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        return module.startswith("mmrecord.")

    def on_start(self, ev: event.Event) -> None:
        if not self._ours(ev):
            return
        with self._lock:
            first = self.kernels == 0
            self.kernels += 1
            if self._depth == 0:
                self._started = time.perf_counter()
            self._depth += 1
        if first and self._on_first is not None:
            self._on_first()

    def on_end(self, ev: event.Event) -> None:
        if not self._ours(ev):
            return
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - self._started

    def take(self) -> tuple[int, float]:
        """Kernels compiled and seconds spent compiling them since the last call."""
        with self._lock:
            taken = self.kernels - self._taken_kernels, self.seconds - self._taken_seconds
            self._taken_kernels, self._taken_seconds = self.kernels, self.seconds
        return taken


def _log_first_compile() -> None:
    _log.info("compiling kernels for this machine (first run only); they are cached in %s", cache_dir())


_watch: CompileWatch | None = None


def watch_compiles() -> CompileWatch:
    """The process's watch over kernel compilations (registered on first use).

    The first compilation is logged at INFO level on the ``mmrecord`` logger;
    ``seconds`` and ``kernels`` add up what was compiled so far.
    """
    global _watch
    if _watch is None:
        _watch = CompileWatch(_log_first_compile)
        event.register("numba:compile", _watch)
    return _watch
