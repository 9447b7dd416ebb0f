"""``ArrayRecordReader``: random, batch and sequential reads over a memory-mapped file or a remote object."""

from __future__ import annotations

import operator
import os
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import wait
from itertools import islice
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, overload

import numpy as np

from .chunk import (
    ChunkRecords,
    DecodedChunk,
    InPlaceRecords,
    read_chunk_records,
    read_in_place,
    record_at,
)
from .codecs import Codec
from .engine.blocks import BLOCK_SIZE
from .engine.direct import compiled_for
from .engine.gather import COPY, DECODE, EXTRA, fill_records_shared
from .engine.pybytes import bytes_list, bytes_list_from_two, bytes_list_logical
from .engine.simple import (
    DecodedRecords,
    decode_chunks,
    decode_records,
    indexed_record_into,
    indexed_record_span,
    indexed_record_spans,
    in_place_spans,
)
from .errors import ArrayRecordError, ClosedError, CorruptRecordError, RecordIndexError
from .index import read_footer
from .layout import decode_postscript
from .options import ReaderOptions, WriterOptions
from .parallel import CPUS, beside, settle, shared_pool
from .storage import Location, RemoteConfig, open_source

# Decoded chunks kept for files whose chunks hold more than one record.
CHUNK_CACHE_SIZE = 16
#: With max_parallelism:0, batch calls use the pool for compressed chunks of at least this many stored bytes.
PARALLEL_CHUNK_BYTES = 512
#: … and for uncompressed chunks of at least this many (each is hashed, and joined when cut by block headers).
PARALLEL_COPY_CHUNK_BYTES = 64 << 10
# Batches smaller than this are read on the calling thread: a pool task costs more.
MIN_PARALLEL_BATCH = 64
# Records a thread takes at a time when several fill one batch, or check its chunks.
FILL_STEP = 16
SPAN_STEP = 64
# Batches copying less than this (uncompressed records) are copied by the calling thread.
PARALLEL_COPY_BYTES = 8 << 20
# Stored bytes per part of a file read in order (a pool task each).
READ_PART_BYTES = 1 << 20
# Records per part when a batch of records becomes ``bytes`` objects.
PART_RECORDS = 2048
# Single records, and parts of batches read as ``bytes``, are decoded into their
# thread's scratch buffer, which grows up to this size; longer ones get a buffer
# of their own.
SCRATCH_LIMIT = 8 << 20


#: A run of no records, and the iterator over a run with no record left (one each, shared:
#: ``read()`` then goes beyond the run).
_NO_RUN: tuple = ()
_NO_BYTES = np.empty(0, np.uint8)
_EXHAUSTED: Iterator[bytes] = iter(())


class _Scratch(threading.local):
    """Each thread's buffer that ``r[i]`` decodes into before making the ``bytes``."""

    def __init__(self) -> None:
        self.buffer = np.empty(1 << 16, np.uint8)


_scratch = _Scratch()


def _scratch_for(size: int) -> np.ndarray:
    """This thread's scratch buffer, grown to ``size`` bytes if need be (a buffer of its own past the limit).

    Reusing it spares the page faults a fresh buffer costs on every call.
    """
    buffer = _scratch.buffer
    if size <= len(buffer):
        return buffer
    if size > SCRATCH_LIMIT:
        return np.empty(size, np.uint8)
    _scratch.buffer = np.empty(max(size, min(2 * len(buffer), SCRATCH_LIMIT)), np.uint8)
    return _scratch.buffer


class _SpareBuffers:
    """Decode buffers of a file read in order, handed back once the records decoded into them are cut.

    Each part of the file is decoded into a buffer of its own, which must
    outlive the part's wait in the queue of parts decoded ahead; a fresh
    buffer is faulted in page by page, a handed-back one is not. ``take`` and
    ``give`` are one list operation each, safe across threads under the GIL.
    """

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []

    def take(self, size: int) -> np.ndarray:
        """A buffer of at least ``size`` bytes: a handed-back one if the last handed back is large enough.

        New buffers have a quarter more room than asked, so that parts of as
        many chunks, whose decoded sizes differ a little, fit each other's.
        """
        try:
            buffer = self._free.pop()
        except IndexError:
            buffer = _NO_BYTES
        return buffer if len(buffer) >= size else np.empty(size + size // 4, np.uint8)

    def give(self, buffer: np.ndarray) -> None:
        """Hand back ``buffer``: nothing refers to what was decoded into it any more."""
        self._free.append(buffer)


class _Groups(NamedTuple):
    """A batch's indices grouped by chunk: record ``r`` of the groups is ``indices[slots[r]]``, record
    ``wanted[r]`` of its chunk; group ``g`` is records ``group_at[g]`` to ``group_at[g+1]`` of chunk
    ``group_chunk[g]``, which holds ``counts[g]``. ``general`` marks the indices left to the general path."""

    general: np.ndarray
    slots: np.ndarray
    wanted: np.ndarray
    group_at: np.ndarray
    group_chunk: np.ndarray
    counts: np.ndarray


def _place(out: list, places: np.ndarray, records: list) -> None:
    """``out[places[i]] = records[i]``: one slice assignment when the places run in order."""
    if len(places) == 1:
        out[places[0]] = records[0]
    elif len(places) and places[-1] - places[0] == len(places) - 1 and np.all(np.diff(places) == 1):
        out[places[0]:places[-1] + 1] = records
    else:
        for at, record in zip(places.tolist(), records):
            out[at] = record


def _growing_parts(first: int, count: int, step: int) -> list[tuple[int, int]]:
    """Chunks ``first`` … ``count - 1`` as ``(begin, end)`` parts of 1/16 of ``step`` chunks, doubling up to ``step``."""
    parts, size, at = [], max(1, step // 16), first
    while at < count:
        parts.append((at, min(at + size, count)))
        at += size
        size = min(step, 2 * size)
    return parts


def _file_codec(writer_options: str | None) -> Codec | None:
    """The codec the footer's writer options name (zstd when they name none, as writers default to)."""
    try:
        return WriterOptions.parse(writer_options or "").codec
    except ArrayRecordError:
        return None  # options this installation cannot parse


class ArrayRecordReader:
    """Read an ArrayRecord file: ``reader[i]``, ``reader[a:b]``, ``reader[[i, j]]``, iteration.

    The reference API is here too: ``num_records()``, ``read()``,
    ``read(indices)``, ``read(begin, end)``, ``read_all()``, ``seek()``,
    ``record_index()``. Random and batch reads are safe from many threads at
    once; the sequential cursor (``read()``/``seek()``) belongs to one thread.

    Every chunk read is checked against its hashes (``verify_checksums:false``
    in the options turns that off) and against the footer's entry for it:
    a data chunk of that record count and decoded size, ending where the next
    chunk begins (this stays on). A damaged file raises
    :class:`~mmrecord.errors.CorruptRecordError` naming the file, chunk and
    byte offset.
    """

    def __init__(self, path: str | os.PathLike | Location, options: str = "", *,
                 storage_options: Mapping[str, Any] | None = None, filesystem: Any = None,
                 size: int | None = None, version: str | None = None,
                 cache_dir: str | os.PathLike | None = None, remote: RemoteConfig | None = None,
                 file_reader_buffer_size: int | None = None, file_options: object = None) -> None:
        """Open ``path`` with reader ``options`` (the reference's option string).

        ``path`` is a local path or a URL (``gs://``, ``s3://``, ``https://``,
        ``file://``, any fsspec protocol) reached with fsspec's
        ``storage_options`` or a ready ``filesystem``. A remote object's
        ``size`` and ``version`` (ETag, generation), when known from a
        listing, spare a metadata request; ``cache_dir`` keeps its bytes
        across readers and runs (memory only by default); ``remote`` tunes
        how it is fetched (:class:`~mmrecord.storage.RemoteConfig`).

        ``file_reader_buffer_size`` and ``file_options`` are the reference's
        keywords for its buffered file reader. A memory-mapped file has no such
        buffer, so they are accepted (a size must be an integer) and change
        nothing.
        """
        if isinstance(path, Location):
            self._location = path
        else:
            self._location = Location(path, storage_options, filesystem)
        self.path = self._location.display
        self._options_text = options
        self._hints = {"size": size, "version": version, "cache_dir": cache_dir, "remote": remote}
        self.options = ReaderOptions.parse(options)
        if file_reader_buffer_size is not None:
            operator.index(file_reader_buffer_size)
        self._verify = self.options.verify_checksums
        # read(): the run of decoded records in hand (record _run_first is _run[0]) and
        # an iterator over its records from the cursor on (so the cursor is where that
        # iterator stands, or where seek() put it: record_index), the stream of runs it
        # came from when reading in order, the record a lone read returned last, and,
        # after damage ahead, the record up to which reads are lone.
        self._run: list[bytes] | tuple = _NO_RUN
        self._run_first = 0
        self._run_rest: Iterator[bytes] = _EXHAUSTED
        self._sought: int | None = None  # where seek() put the cursor, until the next read()
        self._runs: Iterator[tuple[int, list[bytes]]] | None = None
        self._previous = -1
        self._singles_until = 0
        self._cache: OrderedDict[int, DecodedChunk] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._source = open_source(self._location, **self._hints)
        self._src: np.ndarray | None = self._source.array
        # The remote source that must be asked for a chunk's bytes before they are read; None for a local file.
        self._remote = self._source if self._source.remote else None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------

    def _corrupt(self, err: CorruptRecordError, what: str, offset: int,
                 chunk_index: int | None = None) -> CorruptRecordError:
        if self._remote is not None:
            self._remote.check_unchanged()  # bytes of another version are not damage: say so
        return CorruptRecordError(f"{what}: {err.what}", path=self.path,
                                  offset=err.offset if err.offset is not None else offset,
                                  chunk_index=chunk_index)

    def _open(self) -> None:
        size = len(self._src)
        if size < BLOCK_SIZE or size % BLOCK_SIZE:
            raise CorruptRecordError(
                f"file is {size} bytes; an ArrayRecord file is a whole number of 64 KiB blocks, "
                "at least one (truncated, or not an ArrayRecord file)", path=self.path)
        postscript_at = size - BLOCK_SIZE
        if self._remote is not None:
            # One read of the tail: the postscript, and usually the whole footer.
            self._remote.ensure_range(size - min(size, max(BLOCK_SIZE, self.options.footer_prefetch_bytes)), size)
        try:
            postscript = read_chunk_records(self._src, postscript_at, size, self._verify)
            if postscript.num_records < 1:
                raise CorruptRecordError("postscript chunk holds no record")
            footer_at = decode_postscript(postscript.record(0))
        except CorruptRecordError as err:
            raise self._corrupt(err, "cannot read the postscript", postscript_at) from None
        if not 64 <= footer_at < postscript_at:
            raise CorruptRecordError(f"postscript points at a footer outside the file ({footer_at})",
                                     path=self.path, offset=postscript_at)
        if self._remote is not None:
            self._remote.ensure_range(footer_at, postscript_at)
        try:
            meta, self._index = read_footer(self._src, footer_at, postscript_at, self._verify)
        except CorruptRecordError as err:
            raise self._corrupt(err, "cannot read the footer", footer_at) from None
        self._meta = meta
        # The index's fields that r[i] reads on every call, as plain attributes.
        self._num_records, self._chunks = self._index.num_records, self._index.chunks
        self._footer_offset = self._index.footer_offset
        # Where each chunk begins, and where the last one must end: a chunk's bytes to fetch.
        self._bounds = np.append(self._index.offsets, np.int64(self._footer_offset))
        codec = _file_codec(meta.writer_options)
        # Threads one batch call may use. The reference's batch reads use its whole pool
        # whatever max_parallelism says (that bounds its decoders reading ahead), so at 0,
        # its setting for random access, batches go parallel here too where each chunk is
        # work: compressed chunks that are not tiny, uncompressed ones long enough that
        # hashing and joining them costs more than a hand-off.
        decoding = codec is None or codec.codec_id != 0
        chunk_work = self._index.stored_bytes_per_chunk >= (PARALLEL_CHUNK_BYTES if decoding else
                                                            PARALLEL_COPY_CHUNK_BYTES)
        # Sequential reads decode ahead on the pool unless there is no decoding: checking
        # and cutting uncompressed chunks costs less on the reading thread than a hand-off.
        self._decode_ahead = self.options.max_parallelism > 0 and decoding
        self._batch_threads = min(self.options.max_parallelism, CPUS) if self.options.max_parallelism else (
            CPUS if chunk_work else 1)
        # The compressed codec whose records kernels decode; None when there is none.
        self._kernel_codec = codec if codec is not None and codec.codec_id and codec.kernel_decoder() else None
        self._kernel_codec_id = self._kernel_codec.codec_id if self._kernel_codec else -1
        # Uncompressed chunks are read where they lie: checked, and their records copied once, into bytes.
        self._in_place = codec is not None and codec.codec_id == 0
        # r[i] is one kernel call when chunks hold one record each, stored in a form kernels read.
        self._single_fast = self._index.one_record_per_chunk and codec is not None and (
            codec.codec_id == 0 or self._kernel_codec is not None)
        # Record i (in range) on its own, the way r[i] reads it: one bound method, chosen once.
        self._one_record = self._single_record if self._single_fast else self._record
        # That kernel's code for this file map and index table and a scratch buffer (every thread's
        # is of one type), called without numba's dispatch.
        self._record_into = compiled_for(indexed_record_into, self._src, self._chunks, self._footer_offset, 0,
                                         self._verify, self._kernel_codec_id, 0, 0,
                                         _scratch.buffer) if self._single_fast else None

    # -- the file's facts ----------------------------------------------------

    def num_records(self) -> int:
        """Number of records in the file."""
        return self._index.num_records

    def __len__(self) -> int:
        return self._index.num_records

    def writer_options_string(self) -> str | None:
        """The writer options recorded in the footer (``None`` in very old files)."""
        return self._meta.writer_options

    @property
    def group_size(self) -> int:
        """Records per chunk (all chunks but the last); 0 for an empty file."""
        return self._index.group_size

    @property
    def num_chunks(self) -> int:
        """Number of data chunks."""
        return len(self._index)

    @property
    def stored_bytes_per_chunk(self) -> int:
        """Mean stored size of a data chunk in the file (what a random read at group size > 1 decodes)."""
        return self._index.stored_bytes_per_chunk

    def ok(self) -> bool:
        """True while the reader is open (a reader that failed to open raised instead)."""
        return self._src is not None

    def is_open(self) -> bool:
        """True until :meth:`close`."""
        return self._src is not None

    # -- chunks --------------------------------------------------------------

    def _src_or_raise(self) -> np.ndarray:
        src = self._src
        if src is None:
            raise ClosedError("read from a closed ArrayRecordReader")
        return src

    def _fetch_chunk(self, k: int) -> None:
        """Make data chunk ``k``'s bytes present (a remote object; one bounded range request at most)."""
        self._remote.ensure_range(int(self._bounds[k]), int(self._bounds[k + 1]))

    def _fetch_records(self, indices: np.ndarray) -> None:
        """Make the chunks of records ``indices`` present, in one concurrent round of merged requests."""
        if self._remote is not None and len(indices):
            chunks = np.unique(self._index.locate_many(indices)[0])
            self._remote.ensure(self._bounds[chunks], self._bounds[chunks + 1])

    def _decode_chunk(self, k: int, need: int | None = None) -> DecodedChunk:
        """Read, check and decode data chunk ``k`` (with ``need``: at least its first ``need`` records).

        In a file of uncompressed chunks it is read in place when it can be.
        """
        begin, limit = self._index.span(k)
        if self._remote is not None:
            self._fetch_chunk(k)
        src, expect = self._src_or_raise(), self._index.expected(k)
        if self._in_place:
            found = read_in_place(src, begin, limit, self._verify, expect)
            if found is not None:
                return found
        try:
            return read_chunk_records(src, begin, limit, self._verify, expect, need)
        except CorruptRecordError as err:
            raise self._corrupt(err, "cannot read a data chunk", begin, k) from None

    def _decode_chunks(self, first: int, end: int, out: np.ndarray = _NO_BYTES) -> list[DecodedChunk]:
        """Data chunks ``first`` … ``end - 1``, read and checked as :meth:`_decode_chunk` reads them.

        Compressed chunks of the kernel codec are decoded by one kernel call
        for them all, into one buffer (``out`` when it has room, which the
        caller must not reuse while it holds the chunks), so that a pool
        thread decoding a part of the file takes the GIL twice, not a few
        times per chunk. Chunks the kernel cannot take, from the first on,
        are read one by one.
        """
        decoded: list[DecodedChunk] = []
        if self._kernel_codec is not None:
            if self._remote is not None:
                self._remote.ensure_range(int(self._bounds[first]), int(self._bounds[end]))
            made = decode_chunks(self._src_or_raise(), self._chunks, self._footer_offset, first,
                                 self._index.record_counts(first, end), self._verify, self._kernel_codec_id,
                                 *self._kernel_decoder(), out)
            values, value_at, bounds, bound_at = (made.values, made.value_at.tolist(), made.bounds,
                                                  made.bound_at.tolist())
            decoded = [ChunkRecords(values[value_at[j]:value_at[j + 1]], bounds[bound_at[j]:bound_at[j + 1]])
                       for j in range(made.decoded)]
        return decoded + [self._decode_chunk(k) for k in range(first + len(decoded), end)]

    def _chunk(self, k: int, last: int) -> DecodedChunk:
        """Data chunk ``k`` decoded at least as far as its record ``last``, through a small LRU.

        A chunk first read for a record decodes only that far (as a
        streaming reader would); one that is needed further later is decoded
        whole, so that reading a chunk's records one by one costs at most two
        decodes of it.
        """
        if self._index.group_size == 1:
            return self._decode_chunk(k)
        with self._cache_lock:
            hit = self._cache.get(k)
            if hit is not None:
                self._cache.move_to_end(k)
                if hit.holds(last):
                    return hit
        decoded = self._decode_chunk(k, None if hit is not None else last + 1)
        with self._cache_lock:
            self._remember(k, decoded)
        return decoded

    def _remember(self, k: int, decoded: DecodedChunk) -> None:
        """Put chunk ``k`` in the cache, as its latest entry (the caller holds the cache lock)."""
        self._cache[k] = decoded
        self._cache.move_to_end(k)
        if len(self._cache) > CHUNK_CACHE_SIZE:
            self._cache.popitem(last=False)

    # -- random access -------------------------------------------------------

    def _normalize(self, i: int) -> int:
        n = self._index.num_records
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise RecordIndexError(f"record index {i} out of range for {n} records")
        return j

    def _record(self, i: int) -> bytes:
        """Record ``i`` (in range): straight from its span when its chunk holds only it."""
        k, j = self._index.locate(i)
        src = self._src_or_raise()
        if self._remote is not None:
            self._fetch_chunk(k)
        if self._index.chunk_records(k) == 1:
            ok, codec, pos, stop, size = indexed_record_span(
                src, self._index.chunks, self._index.footer_offset, k, self._verify)
            if ok:
                return self._record_at(src, k, codec, pos, stop, size)
        return self._chunk(k, j).record(j)

    def _record_at(self, src: np.ndarray, k: int, codec: int, pos: int, stop: int, size: int) -> bytes:
        try:
            return record_at(src, codec, pos, stop, size)
        except CorruptRecordError as err:
            raise self._corrupt(err, "cannot read a data chunk", int(self._index.offsets[k]), k) from None

    def _records(self, indices: np.ndarray, parallel: bool = True) -> list[bytes]:
        """Records at ``indices`` (already in range), each chunk decoded once.

        With ``parallel`` the work is split over the shared pool; tasks already
        running on the pool pass False, so that no task waits on another.
        """
        self._fetch_records(indices)
        if self._index.one_record_per_chunk:
            return self._single_records(indices, parallel)
        if self._in_place:
            return self._in_place_records(indices, parallel)
        if self._kernel_codec is not None:  # a prefix of each chunk when the codec stops streams early
            return self._decoded_records(indices, parallel)
        out: list[bytes] = [b""] * len(indices)
        self._records_into(indices, out, parallel)
        return out

    def _records_into(self, indices: np.ndarray, out: list[bytes], parallel: bool,
                      places: np.ndarray | None = None) -> None:
        """Records ``indices`` into ``out`` (record ``indices[i]`` at ``out[places[i]]``), each chunk decoded once."""
        work, count = self._chunk_records_into(indices, out, places)
        if parallel:
            self._run_split(work, count)
        else:
            work(0, count)

    def _groups(self, indices: np.ndarray) -> _Groups:
        """``indices`` grouped by chunk for a kernel pass, leaving out those whose chunk is in the cache."""
        chunks, within = self._index.locate_many(indices)
        with self._cache_lock:
            held = np.fromiter(self._cache, np.int64, len(self._cache))
        general = np.isin(chunks, held)
        slots = np.flatnonzero(~general)
        slots = slots[np.argsort(chunks[slots], kind="stable")]
        sorted_chunks = chunks[slots]
        group_at = np.append(np.flatnonzero(np.diff(sorted_chunks, prepend=-1)), len(slots))
        group_chunk = sorted_chunks[group_at[:-1]]
        return _Groups(general, slots, within[slots], group_at, group_chunk, self._index.counts_of(group_chunk))

    def _run_groups(self, read_part, groups: _Groups, parallel: bool) -> None:
        """``read_part(lo, hi, split)`` over the groups: at once (its kernel split over the pool when
        ``split``), or for large batches in parts of about ``PART_RECORDS`` records over the pool."""
        count = len(groups.group_chunk)
        if not parallel or count < 2:
            read_part(0, count)
        elif len(groups.slots) <= 2 * PART_RECORDS:
            read_part(0, count, split=True)
        else:
            self._run_split(read_part, count, grain=max(1, count * PART_RECORDS // len(groups.slots)))

    def _finish_groups(self, indices: np.ndarray, groups: _Groups, refused: np.ndarray, out: list[bytes],
                       parallel: bool) -> list[bytes]:
        """Records of the groups a kernel ``refused``, and of cached chunks, read the general way into ``out``."""
        general = groups.general
        general[groups.slots[np.repeat(refused, np.diff(groups.group_at))]] = True
        if general.any():
            places = np.flatnonzero(general)
            self._records_into(indices[places], out, parallel, places)
        return out

    def _in_place_records(self, indices: np.ndarray, parallel: bool) -> list[bytes]:
        """:meth:`_records` for a file of uncompressed chunks: records straight from the map.

        A kernel checks each needed chunk where it lies and finds the records
        wanted from it; each record is then copied once, into its ``bytes``.
        Large batches go in parts over the pool, so that one thread makes
        ``bytes`` while another checks chunks. Records of chunks in the
        cache, and of chunks the kernel cannot take (damage, another chunk
        type), are read the general way. The last chunks read go to the
        cache, so that batches walking a file in order check each chunk once.
        """
        src = self._src_or_raise()
        groups = self._groups(indices)
        slots, wanted, group_at, group_chunk, counts = (groups.slots, groups.wanted, groups.group_at,
                                                        groups.group_chunk, groups.counts)
        bound_at = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts + 1, out=bound_at[1:])
        bounds = np.empty(bound_at[-1], np.int64)
        values_at = np.empty(len(group_chunk), np.int64)
        pos, size = np.zeros(len(slots), np.int64), np.zeros(len(slots), np.int64)
        contiguous = np.ones(len(slots), np.bool_)
        out: list[bytes] = [b""] * len(indices)

        def read_part(lo: int, hi: int, split: bool = False) -> None:
            counter = np.zeros(1, np.int64)
            self._together(lambda: in_place_spans(
                src, self._chunks, self._footer_offset, self._verify, group_chunk[lo:hi], counts[lo:hi],
                group_at[lo:hi + 1], wanted, values_at[lo:hi], bound_at[lo:hi + 1], bounds, pos, size, contiguous,
                counter, 1), split)
            first, end = group_at[lo], group_at[hi]
            _place(out, slots[first:end], bytes_list_logical(src, pos[first:end], size[first:end],
                                                             contiguous[first:end]))

        self._run_groups(read_part, groups, parallel)
        refused = values_at < 0
        with self._cache_lock:
            for g in np.flatnonzero(~refused)[-CHUNK_CACHE_SIZE:].tolist():
                self._remember(int(group_chunk[g]), InPlaceRecords(
                    src, int(values_at[g]), bounds[bound_at[g]:bound_at[g + 1]].copy()))
        return self._finish_groups(indices, groups, refused, out, parallel)

    def _decoded_records(self, indices: np.ndarray, parallel: bool) -> list[bytes]:
        """:meth:`_records` for chunks of many records of the kernel codec, by its decoder.

        Threads share the needed chunks out inside one kernel call each
        (:func:`~mmrecord.engine.simple.decode_records`): each decodes a chunk
        (only as far as the last record wanted from it, when the codec stops
        a stream early) into a buffer it reuses and copies out the records wanted from it,
        without the GIL; their ``bytes`` are made after. Large batches go in
        parts over the pool, so that one thread makes ``bytes`` while another
        decodes. The chunk each call decoded last goes to the cache, so that
        batches walking a file in order decode each chunk once. Records of
        cached chunks, and of chunks the kernel cannot take, are read the
        general way.
        """
        src = self._src_or_raise()
        groups = self._groups(indices)
        taken = np.ones(len(groups.group_chunk), np.bool_)
        out: list[bytes] = [b""] * len(indices)

        def read_part(lo: int, hi: int, split: bool = False) -> None:
            counter = np.zeros(1, np.int64)
            first = groups.group_at[lo]

            def decode() -> DecodedRecords:
                return decode_records(src, self._chunks, self._footer_offset, self._verify, self._kernel_codec_id,
                                      *self._kernel_decoder(), *self._kernel_prefix_decoder(),
                                      groups.group_chunk[lo:hi], groups.counts[lo:hi],
                                      groups.group_at[lo:hi + 1] - first, groups.wanted[first:groups.group_at[hi]],
                                      taken[lo:hi], counter, 1)

            for made in self._together(decode, split):
                _place(out, groups.slots[first + made.records], bytes_list(made.values, made.starts, made.stops))
                if made.last >= 0:
                    with self._cache_lock:
                        self._remember(int(groups.group_chunk[lo + made.last]),
                                       ChunkRecords(made.last_values, made.last_bounds))

        self._run_groups(read_part, groups, parallel)
        return self._finish_groups(indices, groups, ~taken, out, parallel)

    def _kernel_decoder(self) -> tuple[int, int]:
        """This thread's ``(function, context)`` for the kernel codec; zeros when there is none."""
        codec = self._kernel_codec
        return codec.kernel_decoder() if codec is not None else (0, 0)

    def _kernel_prefix_decoder(self) -> tuple[int, int]:
        """This thread's ``(function, context)`` decoding a stream's first bytes; zeros when there is none."""
        codec = self._kernel_codec
        return (codec.kernel_prefix_decoder() if codec is not None else None) or (0, 0)

    def _single_records(self, indices: np.ndarray, parallel: bool) -> list[bytes]:
        """:meth:`_records` for a file with one record per chunk.

        Each ``bytes`` is copied from where its record lies: the file map for
        uncompressed records, the batch buffer for the others (one copy each:
        the whole batch as one ``bytes`` first would cost another). Parts of
        the batch run on the pool start to finish, so that one thread makes
        ``bytes`` while another decodes.
        """
        src = self._src_or_raise()
        out: list = [None] * len(indices)

        def read_part(first: int, end: int, split: bool = False) -> None:
            values, offsets, starts, stops, how = self._single_pieces(indices[first:end], split, copy=False)
            mapped = how == COPY
            out[first:end] = bytes_list_from_two(src, values, np.where(mapped, starts, offsets[:-1]),
                                                 np.where(mapped, stops, offsets[1:]), mapped)

        if not parallel or len(indices) < MIN_PARALLEL_BATCH:
            read_part(0, len(indices))
        elif len(indices) <= 2 * PART_RECORDS:
            # One part: only its decoding is split, so pool threads need the GIL just to start.
            read_part(0, len(indices), split=True)
        else:
            self._run_split(read_part, len(indices), grain=PART_RECORDS)
        return out

    def _single_pieces(self, indices: np.ndarray, parallel: bool, copy: bool = True, kernel: bool = True):
        """:meth:`read_batch` for a file with one record per chunk, and where each record came from.

        One kernel pass checks the chunks and finds their records; a second
        copies or decodes them into ``values``, both split over the pool. The
        records kernels cannot take (another codec, a chunk cut by a block
        header, damage) are read by the general path first and copied in.
        Returns ``(values, offsets, starts, stops, how)``: piece ``k`` was
        ``src[starts[k]:stops[k]]`` when ``how[k]`` is ``COPY``, and with
        ``copy`` false such pieces are left out of ``values`` (they take no
        room there) and ``values`` is this thread's scratch buffer, valid until
        the thread's next read. Without ``kernel``, compressed records all take
        the general path.
        """
        src = self._src_or_raise()
        parallel = parallel and len(indices) >= MIN_PARALLEL_BATCH
        ok, codec, starts, stops, sizes = self._spans(indices, parallel)
        how = np.where(codec == 0, COPY, DECODE).astype(np.int8)
        kernel_codec_id = self._kernel_codec_id if kernel else -1
        general = np.flatnonzero(~ok | ((codec != 0) & (codec != kernel_codec_id)))
        extra: list[bytes] = [b""] * len(general)
        if len(general):
            def read_general(lo: int, hi: int) -> None:  # kernels take cut chunks
                extra[lo:hi] = [self._one_record(i) for i in indices[general[lo:hi]].tolist()]

            split = parallel and len(general) >= MIN_PARALLEL_BATCH
            self._run_split(read_general, len(general)) if split else read_general(0, len(general))
            lengths = np.fromiter(map(len, extra), np.int64, len(extra))
            stops[general] = np.cumsum(lengths)
            starts[general] = stops[general] - lengths
            sizes[general] = lengths
            how[general] = EXTRA
        offsets = np.zeros(len(indices) + 1, np.int64)
        np.cumsum(sizes if copy else np.where(how == COPY, 0, sizes), out=offsets[1:])
        # Without ``copy`` the values are turned into ``bytes`` at once: the scratch serves.
        values = np.empty(offsets[-1], np.uint8) if copy else _scratch_for(offsets[-1])
        extra_values = np.frombuffer(b"".join(extra), np.uint8)

        counter = np.zeros(1, np.int64)

        def fill() -> int:
            return fill_records_shared(values, offsets, src, extra_values, starts, stops, how,
                                       *self._kernel_decoder(), counter, FILL_STEP)

        # Splitting pays for decoding, or for copying many megabytes; not for a few copies.
        split = parallel and (int(np.count_nonzero(how == DECODE)) >= MIN_PARALLEL_BATCH
                              or int(offsets[-1]) >= PARALLEL_COPY_BYTES)
        failed = [bad for bad in self._together(fill, split) if bad >= 0]
        if failed:
            # Damage, which the general path names; or a stream the kernel decoder refuses
            # and the codec reads (brotli's large windows): then the batch is read without it.
            self._record(int(indices[failed[0]]))
            return self._single_pieces(indices, parallel, copy, kernel=False)
        return values, offsets, starts, stops, how

    def _spans(self, indices: np.ndarray, parallel: bool) -> tuple[np.ndarray, ...]:
        """``(ok, codec, pos, stop, size)`` of one-record chunks ``indices`` (``indexed_record_spans``).

        With ``parallel``, pool threads join in as they start and share the chunks out.
        """
        src, index, n = self._src_or_raise(), self._index, len(indices)
        ok = np.empty(n, np.bool_)
        codec, pos, stop, size = (np.empty(n, np.int64) for _ in range(4))
        counter = np.zeros(1, np.int64)

        def locate() -> None:
            indexed_record_spans(src, index.chunks, index.footer_offset, indices, self._verify,
                                 ok, codec, pos, stop, size, counter, SPAN_STEP)

        self._together(locate, parallel)
        return ok, codec, pos, stop, size

    def _together(self, work, parallel: bool) -> list:
        """``work()`` on this thread and, with ``parallel``, on pool threads that join while it runs.

        For kernels that share their items out through an atomic counter: a
        pool thread that starts late finds less to do, or nothing. Returns
        every call's result, this thread's first.
        """
        helpers = self._batch_threads - 1 if parallel else 0
        others = [beside(work) for _ in range(helpers)]
        try:
            mine = work()
        except BaseException:
            settle(others)
            raise
        return [mine] + [other() for other in others]

    def _chunk_records_into(self, indices: np.ndarray, out: list[bytes], places: np.ndarray | None = None):
        """Work over groups of indices that share a chunk, and the number of groups.

        Record ``indices[i]`` goes to ``out[i]``, or to ``out[places[i]]``.
        """
        chunks, within = self._index.locate_many(indices)
        order = np.argsort(chunks, kind="stable")
        sorted_chunks = chunks[order]
        starts = np.flatnonzero(np.diff(sorted_chunks, prepend=-1))
        stops = np.append(starts[1:], len(order))

        def fill(group_lo: int, group_hi: int) -> None:
            for g in range(group_lo, group_hi):
                lo, hi = starts[g], stops[g]
                ks = within[order[lo:hi]]
                chunk = self._chunk(int(sorted_chunks[lo]), int(ks.max()))
                records = chunk.records(ks)
                _place(out, order[lo:hi] if places is None else places[order[lo:hi]], records)

        return fill, len(starts)

    def _run_split(self, work, count: int, grain: int = 0) -> None:
        """Run ``work(lo, hi)`` over ``range(count)`` in parts, on up to :attr:`_batch_threads` threads.

        The calling thread works too, taking parts alongside the pool's tasks
        (a hand-off to the pool costs about as much as a small part). There is
        one part per thread, or parts of about ``grain`` items when given:
        then parts that alternate between kernels and Python code interleave,
        one thread holding the GIL while another runs a kernel.
        """
        threads = min(self._batch_threads, count)
        if threads <= 1 or count < 4:
            work(0, count)
            return
        parts = min(count, max(threads, -(-count // grain) if grain else threads))
        edges = np.linspace(0, count, parts + 1).astype(np.int64).tolist()
        todo = iter(list(zip(edges[:-1], edges[1:])))
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    part = next(todo, None)
                if part is None:
                    return
                work(*part)

        futures = [shared_pool().submit(drain) for _ in range(threads - 1)]
        try:
            drain()
        finally:
            wait(futures)  # all of them, even when one fails: nothing may outlive the call
        for future in futures:
            future.result()

    @overload
    def __getitem__(self, key: int) -> bytes: ...
    @overload
    def __getitem__(self, key: slice | Iterable[int] | np.ndarray) -> list[bytes]: ...

    def __getitem__(self, key):
        """``r[i]`` (negative counts from the end), ``r[a:b:c]``, ``r[[i, j, ...]]``."""
        if type(key) is int and self._single_fast:
            return self._single_record(key)
        if isinstance(key, slice):
            return self._records(np.arange(*key.indices(self._index.num_records), dtype=np.int64))
        if isinstance(key, (int, np.integer)) or hasattr(key, "__index__") and not isinstance(key, np.ndarray):
            return self._record(self._normalize(key.__index__()))
        return self._records(self._check_indices(key))

    def _single_record(self, i: int) -> bytes:
        """``r[i]`` when :attr:`_single_fast`: one kernel call checks, finds and decodes the record.

        The hot path of random access: everything it needs is a plain
        attribute, read once.
        """
        n = self._num_records
        k = i + n if i < 0 else i
        src = self._src
        if src is not None and 0 <= k < n:
            if self._remote is not None:
                self._fetch_chunk(k)
            out = _scratch.buffer
            function, context = self._kernel_decoder()
            size = self._record_into(src, self._chunks, self._footer_offset, k, self._verify,
                                     self._kernel_codec_id, function, context, out)
            if size > len(out):
                out = _scratch_for(size)
                size = self._record_into(src, self._chunks, self._footer_offset, k, self._verify,
                                         self._kernel_codec_id, function, context, out)
            if size >= 0:
                return out[:size].tobytes()
        return self._record(self._normalize(i))

    def _check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.size == 0:
            return np.zeros(0, np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError("record indices must be a 1-D sequence of integers")
        idx = idx.astype(np.int64)
        n = self._index.num_records
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise RecordIndexError(f"record index {int(idx[bad][0])} out of range for {n} records")
        return np.where(idx < 0, idx + n, idx)

    # -- zero-copy batches ---------------------------------------------------

    def read_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """Records at ``indices`` as one ``uint8`` buffer and ``int64`` offsets, no object per record.

        Record ``indices[k]`` is ``values[offsets[k]:offsets[k+1]]``. With one
        record per chunk, kernels copy (uncompressed) or decode (a codec with a
        kernel decoder, zstd) each record straight from the file map into
        ``values``; otherwise each needed chunk is decoded once and its records
        are gathered from it.
        """
        idx = self._check_indices(indices)
        self._src_or_raise()
        self._fetch_records(idx)
        index = self._index
        if not len(idx):
            return np.empty(0, np.uint8), np.zeros(1, np.int64)
        if index.one_record_per_chunk:
            return self._single_pieces(idx, parallel=True)[:2]
        chunks, within = index.locate_many(idx)
        unique, which = np.unique(chunks, return_inverse=True)
        decoded: list = [None] * len(unique)
        last = np.zeros(len(unique), np.int64)  # the last record needed in each chunk
        np.maximum.at(last, which, within)

        def decode(lo: int, hi: int) -> None:
            decoded[lo:hi] = [self._chunk(k, j) for k, j in zip(unique[lo:hi].tolist(), last[lo:hi].tolist())]

        self._run_split(decode, len(unique))
        # All needed chunks side by side: chunk u's values start at value_base[u]
        # and its bounds at bound_base[u] in the concatenated arrays.
        values_of = [c.values for c in decoded]  # once: a chunk read in place joins its values for this
        value_base = np.cumsum([0] + [len(v) for v in values_of[:-1]], dtype=np.int64)
        bound_base = np.cumsum([0] + [len(c.bounds) for c in decoded[:-1]], dtype=np.int64)
        bounds = np.concatenate([c.bounds for c in decoded])
        row = bound_base[which] + within
        base = value_base[which]
        chunk_values = np.concatenate(values_of)
        starts, stops = base + bounds[row], base + bounds[row + 1]
        offsets = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(stops - starts, out=offsets[1:])
        values = np.empty(offsets[-1], np.uint8)
        how = np.full(len(idx), COPY, np.int8)
        counter = np.zeros(1, np.int64)
        self._together(lambda: fill_records_shared(values, offsets, chunk_values, chunk_values, starts, stops,
                                                   how, 0, 0, counter, FILL_STEP), parallel=True)
        return values, offsets

    # -- the reference's read() ----------------------------------------------

    def read(self, *args):
        """``read()``: next record; ``read(indices)``: those records; ``read(begin, end)``: a range.

        ``read(begin, end)`` is half-open, negative bounds count from the end,
        and an empty or out-of-range span raises ``IndexError``, as in the
        reference. Batch forms do not move the cursor.

        ``read()`` costs what iteration costs when it is called for records in
        order (from the start, or from the second record in a row after a
        :meth:`seek`): it hands out the runs of records (a chunk's, or a part's
        at group size 1) that iteration's machinery decodes ahead from the
        cursor, and a record of the run in hand is one step of an iterator. The first
        record after a seek elsewhere is read the way ``reader[i]`` reads it,
        with nothing decoded ahead.
        """
        if not args:
            record = next(self._run_rest, None)
            return record if record is not None else self._read_outside_run()
        if len(args) == 1:
            indices = args[0]
            if type(indices) is list and len(indices) == 1 and type(indices[0]) is int:
                return [self[indices[0]]]  # read([i]) costs what r[i] costs
            return self._records(self._check_indices(indices))
        if len(args) == 2:
            n = self._index.num_records
            begin, end = (a + n if a < 0 else a for a in map(int, args))
            if not 0 <= begin < end <= n:
                raise RecordIndexError(f"[{args[0]}, {args[1]}) is out of the range [0, {n})")
            return self._records(np.arange(begin, end, dtype=np.int64))
        raise TypeError("read() takes no argument, a list of indices, or begin and end")

    def read_all(self) -> list[bytes]:
        """Every record, in order (a remote object's bytes fetched ahead in windows, as iteration does)."""
        if self._remote is not None:
            return list(self)
        return self._records(np.arange(self._index.num_records, dtype=np.int64))

    def seek(self, i: int) -> None:
        """Move the cursor of :meth:`read` to record ``i`` (clamped to the end, as the reference)."""
        if type(i) is not int or not 0 <= i <= self._num_records:
            i = min(max(int(i), 0), self._num_records)
        self._sought = i
        self._run_rest = _EXHAUSTED  # the next read() goes to _read_outside_run, which finds the record

    def _read_outside_run(self) -> bytes:
        """``read()`` after a seek, or when the run in hand is used up: the record at the cursor.

        A seek inside the run in hand continues it. Records in order continue
        the stream (started here when this record follows a lone read);
        anything else is a jump, read on its own. Damage in the part decoded
        ahead drops the stream, and reads go one record at a time past that
        part, so that every intact record still comes back.
        """
        run_end = self._run_first + len(self._run)
        at = self._sought
        if at is None:
            at = run_end
        else:
            self._sought = None
            if self._run_first <= at < run_end:
                self._run_rest = iter(self._run)
                self._run_rest.__setstate__(at - self._run_first)  # a list iterator moves in O(1)
                return next(self._run_rest)
        if at >= self._num_records:
            self._run_first, self._run = at, _NO_RUN
            raise RecordIndexError(f"end of file: all {self._num_records} records were read")
        in_order = self._runs is not None and at == run_end
        if not in_order and at == self._previous + 1 and at >= self._singles_until:
            self._runs, in_order = self._runs_from(at), True
        if in_order:
            try:
                self._run_first, self._run = next(self._runs)
                self._run_rest = iter(self._run)
                return next(self._run_rest)
            except ArrayRecordError:
                index = self._index
                part_chunks = max(1, READ_PART_BYTES // index.stored_bytes_per_chunk)
                self._singles_until = at + part_chunks * max(1, index.group_size)
        self._runs = None
        self._previous = self._run_first = at
        self._run = _NO_RUN
        record = self._one_record(at)
        self._run_first = at + 1
        return record

    def record_index(self) -> int:
        """The cursor: the index :meth:`read` returns next."""
        if self._sought is not None:
            return self._sought
        return self._run_first + len(self._run) - operator.length_hint(self._run_rest)

    # -- sequential ----------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        """All records in order, decoded ahead on the pool (see :meth:`_runs_from`)."""
        for _, run in self._runs_from(0):
            yield from run

    def _runs_from(self, start: int) -> Iterator[tuple[int, list[bytes]]]:
        """Records ``start``, ``start + 1``, ... to the end, decoded ahead on the pool, in runs.

        Each run is ``(index of its first record, its records)``: a part's
        records when chunks hold one record, a chunk's otherwise; none is empty.

        The file is read in parts of whole chunks, growing to about
        ``READ_PART_BYTES`` stored bytes each (small first parts hand out the
        first records soon); up to ``readahead_buffer_size`` bytes of parts,
        and at least one per thread, are in flight while the records of the
        first are handed out (``max_parallelism:0``, or uncompressed chunks:
        one part at a time, on the calling thread, and one chunk a part when
        chunks hold many records). Chunks of one record are read as batches
        (the kernel path); a part of larger chunks is decoded on the pool by
        one kernel call (:meth:`_decode_chunks`) and its chunks are cut into
        ``bytes`` here, one at a time as the consumer reaches them; the
        part's buffer then goes back to the stream's spares for a later part.
        """
        index = self._index
        chunks = len(index)
        if start >= index.num_records:
            return
        first_chunk, skip = index.locate(start)
        stored_per_chunk = index.stored_bytes_per_chunk
        # Read on this thread, chunks of many records go one at a time: their records
        # are cut while the decoded chunk is still in the cache.
        step = 1 if not self._decode_ahead and not index.one_record_per_chunk else max(
            1, READ_PART_BYTES // stored_per_chunk)
        parts = _growing_parts(first_chunk, chunks, step)
        if index.one_record_per_chunk:
            def read(part: tuple[int, int]) -> list:
                return self._records(np.arange(*part, dtype=np.int64), parallel=False)
        elif self._kernel_codec is None:  # chunks cut from the map, or decoded one by one: no buffer of the part's
            def read(part: tuple[int, int]) -> tuple[np.ndarray | None, list]:
                return None, self._decode_chunks(*part)
        else:
            spares = _SpareBuffers()

            def read(part: tuple[int, int]) -> tuple[np.ndarray | None, list]:
                buffer = spares.take(int(self._chunks[part[0]:part[1], 1].sum()))
                return buffer, self._decode_chunks(*part, out=buffer)
        if self._remote is not None:
            parts = self._prefetching(parts)
        if not self._decode_ahead:
            results: Iterable = map(read, parts)
        else:
            results = self._ahead(read, parts, max(self.options.max_parallelism,
                                                   self.options.readahead_buffer_size // (step * stored_per_chunk)))
        first = start
        for result in results:
            buffer = None
            if index.one_record_per_chunk:
                runs: Iterable[list[bytes]] = (result,)
            else:  # bytes cut one chunk at a time, as the consumer reaches it
                buffer, decoded = result
                runs = (chunk.records_from(skip if n == 0 else 0) for n, chunk in enumerate(decoded))
            for run in runs:
                if run:
                    if self._decode_ahead:
                        # Let a pool thread waiting for the GIL (to hand in a part, or start
                        # the next) have it now, not after the switch interval (5 ms) of a
                        # consumer that never blocks while it has records in hand.
                        time.sleep(0)
                    yield first, run
                    first += len(run)
            if buffer is not None:
                spares.give(buffer)  # every record of the part is cut: a later part may decode into it
            skip = 0

    def _prefetching(self, parts: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        """``parts`` (chunk ranges) in order, each one's bytes requested from the remote object ahead of it.

        Up to ``readahead_buffer_size`` bytes of parts (at least the next one)
        are being fetched beyond the part handed out, each part one window of
        requests on the I/O pool.
        """
        bounds, budget = self._bounds, self.options.readahead_buffer_size
        ahead = 0
        for k, part in enumerate(parts):
            while ahead < len(parts) and (ahead <= k + 1 or
                                          int(bounds[parts[ahead][1]] - bounds[parts[k][0]]) <= budget):
                first, end = parts[ahead]
                self._remote.prefetch(int(bounds[first]), int(bounds[end]))
                ahead += 1
            yield part  # its reader waits for the part's fetch through ensure

    @staticmethod
    def _ahead(work, items: Iterable, ahead: int) -> Iterator:
        """``work(item)`` for each item in order, up to ``ahead`` of them queued or running on the pool."""
        pool = shared_pool()
        todo = iter(items)
        pending = deque(pool.submit(work, item) for item in islice(todo, ahead))
        try:
            while pending:
                result = pending.popleft().result()
                for item in islice(todo, 1):
                    pending.append(pool.submit(work, item))
                yield result
        finally:
            # A consumer that stops early (a loop left, a seek, a closed reader)
            # leaves no queued work behind; at most the running parts finish.
            for future in pending:
                future.cancel()

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Release the file map (or remote cache). Safe to call twice."""
        self._src = None
        self._runs, self._run, self._run_rest, self._sought = None, _NO_RUN, _EXHAUSTED, None
        with self._cache_lock:
            self._cache.clear()
        source = getattr(self, "_source", None)
        if source is not None:
            source.close()

    def __reduce__(self):
        """Pickled as its location (URL and storage options), options and hints: reopened where unpickled."""
        return _reopen, (self._location, self._options_text, self._hints)

    def __enter__(self) -> "ArrayRecordReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open() else "closed"
        return (f"ArrayRecordReader({self.path!r}, {self._index.num_records} records, "
                f"{len(self._index)} chunks, {state})") if hasattr(self, "_index") else \
            f"ArrayRecordReader({self.path!r}, {state})"


def _reopen(location: Location, options: str, hints: dict) -> ArrayRecordReader:
    """A pickled reader, opened again in this process."""
    return ArrayRecordReader(location, options, **hints)
