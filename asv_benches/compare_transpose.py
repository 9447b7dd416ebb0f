#!/usr/bin/env python
"""Writing transposed chunks (``transpose:true``): mmrecord against the reference, side by side.

Two datasets of protobuf messages (built here with a fixed seed): 65,536
"documents" of about 1.5 KB (ids, a title, a text body, timestamps, a
packed list of ints, nested authors, tags) and 1,000,000 small "events"
(about 40 bytes: a few varints, a fixed64, a short string). Each workload
writes the same records with mmrecord and with the reference alternately
(A B A B ...) for ``--rounds`` rounds after one untimed warm-up call of
each, and reports the median round; the files are checked to be identical.
The last column is mmrecord's speed over the reference's (above 1: mmrecord
is faster). Progress goes to stderr, the markdown table to stdout.

    python asv_benches/compare_transpose.py              # the full run
    python asv_benches/compare_transpose.py --quick      # small sizes, 2 rounds
    python asv_benches/compare_transpose.py --only 'events.*zstd'
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import struct
import sys
import tempfile
import time

import numpy as np

import mmrecord
from array_record.python import array_record_module as arm

from benchmarks import dataset

CODECS = ("uncompressed", "snappy", "zstd:3", "brotli:6")
GROUP_SIZES = (1, 256)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- records -------------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _delimited(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def documents(n: int, seed: int = 1) -> list[bytes]:
    """Messages of about 1.5 KB: mostly a text body, with a dozen small fields around it."""
    rng = np.random.default_rng(seed)
    bodies = dataset.make_records(n, mean_bytes=1_300, seed=seed)
    ids, stamps = rng.integers(0, 1 << 40, n), rng.integers(1 << 40, 1 << 41, n)
    out = []
    for i in range(n):
        body = bodies[i]
        counts = b"".join(_varint(int(v)) for v in rng.integers(0, 5000, int(rng.integers(0, 12))))
        authors = b"".join(_delimited(7, _field(1, 0) + _varint(int(a)) + _delimited(2, b"author-%d" % a))
                           for a in rng.integers(0, 300, int(rng.integers(1, 4))))
        out.append(b"".join([
            _field(1, 0), _varint(int(ids[i])),
            _delimited(2, body[:40]),
            _delimited(3, body),
            _field(4, 1), struct.pack("<Q", int(stamps[i])),
            _field(5, 5), struct.pack("<f", float(i % 1000) / 7),
            _delimited(6, counts),
            authors,
            _field(8, 0), _varint(i % 3),
            b"".join(_delimited(9, b"tag%d" % t) for t in rng.integers(0, 50, int(rng.integers(0, 4)))),
        ]))
    return out


def events(n: int, seed: int = 2) -> list[bytes]:
    """Messages of about 40 bytes: a user, a kind, a time, a value and sometimes a short label."""
    rng = np.random.default_rng(seed)
    users, kinds = rng.integers(0, 1 << 20, n), rng.integers(0, 12, n)
    times, values = rng.integers(1 << 40, 1 << 41, n), rng.integers(0, 1 << 14, n)
    labels = [b"click", b"view", b"scroll", b"buy", b""]
    out = []
    for i in range(n):
        record = (_field(1, 0) + _varint(int(users[i])) + _field(2, 0) + _varint(int(kinds[i]))
                  + _field(3, 1) + struct.pack("<Q", int(times[i])) + _field(4, 0) + _varint(int(values[i])))
        label = labels[i % 5]
        if label:
            record += _delimited(5, label + b"/" + _varint(int(kinds[i])))
        out.append(record)
    return out


# -- timing ----------------------------------------------------------------------

def write_mm(path: str, options: str, records: list[bytes]) -> None:
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)


def write_ref(path: str, options: str, records: list[bytes]) -> None:
    writer = arm.ArrayRecordWriter(path, options)
    for record in records:
        writer.write(record)
    writer.close()


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(name: str, records: list[bytes], options: str, rounds: int, tmp: str) -> dict:
    ours, theirs = os.path.join(tmp, "mm.array_record"), os.path.join(tmp, "ref.array_record")
    mm_call = lambda: write_mm(ours, options, records)  # noqa: E731
    ref_call = lambda: write_ref(theirs, options, records)  # noqa: E731
    mm_call(), ref_call()  # warm-up (and the kernels' first compile, if any)
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        identical = a.read() == b.read()
    mm, ref = [], []
    for _ in range(rounds):
        mm.append(timed(mm_call))
        ref.append(timed(ref_call))
    total = sum(map(len, records))
    result = dict(name=name, options=options, records=len(records), mb=total / 1e6,
                  mm=statistics.median(mm), ref=statistics.median(ref), identical=identical,
                  size=os.path.getsize(ours))
    log(f"{name:>10} {options:<45} mmrecord {result['mm']:.3f} s  reference {result['ref']:.3f} s"
        f"  identical={identical}")
    return result


def render(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"transposed writing, median of {args.rounds} alternating rounds after a warm-up; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| records | options | MB | mmrecord MB/s | reference MB/s | mmrecord / reference | identical |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r['name']} ({r['records']:,}) | `{r['options']}` | {r['mb']:.1f} | "
                     f"{r['mb'] / r['mm']:.1f} | {r['mb'] / r['ref']:.1f} | {r['ref'] / r['mm']:.2f}x | "
                     f"{'yes' if r['identical'] else 'NO'} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small datasets, 2 rounds")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 3; --quick 2)")
    parser.add_argument("--only", help="regular expression over 'dataset options'")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 3
    args.documents = 4_096 if args.quick else 65_536
    args.events = 50_000 if args.quick else 1_000_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log("making records ...")
    sets = {"documents": documents(args.documents), "events": events(args.events)}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, records in sets.items():
            for group_size in GROUP_SIZES:
                for codec in CODECS:
                    options = f"group_size:{group_size},transpose:true,{codec}"
                    if args.only and not re.search(args.only, f"{name} {options}"):
                        continue
                    results.append(run(name, records, options, args.rounds, tmp))
    print(render(results, args))


if __name__ == "__main__":
    main()
