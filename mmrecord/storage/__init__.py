"""Where a reader's bytes come from: a local map, or a remote object fetched by ranges into a cache.

:func:`open_source` is the one opener every read path uses. Local paths
(and ``file://`` URLs) are memory-mapped, as they always were. Any other URL
(``gs://``, ``s3://``, ``http(s)://``, ``memory://``, any fsspec protocol), or
any path given with a ready fsspec filesystem, is a :class:`RemoteSource`:
its bytes arrive in a :class:`ByteCache` when the reader asks for them. The
reader sees a uint8 array either way and never knows where it came from.

fsspec is imported only when a remote object is opened (``pip install
"mmrecord[remote]"``; ``[s3]``, ``[gcs]`` for those backends).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Union

from .backends import display_url, object_info, tuned_options, version_of
from .cache import ByteCache, cache_key
from .local import LocalSource
from .remote import RemoteConfig, RemoteFile, RemoteSource, retrying

ByteSource = Union[LocalSource, RemoteSource]

__all__ = ["Location", "RemoteConfig", "ByteSource", "open_source", "expand_pattern", "is_url", "display_url"]


def is_url(text: str) -> bool:
    """Whether ``text`` names an object by URL (``scheme://...``) rather than a local path."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum() and len(scheme) > 1


class Location:
    """A local path, or a URL with the fsspec storage options (or filesystem) that reach it.

    Pickles as the URL and storage options (a given filesystem as its class's
    storage options); the filesystem is rebuilt in each process, since
    fsspec's async filesystems are not fork-safe. Its repr and :attr:`display`
    never show credentials or storage options.
    """

    def __init__(self, path: str | os.PathLike | bytes, storage_options: Mapping[str, Any] | None = None,
                 filesystem: Any = None) -> None:
        text = os.fsdecode(os.fspath(path)) if isinstance(path, (bytes, os.PathLike)) else path
        if not isinstance(text, str):
            raise TypeError(f"a path must be a str, bytes or os.PathLike, not {type(path).__name__}")
        self.path = text
        self.storage_options = dict(storage_options or {})
        self._fs = filesystem
        self._fs_class = type(filesystem) if filesystem is not None else None
        if filesystem is not None and not storage_options:
            self.storage_options = dict(getattr(filesystem, "storage_options", {}) or {})
        self._pid = os.getpid()
        self.is_remote = filesystem is not None or (is_url(text) and not text.startswith("file://"))
        self.local_path = text[len("file://"):] if text.startswith("file://") else text

    @property
    def display(self) -> str:
        """The path as errors and reprs show it (no credentials, no query string)."""
        return display_url(self.path)

    def resolve(self, concurrency: int = 64) -> tuple[Any, str]:
        """This process's filesystem (its pool sized for ``concurrency`` requests) and the object's path in it."""
        if self._fs is None or self._pid != os.getpid():
            if self._fs_class is not None:
                self._fs = self._fs_class(**self.storage_options)
                self._pid = os.getpid()
            else:
                from fsspec.core import url_to_fs

                self._fs, _ = url_to_fs(self.path, **tuned_options(self.path, self.storage_options, concurrency))
                self._pid = os.getpid()
        return self._fs, self._fs._strip_protocol(self.path)

    def __getstate__(self) -> dict:
        return {"path": self.path, "storage_options": self.storage_options, "fs_class": self._fs_class}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["storage_options"])
        self._fs_class = state["fs_class"]
        self.is_remote = self.is_remote or self._fs_class is not None

    def with_path(self, path: str) -> "Location":
        """Another object reached the same way."""
        other = Location(path, self.storage_options)
        other._fs_class, other.is_remote = self._fs_class, other.is_remote or self._fs_class is not None
        if self._pid == os.getpid():
            other._fs = self._fs
        return other

    def __repr__(self) -> str:
        return f"Location({self.display!r})"


def open_source(location: Location, *, size: int | None = None, version: str | None = None,
                cache_dir: str | os.PathLike | None = None, remote: RemoteConfig | None = None) -> ByteSource:
    """The bytes at ``location``: a local map, or a remote object behind a cache.

    ``size`` and ``version`` (as a listing gives them) spare the metadata
    request that otherwise finds them. With ``cache_dir``, a remote object
    with a known version is cached there across readers and runs.
    """
    if not location.is_remote:
        return LocalSource(location.local_path)
    config = remote or RemoteConfig()
    fs, path = location.resolve(config.concurrency)
    url = location.display
    if size is None:
        info = retrying(lambda: object_info(fs, path), config, url)
        size, version = int(info["size"]), version_of(info)
    file = RemoteFile(fs, path, url, int(size), version, config)
    if cache_dir is not None and version is not None:
        cache = ByteCache(file.size, cache_dir, cache_key(fs.unstrip_protocol(path), file.size, version))
    else:
        cache = ByteCache(file.size)
    return RemoteSource(file, cache)


def expand_pattern(location: Location) -> list[tuple[Location, int, str | None]]:
    """The objects a remote glob pattern matches, sorted: each one's location, size and version."""
    fs, path = location.resolve()
    found = fs.glob(path, detail=True)
    out = []
    for name in sorted(found):
        info = found[name]
        if info.get("type", "file") == "file":
            out.append((location.with_path(fs.unstrip_protocol(name)), int(info["size"]), version_of(info)))
    return out
