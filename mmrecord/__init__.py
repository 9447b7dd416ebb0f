"""mmrecord: fast, byte-compatible ArrayRecord files on a memory-mapped NumPy/numba engine.

    >>> import mmrecord
    >>> with mmrecord.ArrayRecordWriter("data.array_record", "group_size:1,zstd:3") as w:
    ...     w.write(b"hello")
    >>> mmrecord.ArrayRecordReader("data.array_record")[0]
    b'hello'
"""

from . import codecs, errors
from .data_source import ArrayRecordDataSource
from .errors import (
    ArrayRecordError,
    CorruptRecordError,
    InvalidOptionsError,
    UnknownCodecError,
    UnsupportedFeatureError,
)
from .reader import ArrayRecordReader
from .writer import ArrayRecordWriter

__version__ = "0.1.0"

__all__ = [
    "ArrayRecordDataSource",
    "ArrayRecordReader",
    "ArrayRecordWriter",
    "ArrayRecordError",
    "CorruptRecordError",
    "InvalidOptionsError",
    "UnknownCodecError",
    "UnsupportedFeatureError",
    "codecs",
    "errors",
]
