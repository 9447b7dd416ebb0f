"""mmrecord.tf.dataset with the real TensorFlow: order, shuffling, batching, parallel batch reads.

Skipped when TensorFlow is not installed, unless MMRECORD_REQUIRE names tf
(as CI's tf job does): then a missing TensorFlow fails the run.
"""

from __future__ import annotations

import threading
import time

import pytest
from support import require

import mmrecord

tf = require("tensorflow", "tf")
import mmrecord.tf  # noqa: E402

N = 2500


def record(i: int) -> bytes:
    return b"%d," % i + b"z" * (i % 30)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tf")
    out = []
    for s, (options, lo, hi) in enumerate([("group_size:1,zstd:3", 0, 1000), ("group_size:1,uncompressed", 1000, 1001),
                                           ("group_size:50,snappy", 1001, N)]):
        out.append(folder / f"records-{s:05d}-of-00003.array_record")
        with mmrecord.ArrayRecordWriter(out[-1], options) as writer:
            writer.write_many(record(i) for i in range(lo, hi))
    return out


def numbers(dataset) -> list[int]:
    out = []
    for element in dataset:
        values = element.numpy()
        for r in (values.tolist() if hasattr(values, "tolist") and values.ndim else [values]):
            out.append(int(r.split(b",")[0]))
    return out


def test_in_order(paths):
    dataset = mmrecord.tf.dataset(paths)
    assert dataset.element_spec == tf.TensorSpec([], tf.string)
    assert numbers(dataset) == list(range(N))
    assert [r.numpy() for r in dataset.take(3)] == [record(0), record(1), record(2)]
    assert numbers(mmrecord.tf.dataset(str(paths[0].parent / "records-*.array_record"),
                                       read_batch_size=7)) == list(range(N))


def test_shuffled_epochs(paths):
    dataset = mmrecord.tf.dataset(paths, shuffle=True, seed=3, batch_size=100)
    first, second = numbers(dataset), numbers(dataset)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second and first != list(range(N))
    assert numbers(mmrecord.tf.dataset(paths, shuffle=True, seed=3, batch_size=100)) == first
    assert numbers(mmrecord.tf.dataset(paths, shuffle=True, seed=4, batch_size=100)) != first
    unbatched = numbers(mmrecord.tf.dataset(paths, shuffle=True))
    assert sorted(unbatched) == list(range(N))


def test_batches(paths):
    source = mmrecord.ArrayRecordDataSource(paths)
    kept = mmrecord.tf.dataset(source, batch_size=300)
    assert [int(b.shape[0]) for b in kept] == [300] * 8 + [100]
    dropped = mmrecord.tf.dataset(source, batch_size=300, drop_remainder=True)
    assert dropped.element_spec == tf.TensorSpec([300], tf.string)
    assert numbers(dropped) == list(range(2400))
    parsed = dropped.map(lambda b: tf.strings.to_number(tf.strings.split(b, ",").to_tensor()[:, 0], tf.int64))
    assert [int(x) for b in parsed for x in b.numpy()] == list(range(2400))


class SlowSource(mmrecord.ArrayRecordDataSource):
    """A data source that counts batch reads in flight (each sleeps, as a read from a slow disk would)."""

    lock = threading.Lock()
    in_flight = 0
    most = 0
    calls = 0

    def __getitems__(self, indices):
        cls = SlowSource
        with cls.lock:
            cls.in_flight += 1
            cls.calls += 1
            cls.most = max(cls.most, cls.in_flight)
        try:
            time.sleep(0.02)
            return super().__getitems__(indices)
        finally:
            with cls.lock:
                cls.in_flight -= 1


def test_reads_are_batched_and_parallel(paths):
    source = SlowSource(paths)
    dataset = mmrecord.tf.dataset(source, shuffle=True, seed=0, batch_size=50, num_parallel_calls=4)
    assert sorted(numbers(dataset)) == list(range(N))
    assert SlowSource.calls == N // 50  # one read per batch
    assert SlowSource.most >= 2  # several batches read at once


def test_options_and_errors(paths):
    with pytest.raises(ValueError):
        mmrecord.tf.dataset(paths, batch_size=0)
    with pytest.raises(mmrecord.InvalidOptionsError):
        mmrecord.tf.dataset(paths, reader_options={"bogus": "1"})
    dataset = mmrecord.tf.dataset(paths, reader_options={"verify_checksums": "false"}, prefetch=False)
    assert numbers(dataset.take(5)) == list(range(5))
