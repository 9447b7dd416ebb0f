"""``mmrecord demo``: write a dataset, read it back every way, check it and print the rates."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from typing import Callable

import numpy as np

from . import __version__
from .engine.kernel_cache import cache_dir, watch_compiles
from .reader import ArrayRecordReader
from .writer import ArrayRecordWriter

# Records in the untimed run that compiles or loads the kernels first.
WARM_UP_RECORDS = 600


def _demo_records(count: int, seed: int) -> list[bytes]:
    """Text-like records of 200..2000 bytes: compressible, like real training examples."""
    rng = np.random.default_rng(seed)
    words = [w.encode() for w in (
        "the of and to in is was for on that with as by at from his an were are which this "
        "be or had not first one their its new after but who they has also her two been "
        "other when there all during into school time may years more most only over city "
        "some world would where later up such used many can state about national out known "
        "university united then made").split()]
    vocab = np.array(words, dtype=object)
    sizes = rng.integers(200, 2000, count)
    records = []
    for k, size in enumerate(sizes):
        text = b" ".join(vocab[rng.integers(0, len(vocab), size // 4)])
        records.append(b"%08d " % k + text[: size - 9])
    return records


def _rate(label: str, count: int, seconds: float, nbytes: int | None = None) -> None:
    extra = f", {nbytes / seconds / 1e6:8.1f} MB/s" if nbytes is not None else ""
    print(f"  {label:<34} {count:>8} records in {seconds * 1e3:8.1f} ms"
          f" = {count / seconds:>11,.0f} records/s{extra}")


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


Report = Callable[..., None]


def _quiet(*args, **kwargs) -> None:
    pass


def _exercise(path: str, records: list[bytes], options: str, seed: int, say: Report, rate: Report) -> bool:
    """Write ``records`` to ``path``, read them back every way; True when every read matches."""
    total = sum(map(len, records))

    def write() -> None:
        with ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)

    _, seconds = _timed(write)
    size = os.path.getsize(path)
    say(f"wrote {path} ({size / 1e6:.1f} MB on disk, {total / size:.2f}x compression)")
    rate("write", len(records), seconds, total)

    with ArrayRecordReader(path) as reader:
        say(f"opened: {reader.num_records()} records in {reader.num_chunks} chunks, "
            f"writer options {reader.writer_options_string()!r}")
        got, seconds = _timed(lambda: list(reader))
        rate("sequential (iteration)", len(got), seconds, total)
        ok = got == records

        got, seconds = _timed(reader.read_all)
        rate("read_all", len(got), seconds, total)
        ok &= got == records

        rng = np.random.default_rng(seed + 1)
        picks = rng.integers(0, len(records), min(len(records), 20000)).tolist()
        got, seconds = _timed(lambda: [reader[i] for i in picks])
        rate("random, one at a time (reader[i])", len(picks), seconds)
        ok &= all(got[n] == records[i] for n, i in enumerate(picks))

        perm = rng.permutation(len(records))
        batches = [perm[a:a + 256] for a in range(0, len(perm), 256)]
        got, seconds = _timed(lambda: [reader[b] for b in batches])
        rate("random batches of 256 (reader[idx])", len(perm), seconds)
        flat = [r for batch in got for r in batch]
        ok &= all(flat[n] == records[i] for n, i in enumerate(perm))
    return ok


def demo(args: argparse.Namespace) -> int:
    """Write a dataset with default options, read it back every way, verify it, print rates.

    A small run of the same steps comes first, so that the kernels it needs
    are compiled (on a machine's first run) or loaded from the cache before
    anything is timed; the compilation is reported on its own line.
    """
    records = _demo_records(args.records, args.seed)
    total = sum(map(len, records))
    with tempfile.TemporaryDirectory() as tmp:
        path = args.output or os.path.join(tmp, "demo.array_record")
        print(f"mmrecord {__version__} demo: {len(records)} text records, {total / 1e6:.1f} MB, "
              f"options {args.options!r}")
        sys.stdout.flush()
        watch = watch_compiles()
        watch.take()
        _, seconds = _timed(lambda: _exercise(os.path.join(tmp, "warm-up.array_record"), records[:WARM_UP_RECORDS],
                                              args.options, args.seed, _quiet, _quiet))
        kernels, compiling = watch.take()
        if kernels:
            print(f"kernels: compiled {kernels} in {compiling:.1f} s, once for this machine "
                  f"(cached in {cache_dir()}); the figures below are warm")
        else:
            print(f"kernels: loaded from the cache in {seconds:.2f} s")
        ok = _exercise(path, records, args.options, args.seed, print, _rate)
        digest = hashlib.sha256(b"".join(records)).hexdigest()[:16]
        print(f"verify: {'all records match' if ok else 'MISMATCH'} (sha256 of the data {digest}…)")
        return 0 if ok else 1
