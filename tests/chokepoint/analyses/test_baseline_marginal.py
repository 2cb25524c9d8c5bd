"""Figures marginal to the baseline of controls in force: single-control leverage and the best
placement re-derived with the independent scipy LP on the baseline's closed routes; without a
baseline the functions give exactly what they gave before."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chokepoint.analyses.chokepoints import control_leverage_table
from chokepoint.analyses.placements import catalogue_arrays, placement_models
from chokepoint.model.controls import control_route_masks
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
