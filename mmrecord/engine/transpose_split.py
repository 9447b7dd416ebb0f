"""Splitting records into the fields of a transposed chunk (numba kernels).

The first step of encoding a transposed chunk (FORMAT.md §9): each record that
is a canonical protocol buffer message is walked field by field; every field
occurrence becomes an *encoded tag* (a ``(node, subtype)`` pair, where a node
is a field at one path of the message tree) and, for fields that carry data,
a *data item* (a slice of the record that goes to the node's buffer). A record
that is not a canonical message becomes one non-proto item. Length-delimited
fields whose contents parse as a message (and are not empty) are descended
into, up to :data:`MAX_DEPTH` levels of submessages and groups.

Nodes are numbered in order of first sight; a node's message id (the parent
id of the fields inside it) is ``FIRST_MESSAGE_ID + node``, as Riegeli
assigns them. Encoded tags are numbered in order of first sight too: these
numbers decide ties in the state machine, so they follow Riegeli's order
exactly (a submessage's start tag is numbered just before its end tag).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .int_table import new_table, number

# Reserved message ids (Riegeli's MessageId): parents of the special nodes.
NOOP_ID = 0
NONPROTO_ID = 1
START_OF_SUBMESSAGE_ID = 2
START_OF_MESSAGE_ID = 3
ROOT_ID = 4
FIRST_MESSAGE_ID = 5

# Subtypes of an encoded tag.
TRIVIAL = 0
VARINT_INLINE_0 = 10  # varint values 0..MAX_INLINE ride in the subtype, not in a buffer
MAX_INLINE = 3
STRING = 0
SUBMESSAGE_START = 1
SUBMESSAGE_END = 2
NUM_SUBTYPES = VARINT_INLINE_0 + MAX_INLINE + 1

# Buffer types, in the order their buffers are written.
VARINT_BUFFER = 0
FIXED32_BUFFER = 1
FIXED64_BUFFER = 2
STRING_BUFFER = 3
NONPROTO_BUFFER = 4
NO_BUFFER = -1

#: Submessages and groups nested deeper than this are kept as strings.
MAX_DEPTH = 100


class SplitRecords(NamedTuple):
    """The fields of a group of records, as :func:`split_records` returns them.

    ``encoded_tags[:num_encoded]`` is the sequence of encoded tags; encoded tag
    ``e`` is ``(etag_node[e], etag_subtype[e])``. Node ``n`` is field
    ``node_tag[n]`` under parent id ``node_parent[n]``; its buffer (if
    ``node_buffer_type[n] != NO_BUFFER``) is the concatenation of its data
    items ``(item_start, item_length)`` taken in reverse order, varint items
    without their continuation bits. ``nonproto_lengths`` holds the length of
    each non-proto record, in order.
    """

    encoded_tags: np.ndarray
    num_encoded: int
    etag_node: np.ndarray
    etag_subtype: np.ndarray
    num_etags: int
    node_parent: np.ndarray
    node_tag: np.ndarray
    node_buffer_type: np.ndarray
    node_buffer_size: np.ndarray
    num_nodes: int
    item_node: np.ndarray
    item_start: np.ndarray
    item_length: np.ndarray
    num_items: int
    nonproto_lengths: np.ndarray
    num_nonproto: int


@njit(inline="always")
def _grow(a, need):
    """``a``, or a copy with room for at least ``need`` entries."""
    if need <= len(a):
        return a
    b = np.empty(max(need, 2 * len(a)), a.dtype)
    b[:len(a)] = a
    return b


@njit(inline="always")
def _encoded_tag(node, subtype, node_etags, etag_node, etag_subtype, num_etags):
    """The encoded tag of ``node`` with ``subtype``, numbered when first seen.

    Returns it with the tables of encoded tags (grown when full) and their count.
    """
    etag_slot = node * NUM_SUBTYPES + subtype
    if node_etags[etag_slot] < 0:
        etag_node = _grow(etag_node, num_etags + 1)
        etag_subtype = _grow(etag_subtype, num_etags + 1)
        node_etags[etag_slot] = num_etags
        etag_node[num_etags] = node
        etag_subtype[num_etags] = subtype
        num_etags += 1
    return node_etags[etag_slot], etag_node, etag_subtype, num_etags


@njit(inline="always")
def canonical_varint_end(src, pos, end, max_length):
    """End of the canonical varint of at most ``max_length`` bytes at ``src[pos:end]``; -1 if none.

    Canonical, as Riegeli's ``ReadCanonicalVarint32/64``: no trailing zero
    byte (beyond a lone 0), and the last possible byte (the 5th of a varint32,
    the 10th of a varint64) holds no bits beyond 32 or 64 bits.
    """
    limit = 16 if max_length == 5 else 2
    for i in range(max_length):
        p = pos + i
        if p >= end:
            return -1
        byte = src[p]
        if i == max_length - 1:
            if byte >= limit:
                return -1
        elif byte >= 0x80:
            continue
        if i > 0 and byte == 0:
            return -1
        return p + 1
    return -1


@njit(inline="always")
def _varint_value(src, pos, end):
    """The value of the (already checked) varint at ``src[pos:end]``."""
    value = np.uint64(0)
    shift = np.uint64(0)
    for p in range(pos, end):
        value |= np.uint64(src[p] & 0x7F) << shift
        shift += np.uint64(7)
    return value


@njit(inline="always")
def is_proto_message(src, pos, end, groups):
    """Whether ``src[pos:end]`` is a protocol buffer message in canonical encoding; and ``groups``.

    Riegeli's ``IsProtoMessage``: tags and lengths are canonical varint32s,
    varint values canonical varint64s, no field number is 0, fixed-size and
    length-delimited values fit, wire types 6 and 7 do not occur and every
    group is closed by its own end tag. ``groups`` is a scratch stack of open
    groups, returned because it may have grown.
    """
    depth = 0
    p = pos
    while p < end:
        stop = canonical_varint_end(src, p, end, 5)
        if stop < 0:
            return False, groups
        tag = np.int64(_varint_value(src, p, stop))
        p = stop
        field = tag >> 3
        if field == 0:
            return False, groups
        wire = tag & 7
        if wire == 0:
            p = canonical_varint_end(src, p, end, 10)
            if p < 0:
                return False, groups
        elif wire == 1:
            if end - p < 8:
                return False, groups
            p += 8
        elif wire == 2:
            stop = canonical_varint_end(src, p, end, 5)
            if stop < 0:
                return False, groups
            length = np.int64(_varint_value(src, p, stop))
            if end - stop < length:
                return False, groups
            p = stop + length
        elif wire == 3:
            groups = _grow(groups, depth + 1)
            groups[depth] = field
            depth += 1
        elif wire == 4:
            if depth == 0 or groups[depth - 1] != field:
                return False, groups
            depth -= 1
        elif wire == 5:
            if end - p < 4:
                return False, groups
            p += 4
        else:
            return False, groups
    return depth == 0, groups


@njit(cache=True, nogil=True)
def split_records(values, bounds, first, stop):
    """Split records ``first..stop-1`` (record k is ``values[bounds[k]:bounds[k+1]]``) into fields.

    Follows Riegeli's ``TransposeEncoder::AddRecord``: see :class:`SplitRecords`.
    """
    total = bounds[stop] - bounds[first]
    count = stop - first
    guess = count + total // 2 + 16
    encoded_tags = np.empty(guess, np.int32)
    num_encoded = 0
    etag_node = np.empty(64, np.int32)
    etag_subtype = np.empty(64, np.int32)
    num_etags = 0
    node_parent = np.empty(64, np.int64)
    node_tag = np.empty(64, np.int64)
    node_buffer_type = np.empty(64, np.int32)
    node_buffer_size = np.empty(64, np.int64)
    node_etags = np.empty(64 * NUM_SUBTYPES, np.int32)
    num_nodes = 0
    item_node = np.empty(guess, np.int32)
    item_start = np.empty(guess, np.int64)
    item_length = np.empty(guess, np.int64)
    num_items = 0
    nonproto_lengths = np.empty(16, np.int64)
    num_nonproto = 0
    node_keys, node_values = new_table(16)
    groups = np.empty(8, np.int64)  # is_proto_message's scratch
    group_parents = np.empty(8, np.int64)  # the parent id outside each open group
    depth_groups = 0
    frame_end_etag = np.empty(MAX_DEPTH, np.int64)  # each open submessage's end tag,
    frame_parent = np.empty(MAX_DEPTH, np.int64)  # parent id outside it,
    frame_limit = np.empty(MAX_DEPTH, np.int64)  # and where the message around it ends
    depth_frames = 0

    for k in range(first, stop):
        begin = bounds[k]
        end = bounds[k + 1]
        proto, groups = is_proto_message(values, begin, end, groups)
        parent = np.int64(START_OF_MESSAGE_ID if proto else NONPROTO_ID)
        tag = np.int64(0)
        subtype = TRIVIAL
        p = begin
        limit = end
        # Each pass of this loop handles one field (or the record's own start tag, first).
        while True:
            # -- the node of (parent, tag) and its encoded tag for `subtype` ---------
            node, added, node_keys, node_values, num_nodes = number(
                node_keys, node_values, num_nodes, (parent << 32) | tag)
            if added:
                if node == len(node_parent):
                    node_parent = _grow(node_parent, node + 1)
                    node_tag = _grow(node_tag, node + 1)
                    node_buffer_type = _grow(node_buffer_type, node + 1)
                    node_buffer_size = _grow(node_buffer_size, node + 1)
                    node_etags = _grow(node_etags, len(node_parent) * NUM_SUBTYPES)
                node_parent[node] = parent
                node_tag[node] = tag
                node_buffer_type[node] = NO_BUFFER
                node_buffer_size[node] = 0
                node_etags[node * NUM_SUBTYPES:(node + 1) * NUM_SUBTYPES] = -1
            item_begin = np.int64(-1)
            item_end = np.int64(-1)
            buffer_type = NO_BUFFER
            descend = False
            wire = tag & 7
            if tag == 0:
                if not proto:
                    item_begin, item_end, buffer_type = begin, end, NONPROTO_BUFFER
                    nonproto_lengths = _grow(nonproto_lengths, num_nonproto + 1)
                    nonproto_lengths[num_nonproto] = end - begin
                    num_nonproto += 1
                    p = end
            elif wire == 0:
                value_end = canonical_varint_end(values, p, limit, 10)
                if values[p] <= MAX_INLINE:
                    subtype = VARINT_INLINE_0 + values[p]
                else:
                    subtype = value_end - p - 1
                    item_begin, item_end, buffer_type = p, value_end, VARINT_BUFFER
                p = value_end
            elif wire == 5:
                item_begin, item_end, buffer_type = p, p + 4, FIXED32_BUFFER
                p += 4
            elif wire == 1:
                item_begin, item_end, buffer_type = p, p + 8, FIXED64_BUFFER
                p += 8
            elif wire == 2:
                length_end = canonical_varint_end(values, p, limit, 5)
                length = np.int64(_varint_value(values, p, length_end))
                descend = length > 0 and depth_frames + depth_groups < MAX_DEPTH
                if descend:
                    descend, groups = is_proto_message(values, length_end, length_end + length, groups)
                if descend:
                    subtype = SUBMESSAGE_START
                    item_begin = length_end  # where the submessage's fields begin
                    item_end = length_end + length
                else:
                    subtype = STRING
                    item_begin, item_end, buffer_type = p, length_end + length, STRING_BUFFER
                p = length_end + length
            elif wire == 3:
                group_parents = _grow(group_parents, depth_groups + 1)
                group_parents[depth_groups] = parent
                depth_groups += 1
                parent = FIRST_MESSAGE_ID + node
            else:  # wire == 4: the end of a group; its node stays the one inside the group
                depth_groups -= 1
                parent = group_parents[depth_groups]

            # -- record the encoded tag (and the submessage's end tag right after its start)
            etag, etag_node, etag_subtype, num_etags = _encoded_tag(
                node, subtype, node_etags, etag_node, etag_subtype, num_etags)
            encoded_tags = _grow(encoded_tags, num_encoded + 1)
            encoded_tags[num_encoded] = etag
            num_encoded += 1
            if descend:
                etag, etag_node, etag_subtype, num_etags = _encoded_tag(
                    node, SUBMESSAGE_END, node_etags, etag_node, etag_subtype, num_etags)
                frame_end_etag[depth_frames] = etag
                frame_parent[depth_frames] = parent
                frame_limit[depth_frames] = limit
                depth_frames += 1
                parent = FIRST_MESSAGE_ID + node
                p = item_begin
                limit = item_end
            elif buffer_type != NO_BUFFER:
                node_buffer_type[node] = buffer_type
                node_buffer_size[node] += item_end - item_begin
                if num_items == len(item_node):
                    item_node = _grow(item_node, num_items + 1)
                    item_start = _grow(item_start, num_items + 1)
                    item_length = _grow(item_length, num_items + 1)
                item_node[num_items] = node
                item_start[num_items] = item_begin
                item_length[num_items] = item_end - item_begin
                num_items += 1
            if tag == 0:
                parent = ROOT_ID
            # -- the next field: close finished submessages first ---------------------
            while p >= limit and depth_frames > 0:
                depth_frames -= 1
                encoded_tags = _grow(encoded_tags, num_encoded + 1)
                encoded_tags[num_encoded] = frame_end_etag[depth_frames]
                num_encoded += 1
                parent = frame_parent[depth_frames]
                limit = frame_limit[depth_frames]
            if p >= limit or not proto:
                break
            stop_tag = canonical_varint_end(values, p, limit, 5)
            tag = np.int64(_varint_value(values, p, stop_tag))
            p = stop_tag
            subtype = TRIVIAL
    return SplitRecords(encoded_tags, num_encoded, etag_node, etag_subtype, num_etags,
                        node_parent, node_tag, node_buffer_type, node_buffer_size, num_nodes,
                        item_node, item_start, item_length, num_items, nonproto_lengths, num_nonproto)
