"""Salvage the intact chunks of a damaged or truncated ArrayRecord file into a new, valid one.

The file is walked chunk by chunk (``survey``), so neither the footer nor the
postscript is needed: a file whose writer was killed gives back every chunk
that reached the disk whole. Every chunk is checked against its hashes before
its records are kept, and after damage the walk finds the next chunk through
the 64 KiB block headers. The footer and postscript are told apart from data
by their content, wherever they lie, and with a footer only chunks it lists
are kept, so nothing is invented. The records are written in their original
order with the public writer; their original numbers are reported as exact
only where the survey proves them (``indices_note`` says why not).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .codecs import get_codec_by_id
from .engine import simple
from .errors import ArrayRecordError
from .options import rewrite_options
from .survey import Damage, Survey, survey
from .writer import ArrayRecordWriter


@dataclass
class Recovery:
    """What ``recover`` kept and lost."""

    source: str
    destination: str
    options: str  # the writer options of the new file
    records_written: int = 0
    chunks_kept: int = 0
    chunks_lost: int = 0
    footer: str | None = None  # "postscript", "search", or None when the file had no usable footer
    total_records: int | None = None  # records the damaged file held, when its footer says
    indices_exact: bool = True
    indices_note: str | None = None  # why the original numbers are not all proven
    # (original first record or -1 when unknown, count, first record in the new file)
    kept: list[tuple[int, int, int]] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)

    @property
    def lost(self) -> list[Damage]:
        """The damage that cost records (or may have)."""
        return [d for d in self.damage if not d.recoverable]

    def as_dict(self) -> dict:
        return {
            "source": self.source, "destination": self.destination, "options": self.options,
            "records_written": self.records_written, "chunks_kept": self.chunks_kept,
            "chunks_lost": self.chunks_lost, "footer": self.footer, "total_records": self.total_records,
            "indices_exact": self.indices_exact, "indices_note": self.indices_note,
            "kept": [{"original_first": a if a >= 0 else None, "count": n, "new_first": b}
                     for a, n, b in self.kept],
            "damage": [d.as_dict() for d in self.damage],
        }


def _options_for(s: Survey) -> str:
    """The damaged file's writer options, or ones inferred from its chunks.

    Without a footer the group size is the one the chunks prove, else the
    largest intact chunk's record count (the last chunk may hold fewer).
    """
    if s.writer_options:
        return rewrite_options(s.writer_options)
    c = s.chunks
    group = s.group_size or int(c.num_records[c.intact].max(initial=1))
    options = f"group_size:{max(1, group)}"
    for k in np.flatnonzero(c.intact & ~c.detached)[:1].tolist():
        try:  # the codec byte of the first intact simple chunk
            fields = simple.read_simple(s.src, int(c.begin[k]), int(c.limit[k]), True)
            if fields[0] == 0 and fields[2] == 0x72:
                options += "," + get_codec_by_id(int(fields[8])).name
        except (ArrayRecordError, IndexError, TypeError, ValueError):
            pass  # keep the default codec
    return options


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def recover(source: str | os.PathLike, destination: str | os.PathLike, options: str | None = None,
            progress: Callable[[int], None] | None = None) -> Recovery:
    """Write every intact record of ``source`` to a new file ``destination``.

    ``options`` are the new file's writer options (default: the damaged
    file's own, when its footer says them, else its group size and codec).
    ``progress`` is called with the number of bytes of ``source`` done so far.
    """
    source, destination = os.fspath(source), os.fspath(destination)
    if _same_file(source, destination):
        raise ValueError("recover writes a new file: the destination must not be the damaged file")
    with survey(source) as s:
        result = Recovery(source, destination, options if options is not None else _options_for(s),
                          footer=s.footer_from, total_records=s.num_records, indices_exact=s.indices_exact,
                          indices_note=s.indices_note, damage=list(s.damage))
        c = s.chunks
        with ArrayRecordWriter(destination, result.options) as writer:
            run_first = run_count = run_new = done = 0
            last_kept = -2
            for k in range(len(c)):
                if not c.intact[k]:
                    result.chunks_lost += 1
                    continue
                try:
                    records = s.read_chunk(k)
                except ArrayRecordError as err:
                    first = int(c.first_record[k])
                    n = int(c.num_records[k])
                    result.damage.append(Damage(
                        int(c.begin[k]), f"chunk does not decode: {err}", chunk_index=k,
                        records=(first, first + n) if first >= 0 else None, lost_records=n))
                    result.chunks_lost += 1
                    continue
                n = records.num_records
                writer.write_many(records.records(np.arange(n)) if n else [])
                first = int(c.first_record[k])
                # A run goes on with the next original numbers, or with unnumbered chunks side by side.
                follows = run_first >= 0 and first == run_first + run_count if first >= 0 else \
                    run_first < 0 and k == last_kept + 1
                last_kept = k
                if run_count and follows:
                    run_count += n
                else:
                    if run_count:
                        result.kept.append((run_first, run_count, run_new))
                    run_first, run_count, run_new = first, n, result.records_written
                result.records_written += n
                result.chunks_kept += 1
                done = max(done, int(c.limit[k]))  # unnumbered chunks may lie before the last numbered one
                if progress is not None:
                    progress(done)
            if run_count:
                result.kept.append((run_first, run_count, run_new))
        result.damage.sort(key=lambda d: d.offset)
        if progress is not None:
            progress(s.file_size)
    return result
