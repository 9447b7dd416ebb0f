"""Reading: single random records, batches, whole permutations, sequential reads, opening, data sources, cold start."""

import os

import mmrecord

from .dataset import (ASV_NUM_RECORDS, CODECS, GROUP_SIZES, make_records, permutation,
                      random_indices, writer_options)

NUM_SINGLE = 1_000  # random single reads per call
BATCH = 256


class Read:
    params = (list(CODECS), list(GROUP_SIZES))
    param_names = ("codec", "group_size")
    timeout = 300

    def setup_cache(self):
        """Write the dataset once per codec and group size; asv keeps the files for every run."""
        records = make_records(ASV_NUM_RECORDS)
        paths = {}
        for codec in CODECS:
            for group_size in GROUP_SIZES:
                path = os.path.abspath(f"{codec.replace(':', '_')}_gs{group_size}.array_record")
                with mmrecord.ArrayRecordWriter(path, writer_options(codec, group_size)) as writer:
                    writer.write_many(records)
                paths[codec, group_size] = path
        return paths

    def setup(self, paths, codec, group_size):
        self.path = paths[codec, group_size]
        self.reader = mmrecord.ArrayRecordReader(self.path)
        self.sample = random_indices(ASV_NUM_RECORDS, NUM_SINGLE).tolist()
        self.perm = permutation(ASV_NUM_RECORDS)
        self.batch = self.perm[:BATCH]
        self.source = mmrecord.ArrayRecordDataSource(self.path)

    def teardown(self, paths, codec, group_size):
        self.reader.close()
        self.source.close()

    def time_random_single(self, paths, codec, group_size):
        reader = self.reader
        for i in self.sample:
            reader[i]

    def time_batch_256(self, paths, codec, group_size):
        self.reader[self.batch]

    def time_whole_permutation(self, paths, codec, group_size):
        self.reader[self.perm]

    def time_read_batch_permutation(self, paths, codec, group_size):
        """The zero-copy form: one values buffer and offsets, no object per record."""
        self.reader.read_batch(self.perm)

    def time_data_source_single(self, paths, codec, group_size):
        source = self.source
        for i in self.sample:
            source[i]

    def time_data_source_getitems_256(self, paths, codec, group_size):
        self.source.__getitems__(self.batch)

    def time_read_all(self, paths, codec, group_size):
        self.reader.read_all()

    def time_iterate(self, paths, codec, group_size):
        for _ in self.reader:
            pass

    def time_open(self, paths, codec, group_size):
        """Open the file, read the middle record, close."""
        reader = mmrecord.ArrayRecordReader(self.path)
        reader[ASV_NUM_RECORDS // 2]
        reader.close()


class ColdStart:
    """A new interpreter: import mmrecord, open a file, read one record (asv's ``timeraw``)."""

    timeout = 300

    def setup_cache(self):
        path = os.path.abspath("cold_start.array_record")
        with mmrecord.ArrayRecordWriter(path, writer_options("zstd:3", 1)) as writer:
            writer.write_many(make_records(ASV_NUM_RECORDS))
        return path

    def timeraw_import_open_read(self, path):
        return f"""
import mmrecord
mmrecord.ArrayRecordReader({path!r})[{ASV_NUM_RECORDS // 2}]
"""
