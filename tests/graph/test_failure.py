"""AND/OR producibility and single points of failure against brute force."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from graph.failure import (Propagation, country_single_points_of_failure, essential_sets, producible,
                           single_points_of_failure, single_points_of_failure_by_removal, surviving_fraction,
                           throughput_bound)
from optimization.capability import CapabilityModel
from tests.support.instances import random_and_or_network
from tests.support.oracles import brute_force_producible_with_routes


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
    by_removal = single_points_of_failure_by_removal(network, sink, candidates=np.arange(network.num_nodes - 1))
    assert by_removal.tolist() == expected


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


@pytest.mark.parametrize("seed", range(40))
def test_essential_sets_equal_brute_force_for_every_node_and_group(seed):
    """Nodes, country groups and route groups: removing one label kills v iff it is in ess(v)."""
    network = random_and_or_network(seed, n=15, zero_capacity=0.1 if seed % 3 == 0 else 0.0)
    rng = np.random.default_rng(seed)
    route_group = np.where(rng.random(network.num_edges) < 0.4, rng.integers(0, 3, network.num_edges), -1)
    route_open = rng.random(network.num_edges) > 0.1 if seed % 4 == 0 else None
    ess = essential_sets(network, route_groups={"embargo": route_group}, route_open=route_open)
    base_closed = frozenset(np.flatnonzero(~route_open).tolist()) if route_open is not None else frozenset()
    base = brute_force_producible_with_routes(network, closed=base_closed)
    assert (ess.producible == base).all()
    killed_by_node = {v: brute_force_producible_with_routes(network, frozenset({v}), base_closed)
                      for v in range(network.num_nodes)}
    killed_by_country = {c: brute_force_producible_with_routes(
        network, frozenset(np.flatnonzero(network.node_country == c).tolist()), base_closed) for c in range(3)}
    killed_by_group = {g: brute_force_producible_with_routes(
        network, closed=base_closed | frozenset(np.flatnonzero(route_group == g).tolist())) for g in range(3)}
    for v in np.flatnonzero(base):
        assert ess.nodes(v).tolist() == [u for u in range(network.num_nodes) if u != v and not killed_by_node[u][v]]
        assert ess.groups(v, "country").tolist() == [c for c in range(3) if not killed_by_country[c][v]]
        present = sorted(set(route_group[route_group >= 0].tolist()))
        assert ess.groups(v, "embargo").tolist() == [g for g in present if not killed_by_group[g][v]]


@pytest.mark.parametrize("seed", range(20))
def test_essential_sets_of_a_single_input_network_are_its_dominators(seed):
    """One input type, no groups: ess(v) is the set of dominators from a virtual root."""
    import networkx as nx

    from graph.network import max_flow_network

    g = nx.gnp_random_graph(14, 0.25, seed=seed, directed=True)
    edges = [(u, v) for u, v in g.edges() if u < v]
    src = np.array([u for u, _ in edges] + [0], dtype=np.int64)
    dst = np.array([v for _, v in edges] + [13], dtype=np.int64)
    network = max_flow_network(14, src, dst, np.ones(src.size), source=0, sink=13)
    ess = essential_sets(network, node_groups={})
    reached = nx.descendants(nx.DiGraph(list(zip(network.edge_src.tolist(), network.edge_dst.tolist()))), 0) | {0}
    idom = nx.immediate_dominators(nx.DiGraph(list(zip(network.edge_src.tolist(), network.edge_dst.tolist()))), 0)
    for v in range(1, 14):
        if v not in reached:
            assert not ess.producible[v]
            continue
        chain, u = [], v
        while u != 0:
            u = idom[u]
            chain.append(u)
        assert sorted(ess.nodes(v).tolist()) == sorted(chain)


def test_essential_sets_validate_groups():
    network = random_and_or_network(0)
    with pytest.raises(ValueError, match="route group 'x' must be an integer array"):
        essential_sets(network, route_groups={"x": np.zeros(3)})
    with pytest.raises(ValueError, match="node group 'y'"):
        essential_sets(network, node_groups={"y": np.zeros(network.num_nodes)})


@pytest.mark.parametrize("seed", range(20))
def test_surviving_fraction_gives_a_feasible_flow_and_an_upper_bound_on_the_loss(seed):
    network = random_and_or_network(seed, n=14)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    base = model.solve(sink)
    rng = np.random.default_rng(seed)
    closed = rng.random((network.num_edges, 6)) < 0.2
    closed[:, 0] = False
    s = surviving_fraction(network, base.flow, closed)
    assert s.shape == (network.num_nodes, 6) and (s >= 0).all() and (s <= 1).all()
    assert np.allclose(s[:, 0][base.production > 1e-9], 1.0)
    for b in range(6):
        flow = base.flow * s[network.edge_src, b] * ~closed[:, b]
        production = base.production * s[:, b]
        out = np.bincount(network.edge_src, weights=flow, minlength=network.num_nodes)
        into = np.bincount(network.edge_requirement(), weights=flow, minlength=network.req_node.size)
        assert (out <= production + 1e-7).all()
        assert (into >= network.req_coefficient * production[network.req_node] - 1e-7).all()
        after = model.solve(sink, (~closed[:, b]).astype(float)).value
        assert after >= production[sink] - 1e-6 * max(1.0, base.value)


@pytest.mark.parametrize("seed", range(12))
def test_surviving_fraction_with_production_holds_for_a_flow_off_by_a_tolerance(seed):
    """An LP optimum meets its constraints only up to the solver's tolerance; given the
    production, the scaled point is feasible exactly all the same (outflows cut to
    production, requirements met), so ``1 − s`` stays a certified upper bound."""
    network = random_and_or_network(seed, n=14)
    sink = network.num_nodes - 1
    base = CapabilityModel(network).solve(sink)
    rng = np.random.default_rng(seed)
    # Every flow off by up to 0.1 %: some requirements short, some outflows above production.
    noisy = base.flow * (1 + rng.uniform(-1e-3, 1e-3, base.flow.size))
    closed = rng.random((network.num_edges, 6)) < 0.2
    closed[:, 0] = False
    s = surviving_fraction(network, noisy, closed, production=base.production)
    assert s.shape == (network.num_nodes, 6) and (s >= 0).all() and (s <= 1).all()
    y = np.minimum(base.production.clip(0), network.node_capacity)
    shipped = np.bincount(network.edge_src, weights=noisy, minlength=network.num_nodes)
    cut = np.ones(network.num_nodes)
    cut[shipped > y] = y[shipped > y] / shipped[shipped > y]
    usable = np.minimum(noisy * cut[network.edge_src], network.edge_capacity)
    for b in range(6):
        flow = usable * s[network.edge_src, b] * ~closed[:, b]
        production = y * s[:, b]
        out = np.bincount(network.edge_src, weights=flow, minlength=network.num_nodes)
        into = np.bincount(network.edge_requirement(), weights=flow, minlength=network.req_node.size)
        need = network.req_coefficient * production[network.req_node]
        assert (out <= production * (1 + 1e-12) + 1e-12).all()
        assert (into >= need * (1 - 1e-12) - 1e-12).all()
        assert (flow <= network.edge_capacity).all()
    # An exactly feasible flow gives the same shares with or without its production.
    exact = surviving_fraction(network, base.flow, closed)
    assert np.allclose(exact, surviving_fraction(network, base.flow, closed, production=base.production), atol=1e-6)


def test_without_the_production_a_flow_off_by_a_tolerance_can_claim_too_much():
    """Why the production is passed: scaled by the shares computed from the flow alone, a
    flow that misses a requirement by a tolerance gives a point that misses it too."""
    misses = 0
    for seed in range(12):
        network = random_and_or_network(seed, n=14)
        base = CapabilityModel(network).solve(network.num_nodes - 1)
        rng = np.random.default_rng(seed)
        noisy = base.flow * (1 + rng.uniform(-1e-3, 1e-3, base.flow.size))
        s = surviving_fraction(network, noisy, np.zeros(network.num_edges, dtype=bool))
        into = np.bincount(network.edge_requirement(), weights=noisy * s[network.edge_src],
                           minlength=network.req_node.size)
        need = network.req_coefficient * (base.production * s)[network.req_node]
        misses += bool((into < need * (1 - 1e-9) - 1e-12).any())
    assert misses


def test_surviving_fraction_refuses_a_production_of_the_wrong_shape():
    network = random_and_or_network(0)
    with pytest.raises(ValueError, match="one value per node"):
        surviving_fraction(network, np.zeros(network.num_edges), np.zeros(network.num_edges, bool),
                           production=np.zeros(network.num_nodes + 1))
