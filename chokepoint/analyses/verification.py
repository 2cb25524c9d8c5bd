"""Verification as a lever (``docs/design.md#113-verification-as-a-lever``): the scenario's
verification mechanisms and controls chosen together at least cost, against sanctions alone.

For every candidate defector d, ``need_d = (G_d − B_d) / V_d`` is the expected sanction share
``p_d · L_d`` that deters it. Sanctions alone keep ``p_d`` at the scenario's value; with
verification ``p_d(y) = 1 − (1 − p_d) Π_m (1 − q_{m,d} y_m)``. Both are solved by
:class:`optimization.deter_all.DeterVerifyModel` (sanctions alone: no mechanisms) on the
joint interdiction model of the scenario (marginal to its baseline, when given): once for
every defector that either can deter, and once per defector alone, which says for each
defector whether verification closes its deterrence gap more cheaply than sanctions.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from chokepoint.analyses.placements import catalogue_arrays, leverage_of, placement_models
from chokepoint.inputs.scenario import Scenario
from graph.network import SupplyNetwork
from optimization.capability import CapabilityModel
from optimization.deter_all import DeterAllModel, DeterVerifyModel, DeterVerifyResult, detection_with

__all__ = ["verification_table", "VERIFICATION_SCHEMA"]


def _need(actor) -> float:
    """``(G − B) / V``: ≤ 0 needs nothing; ``inf`` when V = 0 < G − B (no sanction deters)."""
    gain = actor.first_mover_gain - actor.benefit_of_compliance
    if gain <= 0:
        return -math.inf
    return gain / actor.value_of_capability if actor.value_of_capability > 0 else math.inf


def verification_table(network: SupplyNetwork, scenario: Scenario, *, capability: CapabilityModel, solver: str,
                       time_limit: float, baseline_closed: np.ndarray | None = None) -> pl.DataFrame:
    """One row per (mechanism, candidate defector): cost, coverage, detection before and after,
    whether the joint solve chooses it, and the sanctions-only and joint costs of deterring
    that defector alone (``verification_cheaper``). Empty when the scenario declares no mechanism.

    Notes
    -----
    A defector is *deterrable* by sanctions alone when ``p_d L̄_d ≥ need_d`` and with
    verification when ``p_d(all) L̄_d ≥ need_d``, ``L̄_d`` the leverage of every control (or
    of the best placement within the collateral cap). Costs are not capped by the scenario
    budget (``within_budget`` says whether they fit). 2 joint solves over all D defectors, and
    up to 2·D over one defector each (on that defector's own model), each by mechanism subsets
    over deter-all solves (:class:`optimization.deter_all.DeterVerifyModel`).
    """
    mechanisms = scenario.verification
    defectors = list(scenario.defectors)
    if not mechanisms or not defectors:
        return pl.DataFrame(schema=VERIFICATION_SCHEMA)
    extra = {} if baseline_closed is None else {"baseline_closed": baseline_closed}
    models = placement_models(network, scenario, solver=solver, time_limit=time_limit, capability=capability,
                              joint=True, **extra)
    model = models["ALL"]
    ids = catalogue_arrays(network, scenario).ids
    everything = np.ones(model.num_controls, dtype=bool)
    if model.feasible(everything, math.inf):
        ceiling = leverage_of(model, everything)
    else:
        ceiling = np.array([models[d.id].solve(float(models[d.id].cost.sum())).leverage[0] for d in defectors])
    p0 = np.array([d.detection_probability for d in defectors])
    need = np.array([_need(d) for d in defectors])
    cost = np.array([m.cost for m in mechanisms])
    coverage = np.array([[m.coverage.get(d.id, 0.0) for d in defectors] for m in mechanisms])
    p_max = detection_with(p0, coverage, np.ones(len(mechanisms), dtype=bool))
    # need = −inf: already deterred (G ≤ B); +inf: no sanction deters (V = 0 < G − B).
    by_sanctions = (p0 * ceiling >= need - 1e-9) & ~np.isposinf(need)
    with_verification = (p_max * ceiling >= need - 1e-9) & ~np.isposinf(need)

    # One deter-all model per interdiction model: the sanctions-only and joint solves on it
    # share its covering master and, through the model, the memo of capability LPs.
    deter_all = {}

    def deter(on, mechanism_cost: np.ndarray, cover: np.ndarray) -> DeterVerifyModel:
        if id(on) not in deter_all:
            deter_all[id(on)] = DeterAllModel(on)
        return DeterVerifyModel(on, mechanism_cost, cover, deter_all=deter_all[id(on)])

    def solve(deter_verify: DeterVerifyModel, targeted: np.ndarray) -> DeterVerifyResult:
        return deter_verify.solve(p0, np.where(targeted, need, -math.inf), time_limit=time_limit)

    def solve_alone(k: int, mechanism_cost: np.ndarray) -> DeterVerifyResult:
        # One defector's target on its own model: the other defectors' sinks would
        # constrain nothing (their need is -inf) but add their LPs and dual blocks.
        alone = deter(models[defectors[k].id], mechanism_cost, coverage[:mechanism_cost.size, [k]])
        return alone.solve(p0[[k]], need[[k]], time_limit=time_limit)

    no_mechanism = np.zeros(0)
    all_sanctions = solve(deter(model, no_mechanism, np.zeros((0, len(defectors)))), by_sanctions)
    all_joint = solve(deter(model, cost, coverage), with_verification)
    chosen_all = np.zeros(len(mechanisms), dtype=bool)
    chosen_all[all_joint.mechanisms] = True
    rows = []
    for k, actor in enumerate(defectors):
        only_sanctions = solve_alone(k, no_mechanism) if by_sanctions[k] else None
        only_joint = solve_alone(k, cost) if with_verification[k] else None
        chosen_alone = np.zeros(len(mechanisms), dtype=bool)
        if only_joint is not None and only_joint.feasible:
            chosen_alone[only_joint.mechanisms] = True
        sanctions_cost = only_sanctions.cost if only_sanctions is not None and only_sanctions.feasible else None
        joint_cost = only_joint.cost if only_joint is not None and only_joint.feasible else None
        cheaper = joint_cost is not None and (sanctions_cost is None or joint_cost < sanctions_cost - 1e-9)
        proven = all(r is None or r.proven for r in (only_sanctions, only_joint)) and all_joint.proven \
            and all_sanctions.proven
        for j, mechanism in enumerate(mechanisms):
            rows.append({
                "scenario": scenario.name, "baseline": scenario.baseline.name, "mechanism": mechanism.id,
                "name": mechanism.name, "actor": actor.id, "cost": mechanism.cost,
                "coverage": float(coverage[j, k]), "detection_before": float(p0[k]),
                "detection_after": float(all_joint.detection[k]), "chosen": bool(chosen_all[j]),
                "chosen_for_actor": bool(chosen_alone[j]), "need": _finite(need[k]),
                "max_leverage": float(ceiling[k]), "deterrable_by_sanctions": bool(by_sanctions[k]),
                "deterrable_with_verification": bool(with_verification[k]),
                "sanctions_cost": sanctions_cost, "joint_cost": joint_cost,
                "joint_controls": [ids[i] for i in only_joint.chosen] if joint_cost is not None else [],
                "verification_cheaper": bool(cheaper),
                "gap_closed_by_verification": bool(with_verification[k] and not by_sanctions[k]),
                "all_sanctions_cost": all_sanctions.cost if all_sanctions.feasible else None,
                "all_joint_cost": all_joint.cost if all_joint.feasible else None,
                "within_budget": bool(all_joint.feasible and all_joint.cost <= scenario.settings.budget + 1e-9),
                "proven": bool(proven),
            })
    return pl.DataFrame(rows, schema=VERIFICATION_SCHEMA)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


VERIFICATION_SCHEMA = {
    "scenario": pl.String, "baseline": pl.String, "mechanism": pl.String, "name": pl.String, "actor": pl.String,
    "cost": pl.Float64, "coverage": pl.Float64, "detection_before": pl.Float64, "detection_after": pl.Float64,
    "chosen": pl.Boolean, "chosen_for_actor": pl.Boolean, "need": pl.Float64, "max_leverage": pl.Float64,
    "deterrable_by_sanctions": pl.Boolean, "deterrable_with_verification": pl.Boolean,
    "sanctions_cost": pl.Float64, "joint_cost": pl.Float64, "joint_controls": pl.List(pl.String),
    "verification_cheaper": pl.Boolean, "gap_closed_by_verification": pl.Boolean,
    "all_sanctions_cost": pl.Float64, "all_joint_cost": pl.Float64, "within_budget": pl.Boolean,
    "proven": pl.Boolean,
}
