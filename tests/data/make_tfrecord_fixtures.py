"""Write the TFRecord fixtures in this directory with TensorFlow's own writer.

    python tests/data/make_tfrecord_fixtures.py      # needs tensorflow-cpu

The records are ``fixture_records()``, which the tests rebuild without TensorFlow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = {"": "tf_written.tfrecord", "GZIP": "tf_written.tfrecord.gz", "ZLIB": "tf_written.tfrecord.zlib"}


def fixture_records() -> list[bytes]:
    """Empty, tiny, every byte value, text, and pseudo-random records up to 3 KB."""
    records = [b"", b"a", bytes(range(256)), "ünïcødé text record".encode()]
    for n in range(1, 40):
        size = (n * 2654435761) % 3000
        seed = hashlib.sha256(n.to_bytes(4, "little")).digest()
        records.append((seed * (size // 32 + 1))[:size])
    return records


def main() -> None:
    import tensorflow as tf

    for compression, name in FIXTURES.items():
        with tf.io.TFRecordWriter(str(HERE / name), options=compression or None) as writer:
            for record in fixture_records():
                writer.write(record)
        print(name, (HERE / name).stat().st_size)


if __name__ == "__main__":
    main()
