"""A Beam pipeline that converts TFRecord, JSON Lines or text shards into ArrayRecord shards.

    python -m mmrecord.beam.convert --input 'gs://b/train-*.tfrecord.gz' --output gs://b/ar/train \\
        --num_shards 64 --options group_size:1 \\
        --runner DataflowRunner --project ... --region ... --temp_location gs://b/tmp

Arguments it does not know are Beam's pipeline options (``--runner``,
``--direct_num_workers``, ...). Each input file is read whole by one worker
(TFRecord and compressed files cannot be split); records are written by
:class:`~mmrecord.beam.WriteToArrayRecord`, in no particular order. At the
end it prints how many records it wrote and skipped.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import apache_beam as beam
from apache_beam.io import filebasedsource
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from ..convert import Stats, format_from_name, jsonl_records, text_records
from ..tfrecord import TFRecordReader
from .io import WriteToArrayRecord

INPUT_FORMATS = ("auto", "tfrecord", "jsonl", "text")
_NAMESPACE = "mmrecord"


class _RecordFileSource(filebasedsource.FileBasedSource):
    """Records of TFRecord / JSON Lines / text files; compression from the file name, as Beam does."""

    def __init__(self, file_pattern: str, fmt: str = "auto", skip_corrupt: bool = False) -> None:
        super().__init__(file_pattern, compression_type=CompressionTypes.AUTO, splittable=False)
        self.fmt, self.skip_corrupt = fmt, skip_corrupt
        self._records = Metrics.counter(_NAMESPACE, "records_read")
        self._skipped = Metrics.counter(_NAMESPACE, "records_skipped")

    def _format(self, file_name: str) -> str:
        fmt = self.fmt if self.fmt != "auto" else format_from_name(file_name)
        if fmt not in ("tfrecord", "jsonl", "text"):
            raise ValueError(f"cannot tell the format of {file_name} from its name: give --format")
        return fmt

    def read_records(self, file_name, range_tracker):
        if not range_tracker.try_claim(range_tracker.start_position()):
            return
        fmt = self._format(file_name)
        with self.open_file(file_name) as stream:
            if fmt == "tfrecord":
                compression = "ZLIB" if file_name.lower().endswith((".zlib", ".zz")) else ""
                reader = TFRecordReader(stream, compression, skip_corrupt=self.skip_corrupt)
                for record in reader:
                    self._records.inc()
                    yield record
                self._skipped.inc(reader.skipped)
                return
            stats = Stats()
            lines = text_records(stream)
            records = lines if fmt == "text" else jsonl_records(lines, file_name, self.skip_corrupt, stats)
            for record in records:
                self._records.inc()
                yield record
            self._skipped.inc(stats.skipped)

    def default_output_coder(self):
        return beam.coders.BytesCoder()


def build(pipeline: beam.Pipeline, input_pattern: str, output_prefix: str, fmt: str = "auto",
          options: str = "group_size:1", num_shards: int = 0, file_name_suffix: str = ".array_record",
          skip_corrupt: bool = False):
    """Add the conversion to ``pipeline``; returns the PCollection of written file names."""
    return (pipeline
            | "Read" >> beam.io.Read(_RecordFileSource(input_pattern, fmt, skip_corrupt))
            | "Write" >> WriteToArrayRecord(output_prefix, file_name_suffix=file_name_suffix,
                                            num_shards=num_shards, options=options))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmrecord.beam.convert",
        description="Convert TFRecord / JSON Lines / text files to ArrayRecord shards with Apache Beam. "
                    "Other arguments are Beam pipeline options.")
    parser.add_argument("--input", required=True, help="input file pattern (any Beam filesystem)")
    parser.add_argument("--output", required=True, help="output prefix: PREFIX-00000-of-00008.array_record ...")
    parser.add_argument("--format", choices=INPUT_FORMATS, default="auto",
                        help="input format (auto: from each file's name)")
    parser.add_argument("--options", default="group_size:1", help="ArrayRecord writer options")
    parser.add_argument("--num_shards", type=int, default=0, help="output files (0: the runner decides)")
    parser.add_argument("--file_name_suffix", default=".array_record")
    parser.add_argument("--skip_corrupt", action="store_true",
                        help="skip damaged TFRecord frames and bad JSON lines, counting them")
    known, pipeline_args = parser.parse_known_args(argv)
    pipeline = beam.Pipeline(options=PipelineOptions(pipeline_args))
    build(pipeline, known.input, known.output, known.format, known.options, known.num_shards,
          known.file_name_suffix, known.skip_corrupt)
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed
                for c in result.metrics().query(MetricsFilter().with_namespace(_NAMESPACE))["counters"]}
    print(f"wrote {counters.get('records_read', 0):,} records to {known.output}*{known.file_name_suffix}"
          f" (skipped {counters.get('records_skipped', 0):,} damaged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
