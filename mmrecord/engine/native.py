"""Calling a codec's C decoder from kernels, so that batches decode without the GIL.

A codec may give the engine the address of a C function with the signature of
libzstd's one-shot decoder::

    size_t decode(void *context, void *dst, size_t capacity, const void *src, size_t size)

which returns the decoded length (an error code, or any other length, means
failure), and the address of a context owned by the calling thread. The
kernels here take both as plain integers, so they cache like any other kernel
and never touch a Python object.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _call_decoder(typingctx, function, context, dst, capacity, src, size):
    """``function(context, dst, capacity, src, size)``, every argument an address or a length."""
    sig = types.int64(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64)

    def codegen(cgctx, builder, signature, args):
        word = ir.IntType(64)
        pointer = ir.IntType(8).as_pointer()
        fn_type = ir.FunctionType(word, [pointer, pointer, word, pointer, word])
        fn, ctx, out, cap, inp, n = args
        return builder.call(builder.inttoptr(fn, fn_type.as_pointer()),
                            [builder.inttoptr(ctx, pointer), builder.inttoptr(out, pointer), cap,
                             builder.inttoptr(inp, pointer), n])

    return sig, codegen


@njit(cache=True, nogil=True)
def decode_into(function: int, context: int, dst, dst_pos: int, expected: int,
                src, src_pos: int, src_size: int) -> bool:
    """Decode ``src[src_pos:src_pos+src_size]`` into exactly ``dst[dst_pos:dst_pos+expected]``.

    Returns False when the decoder fails or yields another length; both
    ranges are checked against their arrays first, so a bad span cannot make
    the decoder read or write outside them.
    """
    if (dst_pos < 0 or expected < 0 or dst_pos + expected > len(dst)
            or src_pos < 0 or src_size < 0 or src_pos + src_size > len(src)):
        return False
    got = _call_decoder(function, context, dst.ctypes.data + dst_pos, expected,
                        src.ctypes.data + src_pos, src_size)
    return got == expected
