"""Writing the dataset, for every codec and group size: ``write_many``, and ``write()`` per record through ``mmrecord.compat``."""

import functools
import os
import shutil
import tempfile

from mmrecord.compat import array_record_module as compat_module

from . import workloads as wl
from .dataset import CODECS, GROUP_SIZES, make_records, writer_options
from .workloads import ASV


@functools.lru_cache(maxsize=1)
def _records() -> list[bytes]:
    return make_records(ASV.records)


class Write:
    params = (list(CODECS), list(GROUP_SIZES))
    param_names = ("codec", "group_size")
    timeout = 300

    def setup(self, codec, group_size):
        self.records = _records()[:ASV.write_count(codec)]
        self.options = writer_options(codec, group_size)
        self.dir = tempfile.mkdtemp(prefix="mmrecord-asv-")
        self.path = os.path.join(self.dir, "out.array_record")

    def teardown(self, codec, group_size):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_write(self, codec, group_size):
        """mmrecord's own form: every record in one ``write_many``."""
        wl.write_many(self.path, self.options, self.records)

    def time_compat_write(self, codec, group_size):
        """The reference's form: ``write()`` per record."""
        wl.write_each(compat_module.ArrayRecordWriter, self.path, self.options, self.records)
