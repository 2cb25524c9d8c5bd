"""Max-flow against networkx and the capability LP."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.flow import max_flow
from graph.network import max_flow_network
from optimization.capability import CapabilityModel
from tests.support.instances import random_flow_graph


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
