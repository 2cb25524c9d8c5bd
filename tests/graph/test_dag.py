"""DAG order and cycles against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.dag import find_cycle, topological_order, upstream_of


@pytest.mark.parametrize("seed", range(20))
def test_topological_order_and_cycles_match_networkx(seed):
    n = 15
    g = nx.gnp_random_graph(n, 0.15, seed=seed, directed=True)
    if seed % 2 == 0:  # keep only forward edges: a DAG
        g = nx.DiGraph([(u, v) for u, v in g.edges() if u < v])
        g.add_nodes_from(range(n))
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    cycle = find_cycle(n, src, dst)
    if nx.is_directed_acyclic_graph(g):
        assert cycle == []
        order = topological_order(n, src, dst)
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        assert sorted(order.tolist()) == list(range(n))
        assert (position[src] < position[dst]).all()
    else:
        assert len(cycle) >= 2 and cycle[0] == cycle[-1]
        assert all(g.has_edge(a, b) for a, b in zip(cycle, cycle[1:]))
        with pytest.raises(ValueError, match="cycle"):
            topological_order(n, src, dst)


@pytest.mark.parametrize("seed", range(15))
def test_upstream_of_matches_networkx_ancestors(seed):
    rng = np.random.default_rng(seed)
    n = 18
    g = nx.gnp_random_graph(n, 0.12, seed=seed, directed=True)  # cycles allowed: reachability, not order
    g.add_nodes_from(range(n))
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    targets = rng.choice(n, size=int(rng.integers(0, 4)), replace=False)
    expected = set(targets.tolist()).union(*(nx.ancestors(g, int(t)) for t in targets))
    found = upstream_of(n, src, dst, targets)
    assert found.dtype == bool and found.shape == (n,)
    assert set(np.flatnonzero(found).tolist()) == expected


def test_upstream_of_refuses_ids_outside_the_graph():
    with pytest.raises(ValueError, match="targets"):
        upstream_of(3, [0], [1], [3])
    with pytest.raises(ValueError, match="edge ends"):
        upstream_of(3, [0], [3], [1])
