"""The ArrayRecord messages: postscript and footer metadata (FORMAT.md §6).

These are tiny protobuf messages; a hand-written codec for the three of them is
smaller and faster than depending on protobuf. The per-chunk footer entries,
of which there can be millions, are coded by kernels in ``engine/proto.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .engine.varint import encode_varint
from .errors import CorruptRecordError

POSTSCRIPT_MAGIC = 0x71930E704FDAE05E
POSTSCRIPT_COPIES = 3
FOOTER_VERSION = 1


def _fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field_number, value)`` for varint and length-delimited fields."""
    pos, stop = 0, len(message)

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            if pos >= stop or shift > 63:
                raise CorruptRecordError("truncated or overlong varint in a protobuf message")
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < stop:
        tag = varint()
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            yield field, varint()
        elif wire == 2:
            length = varint()
            if length > stop - pos:
                raise CorruptRecordError("length-delimited protobuf field runs past its message")
            yield field, bytes(message[pos : pos + length])
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise CorruptRecordError(f"protobuf wire type {wire} is not valid here")
    if pos != stop:
        raise CorruptRecordError("protobuf message runs past its end")


def encode_postscript(footer_offset: int) -> bytes:
    """``RiegeliPostscript{footer_offset, magic}``."""
    return b"\x08" + encode_varint(footer_offset) + b"\x10" + encode_varint(POSTSCRIPT_MAGIC)


def decode_postscript(message: bytes) -> int:
    """Return the footer offset of a postscript, checking the magic."""
    footer_offset = magic = None
    for field, value in _fields(message):
        if field == 1 and isinstance(value, int):
            footer_offset = value
        elif field == 2 and isinstance(value, int):
            magic = value
    if magic != POSTSCRIPT_MAGIC:
        raise CorruptRecordError("postscript magic is wrong: not an ArrayRecord file")
    if footer_offset is None:
        raise CorruptRecordError("postscript has no footer offset")
    return footer_offset


@dataclass(frozen=True)
class FooterMetadata:
    """``RiegeliFooterMetadata.array_record_metadata``."""

    num_chunks: int
    num_records: int
    writer_options: str | None
    version: int = FOOTER_VERSION

    def encode(self) -> bytes:
        inner = (
            b"\x08" + encode_varint(self.version)
            + b"\x10" + encode_varint(self.num_chunks)
            + b"\x18" + encode_varint(self.num_records)
        )
        if self.writer_options is not None:
            options = self.writer_options.encode()
            inner += b"\x22" + encode_varint(len(options)) + options
        return b"\x0a" + encode_varint(len(inner)) + inner

    @classmethod
    def decode(cls, message: bytes) -> "FooterMetadata":
        inner = None
        for field, value in _fields(message):
            if field == 1 and isinstance(value, bytes):
                inner = value
        if inner is None:
            raise CorruptRecordError("footer metadata has no ArrayRecord metadata")
        values: dict[int, int | bytes] = dict(_fields(inner))
        version = values.get(1)
        if version != FOOTER_VERSION:
            raise CorruptRecordError(f"unsupported ArrayRecord footer version {version!r}")
        options = values.get(4)
        try:
            writer_options = options.decode() if isinstance(options, bytes) else None
        except UnicodeDecodeError:
            raise CorruptRecordError("writer options in the footer are not UTF-8") from None
        num_chunks, num_records = values.get(2, 0), values.get(3, 0)
        if not isinstance(num_chunks, int) or not isinstance(num_records, int):
            raise CorruptRecordError("footer metadata counts have the wrong wire type")
        return cls(num_chunks=num_chunks, num_records=num_records, writer_options=writer_options)
