"""Read and write TFRecord files without TensorFlow: uncompressed, GZIP or ZLIB.

    >>> from mmrecord.tfrecord import TFRecordWriter, TFRecordReader
    >>> with TFRecordWriter("data.tfrecord.gz", compression="GZIP") as w:
    ...     w.write(b"hello")
    >>> list(TFRecordReader("data.tfrecord.gz"))
    [b'hello']

Every frame's length and data carry a masked CRC-32C (computed by a numba
kernel, no ``crc32c`` package needed); a damaged frame raises
:class:`~mmrecord.errors.CorruptRecordError` with its byte offset (in the
uncompressed stream) and record number, or with ``skip_corrupt=True`` is
skipped: the reader searches on for the next intact frame and counts what it
passed over.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import BinaryIO, Iterable, Iterator

import numpy as np

from .engine import tfrecord as k
from .errors import CorruptRecordError

COMPRESSIONS = ("", "GZIP", "ZLIB")
_READ_SIZE = 8 << 20
_BATCH_BYTES = 4 << 20


def compression_for(name: str) -> str:
    """The compression a file name suggests: ``.gz``/``.gzip`` -> GZIP, ``.zlib``/``.zz`` -> ZLIB."""
    lower = os.fspath(name).lower()
    if lower.endswith((".gz", ".gzip")):
        return "GZIP"
    if lower.endswith((".zlib", ".zz")):
        return "ZLIB"
    return ""


def _normalise(compression: str | None) -> str:
    value = (compression or "").upper()
    if value == "NONE":
        value = ""
    if value not in COMPRESSIONS:
        raise ValueError(f"compression must be one of None, 'GZIP', 'ZLIB' (or 'auto'), got {compression!r}")
    return value


#: zlib's ``wbits`` for a gzip stream: its header and trailer around a deflate stream of the largest window.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def sniff_compression(head: bytes) -> str | None:
    """The compression of a TFRecord stream from its first bytes (None: not a TFRecord start).

    A compressed start must also decode as far as it goes: an uncompressed
    file whose first length is damaged can begin with two bytes that pass
    for a zlib header, and is then read as the uncompressed file it is.
    """
    if len(head) >= 12 and k.length_ok(np.frombuffer(head[:12], np.uint8), 0, k.TABLES):
        return ""
    if head[:2] == b"\x1f\x8b" and _decodes(head, _GZIP_WBITS):
        return "GZIP"
    zlib_header = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
    if zlib_header and _decodes(head, zlib.MAX_WBITS):
        return "ZLIB"
    return None


def _decodes(head: bytes, wbits: int) -> bool:
    """Whether zlib reads ``head`` as the start of a stream of that kind (``wbits``) without an error."""
    try:
        zlib.decompressobj(wbits).decompress(head)
    except zlib.error:
        return False
    return True


class _ZlibReader(io.RawIOBase):
    """A raw zlib stream as a readable binary file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self._z, self._pending = raw, zlib.decompressobj(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._pending:
            if self._z.eof:
                return 0
            chunk = self._raw.read(1 << 20)
            if not chunk:
                raise EOFError("ZLIB stream ends before its end marker (file truncated)")
            self._pending = self._z.decompress(chunk)
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class TFRecordReader:
    """Iterate over the records of a TFRecord file (a path or a binary file object).

    ``compression`` is ``"auto"`` (from the name, else from the first bytes),
    ``None``/``""``, ``"GZIP"`` or ``"ZLIB"``. ``verify`` checks each record's
    data CRC (the length CRC is always checked). After iteration,
    ``records``, ``skipped`` (damaged regions passed over) and
    ``skipped_bytes`` say what was read.
    """

    def __init__(self, source: str | os.PathLike | BinaryIO, compression: str | None = "auto",
                 verify: bool = True, skip_corrupt: bool = False) -> None:
        self.name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else \
            getattr(source, "name", "<stream>")
        self._source = source
        self._compression = compression
        self.verify, self.skip_corrupt = verify, skip_corrupt
        self.records = 0
        self.skipped = 0
        self.skipped_bytes = 0
        self._raw: BinaryIO | None = None

    def raw_position(self) -> int:
        """Bytes of the (possibly compressed) file consumed so far."""
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (OSError, ValueError):
            return 0

    def _open(self) -> tuple[BinaryIO, BinaryIO]:
        owned = isinstance(self._source, (str, os.PathLike))
        raw = open(self._source, "rb") if owned else self._source
        compression = self._compression
        if compression == "auto":
            compression = compression_for(self.name) if owned or self.name != "<stream>" else ""
            if not compression:
                head = raw.peek(16)[:16] if hasattr(raw, "peek") else b""
                compression = sniff_compression(head) or ""
        compression = _normalise(compression)
        if compression == "GZIP":
            stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")
        elif compression == "ZLIB":
            stream = io.BufferedReader(_ZlibReader(raw), 1 << 20)
        else:
            stream = raw
        return raw, stream

    def _error(self, what: str, offset: int) -> CorruptRecordError:
        return CorruptRecordError(f"TFRecord {what} (record {self.records})", path=self.name, offset=offset)

    def __iter__(self) -> Iterator[bytes]:
        raw, stream = self._open()
        self._raw = raw
        try:
            yield from self._frames(stream)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise CorruptRecordError(f"compressed TFRecord stream is damaged: {err}", path=self.name) from None
        finally:
            if stream is not raw:
                stream.close()
            if isinstance(self._source, (str, os.PathLike)):
                raw.close()

    def __enter__(self) -> "TFRecordReader":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def _frames(self, stream: BinaryIO) -> Iterator[bytes]:
        buf = bytearray()
        base = 0  # stream offset of buf[0]
        pos = 0  # position in buf of the next frame
        eof = False
        table = k.TABLES
        while True:
            arr = np.frombuffer(buf, np.uint8)
            status, nxt, starts, lengths = k.scan_frames(arr, pos, len(buf), 1 << 62, self.verify, table)
            del arr
            if len(starts):
                view = memoryview(buf)
                try:
                    for a, n in zip(starts.tolist(), lengths.tolist()):
                        yield view[a:a + n].tobytes()
                finally:
                    view.release()
                self.records += len(starts)
            pos = nxt
            if status == k.BAD_LENGTH or status == k.BAD_DATA:
                what = "length CRC mismatch" if status == k.BAD_LENGTH else "data CRC mismatch"
                if not self.skip_corrupt:
                    raise self._error(what, base + pos)
                buf, base, pos, eof = self._resync(stream, buf, base, pos, eof)
                continue
            if eof:
                if pos < len(buf):
                    if not self.skip_corrupt:
                        raise self._error(f"file ends inside a record ({len(buf) - pos} bytes left)",
                                          base + pos)
                    self.skipped += 1
                    self.skipped_bytes += len(buf) - pos
                return
            # Drop what was read and read more: at least the rest of the frame that did not fit.
            del buf[:pos]
            base, pos = base + pos, 0
            want = _READ_SIZE
            if len(buf) >= k.HEADER_SIZE:  # a whole length header, its CRC checked by scan_frames
                want = max(want, int.from_bytes(buf[:8], "little") + k.HEADER_SIZE + k.FOOTER_SIZE - len(buf))
            eof = self._fill(stream, buf, want)

    @staticmethod
    def _fill(stream: BinaryIO, buf: bytearray, want: int) -> bool:
        """Append up to ``want`` bytes of ``stream`` to ``buf``; True at the end of the stream."""
        while want > 0:
            chunk = stream.read(min(want, 1 << 28))
            if not chunk:
                return True
            buf += chunk
            want -= len(chunk)
        return False

    def _resync(self, stream: BinaryIO, buf: bytearray, base: int, bad: int, eof: bool):
        """Skip to the next intact frame after the damaged one at ``bad``: ``(buf, base, pos, eof)``."""
        table = k.TABLES
        skipped_from = base + bad
        search = bad + 1
        while True:
            arr = np.frombuffer(buf, np.uint8)
            p = k.find_length_header(arr, search, len(buf), table)
            need = 0
            if p >= 0:
                length = int.from_bytes(buf[p:p + 8], "little")
                data, end = p + k.HEADER_SIZE, p + k.HEADER_SIZE + length + k.FOOTER_SIZE
                if end <= len(buf):
                    good = int(k.masked_crc32c(arr, data, data + length, table)) == \
                        int.from_bytes(buf[data + length:end], "little")
                    del arr
                    if good:
                        self.skipped += 1
                        self.skipped_bytes += base + p - skipped_from
                        return buf, base, p, eof
                    search = p + 1
                    continue
                del arr
                if eof:  # a candidate cut by the end of the file is no frame
                    search = p + 1
                    continue
                keep, need = p, end - len(buf)
            else:
                del arr
                if eof:
                    self.skipped += 1
                    self.skipped_bytes += base + len(buf) - skipped_from
                    return buf, base, len(buf), eof
                keep = max(search, len(buf) - k.HEADER_SIZE + 1)
            del buf[:keep]
            base += keep
            search = max(0, search - keep)
            eof = self._fill(stream, buf, max(_READ_SIZE, need))


def read_tfrecords(source, compression: str | None = "auto", verify: bool = True,
                   skip_corrupt: bool = False) -> Iterator[bytes]:
    """The records of a TFRecord file, one ``bytes`` each."""
    return iter(TFRecordReader(source, compression, verify, skip_corrupt))


class TFRecordWriter:
    """Write a TFRecord file that TensorFlow's ``tf.data.TFRecordDataset`` reads.

    ``destination`` is a path or a binary file object; ``compression`` is
    ``None``, ``"GZIP"`` or ``"ZLIB"`` (``"auto"``: from the file name).
    """

    def __init__(self, destination: str | os.PathLike | BinaryIO, compression: str | None = "auto") -> None:
        owned = isinstance(destination, (str, os.PathLike))
        if compression == "auto":
            compression = compression_for(destination) if owned else ""
        compression = _normalise(compression)
        self._raw = open(destination, "wb") if owned else destination
        self._owned = owned
        self._z = None
        if compression == "GZIP":
            self._out: BinaryIO = gzip.GzipFile(fileobj=self._raw, mode="wb")
        else:
            self._out = self._raw
            if compression == "ZLIB":
                self._z = zlib.compressobj()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._closed = False

    def write(self, record) -> None:
        if self._closed:
            raise ValueError("write to a closed TFRecordWriter")
        record = bytes(record) if type(record) is not bytes else record
        self._pending.append(record)
        self._pending_bytes += len(record)
        if self._pending_bytes >= _BATCH_BYTES or len(self._pending) >= 65536:
            self.flush()

    def write_many(self, records: Iterable) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> None:
        if not self._pending:
            return
        values = np.frombuffer(b"".join(self._pending), np.uint8)
        bounds = np.zeros(len(self._pending) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, self._pending), np.int64, len(self._pending)), out=bounds[1:])
        framed = k.frame_records(values, bounds, k.TABLES).tobytes()
        self._out.write(self._z.compress(framed) if self._z is not None else framed)
        self._pending, self._pending_bytes = [], 0

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
            if self._z is not None:
                self._out.write(self._z.flush())
            if self._out is not self._raw:
                self._out.close()
        finally:
            self._closed = True
            if self._owned:
                self._raw.close()

    def __enter__(self) -> "TFRecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
