"""Shared helpers for the tests: the reference corpus and the reference package."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import struct
import sys
from functools import lru_cache
from pathlib import Path

# Files written by Google's array_record, kept in the repository (tests/data/reference/README.md).
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"
VECTORS = REFERENCE / "vectors"
CORRUPT = REFERENCE / "corrupt"


@lru_cache(maxsize=None)
def manifest(kind: str) -> list[dict]:
    """Entries of ``vectors/manifest.json`` or ``corrupt/manifest.json``."""
    return json.loads((REFERENCE / kind / "manifest.json").read_text())["files"]


def entry(name: str, kind: str = "vectors") -> dict:
    """The manifest entry of one corpus file."""
    return next(e for e in manifest(kind) if e["name"] == name)


@lru_cache(maxsize=None)
def corpus_module(name: str):
    """``recipes`` or ``layout`` from the corpus folder (standard library only)."""
    qualified = f"reference_corpus_{name}"
    spec = importlib.util.spec_from_file_location(qualified, REFERENCE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def records_from_recipe(recipe: dict) -> list[bytes]:
    """The exact records of a vectors entry (standard library only, no reference package)."""
    return corpus_module("recipes").records(recipe)


def record_digest(records) -> str:
    """The manifest's digest: sha256 over u64le(len(r)) + r for every record."""
    h = hashlib.sha256()
    for r in records:
        h.update(struct.pack("<Q", len(r)))
        h.update(bytes(r))
    return h.hexdigest()


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def reference_writer(path, options: str = ""):
    """Google's writer (the ``array-record`` package from the test extra)."""
    from array_record.python.array_record_module import ArrayRecordWriter

    return ArrayRecordWriter(str(path), options)


def reference_reader(path, options: str = ""):
    """Google's reader."""
    from array_record.python.array_record_module import ArrayRecordReader

    return ArrayRecordReader(str(path), options)


def require(module: str, tag: str):
    """Import an optional library: skip without it, unless ``MMRECORD_REQUIRE`` names ``tag``.

    CI's job for each optional integration sets ``MMRECORD_REQUIRE``, so there a
    missing library fails the run instead of skipping its tests.
    """
    import importlib
    import os

    import pytest

    if tag in os.environ.get("MMRECORD_REQUIRE", "").split(","):
        return importlib.import_module(module)
    return pytest.importorskip(module)


@lru_cache(maxsize=None)
def random_bytes(n: int, seed: int) -> bytes:
    """Incompressible bytes, the same for the same arguments."""
    return random.Random(seed).randbytes(n)


@lru_cache(maxsize=None)
def text_bytes(n: int, seed: int) -> bytes:
    """Compressible bytes: random words from a small vocabulary."""
    rng = random.Random(seed)
    words = [b"alpha ", b"beta ", b"gamma ", b"delta ", b"record ", b"chunk\n", b"\x00\x01"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + rng.randbytes(rng.randrange(3))
    return bytes(out[:n])


def fail_groups_containing(monkeypatch, marker: bytes = b"bad") -> None:
    """Make the writer's chunk encoding raise MemoryError for any group holding a record with ``marker``."""
    from mmrecord import writer as writer_module

    real = writer_module.encode_simple_chunks

    def flaky(groups, *args, **kwargs):
        if any(marker in group for group in groups):
            raise MemoryError("codec ran out of memory")
        return real(groups, *args, **kwargs)

    monkeypatch.setattr(writer_module, "encode_simple_chunks", flaky)
