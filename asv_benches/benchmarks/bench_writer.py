"""Writing the dataset, for every codec and group size."""

import functools
import os
import shutil
import tempfile

import mmrecord

from .dataset import ASV_NUM_RECORDS, CODECS, GROUP_SIZES, make_records, writer_options


@functools.lru_cache(maxsize=1)
def _records() -> list[bytes]:
    return make_records(ASV_NUM_RECORDS)


class Write:
    params = (list(CODECS), list(GROUP_SIZES))
    param_names = ("codec", "group_size")
    timeout = 300

    def setup(self, codec, group_size):
        self.records = _records()
        self.dir = tempfile.mkdtemp(prefix="mmrecord-asv-")
        self.path = os.path.join(self.dir, "out.array_record")

    def teardown(self, codec, group_size):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_write(self, codec, group_size):
        with mmrecord.ArrayRecordWriter(self.path, writer_options(codec, group_size)) as writer:
            writer.write_many(self.records)
