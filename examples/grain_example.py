"""Feed a training loop from ArrayRecord shards with Grain.

    pip install "mmrecord[grain]"
    python examples/grain_example.py

Writes 4 shards of 8,192 examples (8 float32 features and a target each) to a
temporary folder, then:

1. builds a ``grain.MapDataset`` pipeline (source -> shuffle -> map -> batch)
   over ``mmrecord.ArrayRecordDataSource`` and fits a linear model with a few
   epochs of NumPy SGD steps;
2. reads an epoch through ``grain.DataLoader`` with an index sampler and two
   worker processes, which get the data source by pickling (paths and
   options; each worker opens the shards itself).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import grain
import numpy as np

import mmrecord

from regression_shards import FEATURES, TRUE_WEIGHTS, write_shards  # the toy data, beside this file


def decode(record: bytes) -> np.ndarray:
    return np.frombuffer(record, np.float32)


class Decode(grain.transforms.Map):
    """The same, as a transform the DataLoader's workers can unpickle."""

    def map(self, element: bytes) -> np.ndarray:
        return decode(element)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = mmrecord.ArrayRecordDataSource(write_shards(Path(tmp)))
        print(f"source: {source!r}")

        weights, bias = np.zeros(FEATURES, np.float32), np.float32(0)
        for epoch in range(2):
            batches = grain.MapDataset.source(source).shuffle(seed=epoch).map(decode).batch(batch_size=256)
            started, total = time.perf_counter(), 0.0
            for rows in batches:
                x, y = rows[:, :FEATURES], rows[:, FEATURES]
                error = x @ weights + bias - y
                weights -= 0.05 * 2 * x.T @ error / len(y)
                bias -= 0.05 * 2 * error.mean()
                total += float((error ** 2).mean())
            elapsed = time.perf_counter() - started
            print(f"MapDataset epoch {epoch}: {len(batches)} steps, mean loss {total / len(batches):.5f}, "
                  f"{len(source) / elapsed:,.0f} examples/s")
        print("learned weights:", np.round(weights, 3))
        print("true weights:   ", np.round(TRUE_WEIGHTS, 3))

        sampler = grain.samplers.IndexSampler(num_records=len(source), shard_options=grain.sharding.NoSharding(),
                                              shuffle=True, num_epochs=1, seed=0)
        loader = grain.DataLoader(data_source=source, sampler=sampler, worker_count=2,
                                  operations=[Decode(), grain.transforms.Batch(batch_size=256)])
        started, rows = time.perf_counter(), 0
        for batch in loader:
            rows += len(batch)
        elapsed = time.perf_counter() - started
        print(f"DataLoader with 2 worker processes: {rows:,} examples in {elapsed:.2f} s "
              f"({rows / elapsed:,.0f} examples/s, worker start-up included)")


if __name__ == "__main__":  # the guard worker processes need
    main()
