"""Appending to existing files: every reader reads old and new records, crashes lose nothing written before."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import reference_reader, reference_writer

import mmrecord
from mmrecord.cli import main
from mmrecord.errors import CorruptRecordError, FileLockedError, InvalidOptionsError
from mmrecord.recover import recover
from mmrecord.repair import compact, repair_to_last_footer

CODECS = ["uncompressed", "snappy", "zstd:3", "brotli:3"]


def _records(n: int, seed: int) -> list[bytes]:
    """Records of distinct lengths (chunks of equal shape would be indistinguishable to recovery)."""
    rng = np.random.default_rng(seed)
    return [bytes(rng.integers(0, 8, 1 + 3 * i + seed % 3, np.uint8)) for i in range(n)]


def _write(path, options: str, records: list[bytes], by: str) -> None:
    if by == "reference":
        writer = reference_writer(path, options)
        for r in records:
            writer.write(r)
        writer.close()
    else:
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)


def _append(path, options: str, records: list[bytes]) -> None:
    with mmrecord.ArrayRecordWriter(path, options, mode="a") as writer:
        writer.write_many(records)


def _check(path, records: list[bytes]) -> None:
    """The reference (every read path) and mmrecord read exactly ``records``; verify passes."""
    reader = reference_reader(path, "readahead_buffer_size:0")
    assert reader.num_records() == len(records)
    assert reader.read_all() == records
    assert reader.read(list(range(len(records)))[::-1]) == records[::-1]
    reader.seek(0)
    assert [reader.read() for _ in records] == records
    for i in range(0, len(records), 5):
        reader.seek(i)
        assert reader.read() == records[i]
    reader.close()
    with mmrecord.ArrayRecordReader(path) as mine:
        assert mine.read_all() == records and list(mine) == records
        assert [mine[i] for i in range(len(records))] == records
    assert main(["verify", str(path)]) == 0


@pytest.mark.parametrize("by", ["mmrecord", "reference"])
@pytest.mark.parametrize("pad", ["false", "true"])
@pytest.mark.parametrize("group_size", [1, 7, 256])
@pytest.mark.parametrize("codec", CODECS)
def test_appends(tmp_path, codec, group_size, pad, by):
    path = tmp_path / "data.array_record"
    records = _records(30, group_size)
    _write(path, f"group_size:{group_size},{codec},pad_to_block_boundary:{pad}", records, by)
    before = path.read_bytes()
    _append(path, "", [])  # nothing at all is written
    assert path.read_bytes() == before
    with mmrecord.ArrayRecordWriter(path, mode="a") as writer:
        with pytest.raises(TypeError):
            writer.write("text")  # a refused record is not a record written
    assert path.read_bytes() == before
    for n, options in [(1, codec), (group_size // 2 + 2, ""), (3 * group_size + 1, "uncompressed"),
                       (260, f"group_size:{group_size},zstd:1")]:
        more = _records(n, len(records))
        _append(path, options, more)
        records += more
        assert path.read_bytes()[:len(before)] == before  # earlier bytes never change
        before = path.read_bytes()
        _check(path, records)
    with mmrecord.ArrayRecordReader(path) as reader:
        assert reader.writer_options_string().startswith(f"group_size:{group_size},")
        assert "zstd:1" in reader.writer_options_string()  # the latest append's options
    compact(path, tmp_path / "compact.array_record")
    _check(tmp_path / "compact.array_record", records)
    assert os.path.getsize(tmp_path / "compact.array_record") < os.path.getsize(path)


def test_compact_in_place(tmp_path):
    path = tmp_path / "data.array_record"
    records = _records(20, 1)
    _write(path, "group_size:7,snappy", records[:10], "mmrecord")
    _append(path, "", records[10:])
    assert main(["compact", str(path)]) == 0
    _check(path, records)
    assert not [p for p in os.listdir(tmp_path) if "compact" in p]


def test_group_size_mismatch(tmp_path):
    path = tmp_path / "data.array_record"
    _write(path, "group_size:7", _records(10, 0), "mmrecord")
    before = path.read_bytes()
    with pytest.raises(InvalidOptionsError, match="group_size:7"):
        mmrecord.ArrayRecordWriter(path, "group_size:8", mode="a")
    with pytest.raises(ValueError, match="mode"):
        mmrecord.ArrayRecordWriter(path, "", mode="x")
    assert path.read_bytes() == before


def test_damaged_file(tmp_path):
    path = tmp_path / "data.array_record"
    _write(path, "group_size:1", _records(10, 0), "mmrecord")
    data = bytearray(path.read_bytes())
    data[-65536 + 50] ^= 1  # the postscript
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError, match="cannot append"):
        mmrecord.ArrayRecordWriter(path, "", mode="a")
    assert path.read_bytes() == bytes(data)


def test_second_appender_fails(tmp_path):
    path = tmp_path / "data.array_record"
    records = _records(10, 0)
    _write(path, "group_size:1", records, "mmrecord")
    with mmrecord.ArrayRecordWriter(path, "", mode="a") as writer:
        writer.write(b"new")
        with pytest.raises(FileLockedError, match="another writer"):
            mmrecord.ArrayRecordWriter(path, "", mode="a")
        with pytest.raises(FileLockedError):
            repair_to_last_footer(path)
    _check(path, records + [b"new"])
    mmrecord.ArrayRecordWriter(path, "", mode="a").close()  # the lock went with the writer


_CHILD = textwrap.dedent("""
    import os, sys
    import mmrecord
    from tests.test_append import _records
    path, n, fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with mmrecord.ArrayRecordWriter(path, "uncompressed,max_parallelism:1", mode="a") as writer:
        for record in _records(n, 1 << 20):
            writer.write(record)  # records of 1 MiB and more: every group is written at once
            os.write(fd, b"+")
        os.write(fd, b"c")  # about to close: footer and postscript
""")


def _salvaged(path, tmp_path, base: list[bytes], appended: list[bytes], group_size: int) -> tuple[int, int]:
    """Repair a copy and recover another; both hold ``base`` and a whole-chunk prefix of ``appended``."""
    results = []
    for how in ("repair", "recover"):
        work = tmp_path / f"{how}.array_record"
        if how == "repair":
            work.write_bytes(path.read_bytes())
            repair_to_last_footer(work)
        else:
            recover(path, work)
        with mmrecord.ArrayRecordReader(work) as reader:
            got = reader.read_all()
        kept = len(got) - len(base)
        assert got[:len(base)] == base and got[len(base):] == appended[:kept]
        assert kept in (0, len(appended)) or (len(base) + kept) % group_size == 0
        results.append(kept)
    return results[0], results[1]


def test_crash_mid_append_by_truncation(tmp_path):
    """An append cut short at any point (here every 8 KiB of what it wrote) loses no original record."""
    path, cut = tmp_path / "data.array_record", tmp_path / "cut.array_record"
    base, appended = _records(23, 0), _records(200, 5)
    _write(path, "group_size:7,zstd:1", base, "reference")
    start = os.path.getsize(path)
    _append(path, "", appended)
    whole = path.read_bytes()
    points = 0
    for end in list(range(start, len(whole), 1 << 13)) + [len(whole) - 1]:
        cut.write_bytes(whole[:end])
        _salvaged(cut, tmp_path, base, appended, 7)
        points += 1
    assert points >= 10


def test_crash_mid_append_by_kill(tmp_path):
    """A writer killed after k groups reached the file: repair and recover give the original records back,
    and recover every appended chunk that reached the disk whole."""
    rng = random.Random(3)
    path = tmp_path / "data.array_record"
    base = _records(5, 2)
    outcomes = []
    for k in rng.sample(range(0, 7), 6) + [7] * 2:  # 7: killed while closing
        _write(path, "group_size:1,uncompressed", base, "mmrecord")
        read_end, write_end = os.pipe()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), "6", str(write_end)],
                                 pass_fds=(write_end,), cwd=os.path.dirname(os.path.dirname(__file__)))
        os.close(write_end)
        seen = b""
        while len(seen) < k and (byte := os.read(read_end, 1)):
            seen += byte
        child.send_signal(signal.SIGKILL)
        child.wait()
        os.close(read_end)
        outcomes.append(_salvaged(path, tmp_path, base, _records(6, 1 << 20), 1))
    assert len(outcomes) == 8
