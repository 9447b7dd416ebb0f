"""Tests of codec discovery through entry points, with the example LZ4 plugin.

Each check runs in a fresh interpreter, because discovery happens once per
process and the plugin must be on the path (or not) from the start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mmrecord-lz4"


def run_python(code: str, path: Path | None = None) -> None:
    """Run ``code`` in a new interpreter, with ``path`` first on PYTHONPATH."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A directory holding the installed example plugin (built from a copy, so
    that the build leaves nothing in the source tree)."""
    root = tmp_path_factory.mktemp("lz4-plugin")
    source = root / "src"
    shutil.copytree(EXAMPLE, source)
    target = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_plugin_codec_is_discovered(plugin_path):
    run_python(
        """
        import os
        from mmrecord.codecs import available_codecs, get_codec, get_codec_by_id

        codec = get_codec("lz4")
        assert get_codec_by_id(0x4C) is codec
        assert type(codec).__module__ == "mmrecord_lz4"
        assert {"lz4", "uncompressed", "zstd", "brotli", "snappy"} <= set(available_codecs())
        for size in (0, 1, 5000, 1 << 20):
            data = os.urandom(size // 2) + bytes(size - size // 2)
            for level in (None, 0, 9):
                assert codec.decompress(codec.compress(data, level, None), size) == data
        """,
        plugin_path,
    )


def test_without_plugin_lz4_is_unknown():
    run_python(
        """
        from mmrecord.codecs import get_codec, get_codec_by_id
        from mmrecord.errors import InvalidOptionsError, UnknownCodecError

        try:
            get_codec("lz4")
        except InvalidOptionsError as e:
            assert "zstd" in str(e)
        else:
            raise AssertionError("lz4 found without the plugin")
        try:
            get_codec_by_id(0x4C)
        except UnknownCodecError as e:
            assert "0x4c" in str(e) and "mmrecord.codecs" in str(e)
        else:
            raise AssertionError("0x4c found without the plugin")
        """
    )


def test_bad_entry_points_warn(tmp_path):
    """A plugin that fails to import, or clashes with a built-in, only warns."""
    (tmp_path / "clashing_plugin.py").write_text(
        textwrap.dedent(
            """
            from mmrecord.codecs import Codec

            class Clash(Codec):
                codec_id = 0x7A  # zstd's byte
                name = "clash"
                def compress(self, data, level, window_log): return bytes(data)
                def decompress(self, data, decoded_size): return bytes(data)
            """
        )
    )
    dist_info = tmp_path / "bad_plugins-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[mmrecord.codecs]\nmissing = no_such_module:Nope\nclash = clashing_plugin:Clash\n"
    )
    run_python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from mmrecord.codecs import available_codecs, get_codec
            codecs = available_codecs()
        messages = sorted(str(w.message) for w in caught if w.category is RuntimeWarning)
        assert len(messages) == 2, messages
        assert "'clash'" in messages[0] and "clashes" in messages[0], messages
        assert "'missing'" in messages[1] and "no_such_module" in messages[1], messages
        assert type(get_codec("zstd")).__module__ == "mmrecord.codecs.zstd"
        assert "clash" not in codecs and "zstd" in codecs
        """,
        tmp_path,
    )


def test_plugin_file_round_trip(plugin_path, tmp_path):
    """A file written with the plugin codec reads back with it, and without it
    fails with an error that says which entry-point group to install into."""
    path = tmp_path / "lz4.array_record"
    run_python(
        f"""
        import mmrecord

        records = [b"", b"x", bytes(range(256)) * 40, b"abc" * 100_000]
        with mmrecord.ArrayRecordWriter({str(path)!r}, "lz4") as writer:
            for record in records:
                writer.write(record)
        reader = mmrecord.ArrayRecordReader({str(path)!r})
        assert list(reader.read_all()) == records
        assert "lz4" in reader.writer_options_string()
        """,
        plugin_path,
    )
    run_python(
        f"""
        import mmrecord
        from mmrecord.errors import UnknownCodecError

        try:
            mmrecord.ArrayRecordReader({str(path)!r}).read_all()
        except UnknownCodecError as e:
            assert e.codec_id == 0x4C, e.codec_id
            assert "mmrecord.codecs" in str(e), str(e)
        else:
            raise AssertionError("read an lz4 file without the plugin")
        """
    )
