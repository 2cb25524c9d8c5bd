"""Incentive analysis of a scenario: payoff tables, the race game, deter-all, sensitivity.

Turns leverage into the verdict the agreement depends on (``docs/design.md#5-incentives``): for every
candidate defector, does defecting pay less than complying? Placements are evaluated
exactly with the capability LP; optimal placements come from the interdiction MILP
(:mod:`optimization.interdiction`), the cheapest deterring one from the deter-all MILP
(:mod:`optimization.deter_all`).

Conventions
-----------
* ``margin = p·V·L + B − G`` (``docs/design.md#51-deterrence-margin``, no game coupling); compliance is dominant
  for every behaviour of the others when it is ≥ 0 (with the game's coupling
  ``γ, ρ ≥ 0`` a defector's margin only grows when others race).
* The race game is played by the candidate defectors; signatories are bound by the
  agreement and assumed to comply. Placements target candidate defectors only, so a
  signatory's leverage is 0 in the payoff table (its margin shows whether the
  agreement's benefit alone keeps it in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from chokepoint.model.build import horizon_network, horizon_rules
from chokepoint.model.horizons import SHORT_RUN
from chokepoint.analyses.placements import JOINT, catalogue_arrays, leverage_of, placement_models
from chokepoint.model.controls import control_route_masks
from chokepoint.inputs.scenario import Scenario
from optimization.capability import CapabilityModel, relative_loss
from optimization.deter_all import DeterAllModel, DeterAllResult
from optimization.deterrence_margin import (deterrence_margin, required_leverage, threshold_detection_probability,
                                     tornado)
from optimization.games import MAX_PLAYERS, RaceGame, mixed_equilibria_two_player, pure_nash_equilibria
from optimization.interdiction import InterdictionModel

__all__ = [
    "EvaluatedPlacement",
    "DeterrenceAnalysis",
    "analyse_deterrence",
    "verdict_lines",
    "MARGIN_TOLERANCE",
    "SHARE_SCALING",
]

#: A margin above −MARGIN_TOLERANCE·max(1, G) counts as deterred (solver tolerance on L).
MARGIN_TOLERANCE = 1e-6
#: Sensitivity of leverage to supply shares: the defector's own capacities scaled by these
#: factors (more self-sufficient → less leverage), the same placement re-evaluated.
SHARE_SCALING = (1.25, 0.75)
#: Relative swings of V, G and B, and the absolute swing of p, in the tornado table.
RELATIVE_SWING = 0.5
DETECTION_SWING = 0.2


@dataclass(frozen=True)
class EvaluatedPlacement:
    """A placement and its exact leverage over each candidate defector."""

    name: str
    kind: str                          # none | optimal | deter_all | analyst
    controls: tuple[str, ...]
    cost: float
    within_budget: bool
    leverage: dict[str, float]         # candidate defector id → (C0 − C)/C0
    status: str                        # optimal | time_limit | evaluated | infeasible ...
    proven: bool


@dataclass(frozen=True)
class DeterrenceAnalysis:
    """The four tables of one scenario (see :func:`analyse_deterrence`)."""

    deterrence: pl.DataFrame
    deter_all: pl.DataFrame
    equilibria: pl.DataFrame
    sensitivity: pl.DataFrame
    placements: tuple[EvaluatedPlacement, ...]


def _parameters(actors) -> dict[str, np.ndarray]:
    return {"p": np.array([a.detection_probability for a in actors]),
            "V": np.array([a.value_of_capability for a in actors]),
            "G": np.array([a.first_mover_gain for a in actors]),
            "B": np.array([a.benefit_of_compliance for a in actors])}


def _mask(model: InterdictionModel, chosen) -> np.ndarray:
    mask = np.zeros(model.num_controls, dtype=bool)
    mask[np.asarray(chosen, dtype=np.int64)] = True
    return mask


def _evaluated(name, kind, model, ids, defectors, mask, *, budget, status, proven) -> EvaluatedPlacement:
    leverage = leverage_of(model, mask)
    cost = float(model.cost[mask].sum())
    return EvaluatedPlacement(name=name, kind=kind, controls=tuple(ids[i] for i in np.flatnonzero(mask)), cost=cost,
                              within_budget=cost <= budget + 1e-9 and model.feasible(mask, budget),
                              leverage=dict(zip(defectors, leverage.tolist())), status=status, proven=proven)


def _deter_all(models: dict[str, InterdictionModel], scenario: Scenario, defectors: list[str], ids, *,
               budget: float) -> tuple[list[dict], EvaluatedPlacement | None]:
    """Deter-all rows (one per defector) and the deter-all placement, if one exists.

    ``models`` are the scenario's :func:`~chokepoint.analyses.placements.placement_models`
    (with the joint one): the deter-all MILP is built on the joint model, the per-defector
    ones give each defector's ceiling when the collateral cap forbids placing everything.
    """
    model = models[JOINT]
    actors = [scenario.actor(d) for d in defectors]
    par = _parameters(actors)
    needed = required_leverage(par["p"], par["V"], par["B"], par["G"])
    all_controls = np.ones(model.num_controls, dtype=bool)
    # The most any placement can take from each defector: every control, unless the
    # collateral cap forbids that, then the best placement within the cap.
    if model.feasible(all_controls, math.inf):
        ceiling = leverage_of(model, all_controls)
    else:
        ceiling = np.array([models[d].solve(float(models[d].cost.sum())).leverage[0] for d in defectors])
    deterrable = (needed <= ceiling + 1e-9) & np.isfinite(needed)
    required_share = np.where(deterrable, 1.0 - np.minimum(needed, 1.0), 1.0)
    over_budget = None
    if deterrable.any():
        deter = DeterAllModel(model)
        within = deter.solve(required_share, budget=budget, time_limit=model.time_limit)
        result: DeterAllResult = within
        if not within.feasible:
            over_budget = deter.solve(required_share, budget=math.inf, time_limit=model.time_limit)
            result = over_budget
    else:
        # No defector can be deterred by any placement: nothing to place, said as such.
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


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _payoff_rows(scenario: Scenario, placement: EvaluatedPlacement) -> list[dict]:
    game = scenario.game
    defectors = [a.id for a in scenario.defectors]
    rows = []
    for actor in scenario.actors:
        leverage = placement.leverage.get(actor.id, 0.0)
        p, v, g, b = (actor.detection_probability, actor.value_of_capability, actor.first_mover_gain,
                      actor.benefit_of_compliance)
        margin = float(deterrence_margin(p, v, leverage, b, g))
        others = max(len(defectors) - (1 if actor.candidate_defector else 0), 0)
        # Game payoffs with k others racing (optimization.games): the margin is smallest
        # when nobody else races, largest when all others do.
        alone = p * v * leverage + b + game.collective_risk - g
        all_race = p * v * leverage + b + game.collective_risk - g / (1.0 + game.first_mover_decay * others)
        dominant = "comply" if alone >= 0 else ("defect" if all_race < 0 else "depends on others")
        rows.append({
            "scenario": scenario.name, "placement": placement.name, "placement_kind": placement.kind,
            "controls": list(placement.controls), "placement_cost": placement.cost,
            "within_budget": placement.within_budget, "actor": actor.id, "actor_name": actor.name,
            "signatory": actor.signatory, "candidate_defector": actor.candidate_defector,
            "detection_probability": p, "value_of_capability": v, "first_mover_gain": g,
            "benefit_of_compliance": b, "leverage": leverage, "expected_sanction": p * v * leverage,
            "defect_payoff": g - p * v * leverage, "comply_payoff": b, "margin": margin,
            "deterred": margin >= -MARGIN_TOLERANCE * max(1.0, g),
            "margin_if_alone": alone, "margin_if_all_race": all_race, "dominant_strategy": dominant,
            "required_leverage": _finite(required_leverage(p, v, b, g)),
            "threshold_detection_probability": _finite(threshold_detection_probability(v, leverage, b, g)),
        })
    return rows


def _equilibrium_rows(scenario: Scenario, placement: EvaluatedPlacement) -> list[dict]:
    players = [a for a in scenario.defectors]
    if not players or len(players) > MAX_PLAYERS:
        return []
    par = _parameters(players)
    game = RaceGame(actors=tuple(a.id for a in players), detection_probability=par["p"], value_of_capability=par["V"],
                    first_mover_gain=par["G"], benefit_of_compliance=par["B"],
                    leverage=np.array([placement.leverage.get(a.id, 0.0) for a in players]),
                    first_mover_decay=scenario.game.first_mover_decay, collective_risk=scenario.game.collective_risk)
    equilibria = pure_nash_equilibria(game)
    compliance_unique = len(equilibria) == 1 and not equilibria[0].any()
    common = {"scenario": scenario.name, "placement": placement.name, "players": list(game.actors),
              "pure_equilibria": len(equilibria), "compliance_is_equilibrium": bool((~equilibria.any(axis=1)).any()),
              "compliance_unique": bool(compliance_unique)}
    rows = []
    for index, profile in enumerate(equilibria):
        payoffs = game.payoffs(profile[None, :])[0]
        rows.append({**common, "kind": "pure", "equilibrium": index,
                     "defectors": [a for a, d in zip(game.actors, profile) if d], "n_defecting": int(profile.sum()),
                     "defect_probability": [float(d) for d in profile], "payoffs": payoffs.tolist()})
    if game.size == 2:
        for index, (first, second) in enumerate(mixed_equilibria_two_player(game)):
            q = np.array([first[1], second[1]])
            if ((q > 1e-9) & (q < 1 - 1e-9)).any():     # pure ones are listed above
                profiles = np.array([[False, False], [False, True], [True, False], [True, True]])
                weights = np.array([(1 - q[0]) * (1 - q[1]), (1 - q[0]) * q[1], q[0] * (1 - q[1]), q[0] * q[1]])
                expected = weights @ game.payoffs(profiles)
                rows.append({**common, "kind": "mixed", "equilibrium": len(equilibria) + index,
                             "defectors": [a for a, p in zip(game.actors, q) if p > 1e-9],
                             "n_defecting": None, "defect_probability": q.tolist(), "payoffs": expected.tolist()})
    return rows


def _sensitivity_rows(scenario: Scenario, placement: EvaluatedPlacement, share_leverage: dict[str, tuple]) -> list[dict]:
    rows = []
    for actor in scenario.defectors:
        leverage = placement.leverage.get(actor.id, 0.0)
        base = {"p": actor.detection_probability, "V": actor.value_of_capability, "L": leverage,
                "B": actor.benefit_of_compliance, "G": actor.first_mover_gain}
        low = {"p": max(0.0, base["p"] - DETECTION_SWING), "V": base["V"] * (1 - RELATIVE_SWING),
               "B": base["B"] * (1 - RELATIVE_SWING), "G": base["G"] * (1 - RELATIVE_SWING),
               "L": share_leverage[actor.id][0]}
        high = {"p": min(1.0, base["p"] + DETECTION_SWING), "V": base["V"] * (1 + RELATIVE_SWING),
                "B": base["B"] * (1 + RELATIVE_SWING), "G": base["G"] * (1 + RELATIVE_SWING),
                "L": share_leverage[actor.id][1]}
        names = {"p": "detection_probability", "V": "value_of_capability", "B": "benefit_of_compliance",
                 "G": "first_mover_gain", "L": "supply_shares"}
        threshold = _finite(threshold_detection_probability(base["V"], leverage, base["B"], base["G"]))
        for rank, row in enumerate(tornado(base, low, high, lambda q: deterrence_margin(q["p"], q["V"], q["L"],
                                                                                         q["B"], q["G"])), 1):
            rows.append({"scenario": scenario.name, "actor": actor.id, "placement": placement.name,
                         "parameter": names[row["parameter"]], "rank": rank, "base_value": float(base[row["parameter"]]),
                         "low_value": row["low_value"], "high_value": row["high_value"],
                         "base_margin": row["base_margin"], "margin_low": row["margin_low"],
                         "margin_high": row["margin_high"], "swing": row["swing"],
                         "flips_verdict": bool(min(row["margin_low"], row["margin_high"]) < 0 <= row["base_margin"]
                                               or max(row["margin_low"], row["margin_high"]) >= 0 > row["base_margin"]),
                         "threshold_detection_probability": threshold,
                         "leverage_note": ("supply_shares: the same placement re-evaluated with the actor's own "
                                           f"capacities ×{SHARE_SCALING[0]:g} (low) and ×{SHARE_SCALING[1]:g} (high)")
                         if row["parameter"] == "L" else ""})
    return rows


def _scaled(frame: pl.DataFrame, members: list[str], factor: float) -> pl.DataFrame:
    return frame.with_columns(pl.when(pl.col("iso3").is_in(members)).then(pl.col("capacity") * factor)
                              .otherwise(pl.col("capacity")).alias("capacity"))


def _share_leverage(tables: dict[str, pl.DataFrame], scenario: Scenario, placement: EvaluatedPlacement,
                    *, time_limit: float, horizon: str,
                    baseline_closed: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Leverage of ``placement`` over each defector when its own capacities are scaled
    (marginal to ``baseline_closed`` when given: scaling keeps every route)."""
    out = {}
    model = None
    # The short-run rules do not depend on capacities: derived once for every actor and factor.
    rules = horizon_rules(tables, scenario)
    chosen = [control for control in scenario.controls if control.id in placement.controls]
    for actor in scenario.defectors:
        values = []
        for factor in SHARE_SCALING:
            members = list(actor.members)
            scaled = {**tables, **{name: _scaled(tables[name], members, factor)
                                   for name in ("capacities", "producers") if tables.get(name) is not None}}
            network = horizon_network(scaled, scenario, horizon, rules=rules)
            # Only the placement's own controls: the routes they close on the scaled network.
            masks = control_route_masks(network, scenario, controls=chosen)
            closed = np.zeros(network.num_edges, dtype=bool)
            for control in chosen:
                closed |= masks[control.id]
            if baseline_closed is not None:
                closed |= baseline_closed
            # Scaling changes capacities only, which the capability LP takes as parameters:
            # one LP serves every actor and factor.
            model = model or CapabilityModel(network, solver="HIGHS", time_limit=time_limit)
            sink = network.sink_of(network.actors.index(actor.id))
            before_open = None if baseline_closed is None else (~baseline_closed).astype(np.float64)
            before = model.solve_on(network, sink, before_open).value
            after = model.solve_on(network, sink, (~closed).astype(np.float64)).value
            values.append(float(relative_loss(before, after)))
        out[actor.id] = (values[0], values[1])
    return out


def analyse_deterrence(tables: dict[str, pl.DataFrame], scenario: Scenario, *, solver: str | None = None,
                       time_limit: float | None = None, horizon: str = SHORT_RUN,
                       baseline_closed: np.ndarray | None = None) -> DeterrenceAnalysis:
    """Payoff tables, equilibria, deter-all and sensitivity of one scenario in one horizon.

    Parameters
    ----------
    tables : dict of polars.DataFrame
        Staged ``countries``, ``input_types``, ``recipes`` and ``capacities``, and where
        present the firm-level and short-run tables of
        :data:`chokepoint.model.build.HORIZON_TABLES`.
    scenario : Scenario
    solver, time_limit : optional
        MILP solver and seconds per solve (default: the scenario's settings).
    horizon : str
        ``short_run`` or ``long_run`` (:func:`chokepoint.model.build.horizon_networks`).
    baseline_closed : bool array (E,), optional
        Routes of the baseline placement on the horizon's network built from ``tables``
        and ``scenario`` (:func:`chokepoint.model.baseline.baseline_placement`): every
        leverage, placement and deterrence figure is then marginal to it. Default: none.

    Returns
    -------
    DeterrenceAnalysis
        ``deterrence``: one row per (placement, actor) — placements ``none``,
        ``optimal`` (the interdiction MILP's joint placement within budget),
        ``deter_all`` (cheapest placement deterring every deterrable defector; over
        budget when the budget does not suffice, flagged) and each named analyst
        placement. ``deter_all``: one row per candidate defector. ``equilibria``: one
        row per equilibrium of the race game under each placement. ``sensitivity``:
        tornado rows per (defector, parameter) under the optimal placement.
    """
    solver = (solver or scenario.settings.solver).upper()
    time_limit = float(time_limit or scenario.settings.time_limit_s)
    budget = scenario.settings.budget
    network = horizon_network(tables, scenario, horizon)
    defectors = [a.id for a in scenario.defectors]
    if baseline_closed is not None:
        baseline_closed = np.asarray(baseline_closed, dtype=bool)
        if baseline_closed.shape != (network.num_edges,):
            raise ValueError(f"baseline_closed must hold one flag per route of the scenario's network "
                             f"({network.num_edges})")
    ids = catalogue_arrays(network, scenario).ids
    placements: list[EvaluatedPlacement] = [EvaluatedPlacement(
        name="none", kind="none", controls=(), cost=0.0, within_budget=True, leverage=dict.fromkeys(defectors, 0.0),
        status="evaluated", proven=True)]
    deter_rows: list[dict] = []
    if defectors:
        # One constructor for every model: the joint one places the controls, the
        # per-defector ones bound what any placement can take from each defector.
        models = placement_models(network, scenario, solver=solver, time_limit=time_limit, joint=True,
                                  **({} if baseline_closed is None else {"baseline_closed": baseline_closed}))
        model = models[JOINT]
        best = model.solve(budget)
        placements.append(_evaluated("optimal", "optimal", model, ids, defectors,
                                     _mask(model, best.chosen), budget=budget, status=best.status,
                                     proven=best.optimal))
        deter_rows, deter_placement = _deter_all(models, scenario, defectors, ids, budget=budget)
        if deter_placement is not None:
            placements.append(deter_placement)
        index = {c: i for i, c in enumerate(ids)}
        for named in scenario.placements:
            mask = _mask(model, [index[c] for c in named.controls])
            placements.append(_evaluated(named.name, "analyst", model, ids, defectors, mask, budget=budget,
                                         status="evaluated", proven=True))
    payoff = [row for p in placements for row in _payoff_rows(scenario, p)]
    equilibria = [row for p in placements for row in _equilibrium_rows(scenario, p)]
    optimal = next((p for p in placements if p.kind == "optimal"), placements[0])
    sensitivity = _sensitivity_rows(scenario, optimal, _share_leverage(
        tables, scenario, optimal, time_limit=time_limit, horizon=horizon,
        baseline_closed=baseline_closed)) if defectors else []
    return DeterrenceAnalysis(
        deterrence=pl.DataFrame(payoff, schema=DETERRENCE_SCHEMA),
        deter_all=pl.DataFrame(deter_rows, schema=DETER_ALL_SCHEMA),
        equilibria=pl.DataFrame(equilibria, schema=EQUILIBRIA_SCHEMA),
        sensitivity=pl.DataFrame(sensitivity, schema=SENSITIVITY_SCHEMA),
        placements=tuple(placements))


def verdict_lines(deter_all: pl.DataFrame) -> list[str]:
    """One line per (scenario, [horizon,] defector): deterred by the deter-all placement, or why not."""
    lines = []
    for row in deter_all.iter_rows(named=True):
        head = f"{row['scenario']}/{row['defector']}" + (f" ({row['horizon']})" if row.get("horizon") else "")
        if row["deterred"] and row["feasible_within_budget"]:
            lines.append(f"{head}: deterred within budget (cost {row['cost']:g} ≤ {row['budget']:g}), "
                         f"margin {row['margin']:+.3g}")
        elif row["deterrable"] and row["over_budget"]:
            lines.append(f"{head}: deterrable only over budget (cost {row['cost']:g} > {row['budget']:g})")
        elif row["deterrable"]:
            lines.append(f"{head}: deterrable alone, but no placement deters it together with the other deterrable "
                         "defectors within the collateral cap")
        else:
            needed = row["detection_probability_needed"]
            lines.append(f"{head}: cannot be deterred (needs leverage {row['required_leverage'] or float('inf'):.0%}, "
                         f"at most {row['max_leverage']:.0%}); shortfall {row['shortfall']:+.3g}"
                         + (f"; deterred at detection probability ≥ {math.ceil(needed * 100) / 100:.2f}"
                            if needed is not None and needed <= 1
                            else "; no detection probability suffices"))
    return lines


DETERRENCE_SCHEMA = {
    "scenario": pl.String, "placement": pl.String, "placement_kind": pl.String, "controls": pl.List(pl.String),
    "placement_cost": pl.Float64, "within_budget": pl.Boolean, "actor": pl.String, "actor_name": pl.String,
    "signatory": pl.Boolean, "candidate_defector": pl.Boolean, "detection_probability": pl.Float64,
    "value_of_capability": pl.Float64, "first_mover_gain": pl.Float64, "benefit_of_compliance": pl.Float64,
    "leverage": pl.Float64, "expected_sanction": pl.Float64, "defect_payoff": pl.Float64,
    "comply_payoff": pl.Float64, "margin": pl.Float64, "deterred": pl.Boolean, "margin_if_alone": pl.Float64,
    "margin_if_all_race": pl.Float64, "dominant_strategy": pl.String, "required_leverage": pl.Float64,
    "threshold_detection_probability": pl.Float64,
}
DETER_ALL_SCHEMA = {
    "scenario": pl.String, "defector": pl.String, "budget": pl.Float64, "required_leverage": pl.Float64,
    "max_leverage": pl.Float64, "deterrable": pl.Boolean, "deterred_within_budget": pl.Boolean,
    "feasible_within_budget": pl.Boolean, "controls": pl.List(pl.String), "cost": pl.Float64,
    "cost_lower_bound": pl.Float64, "proven": pl.Boolean, "status": pl.String, "over_budget": pl.Boolean,
    "leverage": pl.Float64, "margin": pl.Float64, "deterred": pl.Boolean, "best_margin": pl.Float64,
    "shortfall": pl.Float64, "detection_probability_needed": pl.Float64,
}
EQUILIBRIA_SCHEMA = {
    "scenario": pl.String, "placement": pl.String, "players": pl.List(pl.String), "pure_equilibria": pl.Int64,
    "compliance_is_equilibrium": pl.Boolean, "compliance_unique": pl.Boolean, "kind": pl.String,
    "equilibrium": pl.Int64, "defectors": pl.List(pl.String), "n_defecting": pl.Int64,
    "defect_probability": pl.List(pl.Float64), "payoffs": pl.List(pl.Float64),
}
SENSITIVITY_SCHEMA = {
    "scenario": pl.String, "actor": pl.String, "placement": pl.String, "parameter": pl.String, "rank": pl.Int64,
    "base_value": pl.Float64, "low_value": pl.Float64, "high_value": pl.Float64, "base_margin": pl.Float64,
    "margin_low": pl.Float64, "margin_high": pl.Float64, "swing": pl.Float64, "flips_verdict": pl.Boolean,
    "threshold_detection_probability": pl.Float64, "leverage_note": pl.String,
}
