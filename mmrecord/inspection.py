"""``info`` and ``verify``: a file's facts and its health, as plain dictionaries.

Both are built on :func:`mmrecord.survey.survey`, which walks the file chunk by
chunk; ``verify`` also decodes every intact data chunk, so a chunk whose hashes
match but whose records do not decompress is reported too.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np

from .codecs import get_codec_by_id
from .engine import simple
from .errors import ArrayRecordError
from .options import WriterOptions
from .survey import Damage, Survey, survey

Progress = Callable[[int], None]  # called with the bytes of the file done so far


def _codec(s: Survey) -> dict:
    """Codec name, level and window from the writer options, or the first chunk's codec byte."""
    if s.writer_options:
        try:
            options = WriterOptions.parse(s.writer_options)
            return {"codec": options.codec.name, "level": options.level, "window_log": options.window_log}
        except ArrayRecordError:
            pass  # e.g. a plugin codec that is not installed here
    c = s.chunks
    for k in np.flatnonzero(c.intact & ~c.detached)[:1].tolist():
        try:
            fields = simple.read_simple(s.src, int(c.begin[k]), int(c.limit[k]), False)
            if fields[0] == 0 and fields[2] == 0x72:
                return {"codec": get_codec_by_id(int(fields[8])).name, "level": None, "window_log": None}
        except (ArrayRecordError, IndexError, TypeError, ValueError):
            pass
    return {"codec": None, "level": None, "window_log": None}


def _record_sizes(s: Survey, progress: Progress | None) -> np.ndarray:
    """The size of every intact record, in file order."""
    c = s.chunks
    if not len(c):
        return np.zeros(0, np.int64)
    intact = np.flatnonzero(c.intact)
    if np.all(c.num_records[intact] == 1):
        return c.decoded_size[intact]
    parts = []
    for k in intact.tolist():
        try:
            parts.append(np.diff(s.read_chunk(k).bounds))
        except ArrayRecordError:
            continue
        if progress is not None:
            progress(int(c.limit[k]))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def info(path: str | os.PathLike, sizes: bool = True, progress: Progress | None = None,
         storage_options: Mapping[str, Any] | None = None) -> dict:
    """Facts about one file (a path or URL): counts, options, bytes, compression and record-size statistics."""
    with survey(path, storage_options) as s:
        c = s.chunks
        known = c.decoded_size >= 0
        record_bytes = int(c.decoded_size[known].sum())
        stored = int(c.data_size[known].sum())
        out = {
            "path": s.path,
            "file_size": s.file_size,
            "records": s.num_records if s.num_records is not None else s.intact_records(),
            "records_from": "footer" if s.footer is not None else "chunks (no intact footer)",
            "chunks": len(c),
            "group_size": s.group_size,
            **_codec(s),
            "writer_options": s.writer_options,
            "record_bytes": record_bytes,
            "stored_bytes": stored,
            "compression_ratio": record_bytes / stored if stored else None,
            "file_ratio": record_bytes / s.file_size if s.file_size else None,
            "damaged": bool(s.damage),
            "damage": [d.describe() for d in s.damage],
        }
        if sizes:
            r = _record_sizes(s, progress)
            out["record_sizes"] = None if not len(r) else {
                "count": int(len(r)), "min": int(r.min()), "max": int(r.max()), "mean": float(r.mean()),
                "median": float(np.median(r)), "p99": float(np.percentile(r, 99)),
            }
        return out


def verify(path: str | os.PathLike, decode: bool = True, progress: Progress | None = None,
           storage_options: Mapping[str, Any] | None = None) -> dict:
    """Check every block header, chunk header, data hash, the footer and postscript, and decode every chunk.

    Each data chunk must also be the one the footer lists at its offset (the
    reader's check), else the damage names both record counts or sizes.

    Returns ``{"path", "ok", "records", "chunks", "damage": [Damage, ...]}``;
    ``ok`` is true only for a file with no damage at all.
    """
    with survey(path, storage_options) as s:
        damage = list(s.damage)
        c = s.chunks
        if decode:
            for k in np.flatnonzero(c.intact).tolist():
                try:
                    s.read_chunk(k)
                except ArrayRecordError as err:
                    first, n = int(c.first_record[k]), int(c.num_records[k])
                    damage.append(Damage(int(c.begin[k]), f"chunk does not decode: {err}", chunk_index=k,
                                         records=(first, first + n) if first >= 0 else None, lost_records=n))
                if progress is not None:
                    progress(int(c.limit[k]))
        damage.sort(key=lambda d: d.offset)
        affected = sum(d.lost_records or 0 for d in damage)
        recoverable = sum(d.lost_records or 0 for d in damage if d.recoverable)
        return {
            "path": s.path,
            "ok": not damage,
            "records": s.num_records,
            "chunks": len(c),
            "records_unreadable": affected,  # by a reader; ``recoverable`` of them ``recover`` salvages
            "records_recoverable": recoverable,
            "damage": damage,
        }
