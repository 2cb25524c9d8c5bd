"""Controls that target entities (chokepoint.model.controls): entity listings and
foreign-direct-product rules, route by route on the firm-level toy network of
``test_horizons``, and placed by the interdiction MILP against brute force in both horizons."""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from chokepoint.inputs.scenario import Control
from chokepoint.model.controls import (control_route_masks, entity_routes, foreign_direct_product_routes, made_with,
                                       tool_origin)
from chokepoint.model.build import fdp_tool_inputs, horizon_networks
from chokepoint.model.horizons import short_run_network
from graph.network import export_control_routes
from optimization.interdiction import InterdictionModel
from tests.chokepoint.model.test_horizons import INPUTS, _toy, independent_capability


def _routes(network, mask) -> set[tuple[str, str]]:
    names = network.node_names
    return {(names[network.edge_src[e]], names[network.edge_dst[e]]) for e in np.flatnonzero(mask)}


def test_an_entity_listing_closes_one_input_into_every_node_of_the_firm():
    network, _ = _toy()
    huawei = network.firms.index("huawei")
    closed = _routes(network, entity_routes(network, huawei, INPUTS.index("fab")))
    # Huawei's accelerators take wafers from every foundry in the long run; all of them close,
    # and nothing else (Nvidia's wafers, Huawei's HBM).
    assert closed == {(f, "CHN:accel:huawei") for f in ("TWN:fab:tsmc", "KOR:fab:samsung", "CHN:fab:smic")}
    assert not _routes(network, entity_routes(network, network.firms.index("jsr"), INPUTS.index("fab")))


def test_made_with_follows_the_tools_down_the_chain():
    network, _ = _toy()
    tainted = made_with(network, network.countries.index("NLD"), tool_inputs=("tools",))
    names = network.node_names
    expected = {"TWN:fab:tsmc", "KOR:fab:samsung", "CHN:fab:smic",          # ASML tools
                "TWN:accel:nvidia", "CHN:accel:huawei",                       # their wafers
                "USA:compute", "CHN:compute"}                                 # and the chips
    assert {names[i] for i in np.flatnonzero(tainted)} == expected
    # Nobody uses Japanese tools: nothing is tainted by Japan's.
    assert not made_with(network, network.countries.index("JPN"), tool_inputs=("tools",)).any()


def test_foreign_direct_product_rule_closes_tainted_supply_into_the_destination_or_the_firm():
    network, _ = _toy()
    nld, fab = network.countries.index("NLD"), INPUTS.index("fab")
    tainted = made_with(network, nld, tool_inputs=("tools",))
    into_chn = _routes(network, foreign_direct_product_routes(network, tainted, nld, fab, network.actors.index("CHN"),
                                                              None))
    # Wafers made with Dutch tools into China's nodes: every foundry's wafers to Huawei.
    assert into_chn == {(f, "CHN:accel:huawei") for f in ("TWN:fab:tsmc", "KOR:fab:samsung", "CHN:fab:smic")}
    accel = INPUTS.index("accel")
    into_huawei = _routes(network, foreign_direct_product_routes(network, tainted, nld, accel, None,
                                                                 network.firms.index("huawei")))
    assert into_huawei == set()     # Huawei buys no accelerators; it makes them
    to_usa = _routes(network, foreign_direct_product_routes(network, tainted, nld, accel,
                                                            network.actors.index("USA"), None))
    assert to_usa == {("TWN:accel:nvidia", "USA:compute"), ("CHN:accel:huawei", "USA:compute")}


@pytest.mark.parametrize("enumeration_limit", [0, 1_000], ids=["milp", "exhaustion"])
@pytest.mark.parametrize("horizon", ["long_run", "short_run"])
def test_entity_and_fdp_controls_placed_by_the_milp_equal_brute_force(horizon, enumeration_limit):
    network, rules = _toy()
    net = network if horizon == "long_run" else short_run_network(network, rules, INPUTS.index("compute")).network
    nld = network.countries.index("NLD")
    # Taint is judged on the long-run network (the installed base) in both horizons.
    tainted = made_with(network, nld, tool_inputs=("tools",))
    chn = net.actors.index("CHN")
    closes = np.array([
        entity_routes(net, net.firms.index("huawei"), INPUTS.index("fab")),
        entity_routes(net, net.firms.index("huawei"), INPUTS.index("hbm")),
        foreign_direct_product_routes(net, tainted, nld, INPUTS.index("accel"), chn, None),
        foreign_direct_product_routes(net, tainted, nld, INPUTS.index("fab"), chn, None),
        entity_routes(net, net.firms.index("nvidia"), INPUTS.index("fab")),
    ])
    assert closes.any(axis=1).all(), "every control closes some route in this horizon"
    cost = np.array([1.0, 0.6, 1.5, 0.8, 2.0])
    sinks = [net.sink_of(chn)]
    model = InterdictionModel(net, sinks, closes, cost, time_limit=30, enumeration_limit=enumeration_limit)
    base = independent_capability(net, sinks[0])
    for budget in (0.6, 1.0, 1.6, 2.5):
        result = model.solve(budget)
        best = min(independent_capability(net, sinks[0], closes[np.array(m, bool)].any(axis=0)) / base
                   for m in itertools.product([0, 1], repeat=len(cost)) if cost[np.array(m, bool)].sum() <= budget + 1e-9)
        assert result.optimal
        assert result.objective == pytest.approx(best, abs=1e-7)


def test_tool_origin_is_made_with_for_every_country():
    network, _ = _toy()
    origin = tool_origin(network, ("tools",))
    assert origin.shape == (network.num_nodes, len(network.countries))
    for c in range(len(network.countries)):
        assert (origin[:, c] == made_with(network, c, ("tools",))).all(), network.countries[c]
    assert origin.any()


def test_a_short_run_view_keeps_the_installed_base_taint_for_fdp_masks():
    network, rules = _toy()
    recorded = dataclasses.replace(network, node_tool_origin=tool_origin(network, ("tools",)))
    short = short_run_network(recorded, rules, INPUTS.index("compute")).network
    nld = network.countries.index("NLD")
    scenario = SimpleNamespace(controls=(Control(id="nld-fdp-chn", kind="foreign_direct_product", jurisdiction="NLD",
                                                 destination="CHN", cost=1.0, input="fab"),))
    for view in (recorded, short):
        masks = control_route_masks(view, scenario)
        explicit = control_route_masks(view, scenario, tool_inputs=("tools",), installed_base=network)
        assert (masks["nld-fdp-chn"] == explicit["nld-fdp-chn"]).all()
        tainted = made_with(network, nld, ("tools",))
        expected = foreign_direct_product_routes(view, tainted, nld, INPUTS.index("fab"), view.actors.index("CHN"),
                                                 None)
        assert (masks["nld-fdp-chn"] == expected).all() and expected.any()
    # Without the recorded taint, only the jurisdiction's own products count (none here).
    bare = dataclasses.replace(short, node_tool_origin=None)
    assert not control_route_masks(bare, scenario)["nld-fdp-chn"].any()


def test_the_built_networks_record_the_installed_base_taint_of_the_equipment_and_design_stages(reference, scenario):
    tables = {"countries": reference.countries, "input_types": reference.input_types, "recipes": reference.recipes,
              "capacities": reference.capacities}
    networks = horizon_networks(tables, scenario)
    long_run, short = networks["long_run"], networks["short_run"]
    tools = tuple(reference.input_types.filter(pl.col("stage").is_in(["equipment", "design"]))["input_id"])
    assert fdp_tool_inputs(reference.input_types) == tools and "euv_lithography" in tools
    assert (long_run.node_tool_origin == tool_origin(long_run, tools)).all()
    assert (short.node_tool_origin == long_run.node_tool_origin).all()
    # A US foreign-direct-product rule on leading-edge wafers for China: routes from foundries
    # outside the US close too, because they run on US tools; nothing untainted closes.
    usa, chn = long_run.countries.index("USA"), long_run.actors.index("CHN")
    rule = Control(id="usa-fdp-wafers-chn", kind="foreign_direct_product", jurisdiction="USA", destination="CHN",
                   cost=1.0, input="leading_edge_logic_fab")
    for view in (long_run, short):
        mask = control_route_masks(view, dataclasses.replace(scenario, controls=(rule,)))[rule.id]
        origins = view.node_country[view.edge_src[mask]]
        assert (origins != usa).any()
        assert (long_run.node_tool_origin[view.edge_src[mask], usa] | (origins == usa)).all()
        assert (mask <= export_control_routes(view, usa, view.inputs.index("leading_edge_logic_fab"), chn)
                | long_run.node_tool_origin[view.edge_src, usa]).all()
