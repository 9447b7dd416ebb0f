"""The reference corpus itself: every file is what its manifest says, and the corpus still has
every case the other tests rely on.

A stale file, a manifest that no longer matches, or a change to ``recipes.py``
that alters any record fails here, before it can make another test pass or
fail for the wrong reason. Regenerate with ``python tests/data/reference/generate.py``.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from support import CORRUPT, VECTORS, corpus_module, entry, manifest, record_digest, records_from_recipe

VECTOR_ENTRIES = manifest("vectors")
CORRUPT_ENTRIES = manifest("corrupt")
ALL = [("vectors", e) for e in VECTOR_ENTRIES] + [("corrupt", e) for e in CORRUPT_ENTRIES]


def layout():
    return corpus_module("layout")


def options(e: dict) -> dict[str, str]:
    """The reported writer options as a dict (``"zstd:3"`` -> ``{"zstd": "3"}``)."""
    return dict((item.split(":", 1) + [""])[:2] for item in e["reported_writer_options"].split(","))


def by_name() -> dict[str, dict]:
    return {e["name"]: e for e in VECTOR_ENTRIES}


@pytest.mark.parametrize("directory, entries", [(VECTORS, VECTOR_ENTRIES), (CORRUPT, CORRUPT_ENTRIES)],
                         ids=["vectors", "corrupt"])
def test_manifest_lists_exactly_the_files(directory, entries):
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names))
    assert sorted(p.name for p in directory.iterdir() if p.name != "manifest.json") == sorted(names)


@pytest.mark.parametrize("kind, item", ALL, ids=[f"{k}/{e['name']}" for k, e in ALL])
def test_file_bytes_match_the_manifest(kind, item):
    data = (VECTORS.parent / kind / item["name"]).read_bytes()
    assert len(data) == item["file_size"]
    assert hashlib.sha256(data).hexdigest() == item["file_sha256"]


@pytest.mark.parametrize("item", VECTOR_ENTRIES, ids=lambda e: e["name"])
def test_recipe_gives_the_manifest_records(item):
    records = records_from_recipe(item["recipe"])
    assert len(records) == item["num_records"]
    assert sum(map(len, records)) == item["total_record_bytes"]
    assert record_digest(records) == item["records_sha256"]
    assert corpus_module("recipes").record_digest(records) == item["records_sha256"]
    if "record_sizes" in item:
        assert [len(r) for r in records] == item["record_sizes"]
        assert [hashlib.sha256(r).hexdigest() for r in records] == item["record_sha256"]
    else:
        assert len(item["samples"]) >= 5
        for index, size, digest in item["samples"]:
            assert len(records[index]) == size and hashlib.sha256(records[index]).hexdigest() == digest


def test_record_digest_marks_record_boundaries():
    assert record_digest([]) == hashlib.sha256(b"").hexdigest()
    assert record_digest([b"ab"]) != record_digest([b"a", b"b"]) != record_digest([b"ab", b""])


@pytest.mark.parametrize("item", VECTOR_ENTRIES, ids=lambda e: e["name"])
def test_layout_facts_match_the_file(item):
    """The layout facts, recomputed by the corpus's own plain walk (every hash checked)."""
    walked = layout().walk((VECTORS / item["name"]).read_bytes())
    assert walked.problems == []
    assert layout().describe(walked) == item["layout"]
    assert item["layout"]["records_in_data_chunks"] == item["num_records"]


def test_highway_hash_of_the_corpus_tools():
    """The corpus tools' HighwayHash against mmrecord's kernel, on every length up to three packets."""
    from mmrecord.engine.highway import highway_hash

    data = hashlib.shake_128(b"highway").digest(100)
    arr = np.frombuffer(data, np.uint8)
    for n in range(len(data)):
        assert layout().highway_hash(data[:n]) == highway_hash(arr, 0, n), n


@pytest.mark.parametrize("item", [e for e in CORRUPT_ENTRIES if e["derived_from"]], ids=lambda e: e["name"])
def test_damage_is_what_the_manifest_says(item):
    base = (VECTORS / item["derived_from"]).read_bytes()
    data = (CORRUPT / item["name"]).read_bytes()
    damage = item["damage"]
    if damage["kind"] == "cut":
        assert data == base[:damage["size"]]
    else:
        assert damage["kind"] == "xor" and len(data) == len(base)
        expected = bytearray(base)
        for at in damage["offsets"]:
            expected[at] ^= damage["mask"]
        changed = {i for i in range(len(base)) if expected[i] != data[i]}
        if "rehashed_chunk" in damage:
            # Only the chunk header's two hashes were rewritten: header hash (bytes 0..8), data hash (16..24).
            header = layout().positions(damage["rehashed_chunk"], 24)
            assert changed and changed <= set(header[0:8] + header[16:24])
            assert layout().walk(data).problems == []
        else:
            assert not changed
    chunk = item["damaged_data_chunk"]
    if chunk is not None:
        data_chunks = layout().walk(base).data_chunks
        hit = data_chunks[chunk["index"]]
        assert hit.begin == chunk["offset"]
        assert [hit.first_record, hit.first_record + hit.num_records] == chunk["records"]


def test_reference_reader_results_are_recorded():
    for item in CORRUPT_ENTRIES:
        reference = item["reference"]
        assert item["expect"] == "error" and reference["exit"] == 0
        assert item["expect_stage"] == ("read" if reference["ok_after_open"] else "open")
        if item["expect_stage"] == "read":
            assert reference["read_all"] == "error" and reference["unreadable_indices"]
        assert "goo.gle" not in str(reference)


def test_corpus_covers_what_the_tests_rely_on():
    files = by_name()
    # Codecs and levels, with the same records one per chunk.
    gs1 = [e for name, e in files.items() if re.fullmatch(r"gs1_\w+\.array_record", name)]
    assert len({e["records_sha256"] for e in gs1}) == 1
    codecs = {next(k + (":" + v if v else "") for k, v in options(e).items()
                   if k in ("uncompressed", "snappy", "brotli", "zstd")) for e in gs1}
    assert codecs == {"uncompressed", "snappy", "brotli:1", "brotli:6", "zstd:1", "zstd:3", "zstd:19"}
    # Group sizes, window_log, padding, option strings.
    assert {1, 2, 7, 100, 1000, 65536} <= {int(options(e)["group_size"]) for e in VECTOR_ENTRIES}
    assert {options(e).get("window_log") for e in VECTOR_ENTRIES} >= {"18", "20"}
    assert files["default_options.array_record"]["writer_options"] == ""
    padded = [e for e in VECTOR_ENTRIES if options(e)["pad_to_block_boundary"] == "true"]
    assert len(padded) >= 2 and any(e["layout"]["data_chunks_ending_at_boundary"] for e in padded)
    # Record counts and sizes.
    counts = {e["num_records"] for e in VECTOR_ENTRIES}
    assert 0 in counts and 1 in counts and max(counts) > 65536
    assert any(e["num_records"] and e["total_record_bytes"] == 0 for e in VECTOR_ENTRIES)
    assert files["single_empty_record.array_record"]["record_sizes"] == [0]
    sizes = {s for e in VECTOR_ENTRIES for s in e.get("record_sizes", [])}
    assert {65535, 65536, 65512} <= sizes and max(sizes) > 2 * 65536
    # The block structure.
    straddle = files["large_records_straddle_uncompressed.array_record"]["layout"]
    assert {gap for _, gap in straddle["header_straddles"]} >= {1, 8, 20, 39, 13}
    assert straddle["headers_ending_at_boundary"] and straddle["data_chunks_beginning_at_boundary"]
    assert straddle["most_boundaries_in_a_data_chunk"] >= 2
    many = files["many_small_gs1.array_record"]
    assert many["layout"]["footer_boundaries"] >= 2 and many["layout"]["data_chunks"] == many["num_records"]
    # Transposed chunks: several codecs, protobuf messages and other bytes.
    transposed = [e for e in VECTOR_ENTRIES if options(e)["transpose"] == "true"]
    assert {c for e in transposed for c in options(e) if c in ("uncompressed", "snappy", "brotli", "zstd")} == {
        "uncompressed", "snappy", "brotli", "zstd"}
    kinds = {str(e["recipe"]) for e in transposed}
    assert any("'proto'" in k for k in kinds) and any("'bytes'" in k for k in kinds)
    # A sharded set for glob patterns.
    assert sorted(n for n in files if n.startswith("shards-")) == [
        "shards-00000-of-00002.array_record", "shards-00001-of-00002.array_record"]
    # The damaged files: every kind of damage, found at open and at read.
    damaged = {e["name"].removesuffix(".array_record") for e in CORRUPT_ENTRIES}
    assert damaged >= {"flipped_block_header_byte", "flipped_chunk_header_byte", "flipped_data_byte",
                       "flipped_footer_header_byte", "flipped_postscript_magic", "wrong_postscript_magic_rehashed",
                       "truncated_mid_chunk", "truncated_before_postscript", "truncated_last_byte",
                       "zeros_64k", "text_file", "empty_0_bytes"}
    assert {e["expect_stage"] for e in CORRUPT_ENTRIES} == {"open", "read"}
    assert entry("flipped_data_byte.array_record", "corrupt")["damaged_data_chunk"]["index"] == 0
