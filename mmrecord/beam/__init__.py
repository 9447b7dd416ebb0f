"""Apache Beam I/O for ArrayRecord files (the ``beam`` extra: ``pip install "mmrecord[beam]"``).

    import apache_beam as beam
    from mmrecord.beam import ReadFromArrayRecord, WriteToArrayRecord

    with beam.Pipeline() as p:
        (p | ReadFromArrayRecord("gs://bucket/in-*.array_record")
           | beam.Map(transform)
           | WriteToArrayRecord("gs://bucket/out/train", num_shards=8))

``python -m mmrecord.beam.convert --input ... --output ...`` converts TFRecord,
JSON Lines or text shards with any runner. Importing ``mmrecord`` never imports
Beam; importing this package does only when one of its names is used.
"""

from __future__ import annotations

__all__ = ["ReadFromArrayRecord", "WriteToArrayRecord"]


def __getattr__(name: str):
    if name in __all__:
        from . import io

        return getattr(io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
