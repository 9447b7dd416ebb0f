#!/usr/bin/env python
"""mmrecord's ArrayRecordDataSource against the reference's, side by side in one process.

Workloads, on one file of 65,536 text records of ~1.5 KB (zstd:3, group size 1;
the records of ``benchmarks/dataset.py``), read warm from the page cache:

- ``ds[i]`` for random indices, one call each;
- ``ds.__getitems__`` with 256 random indices a call;
- a PyTorch ``DataLoader`` epoch (batch_size 256, 2 worker processes,
  shuffle): ``mmrecord.torch.ArrayRecordDataset`` against plain map-style
  Datasets wrapping the reference's data source (one with ``__getitem__``
  only, one that also passes ``__getitems__`` through). Skipped without torch.

mmrecord and the reference run alternately (A B A B ...) for ``--rounds``
rounds after one untimed warm-up each; the table shows the median round and
mmrecord's speed over the reference's (above 1: mmrecord is faster).

    python asv_benches/compare_data_source.py            # the full run, a few minutes
    python asv_benches/compare_data_source.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Callable


import mmrecord
from array_record.python import array_record_data_source as ards

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import dataset  # noqa: E402

OPTIONS = dataset.writer_options("zstd:3", 1)

try:
    import torch
    from torch.utils.data import DataLoader, Dataset
except ImportError:  # the DataLoader rows need torch
    torch = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if torch is not None:
    from mmrecord.torch import ArrayRecordDataset

    class ReferenceDataset(Dataset):
        """The plain way: a map-style Dataset whose ``__getitem__`` asks the reference data source."""

        def __init__(self, path: str) -> None:
            self.source = ards.ArrayRecordDataSource(path)

        def __len__(self) -> int:
            return len(self.source)

        def __getitem__(self, index: int) -> bytes:
            return self.source[index]

    class ReferenceBatchDataset(ReferenceDataset):
        """The same, passing DataLoader's batched fetch to the reference's ``__getitems__``."""

        def __getitems__(self, indices: list[int]) -> list[bytes]:
            return list(self.source.__getitems__(indices))


@dataclass
class Row:
    name: str
    count: int  # records per call
    mm: list[float]
    ref: list[float]
    unit: str = "rec/s"

    def rate(self, seconds: list[float]) -> float:
        return self.count / statistics.median(seconds)

    def show(self, seconds: list[float]) -> str:
        value = self.rate(seconds)
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:.3g}{suffix} {self.unit}"
        return f"{value:.3g} {self.unit}"


def timed(call: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(mm: Callable[[], object], ref: Callable[[], object], rounds: int) -> tuple[list[float], list[float]]:
    timed(mm)
    timed(ref)
    mm_s, ref_s = [], []
    for _ in range(rounds):
        mm_s.append(timed(mm))
        ref_s.append(timed(ref))
    return mm_s, ref_s


def epoch(loader) -> int:
    n = 0
    for batch in loader:
        n += len(batch)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=dataset.NUM_RECORDS)
    parser.add_argument("--sample", type=int, default=20_000, help="random ds[i] calls a round")
    parser.add_argument("--batches", type=int, default=64, help="__getitems__ calls of 256 a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.records, args.sample, args.batches, args.rounds = 8192, 2000, 8, 2

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.array_record")
        log(f"writing {args.records:,} records with {OPTIONS!r}")
        records = dataset.make_records(args.records)
        with mmrecord.ArrayRecordWriter(path, OPTIONS) as writer:
            writer.write_many(records)
        ours = mmrecord.ArrayRecordDataSource(path)
        theirs = ards.ArrayRecordDataSource(path)
        sample = dataset.random_indices(args.records, args.sample).tolist()
        batches = [dataset.random_indices(args.records, 256, seed=dataset.SEED + 10 + b).tolist()
                   for b in range(args.batches)]
        assert [ours[i] for i in sample[:500]] == [theirs[i] for i in sample[:500]]
        assert ours.__getitems__(batches[0]) == list(theirs.__getitems__(batches[0]))

        log("ds[i]")

        def single(ds):
            def run() -> None:
                for i in sample:
                    ds[i]
            return run

        rows.append(Row("random `ds[i]` (one record a call)", len(sample),
                        *measure(single(ours), single(theirs), args.rounds)))

        log("__getitems__ with 256 indices")

        def batched(ds):
            def run() -> None:
                for batch in batches:
                    ds.__getitems__(batch)
            return run

        rows.append(Row("`ds.__getitems__` of 256 random indices", 256 * len(batches),
                        *measure(batched(ours), batched(theirs), args.rounds)))

        if torch is None:
            log("torch is not installed: no DataLoader rows")
        else:
            def loader(data) -> DataLoader:
                return DataLoader(data, batch_size=256, shuffle=True, num_workers=args.workers,
                                  persistent_workers=True, generator=torch.Generator().manual_seed(0))

            mm_loader = loader(ArrayRecordDataset(path))
            for name, reference in (("plain `__getitem__` Dataset", ReferenceDataset(path)),
                                    ("Dataset passing `__getitems__` through", ReferenceBatchDataset(path))):
                log(f"DataLoader epoch vs {name}")
                ref_loader = loader(reference)
                assert epoch(mm_loader) == epoch(ref_loader) == args.records
                rows.append(Row(f"DataLoader epoch, {args.workers} workers, batch 256, shuffle "
                                f"(reference: {name})", args.records,
                                *measure(lambda: epoch(mm_loader), lambda: epoch(ref_loader), args.rounds)))
                del ref_loader
            del mm_loader

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in
                         ("numpy", "numba", "array-record", *(("torch",) if torch is not None else ()))
                         if _installed(name))
    print(f"\n{os.cpu_count()} cores, Python {platform.python_version()}, {versions}; "
          f"{args.records:,} records of ~{dataset.MEAN_RECORD_BYTES} B ({OPTIONS}); "
          f"median of {args.rounds} rounds\n")
    print("| workload | mmrecord | reference | ratio |")
    print("|---|---:|---:|---:|")
    for row in rows:
        ratio = statistics.median(row.ref) / statistics.median(row.mm)
        print(f"| {row.name} | {row.show(row.mm)} | {row.show(row.ref)} | {ratio:.2f}x |")


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


if __name__ == "__main__":
    main()
