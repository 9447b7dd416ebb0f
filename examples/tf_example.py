"""Train a small TensorFlow model from ArrayRecord shards through tf.data.

    pip install "mmrecord[tf]"
    python examples/tf_example.py

Writes 4 shards of 8,192 examples (8 float32 features and a target each) to a
temporary folder, then trains a linear model for two epochs on
``mmrecord.tf.dataset(..., shuffle=True, batch_size=256)``: each batch of
shuffled indices is read in one call, several batches at once.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmrecord  # noqa: E402
import mmrecord.tf  # noqa: E402

from regression_shards import FEATURES, TRUE_WEIGHTS, write_shards  # the toy data, beside this file


def decode(records: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch of raw records -> (features, targets), in TensorFlow ops."""
    rows = tf.io.decode_raw(records, tf.float32)
    return rows[:, :FEATURES], rows[:, FEATURES]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pattern = write_shards(Path(tmp))
        dataset = mmrecord.tf.dataset(pattern, shuffle=True, seed=0, batch_size=256)
        dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        weights = tf.Variable(tf.zeros([FEATURES]))
        bias = tf.Variable(0.0)
        optimizer = tf.keras.optimizers.SGD(learning_rate=0.05)

        @tf.function
        def step(features, targets):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((tf.linalg.matvec(features, weights) + bias - targets) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, [weights, bias]), [weights, bias]))
            return loss

        for epoch in range(2):
            started, steps, total = time.perf_counter(), 0, 0.0
            for features, targets in dataset:
                total += float(step(features, targets))
                steps += 1
            elapsed = time.perf_counter() - started
            print(f"epoch {epoch}: {steps} steps, mean loss {total / steps:.5f}, "
                  f"{steps * 256 / elapsed:,.0f} examples/s")
        print("learned weights:", np.round(weights.numpy(), 3))
        print("true weights:   ", np.round(TRUE_WEIGHTS, 3))


if __name__ == "__main__":
    main()
