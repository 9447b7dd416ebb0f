"""Riegeli framing for the corpus tools: HighwayHash and a chunk walk (standard library only).

This is an independent, deliberately plain reading of the format, used by
``generate.py`` to describe and damage the reference-written files and by the
tests to check that description. It is not mmrecord's reader.

A Riegeli file is cut into 64 KiB blocks; every block begins with a 24-byte
block header (hash, distance back to the chunk that the boundary interrupts,
distance forward to that chunk's end). Chunks are a 40-byte header (hash,
data size, data hash, type and record count, decoded size) and their data,
written across block headers as if they were not there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

BLOCK = 1 << 16
BLOCK_HEADER = 24
USABLE = BLOCK - BLOCK_HEADER
CHUNK_HEADER = 40
MASK = (1 << 64) - 1

# HighwayHash key used throughout Riegeli: "Riegeli/records\n" twice.
RIEGELI_KEY = (0x2F696C6567656952, 0x0A7364726F636572, 0x2F696C6567656952, 0x0A7364726F636572)
_INIT0 = (0xDBE6D5D5FE4CCE2F, 0xA4093822299F31D0, 0x13198A2E03707344, 0x243F6A8885A308D3)
_INIT1 = (0x3BD39E10CB0EF593, 0xC0ACF169B5F18A8C, 0xBE5466CF34E90C6C, 0x452821E638D01377)


def _zipper(v1: int, v0: int) -> tuple[int, int]:
    """What HighwayHash's zipper merge adds to (lane of v0's pair, lane of v1's pair)."""
    add0 = ((((v0 & 0xFF000000) | (v1 & 0xFF00000000)) >> 24)
            | (((v0 & 0xFF0000000000) | (v1 & 0xFF000000000000)) >> 16)
            | (v0 & 0xFF0000) | ((v0 & 0xFF00) << 32)
            | ((v1 & 0xFF00000000000000) >> 8) | ((v0 << 56) & MASK))
    add1 = ((((v1 & 0xFF000000) | (v0 & 0xFF00000000)) >> 24)
            | (v1 & 0xFF0000) | ((v1 & 0xFF0000000000) >> 16)
            | ((v1 & 0xFF00) << 24) | ((v0 & 0xFF000000000000) >> 8)
            | ((v1 & 0xFF) << 48) | (v0 & 0xFF00000000000000))
    return add0, add1


class _Highway:
    def __init__(self, key=RIEGELI_KEY):
        self.mul0 = list(_INIT0)
        self.mul1 = list(_INIT1)
        self.v0 = [i ^ k for i, k in zip(_INIT0, key)]
        self.v1 = [i ^ (((k >> 32) | (k << 32)) & MASK) for i, k in zip(_INIT1, key)]

    def update(self, lanes) -> None:
        v0, v1, mul0, mul1 = self.v0, self.v1, self.mul0, self.mul1
        for i in range(4):
            v1[i] = (v1[i] + mul0[i] + lanes[i]) & MASK
            mul0[i] ^= (v1[i] & 0xFFFFFFFF) * (v0[i] >> 32)
            v0[i] = (v0[i] + mul1[i]) & MASK
            mul1[i] ^= (v0[i] & 0xFFFFFFFF) * (v1[i] >> 32)
        for a, b, dst_a, dst_b in ((v1, v1, v0, v0), (v0, v0, v1, v1)):
            for lo in (0, 2):
                add0, add1 = _zipper(a[lo + 1], b[lo])
                dst_b[lo] = (dst_b[lo] + add0) & MASK
                dst_a[lo + 1] = (dst_a[lo + 1] + add1) & MASK

    def remainder(self, tail: bytes) -> None:
        n = len(tail)
        n4 = n & 3
        for i in range(4):
            self.v0[i] = (self.v0[i] + ((n << 32) + n)) & MASK

            def rot(x):
                return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF
            lane = self.v1[i]
            self.v1[i] = rot(lane & 0xFFFFFFFF) | (rot(lane >> 32) << 32)
        packet = bytearray(32)
        packet[: n & ~3] = tail[: n & ~3]
        rest = tail[n & ~3:]
        if n & 16:
            for i in range(4):
                packet[28 + i] = tail[(n & ~3) + i + n4 - 4]
        elif n4:
            packet[16] = rest[0]
            packet[17] = rest[n4 >> 1]
            packet[18] = rest[n4 - 1]
        self.update(struct.unpack("<4Q", packet))

    def finish(self) -> int:
        for _ in range(4):
            v0 = self.v0
            self.update([((v0[j] >> 32) | (v0[j] << 32)) & MASK for j in (2, 3, 0, 1)])
        return (self.v0[0] + self.v1[0] + self.mul0[0] + self.mul1[0]) & MASK


def highway_hash(data: bytes) -> int:
    """HighwayHash-64 of ``data`` under Riegeli's key."""
    h = _Highway()
    whole = len(data) & ~31
    unpack = struct.Struct("<4Q").unpack_from
    for p in range(0, whole, 32):
        h.update(unpack(data, p))
    if len(data) & 31:
        h.remainder(bytes(data[whole:]))
    return h.finish()


def u64(buf, at: int) -> int:
    return struct.unpack_from("<Q", buf, at)[0]


def with_overhead(pos: int, length: int) -> int:
    """The file position ``length`` logical bytes after ``pos``, stepping over block headers."""
    while length:
        if pos % BLOCK == 0:
            pos += BLOCK_HEADER
        room = BLOCK - pos % BLOCK
        step = min(room, length)
        pos += step
        length -= step
    return pos


def logical(buf, pos: int, length: int) -> bytes:
    """``length`` bytes of a chunk from file position ``pos``, without the block headers in between."""
    out = bytearray()
    while len(out) < length:
        if pos % BLOCK == 0:
            pos += BLOCK_HEADER
        step = min(BLOCK - pos % BLOCK, length - len(out))
        out += buf[pos:pos + step]
        pos += step
    return bytes(out)


def positions(pos: int, length: int) -> list[int]:
    """The file positions of ``length`` logical bytes beginning at ``pos``."""
    out = []
    while len(out) < length:
        if pos % BLOCK == 0:
            pos += BLOCK_HEADER
        out.append(pos)
        pos += 1
    return out


def chunk_end(begin: int, data_size: int, num_records: int) -> int:
    """Where a chunk ends: after its header and data, and at least ``num_records`` bytes on."""
    end = max(with_overhead(begin, CHUNK_HEADER + data_size), begin + num_records)
    if 0 < end % BLOCK < BLOCK_HEADER:  # a chunk never ends inside a block header
        end += BLOCK_HEADER - end % BLOCK
    return end


@dataclass
class Chunk:
    begin: int
    end: int
    kind: str           # chunk type character: 's' signature, 'r' simple, 't' transposed, 'p' padding, ...
    data_size: int
    num_records: int
    decoded_size: int
    header_hash: int
    data_hash: int
    first_record: int = 0  # index of its first record among all data chunks' records

    @property
    def data_begin(self) -> int:
        return with_overhead(self.begin, CHUNK_HEADER)


@dataclass
class Layout:
    size: int
    chunks: list[Chunk] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def data_chunks(self) -> list[Chunk]:
        # The last two simple chunks are the footer and the postscript.
        return [c for c in self.chunks if c.kind in "rt"][:-2] if self.size else []

    @property
    def footer(self) -> Chunk:
        return [c for c in self.chunks if c.kind == "r"][-2]

    @property
    def postscript(self) -> Chunk:
        return [c for c in self.chunks if c.kind == "r"][-1]


def walk(buf: bytes, check_data: bool = True) -> Layout:
    """Every chunk of a well-formed file, with every hash checked (problems listed, not raised)."""
    layout = Layout(len(buf))
    pos = 0
    first_record = 0
    while pos < len(buf):
        header = logical(buf, pos, CHUNK_HEADER)
        (header_hash, data_size, data_hash, type_and_count, decoded_size) = struct.unpack("<5Q", header)
        kind = chr(type_and_count & 0xFF) if type_and_count & 0xFF else "?"
        num_records = type_and_count >> 8
        if highway_hash(header[8:]) != header_hash:
            layout.problems.append(f"chunk header hash at {pos}")
        chunk = Chunk(pos, chunk_end(pos, data_size, num_records), kind, data_size, num_records,
                      decoded_size, header_hash, data_hash)
        if check_data and highway_hash(logical(buf, chunk.data_begin, data_size)) != data_hash:
            layout.problems.append(f"chunk data hash at {pos}")
        if kind in "rt":
            chunk.first_record = first_record
            first_record += num_records
        layout.chunks.append(chunk)
        pos = chunk.end
    for block in range(0, len(buf), BLOCK):
        # Every block header: its hash, and the chunk it says it interrupts.
        if highway_hash(buf[block + 8:block + 24]) != u64(buf, block):
            layout.problems.append(f"block header hash at {block}")
            continue
        owner = next((c for c in layout.chunks if c.begin <= block < c.end or c.begin == block), None)
        back, forward = u64(buf, block + 8), u64(buf, block + 16)
        if owner is None or block - back != owner.begin or block + forward != owner.end:
            layout.problems.append(f"block header at {block} names another chunk")
    if pos != len(buf):
        layout.problems.append(f"last chunk ends at {pos}, file at {len(buf)}")
    return layout


def boundaries_inside(begin: int, end: int) -> int:
    """Block boundaries strictly between ``begin`` and ``end``."""
    return max(0, (end - 1) // BLOCK - begin // BLOCK)


def describe(lay: Layout) -> dict:
    """What the tests and the case checks need to know about a file's chunks."""
    data = lay.data_chunks
    kinds: dict[str, int] = {}
    for c in lay.chunks:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    straddles = []
    ending_at_boundary = 0
    for c in data:
        header_end = with_overhead(c.begin, CHUNK_HEADER)
        if boundaries_inside(c.begin, header_end) and c.begin % BLOCK:
            straddles.append([c.begin, BLOCK - c.begin % BLOCK])
        if (c.begin + CHUNK_HEADER) % BLOCK == 0 and c.begin % BLOCK:
            ending_at_boundary += 1
    out = {
        "chunks": len(lay.chunks),
        "chunk_kinds": dict(sorted(kinds.items())),
        "data_chunks": len(data),
        "records_in_data_chunks": sum(c.num_records for c in data),
        "footer_offset": lay.footer.begin,
        "footer_size": lay.footer.end - lay.footer.begin,
        "footer_boundaries": boundaries_inside(lay.footer.begin, lay.footer.end),
        "postscript_offset": lay.postscript.begin,
        "most_boundaries_in_a_data_chunk": max((boundaries_inside(c.begin, c.end) for c in data), default=0),
        "header_straddles_total": len(straddles),
        "header_straddles": straddles[:16],
        "headers_ending_at_boundary": ending_at_boundary,
        "data_chunks_beginning_at_boundary": sum(c.begin % BLOCK == 0 for c in data),
        "data_chunks_ending_at_boundary": sum(c.end % BLOCK == 0 for c in data),
    }
    if len(data) <= 64:
        out["data_chunk_offsets"] = [c.begin for c in data]
        out["data_chunk_records"] = [c.num_records for c in data]
    return out
