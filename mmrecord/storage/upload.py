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

from ..errors import RemoteWriteError
from . import Location

# Filesystems on which an upload creates its object only once it is complete.
ATOMIC_UPLOAD_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


class Upload:
    """A local temporary file for the writer to fill, and its upload to a remote ``location``.

    The location's storage options (or filesystem) reach the destination;
    they appear in no error or repr.
    """

    def __init__(self, location: Location) -> None:
        self.display = location.display
        self._url = location.path
        filesystem, self._path = location.resolve()
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
