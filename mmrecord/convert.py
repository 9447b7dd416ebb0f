"""Convert TFRecord, JSON Lines, text lines or ArrayRecord files into ArrayRecord files.

    >>> from mmrecord.convert import convert
    >>> convert(["train-*.tfrecord.gz"], "train.array_record", options="group_size:1", shards=8)

writes ``train-00000-of-00008.array_record`` ... ``train-00007-of-00008.array_record``.
Records keep their order: shard ``i`` holds the ``i``-th contiguous run of
the input records, so the shards read one after the other give the input back.

Input formats (``fmt``, or recognised from the file name, else from the first
bytes): ``tfrecord`` (uncompressed, GZIP or ZLIB; every length and data CRC
checked), ``jsonl`` (each non-blank line, checked to be JSON, becomes one
record byte for byte), ``text`` (each line without its line ending), and
``arrayrecord`` (to re-group or re-compress). ``.gz`` text and JSON Lines are
read through gzip.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, Sequence

from .errors import ArrayRecordError, CorruptRecordError
from .reader import ArrayRecordReader
from .storage import Location, display_url, expand_pattern, is_url
from .tfrecord import TFRecordReader, sniff_compression
from .writer import ArrayRecordWriter

FORMATS = ("tfrecord", "jsonl", "text", "arrayrecord")
# The first 64 bytes of every Riegeli file: block header and signature chunk (FORMAT.md §2.4a).
RIEGELI_SIGNATURE = bytes.fromhex(
    "83af70d10d884a3f00000000000000004000000000000000"
    "91bac23c9287e1a90000000000000000e19f13c0e9b1c372"
    "73000000000000000000000000000000")
_SHARD_DIGITS = 5


class ConvertError(ArrayRecordError):
    """An input that cannot be converted: unknown format, damaged record, bad line."""


def format_from_name(path: str) -> str | None:
    """The input format a file name says (``train.tfrecord-00001-of-00010``, ``a.jsonl.gz``), or None."""
    name = os.path.basename(path).lower()
    bare = re.sub(r"\.(gz|gzip|zlib|zz)$", "", name)
    if ".array_record" in name or ".arrayrecord" in name:
        return "arrayrecord"
    if ".tfrecord" in name or ".tfrec" in name:
        return "tfrecord"
    if bare.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if bare.endswith((".txt", ".text")):
        return "text"
    return None


def detect_format(path: str) -> str:
    """The input format of ``path``: from its name, else from its first bytes (local files)."""
    fmt = format_from_name(path)
    if fmt is not None:
        return fmt
    if is_url(path):
        raise ConvertError(f"cannot tell the format of {display_url(path)} from its name: name it with --from")
    with open(path, "rb") as f:
        head = f.read(64)
    if head == RIEGELI_SIGNATURE:
        return "arrayrecord"
    compression = sniff_compression(head)
    if compression == "":
        return "tfrecord"
    if compression == "GZIP":
        with gzip.open(path, "rb") as f:
            try:
                inner = f.read(64)
            except (OSError, EOFError):
                inner = b""
        if sniff_compression(inner) == "":
            return "tfrecord"
    raise ConvertError(f"cannot tell the format of {path}: name it with --from "
                       f"({', '.join(FORMATS)})")


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Every file the patterns name, each pattern's matches sorted; a pattern matching nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        if is_url(pattern) and not pattern.startswith("file://"):
            # An object by URL (ArrayRecord inputs are read by range); patterns listed by its filesystem.
            if glob.has_magic(pattern):
                matches = [location.path for location, _, _ in expand_pattern(Location(pattern))]
                if not matches:
                    raise ConvertError(f"no object matches {display_url(pattern)}")
                files.extend(matches)
            else:
                files.append(pattern)
        elif glob.has_magic(pattern):
            matches = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
            if not matches:
                raise ConvertError(f"no file matches {pattern}")
            files.extend(matches)
        else:
            if not os.path.isfile(pattern):
                raise ConvertError(f"no such file: {pattern}")
            files.append(pattern)
    return files


def shard_names(destination: str, shards: int) -> list[str]:
    """Output names: ``data.array_record`` -> ``data-00000-of-00008.array_record`` ...

    A destination with ``{shard}`` / ``{num_shards}`` fields is formatted
    instead, e.g. ``out/train_{shard:03d}.array_record``.
    """
    if "{" in destination:
        names = [destination.format(shard=i, num_shards=shards) for i in range(shards)]
        if len(set(names)) != shards:
            raise ConvertError(f"the output template {destination!r} does not give each shard its own name")
        return names
    if shards == 1:
        return [destination]
    stem, suffix = destination, ""
    for ending in (".array_record", ".arrayrecord"):
        if destination.endswith(ending):
            stem, suffix = destination[: -len(ending)], ending
    return [f"{stem}-{i:0{_SHARD_DIGITS}d}-of-{shards:0{_SHARD_DIGITS}d}{suffix}" for i in range(shards)]


@dataclass
class Stats:
    """What a conversion read and wrote."""

    records: int = 0
    record_bytes: int = 0
    input_bytes: int = 0  # size of the input files
    skipped: int = 0  # damaged records or regions passed over (with skip_corrupt)
    skipped_bytes: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def text_records(stream: BinaryIO) -> Iterator[bytes]:
    """Each line of a binary stream without its line ending (``\n`` or ``\r\n``)."""
    for line in iter(stream.readline, b""):
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        yield line


def jsonl_records(lines: Iterator[bytes], name: str, skip_corrupt: bool, stats: Stats) -> Iterator[bytes]:
    """The non-blank lines, each checked to be one JSON value; a bad one raises or is skipped and counted."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as err:
            if not skip_corrupt:
                raise ConvertError(f"{name} line {number}: not valid JSON ({err})") from None
            stats.skipped += 1
            stats.skipped_bytes += len(line)
            continue
        yield line


class _Input:
    """One input file as an iterator of records, with its read position for progress."""

    def __init__(self, path: str, fmt: str, skip_corrupt: bool, stats: Stats) -> None:
        self.path, self.fmt, self.skip_corrupt, self.stats = path, fmt, skip_corrupt, stats
        self.size = input_size(path)
        self._position: Callable[[], int] = lambda: 0

    def position(self) -> int:
        return self._position()

    def records(self) -> Iterator[bytes]:
        return getattr(self, "_" + self.fmt)()

    def _tfrecord(self) -> Iterator[bytes]:
        reader = TFRecordReader(self.path, "auto", verify=True, skip_corrupt=self.skip_corrupt)
        self._position = reader.raw_position
        try:
            yield from reader
        finally:
            self.stats.skipped += reader.skipped
            self.stats.skipped_bytes += reader.skipped_bytes

    def _open_lines(self) -> tuple[BinaryIO, BinaryIO]:
        raw = open(self.path, "rb")
        head = raw.peek(2)[:2]
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if head == b"\x1f\x8b" else raw
        self._position = raw.tell
        return raw, stream

    def _lines(self) -> Iterator[bytes]:
        raw, stream = self._open_lines()
        try:
            yield from text_records(stream)
        except (EOFError, OSError) as err:
            raise ConvertError(f"{self.path}: compressed input is damaged: {err}") from None
        finally:
            if stream is not raw:
                stream.close()
            raw.close()

    def _text(self) -> Iterator[bytes]:
        return self._lines()

    def _jsonl(self) -> Iterator[bytes]:
        return jsonl_records(self._lines(), self.path, self.skip_corrupt, self.stats)

    def _arrayrecord(self) -> Iterator[bytes]:
        if self.skip_corrupt:
            yield from self._arrayrecord_salvage()
            return
        with ArrayRecordReader(self.path) as reader:
            total = max(1, len(reader))
            done = 0
            self._position = lambda: self.size * done // total
            for record in reader:
                done += 1
                yield record

    def _arrayrecord_salvage(self) -> Iterator[bytes]:
        """The intact records of a possibly damaged ArrayRecord file (as ``recover`` finds them)."""
        from .survey import survey  # only needed here

        with survey(self.path) as s:
            c = s.chunks
            for k in range(len(c)):
                self._position = lambda k=k: int(c.limit[k]) if len(c) else 0
                try:
                    chunk = s.read_chunk(k)
                except ArrayRecordError:
                    self.stats.skipped += 1
                    self.stats.skipped_bytes += max(0, int(c.decoded_size[k]))
                    continue
                for i in range(chunk.num_records):
                    yield chunk.record(i)


def input_size(path: str) -> int:
    """The size of an input file, or of an object by URL (a metadata request)."""
    if is_url(path) and not path.startswith("file://"):
        fs, inner = Location(path).resolve()
        return int(fs.size(inner))
    return os.path.getsize(path)


def _inputs(files: Sequence[str], fmt: str | None, skip_corrupt: bool, stats: Stats) -> list[_Input]:
    if fmt is not None and fmt not in FORMATS:
        raise ConvertError(f"unknown input format {fmt!r}; formats: {', '.join(FORMATS)}")
    return [_Input(path, fmt or detect_format(path), skip_corrupt, stats) for path in files]


def count_records(files: Sequence[str], fmt: str | None = None, skip_corrupt: bool = False) -> int:
    """How many records the inputs hold (a full read, except for ArrayRecord files)."""
    total = 0
    for item in _inputs(files, fmt, skip_corrupt, Stats()):
        if item.fmt == "arrayrecord" and not skip_corrupt:
            with ArrayRecordReader(item.path) as reader:
                total += len(reader)
        else:
            total += sum(1 for _ in item.records())
    return total


def convert(inputs: Sequence[str], destination: str, fmt: str | None = None, options: str = "group_size:1",
            shards: int = 1, skip_corrupt: bool = False,
            progress: Callable[[int], None] | None = None) -> Stats:
    """Convert the input files (glob patterns allowed) into ``shards`` ArrayRecord files.

    ``progress`` is called with the input bytes read so far. With
    ``skip_corrupt`` damaged TFRecord frames, bad JSON lines and damaged
    ArrayRecord chunks are skipped and counted instead of stopping the run.
    ``destination`` may be a URL: each shard is uploaded once it is complete,
    and a run that fails uploads nothing of the shard it was writing.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    start = time.perf_counter()
    files = expand_inputs(inputs)
    stats = Stats()
    items = _inputs(files, fmt, skip_corrupt, stats)
    stats.input_bytes = sum(item.size for item in items)
    names = shard_names(destination, shards)
    for name in names:
        if any(os.path.exists(name) and not is_url(f) and os.path.samefile(name, f) for f in files):
            raise ConvertError(f"the output {name} is one of the inputs")
    # Contiguous shards need the record count first.
    total = count_records(files, fmt, skip_corrupt) if shards > 1 else 0
    edges = [total * i // shards for i in range(shards + 1)]
    for name in names:
        output = Location(name)
        if not output.is_remote:
            os.makedirs(os.path.dirname(os.path.abspath(output.local_path)), exist_ok=True)
    shard, writer = 0, ArrayRecordWriter(names[0], options)
    stats.outputs.append(names[0])
    done_bytes = 0
    try:
        for item in items:
            count = 0
            for record in item.records():
                while shards > 1 and stats.records >= edges[shard + 1] and shard + 1 < shards:
                    writer.close()
                    shard += 1
                    writer = ArrayRecordWriter(names[shard], options)
                    stats.outputs.append(names[shard])
                writer.write(record)
                stats.records += 1
                stats.record_bytes += len(record)
                count += 1
                if progress is not None and not count & 1023:
                    progress(done_bytes + item.position())
            done_bytes += item.size
            if progress is not None:
                progress(done_bytes)
        while shard + 1 < shards:  # fewer records than shards: the rest are empty files
            writer.close()
            shard += 1
            writer = ArrayRecordWriter(names[shard], options)
            stats.outputs.append(names[shard])
    except BaseException as err:
        writer.abort()  # an output at a URL gets no object; a local one keeps what was written
        if isinstance(err, CorruptRecordError):
            raise ConvertError(str(err)) from None
        raise
    writer.close()
    stats.seconds = time.perf_counter() - start
    return stats
