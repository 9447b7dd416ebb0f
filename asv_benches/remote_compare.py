"""Side by side on ``gs://``: mmrecord and the reference ``array_record``, requests and time per operation.

Both read the same objects from fake-gcs-server on loopback, through the counting proxy of the
test suite (``tests/storage_servers.py``), which counts every request and adds latency:

    python asv_benches/remote_compare.py [--records 5000] [--size 1024] [--latency 0,0.02]

The reference reads ``gs://`` through google-cloud-cpp, which finds an emulator through
``CLOUD_STORAGE_EMULATOR_ENDPOINT`` (not ``STORAGE_EMULATOR_HOST``, which the Python clients
read) and then uses anonymous credentials; the script sets both to the proxy, so every request
stays on loopback. mmrecord reads through gcsfs with the proxy as its endpoint; a build of
mmrecord without remote reads is reported as such and its rows left out.

Operations: ``open`` (constructing the reader), ``r[i]`` (single random records, per record),
``batch 256`` (256 random records in one call), ``read_all``. Each is timed and its requests
counted; ``open-ended`` counts ``Range: bytes=N-`` requests and ``whole`` GETs without a range.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import storage_servers  # noqa: E402  (the test suite's servers and proxy)

import mmrecord  # noqa: E402

SINGLE_READS = 20
BATCH = 256


def make_records(count: int, size: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    words = [bytes(rng.randrange(97, 123) for _ in range(rng.randrange(3, 9))) for _ in range(500)]
    out = []
    for i in range(count):
        body = b" ".join(rng.choice(words) for _ in range(size // 6))
        out.append(b"%08d " % i + body[: size - 9])
    return out


class Reference:
    name = "reference"

    def __init__(self) -> None:
        from array_record.python import array_record_module

        self._module = array_record_module

    def open(self, url: str, store: Any, sequential: bool) -> Any:
        options = "" if sequential else "readahead_buffer_size:0"
        return self._module.ArrayRecordReader(url, options)

    @staticmethod
    def one(reader: Any, i: int) -> bytes:
        return reader.read([i])[0]

    @staticmethod
    def batch(reader: Any, indices: list[int]) -> list[bytes]:
        return reader.read(indices)


class MmRecord:
    name = "mmrecord"

    def open(self, url: str, store: Any, sequential: bool) -> Any:
        return mmrecord.ArrayRecordReader(url, storage_options=store.storage_options)

    @staticmethod
    def one(reader: Any, i: int) -> bytes:
        return reader[i]

    @staticmethod
    def batch(reader: Any, indices: list[int]) -> list[bytes]:
        return reader[indices]


def counted(store: Any, run: Callable[[], Any]) -> tuple[Any, float, dict]:
    """Run ``run`` with a fresh count of the proxy's requests: its result, seconds and request figures."""
    latency = store.proxy.latency
    store.proxy.reset()
    store.proxy.latency = latency
    began = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - began
    requests = store.proxy.requests
    figures = {
        "requests": len(requests),
        "open_ended": sum(1 for r in requests if r.open_ended),
        "whole": sum(1 for r in requests if r.method == "GET" and r.range is None and "alt=media" in r.path),
        "bytes": sum(r.bytes_sent for r in requests),
        "max_in_flight": store.proxy.max_in_flight,
    }
    return result, seconds, figures


def measure(impl: Any, store: Any, url: str, records: list[bytes], seed: int) -> list[tuple[str, float, dict]]:
    rng = random.Random(seed)
    rows = []
    reader, seconds, figures = counted(store, lambda: impl.open(url, store, sequential=False))
    rows.append(("open", seconds, figures))
    singles = [rng.randrange(len(records)) for _ in range(SINGLE_READS)]
    got, seconds, figures = counted(store, lambda: [impl.one(reader, i) for i in singles])
    assert got == [records[i] for i in singles], f"{impl.name}: wrong records"
    per_read = {k: (v if k == "max_in_flight" else v / SINGLE_READS) for k, v in figures.items()}
    rows.append(("r[i]", seconds / SINGLE_READS, per_read))
    indices = [rng.randrange(len(records)) for _ in range(BATCH)]
    got, seconds, figures = counted(store, lambda: impl.batch(reader, indices))
    assert got == [records[i] for i in indices], f"{impl.name}: wrong batch"
    rows.append((f"batch {BATCH}", seconds, figures))
    reader.close()
    sequential = impl.open(url, store, sequential=True)
    got, seconds, figures = counted(store, sequential.read_all)
    assert got == records, f"{impl.name}: wrong read_all"
    rows.append(("read_all", seconds, figures))
    sequential.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes per record")
    parser.add_argument("--latency", default="0,0.02", help="seconds added per request, comma-separated")
    parser.add_argument("--group-sizes", default="1,256")
    args = parser.parse_args()
    records = make_records(args.records, args.size)
    loop = storage_servers.ServerLoop()
    with tempfile.TemporaryDirectory() as folder, storage_servers.running_gcs(loop, Path(folder)) as store:
        os.environ["CLOUD_STORAGE_EMULATOR_ENDPOINT"] = store.proxy.url  # google-cloud-cpp
        os.environ["STORAGE_EMULATOR_HOST"] = store.proxy.url
        impls: list[Any] = [Reference(), MmRecord()]
        print(f"{args.records:,} records of {args.size} bytes, zstd:3; fake-gcs-server through the counting proxy")
        print(f"{'group':>5} {'latency':>7} {'implementation':<10} {'operation':<10} {'ms':>9} {'requests':>8} "
              f"{'open-ended':>10} {'whole':>5} {'bytes':>12} {'in flight':>9}")
        for group_size in [int(g) for g in args.group_sizes.split(",")]:
            local = Path(folder) / f"g{group_size}.array_record"
            with mmrecord.ArrayRecordWriter(local, f"group_size:{group_size},zstd:3") as writer:
                writer.write_many(records)
            url = store.put(local, f"compare/g{group_size}.array_record")
            for latency in [float(x) for x in args.latency.split(",")]:
                store.proxy.latency = latency
                for impl in list(impls):
                    try:
                        rows = measure(impl, store, url, records, seed=group_size)
                    except (TypeError, FileNotFoundError, ValueError, OSError) as err:
                        print(f"{impl.name}: cannot read gs:// here ({type(err).__name__}: {err}); left out")
                        impls.remove(impl)
                        continue
                    for operation, seconds, f in rows:
                        print(f"{group_size:>5} {latency * 1000:>5.0f}ms {impl.name:<10} {operation:<10} "
                              f"{seconds * 1000:>9.1f} {f['requests']:>8.1f} {f['open_ended']:>10.1f} "
                              f"{f['whole']:>5.1f} {f['bytes']:>12,.0f} {f['max_in_flight']:>9.1f}")
                store.proxy.latency = 0.0


if __name__ == "__main__":
    main()
