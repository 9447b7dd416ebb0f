"""The toy dataset the framework examples train on: a noisy linear regression in ArrayRecord shards.

Each record is 9 float32 values: 8 features and the target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import mmrecord

FEATURES = 8
TRUE_WEIGHTS = np.arange(1, FEATURES + 1, dtype=np.float32) / FEATURES


def write_shards(folder: Path, shards: int = 4, per_shard: int = 8192) -> str:
    """Write the shards into ``folder``; return a glob pattern matching them."""
    rng = np.random.default_rng(0)
    for s in range(shards):
        x = rng.normal(size=(per_shard, FEATURES)).astype(np.float32)
        y = (x @ TRUE_WEIGHTS + 0.01 * rng.normal(size=per_shard)).astype(np.float32)
        rows = np.concatenate([x, y[:, None]], axis=1)
        with mmrecord.ArrayRecordWriter(folder / f"train-{s:05d}-of-{shards:05d}.array_record",
                                        "group_size:1,zstd:3") as writer:
            writer.write_many(row.tobytes() for row in rows)
    return str(folder / f"train-*-of-{shards:05d}.array_record")
