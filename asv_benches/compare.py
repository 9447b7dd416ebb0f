#!/usr/bin/env python
"""mmrecord against the reference ``array_record``, side by side in one process.

Every workload runs mmrecord and the reference alternately (A B A B ...) for
``--rounds`` rounds, after one untimed warm-up call of each, and reports the
median round. The last column is mmrecord's speed over the reference's: above
1, mmrecord is faster. Files live in a temporary directory and are read warm
from the page cache. Progress goes to stderr, the markdown table to stdout.

    python asv_benches/compare.py                       # the full run
    python asv_benches/compare.py --quick               # a smoke run, small sizes
    python asv_benches/compare.py --only 'random|open' --json results.json
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Callable, ContextManager, Iterator

import numpy as np

import mmrecord
from array_record.python import array_record_data_source as ards
from array_record.python import array_record_module as arm

from benchmarks import dataset

# The reference's fastest settings for random access: without them every
# seek() refills a 16 MB read-ahead buffer on a thread pool (~0.5 ms a record).
REF_RANDOM = "readahead_buffer_size:0,max_parallelism:0"
REF_DEFAULT = ""  # its fastest for batches, read_all and iteration (parallel decoding)

ZSTD_1 = dataset.writer_options("zstd:3", 1)
ZSTD_256 = dataset.writer_options("zstd:3", 256)
RAW_1 = dataset.writer_options("uncompressed", 1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- writing -----------------------------------------------------------------

def write_mm(path: str, options: str, records: list[bytes]) -> None:
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)


def write_ref(path: str, options: str, records: list[bytes]) -> None:
    writer = arm.ArrayRecordWriter(path, options)
    for record in records:
        writer.write(record)
    writer.close()


class Data:
    """The dataset and its files, each made on first use."""

    def __init__(self, tmp: str, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.args = args
        self._files: dict[str, tuple[str, str]] = {}

    @functools.cached_property
    def records(self) -> list[bytes]:
        log(f"  generating {self.args.records:,} records")
        return dataset.make_records(self.args.records)

    @functools.cached_property
    def sample(self) -> list[int]:
        return dataset.random_indices(len(self.records), self.args.sample).tolist()

    @functools.cached_property
    def perm(self) -> np.ndarray:
        return dataset.permutation(len(self.records))

    def path(self, name: str) -> str:
        return os.path.join(self.tmp, name)

    def files(self, options: str) -> tuple[str, str]:
        """(mmrecord's file, the reference's file) of the dataset written with ``options``.

        Both readers read both files once and must get the dataset back.
        """
        if options not in self._files:
            records = self.records
            tag = re.sub(r"\W+", "_", options)
            mm_path, ref_path = self.path(f"mm_{tag}.array_record"), self.path(f"ref_{tag}.array_record")
            log(f"  writing the dataset with {options!r} (both writers) and cross-checking")
            write_mm(mm_path, options, records)
            write_ref(ref_path, options, records)
            for path in (mm_path, ref_path):
                with mmrecord.ArrayRecordReader(path) as reader:
                    assert reader.read_all() == records, f"mmrecord misreads {path}"
                reader = arm.ArrayRecordReader(path)
                assert reader.read_all() == records, f"the reference misreads {path}"
                reader.close()
            self._files[options] = (mm_path, ref_path)
        return self._files[options]

    @functools.cached_property
    def open_file(self) -> str:
        """A file of ``--open-records`` 8-byte records, written by the reference."""
        path = self.path("open.array_record")
        log(f"  writing {self.args.open_records:,} tiny records with the reference writer")
        write_ref(path, ZSTD_1, dataset.tiny_records(self.args.open_records))
        return path


# -- measuring ---------------------------------------------------------------

@dataclass
class Pair:
    """One workload as two calls, each doing ``count`` records (or operations)."""

    mm: Callable[[], object]
    ref: Callable[[], object]
    count: int
    reset: Callable[[], None] | None = None  # run, untimed, before every call


def timed(pair: Pair, call: Callable[[], object]) -> float:
    if pair.reset is not None:
        pair.reset()
    gc.collect()
    start = time.perf_counter()
    out = call()
    elapsed = time.perf_counter() - start
    del out  # freeing the result is not part of the workload
    return elapsed


def measure(pair: Pair, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per call, mmrecord and reference alternating, after one warm-up each."""
    timed(pair, pair.mm)
    timed(pair, pair.ref)
    mm, ref = [], []
    for _ in range(rounds):
        mm.append(timed(pair, pair.mm))
        ref.append(timed(pair, pair.ref))
    return mm, ref


# -- the workloads: each yields a Pair ----------------------------------------

@contextmanager
def write(data: Data, options: str) -> Iterator[Pair]:
    path = data.path("scratch.array_record")
    records = data.records

    def remove() -> None:
        if os.path.exists(path):
            os.remove(path)

    yield Pair(lambda: write_mm(path, options, records), lambda: write_ref(path, options, records),
               len(records), reset=remove)
    remove()


@contextmanager
def readers(data: Data, options: str, ref_options: str):
    """mmrecord's reader on its file, the reference's on its own."""
    mm_path, ref_path = data.files(options)
    mm = mmrecord.ArrayRecordReader(mm_path)
    ref = arm.ArrayRecordReader(ref_path, ref_options)
    try:
        yield mm, ref
    finally:
        mm.close()
        ref.close()


@contextmanager
def random_single(data: Data, options: str) -> Iterator[Pair]:
    sample = data.sample
    with readers(data, options, REF_RANDOM) as (mm, ref):
        def run_mm() -> None:
            for i in sample:
                mm[i]

        def run_ref() -> None:
            for i in sample:
                ref.seek(i)
                ref.read()

        yield Pair(run_mm, run_ref, len(sample))


@contextmanager
def random_data_source(data: Data, options: str) -> Iterator[Pair]:
    sample = data.sample
    mm_path, ref_path = data.files(options)
    with mmrecord.ArrayRecordReader(mm_path) as mm, ards.ArrayRecordDataSource(ref_path) as source:
        def run_mm() -> None:
            for i in sample:
                mm[i]

        def run_ref() -> None:
            for i in sample:
                source[i]

        yield Pair(run_mm, run_ref, len(sample))


@contextmanager
def whole_permutation(data: Data, options: str) -> Iterator[Pair]:
    perm = data.perm
    perm_list = perm.tolist()
    with readers(data, options, REF_DEFAULT) as (mm, ref):
        yield Pair(lambda: mm[perm], lambda: ref.read(perm_list), len(perm))


@contextmanager
def batch_vs_numpy(data: Data, options: str) -> Iterator[Pair]:
    """``read_batch`` of the whole permutation against a NumPy gather of the same bytes in memory.

    The "reference" side here is the machine's floor for this output: every
    record already decoded in one array, gathered by one fancy index.
    """
    perm = data.perm
    mm_path, _ = data.files(options)
    with mmrecord.ArrayRecordReader(mm_path) as mm:
        values, offsets = mm.read_batch(np.arange(len(mm)))
        sizes = np.diff(offsets)

        def gather() -> tuple[np.ndarray, np.ndarray]:
            lengths = sizes[perm]
            ends = np.cumsum(lengths)
            index = np.repeat(offsets[perm] - (ends - lengths), lengths) + np.arange(ends[-1])
            return values[index], np.concatenate(([0], ends))

        yield Pair(lambda: mm.read_batch(perm), gather, len(perm))


@contextmanager
def batches(data: Data, options: str) -> Iterator[Pair]:
    size = data.args.batch
    mm_batches = [data.perm[a:a + size] for a in range(0, len(data.perm), size)]
    ref_batches = [batch.tolist() for batch in mm_batches]
    with readers(data, options, REF_DEFAULT) as (mm, ref):
        def run_mm() -> None:
            for batch in mm_batches:
                mm[batch]

        def run_ref() -> None:
            for batch in ref_batches:
                ref.read(batch)

        yield Pair(run_mm, run_ref, len(data.perm))


@contextmanager
def read_all(data: Data, options: str) -> Iterator[Pair]:
    with readers(data, options, REF_DEFAULT) as (mm, ref):
        yield Pair(mm.read_all, ref.read_all, len(data.records))


@contextmanager
def iterate(data: Data, options: str) -> Iterator[Pair]:
    n = len(data.records)
    with readers(data, options, REF_DEFAULT) as (mm, ref):
        def run_mm() -> None:
            for _ in mm:
                pass

        def run_ref() -> None:
            ref.seek(0)
            for _ in range(n):
                ref.read()

        yield Pair(run_mm, run_ref, n)


@contextmanager
def open_and_read(data: Data) -> Iterator[Pair]:
    path, reps = data.open_file, data.args.open_reps
    middle = data.args.open_records // 2

    def run_mm() -> None:
        for _ in range(reps):
            reader = mmrecord.ArrayRecordReader(path)
            reader[middle]
            reader.close()

    def run_ref() -> None:
        for _ in range(reps):
            reader = arm.ArrayRecordReader(path, REF_RANDOM)
            reader.seek(middle)
            reader.read()
            reader.close()

    yield Pair(run_mm, run_ref, reps)


COLD_MM = """
import sys, mmrecord
reader = mmrecord.ArrayRecordReader(sys.argv[1])
assert reader[int(sys.argv[2])]
reader.close()
"""
COLD_REF = f"""
import sys
from array_record.python import array_record_module as arm
reader = arm.ArrayRecordReader(sys.argv[1], {REF_RANDOM!r})
reader.seek(int(sys.argv[2]))
assert reader.read()
reader.close()
"""


@contextmanager
def cold_start(data: Data, options: str) -> Iterator[Pair]:
    mm_path, ref_path = data.files(options)
    index = str(len(data.records) // 2)

    def python(code: str, path: str) -> Callable[[], None]:
        def run() -> None:
            done = subprocess.run([sys.executable, "-c", code, path, index], cwd=data.tmp,
                                  capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"cold-start process failed:\n{done.stderr}")
        return run

    yield Pair(python(COLD_MM, mm_path), python(COLD_REF, ref_path), 1)


@dataclass
class Workload:
    name: str
    setup: Callable[[Data], ContextManager[Pair]]
    per_op: bool = False  # report milliseconds per operation, not records/s


def workloads(args: argparse.Namespace) -> list[Workload]:
    def for_options(fn, options):
        return functools.partial(fn, options=options)

    short = {ZSTD_1: "zstd:3, gs 1", ZSTD_256: "zstd:3, gs 256", RAW_1: "uncompressed, gs 1"}
    rows = [Workload(f"write ({short[o]})", for_options(write, o)) for o in (ZSTD_1, ZSTD_256, RAW_1)]
    rows += [Workload(f"random r[i] vs seek+read ({short[o]})", for_options(random_single, o))
             for o in (ZSTD_1, RAW_1)]
    rows += [Workload(f"random r[i] vs data source ds[i] ({short[ZSTD_1]})",
                      for_options(random_data_source, ZSTD_1))]
    rows += [Workload(f"whole permutation, one call ({short[o]})", for_options(whole_permutation, o))
             for o in (ZSTD_1, RAW_1)]
    rows += [Workload(f"read_batch(permutation) vs NumPy gather in memory ({short[RAW_1]})",
                      for_options(batch_vs_numpy, RAW_1))]
    rows += [Workload(f"batches of {args.batch} random ({short[o]})", for_options(batches, o))
             for o in (ZSTD_1, RAW_1)]
    rows += [Workload(f"read_all ({short[o]})", for_options(read_all, o)) for o in (ZSTD_1, ZSTD_256)]
    rows += [Workload(f"iterate ({short[o]})", for_options(iterate, o)) for o in (ZSTD_1, ZSTD_256)]
    rows += [Workload(f"open + read 1 ({args.open_records:,} x 8 B, {short[ZSTD_1]})",
                      open_and_read, per_op=True),
             Workload(f"cold start: new process, import + open + read 1 ({short[ZSTD_1]})",
                      for_options(cold_start, ZSTD_1), per_op=True)]
    return rows


# -- reporting ---------------------------------------------------------------

@dataclass
class Result:
    name: str
    per_op: bool
    count: int
    mm_seconds: list[float]
    ref_seconds: list[float]
    mm: float = field(init=False)  # records/s, or ms per operation
    ref: float = field(init=False)
    speedup: float = field(init=False)  # mmrecord's speed / the reference's

    def __post_init__(self) -> None:
        mm, ref = statistics.median(self.mm_seconds), statistics.median(self.ref_seconds)
        if self.per_op:
            self.mm, self.ref = 1e3 * mm / self.count, 1e3 * ref / self.count
        else:
            self.mm, self.ref = self.count / mm, self.count / ref
        self.speedup = ref / mm

    def show(self, value: float) -> str:
        if self.per_op:
            return f"{value:,.0f} ms" if value >= 100 else f"{value:.3g} ms"
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:.3g}{suffix} rec/s"
        return f"{value:.3g} rec/s"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "none"


def machine_info(args: argparse.Namespace) -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": metadata.version("numba"),
        "array_record": metadata.version("array_record"),
        "mmrecord": mmrecord.__version__,
        "mmrecord_commit": git_commit(),
        "records": args.records,
        "rounds": args.rounds,
    }


def render(info: dict, results: list[Result], data: Data) -> str:
    size = (f", mean {statistics.fmean(map(len, data.records)):,.0f} B"
            if "records" in data.__dict__ else "")
    lines = [
        f"mmrecord {info['mmrecord']} (commit {info['mmrecord_commit']}) vs array_record "
        f"{info['array_record']}, {info['date']}  ",
        f"{info['cpu_model']}, {info['cpus']} CPUs, {info['platform']}; Python {info['python']}, "
        f"numpy {info['numpy']}, numba {info['numba']}  ",
        f"{info['records']:,} text records{size}; {data.args.sample:,} random indices; "
        f"median of {info['rounds']} alternating rounds after a warm-up; warm page cache",
        "",
        "| workload | mmrecord | reference | mmrecord / reference |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r.name} | {r.show(r.mm)} | {r.show(r.ref)} | {r.speedup:.2f}x |" for r in results]
    lines += [
        "",
        "mmrecord / reference is the speed ratio (above 1: mmrecord is faster). mmrecord "
        "writes with `write_many`, reads with `r[i]`, `r[ndarray]`, `read_all()` and "
        "`for rec in r`; the reference writes with `write()` per record, reads with "
        "`seek(i); read()`, `read(list)`, `read_all()` and `read()` after `seek(0)`, and "
        f"`ArrayRecordDataSource(path)[i]`. The reference opens files with `{REF_RANDOM}` "
        "for single random reads and open cost (its fastest settings for those) and with default "
        "options for batch reads, `read_all` and iteration (its fastest for those); mmrecord "
        "always with default options. Each side reads "
        "the file its own writer wrote (same records, checked); open cost uses one file "
        "written by the reference. The `read_batch` row compares against no reference but "
        "the floor: a NumPy fancy-index gather of the same records already in memory.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 5; --quick 2)")
    parser.add_argument("--records", type=int, help=f"dataset size (default {dataset.NUM_RECORDS:,})")
    parser.add_argument("--sample", type=int, help="random indices for single reads (default 20,000)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    parser.add_argument("--open-records", type=int,
                        help="records in the open-cost file (default 1,000,000)")
    parser.add_argument("--open-reps", type=int, help="opens per timed call (default 5)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", metavar="PATTERN",
                        help="run only the rows whose name matches this regex (case-insensitive)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("--json", metavar="OUT", help="also save the results as JSON")
    parser.add_argument("--tmpdir", help="where to write the files (default: the system temp dir)")
    args = parser.parse_args(argv)
    defaults = (dict(rounds=2, records=4_096, sample=2_000, open_records=20_000, open_reps=2)
                if args.quick else
                dict(rounds=5, records=dataset.NUM_RECORDS, sample=20_000, open_records=1_000_000,
                     open_reps=5))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = [w for w in workloads(args) if not args.only or re.search(args.only, w.name, re.I)]
    if args.list or not rows:
        print("\n".join(w.name for w in workloads(args)))
        return
    info = machine_info(args)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="mmrecord-compare-", dir=args.tmpdir) as tmp:
        data = Data(tmp, args)
        for k, workload in enumerate(rows, 1):
            log(f"[{k}/{len(rows)}] {workload.name}")
            with workload.setup(data) as pair:
                mm, ref = measure(pair, args.rounds)
            result = Result(workload.name, workload.per_op, pair.count, mm, ref)
            results.append(result)
            log(f"  mmrecord {result.show(result.mm)}, reference {result.show(result.ref)}, "
                f"{result.speedup:.2f}x")
        table = render(info, results, data)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": [asdict(r) for r in results]}, f, indent=1)


if __name__ == "__main__":
    main()
