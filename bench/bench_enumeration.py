"""Exhaustion against the MILP on the job's interdiction instances (one process run).

The instance is the staged data of a warehouse a ``chokepoint run`` wrote
(``CHOKEPOINT_BENCH_WAREHOUSE``, else the default warehouse; the embedded reference data
when neither exists), built in both horizons (:func:`chokepoint.model.build.horizon_networks`)
with the default scenario. Instances: every candidate defector's retaliation (its
counter-catalogue against the signatories' sinks, ``[retaliation] budget``,
:func:`chokepoint.analyses.retaliation.counter_catalogue`) and every per-defector and joint
placement within the scenario budget (:func:`chokepoint.analyses.placements.placement_models`),
and the deter-all solve of the joint model within the budget (:class:`optimization.deter_all.DeterAllModel`)
for the scenarios without a baseline; for it "LPs" are those exhaustion solved before it found the
cheapest placement.

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

import contextlib
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from bench.bench_horizons import instance
from bench.common import markdown_rows, median_seconds, peak_rss_mib, reproduce_on_a_run, write_results
from chokepoint.analyses.deterrence import analyse_deterrence
from chokepoint.analyses.placements import JOINT, leverage_of, placement_models
from chokepoint.analyses.retaliation import counter_catalogue, retaliation_analysis
from chokepoint.model.baseline import no_baseline
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import horizon_networks
from chokepoint.settings import PROJECT_ROOT
from optimization.capability import CapabilityModel
from optimization.deter_all import EXHAUSTION_LIMIT, DeterAllModel
from optimization.deterrence_margin import required_leverage
from optimization.interdiction import ENUMERATION_LIMIT, InterdictionModel

REPEATS = 3
TIME_LIMIT_S = 60.0
#: Instances with more maximal placements than this are timed by the MILP only.
LISTED = 1_000
#: Scenarios whose deter-all solve is timed (those without a baseline: the status-quo scenario's
#: baseline needs the controls-in-force tables).
DETER_ALL_SCENARIOS = ("default", "broad", "narrow")


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


def deter_all_rows(horizon: str, network, scenario) -> list[dict]:
    """The deter-all solve of the scenario's joint model within its budget (targets as
    ``chokepoint.analyses.deterrence`` sets them: deterrable defectors' required shares, 1
    elsewhere), by the MILP and by checking placements in order of cost."""
    defectors = [scenario.actor(a.id) for a in scenario.defectors]
    needed = required_leverage(*(np.array([getattr(a, f) for a in defectors])
                                 for f in ("detection_probability", "value_of_capability", "benefit_of_compliance",
                                           "first_mover_gain")))

    def fresh(limit):
        model = placement_models(network, scenario, solver="HIGHS", time_limit=TIME_LIMIT_S, joint=True,
                                 capability=CapabilityModel(network))[JOINT]
        return DeterAllModel(model, exhaustion_limit=limit)

    probe = fresh(0).model
    everything = np.ones(probe.num_controls, dtype=bool)
    if probe.feasible(everything, float("inf")):
        ceiling = leverage_of(probe, everything)
    else:
        # As the job does (chokepoint.analyses.deterrence): the collateral cap forbids placing
        # everything, so each defector's ceiling is its best placement within the cap.
        single = placement_models(network, scenario, solver="HIGHS", time_limit=TIME_LIMIT_S)
        ceiling = np.array([single[a.id].solve(float(single[a.id].cost.sum())).leverage[0] for a in defectors])
    deterrable = (needed <= ceiling + 1e-9) & np.isfinite(needed)
    if not deterrable.any():
        return []
    required = np.where(deterrable, 1.0 - np.minimum(needed, 1.0), 1.0)
    budget = scenario.settings.budget
    build_s, _ = median_seconds(lambda: fresh(0), REPEATS)
    milp_s, milp = median_seconds(lambda: fresh(0).solve(required, budget=budget), REPEATS)
    exhaustion_s, exhaustive = median_seconds(lambda: fresh(10 ** 9).solve(required, budget=budget), REPEATS)
    if milp.feasible != exhaustive.feasible or abs(milp.cost - exhaustive.cost) > 1e-9:
        raise AssertionError(f"{horizon}/deter-all: exhaustion {exhaustive.cost} against the MILP {milp.cost}")
    counted = re.search(r"\((\d+) capability LPs\)", exhaustive.solver_status)
    lps = int(counted.group(1)) if counted else 0          # "no controls needed": no LP
    per_lp = max(exhaustion_s - build_s, 0.0) / lps if lps else None
    row = {"horizon": horizon, "kind": "deter-all", "target": JOINT, "controls": probe.num_controls,
           "budget": budget, "active_sinks": int(probe.active.sum()), "maximal": None, "lps": lps,
           "build_seconds": build_s, "milp_seconds": milp_s, "milp_objective": milp.cost, "milp_optimal": milp.proven,
           "exhaustion_seconds": exhaustion_s, "seconds_per_lp": per_lp,
           "milp_in_lps": (milp_s - build_s) / per_lp if per_lp else None, "method": "exhaustion"}
    print(row, flush=True)
    return [row]


@contextlib.contextmanager
def defaults(enumeration_limit: int, exhaustion_limit: int):
    """Every InterdictionModel and DeterAllModel made inside gets these limits by default."""
    interdiction, deter_all = InterdictionModel.__init__.__kwdefaults__, DeterAllModel.__init__.__kwdefaults__
    saved = interdiction["enumeration_limit"], deter_all["exhaustion_limit"]
    interdiction["enumeration_limit"], deter_all["exhaustion_limit"] = enumeration_limit, exhaustion_limit
    try:
        yield
    finally:
        interdiction["enumeration_limit"], deter_all["exhaustion_limit"] = saved


def analysis_rows(tables) -> list[dict]:
    """The job's retaliation and deterrence analyses of the scenarios without a baseline, both
    horizons, with exhaustion off (limits 0: the MILP every time) and on (the defaults),
    alternating, each timed once per repeat; the tables must agree."""
    totals = []
    for repeat in range(REPEATS):
        for label, limits in (("milp", (0, 0)), ("exhaustion", (ENUMERATION_LIMIT, EXHAUSTION_LIMIT))):
            seconds = {"retaliation": 0.0, "deterrence": 0.0}
            frames = []
            with defaults(*limits):
                for name in DETER_ALL_SCENARIOS:
                    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / f"{name}.toml")
                    for horizon in ("long_run", "short_run"):
                        started = time.perf_counter()
                        deterrence = analyse_deterrence(tables, scenario, horizon=horizon)
                        seconds["deterrence"] += time.perf_counter() - started
                        network = horizon_networks(tables, scenario)[horizon]
                        started = time.perf_counter()
                        retaliation = retaliation_analysis(
                            network, scenario, no_baseline(network),
                            deterrence.deterrence.with_columns(horizon=pl.lit(horizon)),
                            capability=CapabilityModel(network), solver="HIGHS", time_limit=TIME_LIMIT_S)
                        seconds["retaliation"] += time.perf_counter() - started
                        frames.append((deterrence.deter_all, retaliation.retaliation))
            totals.append({"repeat": repeat, "path": label, **seconds, "frames": frames})
            print({k: v for k, v in totals[-1].items() if k != "frames"}, flush=True)
    for a, b in zip(totals[0]["frames"], totals[1]["frames"]):
        for x, y in zip(a, b):
            # Capabilities come from LPs hot-started from different bases on the two paths:
            # equal within solver tolerance, not to the last bit.
            keep = [c for c in x.columns if c not in ("seconds", "status", "gap", "proven", "cost_lower_bound")]
            assert_frame_equal(x.select(keep), y.select(keep), check_exact=False, rtol=1e-7, atol=1e-9)
    rows = []
    for label in ("milp", "exhaustion"):
        mine = [t for t in totals if t["path"] == label]
        rows.append({"path": label, **{k: statistics.median(t[k] for t in mine) for k in ("retaliation", "deterrence")}})
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
    for name in DETER_ALL_SCENARIOS:
        other = load_scenario(PROJECT_ROOT / "data" / "scenarios" / f"{name}.toml")
        built = horizon_networks(tables, other)
        for horizon, network in (("long_run", built.long_run), ("short_run", built.short_run.network)):
            rows += [{**row, "target": f"{name}: {row['target']}"}
                     for row in deter_all_rows(horizon, network, other)]
    analyses = analysis_rows(tables)
    timed = [r for r in rows if r.get("milp_in_lps")]
    payload = {"source": source, "repeats": REPEATS, "enumeration_limit": ENUMERATION_LIMIT,
               "exhaustion_limit": EXHAUSTION_LIMIT, "rows": rows, "analyses": analyses,
               "seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib(),
               "min_milp_in_lps": min((r["milp_in_lps"] for r in timed), default=None)}
    lines = [
        "# Exhaustion against the MILP on the job's interdiction instances",
        "",
        f"Instance: {source}, default scenario, both horizons. Median of {REPEATS} fresh solves each. "
        f"`ENUMERATION_LIMIT` = {ENUMERATION_LIMIT} capability LPs (interdiction), `EXHAUSTION_LIMIT` = "
        f"{EXHAUSTION_LIMIT} (deter-all: LPs actually solved, in order of cost). "
        f"Peak RSS {payload['peak_rss_mib']:.0f} MiB.",
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
    lines += ["", f"The job's analyses of the scenarios {', '.join(DETER_ALL_SCENARIOS)} (both horizons, no "
              f"baseline), median of {REPEATS} alternating runs, seconds:", ""]
    lines += markdown_rows(["path", "retaliation", "deterrence"],
                           [[a["path"], f"{a['retaliation']:.1f}", f"{a['deterrence']:.1f}"] for a in analyses])
    lines += ["", reproduce_on_a_run("bench_enumeration")]
    return write_results("enumeration", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
