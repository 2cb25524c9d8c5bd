"""Incentive analysis on the shipped scenarios: payoff tables by hand, deter-all checked
by exact re-evaluation and local minimality, the game against its own margins,
monotonicity in p, budget and coalition, recruitment. (The partitioned assets and the
summary verdict: tests/pipeline/test_deterrence_assets.py.)"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.deterrence import SHARE_SCALING, analyse_deterrence, verdict_lines
from chokepoint.model.build import network_from_tables
from chokepoint.analyses.placements import catalogue_arrays, joint_model
from chokepoint.analyses.recruitment import candidate_recruits, recruit_controls, recruitment_table
from chokepoint.inputs.scenario import load_scenario
from optimization.games import RaceGame, pure_nash_equilibria
from pipelines.partitions import SCENARIO_PARTITIONS, scenario_keys
from tests.conftest import DATA
from tests.support.oracles import plain_capability

SCENARIOS = DATA / "scenarios"


@pytest.fixture(scope="module")
def tables(reference):
    return {"countries": reference.countries, "input_types": reference.input_types, "recipes": reference.recipes,
            "capacities": reference.capacities}


@pytest.fixture(scope="module")
def analyses(tables):
    return {key: analyse_deterrence(tables, load_scenario(SCENARIOS / f"{key}.toml")) for key in scenario_keys()}


_NETWORKS: dict = {}


def _capability_share(tables, scenario, controls, actor):
    """Remaining capability share of ``actor`` under ``controls``: the capability LP written
    out from its definition for scipy's linprog (tests/test_interdiction.py), on a network
    rebuilt from the tables, independent of the cvxpy models under test."""
    if scenario.name not in _NETWORKS:
        network = network_from_tables(tables["countries"], tables["input_types"], tables["recipes"],
                                      tables["capacities"], scenario)
        _NETWORKS[scenario.name] = (network, catalogue_arrays(network, scenario))
    network, catalogue = _NETWORKS[scenario.name]
    chosen = np.isin(np.array(catalogue.ids), list(controls))
    closed = catalogue.closes[chosen].any(axis=0) if chosen.any() else np.zeros(network.num_edges, bool)
    sink = network.sink_of(network.actors.index(actor))
    return plain_capability(network, sink, closed) / plain_capability(network, sink, np.zeros(network.num_edges, bool))


def test_every_shipped_scenario_is_a_partition():
    assert set(SCENARIO_PARTITIONS.get_partition_keys()) == {p.stem for p in SCENARIOS.glob("*.toml")}
    assert {"default", "narrow", "broad"} <= set(scenario_keys())


def test_payoff_table_matches_hand_arithmetic(analyses):
    for key, analysis in analyses.items():
        scenario = load_scenario(SCENARIOS / f"{key}.toml")
        frame = analysis.deterrence
        assert frame.height == len(scenario.actors) * len(analysis.placements)
        for row in frame.iter_rows(named=True):
            p, v, g, b, lev = (row["detection_probability"], row["value_of_capability"], row["first_mover_gain"],
                               row["benefit_of_compliance"], row["leverage"])
            assert row["margin"] == pytest.approx(p * v * lev + b - g, abs=1e-9)
            assert row["comply_payoff"] - row["defect_payoff"] == pytest.approx(row["margin"], abs=1e-9)
            assert 0.0 <= lev <= 1.0
            if not row["candidate_defector"]:
                assert lev == 0.0       # placements target candidate defectors only
            rho = scenario.game.collective_risk
            assert row["margin_if_alone"] == pytest.approx(row["margin"] + rho, abs=1e-9)
            assert row["margin_if_all_race"] >= row["margin_if_alone"] - 1e-9
            expected = ("comply" if row["margin_if_alone"] >= 0 else
                        "defect" if row["margin_if_all_race"] < 0 else "depends on others")
            assert row["dominant_strategy"] == expected
            if row["threshold_detection_probability"] is not None and lev > 0 and g > b:
                pstar = row["threshold_detection_probability"]
                assert pstar * v * lev + b - g == pytest.approx(0.0, abs=1e-6)


def test_placement_leverage_is_reproduced_by_an_independent_lp(analyses, tables):
    """Leverage in the payoff table equals an independent LP (scipy, rebuilt network)."""
    for key, analysis in analyses.items():
        scenario = load_scenario(SCENARIOS / f"{key}.toml")
        for placement in analysis.placements:
            if placement.kind == "none":
                continue
            for actor, leverage in placement.leverage.items():
                share = _capability_share(tables, scenario, placement.controls, actor)
                assert 1.0 - share == pytest.approx(leverage, abs=1e-6), (key, placement.name, actor)


def test_supply_share_sensitivity_is_reproduced_by_an_independent_lp(analyses, tables):
    """The tornado's supply-shares row: the optimal placement's leverage over a defector
    whose own capacities are scaled ×0.75 / ×1.25, against scipy's LP on a network rebuilt
    from the scaled tables."""
    checked = 0
    for key, analysis in analyses.items():
        scenario = load_scenario(SCENARIOS / f"{key}.toml")
        rows = analysis.sensitivity.filter(pl.col("parameter") == "supply_shares")
        for row in rows.iter_rows(named=True):
            actor = scenario.actor(row["actor"])
            placement = next(p for p in analysis.placements if p.name == row["placement"])
            for factor, figure in zip(SHARE_SCALING, (row["low_value"], row["high_value"]), strict=True):
                scaled = {**tables, "capacities": tables["capacities"].with_columns(
                    pl.when(pl.col("iso3").is_in(list(actor.members))).then(pl.col("capacity") * factor)
                    .otherwise(pl.col("capacity")).alias("capacity"))}
                network = network_from_tables(scaled["countries"], scaled["input_types"], scaled["recipes"],
                                              scaled["capacities"], scenario)
                catalogue = catalogue_arrays(network, scenario)
                chosen = np.isin(np.array(catalogue.ids), list(placement.controls))
                closed = catalogue.closes[chosen].any(axis=0) if chosen.any() else np.zeros(network.num_edges, bool)
                sink = network.sink_of(network.actors.index(actor.id))
                before = plain_capability(network, sink, np.zeros(network.num_edges, bool))
                after = plain_capability(network, sink, closed)
                assert figure == pytest.approx(max(before - after, 0.0) / before, abs=1e-6), (key, actor.id, factor)
                checked += 1
    assert checked >= 4


def test_deter_all_placement_deters_and_no_control_is_superfluous(analyses, tables):
    checked = 0
    for key, analysis in analyses.items():
        scenario = load_scenario(SCENARIOS / f"{key}.toml")
        rows = analysis.deter_all
        placement = next((p for p in analysis.placements if p.kind == "deter_all"), None)
        if placement is None:
            assert not rows["deterrable"].any()
            continue
        deterrable = rows.filter(pl.col("deterrable"))
        assert rows["proven"].all()
        for row in deterrable.iter_rows(named=True):
            actor = scenario.actor(row["defector"])
            share = _capability_share(tables, scenario, placement.controls, actor.id)
            margin = actor.detection_probability * actor.value_of_capability * (1 - share) \
                + actor.benefit_of_compliance - actor.first_mover_gain
            assert margin >= -1e-4 and row["deterred"]
        # Without any one of its controls some deterrable defector is no longer deterred.
        for dropped in placement.controls:
            rest = [c for c in placement.controls if c != dropped]
            margins = []
            for row in deterrable.iter_rows(named=True):
                actor = scenario.actor(row["defector"])
                share = _capability_share(tables, scenario, rest, actor.id)
                margins.append(actor.detection_probability * actor.value_of_capability * (1 - share)
                               + actor.benefit_of_compliance - actor.first_mover_gain)
            assert min(margins) < -1e-9, (key, dropped)
            checked += 1
    assert checked >= 3


def test_undeterrable_defectors_get_shortfall_and_detection_probability(analyses):
    narrow = analyses["narrow"].deter_all
    assert not narrow["deterrable"].any()          # the narrow coalition cannot deter anyone
    for row in narrow.iter_rows(named=True):
        assert row["required_leverage"] > row["max_leverage"]
        assert row["shortfall"] == pytest.approx(row["best_margin"]) and row["shortfall"] < 0
        needed = row["detection_probability_needed"]
        if needed is not None:
            assert needed > 0
    lines = verdict_lines(narrow)
    assert all("cannot be deterred" in line for line in lines)


def test_game_equilibria_agree_with_brute_force_deviation(analyses):
    for key, analysis in analyses.items():
        scenario = load_scenario(SCENARIOS / f"{key}.toml")
        players = scenario.defectors
        for placement in analysis.placements:
            rows = analysis.equilibria.filter((pl.col("placement") == placement.name) & (pl.col("kind") == "pure"))
            game = RaceGame(actors=tuple(a.id for a in players),
                            detection_probability=[a.detection_probability for a in players],
                            value_of_capability=[a.value_of_capability for a in players],
                            first_mover_gain=[a.first_mover_gain for a in players],
                            benefit_of_compliance=[a.benefit_of_compliance for a in players],
                            leverage=[placement.leverage[a.id] for a in players],
                            first_mover_decay=scenario.game.first_mover_decay,
                            collective_risk=scenario.game.collective_risk)
            expected = {tuple(sorted(np.array(game.actors)[profile])) for profile in pure_nash_equilibria(game)}
            assert {tuple(sorted(d)) for d in rows["defectors"].to_list()} == expected
            unique = len(expected) == 1 and expected == {()}
            assert rows["compliance_unique"].all() == unique


def test_higher_detection_probability_never_lowers_a_margin(tables, analyses):
    """Under every fixed placement (none, analyst ones) and under the re-optimised ones."""
    scenario = load_scenario(SCENARIOS / "default.toml")
    stricter = dataclasses.replace(scenario, actors=tuple(
        dataclasses.replace(a, detection_probability=min(1.0, a.detection_probability + 0.2)) for a in scenario.actors))
    before, after = analyses["default"].deterrence, analyse_deterrence(tables, stricter).deterrence
    joined = before.join(after, on=["placement", "actor"], suffix="_after")
    assert joined.height == before.height
    fixed = joined.filter(pl.col("placement_kind").is_in(["none", "analyst", "optimal"]))
    assert fixed.height > 0
    # The optimal joint placement does not depend on p, so its leverage is unchanged too.
    assert (fixed["leverage_after"] - fixed["leverage"]).abs().max() <= 1e-9
    assert (fixed["margin_after"] >= fixed["margin"] - 1e-9).all()
    raised = fixed.filter((pl.col("detection_probability_after") > pl.col("detection_probability"))
                          & (pl.col("leverage") > 0))
    assert raised.height > 0 and (raised["margin_after"] > raised["margin"]).all()


def test_larger_budget_never_raises_the_deter_all_cost(tables):
    scenario = load_scenario(SCENARIOS / "broad.toml")
    costs = []
    for budget in (0.5, 1.0, 2.0, 6.0):
        varied = dataclasses.replace(scenario, settings=dataclasses.replace(scenario.settings, budget=budget))
        rows = analyse_deterrence(tables, varied).deter_all
        costs.append(rows["cost"][0] if rows["feasible_within_budget"][0] else math.inf)
    assert all(b <= a + 1e-9 for a, b in zip(costs, costs[1:]))
    assert math.isfinite(costs[-1])


def test_recruitment_never_lowers_leverage_and_ranks_by_mean_gain(tables):
    scenario = load_scenario(SCENARIOS / "default.toml")
    network = network_from_tables(tables["countries"], tables["input_types"], tables["recipes"], tables["capacities"],
                                  scenario)
    frame = recruitment_table(network, scenario, solver="HIGHS", time_limit=60)
    assert frame.height > 0 and frame["optimal"].all()
    assert (frame["leverage_after"] >= frame["leverage_before"] - 1e-6).all()
    assert (frame["ceiling_after"] >= frame["ceiling_before"] - 1e-9).all()
    means = frame.group_by("country").agg(pl.col("leverage_gain").mean(), pl.col("rank").first()).sort("rank")
    assert means["leverage_gain"].to_list() == sorted(means["leverage_gain"].to_list(), reverse=True)
    # No signatory or defector member is offered as a recruit; transit hubs rank with their re-exports.
    excluded = scenario.signatory_countries | {m for a in scenario.defectors for m in a.members}
    assert not set(candidate_recruits(network, scenario)) & excluded
    hub = next(iter(scenario.transit))
    assert any("reexports" in name for name in recruit_controls(network, hub, scenario.defectors[0].id))
    # The recruit's controls close only routes into the defector.
    for name, mask in recruit_controls(network, hub, "CHN").items():
        members = scenario.actor("CHN").members
        dst = network.edge_dst[mask]
        into = np.isin(np.array(network.countries)[network.node_country[dst]], members) | \
            (network.node_actor[dst] == network.actors.index("CHN"))
        assert into.all(), name


def test_joint_model_covers_every_defector(tables):
    scenario = load_scenario(SCENARIOS / "default.toml")
    network = network_from_tables(tables["countries"], tables["input_types"], tables["recipes"], tables["capacities"],
                                  scenario)
    model = joint_model(network, scenario, solver="HIGHS", time_limit=60)
    assert model.sinks.size == len(scenario.defectors) and (model.baseline > 0).all()
