"""Exact placements at firm level in both horizons: sizes, seconds, HiGHS vs SCIP, heuristic vs exact.

The instance is the staged data of a warehouse a ``chokepoint run`` wrote
(``CHOKEPOINT_BENCH_WAREHOUSE``, else the default warehouse; the embedded reference data
when neither exists), built at firm and facility level for each horizon
(:func:`chokepoint.model.build.horizon_networks`) with the default scenario. For every
candidate defector and the joint placement: the interdiction MILP within the scenario's
budget (fresh models per repeat, median of repeats, 60 s limit per solve), its status and
gap, and the greedy heuristic's objective against it.

Run: ``.venv/bin/python -m bench bench_horizons`` → ``bench/results/horizons.{json,md}``.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mib, write_results
from chokepoint.analyses.placements import placement_models
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import horizon_networks
from chokepoint.settings import PROJECT_ROOT, warehouse_path
from chokepoint.warehouse.reads import staged_tables
from optimization.errors import SolverError
from optimization.interdiction_heuristic import heuristic_placement

SOLVERS = ("HIGHS", "SCIP")
REPEATS = 3
TIME_LIMIT_S = 60.0


def instance():
    """Staged tables and the default scenario, and where they came from."""
    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "default.toml")
    named = os.environ.get("CHOKEPOINT_BENCH_WAREHOUSE")
    warehouse = Path(named) if named else warehouse_path()
    if warehouse.exists():
        return staged_tables(warehouse), scenario, f"staged tables of {warehouse}"
    reference = load_reference(PROJECT_ROOT / "data" / "reference")
    tables = {"countries": reference.countries, "input_types": reference.input_types,
              "recipes": reference.recipes, "capacities": reference.capacities}
    return tables, scenario, "embedded reference files (country level)"


def rows_for(horizon: str, network, scenario) -> list[dict]:
    budget = scenario.settings.budget
    rows = []
    for solver in SOLVERS:
        runs = []
        for _ in range(REPEATS):
            models = placement_models(network, scenario, solver=solver, time_limit=TIME_LIMIT_S)
            timed = {}
            for target, model in models.items():
                started = time.perf_counter()
                try:
                    timed[target] = (model.solve(budget), time.perf_counter() - started)
                except SolverError as exc:
                    timed[target] = (exc, time.perf_counter() - started)
            runs.append(timed)
        for target, model in models.items():
            result = runs[-1][target][0]
            seconds = statistics.median(run[target][1] for run in runs)
            if isinstance(result, SolverError):
                rows.append({"horizon": horizon, "target": target, "solver": solver, "seconds": seconds,
                             "status": f"error: {result}", "optimal": False})
                continue
            row = {"horizon": horizon, "target": target, "solver": solver, "seconds": seconds,
                   "status": result.status, "optimal": result.optimal, "objective": result.objective,
                   "gap": result.gap, "leverage": float(np.mean(result.leverage))}
            if solver == "HIGHS":
                heuristic = heuristic_placement(model, budget, time_limit=TIME_LIMIT_S)
                row.update(heuristic_seconds=heuristic.seconds, heuristic_objective=heuristic.objective)
            rows.append(row)
    return rows


def main() -> Path:
    tables, scenario, source = instance()
    networks = horizon_networks(tables, scenario)
    sizes, rows = {}, []
    for horizon, network in networks.items():
        sizes[horizon] = {"nodes": network.num_nodes, "routes": network.num_edges,
                          "firm_nodes": int((network.firm_index() >= 0).sum())}
        rows += rows_for(horizon, network, scenario)
    lines = [f"Instance: {source}; default scenario, budget {scenario.settings.budget:g}; "
             f"{REPEATS} repeats, median; limit {TIME_LIMIT_S:g} s per solve; peak RSS {peak_rss_mib():.0f} MiB.", "",
             "| horizon | nodes | routes | firm nodes |", "|---|---|---|---|"]
    lines += [f"| {h} | {s['nodes']} | {s['routes']} | {s['firm_nodes']} |" for h, s in sizes.items()]
    lines += ["", "| horizon | target | solver | seconds | status | gap | leverage | heuristic objective / exact |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "objective" not in r:
            lines.append(f"| {r['horizon']} | {r['target']} | {r['solver']} | {r['seconds']:.2f} | {r['status']} | | | |")
            continue
        ratio = (f"{r['heuristic_objective']:.4f} / {r['objective']:.4f}" if "heuristic_objective" in r else "")
        lines.append(f"| {r['horizon']} | {r['target']} | {r['solver']} | {r['seconds']:.2f} | {r['status']} | "
                     f"{r['gap']:.1e} | {100 * r['leverage']:.1f}% | {ratio} |")
    path = write_results("horizons", {"source": source, "sizes": sizes, "rows": rows,
                                      "peak_rss_mib": peak_rss_mib()}, "\n".join(lines))
    print(path.read_text())
    return path


if __name__ == "__main__":
    main()
