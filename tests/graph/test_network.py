"""The AND/OR network built in graph-tool equals one built independently with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from chokepoint.model.build import network_from_tables
from chokepoint.inputs.reference import COMPUTE_INPUT
from graph.network import EDGE_KINDS, NODE_KINDS, to_graph_tool


def networkx_supply_graph(reference, scenario) -> nx.DiGraph:
    """The network of docs/design.md#2-the-supply-model written out rule by rule with dicts and loops."""
    g = nx.DiGraph()
    world = dict(zip(reference.input_types["input_id"], reference.input_types["world_capacity"]))
    producers: dict[str, list[tuple[str, str]]] = {}
    for row in reference.capacities.iter_rows(named=True):
        name = f"{row['iso3']}:{row['input_id']}"
        g.add_node(name, kind="producer", capacity=row["capacity"])
        producers.setdefault(row["input_id"], []).append((name, row["iso3"]))
    recipes = list(zip(reference.recipes["product"], reference.recipes["input"]))
    for product, needed in recipes:
        for supplier, _ in producers.get(needed, []):
            for buyer, _ in producers.get(product, []):
                g.add_edge(supplier, buyer, input=needed, capacity=np.inf, kind="trade")
    members = {a.id: set(a.members) for a in scenario.actors}
    for actor in scenario.actors:
        g.add_node(f"sink:{actor.id}", kind="sink", capacity=np.inf)
    consumed = {k for _, k in recipes} | {COMPUTE_INPUT}
    for country, fraction in scenario.transit.items():
        for k in sorted(consumed):
            if fraction <= 0 or not producers.get(k):
                continue
            hub = f"transit:{country}:{k}"
            g.add_node(hub, kind="transit", capacity=fraction * world[k])
            for supplier, iso3 in producers[k]:
                if iso3 != country:
                    g.add_edge(supplier, hub, input=k, capacity=np.inf, kind="transit_in")
            for product, needed in recipes:
                if needed == k:
                    for buyer, iso3 in producers.get(product, []):
                        if iso3 != country:
                            g.add_edge(hub, buyer, input=k, capacity=np.inf, kind="transit_out")
            if k == COMPUTE_INPUT:
                for actor in scenario.actors:
                    if country not in members[actor.id]:
                        g.add_edge(hub, f"sink:{actor.id}", input=k, capacity=np.inf, kind="transit_out")
    cloud = scenario.settings.cloud_access_fraction
    for actor in scenario.actors:
        for node, iso3 in producers[COMPUTE_INPUT]:
            if iso3 in members[actor.id]:
                g.add_edge(node, f"sink:{actor.id}", input=COMPUTE_INPUT, capacity=np.inf, kind="home_compute")
            elif cloud > 0:
                g.add_edge(node, f"sink:{actor.id}", input=COMPUTE_INPUT,
                           capacity=cloud * g.nodes[node]["capacity"], kind="cloud")
    return g


def _same(a: float, b: float) -> bool:
    return (np.isinf(a) and np.isinf(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def test_graph_tool_network_equals_networkx(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    graph = to_graph_tool(network)
    expected = networkx_supply_graph(reference, scenario)

    names = [graph.vp["name"][v] for v in graph.vertices()]
    assert len(names) == len(set(names))
    assert set(names) == set(expected.nodes)
    for v, name in zip(graph.vertices(), names):
        assert NODE_KINDS[graph.vp["kind"][v]] == expected.nodes[name]["kind"], name
        assert _same(graph.vp["capacity"][v], expected.nodes[name]["capacity"]), name

    edges = graph.get_edges([graph.ep["input"], graph.ep["kind"]])
    capacity = graph.ep["capacity"].a
    seen = set()
    for (s, d, k, kind), cap in zip(edges.astype(np.int64), capacity):
        pair = (names[s], names[d])
        assert pair not in seen, f"duplicate route {pair}"
        seen.add(pair)
        assert expected.has_edge(*pair), f"unexpected route {pair}"
        attrs = expected.edges[pair]
        assert network.inputs[k] == attrs["input"], pair
        assert EDGE_KINDS[kind] == attrs["kind"], pair
        assert _same(cap, attrs["capacity"]), pair
    assert seen == set(expected.edges)


def test_every_route_serves_a_requirement_and_graph_is_a_dag(reference, scenario):
    from graph.gt import gt

    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    assert (network.edge_requirement() >= 0).all()
    assert gt.topology.is_DAG(to_graph_tool(network))


def test_network_rejects_bad_arrays():
    from graph.network import build_supply_network

    with pytest.raises(ValueError, match="non-negative"):
        build_supply_network(countries=["A"], inputs=["x"], producer_country=[0], producer_input=[0],
                             producer_capacity=[-1.0], recipe_product=[], recipe_input=[], recipe_coefficient=[],
                             compute_input=0)


def _horizons(reference, scenario):
    from chokepoint.model.build import horizon_networks

    tables = {"countries": reference.countries, "input_types": reference.input_types, "recipes": reference.recipes,
              "capacities": reference.capacities}
    return horizon_networks(tables, scenario)


def test_without_routes_keeps_nodes_requirements_and_actor_capacities(reference, scenario):
    from graph.network import without_routes

    rng = np.random.default_rng(7)
    per_actor = 0
    for _, network in _horizons(reference, scenario).items():
        closed = rng.random(network.num_edges) < 0.2
        cut = without_routes(network, closed)
        kept = np.flatnonzero(~closed)
        assert cut.num_nodes == network.num_nodes and cut.num_edges == kept.size
        assert (cut.node_capacity == network.node_capacity).all() and cut.node_names == network.node_names
        for name in ("edge_src", "edge_dst", "edge_input", "edge_capacity", "edge_kind"):
            assert (getattr(cut, name) == getattr(network, name)[kept]).all(), name
        assert (cut.req_node == network.req_node).all() and (cut.req_coefficient == network.req_coefficient).all()
        if network.actor_capacity is None:
            assert cut.actor_capacity is None
        else:
            per_actor += 1
            assert (cut.actor_capacity == network.actor_capacity).all()
            assert (cut.actor_edge_capacity == network.actor_edge_capacity[:, kept]).all()
    assert per_actor == 1, "the short run has per-actor capacities"


def test_capability_without_routes_equals_the_routes_shut(reference, scenario):
    """The capability LP on the network without some routes equals an independent LP on the
    whole network with those routes' flows fixed at zero, for every actor."""
    from graph.network import without_routes
    from optimization.capability import CapabilityModel
    from tests.support.oracles import plain_capability

    network = _horizons(reference, scenario).long_run
    closed = np.random.default_rng(3).random(network.num_edges) < 0.3
    model = CapabilityModel(without_routes(network, closed), solver="HIGHS", time_limit=60)
    lost = 0
    for actor in range(len(network.actors)):
        sink = network.sink_of(actor)
        value = model.solve(sink).value
        assert value == pytest.approx(plain_capability(network, sink, closed), rel=1e-7, abs=1e-6)
        lost += value < plain_capability(network, sink, np.zeros(network.num_edges, bool)) - 1e-6
    assert lost, "closing 30 % of the routes costs some actor something"


def test_without_routes_refuses_a_mask_of_the_wrong_shape_or_type(reference, scenario):
    from graph.network import without_routes

    network = _horizons(reference, scenario).long_run
    with pytest.raises(ValueError, match="one flag per route"):
        without_routes(network, np.zeros(network.num_edges - 1, dtype=bool))
    with pytest.raises(ValueError, match="bool array"):
        without_routes(network, np.zeros(network.num_edges))


# --- firm actors: an actor owning its firms' compute wherever it is ------------------------------

def _firm_actor_network(**overrides):
    """Countries A, B; compute in A (country row and firm ``lab``'s row) and in B; chips from A.
    Actors: country A, firm actor LAB (owns ``lab``)."""
    from graph.network import build_supply_network

    arrays = dict(countries=["A", "B"], inputs=["chips", "compute"],
                  producer_country=[0, 0, 0, 1], producer_input=[0, 1, 1, 1],
                  producer_capacity=[10.0, 4.0, 3.0, 5.0], producer_firm=[-1, -1, 0, -1], firms=["lab"],
                  recipe_product=[1], recipe_input=[0], recipe_coefficient=[1.0], compute_input=1,
                  actors=["A", "LAB"], actor_members=[[0], []], actor_firms=[[], [0]], cloud_access_fraction=0.1)
    arrays.update(overrides)
    return build_supply_network(**arrays)


def test_a_firm_actor_uses_its_own_compute_freely_and_other_compute_through_the_cloud():
    from graph.network import CLOUD, HOME_COMPUTE

    net = _firm_actor_network()
    names = np.array(net.node_names)
    lab_sink, a_sink = net.sink_of(1), net.sink_of(0)
    into_lab = net.edge_dst == lab_sink
    home = {names[s] for s in net.edge_src[into_lab & (net.edge_kind == HOME_COMPUTE)]}
    cloud = {names[s]: c for s, c in zip(net.edge_src[into_lab & (net.edge_kind == CLOUD)],
                                        net.edge_capacity[into_lab & (net.edge_kind == CLOUD)])}
    assert home == {"A:compute:lab"}
    assert cloud == pytest.approx({"A:compute": 0.4, "B:compute": 0.5})
    # The country actor still uses all compute in its territory, the lab's included.
    assert {names[s] for s in net.edge_src[(net.edge_dst == a_sink) & (net.edge_kind == HOME_COMPUTE)]} == {
        "A:compute", "A:compute:lab"}
    assert net.firms_of(1) == (0,) and net.firms_of(0) == ()
    assert set(names[net.actor_nodes(1)]) == {"A:compute:lab", "sink:LAB"}
    assert "A:chips" in set(names[net.actor_nodes(0)]) and "sink:LAB" not in set(names[net.actor_nodes(0)])


def test_controls_aimed_at_a_firm_actor_close_the_routes_into_its_own_nodes():
    """An export control of chips from A to the firm actor closes the chips route into the lab's
    cluster only (an entity listing, wherever the firm is); a compute exclusion by A closes A's
    compute into its sink, its own cluster's included; the country actor keeps every route."""
    from graph.network import compute_exclusion_routes, export_control_routes

    net = _firm_actor_network()
    names = np.array(net.node_names)
    export = export_control_routes(net, 0, 0, 1)
    assert {(names[s], names[d]) for s, d in zip(net.edge_src[export], net.edge_dst[export])} == {
        ("A:chips", "A:compute:lab")}
    excluded = compute_exclusion_routes(net, 0, 1)
    assert {(names[s], names[d]) for s, d in zip(net.edge_src[excluded], net.edge_dst[excluded])} == {
        ("A:compute", "sink:LAB"), ("A:compute:lab", "sink:LAB")}


def test_actor_firms_are_validated():
    with pytest.raises(ValueError, match="one firm list per actor"):
        _firm_actor_network(actor_firms=[[0]])
    with pytest.raises(ValueError, match="actor_firms indices out of range"):
        _firm_actor_network(actor_firms=[[], [3]])
