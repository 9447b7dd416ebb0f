"""Decoding of Riegeli transposed chunks (chunk type ``t``, written with ``transpose:true``).

A transposed chunk stores protobuf records column-wise (FORMAT.md §9): field
values are split into per-field *buffers* packed into independently compressed
*buckets*, and the order of the fields is replayed by a small state machine
driven by a stream of one-byte *transitions*. Records that are not canonical
protobuf messages are stored whole ("non-proto" records). Decoding rebuilds
the records back to front: the last field of the last record is produced first.

Layout of the chunk data::

    compression_type  1 byte (0 none, 'b' Brotli, 'z' Zstd, 's' Snappy)
    header_length     varint
    header            compressed blob (FORMAT.md §4.1) of header_length bytes
    bucket 0..k-1     compressed blobs, lengths given in the header
    transitions       compressed blob: the rest of the data

The decompressed header holds, in order: ``num_buckets``, ``num_buffers``, the
compressed length of each bucket, the decompressed length of each buffer,
``num_nodes``, one tag per node, one "next node" index per node (``>=
num_nodes`` marks an implicit transition), one subtype byte per node whose tag
is a real varint-field tag, one buffer index per node that reads a buffer (in
node order), and ``first_node``.

The work is split in three steps:

* :func:`_parse_header` (numba) turns the decompressed header into flat node
  tables and validates every index;
* the Python layer slices and decompresses the buckets and the transitions
  (through the codec registry) and bounds every size before allocating;
* :func:`_execute` (numba) cuts the buffers out of the buckets and runs the
  state machine, writing the records backwards into one preallocated array.

Both kernels return a status code instead of raising; :func:`decode_transposed_chunk`
turns a bad status into :class:`~mmrecord.errors.CorruptRecordError`.

Where this decoder is stricter than Riegeli's (only for data no encoder writes):

* a compressed blob must inflate to exactly the length its varint declares
  (Riegeli treats that length as a size hint only);
* declared sizes are bounded by what an encoder can produce for the chunk's
  ``decoded_size`` and ``num_records`` (header <= 128, transitions <= 64 bytes
  per record or output byte; field buffers <= ``decoded_size`` + 10 bytes per
  record), so that damage cannot make a codec allocate absurd buffers;
* the state machine may run at most ``5 * (transitions + 1) + 2 * decoded_size
  + num_records + 64`` steps; only chains of implicit *no-op* nodes, which no
  encoder writes, can need more.

Field projection (decoding only some fields) is not implemented: every chunk
is decoded in full.
"""

from __future__ import annotations

import numba
import numpy as np

from .blob import decompress_blob
from .engine.varint import read_varint
from .errors import CorruptRecordError

__all__ = ["decode_transposed_chunk"]

# ---------------------------------------------------------------------------
# Node kinds (what a state machine node does when executed)
# ---------------------------------------------------------------------------

K_NOOP = 0  # nothing
K_NONPROTO = 1  # copy a whole non-proto record; its length comes from the last buffer
K_SUBMSG_START = 2  # close the innermost open submessage: emit tag + varint(length)
K_MSG_START = 3  # a record begins here (records are rebuilt back to front)
K_SUBMSG_END = 4  # open a submessage: remember the current output length
K_FIELD = 5  # emit the tag bytes, then C_DATA_LEN bytes from a buffer (varint, fixed32/64),
#             or nothing more (group tags; an inline varint's value byte follows its tag)
K_STRING = 6  # emit tag + "varint length + bytes" copied from a buffer

# Columns of the int64 node table built by _parse_header.
C_KIND = 0
C_TAG_LEN = 1  # bytes of the varint-encoded tag (1..5)
C_COPY_LEN = 2  # bytes of tag_bytes a K_FIELD node emits (tag, plus an inline value byte)
C_DATA_LEN = 3  # bytes a K_FIELD node takes from its buffer (0, 1..10 varint, 4, 8)
C_BUFFER = 4  # buffer index, -1 if the node reads none
C_NEXT = 5  # next node index
C_IMPLICIT = 6  # 1 if the transition out of this node is implicit
C_MASK = 7  # 1 for a varint from a buffer: set the continuation bit of all but its last byte
NUM_COLUMNS = 8

#: Sizes and counts at or above this cannot be real in this process.
_SIZE_LIMIT = 1 << 62

# ---------------------------------------------------------------------------
# Status codes (0 = success). Messages for the Python layer below.
# ---------------------------------------------------------------------------

OK = 0
E_HDR_COUNTS = 1
E_HDR_BUCKET_LEN = 2
E_HDR_BUFFER_LEN = 3
E_HDR_NUM_NODES = 4
E_HDR_TAG = 5
E_HDR_NEXT = 6
E_HDR_SUBTYPES = 7
E_HDR_BAD_TAG = 8
E_HDR_BAD_SUBTYPE = 9
E_HDR_BUFFER_INDEX = 10
E_HDR_NEXT_RANGE = 11
E_HDR_NONPROTO_BUFFER = 12
E_HDR_FIRST_NODE = 13
E_HDR_TRAILING = 14
E_HDR_IMPLICIT_LOOP = 15
E_BUF_LAYOUT = 20
E_BUF_TOO_FEW_BUCKETS = 21
E_BUF_BUCKET_LEFTOVER = 22
E_RUN_BAD_NODE = 30
E_RUN_FIELD_DATA = 31
E_RUN_STRING_LENGTH = 33
E_RUN_STRING_DATA = 34
E_RUN_NONPROTO_LENGTH = 35
E_RUN_NONPROTO_DATA = 36
E_RUN_OUTPUT_OVERFLOW = 37
E_RUN_STACK_UNDERFLOW = 38
E_RUN_SUBMSG_TOO_LARGE = 39
E_RUN_SUBMSG_OPEN = 40
E_RUN_TOO_MANY_RECORDS = 41
E_RUN_TOO_FEW_RECORDS = 42
E_RUN_SIZE_MISMATCH = 43
E_RUN_UNFINISHED = 44
E_RUN_STEP_BUDGET = 45
E_RUN_STACK_TOO_DEEP = 46

_MESSAGES = {
    E_HDR_COUNTS: "transposed chunk header: bad number of buckets or buffers",
    E_HDR_BUCKET_LEN: "transposed chunk header: bad bucket length",
    E_HDR_BUFFER_LEN: "transposed chunk header: bad buffer length",
    E_HDR_NUM_NODES: "transposed chunk header: bad number of state machine nodes",
    E_HDR_TAG: "transposed chunk header: bad node tag varint",
    E_HDR_NEXT: "transposed chunk header: bad next-node varint",
    E_HDR_SUBTYPES: "transposed chunk header: node subtypes are truncated",
    E_HDR_BAD_TAG: "transposed chunk header: invalid node tag",
    E_HDR_BAD_SUBTYPE: "transposed chunk header: invalid varint subtype",
    E_HDR_BUFFER_INDEX: "transposed chunk header: bad buffer index",
    E_HDR_NEXT_RANGE: "transposed chunk header: next-node index out of range",
    E_HDR_NONPROTO_BUFFER: "transposed chunk header: non-proto node but no buffer for record lengths",
    E_HDR_FIRST_NODE: "transposed chunk header: bad first node index",
    E_HDR_TRAILING: "transposed chunk header has trailing bytes",
    E_HDR_IMPLICIT_LOOP: "transposed chunk state machine has a loop of implicit transitions",
    E_BUF_LAYOUT: "transposed chunk: buffer does not fit in its bucket",
    E_BUF_TOO_FEW_BUCKETS: "transposed chunk: buckets left without buffers",
    E_BUF_BUCKET_LEFTOVER: "transposed chunk: bucket has bytes beyond its buffers",
    E_RUN_BAD_NODE: "transposed chunk: transition leads to a nonexistent node",
    E_RUN_FIELD_DATA: "transposed chunk: varint or fixed-width field buffer exhausted",
    E_RUN_STRING_LENGTH: "transposed chunk: bad string length in field buffer",
    E_RUN_STRING_DATA: "transposed chunk: string field buffer exhausted",
    E_RUN_NONPROTO_LENGTH: "transposed chunk: bad non-proto record length",
    E_RUN_NONPROTO_DATA: "transposed chunk: non-proto record buffer exhausted",
    E_RUN_OUTPUT_OVERFLOW: "transposed chunk decodes to more bytes than its decoded size",
    E_RUN_STACK_UNDERFLOW: "transposed chunk: submessage start without submessage end",
    E_RUN_SUBMSG_TOO_LARGE: "transposed chunk: submessage longer than 2**32-1 bytes",
    E_RUN_SUBMSG_OPEN: "transposed chunk: record ends inside an open submessage",
    E_RUN_TOO_MANY_RECORDS: "transposed chunk decodes to more records than its header says",
    E_RUN_TOO_FEW_RECORDS: "transposed chunk decodes to fewer records than its header says",
    E_RUN_SIZE_MISMATCH: "transposed chunk decodes to fewer bytes than its decoded size",
    E_RUN_UNFINISHED: "transposed chunk: bytes before the first record",
    E_RUN_STEP_BUDGET: "transposed chunk: state machine runs far longer than its data allows",
    E_RUN_STACK_TOO_DEEP: "transposed chunk: more open submessages than bytes left to close them",
}


# ---------------------------------------------------------------------------
# numba helpers
# ---------------------------------------------------------------------------


@numba.njit(inline="always")
def _varint32(buf, pos, stop):
    """Riegeli ``ReadVarint32`` over ``buf[pos:stop]``: 1..5 bytes, value < 2**32.

    Non-shortest forms are accepted (as Riegeli does). Returns ``(value, new_pos)``
    with ``new_pos == -1`` on a truncated or invalid varint.
    """
    result = np.int64(0)
    shift = np.int64(0)
    p = pos
    while p < stop:
        byte = np.int64(buf[p])
        p += 1
        if shift == 28:
            if byte > 0x0F:
                return np.int64(0), np.int64(-1)
            return result | (byte << 28), p
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, p
        shift += 7
    return np.int64(0), np.int64(-1)


@numba.njit(inline="always")
def _varint64(buf, pos, stop, limit):
    """Riegeli ``ReadVarint64`` over ``buf[pos:stop]`` for a size that must be ``<= limit``.

    Returns ``(value, new_pos)`` with ``new_pos == -1`` on a truncated or invalid
    varint, or a value above ``limit`` (``limit < 2**63``, so the result fits int64).
    """
    result = np.uint64(0)
    shift = np.uint64(0)
    p = pos
    done = False
    while p < stop:
        byte = np.uint64(buf[p])
        p += 1
        if shift == np.uint64(63):
            if byte > np.uint64(1):
                return np.int64(0), np.int64(-1)
            result |= byte << shift
            done = True
            break
        result |= (byte & np.uint64(0x7F)) << shift
        if byte < np.uint64(0x80):
            done = True
            break
        shift += np.uint64(7)
    if not done or result > np.uint64(limit):
        return np.int64(0), np.int64(-1)
    return np.int64(result), p


@numba.njit(inline="always")
def _varint_size32(value):
    n = np.int64(1)
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _parse_header(h):
    """Parse a decompressed transposed-chunk header.

    Returns ``(status, bucket_lengths, buffer_lengths, nodes, tag_bytes,
    first_node, nonproto_buffer, longest_implicit_chain)`` where ``nodes`` is an
    ``int64[num_nodes, NUM_COLUMNS]`` table (columns ``C_*``) and ``tag_bytes``
    a ``uint8[num_nodes, 8]`` table holding each node's varint tag followed by
    the inline value byte of an inline varint node. Every count is checked
    against the header length before anything is allocated.
    """
    n = np.int64(h.shape[0])
    bucket_lengths = np.empty(0, np.int64)
    buffer_lengths = np.empty(0, np.int64)
    nodes = np.empty((0, NUM_COLUMNS), np.int64)
    tag_bytes = np.empty((0, 8), np.uint8)
    z = np.int64(0)
    bad = np.int64(-1)

    pos = np.int64(0)
    num_buckets, pos = _varint32(h, pos, n)
    if pos < 0:
        return E_HDR_COUNTS, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    num_buffers, pos = _varint32(h, pos, n)
    if pos < 0:
        return E_HDR_COUNTS, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    # Every length takes at least one header byte.
    if num_buckets > n or num_buffers > n or (num_buckets == 0 and num_buffers != 0):
        return E_HDR_COUNTS, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    bucket_lengths = np.empty(num_buckets, np.int64)
    for i in range(num_buckets):
        v, pos = _varint64(h, pos, n, _SIZE_LIMIT)
        if pos < 0:
            return E_HDR_BUCKET_LEN, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        bucket_lengths[i] = v
    buffer_lengths = np.empty(num_buffers, np.int64)
    for i in range(num_buffers):
        v, pos = _varint64(h, pos, n, _SIZE_LIMIT)
        if pos < 0:
            return E_HDR_BUFFER_LEN, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        buffer_lengths[i] = v

    num_nodes, pos = _varint32(h, pos, n)
    # A node needs at least a tag byte and a next-node byte.
    if pos < 0 or num_nodes == 0 or 2 * num_nodes > n - pos:
        return E_HDR_NUM_NODES, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    nodes = np.zeros((num_nodes, NUM_COLUMNS), np.int64)
    tag_bytes = np.zeros((num_nodes, 8), np.uint8)
    tags = np.empty(num_nodes, np.int64)
    num_subtypes = np.int64(0)
    for i in range(num_nodes):
        t, pos = _varint32(h, pos, n)
        if pos < 0:
            return E_HDR_TAG, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        tags[i] = t
        # Only a valid varint-field tag is followed by a subtype byte.
        if t >= 8 and (t & 7) == 0:
            num_subtypes += 1
    for i in range(num_nodes):
        nx, pos = _varint32(h, pos, n)
        if pos < 0:
            return E_HDR_NEXT, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        if nx >= num_nodes:
            nx -= num_nodes
            nodes[i, C_IMPLICIT] = 1
        if nx >= num_nodes:
            return E_HDR_NEXT_RANGE, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        nodes[i, C_NEXT] = nx
    if num_subtypes > n - pos:
        return E_HDR_SUBTYPES, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    subtype_pos = pos
    pos += num_subtypes

    has_nonproto = False
    for i in range(num_nodes):
        t = tags[i]
        nodes[i, C_BUFFER] = -1
        needs_buffer = False
        if t == 0:
            nodes[i, C_KIND] = K_NOOP
        elif t == 1:
            nodes[i, C_KIND] = K_NONPROTO
            needs_buffer = True
            has_nonproto = True
        elif t == 2:
            nodes[i, C_KIND] = K_SUBMSG_START
        elif t == 3:
            nodes[i, C_KIND] = K_MSG_START
        else:
            end_of_submessage = False
            if (t & 7) == 6:
                # End of a submessage: stored with wire type 6, real tag has wire type 2.
                t -= 4
                end_of_submessage = True
            wire = t & 7
            if t < 8 or wire > 5:
                return E_HDR_BAD_TAG, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
            # Varint encoding of the (real) tag.
            tl = np.int64(0)
            v = t
            while v >= 0x80:
                tag_bytes[i, tl] = np.uint8((v & 0x7F) | 0x80)
                v >>= 7
                tl += 1
            tag_bytes[i, tl] = np.uint8(v)
            tl += 1
            nodes[i, C_TAG_LEN] = tl
            nodes[i, C_COPY_LEN] = tl
            if end_of_submessage:
                nodes[i, C_KIND] = K_SUBMSG_END
            elif wire == 0:
                subtype = np.int64(h[subtype_pos])
                subtype_pos += 1
                nodes[i, C_KIND] = K_FIELD
                if subtype < 10:
                    nodes[i, C_DATA_LEN] = subtype + 1
                    nodes[i, C_MASK] = 1
                    needs_buffer = True
                elif subtype <= 137:
                    # Value 0..127 stored inline: its varint is the single byte.
                    tag_bytes[i, tl] = np.uint8(subtype - 10)
                    nodes[i, C_COPY_LEN] = tl + 1
                else:
                    return E_HDR_BAD_SUBTYPE, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
            elif wire == 1:
                nodes[i, C_KIND] = K_FIELD
                nodes[i, C_DATA_LEN] = 8
                needs_buffer = True
            elif wire == 5:
                nodes[i, C_KIND] = K_FIELD
                nodes[i, C_DATA_LEN] = 4
                needs_buffer = True
            elif wire == 2:
                nodes[i, C_KIND] = K_STRING
                needs_buffer = True
            else:  # start group / end group: the tag alone
                nodes[i, C_KIND] = K_FIELD
        if needs_buffer:
            b, pos = _varint32(h, pos, n)
            if pos < 0 or b >= num_buffers:
                return E_HDR_BUFFER_INDEX, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
            nodes[i, C_BUFFER] = b

    nonproto_buffer = np.int64(-1)
    if has_nonproto:
        if num_buffers == 0:
            return E_HDR_NONPROTO_BUFFER, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        nonproto_buffer = num_buffers - 1

    first_node, pos = _varint32(h, pos, n)
    if pos < 0 or first_node >= num_nodes:
        return E_HDR_FIRST_NODE, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
    if pos != n:
        return E_HDR_TRAILING, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z

    # Reject loops made only of implicit transitions (they would never read a
    # transition byte, so never end) and measure the longest implicit chain.
    chain = np.full(num_nodes, -1, np.int64)  # -1 unknown, -2 on the current path
    path = np.empty(num_nodes, np.int64)
    longest = np.int64(0)
    for i in range(num_nodes):
        if chain[i] >= 0:
            continue
        depth = np.int64(0)
        j = i
        while nodes[j, C_IMPLICIT] == 1 and chain[j] == -1:
            chain[j] = -2
            path[depth] = j
            depth += 1
            j = nodes[j, C_NEXT]
        if chain[j] == -2:
            return E_HDR_IMPLICIT_LOOP, bucket_lengths, buffer_lengths, nodes, tag_bytes, z, bad, z
        if chain[j] == -1:
            chain[j] = 0  # not implicit: the chain ends here
        length = chain[j]
        while depth > 0:
            depth -= 1
            length += 1
            chain[path[depth]] = length
        if length > longest:
            longest = length
    return OK, bucket_lengths, buffer_lengths, nodes, tag_bytes, first_node, nonproto_buffer, longest


@numba.njit(cache=True, nogil=True)
def _execute(bufdata, bucket_sizes, buffer_lengths, nodes, tag_bytes, first_node,
             nonproto_buffer, transitions, out, starts, step_budget):
    """Cut the buffers out of the decompressed buckets and run the state machine.

    ``bufdata`` is the concatenation of the decompressed buckets, whose sizes
    are ``bucket_sizes``. The records are written backwards into ``out`` (its
    length is the chunk's decoded size) and ``starts[i]`` receives the offset in
    ``out`` of the i-th record completed, i.e. of the records in reverse file
    order. Returns a status code (``OK`` on success).
    """
    num_buffers = buffer_lengths.shape[0]
    num_buckets = bucket_sizes.shape[0]

    # --- Buffers: cut consecutively, never across a bucket boundary. After a
    # buffer, exhausted buckets are skipped (while a later one exists).
    cursor = np.empty(num_buffers, np.int64)
    limit = np.empty(num_buffers, np.int64)
    if num_buckets > 0:
        bucket = np.int64(0)
        bucket_start = np.int64(0)
        used = np.int64(0)  # bytes of the current bucket given to buffers
        for i in range(num_buffers):
            length = buffer_lengths[i]
            if length > bucket_sizes[bucket] - used:
                return E_BUF_LAYOUT
            cursor[i] = bucket_start + used
            used += length
            limit[i] = bucket_start + used
            while used == bucket_sizes[bucket] and bucket + 1 < num_buckets:
                bucket_start += bucket_sizes[bucket]
                bucket += 1
                used = 0
        if bucket + 1 < num_buckets:
            return E_BUF_TOO_FEW_BUCKETS
        if used != bucket_sizes[bucket]:
            return E_BUF_BUCKET_LEFTOVER

    # --- State machine.
    size = np.int64(out.shape[0])
    num_records = np.int64(starts.shape[0])
    num_nodes = np.int64(nodes.shape[0])
    num_transitions = np.int64(transitions.shape[0])
    wpos = size  # output is filled from the end towards the start
    records = np.int64(0)
    stack_pos = np.empty(16, np.int64)  # output length when the submessage ended
    stack_node = np.empty(16, np.int64)  # the K_SUBMSG_END node (holds the tag)
    depth = np.int64(0)
    tpos = np.int64(0)
    steps = np.int64(0)
    node = np.int64(first_node)
    iters = nodes[node, C_IMPLICIT]

    while True:
        steps += 1
        if steps > step_budget:
            return E_RUN_STEP_BUDGET
        kind = nodes[node, C_KIND]
        if kind == K_FIELD:
            cl = nodes[node, C_COPY_LEN]
            n = nodes[node, C_DATA_LEN]
            if cl + n > wpos:
                return E_RUN_OUTPUT_OVERFLOW
            q = wpos - n
            if n > 0:
                b = nodes[node, C_BUFFER]
                p = cursor[b]
                if n > limit[b] - p:
                    return E_RUN_FIELD_DATA
                for j in range(n):
                    out[q + j] = bufdata[p + j]
                if nodes[node, C_MASK] != 0:
                    for j in range(n - 1):
                        out[q + j] |= np.uint8(0x80)
                cursor[b] = p + n
            wpos = q - cl
            for j in range(cl):
                out[wpos + j] = tag_bytes[node, j]
        elif kind == K_STRING:
            b = nodes[node, C_BUFFER]
            tl = nodes[node, C_TAG_LEN]
            p = cursor[b]
            length, q = _varint32(bufdata, p, limit[b])
            if q < 0:
                return E_RUN_STRING_LENGTH
            total = (q - p) + length
            if total > 0xFFFFFFFF:
                return E_RUN_STRING_LENGTH
            if total > limit[b] - p:
                return E_RUN_STRING_DATA
            if tl + total > wpos:
                return E_RUN_OUTPUT_OVERFLOW
            wpos -= tl + total
            for j in range(tl):
                out[wpos + j] = tag_bytes[node, j]
            q = wpos + tl
            for j in range(total):
                out[q + j] = bufdata[p + j]
            cursor[b] = p + total
        elif kind == K_SUBMSG_END:
            if depth == stack_pos.shape[0]:
                grown_pos = np.empty(2 * depth, np.int64)
                grown_node = np.empty(2 * depth, np.int64)
                grown_pos[:depth] = stack_pos
                grown_node[:depth] = stack_node
                stack_pos = grown_pos
                stack_node = grown_node
            stack_pos[depth] = size - wpos
            stack_node[depth] = node
            depth += 1
            # Closing each open submessage emits at least 2 bytes.
            if 2 * depth > wpos:
                return E_RUN_STACK_TOO_DEEP
        elif kind == K_SUBMSG_START:
            if depth == 0:
                return E_RUN_STACK_UNDERFLOW
            depth -= 1
            length = (size - wpos) - stack_pos[depth]
            if length > 0xFFFFFFFF:
                return E_RUN_SUBMSG_TOO_LARGE
            end_node = stack_node[depth]
            tl = nodes[end_node, C_TAG_LEN]
            vl = _varint_size32(length)
            if tl + vl > wpos:
                return E_RUN_OUTPUT_OVERFLOW
            wpos -= tl + vl
            for j in range(tl):
                out[wpos + j] = tag_bytes[end_node, j]
            q = wpos + tl
            v = length
            while v >= 0x80:
                out[q] = np.uint8((v & 0x7F) | 0x80)
                v >>= 7
                q += 1
            out[q] = np.uint8(v)
        elif kind == K_MSG_START or kind == K_NONPROTO:
            if kind == K_NONPROTO:
                lb = nonproto_buffer
                lp = cursor[lb]
                length, q = _varint32(bufdata, lp, limit[lb])
                if q < 0:
                    return E_RUN_NONPROTO_LENGTH
                cursor[lb] = q
                b = nodes[node, C_BUFFER]
                p = cursor[b]
                if length > limit[b] - p:
                    return E_RUN_NONPROTO_DATA
                if length > wpos:
                    return E_RUN_OUTPUT_OVERFLOW
                wpos -= length
                for j in range(length):
                    out[wpos + j] = bufdata[p + j]
                cursor[b] = p + length
            if depth != 0:
                return E_RUN_SUBMSG_OPEN
            if records == num_records:
                return E_RUN_TOO_MANY_RECORDS
            starts[records] = wpos
            records += 1
        # K_NOOP: nothing to do.

        # --- Transition to the next node.
        node = nodes[node, C_NEXT]
        if iters == 0:
            if tpos == num_transitions:
                break
            t = np.int64(transitions[tpos])
            tpos += 1
            node += t >> 2
            if node >= num_nodes:
                return E_RUN_BAD_NODE
            iters = (t & 3) + nodes[node, C_IMPLICIT]
        elif nodes[node, C_IMPLICIT] == 0:
            iters -= 1

    if depth != 0:
        return E_RUN_SUBMSG_OPEN
    if records != num_records:
        return E_RUN_TOO_FEW_RECORDS
    if wpos != 0:
        return E_RUN_SIZE_MISMATCH
    if num_records > 0 and starts[num_records - 1] != 0:
        return E_RUN_UNFINISHED
    return OK


# ---------------------------------------------------------------------------
# Python layer
# ---------------------------------------------------------------------------


def decode_transposed_chunk(
    data: np.ndarray, num_records: int, decoded_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the data of a transposed chunk into ``(values, bounds)``.

    ``data`` is the chunk's logical data bytes (1-D uint8, may be read-only);
    ``num_records`` and ``decoded_size`` come from the chunk header. Returns the
    records concatenated in file order (``values``, uint8) and ``bounds``
    (int64, ``num_records + 1`` entries): record k is
    ``values[bounds[k]:bounds[k+1]]``.

    Raises :class:`CorruptRecordError` for any malformed chunk, including one
    whose records do not match ``num_records`` or ``decoded_size`` exactly. An
    unknown compression byte raises whatever the codec registry raises for it
    (``UnknownCodecError``).
    """
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, np.uint8)
    if data.dtype != np.uint8 or data.ndim != 1:
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    elif not data.flags.c_contiguous:
        data = np.ascontiguousarray(data)
    num_records = int(num_records)
    decoded_size = int(decoded_size)
    if num_records < 0 or decoded_size < 0 or num_records >= _SIZE_LIMIT or decoded_size >= _SIZE_LIMIT:
        raise CorruptRecordError("transposed chunk: impossible record count or decoded size")
    n = len(data)
    if n == 0:
        raise CorruptRecordError("transposed chunk has no data")

    # Sizes a legitimate encoder can produce, used to refuse absurd declared
    # lengths before decompressing: every encoded field emits at least one
    # output byte or completes a record, so "work" bounds the number of fields.
    work = decoded_size + num_records + 1
    max_header = 128 * work + (1 << 16)
    max_transitions = 64 * work + (1 << 10)

    codec_id = int(data[0])
    header_len, pos = read_varint(data, 1, n)
    if pos < 0:
        raise CorruptRecordError("transposed chunk: bad header length varint")
    header_len = int(header_len)
    if header_len > n - pos:
        raise CorruptRecordError("transposed chunk: header runs past the end of the data")
    header_blob = data[pos: pos + header_len]
    pos += header_len
    header = decompress_blob(codec_id, header_blob, max_header, "transposed chunk header")

    (status, bucket_lengths, buffer_lengths, nodes, tag_bytes,
     first_node, nonproto_buffer, longest_chain) = _parse_header(header)
    if status != OK:
        raise CorruptRecordError(_MESSAGES[status])

    # All buffer bytes end up in the records, except the non-proto lengths
    # (a varint of at most 10 bytes per record).
    total_buffers = sum(buffer_lengths.tolist())
    if total_buffers > decoded_size + 10 * num_records + 64:
        raise CorruptRecordError("transposed chunk: field buffers larger than the records they hold")

    # Buckets.
    bucket_start = pos
    for length in bucket_lengths.tolist():
        if length > n - pos:
            raise CorruptRecordError("transposed chunk: bucket runs past the end of the data")
        pos += length
    if codec_id == 0:
        bufdata = data[bucket_start:pos]
        bucket_sizes = bucket_lengths
    else:
        parts = []
        remaining = total_buffers
        p = bucket_start
        for length in bucket_lengths.tolist():
            part = decompress_blob(codec_id, data[p: p + length], remaining, "transposed chunk bucket")
            remaining -= len(part)
            parts.append(part)
            p += length
        bucket_sizes = np.array([len(part) for part in parts], np.int64)
        if len(parts) == 1:
            bufdata = parts[0]
        elif parts:
            bufdata = np.concatenate(parts)
        else:
            bufdata = np.empty(0, np.uint8)

    # Transitions: the rest of the data.
    transitions = decompress_blob(codec_id, data[pos:], max_transitions, "transposed chunk transitions")
    if len(transitions) > max_transitions:
        raise CorruptRecordError("transposed chunk: more transitions than records and bytes to drive")

    # Hard limits implied by the data actually present: after reading a
    # transition byte the machine visits at most 5 explicit nodes, and between
    # them at most `longest_chain` implicit ones; every node emits at most 10
    # bytes that do not come from a buffer.
    max_steps = 1 + (len(transitions) + 1) * 5 * (int(longest_chain) + 1)
    if num_records > max_steps:
        raise CorruptRecordError("transposed chunk: more records than its state machine can produce")
    if decoded_size > total_buffers + 10 * max_steps:
        raise CorruptRecordError("transposed chunk: decoded size larger than its data can produce")
    # An encoder never needs more steps than this (each transition byte covers
    # at most 4 explicit nodes; every implicit node of a real encoder emits a
    # byte, completes a record or opens a submessage); it keeps damaged input
    # from running for long.
    step_budget = min(max_steps, 5 * (len(transitions) + 1) + 2 * decoded_size + num_records + 64,
                      _SIZE_LIMIT)

    try:
        values = np.empty(decoded_size, np.uint8)
        starts = np.empty(num_records, np.int64)
    except MemoryError:
        raise CorruptRecordError(
            f"transposed chunk: cannot allocate {decoded_size} bytes for {num_records} records"
        ) from None
    status = _execute(bufdata, bucket_sizes, buffer_lengths, nodes, tag_bytes, first_node,
                      nonproto_buffer, transitions, values, starts, step_budget)
    if status != OK:
        raise CorruptRecordError(_MESSAGES[status])
    bounds = np.empty(num_records + 1, np.int64)
    bounds[:num_records] = starts[::-1]
    bounds[num_records] = decoded_size
    return values, bounds
