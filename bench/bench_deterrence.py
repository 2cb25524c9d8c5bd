"""Deterrence benchmark: the deter-all MILP against brute-force enumeration on growing
random AND/OR instances (one process run), and the whole incentive analysis per shipped
scenario on the reference data.

Writes ``bench/results/deterrence.{md,json}`` (medians of repeats, peak RSS).
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.analyses.deterrence import analyse_deterrence
from chokepoint.model.build import network_from_tables
from chokepoint.settings import PROJECT_ROOT
from chokepoint.analyses.recruitment import recruitment_table
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from optimization.deter_all import SHARE_TOLERANCE, DeterAllModel
from optimization.interdiction import InterdictionModel
from optimization.random_instances import layered_instance

REPEATS = 3
#: Controls of the random instances; brute force enumerates 2^P placements.
CONTROL_COUNTS = (6, 9, 12, 14)
#: Brute force is skipped above this many placements (it would take minutes).
BRUTE_FORCE_LIMIT = 2 ** 14


def _instance(seed: int, controls: int):
    inst = layered_instance(seed, layers=3, width=6, types=2, countries=4, sinks=2, num_controls=controls,
                            supplier_probability=0.8)
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, solver="HIGHS", time_limit=60)
    everything = model.evaluate(np.ones(model.num_controls, bool))[1]
    floor = np.array([r.value for r in everything]) / np.where(model.baseline > 0, model.baseline, 1.0)
    required = floor + 0.5 * (1.0 - floor)
    return inst, model, required


def _brute_force(inst, required: np.ndarray) -> float:
    """Cheapest placement whose remaining shares all meet ``required``, by enumerating every
    placement and solving each capability LP with an independent model: the LP written out
    from its definition for scipy's linprog (tests/support/oracles.py), not the project's
    cvxpy models that the MILP is built on."""
    from tests.support.oracles import PlainLP

    lp = PlainLP(inst.network)
    nothing = np.zeros(inst.network.num_edges, bool)
    baseline = np.array([lp.value(int(s), nothing) for s in inst.sinks])
    best = math.inf
    controls = len(inst.cost)
    for size in range(controls + 1):
        for subset in itertools.combinations(range(controls), size):
            cost = float(inst.cost[list(subset)].sum())
            if cost >= best:
                continue
            closed = inst.closes[list(subset)].any(axis=0) if subset else nothing
            values = np.array([lp.value(int(s), closed) for s in inst.sinks])
            shares = np.divide(values, baseline, out=np.zeros_like(values), where=baseline > 0)
            if (shares <= required + SHARE_TOLERANCE).all():
                best = cost
    return best


def random_rows() -> list[dict]:
    rows = []
    for controls in CONTROL_COUNTS:
        inst, model, required = _instance(7, controls)
        exact_s, result = median_seconds(lambda: DeterAllModel(model).solve(required), REPEATS)
        row = {"controls": controls, "nodes": inst.network.num_nodes, "routes": inst.network.num_edges,
               "exact_seconds": exact_s, "exact_cost": result.cost, "proven": result.proven}
        if 2 ** controls <= BRUTE_FORCE_LIMIT:
            started = time.perf_counter()
            row["brute_force_cost"] = _brute_force(inst, required)
            row["brute_force_seconds"] = time.perf_counter() - started
            row["agree"] = abs(row["brute_force_cost"] - result.cost) <= 1e-9
        rows.append(row)
        print(f"  {controls} controls: exact {exact_s:.2f} s", flush=True)
    return rows


def scenario_rows() -> list[dict]:
    ref = load_reference(PROJECT_ROOT / "data" / "reference")
    tables = {"countries": ref.countries, "input_types": ref.input_types, "recipes": ref.recipes,
              "capacities": ref.capacities}
    rows = []
    for path in sorted((PROJECT_ROOT / "data" / "scenarios").glob("*.toml")):
        scenario = load_scenario(Path(path))
        analysis_s, analysis = median_seconds(lambda: analyse_deterrence(tables, scenario), REPEATS)
        network = network_from_tables(ref.countries, ref.input_types, ref.recipes, ref.capacities, scenario)
        recruit_s, recruits = median_seconds(
            lambda: recruitment_table(network, scenario, solver="HIGHS", time_limit=60), REPEATS)
        rows.append({"scenario": path.stem, "controls": len(scenario.controls), "defectors": len(scenario.defectors),
                     "analysis_seconds": analysis_s, "recruitment_seconds": recruit_s,
                     "recruitment_rows": recruits.height,
                     "deterred": int(analysis.deter_all["deterred"].sum()),
                     "deter_all_cost": analysis.deter_all["cost"][0] if analysis.deter_all.height else None})
        print(f"  {path.stem}: analysis {analysis_s:.1f} s, recruitment {recruit_s:.1f} s", flush=True)
    return rows


def main() -> None:
    started = time.perf_counter()
    random = random_rows()
    scenarios = scenario_rows()
    lines = ["## Deter-all MILP vs brute force (random layered AND/OR instances, 2 defectors, HiGHS)", "",
             f"Median of {REPEATS} solves (model build included); brute force enumerates every placement "
             "(capability LPs memoised).", "",
             "| controls | nodes | routes | exact | brute force | same cost |", "|---|---|---|---|---|---|"]
    for r in random:
        brute = (f"{r['brute_force_seconds']:.1f} s" if "brute_force_seconds" in r else "skipped (2^P too large)")
        same = ("yes" if r.get("agree") else "NO") if "agree" in r else "–"
        lines.append(f"| {r['controls']} | {r['nodes']} | {r['routes']} | {r['exact_seconds']:.2f} s"
                     f"{'' if r['proven'] else ' (not proven)'} | {brute} | {same} |")
    lines += ["", "## Incentive analysis per shipped scenario (reference data)", "",
              "`analyse_deterrence` = optimal joint placement, deter-all, payoff tables, equilibria and tornado; "
              f"`recruitment_table` = one MILP per (candidate recruit, defector). Medians of {REPEATS}.", "",
              "| scenario | controls | defectors | analysis | recruitment (rows) | deterred |", "|---|---|---|---|---|---|"]
    for r in scenarios:
        lines.append(f"| {r['scenario']} | {r['controls']} | {r['defectors']} | {r['analysis_seconds']:.1f} s | "
                     f"{r['recruitment_seconds']:.1f} s ({r['recruitment_rows']}) | {r['deterred']}/{r['defectors']} |")
    lines += ["", f"Whole benchmark {time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mib():.0f} MiB."]
    path = write_results("deterrence", {"random": random, "scenarios": scenarios, "peak_rss_mib": peak_rss_mib()},
                         "\n".join(lines))
    print(path.read_text())


if __name__ == "__main__":
    main()
