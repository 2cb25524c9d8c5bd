"""The interdiction MILP on unit-scaled networks (optimization.interdiction.unit_scaled).

Units of input types differ by many orders of magnitude on real data (tonnes of gallium,
wafers, H100e). The MILP's dual blocks are built on the network with every input type
measured in units of its largest producer; these tests show that the scaling changes no
capability share and that the MILP's optimum does not depend on the units the data uses.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from chokepoint.model.horizons import short_run_network
from graph.network import PRODUCER
from optimization.interdiction import InterdictionModel, unit_scaled
from tests.chokepoint.model.test_horizons import INPUTS, independent_capability, random_network

SEEDS = range(6)


def _rescaled_units(network, input_id: str, factor: float):
    """The same physical network with ``input_id`` counted in units ``factor`` times smaller."""
    k = INPUTS.index(input_id)
    node = network.node_input == k
    edge = network.edge_input == k
    coefficient = network.req_coefficient.copy()
    coefficient[network.req_input == k] *= factor          # more units of it per unit of the buyer
    coefficient[node[network.req_node]] /= factor          # its makers need less per (smaller) unit
    scale_nodes = np.where(node, factor, 1.0)
    scale_edges = np.where(edge, factor, 1.0)
    return dataclasses.replace(
        network, node_capacity=network.node_capacity * scale_nodes, edge_capacity=network.edge_capacity * scale_edges,
        req_coefficient=coefficient,
        actor_capacity=None if network.actor_capacity is None else network.actor_capacity * scale_nodes[None, :],
        actor_edge_capacity=(None if network.actor_edge_capacity is None
                             else network.actor_edge_capacity * scale_edges[None, :]))


@pytest.mark.parametrize("seed", SEEDS)
def test_unit_scaling_keeps_every_capability_share(seed):
    network, rules = random_network(seed)
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    rng = np.random.default_rng(seed)
    for net in (network, short):
        scaled, node_scale = unit_scaled(net)
        producers = net.node_kind == PRODUCER
        assert np.nanmax(scaled.node_capacity[producers & np.isfinite(scaled.node_capacity)]) <= 1.0 + 1e-12
        for actor in range(len(net.actors)):
            sink = net.sink_of(actor)
            closed = rng.random(net.num_edges) < 0.15
            original = independent_capability(net, sink, closed)
            assert independent_capability(scaled, sink, closed) * node_scale[sink] == pytest.approx(
                original, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_milp_optimum_does_not_depend_on_units(seed):
    """Measuring HBM in units a million times smaller is the same world: same optimum, equal
    to brute force over every placement (independent LP on the actor's own capacities)."""
    network, rules = random_network(seed)
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    rng = np.random.default_rng(100 + seed)
    producers = np.flatnonzero(short.node_kind == PRODUCER)
    targets = rng.choice(producers, size=min(5, producers.size), replace=False)
    closes = np.array([short.edge_src == t for t in targets])
    cost = rng.uniform(0.3, 1.5, size=len(targets))
    budget = float(np.sort(cost)[:2].sum())
    sinks = [short.sink_of(a) for a in range(len(short.actors))]
    values = []
    for world in (short, _rescaled_units(short, "hbm", 1e6), _rescaled_units(short, "resist", 1e-4)):
        model = InterdictionModel(world, sinks, closes, cost, time_limit=30, enumeration_limit=0)
        if not model.active.any():
            pytest.skip("no actor has capability in this instance")
        result = model.solve(budget)
        assert result.optimal
        values.append(result.objective)
    best = min(
        np.mean([independent_capability(short, s, closes[np.array(m, bool)].any(axis=0)) / b
                 for s, b in zip(sinks, InterdictionModel(short, sinks, closes, cost).baseline) if b > 0])
        for m in itertools.product([0, 1], repeat=len(targets)) if cost[np.array(m, bool)].sum() <= budget + 1e-9)
    assert values == pytest.approx([best] * len(values), abs=1e-7)
