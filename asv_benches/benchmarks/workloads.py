"""The benchmark workloads: one pass each over a reader, writer or data source.

One definition serves ``asv_benches/compare.py`` (mmrecord beside the
reference) and the asv suite (mmrecord over commits). The reference's API
forms take any object with the reference's methods, so the same pass runs on
``array_record``'s classes and on ``mmrecord.compat``'s; mmrecord's own forms
(``r[i]``, ``r[indices]``, iteration, ``write_many``) take mmrecord's classes.

``Sizes`` says how many records each pass touches: the counts of the full
comparison, of its quick smoke run and of the asv suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Sequence

import mmrecord

from .dataset import ASV_NUM_RECORDS, NUM_RECORDS, NUM_SMALL_RECORDS

# Reader options: the reference's settings for random access (no read-ahead
# buffer, no thread pool), and the implementation's defaults.
RANDOM_OPTIONS = "readahead_buffer_size:0,max_parallelism:0"
DEFAULT_OPTIONS = ""


@dataclass(frozen=True)
class Sizes:
    """Records per dataset and per pass; dicts keyed by group size give per-group counts."""

    records: int  # text records of ~1.5 KB
    small_records: int  # records of 32-100 B
    single: dict[int, int]  # random single reads per pass
    batched: dict[int, int]  # random records per pass of batched reads
    sequential: dict[int, int | None]  # records per read() loop or iteration (None: all)
    written: dict[str, int]  # records written per pass, by codec (default: all)
    small_single: int
    small_batched: int
    batch: int = 256

    def count(self, table: dict[int, Any], group_size: int) -> Any:
        """A per-group count; a group size not in ``table`` takes the nearest one's."""
        if group_size in table:
            return table[group_size]
        return table[min(table, key=lambda g: abs(g - group_size))]

    def write_count(self, codec: str) -> int:
        return min(self.records, self.written.get(codec, self.records))


FULL = Sizes(records=NUM_RECORDS, small_records=NUM_SMALL_RECORDS,
             single={1: 2048, 256: 256}, batched={1: 16_384, 256: 512},
             sequential={1: 16_384, 256: None}, written={"brotli:6": 16_384},
             small_single=256, small_batched=8192)
QUICK = Sizes(records=8192, small_records=100_000,
              single={1: 512, 256: 64}, batched={1: 4096, 256: 256},
              sequential={1: 2048, 256: None}, written={"brotli:6": 2048},
              small_single=128, small_batched=1024)
ASV = Sizes(records=ASV_NUM_RECORDS, small_records=NUM_SMALL_RECORDS,
            single={1: 1024, 256: 128}, batched={1: 4096, 256: 256},
            sequential={1: 4096, 256: None}, written={},
            small_single=256, small_batched=4096)


def batches_of(indices: Sequence[int], size: int) -> list:
    """``indices`` cut into consecutive batches of ``size`` (the last may be shorter)."""
    return [indices[a:a + size] for a in range(0, len(indices), size)]


# -- the reference's API forms ------------------------------------------------

def write_each(writer_class: type, path: str, options: str, records: Iterable[bytes]) -> None:
    """Open a writer, ``write()`` every record, close."""
    writer = writer_class(path, options)
    write = writer.write
    for record in records:
        write(record)
    writer.close()


def read_each(reader: Any, indices: Iterable[int]) -> None:
    """``reader.read([i])`` for one index at a time."""
    read = reader.read
    for i in indices:
        read([i])


def seek_read_each(reader: Any, indices: Iterable[int]) -> None:
    """``reader.seek(i); reader.read()`` for one index at a time."""
    seek, read = reader.seek, reader.read
    for i in indices:
        seek(i)
        read()


def getitem_each(source: Any, indices: Iterable[int]) -> None:
    """``source[i]`` for one index at a time (a data source, or mmrecord's reader)."""
    for i in indices:
        source[i]


def read_batches(reader: Any, batches: Iterable[Sequence[int]]) -> None:
    """``reader.read(batch)`` for each batch of indices."""
    read = reader.read
    for batch in batches:
        read(batch)


def getitems_batches(source: Any, batches: Iterable[Sequence[int]]) -> None:
    """``source.__getitems__(batch)`` for each batch of indices."""
    getitems = source.__getitems__
    for batch in batches:
        getitems(batch)


def read_loop(reader: Any, count: int) -> None:
    """``reader.read()`` ``count`` times from the cursor."""
    read = reader.read
    for _ in range(count):
        read()


def read_all(reader: Any) -> None:
    reader.read_all()


def open_reader(reader_class: type, path: str, options: str) -> None:
    """Open a reader, ask its record count, close."""
    reader = reader_class(path, options)
    reader.num_records()
    reader.close()


def open_data_source(source_class: type, path: str) -> None:
    """Make a data source, ask its length, read its middle record, close it."""
    with source_class([path]) as source:
        source[len(source) // 2]


# -- mmrecord's own forms -----------------------------------------------------

def write_many(path: str, options: str, records: Iterable[bytes]) -> None:
    """mmrecord's writer: every record in one ``write_many`` call."""
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)


def index_batches(reader: Any, batches: Iterable[Any]) -> None:
    """``reader[batch]`` for each batch of indices (a list or an index array)."""
    for batch in batches:
        reader[batch]


def iterate(reader: Any, count: int | None) -> None:
    """``for record in reader``, stopping after ``count`` records (None: the whole file)."""
    for _ in islice(reader, count):
        pass
