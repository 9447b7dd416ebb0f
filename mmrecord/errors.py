"""The exceptions mmrecord raises.

Every failure that comes from the contents of a file or an options string is an
:class:`ArrayRecordError`, so ``except ArrayRecordError`` catches all of them.

Misuse of the Python API raises Python's own exceptions. Where Google's
``array_record`` package raises a different built-in for the same mistake, the
exception is an instance of both, so code written for either catches it:

- :class:`RecordIndexError` (``IndexError`` and ``ValueError``): a record
  index or key out of range;
- :class:`ArgumentTypeError` (``TypeError`` and ``ValueError``): an argument
  of the wrong kind, such as a data-source path that is neither a path nor a
  sequence of paths;
- :class:`ClosedError` (``ValueError`` and ``RuntimeError``): a read from a
  closed reader or a write to a closed writer.

A record that is not bytes-like is a plain ``TypeError``, as in both.
"""

from __future__ import annotations

__all__ = [
    "ArrayRecordError",
    "CorruptRecordError",
    "UnsupportedFeatureError",
    "InvalidOptionsError",
    "UnknownCodecError",
    "FileLockedError",
    "RemoteWriteError",
    "RemoteReadError",
    "ObjectChangedError",
    "RecordIndexError",
    "ArgumentTypeError",
    "ClosedError",
]


class ArrayRecordError(Exception):
    """Base class of every mmrecord error about a file or its options."""


class CorruptRecordError(ArrayRecordError):
    """The file's bytes contradict the format: a hash, a size or a field is wrong.

    Attributes say where: ``path`` (the file), ``offset`` (the byte position in
    the file where the damaged structure begins), ``chunk_index`` (the data
    chunk's number in the footer, ``None`` for the footer, postscript or a
    structure outside the data chunks) and ``what`` (what did not match).
    """

    def __init__(
        self,
        what: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        chunk_index: int | None = None,
    ) -> None:
        self.what = what
        self.path = path
        self.offset = offset
        self.chunk_index = chunk_index
        where = []
        if path is not None:
            where.append(str(path))
        if chunk_index is not None:
            where.append(f"data chunk {chunk_index}")
        if offset is not None:
            where.append(f"at byte {offset}")
        super().__init__(f"{what} ({', '.join(where)})" if where else what)


class UnsupportedFeatureError(ArrayRecordError):
    """The file or the options use a part of the format mmrecord does not implement."""


class InvalidOptionsError(ArrayRecordError, ValueError):
    """An options string does not follow the grammar; ``token`` is the bad item."""

    def __init__(self, message: str, token: str | None = None) -> None:
        self.token = token
        super().__init__(message)


class UnknownCodecError(UnsupportedFeatureError):
    """A chunk names a compression byte that no installed codec claims."""

    def __init__(self, message: str, codec_id: int | None = None) -> None:
        self.codec_id = codec_id
        super().__init__(message)


class FileLockedError(ArrayRecordError, BlockingIOError):
    """Another writer holds the file's lock (it is being appended to); a ``BlockingIOError`` too."""


class RemoteWriteError(ArrayRecordError, OSError):
    """A file written to a URL could not be uploaded; nothing was left at the URL.

    ``url`` names the destination without credentials or query string; the
    filesystem's own exception is the ``__cause__``.
    """

    def __init__(self, what: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{what} ({url})" if url else what)


class RemoteReadError(ArrayRecordError, OSError):
    """A ranged read of a remote object failed after its retries, or came back the wrong length.

    ``url`` names the object (without credentials or query string); the
    message says which bytes and what the last attempt got, never the
    storage options.
    """

    def __init__(self, what: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{what} ({url})" if url else what)


class ObjectChangedError(ArrayRecordError):
    """A remote object changed (another version, or deleted) while a reader had it open.

    Its bytes can no longer be trusted to belong to the index the reader
    opened; open the object again to read the new version.
    """

    def __init__(self, what: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{what} ({url})" if url else what)


class RecordIndexError(IndexError, ValueError):
    """A record index or key is out of range.

    An ``IndexError`` as Python code expects, and a ``ValueError`` as code
    written for the reference's data source expects.
    """


class ArgumentTypeError(TypeError, ValueError):
    """An argument is of the wrong kind (a ``TypeError``; the reference raises ``ValueError``)."""


class ClosedError(ValueError, RuntimeError):
    """The reader or writer is closed (a ``ValueError`` as for Python's files; the reference raises ``RuntimeError``)."""
