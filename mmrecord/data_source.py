"""``ArrayRecordDataSource``: one random-access sequence of records over many files.

This is the object handed to Grain, PyTorch or tf.data: ``len(ds)``,
``ds[i]``, ``ds[a:b]``, ``ds[[i, j, ...]]`` and ``ds.__getitems__(indices)``,
over the records of one or many ArrayRecord files (shards) taken in order.

    >>> ds = mmrecord.ArrayRecordDataSource("train-*.array_record")
    >>> len(ds), ds[0], ds[-1], ds[[5, 3, 5]], ds[10:20]

What it costs:

- **Opening.** Whole-file shards are counted from their footers (postscript
  and footer only: no data chunk is read) on the shared thread pool, so a
  data source over a thousand shards is ready in a fraction of a second.
  Shards given by URL (``gs://``, ``s3://``, ``https://``, any fsspec
  protocol, with ``storage_options`` or a ``filesystem``) are opened 32 at a
  time; a remote glob lists their sizes and versions, so each costs one
  ranged read of its tail.
  ``"path[start:end]"`` strings and TFDS ``FileInstruction`` objects carry
  their own counts: those shards are not touched until the first read.
- **Reading.** ``ds[i]`` finds the shard by a binary search over the shards'
  cumulative counts and asks that shard's reader for one record: at group
  size 1 that is one chunk's hash check and decompression. A batch
  (``ds[list]``, ``ds[slice]``, ``__getitems__``) is split per shard, each
  shard's part read in one call that decodes every chunk once; parts of
  different shards run in parallel.
- **Group sizes above 1.** A chunk holds ``group_size`` records and is
  compressed as one block, so a random record costs decoding its whole chunk.
  Each reader keeps its 16 most recently decoded chunks, so reads near each
  other (a slice, an iteration, a batch, or random reads that land in the
  same chunks) decode each chunk once; fully random single reads over a large
  file pay a whole chunk each.
- **Threads.** Reads take no lock: any number of threads may read one data
  source at once. Opening a shard takes a lock for that shard only. How far
  threads scale depends on how much of a read runs without the GIL: the
  decompression and copying of large records do; the per-call Python work of
  reading one small record does not.
- **Processes.** Pickling keeps the resolved shard list and the options,
  never an open file; the copy reopens shards on first use. A process forked
  from one that had shards open reopens them too (inherited readers are
  dropped in the child, so no lock held by a parent thread can block it).
- **Open files.** Each open shard holds one file descriptor (its memory map).
  At most ``max_open_files`` shards are open at once (default: half the
  process's descriptor limit); opening one more drops the reader opened
  longest ago, which a thread still reading from it keeps alive until done.
"""

from __future__ import annotations

import bisect
import collections
import glob
import hashlib
import logging
import operator
import os
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Union

import numpy as np

from .errors import ArgumentTypeError, RecordIndexError
from .options import ReaderOptions
from .parallel import CPUS, named_pool, shared_pool
from .reader import ArrayRecordReader
from .storage import Location, RemoteConfig, display_url, expand_pattern, is_url
from .storage.remote import wait_pool

__all__ = ["ArrayRecordDataSource", "FileInstruction"]

# "path[start:end]": the records start..end-1 of the file, as the reference reads it.
_SLICE = re.compile(r"(.*)\[(\d+):(\d+)\]", re.DOTALL)
# Batches smaller than this are read on the calling thread even across shards.
_PARALLEL_MIN = 32
# Locks guarding the opening of shards; shard k uses lock k % _STRIPES.
_STRIPES = 64
# Records per slice when iterating over part of a shard.
_ITER_STEP = 4096

_log = logging.getLogger(__name__)
# Shards already reported for their group size (once per file and process).
_reported_groups: set[str] = set()
_reported_lock = threading.Lock()


def _report_group_size(reader: ArrayRecordReader) -> None:
    """Log, once per file, that a shard's group size makes each random record decode a whole chunk."""
    group_size = reader.group_size
    if group_size <= 1:
        return
    with _reported_lock:
        if reader.path in _reported_groups:
            return
        _reported_groups.add(reader.path)
    stored = reader.stored_bytes_per_chunk
    _log.warning(
        "%s has group size %d: a random read decodes the record's whole chunk (%d records, "
        "about %d KiB stored) to return one record, where group size 1 decodes only that record. "
        "For shuffled training, rewrite it with: mmrecord convert %s -o NEW --options group_size:1",
        reader.path, group_size, group_size, max(1, stored // 1024), reader.path)


class FileInstruction:
    """The TFDS ``FileInstruction`` shape: ``filename``, ``skip``, ``take``, ``examples_in_shard``.

    Any object with these four attributes is accepted where a path is, this
    class included: records ``skip`` … ``skip + take - 1`` of ``filename``
    (a negative ``take`` means to the end of the shard).
    """

    __slots__ = ("filename", "skip", "take", "examples_in_shard")

    def __init__(self, filename: str | os.PathLike, skip: int, take: int,
                 examples_in_shard: int) -> None:
        self.filename = filename
        self.skip = skip
        self.take = take
        self.examples_in_shard = examples_in_shard

    def __repr__(self) -> str:
        return (f"FileInstruction(filename={os.fspath(self.filename)!r}, skip={self.skip}, "
                f"take={self.take}, examples_in_shard={self.examples_in_shard})")


PathOrInstruction = Union[str, bytes, os.PathLike, FileInstruction, Any]


def _is_instruction(item: object) -> bool:
    return all(hasattr(item, name) for name in ("filename", "skip", "take", "examples_in_shard"))


def _options_string(reader_options: Mapping[str, object] | str | None) -> str:
    """The reader options as an options string, checked (unknown keys raise InvalidOptionsError)."""
    if reader_options is None:
        text = ""
    elif isinstance(reader_options, str):
        text = reader_options
    elif isinstance(reader_options, Mapping):
        parts = []
        for key, value in reader_options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            parts.append(str(key) if value is None else f"{key}:{value}")
        text = ",".join(parts)
    else:
        raise ArgumentTypeError("reader_options must be a dict of option names to values, "
                        f"not {type(reader_options).__name__}")
    ReaderOptions.parse(text)
    return text


def _default_max_open_files() -> int:
    """Half the process's file-descriptor limit (each open shard holds one descriptor)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft <= 0:
            soft = 1 << 16
    except (ImportError, OSError, ValueError):
        soft = 1024
    return max(16, soft // 2)


def _expand(paths: object, locate: "Callable[[str], Location]",
            listed: dict[str, tuple[int, str | None]]) -> list[tuple[str, int | None, int | None]]:
    """Each path form as ``(filename, start, end)``; ``None`` bounds mean the whole file.

    ``locate`` gives a name's :class:`Location`; remote glob patterns are
    expanded by its filesystem, and each match's size and version go into ``listed``.
    """
    if isinstance(paths, (str, bytes, os.PathLike)) or _is_instruction(paths):
        items: list[object] = [paths]
    elif isinstance(paths, Iterable) and not isinstance(paths, Mapping):
        items = list(paths)
        if not items:
            raise ValueError("ArrayRecordDataSource needs at least one path; got an empty sequence")
    else:
        raise ArgumentTypeError(
            "paths must be a path, a glob pattern, 'path[start:end]', a FileInstruction, "
            f"or a sequence of them; got {type(paths).__name__}")
    shards: list[tuple[str, int | None, int | None]] = []
    for item in items:
        if _is_instruction(item):
            filename = os.fsdecode(os.fspath(item.filename))
            skip, take = int(item.skip), int(item.take)
            if take < 0:
                take = int(item.examples_in_shard) - skip
            if skip < 0 or take < 0:
                raise ValueError(f"{item!r}: skip and take must not be negative")
            shards.append((filename, skip, skip + take))
            continue
        if not isinstance(item, (str, bytes, os.PathLike)):
            raise ArgumentTypeError("each path must be a str, bytes, os.PathLike or FileInstruction, "
                            f"not {type(item).__name__}")
        text = os.fsdecode(os.fspath(item))
        match = _SLICE.fullmatch(text)
        if match and not os.path.exists(text):
            start, end = int(match.group(2)), int(match.group(3))
            if start > end:
                raise ValueError(f"{text!r}: the range ends before it starts")
            shards.append((match.group(1), start, end))
        elif locate(text).is_remote and glob.has_magic(text):
            matches = expand_pattern(locate(text))
            if not matches:
                raise FileNotFoundError(f"no object matches the pattern {display_url(text)!r}")
            for location, size, version in matches:
                listed[location.path] = (size, version)
                shards.append((location.path, None, None))
        elif not os.path.exists(text) and glob.has_magic(text):
            found = sorted(glob.glob(text))
            if not found:
                raise FileNotFoundError(f"no file matches the pattern {text!r}")
            shards.extend((name, None, None) for name in found)
        else:
            shards.append((text, None, None))
    return shards


# -- process-wide state -------------------------------------------------------

# Every live data source, so that a forked child can drop the readers it inherited.
_live: "weakref.WeakSet[ArrayRecordDataSource]" = weakref.WeakSet()

def _fanout_pool() -> ThreadPoolExecutor:
    """The pool on which batches over several shards run one task per part.

    It is not the shared pool: each part calls a reader's batch read, which
    itself splits work over the shared pool and waits for it; a shared-pool
    task that waited on other shared-pool tasks could wait forever once
    every worker did the same.
    """
    return named_pool("source", CPUS)


def _after_fork_in_child() -> None:
    for source in list(_live):
        source._forget_readers()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ArrayRecordDataSource:
    """The records of one or many ArrayRecord files as one random-access sequence.

    ``paths`` is one of, or a sequence of: a path (``str``, ``bytes`` or
    ``os.PathLike``); a glob pattern (``"data/train-*.array_record"``, sorted
    by name); ``"path[start:end]"`` for records ``start`` … ``end - 1`` of a
    file; or an object with TFDS ``FileInstruction`` attributes
    (``filename``, ``skip``, ``take``, ``examples_in_shard``). Shards follow
    each other in the order given.

    ``reader_options`` is a dict of reader options as in the reference
    (``{"verify_checksums": "false"}``) or an options string; unknown names
    raise :class:`~mmrecord.errors.InvalidOptionsError`. ``max_open_files``
    bounds the shards open at once (see the module docstring).

    ``ds[i]`` (``int`` or NumPy integer; negative counts from the end) returns
    ``bytes``; ``ds[a:b:c]``, ``ds[list_or_array]`` and
    ``ds.__getitems__(indices)`` return a list in the order asked. An index
    out of range raises :class:`~mmrecord.errors.RecordIndexError` (an
    ``IndexError``, and a ``ValueError`` as the reference raises). See the
    module docstring for what each operation costs. A shard whose group size
    is above 1 is reported once, through :mod:`logging`, with what a random
    read of it costs.
    """

    def __init__(self, paths: PathOrInstruction | Sequence[PathOrInstruction],
                 reader_options: Mapping[str, object] | str | None = None, *,
                 max_open_files: int | None = None, storage_options: Mapping[str, Any] | None = None,
                 filesystem: Any = None, cache_dir: str | os.PathLike | None = None,
                 remote: RemoteConfig | None = None) -> None:
        self._options = _options_string(reader_options)
        self._max_open = _default_max_open_files() if max_open_files is None else int(max_open_files)
        if self._max_open < 1:
            raise ValueError("max_open_files must be at least 1")
        self._base = Location("", storage_options, filesystem)
        self._storage = {"cache_dir": cache_dir, "remote": remote}
        self._listed: dict[str, tuple[int, str | None]] = {}
        expanded = _expand(paths, self._locate, self._listed)
        whole = tuple(end is None for _, _, end in expanded)
        readers = self._count(expanded)
        self._setup(tuple(expanded), whole)
        # Readers opened for counting stay open, as many as may be.
        for k, reader in readers.items():
            if len(self._open_order) < self._max_open:
                self._readers[k] = reader
                self._open_order.append(k)
            else:
                reader.close()

    def _count(self, expanded: list) -> dict[int, ArrayRecordReader]:
        """Open the whole-file shards (in parallel) and fill in their ranges, in place."""
        todo = [k for k, (_, _, end) in enumerate(expanded) if end is None]
        if not todo:
            return {}
        options = self._options

        def opener(k: int) -> ArrayRecordReader:
            return self._open_reader(expanded[k][0], options)

        if len(todo) == 1:
            opened = [opener(todo[0])]
        else:
            # Remote shards mostly wait for their tail reads: many threads open them at once.
            pool = wait_pool() if self._base.is_remote or any(is_url(expanded[k][0]) for k in todo) \
                else shared_pool()
            futures = [pool.submit(opener, k) for k in todo]
            wait(futures)
            failed = [f.exception() for f in futures if f.exception() is not None]
            opened = [f.result() for f in futures if f.exception() is None]
            if failed:
                for reader in opened:
                    reader.close()
                raise failed[0]
        for k, reader in zip(todo, opened):
            expanded[k] = (expanded[k][0], 0, len(reader))
            _report_group_size(reader)
        return dict(zip(todo, opened))

    def _setup(self, shards: tuple[tuple[str, int, int], ...], whole: tuple[bool, ...]) -> None:
        """Derived state from the resolved shard list (also after unpickling).

        ``whole`` says which shards were given as whole files (for the repr).
        """
        self._shards = shards
        self._whole = whole
        lengths = np.array([end - start for _, start, end in shards], dtype=np.int64)
        ends = np.cumsum(lengths)
        self._length = int(ends[-1]) if len(ends) else 0
        self._ends = ends
        self._ends_list = ends.tolist()
        # A global index plus its shard's offset is the position in the shard's file.
        self._offsets = np.array([start for _, start, _ in shards], dtype=np.int64) - (ends - lengths)
        self._offsets_list = self._offsets.tolist()
        self._single = len(shards) == 1
        self._parallel = ReaderOptions.parse(self._options).max_parallelism > 1
        self._forget_readers()
        _live.add(self)

    def _forget_readers(self) -> None:
        """No reader open, without closing any (another process or thread may own them)."""
        self._readers: list[ArrayRecordReader | None] = [None] * len(self._shards)
        self._open_order: collections.deque[int] = collections.deque()
        self._open_locks = [threading.Lock() for _ in range(max(1, min(_STRIPES, len(self._shards))))]
        self._book_lock = threading.Lock()

    # -- shards --------------------------------------------------------------

    def _locate(self, name: str) -> Location:
        """Where shard ``name`` lives, reached with this data source's storage options or filesystem."""
        return self._base.with_path(name)

    def _open_reader(self, name: str, options: str) -> ArrayRecordReader:
        """A reader of shard ``name``: a listing's size and version, when known, spare a request."""
        size, version = self._listed.get(name, (None, None))
        return ArrayRecordReader(self._locate(name), options, size=size, version=version, **self._storage)

    def _reader(self, k: int) -> ArrayRecordReader:
        reader = self._readers[k]
        return reader if reader is not None else self._open(k)

    def _open(self, k: int) -> ArrayRecordReader:
        with self._open_locks[k % len(self._open_locks)]:
            reader = self._readers[k]
            if reader is not None:
                return reader
            name, start, end = self._shards[k]
            reader = self._open_reader(name, self._options)
            if end > len(reader):
                reader.close()
                raise RecordIndexError(f"{name}[{start}:{end}] asks for records up to {end}, "
                                       f"but the file holds {len(reader)}")
            _report_group_size(reader)
            with self._book_lock:
                self._readers[k] = reader
                self._open_order.append(k)
                while len(self._open_order) > self._max_open:
                    # Dropped, not closed: a thread may still be reading from it.
                    self._readers[self._open_order.popleft()] = None
            return reader

    @property
    def shards(self) -> tuple[tuple[str, int, int], ...]:
        """Each shard as ``(filename, start, end)``: its records ``start`` … ``end - 1``."""
        return self._shards

    @property
    def paths(self) -> list[str]:
        """The shards' file names, in order."""
        return [name for name, _, _ in self._shards]

    @property
    def reader_options(self) -> str:
        """The reader options string every shard is opened with."""
        return self._options

    # -- reading -------------------------------------------------------------

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, key):
        """``ds[i]`` → ``bytes``; ``ds[a:b:c]`` and ``ds[indices]`` → ``list[bytes]``."""
        if isinstance(key, int):
            i = key
        elif isinstance(key, slice):
            return self._read(np.arange(*key.indices(self._length), dtype=np.int64))
        elif not hasattr(key, "__index__") or hasattr(key, "__len__") and getattr(key, "ndim", 1):
            # A sequence: a list, a 1-D array or tensor (a 0-d one is an integer).
            return self._read(self._indices(key))
        else:
            i = key.__index__()
        n = self._length
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise RecordIndexError(f"record index {i} out of range for {n} records")
        k = 0 if self._single else bisect.bisect_right(self._ends_list, j)
        reader = self._readers[k]
        if reader is None:
            reader = self._open(k)
        return reader[j + self._offsets_list[k]]

    def __getitems__(self, indices) -> list[bytes]:
        """The records at ``indices`` (any integers, negative ones too), in the order asked.

        Grain and PyTorch's ``DataLoader`` call this for a whole batch, which
        is then read in one call per shard (each chunk decoded once, the
        shards' parts in parallel).
        """
        return self._read(self._indices(indices))

    # Grain's name for batched reads (its SupportsBatchedReadRandomAccessDataSource).
    _getitems = __getitems__

    def _indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.size == 0:
            return np.zeros(0, np.int64)
        if idx.dtype == object:
            try:
                idx = np.array([operator.index(i) for i in idx.reshape(-1)], np.int64).reshape(idx.shape)
            except TypeError:
                raise ArgumentTypeError("record indices must be integers") from None
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ArgumentTypeError("record indices must be an integer, a slice, or a 1-D sequence of integers")
        idx = idx.astype(np.int64, copy=False)
        n = self._length
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise RecordIndexError(f"record index {int(idx[bad][0])} out of range for {n} records")
        return np.where(idx < 0, idx + n, idx)

    def _read(self, idx: np.ndarray) -> list[bytes]:
        """Records at ``idx`` (int64, in range), in order."""
        if not len(idx):
            return []
        if self._single:
            offset = self._offsets_list[0]
            return self._reader(0)[idx + offset if offset else idx]
        shard = np.searchsorted(self._ends, idx, side="right")
        positions = idx + self._offsets[shard]
        first = int(shard[0])
        if (shard == first).all():
            return self._reader(first)[positions]
        order = np.argsort(shard, kind="stable")
        ordered = shard[order]
        cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        starts = [0, *cuts.tolist()]
        stops = [*cuts.tolist(), len(order)]
        groups = [(int(ordered[a]), order[a:b]) for a, b in zip(starts, stops)]
        out: list[bytes] = [b""] * len(idx)

        def run(part: list[tuple[int, np.ndarray]]) -> None:
            for k, where in part:
                reader = self._reader(k)
                if len(where) == 1:
                    w = int(where[0])
                    out[w] = reader[int(positions[w])]
                else:
                    for w, record in zip(where.tolist(), reader[positions[where]]):
                        out[w] = record

        workers = CPUS
        if workers < 2 or not self._parallel or len(idx) < _PARALLEL_MIN:
            run(groups)
            return out
        # Contiguous runs of groups holding about the same number of records.
        filled = np.cumsum([len(where) for _, where in groups])
        marks = np.searchsorted(filled, np.linspace(0, filled[-1], workers + 1)[1:-1], side="left") + 1
        bounds = [0, *sorted(set(marks.tolist())), len(groups)]
        parts = [groups[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        pool = _fanout_pool()
        futures = [pool.submit(run, part) for part in parts[1:]]
        try:
            run(parts[0])
        finally:
            wait(futures)  # nothing may outlive the call
        for future in futures:
            future.result()
        return out

    def __iter__(self) -> Iterator[bytes]:
        """Every record in order, shard by shard, decoding ahead on the thread pool."""
        for k, (_, start, end) in enumerate(self._shards):
            if end == start:
                continue
            reader = self._reader(k)
            if start == 0 and end == len(reader):
                yield from reader
            else:
                for a in range(start, end, _ITER_STEP):
                    yield from reader[a:min(a + _ITER_STEP, end)]

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Close every open shard. The data source stays usable: shards reopen when read."""
        with self._book_lock:
            readers = [r for r in self._readers if r is not None]
            self._readers = [None] * len(self._shards)
            self._open_order.clear()
        for reader in readers:
            reader.close()

    def __enter__(self) -> "ArrayRecordDataSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        """Paths, ranges and options only: no open file crosses a pickle."""
        return {"shards": self._shards, "whole": self._whole,
                "reader_options": self._options, "max_open_files": self._max_open,
                "base": self._base, "storage": self._storage, "listed": self._listed}

    def __setstate__(self, state: dict) -> None:
        self._options = state["reader_options"]
        self._max_open = state["max_open_files"]
        self._base, self._storage, self._listed = state["base"], state["storage"], state["listed"]
        self._setup(tuple(tuple(shard) for shard in state["shards"]), tuple(state["whole"]))

    def __repr__(self) -> str:
        # Deterministic (no addresses, nothing about open files): Grain
        # compares data sources by their repr when it restores a checkpoint.
        names = [repr(display_url(name)) if whole else repr(f"{display_url(name)}[{start}:{end}]")
                 for (name, start, end), whole in zip(self._shards, self._whole)]
        digest = hashlib.sha1("\n".join(names).encode()).hexdigest()
        listed = ", ".join(names) if len(names) <= 3 else f"{names[0]}, …, {names[-1]}"
        options = f", reader_options={self._options!r}" if self._options else ""
        count = len(self._shards)
        return (f"ArrayRecordDataSource({self._length:,} records in {count} "
                f"shard{'s' if count != 1 else ''}: [{listed}]{options}, paths_sha1={digest[:12]})")
