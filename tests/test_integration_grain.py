"""ArrayRecordDataSource with the real Grain: MapDataset pipelines and the DataLoader's worker processes.

Skipped when grain is not installed, unless MMRECORD_REQUIRE names grain (as
CI's grain job does): then a missing grain fails the run.
"""

from __future__ import annotations

import numpy as np
import pytest
from support import require

import mmrecord

grain = require("grain", "grain")

N = 2000


def record(i: int) -> bytes:
    return b"example %d " % i + b"." * (i % 40)


def number(record: bytes) -> int:
    return int(record.split()[1])


class ParseNumber(grain.transforms.Map):
    """Picklable for the DataLoader's worker processes."""

    def map(self, element: bytes) -> int:
        return number(element)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grain")
    for s, options in enumerate(["group_size:1,zstd:3", "group_size:16,zstd:3"]):
        with mmrecord.ArrayRecordWriter(folder / f"data-{s:05d}-of-00002.array_record", options) as writer:
            writer.write_many(record(i) for i in range(s * N // 2, (s + 1) * N // 2))
    return mmrecord.ArrayRecordDataSource(str(folder / "data-*-of-00002.array_record"))


def test_follows_grains_protocols(source):
    assert isinstance(source, grain.sources.RandomAccessDataSource)
    assert source[N - 1] == record(N - 1) and len(source) == N


def test_map_dataset_pipeline(source):
    def pipeline(seed):
        return (grain.MapDataset.source(source).shuffle(seed=seed).map(number).batch(batch_size=64))

    dataset = pipeline(42)
    assert len(dataset) == -(-N // 64)
    batches = [np.asarray(b) for b in dataset]
    assert batches[0].shape == (64,)
    seen = np.concatenate(batches).tolist()
    assert sorted(seen) == list(range(N)) and seen != list(range(N))
    assert np.concatenate(list(pipeline(42))).tolist() == seen  # the seed fixes the order
    assert np.concatenate(list(pipeline(7))).tolist() != seen
    assert dataset[3].tolist() == seen[192:256]  # random access to a batch


def test_iter_dataset_with_threads(source):
    dataset = (grain.MapDataset.source(source).shuffle(seed=1).map(number)
               .to_iter_dataset(grain.ReadOptions(num_threads=8, prefetch_buffer_size=64)))
    assert sorted(dataset) == list(range(N))


def test_data_loader_with_worker_processes(source):
    sampler = grain.samplers.IndexSampler(num_records=len(source), shard_options=grain.sharding.NoSharding(),
                                          shuffle=True, num_epochs=1, seed=5)
    loader = grain.DataLoader(data_source=source, sampler=sampler, worker_count=2,
                              operations=[ParseNumber(), grain.transforms.Batch(batch_size=100)])
    seen = [int(n) for batch in loader for n in np.asarray(batch)]
    assert sorted(seen) == list(range(N)) and seen != list(range(N))
