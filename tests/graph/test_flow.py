"""Strongly connected components, core numbers and max-flow against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.components import component_sizes, strongly_connected_components
from graph.cores import core_numbers, undirected_simple_edges
from graph.flow import max_flow
from graph.gt import graph_from_arrays
from graph.network import max_flow_network
from optimization.capability import CapabilityModel
from tests.support.instances import random_flow_graph


def random_digraph(seed: int, n: int = 30, p: float = 0.08):
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    return g, src, dst


@pytest.mark.parametrize("seed", range(30))
def test_strongly_connected_components_match_networkx(seed):
    g, src, dst = random_digraph(seed, p=0.04 + 0.004 * seed)
    labels = strongly_connected_components(30, src, dst)
    expected = {frozenset(c) for c in nx.strongly_connected_components(g)}
    got = {}
    for v, label in enumerate(labels):
        got.setdefault(label, set()).add(v)
    assert {frozenset(c) for c in got.values()} == expected
    assert all(label == min(got[label]) for label in got)
    sizes = component_sizes(labels)
    assert all(sizes[v] == len(got[labels[v]]) for v in range(30))
    prebuilt = strongly_connected_components(30, src, dst, graph=graph_from_arrays(30, src, dst))
    assert (prebuilt == labels).all()


@pytest.mark.parametrize("seed", range(30))
def test_core_numbers_match_networkx_with_repeats_and_loops(seed):
    g, src, dst = random_digraph(seed, p=0.15)
    rng = np.random.default_rng(seed)
    # Add reversed copies, repeats and self-loops: all ignored by the projection.
    extra = rng.integers(0, src.size, size=src.size // 3) if src.size else np.empty(0, np.int64)
    loops = rng.integers(0, 30, size=3)
    src2 = np.concatenate([src, dst[extra], src[extra], loops])
    dst2 = np.concatenate([dst, src[extra], dst[extra], loops])
    undirected = nx.Graph(g.to_undirected())
    undirected.add_nodes_from(range(30))
    expected = nx.core_number(undirected)
    got = core_numbers(30, src2, dst2)
    assert got.tolist() == [expected[v] for v in range(30)]


def test_core_numbers_simple_fast_path_and_projection():
    src, dst = np.array([0, 1, 2, 0]), np.array([1, 2, 0, 3])
    assert core_numbers(4, src, dst, simple=True).tolist() == [2, 2, 2, 1]
    assert core_numbers(4, src, dst, simple=True, graph=graph_from_arrays(4, src, dst)).tolist() == [2, 2, 2, 1]
    lo, hi = undirected_simple_edges(4, [1, 0, 2, 2], [0, 1, 2, 3])
    assert list(zip(lo.tolist(), hi.tolist())) == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match="self-loops"):
        core_numbers(3, [0, 1], [1, 1], simple=True)
    with pytest.raises(ValueError, match="only accepted with simple=True"):
        core_numbers(3, [0], [1], graph=graph_from_arrays(3, [0], [1]))


@pytest.mark.parametrize("seed", range(40))
def test_max_flow_value_and_min_cut_match_networkx(seed):
    g, src, dst, cap = random_flow_graph(seed, n=12, p=0.3)
    g.add_nodes_from(range(12))
    result = max_flow(12, src, dst, cap, 0, 11)
    expected = nx.maximum_flow_value(g, 0, 11, capacity="capacity")
    assert result.value == pytest.approx(expected, abs=1e-9)
    assert cap[result.cut_edges(src, dst)].sum() == pytest.approx(expected, abs=1e-9)
    # Conservation at inner vertices and capacity limits.
    net = np.bincount(dst, weights=result.flow, minlength=12) - np.bincount(src, weights=result.flow, minlength=12)
    assert np.allclose(net[1:11], 0.0, atol=1e-9)
    assert (result.flow <= cap + 1e-9).all()


@pytest.mark.parametrize("seed", range(10))
def test_max_flow_equals_the_capability_lp_on_the_plain_special_case(seed):
    g, src, dst, cap = random_flow_graph(seed, n=10, p=0.35)
    value = max_flow(10, src, dst, cap, 0, 9).value
    network = max_flow_network(10, src, dst, cap, source=0, sink=9)
    if not np.isfinite(cap).all():
        pytest.skip("unbounded")
    assert CapabilityModel(network).solve(9).value == pytest.approx(value, rel=1e-7, abs=1e-7)


def test_max_flow_with_infinite_capacities_and_bad_input():
    src, dst = np.array([0, 1, 0]), np.array([1, 2, 2])
    assert max_flow(3, src, dst, [np.inf, 2.0, 1.0], 0, 2).value == pytest.approx(3.0)
    with pytest.raises(ValueError, match="unbounded"):
        max_flow(3, src, dst, [np.inf, np.inf, 1.0], 0, 2)
    with pytest.raises(ValueError, match="distinct"):
        max_flow(3, src, dst, [1.0, 1.0, 1.0], 1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        max_flow(3, src, dst, [1.0, -1.0, 1.0], 0, 2)
