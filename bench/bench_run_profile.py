"""Profile of the main job (``chokepoint run``): where the time goes, before and after.

Runs the main job of two checkouts on the same data, alternately, each in its own
process exactly as ``chokepoint run --warehouse W`` does (``pipelines.cli.main``), and
records per run:

* wall time of the process (interpreter start to exit) and of the job;
* per-step wall time, from the Dagster run's STEP_START / STEP_SUCCESS events;
* deterministic work counters, per step and in total: solves by kind (LP — the
  capability LP counted at its model, whether cvxpy or HiGHS's arrays solve it — and other
  cvxpy LPs; MILP), canonicalisations (a cvxpy problem compiled from scratch), model builds
  (``CapabilityModel``, ``InterdictionModel``, ``DeterAllModel``), DuckDB connections
  opened, and the seconds spent inside HiGHS's ``run`` by kind and in ``duckdb.connect``
  — attributed to the step whose time span holds them;
* peak RSS and CPU seconds of the process, and the load average before and after.

*Before* is ``git archive`` of ``--before`` (default ``e6684dc``, the layout commit on
``main``) unpacked in a temporary folder; *after* is this checkout as it is on disk.
Both read the same real-data mirror and use a fresh cache folder (no fetch cache), their
own Dagster home, warehouse and reports folder. One warm-up run per side is discarded
(it creates the warehouse and compiles numba and bytecode caches), then ``--runs``
warm runs per side alternate before/after so that both see the same machine load.
Medians are reported. At the end the last published warehouses of both sides are
compared table by table (:mod:`bench.compare_run_tables`).

Writes ``bench/results/run_profile.{md,json}``::

    python -m bench.bench_run_profile [--runs 3] [--before e6684dc] [--work /tmp/run_profile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from bench.compare_run_tables import compare_warehouses
from chokepoint.settings import PROJECT_ROOT, shared_data_dir

__all__ = ["main", "DRIVER", "profile_run"]

#: Runs in the child process (cwd = the checkout, which comes first on sys.path): installs
#: counters, runs ``chokepoint run``, then reads the step events and writes JSON.
DRIVER = r'''
import json, os, resource, sys, time
started = time.perf_counter()
import cvxpy.problems.problem as _problem
import cvxpy.reductions.solvers.solving_chain as _chain
import highspy
import threading
events = []          # (unix time, counter, amount)
# Per thread: the partitions' analyses solve in threads, each in its own kind of solve.
state = threading.local()

def _record(name, amount=1.0):
    events.append((time.time(), name, amount))

_solve = _problem.Problem.solve
def solve(self, *args, **kwargs):
    if getattr(state, "capability", False):      # counted once, as the capability LP it solves
        return _solve(self, *args, **kwargs)
    kind = "milp" if self.is_mixed_integer() else "lp"
    previous, state.kind = getattr(state, "kind", "other"), kind
    t = time.perf_counter()
    try:
        return _solve(self, *args, **kwargs)
    finally:
        state.kind = previous
        _record(f"{kind}_solves")
        _record(f"{kind}_solve_seconds", time.perf_counter() - t)
_problem.Problem.solve = solve

_apply = _chain.SolvingChain.apply
def apply(self, *args, **kwargs):
    _record("canonicalisations")
    return _apply(self, *args, **kwargs)
_chain.SolvingChain.apply = apply

_run = highspy.Highs.run
def run(self, *args, **kwargs):
    t = time.perf_counter()
    try:
        return _run(self, *args, **kwargs)
    finally:
        _record(f"highs_{getattr(state, 'kind', 'other')}_seconds", time.perf_counter() - t)
highspy.Highs.run = run

import duckdb
_connect = duckdb.connect
def connect(*args, **kwargs):
    t = time.perf_counter()
    try:
        return _connect(*args, **kwargs)
    finally:
        _record("duckdb_connects")
        _record("duckdb_connect_seconds", time.perf_counter() - t)
duckdb.connect = connect

import optimization.capability, optimization.interdiction, optimization.deter_all
for module, name in ((optimization.capability, "CapabilityModel"), (optimization.interdiction, "InterdictionModel"),
                     (optimization.deter_all, "DeterAllModel")):
    cls = getattr(module, name)
    def counted(self, *args, _init=cls.__init__, _name=name, **kwargs):
        _record(f"builds_{_name}")
        return _init(self, *args, **kwargs)
    cls.__init__ = counted

# The capability LP reaches HiGHS through cvxpy in older checkouts and directly in newer
# ones: count it at the model, as one LP solve either way.
_capability_solve = optimization.capability.CapabilityModel._solve
def capability_solve(self, *args, **kwargs):
    previous = getattr(state, "kind", "other"), getattr(state, "capability", False)
    state.kind, state.capability = "lp", True
    t = time.perf_counter()
    try:
        return _capability_solve(self, *args, **kwargs)
    finally:
        state.kind, state.capability = previous
        _record("lp_solves")
        _record("lp_solve_seconds", time.perf_counter() - t)
optimization.capability.CapabilityModel._solve = capability_solve

from pipelines.cli import main
job_started = time.perf_counter()
code = main(["run", "--warehouse", os.environ["PROFILE_WAREHOUSE"]])
job_seconds = time.perf_counter() - job_started

import dagster as dg
from dagster import DagsterEventType
instance = dg.DagsterInstance.get()
run_record = instance.get_runs(limit=1)[0]
kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
records = instance.get_records_for_run(run_record.run_id, of_type=kinds).records
steps, starts = {}, {}
for record in records:
    entry = record.event_log_entry
    if entry.dagster_event.event_type == DagsterEventType.STEP_START:
        starts[entry.step_key] = entry.timestamp
    elif entry.step_key in starts:
        steps[entry.step_key] = [starts[entry.step_key], entry.timestamp]
usage = resource.getrusage(resource.RUSAGE_SELF)
json.dump({"exit_code": code, "run_id": run_record.run_id, "job_seconds": job_seconds,
           "process_seconds_in_python": time.perf_counter() - started, "steps": steps, "events": events,
           "peak_rss_mib": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime},
          open(os.environ["PROFILE_OUT"], "w"))
'''

#: Counters summed per step and per run (``*_seconds`` are seconds, the rest counts).
COUNTERS = ("lp_solves", "milp_solves", "canonicalisations", "builds_CapabilityModel", "builds_InterdictionModel",
            "builds_DeterAllModel", "duckdb_connects", "lp_solve_seconds", "milp_solve_seconds", "highs_lp_seconds",
            "highs_milp_seconds", "highs_other_seconds", "duckdb_connect_seconds")
#: Steps shown one by one in the table (the rest are summed as "other steps").
NAMED_STEPS = ("analytics__recruitment", "analytics__critical_nodes", "deterrence_analysis", "analytics__chokepoints",
               "analytics__leverage_curve", "analytics__placements", "analytics__control_leverage",
               "analytics__capability", "real_tables", "reports__html_report", "warehouse__published")


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def before_tree(ref: str, work: Path) -> Path:
    """``git archive`` of ``ref`` unpacked under ``work`` (reused if present)."""
    tree = work / f"tree-{ref}"
    if not (tree / "pipelines" / "cli.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", ref], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _environment(side_dir: Path, tree: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    env.update({
        "PYTHONPATH": str(tree), "DAGSTER_HOME": str(side_dir / "dagster"),
        "CHOKEPOINT_SHARED_DATA": str(shared_data_dir()), "CHOKEPOINT_CACHE": str(side_dir / "no-fetch-cache"),
        "CHOKEPOINT_REPORTS": str(side_dir / "reports"), "CHOKEPOINT_KEEP_SNAPSHOTS": "1",
        "PROFILE_WAREHOUSE": str(side_dir / "warehouse" / "chokepoint.duckdb"),
    })
    return env


def profile_run(tree: Path, side_dir: Path, label: str, index: int) -> dict:
    """One ``chokepoint run`` of ``tree`` in a child process; its profile as a dict."""
    side_dir.mkdir(parents=True, exist_ok=True)
    out = side_dir / f"run-{index}.json"
    env = _environment(side_dir, tree)
    env["PROFILE_OUT"] = str(out)
    load_before = _loadavg()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=tree, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"{label} run {index} failed ({process.returncode}):\n{stderr[-3000:]}")
    profile = json.loads(out.read_text())
    if profile["exit_code"] != 0:
        raise RuntimeError(f"{label} run {index}: chokepoint run exited {profile['exit_code']}:\n{stderr[-3000:]}")
    profile.update(label=label, index=index, wall_seconds=wall, load_before=load_before, load_after=_loadavg(),
                   summary_head=stdout.splitlines()[:1])
    profile["per_step"] = _attribute(profile)
    profile["totals"] = {name: sum(a for _, n, a in profile["events"] if n == name) for name in COUNTERS}
    del profile["events"]
    return profile


def _attribute(profile: dict) -> dict:
    """Per step: wall seconds and the counters whose events fall within its time span."""
    per_step = {key: {"seconds": end - start, **dict.fromkeys(COUNTERS, 0.0)}
                for key, (start, end) in profile["steps"].items()}
    spans = sorted((start, end, key) for key, (start, end) in profile["steps"].items())
    for when, name, amount in profile["events"]:
        for start, end, key in spans:
            if start <= when <= end:
                per_step[key][name] += amount
                break
    return per_step


def _median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def summarise(runs: list[dict]) -> dict:
    """Medians over the warm runs of one side."""
    steps = sorted({k for r in runs for k in r["per_step"]})
    return {
        "runs": len(runs),
        "wall_seconds": _median(r["wall_seconds"] for r in runs),
        "job_seconds": _median(r["job_seconds"] for r in runs),
        "peak_rss_mib": _median(r["peak_rss_mib"] for r in runs),
        "cpu_seconds": _median(r["cpu_seconds"] for r in runs),
        "wall_seconds_each": [round(r["wall_seconds"], 1) for r in runs],
        "load_each": [[r["load_before"][0], r["load_after"][0]] for r in runs],
        "totals": {c: _median(r["totals"][c] for r in runs) for c in COUNTERS},
        "steps": {s: {f: _median(r["per_step"].get(s, {}).get(f, 0.0) for r in runs)
                      for f in ("seconds", *COUNTERS)} for s in steps},
    }


def _fmt_count(value: float) -> str:
    return f"{value:,.0f}"


def markdown(before: dict, after: dict, meta: dict, tables: dict | None) -> str:
    b, a = before, after
    lines = [
        "# Main job profile: before and after",
        "",
        f"`chokepoint run` on the real-data mirror (`{meta['shared_data']}`), warm: median of {a['runs']} runs per "
        f"side after one discarded warm-up run, before/after alternating. Before = `git archive {meta['before']}`; "
        f"after = `{meta['after']}` (branch `{meta['branch']}`, {meta['after_commit']}). Machine: {meta['cpus']} "
        f"cores shared with other jobs — load averages (1 min) are listed per run; wall times are noisy, the "
        f"counters are deterministic. Written by `python -m bench.bench_run_profile` on {meta['date']}.",
        "",
        "## Totals (medians)",
        "",
        "| | before | after |",
        "|---|---:|---:|",
        f"| process wall time, s | {b['wall_seconds']:.1f} | {a['wall_seconds']:.1f} |",
        f"| job wall time (`chokepoint run` in-process), s | {b['job_seconds']:.1f} | {a['job_seconds']:.1f} |",
        f"| CPU time (user + sys), s | {b['cpu_seconds']:.1f} | {a['cpu_seconds']:.1f} |",
        f"| peak RSS, MiB | {b['peak_rss_mib']:.0f} | {a['peak_rss_mib']:.0f} |",
        f"| wall time of each run, s | {b['wall_seconds_each']} | {a['wall_seconds_each']} |",
        f"| load average (1 min) before/after each run | {b['load_each']} | {a['load_each']} |",
    ]
    for counter in COUNTERS:
        fmt = (lambda v: f"{v:.1f}") if counter.endswith("seconds") else _fmt_count
        lines.append(f"| {counter.replace('_', ' ')} | {fmt(b['totals'][counter])} | {fmt(a['totals'][counter])} |")
    lines += ["", "## Per step (medians; seconds are wall time of the step, counts are per run)", "",
              "| step | s before | s after | LP solves before → after | MILP solves | canonicalisations | "
              "model builds (Capability / Interdiction / DeterAll) | HiGHS s (LP + MILP) before → after |",
              "|---|---:|---:|---|---|---|---|---|"]

    def row(name: str, sb: dict, sa: dict) -> str:
        builds = lambda s: "/".join(_fmt_count(s[f"builds_{m}"]) for m in ("CapabilityModel", "InterdictionModel",
                                                                          "DeterAllModel"))
        highs = lambda s: f"{s['highs_lp_seconds']:.1f} + {s['highs_milp_seconds']:.1f}"
        return (f"| {name} | {sb['seconds']:.1f} | {sa['seconds']:.1f} | {_fmt_count(sb['lp_solves'])} → "
                f"{_fmt_count(sa['lp_solves'])} | {_fmt_count(sb['milp_solves'])} → {_fmt_count(sa['milp_solves'])} | "
                f"{_fmt_count(sb['canonicalisations'])} → {_fmt_count(sa['canonicalisations'])} | "
                f"{builds(sb)} → {builds(sa)} | {highs(sb)} → {highs(sa)} |")

    zero = {"seconds": 0.0, **dict.fromkeys(COUNTERS, 0.0)}
    for name in NAMED_STEPS:
        lines.append(row(name, b["steps"].get(name, zero), a["steps"].get(name, zero)))
    rest = sorted((set(b["steps"]) | set(a["steps"])) - set(NAMED_STEPS))
    other = [{f: sum(side["steps"].get(s, zero)[f] for s in rest) for f in zero} for side in (b, a)]
    lines.append(row(f"other steps ({len(rest)})", *other))
    if tables is not None:
        differing = {t: r for t, r in tables["tables"].items() if not r["identical"]}
        lines += ["", "## Published tables, before vs after", "",
                  f"`python -m bench.compare_run_tables` on the last run of each side (schemas "
                  f"{', '.join(tables['schemas'])}; excluded columns: {', '.join(tables['excluded_columns'])}): "
                  f"{len(tables['tables']) - len(differing)} of {len(tables['tables'])} tables identical cell for cell."]
        for table, result in differing.items():
            detail = "; ".join(f"{c}: {i['cells']} cells" + (f", max rel {i['max_rel']:.2g}" if i["max_rel"] is not None
                                                             else "") for c, i in result.get("columns", {}).items())
            lines.append(f"- `{table}`: {result['reason']} ({detail})")
    return "\n".join(lines) + "\n"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm runs per side (default 3)")
    parser.add_argument("--before", default="e6684dc", help="git revision of the 'before' side (default e6684dc)")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args([] if argv is None else argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="run_profile-"))
    sides = {"before": before_tree(args.before, work), "after": PROJECT_ROOT}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    order = [(side, 0) for side in sides] + [(side, i) for i in range(1, args.runs + 1) for side in sides]
    for side, index in order:
        profile = profile_run(sides[side], work / side, side, index)
        print(f"{side} run {index}: {profile['wall_seconds']:.1f} s (load {profile['load_before'][0]:.2f} → "
              f"{profile['load_after'][0]:.2f})", flush=True)
        if index:
            runs[side].append(profile)
    summaries = {side: summarise(r) for side, r in runs.items()}
    tables = compare_warehouses(work / "before" / "warehouse" / "chokepoint.duckdb",
                                work / "after" / "warehouse" / "chokepoint.duckdb", ["analytics"])
    meta = {"before": args.before, "after": str(PROJECT_ROOT), "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
            "after_commit": _git("describe", "--always", "--dirty"), "shared_data": str(shared_data_dir()),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    payload = {"meta": meta, "summary": summaries, "tables": tables, "runs": runs}
    path = write_results("run_profile", payload, markdown(summaries["before"], summaries["after"], meta, tables))
    print(f"wrote {path}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
