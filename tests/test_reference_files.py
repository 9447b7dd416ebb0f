"""mmrecord reads every file the reference writer wrote, and refuses every damaged one."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from support import CORRUPT, VECTORS, manifest, record_digest

import mmrecord
from mmrecord.errors import ArrayRecordError, CorruptRecordError

VECTOR_ENTRIES = manifest("vectors")
CORRUPT_ENTRIES = manifest("corrupt")


@pytest.mark.parametrize("entry", VECTOR_ENTRIES, ids=lambda e: e["name"])
def test_reads_reference_vector(entry):
    with mmrecord.ArrayRecordReader(VECTORS / entry["name"]) as reader:
        assert reader.num_records() == entry["num_records"] == len(reader)
        assert reader.writer_options_string() == entry["reported_writer_options"]
        assert record_digest(reader.read_all()) == entry["records_sha256"]
        assert record_digest(reader) == entry["records_sha256"]
        for index, size, digest in entry.get("samples", []):
            record = reader[index]
            assert len(record) == size
            assert record == reader.read([index])[0]
            assert hashlib.sha256(record).hexdigest() == digest
        if "record_sha256" in entry:
            order = np.random.default_rng(0).permutation(entry["num_records"])
            got = reader.read(order)
            assert [hashlib.sha256(r).hexdigest() for r in got] == [entry["record_sha256"][i] for i in order]


@pytest.mark.parametrize("entry", CORRUPT_ENTRIES, ids=lambda e: e["name"])
def test_refuses_damaged_file(entry):
    path = CORRUPT / entry["name"]
    assert entry["expect"] == "error"
    if entry["expect_stage"] == "open":
        with pytest.raises(CorruptRecordError) as info:
            mmrecord.ArrayRecordReader(path)
        assert info.value.path == str(path)
        return
    reader = mmrecord.ArrayRecordReader(path)
    with pytest.raises(CorruptRecordError) as info:
        reader.read_all()
    assert info.value.chunk_index is not None and info.value.offset is not None
    # Records outside the damaged chunk still read, and match the original file.
    good = set(range(reader.num_records())) - set(entry["reference"]["unreadable_indices"])
    original = mmrecord.ArrayRecordReader(VECTORS / entry["derived_from"])
    for i in sorted(good)[:50]:
        assert reader[i] == original[i]


# Each damaged file opened, counted, read whole and read record by record in a
# separate process: a crash or a hang there is a failure, not a lost test run.
_CHILD = """
import sys, mmrecord
path = sys.argv[1]
try:
    reader = mmrecord.ArrayRecordReader(path)
except mmrecord.ArrayRecordError:
    print("refused at open")
    sys.exit(0)
n = reader.num_records()
try:
    reader.read_all()
    print("read all", n)
except mmrecord.ArrayRecordError:
    print("refused at read")
for i in range(n):
    try:
        reader[i]
    except mmrecord.ArrayRecordError:
        pass
reader.close()
"""


@pytest.mark.parametrize("entry", CORRUPT_ENTRIES, ids=lambda e: e["name"])
def test_damaged_file_in_a_child_process(entry):
    run = subprocess.run([sys.executable, "-c", _CHILD, str(CORRUPT / entry["name"])],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == f"refused at {entry['expect_stage']}"


def test_every_error_is_an_array_record_error():
    assert issubclass(CorruptRecordError, ArrayRecordError)
