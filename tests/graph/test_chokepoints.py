"""The graph-side chokepoint suite against brute-force removal on random and reference networks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from chokepoint.model.build import network_from_tables
from graph.chokepoints import chokepoint_metrics, import_routes
from graph.network import SINK, SupplyNetwork
from tests.support.instances import random_and_or_network
from tests.support.oracles import brute_force_producible_with_routes


def with_actor_members(network: SupplyNetwork, members=(0,)) -> SupplyNetwork:
    from dataclasses import replace

    return replace(network, actor_members=(tuple(members),))


@pytest.mark.parametrize("seed", range(25))
def test_suite_matches_brute_force_removal(seed):
    network = with_actor_members(random_and_or_network(seed, n=15, zero_capacity=0.1 if seed % 4 == 0 else 0.0))
    sink = network.num_nodes - 1
    result = chokepoint_metrics(network, [sink])
    m = result.sinks[sink]
    base = brute_force_producible_with_routes(network)
    assert m.producible == bool(base[sink])
    g = nx.DiGraph()
    g.add_nodes_from(range(network.num_nodes))
    g.add_edges_from(zip(network.edge_src.tolist(), network.edge_dst.tolist()))
    cone = np.zeros(network.num_nodes, dtype=bool)
    cone[list(nx.ancestors(g, sink) | {sink})] = True
    assert (m.cone == cone).all()
    alive_cone = cone & base
    node_kill = {v: ~brute_force_producible_with_routes(network, frozenset({v})) for v in range(network.num_nodes)}
    expected_cascade = [int((node_kill[v] & alive_cone).sum() - alive_cone[v]) for v in range(network.num_nodes)]
    assert m.node_cascade.tolist() == expected_cascade
    country_kill = {c: ~brute_force_producible_with_routes(
        network, frozenset(np.flatnonzero(network.node_country == c).tolist())) for c in range(3)}
    assert m.country_cascade.tolist() == [int((country_kill[c] & alive_cone).sum()) for c in range(3)]
    imports = import_routes(network, 0)
    input_kill = {k: ~brute_force_producible_with_routes(network, closed=frozenset(np.flatnonzero(imports == k).tolist()))
                  for k in range(len(network.inputs))}
    assert m.input_cascade.tolist() == [int((input_kill[k] & alive_cone).sum()) for k in range(len(network.inputs))]
    if base[sink]:
        assert m.spof_nodes.tolist() == [v for v in range(network.num_nodes) if v != sink and node_kill[v][sink]]
        assert m.spof_countries.tolist() == [c for c in range(3) if country_kill[c][sink]]
        assert m.spof_inputs.tolist() == [k for k in range(len(network.inputs))
                                          if (imports == k).any() and input_kill[k][sink]]
        assert set(m.or_dominators.tolist()) <= set(m.spof_nodes.tolist())
    else:
        assert m.spof_nodes.size == 0 and m.spof_countries.size == 0
    assert result.num_components == network.num_nodes and result.largest_component == 1


def test_import_routes_of_the_reference_network(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    chn = network.actors.index("CHN")
    imports = import_routes(network, chn)
    members = {network.countries.index(c) for c in ("CHN", "HKG")}
    for e in np.flatnonzero(imports >= 0)[:200]:
        s, d = network.edge_src[e], network.edge_dst[e]
        assert network.node_country[s] not in members
        assert network.node_country[d] in members or network.node_actor[d] == chn
        assert imports[e] == network.edge_input[e]
    inside = np.isin(network.node_country[network.edge_dst], list(members)) | (network.node_actor[network.edge_dst] == chn)
    domestic = inside & np.isin(network.node_country[network.edge_src], list(members))
    assert (imports[domestic] == -1).all() and (imports[~inside] == -1).all()


def test_suite_on_the_reference_network(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(network.actors.index(a)) for a in ("CHN", "RUS", "ARE")]
    result = chokepoint_metrics(network, sinks)
    names = {network.node_names[v] for s in sinks for v in result.sinks[s].spof_nodes}
    assert {"NLD:euv_lithography", "DEU:euv_optics", "USA:euv_light_source"} <= names
    for s in sinks:
        m = result.sinks[s]
        assert m.betweenness.exact
        assert set(m.or_dominators.tolist()) <= set(m.spof_nodes.tolist())
        assert m.cone[s] and (network.node_kind[m.cone] != SINK).sum() == m.cone.sum() - 1
    assert result.num_components == network.num_nodes
    assert set(result.seconds) >= {"build_graph", "components", "cores", "essential_sets", "dominators", "betweenness"}


def test_suite_rejects_cycles_and_non_sinks():
    from graph.network import max_flow_network

    cyclic = max_flow_network(4, [0, 1, 2, 2], [1, 2, 1, 3], [1.0] * 4, source=0, sink=3)
    with pytest.raises(ValueError, match="cycle: "):
        chokepoint_metrics(cyclic, [3])
    with pytest.raises(ValueError, match="not an actor's sink"):
        chokepoint_metrics(random_and_or_network(0), [0])
