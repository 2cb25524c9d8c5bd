"""Figures marginal to the baseline of controls in force: single-control leverage, the
capability table, the best placement and the chokepoint metrics on the network the baseline
leaves, re-derived with the independent scipy LP on the baseline's closed routes; without a
baseline the functions give exactly what they gave before."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chokepoint.analyses.chokepoints import capability_table, chokepoint_analysis, control_leverage_table
from chokepoint.analyses.placements import catalogue_arrays, placement_models
from chokepoint.model.controls import control_route_masks
from optimization.capability import CapabilityModel
from tests.support.oracles import plain_capability
from tests.support.status_quo import status_quo_setup


@pytest.fixture(scope="module")
def setup(reference):
    return status_quo_setup(reference)


def test_single_control_leverage_is_marginal(setup):
    full, network, baseline, capability = setup
    # A slice of the catalogue keeps three tables of LPs short; the slice holds controls on CHN.
    scenario = dataclasses.replace(full, controls=full.controls[:8], placements=())
    masks = control_route_masks(network, scenario)
    plain = control_leverage_table(network, scenario, capability, masks)
    again = control_leverage_table(network, scenario, capability, masks, baseline_closed=None)
    # Without a baseline: the same table (up to LP round-off, which differs between re-solves).
    noise = ["duality_gap", "max_residual"]
    assert_frame_equal(plain.drop(noise), again.drop(noise), check_exact=False, rtol=1e-7, atol=1e-6)
    marginal = control_leverage_table(network, scenario, capability, masks, baseline_closed=baseline.closed)
    rows = marginal.filter(pl.col("defector") == "CHN").sort("control_id").head(6)
    sink = network.sink_of(network.actors.index("CHN"))
    before = plain_capability(network, sink, baseline.closed)
    for row in rows.iter_rows(named=True):
        after = plain_capability(network, sink, baseline.closed | masks[row["control_id"]])
        assert row["capability_before"] == pytest.approx(before, rel=1e-6)
        assert row["capability_after"] == pytest.approx(after, rel=1e-6)
        assert row["leverage"] == pytest.approx(max(before - after, 0) / before, abs=1e-6)


def test_best_placement_is_marginal_and_reproduced(setup):
    scenario, network, baseline, capability = setup
    models = placement_models(network, scenario, solver="HIGHS", time_limit=60, capability=capability, joint=False,
                              baseline_closed=baseline.closed)
    result = models["RUS"].solve(scenario.settings.budget)
    assert result.optimal
    catalogue = catalogue_arrays(network, scenario)
    closed = baseline.closed | catalogue.closes[result.chosen].any(axis=0)
    sink = network.sink_of(network.actors.index("RUS"))
    before = plain_capability(network, sink, baseline.closed)
    assert result.capability_before[0] == pytest.approx(before, rel=1e-6)
    assert result.capability_after[0] == pytest.approx(plain_capability(network, sink, closed), rel=1e-6)
    # Adding the baseline never lowers a defector's remaining capability below the plain model's.
    plain = placement_models(network, scenario, solver="HIGHS", time_limit=60, capability=capability,
                             joint=False)["RUS"]
    assert plain.baseline[0] >= result.capability_before[0] - 1e-6
    assert np.all(models["RUS"].collateral[baseline.closed] == 0)


def test_capability_table_is_marginal(setup, reference):
    full, network, baseline, capability = setup
    scenario = dataclasses.replace(full, controls=full.controls[:6], placements=())
    masks = control_route_masks(network, scenario)
    leverage = control_leverage_table(network, scenario, capability, masks, baseline_closed=baseline.closed)
    table = capability_table(network, scenario, capability, leverage, baseline_closed=baseline.closed)
    plain = capability_table(network, scenario, capability,
                             control_leverage_table(network, scenario, capability, masks))
    bites = 0
    for row, before in zip(table.iter_rows(named=True), plain.iter_rows(named=True)):
        sink = network.sink_of(network.actors.index(row["actor"]))
        in_force = plain_capability(network, sink, baseline.closed)
        assert row["capability_before"] == pytest.approx(in_force, rel=1e-6, abs=1e-6)
        assert before["capability_before"] == pytest.approx(plain_capability(network, sink, np.zeros_like(baseline.closed)),
                                                            rel=1e-6, abs=1e-6)
        bites += row["capability_before"] < before["capability_before"] * (1 - 1e-6)
        if row["best_control"]:
            after = plain_capability(network, sink, baseline.closed | masks[row["best_control"]])
            assert row["capability_after"] == pytest.approx(after, rel=1e-6, abs=1e-6)
            assert row["leverage"] == pytest.approx(1 - after / in_force, abs=1e-6)
    assert bites, "the controls in force cost some actor attainable compute"


def test_chokepoints_on_the_network_in_force_are_marginal(setup, reference):
    """Removal losses computed on the network the baseline leaves equal
    (C(x0) − C(x0 ∪ entity's routes)) / C(x0) by the independent LP on the whole network."""
    scenario, network, baseline, _ = setup
    in_force = baseline.in_force(network)
    assert in_force.num_edges == network.num_edges - int(baseline.closed.sum()) < network.num_edges
    run = chokepoint_analysis(in_force, scenario, reference.capacities,
                              CapabilityModel(in_force, solver="HIGHS", time_limit=60))
    sink = network.sink_of(network.actors.index("CHN"))
    before = plain_capability(network, sink, baseline.closed)
    rows = run.table.filter((pl.col("defector") == "CHN") & (pl.col("metric") == "removal_loss")
                            & pl.col("entity_type").is_in(["node", "country"]) & (pl.col("value") > 0))
    assert rows.height >= 5
    nothing = np.zeros_like(baseline.closed)
    differs = 0
    for entity_type, entity, value in rows.select("entity_type", "entity", "value").head(10).iter_rows():
        if entity_type == "node":
            routes = network.edge_src == network.node_names.index(entity)
        else:
            routes = network.node_country[network.edge_src] == network.countries.index(entity)
        after = plain_capability(network, sink, baseline.closed | routes)
        assert value == pytest.approx((before - after) / before, abs=1e-6), entity
        # From a world without controls the same removal would read differently where the baseline bites.
        plain = 1 - plain_capability(network, sink, routes) / plain_capability(network, sink, nothing)
        differs += abs(plain - value) > 1e-6
    assert differs
