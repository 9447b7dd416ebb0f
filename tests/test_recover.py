"""Recovery: every complete chunk comes back, nothing is invented, losses are reported exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import CORRUPT, VECTORS, entry, manifest, records_from_recipe

import mmrecord
from mmrecord.engine.blocks import add_with_overhead
from mmrecord.inspection import verify
from mmrecord.recover import recover
from mmrecord.survey import survey

OPTIONS = ["group_size:1,zstd:3", "group_size:3,uncompressed", "group_size:2,snappy",
           "group_size:1,uncompressed,pad_to_block_boundary:true", "group_size:5,brotli:1"]


def _records(seed: int, n: int = 60) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(0, 4000, n)) + [70_000, 0, 130_000, 5]
    return [rng.bytes(int(k)) for k in sizes]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Per options: (file bytes, records, [(data end, records before it)] for each data chunk)."""
    out = {}
    for n, options in enumerate(OPTIONS):
        path = tmp_path_factory.mktemp("orig") / "f.array_record"
        records = _records(n)
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)
        with survey(path) as s:
            c = s.chunks
            ends = [add_with_overhead(int(b), 40 + int(d)) for b, d in zip(c.begin, c.data_size)]
            whole = [(end, int(f + k)) for end, f, k in zip(ends, c.first_record, c.num_records)]
        out[options] = (path.read_bytes(), records, whole)
    return out


def _recovered(path, tmp_path) -> tuple[list[bytes], object]:
    dest = tmp_path / "new.array_record"
    result = recover(path, dest)
    with mmrecord.ArrayRecordReader(dest) as reader:
        return reader.read_all(), result


def _is_subsequence(got, original) -> bool:
    it = iter(original)
    return all(any(g == o for o in it) for g in got)


@pytest.mark.parametrize("options", OPTIONS)
def test_truncated_at_many_offsets(files, tmp_path, options):
    """Cut the file everywhere interesting: exactly the chunks whose data is whole come back."""
    data, records, whole = files[options]
    cuts = set(range(0, len(data), 997))
    for end, _ in whole:
        cuts.update((end - 1, end, end + 1))
    for block in range(0, len(data), 65536):
        cuts.update((block - 1, block, block + 1, block + 24, block + 25))
    for cut in sorted(c for c in cuts if 0 <= c <= len(data)):
        path = tmp_path / "cut.array_record"
        path.write_bytes(data[:cut])
        got, result = _recovered(path, tmp_path)
        expected = max([n for end, n in whole if end <= cut], default=0)
        if cut == len(data):
            expected = len(records)
        assert got == records[:expected], (options, cut)
        assert result.records_written == expected


@pytest.mark.parametrize("options", OPTIONS)
def test_one_flipped_byte_costs_at_most_one_chunk(files, tmp_path, options):
    data, records, whole = files[options]
    group = int(options.split(",")[0].split(":")[1])
    rng = np.random.default_rng(3)
    for at in rng.integers(0, len(data), 60).tolist():
        buf = bytearray(data)
        buf[at] ^= 0x5A
        path = tmp_path / "flip.array_record"
        path.write_bytes(bytes(buf))
        got, result = _recovered(path, tmp_path)
        assert _is_subsequence(got, records), (options, at)
        assert len(got) >= len(records) - group, (options, at)
        # With the footer intact, the report names exactly the records lost.
        if result.footer is not None:
            lost = {i for d in result.lost if d.records for i in range(*d.records)}
            assert len(got) == len(records) - len(lost)
            assert got == [r for i, r in enumerate(records) if i not in lost]


damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 40), st.integers(1, 255)),
    st.tuples(st.just("zero"), st.integers(0, 1 << 40), st.integers(1, 70_000)),
    st.tuples(st.just("garbage"), st.integers(0, 1 << 40), st.integers(1, 5_000)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 40), st.just(0)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.sampled_from(OPTIONS), damages=st.lists(damage, min_size=1, max_size=3))
def test_random_damage_never_crashes_or_invents(files, tmp_path_factory, options, damages):
    data, records, _ = files[options]
    buf = bytearray(data)
    rng = np.random.default_rng(len(damages))
    for kind, at, arg in damages:
        at %= max(1, len(buf))
        if kind == "flip" and buf:
            buf[at] ^= arg
        elif kind == "zero":
            buf[at:at + arg] = bytes(len(buf[at:at + arg]))
        elif kind == "garbage":
            buf[at:at + arg] = rng.bytes(len(buf[at:at + arg]))
        else:
            del buf[at:]
    tmp = tmp_path_factory.mktemp("bad")
    path = tmp / "f.array_record"
    path.write_bytes(bytes(buf))
    report = verify(path)
    assert report["ok"] == (bytes(buf) == data)
    got, _ = _recovered(path, tmp)
    assert _is_subsequence(got, records)


@pytest.mark.parametrize("damaged", manifest("corrupt"), ids=lambda e: e["name"])
def test_reference_corrupt_files(damaged, tmp_path):
    path = CORRUPT / damaged["name"]
    report = verify(path)
    assert not report["ok"] and report["damage"]
    got, result = _recovered(path, tmp_path)
    if damaged.get("derived_from"):
        records = records_from_recipe(entry(damaged["derived_from"])["recipe"])
        assert _is_subsequence(got, records)
        lost = {i for d in result.lost if d.records for i in range(*d.records)}
        assert got == [r for i, r in enumerate(records[:len(got) + len(lost)]) if i not in lost]
    else:
        assert got == []


def test_exact_losses_of_the_damaged_files(tmp_path):
    def lost(name):
        return [d.records for d in _recovered(CORRUPT / name, tmp_path)[1].lost if d.records]

    def chunk_records(name):
        return tuple(entry(name, "corrupt")["damaged_data_chunk"]["records"])

    for name in ("flipped_data_byte", "flipped_chunk_header_byte", "truncated_mid_chunk"):
        assert lost(f"{name}.array_record") == [chunk_records(f"{name}.array_record")]
    assert lost("flipped_block_header_byte.array_record") == []  # the chunk's bytes are intact
    got, result = _recovered(CORRUPT / "flipped_postscript_magic.array_record", tmp_path)
    assert len(got) == entry("gs2_zstd3.array_record")["num_records"] and result.footer == "search"


def test_header_damage_without_footer_is_resynchronised(tmp_path):
    """A damaged chunk header in a file with no footer: the block headers find the next chunk."""
    records = [bytes([i]) * 3000 for i in range(100)]
    path = tmp_path / "f.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:1,uncompressed") as writer:
        writer.write_many(records)
    with survey(path) as s:
        begins, footer = s.chunks.begin.tolist(), s.footer_offset
    data = bytearray(path.read_bytes()[:footer])  # the writer died before the footer
    data[begins[10] + 30] ^= 1  # header of chunk 10 (inside one block)
    data[begins[40] + 3] ^= 1  # header of chunk 40
    path.write_bytes(bytes(data))
    got, result = _recovered(path, tmp_path)
    assert got == [r for i, r in enumerate(records) if i not in (10, 40)]
    assert result.footer is None


def test_reference_reads_recovered_file(tmp_path):
    pytest.importorskip("array_record")
    from support import reference_reader

    dest = tmp_path / "new.array_record"
    recover(CORRUPT / "truncated_mid_chunk.array_record", dest)
    reader = reference_reader(dest)
    kept = entry("truncated_mid_chunk.array_record", "corrupt")["damaged_data_chunk"]["records"][0]
    assert reader.num_records() == kept
    assert reader.read_all() == records_from_recipe(entry("gs2_zstd3.array_record")["recipe"])[:kept]
    reader.close()


def test_intact_file_round_trips(tmp_path):
    got, result = _recovered(VECTORS / "gs7_zstd3.array_record", tmp_path)
    assert not result.damage and result.records_written == 200
    assert result.options.startswith("group_size:7,")
    with mmrecord.ArrayRecordReader(VECTORS / "gs7_zstd3.array_record") as reader:
        assert got == reader.read_all()


def test_writer_killed_mid_write(tmp_path):
    """SIGKILL a writing process: every chunk that reached the disk whole comes back."""
    path = tmp_path / "killed.array_record"
    script = textwrap.dedent(f"""
        import sys, mmrecord
        w = mmrecord.ArrayRecordWriter({str(path)!r}, "group_size:2,zstd:1")
        i = 0
        while True:
            w.write(b"%08d" % i + bytes(i % 977))
            i += 1
            if i == 30000:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    got, result = _recovered(path, tmp_path)
    assert len(got) >= 2 and len(got) % 2 == 0
    assert got == [b"%08d" % i + bytes(i % 977) for i in range(len(got))]
    assert result.footer is None and result.indices_exact


def test_refuses_to_overwrite_the_damaged_file(tmp_path):
    path = tmp_path / "f.array_record"
    path.write_bytes((CORRUPT / "flipped_data_byte.array_record").read_bytes())
    with pytest.raises(ValueError):
        recover(path, path)


def test_block_header_and_scan_kernels():
    """The kernels under recovery, on FORMAT.md's facts: the first block header and a walk."""
    from mmrecord.engine import blocks, scan

    src = np.fromfile(VECTORS / "gs2_zstd3.array_record", np.uint8)
    assert blocks.read_block_header(src, 0) == (True, 0, 64)  # the signature chunk, 0..64
    assert blocks.read_block_header(src, 65536)[0]
    bad = src.copy()
    bad[65536 + 9] ^= 1
    assert not blocks.read_block_header(bad, 65536)[0]
    assert blocks.block_begin(65536 + 5) == 65536 and blocks.block_begin(65535) == 0
    kind, status, begin, end, *_ = scan.walk_chunks(src, 0)
    assert (kind == scan.CHUNK).all() and (status == scan.OK).all()
    assert begin[0] == 0 and end[-1] == len(src) and (begin[1:] == end[:-1]).all()
    # A damaged chunk header is a gap; the walk finds the chunk after it.
    damaged = src.copy()
    damaged[int(begin[5]) + 2] ^= 1
    kind, status, begin2, end2, _, _, nrec, *_ = scan.walk_chunks(damaged, 0)
    assert kind[5] == scan.GAP and status[5] == scan.HEADER_HASH and end2[5] == begin[6]
    assert list(begin2[6:]) == list(begin[6:])


def _padded(tmp_path, records, options="group_size:1,uncompressed,pad_to_block_boundary:true") -> bytes:
    path = tmp_path / "orig.array_record"
    with mmrecord.ArrayRecordWriter(path, options) as writer:
        writer.write_many(records)
    return path.read_bytes()


def _recover_bytes(tmp_path, data: bytes):
    path = tmp_path / "bad.array_record"
    path.write_bytes(data)
    return _recovered(path, tmp_path)


ABCD = [bytes([65 + i]) * (100 + 10 * i) for i in range(4)]
B = 65536


def test_a_deleted_block_costs_its_record_and_writes_no_footer(tmp_path):
    """Padded, one chunk a block: the postscript's footer offset is stale, the footer is found by content."""
    data = _padded(tmp_path, ABCD)
    got, result = _recovered_and_checked(tmp_path, data[:2 * B] + data[3 * B:])
    assert got == [ABCD[0], ABCD[1], ABCD[3]]
    assert result.kept == [(0, 2, 0), (3, 1, 2)] and result.indices_exact
    assert [d.records for d in result.lost if d.records] == [(2, 3)]


def test_an_inserted_block_keeps_the_chunk_at_the_old_footer_offset(tmp_path):
    data = _padded(tmp_path, ABCD)
    for block in (bytes(B), np.random.default_rng(0).bytes(B)):
        got, result = _recovered_and_checked(tmp_path, data[:2 * B] + block + data[2 * B:])
        assert got == ABCD and result.kept == [(0, 4, 0)] and result.indices_exact
        assert result.footer == "search"


def test_a_damaged_footer_block_header_is_not_data(tmp_path):
    """The footer begins a block in a padded file: its block header damaged, its bytes still read as a footer."""
    data = bytearray(_padded(tmp_path, ABCD))
    data[4 * B + 10] ^= 1  # the footer's block header
    got, result = _recovered_and_checked(tmp_path, bytes(data))
    assert got == ABCD and result.indices_exact and result.footer == "postscript"
    assert verify(tmp_path / "bad.array_record")["ok"] is False


def test_a_damaged_postscript_block_header_is_not_data(tmp_path):
    data = bytearray(_padded(tmp_path, ABCD))
    data[-B + 5] ^= 1
    got, result = _recovered_and_checked(tmp_path, bytes(data))
    assert got == ABCD and result.indices_exact


def test_a_stale_postscript_offset(tmp_path):
    """A valid postscript giving a wrong footer offset: the footer is found by its content."""
    from fuzz_damage import _postscript_block

    data = _padded(tmp_path, ABCD)
    for target in (64, B, 3 * B, 5 * B):
        got, result = _recovered_and_checked(tmp_path, data[:-B] + _postscript_block(len(data) - B, target))
        assert got == ABCD and result.indices_exact, target


def test_swapped_blocks_keep_their_records(tmp_path):
    data = _padded(tmp_path, ABCD)
    got, result = _recovered_and_checked(tmp_path, data[:B] + data[2 * B:3 * B] + data[B:2 * B] + data[3 * B:])
    assert sorted(got) == sorted(ABCD)


def test_group_size_without_a_footer_is_proven_or_reported(tmp_path):
    """10 records at group size 4 (chunks of 4, 4, 2), footer damaged, chunk headers damaged.

    Each chunk spans a block boundary, so the block header there proves that
    the damaged header hid one chunk; how many records it held, only an
    intact chunk that is not the last can tell.
    """
    records = [bytes([65 + i]) * (20_000 + i) for i in range(10)]
    path = tmp_path / "g.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:4,uncompressed") as writer:
        writer.write_many(records)
    with survey(path) as s:
        begins, footer = s.chunks.begin.tolist(), s.footer_offset
    data = bytearray(path.read_bytes())
    data[footer + 60] ^= 1  # the footer's data
    both = bytearray(data)
    both[begins[0] + 3] ^= 1
    both[begins[1] + 3] ^= 1
    got, result = _recovered_and_checked(tmp_path, bytes(both))
    assert got == records[8:] and result.kept == [(-1, 2, 0)] and not result.indices_exact
    assert "whose record count no intact chunk shows" in result.indices_note
    one = bytearray(data)
    one[begins[0] + 3] ^= 1  # chunk 1 survives and shows the group size
    got, result = _recovered_and_checked(tmp_path, bytes(one))
    assert got == records[4:] and result.kept == [(4, 6, 0)] and result.indices_exact
    assert result.options.startswith("group_size:4,")


def test_padded_file_without_footer_is_numbered_only_where_proven(tmp_path):
    """Without the footer, a padded file's numbering is not proven past the first block boundary."""
    data = _padded(tmp_path, ABCD)
    got, result = _recovered_and_checked(tmp_path, data[:2 * B] + data[3 * B:4 * B])  # block 2 and footer gone
    assert got == [ABCD[0], ABCD[1], ABCD[3]]
    assert result.kept[0] == (0, 1, 0) and all(first < 0 for first, _, _ in result.kept[1:])
    assert not result.indices_exact and "block boundary" in result.indices_note


def test_cli_says_when_numbers_are_approximate(tmp_path, capsys):
    from mmrecord.cli import main

    data = _padded(tmp_path, ABCD)
    path = tmp_path / "bad.array_record"
    path.write_bytes(data[:2 * B] + data[3 * B:4 * B])
    assert main(["recover", str(path), "-o", str(tmp_path / "new.array_record")]) == 0
    out = capsys.readouterr().out
    assert "record numbers approximate: the data chunk at byte 65536 begins on a block boundary" in out


def _recovered_and_checked(tmp_path, data: bytes):
    """Recover ``data``: every record written is an original, and numbered ones are where they belong."""
    got, result = _recover_bytes(tmp_path, data)
    originals = set(ABCD) | {bytes([65 + i]) * (20_000 + i) for i in range(10)}
    assert set(got) <= originals
    return got, result
