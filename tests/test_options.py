"""Option strings: the reference's grammar and canonical form (FORMAT.md §7)."""

from __future__ import annotations

import pytest

from mmrecord.errors import InvalidOptionsError
from mmrecord.options import ReaderOptions, WriterOptions

TAIL = "max_parallelism:1"
PREFIX = "group_size:1,transpose:false,pad_to_block_boundary:false"


@pytest.mark.parametrize("given, recorded", [
    ("", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("default", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("zstd", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("zstd,window_log:auto", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("zstd:0", f"{PREFIX},zstd:0,window_log:20,{TAIL}"),
    ("window_log:15", f"{PREFIX},zstd:3,window_log:15,{TAIL}"),
    ("uncompressed", f"{PREFIX},uncompressed,{TAIL}"),
    ("brotli", f"{PREFIX},brotli:6,{TAIL}"),
    ("brotli:9,window_log:20", f"{PREFIX},brotli:9,window_log:20,{TAIL}"),
    ("snappy:2", f"{PREFIX},snappy,{TAIL}"),
    ("transpose_bucket_size:2M", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("max_parallelism:8", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("group_size:3,,zstd", f"group_size:3,transpose:false,pad_to_block_boundary:false,zstd:3,window_log:20,{TAIL}"),
    ("pad_to_block_boundary", f"{PREFIX},zstd:3,window_log:20,{TAIL}"),
    ("pad_to_block_boundary:true,uncompressed",
     f"group_size:1,transpose:false,pad_to_block_boundary:true,uncompressed,{TAIL}"),
    ("saturation_delay_ms:5,uncompressed", f"{PREFIX},uncompressed,{TAIL}"),
])
def test_canonical_string(given, recorded):
    assert str(WriterOptions.parse(given)) == recorded


def test_transpose_recorded_with_bucket_size():
    assert str(WriterOptions.parse("transpose")) == (
        "group_size:1,transpose:true,pad_to_block_boundary:false,transpose_bucket_size:256,"
        f"zstd:3,window_log:20,{TAIL}")
    assert WriterOptions.parse("transpose:true,transpose_bucket_size:1.5k").transpose_bucket_size == 1536


@pytest.mark.parametrize("bad, token", [
    ("group_size:0", "group_size:0"),
    ("group_size:2147483648", "group_size:2147483648"),
    ("group_size:x", "group_size:x"),
    ("zstd,brotli", "brotli"),
    ("zstd:23", "zstd:23"),
    ("brotli:12", "brotli:12"),
    ("snappy:3", "snappy:3"),
    ("uncompressed:1", "uncompressed"),
    ("window_log:9", "window_log:9"),
    ("zstd,window_log:32", "window_log:32"),
    ("brotli,window_log:31", "window_log:31"),
    ("snappy,window_log:20", "window_log"),
    ("uncompressed,window_log:auto", "window_log"),
    ("group_size:1,group_size:2", "group_size:2"),
    (" group_size:3", " group_size:3"),
    ("Zstd", "Zstd"),
    ("zstd,default", "default"),
    ("transpose:maybe", "transpose:maybe"),
    ("transpose,transpose_bucket_size:0", "transpose_bucket_size:0"),
    ("lzma", "lzma"),
])
def test_bad_writer_options_name_the_token(bad, token):
    with pytest.raises(InvalidOptionsError) as info:
        WriterOptions.parse(bad)
    assert info.value.token == token


def test_unknown_option_lists_valid_ones():
    with pytest.raises(InvalidOptionsError, match="group_size") as info:
        WriterOptions.parse("lzma")
    assert "zstd" in str(info.value)


def test_reader_options():
    opts = ReaderOptions.parse("readahead_buffer_size:4M,max_parallelism:0,index_storage_option:offloaded")
    assert opts.readahead_buffer_size == 4 << 20 and opts.max_parallelism == 0
    assert ReaderOptions.parse("verify_checksums:false").verify_checksums is False
    assert ReaderOptions.parse("").verify_checksums is True
    for bad in ["group_size:1", "readahead_buffer_size:2G", "index_storage_option:disk", "verify_checksums:no"]:
        with pytest.raises(InvalidOptionsError):
            ReaderOptions.parse(bad)


def test_options_must_be_str():
    with pytest.raises(TypeError):
        WriterOptions.parse(b"zstd")
