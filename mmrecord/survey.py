"""What is in an ArrayRecord file, chunk by chunk, and what in it is damaged.

``survey(path)`` walks the whole file (``engine.scan``) and tells each chunk's
role by its type and content: data, footer (a chunk that reads as one),
postscript (three postscript messages), padding. It reads the postscript and
the footer when they are intact and lines the data chunks up with the footer's
entries: every data chunk, where it lies, how many records it holds, which
original records those are and whether its bytes are intact.

Original record numbers are claimed only where they are proven: by the footer
entry a chunk agrees with (``framing.entry_mismatch``: type, record count,
decoded size, where it ends), or without a footer by the record counts of the
chunks before it; ``indices_note`` says why where they are not. ``info``,
``verify`` and ``recover`` are built on it. It never raises for what a file
contains: every problem becomes a :class:`Damage` entry.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .chunk import (
    PADDING,
    SIGNATURE,
    SIMPLE,
    TRANSPOSED,
    ChunkRecords,
    entry_mismatch_text,
    read_chunk_records,
)
from .engine import framing, scan
from .engine.blocks import BLOCK_SIZE, padded_end
from .errors import ArrayRecordError, CorruptRecordError
from .index import footer_index
from .layout import POSTSCRIPT_COPIES, FooterMetadata, decode_postscript
from .storage import Location, open_source

DATA_TYPES = (SIMPLE, TRANSPOSED)
#: Walk statuses of chunks whose data is intact (their records can be read).
INTACT = (scan.OK, scan.BLOCK_HEADER, scan.PADDING_CUT)

# The role of each walk entry. SUPERSEDED: the tail an append left behind (old partial chunk, footer,
# postscript), lying between two listed chunks (``framing.is_earlier_tail``): dead space, not damage.
DATA, FOOTER, POSTSCRIPT, OTHER, GAP, SUPERSEDED = range(6)

#: Simple chunks tried as the footer, whatever their shape, when the postscript does not lead to one.
FOOTER_CANDIDATES = 4
#: Bytes a footer's metadata record takes at most (its writer options included), for its shape.
_METADATA_BYTES = 4096
#: A postscript chunk's stored size: three messages of 12..21 bytes, the sizes blob and its framing.
_POSTSCRIPT_DATA_SIZE = range(41, 69)

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
_ROLE_NAME = {FOOTER: "footer chunk", POSTSCRIPT: "postscript chunk"}
_TYPE_NAME = {SIMPLE: "simple chunk", TRANSPOSED: "transposed chunk", PADDING: "padding chunk",
              SIGNATURE: "signature chunk"}


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
    """The data chunks in original order, as arrays (a file can have millions)."""

    begin: np.ndarray  # int64: chunk position (where it was found, else where the footer lists it)
    limit: np.ndarray  # int64: the position it must end by (for ``read_chunk_records``)
    num_records: np.ndarray  # int64
    first_record: np.ndarray  # int64: original index of its first record, -1 when not proven
    decoded_size: np.ndarray  # int64: record bytes (-1 when not known)
    data_size: np.ndarray  # int64: stored bytes (-1 when the header is lost)
    intact: np.ndarray  # bool: its records can be read (hashes match), and they belong to the file
    detached: np.ndarray  # bool: intact, but the file ends inside its padding

    def __len__(self) -> int:
        return len(self.begin)


@dataclass
class Survey:
    """The result of :func:`survey`; :meth:`close` releases the file map."""

    path: str
    file_size: int
    src: np.ndarray
    walk: scan.Walk
    footer_offset: int | None = None  # where the data region ends: the footer, found or credibly placed
    footer: FooterMetadata | None = None
    footer_from: str | None = None  # "postscript" or "search" (found without a postscript)
    chunks: DataChunks | None = None
    group_size: int = 0  # from the footer, or proven by the chunks; 0 when not known
    indices_exact: bool = True  # the original record numbers of every intact chunk are proven
    indices_note: str | None = None  # why they are not
    damage: list[Damage] = field(default_factory=list)
    _buffer: object = None  # the byte source ``src`` views
    # From the footer: (chunk offsets, record counts, decoded sizes, the offset it was written at).
    _footer_entries: tuple | None = None
    _roles: np.ndarray | None = None  # each walk entry's role: DATA, FOOTER, POSTSCRIPT, OTHER, GAP
    _postscript_footer: int | None = None  # the footer offset an intact postscript gives (maybe stale)

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
        records = _read_checked(self.src, int(c.begin[k]), int(c.limit[k]), bool(c.detached[k]))
        if records.num_records != int(c.num_records[k]):
            raise CorruptRecordError(
                f"chunk decodes to {records.num_records} records, its header says {int(c.num_records[k])}")
        return records

    def close(self) -> None:
        source, self._buffer = self._buffer, None
        self.src = np.empty(0, np.uint8)
        if source is not None:
            source.close()

    def __enter__(self) -> "Survey":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def survey(path: str | os.PathLike, storage_options: Mapping[str, Any] | None = None) -> Survey:
    """Walk the file at ``path`` and line its chunks up with its footer. Raises only ``OSError``.

    A remote object (a URL, reached with fsspec ``storage_options``) is
    fetched whole first, in concurrent parts: every byte is walked.
    """
    location = Location(path, storage_options)
    source = open_source(location)
    if source.remote:
        source.ensure_range(0, source.size)
    src = source.array
    result = Survey(path=location.display, file_size=len(src), src=src, walk=scan.walk_chunks(src, 0),
                    _buffer=source)
    try:
        _examine(result)
    except BaseException:
        result.close()
        raise
    return result


def _examine(s: Survey) -> None:
    size, walk = s.file_size, s.walk
    if size == 0:
        s.damage.append(Damage(0, "the file is empty (0 bytes)"))
    elif not len(walk.kind) or walk.kind[0] != scan.CHUNK or walk.chunk_type[0] != SIGNATURE \
            or walk.status[0] != scan.OK:
        s.damage.append(Damage(0, "no intact Riegeli file signature at the start (not an ArrayRecord "
                                  "file, or its first block is damaged)", end=64))
    if size and size % BLOCK_SIZE:
        s.damage.append(Damage(size, f"the file is {size} bytes, not a whole number of 64 KiB blocks: "
                                     "it was cut short (a complete file ends at a block boundary)"))
    s._roles = _roles(walk)
    _find_postscript(s)
    _find_footer(s)
    if s.footer is not None:
        _chunks_from_footer(s)
    else:
        _mark_postscripts(s)  # not data, wherever they lie
        _chunks_from_walk(s)
    intact = s.chunks.intact
    s.indices_exact = not (intact & (s.chunks.first_record < 0)).any()
    if s.indices_exact:
        s.indices_note = None
    _structure_damage(s)
    s.damage.sort(key=lambda d: d.offset)


def _try(fn, *args):
    """``fn(*args)``, or the error text when the bytes make it fail."""
    try:
        return fn(*args), None
    except ArrayRecordError as err:
        return None, str(err)


def _read_checked(src: np.ndarray, begin: int, limit: int, detached: bool) -> ChunkRecords:
    """The records of a chunk whose header and data hashes the walk has checked (not checked again)."""
    if detached:
        buf, at = scan.detached_chunk(src, begin, limit)
        return read_chunk_records(buf, int(at), len(buf), False)
    return read_chunk_records(src, begin, limit, False)


def _walked_records(s: Survey, w: int) -> tuple[ChunkRecords | None, str | None]:
    """The records of walk entry ``w`` when its data is intact (else None), and why not."""
    walk = s.walk
    if walk.kind[w] != scan.CHUNK:
        return None, _GAP_TEXT[int(walk.status[w])]
    if walk.status[w] not in INTACT:
        return None, _CHUNK_TEXT[int(walk.status[w])]
    return _try(_read_checked, s.src, int(walk.begin[w]), int(walk.end[w]), bool(walk.status[w] == scan.PADDING_CUT))


def _roles(walk: scan.Walk) -> np.ndarray:
    """Each walk entry's role by its type: data, gap or other; the footer and postscript are found later."""
    roles = np.full(len(walk.kind), OTHER, np.int64)
    roles[(walk.kind == scan.CHUNK) & np.isin(walk.chunk_type, DATA_TYPES)] = DATA
    roles[walk.kind == scan.GAP] = GAP
    return roles


def _postscript_offset(records: ChunkRecords | None) -> int | None:
    """The footer offset a postscript chunk gives, or None when the chunk is not a postscript."""
    if records is None or records.num_records != POSTSCRIPT_COPIES:
        return None
    return _try(decode_postscript, records.record(0))[0]


def _find_postscript(s: Survey) -> None:
    """The footer offset the postscript gives, from the last block as the reader reads it, else by content.

    The offset is kept even when it is stale (outside the file, or not a
    footer's): the footer's entries were checked against it when written.
    """
    size, src = s.file_size, s.src
    said = None
    if size >= BLOCK_SIZE and size % BLOCK_SIZE == 0:
        at = size - BLOCK_SIZE
        postscript, err = _try(read_chunk_records, src, at, size, True)
        if postscript is not None:
            said, err = _try(decode_postscript, postscript.record(0)) if postscript.num_records else \
                (None, "postscript chunk holds no record")
            if said is not None and not 64 <= said < at:
                err = f"postscript points at a footer outside the file ({said})"
        if said is None or not 64 <= said < at:
            s.damage.append(Damage(at, f"postscript unreadable: {err}", end=size))
        w = int(np.searchsorted(s.walk.begin, at))
        if said is not None and w < len(s.walk.begin) and s.walk.begin[w] == at:
            s._roles[w] = POSTSCRIPT
    s._postscript_footer = said if said is not None else _mark_postscripts(s)


def _mark_postscripts(s: Survey) -> int | None:
    """Give every chunk that is a postscript by content the POSTSCRIPT role; the newest one's footer offset.

    A postscript chunk begins a block and holds three postscript messages; a
    damaged chunk of that shape in the last block is taken for one too.
    """
    walk, said = s.walk, None
    shaped = np.flatnonzero((s._roles == DATA) & (walk.chunk_type == SIMPLE) & (walk.num_records == 3)
                            & (walk.begin % BLOCK_SIZE == 0) & np.isin(walk.data_size, _POSTSCRIPT_DATA_SIZE))
    for w in shaped[::-1].tolist():
        offset = _postscript_offset(_walked_records(s, w)[0])
        if offset is not None:
            s._roles[w] = POSTSCRIPT
            said = offset if said is None else said
        elif walk.status[w] not in INTACT and walk.begin[w] == s.file_size - BLOCK_SIZE:
            s._roles[w] = POSTSCRIPT
    return said


def _footer_from(s: Survey, w: int):
    """``(metadata, offsets, counts, sizes, written at)`` of walk entry ``w`` read as a footer, or the error text.

    A footer's entries lie before where it was written: the postscript's
    offset when the file changed shape since, else where it lies now. A
    chunk that reads as a footer but whose entries fit neither is still not
    data: its role becomes FOOTER.
    """
    records, err = _walked_records(s, w)
    if records is None:
        return None, err
    here, said = int(s.walk.begin[w]), s._postscript_footer
    fits = []
    for at in dict.fromkeys(a for a in (said, here) if a is not None and a >= 64):
        found, err = _try(footer_index, records, at)
        if found is not None:
            fits.append((at, *found))
    if fits:
        at, meta, index = next((fit for fit in fits if _follows_last(s, fit[2].offsets, fit[0])), fits[0])
        return (meta, index.offsets, index.record_counts(), index.sizes, at), None
    meta = _try(FooterMetadata.decode, records.record(0))[0] if records.num_records else None
    if meta is not None and meta.num_chunks == records.num_records - 1:
        s._roles[w] = FOOTER
    return None, err


def _follows_last(s: Survey, offsets: np.ndarray, at: int) -> bool:
    """Would a footer at ``at`` follow the last listed chunk, as the data chunk found at its offset ends?"""
    if not len(offsets):
        return True
    walk = s.walk
    w = int(np.searchsorted(walk.begin, offsets[-1]))
    if w == len(walk.begin) or walk.begin[w] != offsets[-1] or s._roles[w] != DATA:
        return False
    end = int(walk.end[w])
    return at in (end, int(padded_end(end)))


def _footer_candidates(s: Survey, placed: int) -> list[int]:
    """Walk entries that may be the footer, newest first: the last few simple chunks, and any of a footer's shape.

    A footer holds the metadata and one entry of 2 to 33 bytes per chunk.
    """
    walk = s.walk
    simple = np.flatnonzero((s._roles == DATA) & (walk.chunk_type == SIMPLE) & np.isin(walk.status, INTACT))
    entries = walk.num_records[simple] - 1
    shaped = (entries >= 1) & (walk.decoded_size[simple] >= 2 * entries) & (
        walk.decoded_size[simple] <= 33 * entries + _METADATA_BYTES)
    chosen = np.union1d(simple[-FOOTER_CANDIDATES:], simple[shaped])[::-1]
    return [w for w in chosen.tolist() if w != placed]


def _find_footer(s: Survey) -> None:
    """The footer: where the postscript says, else the newest chunk that reads as one.

    A damaged chunk where the postscript puts the footer, with no intact data
    chunk after it, is taken for the damaged footer: the data region still
    ends there.
    """
    walk, roles, said = s.walk, s._roles, s._postscript_footer
    placed, err = -1, "no chunk begins there"  # the walk entry where the postscript puts the footer
    w = int(np.searchsorted(walk.begin, said)) if said is not None else len(walk.begin)
    if w < len(walk.begin) and walk.begin[w] == said:
        placed = w
        found, err = _footer_from(s, w)
        if found is not None:
            _take_footer(s, w, found, "postscript")
            return
    for w in _footer_candidates(s, placed):
        found, _ = _footer_from(s, w)
        if found is not None:
            _take_footer(s, w, found, "search")
            if said is not None:
                s.damage.append(Damage(int(walk.begin[w]), f"footer found at byte {int(walk.begin[w])}, "
                                                           f"not where the postscript puts it ({said}: {err})"))
            return
    if said is None or not 64 <= said < s.file_size:
        return
    if ((roles == DATA) & np.isin(walk.status, INTACT) & (walk.begin >= said)).any():
        s.damage.append(Damage(said, f"the postscript puts the footer at byte {said}, where data chunks lie: "
                                     "the file changed shape (the footer is not found)"))
        return
    s.footer_offset = said
    if placed >= 0 and walk.kind[placed] == scan.CHUNK:
        roles[placed] = FOOTER
    s.damage.append(Damage(said, f"footer unreadable: {err}"))


def _take_footer(s: Survey, w: int, found: tuple, how: str) -> None:
    s._roles[w] = FOOTER
    s.footer_offset, s.footer_from = int(s.walk.begin[w]), how
    s.footer, s._footer_entries = found[0], found[1:]


def _chunks_from_footer(s: Survey) -> None:
    """Data chunks as the footer lists them; the walk says where each is and whether it is intact.

    A chunk counts as entry ``k``'s where the footer lists it only if it
    agrees with the entry. A chunk found elsewhere (blocks inserted, deleted
    or moved) is entry ``k``'s when ``k`` is the one unclaimed entry it agrees
    with (record count, decoded size, position inside its block, end) between
    its neighbours' entries, or failing that in the whole footer. A chunk that
    fits several entries is kept unnumbered, a copy of a chunk already placed
    is dropped, and a chunk of no entry's shape is not a record of the file.
    """
    walk, roles = s.walk, s._roles
    offsets, counts, sizes, written_at = s._footer_entries
    n = len(offsets)
    s.group_size = int(counts[0]) if n else 0
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64) if n else np.zeros(0, np.int64)
    nexts = np.append(offsets[1:], written_at).astype(np.int64)
    at = np.searchsorted(walk.begin, offsets)
    found = at < len(walk.begin)
    found[found] = walk.begin[at[found]] == offsets[found]
    w_at = np.where(found, at, 0)
    is_data = found & (roles[w_at] == DATA)
    finding = np.full(n, -1, np.int64)  # entry_mismatch of the data chunk at each entry's offset
    wd = w_at[is_data]
    finding[is_data] = framing.entry_mismatches(s.src, offsets[is_data], walk.data_size[wd], walk.chunk_type[wd],
                                                walk.num_records[wd], walk.decoded_size[wd], nexts[is_data],
                                                counts[is_data], sizes[is_data])
    chunk_of = np.where(finding == framing.SAME, w_at, -1)  # the walk entry holding each entry's chunk
    _mark_superseded(s, chunk_of, nexts)
    extras = _place_strays(s, chunk_of, first, nexts)
    _footer_rows(s, chunk_of, first, nexts, extras)
    in_place = (chunk_of == w_at) & found & (walk.status[w_at] == scan.OK)
    for k in np.flatnonzero(~in_place).tolist():
        _entry_damage(s, k, chunk_of[k], bool(found[k]), int(w_at[k]), int(finding[k]), first, nexts)


def _mark_superseded(s: Survey, chunk_of: np.ndarray, nexts: np.ndarray) -> None:
    """Give the chunks of each earlier file version's tail, between two listed chunks (or the
    signature and the first), the SUPERSEDED role."""
    walk, offsets = s.walk, s._footer_entries[0]
    placed = np.flatnonzero(chunk_of >= 0)
    # Each placed chunk's end and where the next chunk begins; the signature (64 bytes) before chunk 0.
    spans = list(zip(walk.end[chunk_of[placed]].tolist(), nexts[placed].tolist()))
    if len(offsets) and chunk_of[0] >= 0:
        spans.append((64, int(offsets[0])))
    for end, following in spans:
        if end != following and padded_end(end) != following and framing.is_earlier_tail(s.src, end, following):
            s._roles[(walk.begin >= end) & (walk.begin < following)] = SUPERSEDED


def _place_strays(s: Survey, chunk_of: np.ndarray, first: np.ndarray, nexts: np.ndarray) -> list[int]:
    """Give intact data chunks found away from their listed place an entry (in ``chunk_of``) where proven.

    An entry whose chunk is in place but damaged may take an intact copy.
    Returns the walk entries of chunks kept without a number.
    """
    walk, roles = s.walk, s._roles
    offsets, counts, sizes, _ = s._footer_entries
    placed = chunk_of[chunk_of >= 0]
    strays = np.setdiff1d(np.flatnonzero((roles == DATA) & np.isin(walk.status, INTACT)), placed)
    if not len(strays):
        return []
    by_shape: dict[tuple, list[int]] = {}  # shape -> its entries, ascending
    for k, shape in enumerate(zip((offsets % BLOCK_SIZE).tolist(), counts.tolist(), sizes.tolist())):
        by_shape.setdefault(shape, []).append(k)
    open_entry = (chunk_of < 0) | ~np.isin(walk.status[np.maximum(chunk_of, 0)], INTACT)
    free = {shape: [k for k in ks if open_entry[k]] for shape, ks in by_shape.items()}
    content = {_content(walk, w): int(np.flatnonzero(chunk_of == w)[0]) for w in placed.tolist()
               if walk.status[w] in INTACT}
    home_begin = walk.begin[placed]
    home_entry = np.flatnonzero(chunk_of >= 0)
    previous = -1  # the entry of the last chunk placed before the current one
    extras = []
    for w in strays.tolist():
        p = int(walk.begin[w])
        i = int(np.searchsorted(home_begin, p))
        previous = max(previous, int(home_entry[i - 1]) if i else -1)
        following = int(home_entry[i]) if i < len(home_entry) else len(offsets)
        shape = (p % BLOCK_SIZE, int(walk.num_records[w]), int(walk.decoded_size[w]))
        ks = [k for k in free.get(shape, []) if framing.entry_mismatch(
            s.src, int(offsets[k]), int(walk.data_size[w]), int(walk.chunk_type[w]), int(walk.num_records[w]),
            int(walk.decoded_size[w]), int(nexts[k]), int(counts[k]), int(sizes[k])) == framing.SAME]
        window = ks[bisect.bisect_right(ks, previous):bisect.bisect_left(ks, following)]
        end = int(walk.end[w])
        if len(window) == 1 or not window and len(ks) == 1:  # the one entry it fits, in order or anywhere
            k = (window or ks)[0]
            chunk_of[k] = w
            free[shape].remove(k)
            previous = k if window else previous
            content.setdefault(_content(walk, w), k)
            continue
        copy_of = content.get(_content(walk, w))
        if copy_of is not None:
            s.damage.append(Damage(p, f"a copy of data chunk {copy_of} (found at byte "
                                      f"{int(walk.begin[chunk_of[copy_of]])}): not kept", end=end))
        elif shape in by_shape:
            extras.append(w)
            candidates = window or by_shape[shape]
            listed = ", ".join(map(str, candidates[:5])) + (", ..." if len(candidates) > 5 else "")
            s.damage.append(Damage(p, f"data chunk not where the footer lists it; it has the shape of footer "
                                      f"entr{'y' if len(candidates) == 1 else 'ies'} {listed}, which its place "
                                      "does not prove: kept, its original number is not proven",
                                   end=end, recoverable=True))
        else:
            s.damage.append(Damage(p, "data chunk not listed in the footer, of no listed chunk's shape: "
                                      "not a record of this file (not kept)", end=end))
    if extras:
        s.indices_note = (f"{len(extras)} data chunk{'s' if len(extras) > 1 else ''} found away from where the "
                          "footer lists chunks could not be matched to one entry: their records are kept, "
                          "their original numbers are not proven")
    return extras


def _content(walk: scan.Walk, w: int) -> tuple:
    """What identifies a chunk's bytes: equal for two chunks that hold the same records."""
    return (int(walk.data_hash[w]), int(walk.chunk_type[w]), int(walk.num_records[w]),
            int(walk.decoded_size[w]), int(walk.data_size[w]))


def _footer_rows(s: Survey, chunk_of: np.ndarray, first: np.ndarray, nexts: np.ndarray, extras: list[int]) -> None:
    """``s.chunks``: one row per footer entry, in order, and the unnumbered chunks after their neighbours."""
    walk = s.walk
    offsets, counts, sizes, _ = s._footer_entries
    w = np.maximum(chunk_of, 0)
    have = chunk_of >= 0
    intact = have & np.isin(walk.status[w], INTACT)
    rows = DataChunks(
        begin=np.where(have, walk.begin[w], offsets), limit=np.where(have, walk.end[w], nexts),
        num_records=counts, first_record=first, decoded_size=sizes,
        data_size=np.where(have, walk.data_size[w], -1), intact=intact,
        detached=intact & (walk.status[w] == scan.PADDING_CUT))
    if extras:
        e = np.array(extras, np.int64)
        # Each unnumbered chunk goes after the entry of the chunk placed before it in the file.
        placed_entries = np.append(-1, np.flatnonzero(have))
        after = placed_entries[np.searchsorted(walk.begin[w][have], walk.begin[e])]
        order = np.argsort(np.concatenate((np.arange(len(offsets)) * 2, after * 2 + 1)), kind="stable")
        more = DataChunks(begin=walk.begin[e], limit=walk.end[e], num_records=walk.num_records[e],
                          first_record=np.full(len(e), -1, np.int64), decoded_size=walk.decoded_size[e],
                          data_size=walk.data_size[e], intact=np.ones(len(e), bool),
                          detached=walk.status[e] == scan.PADDING_CUT)
        rows = DataChunks(*(np.concatenate((a, b))[order] for a, b in zip(vars(rows).values(), vars(more).values())))
    s.chunks = rows


def _entry_damage(s: Survey, k: int, w: int, found: bool, here: int, finding: int, first: np.ndarray,
                  nexts: np.ndarray) -> None:
    """The damage report of footer entry ``k``: what lies at its offset (walk entry ``here`` when
    ``found``), and where its chunk is (walk entry ``w``, -1: nowhere intact)."""
    walk, roles = s.walk, s._roles
    offsets, counts, sizes, _ = s._footer_entries
    listed = int(offsets[k])
    a, b = int(first[k]), int(first[k] + counts[k])
    offset = listed
    if not found:
        what = "the chunk lies in a damaged region (its header is gone)"
    elif walk.kind[here] == scan.GAP:
        what = _GAP_TEXT[int(walk.status[here])]
    elif roles[here] != DATA:
        what = f"expected a data chunk, found the {_name(walk, roles, here)}"
    elif finding == framing.SAME:  # its own chunk, in its place: its bytes are damaged or cut
        what = _CHUNK_TEXT[int(walk.status[here])]
        if walk.status[here] == scan.BLOCK_HEADER:
            offset = int(walk.where[here])
    else:
        what = "the chunk here is not this one: " + entry_mismatch_text(
            finding, listed, int(walk.data_size[here]), int(walk.chunk_type[here]),
            int(walk.num_records[here]), int(walk.decoded_size[here]), int(nexts[k]), int(counts[k]),
            int(sizes[k]))
    if w >= 0 and not (found and w == here):
        moved = (int(walk.begin[w]) - listed) // BLOCK_SIZE
        what += (f"; {'an intact copy' if finding == framing.SAME else 'the chunk'} was found at byte "
                 f"{int(walk.begin[w])}, {abs(moved)} block{'s' if abs(moved) != 1 else ''} "
                 f"{'later' if moved > 0 else 'earlier'}")
        if walk.status[w] != scan.OK:
            what += f" ({_CHUNK_TEXT[int(walk.status[w])]})"
    recoverable = w >= 0 and walk.status[w] in INTACT
    s.damage.append(Damage(offset, what, chunk_index=k, records=(a, b), lost_records=b - a,
                           recoverable=bool(recoverable)))


def _name(walk: scan.Walk, roles: np.ndarray, w: int) -> str:
    """What walk entry ``w`` is, in words."""
    return _ROLE_NAME.get(int(roles[w])) or _TYPE_NAME.get(int(walk.chunk_type[w]),
                                                           f"chunk of type {int(walk.chunk_type[w]):#04x}")


def _chunks_from_walk(s: Survey) -> None:
    """Data chunks as the walk found them, numbered by their record counts where those pin the numbers.

    Every chunk header the walk read is intact, so each chunk's record count
    is known. A gap the block headers prove to be one chunk holds the group
    size when a chunk that is not the last shows it (every chunk but the last
    holds that many); any other gap ends the proof, and so does a chunk that
    begins on a block boundary: whole blocks deleted, inserted or swapped
    there leave the chain of chunks whole (in a padded file, every chunk is
    such a place). A chunk identical to an earlier one may be a repeated group
    or a copied block: it is kept unnumbered.
    """
    walk, roles, size = s.walk, s._roles, s.file_size
    stop = s.footer_offset if s.footer_offset is not None else size
    # Data chunks and gaps in the data region (a gap at the start that is only the signature is not).
    entries = [w for w in range(len(walk.kind)) if walk.begin[w] < stop and (
        roles[w] == DATA or roles[w] == GAP and walk.end[w] > 64)]
    intact = [walk.kind[w] == scan.CHUNK and walk.status[w] in INTACT for w in entries]
    later = np.cumsum(intact[::-1])[::-1] - intact if entries else np.zeros(0)  # intact chunks after each entry
    shown = {int(walk.num_records[w]) for w, after in zip(entries, later) if walk.kind[w] == scan.CHUNK and after}
    g = shown.pop() if len(shown) == 1 else 0
    s.group_size = g
    stale = s._postscript_footer if s.footer_offset is None else None
    rows, index, exact = [], 0, True
    seen: dict[tuple, int] = {}
    for pos, w in enumerate(entries):
        b, e = int(walk.begin[w]), int(walk.end[w])
        if exact and stale is not None and b >= stale:
            exact = False
            s.indices_note = (f"the postscript puts the footer at byte {stale}, where data chunks lie: the file "
                              "changed shape there, so the numbers of the records from there on are not proven")
        if walk.kind[w] == scan.CHUNK:
            if exact and b % BLOCK_SIZE == 0:
                exact = False
                s.indices_note = (f"the data chunk at byte {b} begins on a block boundary, as in a padded file: "
                                  "whole blocks lost or moved there leave no trace without the footer, so the "
                                  "numbers of the records from there on are not proven")
            n, st = int(walk.num_records[w]), int(walk.status[w])
            ok = st in INTACT
            first = index if exact else -1
            if ok:
                twin = seen.setdefault(_content(walk, w), b)
                if twin != b:
                    first = -1
                    s.indices_note = s.indices_note or (
                        "a data chunk identical to an earlier one may be a repeated group or a copied block: "
                        "its records are kept, their original numbers are not proven")
                    s.damage.append(Damage(b, f"identical to the data chunk at byte {twin} (a repeated group or "
                                              "a copied block): kept, its original number is not proven",
                                           end=e, recoverable=True))
            limit = min(e, size) if st != scan.PADDING_CUT else e
            rows.append((b, limit, n, first, int(walk.decoded_size[w]), int(walk.data_size[w]), ok,
                         st == scan.PADDING_CUT))
            if st != scan.OK:
                records = (first, first + n) if first >= 0 and st != scan.PADDING_CUT else None
                offset = int(walk.where[w]) if st == scan.BLOCK_HEADER else b
                s.damage.append(Damage(offset, _CHUNK_TEXT[st], end=e if st != scan.BLOCK_HEADER else None,
                                       chunk_index=len(rows) - 1 if exact else None, records=records,
                                       lost_records=n, recoverable=ok))
            index += n
            continue
        what = _GAP_TEXT[int(walk.status[w])]
        if walk.num_records[w] == 1 and later[pos] and g:
            s.damage.append(Damage(b, what + "; the block headers show it is one chunk", end=e,
                                   records=(index, index + g) if exact else None, lost_records=g))
            index += g
        elif not later[pos]:
            s.damage.append(Damage(b, what + (f"; every record from {index} on is lost" if exact else "")
                                   + " (how many the file held is not known without its footer)", end=e))
        else:
            one = walk.num_records[w] == 1
            s.damage.append(Damage(b, what + ("; the block headers show it is one chunk, of a record count no "
                                              "intact chunk shows" if one else
                                              "; an unknown number of chunks is lost")
                                   + (f" after record {index - 1}" if exact and index else "")
                                   + " (the original numbers of the records after it are not known)", end=e))
            if exact:
                s.indices_note = (f"a damaged region at byte {b} hides "
                                  + ("a chunk whose record count no intact chunk shows (the group size is not "
                                     "proven)" if one else "an unknown number of chunks")
                                  + ": the numbers of the records after it are not proven")
            exact = False
    gap_at_end = bool(entries) and walk.kind[entries[-1]] == scan.GAP  # its message says it already
    if s.footer_offset is None and size % BLOCK_SIZE and exact and not gap_at_end:
        s.damage.append(Damage(size, f"the file ends here, without its footer: records {index} and on, if "
                                     "the writer wrote any, are lost (how many is not known)"))
    cols = list(zip(*rows)) if rows else [()] * 8
    s.chunks = DataChunks(*(np.array(c, dtype) for c, dtype in zip(cols, (
        np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, bool, bool))))


def _structure_damage(s: Survey) -> None:
    """Damage outside the data chunks: the signature aside, every damaged chunk or gap not reported yet."""
    walk, roles = s.walk, s._roles
    reported = {d.offset for d in s.damage}
    for w in range(len(walk.kind)):
        b = int(walk.begin[w])
        if w == 0 and b < 64:
            continue  # the signature has its own message
        if roles[w] == DATA or walk.kind[w] == scan.CHUNK and walk.status[w] == scan.OK:
            continue  # data chunks are reported with the records they hold
        offset = int(walk.where[w]) if walk.kind[w] == scan.CHUNK and walk.status[w] == scan.BLOCK_HEADER else b
        if offset in reported:
            continue
        if walk.kind[w] == scan.GAP:
            name, text = "damaged region", _GAP_TEXT[int(walk.status[w])]
        else:
            name, text = _name(walk, roles, w), _CHUNK_TEXT[int(walk.status[w])]
        s.damage.append(Damage(offset, f"{name}: {text}", end=int(walk.end[w])))
