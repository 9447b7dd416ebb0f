"""Transposed chunks up to compression: buffers, buckets, header and transitions (numba kernels).

For each group of records, :func:`encode_transposed_groups` splits the
records into fields (:mod:`.transpose_split`), builds the state machine
(:mod:`.transpose_states`) and writes the uncompressed *segments* of the
chunk, which the Python layer compresses and frames
(:mod:`mmrecord.transpose_encoder`):

* the buckets, each the concatenation of some data buffers: buffers are
  grouped by type (varint, fixed32, fixed64, string, non-proto), sorted by
  size (then parent id, then tag) and packed into buckets of about
  ``bucket_size`` bytes, counted from the largest buffers down; the lengths
  of the non-proto records form a last buffer, in a bucket of its own;
* the *header tail*: each buffer's length, the states (tag or reserved id,
  base, varint subtype, buffer index) and the first state; the header's
  head (bucket and buffer counts, compressed bucket sizes) depends on
  compression and is written by the caller;
* the transitions.

Buffers are written back to front, as Riegeli's backward writers do: a
node's last value comes first; varint values lose their continuation bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .transpose_split import (
    NO_BUFFER,
    NOOP_ID,
    NONPROTO_ID,
    START_OF_SUBMESSAGE_ID,
    SUBMESSAGE_END,
    SUBMESSAGE_START,
    VARINT_BUFFER,
    VARINT_INLINE_0,
    _grow,
    split_records,
)
from .transpose_states import INVALID, build_state_machine, collect_transitions, write_transitions
from .varint import varint_length, write_varint

#: The wire type of a submessage's end in a state's tag (a length-delimited tag is 2).
SUBMESSAGE_END_WIRE_TYPE = 6


class TransposedSegments(NamedTuple):
    """Uncompressed segments of transposed chunks: segment s is ``data[bounds[s]:bounds[s+1]]``.

    Chunk k's segments start at ``first_segment[k]``: its ``num_buckets[k]``
    buckets, then its header tail, then its transitions.
    """

    data: np.ndarray
    bounds: np.ndarray
    first_segment: np.ndarray
    num_buckets: np.ndarray
    num_buffers: np.ndarray


@njit(inline="always")
def _put(out, used, nbytes):
    """``out`` with room for ``nbytes`` more bytes after ``used``."""
    return _grow(out, used + nbytes)


@njit(inline="always")
def _put_varint(out, used, value):
    out = _grow(out, used + 10)
    return out, write_varint(out, used, value)


@njit(cache=True, nogil=True)
def _sorted_buffers(split):
    """The nodes that have a buffer, by buffer type, then size, then parent id, then tag."""
    nodes = np.empty(split.num_nodes, np.int64)
    n = 0
    for node in range(split.num_nodes):
        if split.node_buffer_type[node] != NO_BUFFER:
            nodes[n] = node
            n += 1
    nodes = nodes[:n]
    if n > 1:
        for key in (split.node_tag, split.node_parent, split.node_buffer_size):  # least significant first
            nodes = nodes[np.argsort(key[nodes], kind="mergesort")]
        nodes = nodes[np.argsort(split.node_buffer_type[nodes], kind="mergesort")]
    return nodes


@njit(inline="always")
def _bucket_ends(sizes, start, stop, bucket_size, ends):
    """Where buckets end among buffers ``sizes[start:stop]`` (ascending), written to the end of ``ends``.

    Riegeli's split, from the largest buffer down: a bucket closes before a
    buffer that would take it past ``bucket_size`` by more than half the
    buffer; once at most half a bucket remains, the rest joins the current
    bucket. Returns the index in ``ends`` of the first end (ends ascend from there).
    """
    remaining = np.int64(0)
    for i in range(start, stop):
        remaining += sizes[i]
    at = len(ends) - 1
    ends[at] = stop
    current = np.int64(0)
    for i in range(stop - 1, start - 1, -1):
        if current > 0 and current + sizes[i] // 2 >= bucket_size:
            at -= 1
            ends[at] = i + 1
            current = 0
        current += sizes[i]
        remaining -= sizes[i]
        if remaining <= bucket_size // 2:
            break
    return at


@njit(inline="always")
def _write_buffer(out, used, values, split, node, node_items, item_order, is_varint):
    """Append node's buffer: its data items last to first, varints without continuation bits."""
    for k in range(node_items[node + 1] - 1, node_items[node] - 1, -1):
        item = item_order[k]
        start = split.item_start[item]
        length = split.item_length[item]
        if is_varint:
            for j in range(length):
                out[used + j] = values[start + j] & 0x7F
        else:
            out[used:used + length] = values[start:start + length]
        used += length
    return used


@njit(cache=True, nogil=True)
def _encode_group(values, bounds, first, stop, bucket_size, out, used, seg_bounds, num_segments):
    """Append one chunk's segments for records ``first..stop-1``; return the grown outputs and counts."""
    split = split_records(values, bounds, first, stop)

    # Data items grouped by node, in order (a counting sort).
    node_items = np.zeros(split.num_nodes + 1, np.int64)
    for i in range(split.num_items):
        node_items[split.item_node[i] + 1] += 1
    node_items = np.cumsum(node_items)
    fill = node_items[:-1].copy()
    item_order = np.empty(split.num_items, np.int64)
    for i in range(split.num_items):
        item_order[fill[split.item_node[i]]] = i
        fill[split.item_node[i]] += 1

    # Buffers, type by type, packed into buckets.
    nodes = _sorted_buffers(split)
    sizes = split.node_buffer_size[nodes]
    buffer_index = np.empty(split.num_nodes, np.int64)
    num_buffers = len(nodes)
    num_buckets = 0
    total = bounds[stop] - bounds[first]
    out = _put(out, used, total + 10 * (stop - first) + 16)  # every buffer, and the non-proto lengths
    ends = np.empty(num_buffers + 1, np.int64)
    b = 0
    while b < num_buffers:
        buffer_type = split.node_buffer_type[nodes[b]]
        type_end = b
        while type_end < num_buffers and split.node_buffer_type[nodes[type_end]] == buffer_type:
            type_end += 1
        for k in range(_bucket_ends(sizes, b, type_end, bucket_size, ends), len(ends)):
            while b < ends[k]:
                buffer_index[nodes[b]] = b
                used = _write_buffer(out, used, values, split, nodes[b], node_items, item_order,
                                     buffer_type == VARINT_BUFFER)
                b += 1
            seg_bounds = _grow(seg_bounds, num_segments + 2)
            num_segments += 1
            seg_bounds[num_segments] = used
            num_buckets += 1
    nonproto_lengths_size = 0
    if split.num_nonproto > 0:
        start = used
        for k in range(split.num_nonproto - 1, -1, -1):
            used = write_varint(out, used, split.nonproto_lengths[k])
        nonproto_lengths_size = used - start
        seg_bounds = _grow(seg_bounds, num_segments + 2)
        num_segments += 1
        seg_bounds[num_segments] = used
        num_buckets += 1

    # The state machine and the header tail.
    encoded_tags = split.encoded_tags
    num_encoded = split.num_encoded
    num_etags = split.num_etags
    tr = collect_transitions(encoded_tags, num_encoded, num_etags)
    sm = build_state_machine(tr, num_etags)
    implicit = (tr.first[1:] - tr.first[:-1]) == 1
    # The last state replayed must not end on an implicit transition: its
    # single successor gets a phantom second one, so that it reads a byte.
    implicit[encoded_tags[0]] = False
    num_states = len(sm.state_etag)
    for k in range(num_buffers):
        out, used = _put_varint(out, used, sizes[k])
    if split.num_nonproto > 0:
        out, used = _put_varint(out, used, nonproto_lengths_size)
        num_buffers += 1
    out, used = _put_varint(out, used, num_states)
    bases = np.empty(num_states, np.int64)
    subtypes = np.empty(num_states, np.uint8)
    num_subtypes = 0
    buffer_refs = np.empty(num_states, np.int64)
    num_refs = 0
    for s in range(num_states):
        etag = sm.state_etag[s]
        if etag == INVALID:
            out, used = _put_varint(out, used, NOOP_ID)
            bases[s] = sm.state_base[s]
            continue
        node = split.etag_node[etag]
        subtype = split.etag_subtype[etag]
        tag = split.node_tag[node]
        wire = tag & 7
        if tag == 0:  # the start of a record, or a non-proto record
            out, used = _put_varint(out, used, split.node_parent[node])
            if split.node_parent[node] == NONPROTO_ID:
                buffer_refs[num_refs] = buffer_index[node]
                num_refs += 1
        elif wire == 2 and subtype == SUBMESSAGE_START:
            out, used = _put_varint(out, used, START_OF_SUBMESSAGE_ID)
        elif wire == 2 and subtype == SUBMESSAGE_END:
            out, used = _put_varint(out, used, tag - 2 + SUBMESSAGE_END_WIRE_TYPE)
        else:
            out, used = _put_varint(out, used, tag)
            if wire == 0:
                subtypes[num_subtypes] = subtype
                num_subtypes += 1
            if (wire == 0 and subtype < VARINT_INLINE_0) or wire == 1 or wire == 5 or \
                    (wire == 2 and subtype == 0):
                buffer_refs[num_refs] = buffer_index[node]
                num_refs += 1
        base = sm.tag_base[etag]
        if base == INVALID:
            bases[s] = 0
        else:
            bases[s] = base + (num_states if implicit[etag] else 0)
    for s in range(num_states):
        out, used = _put_varint(out, used, bases[s])
    out = _put(out, used, num_subtypes)
    out[used:used + num_subtypes] = subtypes[:num_subtypes]
    used += num_subtypes
    for k in range(num_refs):
        out, used = _put_varint(out, used, buffer_refs[k])
    first_state = 0
    while sm.state_etag[first_state] != encoded_tags[num_encoded - 1]:
        first_state += 1
    out, used = _put_varint(out, used, first_state)
    seg_bounds = _grow(seg_bounds, num_segments + 3)  # the header tail and the transitions
    num_segments += 1
    seg_bounds[num_segments] = used

    transitions = write_transitions(encoded_tags, num_encoded, tr, sm, implicit)
    out = _put(out, used, len(transitions))
    out[used:used + len(transitions)] = transitions
    used += len(transitions)
    num_segments += 1
    seg_bounds[num_segments] = used
    return out, used, seg_bounds, num_segments, num_buckets, num_buffers


@njit(cache=True, nogil=True)
def encode_transposed_groups(values, bounds, group_bounds, bucket_size):
    """Segments of one transposed chunk per group (:class:`TransposedSegments`).

    Record k is ``values[bounds[k]:bounds[k+1]]``; chunk g holds records
    ``group_bounds[g]..group_bounds[g+1]-1``. ``bucket_size`` is the
    approximate uncompressed size of a bucket (no limit for uncompressed
    chunks, as in Riegeli).
    """
    num_groups = len(group_bounds) - 1
    out = np.empty(bounds[-1] - bounds[0] + 64 * num_groups + 64, np.uint8)
    used = np.int64(0)
    seg_bounds = np.zeros(4 * num_groups + 1, np.int64)
    num_segments = np.int64(0)
    first_segment = np.empty(num_groups, np.int64)
    num_buckets = np.empty(num_groups, np.int64)
    num_buffers = np.empty(num_groups, np.int64)
    for g in range(num_groups):
        first_segment[g] = num_segments
        out, used, seg_bounds, num_segments, num_buckets[g], num_buffers[g] = _encode_group(
            values, bounds, group_bounds[g], group_bounds[g + 1], bucket_size, out, used,
            seg_bounds, num_segments)
    return TransposedSegments(out[:used], seg_bounds[:num_segments + 1], first_segment, num_buckets,
                              num_buffers)


@njit(cache=True, nogil=True)
def frame_uncompressed(segments):
    """The data of uncompressed transposed chunks from their segments, and each chunk's bounds.

    Uncompressed, a bucket's stored size is its length and the header is
    stored as it is: ``0 | varint(header length) | header | buckets | transitions``.
    """
    data, bounds = segments.data, segments.bounds
    num_chunks = len(segments.first_segment)
    out = np.empty(len(data) + 32 * num_chunks + 16 * (len(bounds) + 1), np.uint8)
    chunk_bounds = np.zeros(num_chunks + 1, np.int64)
    used = np.int64(0)
    for g in range(num_chunks):
        first = segments.first_segment[g]
        nb = segments.num_buckets[g]
        tail = first + nb
        header_length = varint_length(np.uint64(nb)) + varint_length(np.uint64(segments.num_buffers[g])) \
            + bounds[tail + 1] - bounds[tail]
        for s in range(first, tail):
            header_length += varint_length(np.uint64(bounds[s + 1] - bounds[s]))
        out = _put(out, used, 11 + header_length + bounds[tail + 2] - bounds[first])
        out[used] = 0
        used = write_varint(out, used + 1, header_length)
        used = write_varint(out, used, nb)
        used = write_varint(out, used, segments.num_buffers[g])
        for s in range(first, tail):
            used = write_varint(out, used, bounds[s + 1] - bounds[s])
        length = bounds[tail + 1] - bounds[tail]
        out[used:used + length] = data[bounds[tail]:bounds[tail + 1]]
        used += length
        length = bounds[tail] - bounds[first]
        out[used:used + length] = data[bounds[first]:bounds[tail]]
        used += length
        length = bounds[tail + 2] - bounds[tail + 1]
        out[used:used + length] = data[bounds[tail + 1]:bounds[tail + 2]]
        used += length
        chunk_bounds[g + 1] = used
    return out[:used], chunk_bounds
