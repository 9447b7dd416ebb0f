"""Reading, for every codec and group size: mmrecord's own API, and the reference's API through ``mmrecord.compat``.

The ``time_compat_*`` benchmarks are the reference's calls (the rows of
``compare.py`` named after them), run on mmrecord's drop-in classes; the
others are mmrecord's own forms. Index sets and counts come from
``workloads.ASV``: the first records of a fixed permutation.
"""

import os

import mmrecord
from mmrecord.compat import array_record_data_source as compat_ds
from mmrecord.compat import array_record_module as compat_module

from . import workloads as wl
from .dataset import (ASV_NUM_RECORDS, CODECS, GROUP_SIZES, make_records, permutation,
                      random_indices, small_records, writer_options)
from .workloads import ASV, DEFAULT_OPTIONS, RANDOM_OPTIONS

NUM_SINGLE = 1_000  # random single reads per call of the own-API benchmarks
BATCH = 256
SMALL_OPTIONS = writer_options("zstd:3", 1)


def write_dataset(paths_by_options: dict, records: list) -> dict:
    """Write ``records`` once to a file per options string; asv keeps the files for every run."""
    paths = {}
    for key, (name, options) in paths_by_options.items():
        path = os.path.abspath(name)
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)
        paths[key] = path
    return paths


def open_source(path: str):
    """mmrecord's data source (the reference's names), its reader open before any timed call."""
    source = compat_ds.ArrayRecordDataSource([path])
    source[0]
    return source


class Read:
    params = (list(CODECS), list(GROUP_SIZES))
    param_names = ("codec", "group_size")
    timeout = 300

    def setup_cache(self):
        return write_dataset({(codec, group_size): (f"{codec.replace(':', '_')}_gs{group_size}.array_record",
                                                   writer_options(codec, group_size))
                              for codec in CODECS for group_size in GROUP_SIZES},
                             make_records(ASV_NUM_RECORDS))

    def setup(self, paths, codec, group_size):
        self.path = paths[codec, group_size]
        self.reader = mmrecord.ArrayRecordReader(self.path)
        self.random_reader = compat_module.ArrayRecordReader(self.path, RANDOM_OPTIONS)
        self.source = open_source(self.path)
        self.sample = random_indices(ASV_NUM_RECORDS, NUM_SINGLE).tolist()
        self.perm = permutation(ASV_NUM_RECORDS)
        self.batch = self.perm[:BATCH]
        perm_list = self.perm.tolist()
        self.single = perm_list[:ASV.count(ASV.single, group_size)]
        batched = ASV.count(ASV.batched, group_size)
        self.batches = wl.batches_of(perm_list[:batched], ASV.batch)
        self.index_batches = wl.batches_of(self.perm[:batched], ASV.batch)
        self.perm_list = perm_list

    def teardown(self, paths, codec, group_size):
        self.reader.close()
        self.random_reader.close()
        self.source.close()

    # mmrecord's own API

    def time_random_single(self, paths, codec, group_size):
        wl.getitem_each(self.reader, self.sample)

    def time_batch_256(self, paths, codec, group_size):
        self.reader[self.batch]

    def time_index_batches_256(self, paths, codec, group_size):
        wl.index_batches(self.reader, self.index_batches)

    def time_whole_permutation(self, paths, codec, group_size):
        self.reader[self.perm]

    def time_read_batch_permutation(self, paths, codec, group_size):
        """The zero-copy form: one values buffer and offsets, no object per record."""
        self.reader.read_batch(self.perm)

    def time_data_source_single(self, paths, codec, group_size):
        wl.getitem_each(self.source, self.sample)

    def time_data_source_getitems_256(self, paths, codec, group_size):
        self.source.__getitems__(self.batch)

    def time_read_all(self, paths, codec, group_size):
        self.reader.read_all()

    def time_iterate(self, paths, codec, group_size):
        wl.iterate(self.reader, None)

    def time_open(self, paths, codec, group_size):
        """Open the file, read the middle record, close."""
        reader = mmrecord.ArrayRecordReader(self.path)
        reader[ASV_NUM_RECORDS // 2]
        reader.close()

    # the reference's API (compare.py's rand_* rows), with its random-access options

    def time_compat_read1(self, paths, codec, group_size):
        wl.read_each(self.random_reader, self.single)

    def time_compat_seek_read(self, paths, codec, group_size):
        wl.seek_read_each(self.random_reader, self.single)

    def time_compat_ds_getitem(self, paths, codec, group_size):
        wl.getitem_each(self.source, self.single)

    def time_compat_batch256_read(self, paths, codec, group_size):
        wl.read_batches(self.random_reader, self.batches)

    def time_compat_batch256_ds(self, paths, codec, group_size):
        wl.getitems_batches(self.source, self.batches)

    def time_compat_batchall_read(self, paths, codec, group_size):
        wl.read_batches(self.random_reader, [self.perm_list])

    def time_compat_batchall_ds(self, paths, codec, group_size):
        wl.getitems_batches(self.source, [self.perm_list])


class ReadLoop:
    """``read()`` loops and iteration from the start of a reader opened for each call."""

    params = (list(CODECS), list(GROUP_SIZES))
    param_names = ("codec", "group_size")
    number = 1  # every timed call starts on a new reader
    timeout = 300

    setup_cache = Read.setup_cache  # the same files, written once

    def setup(self, paths, codec, group_size):
        path = paths[codec, group_size]
        self.count = ASV.count(ASV.sequential, group_size) or ASV_NUM_RECORDS
        self.reader = mmrecord.ArrayRecordReader(path)
        self.default_reader = compat_module.ArrayRecordReader(path, DEFAULT_OPTIONS)
        self.random_reader = compat_module.ArrayRecordReader(path, RANDOM_OPTIONS)

    def teardown(self, paths, codec, group_size):
        for reader in (self.reader, self.default_reader, self.random_reader):
            reader.close()

    def time_iterate_prefix(self, paths, codec, group_size):
        """mmrecord's own form of compare.py's seq_read rows: ``for rec in r``."""
        wl.iterate(self.reader, self.count)

    def time_compat_seq_read(self, paths, codec, group_size):
        wl.read_loop(self.default_reader, self.count)

    def time_compat_seq_read_ra0(self, paths, codec, group_size):
        wl.read_loop(self.random_reader, self.count)

    def time_compat_read_all(self, paths, codec, group_size):
        wl.read_all(self.default_reader)


class Small:
    """The 1,000,000 records of 32-100 bytes (zstd:3, group size 1): per-record costs and opening."""

    timeout = 600

    def setup_cache(self):
        return write_dataset({"small": ("small_zstd_3_gs1.array_record", SMALL_OPTIONS)},
                             small_records(ASV.small_records))["small"]

    def setup(self, path):
        self.path = path
        self.reader = mmrecord.ArrayRecordReader(path)
        self.random_reader = compat_module.ArrayRecordReader(path, RANDOM_OPTIONS)
        self.source = open_source(path)
        perm = permutation(ASV.small_records)
        self.single = perm[:ASV.small_single].tolist()
        self.batches = wl.batches_of(perm[:ASV.small_batched].tolist(), ASV.batch)
        self.index_batches = wl.batches_of(perm[:ASV.small_batched], ASV.batch)

    def teardown(self, path):
        self.reader.close()
        self.random_reader.close()
        self.source.close()

    def time_getitem(self, path):
        wl.getitem_each(self.reader, self.single)

    def time_index_batches_256(self, path):
        wl.index_batches(self.reader, self.index_batches)

    def time_compat_read1(self, path):
        wl.read_each(self.random_reader, self.single)

    def time_compat_seek_read(self, path):
        wl.seek_read_each(self.random_reader, self.single)

    def time_compat_ds_getitem(self, path):
        wl.getitem_each(self.source, self.single)

    def time_compat_batch256_read(self, path):
        wl.read_batches(self.random_reader, self.batches)

    def time_compat_batch256_ds(self, path):
        wl.getitems_batches(self.source, self.batches)

    def time_compat_open_reader(self, path):
        wl.open_reader(compat_module.ArrayRecordReader, path, DEFAULT_OPTIONS)

    def time_compat_open_reader_ra(self, path):
        wl.open_reader(compat_module.ArrayRecordReader, path, RANDOM_OPTIONS)

    def time_compat_open_ds(self, path):
        wl.open_data_source(compat_ds.ArrayRecordDataSource, path)


class ColdStart:
    """A new interpreter: import mmrecord, open a file, read one record (asv's ``timeraw``)."""

    timeout = 300

    def setup_cache(self):
        return write_dataset({"cold": ("cold_start.array_record", writer_options("zstd:3", 1))},
                             make_records(ASV_NUM_RECORDS))["cold"]

    def timeraw_import_open_read(self, path):
        return f"""
import mmrecord
mmrecord.ArrayRecordReader({path!r})[{ASV_NUM_RECORDS // 2}]
"""
