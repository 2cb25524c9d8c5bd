"""Retaliation on the status_quo scenario: the counter-catalogue follows the data, the best
counter-placement equals brute force over every affordable counter-placement (independent
scipy LP), counter-chokepoint losses match the plain LP, more retaliation options never lower
the coalition's loss, and the credibility verdict and game follow their definitions."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.placements import catalogue_arrays
from chokepoint.analyses.retaliation import counter_catalogue, counter_chokepoints_table, retaliation_analysis
from chokepoint.inputs.scenario import load_scenario
from graph.network import PRODUCER
from tests.conftest import DATA
from tests.support.oracles import plain_capability
from tests.support.status_quo import status_quo_setup


#: A smaller coalition keeps the brute force short: two signatories, the status_quo defectors.
KEEP = {"USA", "JPN", "CHN", "RUS", "ARE"}


@pytest.fixture(scope="module")
def setup(reference):
    full = load_scenario(DATA / "scenarios" / "status_quo.toml")
    actors = tuple(a for a in full.actors if a.id in KEEP)
    signatory_countries = {m for a in actors if a.signatory for m in a.members}
    scenario = dataclasses.replace(full, actors=actors, placements=(), controls=tuple(
        c for c in full.controls if c.destination in KEEP and c.jurisdiction in signatory_countries))
    return status_quo_setup(reference, scenario)


def _deterrence_rows(scenario, placements: dict[str, list[str]]) -> pl.DataFrame:
    """Rows shaped like analytics.deterrence for the given placements (leverage 0.5 each)."""
    rows = []
    for name, controls in placements.items():
        for actor in scenario.actors:
            rows.append({"placement": name, "placement_kind": "analyst", "controls": controls, "placement_cost": 1.0,
                         "within_budget": True, "actor": actor.id, "candidate_defector": actor.candidate_defector,
                         "leverage": 0.5, "margin": 0.0})
    return pl.DataFrame(rows)


def test_catalogue_follows_shares(setup):
    scenario, network, _, _ = setup
    producer = network.node_kind == PRODUCER
    world = np.bincount(network.node_input[producer], weights=network.node_capacity[producer],
                        minlength=len(network.inputs))
    for defector in scenario.defectors:
        catalogue = counter_catalogue(network, scenario, defector.id)
        members = [network.countries.index(c) for c in defector.members]
        own = producer & np.isin(network.node_country, members)
        held = np.bincount(network.node_input[own], weights=network.node_capacity[own], minlength=len(network.inputs))
        dominated = {k for i, k in enumerate(network.inputs)
                     if world[i] > 0 and held[i] / world[i] >= scenario.retaliation.share_threshold
                     and k != "datacenter_compute"}
        withheld = {k for k in catalogue.inputs if k != "clouds"}
        assert withheld <= dominated
        # Every dominated input with a route into the coalition is in the catalogue.
        for p, k in enumerate(catalogue.inputs):
            src = network.edge_src[catalogue.closes[p]]
            assert np.isin(network.node_country[src], members).all()
        assert (catalogue.cost == scenario.retaliation.control_cost).all()
    china = counter_catalogue(network, scenario, "CHN")
    assert {"gallium", "rare_earth_separation", "permanent_magnets"} <= set(china.inputs)


def test_counter_chokepoints_match_plain_lp(setup):
    scenario, network, baseline, capability = setup
    frame = counter_chokepoints_table(network, scenario, baseline, capability=capability)
    catalogue = counter_catalogue(network, scenario, "CHN")
    for row in frame.filter(pl.col("defector") == "CHN").iter_rows(named=True):
        sink = network.sink_of(network.actors.index(row["signatory"]))
        p = catalogue.ids.index(row["counter_control"])
        before = plain_capability(network, sink, baseline.closed)
        after = plain_capability(network, sink, baseline.closed | catalogue.closes[p])
        assert row["loss"] == pytest.approx(max(before - after, 0) / before, abs=1e-6)
    assert frame["loss"].is_between(0, 1).all()


def test_chip_output_losses_match_plain_lp_by_hand_weights(setup, reference):
    scenario, network, baseline, capability = setup
    chip_inputs = tuple(reference.input_types.filter(pl.col("stage") == "fabrication")["input_id"])
    frame = counter_chokepoints_table(network, scenario, baseline, capability=capability, chip_inputs=chip_inputs)
    catalogue = counter_catalogue(network, scenario, "CHN")
    producer = network.node_kind == PRODUCER
    checked = 0
    for row in frame.filter(pl.col("defector") == "CHN").iter_rows(named=True):
        members = [network.countries.index(c) for c in scenario.actor(row["signatory"]).members]
        # Weights written out again: 1 / the signatory's capacity of each fabrication type it makes.
        weights, types = np.zeros(network.num_nodes), 0
        for name in chip_inputs:
            own = producer & (network.node_input == network.inputs.index(name)) & np.isin(network.node_country, members)
            if network.node_capacity[own].sum() > 0:
                weights[own] = 1.0 / network.node_capacity[own].sum()
                types += 1
        if not types:
            assert row["chip_output_before"] is None and row["chip_output_loss"] is None
            continue
        p = catalogue.ids.index(row["counter_control"])
        before = plain_capability(network, None, baseline.closed, weights) / types
        after = plain_capability(network, None, baseline.closed | catalogue.closes[p], weights) / types
        assert row["chip_output_before"] == pytest.approx(before, abs=1e-7)
        assert row["chip_output_after"] == pytest.approx(after, abs=1e-7)
        assert row["chip_output_loss"] == pytest.approx(max(before - after, 0) / before if before else 0, abs=1e-6)
        checked += 1
    assert checked, "some signatory makes chips"
    assert frame.filter(pl.col("chip_output_before").is_not_null())["chip_output_before"].le(1 + 1e-9).all()


def test_best_retaliation_equals_brute_force_and_is_monotone(setup):
    scenario, network, baseline, capability = setup
    placements = {"tools": ["usa-etch-chn", "usa-deposition-chn"]}
    analysis = retaliation_analysis(network, scenario, baseline, _deterrence_rows(scenario, placements),
                                    capability=capability, solver="HIGHS", time_limit=60)
    frame = analysis.retaliation.filter(pl.col("defector") == "CHN")
    catalogue = counter_catalogue(network, scenario, "CHN")
    signatories = [(a.id, network.sink_of(network.actors.index(a.id))) for a in scenario.actors if a.signatory]
    controls = {c.id: i for i, c in enumerate(scenario.controls)}
    closes = catalogue_arrays(network, scenario).closes
    for name, chosen in placements.items():
        closed = baseline.closed.copy()
        for c in chosen:
            closed |= closes[controls[c]]
        before = {s: plain_capability(network, sink, closed) for s, sink in signatories}
        best = 0.0
        affordable = int(scenario.retaliation.budget // scenario.retaliation.control_cost)
        # Closing more routes never raises a capability, so the largest affordable subsets suffice.
        size = min(affordable, len(catalogue.ids))
        for r in (size,):
            for subset in itertools.combinations(range(len(catalogue.ids)), r):
                shut = closed | (catalogue.closes[list(subset)].any(axis=0) if subset else False)
                losses = [(before[s] - plain_capability(network, sink, shut)) / before[s]
                          for s, sink in signatories if before[s] > 0]
                best = max(best, float(np.mean(losses)))
        rows = frame.filter(pl.col("placement") == name)
        assert rows["optimal"].all() and best > 0     # a retaliation that bites: the comparison is not vacuous
        assert rows["coalition_loss"][0] == pytest.approx(best, abs=1e-6)
        expected = rows["detection_probability"][0] * rows["coalition_loss"][0]
        assert rows["credible"][0] == (expected <= scenario.retaliation.tolerance + 1e-9)
    # A smaller budget (fewer options) never raises the coalition's loss.
    small = dataclasses.replace(scenario, retaliation=dataclasses.replace(scenario.retaliation, budget=1.0))
    fewer = retaliation_analysis(network, small, baseline, _deterrence_rows(small, placements),
                                 capability=capability, solver="HIGHS", time_limit=60).retaliation
    joined = fewer.join(analysis.retaliation, on=["placement", "defector", "signatory"], suffix="_more")
    assert (joined["coalition_loss"] <= joined["coalition_loss_more"] + 1e-9).all()
    # More options never raise the defector's margin with retaliation.
    assert (joined["margin_with_retaliation_more"] <= joined["margin_with_retaliation"] + 1e-9).all()


def test_game_with_retaliation_zeroes_non_credible_leverage(setup):
    scenario, network, baseline, capability = setup
    strict = dataclasses.replace(scenario, retaliation=dataclasses.replace(scenario.retaliation, tolerance=0.0))
    analysis = retaliation_analysis(network, strict, baseline, _deterrence_rows(strict, {"none": []}),
                                    capability=capability, solver="HIGHS", time_limit=60)
    verdicts = analysis.retaliation.group_by("defector").agg(pl.col("credible").first(),
                                                             pl.col("coalition_loss").first(),
                                                             pl.col("margin_with_retaliation").first())
    for row in verdicts.iter_rows(named=True):
        actor = strict.actor(row["defector"])
        assert row["credible"] == (row["coalition_loss"] * actor.detection_probability <= 1e-9)
        leverage = 0.5 if row["credible"] else 0.0
        assert row["margin_with_retaliation"] == pytest.approx(
            actor.detection_probability * actor.value_of_capability * leverage + actor.benefit_of_compliance
            - actor.first_mover_gain)
    assert set(analysis.equilibria["retaliation"]) == {"with", "without"}
