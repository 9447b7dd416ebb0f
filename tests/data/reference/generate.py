#!/usr/bin/env python3
"""Write mmrecord's reference corpus with Google's ``array_record`` package.

    python tests/data/reference/generate.py            # rewrite vectors/ and corrupt/ here
    python tests/data/reference/generate.py --out DIR  # somewhere else (e.g. to compare)

Needs the reference package (``pip install -e ".[test]"``). Every file in
``vectors/`` is written by the reference writer from the records of a recipe
(``recipes.py``); the files in ``corrupt/`` are copies of
``vectors/gs2_zstd3.array_record`` damaged here, plus three files that are not
ArrayRecord files at all. Each damaged file is opened by the reference reader
in a child process, and what it did is stored in ``corrupt/manifest.json``.

The reference writer is deterministic, so running this again reproduces every
file and both manifests byte for byte. Every case states what it is there to
exercise, and the script stops if a written file no longer shows it (a
header that should straddle a block boundary, a footer that should span
blocks, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import layout as riegeli  # noqa: E402
import recipes  # noqa: E402

FORMAT = "mmrecord-reference-corpus"
VERSION = 1
DIGEST = "sha256 over u64le(len(r)) + r for every record r, in order"
SUFFIX = ".array_record"
BLOCK = riegeli.BLOCK

# ---------------------------------------------------------------------------
# The valid files
# ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    description: str
    options: str
    recipe: dict
    check: Callable[[dict], bool] | None = None  # on the layout facts: does the file still show its point?


def _interleaved(seed: int, count: int, lo: int, hi: int) -> dict:
    """Text and random-byte records alternating, sizes in [lo, hi]."""
    text, rand = (count + 1) // 2, count // 2
    return {"kind": "interleave", "parts": [
        {"kind": "text", "seed": seed, "sizes": {"between": [lo, hi], "count": text}},
        {"kind": "bytes", "seed": seed + 1, "sizes": {"between": [lo, hi], "count": rand}},
    ]}


def _uncompressed_gs1_chunk_end(begin: int, size: int) -> int:
    """Where an uncompressed one-record chunk of a ``size``-byte record begins at ``begin`` ends."""
    sizes_len = len(recipes._varint(size))
    data = 1 + len(recipes._varint(sizes_len)) + sizes_len + size  # codec byte, sizes length, sizes, value
    return riegeli.chunk_end(begin, data, 1)


def _placing(begin: int, at_least: int, before_boundary: int) -> tuple[int, int]:
    """The smallest record size >= ``at_least`` whose uncompressed one-record chunk, begun at
    ``begin``, ends ``before_boundary`` bytes before a block boundary; and that end."""
    size = at_least
    while True:
        end = _uncompressed_gs1_chunk_end(begin, size)
        target = -(-(end + before_boundary) // BLOCK) * BLOCK - before_boundary
        # The end moves at least one byte per byte of record: this size reaches the target or passes it.
        size += target - end
        while _uncompressed_gs1_chunk_end(begin, size) > target:
            size -= 1
        if _uncompressed_gs1_chunk_end(begin, size) == target:
            return size, target
        size += 1  # the target falls where no size ends (a varint grows): try the next boundary


def straddle_sizes() -> tuple[list[int], list[int]]:
    """Record sizes for the straddle file, and how far before a boundary each placed header begins.

    Records of exactly 65535, 65536 and 65512 bytes (65512 is one block's
    usable size), one of at least 100,000 bytes (crossing several block
    boundaries), an empty one and a one-byte one; the others are sized so that
    the next chunk header begins 1, 8, 20, 39 and 13 bytes before a block
    boundary (the block header splits it), 40 bytes before one (it ends exactly
    at the boundary) and exactly at one.
    """
    plan = [("exact", 10), ("exact", 65535), ("place", 0, 1), ("exact", 65536), ("place", 0, 8),
            ("exact", 65512), ("place", 0, 20), ("place", 100_000, 39), ("place", 0, 13),
            ("exact", 0), ("place", 0, 40), ("place", 0, 0), ("exact", 1), ("exact", 7)]
    pos = 64  # after the signature chunk
    sizes, gaps = [], []
    for step in plan:
        if step[0] == "exact":
            size = step[1]
            pos = _uncompressed_gs1_chunk_end(pos, size)
        else:
            size, pos = _placing(pos, step[1], step[2])
            gaps.append(step[2])
        sizes.append(size)
    return sizes, gaps


STRADDLE_SIZES, STRADDLE_GAPS = straddle_sizes()


def _has_straddles(f: dict) -> bool:
    wanted = sorted(g for g in STRADDLE_GAPS if 0 < g < riegeli.CHUNK_HEADER)
    return (sorted(gap for _, gap in f["header_straddles"]) == wanted
            and f["headers_ending_at_boundary"] == 1 and f["data_chunks_beginning_at_boundary"] == 1
            and f["most_boundaries_in_a_data_chunk"] >= 2)


MIXED_60 = _interleaved(100, 60, 0, 1700)

CASES = [
    # One record per chunk, the same records under every codec.
    *[Case(f"gs1_{tag}{SUFFIX}", f"60 records (text and random bytes, 0..1700 bytes), one per chunk, {codec}",
           f"group_size:1,{codec}", MIXED_60)
      for tag, codec in [("uncompressed", "uncompressed"), ("snappy", "snappy"), ("brotli1", "brotli:1"),
                         ("brotli6", "brotli:6"), ("zstd1", "zstd:1"), ("zstd3", "zstd:3"),
                         ("zstd19", "zstd:19")]],
    Case(f"default_options{SUFFIX}", "the empty options string: group_size 1, zstd:3, window_log 20",
         "", _interleaved(110, 25, 0, 1000)),
    # Group sizes.
    Case(f"gs2_zstd3{SUFFIX}", "301 records in chunks of 2 (the last chunk has 1); a chunk crosses the "
         "first block boundary. The damaged files are made from this one",
         "group_size:2,zstd:3", _interleaved(200, 301, 0, 500),
         lambda f: f["data_chunks"] == 151 and f["postscript_offset"] == 2 * BLOCK),
    Case(f"gs7_zstd3{SUFFIX}", "200 records in chunks of 7 (the last has 4)",
         "group_size:7,zstd:3", _interleaved(210, 200, 0, 600)),
    Case(f"gs100_brotli6{SUFFIX}", "450 records in chunks of 100, brotli:6",
         "group_size:100,brotli:6", _interleaved(220, 450, 0, 300)),
    Case(f"gs1000_zstd3{SUFFIX}", "2500 records in chunks of 1000",
         "group_size:1000,zstd:3", _interleaved(230, 2500, 0, 40)),
    Case(f"gs65536_zstd3{SUFFIX}", "5000 records, group_size 65536: one data chunk (the old default)",
         "group_size:65536,zstd:3", _interleaved(240, 5000, 0, 30), lambda f: f["data_chunks"] == 1),
    # Record counts and empty records.
    Case(f"empty{SUFFIX}", "no records (default options)", "", {"kind": "bytes", "seed": 300, "sizes": {"exact": []}},
         lambda f: f["data_chunks"] == 0),
    Case(f"empty_uncompressed{SUFFIX}", "no records, uncompressed", "group_size:1,uncompressed",
         {"kind": "bytes", "seed": 301, "sizes": {"exact": []}}, lambda f: f["data_chunks"] == 0),
    Case(f"single_record{SUFFIX}", "one text record of 123 bytes", "",
         {"kind": "text", "seed": 302, "sizes": {"exact": [123]}}),
    Case(f"single_empty_record{SUFFIX}", "one record of 0 bytes", "",
         {"kind": "bytes", "seed": 303, "sizes": {"exact": [0]}}),
    Case(f"zero_length_mixed{SUFFIX}", "empty records among short and long ones in chunks of 5 "
         "(some chunks hold only empty records)", "group_size:5,zstd:3",
         {"kind": "bytes", "seed": 304, "sizes": {"among": [0, 0, 0, 0, 1, 3, 40, 900, 2000], "count": 97}}),
    Case(f"all_empty_records{SUFFIX}", "95 empty records in chunks of 10 (every chunk decodes to 0 bytes)",
         "group_size:10,zstd:3", {"kind": "bytes", "seed": 305, "sizes": {"repeat": 0, "count": 95}}),
    Case(f"all_empty_records_gs1_uncompressed{SUFFIX}", "40 empty records, one per uncompressed chunk",
         "group_size:1,uncompressed", {"kind": "bytes", "seed": 306, "sizes": {"repeat": 0, "count": 40}}),
    Case(f"many_small_gs1{SUFFIX}", "8,500 records of 0..4 bytes, one per uncompressed chunk: the footer "
         "index spans several blocks and many chunk headers are split by block headers",
         "group_size:1,uncompressed", {"kind": "bytes", "seed": 360, "sizes": {"between": [0, 4], "count": 8_500}},
         lambda f: f["footer_boundaries"] >= 2 and f["header_straddles_total"] >= 3),
    Case(f"over_65536_records{SUFFIX}", "70,001 records of 0..4 bytes in chunks of 10,000",
         "group_size:10000,zstd:3", {"kind": "bytes", "seed": 370, "sizes": {"between": [0, 4], "count": 70_001}},
         lambda f: f["records_in_data_chunks"] > 65536),
    # Large records and the block structure.
    Case(f"large_records_straddle_uncompressed{SUFFIX}",
         f"text records of exactly 65535, 65536 and 65512 bytes, one of {STRADDLE_SIZES[7]} bytes "
         "(several block boundaries inside one record), 0 and 1 byte; the others are sized so that chunk "
         "headers begin 1, 8, 20, 39 and "
         "13 bytes before a block boundary (split by the block header), one header ends exactly at a boundary "
         "and one chunk begins exactly at one",
         "group_size:1,uncompressed", {"kind": "text", "seed": 310, "sizes": {"exact": STRADDLE_SIZES}},
         _has_straddles),
    Case(f"large_records_zstd3{SUFFIX}", "compressible records of 65535, 65536, 65512 and 200000 bytes "
         "and a 5-byte one, in chunks of 2", "group_size:2,zstd:3",
         {"kind": "text", "seed": 311, "sizes": {"exact": [65535, 65536, 65512, 200_000, 5]}},
         lambda f: f["most_boundaries_in_a_data_chunk"] >= 1),
    Case(f"large_random_zstd3{SUFFIX}", "incompressible records of 65535, 65536 and 65512 bytes, one per chunk: "
         "every compressed chunk crosses a block boundary", "group_size:1,zstd:3",
         {"kind": "bytes", "seed": 312, "sizes": {"exact": [65535, 65536, 65512]}},
         lambda f: f["most_boundaries_in_a_data_chunk"] >= 1),
    Case(f"pad_to_block_boundary_zstd3{SUFFIX}", "pad_to_block_boundary:true: padding after every data chunk, "
         "so each begins a block", "group_size:2,pad_to_block_boundary:true",
         {"kind": "concat", "parts": [{"kind": "bytes", "seed": 320, "sizes": {"exact": [100, 70_000, 0, 10]}},
                                      {"kind": "text", "seed": 321, "sizes": {"exact": [5000, 3]}}]},
         lambda f: f["chunk_kinds"].get("p", 0) > 2 and f["data_chunks_beginning_at_boundary"] == f["data_chunks"] - 1),
    Case(f"pad_to_block_boundary_uncompressed{SUFFIX}", "pad_to_block_boundary:true, uncompressed: the "
         "65467-byte record's chunk fills its block exactly (no padding after it), the 65468-byte one's "
         "overflows into the next block by one byte", "group_size:1,uncompressed,pad_to_block_boundary:true",
         {"kind": "bytes", "seed": 322, "sizes": {"exact": [1, 65467, 65468, 0]}},
         lambda f: f["data_chunks_ending_at_boundary"] == 1 and f["data_chunks_beginning_at_boundary"] == 3),
    # Transposed chunks.
    Case(f"transpose_random_bytes{SUFFIX}", "transpose:true with records that are not protobuf messages, "
         "chunks of 50 (zstd)", "group_size:50,transpose:true",
         {"kind": "bytes", "seed": 330, "sizes": {"between": [0, 800], "count": 230}},
         lambda f: f["chunk_kinds"].get("t") == 5 and f["most_boundaries_in_a_data_chunk"] >= 1),
    Case(f"transpose_protobuf{SUFFIX}", "transpose:true with protobuf messages, chunks of 100 (zstd)",
         "group_size:100,transpose:true", {"kind": "proto", "seed": 331, "count": 420},
         lambda f: f["chunk_kinds"].get("t") == 5),
    Case(f"transpose_protobuf_uncompressed{SUFFIX}", "transpose:true with protobuf messages, uncompressed",
         "group_size:64,transpose:true,uncompressed", {"kind": "proto", "seed": 332, "count": 150},
         lambda f: f["chunk_kinds"].get("t") == 3),
    Case(f"transpose_mixed_brotli6{SUFFIX}", "transpose:true, protobuf messages and random bytes alternating, brotli:6",
         "group_size:40,transpose:true,brotli:6",
         {"kind": "interleave", "parts": [{"kind": "proto", "seed": 333, "count": 60},
                                          {"kind": "bytes", "seed": 334, "sizes": {"between": [0, 50], "count": 30}}]},
         lambda f: f["chunk_kinds"].get("t") == 3),
    Case(f"transpose_protobuf_snappy{SUFFIX}", "transpose:true with protobuf messages and text records, snappy",
         "group_size:30,transpose:true,snappy",
         {"kind": "interleave", "parts": [{"kind": "proto", "seed": 335, "count": 50},
                                          {"kind": "text", "seed": 336, "sizes": {"between": [0, 90], "count": 20}}]},
         lambda f: f["chunk_kinds"].get("t") == 3),
    # Codec settings and content.
    Case(f"window_log18_zstd5{SUFFIX}", "window_log:18 with zstd:5, options not in the canonical order; "
         "the first chunk decodes to more than the 256 KiB window", "zstd:5,window_log:18,group_size:8",
         {"kind": "text", "seed": 341, "sizes": {"between": [20000, 60000], "count": 12}}),
    Case(f"text_compressible_zstd3{SUFFIX}", "compressible text records of 2000..30000 bytes in chunks of 10",
         "group_size:10,zstd:3", {"kind": "text", "seed": 350, "sizes": {"between": [2000, 30000], "count": 12}}),
    *[Case(f"random_incompressible_{tag}{SUFFIX}",
           f"incompressible records of 0..5000 bytes in chunks of 10 (the last has 1), {codec}",
           f"group_size:10,{codec}", {"kind": "bytes", "seed": seed, "sizes": {"between": [0, 5000], "count": 21}})
      for tag, codec, seed in [("zstd3", "zstd:3", 351), ("snappy", "snappy", 352), ("brotli6", "brotli:6", 353)]],
    # A sharded data set (two files matched by one glob pattern).
    Case(f"shards-00000-of-00002{SUFFIX}", "shard 1 of 2: the decimal numbers 0..3 as records",
         "group_size:1,uncompressed", {"kind": "decimal", "first": 0, "count": 4}),
    Case(f"shards-00001-of-00002{SUFFIX}", "shard 2 of 2: the decimal numbers 4..9 as records",
         "group_size:1,uncompressed", {"kind": "decimal", "first": 4, "count": 6}),
]


def write_reference(path: Path, options: str, records: list[bytes]) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    writer = ArrayRecordWriter(str(path), options)
    for r in records:
        writer.write(r)
    if not writer.ok():
        raise RuntimeError(f"the reference writer failed on {path.name}")
    writer.close()


def read_reference(path: Path) -> tuple[list[bytes], str]:
    from array_record.python.array_record_module import ArrayRecordReader

    reader = ArrayRecordReader(str(path))
    try:
        return reader.read_all(), reader.writer_options_string()
    finally:
        reader.close()


def sample_indices(name: str, count: int) -> list[int]:
    """The two first, middle and two last records, and eight picked by a stream named after the file."""
    s = recipes.Stream(0, "samples:" + name)
    picked = {0, 1, count // 2, count - 2, count - 1} | {s.below(count) for _ in range(8)}
    return sorted(i for i in picked if 0 <= i < count)


def vector_entry(case: Case, path: Path) -> dict:
    records = recipes.records(case.recipe)
    write_reference(path, case.options, records)
    back, reported = read_reference(path)
    if back != records:
        raise RuntimeError(f"{path.name}: the reference reader does not return the records written")
    buf = path.read_bytes()
    lay = riegeli.walk(buf)
    if lay.problems:
        raise RuntimeError(f"{path.name}: {lay.problems[:5]}")
    layout_facts = riegeli.describe(lay)
    if layout_facts["records_in_data_chunks"] != len(records):
        raise RuntimeError(f"{path.name}: the chunks hold {layout_facts['records_in_data_chunks']} records")
    if case.check and not case.check(layout_facts):
        raise RuntimeError(f"{path.name} no longer shows what it is for: {case.description}\n{layout_facts}")
    entry = {
        "name": case.name,
        "description": case.description,
        "writer_options": case.options,
        "reported_writer_options": reported,
        "num_records": len(records),
        "recipe": case.recipe,
        "total_record_bytes": sum(map(len, records)),
        "records_sha256": recipes.record_digest(records),
    }
    if len(records) <= 100:
        entry["record_sizes"] = [len(r) for r in records]
        entry["record_sha256"] = [hashlib.sha256(r).hexdigest() for r in records]
    else:
        entry["samples"] = [[i, len(records[i]), hashlib.sha256(records[i]).hexdigest()]
                            for i in sample_indices(case.name, len(records))]
    entry["file_size"] = len(buf)
    entry["file_sha256"] = hashlib.sha256(buf).hexdigest()
    entry["layout"] = layout_facts
    return entry


# ---------------------------------------------------------------------------
# The damaged files
# ---------------------------------------------------------------------------

BASE = f"gs2_zstd3{SUFFIX}"


def _xor(buf: bytearray, offsets: list[int], mask: int) -> dict:
    for at in offsets:
        buf[at] ^= mask
    return {"kind": "xor", "offsets": offsets, "mask": mask}


def _simple_chunk_values(buf, chunk: riegeli.Chunk) -> list[tuple[int, int]]:
    """(logical offset in the chunk data, length) of each record of an uncompressed simple chunk."""
    data = riegeli.logical(buf, chunk.data_begin, chunk.data_size)
    if data[0] != 0:
        raise RuntimeError("expected an uncompressed simple chunk")

    def varint(p):
        value = shift = 0
        while True:
            value |= (data[p] & 0x7F) << shift
            shift += 7
            p += 1
            if data[p - 1] < 0x80:
                return value, p

    sizes_len, p = varint(1)
    stop = p + sizes_len
    lengths = []
    while p < stop:
        n, p = varint(p)
        lengths.append(n)
    out = []
    for n in lengths:
        out.append((p, n))
        p += n
    return out


def _postscript_magic_bytes(buf, lay: riegeli.Layout) -> list[list[int]]:
    """File offsets of the magic varint (field 2) in each copy of the postscript."""
    ps = lay.postscript
    where = riegeli.positions(ps.data_begin, ps.data_size)
    data = riegeli.logical(buf, ps.data_begin, ps.data_size)
    copies = []
    for start, length in _simple_chunk_values(buf, ps):
        p = start
        while p < start + length:
            tag = data[p]
            q = p + 1
            while data[q] & 0x80:
                q += 1
            q += 1  # q: end of this varint field
            if tag == 0x10:
                copies.append([where[i] for i in range(p + 1, q)])
            p = q
    return copies


def _rehash(buf: bytearray, chunk: riegeli.Chunk) -> None:
    """Recompute a chunk's data hash and header hash after its data was changed."""
    header_at = riegeli.positions(chunk.begin, riegeli.CHUNK_HEADER)
    data = riegeli.logical(buf, chunk.data_begin, chunk.data_size)
    header = bytearray(riegeli.logical(buf, chunk.begin, riegeli.CHUNK_HEADER))
    header[16:24] = riegeli.highway_hash(data).to_bytes(8, "little")
    header[0:8] = riegeli.highway_hash(bytes(header[8:])).to_bytes(8, "little")
    for i, at in enumerate(header_at):
        buf[at] = header[i]


def _chunk_fact(chunk: riegeli.Chunk, index: int) -> dict:
    return {"index": index, "offset": chunk.begin,
            "records": [chunk.first_record, chunk.first_record + chunk.num_records]}


def damaged_files(base: bytes) -> list[tuple[str, str, bytes, dict, dict | None]]:
    """(name, description, bytes, damage, damaged data chunk or None) for every damaged file."""
    lay = riegeli.walk(base)
    data = lay.data_chunks
    out = []

    def header_field(chunk, field_offset):
        return riegeli.positions(chunk.begin, riegeli.CHUNK_HEADER)[field_offset]

    # A data byte of the first data chunk.
    first = data[0]
    buf = bytearray(base)
    at = riegeli.positions(first.data_begin, first.data_size)[first.data_size // 2]
    out.append(("flipped_data_byte", f"one bit of the data of data chunk 0 (at {first.begin}) flipped, at byte "
                f"{at}: its data hash no longer matches", buf, _xor(buf, [at], 0x01), _chunk_fact(first, 0)))

    # The header of the chunk that the first block boundary interrupts.
    index, crossing = next((i, c) for i, c in enumerate(data) if c.begin < BLOCK < c.end)
    buf = bytearray(base)
    at = header_field(crossing, 8)
    out.append(("flipped_chunk_header_byte", f"one bit of the data_size field of the header of data chunk {index} "
                f"(at {crossing.begin}, the chunk the first block boundary interrupts) flipped, at byte {at}: its "
                "header hash no longer matches", buf, _xor(buf, [at], 0x01), _chunk_fact(crossing, index)))

    # The block header at the first boundary (the chunk's own bytes are intact).
    buf = bytearray(base)
    at = BLOCK + 16
    out.append(("flipped_block_header_byte", f"one bit of the next_chunk field of the block header at {BLOCK} "
                f"flipped, at byte {at}: the block header hash no longer matches; every chunk is intact (the "
                f"block header interrupts data chunk {index})", buf, _xor(buf, [at], 0x01),
                _chunk_fact(crossing, index)))

    # Cut inside the data of a chunk a few chunks past the first boundary.
    index = next(i for i, c in enumerate(data) if c.begin > BLOCK) + 5
    cut_chunk = data[index]
    cut = riegeli.positions(cut_chunk.data_begin, cut_chunk.data_size)[cut_chunk.data_size // 2]
    out.append(("truncated_mid_chunk", f"cut to {cut} bytes, inside the data of data chunk {index} "
                f"(at {cut_chunk.begin}); no footer, no postscript", bytearray(base[:cut]),
                {"kind": "cut", "size": cut}, _chunk_fact(cut_chunk, index)))
    out.append(("truncated_at_first_block", f"cut to {BLOCK} bytes (exactly one block): data chunks only",
                bytearray(base[:BLOCK]), {"kind": "cut", "size": BLOCK}, None))
    out.append(("truncated_before_postscript", f"cut to {lay.postscript.begin} bytes, just before the "
                "postscript block", bytearray(base[:lay.postscript.begin]),
                {"kind": "cut", "size": lay.postscript.begin}, None))
    out.append(("truncated_last_byte", "the last byte cut off", bytearray(base[:-1]),
                {"kind": "cut", "size": len(base) - 1}, None))

    # The footer chunk: its header, then its data.
    footer = lay.footer
    buf = bytearray(base)
    at = header_field(footer, 32)
    out.append(("flipped_footer_header_byte", f"one bit of the decoded_data_size field of the footer chunk's "
                f"header (at {footer.begin}) flipped, at byte {at}", buf, _xor(buf, [at], 0x01), None))
    buf = bytearray(base)
    at = riegeli.positions(footer.data_begin, footer.data_size)[footer.data_size // 2]
    out.append(("flipped_footer_data_byte", f"one bit of the footer chunk's data (chunk at {footer.begin}) "
                f"flipped, at byte {at}: the footer's data hash no longer matches", buf, _xor(buf, [at], 0x01), None))

    # The postscript's magic number.
    copies = _postscript_magic_bytes(base, lay)
    if len(copies) != 3:
        raise RuntimeError(f"expected three postscript copies, found {len(copies)}")
    buf = bytearray(base)
    at = copies[0][len(copies[0]) // 2]
    out.append(("flipped_postscript_magic", f"one bit of the magic number in the first of the three postscript "
                f"copies flipped, at byte {at}; no hash was updated, so the postscript chunk's data hash no "
                "longer matches", buf, _xor(buf, [at], 0x02), None))
    buf = bytearray(base)
    damage = _xor(buf, [c[len(c) // 2] for c in copies], 0x02)
    _rehash(buf, lay.postscript)
    damage["rehashed_chunk"] = lay.postscript.begin
    out.append(("wrong_postscript_magic_rehashed", "the same bit of the magic number flipped in all three "
                "postscript copies, and the postscript chunk's data and header hashes recomputed: every hash "
                "matches, only the magic is wrong", buf, damage, None))

    # Files that were never ArrayRecord files.
    out.append(("zeros_64k", f"{BLOCK} zero bytes", bytearray(BLOCK), {"kind": "new"}, None))
    words = recipes.records({"kind": "text", "seed": 900, "sizes": {"exact": [70] * 30}})
    note = b"".join(w.rstrip() + b"\n" for w in words)
    out.append(("text_file", f"a {len(note)}-byte plain text file", bytearray(note), {"kind": "new"}, None))
    out.append(("empty_0_bytes", "a file of 0 bytes", bytearray(), {"kind": "new"}, None))
    return [(name + SUFFIX, text, bytes(b), dmg, chunk) for name, text, b, dmg, chunk in out]


_DEBUG_MARKER = re.compile(r"goo\.gle/debug\S*\s*")


def _error_text(exc: BaseException) -> str:
    # Protobuf debug strings carry a marker that changes from run to run: drop it.
    return f"{type(exc).__name__}: {_DEBUG_MARKER.sub('', str(exc))}"


def probe(path: str) -> dict:
    """What the reference reader does with a file (run in a child process)."""
    from array_record.python.array_record_module import ArrayRecordReader

    out: dict = {}
    try:
        reader = ArrayRecordReader(path)
    except Exception as exc:  # the reference reports failure through ok(); recorded in case it ever raises
        return {"open": "error", "open_error": _error_text(exc)}
    out["open"] = "ok"
    out["ok_after_open"] = bool(reader.ok())
    out["num_records"] = reader.num_records()
    try:
        out["read_all_records"] = len(reader.read_all())
        out["read_all"] = "ok"
    except Exception as exc:
        out["read_all"] = "error"
        out["read_all_error"] = _error_text(exc)
    try:
        reader.seek(0)
        reader.read()
        out["read_first"] = "ok"
    except Exception as exc:
        out["read_first"] = "error"
        out["read_first_error"] = _error_text(exc)
    bad = []
    for i in range(out["num_records"]):
        try:
            reader.read([i])
        except Exception:
            bad.append(i)
    out["unreadable_indices"] = bad
    return out


def probe_in_child(path: Path) -> dict:
    run = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", str(path)],
                         capture_output=True, text=True, timeout=600)
    result = json.loads(run.stdout) if run.returncode == 0 and run.stdout.strip() else {}
    result["exit"] = run.returncode
    if run.returncode:
        result["stderr"] = run.stderr[-500:]
    return result


def corrupt_entry(name, description, buf: bytes, damage: dict, chunk, path: Path) -> dict:
    path.write_bytes(buf)
    reference = probe_in_child(path)
    opened = reference.get("ok_after_open", False)
    failed = (not opened or reference.get("read_all") == "error" or reference.get("exit") != 0)
    if not failed:
        raise RuntimeError(f"{name}: the reference reader reads the damaged file without an error")
    derived = damage["kind"] in ("xor", "cut")
    return {
        "name": name,
        "description": description,
        "derived_from": BASE if derived else None,
        "damage": damage,
        "damaged_data_chunk": chunk,
        "file_size": len(buf),
        "file_sha256": hashlib.sha256(buf).hexdigest(),
        "expect": "error",
        "expect_stage": "read" if opened else "open",
        "reference": reference,
    }


# ---------------------------------------------------------------------------


def _json(value, indent: int = 0) -> str:
    """JSON with objects spread over lines and lists of plain values kept on one line."""
    pad = " " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k)}: {_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(pad + _json(v, indent + 1) for v in value) + "\n" + " " * indent + "]"
    return json.dumps(value)


def write_manifest(directory: Path, kind: str, entries: list[dict], extra: dict) -> None:
    doc = {"format": FORMAT, "version": VERSION, "kind": kind, "record_digest": DIGEST, **extra, "files": entries}
    text = _json(doc) + "\n"
    if json.loads(text) != doc:
        raise AssertionError("manifest formatting changed its content")
    (directory / "manifest.json").write_text(text)


def _clean(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*" + SUFFIX):
        old.unlink()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where vectors/ and corrupt/ go (default: here)")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return 0

    from importlib.metadata import version

    written_by = f"array_record {version('array-record')}"
    vectors, corrupt = args.out / "vectors", args.out / "corrupt"
    _clean(vectors)
    entries = []
    for case in CASES:
        entries.append(vector_entry(case, vectors / case.name))
        print(f"vectors/{case.name}: {entries[-1]['num_records']} records, {entries[-1]['file_size']} bytes")
    write_manifest(vectors, "vectors", entries, {"written_by": written_by})

    _clean(corrupt)
    damaged = []
    for name, description, buf, damage, chunk in damaged_files((vectors / BASE).read_bytes()):
        damaged.append(corrupt_entry(name, description, buf, damage, chunk, corrupt / name))
        print(f"corrupt/{name}: reference {damaged[-1]['expect_stage']} error")
    write_manifest(corrupt, "corrupt", damaged, {"reference_reader": written_by})
    total = sum(p.stat().st_size for d in (vectors, corrupt) for p in d.iterdir())
    print(f"{len(entries)} valid and {len(damaged)} damaged files, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
