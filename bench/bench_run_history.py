"""Dagster's run history: its SQLite storage as shipped vs the project's
(:class:`pipelines.run_history.RunHistoryStorage`, ``synchronous=NORMAL`` with a held
connection), on the same job in one process.

The job has the main job's shape without its computations: ``--assets`` assets, each
reading the ``--fan-in`` assets before it (Dagster's in-memory I/O manager) and checked by
one asset check, so its wall time is Dagster's own work per step and event — most of it
the event log's writes. Each storage gets a fresh instance folder per repeat (runs
alternate between the storages, so both see the same machine load); the median wall time
of ``--repeats`` runs is reported with the events written and the time per event.

Writes ``bench/results/run_history.{md,json}``::

    python -m bench.bench_run_history [--assets 100] [--fan-in 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from bench.common import peak_rss_mib, write_results

STORAGES = {
    "Dagster's SQLite storage (storage: sqlite)": "storage:\n  sqlite:\n    base_dir:\n      env: DAGSTER_HOME\n",
    "the project's (pipelines.run_history)": (
        "storage:\n  custom:\n    module: pipelines.run_history\n    class: RunHistoryStorage\n"
        "    config:\n      base_dir:\n        env: DAGSTER_HOME\n"),
}


def _job(assets: int, fan_in: int) -> dg.JobDefinition:
    definitions, checks = [], []
    for k in range(assets):
        reads = [f"a{j}" for j in range(max(0, k - fan_in), k)]
        # A body per asset with named parameters: Dagster maps inputs to parameter names.
        namespace: dict = {}
        exec(f"def a{k}({', '.join(reads)}):\n    return {k}\n", namespace)  # noqa: S102 - generated signature
        definitions.append(dg.asset(name=f"a{k}", ins={name: dg.AssetIn(name) for name in reads})(namespace[f"a{k}"]))
        checks.append(dg.asset_check(asset=f"a{k}", name=f"a{k}_ok")(lambda: dg.AssetCheckResult(passed=True)))
    defs = dg.Definitions(assets=definitions, asset_checks=checks,
                          jobs=[dg.define_asset_job("bench", selection=dg.AssetSelection.all())])
    return defs.resolve_job_def("bench")


def _run_once(job: dg.JobDefinition, config_yaml: str, root: Path) -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(dir=root))
    (home / "dagster.yaml").write_text(config_yaml)
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance)
        seconds = time.perf_counter() - started
        assert result.success
        events = len(instance.all_logs(result.run_id))
    return seconds, events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--fan-in", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    # `python -m bench bench_run_history` calls main() with the defaults (as bench_run_profile).
    args = parser.parse_args([] if argv is None else argv)
    job = _job(args.assets, args.fan_in)
    saved = os.environ.get("DAGSTER_HOME")
    times: dict[str, list[float]] = {name: [] for name in STORAGES}
    events: dict[str, int] = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.repeats):
            for name, config_yaml in STORAGES.items():
                seconds, events[name] = _run_once(job, config_yaml, Path(root))
                times[name].append(seconds)
    if saved is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = saved
    rows = []
    for name in STORAGES:
        median = statistics.median(times[name])
        rows.append({"storage": name, "median_seconds": median, "runs": times[name], "events": events[name],
                     "ms_per_event": 1000 * median / events[name]})
    base, ours = rows
    command = f"python -m bench.bench_run_history --assets {args.assets} --fan-in {args.fan_in} --repeats {args.repeats}"
    lines = [
        "# Dagster run history: Dagster's SQLite storage vs the project's",
        "",
        f"A job of {args.assets} assets, each reading the {args.fan_in} before it and checked by one asset check "
        f"(no computation: Dagster's own work per step and event). Median of {args.repeats} runs per storage, "
        f"alternating, each in a fresh instance folder. Load average at the start {load[0]:.2f}. "
        f"Peak RSS {peak_rss_mib():.0f} MiB.",
        "",
        "| storage | events per run | run wall s (median) | ms per event |",
        "|---|---:|---:|---:|",
        *[f"| {r['storage']} | {r['events']:,} | {r['median_seconds']:.2f} | {r['ms_per_event']:.2f} |" for r in rows],
        "",
        f"Speed-up of the run: {base['median_seconds'] / ours['median_seconds']:.1f}×.",
        "",
        f"Command: `{command}`",
    ]
    print("\n".join(lines))
    write_results("run_history", {"command": command, "assets": args.assets, "fan_in": args.fan_in,
                                  "load_average": load, "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
