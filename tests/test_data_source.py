"""ArrayRecordDataSource: path forms, index forms, processes, threads, and the reference's answers."""

from __future__ import annotations

import dataclasses
import glob
import multiprocessing
import os
import pathlib
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
from support import VECTORS, entry, manifest, record_digest

import mmrecord
from mmrecord.data_source import FileInstruction
from mmrecord.errors import InvalidOptionsError

SHARD_OPTIONS = ["group_size:1,zstd:3", "group_size:1,uncompressed", "group_size:7,snappy",
                 "group_size:64,brotli:1"]
SHARD_SIZES = [120, 1, 0, 250]


def shard_records(s: int, n: int) -> list[bytes]:
    return [b"shard %d record %d " % (s, i) * (1 + i % 5) for i in range(n)]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Four shards (one empty, one of a single record, two with groups above 1) and their records."""
    folder = tmp_path_factory.mktemp("shards")
    paths, records = [], []
    for s, (options, n) in enumerate(zip(SHARD_OPTIONS, SHARD_SIZES)):
        path = folder / f"part-{s:05d}-of-{len(SHARD_SIZES):05d}.array_record"
        with mmrecord.ArrayRecordWriter(path, options) as writer:
            writer.write_many(shard_records(s, n))
        paths.append(path)
        records.append(shard_records(s, n))
    return paths, records


@pytest.fixture(scope="module")
def everything(shards):
    return [r for part in shards[1] for r in part]


@dataclasses.dataclass
class TfdsLikeInstruction:
    """A stand-in for TFDS's FileInstruction: any object with these attributes is accepted."""

    filename: str
    skip: int
    take: int
    examples_in_shard: int


# -- path forms -------------------------------------------------------------


def test_one_path_every_spelling(shards):
    paths, records = shards
    for spelling in (str(paths[0]), paths[0], os.fsencode(paths[0]), [paths[0]], (str(paths[0]),)):
        ds = mmrecord.ArrayRecordDataSource(spelling)
        assert len(ds) == len(records[0]) and list(ds) == records[0]
        assert ds.paths == [str(paths[0])]


def test_sequence_of_paths(shards, everything):
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource(paths)
    assert len(ds) == len(everything) == sum(SHARD_SIZES)
    assert list(ds) == everything and ds[:] == everything
    assert [end - start for _, start, end in ds.shards] == SHARD_SIZES


def test_glob_pattern(shards, everything):
    paths, _ = shards
    pattern = str(paths[0].parent / "part-*-of-00004.array_record")
    ds = mmrecord.ArrayRecordDataSource(pattern)
    assert ds.paths == sorted(map(str, paths)) and list(ds) == everything
    assert mmrecord.ArrayRecordDataSource(pathlib.Path(pattern)).paths == ds.paths
    with pytest.raises(FileNotFoundError):
        mmrecord.ArrayRecordDataSource(str(paths[0].parent / "nothing-*.array_record"))


def test_slice_strings(shards):
    paths, records = shards
    ds = mmrecord.ArrayRecordDataSource([f"{paths[3]}[10:20]", f"{paths[0]}[0:5]", f"{paths[0]}[7:7]"])
    assert len(ds) == 15
    assert ds[:] == records[3][10:20] + records[0][0:5]
    assert ds.shards[0] == (str(paths[3]), 10, 20)
    with pytest.raises(ValueError):
        mmrecord.ArrayRecordDataSource(f"{paths[0]}[9:3]")


def test_slice_strings_are_not_opened_until_read(shards, tmp_path):
    paths, records = shards
    missing = tmp_path / "not-there.array_record"
    ds = mmrecord.ArrayRecordDataSource([f"{paths[0]}[0:3]", f"{missing}[0:10]"])
    assert len(ds) == 13 and ds[2] == records[0][2]
    with pytest.raises(FileNotFoundError):
        ds[3]
    past_the_end = mmrecord.ArrayRecordDataSource(f"{paths[1]}[0:5]")
    with pytest.raises(IndexError, match="holds 1"):
        past_the_end[0]


def test_file_instructions(shards):
    paths, records = shards
    ds = mmrecord.ArrayRecordDataSource([
        TfdsLikeInstruction(str(paths[3]), skip=5, take=10, examples_in_shard=250),
        FileInstruction(paths[0], skip=100, take=-1, examples_in_shard=120),
        FileInstruction(str(paths[1]), skip=0, take=1, examples_in_shard=1),
    ])
    assert len(ds) == 10 + 20 + 1
    assert ds[:] == records[3][5:15] + records[0][100:] + records[1]
    single = mmrecord.ArrayRecordDataSource(TfdsLikeInstruction(str(paths[0]), 3, 2, 120))
    assert single[:] == records[0][3:5]


def test_mixed_forms(shards):
    paths, records = shards
    ds = mmrecord.ArrayRecordDataSource([
        paths[1], f"{paths[3]}[240:250]", FileInstruction(paths[0], 0, 2, 120), str(paths[2]),
    ])
    assert ds[:] == records[1] + records[3][240:] + records[0][:2]
    assert len(ds) == 13


def test_bad_paths_and_options(shards, tmp_path):
    paths, _ = shards
    with pytest.raises(ValueError):
        mmrecord.ArrayRecordDataSource([])
    with pytest.raises(TypeError):
        mmrecord.ArrayRecordDataSource(42)
    with pytest.raises(TypeError):
        mmrecord.ArrayRecordDataSource([paths[0], 42])
    with pytest.raises(FileNotFoundError):
        mmrecord.ArrayRecordDataSource(tmp_path / "missing.array_record")
    not_a_file = tmp_path / "junk.array_record"
    not_a_file.write_bytes(b"x" * 100)
    with pytest.raises(mmrecord.ArrayRecordError):
        mmrecord.ArrayRecordDataSource([paths[0], not_a_file])
    with pytest.raises(InvalidOptionsError):
        mmrecord.ArrayRecordDataSource(paths[0], {"no_such_option": "1"})
    with pytest.raises(InvalidOptionsError):
        mmrecord.ArrayRecordDataSource(paths[0], {"max_parallelism": "many"})


def test_reader_options(shards):
    paths, records = shards
    ds = mmrecord.ArrayRecordDataSource(paths[3], {"max_parallelism": "0", "verify_checksums": False,
                                                    "readahead_buffer_size": "0"})
    assert ds.reader_options == "max_parallelism:0,verify_checksums:false,readahead_buffer_size:0"
    assert ds[[0, 200, 5]] == [records[3][0], records[3][200], records[3][5]]
    assert mmrecord.ArrayRecordDataSource(paths[0], "verify_checksums:true")[3] == records[0][3]


# -- index forms ------------------------------------------------------------


def test_integer_indices(shards, everything):
    ds = mmrecord.ArrayRecordDataSource(shards[0])
    n = len(everything)
    for i in (0, 1, 119, 120, 121, n - 1, -1, -n, -250):
        assert ds[i] == everything[i]
    for i in (np.int64(150), np.int32(-3), np.uint8(7), np.array(42), True):
        assert ds[i] == everything[int(i)]
    for bad in (n, -n - 1, 10**12):
        with pytest.raises(IndexError):
            ds[bad]
    for bad in (1.5, "3", None):
        with pytest.raises(TypeError):
            ds[bad]


def test_slices(shards, everything):
    ds = mmrecord.ArrayRecordDataSource(shards[0])
    for key in (slice(None), slice(100, 130), slice(-5, None), slice(None, None, -1), slice(3, 300, 17),
                slice(500, 600), slice(10, 5), slice(None, None, -41)):
        assert ds[key] == everything[key]


def test_batches(shards, everything):
    ds = mmrecord.ArrayRecordDataSource(shards[0])
    n = len(everything)
    rng = np.random.default_rng(5)
    asks = [[3, 1, 3, -2], (0, n - 1), range(115, 125), np.array([121, 0, 370], np.uint16),
            rng.integers(-n, n, 1000), rng.permutation(n), [np.int64(4), 9], []]
    for ask in asks:
        expected = [everything[int(i)] for i in ask]
        assert ds[ask] == expected
        assert ds.__getitems__(ask) == expected
        assert ds._getitems(list(ask)) == expected  # Grain's name
    assert ds.__getitems__(np.arange(n)) == everything
    with pytest.raises(IndexError):
        ds.__getitems__([0, n])
    with pytest.raises(IndexError):
        ds[[-n - 1]]
    for bad in ([0.5], [[1, 2]], np.array([True, False]), [None], [1, "a"]):
        with pytest.raises(TypeError):
            ds.__getitems__(bad)


def test_one_shard_with_an_offset(shards):
    paths, records = shards
    ds = mmrecord.ArrayRecordDataSource(f"{paths[3]}[100:200]")
    assert ds[0] == records[3][100] and ds[-1] == records[3][199]
    assert ds[[5, 0, 99]] == [records[3][105], records[3][100], records[3][199]]
    assert list(ds) == records[3][100:200]


def test_len_iter_close_context_repr(shards, everything):
    paths, _ = shards
    with mmrecord.ArrayRecordDataSource(paths) as ds:
        assert len(ds) == len(everything)
        assert ds[5] == everything[5]
        text = repr(ds)
        assert text.startswith("ArrayRecordDataSource(371 records in 4 shards")
        assert "part-00000-of-00004" in text and "part-00003-of-00004" in text
        assert "0x" not in text
    assert ds[6] == everything[6]  # usable after closing: shards reopen
    ds.close()
    ds.close()
    again = mmrecord.ArrayRecordDataSource(paths)
    assert repr(again) == repr(ds)  # the same for the same shards, whatever is open
    sliced = mmrecord.ArrayRecordDataSource(f"{paths[0]}[1:3]", {"verify_checksums": "true"})
    assert "[1:3]" in repr(sliced) and "verify_checksums:true" in repr(sliced)


def test_empty_data_source(shards):
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource([paths[2], f"{paths[0]}[4:4]"])
    assert len(ds) == 0 and list(ds) == [] and ds[:] == [] and ds.__getitems__([]) == []
    with pytest.raises(IndexError):
        ds[0]


def test_group_size_above_one(tmp_path):
    records = [b"%06d" % i * 20 for i in range(5000)]
    path = tmp_path / "grouped.array_record"
    with mmrecord.ArrayRecordWriter(path, "group_size:500,zstd:3") as writer:
        writer.write_many(records)
    ds = mmrecord.ArrayRecordDataSource(path)
    order = np.random.default_rng(1).permutation(len(records))
    assert [ds[int(i)] for i in order[:300]] == [records[i] for i in order[:300]]
    assert ds.__getitems__(order) == [records[i] for i in order]
    assert ds[1234:1300] == records[1234:1300] and list(ds) == records


def test_open_files_are_bounded(shards, everything):
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource(paths, max_open_files=2)
    for _ in range(2):
        assert ds.__getitems__(np.arange(len(everything))[::-1]) == everything[::-1]
        assert [ds[i] for i in range(len(everything))] == everything
        assert sum(r is not None for r in ds._readers) <= 2
    with pytest.raises(ValueError):
        mmrecord.ArrayRecordDataSource(paths, max_open_files=0)


def test_a_thousand_shards(tmp_path):
    for s in range(1000):
        with mmrecord.ArrayRecordWriter(tmp_path / f"s-{s:05d}.array_record",
                                        "group_size:1,uncompressed,max_parallelism:1") as writer:
            writer.write_many([b"%d:%d" % (s, i) for i in range(3)])
    pattern = str(tmp_path / "s-*.array_record")
    ds = mmrecord.ArrayRecordDataSource(pattern)
    assert len(ds) == 3000 and ds[2999] == b"999:2" and ds[1500] == b"500:0"
    picked = np.random.default_rng(2).integers(0, 3000, 256)
    assert ds.__getitems__(picked) == [b"%d:%d" % divmod(int(i), 3) for i in picked]


def test_import_does_not_import_frameworks():
    code = ("import sys, mmrecord; mmrecord.ArrayRecordDataSource; "
            "print(sorted({'torch', 'tensorflow', 'grain', 'jax'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- pickling and processes -------------------------------------------------


def test_pickle_round_trip(shards, everything):
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource([*paths, f"{paths[3]}[3:9]"], {"verify_checksums": "true"})
    assert ds[200] == everything[200]  # some shards open
    data = pickle.dumps(ds)
    assert len(data) < 2000  # paths and options, no maps
    copy = pickle.loads(data)
    assert all(r is None for r in copy._readers)
    assert len(copy) == len(ds) and repr(copy) == repr(ds)
    assert copy[:] == ds[:] and copy.reader_options == ds.reader_options
    assert pickle.loads(pickle.dumps(copy))[-1] == shards[1][3][8]


def _child_read(ds, indices, conn) -> None:
    try:
        one_by_one = [ds[int(i)] for i in indices]
        batched = ds.__getitems__(indices)
        conn.send((record_digest(one_by_one), record_digest(batched), len(ds)))
    except BaseException as err:  # report, so the parent fails with the reason
        conn.send(repr(err))
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes(shards, everything, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    ctx = multiprocessing.get_context(method)
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource(paths)
    # Readers open, the thread pools started and a chunk cached before the fork.
    assert ds.__getitems__(np.arange(len(everything))) == everything
    indices = np.random.default_rng(3).permutation(len(everything))
    expected = record_digest([everything[i] for i in indices])
    children = []
    for _ in range(2):
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child_read, args=(ds, indices, send))
        child.start()
        send.close()
        children.append((child, receive))
    for child, receive in children:
        assert receive.poll(120), "the child process sent nothing"
        assert receive.recv() == (expected, expected, len(everything))
        child.join(30)
        assert child.exitcode == 0
    assert ds[-1] == everything[-1]  # the parent's copy is untouched


def _pool_read(args):
    ds, indices = args
    return ds.__getitems__(indices)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool(shards, everything, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    ds = mmrecord.ArrayRecordDataSource(shards[0])
    ds[0]
    parts = np.array_split(np.arange(len(everything)), 6)
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(_pool_read, [(ds, part) for part in parts])
    assert [r for part in got for r in part] == everything


# -- threads ----------------------------------------------------------------


def test_many_threads_one_data_source(shards, everything):
    paths, _ = shards
    ds = mmrecord.ArrayRecordDataSource(paths + [f"{paths[3]}[50:150]"], max_open_files=3)
    expected = everything + everything[-200:-100]
    n = len(expected)
    errors: list[str] = []
    start = threading.Barrier(8)

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        start.wait()
        try:
            for _ in range(30):
                picked = rng.integers(-n, n, 64)
                if ds.__getitems__(picked) != [expected[i] for i in picked]:
                    errors.append(f"thread {seed}: a batch differs")
                for i in rng.integers(0, n, 20).tolist():
                    if ds[i] != expected[i]:
                        errors.append(f"thread {seed}: record {i} differs")
                if seed == 0:
                    ds.close()  # shards close and reopen under the other threads' feet
        except Exception as err:  # a reader closed under a thread is the one allowed failure
            if not isinstance(err, ValueError) or "closed" not in str(err):
                errors.append(f"thread {seed}: {err!r}")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ds.__getitems__(np.arange(n)) == expected


def test_many_threads_every_record(tmp_path):
    """Sixteen threads read every record of a two-shard source, one by one and in batches."""
    records = [np.random.default_rng(i).bytes(int(i % 300)) for i in range(4000)]
    paths = []
    for s, options in enumerate(["group_size:1,zstd:3", "group_size:16,zstd:3"]):
        paths.append(tmp_path / f"t-{s}.array_record")
        with mmrecord.ArrayRecordWriter(paths[-1], options) as writer:
            writer.write_many(records[s * 2000:(s + 1) * 2000])
    ds = mmrecord.ArrayRecordDataSource(paths)
    bad: list[int] = []

    def work(k: int) -> None:
        order = np.random.default_rng(k).permutation(len(records))
        mine = order[k::16]
        bad.extend(i for i, r in zip(mine.tolist(), ds.__getitems__(mine)) if r != records[i])
        bad.extend(i for i in mine[::-1].tolist() if ds[i] != records[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


# -- the reference's data source --------------------------------------------


def _reference_source(paths):
    ards = pytest.importorskip("array_record.python.array_record_data_source")
    return ards.ArrayRecordDataSource(paths)


def _sample(n: int, seed: int) -> list[int]:
    if n <= 600:
        return list(range(n))[::-1]
    rng = np.random.default_rng(seed)
    return [0, n - 1, *rng.integers(0, n, 400).tolist()]


VALID = [e["name"] for e in manifest("vectors") if e["num_records"] > 0]


@pytest.mark.parametrize("name", VALID)
def test_same_records_as_the_reference(name):
    path = str(VECTORS / name)
    theirs = _reference_source([path])
    ours = mmrecord.ArrayRecordDataSource(path)
    assert len(ours) == len(theirs)
    picked = _sample(len(ours), seed=len(name))
    assert ours.__getitems__(picked) == list(theirs.__getitems__(picked))
    assert [ours[i] for i in picked[:50]] == [theirs[i] for i in picked[:50]]
    expected = entry(name)
    if expected["num_records"] <= 5000:
        assert record_digest(ours) == expected["records_sha256"]


def test_same_records_as_the_reference_multi_shard():
    shards = sorted(glob.glob(str(VECTORS / "shards-*-of-00002.array_record")))
    assert len(shards) == 2
    theirs = _reference_source(shards)
    ours = mmrecord.ArrayRecordDataSource(str(VECTORS / "shards-*-of-00002.array_record"))
    assert len(ours) == len(theirs) == 10
    assert ours[:] == [str(i).encode() for i in range(10)]  # the shards hold the numbers 0..3 and 4..9
    assert ours[:] == [theirs[i] for i in range(10)] == list(theirs)
    assert ours.__getitems__([9, 0, 5, 4]) == list(theirs.__getitems__([9, 0, 5, 4]))

    many = [str(VECTORS / n) for n in ("gs1_zstd3.array_record", "empty.array_record",
                                       "gs7_zstd3.array_record", "single_record.array_record",
                                       "over_65536_records.array_record", "gs100_brotli6.array_record",
                                       "transpose_protobuf.array_record", "gs1_snappy.array_record")]
    theirs = _reference_source(many)
    ours = mmrecord.ArrayRecordDataSource(many)
    n = len(ours)
    assert n == len(theirs)
    picked = np.random.default_rng(11).integers(0, n, 3000).tolist() + [0, n - 1, 60, 61, 261]
    assert ours.__getitems__(picked) == list(theirs.__getitems__(picked))
    assert [ours[i] for i in picked[:300]] == [theirs[i] for i in picked[:300]]


def test_same_records_as_the_reference_sliced():
    forms = [f"{VECTORS / 'gs7_zstd3.array_record'}[5:150]", f"{VECTORS / 'gs1_zstd3.array_record'}[0:60]",
             TfdsLikeInstruction(str(VECTORS / "over_65536_records.array_record"), 65000, 1001, 70001)]
    theirs = _reference_source(forms)
    ours = mmrecord.ArrayRecordDataSource(forms)
    assert len(ours) == len(theirs) == 145 + 60 + 1001
    picked = list(range(len(ours)))[::-3]
    assert ours.__getitems__(picked) == list(theirs.__getitems__(picked))
    assert list(ours) == list(theirs)
