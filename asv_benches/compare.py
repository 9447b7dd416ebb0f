#!/usr/bin/env python
"""mmrecord against the reference ``array_record``, side by side in one process.

The full matrix: every codec (uncompressed, snappy, zstd:3, brotli:6) at group
sizes 1 and 256, on 65,536 text records of ~1.5 KB, plus 1,000,000 records of
32-100 random bytes (zstd:3, group size 1). Every file read is written once by
the reference's writer, and both sides read the same file.

Rows in the reference's API run the same code on both sides: the reference's
classes, and mmrecord's drop-in ``mmrecord.compat`` classes.

  write/C/gG             open a writer, ``write()`` each record, close
  rand_read1/C/gG        ``read([i])`` one index at a time (random options*)
  rand_seek_read/C/gG    ``seek(i); read()``                 (random options*)
  rand_ds_getitem/C/g1   the data source's ``ds[i]``
  rand_batch256_read/..  ``read(indices)``, 256 permuted indices a call (random options*)
  rand_batch256_ds/C/g1  ``ds.__getitems__`` of 256 permuted indices
  rand_batchall_*/C/g1   the whole permutation in one ``read`` / ``__getitems__`` call
  seq_read/C/gG          a ``read()`` loop on a new reader, default options
  seq_read_ra0/C/gG      the same with the random options*
  seq_read_all/C/gG      ``read_all()``
  */tiny                 the same on the 1,000,000 small records
  open_reader[_ra]/tiny  open + ``num_records()`` + close, default / random options* (ms)
  open_ds/tiny           data source: make, ``len``, the middle ``ds[i]``, close (ms)

(* ``readahead_buffer_size:0,max_parallelism:0``, the reference's settings for
random access.) Rows in mmrecord's own API run beside the reference's fastest
form of the same work:

  own_write_many/C/gG        ``write_many`` / the reference's ``write()`` loop
  own_getitem/C/gG, /tiny    ``r[i]`` / ``seek(i); read()`` with random options
  own_index_batch256/..      ``r[index array]`` / ``read(list)`` with default options
  own_index_batchall/C/g1    ``r[permutation]`` / ``read(permutation)``, default options
  own_iterate/C/gG           ``for rec in r`` / a ``read()`` loop, default options
  floor/read_batch_vs_numpy_gather/uncompressed/g1
                             ``read_batch(permutation)`` / a NumPy gather of the same
                             records already in memory (the floor, not the reference)
  cold_start/zstd:3/g1       a new interpreter: import, open, read one record (ms)

Each row warms each side up once and checks what it read (or wrote) against
the records, then times ``--rounds`` rounds alternating A,B / B,A; a round
repeats the pass until it lasts ``--min-time``. Per-pass set-up (opening the
reader a pass reads from, removing a file a pass writes) is not timed. The
table shows each side's median rate, mmrecord's speed over the reference's
(above 1: mmrecord is faster) from the medians and from the rounds paired,
and ``fgn``: the cores other processes used meanwhile. Progress goes to
stderr, the markdown table to stdout.

    python asv_benches/compare.py                       # the full run
    python asv_benches/compare.py --quick               # a smoke run, small sizes
    python asv_benches/compare.py --only 'seq_read|own_iterate' --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Callable

import numpy as np

import mmrecord
from array_record.python import array_record_data_source as ards
from array_record.python import array_record_module as arm
from mmrecord.compat import array_record_data_source as compat_ds
from mmrecord.compat import array_record_module as compat_module

from benchmarks import dataset
from benchmarks import workloads as wl
from benchmarks.workloads import DEFAULT_OPTIONS, RANDOM_OPTIONS


@dataclass(frozen=True)
class Api:
    """The classes of one implementation of the reference's API."""

    reader: type
    writer: type
    data_source: type


REFERENCE = Api(arm.ArrayRecordReader, arm.ArrayRecordWriter, ards.ArrayRecordDataSource)
COMPAT = Api(compat_module.ArrayRecordReader, compat_module.ArrayRecordWriter,
             compat_ds.ArrayRecordDataSource)
SMALL_OPTIONS = dataset.writer_options("zstd:3", 1)
VERSIONS = ("numpy", "numba", "llvmlite", "zstandard", "brotli", "python-snappy", "cramjam",
            "array_record")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def release(target: Any) -> None:
    """Close a reader or data source (the reference's data source only has ``__exit__``)."""
    if hasattr(target, "close"):
        target.close()
    elif hasattr(target, "__exit__"):
        target.__exit__(None, None, None)


# -- the data and its files ---------------------------------------------------

class Data:
    """The record sets and the files the reference writes of them, each made on first use."""

    def __init__(self, tmp: str, sizes: wl.Sizes) -> None:
        self.tmp = tmp
        self.sizes = sizes
        self._fixtures: dict[str, str] = {}

    @functools.cached_property
    def records(self) -> list[bytes]:
        log(f"  generating {self.sizes.records:,} text records")
        return dataset.make_records(self.sizes.records)

    @functools.cached_property
    def small(self) -> list[bytes]:
        log(f"  generating {self.sizes.small_records:,} small records")
        return dataset.small_records(self.sizes.small_records)

    @functools.cached_property
    def perm(self) -> np.ndarray:
        return dataset.permutation(len(self.records))

    @functools.cached_property
    def small_perm(self) -> np.ndarray:
        return dataset.permutation(len(self.small))

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def fresh(self, name: str) -> str:
        """A path in the temporary directory with no file at it."""
        path = self.path(name)
        if os.path.exists(path):
            os.remove(path)
        return path

    def fixture(self, options: str, small: bool = False) -> str:
        """The file the reference writes of the text (or small) records with ``options``.

        Written once; both implementations must read the records back from it.
        """
        key = f"{'small' if small else 'text'}_{options}"
        if key not in self._fixtures:
            records = self.small if small else self.records
            path = self.path(re.sub(r"\W+", "_", key) + ".array_record")
            log(f"  the reference writes {len(records):,} records with {options!r}")
            wl.write_each(REFERENCE.writer, path, options, records)
            for api in (COMPAT, REFERENCE):
                reader = api.reader(path, DEFAULT_OPTIONS)
                if reader.read_all() != records:
                    raise AssertionError(f"{api.reader.__module__} misreads {path}")
                reader.close()
            self._fixtures[key] = path
        return self._fixtures[key]


# -- measuring ----------------------------------------------------------------

@dataclass
class Side:
    """One implementation's half of a row: a pass over a target made untimed."""

    run: Callable[[Any], object]  # the timed pass
    make: Callable[[], Any]  # its target: a reader, a data source or a path
    fresh: bool = False  # a new target before every pass (else one for the whole row)


@dataclass
class Pair:
    """A row's two sides and what one pass does."""

    mm: Side
    ref: Side
    count: int  # records (or operations) a pass does
    expected: list[bytes] | None = None  # the records a pass reads, in order
    written: list[bytes] | None = None  # the records a pass writes to its target path


class Recorder:
    """Stands in for a reader or data source and keeps every record read through it."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.records: list[bytes] = []

    def read(self, *args):
        out = self.target.read(*args)
        if args:
            self.records.extend(out)
        else:
            self.records.append(out)
        return out

    def read_all(self):
        out = self.target.read_all()
        self.records.extend(out)
        return out

    def seek(self, index: int) -> None:
        self.target.seek(index)

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, key):
        out = self.target[key]
        if isinstance(key, (int, np.integer)):
            self.records.append(out)
        else:
            self.records.extend(out)
        return out

    def __getitems__(self, keys):
        out = self.target.__getitems__(keys)
        self.records.extend(out)
        return out

    def __iter__(self):
        for record in self.target:
            self.records.append(record)
            yield record


class Running:
    """A side while its row runs: its target, made once or before every pass."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.target: Any = None

    def next_target(self) -> Any:
        if self.side.fresh or self.target is None:
            self.close()
            self.target = self.side.make()
        return self.target

    def timed_pass(self) -> float:
        target = self.next_target()
        gc.collect()
        start = time.perf_counter()
        out = self.side.run(target)
        elapsed = time.perf_counter() - start
        del out  # freeing a result is not part of the pass
        return elapsed

    def check(self, pair: Pair, name: str) -> None:
        """One pass through a ``Recorder`` reads ``expected``; a written file holds ``written``."""
        if pair.written is not None:
            reader = REFERENCE.reader(self.target, DEFAULT_OPTIONS)
            ok = reader.read_all() == pair.written
            reader.close()
            if not ok:
                raise AssertionError(f"{name}: the reference reads other records from the file")
        if pair.expected is not None:
            recorder = Recorder(self.next_target())
            self.side.run(recorder)
            if recorder.records != pair.expected:
                raise AssertionError(f"{name}: a pass read other records than expected")

    def calibrate(self, first: float, min_time: float) -> int:
        """Passes a round needs to last ``min_time``, from a first pass of ``first`` seconds."""
        if first >= min_time:
            return 1
        return max(1, min(10_000, math.ceil(min_time / max(self.timed_pass(), 1e-7))))

    def close(self) -> None:
        if self.target is not None:
            release(self.target)
            self.target = None


class CpuClock:
    """Busy CPU seconds of the whole machine and of this process (with its waited children)."""

    @staticmethod
    def sample() -> tuple[float, float | None, float]:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:]]
            busy = (sum(ticks[:3]) + sum(ticks[5:8])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            busy = None
        return time.perf_counter(), busy, own

    @staticmethod
    def foreign_cores(start: tuple, end: tuple) -> float | None:
        """Cores other processes kept busy on average between two samples."""
        wall = end[0] - start[0]
        if start[1] is None or end[1] is None or wall <= 0:
            return None
        return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / wall)


@dataclass
class Result:
    name: str
    unit: str  # "rec/s", or "ms" per operation
    mm: list[float]  # the value of each round
    ref: list[float]
    fgn: float | None
    mm_median: float = field(init=False)
    ref_median: float = field(init=False)
    ratio: float = field(init=False)  # mmrecord's speed over the reference's, from the medians
    paired: list[float] = field(init=False)  # the same, round by round

    def __post_init__(self) -> None:
        self.mm_median, self.ref_median = statistics.median(self.mm), statistics.median(self.ref)
        faster = (lambda m, r: r / m) if self.unit == "ms" else (lambda m, r: m / r)
        self.ratio = faster(self.mm_median, self.ref_median)
        self.paired = [faster(m, r) for m, r in zip(self.mm, self.ref)]

    def show(self, value: float) -> str:
        if self.unit == "ms":
            return f"{value:.2f} ms"
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:.3g}"


def measure(name: str, pair: Pair, unit: str, rounds: int, min_time: float) -> Result:
    """Warm up and check each side, then time ``rounds`` rounds alternating A,B / B,A."""
    sides = {"mm": Running(pair.mm), "ref": Running(pair.ref)}
    try:
        inner = {}
        for key, running in sides.items():
            first = running.timed_pass()
            running.check(pair, f"{name} ({key})")
            inner[key] = running.calibrate(first, min_time)
        values: dict[str, list[float]] = {"mm": [], "ref": []}
        start = CpuClock.sample()
        for round_ in range(rounds):
            for key in (("mm", "ref") if round_ % 2 == 0 else ("ref", "mm")):
                seconds = sum(sides[key].timed_pass() for _ in range(inner[key]))
                per_pass = seconds / inner[key]
                values[key].append(1e3 * per_pass / pair.count if unit == "ms"
                                   else pair.count / per_pass)
        fgn = CpuClock.foreign_cores(start, CpuClock.sample())
    finally:
        for running in sides.values():
            running.close()
    return Result(name, unit, values["mm"], values["ref"], fgn)


# -- the rows -------------------------------------------------------------------

@dataclass
class Row:
    name: str
    build: Callable[[Data], Pair]
    unit: str = "rec/s"


def reader(api: Api, path: str, options: str) -> Callable[[], Any]:
    return lambda: api.reader(path, options)


def data_source(api: Api, path: str) -> Callable[[], Any]:
    """A data source whose reader is open before the first timed pass."""
    def make():
        source = api.data_source([path])
        source[0]
        return source
    return make


def same_form(side: Callable[[Api], Side], count: int, **checks) -> Pair:
    """A row in the reference's API: the same pass on mmrecord.compat's and the reference's classes."""
    return Pair(side(COMPAT), side(REFERENCE), count, **checks)


def text_rows(sizes: wl.Sizes, codecs: tuple[str, ...], groups: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []

    def each(kind: str, make: Callable[[str, int], Callable[[Data], Pair]],
             only_groups: tuple[int, ...] | None = None) -> None:
        for g in groups:
            if only_groups is None or g in only_groups:
                rows.extend(Row(f"{kind}/{c}/g{g}", make(c, g)) for c in codecs)

    def write(c, g):
        def build(data):
            records = data.records[:sizes.write_count(c)]
            options = dataset.writer_options(c, g)
            return same_form(lambda api: Side(
                lambda path: wl.write_each(api.writer, path, options, records),
                lambda: data.fresh(f"written_{'mm' if api is COMPAT else 'ref'}.array_record"),
                fresh=True),
                len(records), written=records)
        return build

    def own_write(c, g):
        def build(data):
            records = data.records[:sizes.write_count(c)]
            options = dataset.writer_options(c, g)
            return Pair(Side(lambda path: wl.write_many(path, options, records),
                             lambda: data.fresh("written_mm.array_record"), fresh=True),
                        Side(lambda path: wl.write_each(REFERENCE.writer, path, options, records),
                             lambda: data.fresh("written_ref.array_record"), fresh=True),
                        len(records), written=records)
        return build

    def random_rows(count_of, pass_of, opener, *, batch=None, mm_pass=None, mm_opener=None,
                    ref_options=RANDOM_OPTIONS):
        """Rows of reads at permuted indices: the first ``count_of(g)`` of the permutation.

        Without ``mm_pass`` both sides run ``pass_of`` (the reference's API); with
        it, mmrecord's own reader runs ``mm_pass`` on index arrays.
        """
        def make(c, g):
            def build(data):
                path = data.fixture(dataset.writer_options(c, g))
                indices = data.perm[:count_of(g)]
                listed = indices.tolist()
                work = wl.batches_of(listed, batch) if batch else listed
                expected = [data.records[i] for i in listed]
                if mm_pass is None:
                    return same_form(lambda api: Side(lambda t: pass_of(t, work),
                                                      opener(api, path)), len(listed),
                                     expected=expected)
                arrays = wl.batches_of(indices, batch) if batch else listed
                return Pair(Side(lambda t: mm_pass(t, arrays), mm_opener(path)),
                            Side(lambda t: pass_of(t, work), reader(REFERENCE, path, ref_options)),
                            len(listed), expected=expected)
            return build
        return make

    def random_reader(api, path):
        return reader(api, path, RANDOM_OPTIONS)

    def own_reader(path):
        return lambda: mmrecord.ArrayRecordReader(path)

    def single(g):
        return sizes.count(sizes.single, g)

    def batched(g):
        return sizes.count(sizes.batched, g)

    def every(g):
        return sizes.records

    each("write", write)
    each("own_write_many", own_write)
    each("rand_read1", random_rows(single, wl.read_each, random_reader))
    each("rand_seek_read", random_rows(single, wl.seek_read_each, random_reader))
    each("own_getitem", random_rows(single, wl.seek_read_each, None, mm_pass=wl.getitem_each,
                                    mm_opener=own_reader))
    each("rand_ds_getitem", random_rows(single, wl.getitem_each, data_source), only_groups=(1,))
    b = sizes.batch
    each(f"rand_batch{b}_read", random_rows(batched, wl.read_batches, random_reader, batch=b))
    each(f"own_index_batch{b}", random_rows(batched, wl.read_batches, None, batch=b,
                                           mm_pass=wl.index_batches, mm_opener=own_reader,
                                           ref_options=DEFAULT_OPTIONS))
    each(f"rand_batch{b}_ds", random_rows(batched, wl.getitems_batches, data_source, batch=b),
         only_groups=(1,))
    each("rand_batchall_read", random_rows(every, wl.read_batches, random_reader,
                                           batch=sizes.records), only_groups=(1,))
    each("own_index_batchall", random_rows(every, wl.read_batches, None, batch=sizes.records,
                                           mm_pass=wl.index_batches, mm_opener=own_reader,
                                           ref_options=DEFAULT_OPTIONS), only_groups=(1,))
    each("rand_batchall_ds", random_rows(every, wl.getitems_batches, data_source,
                                         batch=sizes.records), only_groups=(1,))

    def sequential(options):
        def make(c, g):
            def build(data):
                path = data.fixture(dataset.writer_options(c, g))
                count = sizes.count(sizes.sequential, g) or sizes.records
                return same_form(lambda api: Side(lambda r: wl.read_loop(r, count),
                                                  reader(api, path, options), fresh=True),
                                 count, expected=data.records[:count])
            return build
        return make

    def own_iterate(c, g):
        def build(data):
            path = data.fixture(dataset.writer_options(c, g))
            count = sizes.count(sizes.sequential, g) or sizes.records
            return Pair(Side(lambda r: wl.iterate(r, count), own_reader(path), fresh=True),
                        Side(lambda r: wl.read_loop(r, count),
                             reader(REFERENCE, path, DEFAULT_OPTIONS), fresh=True),
                        count, expected=data.records[:count])
        return build

    def whole(c, g):
        def build(data):
            path = data.fixture(dataset.writer_options(c, g))
            return same_form(lambda api: Side(wl.read_all, reader(api, path, DEFAULT_OPTIONS),
                                              fresh=True),
                             sizes.records, expected=data.records)
        return build

    each("seq_read", sequential(DEFAULT_OPTIONS))
    each("own_iterate", own_iterate)
    each("seq_read_ra0", sequential(RANDOM_OPTIONS))
    each("seq_read_all", whole)
    return rows


def small_rows(sizes: wl.Sizes) -> list[Row]:
    """The rows on the 1,000,000 small records (zstd:3, group size 1)."""
    b = sizes.batch

    def random_row(count, pass_of, opener, *, batch=None, mm_pass=None, ref_options=RANDOM_OPTIONS):
        def build(data):
            path = data.fixture(SMALL_OPTIONS, small=True)
            indices = data.small_perm[:count]
            listed = indices.tolist()
            work = wl.batches_of(listed, batch) if batch else listed
            expected = [data.small[i] for i in listed]
            if mm_pass is None:
                return same_form(lambda api: Side(lambda t: pass_of(t, work), opener(api, path)),
                                 count, expected=expected)
            arrays = wl.batches_of(indices, batch) if batch else listed
            return Pair(Side(lambda t: mm_pass(t, arrays), lambda: mmrecord.ArrayRecordReader(path)),
                        Side(lambda t: pass_of(t, work), reader(REFERENCE, path, ref_options)),
                        count, expected=expected)
        return build

    def random_reader(api, path):
        return reader(api, path, RANDOM_OPTIONS)

    def opening(run_of):
        def build(data):
            path = data.fixture(SMALL_OPTIONS, small=True)
            return same_form(lambda api: Side(run_of(api), lambda: path), 1)
        return build

    single, batched = sizes.small_single, sizes.small_batched
    return [
        Row("rand_read1/tiny", random_row(single, wl.read_each, random_reader)),
        Row("rand_seek_read/tiny", random_row(single, wl.seek_read_each, random_reader)),
        Row("own_getitem/tiny", random_row(single, wl.seek_read_each, None,
                                           mm_pass=wl.getitem_each)),
        Row("rand_ds_getitem/tiny", random_row(single, wl.getitem_each, data_source)),
        Row(f"rand_batch{b}_read/tiny", random_row(batched, wl.read_batches, random_reader,
                                                   batch=b)),
        Row(f"own_index_batch{b}/tiny", random_row(batched, wl.read_batches, None, batch=b,
                                                   mm_pass=wl.index_batches,
                                                   ref_options=DEFAULT_OPTIONS)),
        Row(f"rand_batch{b}_ds/tiny", random_row(batched, wl.getitems_batches, data_source,
                                                 batch=b)),
        Row("open_reader/tiny", opening(lambda api: lambda path: wl.open_reader(
            api.reader, path, DEFAULT_OPTIONS)), unit="ms"),
        Row("open_reader_ra/tiny", opening(lambda api: lambda path: wl.open_reader(
            api.reader, path, RANDOM_OPTIONS)), unit="ms"),
        Row("open_ds/tiny", opening(lambda api: lambda path: wl.open_data_source(
            api.data_source, path)), unit="ms"),
    ]


def numpy_gather_floor(data: Data) -> Pair:
    """``read_batch`` of the whole permutation against a NumPy gather of the same records in memory."""
    path = data.fixture(dataset.writer_options("uncompressed", 1))
    perm = data.perm
    with mmrecord.ArrayRecordReader(path) as whole:
        values, offsets = whole.read_batch(np.arange(len(whole)))
    sizes = np.diff(offsets)

    def gather(_) -> tuple[np.ndarray, np.ndarray]:
        lengths = sizes[perm]
        ends = np.cumsum(lengths)
        index = np.repeat(offsets[:-1][perm] - (ends - lengths), lengths) + np.arange(ends[-1])
        return values[index], np.concatenate(([0], ends))

    return Pair(Side(lambda r: r.read_batch(perm), lambda: mmrecord.ArrayRecordReader(path)),
                Side(gather, lambda: None), len(perm))


COLD_MM = """
import sys, mmrecord
reader = mmrecord.ArrayRecordReader(sys.argv[1])
assert reader[int(sys.argv[2])]
reader.close()
"""
COLD_REF = f"""
import sys
from array_record.python import array_record_module as arm
reader = arm.ArrayRecordReader(sys.argv[1], {RANDOM_OPTIONS!r})
reader.seek(int(sys.argv[2]))
assert reader.read()
reader.close()
"""


def cold_start(data: Data) -> Pair:
    path = data.fixture(dataset.writer_options("zstd:3", 1))
    index = str(len(data.records) // 2)

    def python(code: str) -> Callable[[Any], None]:
        def run(_) -> None:
            done = subprocess.run([sys.executable, "-c", code, path, index], cwd=data.tmp,
                                  capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"cold-start process failed:\n{done.stderr}")
        return run

    return Pair(Side(python(COLD_MM), lambda: None), Side(python(COLD_REF), lambda: None), 1)


def all_rows(sizes: wl.Sizes) -> list[Row]:
    return (text_rows(sizes, dataset.CODECS, dataset.GROUP_SIZES) + small_rows(sizes)
            + [Row("floor/read_batch_vs_numpy_gather/uncompressed/g1", numpy_gather_floor),
               Row("cold_start/zstd:3/g1", cold_start, unit="ms")])


# -- reporting --------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def git_commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "none"


def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(args: argparse.Namespace) -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + shlex.join(sys.argv),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory": memory_total(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mmrecord": mmrecord.__version__,
        "mmrecord_commit": git_commit(),
        "versions": {name: v for name in VERSIONS if (v := version(name))},
        "profile": "quick" if args.quick else "full",
        "rounds": args.rounds,
        "min_time": args.min_time,
    }


def render(info: dict, results: list[Result], data: Data) -> str:
    described = []
    if "records" in data.__dict__:
        mean = statistics.fmean(map(len, data.records))
        described.append(f"{len(data.records):,} text records of {mean:,.0f} B on average")
    if "small" in data.__dict__:
        described.append(f"{len(data.small):,} records of 32-100 random bytes (zstd:3, group size 1)")
    versions = ", ".join(f"{name} {v}" for name, v in info["versions"].items())
    lines = [
        f"mmrecord {info['mmrecord']} (commit {info['mmrecord_commit']}) against array_record "
        f"{info['versions'].get('array_record', '?')}, {info['date']}  ",
        f"{info['cpu_model']}, {info['cpus']} CPUs, {info['memory']}, {info['platform']}  ",
        f"Python {info['python']}, {versions}  ",
        f"`{info['command']}`  ",
        f"{'; '.join(described)}; files written by the reference; profile {info['profile']}, "
        f"{info['rounds']} rounds alternating A,B / B,A, each at least {info['min_time']} s; "
        "warm page cache",
        "",
        "| workload | mmrecord | reference | mm / ref | paired [min..max] | fgn |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in results:
        paired = (f"{statistics.median(r.paired):.2f} [{min(r.paired):.2f}..{max(r.paired):.2f}]")
        fgn = "?" if r.fgn is None else f"{r.fgn:.1f}"
        lines.append(f"| {r.name} | {r.show(r.mm_median)} | {r.show(r.ref_median)} | "
                     f"{r.ratio:.2f}x | {paired} | {fgn} |")
    lines += [
        "",
        "Rates in records/s (ms per operation for open and cold start). mm / ref: mmrecord's "
        "speed over the reference's, from the medians (above 1: mmrecord is faster); paired: "
        "the same ratio round by round. Rows named after the reference's calls run the same "
        "code on the reference's classes and on `mmrecord.compat`'s; `own_*` rows run "
        "mmrecord's own API beside the reference's fastest form of the same work (see "
        "`compare.py --help`); the floor row compares `read_batch` with a NumPy gather of the "
        "records already in memory. fgn: cores other processes used during the row.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 5; --quick 3)")
    parser.add_argument("--min-time", type=float,
                        help="seconds a round lasts at least (default 0.1; --quick 0.02)")
    parser.add_argument("--only", metavar="REGEX",
                        help="run only the rows whose name matches (case-insensitive search)")
    parser.add_argument("--skip", metavar="REGEX", help="leave out the rows whose name matches")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("--json", metavar="OUT", help="also save the results as JSON")
    parser.add_argument("--tmpdir", help="where to write the files (default: the system temp dir)")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.02 if args.quick else 0.1
    return args


def selected(rows: list[Row], args: argparse.Namespace) -> list[Row]:
    return [row for row in rows
            if (not args.only or re.search(args.only, row.name, re.I))
            and not (args.skip and re.search(args.skip, row.name, re.I))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = wl.QUICK if args.quick else wl.FULL
    rows = selected(all_rows(sizes), args)
    if args.list or not rows:
        print("\n".join(row.name for row in rows))
        return
    info = machine_info(args)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mmrecord-compare-", dir=args.tmpdir) as tmp:
        data = Data(tmp, sizes)
        for k, row in enumerate(rows, 1):
            log(f"[{k}/{len(rows)}] {row.name}")
            result = measure(row.name, row.build(data), row.unit, args.rounds, args.min_time)
            results.append(result)
            log(f"  mmrecord {result.show(result.mm_median)}, reference "
                f"{result.show(result.ref_median)}, {result.ratio:.2f}x")
        table = render(info, results, data)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": [asdict(r) for r in results]}, f, indent=1)


if __name__ == "__main__":
    main()
