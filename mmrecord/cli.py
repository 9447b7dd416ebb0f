"""The ``mmrecord`` command line: argument parsing and dispatch.

    mmrecord info FILE...            facts: records, chunks, options, bytes, record sizes
    mmrecord cat FILE / head FILE    records as raw bytes, hex, text or JSON Lines
    mmrecord verify FILE...          check every hash and structure; non-zero exit if damaged
    mmrecord convert SRC... -o DEST  TFRecord / JSON Lines / text / ArrayRecord -> ArrayRecord
    mmrecord recover DAMAGED -o NEW  salvage every intact chunk into a new file
    mmrecord repair --to-last-footer FILE   cut an unfinished append off, in place
    mmrecord compact SRC [-o DEST]   rewrite without the dead space appends leave
    mmrecord demo                    write, read back and time a dataset

Errors are one line on standard error and a non-zero exit; ``--debug`` shows
the traceback. Long operations draw a progress line on a terminal only.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from typing import Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .errors import ArrayRecordError
from .progress import Progress

OUTPUT_FORMATS = ("text", "hex", "jsonl", "raw")


def _progress(args: argparse.Namespace, total: int | None, label: str) -> Progress:
    mode = getattr(args, "progress", "auto")
    return Progress(total, label, enabled=None if mode == "auto" else mode == "always")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


# -- info --------------------------------------------------------------------

def _print_info(facts: dict) -> None:
    codec = facts["codec"] or "unknown"
    if facts["level"] is not None:
        codec += f" level {facts['level']}"
    if facts["window_log"] is not None:
        codec += f", window_log {facts['window_log']}"
    ratio = facts["compression_ratio"]
    rows = [
        ("file size", f"{facts['file_size']:,} bytes"),
        ("records", f"{facts['records']:,}" + ("" if facts["records_from"] == "footer"
                                               else f" intact ({facts['records_from']})")),
        ("chunks", f"{facts['chunks']:,}"),
        ("group size", f"{facts['group_size']:,}" if facts["group_size"] else "not uniform / unknown"),
        ("codec", codec),
        ("writer options", facts["writer_options"] or "(not recorded)"),
        ("record bytes", f"{facts['record_bytes']:,} raw -> {facts['stored_bytes']:,} stored in chunks"
                         + (f" ({ratio:.2f}x compression" if ratio else "")
                         + (f"; {facts['file_ratio']:.2f}x counting the whole file)" if ratio and facts["file_ratio"]
                            else ")" if ratio else "")),
    ]
    sizes = facts.get("record_sizes")
    if sizes:
        rows.append(("record sizes", f"min {sizes['min']:,}, median {sizes['median']:,.0f}, "
                                     f"mean {sizes['mean']:,.1f}, p99 {sizes['p99']:,.0f}, max {sizes['max']:,}"))
    rows.append(("health", "damaged: run `mmrecord verify` for the report" if facts["damaged"] else "intact"))
    print(facts["path"])
    for name, value in rows:
        print(f"  {name:<15} {value}")


def _inspect(args: argparse.Namespace, path: str, label: str, run):
    """``run(path, progress)`` under a progress line; None (reported) if the file cannot be read."""
    from .convert import input_size
    from .storage import display_url

    try:
        with _progress(args, input_size(path), label) as bar:
            return run(path, bar.update)
    except OSError as err:
        _error(f"{display_url(path)}: {err.strerror or err}")
        return None


def cmd_info(args: argparse.Namespace) -> int:
    from .inspection import info

    status = 0
    for n, path in enumerate(args.files):
        facts = _inspect(args, path, "info", lambda p, progress: info(p, sizes=not args.no_sizes,
                                                                       progress=progress))
        if facts is None:
            status = 1
            continue
        if args.json:
            print(json.dumps(facts))
        else:
            if n:
                print()
            _print_info(facts)
    return status


# -- verify ------------------------------------------------------------------

def cmd_verify(args: argparse.Namespace) -> int:
    from .inspection import verify

    status = 0
    for path in args.files:
        result = _inspect(args, path, "verify", lambda p, progress: verify(p, decode=not args.no_decode,
                                                                            progress=progress))
        if result is None:
            status = 1
            continue
        if not result["ok"]:
            status = 1
        if args.json:
            print(json.dumps({**result, "damage": [d.as_dict() for d in result["damage"]]}))
            continue
        if result["ok"]:
            print(f"{path}: OK ({result['records']:,} records in {result['chunks']:,} chunks, every hash "
                  "matches" + (", every chunk decodes)" if not args.no_decode else ")"))
            continue
        damage = result["damage"]
        print(f"{path}: DAMAGED ({len(damage)} problem{'s' if len(damage) != 1 else ''}"
              + (f", {result['records_unreadable']:,} records unreadable" if result["records_unreadable"] else "")
              + (f", {result['records_recoverable']:,} of them recoverable"
                 if result["records_recoverable"] else "") + ")")
        for d in damage:
            print(f"  {d.describe()}")
    return status


# -- cat / head --------------------------------------------------------------

def _parse_indices(values: Sequence[str]) -> list[int]:
    out = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                try:
                    out.append(int(part))
                except ValueError:
                    raise ValueError(f"--index takes integers, got {part!r}") from None
    return out


def _parse_range(text: str, n: int) -> range:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"--range takes a:b (or a:b:step), got {text!r}")
    try:
        bounds = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise ValueError(f"--range takes integers, got {text!r}") from None
    return range(*slice(*bounds).indices(n))


def _selected(reader, args: argparse.Namespace, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(index, record)`` pairs the arguments ask for, read in batches."""
    n = len(reader)
    if args.index:
        indices = _parse_indices(args.index)
        for i in indices:
            if not -n <= i < n:
                raise IndexError(f"record index {i} out of range: the file has {n:,} records")
        picked = [i + n if i < 0 else i for i in indices]
        for a in range(0, len(picked), 4096):
            batch = picked[a:a + 4096]
            yield from zip(batch, reader[batch])
        return
    span = _parse_range(args.range, n) if args.range else range(n)
    if limit is not None:
        span = span[:limit]
    if span.step == 1 and len(span) == n:
        yield from enumerate(reader)
        return
    for a in range(0, len(span), 4096):
        batch = span[a:a + 4096]
        yield from zip(batch, reader[np.arange(batch.start, batch.stop, batch.step, dtype=np.int64)])


def _emit(records: Iterable[tuple[int, bytes]], fmt: str) -> None:
    out = sys.stdout.buffer
    for i, record in records:
        if fmt == "raw":
            out.write(record)
        elif fmt == "hex":
            out.write(f"{i}\t{record.hex()}\n".encode())
        elif fmt == "text":
            out.write(record.decode("utf-8", "backslashreplace").encode() + b"\n")
        else:
            try:
                item = {"index": i, "text": record.decode("utf-8")}
            except UnicodeDecodeError:
                item = {"index": i, "base64": base64.b64encode(record).decode()}
            out.write(json.dumps(item, ensure_ascii=False).encode() + b"\n")
    out.flush()


def cmd_cat(args: argparse.Namespace) -> int:
    from .reader import ArrayRecordReader

    if args.index and args.range:
        raise ValueError("give --index or --range, not both")
    with ArrayRecordReader(args.file) as reader:
        _emit(_selected(reader, args, getattr(args, "count", None)), args.format)
    return 0


# -- convert / recover ---------------------------------------------------------

def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert, expand_inputs, input_size

    files = expand_inputs(args.inputs)
    total = sum(map(input_size, files))
    with _progress(args, total, "convert") as bar:
        stats = convert(files, args.output, fmt=args.from_format, options=args.options, shards=args.shards,
                        skip_corrupt=args.skip_corrupt, progress=bar.update)
    if args.json:
        print(json.dumps(stats.as_dict()))
        return 0
    seconds = max(stats.seconds, 1e-9)
    print(f"converted {stats.records:,} records ({_size(stats.record_bytes)}) from {len(files)} file"
          f"{'s' if len(files) != 1 else ''} ({_size(stats.input_bytes)}) into {len(stats.outputs)} file"
          f"{'s' if len(stats.outputs) != 1 else ''} in {stats.seconds:.2f} s: "
          f"{stats.records / seconds:,.0f} records/s, {stats.input_bytes / seconds / 1e6:,.1f} MB/s of input")
    if len(stats.outputs) <= 4:
        for name in stats.outputs:
            print(f"  {name}")
    else:
        print(f"  {stats.outputs[0]} ... {stats.outputs[-1]}")
    if args.skip_corrupt or stats.skipped:
        print(f"skipped {stats.skipped:,} damaged record{'s' if stats.skipped != 1 else ''} or regions "
              f"({stats.skipped_bytes:,} bytes)")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from .recover import recover

    with _progress(args, os.path.getsize(args.damaged), "recover") as bar:
        result = recover(args.damaged, args.output, options=args.options, progress=bar.update)
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    total = f" of {result.total_records:,} (the footer's count)" if result.total_records is not None else ""
    print(f"recovered {result.records_written:,} records{total} from {result.chunks_kept:,} intact chunks "
          f"into {result.destination}")
    print(f"  options        {result.options}")
    if result.indices_exact:
        index_note = {"postscript": "exact (from the footer)", "search": "exact (from the footer, found without "
                      "its postscript)"}.get(result.footer, "exact (from the chunks' record counts)")
    else:
        index_note = f"approximate: {result.indices_note}"
    print(f"  record numbers {index_note}")
    for first, count, new in result.kept:
        old = f"original records {first:,}..{first + count - 1:,}" if first >= 0 else \
            f"{count:,} records of unknown original number"
        print(f"  kept           {old} -> new {new:,}..{new + count - 1:,}")
    lost = result.lost
    if not lost and not result.damage:
        print("  lost           nothing: the file was intact")
    for d in result.damage:
        label = "recovered" if d.recoverable else "lost" if d.records or d.lost_records else "damage"
        print(f"  {label:<14} {d.describe()}")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from .repair import repair_to_last_footer

    result = repair_to_last_footer(args.file)
    if args.json:
        print(json.dumps(result.as_dict()))
    elif result.changed:
        print(f"{result.path}: cut back from {result.size_before:,} to {result.size_after:,} bytes, to its last "
              f"complete version ({result.records:,} records)")
    else:
        print(f"{result.path}: nothing to do, the file opens ({result.records:,} records)")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    from .repair import compact

    from .storage import Location

    before = os.path.getsize(args.source)
    stats = compact(args.source, args.output)
    after = None if Location(stats.outputs[0]).is_remote else os.path.getsize(stats.outputs[0])  # uploaded: not measured
    if args.json:
        print(json.dumps({**stats.as_dict(), "bytes_before": before, "bytes_after": after}))
    else:
        sizes = f"{before:,} -> {after:,} bytes" if after is not None else f"{before:,} bytes"
        print(f"compacted {stats.records:,} records: {sizes} into {stats.outputs[0]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo

    return demo(args)


# -- parsing -----------------------------------------------------------------

def _error(message: str) -> None:
    print(f"mmrecord: error: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    common.add_argument("--progress", choices=("auto", "always", "never"), default=argparse.SUPPRESS,
                        help="progress line on standard error (auto: only on a terminal)")
    parser = argparse.ArgumentParser(prog="mmrecord", description="Read, check, convert and repair ArrayRecord "
                                     "files.", parents=[common])
    parser.add_argument("--version", action="version", version=f"mmrecord {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("info", parents=[common], help="records, chunks, options, bytes and record sizes")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--no-sizes", action="store_true", help="skip the record-size statistics (no decoding)")
    p.set_defaults(run=cmd_info)

    for name, text in (("cat", "print records (all, by --index or --range)"),
                       ("head", "print the first records")):
        p = commands.add_parser(name, parents=[common], help=text)
        p.add_argument("file", metavar="FILE")
        p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="text",
                       help="text (UTF-8, undecodable bytes escaped; default), hex, jsonl (base64 where "
                            "not UTF-8) or raw bytes")
        if name == "cat":
            p.add_argument("--index", "-i", action="append", metavar="I[,J...]",
                           help="records by index (negative counts from the end); repeatable")
            p.add_argument("--range", "-r", metavar="A:B", help="records A to B-1 (Python slice rules)")
        else:
            p.add_argument("-n", "--count", type=int, default=10, help="how many records (default 10)")
            p.set_defaults(index=None, range=None)
        p.set_defaults(run=cmd_cat)

    p = commands.add_parser("verify", parents=[common], help="check every hash, header, footer; exit 1 if damaged")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--no-decode", action="store_true", help="check hashes and structure only, do not decompress")
    p.set_defaults(run=cmd_verify)

    p = commands.add_parser("convert", parents=[common],
                            help="TFRecord, JSON Lines, text lines or ArrayRecord -> ArrayRecord")
    p.add_argument("inputs", nargs="+", metavar="SRC", help="input files; glob patterns are expanded")
    p.add_argument("-o", "--output", required=True, metavar="DEST",
                   help="output file or URL (uploaded when complete); with --shards, data.array_record becomes data-00000-of-00008.array_record "
                        "(or give a template with {shard} and {num_shards})")
    p.add_argument("--from", dest="from_format", choices=("tfrecord", "jsonl", "text", "arrayrecord"),
                   help="input format (default: from each file's name, else its first bytes)")
    p.add_argument("--options", default="group_size:1", help="writer options (default group_size:1)")
    p.add_argument("--shards", type=int, default=1, help="split into N files of contiguous records")
    p.add_argument("--skip-corrupt", action="store_true",
                   help="skip damaged records (TFRecord CRC, bad JSON, damaged chunks) and count them")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=cmd_convert)

    p = commands.add_parser("recover", parents=[common], help="salvage every intact chunk into a new file")
    p.add_argument("damaged", metavar="DAMAGED")
    p.add_argument("-o", "--output", required=True, metavar="NEW", help="the new file, or a URL")
    p.add_argument("--options", default=None,
                   help="writer options of the new file (default: the damaged file's own)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=cmd_recover)

    p = commands.add_parser("repair", parents=[common],
                            help="cut a file whose append was interrupted back to its last complete version")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to-last-footer", action="store_true", required=True,
                   help="truncate after the last postscript that leads to an intact footer (the only repair)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=cmd_repair)

    p = commands.add_parser("compact", parents=[common], help="rewrite a file without the dead space appends leave")
    p.add_argument("source", metavar="SRC")
    p.add_argument("-o", "--output", default=None, metavar="DEST",
                   help="write here, a file or a URL (default: rewrite SRC in place, through a temporary "
                        "file and a rename)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=cmd_compact)

    p = commands.add_parser("demo", parents=[common], help="write a dataset, read it back every way, print rates")
    p.add_argument("--records", type=int, default=100_000, help="how many records (default 100000)")
    p.add_argument("--options", default="", help="writer options (default: the reference's defaults)")
    p.add_argument("--output", help="keep the file here instead of a temporary directory")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_demo)
    return parser


def _log_to_stderr() -> None:
    """Show mmrecord's log lines (first compilation, data-source advice) unless logging is set up already."""
    logger = logging.getLogger("mmrecord")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mmrecord: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _report_compiles() -> None:
    """Say how long this run spent compiling kernels, if it did (the first run on a machine)."""
    from .engine.kernel_cache import cache_dir, watch_compiles

    kernels, seconds = watch_compiles().take()
    if kernels:
        print(f"mmrecord: compiled {kernels} kernels in {seconds:.1f} s, once for this machine "
              f"(cached in {cache_dir()})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _log_to_stderr()
    try:
        return _run(args, debug)
    finally:
        _report_compiles()


def _run(args: argparse.Namespace, debug: bool) -> int:
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ArrayRecordError, OSError, ValueError, IndexError, TypeError) as err:
        if debug:
            raise
        if isinstance(err, OSError) and err.filename is not None and err.strerror:
            _error(f"{err.filename}: {err.strerror}")
        else:
            _error(str(err))
        return 1
    except Exception as err:  # a bug: still one line, unless asked for more
        if debug:
            raise
        _error(f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
