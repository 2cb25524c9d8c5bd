"""Which routes each control closes (``control_route_masks``), route by route.

Every placement, leverage figure and deterrence verdict rests on these masks, so each
control kind is checked on a hand-built network where every route is named and the
closed set is written down by hand (including the routes that look alike but must stay
open), and every control of the shipped scenarios is checked against the documented rule
evaluated route by route on the reference network.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from chokepoint.inputs.scenario import Control, load_scenario
from chokepoint.model.build import network_from_tables
from chokepoint.model.controls import control_route_masks
from graph.network import PRODUCER, SINK, TRANSIT, SupplyNetwork
from tests.conftest import DATA

COUNTRIES = ("A", "B", "D", "E", "H")          # A: a signatory; B: a transit hub; D+H: actor D; E: actor E
INPUTS = ("tool", "chip", "compute")
NODES = [  # name, kind, country, input, actor
    ("A tool", PRODUCER, "A", "tool", None), ("A chip", PRODUCER, "A", "chip", None),
    ("B chip", PRODUCER, "B", "chip", None), ("B hub chip", TRANSIT, "B", "chip", None),
    ("B hub tool", TRANSIT, "B", "tool", None), ("D chip", PRODUCER, "D", "chip", None),
    ("H chip", PRODUCER, "H", "chip", None), ("E chip", PRODUCER, "E", "chip", None),
    ("A compute", PRODUCER, "A", "compute", None), ("D compute", PRODUCER, "D", "compute", None),
    ("E compute", PRODUCER, "E", "compute", None),
    ("sink D", SINK, None, None, "D"), ("sink E", SINK, None, None, "E"),
]
NEEDS = {"chip": "tool", "compute": "chip"}     # a producer of X needs NEEDS[X]; a sink needs compute
ROUTES = [  # src, dst (the input carried is what src makes)
    ("A tool", "D chip"), ("A tool", "H chip"), ("A tool", "E chip"), ("A tool", "A chip"), ("A tool", "B chip"),
    ("A tool", "B hub tool"), ("B hub tool", "D chip"), ("B hub tool", "E chip"),
    ("A chip", "D compute"), ("A chip", "A compute"), ("A chip", "B hub chip"), ("B hub chip", "D compute"),
    ("B hub chip", "E compute"), ("B chip", "D compute"), ("D chip", "D compute"), ("H chip", "D compute"),
    ("E chip", "E compute"),
    ("A compute", "sink D"), ("A compute", "sink E"), ("D compute", "sink D"), ("E compute", "sink D"),
    ("E compute", "sink E"),
]


@pytest.fixture(scope="module")
def network() -> SupplyNetwork:
    names = [n[0] for n in NODES]
    index = {name: i for i, name in enumerate(names)}
    country = {c: i for i, c in enumerate(COUNTRIES)}
    inputs = {k: i for i, k in enumerate(INPUTS)}
    actors = ("D", "E")
    src = np.array([index[s] for s, _ in ROUTES])
    dst = np.array([index[d] for _, d in ROUTES])
    carried = np.array([inputs[NODES[s][3]] for s in src], dtype=np.int32)
    req_node, req_input = [], []
    for i, (_, kind, _, made, _) in enumerate(NODES):
        need = "compute" if kind == SINK else NEEDS.get(made) if kind == PRODUCER else made
        if need:
            req_node.append(i)
            req_input.append(inputs[need])
    built = SupplyNetwork(
        node_kind=np.array([n[1] for n in NODES], dtype=np.int8),
        node_country=np.array([country[n[2]] if n[2] else -1 for n in NODES], dtype=np.int32),
        node_input=np.array([inputs[n[3]] if n[3] else -1 for n in NODES], dtype=np.int32),
        node_actor=np.array([actors.index(n[4]) if n[4] else -1 for n in NODES], dtype=np.int32),
        node_capacity=np.where(np.array([n[1] for n in NODES]) == SINK, np.inf, 10.0),
        edge_src=src.astype(np.int64), edge_dst=dst.astype(np.int64), edge_input=carried,
        edge_capacity=np.full(len(ROUTES), np.inf), edge_kind=np.zeros(len(ROUTES), dtype=np.int8),
        req_node=np.array(req_node, dtype=np.int64), req_input=np.array(req_input, dtype=np.int32),
        req_coefficient=np.ones(len(req_node)), countries=COUNTRIES, inputs=INPUTS, actors=actors,
        actor_members=((country["D"], country["H"]), (country["E"],)), node_names=tuple(names))
    built.validate()
    return built


def closed_routes(network, control: Control) -> set[tuple[str, str]]:
    mask = control_route_masks(network, SimpleNamespace(controls=(control,)))[control.id]
    assert mask.dtype == bool and mask.shape == (network.num_edges,)
    return {(network.node_names[s], network.node_names[d])
            for s, d in zip(network.edge_src[mask], network.edge_dst[mask])}


@pytest.mark.parametrize(("control", "expected"), [
    # Tools from A's producers to D's buyers, in either of D's countries; not to E, not to A's
    # or B's own buyers, not the hub's re-exports (that is a secondary control).
    (Control("x", "export_control", "A", "D", 1.0, input="tool"), {("A tool", "D chip"), ("A tool", "H chip")}),
    (Control("x", "export_control", "A", "E", 1.0, input="tool"), {("A tool", "E chip")}),
    # Chips: only the direct sale; the chips sold to the hub and re-exported stay open.
    (Control("x", "export_control", "A", "D", 1.0, input="chip"), {("A chip", "D compute")}),
    # Compute: the destination actor's sink counts as a buyer in the destination.
    (Control("x", "export_control", "A", "D", 1.0, input="compute"), {("A compute", "sink D")}),
    # No route of that input from that jurisdiction to that destination: nothing closes.
    (Control("x", "export_control", "B", "D", 1.0, input="tool"), set()),
    (Control("x", "export_control", "B", "D", 1.0, input="chip"), {("B chip", "D compute")}),
])
def test_export_control_closes_exactly_the_direct_sales(network, control, expected):
    assert closed_routes(network, control) == expected


@pytest.mark.parametrize(("control", "expected"), [
    # Compute in A into D's sink; not A's compute for E, not D's own clusters, not E's clusters.
    (Control("x", "compute_exclusion", "A", "D", 1.0), {("A compute", "sink D")}),
    (Control("x", "compute_exclusion", "A", "E", 1.0), {("A compute", "sink E")}),
    (Control("x", "compute_exclusion", "E", "D", 1.0), {("E compute", "sink D")}),
    # B hosts no cluster: nothing closes.
    (Control("x", "compute_exclusion", "B", "D", 1.0), set()),
])
def test_compute_exclusion_closes_exactly_the_cloud_routes(network, control, expected):
    assert closed_routes(network, control) == expected


@pytest.mark.parametrize(("control", "expected"), [
    # Re-exports of chips through B's hub to D; not B's own chips (a producer, not the hub),
    # not the hub's re-exports to E, not the chips going into the hub.
    (Control("x", "secondary_control", "A", "D", 1.0, input="chip", transit="B"), {("B hub chip", "D compute")}),
    (Control("x", "secondary_control", "A", "D", 1.0, input="tool", transit="B"), {("B hub tool", "D chip")}),
    (Control("x", "secondary_control", "A", "E", 1.0, input="tool", transit="B"), {("B hub tool", "E chip")}),
    (Control("x", "secondary_control", "A", "E", 1.0, input="compute", transit="B"), set()),
])
def test_secondary_control_closes_exactly_the_re_exports(network, control, expected):
    assert closed_routes(network, control) == expected


def test_every_control_of_a_catalogue_gets_its_own_mask(network):
    controls = (Control("tools", "export_control", "A", "D", 1.0, input="tool"),
                Control("cloud", "compute_exclusion", "A", "D", 2.0),
                Control("hub", "secondary_control", "A", "D", 1.0, input="chip", transit="B"))
    masks = control_route_masks(network, SimpleNamespace(controls=controls))
    assert list(masks) == ["tools", "cloud", "hub"]
    assert [int(m.sum()) for m in masks.values()] == [2, 1, 1]
    assert not (masks["tools"] & masks["cloud"]).any() and not (masks["cloud"] & masks["hub"]).any()


def _rule_mask(network, control) -> np.ndarray:
    """The documented rule for every route, written out plainly with names, one route at a
    time (the network's arrays read once as Python lists)."""
    name = network.countries
    country = [name[c] if c >= 0 else None for c in network.node_country.tolist()]
    kind, node_actor = network.node_kind.tolist(), network.node_actor.tolist()
    actor = network.actors.index(control.destination)
    members = {name[m] for m in network.actor_members[actor]}

    def closes(src: int, dst: int, carried: str) -> bool:
        to_destination = country[dst] in members or node_actor[dst] == actor
        if control.kind == "export_control":
            return (kind[src] == PRODUCER and country[src] == control.jurisdiction and to_destination
                    and carried == control.input)
        if control.kind == "compute_exclusion":
            return kind[src] == PRODUCER and country[src] == control.jurisdiction and node_actor[dst] == actor
        assert control.kind == "secondary_control"
        return (kind[src] == TRANSIT and country[src] == control.transit and to_destination
                and carried == control.input)

    return np.array([closes(src, dst, network.inputs[k]) for src, dst, k in
                     zip(network.edge_src.tolist(), network.edge_dst.tolist(), network.edge_input.tolist())],
                    dtype=bool)


@pytest.mark.parametrize("key", ["default", "narrow", "broad"])
def test_every_shipped_control_closes_what_its_rule_says_route_by_route(reference, key):
    scenario = load_scenario(DATA / "scenarios" / f"{key}.toml")
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    masks = control_route_masks(network, scenario)
    assert list(masks) == [c.id for c in scenario.controls]
    kinds = set()
    for control in scenario.controls:
        expected = _rule_mask(network, control)
        assert np.array_equal(masks[control.id], expected), control.id
        if key == "default":
            assert expected.any(), f"{control.id} closes nothing"
        kinds.add(control.kind)
        if control.kind == "compute_exclusion":
            # Into the destination's sink only, and only compute (cloud) routes reach a sink.
            assert set(network.edge_input[expected]) <= {network.inputs.index("datacenter_compute")}
    if key == "default":
        assert kinds == {"export_control", "compute_exclusion", "secondary_control"}


def test_masks_of_some_controls_are_the_catalogues_masks_of_those_controls(reference):
    """``controls=``: only those controls are masked, each exactly as in the whole catalogue
    (the sensitivity's scaled networks need only the placement's own)."""
    scenario = load_scenario(DATA / "scenarios" / "default.toml")
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    every = control_route_masks(network, scenario)
    some = scenario.controls[1::3]
    masks = control_route_masks(network, scenario, controls=some)
    assert list(masks) == [c.id for c in some]
    for control in some:
        assert np.array_equal(masks[control.id], every[control.id]), control.id
