"""Smoke test of an installed mmrecord wheel: import, write, read, the data source, the CLI."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import mmrecord
from mmrecord.compat import array_record_module

assert Path(mmrecord.__file__).parent.joinpath("py.typed").exists(), "py.typed is missing"
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "smoke.array_record"
    records = [b"record %d" % i * (i % 7 + 1) for i in range(1000)]
    with mmrecord.ArrayRecordWriter(path, "group_size:1,zstd:3") as writer:
        writer.write_many(records)
    with array_record_module.ArrayRecordReader(str(path)) as reader:
        assert reader.read_all() == records
        assert reader[[5, 3]] == [records[5], records[3]]
    assert mmrecord.ArrayRecordDataSource(str(path)).__getitems__([999, 0]) == [records[999], records[0]]
    cli = [str(Path(sys.executable).with_name("mmrecord"))]
    subprocess.run(cli + ["--help"], check=True, capture_output=True)
    shown = subprocess.run(cli + ["head", "-n", "2", str(path)], check=True, capture_output=True, text=True)
    assert shown.stdout.splitlines() == ["record 0", "record 1record 1"], shown.stdout
    subprocess.run(cli + ["verify", str(path)], check=True, capture_output=True)
print(f"wheel smoke test passed: mmrecord {mmrecord.__version__} from {Path(mmrecord.__file__).parent}")
