"""Damage ArrayRecord files on purpose and read them every way: exact records or an ``ArrayRecordError``.

Each case takes one file of a fixed corpus (every codec, group sizes 1, 7 and
256, padded and unpadded), damages it (byte flips, truncation, zeroed and
random ranges, whole 64 KiB blocks copied, swapped, inserted and deleted, a
postscript rewritten with a stale footer offset, hits on chunk, block, footer
and postscript headers) and checks:

- every read path (``r[i]``, ``read_batch``, ``r[list]``, slices, the
  ``read()`` cursor, iteration, ``read_all``, the data source), with
  ``verify_checksums`` on and off, returns the original records or raises
  ``ArrayRecordError``. With checksums off a chunk's bytes are not hashed,
  so a damaged record may come back as it is, but never with another
  record's length (which is what a misplaced chunk would give);
- ``verify`` reports damage whenever a checked read fails or would be wrong;
- ``recover`` writes only original records, and those it numbers carry their
  original numbers.

Cases are derived from ``(seed, case number)``, so any case can be replayed.
They run in worker processes: a worker that dies is a crash, one that takes
longer than ``--timeout`` seconds a hang. The full run (about 3 minutes on
two cores)::

    python -m tests.fuzz_damage --cases 10000 --seed 1

prints the counts; ``--case N`` replays one case in this process.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import wait

import numpy as np

CODECS = ("uncompressed", "snappy", "brotli:1", "zstd:1")
GROUPS = (1, 7, 256)
PADS = (False, True)
BLOCK = 1 << 16
#: What each count means; all but ``unverified_changes`` are failures.
COUNTS = {
    "cases": "damaged files checked",
    "wrong_bytes": "records read with checksums on that are not the original",
    "wrong_length": "records read with checksums off whose length is not the original's",
    "unverified_changes": "records read with checksums off with the original's length but other bytes "
                          "(expected: their bytes are not hashed)",
    "verify_missed": "files verify calls intact although a checked read fails or is wrong",
    "invented_records": "records recover wrote that are no record of the original",
    "wrong_exact_indices": "records recover numbered with an original number that is not theirs",
    "crashes": "exceptions other than ArrayRecordError, or a worker that died",
    "hangs": "cases that took longer than the timeout",
}
FAILURES = [name for name in COUNTS if name not in ("cases", "unverified_changes")]


# -- the corpus ----------------------------------------------------------------

@dataclass(frozen=True)
class Original:
    """One corpus file: its options, bytes, records and where its structures lie."""

    options: str
    data: bytes
    records: list[bytes]
    chunk_begins: list[int]
    footer_at: int


def corpus_options() -> list[str]:
    return [f"group_size:{g},{codec},pad_to_block_boundary:{str(pad).lower()}"
            for codec in CODECS for g in GROUPS for pad in PADS]


def corpus_records(group: int, seed: int) -> list[bytes]:
    """Records of distinct sizes whose chunks all differ in decoded size.

    A chunk moved whole to where another belonged is told apart by its
    record count and decoded size (the footer has no hash of it): records
    of equal shape swapped whole are beyond any reader, so the corpus has none.
    """
    rng = np.random.default_rng(seed)
    count, top = {1: (40, 3000), 7: (90, 3000), 256: (600, 1200)}[group]
    while True:
        sizes = rng.choice(top, count, replace=False)
        if group == 1:
            sizes[rng.choice(count, 2, replace=False)] = [70_001, 140_003]  # chunks over several blocks
        sums = [int(sizes[a:a + group].sum()) for a in range(0, count, group)]
        if len(set(sums)) == len(sums):
            break
    letters = np.frombuffer(b"abcdefgh \n", np.uint8)
    return [letters[rng.integers(0, len(letters), int(n))].tobytes() if k % 3 else rng.bytes(int(n))
            for k, n in enumerate(sizes)]


def build_corpus(directory: str) -> dict[str, Original]:
    import mmrecord

    out = {}
    for n, options in enumerate(corpus_options()):
        group = int(options.split(",")[0].split(":")[1])
        records = corpus_records(group, n)
        path = os.path.join(directory, f"orig{n}.array_record")
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)
        with mmrecord.ArrayRecordReader(path) as reader:
            begins, footer_at = reader._index.offsets.tolist(), reader._footer_offset
        with open(path, "rb") as f:
            out[options] = Original(options, f.read(), records, begins, footer_at)
    return out


# -- damage ----------------------------------------------------------------------

def _postscript_block(at: int, footer_at: int) -> bytes:
    """A valid postscript chunk at file position ``at`` giving ``footer_at``, padded to its block's end."""
    from mmrecord.chunk import SIMPLE, encode_simple_chunks
    from mmrecord.codecs import get_codec
    from mmrecord.engine.framing import lay_out_chunks
    from mmrecord.layout import POSTSCRIPT_COPIES, encode_postscript

    chunks = encode_simple_chunks([encode_postscript(footer_at)] * POSTSCRIPT_COPIES, POSTSCRIPT_COPIES,
                                  get_codec("uncompressed"), None, None)
    args = (at, chunks.piece_at, chunks.piece_size, chunks.chunk_pieces, chunks.num_records, chunks.decoded_size,
            SIMPLE, True)
    _, end = lay_out_chunks(*args, np.empty(0, np.uint8))  # how much room it takes
    out = np.empty(end - at, np.uint8)
    lay_out_chunks(*args, out)
    return out.tobytes()


def damage(buf: bytearray, original: Original, rng: np.random.Generator) -> str:
    """Damage ``buf`` in place one way, chosen by ``rng``; returns what was done."""
    size = len(buf)
    if not size:
        return "nothing (the file is empty)"
    blocks = max(1, size // BLOCK)
    kind = rng.choice(["flip", "flip", "zero", "random", "truncate", "block_copy", "block_swap",
                       "block_insert", "block_delete", "chunk_header", "block_header", "footer", "postscript",
                       "stale_footer_offset"])
    if kind == "flip":
        at = int(rng.integers(0, size))
        buf[at] ^= int(rng.integers(1, 256))
        return f"flip byte {at}"
    if kind in ("zero", "random"):
        at, length = int(rng.integers(0, size)), int(rng.integers(1, 70_000))
        length = min(length, size - at)
        buf[at:at + length] = bytes(length) if kind == "zero" else rng.bytes(length)
        return f"{kind} bytes {at}..{at + length}"
    if kind == "truncate":
        at = int(rng.integers(0, blocks + 1)) * BLOCK + int(rng.choice([0, 0, -1, 1, 24, 25, 40,
                                                                          int(rng.integers(-BLOCK, BLOCK))]))
        at = min(max(at, 0), size)
        del buf[at:]
        return f"truncate at {at}"
    if kind in ("block_copy", "block_swap"):
        i, j = (int(b) for b in rng.choice(blocks, 2, replace=blocks < 2))
        a, b = bytes(buf[i * BLOCK:(i + 1) * BLOCK]), bytes(buf[j * BLOCK:(j + 1) * BLOCK])
        buf[j * BLOCK:(j + 1) * BLOCK] = a
        if kind == "block_swap":
            buf[i * BLOCK:(i + 1) * BLOCK] = b
        return f"{kind} {i} -> {j}"
    if kind == "block_insert":
        j = int(rng.integers(0, blocks + 1))
        how = rng.choice(["copy", "zeros", "random"])
        i = int(rng.integers(0, blocks))
        block = bytes(buf[i * BLOCK:(i + 1) * BLOCK]) if how == "copy" else bytes(BLOCK) if how == "zeros" \
            else rng.bytes(BLOCK)
        buf[j * BLOCK:j * BLOCK] = block
        return f"block_insert {how}" + (f" of {i}" if how == "copy" else "") + f" at {j}"
    if kind == "block_delete":
        j = int(rng.integers(0, blocks))
        del buf[j * BLOCK:(j + 1) * BLOCK]
        return f"block_delete {j}"
    if kind == "chunk_header":
        at = min(int(rng.choice(original.chunk_begins)) + int(rng.integers(0, 40)), size - 1)
        buf[at] ^= int(rng.integers(1, 256))
        return f"chunk header flip at {at}"
    if kind == "block_header":
        at = min(int(rng.integers(0, blocks)) * BLOCK + int(rng.integers(0, 24)), size - 1)
        buf[at] ^= int(rng.integers(1, 256))
        return f"block header flip at {at}"
    if kind == "footer":
        at = original.footer_at + int(rng.integers(0, 200))
        if rng.random() < 0.5:
            at = original.footer_at - original.footer_at % BLOCK + int(rng.integers(0, 24))  # its block header
        buf[min(at, size - 1)] ^= int(rng.integers(1, 256))
        return f"footer flip at {at}"
    if kind == "postscript":
        at = max(0, size - BLOCK + int(rng.integers(0, 140)))
        buf[min(at, size - 1)] ^= int(rng.integers(1, 256))
        return f"postscript flip at {at}"
    target = int(rng.choice([original.footer_at + BLOCK, original.footer_at - BLOCK, 64,
                             int(rng.choice(original.chunk_begins)), int(rng.integers(0, size))]))
    at = max(0, size - size % BLOCK - BLOCK) if size % BLOCK else size - BLOCK
    buf[at:] = _postscript_block(at, target)
    return f"postscript rewritten to give footer offset {target}"


def make_case(originals: dict[str, Original], seed: int, case: int) -> tuple[str, bytes, str]:
    """Case ``case`` of a run: ``(options, damaged bytes, what was done)``."""
    rng = np.random.default_rng([seed, case])
    options = corpus_options()[int(rng.integers(0, len(originals)))]
    original = originals[options]
    buf = bytearray(original.data)
    done = [damage(buf, original, rng) for _ in range(1 if rng.random() < 0.8 else 2)]
    return options, bytes(buf), "; ".join(done)


# -- checks ----------------------------------------------------------------------

def _read_ways(path: str, verify: bool, rng: np.random.Generator) -> dict[str, dict]:
    """Each read path's records ``{index: bytes}`` (as far as it got) after opening ``path``."""
    import mmrecord

    options = "" if verify else "verify_checksums:false"
    reader = mmrecord.ArrayRecordReader(path, options)  # ArrayRecordError: nothing to compare
    n = len(reader)
    order = rng.permutation(n)
    out: dict[str, dict] = {}


    def batch():
        values, offsets = reader.read_batch(order)
        return zip(order.tolist(), (values[offsets[k]:offsets[k + 1]].tobytes() for k in range(n)))

    def cursor():
        reader.seek(0)
        for i in range(n):
            yield i, reader.read()

    def slices():
        for a in sorted(rng.integers(0, n + 1, 6).tolist())[::2]:
            b = min(n, a + int(rng.integers(1, 300)))
            yield from zip(range(a, b), reader[a:b])

    source = mmrecord.ArrayRecordDataSource([path], {"verify_checksums": "true" if verify else "false"})
    ways = {
        "r[i]": lambda: ((i, reader[i]) for i in range(n)),
        "read_batch": batch,
        "r[list]": lambda: zip(order.tolist(), reader[order]),
        "slices": slices,
        "cursor": cursor,
        "iteration": lambda: enumerate(reader),
        "read_all": lambda: enumerate(reader.read_all()),
        "ds[i]": lambda: ((i, source[i]) for i in order[:50].tolist()),
        "ds.__getitems__": lambda: zip(order.tolist(), source.__getitems__(order)),
    }
    for name, way in ways.items():
        got = out[name] = {}
        try:
            for i, record in way():
                got[i] = record
        except mmrecord.errors.ArrayRecordError:
            pass  # the records before the error were compared
    reader.close()
    return out


def check_case(originals: dict[str, Original], seed: int, case: int, directory: str) -> tuple[Counter, list[str]]:
    """Run case ``case``; returns its counts and what went wrong, in words."""
    import mmrecord
    from mmrecord.inspection import verify
    from mmrecord.recover import recover

    options, data, what = make_case(originals, seed, case)
    records = originals[options].records
    counts: Counter = Counter(cases=1)
    notes: list[str] = []
    path = os.path.join(directory, f"case{case}.array_record")
    with open(path, "wb") as f:
        f.write(data)
    rng = np.random.default_rng([seed, case, 1])
    checked_reads_ok = True
    for checked in (True, False):
        try:
            ways = _read_ways(path, checked, rng)
        except mmrecord.errors.ArrayRecordError:
            checked_reads_ok = checked_reads_ok and not checked
            continue
        for name, got in ways.items():
            complete = len(got) == len(records) or name in ("ds[i]", "slices")
            if checked and not complete:
                checked_reads_ok = False
            for i, record in got.items():
                right = i < len(records) and record == records[i]
                if right:
                    continue
                if checked:
                    checked_reads_ok = False
                    counts["wrong_bytes"] += 1
                    notes.append(f"{name}: a record wrong with checksums on (first: {i})")
                elif i < len(records) and len(record) == len(records[i]):
                    counts["unverified_changes"] += 1
                else:
                    counts["wrong_length"] += 1
                    notes.append(f"{name}: a record of another length with checksums off")
    report = verify(path)
    if report["ok"] and not checked_reads_ok:
        counts["verify_missed"] += 1
        notes.append("verify says intact")
    out = path + ".recovered"
    result = recover(path, out)
    with mmrecord.ArrayRecordReader(out) as reader:
        saved = reader.read_all()
    os.remove(out)
    known = set(records)
    for first, count, new in result.kept:
        for k in range(count):
            record = saved[new + k]
            if record not in known:
                counts["invented_records"] += 1
                notes.append("recover wrote a record that is not an original")
            elif first >= 0 and (first + k >= len(records) or records[first + k] != record):
                counts["wrong_exact_indices"] += 1
                notes.append("recover numbered a record with an original number not its own")
    if result.indices_exact and any(first < 0 for first, _, _ in result.kept):
        counts["wrong_exact_indices"] += 1
        notes.append("recover claims exact numbers for unnumbered records")
    os.remove(path)
    return counts, [f"case {case} ({options}; {what}): {note}" + (f" (and {times - 1} more)" if times > 1 else "")
                    for note, times in Counter(notes).items()]


# -- running cases in worker processes ---------------------------------------------

def _worker(connection, corpus_dir: str, seed: int) -> None:
    """Run the cases the parent sends, one at a time; report each one's counts and notes."""
    logging.getLogger("mmrecord").setLevel(logging.ERROR)  # no group-size advice for every damaged file
    originals = _load_corpus(corpus_dir)
    directory = tempfile.mkdtemp(prefix="fuzz-worker-")
    try:
        while True:
            case = connection.recv()
            if case is None:
                return
            try:
                counts, notes = check_case(originals, seed, case, directory)
            except Exception:  # anything but a file error is a failure to report, not to die of
                counts = Counter(cases=1, crashes=1)
                notes = [f"case {case}: {traceback.format_exc(limit=6)}"]
            connection.send((case, dict(counts), notes))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _save_corpus(originals: dict[str, Original], directory: str) -> None:
    import pickle

    with open(os.path.join(directory, "corpus.pickle"), "wb") as f:
        pickle.dump(originals, f)


def _load_corpus(directory: str) -> dict[str, Original]:
    import pickle

    with open(os.path.join(directory, "corpus.pickle"), "rb") as f:
        return pickle.load(f)


def run(cases: int, seed: int, workers: int = 2, timeout: float = 120.0, first: int = 0,
        log=None) -> tuple[Counter, list[str]]:
    """Run cases ``first`` … ``first + cases - 1`` on ``workers`` processes; returns the counts and failures."""
    context = multiprocessing.get_context("spawn")
    totals: Counter = Counter({name: 0 for name in COUNTS})
    failures: list[str] = []
    corpus_dir = tempfile.mkdtemp(prefix="fuzz-corpus-")
    try:
        _save_corpus(build_corpus(corpus_dir), corpus_dir)
        todo = list(range(first, first + cases))[::-1]
        running: dict = {}  # connection -> (process, case, started)

        def start() -> None:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, corpus_dir, seed), daemon=True)
            process.start()
            child.close()
            running[parent] = [process, None, 0.0]
            give(parent)

        def give(connection) -> None:
            if todo:
                case = todo.pop()
                running[connection][1:] = [case, time.monotonic()]
                connection.send(case)
            else:
                connection.send(None)
                running.pop(connection)[0].join()

        for _ in range(min(workers, cases)):
            start()
        done = 0
        while running:
            for connection in wait(list(running), timeout=1.0):
                process, case, _ = running[connection]
                try:
                    _, counts, notes = connection.recv()
                except (EOFError, OSError):
                    counts, notes = {"cases": 1, "crashes": 1}, [f"case {case}: the worker died "
                                                                 f"(exit code {process.exitcode})"]
                    running.pop(connection)
                    process.join()
                    start()
                else:
                    give(connection)
                totals.update(counts)
                failures.extend(notes)
                done += 1
                if log is not None and done % 500 == 0:
                    log(f"{done} cases, {sum(totals[name] for name in FAILURES)} failures")
            now = time.monotonic()
            for connection, (process, case, started) in list(running.items()):
                if case is not None and now - started > timeout:
                    process.kill()
                    process.join()
                    running.pop(connection)
                    totals.update(cases=1, hangs=1)
                    failures.append(f"case {case}: no answer in {timeout:.0f} s")
                    start()
    finally:
        shutil.rmtree(corpus_dir, ignore_errors=True)
    return totals, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="number of the first case")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a case may take")
    parser.add_argument("--case", type=int, help="replay this one case here and print what it does")
    args = parser.parse_args(argv)
    if args.case is not None:
        directory = tempfile.mkdtemp(prefix="fuzz-case-")
        try:
            originals = build_corpus(directory)
            print(make_case(originals, args.seed, args.case)[::2])
            counts, notes = check_case(originals, args.seed, args.case, directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        print(dict(counts), *notes, sep="\n")
        return 1 if any(counts[name] for name in FAILURES) else 0
    started = time.monotonic()
    totals, failures = run(args.cases, args.seed, args.workers, args.timeout, args.first,
                           log=lambda text: print(text, file=sys.stderr, flush=True))
    for note in failures[:50]:
        print(note)
    print(f"seed {args.seed}, cases {args.first}..{args.first + args.cases - 1}, "
          f"{time.monotonic() - started:.0f} s on {args.workers} workers")
    for name, meaning in COUNTS.items():
        print(f"{name:22s} {totals[name]:7d}  {meaning}")
    return 1 if any(totals[name] for name in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
