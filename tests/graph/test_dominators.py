"""Dominators against networkx; OR-skeleton dominators against brute force and AND/OR SPOFs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.dominators import (ROOT, UNREACHED, dominated_counts, dominators_of, immediate_dominators,
                              or_dominator_tree, or_skeleton)
from graph.failure import Propagation, producible, single_points_of_failure
from tests.support.instances import random_and_or_network


def expected_idom(g: nx.DiGraph, n: int, root: int) -> list[int]:
    found = nx.immediate_dominators(g, root)
    return [root if v == root else found.get(v, -1) for v in range(n)]


@pytest.mark.parametrize("seed", range(60))
def test_immediate_dominators_match_networkx(seed):
    """Random digraphs with unreachable vertices pointing into reachable ones — the case
    graph-tool 2.45 gets wrong unless their edges are filtered out."""
    n = 25
    g = nx.gnp_random_graph(n, 0.06 + 0.002 * seed, seed=seed, directed=True)
    g.add_nodes_from(range(n))
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    root = seed % n
    assert immediate_dominators(n, src, dst, root).tolist() == expected_idom(g, n, root)


def test_immediate_dominators_regression_in_edge_from_unreachable_vertex():
    # 1 is unreachable from 0 and points into 2; the idom of 2 is 3.
    assert immediate_dominators(4, [0, 1, 3], [3, 2, 2], 0).tolist() == [0, -1, 3, 0]
    with pytest.raises(ValueError, match="root"):
        immediate_dominators(3, [0], [1], 5)


def or_alive(network, removed: int | None = None) -> np.ndarray:
    """OR semantics by fixed point: alive iff capacity > 0, not removed, and needs nothing
    or has a route from an alive node."""
    needs = np.zeros(network.num_nodes, dtype=bool)
    needs[network.req_node] = True
    alive = (network.node_capacity > 0) & ~needs
    if removed is not None:
        alive[removed] = False
    while True:
        fed = np.zeros(network.num_nodes, dtype=bool)
        fed[network.edge_dst[alive[network.edge_src]]] = True
        new = alive | (fed & (network.node_capacity > 0))
        if removed is not None:
            new[removed] = False
        if (new == alive).all():
            return alive
        alive = new


@pytest.mark.parametrize("seed", range(40))
def test_or_dominators_equal_brute_force_and_are_and_or_spofs(seed):
    network = random_and_or_network(seed, n=16, zero_capacity=0.1 if seed % 2 else 0.0)
    idom = or_dominator_tree(network)
    base = or_alive(network)
    assert ((idom != UNREACHED) == base).all()
    killed = {u: ~or_alive(network, u) for u in range(network.num_nodes)}
    for v in np.flatnonzero(base):
        expected = sorted(u for u in range(network.num_nodes) if u != v and killed[u][v])
        assert sorted(dominators_of(idom, v).tolist()) == expected
    sink = network.num_nodes - 1
    if producible(network)[sink]:
        assert set(dominators_of(idom, sink).tolist()) <= set(single_points_of_failure(network, sink).tolist())
    level = Propagation.of(network).level
    counts = dominated_counts(idom, level)
    for u in range(network.num_nodes):
        assert counts[u] == sum(1 for v in np.flatnonzero(base) if v != u and u in dominators_of(idom, v))
    within = np.random.default_rng(seed).random(network.num_nodes) < 0.5
    counts_within = dominated_counts(idom, level, within=within)
    for u in range(network.num_nodes):
        assert counts_within[u] == sum(1 for v in np.flatnonzero(base & within)
                                       if v != u and u in dominators_of(idom, v))


def test_or_skeleton_layout():
    network = random_and_or_network(1, n=10)
    n, src, dst = or_skeleton(network)
    assert n == network.num_nodes + 1
    needs = np.zeros(network.num_nodes, dtype=bool)
    needs[network.req_node] = True
    assert sorted(dst[src == network.num_nodes].tolist()) == np.flatnonzero(~needs).tolist()
    idom = or_dominator_tree(network)
    assert (idom[~needs] == ROOT).all()
