"""Placements on the scenario: collateral, catalogue checks, the optimal placements and the
leverage curve against direct solves and brute force. (The assets, their checks, tables and
the summary block: tests/pipeline/test_placement_assets.py.)"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from chokepoint.errors import InputError
from chokepoint.model.build import network_from_tables
from chokepoint.analyses.placements import (
    JOINT,
    catalogue_arrays,
    collateral_weights,
    placement_models,
)
from graph.network import CLOUD, TRANSIT
from optimization.interdiction_heuristic import heuristic_placement

@pytest.fixture(scope="module")
def network(reference, scenario):
    return network_from_tables(reference.countries, reference.input_types, reference.recipes,
                               reference.capacities, scenario)


@pytest.fixture(scope="module")
def models(network, scenario):
    return placement_models(network, scenario, solver="HIGHS", time_limit=60)


# --------------------------------------------------------------------- collateral and catalogue
def test_collateral_is_trade_at_risk_of_signatory_suppliers(network, scenario):
    weights = collateral_weights(network, scenario)
    assert (weights >= 0).all() and (weights <= 1).all()
    # Re-exports from non-signatory hubs cost signatories nothing unless they feed a signatory's sink.
    signatory_sinks = [network.sink_of(network.actors.index(a.id)) for a in scenario.actors if a.signatory]
    from_hubs = (network.node_kind[network.edge_src] == TRANSIT) & ~np.isin(network.edge_dst, signatory_sinks)
    assert from_hubs.any() and (weights[from_hubs] == 0).all()
    # By hand: the USA → CHN cloud route carries at most 10 % of US compute
    # (cloud_access_fraction), so its weight is 0.1 × US share of world compute.
    chn = network.actors.index("CHN")
    usa = network.countries.index("USA")
    cloud = np.flatnonzero((network.edge_kind == CLOUD) & (network.node_actor[network.edge_dst] == chn)
                           & (network.node_country[network.edge_src] == usa))
    assert cloud.size == 1
    compute = network.inputs.index("datacenter_compute")
    producers = (network.node_kind == 0) & (network.node_input == compute)
    us_share = network.node_capacity[network.edge_src[cloud[0]]] / network.node_capacity[producers].sum()
    assert weights[cloud[0]] == pytest.approx(scenario.settings.cloud_access_fraction * us_share)


def test_only_signatories_place_controls(network, scenario):
    bad = dataclasses.replace(scenario.controls[0], jurisdiction="CHN")
    rogue = dataclasses.replace(scenario, controls=(bad, *scenario.controls[1:]))
    with pytest.raises(InputError, match="not a signatory"):
        catalogue_arrays(network, rogue)


def test_catalogue_masks_match_controls(network, scenario):
    catalogue = catalogue_arrays(network, scenario)
    assert catalogue.closes.shape == (len(scenario.controls), network.num_edges)
    assert catalogue.closes.any(axis=1).all(), "every catalogue control closes at least one route"
    assert catalogue.cost.tolist() == [c.cost for c in scenario.controls]


# --------------------------------------------------------------------- models on the reference data
def test_each_defector_placement_is_proven_optimal_and_beats_every_single_control(network, scenario, models):
    budget = scenario.settings.budget
    for target, model in models.items():
        result = model.solve(budget)
        assert result.optimal and result.gap <= 1e-6
        assert result.cost <= budget + 1e-9 and result.collateral <= scenario.settings.collateral_cap + 1e-9
        for p in np.flatnonzero(model.cost <= budget):
            alone = np.zeros(model.num_controls, dtype=bool)
            alone[p] = True
            if model.feasible(alone, budget):
                assert result.objective <= model.evaluate(alone)[0] + 1e-9, (target, p)


def test_heuristic_on_reference_data_is_bracketed_by_the_milp(scenario, models):
    exact = models["CHN"].solve(scenario.settings.budget)
    heuristic = heuristic_placement(models["CHN"], scenario.settings.budget, time_limit=60)
    assert heuristic.bound <= exact.objective + 1e-9 <= heuristic.objective + 2e-9


def test_leverage_curve_matches_direct_solves_between_breakpoints(scenario, models):
    """The frontier is a step function: at any budget the best objective equals that of the
    last point at or below it (direct MILP solves at midpoints and just below points)."""
    from optimization.frontier import leverage_frontier

    model = models["RUS"]
    points = leverage_frontier(model)
    budgets = [p.budget for p in points]
    assert budgets == sorted(budgets) and budgets[0] == 0.0
    probes = [b - 1e-3 for b in budgets[1:]] + [(a + b) / 2 for a, b in zip(budgets, budgets[1:])]
    probes.append(budgets[-1] + 1.0)
    for probe in probes:
        expected = [p for p in points if p.budget <= probe + 1e-12][-1].placement.objective
        assert model.solve(probe).objective == pytest.approx(expected, abs=1e-7), probe


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 8,584 placements × independent LPs on the firm-level network: 1,427 s alone
def test_reference_placements_equal_brute_force(network, scenario, models):
    """Every placement of the 22-control catalogue within budget 4 (8,584 of them), each
    evaluated with an independent LP (the capability LP written out from its definition
    for scipy's linprog, tests/support/oracles.py, not the models' own ``evaluate``): the
    MILP optimum of each defector and of the joint placement is the best of them. The
    routes each control closes come from the catalogue (tested route by route in
    tests/chokepoint/model/test_controls.py), collateral from the scenario's weights."""
    import itertools

    from tests.support.oracles import PlainLP

    budget, cap = scenario.settings.budget, scenario.settings.collateral_cap
    catalogue = catalogue_arrays(network, scenario)
    collateral = collateral_weights(network, scenario)
    lp = PlainLP(network)
    sinks = {d.id: network.sink_of(network.actors.index(d.id)) for d in scenario.defectors}
    nothing = np.zeros(network.num_edges, bool)
    baseline = {d: lp.value(s, nothing) for d, s in sinks.items()}
    p = len(catalogue.cost)
    best = {target: math.inf for target in models}
    for k in range(p + 1):
        for subset in itertools.combinations(range(p), k):
            if catalogue.cost[list(subset)].sum() > budget + 1e-9:
                continue
            closed = catalogue.closes[list(subset)].any(axis=0) if subset else nothing
            if collateral[closed].sum() > cap + 1e-9:
                continue
            shares = {d: lp.value(s, closed) / baseline[d] for d, s in sinks.items() if baseline[d] > 0}
            for target in models:
                value = float(np.mean(list(shares.values()))) if target == JOINT else shares.get(target, 0.0)
                best[target] = min(best[target], value)
    for target, model in models.items():
        assert model.aggregate == "mean" and model.solve(budget).objective == pytest.approx(best[target], abs=1e-7), \
            target
