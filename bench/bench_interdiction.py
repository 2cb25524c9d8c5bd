"""Interdiction MILP: solve time and gap vs instance size, heuristic vs exact, HiGHS vs SCIP.

1. The country × input instance of the staged data (the warehouse a ``chokepoint run``
   wrote, when ``CHOKEPOINT_BENCH_WAREHOUSE`` names one or the default warehouse
   exists; otherwise the embedded reference data) with the default scenario: for every
   candidate defector and the joint placement, the exact MILP with HiGHS and SCIP
   (median of repeats), the heuristic, and the leverage curve.
2. Synthetic layered AND/OR instances (:func:`optimization.random_instances.layered_instance`;
   pass another ``generator`` to :func:`synthetic_rows` to swap it) doubling in size
   until an exact solve passes the time limit (``CHOKEPOINT_BENCH_TIME_LIMIT``,
   default 600 s): status, bound, gap and seconds per solver, and the heuristic's
   gap to the best exact incumbent.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, peak_rss_mib, write_results
from chokepoint.settings import PROJECT_ROOT, warehouse_path
from optimization.errors import SolverError
from optimization.frontier import leverage_frontier
from optimization.interdiction import InterdictionModel
from optimization.interdiction_heuristic import heuristic_placement
from optimization.random_instances import layered_instance

SOLVERS = ("HIGHS", "SCIP")
REAL_REPEATS = 3
REAL_TARGET_S = 60.0
#: Seconds given to the heuristic on each synthetic instance.
HEURISTIC_LIMIT_S = 120.0


def _time_limit() -> float:
    return float(os.environ.get("CHOKEPOINT_BENCH_TIME_LIMIT", "600"))


def real_instance():
    """Network and scenario from the staged warehouse if there is one, else the reference files."""
    from chokepoint.model.build import network_from_tables
    from chokepoint.warehouse.reads import network_from_warehouse
    from chokepoint.inputs.reference import load_reference
    from chokepoint.inputs.scenario import load_scenario

    named = os.environ.get("CHOKEPOINT_BENCH_WAREHOUSE")
    warehouse = Path(named) if named else warehouse_path()
    if warehouse.exists():
        try:
            network, scenario = network_from_warehouse(warehouse)
            return network, scenario, f"staged tables of {warehouse.name}"
        except Exception as exc:  # noqa: BLE001 - an old or partial warehouse: fall back, and say so
            print(f"warehouse {warehouse} not usable ({exc}); using the reference files")
    reference = load_reference(PROJECT_ROOT / "data" / "reference")
    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "default.toml")
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    return network, scenario, "embedded reference files"


def real_rows() -> tuple[list[dict], dict]:
    from chokepoint.analyses.placements import placement_models

    network, scenario, source = real_instance()
    budget = scenario.settings.budget
    rows = []
    for solver in SOLVERS:
        runs = []
        for _ in range(REAL_REPEATS):
            # Fresh models each repeat: every solve pays model build, compile and its LP evaluations.
            models = placement_models(network, scenario, solver=solver, time_limit=REAL_TARGET_S)
            timed = {}
            for target, model in models.items():
                started = time.perf_counter()
                timed[target] = (model.solve(budget), time.perf_counter() - started)
            runs.append(timed)
        for target, model in models.items():
            result = runs[-1][target][0]
            row = {"target": target, "solver": solver,
                   "seconds": statistics.median(run[target][1] for run in runs), "status": result.status,
                   "optimal": result.optimal, "objective": result.objective, "bound": result.bound,
                   "gap": result.gap, "leverage": float(np.mean(result.leverage)), "controls": len(result.chosen)}
            if solver == "HIGHS":
                heuristic = heuristic_placement(model, budget, time_limit=REAL_TARGET_S)
                row.update(heuristic_seconds=heuristic.seconds, heuristic_objective=heuristic.objective,
                           heuristic_excess=(heuristic.objective - result.objective) / max(result.objective, 1e-9),
                           heuristic_lp_bound_gap=heuristic.gap)
                started = time.perf_counter()
                points = leverage_frontier(model)
                row.update(frontier_seconds=time.perf_counter() - started, frontier_points=len(points),
                           frontier_exact=all(p.exact for p in points))
            rows.append(row)
    instance = {"source": source, "nodes": network.num_nodes, "routes": network.num_edges,
                "controls": len(scenario.controls), "budget": budget,
                "defectors": [a.id for a in scenario.defectors]}
    return rows, instance


def synthetic_sizes():
    """Instance parameters doubling nodes, routes and controls each step.

    Four stages of ``width`` producers making 3 types; each requirement buys from about
    6 makers (so routes grow linearly with nodes); ``width / 3`` countries; the
    catalogue doubles from 16 controls.
    """
    width, controls = 6, 16
    while True:
        yield dict(layers=4, width=width, types=3, countries=max(4, width // 3), sinks=1, num_controls=controls,
                   supplier_probability=min(0.8, 6 / (width / 3)))
        width *= 2
        controls *= 2


#: Budget as a share of the whole catalogue's cost.
BUDGET_SHARE = 0.08


def synthetic_rows(generator=layered_instance, *, time_limit: float | None = None, max_steps: int = 12,
                   on_step=None) -> list[dict]:
    """Exact (both solvers) and heuristic solves on growing instances until exact passes the limit."""
    limit = time_limit or _time_limit()
    rows = []
    for step, params in enumerate(synthetic_sizes()):
        if step >= max_steps:
            break
        instance = generator(100 + step, **params)
        budget = float(np.round(BUDGET_SHARE * instance.cost.sum()))
        row = {"step": step, "nodes": instance.network.num_nodes, "routes": instance.network.num_edges,
               "controls": int(instance.closes.shape[0]), "budget": budget}
        best_exact = math.inf
        passed_limit = False
        for solver in SOLVERS:
            model = InterdictionModel(instance.network, instance.sinks, instance.closes, instance.cost,
                                      solver=solver, time_limit=limit)
            started = time.perf_counter()
            try:
                result = model.solve(budget)
            except SolverError as exc:
                row[solver] = {"status": f"error: {exc.status}", "seconds": time.perf_counter() - started}
                passed_limit = True
                continue
            seconds = time.perf_counter() - started
            row[solver] = {"seconds": seconds, "status": result.status, "optimal": result.optimal,
                           "objective": result.objective, "bound": result.bound, "gap": result.gap}
            best_exact = min(best_exact, result.objective)
            passed_limit = passed_limit or not result.optimal or seconds > limit
        started = time.perf_counter()
        try:
            model = InterdictionModel(instance.network, instance.sinks, instance.closes, instance.cost,
                                      time_limit=min(limit, HEURISTIC_LIMIT_S))
            heuristic = heuristic_placement(model, budget, time_limit=min(limit, HEURISTIC_LIMIT_S))
        except SolverError as exc:
            row["heuristic"] = {"seconds": time.perf_counter() - started, "error": str(exc)}
        else:
            row["heuristic"] = {"seconds": heuristic.seconds, "objective": heuristic.objective,
                                "lp_bound": heuristic.bound, "lp_bound_gap": heuristic.gap,
                                "excess_over_exact": (heuristic.objective - best_exact) / max(best_exact, 1e-9)
                                if math.isfinite(best_exact) else None}
        rows.append(row)
        if on_step is not None:
            on_step(rows)
        print(f"  step {step}: {row['nodes']} nodes, {row['routes']} routes, {row['controls']} controls: "
              + ", ".join(f"{s} {row[s].get('seconds', 0):.1f}s {row[s]['status']}" for s in SOLVERS), flush=True)
        if passed_limit:
            break
    return rows


def _fmt_gap(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return "0" if value < 5e-10 else f"{100 * value:.2g}%"


def _solver_cell(cell: dict) -> str:
    if "optimal" not in cell:
        return f"{cell['status']} ({cell['seconds']:.1f} s)"
    return f"{cell['seconds']:.2f} s, {cell['status']}, gap {_fmt_gap(cell['gap'])}"


def _report(real: list[dict], instance: dict, synthetic: list[dict], limit: float, seconds: float) -> None:
    """Write bench/results/interdiction.{md,json} (called after every synthetic step)."""
    highs = {r["target"]: r for r in real if r["solver"] == "HIGHS"}
    scip = {r["target"]: r for r in real if r["solver"] == "SCIP"}
    met = all(r["optimal"] and r["seconds"] <= REAL_TARGET_S for r in real if r["target"] in instance["defectors"])
    lines = [
        f"## Country × input instance ({instance['source']}; {instance['nodes']} nodes, {instance['routes']} routes, "
        f"{instance['controls']} controls, budget {instance['budget']:g})",
        "",
        f"Target — every candidate defector solved to proven optimality within {REAL_TARGET_S:g} s: "
        f"**{'met' if met else 'NOT met'}**. Times are medians of {REAL_REPEATS} solves (model build and "
        "compile included).",
        "",
        "| target | HiGHS | SCIP | leverage | heuristic (time, excess over optimum, gap to LP bound) | leverage curve |",
        "|---|---|---|---|---|---|",
    ]
    for target, row in highs.items():
        lines.append(
            f"| {target} | {_solver_cell({**row})} | {_solver_cell({**scip[target]})} | {100 * row['leverage']:.1f}% | "
            f"{row['heuristic_seconds']:.2f} s, {_fmt_gap(row['heuristic_excess'])}, "
            f"{_fmt_gap(row['heuristic_lp_bound_gap'])} | {row['frontier_points']} points in "
            f"{row['frontier_seconds']:.1f} s{'' if row['frontier_exact'] else ' (not all exact)'} |")
    lines += [
        "",
        f"## Synthetic layered AND/OR instances (time limit {limit:g} s per exact solve; budget "
        f"{100 * BUDGET_SHARE:g} % of the catalogue's cost; SCIP times include cvxpy's Python model transfer)",
        "",
        "| nodes | routes | controls | budget | HiGHS | SCIP | heuristic: time, excess over best exact, gap to LP bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in synthetic:
        h = row["heuristic"]
        heuristic = (f"error after {h['seconds']:.0f} s ({h['error'][:60]})" if "error" in h else
                     f"{h['seconds']:.1f} s, {_fmt_gap(h['excess_over_exact'])}, {_fmt_gap(h['lp_bound_gap'])}")
        lines.append(f"| {row['nodes']} | {row['routes']} | {row['controls']} | {row['budget']:g} | "
                     f"{_solver_cell(row['HIGHS'])} | {_solver_cell(row['SCIP'])} | {heuristic} |")
    lines += ["", f"Whole benchmark {seconds:.0f} s; peak RSS {peak_rss_mib():.0f} MiB."]
    payload = {"real": {"instance": instance, "rows": real, "target_met": met}, "synthetic": synthetic,
               "time_limit_s": limit, "peak_rss_mib": peak_rss_mib()}
    write_results("interdiction", payload, "\n".join(lines) + "\n")


def main() -> None:
    limit = _time_limit()
    started = time.perf_counter()
    real, instance = real_rows()
    print("real instance done", flush=True)
    synthetic = synthetic_rows(time_limit=limit, on_step=lambda rows: _report(
        real, instance, rows, limit, time.perf_counter() - started))
    _report(real, instance, synthetic, limit, time.perf_counter() - started)
    print((RESULTS / "interdiction.md").read_text())


if __name__ == "__main__":
    main()
