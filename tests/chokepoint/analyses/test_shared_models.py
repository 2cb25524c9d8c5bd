"""Recruitment and deter-all built from the one model constructor give exactly the old results.

``recruitment_table`` and the deter-all ceilings used to build their interdiction models
and leverages by hand; they now come from :class:`chokepoint.analyses.placements.ScenarioModels`
and :func:`chokepoint.analyses.placements.leverage_of`. The old code (as of e6684dc) is kept
here verbatim as the reference, and the new tables must equal it — on the reference data
and on a random instance (the reference capacities scaled by seeded random factors): the
same rows, controls and ranks, and figures within 1e-9 (the capability LPs are hot-started
per objective, so the two codes' different solve orders reach each optimum up to
round-off in the last bits).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.deterrence import MARGIN_TOLERANCE, _deter_all, _evaluated, _finite, _mask, _parameters
from chokepoint.analyses.placements import JOINT, catalogue_arrays, collateral_weights, joint_model, leverage_of
from chokepoint.analyses.placements import placement_models
from chokepoint.analyses.recruitment import (RECRUITMENT_SCHEMA, _gain, candidate_recruits, recruit_controls,
                                             recruitment_table)
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import network_from_tables
from optimization.capability import CapabilityModel
from optimization.deter_all import DeterAllModel, DeterAllResult
from optimization.deterrence_margin import deterrence_margin, required_leverage, threshold_detection_probability
from optimization.interdiction import InterdictionModel
from tests.conftest import DATA


def _recruitment_table_e6684dc(network, scenario, *, solver, time_limit, capability=None) -> pl.DataFrame:
    """``chokepoint.analyses.recruitment.recruitment_table`` as of e6684dc (verbatim)."""
    budget = scenario.settings.budget
    catalogue = catalogue_arrays(network, scenario)
    collateral = collateral_weights(network, scenario)
    capability = capability or CapabilityModel(network, solver="HIGHS", time_limit=time_limit)
    lp_cache: dict = {}
    rows = []
    for defector in (a.id for a in scenario.defectors):
        sink = network.sink_of(network.actors.index(defector))

        def model(closes, cost):
            return InterdictionModel(network, [sink], closes, cost, collateral=collateral,
                                     collateral_cap=scenario.settings.collateral_cap, solver=solver,
                                     time_limit=time_limit, capability_model=capability, lp_cache=lp_cache)

        base_model = model(catalogue.closes, catalogue.cost)
        before = base_model.solve(budget).leverage[0]
        everything = catalogue.closes.any(axis=0) if catalogue.closes.size else np.zeros(network.num_edges, bool)
        baseline = base_model.baseline[0]

        def share_left(closed):
            value = base_model.capability_after(sink, closed).value
            return (baseline - value) / baseline if baseline > 0 else 0.0

        ceiling_before = share_left(everything)
        for country in candidate_recruits(network, scenario):
            extra = recruit_controls(network, country, defector)
            if not extra:
                continue
            ceiling_after = share_left(everything | np.any(list(extra.values()), axis=0))
            if ceiling_after <= before + 1e-9:
                leverage_after, used, status, optimal = float(before), [], "optimal (ceiling bound)", True
            else:
                closes = np.vstack([catalogue.closes.reshape(-1, network.num_edges), *extra.values()])
                cost = np.concatenate([catalogue.cost, np.full(len(extra), scenario.recruit_control_cost)])
                result = model(closes, cost).solve(budget)
                ids = catalogue.ids + tuple(extra)
                leverage_after, status, optimal = float(result.leverage[0]), result.status, bool(result.optimal)
                used = [ids[i] for i in result.chosen if ids[i].startswith("recruit-")]
            rows.append({
                "scenario": scenario.name, "country": country, "defector": defector,
                "is_transit_hub": any("reexports" in name for name in extra),
                "routes_to_defector": int(np.any(list(extra.values()), axis=0).sum()),
                "leverage_before": float(before), "leverage_after": leverage_after,
                "leverage_gain": _gain(leverage_after, before),
                "ceiling_before": float(ceiling_before), "ceiling_after": float(ceiling_after),
                "ceiling_gain": _gain(ceiling_after, ceiling_before),
                "controls_used": used, "status": status, "optimal": optimal,
            })
    frame = pl.DataFrame(rows, schema={k: v for k, v in RECRUITMENT_SCHEMA.items() if k not in ("mean_gain", "rank")})
    if frame.is_empty():
        return pl.DataFrame(schema=RECRUITMENT_SCHEMA)
    means = (frame.group_by("country").agg(pl.col("leverage_gain").mean().alias("mean_gain"),
                                           pl.col("ceiling_gain").mean().alias("_ceiling"))
             .sort(["mean_gain", "_ceiling", "country"], descending=[True, True, False])
             .with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64)).drop("_ceiling"))
    return (frame.join(means, on="country").sort(["rank", "defector"]).select(list(RECRUITMENT_SCHEMA)))


def _deter_all_e6684dc(model, scenario, defectors, ids, *, budget, time_limit):
    """``chokepoint.analyses.deterrence._deter_all`` as of e6684dc (verbatim but for the
    leverage helper, which moved unchanged to ``placements.leverage_of``)."""
    actors = [scenario.actor(d) for d in defectors]
    par = _parameters(actors)
    needed = required_leverage(par["p"], par["V"], par["B"], par["G"])
    all_controls = np.ones(model.num_controls, dtype=bool)
    if model.feasible(all_controls, math.inf):
        ceiling = leverage_of(model, all_controls)
    else:
        ceiling = np.array([InterdictionModel(model.network, [s], model.closes, model.cost,
                                              collateral=model.collateral, collateral_cap=model.collateral_cap,
                                              solver=model.solver, time_limit=time_limit,
                                              capability_model=model.capability, lp_cache=model._lp_cache)
                            .solve(float(model.cost.sum())).leverage[0] for s in model.sinks])
    deterrable = (needed <= ceiling + 1e-9) & np.isfinite(needed)
    required_share = np.where(deterrable, 1.0 - np.minimum(needed, 1.0), 1.0)
    over_budget = None
    if deterrable.any():
        deter = DeterAllModel(model)
        within = deter.solve(required_share, budget=budget, time_limit=time_limit)
        result = within
        if not within.feasible:
            over_budget = deter.solve(required_share, budget=math.inf, time_limit=time_limit)
            result = over_budget
    else:
        within = result = DeterAllResult(
            feasible=False, chosen=np.zeros(0, dtype=np.int64), cost=0.0, cost_bound=math.inf, proven=True,
            status="undeterrable", required_share=required_share, share_after=np.ones_like(required_share),
            leverage=np.zeros_like(required_share), seconds=0.0, solver_status="no defector deterrable")
    placement = None
    if result.feasible:
        mask = _mask(model, result.chosen)
        placement = _evaluated("deter_all", "deter_all", model, ids, defectors, mask, budget=budget,
                               status=result.status, proven=result.proven)
    rows = []
    for k, actor in enumerate(actors):
        leverage = float(result.leverage[k]) if result.feasible else 0.0
        best = float(ceiling[k])
        margin = float(deterrence_margin(par["p"][k], par["V"][k], leverage, par["B"][k], par["G"][k]))
        best_margin = float(deterrence_margin(par["p"][k], par["V"][k], best, par["B"][k], par["G"][k]))
        tolerance = MARGIN_TOLERANCE * max(1.0, par["G"][k])
        rows.append({
            "scenario": scenario.name, "defector": actor.id, "budget": budget,
            "required_leverage": float(needed[k]) if math.isfinite(needed[k]) else None,
            "max_leverage": best, "deterrable": bool(deterrable[k]),
            "deterred_within_budget": bool(within.feasible and deterrable[k]),
            "feasible_within_budget": bool(within.feasible),
            "controls": [ids[i] for i in result.chosen] if result.feasible else [],
            "cost": result.cost if result.feasible else None,
            "cost_lower_bound": result.cost_bound if result.feasible else None,
            "proven": bool(result.proven), "status": result.status,
            "over_budget": bool(over_budget is not None and over_budget.feasible),
            "leverage": leverage, "margin": margin, "deterred": bool(result.feasible and margin >= -tolerance),
            "best_margin": best_margin, "shortfall": min(best_margin, 0.0) if not deterrable[k] else 0.0,
            "detection_probability_needed": _finite(threshold_detection_probability(
                par["V"][k], best, par["B"][k], par["G"][k])),
        })
    return rows, placement


def _identical(old: pl.DataFrame, new: pl.DataFrame) -> None:
    """Same columns, types and rows; floats within 1e-9 (LP round-off), everything else exact."""
    assert old.schema == new.schema
    assert old.height == new.height
    for name, dtype in old.schema.items():
        if dtype == pl.Float64:
            np.testing.assert_allclose(new[name].to_numpy(), old[name].to_numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
        else:
            assert old[name].to_list() == new[name].to_list(), name


def _instance(reference, key: str, seed: int | None):
    """Network and scenario: the reference data, or with capacities scaled at random."""
    scenario = load_scenario(DATA / "scenarios" / f"{key}.toml")
    capacities = reference.capacities
    if seed is not None:
        rng = np.random.default_rng(seed)
        capacities = capacities.with_columns(pl.col("capacity") * rng.uniform(0.5, 1.5, capacities.height))
    tables = {"countries": reference.countries, "input_types": reference.input_types, "recipes": reference.recipes,
              "capacities": capacities}
    return network_from_tables(**{k: tables[k] for k in tables}, scenario=scenario), scenario


# The default scenario's collateral cap forbids placing every control, so its deter-all
# ceilings come from the per-defector models; broad has no cap and many controls.
CASES = [("default", None), ("broad", 11)]


@pytest.mark.parametrize("key,seed", CASES)
def test_recruitment_table_equals_the_old_computation(reference, key, seed):
    network, scenario = _instance(reference, key, seed)
    old = _recruitment_table_e6684dc(network, scenario, solver="HIGHS", time_limit=60)
    new = recruitment_table(network, scenario, solver="HIGHS", time_limit=60)
    assert old.height > 0
    # Where the best placement without the recruit plus its controls reaches the ceiling, no MILP
    # is solved: the leverage must equal the old computation's MILP optimum.
    shortcut = new["status"] == "optimal (incumbent meets ceiling)"
    assert shortcut.any() or key != "default", "the default case exercises the incumbent bound"
    assert old.filter(shortcut)["optimal"].all()
    np.testing.assert_allclose(new.filter(shortcut)["leverage_after"], old.filter(shortcut)["leverage_after"],
                               rtol=0, atol=1e-9)
    same = [c for c in old.columns if c not in ("status", "controls_used")]
    _identical(old.select(same), new.select(same))
    _identical(old.filter(~shortcut), new.filter(~shortcut))


@pytest.mark.parametrize("key,seed", [("default", None), ("default", 5)])
def test_deter_all_with_the_shared_models_equals_the_old_computation(reference, key, seed):
    network, scenario = _instance(reference, key, seed)
    defectors = [a.id for a in scenario.defectors]
    ids = catalogue_arrays(network, scenario).ids
    budget = scenario.settings.budget

    old_model = joint_model(network, scenario, solver="HIGHS", time_limit=60)
    assert not old_model.feasible(np.ones(old_model.num_controls, bool), math.inf), "the cap should bind here"
    old_model.solve(budget)                       # as analyse_deterrence does first
    old_rows, old_placement = _deter_all_e6684dc(old_model, scenario, defectors, ids, budget=budget, time_limit=60)

    models = placement_models(network, scenario, solver="HIGHS", time_limit=60, joint=True)
    models[JOINT].solve(budget)
    new_rows, new_placement = _deter_all(models, scenario, defectors, ids, budget=budget)
    assert new_rows == old_rows
    assert new_placement == old_placement


def test_placement_models_with_joint_for_one_defector(reference):
    scenario = load_scenario(DATA / "scenarios" / "default.toml")
    single = dataclasses.replace(scenario, actors=tuple(
        dataclasses.replace(a, candidate_defector=a.id == "RUS") for a in scenario.actors))
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, single)
    assert list(placement_models(network, single, solver="HIGHS", time_limit=60)) == ["RUS"]
    models = placement_models(network, single, solver="HIGHS", time_limit=60, joint=True)
    assert list(models) == ["RUS", JOINT]
    assert models["RUS"] is not models[JOINT]
    assert models["RUS"].capability is models[JOINT].capability
    assert (models["RUS"].sinks == models[JOINT].sinks).all()
