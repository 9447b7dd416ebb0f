"""What differs between fsspec filesystems: an object's version, a pinned ranged read, and error kinds.

Everything else in the storage layer is filesystem-blind. A ranged read is
pinned to the version the reader opened where the backend can say so in the
request itself, so a changed object is refused by the server rather than
read: HTTP sends ``If-Match`` with the ETag, S3 ``IfMatch``, GCS asks for the
generation. Other filesystems read unpinned, and a reader checks the version
again when bytes fail their checks.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

# info() keys that identify one version of an object, most specific first.
_VERSION_KEYS = ("generation", "VersionId", "version_id", "ETag", "etag", "md5Hash",
                 "mtime", "LastModified", "last_modified", "updated", "modified", "created")
# Statuses worth another try: timeouts, throttling, server trouble.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Statuses that mean the pinned version is gone.
CHANGED_STATUSES = frozenset({412})
# Exceptions (by class name, so no client library is imported) that a retry may cure.
_TRANSIENT_NAMES = frozenset({
    "ClientConnectionError", "ClientOSError", "ClientPayloadError", "ServerDisconnectedError",
    "ServerTimeoutError", "ConnectionTimeoutError", "SocketTimeoutError", "ContentLengthError",
    "TransferEncodingError", "ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError",
    "ConnectionClosedError", "IncompleteReadError", "ResponseStreamingError", "TransportError",
})

RangeReader = Callable[[int, int], Awaitable[bytes]]


def display_url(url: str) -> str:
    """``url`` as errors and reprs show it: no user, password, query string or fragment (which may hold a signature)."""
    parts = urlsplit(url)
    if not parts.scheme or ("@" not in parts.netloc and not parts.query and not parts.fragment):
        return url
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def version_of(info: dict[str, Any]) -> str | None:
    """The token that tells one version of the object from another, from an ``info()`` or listing entry."""
    for key in _VERSION_KEYS:
        value = info.get(key)
        if value not in (None, ""):
            return f"{key}={value}"
    return None


def _protocols(fs: Any) -> set[str]:
    return set((fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol)


def object_info(fs: Any, path: str) -> dict[str, Any]:
    """``fs.info(path)`` in one request: gcsfs's ``info`` also lists the path as a folder, at the same time."""
    if _protocols(fs) & {"gs", "gcs"} and hasattr(fs, "_get_object"):
        from fsspec.asyn import sync

        return sync(fs.loop, fs._get_object, path)
    return fs.info(path)


def tuned_options(url: str, options: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """``options`` with the connection pool sized for ``concurrency`` requests where the caller left it.

    botocore keeps 10 connections per client by default, which would cap s3fs
    at 10 requests in flight.
    """
    if url.split("://", 1)[0] in ("s3", "s3a"):
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("max_pool_connections", concurrency)
        return {**options, "config_kwargs": config}
    return options


def _pin_value(version: str | None, *keys: str) -> str | None:
    """The value of ``version`` when it was taken from one of ``keys``."""
    if version is None:
        return None
    key, _, value = version.partition("=")
    return value if key in keys else None


def async_range_reader(fs: Any, path: str, version: str | None) -> RangeReader:
    """A coroutine function reading ``[begin, end)`` of ``path`` from the async filesystem ``fs``, pinned where it can be."""
    protocols = _protocols(fs)
    etag = _pin_value(version, "ETag", "etag")
    if protocols & {"http", "https"} and etag:
        async def read_http(begin: int, end: int) -> bytes:
            return await fs._cat_file(path, start=begin, end=end, headers={"If-Match": etag})
        return read_http
    if protocols & {"s3", "s3a"} and etag and hasattr(fs, "_call_s3"):
        bucket, key, _ = fs.split_path(path)

        async def read_s3(begin: int, end: int) -> bytes:
            response = await fs._call_s3("get_object", Bucket=bucket, Key=key,
                                         Range=f"bytes={begin}-{end - 1}", IfMatch=etag)
            body = response["Body"]
            try:
                return await body.read()
            finally:
                body.close()
        return read_s3
    generation = _pin_value(version, "generation")
    if protocols & {"gs", "gcs"} and generation:
        async def read_gcs(begin: int, end: int) -> bytes:
            return await fs._cat_file(path, start=begin, end=end, generation=generation)
        return read_gcs

    async def read_plain(begin: int, end: int) -> bytes:
        return await fs._cat_file(path, start=begin, end=end)
    return read_plain


def status_of(error: BaseException) -> int | None:
    """The HTTP status behind ``error`` or any exception it was raised from, if one is known."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for name in ("status", "status_code", "code"):
            value = getattr(current, name, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(status, int):
                return status
        current = current.__cause__ or current.__context__
    return None


def _chain(error: BaseException):
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_changed(error: BaseException) -> bool:
    """Whether ``error`` says the object read is no longer there as opened: 412 (the pinned version
    is gone), or not found (deleted, or a pinned GCS generation replaced)."""
    return status_of(error) in CHANGED_STATUSES or isinstance(error, FileNotFoundError)


def is_transient(error: BaseException) -> bool:
    """Whether another try may succeed: a timeout, a reset, a broken transfer, throttling or a 5xx."""
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return False
    # A transfer broken mid-body first: aiohttp's payload errors carry a parser code (400) that is no status.
    if any(cls.__name__ in _TRANSIENT_NAMES for link in _chain(error) for cls in type(link).__mro__):
        return True
    status = status_of(error)
    if status is not None:
        return status in TRANSIENT_STATUSES
    for link in _chain(error):
        if isinstance(link, (ConnectionError, TimeoutError, asyncio.TimeoutError, EOFError)):
            return True
        if isinstance(link, OSError) and link.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                                                         errno.ECONNABORTED, errno.ECONNREFUSED):
            return True
    return False


def describe(error: BaseException) -> str:
    """What went wrong, credential-free: the exception's class and HTTP status, never its message."""
    status = status_of(error)
    name = type(error).__name__
    return f"{name} (HTTP {status})" if status is not None else name
