"""Concentration metrics by hand; DAG order and cycles against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.concentration import concentration
from graph.dag import find_cycle, topological_order


def test_concentration_by_hand():
    # input 0: 60 % / 30 % / 5 %; input 1: one supplier with 100 %; input 2: none.
    metrics = concentration([0, 0, 0, 1], [0.6, 0.3, 0.05, 1.0], 3)
    assert metrics["top_share"].tolist() == [0.6, 1.0, 0.0]
    assert metrics["top_row"].tolist() == [0, 3, -1]
    assert metrics["hhi"] == pytest.approx([60**2 + 30**2 + 5**2, 10000.0, 0.0])
    assert metrics["suppliers"].tolist() == [3, 1, 0]
    assert metrics["suppliers_above"].tolist() == [2, 1, 0]
    assert metrics["covered"] == pytest.approx([0.95, 1.0, 0.0])


def test_concentration_rejects_bad_shares():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        concentration([0], [1.5], 1)
    with pytest.raises(ValueError, match="range"):
        concentration([2], [0.5], 1)


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
