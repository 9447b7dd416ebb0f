"""The state machine of a transposed chunk and its transitions (numba kernels).

A decoder replays a chunk's encoded tags back to front (FORMAT.md §9): each
state names an encoded tag (or is a *no-op*) and a *base*; the next state is
``base + t`` for a one-byte transition ``t`` in ``0..MAX_TRANSITION`` (several
bytes of zero transitions are merged into one), or simply ``base`` when the
state has a single successor (an *implicit* transition, no byte at all).

This module builds the states as Riegeli's ``TransposeEncoder`` does, so that
the bytes come out the same: transition counts between encoded tags; for each
tag a *private list* of its frequent successors (at least
:data:`MIN_COUNT_FOR_STATE` transitions, or every transition into them),
least frequent first, in blocks of ``MAX_TRANSITION + 1`` states reached
through no-op states; a *public list* of every tag still reached otherwise,
built the same way; and for tags without a private list (and the no-ops
leading to the public list) the lowest base from which every needed state
is reachable. Priority ties are broken by index, as Riegeli breaks them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .int_table import new_table, number
from .transpose_split import _grow

#: Transitions are one byte values 0..MAX_TRANSITION (shifted left by 2; the low
#: two bits repeat a zero transition up to three more times).
MAX_TRANSITION = 63
#: Transitions from A to B needed for B to get a state in A's private list.
MIN_COUNT_FOR_STATE = 10
#: "No position" (Riegeli's kInvalidPos, a uint32 of all ones).
INVALID = 0xFFFFFFFF
#: Marks an edge chosen for a private list before its state exists.
IN_LIST = 0


class Transitions(NamedTuple):
    """Distinct transitions between encoded tags, grouped by source tag.

    Edge ``e`` goes from ``edge_src[e]`` to ``edge_dst[e]`` ``edge_count[e]``
    times; tag ``t``'s edges are ``order[first[t]:first[t + 1]]``. Going back
    to front, step ``i`` (from ``encoded_tags[i]`` to ``encoded_tags[i - 1]``)
    takes edge ``step_edge[i]``. ``incoming[t]`` counts the steps into ``t``
    (at least 1 for the tag the replay starts from).
    """

    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_count: np.ndarray
    num_edges: int
    order: np.ndarray
    first: np.ndarray
    step_edge: np.ndarray
    incoming: np.ndarray


class StateMachine(NamedTuple):
    """States (``state_etag`` is INVALID for a no-op) and what each encoded tag needs to be written.

    ``tag_base[t]``: the base of tag ``t``'s states (INVALID without
    successors); ``edge_pos[e]``: the state of edge ``e``'s destination in its
    source's private list (INVALID if reached through the public list);
    ``public_pos[t]``: tag ``t``'s state in the public list;
    ``public_noop[t]``: the no-op of tag ``t``'s private list that leads to the
    public list.
    """

    state_etag: np.ndarray
    state_base: np.ndarray
    state_source: np.ndarray  # the no-op state whose block holds this state
    tag_base: np.ndarray
    edge_pos: np.ndarray
    public_pos: np.ndarray
    public_noop: np.ndarray


@njit(cache=True, nogil=True)
def collect_transitions(encoded_tags, num_encoded, num_etags):
    """Count the transitions between encoded tags, replayed back to front (:class:`Transitions`)."""
    edge_keys, edge_values = new_table(num_etags + 8)
    edge_src = np.empty(64, np.int64)
    edge_dst = np.empty(64, np.int64)
    edge_count = np.empty(64, np.int64)
    num_edges = 0
    step_edge = np.empty(num_encoded, np.int64)
    incoming = np.zeros(num_etags, np.int64)
    outgoing = np.zeros(num_etags + 1, np.int64)
    for i in range(num_encoded - 1, 0, -1):
        src = np.int64(encoded_tags[i])
        dst = np.int64(encoded_tags[i - 1])
        e, added, edge_keys, edge_values, num_edges = number(edge_keys, edge_values, num_edges, (src << 32) | dst)
        if added:
            if e == len(edge_src):
                edge_src = _grow(edge_src, e + 1)
                edge_dst = _grow(edge_dst, e + 1)
                edge_count = _grow(edge_count, e + 1)
            edge_src[e] = src
            edge_dst[e] = dst
            edge_count[e] = 0
            outgoing[src + 1] += 1
        edge_count[e] += 1
        incoming[dst] += 1
        step_edge[i] = e
    start = encoded_tags[num_encoded - 1]
    if incoming[start] == 0:
        incoming[start] = 1  # the state the replay starts from must exist
    first = np.cumsum(outgoing)
    fill = first[:-1].copy()
    order = np.empty(num_edges, np.int64)
    for e in range(num_edges):
        order[fill[edge_src[e]]] = e
        fill[edge_src[e]] += 1
    return Transitions(edge_src, edge_dst, edge_count, num_edges, order, first, step_edge, incoming)


# -- a priority queue of (count, index, edge): the least count first, ties to the larger index --


@njit(inline="always")
def _before(counts, indices, a, b):
    return counts[a] < counts[b] or (counts[a] == counts[b] and indices[a] > indices[b])


@njit(inline="always")
def _push(counts, indices, edges, size, count, index, edge):
    i = size
    counts[i], indices[i], edges[i] = count, index, edge
    while i > 0:
        up = (i - 1) // 2
        if not _before(counts, indices, i, up):
            break
        counts[i], counts[up] = counts[up], counts[i]
        indices[i], indices[up] = indices[up], indices[i]
        edges[i], edges[up] = edges[up], edges[i]
        i = up
    return size + 1


@njit(inline="always")
def _pop(counts, indices, edges, size):
    """Remove the first entry (it is returned by the caller reading slot 0 before); new size."""
    size -= 1
    counts[0], indices[0], edges[0] = counts[size], indices[size], edges[size]
    i = 0
    while True:
        best = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and _before(counts, indices, child, best):
                best = child
        if best == i:
            return size
        counts[i], counts[best] = counts[best], counts[i]
        indices[i], indices[best] = indices[best], indices[i]
        edges[i], edges[best] = edges[best], edges[i]
        i = best


@njit(cache=True, nogil=True)
def _lay_out_blocks(state_etag, state_base, state_source, size, num_states, counts, indices, edges,
                    heap, num_etags, edge_pos, public_pos, noop_base, owner, public_noop,
                    public_noop_tag, public_noop_state, num_public_noops):
    """Place the queued states in blocks at ``state_*[size:size + num_states]``, last block first.

    Each block takes the least frequent queued entries; a no-op for the block
    is queued with their total count, so frequent states end up in the first
    block, one byte away from the base. ``owner`` is the tag whose private
    list this is (-1 for the public list). Returns the new size and the count
    of no-ops that lead to the public list.
    """
    end = size + num_states
    prev = end
    block = (num_states - 1) % (MAX_TRANSITION + 1) + 1
    num_noops = 0
    while True:
        total = 0
        for _ in range(block):
            count, index, edge = counts[0], indices[0], edges[0]
            heap = _pop(counts, indices, edges, heap)
            total += count
            prev -= 1
            state_source[prev] = INVALID
            state_etag[prev] = INVALID
            if index == INVALID:  # the no-op into the public list
                state_base[prev] = INVALID
                public_noop[owner] = prev
                public_noop_tag[num_public_noops] = owner
                public_noop_state[num_public_noops] = prev
                num_public_noops += 1
            elif index >= num_etags:  # a no-op leading to a block laid out before
                base = noop_base[index - num_etags]
                state_base[prev] = base
                for j in range(MAX_TRANSITION + 1):
                    if j + base >= end:
                        break
                    state_source[j + base] = prev
            else:
                state_etag[prev] = index
                state_base[prev] = INVALID
                if owner >= 0:
                    edge_pos[edge] = prev
                else:
                    public_pos[index] = prev
        if heap == 0:
            return end, num_public_noops
        heap = _push(counts, indices, edges, heap, total, num_etags + num_noops, -1)
        noop_base[num_noops] = prev
        num_noops += 1
        block = MAX_TRANSITION + 1


@njit(cache=True, nogil=True)
def _lowest_base(tag, tr, edge_pos, public_pos, state_base, state_source, public_base):
    """The lowest state from which every public-list successor of ``tag`` is reachable (INVALID if none).

    Walks up the public list's tree of blocks from each successor's state
    until one base reaches them all, keeping the least position used.
    """
    base = np.int64(INVALID)
    min_pos = np.int64(INVALID)
    for k in range(tr.first[tag], tr.first[tag + 1]):
        e = tr.order[k]
        if edge_pos[e] != INVALID:
            continue  # reached through the private list
        pos = public_pos[tr.edge_dst[e]]
        while base > pos or pos - base > MAX_TRANSITION:
            if base > pos:
                if base == INVALID:
                    cs = state_source[pos]
                else:
                    cs = state_source[base]
                    min_pos = min(min_pos, cs)
                    cs = state_source[cs]
                base = public_base if cs == INVALID else state_base[cs]
            else:
                pos = state_source[pos]
        min_pos = min(min_pos, pos)
    return min_pos


@njit(cache=True, nogil=True)
def build_state_machine(tr, num_etags):
    """The states for the transitions ``tr`` (:class:`StateMachine`)."""
    num_edges = tr.num_edges
    capacity = 4 * (num_edges + num_etags) + 16
    state_etag = np.empty(capacity, np.int64)
    state_base = np.empty(capacity, np.int64)
    state_source = np.empty(capacity, np.int64)
    size = 0
    incoming = tr.incoming.copy()
    edge_pos = np.full(num_edges, INVALID, np.int64)
    for e in range(num_edges):
        if tr.edge_count[e] >= MIN_COUNT_FOR_STATE:
            incoming[tr.edge_dst[e]] -= tr.edge_count[e]
            edge_pos[e] = IN_LIST
    tag_base = np.full(num_etags, INVALID, np.int64)
    public_pos = np.full(num_etags, INVALID, np.int64)
    public_noop = np.full(num_etags, INVALID, np.int64)
    counts = np.empty(capacity, np.int64)
    indices = np.empty(capacity, np.int64)
    edges = np.empty(capacity, np.int64)
    noop_base = np.empty(capacity, np.int64)
    public_noop_tag = np.empty(num_etags, np.int64)
    public_noop_state = np.empty(num_etags, np.int64)
    num_public_noops = 0

    # Private lists.
    for tag in range(num_etags):
        heap = 0
        degree = tr.first[tag + 1] - tr.first[tag]
        excluded_count = 0
        excluded_edge = -1
        for k in range(tr.first[tag], tr.first[tag + 1]):
            e = tr.order[k]
            dst = tr.edge_dst[e]
            count = tr.edge_count[e]
            if edge_pos[e] == IN_LIST or count == incoming[dst]:
                if edge_pos[e] != IN_LIST:
                    incoming[dst] -= count
                heap = _push(counts, indices, edges, heap, count, dst, e)
            else:
                excluded_count += count
                excluded_edge = e
        num_states = heap
        if num_states == 0:
            continue
        if num_states + 1 == degree:  # a single state left for the public list joins this one
            num_states += 1
            heap = _push(counts, indices, edges, heap, tr.edge_count[excluded_edge],
                         tr.edge_dst[excluded_edge], excluded_edge)
            incoming[tr.edge_dst[excluded_edge]] -= tr.edge_count[excluded_edge]
        if num_states != degree:
            heap = _push(counts, indices, edges, heap, excluded_count, INVALID, -1)
            num_states += 1
        tag_base[tag] = size
        if num_states > MAX_TRANSITION + 1:
            num_states += (num_states - 2) // MAX_TRANSITION
        size, num_public_noops = _lay_out_blocks(
            state_etag, state_base, state_source, size, num_states, counts, indices, edges, heap,
            num_etags, edge_pos, public_pos, noop_base, tag, public_noop, public_noop_tag,
            public_noop_state, num_public_noops)

    # The public list.
    public_base = size
    heap = 0
    for tag in range(num_etags):
        if incoming[tag] != 0:
            heap = _push(counts, indices, edges, heap, incoming[tag], tag, -1)
    num_states = heap
    if num_states > 0:
        if num_states > MAX_TRANSITION + 1:
            num_states += (num_states - 2) // MAX_TRANSITION
        size, _ = _lay_out_blocks(state_etag, state_base, state_source, size, num_states, counts,
                                  indices, edges, heap, num_etags, edge_pos, public_pos, noop_base,
                                  -1, public_noop, public_noop_tag, public_noop_state,
                                  num_public_noops)

    # Bases reaching into the public list.
    for k in range(num_public_noops):
        state_base[public_noop_state[k]] = _lowest_base(
            public_noop_tag[k], tr, edge_pos, public_pos, state_base, state_source, public_base)
    for tag in range(num_etags):
        if tag_base[tag] == INVALID:
            tag_base[tag] = _lowest_base(tag, tr, edge_pos, public_pos, state_base, state_source,
                                         public_base)
    return StateMachine(state_etag[:size], state_base[:size], state_source[:size], tag_base,
                        edge_pos, public_pos, public_noop)


@njit(inline="always")
def _path(scratch, pos, base, sm):
    """Transitions from ``base`` to state ``pos`` through no-ops, into the end of ``scratch``; first slot."""
    start = len(scratch)
    while base > pos or pos - base > MAX_TRANSITION:
        cs = sm.state_source[pos]
        start -= 1
        scratch[start] = pos - sm.state_base[cs]
        pos = cs
    start -= 1
    scratch[start] = pos - base
    return start


@njit(inline="always")
def _emit(scratch, start, last, out, used):
    """Append transitions ``scratch[start:]``: zero transitions merge into the pending byte (up to 3)."""
    for j in range(start, len(scratch)):
        if scratch[j] == 0 and last >= 0 and (last & 3) < 3:
            last += 1
        else:
            if last >= 0:
                out = _grow(out, used + 1)
                out[used] = last
                used += 1
            last = scratch[j] << 2
    return last, out, used


@njit(cache=True, nogil=True)
def write_transitions(encoded_tags, num_encoded, tr, sm, implicit):
    """The transition bytes replaying ``encoded_tags`` back to front.

    ``implicit[t]`` says whether tag ``t``'s states have one successor only
    (no byte is written for leaving them). A successor outside the private
    list is reached through the list's no-op into the public list, if any.
    """
    out = np.empty(num_encoded + 16, np.uint8)
    used = 0
    scratch = np.empty(64, np.int64)
    last = np.int64(-1)  # the pending byte: a transition << 2 | zero transitions merged after it
    prev = np.int64(encoded_tags[num_encoded - 1])
    base = sm.tag_base[prev]
    for i in range(num_encoded - 1, 0, -1):
        tag = np.int64(encoded_tags[i - 1])
        if not implicit[prev]:
            pos = sm.edge_pos[tr.step_edge[i]]
            if pos == INVALID:
                noop = sm.public_noop[prev]
                if noop != INVALID:
                    last, out, used = _emit(scratch, _path(scratch, noop, base, sm), last, out, used)
                    base = sm.state_base[noop]
                pos = sm.public_pos[tag]
            last, out, used = _emit(scratch, _path(scratch, pos, base, sm), last, out, used)
        prev = tag
        base = sm.tag_base[prev]
    if last >= 0:
        out = _grow(out, used + 1)
        out[used] = last
        used += 1
    return out[:used]
