"""The benchmark scripts' helpers: index sets and counts (``asv_benches/benchmarks``) and the memory report's sampling.

These run no benchmark and measure nothing: they check that the passes touch
the records they claim to, and that the memory report reads ``/proc`` right.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ASV_BENCHES = Path(__file__).resolve().parent.parent / "asv_benches"


sys.path.insert(0, str(ASV_BENCHES))  # the scripts import their ``benchmarks`` package from there
from benchmarks import dataset, workloads  # noqa: E402


def load(name: str):
    """A script of ``asv_benches`` (not a module of the project), imported from its path."""
    spec = importlib.util.spec_from_file_location(f"asv_benches_{name}", ASV_BENCHES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


memory_bounds = load("memory_bounds")

STATUS = """Name:\tpython
VmPeak:\t  812344 kB
VmHWM:\t  301220 kB
VmRSS:\t  290000 kB
RssAnon:\t   61234 kB
RssFile:\t  228766 kB
"""


def test_status_fields_are_read_in_kib():
    assert memory_bounds.status_kib(STATUS, "RssAnon") == 61234
    assert memory_bounds.status_kib(STATUS, "VmHWM") == 301220
    assert memory_bounds.status_kib(STATUS, "RssShmem") is None


def test_status_of_this_process_has_anonymous_memory():
    assert memory_bounds.status_kib(memory_bounds.read_status(), "RssAnon") > 0


def test_peak_keeps_the_first_and_the_largest_sample():
    peak = memory_bounds.Peak()
    for value in (70, 65, 90, 80):
        peak.add(value)
    assert (peak.first, peak.peak) == (70, 90)


def test_file_records_reach_the_size_and_repeat_the_base():
    base = [b"x" * 100, b"y" * 300]
    count = memory_bounds.file_records(1e-6, base)  # 1,000 bytes
    assert count == 5
    assert list(memory_bounds.repeated(base, 3)) == [base[0], base[1], base[0]]


@pytest.mark.parametrize("group_size", [1, 256])
def test_batches_cover_every_index_once(group_size):
    batches = list(memory_bounds.batch_indices(5000, 1024, group_size))
    assert all(len(b) <= 1024 for b in batches)
    assert sorted(np.concatenate(batches).tolist()) == list(range(5000))
    if group_size > 1:  # blocks of consecutive indices
        assert all(np.all(np.diff(b) == 1) for b in batches)


def test_batches_of_cut_in_order():
    assert workloads.batches_of([5, 3, 9, 1, 7], 2) == [[5, 3], [9, 1], [7]]


def test_sizes_count_takes_the_nearest_group_size():
    sizes = workloads.FULL
    assert sizes.count(sizes.single, 256) == 256
    assert sizes.count(sizes.single, 7) == sizes.single[1]
    assert sizes.write_count("brotli:6") == 16_384
    assert sizes.write_count("zstd:3") == sizes.records


def test_small_records_are_32_to_100_bytes_and_reproducible():
    records = dataset.small_records(2000)
    assert {len(r) for r in records} <= set(range(32, 101))
    assert min(map(len, records)) == 32 and max(map(len, records)) == 100
    assert records == dataset.small_records(2000)


def test_passes_read_the_records_they_name(tmp_path):
    import mmrecord

    records = dataset.small_records(600)
    path = str(tmp_path / "small.array_record")
    workloads.write_many(path, "group_size:1,zstd:3", records)
    with mmrecord.ArrayRecordReader(path) as reader:
        got = []
        reader.read = lambda *args, read=reader.read: got.append(read(*args)) or got[-1]
        workloads.seek_read_each(reader, [599, 0, 17])
        workloads.read_each(reader, [4])
        workloads.read_batches(reader, [[1, 2], [3]])
    assert got == [records[599], records[0], records[17], [records[4]], records[1:3], [records[3]]]
