"""Critical-node detection: evaluation vs networkx, MILP vs brute force, heuristic vs exact,
proof honesty, input handling and the ``critical-nodes`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numba
import numpy as np
import pytest

from pipelines.cli import main as cli_main
from chokepoint.inputs.edgelist import read_edge_list
from chokepoint.errors import InputError
from chokepoint.settings import PROJECT_ROOT
from graph import _cnp_kernel as kernel
from graph.critical_nodes import (
    EdgeList, GraphInputError, edge_list, exhaustive_critical_nodes, safe_fixings, greedy_critical_nodes,
    heuristic_critical_nodes, pairwise_connectivity, removal_gains, warm_up,
)
from graph.gt import gt
from optimization.cnp_exact import CriticalNodesModel, critical_nodes, solve_critical_nodes_milp


# ----------------------------------------------------------------------------- references

def nx_pairwise(graph: nx.Graph, removed) -> int:
    """Independent reference: networkx connected components after deletion."""
    h = graph.copy()
    h.remove_nodes_from(removed)
    return sum(len(c) * (len(c) - 1) // 2 for c in nx.connected_components(h))


@numba.njit(cache=False)
def _brute_force(n, src, dst, k):
    """Exhaustive search over all k-subsets with a union-find evaluation (independent of
    the heuristic's component code). Returns (best value, best subset)."""
    idx = np.arange(k)
    best = 1 << 62
    best_set = idx.copy()
    parent = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    deleted = np.zeros(n, np.uint8)
    while True:
        for i in range(k):
            deleted[idx[i]] = 1
        for v in range(n):
            parent[v] = v
            size[v] = 1
        for e in range(src.size):
            a, b = src[e], dst[e]
            if deleted[a] or deleted[b]:
                continue
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            if a != b:
                if size[a] < size[b]:
                    a, b = b, a
                parent[b] = a
                size[a] += size[b]
        total = 0
        for v in range(n):
            if parent[v] == v and not deleted[v]:
                total += size[v] * (size[v] - 1) // 2
        if total < best:
            best = total
            best_set = idx.copy()
        for i in range(k):
            deleted[idx[i]] = 0
        # next combination in lexicographic order
        i = k - 1
        while i >= 0 and idx[i] == n - k + i:
            i -= 1
        if i < 0:
            break
        idx[i] += 1
        for j in range(i + 1, k):
            idx[j] = idx[j - 1] + 1
    return best, best_set


def brute_force(edges: EdgeList, k: int) -> int:
    if k == 0:
        return pairwise_connectivity(edges)
    value, _ = _brute_force(edges.num_nodes, edges.src, edges.dst, k)
    return int(value)


def random_graph(seed: int, n_low=12, n_high=40) -> tuple[nx.Graph, int]:
    """A sparse random graph of one of three families and a budget small enough to enumerate."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_low, n_high + 1))
    family = seed % 3
    if family == 0:
        g = nx.gnm_random_graph(n, int(rng.integers(n, 2 * n + 1)), seed=seed)
    elif family == 1:
        g = nx.barabasi_albert_graph(n, int(rng.integers(1, 3)), seed=seed)
    else:
        g = nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed)
    k = int(rng.integers(1, 6))
    while k > 1 and _comb(n, k) > 800_000:
        k -= 1
    return g, k


def _comb(n, k):
    from math import comb
    return comb(n, k)


# ----------------------------------------------------------------------------- evaluation

@pytest.mark.parametrize("seed", range(8))
def test_pairwise_connectivity_matches_networkx(seed):
    rng = np.random.default_rng(seed)
    g = nx.gnm_random_graph(60, int(rng.integers(40, 120)), seed=seed)
    edges = edge_list(g)
    for _ in range(5):
        removed = rng.choice(60, size=int(rng.integers(0, 15)), replace=False)
        expected = nx_pairwise(g, [str(v) for v in removed] if False else removed.tolist())
        # edge_list keeps networkx node order, so index i is node i here
        assert pairwise_connectivity(edges, removed) == expected
        in_s = np.zeros(60, np.uint8)
        in_s[removed] = 1
        indptr, adj = edges.csr()
        assert kernel.objective_of(indptr, adj, in_s) == expected


@pytest.mark.parametrize("seed", range(5))
def test_removal_gains_match_networkx(seed):
    g = nx.gnm_random_graph(40, 55, seed=seed)
    edges = edge_list(g)
    base = nx_pairwise(g, [])
    gains = removal_gains(edges, [0, 1])
    assert gains[0] == gains[1] == -1
    base = nx_pairwise(g, [0, 1])
    for v in range(2, 40):
        assert gains[v] == base - nx_pairwise(g, [0, 1, v]), v


def test_greedy_takes_best_gain_each_step():
    g = nx.barabasi_albert_graph(80, 1, seed=3)
    edges = edge_list(g)
    chosen = greedy_critical_nodes(edges, 4)
    assert chosen.size == 4 and len(set(chosen.tolist())) == 4
    # replaying: each pick had the largest gain at its step (some order exists)
    removed: list[int] = []
    remaining = set(chosen.tolist())
    while remaining:
        gains = removal_gains(edges, removed)
        best = gains.max()
        pick = next(v for v in sorted(remaining) if gains[v] == best)
        removed.append(pick)
        remaining.remove(pick)


# ----------------------------------------------------------------------------- kernel moves

def _components_agree(g: nx.Graph, in_s: np.ndarray, st: np.ndarray, cnt: np.ndarray) -> None:
    """Labels, sizes and the objective of the kernel state equal networkx's components."""
    h = g.subgraph([v for v in g if not in_s[v]])
    comps = list(nx.connected_components(h))
    assert cnt[1] == sum(len(c) * (len(c) - 1) // 2 for c in comps)
    assert cnt[0] == len(comps)
    for comp in comps:
        labels = {int(st[kernel.LABEL, v]) for v in comp}
        assert len(labels) == 1
        (c,) = labels
        assert st[kernel.SIZE, c] == len(comp) and st[kernel.REP, c] in comp
    assert all(st[kernel.LABEL, v] == -1 for v in g if in_s[v])
    # the size order: every id once, sizes increasing, buckets where BSTART says, free ids of size 0
    n = in_s.size
    order, size = st[kernel.ORDER, :n], st[kernel.SIZE]
    assert sorted(order.tolist()) == list(range(n)) and np.all(st[kernel.OPOS, order] == np.arange(n))
    assert np.all(np.diff(size[order]) >= 0)
    live = {int(st[kernel.ROOTS, i]) for i in range(cnt[0])}
    assert all(size[c] == 0 for c in range(n) if c not in live)
    for s in range(n + 1):
        assert st[kernel.BSTART, s] == np.count_nonzero(size[order] < s)


@pytest.mark.parametrize("seed", range(6))
def test_kernel_deletions_and_returns_keep_components_exact(seed):
    """Random deletions (interleaved searches) and returns, checked after every move."""
    warm_up()
    rng = np.random.default_rng(seed)
    n = 60
    g = [nx.gnm_random_graph(n, 90, seed=seed), nx.connected_watts_strogatz_graph(n, 4, 0.2, seed=seed),
         nx.barabasi_albert_graph(n, 1, seed=seed)][seed % 3]
    edges = edge_list(g)
    indptr, adj = edges.csr()
    in_s = np.zeros(n, np.uint8)
    st, cnt = kernel.new_state(n)
    kernel._build(indptr, adj, in_s, st, cnt)
    _components_agree(g, in_s, st, cnt)
    for _ in range(150):
        deleted = np.flatnonzero(in_s)
        if deleted.size and (deleted.size > 30 or rng.random() < 0.4):
            kernel._restore(int(rng.choice(deleted)), indptr, adj, in_s, st, cnt)
        else:
            kernel._delete(int(rng.choice(np.flatnonzero(in_s == 0))), indptr, adj, in_s, st, cnt)
        _components_agree(g, in_s, st, cnt)


@pytest.mark.parametrize("seed", range(5))
def test_cheapest_return_is_the_least_cost_return(seed):
    """The return chosen (its cost counted with an early stop) is the least increase of
    the objective, recomputed by networkx; ties go to the longest deleted, then to the
    first in the list."""
    rng = np.random.default_rng(seed)
    n = 50
    g = nx.gnm_random_graph(n, 70, seed=seed)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    for _ in range(10):
        chosen = rng.choice(n, size=12, replace=False).astype(np.int64)
        in_s = np.zeros(n, np.uint8)
        in_s[chosen] = 1
        st, cnt = kernel.new_state(n)
        kernel._build(indptr, adj, in_s, st, cnt)
        since = rng.integers(0, 3, n).astype(np.int64)  # few values: ties on cost and age
        exclude = int(chosen[0]) if rng.random() < 0.5 else -1
        base = nx_pairwise(g, chosen.tolist())
        keys = [(nx_pairwise(g, [x for x in chosen.tolist() if x != u]) - base, since[u], i)
                for i, u in enumerate(chosen.tolist()) if u != exclude]
        assert kernel._cheapest_return(chosen, chosen.size, exclude, indptr, adj, in_s, st, cnt, since) == min(keys)[2]


def built_state(g, rng, *, deleted: int):
    """The kernel's state for graph ``g`` with ``deleted`` random vertices deleted (rng's choice)."""
    n = g.number_of_nodes()
    indptr, adj = edge_list(g).csr()
    in_s = np.zeros(n, np.uint8)
    in_s[rng.choice(n, deleted, replace=False)] = 1
    st, cnt = kernel.new_state(n)
    kernel._build(indptr, adj, in_s, st, cnt)
    return indptr, adj, in_s, st, cnt


@pytest.mark.parametrize("seed", range(4))
def test_members_listed_by_pass_and_by_search_are_the_component(seed):
    rng = np.random.default_rng(seed)
    n = 300
    g = nx.gnm_random_graph(n, 330, seed=seed)
    indptr, adj, in_s, st, cnt = built_state(g, rng, deleted=30)
    comps = list(nx.connected_components(g.subgraph([v for v in g if not in_s[v]])))
    sizes = sorted(len(c) for c in comps)
    assert sizes[-1] * kernel.SCAN_SHARE >= n > sizes[0] * kernel.SCAN_SHARE  # both ways are used
    for comp in comps:
        c = st[kernel.LABEL, next(iter(comp))]
        t = kernel._list_members(c, indptr, adj, in_s, st, cnt)
        assert sorted(st[kernel.MEMBERS, :t].tolist()) == sorted(comp)
        weight = rng.integers(0, 3, n).astype(np.int64)
        before = weight.copy()
        v = kernel._heaviest_vertex(c, indptr, adj, in_s, st, cnt, weight)
        inside = np.zeros(n, bool)
        inside[list(comp)] = True
        assert np.array_equal(weight, before + inside) and weight[v] == weight[inside].max()


def test_best_gain_move_reuses_a_large_components_gains_between_passes():
    """On a component of |C| >= STALE_SHARE vertices the local search's best-gain move
    takes a new articulation-point pass only every |C| // STALE_SHARE + 1 picks (exact on
    the first); the constructive fill (reuse=False) passes every time."""
    n = 3 * kernel.STALE_SHARE
    g = nx.connected_watts_strogatz_graph(n, 4, 0.2, seed=1)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    in_s = np.zeros(n, np.uint8)
    st, cnt = kernel.new_state(n)
    kernel._build(indptr, adj, in_s, st, cnt)
    c = st[kernel.LABEL, 0]
    allowance = n // kernel.STALE_SHARE
    gains = np.full(n, -1, np.int64)
    weight = np.zeros(n, np.int64)
    never = np.full(n, -(1 << 40), np.int64)
    kernel.seed_rng(0)
    v = kernel._best_gain_vertex(c, indptr, adj, in_s, st, cnt, gains, weight, never, 0, 0, True, True)
    exact = removal_gains(edges)
    assert np.array_equal(gains, exact) and exact[v] == exact.max()
    gains[7] = 1 << 50  # a mark: a reused pass picks it, a new pass overwrites it
    for _ in range(allowance):
        assert kernel._best_gain_vertex(c, indptr, adj, in_s, st, cnt, gains, weight, never, 0, 0, True, True) == 7
    v = kernel._best_gain_vertex(c, indptr, adj, in_s, st, cnt, gains, weight, never, 0, 0, True, True)
    assert gains[7] == exact[7] and exact[v] == exact.max()
    gains[7] = 1 << 50
    v = kernel._best_gain_vertex(c, indptr, adj, in_s, st, cnt, gains, weight, never, 0, 0, False, False)
    assert gains[7] == exact[7] and exact[v] == exact.max()
    assert np.all(weight == allowance + 2)  # bumped on every local-search pick, not on the fill's


@pytest.mark.parametrize("seed", range(4))
def test_kept_return_costs_stay_exact_through_moves(seed):
    """Random deletions and returns, each followed by clearing the kept costs it can change
    (by a visit, or all at once past the limit): every cost still marked current equals a
    recount, and the cached choice equals the uncached one."""
    rng = np.random.default_rng(seed)
    n = 80
    g = [nx.gnm_random_graph(n, 100, seed=seed), nx.connected_watts_strogatz_graph(n, 4, 0.2, seed=seed)][seed % 2]
    indptr, adj, in_s, st, cnt = built_state(g, rng, deleted=15)
    cost = np.zeros(n, np.int64)
    cost_epoch = np.full(n, -1, np.int64)
    epoch = np.zeros(1, np.int64)
    since = rng.integers(0, 4, n).astype(np.int64)
    for step in range(200):
        limit = int(rng.choice([0, 10, n]))
        deleted = np.flatnonzero(in_s)
        if deleted.size > 25 or (deleted.size > 5 and rng.random() < 0.5):
            u = int(rng.choice(deleted))
            kernel._restore(u, indptr, adj, in_s, st, cnt)
            kernel._stale_costs_near(u, st[kernel.SIZE, st[kernel.LABEL, u]], limit, indptr, adj, in_s, st, cnt,
                                     cost_epoch, epoch)
        else:
            v = int(rng.choice(np.flatnonzero(in_s == 0)))
            reach = st[kernel.SIZE, st[kernel.LABEL, v]]
            kernel._delete(v, indptr, adj, in_s, st, cnt)
            kernel._stale_costs_near(v, reach, limit, indptr, adj, in_s, st, cnt, cost_epoch, epoch)
        chosen = np.flatnonzero(in_s).astype(np.int64)
        rng.shuffle(chosen)
        expected = kernel._cheapest_return(chosen, chosen.size, -1, indptr, adj, in_s, st, cnt, since)
        got = kernel._cheapest_return_cached(chosen, chosen.size, -1, indptr, adj, in_s, st, cnt, since, cost,
                                             cost_epoch, epoch)
        assert got == expected
        for u in chosen:
            if cost_epoch[u] == epoch[0]:
                objective = cnt[1]
                kernel._restore(int(u), indptr, adj, in_s, st, cnt)
                assert cost[u] == cnt[1] - objective
                kernel._delete(int(u), indptr, adj, in_s, st, cnt)


def test_pick_large_draws_among_the_large_components_only():
    rng = np.random.default_rng(4)
    n = 200
    g = nx.gnm_random_graph(n, 190, seed=4)
    indptr, adj, in_s, st, cnt = built_state(g, rng, deleted=40)
    sizes = {int(st[kernel.ROOTS, i]): int(st[kernel.SIZE, st[kernel.ROOTS, i]]) for i in range(cnt[0])}
    threshold = max((max(sizes.values()) + min(sizes.values())) / 2, 2)
    large = {c for c, s in sizes.items() if s >= threshold}
    kernel.seed_rng(0)
    drawn = [kernel._pick_large(st, cnt) for _ in range(300 * len(large))]
    assert set(drawn) == large
    counts = np.bincount([sorted(large).index(c) for c in drawn])
    assert counts.min() > 0.7 * 300 and counts.max() < 1.3 * 300  # uniform
    none = np.ones(n, np.uint8)
    none[:3] = 0  # three isolated vertices: no component of two or more
    st, cnt = kernel.new_state(n)
    kernel._build(np.zeros(n + 1, np.int64), np.zeros(0, np.int64), none, st, cnt)
    assert kernel._pick_large(st, cnt) == -1


def test_local_search_never_returns_fixed_vertices():
    g = nx.gnm_random_graph(80, 130, seed=1)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    start = np.arange(0, 40, 4, dtype=np.int64)
    fixed = np.zeros(80, np.uint8)
    fixed[start[:4]] = 1
    kernel.seed_rng(3)
    best, value, iterations = kernel.local_search(indptr, adj, start, fixed, np.zeros(80, np.int64), 10**6, 2_000,
                                                  np.inf, 0.5, 5, 0, 0.5, 6, 20)
    assert iterations >= 2_000 and value == pairwise_connectivity(edges, best)
    assert set(start[:4].tolist()) <= set(best.tolist()) and best.size == start.size


def test_swap_descent_ends_at_a_swap_optimum():
    g = nx.gnm_random_graph(40, 60, seed=5)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    kernel.seed_rng(1)
    start = np.arange(6, dtype=np.int64)
    best, value, _ = kernel.swap_descent(indptr, adj, start, np.zeros(40, np.uint8), 10**6, np.inf, True)
    assert value == pairwise_connectivity(edges, best) <= pairwise_connectivity(edges, start)
    inside = set(best.tolist())
    for u in inside:  # no single swap improves
        for v in set(range(40)) - inside:
            assert pairwise_connectivity(edges, sorted(inside - {u} | {v})) >= value


@pytest.mark.parametrize("seed", [12, 13, 14, 15])
def test_swap_descent_only_improves_with_fixed_vertices_and_many_components(seed):
    # many small components and most of S fixed: the probes (return u, delete it again)
    # reissue component ids, so the swap partners must not be looked up by id
    rng = np.random.default_rng(seed)
    g = nx.gnm_random_graph(200, 260, seed=seed)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    start = np.sort(rng.choice(200, 40, replace=False)).astype(np.int64)
    fixed = np.zeros(200, np.uint8)
    fixed[start[rng.random(40) < 0.85]] = 1
    before = pairwise_connectivity(edges, start)
    kernel.seed_rng(seed)
    best, value, swaps = kernel.swap_descent(indptr, adj, start, fixed, 10**4, np.inf, True)
    assert value == pairwise_connectivity(edges, best)
    assert swaps <= before - value  # each swap lowers the objective by at least one
    assert set(np.flatnonzero(fixed).tolist()) <= set(best.tolist())


# ----------------------------------------------------------------------------- exact model

@pytest.mark.parametrize("solver", ["HIGHS", "SCIP"])
@pytest.mark.parametrize("seed", range(4))
def test_milp_equals_brute_force(solver, seed):
    g = nx.gnm_random_graph(10, 14, seed=seed)
    edges = edge_list(g)
    model = CriticalNodesModel(edges.num_nodes, edges.src, edges.dst)
    fixed_model = CriticalNodesModel(edges.num_nodes, edges.src, edges.dst, safe_fixings(edges))
    for k in (1, 2, 3):
        expected = brute_force(edges, k)
        for m in (model, fixed_model):  # one model re-solved for every K (parameter)
            result = m.solve(k, time_limit=30, solver=solver)
            assert result.proved, result.status
            assert result.removed.size <= k
            assert round(result.objective) == expected == pairwise_connectivity(edges, result.removed)


def test_milp_on_disconnected_graph_with_isolated_parts():
    edges = edge_list([("a", "b"), ("b", "c"), ("x", "y"), ("p", "q"), ("q", "r"), ("r", "s"), ("s", "p")])
    for k in range(0, 4):
        result = solve_critical_nodes_milp(edges.num_nodes, edges.src, edges.dst, k, time_limit=20,
                                           fixed_zero=safe_fixings(edges))
        assert result.proved and round(result.objective) == brute_force(edges, k)


def test_preprocessing_fixes_only_isolated_leaves_and_one_end_of_single_edges():
    edges = edge_list([("a", "b"), ("b", "c"), ("c", "d"), ("x", "y")])
    fixed = dict(zip(edges.ids, safe_fixings(edges)))
    assert fixed == {"a": True, "b": False, "c": False, "d": True, "x": True, "y": False}


@pytest.mark.parametrize("seed", range(6))
def test_enumeration_equals_brute_force(seed):
    g, k = random_graph(seed, 12, 24)
    edges = edge_list(g)
    for fixed in (None, safe_fixings(edges)):
        s, value = exhaustive_critical_nodes(edges, k, fixed=fixed)
        assert value == brute_force(edges, k) == pairwise_connectivity(edges, s) and s.size == k


def test_star_like_graph_is_proved_optimal_by_enumeration():
    """Bovine-like: a few hubs with many leaves and a sparse core; leaves are fixed, so
    the free part is small enough to try every subset."""
    rng = np.random.default_rng(0)
    pairs = [(f"h{i}", f"h{j}") for i in range(12) for j in range(i + 1, 12) if rng.random() < 0.3]
    pairs += [(f"h{int(rng.integers(0, 12))}", f"leaf{i}") for i in range(100)]
    edges = edge_list(pairs)
    result = critical_nodes(edges, 3, time_limit=60)
    assert result.optimal and result.method == "exact" and result.details["exact"]["method"] == "enumeration"
    assert result.pairwise_connectivity == brute_force(edges, 3) == result.lower_bound
    assert exhaustive_critical_nodes(edges, 3, max_work=10) is None


# ----------------------------------------------------------------------------- heuristic vs exact

def _agreement(seeds) -> tuple[int, list]:
    agree, misses = 0, []
    for seed in seeds:
        g, k = random_graph(seed)
        edges = edge_list(g)
        exact = brute_force(edges, k)
        s, value, _ = heuristic_critical_nodes(edges, k, time_limit=600, seed=seed, max_iterations=20_000)
        assert value == pairwise_connectivity(edges, s) == nx_pairwise(g, [int(edges.ids[i]) for i in s])
        assert value >= exact
        if value == exact:
            agree += 1
        else:
            misses.append((seed, edges.num_nodes, k, value, exact))
    return agree, misses


def test_heuristic_matches_exact_optimum_on_30_small_graphs():
    agree, misses = _agreement(range(30))
    assert agree >= 29, misses


@pytest.mark.slow
def test_heuristic_matches_exact_optimum_in_95_of_100_small_graphs():
    agree, misses = _agreement(range(100))
    assert agree >= 95, misses


def test_degree_start_finds_a_cut_made_only_by_a_group_of_hubs():
    """Two 20-cycles joined by three hubs adjacent to all 40 cycle vertices: deleting one or
    two hubs cuts nothing (every gain ties), all three split the graph. With no search
    budget the result is the best start: the degree start is the cut, the greedy is not."""
    pairs = [(f"a{i}", f"a{(i + 1) % 20}") for i in range(20)] + [(f"b{i}", f"b{(i + 1) % 20}") for i in range(20)]
    pairs += [(f"h{j}", f"{side}{i}") for j in range(3) for side in "ab" for i in range(20)]
    edges = edge_list(pairs)
    hubs = sorted(edges.ids.index(f"h{j}") for j in range(3))
    s, value, _ = heuristic_critical_nodes(edges, 3, 60, seed=0, max_iterations=0)
    assert value == 2 * 190 and s.tolist() == hubs
    s, value, _ = heuristic_critical_nodes(edges, 3, 60, seed=0, max_iterations=0, degree_start=False)
    assert value > 2 * 190


def _window_case(seed: int) -> tuple[nx.Graph, np.ndarray]:
    """A sparse graph with a deletion set that leaves many small components."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        g = nx.random_labeled_tree(int(rng.integers(60, 140)), seed=seed)
        g.add_edges_from((int(a), int(b)) for a, b in rng.integers(0, g.number_of_nodes(), (8, 2)) if a != b)
    else:
        g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(int(rng.integers(6, 12)), int(rng.integers(6, 12))))
    n = g.number_of_nodes()
    removed = rng.choice(n, size=n // 4, replace=False)
    return g, np.sort(removed)


@pytest.mark.parametrize("seed", range(8))
def test_residual_window_is_a_closed_region_whose_subproblem_is_exact(seed):
    """The window is a union of whole components of G - S grown over the part graph, its
    deleted vertices touch it and no other component, and so any placement of that many
    deletions inside it changes the whole objective by exactly the change inside it
    (networkx counts both)."""
    g, removed = _window_case(seed)
    edges = edge_list(g)
    indptr, adj = edges.csr()
    n = edges.num_nodes
    in_s = np.zeros(n, np.uint8)
    in_s[removed] = 1
    kernel.seed_rng(seed)
    target = 20
    members, deleted = kernel.residual_window(indptr, adj, in_s, target)
    parts = [set(c) for c in nx.connected_components(g.subgraph(set(range(n)) - set(removed.tolist())))]
    inside = set(members.tolist())
    taken = [c for c in parts if c & inside]
    assert all(c <= inside for c in taken) and set().union(*taken) == inside
    # grown until it holds `target` vertices, or every part reachable through deleted vertices is in
    reachable = any(c not in taken and any(set(g[d]) & c and set(g[d]) & inside for d in removed.tolist())
                    for c in parts)
    assert len(inside) >= target or not reachable
    expected = [d for d in removed.tolist()
                if {y for y in g[d] if not in_s[y]} and {y for y in g[d] if not in_s[y]} <= inside]
    assert deleted.tolist() == expected
    region = sorted(inside | set(expected))
    outside_pairs = sum(len(c) * (len(c) - 1) // 2 for c in parts if c not in taken)
    kept = [d for d in removed.tolist() if d not in set(expected)]
    rng = np.random.default_rng(seed)
    for _ in range(5):
        moved = rng.choice(region, size=len(expected), replace=False).tolist()
        assert nx_pairwise(g, kept + moved) == nx_pairwise(g.subgraph(region), moved) + outside_pairs


def test_window_phase_reoptimises_regions_and_stays_deterministic():
    """On a large sparse graph whose residual splits into many parts, the stalled search
    re-solves closed regions of its best solution (POPMUSIC) at least once with gain,
    and the run is still a function of seed and budget (windows' searches count in it)."""
    g = nx.random_labeled_tree(2000, seed=11)
    g.add_edges_from((i, (i * 7 + 3) % 2000) for i in range(0, 2000, 9) if i != (i * 7 + 3) % 2000)
    edges = edge_list(g)
    options = dict(time_limit=600, seed=3, max_iterations=60_000, restart_after=3, max_idle=50, window_size=150,
                   window_generations=3, window_idle=4)
    runs = [heuristic_critical_nodes(edges, 200, **options) for _ in range(2)]
    stats = runs[0][2]
    assert stats["windows"] > 0 and stats["windows_improved"] > 0 and stats["iterations"] <= 60_000
    assert np.array_equal(runs[0][0], runs[1][0]) and stats["windows"] == runs[1][2]["windows"]
    assert [p[1:] for p in stats["trajectory"]] == [p[1:] for p in runs[1][2]["trajectory"]]
    assert runs[0][1] == pairwise_connectivity(edges, runs[0][0]) == stats["trajectory"][-1][2]
    off = heuristic_critical_nodes(edges, 200, **{**options, "window_size": 0})
    assert off[2]["windows"] == 0


def test_heuristic_is_deterministic_given_seed_and_budget():
    g = nx.gnm_random_graph(300, 450, seed=7)
    edges = edge_list(g)
    runs = [heuristic_critical_nodes(edges, 30, time_limit=600, seed=5, max_iterations=10_000) for _ in range(2)]
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert runs[0][2]["iterations"] == runs[1][2]["iterations"] <= 10_000
    other = heuristic_critical_nodes(edges, 30, time_limit=600, seed=6, max_iterations=10_000)
    assert other[1] == pairwise_connectivity(edges, other[0])


def test_restarts_rebuild_the_pool_deterministically_and_keep_the_best():
    """After ``restart_after`` generations without a new best the pool is rebuilt
    (its best kept): the run is still a function of seed and budget, and never worse
    than its own best before the restart."""
    g = nx.connected_watts_strogatz_graph(150, 4, 0.3, seed=4)
    edges = edge_list(g)
    runs = [heuristic_critical_nodes(edges, 20, time_limit=600, seed=1, max_iterations=40_000, restart_after=3,
                                      max_idle=100)
            for _ in range(2)]
    assert runs[0][2]["restarts"] > 0
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][2]["restarts"] == runs[1][2]["restarts"]
    # (iterations, objective) of every new best; the wall-clock stamps differ between runs
    assert [p[1:] for p in runs[0][2]["trajectory"]] == [p[1:] for p in runs[1][2]["trajectory"]]
    assert runs[0][1] == pairwise_connectivity(edges, runs[0][0]) == runs[0][2]["trajectory"][-1][2]


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_two_processes_are_deterministic_and_never_worse(parallel):
    """Each search (thread or process) runs the 1-process search with a seed derived
    from the seed; the answer is the best, ties to the smallest set: so it is
    reproducible, and search 0 (the seed itself) makes it never worse than the
    1-process run. Threads share numba's random state only per thread, so both ways agree."""
    g = nx.connected_watts_strogatz_graph(200, 4, 0.3, seed=3)
    edges = edge_list(g)
    budget = dict(time_limit=600, max_iterations=8_000)
    one = heuristic_critical_nodes(edges, 30, seed=2, **budget)
    two = heuristic_critical_nodes(edges, 30, seed=2, processes=2, parallel=parallel, **budget)
    assert two[1] <= one[1] and two[1] == pairwise_connectivity(edges, two[0]) and two[0].size == 30
    workers = two[2]["workers"]
    assert len(workers) == 2 and workers[0]["iterations"] == one[2]["iterations"] and workers[0]["seed"] == 2
    again = heuristic_critical_nodes(edges, 30, seed=workers[1]["seed"], **budget)  # process 1, replayed here
    assert workers[1]["iterations"] == again[2]["iterations"]
    runs = sorted([(one[1], tuple(one[0].tolist())), (again[1], tuple(again[0].tolist()))])
    assert runs[0] == (two[1], tuple(two[0].tolist()))


def test_heuristic_respects_time_limit():
    g = nx.barabasi_albert_graph(3000, 2, seed=1)
    edges = edge_list(g)
    heuristic_critical_nodes(edges, 5, time_limit=0.5)  # JIT warm-up outside the measurement
    started = time.perf_counter()
    s, value, _ = heuristic_critical_nodes(edges, 150, time_limit=1.0)
    elapsed = time.perf_counter() - started
    assert s.size == 150 and value == pairwise_connectivity(edges, s)
    assert elapsed < 1.0 + 2.5  # greedy construction and one clock-check interval may overrun slightly


def test_heuristic_beats_or_equals_greedy():
    g = nx.gnm_random_graph(300, 450, seed=2)
    edges = edge_list(g)
    greedy_value = pairwise_connectivity(edges, greedy_critical_nodes(edges, 40))
    _, value, _ = heuristic_critical_nodes(edges, 40, time_limit=600, max_iterations=5_000)
    assert value <= greedy_value


# ----------------------------------------------------------------------------- entry point

@pytest.mark.parametrize("seed", range(3))
def test_critical_nodes_proves_small_optimum(seed):
    g = nx.gnm_random_graph(14, 20, seed=seed)
    edges = edge_list(g)
    result = critical_nodes(edges, 3, time_limit=60)
    assert result.optimal and result.method in ("exact", "exact+heuristic")
    assert result.pairwise_connectivity == brute_force(edges, 3)
    assert len(result.removed) == 3 and len(set(result.removed)) == 3
    assert result.lower_bound == result.pairwise_connectivity


def test_optimal_is_never_claimed_without_proof():
    g = nx.gnm_random_graph(70, 150, seed=11)
    edges = edge_list(g)
    heuristic = critical_nodes(edges, 8, time_limit=1.0, method="heuristic")
    assert heuristic.pairwise_connectivity > 0 and not heuristic.optimal
    # an exact solve that cannot finish: time-out, so no proof
    exact = critical_nodes(edges, 8, time_limit=2.5, method="exact")
    assert not exact.optimal
    assert exact.lower_bound <= exact.pairwise_connectivity
    assert exact.pairwise_connectivity == nx_pairwise(g, [int(v) for v in exact.removed])
    milp = solve_critical_nodes_milp(edges.num_nodes, edges.src, edges.dst, 8, time_limit=0.5)
    assert not milp.proved


def test_zero_connectivity_is_optimal_without_milp():
    star = edge_list([("hub", f"leaf{i}") for i in range(30)])
    result = critical_nodes(star, 1, time_limit=5, method="heuristic")
    assert result.removed == ["hub"] and result.pairwise_connectivity == 0 and result.optimal


def test_trivial_budgets():
    edges = edge_list([("a", "b"), ("b", "c")])
    none = critical_nodes(edges, 0, time_limit=1)
    assert none.removed == [] and none.pairwise_connectivity == 3 and none.optimal
    everything = critical_nodes(edges, 3, time_limit=1)
    assert sorted(everything.removed) == ["a", "b", "c"] and everything.pairwise_connectivity == 0


def test_inputs_agree_across_forms():
    g = nx.gnm_random_graph(25, 40, seed=4)
    pairs = [(str(u), str(v)) for u, v in g.edges()]
    gt_graph = gt.Graph(directed=False)
    gt_graph.add_vertex(25)
    gt_graph.add_edge_list(np.array(list(g.edges())))
    values = {form: critical_nodes(graph, 4, time_limit=30).pairwise_connectivity
              for form, graph in [("nx", g), ("pairs", pairs), ("gt", gt_graph)]}
    assert len(set(values.values())) == 1 and values["nx"] == brute_force(edge_list(g), 4)


@pytest.mark.parametrize("bad", [
    lambda: critical_nodes([("a", "b")], -1, 1),
    lambda: critical_nodes([("a", "b")], 3, 1),
    lambda: critical_nodes([("a", "b")], 1.5, 1),
    lambda: critical_nodes([("a", "b")], 1, 0),
    lambda: critical_nodes([("a", "a")], 1, 1),
    lambda: critical_nodes([("a", "b", "c")], 1, 1),
    lambda: heuristic_critical_nodes([("a", "b"), ("b", "c")], 1, 1, processes=2, parallel="fork"),
    lambda: heuristic_critical_nodes([("a", "b"), ("b", "c")], 1, 1, window_share=1.0),
])
def test_library_rejects_bad_input(bad):
    with pytest.raises(GraphInputError):
        bad()


# ----------------------------------------------------------------------------- file reader and CLI

def write(tmp_path: Path, text, name="edges.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reader_comments_duplicates_and_order(tmp_path):
    path = write(tmp_path, "# supply links\n\nTSMC ASML  # EUV\nASML TSMC\nASML Zeiss\n   \nZeiss Trumpf\n")
    edges = read_edge_list(path)
    assert edges.ids == ("TSMC", "ASML", "Zeiss", "Trumpf")
    assert edges.num_edges == 3


@pytest.mark.parametrize("text, line, fragment", [
    ("a b\nc\n", 2, "got one node id"),
    ("a b\nc d 1.5\n", 2, "got 3 fields"),
    ("a b\nx x\n", 2, "self-loop"),
    ("", None, "no edges"),
    ("# only a comment\n\n", None, "no edges"),
    (b"a b\nc \xff\n", 2, "not UTF-8"),
])
def test_reader_errors_name_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_edge_list(path)
    message = str(info.value)
    assert "edges.txt" in message and fragment in message
    if line is not None:
        assert f"line {line}" in message


def test_cli_prints_one_json_object(tmp_path, capsys):
    path = write(tmp_path, "a b\nb c\nc d\nd e\nc f\n")
    assert cli_main(["critical-nodes", str(path), "--k", "1", "--time-limit", "20"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    payload = json.loads(out)
    assert set(payload) >= {"removed", "pairwise_connectivity", "optimal", "seconds"}
    assert payload["removed"] == ["c"] and payload["pairwise_connectivity"] == 2 and payload["optimal"] is True
    assert isinstance(payload["seconds"], float)


def test_cli_budget_and_seed_give_the_same_answer(tmp_path, capsys):
    g = nx.gnm_random_graph(120, 200, seed=3)
    path = write(tmp_path, "\n".join(f"n{u} n{v}" for u, v in g.edges()) + "\n")
    answers = []
    for _ in range(2):
        assert cli_main(["critical-nodes", str(path), "--k", "10", "--method", "heuristic", "--seed", "4",
                         "--max-iterations", "3000", "--processes", "1"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0]["removed"] == answers[1]["removed"] and len(answers[0]["removed"]) == 10
    assert {"removed", "pairwise_connectivity", "optimal", "seconds", "lower_bound", "method",
            "pairwise_connectivity_before"} <= set(answers[0])


@pytest.mark.parametrize("args, fragment", [
    (["--k", "1", "--max-iterations", "-5"], "--max-iterations must be a whole number >= 0"),
    (["--k", "1", "--max-iterations", "many"], "--max-iterations must be a whole number"),
    (["--k", "1", "--processes", "0"], "--processes must be at least 1"),
    (["--k", "-1"], "K = -1 is outside [0, 3]"),
    (["--k", "4"], "K = 4 is outside [0, 3]"),
    (["--k", "two"], "--k must be a whole number"),
    (["--k", "1", "--time-limit", "0"], "--time-limit must be a positive"),
    (["--k", "1", "--time-limit", "soon"], "--time-limit must be a number"),
])
def test_cli_bad_arguments_one_line(tmp_path, capsys, args, fragment):
    path = write(tmp_path, "a b\nb c\n")
    assert cli_main(["critical-nodes", str(path), *args]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and fragment in captured.err
    assert captured.err.startswith("chokepoint critical-nodes: error:")


@pytest.mark.parametrize("text, fragment", [
    ("a b\nb\n", "edges.txt, line 2"),
    ("a b\nb b\n", "edges.txt, line 2"),
    ("", "edges.txt: no edges"),
    (b"\xfe\xff", "edges.txt, line 1: not UTF-8"),
])
def test_cli_bad_files_one_line(tmp_path, capsys, text, fragment):
    path = write(tmp_path, text)
    assert cli_main(["critical-nodes", str(path), "--k", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and fragment in captured.err


def test_cli_missing_file(tmp_path, capsys):
    assert cli_main(["critical-nodes", str(tmp_path / "nope.txt"), "--k", "1"]) == 1
    assert "nope.txt: file not found" in capsys.readouterr().err


def test_console_script_stdout_is_clean_json(tmp_path):
    """As a user runs it: a separate process, both solvers, stdout holds exactly the JSON."""
    path = write(tmp_path, "\n".join(f"n{i} n{j}" for i, j in nx.gnm_random_graph(16, 24, seed=1).edges()) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    for solver in ("SCIP",):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "critical-nodes", str(path), "--k", "3",
                               "--time-limit", "60", "--solver", solver],
                              capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        payload = json.loads(done.stdout)
        assert done.stdout.strip().count("\n") == 0
        assert payload["optimal"] is True and len(payload["removed"]) == 3
