#!/usr/bin/env python
"""Peak anonymous memory of writing, iterating and batch-reading a ~1 GB file.

For each codec and group size, child processes (one per workload, so no
workload inherits another's heap) each do one thing with a file of about
``--gb`` GB of text records (the ~1.5 KB records of ``benchmarks/dataset.py``,
repeated):

- ``write_many``: one ``write_many`` call over a generator of the records,
  writing the file the reads below read;
- ``write``: a ``write()`` call per record, to a second file;
- ``iterate``: ``for record in reader`` over the whole file;
- ``batches``: ``reader[indices]`` for batches of ``--batch`` indices covering
  the file: a random permutation at group size 1; at larger group sizes,
  blocks of consecutive indices in random order (a random permutation there
  decodes a whole chunk per record).

``read_all`` is left out: it returns every record of the file as one list, so
it holds the whole file in memory by design.

The parent samples the child's ``RssAnon`` (``/proc/PID/status``) every
millisecond. The table shows it when the workload starts (after imports,
opening the reader and making the inputs), its peak during the workload, the
part of it while a writer closes (writing the footer), and the child's ``VmHWM`` (peak resident memory, which also counts file-backed
pages: the shared libraries, and the file's pages mapped from the page cache,
which the kernel can drop). Linux only.

    python asv_benches/memory_bounds.py                      # zstd:3 and uncompressed, group sizes 1 and 256
    python asv_benches/memory_bounds.py --gb 0.1 --codecs zstd:3 --groups 1   # a smoke run
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from itertools import cycle, islice
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from benchmarks import dataset  # noqa: E402

WORKLOADS = ("write_many", "write", "iterate", "batches")
BASE_RECORDS = 4096  # distinct records (~6 MB), repeated to fill the file
SAMPLE_SECONDS = 0.001
READY, CLOSING, DONE = "ready", "closing", "done"  # the child's phases, one line each


# -- reading /proc ------------------------------------------------------------

def status_kib(status: str, field: str) -> int | None:
    """A ``/proc/PID/status`` field in KiB (``RssAnon``, ``VmHWM``...), or None if absent."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    return None


def read_status(pid: int | str = "self") -> str:
    with open(f"/proc/{pid}/status") as f:
        return f.read()


@dataclass
class Peak:
    """The first and the largest of a series of samples."""

    first: int | None = None
    peak: int | None = None

    def add(self, value: int) -> None:
        if self.first is None:
            self.first = value
        if self.peak is None or value > self.peak:
            self.peak = value


# -- the children ---------------------------------------------------------------

def file_records(gb: float, base: list[bytes]) -> int:
    """Records of ``base``, repeated, that make at least ``gb`` GB."""
    mean = sum(map(len, base)) / len(base)
    return math.ceil(gb * 1e9 / mean)


def repeated(base: list[bytes], count: int) -> Iterator[bytes]:
    return islice(cycle(base), count)


def batch_indices(count: int, batch: int, group_size: int, seed: int = dataset.SEED) -> Iterator:
    """The index batches of the ``batches`` workload (see the module docstring)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if group_size == 1:
        order = rng.permutation(count)
        return (order[a:a + batch] for a in range(0, count, batch))
    starts = rng.permutation(np.arange(0, count, batch))
    return (np.arange(a, min(a + batch, count)) for a in starts.tolist())


def child(workload: str, path: str, codec: str, group_size: int, count: int, batch: int) -> None:
    """Do one workload, printing READY when it starts, CLOSING when a writer closes, DONE and a summary."""
    import mmrecord

    options = dataset.writer_options(codec, group_size)
    done = 0
    if workload in ("write_many", "write"):
        base = dataset.make_records(BASE_RECORDS)
        print(READY, flush=True)
        writer = mmrecord.ArrayRecordWriter(path, options)
        if workload == "write_many":
            writer.write_many(repeated(base, count))
        else:
            for record in repeated(base, count):
                writer.write(record)
        print(CLOSING, flush=True)
        writer.close()
        done = count
    else:
        with mmrecord.ArrayRecordReader(path) as reader:
            if workload == "iterate":
                print(READY, flush=True)
                for _ in reader:
                    done += 1
            else:
                batches = list(batch_indices(len(reader), batch, group_size))
                print(READY, flush=True)
                for indices in batches:
                    done += len(reader[indices])
    status = read_status()
    print(DONE, json.dumps({"records": done, "vm_hwm_kib": status_kib(status, "VmHWM")}),
          flush=True)


@dataclass
class Measured:
    codec: str
    group_size: int
    workload: str
    records: int
    start_kib: int  # RssAnon when the workload starts
    peak_kib: int  # its peak during the workload, closing included
    close_peak_kib: int | None  # its peak while a writer closes (footer and postscript)
    vm_hwm_kib: int  # the child's peak resident memory, file pages included
    seconds: float


def measure(workload: str, path: str, codec: str, group_size: int, count: int,
            batch: int) -> Measured:
    """Run one workload in a child process, sampling its RssAnon until it ends."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", workload, path, codec,
         str(group_size), str(count), str(batch)], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    phases = {READY: Peak(), CLOSING: Peak()}
    start = None
    while proc.poll() is None:
        try:
            anon = status_kib(read_status(proc.pid), "RssAnon")
        except OSError:  # the child has just exited
            break
        phase = lines[-1].split()[0] if lines else None
        if phase in phases and anon is not None:
            start = start or time.perf_counter()
            phases[phase].add(anon)
        time.sleep(SAMPLE_SECONDS)
    reader.join()
    if proc.wait() != 0:
        raise RuntimeError(f"{workload} ({codec}, group size {group_size}) failed")
    summary = json.loads(next(l for l in lines if l.startswith(DONE))[len(DONE):])
    if summary["records"] != count:
        raise RuntimeError(f"{workload} did {summary['records']:,} records of {count:,}")
    working, closing = phases[READY], phases[CLOSING]
    return Measured(codec, group_size, workload, summary["records"], working.first,
                    max(working.peak, closing.peak or 0), closing.peak, summary["vm_hwm_kib"],
                    time.perf_counter() - start)


# -- the report -----------------------------------------------------------------

def mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:,.0f} MB"


def render(results: list[Measured], sizes: dict, command: str) -> str:
    versions = f"Python {platform.python_version()}"
    try:
        from importlib import metadata
        versions += ", " + ", ".join(f"{n} {metadata.version(n)}" for n in ("mmrecord", "numpy", "numba"))
    except Exception:  # versions are decoration; the figures stand without them
        pass
    lines = [
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}; {versions}  ",
        f"`{command}`",
        "",
        "| codec | group size | workload | records | file | RssAnon at start | peak RssAnon | "
        "peak - start | peak while closing | VmHWM |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.codec} | {r.group_size} | {r.workload} | {r.records:,} | "
                     f"{sizes[r.codec, r.group_size] / 1e9:.2f} GB | {mb(r.start_kib)} | "
                     f"{mb(r.peak_kib)} | {mb(r.peak_kib - r.start_kib)} | "
                     f"{'-' if r.close_peak_kib is None else mb(r.close_peak_kib)} | "
                     f"{mb(r.vm_hwm_kib)} |")
    lines += ["", "MB are 10^6 bytes. VmHWM counts file-backed pages too (shared libraries, "
              "the file's mapped pages), which are not anonymous memory. read_all is not measured: it holds the whole file by design."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="record bytes per file, GB (default 1)")
    parser.add_argument("--codecs", default="zstd:3,uncompressed")
    parser.add_argument("--groups", default="1,256")
    parser.add_argument("--batch", type=int, default=1024, help="indices per batch (default 1024)")
    parser.add_argument("--tmpdir", help="where to write the files (default: the system temp dir)")
    parser.add_argument("--json", metavar="OUT", help="also save the results as JSON")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        workload, path, codec, group_size, count, batch = args.child
        child(workload, path, codec, int(group_size), int(count), int(batch))
        return
    count = file_records(args.gb, dataset.make_records(BASE_RECORDS))
    results: list[Measured] = []
    sizes: dict[tuple[str, int], int] = {}
    with tempfile.TemporaryDirectory(prefix="mmrecord-memory-", dir=args.tmpdir) as tmp:
        for codec in args.codecs.split(","):
            for group_size in map(int, args.groups.split(",")):
                path = os.path.join(tmp, "file.array_record")
                for workload in WORKLOADS:
                    target = os.path.join(tmp, "written.array_record") if workload == "write" else path
                    result = measure(workload, target, codec, group_size, count, args.batch)
                    if workload == "write_many":
                        sizes[codec, group_size] = os.path.getsize(path)
                    if workload == "write":
                        os.remove(target)
                    results.append(result)
                    print(f"{codec}, group size {group_size}, {workload}: start "
                          f"{mb(result.start_kib)}, peak {mb(result.peak_kib)} "
                          f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)
                os.remove(path)
    print(render(results, sizes, "python " + shlex.join(sys.argv)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)


if __name__ == "__main__":
    main()
