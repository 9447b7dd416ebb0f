"""Damaged files: exact records or an ArrayRecordError, never a crash, a hang or wrong bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmrecord
from mmrecord.errors import ArrayRecordError

OPTIONS = ["group_size:1,uncompressed", "group_size:1,zstd:1", "group_size:3,zstd:1", "group_size:2,snappy",
           "group_size:5,brotli:1", "group_size:1,uncompressed,pad_to_block_boundary:true"]


def _records(seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(0, 3000, 40)) + [70_000, 0, 65_536]
    return [rng.bytes(int(n)) for n in sizes]


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, tuple[bytes, list[bytes]]]:
    files = {}
    for n, options in enumerate(OPTIONS):
        path = tmp_path_factory.mktemp("orig") / "f.array_record"
        records = _records(n)
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(records)
        files[options] = (path.read_bytes(), records)
    return files


def _check(path, records):
    """Every record the reader returns must be the original; failures must be ArrayRecordErrors."""
    try:
        reader = mmrecord.ArrayRecordReader(path)
    except ArrayRecordError:
        return
    assert reader.num_records() == len(records)
    for i in range(len(records)):
        try:
            assert reader[i] == records[i]
        except ArrayRecordError:
            pass
    try:
        assert reader.read_all() == records
    except ArrayRecordError:
        pass


damage = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 40), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 40), st.just(0)),
    st.tuples(st.just("zero"), st.integers(0, 1 << 40), st.integers(1, 5000)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.sampled_from(OPTIONS), damages=st.lists(damage, min_size=1, max_size=3))
def test_random_damage(originals, tmp_path_factory, options, damages):
    data, records = originals[options]
    buf = bytearray(data)
    for kind, at, arg in damages:
        at %= max(1, len(buf))
        if kind == "flip" and buf:
            buf[at] ^= arg
        elif kind == "truncate":
            del buf[at:]
        elif kind == "zero":
            buf[at:at + arg] = bytes(len(buf[at:at + arg]))
    path = tmp_path_factory.mktemp("bad") / "f.array_record"
    path.write_bytes(bytes(buf))
    _check(path, records)


@pytest.mark.parametrize("options", OPTIONS)
def test_every_flipped_byte_in_the_data_region(originals, tmp_path, options):
    """Flip each byte of the chunks (sampled stride): damage is always detected or harmless."""
    data, records = originals[options]
    path = tmp_path / "f.array_record"
    for at in range(0, len(data) - 65536, 997):
        buf = bytearray(data)
        buf[at] ^= 0x5A
        path.write_bytes(bytes(buf))
        _check(path, records)


@pytest.mark.parametrize("options", ["group_size:1,uncompressed", "group_size:1,zstd:1"])
def test_unverified_reads_still_never_read_out_of_bounds(originals, tmp_path, options):
    """Without hash checks damage may go unnoticed, but never crashes: batch paths included."""
    data, records = originals[options]
    rng = np.random.default_rng(3)
    path = tmp_path / "f.array_record"
    for _ in range(200):
        buf = bytearray(data)
        for at in rng.integers(0, len(data) - 65536, 4):
            buf[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(buf))
        try:
            reader = mmrecord.ArrayRecordReader(path, "verify_checksums:false")
            for i in range(len(records)):
                try:
                    reader[i]
                except ArrayRecordError:
                    pass
            try:
                reader.read_all()
            except ArrayRecordError:
                pass
        except ArrayRecordError:
            pass
