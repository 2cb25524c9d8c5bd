"""AND/OR producibility and single points of failure against brute force."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from graph.failure import (Propagation, country_single_points_of_failure, producible,
                           single_points_of_failure, throughput_bound)
from optimization.capability import CapabilityModel
from tests.instances import random_and_or_network


def brute_force_producible(network, removed=frozenset()):
    """Recursive definition, written independently of the level-by-level code."""
    suppliers: dict[tuple[int, int], list[int]] = {}
    for s, d, k in zip(network.edge_src, network.edge_dst, network.edge_input):
        suppliers.setdefault((int(d), int(k)), []).append(int(s))
    needs: dict[int, list[int]] = {}
    for v, k in zip(network.req_node, network.req_input):
        needs.setdefault(int(v), []).append(int(k))

    @functools.lru_cache(maxsize=None)
    def ok(v: int) -> bool:
        if v in removed or not network.node_capacity[v] > 0:
            return False
        return all(any(ok(u) for u in suppliers.get((v, k), [])) for k in needs.get(v, []))

    return np.array([ok(v) for v in range(network.num_nodes)])


@pytest.mark.parametrize("seed", range(40))
def test_producible_matches_recursive_definition(seed):
    network = random_and_or_network(seed, zero_capacity=0.15)
    assert (producible(network) == brute_force_producible(network)).all()


@pytest.mark.parametrize("seed", range(40))
def test_single_points_of_failure_equal_brute_force_removal(seed):
    network = random_and_or_network(seed, n=16)
    sink = network.num_nodes - 1
    expected = []
    if brute_force_producible(network)[sink]:
        expected = [v for v in range(network.num_nodes - 1)
                    if not brute_force_producible(network, frozenset({v}))[sink]]
    got = single_points_of_failure(network, sink, candidates=np.arange(network.num_nodes - 1))
    assert got.tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_country_single_points_of_failure_equal_brute_force(seed):
    network = random_and_or_network(seed, n=16)
    sink = network.num_nodes - 1
    expected = []
    if brute_force_producible(network)[sink]:
        for country in range(3):
            removed = frozenset(np.flatnonzero(network.node_country == country).tolist())
            if not brute_force_producible(network, removed)[sink]:
                expected.append(country)
    assert country_single_points_of_failure(network, sink).tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_producibility_agrees_with_the_capability_lp(seed):
    """With positive capacities, the sink is producible iff its LP capability is positive,
    and a single point of failure drives the LP capability to zero."""
    network = random_and_or_network(seed, n=14)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    value = model.solve(sink).value
    assert (value > 1e-9) == bool(producible(network)[sink])
    for node in single_points_of_failure(network, sink):
        closed = (~np.isin(network.edge_src, [node])).astype(float)
        assert model.solve(sink, closed).value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_throughput_bound_is_an_upper_bound_on_lp_production(seed):
    network = random_and_or_network(seed)
    model = CapabilityModel(network)
    bound = throughput_bound(network)
    result = model.solve(network.num_nodes - 1)
    assert (result.production <= bound * (1 + 1e-9) + 1e-9).all()


def test_propagation_rejects_cycles():
    from graph.network import max_flow_network

    cyclic = max_flow_network(4, [0, 1, 2, 2], [1, 2, 1, 3], [1.0, 1.0, 1.0, 1.0], source=0, sink=3)
    with pytest.raises(ValueError, match="cycle"):
        Propagation.of(cyclic)
