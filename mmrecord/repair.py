"""Put an ArrayRecord file back in order in place: cut an unfinished append off, or rewrite without dead space.

``repair_to_last_footer`` is for a file whose writer died while appending:
the new chunks lie after the old postscript, and no new postscript ended the
file, so readers cannot open it. It cuts the file back to the end of the last
block holding a postscript that leads to an intact footer: the file as the
last complete write left it, byte for byte (appending never changes earlier
bytes). Chunks after that point, which no footer lists, are dropped;
``mmrecord recover`` salvages into a new file instead.

``compact`` rewrites a file without the dead space appends leave (old partial
chunks, footers and postscripts), through ``convert``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .append import lock
from .chunk import read_chunk_records
from .convert import Stats, convert
from .engine.blocks import BLOCK_SIZE
from .errors import ArrayRecordError, CorruptRecordError
from .index import read_footer
from .layout import decode_postscript
from .options import rewrite_options
from .reader import ArrayRecordReader
from .storage.local import LocalSource


@dataclass
class Repair:
    """What ``repair_to_last_footer`` found and did."""

    path: str
    size_before: int
    size_after: int
    records: int  # records the repaired file holds

    @property
    def changed(self) -> bool:
        return self.size_after != self.size_before

    def as_dict(self) -> dict:
        return {"path": self.path, "size_before": self.size_before, "size_after": self.size_after,
                "records": self.records, "changed": self.changed}


def _complete_end(src: np.ndarray, block: int) -> int | None:
    """The file size that ends at the postscript in ``block`` (a block boundary), when it leads to an intact footer."""
    try:
        postscript = read_chunk_records(src, block, block + BLOCK_SIZE, True)
        footer_at = decode_postscript(postscript.record(0)) if postscript.num_records else -1
        if not 64 <= footer_at < block:
            return None
        read_footer(src, footer_at, block, True)
    except (ArrayRecordError, IndexError, ValueError):
        return None
    return block + BLOCK_SIZE


def _last_complete_end(path: str, size: int) -> int | None:
    """The end of the last block whose postscript leads to an intact footer (searched from the end)."""
    source = LocalSource(path)
    try:
        for block in range((size // BLOCK_SIZE - 1) * BLOCK_SIZE, 0, -BLOCK_SIZE):
            end = _complete_end(source.array, block)
            if end is not None:
                return end
        return None
    finally:
        source.close()


def repair_to_last_footer(path: str | os.PathLike) -> Repair:
    """Cut ``path`` back to its last complete version (see the module's docstring); nothing if it opens.

    Takes the file's append lock. Raises :class:`CorruptRecordError` when no
    postscript in the file leads to an intact footer (``mmrecord recover``
    may still salvage its chunks).
    """
    path = os.fspath(path)
    with open(path, "r+b") as file:
        lock(file, path)
        size = os.fstat(file.fileno()).st_size
        try:
            with ArrayRecordReader(path) as reader:
                return Repair(path, size, size, len(reader))
        except CorruptRecordError:
            pass
        end = _last_complete_end(path, size)
        if end is None:
            raise CorruptRecordError("no postscript in the file leads to an intact footer: nothing to cut back to "
                                     "(try mmrecord recover)", path=path)
        file.truncate(end)
        file.flush()
        os.fsync(file.fileno())
        with ArrayRecordReader(path) as reader:
            return Repair(path, size, end, len(reader))


def compact(source: str | os.PathLike, destination: str | os.PathLike | None = None) -> Stats:
    """Rewrite ``source`` without dead space, into ``destination`` or, without one, in place.

    The records are re-encoded with the options the footer records (the last
    append's codec for every chunk). In place, the new file is written beside
    the old one under the old one's lock, made durable, and renamed over it.
    """
    source = os.fspath(source)
    with open(source, "rb") as held:
        lock(held, source)
        with ArrayRecordReader(source) as reader:
            options = rewrite_options(reader.writer_options_string() or "")
        if destination is not None:
            return convert([source], os.fspath(destination), fmt="arrayrecord", options=options)
        temporary = f"{source}.compact-{os.getpid()}"
        try:
            stats = convert([source], temporary, fmt="arrayrecord", options=options)
            with open(temporary, "rb") as done:
                os.fsync(done.fileno())
            os.replace(temporary, source)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        stats.outputs = [source]
        return stats
