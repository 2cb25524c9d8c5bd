"""Deter-all's covering cuts and deter-and-verify by mechanism subsets against their MILPs, on
the job's own instances (one process run).

The instances are the job's units: every scenario partition of ``data/scenarios`` and both
horizons, on the staged data of a warehouse a ``chokepoint run`` wrote
(``CHOKEPOINT_BENCH_WAREHOUSE``, else the default warehouse), with each scenario's baseline
(the status-quo scenario's controls in force), built as the pipeline builds them
(:func:`pipelines.assets.deterrence.setups`).

1. Deter-all on each unit's joint model, with the targets the verification analysis gives
   sanctions alone (``1 − need_d / p_d`` for every defector with a finite positive need, 1
   elsewhere), on the scenario budget: by the MILP alone (``exhaustion_limit=0,
   cut_limit=0``), by covering cuts alone (``exhaustion_limit=0``) and by the default order
   (exhaustion, cuts, MILP). Median seconds of fresh models (each its own capability LP and
   memo, model making included); the three costs must agree.
2. The verification analysis of every unit with a verification section, with the joint solves
   by the McCormick MILP (``subset_limit=0``, the MILPs' covering cuts off as before) and by
   mechanism subsets (the defaults), alternating; the tables must agree.

Run: ``.venv/bin/python -m bench bench_exact_paths`` → ``bench/results/exact_paths.{json,md}``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from polars.testing import assert_frame_equal

from bench.common import markdown_rows, median_seconds, peak_rss_mib, reproduce_on_a_run, write_results
from chokepoint.analyses.placements import JOINT, placement_models
from chokepoint.analyses.verification import _need, verification_table
from chokepoint.settings import PROJECT_ROOT, warehouse_path
from chokepoint.warehouse.reads import staged_tables
from optimization.capability import CapabilityModel
from optimization.deter_all import CUT_LIMIT, EXHAUSTION_LIMIT, SUBSET_LIMIT, DeterAllModel, DeterVerifyModel
from pipelines.assets.deterrence import setups
from pipelines.resources import ChokepointSettings

REPEATS = 3
TIME_LIMIT_S = 60.0
#: Deter-all paths: (name, exhaustion_limit, cut_limit).
PATHS = (("milp", 0, 0), ("cuts", 0, CUT_LIMIT), ("default", EXHAUSTION_LIMIT, CUT_LIMIT))


def units(warehouse: Path):
    staged = staged_tables(warehouse)
    keys = sorted(p.stem for p in (PROJECT_ROOT / "data" / "scenarios").glob("*.toml"))
    return list(setups(ChokepointSettings(data_dir=str(PROJECT_ROOT / "data"), threads=1), staged, keys))


def deter_all_row(one) -> dict | None:
    scenario = one.scenario
    defectors = list(scenario.defectors)
    need = np.array([_need(d) for d in defectors])
    p0 = np.array([d.detection_probability for d in defectors])
    targeted = np.isfinite(need) & (need > 0) & (need <= p0)
    if not targeted.any():
        return None
    required = np.where(targeted, np.clip(1.0 - np.divide(need, p0, out=np.ones_like(p0), where=p0 > 0), 0.0, 1.0),
                        1.0)
    budget = scenario.settings.budget

    def fresh(exhaustion: int, cuts: int) -> DeterAllModel:
        model = placement_models(one.network, scenario, solver="HIGHS", time_limit=TIME_LIMIT_S, joint=True,
                                 capability=CapabilityModel(one.network),
                                 baseline_closed=one.baseline.closed)[JOINT]
        return DeterAllModel(model, exhaustion_limit=exhaustion, cut_limit=cuts)

    row = {"scenario": one.key, "horizon": one.horizon, "controls": None, "targets": int(targeted.sum())}
    results = {}
    for name, exhaustion, cuts in PATHS:
        seconds, result = median_seconds(lambda: fresh(exhaustion, cuts).solve(required, budget=budget), REPEATS)
        results[name] = result
        row[f"{name}_seconds"] = seconds
    row["controls"] = int(fresh(0, 0).model.num_controls)
    costs = {name: (r.feasible, round(r.cost, 9)) for name, r in results.items()}
    if len(set(costs.values())) != 1:
        raise AssertionError(f"{one.key}/{one.horizon}: deter-all paths disagree: {costs}")
    row.update(feasible=results["milp"].feasible, cost=results["milp"].cost,
               default_status=results["default"].solver_status, cuts_status=results["cuts"].solver_status)
    print(row, flush=True)
    return row


@contextlib.contextmanager
def milp_only():
    """DeterVerifyModel by the McCormick MILP, as before mechanism subsets existed."""
    kwdefaults = DeterVerifyModel.__init__.__kwdefaults__
    saved = kwdefaults["subset_limit"]
    kwdefaults["subset_limit"] = 0
    try:
        yield
    finally:
        kwdefaults["subset_limit"] = saved


def verification_rows(all_units) -> list[dict]:
    with_mechanisms = [one for one in all_units if one.scenario.verification]
    totals = {"milp": [], "subsets": []}
    tables = {}
    for _ in range(REPEATS):
        for label in ("milp", "subsets"):
            seconds = 0.0
            with milp_only() if label == "milp" else contextlib.nullcontext():
                for one in with_mechanisms:
                    started = time.perf_counter()
                    frame = verification_table(one.network, one.scenario, capability=CapabilityModel(one.network),
                                               solver="HIGHS", time_limit=TIME_LIMIT_S,
                                               baseline_closed=one.baseline.closed)
                    seconds += time.perf_counter() - started
                    tables[(label, one.key, one.horizon)] = frame
            totals[label].append(seconds)
            print(label, round(seconds, 2), flush=True)
    for one in with_mechanisms:
        assert_frame_equal(tables[("milp", one.key, one.horizon)], tables[("subsets", one.key, one.horizon)],
                           check_exact=False, rtol=1e-7, atol=1e-9)
    return [{"path": label, "units": len(with_mechanisms), "seconds": statistics.median(values)}
            for label, values in totals.items()]


def main(argv=None) -> Path | None:
    named = os.environ.get("CHOKEPOINT_BENCH_WAREHOUSE")
    warehouse = Path(named) if named else warehouse_path()
    if not warehouse.exists():
        # `make bench` goes on with the other benchmarks; nothing is written.
        print(f"bench_exact_paths: skipped, it needs the warehouse of a run ({warehouse} does not exist): "
              "run `make run` or set CHOKEPOINT_BENCH_WAREHOUSE", flush=True)
        return None
    started = time.perf_counter()
    all_units = units(warehouse)
    rows = [row for row in (deter_all_row(one) for one in all_units) if row is not None]
    verification = verification_rows(all_units)
    payload = {"source": str(warehouse), "repeats": REPEATS, "exhaustion_limit": EXHAUSTION_LIMIT,
               "cut_limit": CUT_LIMIT, "subset_limit": SUBSET_LIMIT, "deter_all": rows,
               "verification": verification, "seconds": time.perf_counter() - started,
               "peak_rss_mib": peak_rss_mib()}
    lines = [
        "# Covering cuts and mechanism subsets against the MILPs",
        "",
        f"Instances: every scenario partition × horizon of the job on {warehouse.name} (staged data of a "
        f"`chokepoint run`), with their baselines. Median of {REPEATS} fresh solves (model making included). "
        f"Peak RSS {payload['peak_rss_mib']:.0f} MiB.",
        "",
        "Deter-all of the joint model, sanctions-only targets of the verification analysis, scenario budget:",
        "",
    ]
    lines += markdown_rows(
        ["scenario", "horizon", "controls", "targeted", "feasible", "cost", "MILP s", "cuts s", "default s",
         "default path"],
        [[r["scenario"], r["horizon"], r["controls"], r["targets"], r["feasible"], f"{r['cost']:g}",
          f"{r['milp_seconds']:.2f}", f"{r['cuts_seconds']:.2f}", f"{r['default_seconds']:.2f}",
          r["default_status"].split(":")[0].split(" (")[0]] for r in rows])
    lines += ["", "The verification analysis of every unit with mechanisms (tables equal within solver tolerance), "
              "median seconds of the whole analysis over those units:", ""]
    lines += markdown_rows(["path", "units", "seconds"],
                           [[v["path"], v["units"], f"{v['seconds']:.1f}"] for v in verification])
    lines += ["", reproduce_on_a_run("bench_exact_paths")]
    return write_results("exact_paths", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
