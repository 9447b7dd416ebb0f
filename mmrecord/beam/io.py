"""``WriteToArrayRecord`` (a file-based sink) and ``ReadFromArrayRecord`` (a splittable source).

Both work with any Beam filesystem path (local, ``gs://``, ``s3://``, ...).
The writer builds each shard in a local temporary file with
:class:`mmrecord.ArrayRecordWriter` and streams it to the shard's temporary
path on the filesystem when the shard is done (for local paths it writes in
place). The reader splits files into record ranges sized by the runner's
desired bundle size, reports sizes for rebalancing (an ``OffsetRangeTracker``
over record indices, so dynamic splits land between records) and returns each
record as ``bytes``, read in order with windows fetched ahead. A remote file
is read by ranges through fsspec where fsspec has its filesystem (``gcsfs``
for ``gs://``, ``s3fs`` for ``s3://``), else copied to a local temporary file
once per worker process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading

import apache_beam as beam
from apache_beam import coders
from apache_beam.io import filebasedsink, iobase, range_trackers
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from ..reader import ArrayRecordReader
from ..writer import ArrayRecordWriter

def _is_local(path: str) -> bool:
    return isinstance(FileSystems.get_filesystem(path), LocalFileSystem)


# -- reading remote files ------------------------------------------------------

_local_copies: dict[str, str] = {}
_local_lock = threading.Lock()
_local_dir: str | None = None


def _cleanup() -> None:
    if _local_dir is not None:
        shutil.rmtree(_local_dir, ignore_errors=True)


def _fsspec_reads(path: str) -> bool:
    """Whether fsspec, and its filesystem for ``path``'s protocol, are installed."""
    try:
        import fsspec

        fsspec.get_filesystem_class(path.partition("://")[0])
    except (ImportError, ValueError):
        return False
    return True


def _open_reader(path: str, options: str = "") -> ArrayRecordReader:
    """A reader of ``path``: in place when local, by ranges through fsspec, else from a local copy."""
    if _is_local(path) or _fsspec_reads(path):
        return ArrayRecordReader(path, options)
    return ArrayRecordReader(_local_copy(path), options)


def _local_copy(path: str) -> str:
    """A local copy of the remote file ``path``, made once per process."""
    global _local_dir
    with _local_lock:
        copy = _local_copies.get(path)
        if copy is not None:
            return copy
        if _local_dir is None:
            _local_dir = tempfile.mkdtemp(prefix="mmrecord-beam-")
            atexit.register(_cleanup)
        copy = os.path.join(_local_dir, f"{len(_local_copies)}.array_record")
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src, \
                open(copy, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        _local_copies[path] = copy
        return copy


def _num_records(path: str) -> int:
    with _open_reader(path) as reader:
        return len(reader)


# -- the source --------------------------------------------------------------

class _ArrayRecordFileSource(iobase.BoundedSource):
    """The records ``[start, stop)`` of one file; positions are record indices."""

    def __init__(self, path: str, num_records: int, size: int, reader_options: str = "") -> None:
        self.path, self.num_records, self.size = path, num_records, size
        self.reader_options = reader_options

    def _bytes_per_record(self) -> float:
        return self.size / max(1, self.num_records)

    def estimate_size(self) -> int:
        return self.size

    def split(self, desired_bundle_size, start_position=None, stop_position=None):
        start = 0 if start_position is None else start_position
        stop = self.num_records if stop_position is None else stop_position
        step = max(1, int(desired_bundle_size // max(1.0, self._bytes_per_record())))
        for a in range(start, stop, step):
            b = min(stop, a + step)
            yield iobase.SourceBundle(weight=(b - a) * self._bytes_per_record(), source=self,
                                      start_position=a, stop_position=b)

    def get_range_tracker(self, start_position, stop_position):
        start = 0 if start_position is None else start_position
        stop = self.num_records if stop_position is None else stop_position
        return range_trackers.OffsetRangeTracker(start, stop)

    def read(self, range_tracker):
        i = range_tracker.start_position()
        with _open_reader(self.path, self.reader_options) as reader:
            reader.seek(i)
            # read() in order hands out records decoded (and, remote, fetched) ahead.
            while i < min(range_tracker.stop_position(), self.num_records) and range_tracker.try_claim(i):
                yield reader.read()
                i += 1

    def default_output_coder(self):
        return coders.BytesCoder()


class _ArrayRecordSource(iobase.BoundedSource):
    """Every file matching a pattern; split into per-file record ranges."""

    def __init__(self, file_pattern: str, reader_options: str = "") -> None:
        self.file_pattern = file_pattern
        self.reader_options = reader_options
        self._files: list[_ArrayRecordFileSource] | None = None

    def _sources(self) -> list[_ArrayRecordFileSource]:
        if self._files is None:
            matches = FileSystems.match([self.file_pattern])[0].metadata_list
            if not matches:
                raise OSError(f"no file matches {self.file_pattern}")
            self._files = [_ArrayRecordFileSource(m.path, _num_records(m.path), m.size_in_bytes,
                                                  self.reader_options)
                           for m in sorted(matches, key=lambda m: m.path)]
        return self._files

    def estimate_size(self) -> int:
        return sum(f.size for f in self._sources())

    def split(self, desired_bundle_size, start_position=None, stop_position=None):
        sources = self._sources()
        first = 0 if start_position is None else start_position
        last = len(sources) if stop_position is None else stop_position
        for source in sources[first:last]:
            if source.num_records:
                yield from source.split(desired_bundle_size)

    def get_range_tracker(self, start_position, stop_position):
        start = 0 if start_position is None else start_position
        stop = len(self._sources()) if stop_position is None else stop_position
        return range_trackers.UnsplittableRangeTracker(range_trackers.OffsetRangeTracker(start, stop))

    def read(self, range_tracker):
        sources = self._sources()
        for k in range(range_tracker.start_position(), range_tracker.stop_position()):
            if not range_tracker.try_claim(k):
                return
            source = sources[k]
            yield from source.read(source.get_range_tracker(None, None))

    def default_output_coder(self):
        return coders.BytesCoder()


class ReadFromArrayRecord(beam.PTransform):
    """Read every record of the files matching ``file_pattern`` as ``bytes``.

    ``reader_options`` is an mmrecord reader options string (e.g.
    ``"verify_checksums:false"``).
    """

    def __init__(self, file_pattern: str, reader_options: str = "") -> None:
        super().__init__()
        self._source = _ArrayRecordSource(file_pattern, reader_options)

    def expand(self, pbegin):
        return pbegin | beam.io.Read(self._source)


# -- the sink ----------------------------------------------------------------

class _Shard:
    """One shard being written: an ArrayRecordWriter, on a local file."""

    def __init__(self, channel, temp_path: str, options: str) -> None:
        if _is_local(temp_path):
            channel.close()  # write in place
            self._channel, self._local, self._scratch = None, temp_path, None
        else:
            fd, self._scratch = tempfile.mkstemp(suffix=".array_record", prefix="mmrecord-shard-")
            os.close(fd)
            self._channel, self._local = channel, self._scratch
        self.writer = ArrayRecordWriter(self._local, options)

    def close(self) -> None:
        try:
            self.writer.close()
            if self._channel is not None:
                with open(self._local, "rb") as f:
                    shutil.copyfileobj(f, self._channel, 1 << 20)
                self._channel.close()
        finally:
            if self._scratch is not None:
                try:
                    os.unlink(self._scratch)
                except OSError:
                    pass


class _ArrayRecordSink(filebasedsink.FileBasedSink):
    def __init__(self, file_path_prefix, file_name_suffix, num_shards, shard_name_template, options):
        super().__init__(file_path_prefix, coder=coders.BytesCoder(), file_name_suffix=file_name_suffix,
                         num_shards=num_shards, shard_name_template=shard_name_template,
                         mime_type="application/octet-stream",
                         compression_type=CompressionTypes.UNCOMPRESSED)
        self.options = options

    def open(self, temp_path):
        return _Shard(super().open(temp_path), temp_path, self.options)

    def write_encoded_record(self, file_handle, encoded_value):
        file_handle.writer.write(encoded_value)

    def close(self, file_handle):
        file_handle.close()


class WriteToArrayRecord(beam.PTransform):
    """Write a PCollection of ``bytes`` as ArrayRecord shards.

    Files are named ``file_path_prefix + "-SSSSS-of-NNNNN" + file_name_suffix``
    (``shard_name_template`` changes the middle part, as in Beam's other
    file sinks); ``num_shards=0`` lets the runner choose. ``options`` is the
    writer options string. The transform's output is the written file names.
    """

    def __init__(self, file_path_prefix: str, file_name_suffix: str = ".array_record", num_shards: int = 0,
                 options: str = "group_size:1", shard_name_template: str | None = None) -> None:
        super().__init__()
        self._sink = _ArrayRecordSink(file_path_prefix, file_name_suffix, num_shards, shard_name_template,
                                      options)

    def expand(self, pcoll):
        return pcoll | beam.io.iobase.Write(self._sink)
