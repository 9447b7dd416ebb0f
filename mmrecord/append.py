"""Opening an existing ArrayRecord file for appending: lock it, read its footer, take over its index.

Appending never changes a byte already in the file. New chunks, a new footer
and a new postscript go after the old end; the old footer and postscript stay
behind as dead space. Readers look record ``i`` up in chunk ``i // group_size``,
so a last chunk holding fewer than ``group_size`` records cannot stay listed
with chunks after it: its records are carried into the first new chunk and
the old chunk stays in the file, unlisted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import BinaryIO

from .errors import ArrayRecordError, CorruptRecordError, FileLockedError, InvalidOptionsError, \
    UnsupportedFeatureError
from .options import WriterOptions
from .reader import ArrayRecordReader

try:
    import fcntl
except ImportError:  # not POSIX: appending takes no lock
    fcntl = None


@dataclass
class AppendPoint:
    """Where an append goes on: the locked file, its old end, the chunks kept and the records carried."""

    file: BinaryIO
    options: WriterOptions  # the append's options, with the file's group size
    end: int  # the old file size: new chunks begin here
    offsets: list[int]  # the chunks kept listed: all but a partial last one
    decoded: list[int]
    counts: list[int]
    carried: list[bytes]  # the partial last chunk's records, re-encoded first


def lock(file: BinaryIO, path: str) -> None:
    """Take the exclusive lock of an open file, or raise :class:`FileLockedError` at once."""
    if fcntl is None:
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FileLockedError(f"{path} is being written by another writer (its lock is held)") from None


def _file_group_size(reader: ArrayRecordReader) -> int:
    """The group size the file was written with: its footer's options, checked against its chunks."""
    index = reader._index
    try:
        group_size = WriterOptions.parse(reader.writer_options_string() or "").group_size \
            if reader.writer_options_string() else index.group_size or 1
    except ArrayRecordError:
        group_size = index.group_size or 1  # options this installation cannot parse
    if len(index) > 1 and (index.group_size != group_size or index._first is not None):
        raise UnsupportedFeatureError(
            f"{reader.path}: its chunks do not hold group_size:{group_size} records each (all but the last), "
            "so records appended to it could not be found by readers")
    return group_size


def open_for_append(path: str, options: WriterOptions) -> AppendPoint:
    """Lock ``path`` and read where an append to it begins; nothing is written.

    A file whose postscript or footer cannot be read raises
    :class:`CorruptRecordError` (``mmrecord repair --to-last-footer`` or
    ``mmrecord recover`` first); a group size other than the file's raises
    :class:`InvalidOptionsError`.
    """
    file = open(path, "r+b")
    try:
        lock(file, path)
        with ArrayRecordReader(path) as reader:
            group_size = _file_group_size(reader)
            if options.group_size_given and options.group_size != group_size:
                raise InvalidOptionsError(
                    f"group_size:{options.group_size} differs from the file's group_size:{group_size}: "
                    "appended chunks must hold as many records as the file's", f"group_size:{options.group_size}")
            index = reader._index
            counts = index.record_counts().tolist()
            kept = len(counts) - 1 if counts and counts[-1] < group_size else len(counts)
            carried = reader[index.first_record(kept):] if kept < len(counts) else []
            end = file.seek(0, os.SEEK_END)
            return AppendPoint(file, replace(options, group_size=group_size), end,
                               index.offsets[:kept].tolist(), index.sizes[:kept].tolist(), counts[:kept], carried)
    except CorruptRecordError as err:
        file.close()
        raise CorruptRecordError(f"cannot append: {err.what}", path=path, offset=err.offset,
                                 chunk_index=err.chunk_index) from None
    except BaseException:
        file.close()
        raise
