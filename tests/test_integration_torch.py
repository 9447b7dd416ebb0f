"""mmrecord.torch.ArrayRecordDataset with the real PyTorch DataLoader (fork and spawn workers).

Skipped when torch is not installed, unless MMRECORD_REQUIRE names torch
(as CI's torch job does): then a missing torch fails the run.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from support import require

import mmrecord

torch = require("torch", "torch")
from torch.utils.data import DataLoader  # noqa: E402

from mmrecord.torch import ArrayRecordDataset  # noqa: E402

N = 3000


def parse(record: bytes) -> tuple[int, int]:
    """A record 'shard:number:...' as (number, length)."""
    return int(record.split(b":")[1]), len(record)


def collate(samples: list[tuple[int, int]]) -> dict:
    numbers, lengths = zip(*samples)
    return {"number": torch.tensor(numbers), "length": torch.tensor(lengths)}


def record(i: int) -> bytes:
    return b"%d:%d:" % (i % 3, i) + b"x" * (i % 50)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torch")
    out = []
    for s, options in enumerate(["group_size:1,zstd:3", "group_size:1,uncompressed", "group_size:32,zstd:3"]):
        out.append(folder / f"train-{s:05d}-of-00003.array_record")
        with mmrecord.ArrayRecordWriter(out[-1], options) as writer:
            writer.write_many(record(i) for i in range(s * N // 3, (s + 1) * N // 3))
    return out


def test_dataset_api(paths):
    data = ArrayRecordDataset(paths)
    assert isinstance(data, torch.utils.data.Dataset)
    assert len(data) == N and data[0] == record(0) and data[-1] == record(N - 1)
    assert data[torch.tensor(7)] == record(7) and data[np.int64(8)] == record(8)
    assert data.__getitems__([5, 2999, 5]) == [record(5), record(2999), record(5)]
    assert data.__getitems__(torch.tensor([1, 2])) == [record(1), record(2)]
    assert data.source[torch.tensor([3, -1])] == [record(3), record(N - 1)]
    parsed = ArrayRecordDataset(str(paths[0].parent / "train-*.array_record"), transform=parse)
    assert parsed[1500] == parse(record(1500)) and parsed.__getitems__([3, 1]) == [parse(record(3)), parse(record(1))]
    source = mmrecord.ArrayRecordDataSource(paths, {"verify_checksums": "true"})
    assert ArrayRecordDataset(source).source is source
    assert "ArrayRecordDataSource" in repr(parsed) and "3,000 records" in repr(parsed)


class CountingSource(mmrecord.ArrayRecordDataSource):
    """A data source that remembers the size of every batch read."""

    batches: list[int] = []

    def __getitems__(self, indices):
        CountingSource.batches.append(len(indices))
        return super().__getitems__(indices)


def test_one_batch_read_per_batch(paths):
    CountingSource.batches = []
    data = ArrayRecordDataset(CountingSource(paths), transform=parse)
    loader = DataLoader(data, batch_size=256, shuffle=True, collate_fn=collate, num_workers=0)
    seen = torch.cat([batch["number"] for batch in loader])
    assert sorted(seen.tolist()) == list(range(N))
    assert CountingSource.batches == [256] * (N // 256) + [N % 256]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_dataloader_workers(paths, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    data = ArrayRecordDataset(paths, transform=parse)
    data[10]  # a shard open in the parent before the workers start
    loader = DataLoader(data, batch_size=128, shuffle=True, num_workers=2, collate_fn=collate,
                        multiprocessing_context=method, persistent_workers=True,
                        generator=torch.Generator().manual_seed(0))
    epochs = []
    for _ in range(2):
        numbers, lengths = [], []
        for batch in loader:
            assert batch["number"].shape[0] <= 128
            numbers += batch["number"].tolist()
            lengths += batch["length"].tolist()
        assert sorted(numbers) == list(range(N))
        assert lengths == [len(record(i)) for i in numbers]
        epochs.append(numbers)
    assert epochs[0] != epochs[1] and epochs[0] != list(range(N))  # shuffled, differently each epoch


def test_dataloader_default_collate_and_sampler(paths):
    data = ArrayRecordDataset(paths)
    sampler = torch.utils.data.SubsetRandomSampler(range(100, 200))
    loader = DataLoader(data, batch_size=32, sampler=sampler, num_workers=2,
                        multiprocessing_context="fork" if "fork" in multiprocessing.get_all_start_methods()
                        else "spawn")
    got = [r for batch in loader for r in batch]  # the default collate keeps bytes as lists
    assert sorted(got) == sorted(record(i) for i in range(100, 200))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_dataloader_workers_over_http(http_store, paths, method):
    """Shards by URL: each worker rebuilds its own (async, not fork-safe) HTTP filesystem."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    urls = [http_store.put(path, path.name) for path in paths]
    data = ArrayRecordDataset(urls, transform=parse, storage_options=http_store.storage_options)
    data[10]  # the parent's filesystem in use before the workers start
    loader = DataLoader(data, batch_size=128, shuffle=True, num_workers=2, collate_fn=collate,
                        multiprocessing_context=method)
    numbers = [n for batch in loader for n in batch["number"].tolist()]
    assert sorted(numbers) == list(range(N))
    assert all(request.span[1] is not None for request in http_store.proxy.requests if request.range)
