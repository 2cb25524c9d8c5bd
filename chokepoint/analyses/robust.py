"""Robust placements of a scenario, trained on samples and tested on fresh ones (``docs/design.md#12-uncertainty``).

The sample-average and CVaR interdiction MILPs (:mod:`optimization.robust`) choose a
placement on a training sample (stream ``train``); that placement, and the point-estimate
placement, are then evaluated out of sample on fresh draws (stream ``test``) with the
Monte Carlo engine (:func:`chokepoint.analyses.montecarlo.run_sweep`), so the comparison
does not reward fitting the training draws.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import polars as pl
from distributed import Client

from chokepoint.analyses.montecarlo import run_sweep
from chokepoint.analyses.uncertainty import (STREAMS, SweepProblem, chunk_rng, draw, sample_inputs, sample_network,
                                             sample_rules)
from optimization.robust import RobustPlacementModel, cvar

__all__ = ["robust_placements_table", "ROBUST_PLACEMENTS_SCHEMA", "CVAR_LEVEL", "POINT"]

#: CVaR level: the worst 10 % of samples.
CVAR_LEVEL = 0.1
#: The placement the robust ones are compared against (the point-estimate optimum).
POINT = "optimal"

ROBUST_PLACEMENTS_SCHEMA = {
    "scenario": pl.String, "horizon": pl.String, "baseline": pl.String, "placement": pl.String,
    "objective": pl.String,
    "controls": pl.List(pl.String), "cost": pl.Float64, "budget": pl.Float64, "train_samples": pl.Int64,
    "train_objective": pl.Float64, "train_bound": pl.Float64, "optimal": pl.Boolean, "status": pl.String,
    "test_samples": pl.Int64, "test_mean_leverage": pl.Float64, "test_cvar10_leverage": pl.Float64,
    "test_leverage_p05": pl.Float64, "test_p_all_deterred": pl.Float64, "seed": pl.Int64, "seconds": pl.Float64,
}


def _controls(problem: SweepProblem, chosen) -> tuple[str, ...]:
    return tuple(problem.control_ids[i] for i in np.asarray(chosen, dtype=np.int64))


def robust_placements_table(problem: SweepProblem, *, seed: int, train: int, test: int, solver: str,
                            time_limit: float, client: Client | None = None, alpha: float = CVAR_LEVEL,
                            scenario: str | None = None) -> pl.DataFrame:
    """``analytics.robust_placements`` of the problem's horizon: the sample-average placement
    (``saa_mean``), the CVaR placement (``saa_cvar10``) and the point-estimate placement
    (``point_estimate``, the problem's :data:`POINT` placement), each with its training
    objective (mean remaining share, or its CVaR) and its out-of-sample leverage on
    ``test`` fresh samples: mean, CVaR of the worst ``alpha`` fraction, 5th percentile,
    and the probability that every defector is deterred.

    A MILP without an incumbent within ``time_limit`` falls back to the best of the point
    estimate and the SAA placement on the training samples (status ``time_limit``, bound 0).

    Raises
    ------
    SolverError
        When a robust MILP fails.

    Notes
    -----
    Cost: ``train`` network builds and baseline LPs, two MILPs of ``train · D`` dual blocks
    (:class:`optimization.robust.RobustPlacementModel`), then a sweep of ``test`` samples
    with three placements (no ranks).
    """
    rows = []
    started = time.perf_counter()
    values = draw(problem, train, chunk_rng(seed, STREAMS["train"], 0))
    networks = [sample_network(problem, sample_inputs(problem, row)[0], sample_rules(problem, row)) for row in values]
    point_mask = problem.placements.get(POINT)
    sinks = [networks[0].sink_of(networks[0].actors.index(d)) for d in problem.defectors]
    model = RobustPlacementModel(networks, sinks, problem.closes, problem.cost, collateral=problem.collateral,
                                 collateral_cap=problem.collateral_cap, solver=solver, time_limit=time_limit,
                                 alpha=alpha)
    # Fallbacks when a MILP finds no incumbent in time: the point estimate, then the SAA placement.
    point_chosen = (np.isin(np.array(problem.control_ids), problem.placement_controls[POINT])
                    if point_mask is not None else np.zeros(len(problem.control_ids), dtype=bool))
    saa = model.solve("mean", problem.budget, candidates=[point_chosen])
    saa_chosen = np.isin(np.arange(len(problem.control_ids)), saa.chosen)
    results = {"saa_mean": saa, "saa_cvar10": model.solve("cvar", problem.budget,
                                                          candidates=[point_chosen, saa_chosen])}
    seconds = time.perf_counter() - started
    placements = {name: _controls(problem, r.chosen) for name, r in results.items()}
    if point_mask is not None:
        placements["point_estimate"] = problem.placement_controls[POINT]
    masks = {}
    for name, controls in placements.items():
        chosen = np.isin(np.array(problem.control_ids), controls)
        masks[name] = (problem.closes[chosen].any(axis=0) if chosen.any()
                       else np.zeros(problem.num_routes, dtype=bool))
    tested = run_sweep(dataclasses.replace(problem, placements=masks, placement_controls=placements, ranks=False),
                       test, seed, stream=STREAMS["test"], client=client)
    for i, name in enumerate(masks):
        leverage = tested.leverage[:, i, :].mean(axis=1)
        chosen = np.isin(np.array(problem.control_ids), placements[name])
        result = results.get(name)
        if result is None:
            shares = model.exact_shares(chosen)
            train_objective, bound, optimal, status, kind = float(np.mean(shares)), math.nan, False, "point", "point"
        else:
            train_objective, bound, optimal, status = result.objective, result.bound, result.optimal, result.status
            kind = "mean" if result.objective_kind == "mean" else f"cvar{round(100 * alpha)}"
        rows.append({
            "scenario": scenario or problem.scenario, "horizon": problem.horizon, "baseline": problem.baseline,
            "placement": name, "objective": kind,
            "controls": list(placements[name]), "cost": float(problem.cost[chosen].sum()),
            "budget": problem.budget, "train_samples": train, "train_objective": train_objective,
            "train_bound": None if math.isnan(bound) else bound, "optimal": optimal, "status": status,
            "test_samples": test, "test_mean_leverage": float(leverage.mean()),
            "test_cvar10_leverage": 1.0 - cvar(1.0 - leverage, alpha),
            "test_leverage_p05": float(np.quantile(leverage, 0.05)),
            "test_p_all_deterred": float(tested.deterred[:, i, :].all(axis=1).mean()),
            "seed": int(seed), "seconds": seconds if result is not None else 0.0,
        })
    return pl.DataFrame(rows, schema=ROBUST_PLACEMENTS_SCHEMA)
