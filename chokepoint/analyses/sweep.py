"""One scenario's Monte Carlo sweep, as tables (``docs/design.md#12-uncertainty``).

Shared by ``chokepoint sweep`` and the Dagster ``robustness`` assets: from staged tables,
a scenario and its point-estimate placements to ``analytics.robustness``,
``analytics.rank_intervals`` and ``analytics.robust_placements``, with the engine of
:mod:`chokepoint.analyses.montecarlo` on the client given.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from distributed import Client

from chokepoint.analyses.deterrence import analyse_deterrence
from chokepoint.analyses.montecarlo import run_sweep
from chokepoint.analyses.robust import ROBUST_PLACEMENTS_SCHEMA, robust_placements_table
from chokepoint.analyses.uncertainty import (INPUTS_SCHEMA, RANK_INTERVALS_SCHEMA, ROBUSTNESS_SCHEMA, STREAMS,
                                             inputs_table, rank_intervals_table, robustness_table, sweep_problem)
from chokepoint.inputs.scenario import Scenario
from chokepoint.model.baseline import no_baseline, scenario_baseline
from chokepoint.model.build import horizon_network
from chokepoint.model.horizons import HORIZONS

__all__ = ["SweepTables", "sweep_tables", "point_placements", "probability_lines", "SWEPT_PLACEMENTS",
           "TABLE_SCHEMAS"]

#: Point-estimate placements evaluated under uncertainty (``analytics.deterrence`` kinds).
SWEPT_PLACEMENTS = ("optimal", "deter_all")
TABLE_SCHEMAS = {"analytics.robustness": ROBUSTNESS_SCHEMA, "analytics.rank_intervals": RANK_INTERVALS_SCHEMA,
                 "analytics.robust_placements": ROBUST_PLACEMENTS_SCHEMA, "analytics.uncertain_inputs": INPUTS_SCHEMA}


@dataclass(frozen=True)
class SweepTables:
    robustness: pl.DataFrame
    rank_intervals: pl.DataFrame
    robust_placements: pl.DataFrame
    uncertain_inputs: pl.DataFrame

    def by_name(self) -> dict[str, pl.DataFrame]:
        return {"analytics.robustness": self.robustness, "analytics.rank_intervals": self.rank_intervals,
                "analytics.robust_placements": self.robust_placements,
                "analytics.uncertain_inputs": self.uncertain_inputs}


def point_placements(deterrence: pl.DataFrame | None, tables: dict, scenario: Scenario, key: str, horizon: str, *,
                     solver: str, time_limit: float, controls_in_force: pl.DataFrame | None = None,
                     firms: pl.DataFrame | None = None) -> dict[str, tuple[str, ...]]:
    """The point-estimate ``optimal`` and ``deter_all`` placements of a scenario in one
    horizon: from the published ``analytics.deterrence`` rows of ``key`` and ``horizon``
    when given, else computed on that horizon's network
    (:func:`chokepoint.analyses.deterrence.analyse_deterrence`), marginal to the scenario's
    baseline when ``controls_in_force`` (and ``firms``) are given, as the published rows
    are. A scenario in which no placement deters anyone has no ``deter_all`` placement."""
    found: dict[str, tuple[str, ...]] = {}
    if deterrence is not None and deterrence.height:
        rows = deterrence.filter((pl.col("scenario") == key) & (pl.col("horizon") == horizon)
                                 & pl.col("placement_kind").is_in(SWEPT_PLACEMENTS))
        for kind, controls in zip(rows["placement_kind"], rows["controls"]):
            found.setdefault(kind, tuple(controls))
    if not found:   # a scenario with no deter-all placement (none deters) has only the optimal one
        network = horizon_network(tables, scenario, horizon)
        baseline = (no_baseline(network) if controls_in_force is None
                    else scenario_baseline(network, scenario, controls_in_force, firms))
        analysis = analyse_deterrence(tables, scenario, solver=solver, time_limit=time_limit, horizon=horizon,
                                      baseline_closed=baseline.marginal_to)
        found = {p.kind: p.controls for p in analysis.placements if p.kind in SWEPT_PLACEMENTS}
    return {kind: found[kind] for kind in SWEPT_PLACEMENTS if kind in found}


def sweep_tables(tables: dict, scenario: Scenario, key: str, placements: dict[str, dict[str, tuple[str, ...]]], *,
                 samples: int, seed: int, client: Client | None, solver: str, time_limit: float,
                 robust: bool = True, train: int = 8, test: int | None = None, horizons=HORIZONS,
                 rank_top_k: int = 5, rank_solves: int = 25, controls_in_force: pl.DataFrame | None = None,
                 firms: pl.DataFrame | None = None) -> SweepTables:
    """The tables of one scenario's sweep in each horizon (``key``: the scenario column), and
    the drawn quantities with their distributions (``analytics.uncertain_inputs``).

    ``placements``: horizon → placement name → control ids (:func:`point_placements`). Per
    horizon, ``samples`` draws (stream ``sweep``) evaluate that horizon's placements; every
    horizon draws the same quantities with the same seed, so its samples are the other
    horizons' samples (common random numbers). With ``robust``, the SAA and CVaR placements
    are trained on ``train`` draws and tested with the point estimate on ``test`` fresh
    draws (default ``samples``), per horizon. Without ``robust`` the third table is empty
    (the LP-only sweep). ``rank_top_k``, ``rank_solves``: the top entities whose
    removal-loss rank is proven in each sample, and the LP re-solves per defector and sample
    allowed for it (:func:`~chokepoint.analyses.uncertainty.sweep_problem`).
    ``controls_in_force``, ``firms`` (staged): the scenario's baseline, kept in force in
    every sample, so that every figure is marginal to it (``baseline`` column).

    Notes
    -----
    Cost per horizon: ``samples`` per-sample evaluations
    (:func:`~chokepoint.analyses.uncertainty.evaluate_network`) spread over the client's
    workers, plus with ``robust`` two MILPs of ``train · D`` dual blocks and a test sweep of
    ``test`` samples (:func:`~chokepoint.analyses.robust.robust_placements_table`).
    """
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLE_SCHEMAS}
    for horizon in horizons:
        chosen = placements.get(horizon, {})
        problem = sweep_problem(tables, scenario, chosen, horizon=horizon, time_limit=time_limit,
                                rank_top_k=rank_top_k, rank_solves=rank_solves, controls_in_force=controls_in_force,
                                firms=firms)
        result = run_sweep(problem, samples, seed, stream=STREAMS["sweep"], client=client)
        parts["analytics.robustness"].append(robustness_table(problem, result, seed=seed, scenario=key))
        parts["analytics.rank_intervals"].append(rank_intervals_table(problem, result, seed=seed, scenario=key))
        if robust and "optimal" in chosen:
            parts["analytics.robust_placements"].append(robust_placements_table(
                problem, seed=seed, train=train, test=test or samples, solver=solver, time_limit=time_limit,
                client=client, scenario=key))
        if not parts["analytics.uncertain_inputs"]:   # the same quantities in every horizon
            parts["analytics.uncertain_inputs"].append(inputs_table(problem, scenario=key))
    frames = {name: pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=TABLE_SCHEMAS[name])
              for name, frames in parts.items()}
    return SweepTables(robustness=frames["analytics.robustness"], rank_intervals=frames["analytics.rank_intervals"],
                       robust_placements=frames["analytics.robust_placements"],
                       uncertain_inputs=frames["analytics.uncertain_inputs"])


def probability_lines(robustness: pl.DataFrame, placement: str = "optimal") -> list[str]:
    """``CHN (long_run): deterred with probability 0.12 ± 0.03 under the optimal placement (n = 200)``,
    one per scenario, horizon and defector."""
    order = {h: i for i, h in enumerate(HORIZONS)}     # short run first, as every report shows the horizons
    rows = robustness.filter(pl.col("placement") == placement).sort(
        "scenario", pl.col("horizon").replace_strict(order, default=len(order)), "defector")
    return [f"{r['defector']} ({r['horizon']}): deterred with probability {r['p_deterred']:.2f} ± "
            f"{r['p_deterred_se']:.2f} under the {placement} placement (n = {r['samples']})"
            for r in rows.iter_rows(named=True)]
