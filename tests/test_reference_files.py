"""mmrecord reads every file the reference writer wrote, and refuses every damaged one."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from support import CORRUPT, TESTDATA, VECTORS, manifest, record_digest

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


@pytest.mark.parametrize("directory", [VECTORS, CORRUPT], ids=["vectors", "corrupt"])
def test_check_reader_script_passes(directory):
    run = subprocess.run(
        [sys.executable, str(TESTDATA / "check_reader.py"), "--impl", "mmrecord", "--dir", str(directory)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " 0 failed" in run.stdout.splitlines()[-1]


def test_every_error_is_an_array_record_error():
    assert issubclass(CorruptRecordError, ArrayRecordError)
