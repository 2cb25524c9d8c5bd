"""Monte Carlo sweep benchmark: samples per second on 1 and 2 local Dask workers.

The default scenario on the reference data (three candidate defectors, the point-estimate
``optimal`` and ``deter_all`` placements, its declared ``[uncertainty]`` ranges and the data
rows' defaults by provenance),
``SAMPLES`` samples in chunks of ``CHUNK``; per worker count one ``LocalCluster`` (one
single-threaded process per worker) is started, warmed up with one chunk (imports, first
canonicalisation), then timed over ``REPEATS`` sweeps (median). Also: the same sweep in this
process without Dask, peak RSS of each worker and of this process, the scaling efficiency
``rate(2) / (2 · rate(1))``, the time 1,000 samples would take at the 2-worker rate, and per
defector the sample count at which the standard error of its probability of being deterred
falls below 0.01 (``p(1 − p) / 0.01²`` with the measured p).

Writes ``bench/results/sweep.{md,json}``. Run: ``.venv/bin/python -m bench bench_sweep``.

With ``CHOKEPOINT_BENCH_WAREHOUSE`` naming a warehouse a ``chokepoint run`` wrote on the real
data, it also sweeps ``CHOKEPOINT_BENCH_SWEEP_SAMPLES`` samples (default 1,000) of that
warehouse's staged data for each scenario named in ``CHOKEPOINT_BENCH_SWEEP_SCENARIOS``
(default ``default``) and each horizon named in ``CHOKEPOINT_BENCH_SWEEP_HORIZONS`` (default
``long_run``; ``short_run,long_run`` for both) on 2 local workers, once (too long to repeat),
with the warehouse's published point-estimate placements of that horizon and, for a scenario
with a baseline, the controls in force kept in every sample (``CHOKEPOINT_BENCH_SWEEP_REAL_ONLY``
set: this part alone): seconds, samples per second, peak RSS per worker, each
defector's probability of being deterred with its standard error, and the sample count for
a standard error below 0.01 → ``bench/results/sweep_real.{md,json}`` (long run) or
``sweep_real_<horizons>.{md,json}``.
"""

from __future__ import annotations

import math
import os
import resource
import time
from pathlib import Path

import polars as pl

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.analyses.montecarlo import dask_client, run_sweep
from chokepoint.analyses.sweep import point_placements
from chokepoint.analyses.uncertainty import robustness_table, sweep_problem
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import HORIZON_TABLES, NETWORK_TABLES
from chokepoint.model.horizons import LONG_RUN
from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.reads import published_deterrence, staged_tables

SAMPLES = 16
CHUNK = 4
REPEATS = 3
SEED = 0
WORKERS = (1, 2)


def _worker_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    if os.environ.get("CHOKEPOINT_BENCH_WAREHOUSE") and os.environ.get("CHOKEPOINT_BENCH_SWEEP_REAL_ONLY"):
        real_data_sweep(Path(os.environ["CHOKEPOINT_BENCH_WAREHOUSE"]))
        return
    reference = load_reference(PROJECT_ROOT / "data" / "reference")
    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "default.toml")
    tables = {"countries": reference.countries, "input_types": reference.input_types,
              "recipes": reference.recipes, "capacities": reference.capacities}
    placements = point_placements(None, tables, scenario, "default", LONG_RUN, solver="HIGHS", time_limit=60)
    problem = sweep_problem(tables, scenario, placements)
    in_process, result = median_seconds(lambda: run_sweep(problem, SAMPLES, SEED, chunk_size=CHUNK), 1)
    rows = [{"workers": 0, "seconds": in_process, "samples_per_s": SAMPLES / in_process, "worker_rss_mib": None}]
    for workers in WORKERS:
        with dask_client(workers=workers) as client:
            run_sweep(problem, CHUNK, SEED + 1, chunk_size=CHUNK, client=client)    # warm-up, not timed
            seconds, swept = median_seconds(
                lambda: run_sweep(problem, SAMPLES, SEED, chunk_size=CHUNK, client=client), REPEATS)
            rss = max(client.run(_worker_rss_mib).values())
        for key in ("leverage", "margin", "deterred"):
            assert (getattr(swept, key) == getattr(result, key)).all(), "results differ across worker counts"
        rows.append({"workers": workers, "seconds": seconds, "samples_per_s": SAMPLES / seconds,
                     "worker_rss_mib": rss})
    rate = {r["workers"]: r["samples_per_s"] for r in rows}
    efficiency = rate[2] / (2 * rate[1])
    table = robustness_table(problem, result, seed=SEED).filter(pl.col("placement") == "optimal")
    needed = {r["defector"]: math.ceil(r["p_deterred"] * (1 - r["p_deterred"]) / 0.01 ** 2)
              for r in table.iter_rows(named=True)}
    payload = {"samples": SAMPLES, "chunk": CHUNK, "repeats": REPEATS, "scenario": "default (reference data)",
               "rows": rows, "scaling_efficiency": efficiency, "seconds_for_1000_at_2_workers": 1000 / rate[2],
               "samples_for_se_below_0.01": needed,
               "p_deterred_optimal": {r["defector"]: r["p_deterred"] for r in table.iter_rows(named=True)},
               "peak_rss_mib_driver": peak_rss_mib()}
    lines = ["# Monte Carlo sweep: samples per second on local Dask workers", "",
             f"Default scenario on the reference data, {SAMPLES} samples in chunks of {CHUNK}, median of "
             f"{REPEATS} sweeps after a warm-up chunk (`.venv/bin/python -m bench bench_sweep`). Results are "
             "identical for every worker count (asserted).", "",
             "| workers | seconds | samples/s | peak RSS per worker (MiB) |", "|---|---|---|---|"]
    for r in rows:
        label = "in process (no Dask)" if r["workers"] == 0 else str(r["workers"])
        rss = "—" if r["worker_rss_mib"] is None else f"{r['worker_rss_mib']:.0f}"
        lines.append(f"| {label} | {r['seconds']:.2f} | {r['samples_per_s']:.2f} | {rss} |")
    lines += ["", f"Scaling efficiency 1 → 2 workers: {100 * efficiency:.0f} %. 1,000 samples at the 2-worker rate: "
              f"{1000 / rate[2] / 60:.1f} min (extrapolated). Driver peak RSS {peak_rss_mib():.0f} MiB.", "",
              "Samples needed for a standard error below 0.01 on P(deterred | optimal placement), "
              "p(1 − p)/0.01² at the measured p (0 when every sample agrees):", ""]
    lines += [f"- {d}: p = {payload['p_deterred_optimal'][d]:.2f}, n ≥ {n}" for d, n in needed.items()]
    path = write_results("sweep", payload, "\n".join(lines))
    print(path.read_text())
    if os.environ.get("CHOKEPOINT_BENCH_WAREHOUSE"):
        real_data_sweep(Path(os.environ["CHOKEPOINT_BENCH_WAREHOUSE"]))


def real_data_sweep(warehouse: Path, workers: int = 2) -> None:
    """One long sweep per scenario on a real-data warehouse's staged tables (see the module)."""
    samples = int(os.environ.get("CHOKEPOINT_BENCH_SWEEP_SAMPLES", "1000"))
    names = os.environ.get("CHOKEPOINT_BENCH_SWEEP_SCENARIOS", "default").split(",")
    horizons = os.environ.get("CHOKEPOINT_BENCH_SWEEP_HORIZONS", LONG_RUN).split(",")
    tables = staged_tables(warehouse)
    network_tables = {name: tables[name] for name in (*NETWORK_TABLES, *HORIZON_TABLES) if name in tables}
    deterrence = published_deterrence(warehouse)
    rows, lines = [], ["# Monte Carlo sweep on the real data", "",
                       f"Staged tables of `{warehouse}` (a `chokepoint run` on the real data), {samples} samples on "
                       f"{workers} local Dask workers, one sweep per scenario (`CHOKEPOINT_BENCH_WAREHOUSE={warehouse} "
                       "CHOKEPOINT_BENCH_SWEEP_SCENARIOS=" + ",".join(names) + " CHOKEPOINT_BENCH_SWEEP_HORIZONS="
                       + ",".join(horizons) + " .venv/bin/python -m bench bench_sweep`); point-estimate placements "
                       "of each horizon as the warehouse published them.", "",
                       "| scenario | horizon | baseline | samples | seconds | samples/s | peak RSS per worker (MiB) |",
                       "|---|---|---|---|---|---|---|"]
    verdicts = []
    for name, horizon in ((n, h) for n in names for h in horizons):
        scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / f"{name}.toml")
        scenario.validate_against(tables["countries"]["iso3"], tables["input_types"]["input_id"])
        placements = point_placements(deterrence, network_tables, scenario, name, horizon, solver="HIGHS",
                                      time_limit=60, controls_in_force=tables.get("controls_in_force"),
                                      firms=tables.get("firms"))
        problem = sweep_problem(network_tables, scenario, placements, horizon=horizon,
                                controls_in_force=tables.get("controls_in_force"), firms=tables.get("firms"))
        with dask_client(workers=workers) as client:
            started = time.perf_counter()
            result = run_sweep(problem, samples, SEED, chunk_size=CHUNK * 4, client=client)
            seconds = time.perf_counter() - started
            rss = max(client.run(_worker_rss_mib).values())
        table = robustness_table(problem, result, seed=SEED, scenario=name)
        rows.append({"scenario": name, "horizon": horizon, "baseline": problem.baseline, "samples": samples,
                     "seconds": seconds,
                     "samples_per_s": samples / seconds, "worker_rss_mib": rss,
                     "verdicts": table.drop("controls").to_dicts()})
        lines.append(f"| {name} | {horizon} | {problem.baseline} | {samples} | {seconds:.0f} | {samples / seconds:.2f} | "
                     f"{rss:.0f} |")
        for r in table.iter_rows(named=True):
            p = r["p_deterred"]
            verdicts.append(f"- {name}, {r['defector']} ({r['horizon']}), {r['placement']} placement "
                            f"({', '.join(r['controls']) or 'none'}): deterred with probability {p:.3f} ± "
                            f"{r['p_deterred_se']:.3f}; leverage P5/P50/P95 {r['leverage_p05']:.3f} / "
                            f"{r['leverage_p50']:.3f} / {r['leverage_p95']:.3f}; n ≥ "
                            f"{math.ceil(p * (1 - p) / 0.01 ** 2)} for a standard error below 0.01")
    lines += ["", "Verdicts:", "", *verdicts]
    # The long run's figures keep their file; other horizons get their own, so no run overwrites another's.
    name = "sweep_real" if horizons == [LONG_RUN] else "sweep_real_" + "_".join(horizons)
    path = write_results(name, {"warehouse": str(warehouse), "workers": workers, "rows": rows}, "\n".join(lines))
    print(path.read_text())


if __name__ == "__main__":
    main()
