"""``ArrayRecordWriter``: records -> chunks (encoded on the pool) -> file (written in order)."""

from __future__ import annotations

import os
import warnings
from array import array
from collections import deque
from concurrent.futures import Future, wait
from functools import partial
from typing import Iterable

import numpy as np

from .append import open_for_append
from .chunk import SIGNATURE, SIMPLE, EncodedChunks, encode_record_values, encode_simple_chunks
from .codecs import get_codec
from .engine.framing import lay_out_chunks
from .engine.proto import encode_footer_entries
from .errors import ClosedError
from .layout import POSTSCRIPT_COPIES, FooterMetadata, encode_postscript
from .options import WriterOptions
from .parallel import in_order_thread, shared_pool
from .storage import Location
from .storage.upload import Upload
from .transpose_encoder import encode_transposed_chunks

# A job for the pool encodes whole groups weighing at least JOB_WEIGHT, a record
# weighing its length and RECORD_WEIGHT more (so that a job of tiny records is
# not a million of them).
JOB_WEIGHT = 1 << 20
RECORD_WEIGHT = 256
# Framed jobs being written at once (each in a buffer of its own, reused).
WRITE_BUFFERS = 3


def _as_record(record) -> bytes:
    """Bytes of a bytes-like record (copied unless it is ``bytes``: the caller may reuse it)."""
    if type(record) is bytes:
        return record
    if isinstance(record, str):
        raise TypeError("records are bytes, not str: encode the text first")
    try:
        view = memoryview(record)
    except TypeError:
        raise TypeError(f"a record must be bytes-like, not {type(record).__name__}") from None
    if not view.c_contiguous:
        raise TypeError("a record must be a contiguous buffer")
    return view.tobytes()


_Encoded = tuple[EncodedChunks, "BaseException | None"]


def _chunk_encoder(options: WriterOptions):
    """``encode(records) -> EncodedChunks`` for the options: simple or transposed chunks of ``group_size``."""
    if options.transpose:
        return partial(encode_transposed_chunks, group_size=options.group_size, codec=options.codec,
                       level=options.level, window_log=options.window_log,
                       bucket_size=options.transpose_bucket_size)
    return partial(encode_simple_chunks, group_size=options.group_size, codec=options.codec,
                   level=options.level, window_log=options.window_log)


def _encode_job(records: list[bytes], options: WriterOptions) -> _Encoded:
    """Encode records as chunks of ``group_size``; on a failure, the chunks before it and the error."""
    encode = _chunk_encoder(options)
    try:
        return encode(records), None
    except Exception as exc:
        # Find the first group that fails, so that every group before it is kept.
        size = options.group_size
        good = 0
        while good < len(records):
            try:
                encode(records[good:good + size])
            except Exception:
                break
            good += size
        return encode(records[:good]), exc


class _FileWrites:
    """A file's framed bytes, written in order on the in-order thread while the writer goes on.

    File writes are about a third of the time of writing uncompressed
    records; the writer's thread hands them over and takes the GIL back at
    once. Each write has a buffer of its own, reused once it is written
    (``WRITE_BUFFERS`` at a time). Tasks refer to this object, never to the
    writer, so that a writer is never finalised on the in-order thread. After
    a failed write nothing more is written, and every later call raises.
    """

    def __init__(self, file) -> None:
        self.file = file
        self._queued: deque[tuple[Future, np.ndarray]] = deque()
        self._failed = False

    def spare_buffer(self) -> np.ndarray:
        """A buffer no write is using: a finished write's, once ``WRITE_BUFFERS`` are in use (empty before)."""
        if len(self._queued) < WRITE_BUFFERS:
            return np.empty(0, np.uint8)
        future, buffer = self._queued.popleft()
        future.result()  # a failed write raises here
        return buffer

    def submit(self, buffer: np.ndarray, size: int) -> None:
        """Write ``buffer[:size]`` after everything submitted before it."""
        self._queued.append((in_order_thread().submit(self._write, buffer[:size].data), buffer))

    def finish(self) -> None:
        """Wait for every write submitted; raise the first failure (after all have ended)."""
        queued, self._queued = self._queued, deque()
        wait([future for future, _ in queued])
        for future, _ in queued:
            future.result()

    def _write(self, data: memoryview) -> None:
        if self._failed:
            raise OSError("an earlier write to the file failed")
        try:
            self.file.write(data)
        except BaseException:
            self._failed = True
            raise


class ArrayRecordWriter:
    """Write records to an ArrayRecord file that Google's ``array_record`` reads.

    ``options`` is the reference's option string, e.g. ``"group_size:256,zstd:5"``
    (see :class:`~mmrecord.options.WriterOptions`). Compressed chunks are
    encoded on a thread pool (at most ``max_parallelism`` jobs at a time),
    uncompressed ones on the calling thread, and the framed bytes are written
    in order by a background thread. Use it as a context manager: leaving
    the ``with`` block, even by an exception, closes the file with every
    record written so far.

    A codec from a plugin whose id byte is not Riegeli's (0, ``b``, ``z``,
    ``s``) makes files that only mmrecord with that plugin can read; their
    options string names the codec.

    ``mode="a"`` appends to an existing file (see :mod:`mmrecord.append`):
    under an exclusive lock, without changing a byte already written; the
    group size must be the file's (taken from it when ``options`` gives
    none), the codec may differ. The new footer records this writer's options.

    ``path`` may be a URL (``s3://``, ``gs://``, any fsspec protocol; reached
    with ``storage_options`` or a ready fsspec ``filesystem``): the file is
    built in a local temporary file and uploaded when the writer closes, whole
    or not at all (see :mod:`mmrecord.storage.upload`). Leaving the ``with``
    block by an exception, or a record that fails to encode, uploads nothing.
    ``file://`` URLs are local paths.
    """

    def __init__(self, path: str | os.PathLike, options: str = "", *, mode: str = "w",
                 file_options: object = None, storage_options: dict | None = None,
                 filesystem: object = None) -> None:
        """Create (or truncate) ``path`` and write its signature, or with ``mode="a"`` open it to append.

        ``file_options`` is the reference's keyword for its file writer's
        settings; mmrecord writes through Python's own file object, so it is
        accepted and changes nothing.
        """
        if mode not in ("w", "a"):
            raise ValueError(f"mode must be 'w' or 'a', not {mode!r}")
        self.path = os.fspath(path)
        self.options = WriterOptions.parse(options)
        # Fail on a window the codec cannot produce now, not in the middle of the file.
        self.options.codec.compress(b"", self.options.level, self.options.window_log)
        self._file = None
        self._upload: Upload | None = None
        self._abandoned = False  # closing writes nothing more (a failed write to a URL)
        location = Location(self.path, storage_options, filesystem)
        target = location.local_path
        if location.is_remote:
            if mode == "a":
                raise ValueError("appending needs a local file: an object at a URL cannot be appended to in place")
            self._upload = Upload(location)
            self.path, target = self._upload.display, self._upload.local_path
        self._error: BaseException | None = None
        # Records not yet handed to the pool, and the weight a job may still take (an
        # append's first job also takes the records it carried: less than a group).
        self._records: list[bytes] = []
        self._room = JOB_WEIGHT
        self._appending = mode == "a"
        self._wrote = False  # whether write() or write_many() was given any record
        # Whether write() takes a record without a look at anything else: it is
        # open, has not failed, and (when appending) has noted that it wrote.
        self._taking = not self._appending
        self._pending: deque[Future] = deque()
        # The footer's index, 8 bytes a number (a file may have millions of chunks).
        self._offsets = array("Q")
        self._decoded = array("Q")
        self._counts = array("Q")
        if self._appending:
            point = open_for_append(target, self.options)
            self._file, self.options, self._pos = point.file, point.options, point.end
            self._writes = _FileWrites(self._file)
            self._offsets.extend(point.offsets)
            self._decoded.extend(point.decoded)
            self._counts.extend(point.counts)
            self._records = point.carried
        else:
            try:
                self._file = open(target, "wb")
                self._writes = _FileWrites(self._file)
                self._pos = 0
                self._write_chunks(EncodedChunks.empty(), SIGNATURE, pad=False)
            except BaseException:
                self._end_upload(publish=False)
                raise

    # -- writing records -----------------------------------------------------

    def write(self, record) -> None:
        """Append one record (bytes, bytearray, memoryview or a contiguous NumPy array)."""
        if type(record) is not bytes or not self._taking:
            record = self._admit(record)
        pending = self._records
        pending.append(record)
        self._room -= len(record) + RECORD_WEIGHT
        if self._room <= 0:
            self._job_full()

    def _admit(self, record) -> bytes:
        """:meth:`write`'s other path: the record as ``bytes``; refused by a closed or failed writer."""
        self._check_open()
        record = _as_record(record)
        self._wrote = self._taking = True
        return record

    def _job_full(self) -> None:
        """The records weigh a job: hand them to the pool once they are whole groups."""
        missing = -len(self._records) % self.options.group_size
        if missing:
            # Look again after at most the records that complete the group.
            self._room = missing * RECORD_WEIGHT
            return
        try:
            self._submit()
        except BaseException as exc:
            self._error, self._taking = exc, False
            raise

    def write_many(self, records: Iterable) -> None:
        """Append every record of an iterable."""
        write = self.write
        for record in records:
            write(record)

    def _submit(self) -> None:
        """Hand the buffered records to the pool; write finished jobs in order.

        Uncompressed records are laid out on this thread: copying them costs
        less than handing them to another thread and taking them back.
        """
        records, self._records, self._room = self._records, [], JOB_WEIGHT
        if not records:
            return
        if self.options.max_parallelism == 1 or self.options.codec.codec_id == 0:
            self._write_encoded(_encode_job(records, self.options))
            return
        self._pending.append(shared_pool().submit(_encode_job, records, self.options))
        while len(self._pending) > self.options.max_parallelism or (
            self._pending and self._pending[0].done()
        ):
            self._write_encoded(self._pending.popleft().result())

    def _write_encoded(self, encoded: _Encoded) -> None:
        """Write a job's chunks; if the job failed part-way, write what came before and raise."""
        chunks, failure = encoded
        self._write_data(chunks)
        if failure is not None:
            raise failure

    def _write_data(self, chunks: EncodedChunks) -> None:
        """Write data chunks and remember them for the footer."""
        begins = self._write_chunks(chunks, chunks.chunk_type, self.options.pad_to_block_boundary)
        self._offsets.extend(begins.tolist())
        self._decoded.extend(chunks.decoded_size.tolist())
        self._counts.extend(chunks.num_records.tolist())

    # -- layout --------------------------------------------------------------

    def _write_chunks(self, chunks: EncodedChunks, chunk_type: int, pad: bool) -> np.ndarray:
        """Frame chunks at the current position (each followed by padding if ``pad``) and write them.

        The framed bytes are written by the in-order thread while this one
        goes on (file writes are a third of the time of writing uncompressed
        records); this thread takes the GIL back at once, and the buffer is
        reused once its write is done. Returns the file position of each chunk.
        """
        framed = self._writes.spare_buffer()
        args = (self._pos, chunks.piece_at, chunks.piece_size, chunks.chunk_pieces, chunks.num_records,
                chunks.decoded_size, chunk_type, pad)
        begins, end = lay_out_chunks(*args, framed)
        size = int(end) - self._pos
        if size > len(framed):
            # Kept for the next jobs: a buffer allocated per job would be page-faulted in each time.
            framed = np.empty(max(size, 2 * len(framed)), np.uint8)
            begins, end = lay_out_chunks(*args, framed)
        self._writes.submit(framed, size)
        self._pos = int(end)
        return begins

    def _write_tail(self, values: np.ndarray, sizes: np.ndarray, codec_name: str | None) -> None:
        """Write one simple chunk of the records ``values`` cut by ``sizes``, padded to a block boundary."""
        options = self.options
        codec = options.codec if codec_name is None else get_codec(codec_name)
        chunks = encode_record_values(values, sizes, np.array([0, len(sizes)], np.int64), codec, options.level,
                                      options.window_log)
        self._write_chunks(chunks, SIMPLE, pad=True)

    # -- lifetime ------------------------------------------------------------

    def _check_open(self) -> None:
        if self._file is None:
            raise ClosedError("write to a closed ArrayRecordWriter")
        if self._error is not None:
            raise ValueError("the writer failed earlier") from self._error

    def close(self) -> None:
        """Write the last group, the footer and the postscript; close the file; upload it to its URL.

        Safe to call twice.
        """
        if self._file is None:
            return
        try:
            self._close_file()
        except BaseException:
            self._end_upload(publish=False)
            raise
        self._end_upload(publish=not self._abandoned)

    def abort(self) -> None:
        """Close after a failure elsewhere: a URL gets no object; a local file is closed as :meth:`close` does.

        What leaving the ``with`` block by an exception does. A local file
        keeps every record written so far, complete with its footer.
        """
        if self._upload is not None:
            self._abandoned = True
        self.close()

    def _close_file(self) -> None:
        self._taking = False
        # An append of no records writes nothing at all (not even the records it carried).
        wrote = (self._wrote or not self._appending) and not self._abandoned
        try:
            if self._error is None and wrote:
                self._flush_records()
        except BaseException as exc:
            self._error = exc
        try:
            # After a failure the file keeps every record before the failed group.
            if wrote:
                self._write_footer()
        finally:
            for future in self._pending:
                future.cancel()
            self._pending.clear()
            try:
                self._writes.finish()
            finally:
                file, self._file = self._file, None
                file.close()
        if self._error is not None:
            raise self._error

    def _end_upload(self, publish: bool) -> None:
        """Upload the finished file to its URL, or drop it; nothing for a local file."""
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if publish:
            upload.commit()
        else:
            upload.discard()

    def _flush_records(self) -> None:
        """Encode and write every record still buffered or in flight."""
        self._submit()
        while self._pending:
            self._write_encoded(self._pending.popleft().result())

    def _write_footer(self) -> None:
        footer_offset = self._pos
        entries, sizes = encode_footer_entries(
            np.asarray(self._offsets, np.uint64), np.asarray(self._decoded, np.uint64),
            np.asarray(self._counts, np.uint64))
        meta = FooterMetadata(num_chunks=len(self._offsets), num_records=sum(self._counts),
                              writer_options=str(self.options)).encode()
        # The metadata and the entries as one buffer: no object per entry (a file may have millions).
        values = np.concatenate((np.frombuffer(meta, np.uint8), entries))
        self._sync()  # an append's chunks are on disk before a postscript can make them the file's
        self._write_tail(values, np.concatenate(([len(meta)], sizes)).astype(np.uint64), None)
        postscript = encode_postscript(footer_offset)
        self._write_tail(np.frombuffer(postscript * POSTSCRIPT_COPIES, np.uint8),
                         np.full(POSTSCRIPT_COPIES, len(postscript), np.uint64), "uncompressed")
        self._sync()

    def _sync(self) -> None:
        """Make what was written so far durable, when appending (the old records depend on it)."""
        self._writes.finish()
        if self._appending:
            self._file.flush()
            os.fsync(self._file.fileno())

    def ok(self) -> bool:
        """False once an error happened while encoding or writing."""
        return self._error is None

    def is_open(self) -> bool:
        """True until :meth:`close`."""
        return self._file is not None

    def __enter__(self) -> "ArrayRecordWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            # A finaliser never uploads: an unclosed writer to a URL leaves nothing there.
            uploading = self._upload is not None
            warnings.warn(f"ArrayRecordWriter for {self.path!r} was not closed; "
                          + ("nothing was uploaded" if uploading else "closing it now"),
                          ResourceWarning, stacklevel=2)
            self.abort()

    def __repr__(self) -> str:
        state = "open" if self.is_open() else "closed"
        return f"ArrayRecordWriter({self.path!r}, {str(self.options)!r}, {state})"
