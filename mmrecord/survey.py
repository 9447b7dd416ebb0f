"""What is in an ArrayRecord file, chunk by chunk, and what in it is damaged.

``survey(path)`` walks the whole file (``engine.scan``), reads the postscript
and the footer when they are intact, and lines the two up: every data chunk,
where it lies, how many records it holds, which original records those are
(exactly when the footer is intact; from the reference writer's uniform group
rule when it is not) and whether its bytes are intact. ``info``, ``verify``
and ``recover`` are built on it. It never raises for what a file contains:
every problem becomes a :class:`Damage` entry.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field

import numpy as np

from .chunk import (
    PADDING,
    SIGNATURE,
    SIMPLE,
    TRANSPOSED,
    ChunkRecords,
    read_chunk_records,
)
from .engine import scan
from .engine.blocks import BLOCK_SIZE
from .errors import ArrayRecordError, CorruptRecordError
from .index import read_footer
from .layout import FooterMetadata, decode_postscript

DATA_TYPES = (SIMPLE, TRANSPOSED)

_CHUNK_TEXT = {
    scan.DATA_HASH: "chunk data hash mismatch",
    scan.BLOCK_HEADER: "block header inside the chunk is damaged (the chunk's own bytes are intact)",
    scan.DATA_CUT: "the file ends inside the chunk",
    scan.PADDING_CUT: "the file ends inside the chunk's padding (its records are intact)",
}
_GAP_TEXT = {
    scan.HEADER_HASH: "chunk header hash mismatch",
    scan.HEADER_CUT: "the file ends inside a chunk header",
    scan.BAD_POSITION: "a chunk would begin inside a block header",
}


@dataclass
class Damage:
    """One damaged structure: where it lies, what is wrong and which records it costs."""

    offset: int
    what: str
    end: int | None = None  # end of the damaged bytes, when known
    chunk_index: int | None = None  # data chunk number (footer order, or walk order without a footer)
    records: tuple[int, int] | None = None  # [first, stop) of the original records lost, when known
    lost_records: int | None = None  # how many records it costs (known even when their indices are not)
    recoverable: bool = False  # the records themselves are intact: ``recover`` salvages them

    def describe(self) -> str:
        where = f"byte {self.offset}"
        if self.end is not None and self.end > self.offset:
            where = f"bytes {self.offset}..{self.end}"
        if self.chunk_index is not None:
            where = f"data chunk {self.chunk_index} at {where}"
        text = f"{where}: {self.what}"
        if self.records is not None and self.records[1] > self.records[0]:
            a, b = self.records
            span = f"record {a}" if b == a + 1 else f"records {a}..{b - 1}"
            text += f"; {span} ({b - a}) " + ("intact, recoverable" if self.recoverable else "unreadable")
        elif self.lost_records:
            text += f"; {self.lost_records} records " + ("intact, recoverable" if self.recoverable else "unreadable")
        return text

    def as_dict(self) -> dict:
        return {"offset": self.offset, "end": self.end, "what": self.what, "chunk_index": self.chunk_index,
                "records": list(self.records) if self.records else None,
                "lost_records": self.lost_records, "recoverable": self.recoverable}


@dataclass
class DataChunks:
    """The data chunks in file order, as arrays (a file can have millions)."""

    begin: np.ndarray  # int64: chunk position
    limit: np.ndarray  # int64: the position it must end by (for ``read_chunk_records``)
    num_records: np.ndarray  # int64
    first_record: np.ndarray  # int64: original index of its first record, -1 when unknown
    decoded_size: np.ndarray  # int64: record bytes (-1 when the header is lost)
    data_size: np.ndarray  # int64: stored bytes (-1 when the header is lost)
    intact: np.ndarray  # bool: its records can be read (hashes match)
    detached: np.ndarray  # bool: intact, but the file ends inside its padding

    def __len__(self) -> int:
        return len(self.begin)


@dataclass
class Survey:
    """The result of :func:`survey`; :meth:`close` releases the file map."""

    path: str
    file_size: int
    src: np.ndarray
    walk: tuple  # the arrays of ``scan.walk_chunks``
    footer_offset: int | None = None
    footer: FooterMetadata | None = None
    footer_from: str | None = None  # "postscript" or "search" (found without a postscript)
    chunks: DataChunks | None = None
    group_size: int = 0
    indices_exact: bool = True  # original record numbers of every intact chunk are known
    damage: list[Damage] = field(default_factory=list)
    _buffer: object = None
    _footer_entries: tuple | None = None  # (chunk offsets, record counts) from the footer

    @property
    def num_records(self) -> int | None:
        """Records the file holds according to its footer (None without one)."""
        return self.footer.num_records if self.footer is not None else None

    @property
    def writer_options(self) -> str | None:
        return self.footer.writer_options if self.footer is not None else None

    def intact_records(self) -> int:
        return int(self.chunks.num_records[self.chunks.intact].sum())

    def read_chunk(self, k: int) -> ChunkRecords:
        """Decode data chunk ``k``, which must be intact; raises ``ArrayRecordError`` if it does not decode.

        The walk has checked its header and data hashes already, so they are not
        checked again here — and a damaged block header around intact data does
        not stop its records from being read.
        """
        c = self.chunks
        if not c.intact[k]:
            raise CorruptRecordError("the chunk is damaged", path=self.path, offset=int(c.begin[k]))
        begin, limit = int(c.begin[k]), int(c.limit[k])
        if c.detached[k]:
            buf, at = scan.detached_chunk(self.src, begin, limit)
            records = read_chunk_records(buf, int(at), len(buf), False)
        else:
            records = read_chunk_records(self.src, begin, limit, False)
        if records.num_records != int(c.num_records[k]):
            raise CorruptRecordError(
                f"chunk decodes to {records.num_records} records, its header says {int(c.num_records[k])}")
        return records

    def close(self) -> None:
        buffer, self._buffer = self._buffer, None
        self.src = np.empty(0, np.uint8)
        if isinstance(buffer, mmap.mmap):
            try:
                buffer.close()
            except BufferError:
                pass

    def __enter__(self) -> "Survey":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _map(path: str) -> tuple[object, np.ndarray]:
    with open(path, "rb") as f:
        try:
            buffer: object = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # empty files and files that cannot be mapped
            buffer = f.read()
    return buffer, np.frombuffer(buffer, np.uint8)


def survey(path: str | os.PathLike) -> Survey:
    """Walk the file at ``path`` and line its chunks up with its footer. Raises only ``OSError``."""
    path = os.fspath(path)
    buffer, src = _map(path)
    result = Survey(path=path, file_size=len(src), src=src, walk=scan.walk_chunks(src, 0), _buffer=buffer)
    try:
        _examine(result)
    except BaseException:
        result.close()
        raise
    return result


def _examine(s: Survey) -> None:
    size = s.file_size
    kind, status, begin, end, where, ctype, nrec, decoded, dsize = s.walk
    if size == 0:
        s.damage.append(Damage(0, "the file is empty (0 bytes)"))
    elif not len(kind) or kind[0] != scan.CHUNK or ctype[0] != SIGNATURE or status[0] != scan.OK:
        s.damage.append(Damage(0, "no intact Riegeli file signature at the start (not an ArrayRecord "
                                  "file, or its first block is damaged)", end=64))
    if size and size % BLOCK_SIZE:
        s.damage.append(Damage(size, f"the file is {size} bytes, not a whole number of 64 KiB blocks: "
                                     "it was cut short (a complete file ends at a block boundary)"))
    _find_footer(s)
    if s.footer is not None:
        _chunks_from_footer(s)
    else:
        _chunks_from_walk(s)
    _structure_damage(s)
    s.damage.sort(key=lambda d: d.offset)


def _try(fn, *args):
    """``fn(*args)``, or the error text when the bytes make it fail."""
    try:
        return fn(*args), None
    except ArrayRecordError as err:
        return None, str(err)


def _read_footer(src: np.ndarray, at: int, limit: int) -> tuple[FooterMetadata, np.ndarray, np.ndarray]:
    meta, index = read_footer(src, at, limit, True)
    return meta, index.offsets, index.record_counts()


def _find_footer(s: Survey) -> None:
    """The footer, through the postscript, or failing that the last chunk that decodes as one."""
    size, src = s.file_size, s.src
    kind, status, begin, end, where, ctype, nrec, decoded, dsize = s.walk
    if size >= BLOCK_SIZE and size % BLOCK_SIZE == 0:
        at = size - BLOCK_SIZE
        postscript, err = _try(read_chunk_records, src, at, size, True)
        if postscript is not None:
            footer_at, err = _try(decode_postscript, postscript.record(0)) if postscript.num_records else \
                (None, "postscript chunk holds no record")
            if footer_at is not None and not 64 <= footer_at < at:
                footer_at, err = None, f"postscript points at a footer outside the file ({footer_at})"
        else:
            footer_at = None
        if footer_at is None:
            s.damage.append(Damage(at, f"postscript unreadable: {err}", end=size))
        else:
            found, err = _try(_read_footer, src, footer_at, at)
            if found is not None:
                s.footer_offset, s.footer_from = footer_at, "postscript"
                s.footer, s._footer_entries = found[0], found[1:]
                return
            s.footer_offset = footer_at
            s.damage.append(Damage(footer_at, f"footer unreadable: {err}"))
            return  # the data region is still known: [64, footer_at)
    # No usable postscript: try the last few simple chunks, newest first.
    tried = 0
    for k in range(len(kind) - 1, 0, -1):
        if tried == 4:
            break
        if kind[k] != scan.CHUNK or ctype[k] != SIMPLE or status[k] not in (scan.OK, scan.PADDING_CUT):
            continue
        tried += 1
        if status[k] != scan.OK:
            continue
        limit = int(begin[k + 1]) if k + 1 < len(kind) else size
        found, _ = _try(_read_footer, src, int(begin[k]), limit)
        if found is not None:
            s.footer_offset, s.footer_from = int(begin[k]), "search"
            s.footer, s._footer_entries = found[0], found[1:]
            return


def _is_postscript(src: np.ndarray, at: int, size: int) -> bool:
    postscript, _ = _try(read_chunk_records, src, at, size, True)
    return postscript is not None and postscript.num_records == 3 and \
        _try(decode_postscript, postscript.record(0))[0] is not None


def _chunks_from_footer(s: Survey) -> None:
    """Data chunks as the footer lists them; the walk says which are intact."""
    kind, status, begin, end, where, ctype, nrec, decoded, dsize = s.walk
    offsets, counts = s._footer_entries
    n = len(offsets)
    s.group_size = int(counts[0]) if n else 0
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64) if n else np.zeros(0, np.int64)
    limits = np.append(offsets[1:], s.footer_offset).astype(np.int64)
    at = np.searchsorted(begin, offsets)
    found = at < len(begin)
    found[found] = begin[at[found]] == offsets[found]
    idx = np.where(found, at, 0)
    is_chunk = found & (kind[idx] == scan.CHUNK)
    header_ok = is_chunk & np.isin(ctype[idx], DATA_TYPES) & (nrec[idx] == counts)
    good = header_ok & np.isin(status[idx], (scan.OK, scan.BLOCK_HEADER))
    s.chunks = DataChunks(
        begin=offsets, limit=limits, num_records=counts, first_record=first,
        decoded_size=np.where(is_chunk, decoded[idx], -1), data_size=np.where(is_chunk, dsize[idx], -1),
        intact=good, detached=np.zeros(n, bool))
    for k in np.flatnonzero(~good | (status[idx] != scan.OK)).tolist():
        a, b = int(first[k]), int(first[k] + counts[k])
        w = int(idx[k])
        if not found[k]:
            what = "the chunk lies in a damaged region (its header is gone)"
        elif kind[w] == scan.GAP:
            what = _GAP_TEXT[int(status[w])]
        elif ctype[w] not in DATA_TYPES:
            what = f"expected a data chunk, found chunk type {int(ctype[w]):#04x}"
        elif nrec[w] != counts[k]:
            what = f"the chunk holds {int(nrec[w])} records, the footer says {int(counts[k])}"
        else:
            what = _CHUNK_TEXT[int(status[w])]
        offset = int(where[w]) if found[k] and kind[w] == scan.CHUNK and status[w] == scan.BLOCK_HEADER \
            else int(offsets[k])
        s.damage.append(Damage(offset, what, chunk_index=k, records=(a, b), lost_records=b - a,
                               recoverable=bool(good[k])))
    listed = set(offsets.tolist())
    for w in np.flatnonzero((kind == scan.CHUNK) & np.isin(ctype, DATA_TYPES) & (begin >= 64)
                            & (begin < s.footer_offset)).tolist():
        if int(begin[w]) not in listed:
            s.damage.append(Damage(int(begin[w]), "data chunk not listed in the footer (ignored)",
                                   end=int(end[w])))


def _chunks_from_walk(s: Survey) -> None:
    """Data chunks as the walk found them, numbered by the uniform group rule where it holds."""
    kind, status, begin, end, where, ctype, nrec, decoded, dsize = s.walk
    size = s.file_size
    stop = s.footer_offset if s.footer_offset is not None else size
    entries = []  # walk indices of data chunks and gaps inside the data region
    for w in range(len(kind)):
        if begin[w] < 64 or begin[w] >= stop:
            continue
        if kind[w] == scan.GAP or ctype[w] in DATA_TYPES:
            entries.append(w)
    # The postscript is not data: a chunk where it belongs that decodes as one, or that has its shape.
    if entries and begin[entries[-1]] == size - BLOCK_SIZE and kind[entries[-1]] == scan.CHUNK:
        w = entries[-1]
        if _is_postscript(s.src, int(begin[w]), size) or (
                status[w] != scan.OK and ctype[w] == SIMPLE and nrec[w] == 3 and 41 <= dsize[w] <= 68):
            entries.pop()
    # The uniform group rule: every chunk but the last holds G records.
    intact_counts = [int(nrec[w]) for w in entries
                     if kind[w] == scan.CHUNK and status[w] != scan.DATA_CUT]
    g = intact_counts[0] if intact_counts else 0
    uniform = bool(intact_counts) and all(c == g for c in intact_counts[:-1]) and intact_counts[-1] <= g
    s.group_size = g if uniform else 0
    last_chunk = max((pos for pos, w in enumerate(entries) if kind[w] == scan.CHUNK), default=-1)
    rows, index, exact = [], 0, True
    for pos, w in enumerate(entries):
        later_chunk = pos < last_chunk
        b, e = int(begin[w]), int(end[w])
        if kind[w] == scan.CHUNK:
            n = int(nrec[w])
            st = int(status[w])
            ok = st in (scan.OK, scan.BLOCK_HEADER, scan.PADDING_CUT)
            first = index if exact else -1
            limit = min(e, size) if st != scan.PADDING_CUT else e
            rows.append((b, limit, n, first, int(decoded[w]), int(dsize[w]), ok, st == scan.PADDING_CUT))
            if st != scan.OK:
                records = (first, first + n) if exact and st != scan.PADDING_CUT else None
                offset = int(where[w]) if st == scan.BLOCK_HEADER else b
                s.damage.append(Damage(offset, _CHUNK_TEXT[st], end=e if st != scan.BLOCK_HEADER else None,
                                       chunk_index=len(rows) - 1 if exact else None, records=records,
                                       lost_records=n, recoverable=ok))
            index += n
            continue
        what = _GAP_TEXT[int(status[w])]
        chunks = int(nrec[w])
        if chunks == 1 and s.group_size and later_chunk:
            s.damage.append(Damage(b, what + "; the block headers show it is one chunk", end=e,
                                   records=(index, index + g) if exact else None, lost_records=g))
            index += g
        elif not later_chunk:
            s.damage.append(Damage(b, what + (f"; every record from {index} on is lost" if exact else "")
                                   + " (how many the file held is not known without its footer)", end=e))
        else:
            s.damage.append(Damage(b, what + "; an unknown number of chunks is lost"
                                   + (f" after record {index - 1}" if exact and index else "")
                                   + " (the original numbers of the records after it are not known)", end=e))
            exact = False
    s.indices_exact = exact
    gap_at_end = bool(entries) and kind[entries[-1]] == scan.GAP  # its message says it already
    if s.footer_offset is None and size % BLOCK_SIZE and exact and not gap_at_end:
        s.damage.append(Damage(size, f"the file ends here, without its footer: records {index} and on, if "
                                     "the writer wrote any, are lost (how many is not known)"))
    cols = list(zip(*rows)) if rows else [()] * 8
    s.chunks = DataChunks(*(np.array(c, dtype) for c, dtype in zip(cols, (
        np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, bool, bool))))


def _structure_damage(s: Survey) -> None:
    """Damage outside the data chunks: gaps and broken chunks in the footer/padding/postscript region."""
    kind, status, begin, end, where, ctype, nrec, decoded, dsize = s.walk
    data_stop = s.footer_offset if s.footer_offset is not None else None
    reported = {d.offset for d in s.damage}
    for w in range(len(kind)):
        b = int(begin[w])
        if b < 64 and w == 0:
            continue  # the signature has its own message
        inside_data = data_stop is None or b < data_stop
        is_data = kind[w] == scan.GAP or ctype[w] in DATA_TYPES
        if inside_data and is_data and data_stop is not None:
            continue  # covered by the data chunks
        if data_stop is None and is_data:
            continue  # counted as data by _chunks_from_walk
        if kind[w] == scan.CHUNK and status[w] == scan.OK:
            continue
        offset = int(where[w]) if kind[w] == scan.CHUNK and status[w] == scan.BLOCK_HEADER else b
        if offset in reported:
            continue
        label = {SIMPLE: "footer or postscript chunk", PADDING: "padding chunk", SIGNATURE: "signature chunk"}
        name = "damaged region" if kind[w] == scan.GAP else label.get(int(ctype[w]), f"chunk type {int(ctype[w]):#04x}")
        text = (_GAP_TEXT if kind[w] == scan.GAP else _CHUNK_TEXT)[int(status[w])]
        s.damage.append(Damage(offset, f"{name}: {text}", end=int(end[w])))
