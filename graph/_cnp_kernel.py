"""Compiled (numba) kernels of the critical-node heuristic; used by :mod:`graph.critical_nodes`.

The local search of the critical node problem is sequential by nature (each move
depends on the components the previous move left), so it cannot be written as
whole-array numpy work; these loops are JIT-compiled to machine code instead
(``cache=True``: compiled once per machine, then loaded from ``__pycache__``; ``nogil=True``:
they release the GIL, so independent searches run in threads at once).

State of a solution ``S`` (the deleted nodes) on a graph in CSR form (``indptr``,
``adj``; both directions of every undirected edge): ``in_s[v]`` is 1 when ``v`` is
deleted; the rows of one int64 matrix ``st`` (:func:`new_state`) hold

- ``LABEL[v]`` — the id of ``v``'s component in ``G - S`` (``-1`` for deleted ``v``);
  ids come from a free-list (``FREE``), so a component keeps its id while vertices
  leave it; ``SIZE[c]`` and ``REP[c]`` (one member) per id;
- ``ROOTS[:cnt[0]]`` — the live ids, ``ROOT_POS`` their positions (O(1) delete);
- visit stamps (``MARK``, ``CMARK`` against ``cnt[2]``), so no array is cleared per move;
- ``ORDER`` — every id in increasing component size (free ids have size 0), ``OPOS`` its
  inverse, ``BSTART[s]`` where size ``s`` begins (:func:`_resize`): the large components
  are a suffix, so picking one is a single draw;
- ``AGE[c]`` — picks of ``c`` since its last articulation-point pass (the local search
  reuses a large component's gains for a few picks, :func:`_best_gain_vertex`);

and ``cnt`` = (number of components, objective Σ_C |C|(|C|-1)/2, stamp, free ids). The
matrix has ``n + 2`` columns (``BSTART`` runs to ``n + 1``).

Deleting a vertex splits its component with *interleaved* breadth-first searches
from its neighbours, one step each in turn, stopping as soon as a single search is
still running: that one is the large remainder and keeps its id and labels, so a
deletion costs time in the size of the *small* pieces it cuts off, not of the
component (the standard trick for decremental connectivity, cf. Even & Shiloach,
J. ACM 28(1):1–4, 1981, doi:10.1145/322234.322235). Returning a vertex relabels the
smaller components it joins into the largest one. Neither touches the rest of the graph.

The local search keeps each deleted vertex's return cost between moves and recounts only
those a move can have changed (:func:`_cheapest_return_cached`, :func:`_stale_costs_near`):
on powergrid (K = 494, ≈ 960 components) counting every cost and scanning every component
were most of a move; the search made 96k moves/s there before and 240k after (one core).
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit

__all__ = ["seed_rng", "objective_of", "greedy_fill", "local_search", "removal_gains_all", "new_state", "residual_window",
           "exhaustive_best"]

# rows of the state matrix
LABEL, SIZE, REP, ROOTS, ROOT_POS, FREE, MARK, CMARK, QNEXT, VNEXT, OWNER, MEMBERS, AGE, ORDER, OPOS, BSTART = \
    range(16)
# work rows, shared: Tarjan's depth-first search and the per-search records of a deletion
W0 = 16
N_ROWS = W0 + 8
# search states of a deletion
_LIVE, _DONE, _MERGED = 0, 1, 2
#: a component of at least n / SCAN_SHARE vertices is listed by a pass over the label row
#: instead of a breadth-first search (measured crossover: a search costs ~26 ns per member
#: vertex on ER2344, the pass ~1.3 ns per graph vertex)
SCAN_SHARE = 16
#: a best-gain move on component c reuses the gains of c's last articulation-point pass
#: while fewer than |c| / STALE_SHARE moves have been picked from c since that pass (see
#: :func:`_best_gain_vertex`); components under STALE_SHARE vertices always get a new pass
STALE_SHARE = 200
_NEVER = 1 << 40
# fields of a vertex in the articulation-point search (work rows read as n × 8)
_T_DISC, _T_LOW, _T_SUB, _T_PARENT, _T_ITR, _T_SEP_SUM, _T_SEP_PAIRS, _T_MARK = range(8)


@njit(cache=True, nogil=True)
def seed_rng(seed):
    np.random.seed(seed)


@njit(cache=True, nogil=True, inline="always")
def _pairs(s):
    return s * (s - 1) // 2


@njit(cache=True)     # object mode inside: holds the GIL anyway
def _now():
    with numba.objmode(t="float64"):
        t = time.perf_counter()
    return t


def new_state(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty state matrix and counters for a graph of ``n`` vertices."""
    return _alloc(n), np.zeros(4, np.int64)


@njit(cache=True, nogil=True)
def _alloc(n):
    # n + 2 columns: the bucket starts BSTART[0 .. n + 1] of the size order
    return np.zeros((N_ROWS, n + 2), np.int64)


@njit(cache=True, nogil=True)
def _root_add(c, st, cnt):
    st[ROOT_POS, c] = cnt[0]
    st[ROOTS, cnt[0]] = c
    cnt[0] += 1


@njit(cache=True, nogil=True)
def _root_del(c, st, cnt):
    _resize(c, 0, st)
    p = st[ROOT_POS, c]
    last = st[ROOTS, cnt[0] - 1]
    st[ROOTS, p] = last
    st[ROOT_POS, last] = p
    st[ROOT_POS, c] = -1
    cnt[0] -= 1
    st[FREE, cnt[3]] = c
    cnt[3] += 1


@njit(cache=True, nogil=True)
def _new_id(st, cnt):
    cnt[3] -= 1
    c = st[FREE, cnt[3]]
    st[AGE, c] = _NEVER  # a new component: no gains computed for it yet
    _root_add(c, st, cnt)
    return c


@njit(cache=True, nogil=True)
def _resize(c, new, st):
    """Set the size of component ``c``, keeping ``ORDER`` sorted by size.

    ``ORDER`` lists every id (free ones with size 0) in increasing size, ``OPOS[c]`` is
    c's place, and bucket ``s`` is ``ORDER[BSTART[s]:BSTART[s + 1]]``; c moves one bucket
    per step, swapped with the bucket's end, so a change of size d costs O(d) — no more
    than the deletion or return that caused it spent relabelling. The large components
    are then a suffix of ``ORDER`` (:func:`_pick_large` in O(1)).
    """
    size = st[SIZE]
    order = st[ORDER]
    opos = st[OPOS]
    bstart = st[BSTART]
    s = size[c]
    p = opos[c]
    while s < new:
        q = bstart[s + 1] - 1  # last place of bucket s
        o = order[q]
        order[q] = c
        order[p] = o
        opos[o] = p
        opos[c] = q
        p = q
        bstart[s + 1] = q
        s += 1
    while s > new:
        q = bstart[s]  # first place of bucket s
        o = order[q]
        order[q] = c
        order[p] = o
        opos[o] = p
        opos[c] = q
        p = q
        bstart[s] = q + 1
        s -= 1
    size[c] = new


@njit(cache=True, nogil=True)
def _build(indptr, adj, in_s, st, cnt):
    """Components of ``G - S`` from scratch, O(n + m)."""
    n = in_s.size
    label = st[LABEL]
    queue = st[MEMBERS]
    cnt[0] = 0
    cnt[1] = 0
    cnt[3] = n
    for v in range(n):
        label[v] = -1
        st[ROOT_POS, v] = -1
        st[FREE, v] = n - 1 - v
    for v in range(n):
        if in_s[v] == 0 and label[v] == -1:
            c = _new_id(st, cnt)
            label[v] = c
            queue[0] = v
            head, tail = 0, 1
            while head < tail:
                x = queue[head]
                head += 1
                for e in range(indptr[x], indptr[x + 1]):
                    y = adj[e]
                    if in_s[y] == 0 and label[y] == -1:
                        label[y] = c
                        queue[tail] = y
                        tail += 1
            st[SIZE, c] = tail
            st[REP, c] = v
            cnt[1] += _pairs(tail)
    # the size order by counting sort: BSTART[s] = number of ids of size < s
    size = st[SIZE]
    bstart = st[BSTART]
    cursor = st[QNEXT]
    for s in range(n + 2):
        bstart[s] = 0
    for c in range(n):
        if st[ROOT_POS, c] == -1:
            size[c] = 0
        bstart[size[c] + 1] += 1
    for s in range(1, n + 2):
        bstart[s] += bstart[s - 1]
    for s in range(n + 1):
        cursor[s] = bstart[s]
    for c in range(n):
        p = cursor[size[c]]
        st[ORDER, p] = c
        st[OPOS, c] = p
        cursor[size[c]] += 1


@njit(cache=True, nogil=True)
def _find(dsu, i):
    while dsu[i] != i:
        dsu[i] = dsu[dsu[i]]
        i = dsu[i]
    return i


@njit(cache=True, nogil=True)
def _delete(v, indptr, adj, in_s, st, cnt):
    """Delete ``v`` (add it to S): its component splits into the pieces around it.

    Returns the id of the piece that kept the component's id (-1 if none is left).
    """
    label = st[LABEL]
    c = label[v]
    s = st[SIZE, c]
    in_s[v] = 1
    label[v] = -1
    cnt[1] -= _pairs(s)
    if s == 1:
        _root_del(c, st, cnt)
        return -1
    cnt[2] += 1
    stamp = cnt[2]
    mark = st[MARK]
    owner = st[OWNER]
    qnext = st[QNEXT]
    vnext = st[VNEXT]
    qh, qt, vh, vt = st[W0], st[W0 + 1], st[W0 + 2], st[W0 + 3]
    count, dsu, state, start = st[W0 + 4], st[W0 + 5], st[W0 + 6], st[W0 + 7]
    ns = 0
    for e in range(indptr[v], indptr[v + 1]):
        w = adj[e]
        if in_s[w] != 0 or mark[w] == stamp:
            continue
        mark[w] = stamp
        owner[w] = ns
        qnext[w] = -1
        vnext[w] = -1
        qh[ns] = w
        qt[ns] = w
        vh[ns] = w
        vt[ns] = w
        count[ns] = 1
        dsu[ns] = ns
        state[ns] = _LIVE
        start[ns] = w
        ns += 1
    if ns == 1:  # one neighbour left in the graph: the component just loses v
        _resize(c, s - 1, st)
        st[REP, c] = start[0]
        cnt[1] += _pairs(s - 1)
        return c
    live = ns
    while live > 1:
        for i in range(ns):
            if state[i] != _LIVE:
                continue
            x = qh[i]
            if x == -1:
                state[i] = _DONE
                live -= 1
                if live <= 1:
                    break
                continue
            qh[i] = qnext[x]
            if qh[i] == -1:
                qt[i] = -1
            for f in range(indptr[x], indptr[x + 1]):
                y = adj[f]
                if in_s[y] != 0:
                    continue
                if mark[y] != stamp:
                    mark[y] = stamp
                    owner[y] = i
                    qnext[y] = -1
                    vnext[y] = -1
                    if qt[i] == -1:
                        qh[i] = y
                    else:
                        qnext[qt[i]] = y
                    qt[i] = y
                    vnext[vt[i]] = y
                    vt[i] = y
                    count[i] += 1
                else:
                    j = _find(dsu, owner[y])
                    if j != i:
                        # two searches met: one piece; continue as one search
                        dsu[j] = i
                        state[j] = _MERGED
                        live -= 1
                        if qh[j] != -1:
                            if qt[i] == -1:
                                qh[i] = qh[j]
                            else:
                                qnext[qt[i]] = qh[j]
                            qt[i] = qt[j]
                        vnext[vt[i]] = vh[j]
                        vt[i] = vt[j]
                        count[i] += count[j]
            if live <= 1:
                break
    rest = s - 1
    keeper = -1
    for i in range(ns):
        if state[i] == _LIVE and keeper == -1:
            keeper = i
        elif state[i] == _DONE:
            d = _new_id(st, cnt)
            x = vh[i]
            while x != -1:
                label[x] = d
                x = vnext[x]
            _resize(d, count[i], st)
            st[REP, d] = start[i]
            cnt[1] += _pairs(count[i])
            rest -= count[i]
    if keeper == -1:  # every piece was explored to its end: the last one keeps the id
        _root_del(c, st, cnt)
        return -1
    _resize(c, rest, st)
    st[REP, c] = start[keeper]
    cnt[1] += _pairs(rest)
    return c


@njit(cache=True, nogil=True)
def _restore(u, indptr, adj, in_s, st, cnt):
    """Return ``u`` to the graph: it merges the components around it into the largest one."""
    label = st[LABEL]
    size = st[SIZE]
    cmark = st[CMARK]
    members = st[MEMBERS]
    cnt[2] += 1
    stamp = cnt[2]
    total = 1
    best = -1
    best_size = 0
    k = 0
    for e in range(indptr[u], indptr[u + 1]):
        w = adj[e]
        if in_s[w] != 0:
            continue
        c = label[w]
        if cmark[c] == stamp:
            continue
        cmark[c] = stamp
        members[k] = c
        k += 1
        sc = size[c]
        total += sc
        cnt[1] -= _pairs(sc)
        if sc > best_size:
            best_size = sc
            best = c
    in_s[u] = 0
    if best == -1:
        c = _new_id(st, cnt)
        label[u] = c
        _resize(c, 1, st)
        st[REP, c] = u
        return
    for i in range(k):
        if members[i] != best:
            _root_del(members[i], st, cnt)
    label[u] = best
    # breadth-first over the joined smaller components only (queue in the QNEXT row)
    queue = st[QNEXT]
    queue[0] = u
    head, tail = 0, 1
    while head < tail:
        x = queue[head]
        head += 1
        for f in range(indptr[x], indptr[x + 1]):
            y = adj[f]
            if in_s[y] == 0 and label[y] != best:
                label[y] = best
                queue[tail] = y
                tail += 1
    _resize(best, total, st)
    cnt[1] += _pairs(total)


@njit(cache=True, nogil=True)
def _restore_cost_within(u, indptr, adj, in_s, label, size, cmark, cnt, bound, su, bound_since):
    """Increase of the objective if ``u`` returned to the graph (no change made), or -1 as
    soon as it loses to ``bound`` (ties: to a vertex deleted since ``bound_since`` or earlier,
    when ``u`` was deleted since ``su``).

    Summed component by component: each further component of size s joining a total t adds
    t * s >= 0, so a partial sum that already loses ends the count.
    """
    cnt[2] += 1
    stamp = cnt[2]
    total = 1
    cost = 0
    for e in range(indptr[u], indptr[u + 1]):
        w = adj[e]
        if in_s[w] != 0:
            continue
        c = label[w]
        if cmark[c] == stamp:
            continue
        cmark[c] = stamp
        sc = size[c]
        cost += total * sc
        total += sc
        if cost > bound or (cost == bound and su >= bound_since):
            return -1
    return cost


@njit(cache=True, nogil=True)
def _restore_cost(u, indptr, adj, in_s, label, size, cmark, cnt):
    """Increase of the objective if ``u`` returned to the graph (no change made)."""
    return _restore_cost_within(u, indptr, adj, in_s, label, size, cmark, cnt, 1 << 62, 0, 1 << 62)


@njit(cache=True, nogil=True)
def _component_gains(c, indptr, adj, in_s, st, cnt, gains):
    """Objective decrease ``gains[v]`` of deleting each vertex ``v`` of component ``c``.

    One iterative Tarjan depth-first search: deleting ``v`` splits off the subtree of
    every DFS child ``x`` with ``low[x] >= disc[v]``; the rest of the component stays
    together. O(|C| + edges of C). Returns the number of vertices, listed in ``MEMBERS``.

    The search's seven per-vertex fields and its visit stamp lie side by side (the
    eight work rows read as one ``n × 8`` block: one 64-byte line per vertex), so a
    vertex costs one cache line instead of eight — on a component of 1,400 vertices
    this pass was four times the cost of a plain breadth-first search.
    """
    cnt[2] += 1
    stamp = cnt[2]
    n = st.shape[1]
    w = st[W0:W0 + 8].reshape(8 * n)  # w[8 x + field]: a view on the work rows
    members = st[MEMBERS]
    stack = st[QNEXT]
    r = st[REP, c]
    s = st[SIZE, c]
    b = 8 * r
    w[b + _T_MARK] = stamp
    w[b + _T_PARENT] = -1
    w[b + _T_DISC] = 0
    w[b + _T_LOW] = 0
    w[b + _T_ITR] = indptr[r]
    w[b + _T_SUB] = 1
    w[b + _T_SEP_SUM] = 0
    w[b + _T_SEP_PAIRS] = 0
    members[0] = r
    t = 1
    stack[0] = r
    sp = 1
    while sp > 0:
        x = stack[sp - 1]
        bx = 8 * x
        i = w[bx + _T_ITR]
        if i < indptr[x + 1]:
            y = adj[i]
            w[bx + _T_ITR] = i + 1
            if in_s[y] != 0:
                continue
            by = 8 * y
            if w[by + _T_MARK] != stamp:
                w[by + _T_MARK] = stamp
                w[by + _T_PARENT] = x
                w[by + _T_DISC] = t
                w[by + _T_LOW] = t
                w[by + _T_ITR] = indptr[y]
                w[by + _T_SUB] = 1
                w[by + _T_SEP_SUM] = 0
                w[by + _T_SEP_PAIRS] = 0
                members[t] = y
                t += 1
                stack[sp] = y
                sp += 1
            elif y != w[bx + _T_PARENT] and w[by + _T_DISC] < w[bx + _T_LOW]:
                w[bx + _T_LOW] = w[by + _T_DISC]
        else:
            sp -= 1
            p = w[bx + _T_PARENT]
            if p >= 0:
                bp = 8 * p
                if w[bx + _T_LOW] < w[bp + _T_LOW]:
                    w[bp + _T_LOW] = w[bx + _T_LOW]
                w[bp + _T_SUB] += w[bx + _T_SUB]
                if w[bx + _T_LOW] >= w[bp + _T_DISC]:
                    w[bp + _T_SEP_SUM] += w[bx + _T_SUB]
                    w[bp + _T_SEP_PAIRS] += _pairs(w[bx + _T_SUB])
    whole = _pairs(s)
    for i in range(t):
        v = members[i]
        gains[v] = whole - w[8 * v + _T_SEP_PAIRS] - _pairs(s - 1 - w[8 * v + _T_SEP_SUM])
    return t


@njit(cache=True, nogil=True)
def _members(c, indptr, adj, in_s, st, cnt):
    """List component ``c`` in ``MEMBERS`` (breadth-first); returns its size."""
    cnt[2] += 1
    stamp = cnt[2]
    mark = st[MARK]
    members = st[MEMBERS]
    r = st[REP, c]
    mark[r] = stamp
    members[0] = r
    head, tail = 0, 1
    while head < tail:
        x = members[head]
        head += 1
        for e in range(indptr[x], indptr[x + 1]):
            y = adj[e]
            if in_s[y] == 0 and mark[y] != stamp:
                mark[y] = stamp
                members[tail] = y
                tail += 1
    return tail


@njit(cache=True, nogil=True)
def removal_gains_all(indptr, adj, in_s):
    """Objective decrease of deleting each vertex of ``G - S`` (``-1`` for deleted ones)."""
    n = in_s.size
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    in_s = in_s.copy()
    _build(indptr, adj, in_s, st, cnt)
    gains = np.full(n, -1, np.int64)
    for i in range(cnt[0]):
        _component_gains(st[ROOTS, i], indptr, adj, in_s, st, cnt, gains)
    return gains


@njit(cache=True, nogil=True)
def objective_of(indptr, adj, in_s):
    """Pairwise connectivity of ``G - S`` (kernel's own count; tests compare it with graph-tool)."""
    n = in_s.size
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    _build(indptr, adj, in_s.copy(), st, cnt)
    return cnt[1]


@njit(cache=True, nogil=True)
def _pick_large(st, cnt):
    """A uniformly random component among the large ones (size >= (max + min) / 2, >= 2), or -1.

    The large components are the tail of the size order (:func:`_resize`), so the pick is
    one draw, not a pass over all components (≈ 960 on powergrid: 3 of its ≈ 10 us per move).
    """
    n = st.shape[1] - 2
    order = st[ORDER]
    bstart = st[BSTART]
    size = st[SIZE]
    first_live = bstart[1]
    if first_live >= n:
        return -1
    lmin = size[order[first_live]]
    lmax = size[order[n - 1]]
    threshold = max((lmax + lmin + 1) // 2, 2)
    if threshold > lmax:
        return -1
    first = bstart[threshold]
    return order[first + np.random.randint(0, n - first)]


@njit(cache=True, nogil=True)
def _best_gain_vertex(c, indptr, adj, in_s, st, cnt, gains, weight, returned_at, it, tenure, bump, reuse):
    """The largest-gain vertex of component ``c`` (not returned within ``tenure``
    iterations; ties at random), or -1. With ``bump`` the weights of its members grow by one.

    With ``reuse`` (the local search) the gains are those of ``c``'s last articulation-point
    pass while fewer than ``|c| / STALE_SHARE`` moves have been picked from ``c`` since (its
    id survives the deletions that cut small pieces off it and the returns that join pieces
    to it): on a component of a thousand vertices or more the pass is nearly all of a move's
    cost (80 of 89 us on ER2344's giant), and a few moves change few of its vertices' gains.
    The move stays a heuristic choice; the deletion itself is exact.
    """
    if reuse and st[AGE, c] < st[SIZE, c] // STALE_SHARE:
        st[AGE, c] += 1
        t = _list_members(c, indptr, adj, in_s, st, cnt)
    else:
        st[AGE, c] = 0
        t = _component_gains(c, indptr, adj, in_s, st, cnt, gains)
    members = st[MEMBERS]
    best_gain = -1
    ties = 0
    v = -1
    for i in range(t):
        x = members[i]
        if bump:
            weight[x] += 1
        if returned_at[x] + tenure > it:
            continue
        if gains[x] > best_gain:
            best_gain = gains[x]
            v = x
            ties = 1
        elif gains[x] == best_gain:
            ties += 1
            if np.random.randint(0, ties) == 0:
                v = x
    return v


@njit(cache=True, nogil=True)
def _list_members(c, indptr, adj, in_s, st, cnt):
    """List component ``c`` in ``MEMBERS``; returns its size.

    A component holding a good share of the graph is listed by one pass over the label
    row (reads in order), which costs less than a breadth-first search (ER2344's giant,
    1,421 of 2,344 vertices: 37 us by search, about 3 us by pass); smaller ones by search,
    whose cost does not grow with the graph.
    """
    n = in_s.size
    if st[SIZE, c] * SCAN_SHARE < n:
        return _members(c, indptr, adj, in_s, st, cnt)
    label = st[LABEL]
    members = st[MEMBERS]
    t = 0
    for x in range(n):
        if label[x] == c:
            members[t] = x
            t += 1
    return t


@njit(cache=True, nogil=True)
def _heaviest_vertex(c, indptr, adj, in_s, st, cnt, weight):
    """Node weighting (Zhou, Hao & Glover 2019): members of ``c`` gain one unit of weight;
    the heaviest one (ties at random) is returned."""
    t = _list_members(c, indptr, adj, in_s, st, cnt)
    members = st[MEMBERS]
    best_w = -1
    ties = 0
    v = -1
    for i in range(t):
        x = members[i]
        weight[x] += 1
        if weight[x] > best_w:
            best_w = weight[x]
            v = x
            ties = 1
        elif weight[x] == best_w:
            ties += 1
            if np.random.randint(0, ties) == 0:
                v = x
    return v


@njit(cache=True, nogil=True)
def _cheapest_return(chosen, n_chosen, exclude, indptr, adj, in_s, st, cnt, since):
    """Index into ``chosen`` of the deleted vertex cheapest to return (ties: longest deleted)."""
    best_i = -1
    best_cost = 1 << 62
    best_since = 1 << 62
    label = st[LABEL]
    size = st[SIZE]
    cmark = st[CMARK]
    for i in range(n_chosen):
        u = chosen[i]
        if u == exclude:
            continue
        # a count that already loses to the best so far stops (the choice is the same as a full count)
        su = since[u]
        cost = _restore_cost_within(u, indptr, adj, in_s, label, size, cmark, cnt, best_cost, su, best_since)
        if cost < 0:
            continue
        if cost < best_cost or (cost == best_cost and su < best_since):
            best_cost = cost
            best_since = su
            best_i = i
    return best_i


@njit(cache=True, nogil=True)
def _cheapest_return_cached(chosen, n_chosen, exclude, indptr, adj, in_s, st, cnt, since, cost, cost_epoch, epoch):
    """:func:`_cheapest_return` with each vertex's return cost kept between calls.

    ``cost[u]`` is current while ``cost_epoch[u] == epoch[0]``; :func:`_stale_costs_near`
    clears the entries a move can change (or all of them at once by moving the epoch on),
    so a call recounts only those. Same choice as :func:`_cheapest_return`.
    """
    best_i = -1
    best_cost = 1 << 62
    best_since = 1 << 62
    label = st[LABEL]
    size = st[SIZE]
    cmark = st[CMARK]
    now = epoch[0]
    for i in range(n_chosen):
        u = chosen[i]
        if u == exclude:
            continue
        if cost_epoch[u] != now:
            cost[u] = _restore_cost(u, indptr, adj, in_s, label, size, cmark, cnt)
            cost_epoch[u] = now
        c = cost[u]
        if c < best_cost or (c == best_cost and since[u] < best_since):
            best_cost = c
            best_since = since[u]
            best_i = i
    return best_i


@njit(cache=True, nogil=True)
def _stale_costs_near(x, reach, limit, indptr, adj, in_s, st, cnt, cost_epoch, epoch):
    """Clear the kept return costs a move at ``x`` can have changed.

    After deleting ``x`` or returning it, the return cost of a deleted vertex changes
    only if it is ``x`` or next to a vertex of a component that the move split or joined:
    the vertices reachable from ``x`` (``reach`` of them). Up to ``limit`` of them are
    visited and their deleted neighbours cleared; beyond it, visiting would cost more
    than recounting every cost, so all are cleared at once (the epoch moves on).
    """
    if reach > limit:
        epoch[0] += 1
        return
    cost_epoch[x] = -1
    cnt[2] += 1
    stamp = cnt[2]
    mark = st[MARK]
    queue = st[QNEXT]
    mark[x] = stamp
    queue[0] = x
    head, tail = 0, 1
    while head < tail:
        y = queue[head]
        head += 1
        for e in range(indptr[y], indptr[y + 1]):
            z = adj[e]
            if in_s[z] != 0:
                cost_epoch[z] = -1
            elif mark[z] != stamp:
                mark[z] = stamp
                queue[tail] = z
                tail += 1


@njit(cache=True, nogil=True)
def greedy_fill(indptr, adj, s_init, k, randomized, deadline, fallback_order):
    """Grow ``s_init`` to ``k`` deleted vertices, each time deleting a best-gain vertex.

    With ``randomized`` the vertex is the best (ties at random) of a randomly chosen
    large component (the repair step of Zhou, Hao & Glover 2019); otherwise it is the
    vertex of largest exact gain over the whole graph (the greedy of Ventresca &
    Aleman 2014, via articulation points; ties to the lowest index). Only components
    changed by the last deletion are re-evaluated. Past the wall-clock ``deadline``
    (perf_counter seconds) the remaining places are filled in ``fallback_order``.
    Returns the deleted vertices, sorted (length ``k``).
    """
    n = indptr.size - 1
    in_s = np.zeros(n, np.uint8)
    for v in s_init:
        in_s[v] = 1
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    gains = np.full(n, -1, np.int64)
    _build(indptr, adj, in_s, st, cnt)
    count = 0
    for v in range(n):
        count += in_s[v]
    if not randomized:
        for i in range(cnt[0]):
            _component_gains(st[ROOTS, i], indptr, adj, in_s, st, cnt, gains)
    weight = np.zeros(1, np.int64)
    returned_at = np.full(n, -(1 << 40), np.int64)
    steps = 0
    while count < k:
        steps += 1
        if (steps & 15) == 0 and _now() > deadline:
            for v in fallback_order:
                if count >= k:
                    break
                if in_s[v] == 0:
                    in_s[v] = 1
                    count += 1
            break
        best = -1
        if randomized:
            r = _pick_large(st, cnt)
            if r >= 0:
                best = _best_gain_vertex(r, indptr, adj, in_s, st, cnt, gains, weight, returned_at, 0, 0, False, False)
        else:
            best_gain = -1
            for v in range(n):
                if in_s[v] == 0 and gains[v] > best_gain:
                    best_gain = gains[v]
                    best = v
        if best == -1:  # every remaining component is a single vertex: any vertex will do
            for v in range(n):
                if in_s[v] == 0:
                    best = v
                    break
        first_new = cnt[0]  # ids created by the deletion are appended after this slot
        kept = _delete(best, indptr, adj, in_s, st, cnt)
        gains[best] = -1
        count += 1
        if not randomized:
            if kept >= 0:
                _component_gains(kept, indptr, adj, in_s, st, cnt, gains)
            for i in range(min(first_new, cnt[0]), cnt[0]):
                _component_gains(st[ROOTS, i], indptr, adj, in_s, st, cnt, gains)
    out = np.empty(k, np.int64)
    j = 0
    for v in range(n):
        if in_s[v] != 0:
            out[j] = v
            j += 1
    return out


@njit(cache=True, nogil=True)
def _undo(gone, back, done, chosen, kf, indptr, adj, in_s, st, cnt):
    """Take back an exchange that deleted ``gone[:done]`` and returned ``back[:done]``."""
    for j in range(done):
        u = back[j]
        returned_only = True
        for jj in range(done):
            if gone[jj] == u:
                returned_only = False
        if returned_only:
            _delete(u, indptr, adj, in_s, st, cnt)
    slot = 0
    for j in range(done):
        v = gone[j]
        deleted_only = True
        for jj in range(done):
            if back[jj] == v:
                deleted_only = False
        if not deleted_only:
            continue
        _restore(v, indptr, adj, in_s, st, cnt)
        # v's place in chosen goes to the next vertex that was returned only
        while True:
            u = back[slot]
            slot += 1
            taken = False
            for jj in range(done):
                if gone[jj] == u:
                    taken = True
            if not taken:
                break
        for i in range(kf):
            if chosen[i] == v:
                chosen[i] = u
                break


@njit(cache=True, nogil=True)
def local_search(indptr, adj, s_init, fixed, weight, max_idle, max_iterations, deadline, greedy_probability,
                 tenure, target, depth_probability=0.0, max_depth=1, history=0):
    """Component-based two-phase node exchange from ``s_init`` (|S| = k).

    Each iteration (Zhou, Hao & Glover 2019; Zhou, Li, Hao & Glover 2023): pick a
    large component at random; delete from it, with probability ``greedy_probability``,
    its vertex of largest exact removal gain (articulation-point impact; vertices
    returned less than ``tenure`` iterations ago excluded), otherwise its vertex of
    largest weight (node weighting: every member of the picked component gains one
    unit, the deleted vertex resets to 0, so long-ignored vertices get their turn);
    then return the deleted vertex whose return raises the objective least (ties:
    the one deleted longest). Vertices with ``fixed[v] == 1`` (in ``s_init``) are
    never returned: the search solves the instance *reduced* by them.

    With probability ``depth_probability`` an iteration is a *deep* exchange instead:
    ``d`` deletions one after the other (each chosen as above, in the then largest
    components), then ``d`` cheapest returns, ``d`` uniform in ``2..min(max_depth,
    free)`` — a strategic oscillation of depth ``d`` around the budget (Glover & Hao,
    "The case for strategic oscillation", Ann. Oper. Res. 183:163–173, 2011,
    doi:10.1007/s10479-009-0597-1) that can move a whole cut of ``d`` vertices at once,
    which single exchanges cannot do without passing through much worse states; it
    counts as ``d`` iterations. With ``history > 0`` a worsening exchange is undone
    unless the result is no worse than the state ``history`` exchanges ago (late
    acceptance, Burke & Bykov, Eur. J. Oper. Res. 258(1):70–78, 2017,
    doi:10.1016/j.ejor.2016.07.012); 0 keeps every exchange, as MACNP does.

    Stops after ``max_idle`` iterations without improving the best, ``max_iterations``
    in all, at the wall-clock ``deadline`` (perf_counter seconds), or at an objective
    ``<= target``. Returns ``(best S sorted, best objective, iterations)``.
    """
    n = indptr.size - 1
    k = s_init.size
    in_s = np.zeros(n, np.uint8)
    for i in range(k):
        in_s[s_init[i]] = 1
    kf = 0
    chosen = np.empty(k + max(max_depth, 1), np.int64)
    for i in range(k):
        if fixed[s_init[i]] == 0:
            chosen[kf] = s_init[i]
            kf += 1
    since = np.zeros(n, np.int64)
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    gains = np.full(n, -1, np.int64)
    returned_at = np.full(n, -(1 << 40), np.int64)
    _build(indptr, adj, in_s, st, cnt)
    # return costs kept between moves (see _cheapest_return_cached)
    cost = np.zeros(n, np.int64)
    cost_epoch = np.full(n, -1, np.int64)
    epoch = np.zeros(1, np.int64)
    best_in = in_s.copy()
    best_obj = cnt[1]
    hist = np.full(max(history, 1), cnt[1], np.int64)
    gone = np.empty(max(max_depth, 1), np.int64)
    back = np.empty(max(max_depth, 1), np.int64)
    idle = 0
    it = 0
    moves = 0
    effort = 0
    while idle < max_idle and it < max_iterations and cnt[1] > target and kf > 0:
        # clock checks every 64 iterations, or sooner when iterations are long (big components)
        if (it & 63) == 0 or effort > 200_000:
            effort = 0
            if _now() > deadline:
                break
        depth = 1
        if max_depth > 1 and kf > 1 and depth_probability > 0.0 and np.random.random() < depth_probability:
            # a deep exchange moves at most as many vertices as the search may return
            depth = np.random.randint(2, min(max_depth, kf) + 1)
            depth = min(depth, max_iterations - it)  # never past the budget
        it += depth
        before = cnt[1]
        stop = False
        for j in range(depth):
            r = _pick_large(st, cnt)
            if r < 0:
                stop = True
                break
            effort += st[SIZE, r]
            v = -1
            if greedy_probability > 0.0 and np.random.random() < greedy_probability:
                v = _best_gain_vertex(r, indptr, adj, in_s, st, cnt, gains, weight, returned_at, it, tenure, True, True)
            if v == -1:
                v = _heaviest_vertex(r, indptr, adj, in_s, st, cnt, weight)
            weight[v] = 0
            reach = st[SIZE, r]
            _delete(v, indptr, adj, in_s, st, cnt)
            _stale_costs_near(v, reach, kf, indptr, adj, in_s, st, cnt, cost_epoch, epoch)
            chosen[kf + j] = v
            gone[j] = v
            since[v] = it
        if stop and j == 0:
            break
        done = j if stop else depth
        for j in range(done):
            m = kf + done - j
            i = _cheapest_return_cached(chosen, m, chosen[m - 1] if done == 1 else -1, indptr, adj, in_s, st, cnt,
                                        since, cost, cost_epoch, epoch)
            u = chosen[i]
            _restore(u, indptr, adj, in_s, st, cnt)
            _stale_costs_near(u, st[SIZE, st[LABEL, u]], kf, indptr, adj, in_s, st, cnt, cost_epoch, epoch)
            chosen[i] = chosen[m - 1]
            back[j] = u
            returned_at[u] = it
        if history > 0:
            # late acceptance (Burke & Bykov 2017): a worse state is kept only if it is no
            # worse than the state `history` moves ago; otherwise the move is undone
            slot = moves % history
            moves += 1
            if cnt[1] > before and cnt[1] > hist[slot]:
                _undo(gone, back, done, chosen, kf, indptr, adj, in_s, st, cnt)
                epoch[0] += 1
            hist[slot] = cnt[1]
        if cnt[1] < best_obj:
            best_obj = cnt[1]
            best_in[:] = in_s
            idle = 0
        else:
            idle += 1
    out = np.empty(k, np.int64)
    j = 0
    for v in range(n):
        if best_in[v] != 0:
            out[j] = v
            j += 1
    return out, best_obj, it


@njit(cache=True, nogil=True)
def exhaustive_best(indptr, adj, candidates, base, k, bound):
    """Best ``k``-subset of ``candidates`` to delete on top of ``base`` (a 0/1 mask), by
    enumeration with union-find evaluation: every subset is tried, so the result is a
    proof of optimality among supersets of ``base`` drawn from ``candidates``.

    ``bound`` is an objective value to beat (an incumbent); returns (best value, best
    subset), the subset empty when nothing beats ``bound``.
    """
    n = indptr.size - 1
    c = candidates.size
    idx = np.arange(k)
    best = bound
    best_set = np.empty(0, np.int64)
    parent = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    deleted = base.copy()
    if k > c:
        return best, best_set
    while True:
        for i in range(k):
            deleted[candidates[idx[i]]] = 1
        for v in range(n):
            parent[v] = v
            size[v] = 1
        total = 0
        for a0 in range(n):
            if deleted[a0]:
                continue
            for e in range(indptr[a0], indptr[a0 + 1]):
                b0 = adj[e]
                if b0 < a0 or deleted[b0]:
                    continue
                a = a0
                b = b0
                while parent[a] != a:
                    parent[a] = parent[parent[a]]
                    a = parent[a]
                while parent[b] != b:
                    parent[b] = parent[parent[b]]
                    b = parent[b]
                if a != b:
                    if size[a] < size[b]:
                        a, b = b, a
                    total += size[a] * size[b]
                    parent[b] = a
                    size[a] += size[b]
        if total < best:
            best = total
            best_set = np.empty(k, np.int64)
            for i in range(k):
                best_set[i] = candidates[idx[i]]
        for i in range(k):
            deleted[candidates[idx[i]]] = base[candidates[idx[i]]]
        i = k - 1
        while i >= 0 and idx[i] == c - k + i:
            i -= 1
        if i < 0:
            break
        idx[i] += 1
        for j in range(i + 1, k):
            idx[j] = idx[j - 1] + 1
    return best, best_set


@njit(cache=True, nogil=True)
def greedy_restore(indptr, adj, s_init, k):
    """Shrink ``s_init`` to ``k`` deleted vertices, each time returning the one whose
    return raises the objective least (ties: lowest index) — the reverse greedy of
    Addis, Aringhieri, Grosso & Hosteins (2016). Returns the deleted vertices, sorted."""
    n = indptr.size - 1
    m = s_init.size
    in_s = np.zeros(n, np.uint8)
    chosen = s_init.copy()
    for v in chosen:
        in_s[v] = 1
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    _build(indptr, adj, in_s, st, cnt)
    since = np.zeros(n, np.int64)
    while m > k:
        i = _cheapest_return(chosen, m, -1, indptr, adj, in_s, st, cnt, since)
        _restore(chosen[i], indptr, adj, in_s, st, cnt)
        chosen[i] = chosen[m - 1]
        m -= 1
    return np.sort(chosen[:k])


@njit(cache=True, nogil=True)
def swap_descent(indptr, adj, s_init, fixed, max_steps, deadline, first_improvement=True):
    """Steepest descent over *exact* swaps: return one deleted vertex ``u`` and delete
    one vertex ``v`` instead, the pair that lowers the objective most, until no swap
    improves (or ``max_steps`` swaps).

    For each ``u`` the best partner inside the component that ``u``'s return creates
    is found by one articulation-point pass over that component (so swaps that shift
    a cut — return ``u``, delete its neighbour — are seen, which the two-phase
    exchange, choosing ``v`` and ``u`` one after the other, misses); outside it the
    partner is the best vertex of the other components (their gains do not change).
    One step costs O(Σ_u |C_u| + e(C_u)) ≤ O(K (n + m)). Vertices with ``fixed[v]``
    stay deleted. With ``first_improvement`` the deleted vertices are scanned in random
    order and the best swap of the first ``u`` that has an improving one is made.
    Returns ``(S sorted, objective, swaps made)``.
    """
    n = indptr.size - 1
    k = s_init.size
    in_s = np.zeros(n, np.uint8)
    for v in s_init:
        in_s[v] = 1
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    gains = np.full(n, -1, np.int64)
    _build(indptr, adj, in_s, st, cnt)
    chosen = np.empty(k, np.int64)
    kf = 0
    for v in s_init:
        if fixed[v] == 0:
            chosen[kf] = v
            kf += 1
    # best single deletion per component, held by vertex (not by component id: the
    # restore/delete probes below hand the ids out again in another order)
    rank_gain = np.zeros(n, np.int64)
    rank_vertex = np.zeros(n, np.int64)
    label = st[LABEL]
    steps = 0
    while steps < max_steps and kf > 0 and cnt[1] > 0:
        if _now() > deadline:
            break
        nc = cnt[0]
        for i in range(nc):
            c = st[ROOTS, i]
            t = _component_gains(c, indptr, adj, in_s, st, cnt, gains)
            bg = -1
            bv = -1
            for j in range(t):
                x = st[MEMBERS, j]
                if gains[x] > bg:
                    bg = gains[x]
                    bv = x
            rank_gain[i] = bg
            rank_vertex[i] = bv
        by_gain = np.argsort(-rank_gain[:nc], kind="stable")
        ranked_v = rank_vertex[:nc][by_gain]
        ranked_g = rank_gain[:nc][by_gain]
        best_delta = 0
        best_u = -1
        best_v = -1
        if first_improvement:  # random scan order; the first improving u is taken
            for i in range(kf - 1, 0, -1):
                j = np.random.randint(0, i + 1)
                chosen[i], chosen[j] = chosen[j], chosen[i]
        for i in range(kf):
            if first_improvement and best_u != -1:
                break
            u = chosen[i]
            base = cnt[1]
            _restore(u, indptr, adj, in_s, st, cnt)
            cost = cnt[1] - base
            cu = label[u]
            # outside u's new component: the best vertex of the best component it did not join
            for j in range(nc):
                if label[ranked_v[j]] != cu:
                    delta = cost - ranked_g[j]
                    if delta < best_delta:
                        best_delta = delta
                        best_u = u
                        best_v = ranked_v[j]
                    break
            # inside it: one articulation-point pass
            t = _component_gains(cu, indptr, adj, in_s, st, cnt, gains)
            for j in range(t):
                x = st[MEMBERS, j]
                if x != u:
                    delta = cost - gains[x]
                    if delta < best_delta:
                        best_delta = delta
                        best_u = u
                        best_v = x
            _delete(u, indptr, adj, in_s, st, cnt)
        if best_u == -1:
            break
        _restore(best_u, indptr, adj, in_s, st, cnt)
        _delete(best_v, indptr, adj, in_s, st, cnt)
        for i in range(kf):
            if chosen[i] == best_u:
                chosen[i] = best_v
                break
        steps += 1
    out = np.empty(k, np.int64)
    j = 0
    for v in range(n):
        if in_s[v] != 0:
            out[j] = v
            j += 1
    return out, cnt[1], steps


@njit(cache=True, nogil=True)
def residual_window(indptr, adj, in_s, target):
    """A closed region of ``G - S`` around a random component, for decomposition.

    The components of ``G - S`` are the parts; two parts are neighbours when one
    deleted vertex touches both. From a part drawn uniformly at random, whole parts are
    added in breadth-first order of that part graph until they hold ``target``
    vertices or no neighbour is left. Returns ``(members, deleted)``: the vertices of
    the window's parts (sorted), and the deleted vertices that touch the window and no
    other part (sorted).

    Moving deletions among ``members ∪ deleted`` changes no component outside the
    window: every undeleted neighbour of the region is inside it. So the critical-node
    problem on the induced subgraph with budget ``|deleted|`` is an exact subproblem,
    and its objective plus the pairs of the parts outside is the whole objective.
    O(n + m).
    """
    n = indptr.size - 1
    st = _alloc(n)
    cnt = np.zeros(4, np.int64)
    _build(indptr, adj, in_s, st, cnt)
    parts = cnt[0]
    if parts == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    label = st[LABEL]
    size = st[SIZE]  # by component id; 0 for ids not in use
    start = np.zeros(n + 1, np.int64)
    for c in range(n):
        start[c + 1] = start[c] + size[c]
    fill = start[:-1].copy()
    by_part = np.empty(start[n], np.int64)
    for v in range(n):
        if label[v] >= 0:
            by_part[fill[label[v]]] = v
            fill[label[v]] += 1
    taken = np.zeros(n, np.uint8)
    seed = st[ROOTS, np.random.randint(0, parts)]
    queue = np.empty(parts, np.int64)
    taken[seed] = 1
    queue[0] = seed
    head = 0
    tail = 1
    total = size[seed]
    while head < tail and total < target:
        c = queue[head]
        head += 1
        for i in range(start[c], start[c + 1]):
            x = by_part[i]
            for e in range(indptr[x], indptr[x + 1]):
                d = adj[e]
                if in_s[d] == 0:
                    continue
                for e2 in range(indptr[d], indptr[d + 1]):
                    y = adj[e2]
                    if in_s[y] == 0 and taken[label[y]] == 0 and total < target:
                        taken[label[y]] = 1
                        queue[tail] = label[y]
                        tail += 1
                        total += size[label[y]]
    members = np.empty(total, np.int64)
    j = 0
    for v in range(n):
        if label[v] >= 0 and taken[label[v]] != 0:
            members[j] = v
            j += 1
    deleted = np.empty(n, np.int64)
    nd = 0
    for v in range(n):
        if in_s[v] == 0:
            continue
        inside = False
        outside = False
        for e in range(indptr[v], indptr[v + 1]):
            y = adj[e]
            if in_s[y] == 0:
                if taken[label[y]] != 0:
                    inside = True
                else:
                    outside = True
        if inside and not outside:
            deleted[nd] = v
            nd += 1
    return members, deleted[:nd].copy()
