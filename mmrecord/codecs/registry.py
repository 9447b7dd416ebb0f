"""The codec protocol and the registry that finds codecs by name or by chunk byte.

Codecs are plugins: every codec, the built-in ones included, is declared as an
entry point in the group :data:`ENTRY_POINT_GROUP` and loaded on the first
lookup (the scheme numcodecs uses). A package adds a codec by declaring, in its
``pyproject.toml``::

    [project.entry-points."mmrecord.codecs"]
    lz4 = "mmrecord_lz4:LZ4"

Code can also call :func:`register_codec` directly.
"""

from __future__ import annotations

import abc
import threading
import warnings
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from ..errors import InvalidOptionsError, UnknownCodecError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Codec",
    "register_codec",
    "get_codec",
    "get_codec_by_id",
    "available_codecs",
]

ENTRY_POINT_GROUP = "mmrecord.codecs"


class Codec(abc.ABC):
    """A compression method for the blobs of a chunk.

    A codec turns bytes into one self-contained compressed stream and back; it
    knows nothing of chunks (the Riegeli length varint in front of each blob is
    the chunk layer's business). One instance serves all threads at once, so
    ``compress`` and ``decompress`` must be thread-safe, and they should release
    the GIL while they work so that chunks are coded in parallel.
    """

    #: The compression-type byte written at the start of each chunk's data.
    codec_id: int
    #: The codec's name in options strings.
    name: str
    #: Inclusive range of the level option; ``None`` if the codec takes no level.
    level_range: tuple[int, int] | None = None
    #: The level used when the options give none.
    default_level: int | None = None
    #: Whether the canonical writer-options string records the level
    #: (``zstd:3``) or just the name (``snappy``).
    level_in_options: bool = True
    #: Inclusive range of the ``window_log`` option; ``None`` forbids the option.
    window_log_range: tuple[int, int] | None = None
    #: A window log recorded in the options string even when not given
    #: (zstd's 20); ``None`` records it only when the user gave one.
    default_window_log: int | None = None

    @abc.abstractmethod
    def compress(self, data: Any, level: int | None, window_log: int | None) -> bytes:
        """Compress a bytes-like object (``None`` means the codec's default)."""

    def compress_sized(self, data: Any, level: int | None, window_log: int | None) -> bytes:
        """Compress a blob whose size the compressor is told up front (as ``compress`` unless overridden).

        Riegeli pledges the size of a transposed chunk's buckets and header to
        the compressor, and a blob written in pieces that fill its writer's
        first buffer exactly reaches it in one call, its size known
        (:mod:`~mmrecord.codecs.writer_calls`). That can change the stream
        (zstd then records the size in the frame); a codec whose stream
        depends on it overrides this.
        """
        return self.compress(data, level, window_log)

    def compress_streamed(self, data: Any, piece_sizes: np.ndarray, level: int | None,
                          window_log: int | None) -> bytes:
        """Compress a blob the reference's writer streams to the compressor, written in pieces of ``piece_sizes``.

        As ``compress`` unless overridden: a codec whose stream depends on the
        calls it is fed in (brotli sizes its encoder by them) overrides this,
        feeding itself the calls ``writer_calls.writer_calls(piece_sizes)``.
        """
        return self.compress(data, level, window_log)

    @abc.abstractmethod
    def decompress(self, data: Any, decoded_size: int) -> bytes:
        """Decompress a bytes-like object into exactly ``decoded_size`` bytes, or raise."""

    @property
    def decodes_prefix(self) -> bool:
        """Whether :meth:`decompress_prefix` can stop a stream early (the codec overrides it)."""
        return type(self).decompress_prefix is not Codec.decompress_prefix

    def decompress_prefix(self, data: Any, decoded_size: int, prefix: int) -> Any:
        """The first ``prefix`` bytes, at least, of a stream that decodes to ``decoded_size`` bytes, or ``None``.

        Random reads of chunks holding many records decode only as far as the
        last record they need; a codec that can stop a stream early says so
        here and returns a bytes-like object of ``prefix`` to ``decoded_size``
        bytes, the decoded stream's start. The default, ``None``, says it
        cannot: the stream is then decoded whole the usual way.
        """
        return None

    def encode_chunks(self, values: np.ndarray, sizes: np.ndarray, group_bounds: np.ndarray,
                      level: int | None, window_log: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Lay out whole simple chunks in one kernel call, or ``None`` (the default) to be called per blob.

        The records are ``values`` (uint8) cut by ``sizes`` (uint64), grouped
        at ``group_bounds``; returns ``(data, bounds)``, chunk ``g``'s data
        being ``data[bounds[g]:bounds[g+1]]`` (FORMAT.md §4.1). A codec that
        does this must give the bytes that :meth:`compress` per blob gives,
        in a new array: ``values`` may be a buffer the writer reuses.
        """
        return None

    def kernel_decoder(self) -> tuple[int, int] | None:
        """This thread's decoder for the engine's kernels, as ``(function, context)`` addresses.

        ``function`` has the signature of libzstd's one-shot decoder, ``size_t
        f(void *context, void *dst, size_t capacity, const void *src, size_t
        size)``, and returns the decoded length (anything else is a failure);
        ``context`` belongs to the calling thread and lives as long as it does.
        A C decoder of another shape is reached through an adapter of
        :mod:`mmrecord.engine.native` whose context is that decoder (brotli's
        ``BrotliDecoderDecompress``: ``sized_output_adapter()``); a decoder
        written with numba is a ``cfunc`` of ``native.DECODER_SIGNATURE``
        (snappy's). The function may refuse a valid stream (brotli's refuses
        large windows): that record is then decoded by :meth:`decompress`,
        which also names any damage.

        With a decoder, reads of one-record chunks decode in kernels, without
        the GIL and without a Python call per record, and blobs decode into
        NumPy arrays; a codec without one (the default, ``None``) is called
        through :meth:`decompress`.
        """
        return None

    def kernel_prefix_decoder(self) -> tuple[int, int] | None:
        """This thread's decoder of a stream's first bytes for the engine's kernels, or ``None`` (the default).

        Called as :meth:`kernel_decoder`'s function is, it decodes the first
        ``capacity`` bytes of a stream that holds at least that many and
        returns ``capacity``: batch reads of chunks holding many records then
        decode each chunk only as far as the last record they need (libzstd's
        streaming decoder through ``native.stream_adapter()``). Without one,
        they decode whole chunks with :meth:`kernel_decoder`.
        """
        return None

    def check_size(self, size: int, decoded_size: int) -> None:
        """Raise ValueError unless ``size == decoded_size`` (a ``decompress`` helper)."""
        if size != decoded_size:
            raise ValueError(f"{self.name} stream decodes to {size} bytes, expected {decoded_size}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} codec {self.name!r} id=0x{self.codec_id:02x}>"


_by_name: dict[str, Codec] = {}
_by_id: dict[int, Codec] = {}
_lock = threading.RLock()
_discovery = "pending"  # -> "running" -> "done"


def _discover() -> None:
    """Load every entry point of the group, once; a broken plugin only warns."""
    global _discovery
    if _discovery == "done":
        return
    with _lock:
        # "running" here means this thread is inside discovery already: a
        # plugin module that calls register_codec() while being imported.
        if _discovery != "pending":
            return
        _discovery = "running"
        try:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    register_codec(ep.load())
                except Exception as exc:
                    warnings.warn(
                        f"mmrecord: codec entry point {ep.name!r} ({ep.value}) in group "
                        f"{ENTRY_POINT_GROUP!r} could not be registered: {exc!r}",
                        RuntimeWarning,
                    )
        finally:
            _discovery = "done"


def register_codec(codec: Codec | type[Codec], *, replace: bool = False) -> Codec:
    """Register a codec (an instance, or a class to instantiate) and return it.

    A codec whose name or id is already taken by a codec of another class raises
    ValueError, unless ``replace`` is true: then the codecs it clashes with are
    removed first. Registering the same class again changes nothing.
    """
    if isinstance(codec, type):
        codec = codec()
    if not isinstance(codec, Codec):
        raise TypeError(f"{codec!r} is not a mmrecord.codecs.Codec")
    if not 0 <= codec.codec_id <= 255:
        raise ValueError(f"codec {codec.name!r}: codec_id {codec.codec_id} is not a byte")
    _discover()
    with _lock:
        clashes = {
            old
            for old in (_by_name.get(codec.name), _by_id.get(codec.codec_id))
            if old is not None and type(old) is not type(codec)
        }
        if clashes and not replace:
            raise ValueError(
                f"codec {codec!r} clashes with registered "
                f"{', '.join(sorted(map(repr, clashes)))}; pass replace=True to override"
            )
        for old in clashes:
            del _by_name[old.name], _by_id[old.codec_id]
        if type(_by_name.get(codec.name)) is not type(codec):
            _by_name[codec.name] = _by_id[codec.codec_id] = codec
        return _by_name[codec.name]


def get_codec(name: str) -> Codec:
    """The codec called ``name`` in options strings."""
    _discover()
    try:
        return _by_name[name]
    except KeyError:
        raise InvalidOptionsError(
            f"unknown compression {name!r}; available codecs: {', '.join(sorted(_by_name))}",
            name,
        ) from None


def get_codec_by_id(codec_id: int) -> Codec:
    """The codec whose compression-type byte is ``codec_id``."""
    _discover()
    try:
        return _by_id[codec_id]
    except KeyError:
        char = f" ({chr(codec_id)!r})" if 0x20 < codec_id < 0x7F else ""
        raise UnknownCodecError(
            f"unknown compression type 0x{codec_id:02x}{char}: no installed codec claims "
            f"this byte; install a plugin package that registers a codec for it in the "
            f"entry-point group {ENTRY_POINT_GROUP!r}",
            codec_id,
        ) from None


def available_codecs() -> dict[str, Codec]:
    """All registered codecs by name (a copy)."""
    _discover()
    return dict(sorted(_by_name.items()))
