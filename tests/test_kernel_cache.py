"""Compiled kernels are cached outside the package, and their first compilation is announced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mmrecord
from mmrecord.engine import kernel_cache

PACKAGE = Path(mmrecord.__file__).resolve().parent


def _numba_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")}


def _run(args: list[str], cache: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, kernel_cache.CACHE_DIR_VARIABLE: str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=True, **kwargs)


def test_cache_dir_follows_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(kernel_cache.CACHE_DIR_VARIABLE, str(tmp_path / "here"))
    assert kernel_cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(kernel_cache.CACHE_DIR_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert kernel_cache.cache_dir() == tmp_path / "xdg" / "mmrecord"


def test_kernels_are_cached_in_the_cache_dir_not_in_the_package(tmp_path):
    before = _numba_files(PACKAGE)
    cache = tmp_path / "cache"
    _run([sys.executable, "-c", "from mmrecord.engine.highway import hash_bytes; hash_bytes(b'abc')"], cache)
    assert _numba_files(cache), "nothing was cached"
    assert _numba_files(PACKAGE) == before


def test_the_first_compilation_is_announced_and_timed(tmp_path):
    path = tmp_path / "small.array_record"
    with mmrecord.ArrayRecordWriter(path) as writer:
        writer.write(b"record")
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "mmrecord", "cat", str(path)]
    first = _run(command, cache)
    assert first.stdout == "record\n"
    assert "compiling kernels for this machine (first run only)" in first.stderr
    assert "kernels in" in first.stderr and "once for this machine" in first.stderr
    again = _run(command, cache)
    assert again.stdout == "record\n"
    assert again.stderr == ""


def test_the_demo_reports_compilation_apart_from_its_timings(tmp_path):
    cache = tmp_path / "cache"
    first = _run([sys.executable, "-m", "mmrecord", "demo", "--records", "300"], cache)
    assert "kernels: compiled" in first.stdout and "the figures below are warm" in first.stdout
    assert "all records match" in first.stdout
    again = _run([sys.executable, "-m", "mmrecord", "demo", "--records", "300"], cache)
    assert "kernels: loaded from the cache" in again.stdout
    assert "compiled" not in again.stdout + again.stderr
