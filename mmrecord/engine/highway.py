"""HighwayHash-64 with Riegeli's key (FORMAT.md section 5), as numba kernels.

Riegeli stores a HighwayHash-64 of every block header, chunk header and chunk
data. :func:`highway_hash` hashes ``data[start:stop]`` of a 1-D uint8 array
(writable or read-only, e.g. ``np.frombuffer`` over an ``mmap``) and can be
called from Python or from other ``njit`` kernels.

Two implementations of the same function live here:

* a SIMD one: the four 64-bit lanes of each state vector are one LLVM
  ``<4 x i64>`` value, built with a numba ``@intrinsic``. LLVM lowers it to
  AVX2/SSE/NEON as the host allows; the zipper permutation is a single byte
  shuffle and the 32x32->64 products become ``pmuludq``. About 4x faster
  than the scalar form on large inputs. It is used for unit-stride arrays on
  little-endian hosts.
* a portable scalar one (:func:`highway_hash_portable`), a transcription of the
  portable algorithm in plain uint64 arithmetic, used for strided arrays and on
  big-endian hosts, and kept as a second witness in the tests.

Both return the same values (checked against FORMAT.md section 5.3 and a
plain-Python twin in ``tests/test_engine_highway.py``).
"""

from __future__ import annotations

import sys

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from .memory import as_readonly

__all__ = ["RIEGELI_KEY", "highway_hash", "highway_hash_portable", "hash_bytes", "hash_start", "hash_packets",
           "hash_final"]

#: Riegeli's HighwayHash key: "Riegeli/" and "records\n" as little-endian u64, each twice.
RIEGELI_KEY = (0x2F696C6567656952, 0x0A7364726F636572, 0x2F696C6567656952, 0x0A7364726F636572)
_MUL0_INIT = (0xDBE6D5D5FE4CCE2F, 0xA4093822299F31D0, 0x13198A2E03707344, 0x243F6A8885A308D3)
_MUL1_INIT = (0x3BD39E10CB0EF593, 0xC0ACF169B5F18A8C, 0xBE5466CF34E90C6C, 0x452821E638D01377)
_M64 = (1 << 64) - 1


def _swap32_int(x: int) -> int:
    return ((x >> 32) | (x << 32)) & _M64


# Initial state (v0, v1, mul0, mul1) for the Riegeli key, computed once in Python.
_V0_INIT = tuple(_MUL0_INIT[i] ^ RIEGELI_KEY[i] for i in range(4))
_V1_INIT = tuple(_MUL1_INIT[i] ^ _swap32_int(RIEGELI_KEY[i]) for i in range(4))

# The SIMD path reinterprets memory as little-endian u64 lanes.
_USE_SIMD = sys.byteorder == "little"

_MASK32 = np.uint64(0xFFFFFFFF)
_S8 = np.uint64(8)
_S16 = np.uint64(16)
_S24 = np.uint64(24)
_S32 = np.uint64(32)
_S40 = np.uint64(40)
_S48 = np.uint64(48)
_S56 = np.uint64(56)
_U1, _U2, _U3, _U4, _U5, _U6, _U7 = (np.uint64(i) for i in range(1, 8))


# --------------------------------------------------------------------------- #
# Shared scalar helpers
# --------------------------------------------------------------------------- #


@numba.njit(inline="always")
def _clamp_range(data, start, stop):
    """Clamp [start, stop) to the array so that bad arguments cannot read out of bounds."""
    n = np.int64(len(data))
    stop = min(max(np.int64(stop), np.int64(0)), n)
    start = min(max(np.int64(start), np.int64(0)), stop)
    return start, stop


@numba.njit(inline="always")
def _load32(data, p):
    """4 bytes at ``data[p:]`` as a little-endian u64."""
    u = np.uint64(p)
    return (
        np.uint64(data[u])
        | (np.uint64(data[u + _U1]) << _S8)
        | (np.uint64(data[u + _U2]) << _S16)
        | (np.uint64(data[u + _U3]) << _S24)
    )


@numba.njit(inline="always")
def _load64(data, p):
    """8 bytes at ``data[p:]`` as a little-endian u64.

    With unsigned indices (no wraparound checks) LLVM merges the eight byte
    loads into one 64-bit load on little-endian hosts.
    """
    u = np.uint64(p)
    return (
        np.uint64(data[u])
        | (np.uint64(data[u + _U1]) << _S8)
        | (np.uint64(data[u + _U2]) << _S16)
        | (np.uint64(data[u + _U3]) << _S24)
        | (np.uint64(data[u + _U4]) << _S32)
        | (np.uint64(data[u + _U5]) << _S40)
        | (np.uint64(data[u + _U6]) << _S48)
        | (np.uint64(data[u + _U7]) << _S56)
    )


@numba.njit(inline="always")
def _tail_lanes(data, p, n):
    """The zero-padded final packet built from the ``n`` (1..31) bytes at ``data[p:]``.

    Follows FORMAT.md 5.2: the first ``q = n & ~3`` bytes are copied (as whole
    8- or 4-byte words); then either the last four bytes go to packet bytes
    28..32 (``n >= 16``), or the 1..3 leftover bytes are spread over packet
    bytes 16, 17, 18.
    """
    q = n & ~np.int64(3)
    zero = np.uint64(0)
    t0 = _load64(data, p) if q >= 8 else (_load32(data, p) if q >= 4 else zero)
    t1 = _load64(data, p + 8) if q >= 16 else (_load32(data, p + 8) if q >= 12 else zero)
    t2 = _load64(data, p + 16) if q >= 24 else (_load32(data, p + 16) if q >= 20 else zero)
    t3 = _load32(data, p + 24) if q >= 28 else zero
    if n >= 16:
        t3 |= _load32(data, p + n - 4) << _S32
    elif n & 3:
        r = n - q
        u = np.uint64(p + q)
        t2 = (
            np.uint64(data[u])
            | (np.uint64(data[u + np.uint64(r >> 1)]) << _S8)
            | (np.uint64(data[u + np.uint64(r - 1)]) << _S16)
        )
    return t0, t1, t2, t3


# --------------------------------------------------------------------------- #
# Portable scalar implementation
# --------------------------------------------------------------------------- #
# Compile-time note: numba-level ``inline="always"`` is kept only where it pays
# (``_update`` and the loads); the zipper helpers and ``_portable_core`` are left
# to LLVM's inliner, which gives the same speed at half the compile time.


@numba.njit(nogil=True)
def _zip_lo(lo, hi):
    """Low word of the zipper merge of (lo, hi): bytes s[3,12,2,5,14,1,15,0]."""
    return (
        (((lo & np.uint64(0xFF000000)) | (hi & np.uint64(0xFF00000000))) >> _S24)
        | (((lo & np.uint64(0xFF0000000000)) | (hi & np.uint64(0xFF000000000000))) >> _S16)
        | (lo & np.uint64(0xFF0000))
        | ((lo & np.uint64(0xFF00)) << _S32)
        | ((hi & np.uint64(0xFF00000000000000)) >> _S8)
        | (lo << _S56)
    )


@numba.njit(nogil=True)
def _zip_hi(lo, hi):
    """High word of the zipper merge of (lo, hi): bytes s[11,4,10,13,9,6,8,7]."""
    return (
        (((hi & np.uint64(0xFF000000)) | (lo & np.uint64(0xFF00000000))) >> _S24)
        | (hi & np.uint64(0xFF0000))
        | ((hi & np.uint64(0xFF0000000000)) >> _S16)
        | ((hi & np.uint64(0xFF00)) << _S24)
        | ((lo & np.uint64(0xFF000000000000)) >> _S8)
        | ((hi & np.uint64(0xFF)) << _S48)
        | (lo & np.uint64(0xFF00000000000000))
    )


@numba.njit(inline="always")
def _update(a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3, l0, l1, l2, l3):
    """One HighwayHash round on scalar state (a=v0, b=v1, m=mul0, n=mul1) with lanes l."""
    b0 += m0 + l0
    m0 ^= (b0 & _MASK32) * (a0 >> _S32)
    a0 += n0
    n0 ^= (a0 & _MASK32) * (b0 >> _S32)
    b1 += m1 + l1
    m1 ^= (b1 & _MASK32) * (a1 >> _S32)
    a1 += n1
    n1 ^= (a1 & _MASK32) * (b1 >> _S32)
    b2 += m2 + l2
    m2 ^= (b2 & _MASK32) * (a2 >> _S32)
    a2 += n2
    n2 ^= (a2 & _MASK32) * (b2 >> _S32)
    b3 += m3 + l3
    m3 ^= (b3 & _MASK32) * (a3 >> _S32)
    a3 += n3
    n3 ^= (a3 & _MASK32) * (b3 >> _S32)
    a0 += _zip_lo(b0, b1)
    a1 += _zip_hi(b0, b1)
    a2 += _zip_lo(b2, b3)
    a3 += _zip_hi(b2, b3)
    b0 += _zip_lo(a0, a1)
    b1 += _zip_hi(a0, a1)
    b2 += _zip_lo(a2, a3)
    b3 += _zip_hi(a2, a3)
    return a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3


@numba.njit(inline="always")
def _rot32x2(x, n):
    """Rotate each 32-bit half of ``x`` left by ``n`` (1..31) bits, independently."""
    un = np.uint64(n)
    lo = x & _MASK32
    hi = x >> _S32
    lo = ((lo << un) | (lo >> (_S32 - un))) & _MASK32
    hi = ((hi << un) | (hi >> (_S32 - un))) & _MASK32
    return (hi << _S32) | lo


@numba.njit(inline="always")
def _swap32(x):
    return (x >> _S32) | (x << _S32)


@numba.njit(inline="always")
def _portable_start():
    """The initial state (v0, v1, mul0, mul1: four lanes each) for Riegeli's key, as 16 scalars."""
    m0 = np.uint64(0xDBE6D5D5FE4CCE2F)
    m1 = np.uint64(0xA4093822299F31D0)
    m2 = np.uint64(0x13198A2E03707344)
    m3 = np.uint64(0x243F6A8885A308D3)
    n0 = np.uint64(0x3BD39E10CB0EF593)
    n1 = np.uint64(0xC0ACF169B5F18A8C)
    n2 = np.uint64(0xBE5466CF34E90C6C)
    n3 = np.uint64(0x452821E638D01377)
    k0 = np.uint64(0x2F696C6567656952)
    k1 = np.uint64(0x0A7364726F636572)
    return (m0 ^ k0, m1 ^ k1, m2 ^ k0, m3 ^ k1, n0 ^ _swap32(k0), n1 ^ _swap32(k1), n2 ^ _swap32(k0),
            n3 ^ _swap32(k1), m0, m1, m2, m3, n0, n1, n2, n3)


@numba.njit(nogil=True)
def _portable_packets(s, data, start, npackets):
    """State ``s`` (16 scalars) after the ``npackets`` packets at ``data[start:]``."""
    a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3 = s
    p = start
    for _ in range(npackets):
        a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3 = _update(
            a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3,
            _load64(data, p), _load64(data, p + 8), _load64(data, p + 16), _load64(data, p + 24),
        )  # fmt: skip
        p += 32
    return a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3


@numba.njit(nogil=True)
def _portable_final(s, n, t0, t1, t2, t3):
    """The hash from state ``s``: the tail lanes t (if ``n``, 1..31, bytes remain), then four rounds."""
    a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3 = s
    if n != 0:
        add = (np.uint64(n) << _S32) + np.uint64(n)
        a0 += add
        a1 += add
        a2 += add
        a3 += add
        b0 = _rot32x2(b0, n)
        b1 = _rot32x2(b1, n)
        b2 = _rot32x2(b2, n)
        b3 = _rot32x2(b3, n)
        a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3 = _update(
            a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3, t0, t1, t2, t3
        )
    for _ in range(4):
        a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3 = _update(
            a0, a1, a2, a3, b0, b1, b2, b3, m0, m1, m2, m3, n0, n1, n2, n3,
            _swap32(a2), _swap32(a3), _swap32(a0), _swap32(a1),
        )  # fmt: skip
    return a0 + b0 + m0 + n0


@numba.njit(nogil=True)
def _portable_core(data, start, npackets, n, t0, t1, t2, t3):
    """Scalar hash of ``npackets`` packets at ``data[start:]`` plus the tail lanes t (if n > 0)."""
    return _portable_final(_portable_packets(_portable_start(), data, start, npackets), n, t0, t1, t2, t3)


# --------------------------------------------------------------------------- #
# SIMD implementation (LLVM <4 x i64> vectors through a numba intrinsic)
# --------------------------------------------------------------------------- #

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V4 = ir.VectorType(_I64, 4)
_V8x32 = ir.VectorType(_I32, 8)
_V32x8 = ir.VectorType(_I8, 32)
# Zipper merge as a byte shuffle of each 16-byte half: new bytes = s[3,12,2,5,14,1,15,0, 11,4,10,13,9,6,8,7].
_ZIPPER = (3, 12, 2, 5, 14, 1, 15, 0, 11, 4, 10, 13, 9, 6, 8, 7)
_ZIPPER_MASK = ir.Constant(ir.VectorType(_I32, 32), list(_ZIPPER) + [i + 16 for i in _ZIPPER])
# Finalisation lanes [swap32(v0[2]), swap32(v0[3]), swap32(v0[0]), swap32(v0[1])] as a 32-bit shuffle.
_PERMUTE_MASK = ir.Constant(ir.VectorType(_I32, 8), [5, 4, 7, 6, 1, 0, 3, 2])


def _vconst(values) -> ir.Constant:
    return ir.Constant(_V4, [ir.Constant(_I64, v) for v in values])


def _splat(builder: ir.IRBuilder, x: ir.Value, vtype: ir.VectorType) -> ir.Value:
    undef = ir.Constant(vtype, ir.Undefined)
    v = builder.insert_element(undef, x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, undef, ir.Constant(ir.VectorType(_I32, vtype.count), [0] * vtype.count))


def _emit_update(b: ir.IRBuilder, state: list, lanes: ir.Value) -> list:
    """Emit one HighwayHash round on vector state [v0, v1, mul0, mul1]."""
    v0, v1, mul0, mul1 = state
    lo32 = _vconst([0xFFFFFFFF] * 4)
    s32 = _vconst([32] * 4)
    v1 = b.add(v1, b.add(mul0, lanes))
    mul0 = b.xor(mul0, b.mul(b.and_(v1, lo32), b.lshr(v0, s32)))
    v0 = b.add(v0, mul1)
    mul1 = b.xor(mul1, b.mul(b.and_(v0, lo32), b.lshr(v1, s32)))
    as_bytes = b.bitcast(v1, _V32x8)
    v0 = b.add(v0, b.bitcast(b.shuffle_vector(as_bytes, as_bytes, _ZIPPER_MASK), _V4))
    as_bytes = b.bitcast(v0, _V32x8)
    v1 = b.add(v1, b.bitcast(b.shuffle_vector(as_bytes, as_bytes, _ZIPPER_MASK), _V4))
    return [v0, v1, mul0, mul1]


def _emit_packets(b: ir.IRBuilder, slots: list, base: ir.Value, npackets: ir.Value) -> None:
    """Emit the loop over ``npackets`` packets at ``base``, the state held in the four ``slots``."""
    with cgutils.for_range(b, npackets) as loop:
        offset = b.mul(loop.index, ir.Constant(loop.index.type, 32))
        lanes = b.load(b.bitcast(b.gep(base, [offset]), _V4.as_pointer()), align=1)
        state = _emit_update(b, [b.load(s) for s in slots], lanes)
        for slot, value in zip(slots, state):
            b.store(value, slot)


@intrinsic
def _simd_packets(typingctx, state, data, start, npackets):
    """Vector form of :func:`_portable_packets` for unit-stride ``data``, on the state array ``state``.

    The state is loaded into registers for the loop and stored back once.
    """
    sig = types.none(state, data, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        b = builder
        vectors = b.bitcast(context.make_array(signature.args[0])(context, b, args[0]).data, _V4.as_pointer())
        slots = [cgutils.alloca_once_value(b, b.load(b.gep(vectors, [ir.Constant(_I32, i)]), align=8))
                 for i in range(4)]
        ary = context.make_array(signature.args[1])(context, b, args[1])
        _emit_packets(b, slots, b.gep(ary.data, [args[2]]), args[3])
        for i, slot in enumerate(slots):
            b.store(b.load(slot), b.gep(vectors, [ir.Constant(_I32, i)]), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _simd_core(typingctx, data, start, npackets, n, t0, t1, t2, t3):
    """Vector hash of ``npackets`` packets at ``data[start:]`` (unit stride) plus tail lanes t (if n > 0)."""
    u64 = types.uint64
    sig = u64(data, types.intp, types.intp, types.intp, u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        b = builder
        ary = context.make_array(signature.args[0])(context, b, args[0])
        base = b.gep(ary.data, [args[1]])
        init = [_vconst(_V0_INIT), _vconst(_V1_INIT), _vconst(_MUL0_INIT), _vconst(_MUL1_INIT)]
        slots = [cgutils.alloca_once_value(b, c) for c in init]
        _emit_packets(b, slots, base, args[2])
        n = args[3]
        with b.if_then(b.icmp_signed("!=", n, ir.Constant(n.type, 0))):
            state = [b.load(s) for s in slots]
            n64 = b.sext(n, _I64) if n.type.width < 64 else n
            state[0] = b.add(state[0], _splat(b, b.add(b.shl(n64, ir.Constant(_I64, 32)), n64), _V4))
            n32 = b.trunc(n64, _I32)
            halves = b.bitcast(state[1], _V8x32)
            rotated = b.or_(
                b.shl(halves, _splat(b, n32, _V8x32)),
                b.lshr(halves, _splat(b, b.sub(ir.Constant(_I32, 32), n32), _V8x32)),
            )
            state[1] = b.bitcast(rotated, _V4)
            lanes = ir.Constant(_V4, ir.Undefined)
            for i, t in enumerate(args[4:8]):
                lanes = b.insert_element(lanes, t, ir.Constant(_I32, i))
            state = _emit_update(b, state, lanes)
            for slot, value in zip(slots, state):
                b.store(value, slot)
        state = [b.load(s) for s in slots]
        for _ in range(4):
            halves = b.bitcast(state[0], _V8x32)
            lanes = b.bitcast(b.shuffle_vector(halves, halves, _PERMUTE_MASK), _V4)
            state = _emit_update(b, state, lanes)
        zero = ir.Constant(_I32, 0)
        first = [b.extract_element(v, zero) for v in state]
        return b.add(b.add(first[0], first[1]), b.add(first[2], first[3]))

    return sig, codegen


_ALWAYS, _UNIT_STRIDE, _NEVER = "always", "unit stride", "never"


def _simd_use(data) -> str:
    """When the SIMD loops apply to ``data``'s type: always (C-contiguous), when its stride is 1 (checked
    at run time), or never. Decided at compile time, so C-contiguous specialisations never compile the
    portable loops."""
    if not (isinstance(data, types.Buffer) and data.ndim == 1 and data.dtype == types.uint8):
        raise TypingError(f"highway_hash needs a 1-D uint8 array or bytes, got {data}")
    if _USE_SIMD and data.layout == "C":
        return _ALWAYS
    return _UNIT_STRIDE if _USE_SIMD and isinstance(data, types.Array) else _NEVER


def _hash_core(data, start, npackets, n, t0, t1, t2, t3):
    """Pick the SIMD or the portable core for ``data``'s type (typed by the overload below)."""
    raise NotImplementedError("only callable from numba-compiled code")


@overload(_hash_core, inline="always")
def _hash_core_overload(data, start, npackets, n, t0, t1, t2, t3):
    """The core :func:`_simd_use` picks."""
    use = _simd_use(data)
    if use == _ALWAYS:

        def simd(data, start, npackets, n, t0, t1, t2, t3):
            return _simd_core(data, start, npackets, n, t0, t1, t2, t3)

        return simd
    if use == _UNIT_STRIDE:

        def by_stride(data, start, npackets, n, t0, t1, t2, t3):
            if data.strides[0] == 1:
                return _simd_core(data, start, npackets, n, t0, t1, t2, t3)
            return _portable_core(data, start, npackets, n, t0, t1, t2, t3)

        return by_stride

    def portable(data, start, npackets, n, t0, t1, t2, t3):
        return _portable_core(data, start, npackets, n, t0, t1, t2, t3)

    return portable


def _hash_packets(state, data, start, npackets):
    """Pick the SIMD or the portable packet loop on a state array (typed by the overload below)."""
    raise NotImplementedError("only callable from numba-compiled code")


@numba.njit(inline="always")
def _state_tuple(state):
    """The 16 scalars of a state array, in the order of :func:`_portable_start`."""
    return (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7],
            state[8], state[9], state[10], state[11], state[12], state[13], state[14], state[15])


@numba.njit(inline="always")
def _portable_packets_into(state, data, start, npackets):
    s = _portable_packets(_state_tuple(state), data, start, npackets)
    for i in range(16):
        state[i] = s[i]


@overload(_hash_packets, inline="always")
def _hash_packets_overload(state, data, start, npackets):
    """The packet loop :func:`_simd_use` picks, for the resumable form."""
    use = _simd_use(data)
    if use == _ALWAYS:

        def simd(state, data, start, npackets):
            _simd_packets(state, data, start, npackets)

        return simd
    if use == _UNIT_STRIDE:

        def by_stride(state, data, start, npackets):
            if data.strides[0] == 1:
                _simd_packets(state, data, start, npackets)
            else:
                _portable_packets_into(state, data, start, npackets)

        return by_stride

    def portable(state, data, start, npackets):
        _portable_packets_into(state, data, start, npackets)

    return portable


# --------------------------------------------------------------------------- #
# Public kernels
# --------------------------------------------------------------------------- #


@numba.njit(cache=True, nogil=True)
def highway_hash_portable(data, start, stop):
    """HighwayHash-64 (Riegeli key) of ``data[start:stop]`` by the portable scalar algorithm.

    Same contract as :func:`highway_hash`; kept for strided arrays, big-endian
    hosts and as an independent check of the SIMD path.
    """
    start, stop = _clamp_range(data, start, stop)
    size = stop - start
    npackets = size >> 5
    n = size & 31
    t0 = t1 = t2 = t3 = np.uint64(0)
    if n != 0:
        t0, t1, t2, t3 = _tail_lanes(data, start + (npackets << 5), n)
    return _portable_core(data, start, npackets, n, t0, t1, t2, t3)


@numba.njit(cache=True, nogil=True, inline="always")
def highway_hash(data, start, stop):
    """HighwayHash-64 with Riegeli's key of ``data[start:stop]`` as ``np.uint64``.

    ``data`` is a 1-D uint8 array, writable or read-only (``bytes`` also
    works; other dtypes are a typing error). ``start``/``stop`` are clamped to
    ``[0, len(data)]`` (and ``start`` to ``<= stop``), so bad offsets hash a
    shorter range instead of reading out of bounds: the caller compares the
    result with a stored hash, and a mismatch reports the damage.
    Callable from Python and from other ``njit`` kernels; allocates nothing.

    Inlined into its callers, it hands the hash to one compiled kernel per
    array layout: writable arrays are passed as read-only and constant
    offsets as plain integers, so that they do not each compile another copy.
    """
    return _highway_hash(as_readonly(data), np.int64(start), np.int64(stop))


@numba.njit(cache=True, nogil=True)
def _highway_hash(data, start, stop):
    """:func:`highway_hash` for a read-only array and int64 offsets."""
    start, stop = _clamp_range(data, start, stop)
    size = stop - start
    npackets = size >> 5
    n = size & 31
    t0 = t1 = t2 = t3 = np.uint64(0)
    if n != 0:
        t0, t1, t2, t3 = _tail_lanes(data, start + (npackets << 5), n)
    return _hash_core(data, start, npackets, n, t0, t1, t2, t3)


def hash_bytes(b: bytes | bytearray | memoryview) -> int:
    """HighwayHash-64 (Riegeli key) of a bytes-like object, as a Python int."""
    if type(b) is bytes:  # numba takes bytes as a read-only uint8 buffer: no wrapping needed
        return highway_hash(b, 0, len(b))
    try:
        arr = np.frombuffer(b, np.uint8)
    except (ValueError, BufferError):  # a non-contiguous buffer: hash its bytes in logical order
        arr = np.frombuffer(memoryview(b).tobytes(), np.uint8)
    return highway_hash(arr, 0, arr.shape[0])


# --------------------------------------------------------------------------- #
# Resumable form: bytes that arrive in pieces
# --------------------------------------------------------------------------- #


@numba.njit(cache=True, nogil=True, inline="always")
def hash_start():
    """A new hash state (16 uint64) for :func:`hash_packets` and :func:`hash_final`."""
    state = np.empty(16, np.uint64)
    s = _portable_start()
    for i in range(16):
        state[i] = s[i]
    return state


@numba.njit(cache=True, nogil=True, inline="always")
def hash_packets(state, data, start, npackets) -> None:
    """Take the ``npackets`` 32-byte packets at ``data[start:]`` into ``state`` (the caller bounds them)."""
    _hash_packets(state, as_readonly(data), np.intp(start), np.intp(npackets))


@numba.njit(cache=True, nogil=True, inline="always")
def hash_final(state, data, start, n):
    """The hash of everything taken into ``state`` and then the last ``n`` (0..31) bytes at ``data[start:]``.

    Hashing ``m`` bytes in pieces gives :func:`highway_hash` of their
    concatenation when every packet taken was 32 whole bytes in order and
    ``n`` is ``m % 32``.
    """
    t0 = t1 = t2 = t3 = np.uint64(0)
    if n != 0:
        t0, t1, t2, t3 = _tail_lanes(as_readonly(data), np.int64(start), np.int64(n))
    return _portable_final(_state_tuple(state), np.int64(n), t0, t1, t2, t3)
