"""Exhaustion against the MILP on the job's interdiction instances (one process run).

The instance is the staged data of a warehouse a ``chokepoint run`` wrote
(``CHOKEPOINT_BENCH_WAREHOUSE``, else the default warehouse; the embedded reference data
when neither exists), built in both horizons (:func:`chokepoint.model.build.horizon_networks`)
with the default scenario. Instances: every candidate defector's retaliation (its
counter-catalogue against the signatories' sinks, ``[retaliation] budget``,
:func:`chokepoint.analyses.retaliation.counter_catalogue`) and every per-defector and joint
placement within the scenario budget (:func:`chokepoint.analyses.placements.placement_models`).

For each: the maximal feasible placements (:meth:`optimization.interdiction.InterdictionModel.maximal_placements`,
"–" when there are more than 1,000), the capability LPs exhaustion needs (placements × active
sinks), and the median seconds of a fresh model solving by the MILP (``enumeration_limit=0``:
build, branch and bound, exact re-evaluation) and, where listed, by exhaustion, each with its own
capability LP and memo; the two objectives must agree. Both include making the model (every
active sink's LP without a placement, timed alone as "model s"); "s per LP" is exhaustion's time
beyond that per LP, and the last column the MILP's time beyond it in units of one such LP:
exhaustion is the faster path while it needs fewer LPs than that, which is what
:data:`optimization.interdiction.ENUMERATION_LIMIT` is set from.

Run: ``.venv/bin/python -m bench bench_enumeration`` → ``bench/results/enumeration.{json,md}``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.analyses.placements import placement_models
from chokepoint.analyses.retaliation import counter_catalogue
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import horizon_networks
from chokepoint.settings import PROJECT_ROOT, warehouse_path
from chokepoint.warehouse.reads import staged_tables
from optimization.capability import CapabilityModel
from optimization.interdiction import ENUMERATION_LIMIT, InterdictionModel

REPEATS = 3
TIME_LIMIT_S = 60.0
#: Instances with more maximal placements than this are timed by the MILP only.
LISTED = 1_000


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


def cases(network, scenario):
    """(kind, target, factory of a fresh model given enumeration_limit, budget)."""
    signatory_sinks = [network.sink_of(network.actors.index(a.id)) for a in scenario.actors if a.signatory]
    for defector in scenario.defectors:
        counter = counter_catalogue(network, scenario, defector.id)

        def retaliation(limit, counter=counter):
            return InterdictionModel(network, signatory_sinks, counter.closes, counter.cost, aggregate="mean",
                                     time_limit=TIME_LIMIT_S, capability_model=CapabilityModel(network),
                                     enumeration_limit=limit)
        yield "retaliation", defector.id, retaliation, scenario.retaliation.budget
    for target in placement_models(network, scenario, solver="HIGHS", time_limit=TIME_LIMIT_S):

        def placement(limit, target=target):
            model = placement_models(network, scenario, solver="HIGHS", time_limit=TIME_LIMIT_S,
                                     capability=CapabilityModel(network))[target]
            model.enumeration_limit = limit
            return model
        yield "placement", target, placement, scenario.settings.budget


def rows_for(horizon: str, network, scenario) -> list[dict]:
    rows = []
    for kind, target, fresh, budget in cases(network, scenario):
        probe = fresh(0)
        listed = probe.maximal_placements(budget, LISTED)
        sinks = int(probe.active.sum())
        row = {"horizon": horizon, "kind": kind, "target": target, "controls": probe.num_controls,
               "budget": budget, "active_sinks": sinks, "maximal": None if listed is None else len(listed),
               "lps": None if listed is None else len(listed) * sinks}
        # A fresh model solves every sink's LP once before any placement: paid by both paths.
        build_s, _ = median_seconds(lambda: fresh(0), REPEATS)
        milp_s, milp = median_seconds(lambda: fresh(0).solve(budget), REPEATS)
        row.update(build_seconds=build_s, milp_seconds=milp_s, milp_objective=milp.objective,
                   milp_optimal=milp.optimal)
        if listed is not None and sinks:
            exhaustion_s, exhaustive = median_seconds(lambda: fresh(10 ** 9).solve(budget), REPEATS)
            if abs(exhaustive.objective - milp.objective) > 1e-7:
                raise AssertionError(f"{horizon}/{kind}/{target}: exhaustion {exhaustive.objective} "
                                     f"against the MILP {milp.objective}")
            per_lp = max(exhaustion_s - build_s, 0.0) / row["lps"]
            row.update(exhaustion_seconds=exhaustion_s, seconds_per_lp=per_lp,
                       milp_in_lps=(milp_s - build_s) / per_lp if per_lp > 0 else None, method=exhaustive.method)
        rows.append(row)
        print(row, flush=True)
    return rows


def _cell(value, fmt="{:.3f}"):
    return "–" if value is None else fmt.format(value) if isinstance(value, float) else str(value)


def main(argv=None) -> Path:
    tables, scenario, source = instance()
    networks = horizon_networks(tables, scenario)
    started = time.perf_counter()
    rows = []
    for horizon, network in (("long_run", networks.long_run), ("short_run", networks.short_run.network)):
        rows += rows_for(horizon, network, scenario)
    timed = [r for r in rows if r.get("milp_in_lps")]
    payload = {"source": source, "repeats": REPEATS, "enumeration_limit": ENUMERATION_LIMIT, "rows": rows,
               "seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib(),
               "min_milp_in_lps": min((r["milp_in_lps"] for r in timed), default=None)}
    lines = [
        "# Exhaustion against the MILP on the job's interdiction instances",
        "",
        f"Instance: {source}, default scenario, both horizons. Median of {REPEATS} fresh solves each. "
        f"`ENUMERATION_LIMIT` = {ENUMERATION_LIMIT} capability LPs. Peak RSS {payload['peak_rss_mib']:.0f} MiB.",
        "",
        "| horizon | kind | target | controls | budget | active sinks | maximal placements | LPs | model s "
        "| MILP s | exhaustion s | s per LP | MILP in LPs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['horizon']} | {r['kind']} | {r['target']} | {r['controls']} | {r['budget']:g} "
                     f"| {r['active_sinks']} | {_cell(r['maximal'])} | {_cell(r['lps'])} | {r['build_seconds']:.3f} "
                     f"| {r['milp_seconds']:.3f} "
                     f"| {_cell(r.get('exhaustion_seconds'))} | {_cell(r.get('seconds_per_lp'), '{:.4f}')} "
                     f"| {_cell(r.get('milp_in_lps'), '{:.0f}')} |")
    lines += ["", "Reproduce: `CHOKEPOINT_BENCH_WAREHOUSE=<warehouse of a real-data run> "
              ".venv/bin/python -m bench bench_enumeration`."]
    return write_results("enumeration", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
