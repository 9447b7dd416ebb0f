"""Records of the reference corpus, rebuilt exactly from small JSON recipes.

Standard library only, and nothing here depends on the Python or NumPy
version: every pseudo-random choice is read from a SHAKE-128 output stream
(``hashlib.shake_128``), and integers are taken from it as little-endian
``u32``/``u64`` values reduced modulo their range. ``generate.py`` writes each
corpus file from ``records(recipe)`` and the tests rebuild the same records to
compare, so a recipe in a manifest is all that is needed to know a file's
exact contents.

A recipe is a dict with a ``kind``:

``{"kind": "bytes", "seed": s, "sizes": SIZES}``
    Pseudo-random bytes (incompressible), one record per size.
``{"kind": "text", "seed": s, "sizes": SIZES}``
    Prose-like ASCII made of invented words from a small per-seed vocabulary
    (compressible), cut to each size.
``{"kind": "proto", "seed": s, "count": n}``
    Protocol-buffer wire-format messages encoded by hand: varints (some
    negative, so ten bytes long), strings, packed repeated varints, a nested
    message with fixed32/fixed64 fields, a field number with a three-byte tag,
    and now and then an empty message.
``{"kind": "decimal", "first": a, "count": n}``
    The ASCII decimal numbers ``a, a+1, ...`` (``b"7"``, ``b"8"``, ...).
``{"kind": "concat", "parts": [recipe, ...]}``
    The parts' records one part after another.
``{"kind": "interleave", "parts": [recipe, ...]}``
    Round-robin over the parts (first record of each part, then the second
    ...), skipping parts that have run out.

``SIZES`` is one of ``{"exact": [n, ...]}``, ``{"repeat": n, "count": c}``,
``{"between": [lo, hi], "count": c}`` (uniform, both ends included),
``{"among": [n, ...], "count": c}`` (each record picks one of the listed
sizes) or ``{"wide": [lo, hi], "count": c}`` (a uniform bit length, then a
uniform size of that bit length within ``[lo, hi]``: mostly small sizes with
a few large ones).
"""

from __future__ import annotations

import hashlib
import struct

__all__ = ["records", "record_digest", "sizes"]


class Stream:
    """A deterministic byte stream for one (seed, purpose) pair."""

    def __init__(self, seed: int, purpose: str):
        self._shake = hashlib.shake_128(f"mmrecord reference corpus\0{seed}\0{purpose}".encode())
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            # SHAKE output is a prefix-stable stream: asking for more keeps what was read.
            self._buf = self._shake.digest(max(2 * len(self._buf), self._pos + n, 4096))
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def below(self, n: int) -> int:
        """An integer in ``range(n)``."""
        return self.u64() % n

    def between(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``."""
        return lo + self.below(hi - lo + 1)


def sizes(spec: dict, seed: int) -> list[int]:
    """The record sizes a ``SIZES`` spec gives under ``seed``."""
    s = Stream(seed, "sizes")
    if "exact" in spec:
        return [int(n) for n in spec["exact"]]
    count = spec["count"]
    if "repeat" in spec:
        return [spec["repeat"]] * count
    if "between" in spec:
        lo, hi = spec["between"]
        return [s.between(lo, hi) for _ in range(count)]
    if "among" in spec:
        options = spec["among"]
        return [options[s.below(len(options))] for _ in range(count)]
    if "wide" in spec:
        lo, hi = spec["wide"]
        out = []
        for _ in range(count):
            bits = s.between(max(lo, 1).bit_length(), hi.bit_length())
            out.append(min(hi, max(lo, s.between(1 << (bits - 1) if bits else 0, (1 << bits) - 1))))
        return out
    raise ValueError(f"unknown sizes spec {spec!r}")


def _bytes(recipe: dict) -> list[bytes]:
    lengths = sizes(recipe["sizes"], recipe["seed"])
    content = Stream(recipe["seed"], "bytes").take(sum(lengths))
    out, pos = [], 0
    for n in lengths:
        out.append(content[pos:pos + n])
        pos += n
    return out


_ONSETS = ["", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "dr", "gl", "kr", "pl", "sk", "st", "th", "tr", "sh", "ch"]
_NUCLEI = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "ia", "y"]
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "k", "nd", "st", "x"]


def _vocabulary(s: Stream, n: int = 240) -> list[str]:
    words = []
    while len(words) < n:
        syllables = 1 + s.below(3) + (s.below(4) == 0)
        word = "".join(_ONSETS[s.below(len(_ONSETS))] + _NUCLEI[s.below(len(_NUCLEI))]
                       + _CODAS[s.below(len(_CODAS))] for _ in range(syllables))
        if word not in words:
            words.append(word)
    return words


def _prose(s: Stream, words: list[str], size: int) -> bytes:
    """Sentences of 3..16 words; word ranks skewed towards the start of the vocabulary."""
    parts: list[str] = []
    length = 0
    while length < size:
        count = s.between(3, 16)
        sentence = []
        for _ in range(count):
            u = s.u32() / 2**32
            sentence.append(words[int(u * u * u * len(words))])
        sentence[0] = sentence[0].capitalize()
        if count > 8 and s.below(3) == 0:
            sentence[count // 2] += ","
        text = " ".join(sentence) + (". " if s.below(6) else "? ")
        parts.append(text)
        length += len(text)
    return "".join(parts).encode("ascii")[:size]


def _text(recipe: dict) -> list[bytes]:
    lengths = sizes(recipe["sizes"], recipe["seed"])
    s = Stream(recipe["seed"], "text")
    words = _vocabulary(s)
    return [_prose(s, words, n) for n in lengths]


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf encodes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(payload)) + payload


def _message(s: Stream, words: list[str]) -> bytes:
    if s.below(25) == 0:
        return b""
    out = bytearray()
    out += _tag(1, 0) + _varint(s.below(1 << s.between(1, 40)))                    # id
    if s.below(4):
        name = " ".join(words[s.below(len(words))] for _ in range(s.between(1, 4)))
        out += _length_delimited(2, name.encode())                                  # name
    if s.below(3) == 0:
        out += _tag(3, 0) + _varint(-s.between(1, 1 << 40))                         # delta (negative)
    if s.below(2):
        values = b"".join(_varint(s.below(1 << s.between(1, 21))) for _ in range(s.between(0, 12)))
        out += _length_delimited(4, values)                                         # packed counts
    for _ in range(s.below(3)):
        inner = (_tag(1, 5) + struct.pack("<I", s.u32())                            # nested: fixed32
                 + _tag(2, 1) + struct.pack("<Q", s.u64()))                         # fixed64
        if s.below(2):
            inner += _length_delimited(3, s.take(s.below(20)))                      # raw bytes
        out += _length_delimited(5, inner)                                          # repeated nested
    if s.below(2):
        out += _tag(6, 1) + struct.pack("<d", (s.u32() - 2**31) / 1024)             # double
    if s.below(5) == 0:
        out += _tag(2001, 0) + _varint(s.below(300))                                # three-byte tag
    return bytes(out)


def _proto(recipe: dict) -> list[bytes]:
    s = Stream(recipe["seed"], "proto")
    words = _vocabulary(s, 60)
    return [_message(s, words) for _ in range(recipe["count"])]


def _decimal(recipe: dict) -> list[bytes]:
    first = recipe["first"]
    return [str(i).encode() for i in range(first, first + recipe["count"])]


def _concat(recipe: dict) -> list[bytes]:
    return [r for part in recipe["parts"] for r in records(part)]


def _interleave(recipe: dict) -> list[bytes]:
    parts = [records(part) for part in recipe["parts"]]
    out = []
    for i in range(max((len(p) for p in parts), default=0)):
        out += [p[i] for p in parts if i < len(p)]
    return out


_KINDS = {"bytes": _bytes, "text": _text, "proto": _proto, "decimal": _decimal,
          "concat": _concat, "interleave": _interleave}


def records(recipe: dict) -> list[bytes]:
    """The exact records a recipe describes."""
    try:
        make = _KINDS[recipe["kind"]]
    except KeyError:
        raise ValueError(f"unknown recipe kind {recipe.get('kind')!r}") from None
    return make(recipe)


def record_digest(items) -> str:
    """The corpus's record digest: SHA-256 over ``u64le(len(r)) + r`` for every record, in order."""
    h = hashlib.sha256()
    for r in items:
        r = bytes(r)
        h.update(struct.pack("<Q", len(r)))
        h.update(r)
    return h.hexdigest()
