"""Flow-weighted betweenness against networkx (exact within 1e-9; sampled with the same pivots)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.centrality import (betweenness, dependency_lengths, dependency_share, flow_betweenness,
                              supply_cone)
from graph.gt import graph_from_arrays
from optimization.capability import CapabilityModel
from tests.support.instances import random_and_or_network


def weighted_digraph(seed: int, n: int = 25, p: float = 0.15):
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    length = np.random.default_rng(seed).integers(1, 5, size=src.size).astype(float)
    for (u, v), value in zip(g.edges(), length):
        g[u][v]["length"] = value
    return g, src, dst, length


@pytest.mark.parametrize("seed", range(30))
def test_exact_betweenness_matches_networkx(seed):
    g, src, dst, length = weighted_digraph(seed)
    got = betweenness(25, src, dst, length)
    expected = nx.betweenness_centrality(g, weight="length", normalized=True)
    assert got.exact and got.vertices == 25
    assert np.abs(got.values - [expected[v] for v in range(25)]).max() <= 1e-9
    unweighted = nx.betweenness_centrality(g, normalized=True)
    assert np.abs(betweenness(25, src, dst).values - [unweighted[v] for v in range(25)]).max() <= 1e-9


@pytest.mark.parametrize("seed", range(20))
def test_sampled_betweenness_matches_networkx_on_the_same_pivots(seed):
    g, src, dst, length = weighted_digraph(seed, n=30)
    got = betweenness(30, src, dst, length, pivots=6, seed=seed, graph=graph_from_arrays(30, src, dst))
    assert not got.exact and got.num_pivots == 6
    raw = nx.betweenness_centrality_subset(g, sources=got.pivots.tolist(), targets=list(g), weight="length",
                                           normalized=False)
    expected = np.array([raw[v] for v in range(30)]) * got.sources / 6 / (29 * 28)
    assert np.abs(got.values - expected).max() <= 1e-9


def test_sampled_betweenness_is_unbiased_on_average():
    g, src, dst, length = weighted_digraph(3, n=30, p=0.12)
    exact = betweenness(30, src, dst, length).values
    mean = np.mean([betweenness(30, src, dst, length, pivots=5, seed=s).values for s in range(400)], axis=0)
    assert np.abs(mean - exact).max() <= 0.15 * exact.max()


@pytest.mark.parametrize("seed", range(20))
def test_flow_betweenness_on_an_and_or_network_matches_networkx(seed):
    network = random_and_or_network(seed, n=16)
    sink = network.num_nodes - 1
    flow = CapabilityModel(network).solve(sink).flow
    share = dependency_share(network, flow)
    length = dependency_lengths(share)
    got = flow_betweenness(network, flow, sink=sink)
    carried = share > 0
    g = nx.DiGraph()
    cone = supply_cone(network, sink, carried)
    g.add_nodes_from(np.flatnonzero(cone).tolist())
    for s, d, value in zip(network.edge_src[carried], network.edge_dst[carried], length[carried]):
        if cone[s] and cone[d]:
            g.add_edge(int(s), int(d), length=value)
    expected = nx.betweenness_centrality(g, weight="length", normalized=True) if g.number_of_nodes() > 2 else {}
    want = np.array([expected.get(v, 0.0) for v in range(network.num_nodes)])
    assert np.abs(got.values - want).max() <= 1e-9
    assert got.vertices == int(cone.sum())
    # With the prebuilt route graph (filtered views instead of a rebuild): the same.
    prebuilt = graph_from_arrays(network.num_nodes, network.edge_src, network.edge_dst)
    assert np.abs(flow_betweenness(network, flow, sink=sink, graph=prebuilt).values - want).max() <= 1e-12


def test_dependency_shares_and_lengths():
    network = random_and_or_network(2, n=14)
    share = dependency_share(network)
    req = network.edge_requirement()
    totals = np.bincount(req, weights=share, minlength=network.req_node.size)
    served = np.bincount(req, minlength=network.req_node.size) > 0
    assert np.allclose(totals[served], 1.0)
    assert dependency_lengths([1.0, 0.5, 0.25, 0.0], resolution=4).tolist() == [1.0, 5.0, 9.0, np.inf]
    with pytest.raises(ValueError, match="one non-negative number per route"):
        dependency_share(network, np.full(network.num_edges, -1.0))
    with pytest.raises(ValueError, match="positive and finite"):
        betweenness(3, [0, 1], [1, 2], [1.0, 0.0])
    with pytest.raises(ValueError, match="pivots"):
        betweenness(3, [0, 1], [1, 2], pivots=0)
