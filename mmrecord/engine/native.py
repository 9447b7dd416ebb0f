"""Calling a codec's decoder (or one-shot compressor) from kernels, so that batches run without the GIL.

Kernels call every codec's decoder the same way: through the address of a
function with the signature of libzstd's one-shot decoder::

    size_t decode(void *context, void *dst, size_t capacity, const void *src, size_t size)

which returns the decoded length (an error code, or any other length, means
failure), and the address of a context owned by the calling thread. The
kernels take both as plain integers, so they cache like any other kernel and
never touch a Python object.

Decoders with other calling conventions are reached through an adapter: a
numba ``cfunc`` with that signature which calls the real function, whose
address is then the context. This module is the one place that knows how each
convention is called; decoders written with numba are ``cfunc``s of
:data:`DECODER_SIGNATURE` themselves (:func:`lazy_cfunc`). Adapters are
compiled on first use, so importing the engine compiles none.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
from llvmlite import ir
from numba import cfunc, njit, types
from numba.extending import intrinsic

from .memory import as_readonly

#: The decoder signature as numba types, for decoders written as ``cfunc``s.
DECODER_SIGNATURE = types.uintp(types.voidptr, types.CPointer(types.uint8), types.uintp,
                                types.CPointer(types.uint8), types.uintp)

_WORD = ir.IntType(64)
_BYTES = ir.IntType(8).as_pointer()


def lazy_cfunc(function: Callable) -> Callable[[], int]:
    """A getter of the address of ``function`` compiled as a ``cfunc`` of :data:`DECODER_SIGNATURE`.

    It is compiled on the first call (from numba's cache when it can), once
    even when threads race, and kept for the life of the process: kernels
    may hold its address at any time.
    """
    lock = threading.Lock()
    compiled: list = []

    def address() -> int:
        if not compiled:
            with lock:
                if not compiled:
                    compiled.append(cfunc(DECODER_SIGNATURE, cache=True, nopython=True)(function))
        return compiled[0].address

    return address


def _pointer(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """An address (an integer or any pointer) as ``uint8_t *``."""
    if isinstance(value.type, ir.PointerType):
        return builder.bitcast(value, _BYTES)
    return builder.inttoptr(value, _BYTES)


@intrinsic
def _call_decoder(typingctx, function, context, dst, capacity, src, size):
    """``function(context, dst, capacity, src, size)``, every argument an address or a length."""
    sig = types.int64(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64)

    def codegen(cgctx, builder, signature, args):
        fn_type = ir.FunctionType(_WORD, [_BYTES, _BYTES, _WORD, _BYTES, _WORD])
        fn, ctx, out, cap, inp, n = args
        return builder.call(builder.bitcast(_pointer(builder, fn), fn_type.as_pointer()),
                            [_pointer(builder, ctx), _pointer(builder, out), cap, _pointer(builder, inp), n])

    return sig, codegen


@njit(inline="always")
def _spans_fit(dst, dst_pos: int, dst_size: int, src, src_pos: int, src_size: int) -> bool:
    """Whether both ranges lie inside their arrays: checked before any C call reads or writes them."""
    return (0 <= dst_pos and 0 <= dst_size and dst_pos + dst_size <= len(dst)
            and 0 <= src_pos and 0 <= src_size and src_pos + src_size <= len(src))


@njit(cache=True, nogil=True, inline="always")
def decode_into(function: int, context: int, dst, dst_pos: int, expected: int,
                src, src_pos: int, src_size: int) -> bool:
    """Decode ``src[src_pos:src_pos+src_size]`` into exactly ``dst[dst_pos:dst_pos+expected]``.

    Returns False when the decoder fails or yields another length; both
    ranges are checked against their arrays first, so a bad span cannot make
    the decoder read or write outside them. Inlined into its callers, it
    passes ``src`` as read-only and the positions as plain integers, so that
    one compiled :func:`_decode_into` serves them all.
    """
    return _decode_into(function, context, dst, np.int64(dst_pos), np.int64(expected), as_readonly(src),
                        np.int64(src_pos), np.int64(src_size))


@njit(cache=True, nogil=True)
def _decode_into(function: int, context: int, dst, dst_pos: int, expected: int,
                 src, src_pos: int, src_size: int) -> bool:
    """:func:`decode_into` for a read-only ``src`` and int64 positions."""
    if not _spans_fit(dst, dst_pos, expected, src, src_pos, src_size):
        return False
    got = _call_decoder(function, context, dst.ctypes.data + dst_pos, expected,
                        src.ctypes.data + src_pos, src_size)
    return got == expected


@njit(cache=True, nogil=True)
def encode_into(function: int, context: int, dst, dst_pos: int, capacity: int, src, src_pos: int,
                src_size: int) -> int:
    """Compress ``src[src_pos:src_pos+src_size]`` into ``dst`` from ``dst_pos``, in at most ``capacity`` bytes.

    ``function`` is a one-shot compressor of the decoders' signature (libzstd's
    ``ZSTD_compress2``: it returns the compressed length). Returns that
    length, or -1 when the compressor fails; both ranges are checked against
    their arrays first.
    """
    if not _spans_fit(dst, dst_pos, capacity, src, src_pos, src_size):
        return -1
    got = _call_decoder(function, context, dst.ctypes.data + dst_pos, capacity, src.ctypes.data + src_pos, src_size)
    return got if 0 <= got <= capacity else -1


# --- adapters for other conventions ------------------------------------------------


@intrinsic
def _call_sized_output(typingctx, function, dst, capacity, src, size):
    """``function(size, src, &written, dst)`` with ``written = capacity`` on entry (brotli's one-shot shape).

    The function returns 1 on success and sets ``written`` to the decoded
    length; the result is that length, or -1 for any other return value.
    """
    sig = types.int64(function, dst, capacity, src, size)

    def codegen(cgctx, builder, signature, args):
        fn, out, cap, inp, n = args
        written = builder.alloca(_WORD)
        builder.store(cap, written)
        fn_type = ir.FunctionType(ir.IntType(32), [_WORD, _BYTES, _WORD.as_pointer(), _BYTES])
        target = builder.bitcast(_pointer(builder, fn), fn_type.as_pointer())
        status = builder.call(target, [n, _pointer(builder, inp), written, _pointer(builder, out)])
        ok = builder.icmp_signed("==", status, ir.Constant(ir.IntType(32), 1))
        return builder.select(ok, builder.load(written), ir.Constant(_WORD, -1))

    return sig, codegen


def _sized_output(context, dst, capacity, src, size):
    return _call_sized_output(context, dst, capacity, src, size)


#: The address of a decoder for ``int f(size_t size, const uint8_t *src, size_t *dst_size, uint8_t *dst)``,
#: the shape of brotli's ``BrotliDecoderDecompress``: ``*dst_size`` holds the capacity on entry and
#: the decoded length on return, and 1 means success. The adapter's context is such a function's address.
sized_output_adapter = lazy_cfunc(_sized_output)


@intrinsic
def _call_words(typingctx, function, first, second, third):
    """``function(first, second, third)``, each argument an address or a word, returning a word."""
    sig = types.int64(types.int64, types.int64, types.int64, types.int64)

    def codegen(cgctx, builder, signature, args):
        fn_type = ir.FunctionType(_WORD, [_WORD, _WORD, _WORD])
        fn, a, b, c = args
        return builder.call(builder.bitcast(_pointer(builder, fn), fn_type.as_pointer()), [a, b, c])

    return sig, codegen


@intrinsic
def _word_at(typingctx, address, k):
    """The ``k``-th 64-bit word at ``address``."""
    sig = types.int64(types.voidptr, types.intp)

    def codegen(cgctx, builder, signature, args):
        words = builder.bitcast(args[0], _WORD.as_pointer())
        return builder.load(builder.gep(words, [args[1]]))

    return sig, codegen


@intrinsic
def _address_of(typingctx, pointer):
    """A pointer as an integer."""
    def codegen(cgctx, builder, signature, args):
        return builder.ptrtoint(args[0], _WORD)

    return types.int64(pointer), codegen


def _streamed(context, dst, capacity, src, size):
    # The context holds (decompress_stream, reset, stream): three words.
    decompress, reset, stream = _word_at(context, 0), _word_at(context, 1), _word_at(context, 2)
    if _call_words(reset, stream, 1, 0) < 0:  # a new frame: the session only, parameters kept
        return -1
    wanted = np.int64(capacity)
    buffers = np.empty(6, np.int64)  # the input (src, size, pos), then the output (dst, size, pos)
    buffers[0], buffers[1], buffers[2] = _address_of(src), np.int64(size), 0
    buffers[3], buffers[4], buffers[5] = _address_of(dst), wanted, 0
    where = buffers.ctypes.data
    while buffers[5] < wanted:
        read, written = buffers[2], buffers[5]
        hint = _call_words(decompress, stream, where + 24, where)
        if hint < 0:  # an error code
            return -1
        if hint == 0 or (buffers[2] == read and buffers[5] == written):
            break  # the frame ended, or the input did
    return buffers[5]


#: The address of a decoder for libzstd's streaming shape,
#: ``size_t decompress_stream(stream, ZSTD_outBuffer *out, ZSTD_inBuffer *in)`` after
#: ``size_t reset(stream, 1)``, whose context is the address of three words: those two functions'
#: addresses and the stream's. It decodes only as far as ``capacity`` bytes, so it serves
#: decoders that stop a stream early (a prefix of a chunk's records) and whole decodes alike.
stream_adapter = lazy_cfunc(_streamed)
