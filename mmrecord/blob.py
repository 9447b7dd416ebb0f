"""Compressed blobs (FORMAT.md §4.1): ``varint(decompressed length) ‖ codec payload``.

Simple and transposed chunks store their parts this way; this module is the one
place that decompresses them, bounds the declared size and turns codec
failures into :class:`CorruptRecordError`.
"""

from __future__ import annotations

import numpy as np

from .codecs import get_codec_by_id
from .engine.native import decode_into
from .engine.varint import read_varint
from .errors import ArrayRecordError, CorruptRecordError


def decompress_payload(codec_id: int, payload: np.ndarray, size: int, what: str,
                       prefix: int | None = None) -> np.ndarray | bytes:
    """The ``size`` bytes a payload decompresses to, or for codec 0 the payload itself.

    A codec with a kernel decoder decodes into a NumPy array (large ones get
    huge pages); a payload it refuses goes to the codec's ``decompress``,
    whose error names the problem. With ``prefix`` below ``size``, only the
    start is needed: a codec that can stop early
    (:meth:`~mmrecord.codecs.Codec.decompress_prefix`) returns ``prefix`` to
    ``size`` bytes.
    """
    if codec_id != 0 and prefix is not None and prefix < size:
        out = _decompress(get_codec_by_id(codec_id).decompress_prefix, payload, size, what, prefix)
        if out is not None:
            if not prefix <= len(out) <= size:
                raise CorruptRecordError(f"{what} decompressed to {len(out)} bytes, expected {prefix} of {size}")
            return out
    if codec_id == 0:
        out = payload
    else:
        codec = get_codec_by_id(codec_id)
        decoder = codec.kernel_decoder()
        if decoder is not None:
            out = np.empty(size, np.uint8)
            data = np.frombuffer(memoryview(payload).toreadonly(), np.uint8)  # one compiled decode_into
            if decode_into(*decoder, out, 0, size, data, 0, len(data)):
                return out
        out = _decompress(codec.decompress, payload, size, what)  # the codec's own call names what is wrong
    if len(out) != size:
        raise CorruptRecordError(f"{what} decompressed to {len(out)} bytes, expected {size}")
    return out


def _decompress(method, payload: np.ndarray, size: int, what: str, *more: int):
    """A codec's ``method(payload, size, *more)``, its errors over bad data made ``CorruptRecordError``."""
    try:
        return method(payload, size, *more)
    except (ArrayRecordError, TypeError, AttributeError, NameError, ImportError, NotImplementedError):
        raise  # mmrecord's own errors, and programming or installation errors, pass through
    except Exception as exc:  # the codec libraries' own error types for bad data vary
        codec = method.__self__
        raise CorruptRecordError(
            f"{what} does not decompress with {codec.name}: {type(exc).__name__}: {exc}") from None


def decompress_blob(codec_id: int, blob: np.ndarray, max_size: int, what: str) -> np.ndarray:
    """Decompress a whole blob, refusing a declared length above ``max_size`` before decoding."""
    if codec_id == 0:
        return blob
    size, body = read_varint(blob, 0, len(blob))
    if body < 0:
        raise CorruptRecordError(f"{what} has a bad length varint")
    if size > max_size:
        raise CorruptRecordError(f"{what} claims {size} decompressed bytes, more than the chunk can hold")
    return np.frombuffer(decompress_payload(codec_id, blob[body:], int(size), what), np.uint8)
