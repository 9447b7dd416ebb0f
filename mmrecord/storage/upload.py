"""Writing to a URL: the file is built in a local temporary file and uploaded whole when it is closed.

An ArrayRecord file is complete only once its footer is written, at the end,
so the writer builds it exactly as it builds a local file (same code, same
bytes) and :meth:`Upload.commit` sends it in one step. The object then
appears whole or not at all:

- object stores (S3, GCS, Azure Blob) make an object visible only when its
  upload completes, multipart and resumable uploads included, so the file
  goes straight to its name (s3fs aborts a multipart upload that fails);
- on any other filesystem a partly copied object could be seen, so the file
  is uploaded under a temporary name beside the destination and then moved
  onto it.

A write that fails (an exception in the writer's ``with`` block, a record
that does not encode) uploads nothing, and a failed upload is a
:class:`~mmrecord.errors.RemoteWriteError` with nothing at the URL. Each
request of the upload is retried by the filesystem's own client.

fsspec is imported only when a URL is written to.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import uuid
from typing import Any, Mapping
from urllib.parse import urlsplit

from ..errors import RemoteWriteError

# Filesystems on which an upload creates its object only once it is complete.
ATOMIC_UPLOAD_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


def is_remote(path: str | bytes, filesystem: Any = None) -> bool:
    """Whether ``path`` is written through fsspec: a URL other than ``file://``, or any path with a filesystem."""
    if filesystem is not None:
        return True
    if not isinstance(path, str):
        return False
    scheme, sep, _ = path.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme != "file"


def local_path(path: str | bytes) -> str | bytes:
    """The local path a ``file://`` URL names; any other path as it is."""
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://"):]
    return path


def display_url(url: str) -> str:
    """``url`` without user, password, query string or fragment (which may hold a signature)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return url
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class Upload:
    """A local temporary file for the writer to fill, and its upload to ``url``.

    ``storage_options`` (or a ready fsspec ``filesystem``) reach the
    destination; neither appears in errors or reprs.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None,
                 filesystem: Any = None) -> None:
        self.display = display_url(url)
        self._url = url
        if filesystem is None:
            from fsspec.core import url_to_fs

            filesystem, self._path = url_to_fs(url, **dict(storage_options or {}))
        else:
            self._path = filesystem._strip_protocol(url)
        self._fs = filesystem
        protocols = {filesystem.protocol} if isinstance(filesystem.protocol, str) else set(filesystem.protocol)
        self.direct = bool(protocols & ATOMIC_UPLOAD_PROTOCOLS)  # no staging name needed
        handle, self.local_path = tempfile.mkstemp(prefix="mmrecord-upload-", suffix=".array_record")
        os.close(handle)

    def commit(self) -> None:
        """Upload the local file to the URL, whole or not at all; the local file is deleted either way."""
        try:
            if self.direct:
                self._fs.put_file(self.local_path, self._path)
            else:
                self._put_staged()
        except Exception as exc:
            detail = str(exc).replace(self._url, self.display) if self._url != self.display else str(exc)
            raise RemoteWriteError(f"the upload failed: {type(exc).__name__}: {detail}", url=self.display) from exc
        finally:
            self.discard()

    def _put_staged(self) -> None:
        """Upload under a temporary name beside the destination, then move it onto the destination."""
        parent, name = posixpath.split(self._path)
        staged = posixpath.join(parent, f".{name}.{uuid.uuid4().hex}.uploading")
        try:
            self._fs.put_file(self.local_path, staged)
            self._fs.mv(staged, self._path)
        except BaseException:
            try:
                if self._fs.exists(staged):
                    self._fs.rm(staged)
            except Exception:
                pass  # the upload's own error is the one to report
            raise

    def discard(self) -> None:
        """Delete the local file (nothing is uploaded). Safe to call twice."""
        try:
            os.remove(self.local_path)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"Upload({self.display!r})"
