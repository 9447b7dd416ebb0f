"""tf.data: :func:`dataset` builds a ``tf.data.Dataset`` over ArrayRecord files.

    import mmrecord.tf

    ds = mmrecord.tf.dataset("train-*.array_record", shuffle=True, seed=0, batch_size=256)
    for records in ds:            # tf.string tensors of shape [256]
        ...

How it reads, and why it is fast:

- The pipeline runs over **record indices**, not over the file. Indices are
  made in TensorFlow (``tf.data.Dataset.range``) and, with ``shuffle=True``,
  sent through ``tf.random.experimental.index_shuffle``: a full, uniform
  permutation of all records, a new one each epoch (each iteration of the
  dataset), in O(1) memory and with no shuffle buffer to fill.
- Indices are cut into batches and each batch is read by **one**
  ``tf.numpy_function`` call to :meth:`ArrayRecordDataSource.__getitems__`
  (each shard's part in one call, every chunk decoded once). The read is a
  ``map`` with ``num_parallel_calls``, so several batches are read at once
  on tf.data's threads; mmrecord's decoding releases the GIL (numba kernels,
  zstd), so the reads overlap, and each batch read also splits over
  mmrecord's own thread pool. There is no Python generator walking a file.
- With ``batch_size`` the read batch *is* the training batch: one call per
  batch and no unbatch/re-batch. Without it, records are read
  ``read_batch_size`` at a time and unbatched into scalar strings.

The dataset holds the data source in a Python function, so it runs in this
process (it cannot be serialised to a tf.data service or a SavedModel graph).
Importing this module imports TensorFlow; ``import mmrecord`` alone never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    import tensorflow as tf
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("mmrecord.tf needs TensorFlow: pip install 'mmrecord[tf]'") from err

from .data_source import ArrayRecordDataSource

__all__ = ["dataset"]


def dataset(paths, *, shuffle: bool = False, seed: int | None = None,
            batch_size: int | None = None, drop_remainder: bool = False,
            read_batch_size: int = 256, num_parallel_calls: int | None = tf.data.AUTOTUNE,
            deterministic: bool | None = None,
            reader_options: Mapping[str, object] | str | None = None,
            prefetch: bool = True,
            storage_options: Mapping[str, Any] | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of the records of ArrayRecord files, as ``tf.string``.

    ``paths``: an :class:`~mmrecord.ArrayRecordDataSource`, or what it accepts
    (a path, a glob pattern, ``"path[start:end]"``, TFDS ``FileInstruction``
    objects, or a sequence of them; URLs too, reached with fsspec's
    ``storage_options``); shards follow each other in order.

    ``shuffle``: visit the records in a uniformly random order, a different
    one each epoch; ``seed`` makes the sequence of epochs repeatable.

    ``batch_size``: yield ``tf.string`` vectors of that many records (the
    last one shorter unless ``drop_remainder``), each read in one call;
    without it, yield scalar ``tf.string`` records, read ``read_batch_size``
    at a time.

    ``num_parallel_calls``: batches read at once (default ``AUTOTUNE``);
    ``deterministic``: passed to ``map`` (``False`` lets a slow batch be
    overtaken); ``prefetch``: end with ``prefetch(AUTOTUNE)``.
    """
    source = paths if isinstance(paths, ArrayRecordDataSource) else \
        ArrayRecordDataSource(paths, reader_options, storage_options=storage_options)
    if isinstance(paths, ArrayRecordDataSource) and (reader_options is not None or storage_options is not None):
        raise ValueError("reader_options and storage_options are given to the data source, not with one")
    step = int(batch_size if batch_size is not None else read_batch_size)
    if step < 1:
        raise ValueError("batch_size and read_batch_size must be at least 1")
    n = len(source)
    stop = n - n % step if batch_size is not None and drop_remainder else n
    n_t = tf.constant(n, tf.int64)

    def positions(first):
        return tf.range(first, tf.minimum(first + step, n_t), dtype=tf.int64)

    starts = tf.data.Dataset.range(0, stop, step)
    if shuffle:
        # One pair of seeds per iteration over the dataset (an epoch).
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        keys = keys.batch(2, drop_remainder=True).take(1)

        def epoch(key):
            return starts.map(lambda first: tf.random.experimental.index_shuffle(
                positions(first), key, n_t - 1))

        indices = keys.flat_map(epoch)
    else:
        indices = starts.map(positions)

    def read(batch: np.ndarray) -> np.ndarray:
        records = source.__getitems__(batch)
        out = np.empty(len(records), dtype=object)
        out[:] = records
        return out

    def read_batch(batch):
        records = tf.numpy_function(read, [batch], tf.string, stateful=False)
        records.set_shape([step if batch_size is not None and drop_remainder else None])
        return records

    data = indices.map(read_batch, num_parallel_calls=num_parallel_calls,
                       deterministic=deterministic)
    if batch_size is None:
        data = data.unbatch()
    if prefetch:
        data = data.prefetch(tf.data.AUTOTUNE)
    return data
