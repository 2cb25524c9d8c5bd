"""Compiled (numba) kernels of the critical-node heuristic; used by :mod:`graph.critical_nodes`.

The local search of the critical node problem is sequential by nature (each move
depends on the components the previous move left), so it cannot be written as
whole-array numpy work; these loops are JIT-compiled to machine code instead
(``cache=True``: compiled once per machine, then loaded from ``__pycache__``).

State of a solution ``S`` (the deleted nodes) on a graph in CSR form
(``indptr``, ``adj``; both directions of every undirected edge):

- ``in_s[v]`` — 1 when ``v`` is deleted;
- ``label[v]`` — the component of ``v`` in ``G - S``, named by one of its vertices
  (its *root*), ``-1`` for deleted vertices; ``size[r]`` — size of root ``r``'s component;
- ``roots[:counters[0]]`` — the current roots, ``root_pos`` their positions (O(1) delete);
- ``counters[1]`` — the objective, pairwise connectivity ``sum_C |C|(|C|-1)/2``;
- ``mark``/``cmark`` with ``counters[2]`` — visit stamps, so no array is cleared per move.

Every move costs time linear in the size of the components it touches, never in
the size of the graph.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit

__all__ = ["seed_rng", "objective_of", "greedy_fill", "cbns", "crossover", "removal_gains_all"]

@njit(cache=True)
def seed_rng(seed):
    np.random.seed(seed)


@njit(cache=True, inline="always")
def _pairs(s):
    return s * (s - 1) // 2


@njit(cache=True)
def _root_add(r, roots, root_pos, counters):
    root_pos[r] = counters[0]
    roots[counters[0]] = r
    counters[0] += 1


@njit(cache=True)
def _root_del(r, roots, root_pos, counters):
    p = root_pos[r]
    last = roots[counters[0] - 1]
    roots[p] = last
    root_pos[last] = p
    root_pos[r] = -1
    counters[0] -= 1


@njit(cache=True)
def _build(indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members):
    """Components of ``G - S`` from scratch, O(n + m)."""
    n = in_s.size
    counters[0] = 0
    counters[1] = 0
    for v in range(n):
        label[v] = -1
        root_pos[v] = -1
    for v in range(n):
        if in_s[v] == 0 and label[v] == -1:
            label[v] = v
            queue[0] = v
            head, tail = 0, 1
            while head < tail:
                x = queue[head]
                head += 1
                for e in range(indptr[x], indptr[x + 1]):
                    y = adj[e]
                    if in_s[y] == 0 and label[y] == -1:
                        label[y] = v
                        queue[tail] = y
                        tail += 1
            size[v] = tail
            _root_add(v, roots, root_pos, counters)
            counters[1] += _pairs(tail)


@njit(cache=True)
def _delete(v, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members):
    """Delete ``v`` (add it to S): its component splits into the pieces around it."""
    c = label[v]
    s = size[c]
    _root_del(c, roots, root_pos, counters)
    counters[1] -= _pairs(s)
    in_s[v] = 1
    label[v] = -1
    counters[2] += 1
    stamp = counters[2]
    seen = 0
    for e in range(indptr[v], indptr[v + 1]):
        w = adj[e]
        if in_s[w] != 0 or mark[w] == stamp:
            continue
        if seen == s - 1:
            break
        mark[w] = stamp
        label[w] = w
        queue[0] = w
        head, tail = 0, 1
        while head < tail:
            x = queue[head]
            head += 1
            for f in range(indptr[x], indptr[x + 1]):
                y = adj[f]
                if in_s[y] == 0 and mark[y] != stamp:
                    mark[y] = stamp
                    label[y] = w
                    queue[tail] = y
                    tail += 1
        size[w] = tail
        seen += tail
        _root_add(w, roots, root_pos, counters)
        counters[1] += _pairs(tail)


@njit(cache=True)
def _restore(u, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members):
    """Return ``u`` to the graph: it merges the components around it into the largest one."""
    counters[2] += 1
    stamp = counters[2]
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
        counters[1] -= _pairs(sc)
        if sc > best_size:
            best_size = sc
            best = c
    in_s[u] = 0
    if best == -1:
        label[u] = u
        size[u] = 1
        _root_add(u, roots, root_pos, counters)
        return
    for i in range(k):
        if members[i] != best:
            _root_del(members[i], roots, root_pos, counters)
    label[u] = best
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
    size[best] = total
    counters[1] += _pairs(total)


@njit(cache=True)
def _restore_cost(u, indptr, adj, in_s, label, size, counters, cmark):
    """Increase of the objective if ``u`` returned to the graph (no change made)."""
    counters[2] += 1
    stamp = counters[2]
    total = 1
    acc = 0
    for e in range(indptr[u], indptr[u + 1]):
        w = adj[e]
        if in_s[w] != 0:
            continue
        c = label[w]
        if cmark[c] == stamp:
            continue
        cmark[c] = stamp
        total += size[c]
        acc += _pairs(size[c])
    return _pairs(total) - acc


@njit(cache=True)
def _component_gains(r, indptr, adj, in_s, label, size, counters, mark, gains, members,
                     disc, low, sub, parent, itr, sep_sum, sep_pairs, stack):
    """Objective decrease ``gains[v]`` of deleting each vertex ``v`` of root ``r``'s component.

    One iterative Tarjan depth-first search: deleting ``v`` splits off the subtree of
    every DFS child ``c`` with ``low[c] >= disc[v]``; the rest of the component stays
    together. O(|C| + edges of C). Returns the number of vertices, listed in ``members``.
    """
    counters[2] += 1
    stamp = counters[2]
    s = size[r]
    t = 0
    mark[r] = stamp
    parent[r] = -1
    disc[r] = 0
    low[r] = 0
    itr[r] = indptr[r]
    sub[r] = 1
    sep_sum[r] = 0
    sep_pairs[r] = 0
    members[0] = r
    t = 1
    stack[0] = r
    sp = 1
    while sp > 0:
        x = stack[sp - 1]
        if itr[x] < indptr[x + 1]:
            y = adj[itr[x]]
            itr[x] += 1
            if in_s[y] != 0:
                continue
            if mark[y] != stamp:
                mark[y] = stamp
                parent[y] = x
                disc[y] = t
                low[y] = t
                itr[y] = indptr[y]
                sub[y] = 1
                sep_sum[y] = 0
                sep_pairs[y] = 0
                members[t] = y
                t += 1
                stack[sp] = y
                sp += 1
            elif y != parent[x] and disc[y] < low[x]:
                low[x] = disc[y]
        else:
            sp -= 1
            p = parent[x]
            if p >= 0:
                if low[x] < low[p]:
                    low[p] = low[x]
                sub[p] += sub[x]
                if low[x] >= disc[p]:
                    sep_sum[p] += sub[x]
                    sep_pairs[p] += _pairs(sub[x])
    whole = _pairs(s)
    for i in range(t):
        v = members[i]
        gains[v] = whole - sep_pairs[v] - _pairs(s - 1 - sep_sum[v])
    return t


@njit(cache=True)
def removal_gains_all(indptr, adj, in_s):
    """Objective decrease of deleting each vertex of ``G - S`` (``-1`` for deleted ones)."""
    n = in_s.size
    label = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    roots = np.zeros(n, np.int64)
    root_pos = np.full(n, -1, np.int64)
    counters = np.zeros(3, np.int64)
    mark = np.zeros(n, np.int64)
    cmark = np.zeros(n, np.int64)
    queue = np.zeros(n, np.int64)
    members = np.zeros(n, np.int64)
    work = np.zeros((8, n), np.int64)
    _build(indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
    gains = np.full(n, -1, np.int64)
    for i in range(counters[0]):
        _component_gains(roots[i], indptr, adj, in_s, label, size, counters, mark, gains, members,
                         work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7])
    return gains


@njit(cache=True)
def objective_of(indptr, adj, in_s):
    """Pairwise connectivity of ``G - S`` (kernel's own count; tests compare it with graph-tool)."""
    n = in_s.size
    label = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    roots = np.zeros(n, np.int64)
    root_pos = np.full(n, -1, np.int64)
    counters = np.zeros(3, np.int64)
    queue = np.zeros(n, np.int64)
    _build(indptr, adj, in_s, label, size, roots, root_pos, counters, queue, queue, queue, queue)
    return counters[1]


@njit(cache=True)
def _pick_large_root(roots, size, counters):
    """A uniformly random component among the large ones (size >= (max + min) / 2)."""
    lmax = 0
    lmin = 1 << 62
    for i in range(counters[0]):
        s = size[roots[i]]
        if s > lmax:
            lmax = s
        if s < lmin:
            lmin = s
    threshold = (lmax + lmin) / 2.0
    chosen = -1
    count = 0
    for i in range(counters[0]):
        r = roots[i]
        if size[r] >= threshold and size[r] >= 2:
            count += 1
            if np.random.randint(0, count) == 0:
                chosen = r
    return chosen


@njit(cache=True)
def _best_restore(chosen, n_chosen, exclude, indptr, adj, in_s, label, size, counters, cmark, since):
    """Index into ``chosen`` of the deleted vertex cheapest to return (ties: longest deleted)."""
    best_i = -1
    best_cost = 1 << 62
    best_since = 1 << 62
    for i in range(n_chosen):
        u = chosen[i]
        if u == exclude:
            continue
        cost = _restore_cost(u, indptr, adj, in_s, label, size, counters, cmark)
        if cost < best_cost or (cost == best_cost and since[u] < best_since):
            best_cost = cost
            best_since = since[u]
            best_i = i
    return best_i


@njit(cache=True)
def greedy_fill(indptr, adj, s_init, k, randomized, deadline, fallback_order):
    """Grow ``s_init`` to ``k`` deleted vertices, each time deleting a best-gain vertex.

    With ``randomized`` the vertex is drawn among the best of a randomly chosen large
    component (as in the repair step of Zhou, Hao & Glover 2019); otherwise it is the
    vertex of largest exact gain over the whole graph (the greedy of Ventresca &
    Aleman 2014, via articulation points). Only components split by the last deletion
    are re-evaluated. Past the wall-clock ``deadline`` (perf_counter seconds) the
    remaining places are filled in ``fallback_order`` (e.g. by decreasing degree).
    Returns the deleted vertices (length ``k``).
    """
    n = indptr.size - 1
    in_s = np.zeros(n, np.uint8)
    for v in s_init:
        in_s[v] = 1
    label = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    roots = np.zeros(n, np.int64)
    root_pos = np.full(n, -1, np.int64)
    counters = np.zeros(3, np.int64)
    mark = np.zeros(n, np.int64)
    cmark = np.zeros(n, np.int64)
    queue = np.zeros(n, np.int64)
    members = np.zeros(n, np.int64)
    work = np.zeros((8, n), np.int64)
    gains = np.full(n, -1, np.int64)
    _build(indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
    count = 0
    for v in range(n):
        count += in_s[v]
    if not randomized:
        for i in range(counters[0]):
            _component_gains(roots[i], indptr, adj, in_s, label, size, counters, mark, gains, members,
                             work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7])
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
            r = _pick_large_root(roots, size, counters)
            if r >= 0:
                t = _component_gains(r, indptr, adj, in_s, label, size, counters, mark, gains, members,
                                     work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7])
                best_gain = -1
                ties = 0
                for i in range(t):
                    v = members[i]
                    if gains[v] > best_gain:
                        best_gain = gains[v]
                        best = v
                        ties = 1
                    elif gains[v] == best_gain:
                        ties += 1
                        if np.random.randint(0, ties) == 0:
                            best = v
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
        first_new = counters[0] - 1  # roots appended by the deletion start after this slot
        _delete(best, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
        gains[best] = -1
        count += 1
        if not randomized:
            # _root_del moved the last root into the freed slot; new roots are appended.
            for i in range(max(first_new, 0), counters[0]):
                _component_gains(roots[i], indptr, adj, in_s, label, size, counters, mark, gains, members,
                                 work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7])
    out = np.empty(k, np.int64)
    j = 0
    for v in range(n):
        if in_s[v] != 0:
            out[j] = v
            j += 1
    return out


@njit(cache=True)
def _now():
    with numba.objmode(t="float64"):
        t = time.perf_counter()
    return t


@njit(cache=True)
def cbns(indptr, adj, s_init, weight, max_idle, max_iterations, deadline, greedy_probability, tenure):
    """Component-based neighbourhood search from ``s_init`` (|S| = k).

    Each iteration is the two-phase exchange of Zhou, Hao & Glover (2019): pick a
    large component at random, delete its vertex of largest weight (node weighting:
    weights of the picked component grow by one per iteration, the deleted vertex's
    weight resets, so long-ignored vertices get their turn), then return the deleted
    vertex whose return raises the objective least (ties: the one deleted longest).
    Stops after ``max_idle`` iterations without improvement, ``max_iterations`` in
    all, at the wall-clock ``deadline`` (perf_counter seconds), or at objective 0.
    Returns ``(best S, best objective, iterations)``.
    """
    n = indptr.size - 1
    k = s_init.size
    in_s = np.zeros(n, np.uint8)
    chosen = np.empty(k + 1, np.int64)
    since = np.zeros(n, np.int64)
    for i in range(k):
        in_s[s_init[i]] = 1
        chosen[i] = s_init[i]
    label = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    roots = np.zeros(n, np.int64)
    root_pos = np.full(n, -1, np.int64)
    counters = np.zeros(3, np.int64)
    mark = np.zeros(n, np.int64)
    cmark = np.zeros(n, np.int64)
    queue = np.zeros(n, np.int64)
    members = np.zeros(n, np.int64)
    gains = np.full(n, -1, np.int64)
    work = np.zeros((8, n), np.int64)
    returned_at = np.full(n, -(1 << 40), np.int64)
    _build(indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
    best = chosen[:k].copy()
    best_obj = counters[1]
    idle = 0
    it = 0
    effort = 0
    while idle < max_idle and it < max_iterations and counters[1] > 0 and k > 0:
        # time checks every 64 iterations, or sooner when iterations are long (big components)
        if ((it & 63) == 0 or effort > 200_000) and _now() > deadline:
            break
        if (it & 63) == 0 or effort > 200_000:
            effort = 0
        it += 1
        r = _pick_large_root(roots, size, counters)
        if r < 0:
            break
        effort += size[r]
        v = -1
        if greedy_probability > 0.0 and np.random.random() < greedy_probability:
            # exact gains in the component; best non-tabu vertex (ties at random)
            tail = _component_gains(r, indptr, adj, in_s, label, size, counters, mark, gains, members,
                                    work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7])
            best_gain = -1
            ties = 0
            for i in range(tail):
                x = members[i]
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
        if v == -1:
            # members of the picked component (breadth-first over its label)
            counters[2] += 1
            stamp = counters[2]
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
            best_w = -1
            ties = 0
            for i in range(tail):
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
        weight[v] = 0
        _delete(v, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
        chosen[k] = v
        since[v] = it
        i = _best_restore(chosen, k + 1, v, indptr, adj, in_s, label, size, counters, cmark, since)
        u = chosen[i]
        _restore(u, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
        chosen[i] = chosen[k]
        returned_at[u] = it
        if counters[1] < best_obj:
            best_obj = counters[1]
            best[:] = chosen[:k]
            idle = 0
        else:
            idle += 1
    return best, best_obj, it


@njit(cache=True)
def crossover(indptr, adj, parent_a, parent_b, k, keep_probability, deadline, fallback_order):
    """Double backbone-based crossover with greedy repair (Zhou, Hao & Glover 2019).

    Vertices deleted in both parents are kept; each vertex deleted in exactly one is
    kept with ``keep_probability``. The child is then repaired to exactly ``k``
    deleted vertices: while too many, return the one whose return costs least; while
    too few, delete the best-gain vertex of a random large component.
    """
    n = indptr.size - 1
    in_a = np.zeros(n, np.uint8)
    for v in parent_a:
        in_a[v] = 1
    in_b = np.zeros(n, np.uint8)
    for v in parent_b:
        in_b[v] = 1
    in_s = np.zeros(n, np.uint8)
    m = 0
    for v in range(n):
        if in_a[v] != 0 and in_b[v] != 0:
            in_s[v] = 1
            m += 1
        elif (in_a[v] != 0 or in_b[v] != 0) and np.random.random() < keep_probability:
            in_s[v] = 1
            m += 1
    chosen = np.empty(max(m, 1), np.int64)
    j = 0
    for v in range(n):
        if in_s[v] != 0:
            chosen[j] = v
            j += 1
    if m > k:
        label = np.full(n, -1, np.int64)
        size = np.zeros(n, np.int64)
        roots = np.zeros(n, np.int64)
        root_pos = np.full(n, -1, np.int64)
        counters = np.zeros(3, np.int64)
        mark = np.zeros(n, np.int64)
        cmark = np.zeros(n, np.int64)
        queue = np.zeros(n, np.int64)
        members = np.zeros(n, np.int64)
        since = np.zeros(n, np.int64)
        _build(indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
        while m > k:
            # random order among equal costs: shuffle the candidates first
            for i in range(m - 1, 0, -1):
                jj = np.random.randint(0, i + 1)
                chosen[i], chosen[jj] = chosen[jj], chosen[i]
            i = _best_restore(chosen, m, -1, indptr, adj, in_s, label, size, counters, cmark, since)
            u = chosen[i]
            _restore(u, indptr, adj, in_s, label, size, roots, root_pos, counters, mark, cmark, queue, members)
            chosen[i] = chosen[m - 1]
            m -= 1
        return chosen[:k].copy()
    return greedy_fill(indptr, adj, chosen[:m], k, True, deadline, fallback_order)
