"""Apache Beam: the sink, the splittable source and the conversion pipeline on the DirectRunner.

Skipped without apache-beam, unless MMRECORD_REQUIRE names "beam" (then they fail).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import require

import mmrecord
from mmrecord.tfrecord import TFRecordWriter

RECORDS = [b"record-%05d-" % i + bytes(i % 300) for i in range(3000)]
MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def test_import_mmrecord_does_not_import_beam():
    code = ("import sys, mmrecord, mmrecord.beam; import mmrecord.convert, mmrecord.cli; "
            "print('apache_beam' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=120)
    assert out.stdout.strip() == b"False"


@pytest.fixture(scope="module")
def beam():
    return require("apache_beam", "beam")


def _options(beam, args=()):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(list(args))


def _write(beam, prefix, records, args=(), **kw):
    from mmrecord.beam import WriteToArrayRecord

    with beam.Pipeline(options=_options(beam, args)) as p:
        p | beam.Create(records) | WriteToArrayRecord(str(prefix), **kw)


def _read_all(paths):
    out = []
    for path in paths:
        with mmrecord.ArrayRecordReader(path) as reader:
            out += reader.read_all()
    return out


def _check_read(beam, pattern, expected, args=()):
    from apache_beam.testing.util import assert_that, equal_to

    from mmrecord.beam import ReadFromArrayRecord

    with beam.Pipeline(options=_options(beam, args)) as p:
        assert_that(p | ReadFromArrayRecord(str(pattern)), equal_to(expected))


def test_write_then_read_several_shards(beam, tmp_path):
    _write(beam, tmp_path / "out" / "train", RECORDS, num_shards=3, options="group_size:4,zstd:1")
    files = sorted((tmp_path / "out").glob("*"))
    assert [f.name for f in files] == [f"train-{i:05d}-of-00003.array_record" for i in range(3)]
    assert sorted(_read_all(files)) == sorted(RECORDS)
    with mmrecord.ArrayRecordReader(files[0]) as reader:
        assert reader.group_size == 4
    _check_read(beam, tmp_path / "out" / "train-*", RECORDS)


def test_multi_processing_round_trip_and_reference(beam, tmp_path):
    _write(beam, tmp_path / "mp", RECORDS, MULTI, num_shards=4)
    files = sorted(tmp_path.glob("mp-*.array_record"))
    assert len(files) == 4 and sorted(_read_all(files)) == sorted(RECORDS)
    _check_read(beam, tmp_path / "mp-*.array_record", RECORDS, MULTI)
    pytest.importorskip("array_record")
    from array_record.python.array_record_module import ArrayRecordReader

    got = []
    for f in files:
        reader = ArrayRecordReader(str(f))
        got += reader.read_all()
        reader.close()
    assert sorted(got) == sorted(RECORDS)


def test_source_splits_by_record_ranges(beam, tmp_path):
    from apache_beam.io import source_test_utils

    from mmrecord.beam.io import _ArrayRecordSource

    path = tmp_path / "s.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:3") as writer:
        writer.write_many(RECORDS[:25])
    source = _ArrayRecordSource(str(path))
    assert source.estimate_size() == path.stat().st_size
    bundles = list(source.split(desired_bundle_size=path.stat().st_size // 5))
    assert len(bundles) >= 4
    assert [(b.start_position, b.stop_position) for b in bundles] == [
        (a.start_position, a.stop_position) for a in bundles]
    assert bundles[0].start_position == 0 and bundles[-1].stop_position == 25
    assert all(b.stop_position == c.start_position for b, c in zip(bundles, bundles[1:]))
    assert sum(b.weight for b in bundles) == pytest.approx(path.stat().st_size)
    whole = bundles[0].source
    source_test_utils.assert_sources_equal_reference_source(
        (whole, None, None), [(b.source, b.start_position, b.stop_position) for b in bundles])
    # Dynamic splitting at every fraction and every point of the read.
    source_test_utils.assert_split_at_fraction_exhaustive(whole)


def test_any_filesystem_path(beam, tmp_path, monkeypatch):
    """Paths that are not local go through Beam's filesystem API: streamed out, copied in."""
    import mmrecord.beam.io as beam_io

    monkeypatch.setattr(beam_io, "_is_local", lambda path: False)
    _write(beam, tmp_path / "remote", RECORDS[:500], num_shards=2)
    files = sorted(tmp_path.glob("remote-*.array_record"))
    assert len(files) == 2 and sorted(_read_all(files)) == sorted(RECORDS[:500])
    _check_read(beam, tmp_path / "remote-*.array_record", RECORDS[:500])
    assert len(beam_io._local_copies) >= 2


def test_convert_pipeline_multi_processing(beam, tmp_path):
    for part in range(3):
        with TFRecordWriter(tmp_path / f"in-{part}.tfrecord.gz", compression="GZIP") as writer:
            writer.write_many(RECORDS[part * 1000:(part + 1) * 1000])
    proc = subprocess.run(
        [sys.executable, "-m", "mmrecord.beam.convert", "--input", str(tmp_path / "in-*.tfrecord.gz"),
         "--output", str(tmp_path / "out" / "data"), "--num_shards", "4", "--options", "group_size:2",
         *MULTI], capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert "wrote 3,000 records" in proc.stdout.decode()
    files = sorted((tmp_path / "out").glob("data-*-of-00004.array_record"))
    assert len(files) == 4 and sorted(_read_all(files)) == sorted(RECORDS)


def test_convert_pipeline_jsonl_in_process(beam, tmp_path):
    from mmrecord.beam.convert import main

    lines = [json.dumps({"i": i}) for i in range(200)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:120]) + "\n\nnot json\n")
    (tmp_path / "b.jsonl").write_text("\n".join(lines[120:]))
    assert main(["--input", str(tmp_path / "*.jsonl"), "--output", str(tmp_path / "j"), "--num_shards", "1",
                 "--skip_corrupt"]) == 0
    got = _read_all([tmp_path / "j-00000-of-00001.array_record"])
    assert sorted(got) == sorted(line.encode() for line in lines)
