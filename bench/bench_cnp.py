"""Critical-node detection on the 24 standard instances, against IRMS's published figures.

The instances and IRMS's figures (best and mean of 30 runs of 7,200 s; Zhou, Li, Hao &
Glover, INFORMS J. Comput. 2023, doi:10.1287/ijoc.2022.0130) are read from
``/work/shared/benchmarks/cnp`` (``CNP_BENCH_DIR`` overrides; format in its README).
Each run is what a user gets from ``critical-nodes --time-limit T --seed S
--processes P``: :func:`optimization.cnp_exact.critical_nodes` with ``method="auto"``.

Usage (from the repository root)::

    python -m bench.bench_cnp [--instances BA500,USAir97] [--seeds 0,1,2] [--time-limit 60]
                              [--processes 1,2] [--max-iterations N] [--ablation N]
                              [--set FIELD=VALUE ...] [--out cnp]

``--set`` changes one field of :class:`graph.critical_nodes.SearchSettings` for every run
(repeatable), to measure a parameter at the time limit.

``--ablation N`` adds the ablation table: every variant of the search on the
instances given, ``N`` local-search iterations per run (a budget, so the table does
not depend on the machine), one process. Results: ``bench/results/<out>.md`` and
``.json``; the load average of the machine is recorded beside them (the figures are
wall-clock limited, so a busy machine makes them worse).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mib, write_results
from graph.critical_nodes import EdgeList, SearchSettings, heuristic_critical_nodes, pairwise_connectivity, warm_up
from optimization.cnp_exact import critical_nodes

DIRECTORY = Path(os.environ.get("CNP_BENCH_DIR", "/work/shared/benchmarks/cnp"))

#: Ablation variants: name -> overrides of graph.critical_nodes.SearchSettings.
VARIANTS = {
    "full": {},
    "no deep exchanges": {"depth_probability": 0.0},
    "no swap descent": {"descent": False},
    "no reduction (MACNP crossover)": {"reduce": False},
    "no articulation-point moves": {"greedy_probability": 0.0},
    "no restarts": {"restart_after": 0},
    "no degree start": {"degree_start": False},
    "no decomposition": {"window_size": 0},
    "MACNP-like (none of the above)": {"depth_probability": 0.0, "descent": False, "reduce": False,
                                       "window_size": 0},
}


def catalogue() -> dict[str, dict]:
    with open(DIRECTORY / "instances.csv", newline="") as handle:
        return {row["instance"]: row for row in csv.DictReader(handle)}


def load_instance(path: Path) -> EdgeList:
    """Adjacency format: first line n; then ``u: v1 v2 …`` per node (each edge from both ends)."""
    lines = path.read_text().splitlines()
    n = int(lines[0].split()[0])
    src, dst = [], []
    for line in lines[1:]:
        if not line.strip():
            continue
        head, _, rest = line.partition(":")
        u = int(head)
        for token in rest.split():
            v = int(token)
            if u < v:
                src.append(u)
                dst.append(v)
    keys = np.unique(np.asarray(src, np.int64) * n + np.asarray(dst, np.int64))
    return EdgeList(ids=tuple(str(i) for i in range(n)), src=keys // n, dst=keys % n, source=path.name)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def search_settings(assignments: list[str]) -> tuple[SearchSettings, dict]:
    """``SearchSettings`` with ``FIELD=VALUE`` assignments applied (each value converted to
    the field's type); also the overrides, for the record."""
    defaults = SearchSettings()
    overrides = {}
    for assignment in assignments:
        name, _, text = assignment.partition("=")
        if not hasattr(defaults, name) or not text:
            raise SystemExit(f"--set {assignment!r}: expected FIELD=VALUE with a field of SearchSettings")
        kind = type(getattr(defaults, name))
        overrides[name] = text.lower() in ("1", "true", "yes") if kind is bool else kind(text)
    return replace(defaults, **overrides), overrides


def run_one(edges: EdgeList, k: int, best_known: int, seconds: float, seed: int, processes: int,
            max_iterations: int | None, settings: SearchSettings | None = None) -> dict:
    started = time.perf_counter()
    result = critical_nodes(edges, k, seconds, seed=seed, processes=processes, max_iterations=max_iterations,
                            settings=settings)
    elapsed = time.perf_counter() - started
    assert result.pairwise_connectivity == pairwise_connectivity(edges, [int(v) for v in result.removed])
    heuristic = result.details.get("heuristic", {})
    trajectory = heuristic.get("trajectory", [])
    reached = next((t for t, _, value in trajectory if value <= best_known), None)
    if reached is None and result.pairwise_connectivity <= best_known:
        reached = elapsed  # proved by enumeration / MILP
    return {"seed": seed, "processes": processes, "value": result.pairwise_connectivity, "seconds": elapsed,
            "optimal": result.optimal, "method": result.method, "time_to_best_known": reached,
            "iterations": heuristic.get("iterations"), "generations": heuristic.get("generations"),
            "regions": heuristic.get("windows", 0), "regions_improved": heuristic.get("windows_improved", 0)}


def command(name: str, seeds, seconds: float, processes: int, max_iterations, overrides=None) -> str:
    budget = f" --max-iterations {max_iterations}" if max_iterations else ""
    changed = "".join(f" --set {key}={value}" for key, value in (overrides or {}).items())
    return (f"python -m bench.bench_cnp --instances {name} --seeds {','.join(map(str, seeds))} "
            f"--time-limit {seconds:g} --processes {processes}{budget}{changed}")


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="", help="comma-separated names from instances.csv (default: all)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--processes", default="1,2", help="process counts to compare, e.g. 1,2")
    parser.add_argument("--max-iterations", type=int, default=None)
    parser.add_argument("--ablation", type=int, default=0, help="iterations per ablation run (0: no ablation)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a SearchSettings field for every run (repeatable)")
    parser.add_argument("--out", default="cnp")
    # `python -m bench bench_cnp` calls main() with the defaults (sys.argv holds the runner's arguments).
    args = parser.parse_args([] if argv is None else argv)
    table = catalogue()
    names = [x for x in args.instances.split(",") if x] or list(table)
    seeds = [int(x) for x in args.seeds.split(",") if x]
    modes = [int(x) for x in args.processes.split(",") if x]
    settings, overrides = search_settings(args.set)
    warm_up()
    load_before = load_average()
    rows = []
    for name in names:
        info = table[name]
        edges = load_instance(DIRECTORY / info["file"])
        k, best_known = int(info["k"]), int(info["best_known"])
        irms_best, irms_mean = int(info["irms_best_7200s"]), float(info["irms_mean_7200s"])
        for processes in modes:
            runs = [run_one(edges, k, best_known, args.time_limit, seed, processes, args.max_iterations, settings)
                    for seed in seeds]
            values = [r["value"] for r in runs]
            times = [r["time_to_best_known"] for r in runs if r["time_to_best_known"] is not None]
            row = {"instance": name, "nodes": edges.num_nodes, "edges": edges.num_edges, "k": k,
                   "best_known": best_known, "irms_best": irms_best, "irms_mean": irms_mean,
                   "processes": processes, "best": min(values), "mean": statistics.fmean(values),
                   "worst": max(values), "hits": len(times), "runs": len(runs),
                   "median_time_to_best_known": statistics.median(times) if times else None,
                   "median_seconds": statistics.median(r["seconds"] for r in runs),
                   "regions": sum(r["regions"] for r in runs),
                   "regions_improved": sum(r["regions_improved"] for r in runs),
                   "at_or_below_irms_mean": max(values) <= irms_mean,
                   "best_known_where_irms_mean_is": (max(values) <= best_known) if irms_mean <= best_known else None,
                   "command": command(name, seeds, args.time_limit, processes, args.max_iterations, overrides),
                   "load_average": load_average(), "runs_detail": runs}
            rows.append(row)
            print(f"{name:15s} P={processes} values {values} (BKV {best_known}, IRMS mean {irms_mean}) "
                  f"hits {len(times)}/{len(runs)} load {row['load_average']}", flush=True)
    ablation = []
    if args.ablation:
        for name in names:
            info = table[name]
            edges = load_instance(DIRECTORY / info["file"])
            k = int(info["k"])
            for variant, overrides in VARIANTS.items():
                values, elapsed = [], []
                for seed in seeds:
                    started = time.perf_counter()
                    _, value, _ = heuristic_critical_nodes(edges, k, 1e9, seed=seed, max_iterations=args.ablation,
                                                           **overrides)
                    elapsed.append(time.perf_counter() - started)
                    values.append(value)
                ablation.append({"instance": name, "variant": variant, "values": values,
                                 "mean": statistics.fmean(values), "median_seconds": statistics.median(elapsed),
                                 "command": f"python -m bench.bench_cnp --instances {name} --seeds {args.seeds} "
                                            f"--processes 1 --ablation {args.ablation}"})
                print(f"  ablation {name:15s} {variant:32s} {values}", flush=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [
        "# Critical-node detection (CNP) on the 24 standard instances",
        "",
        f"Each run: `critical_nodes(graph, K, {args.time_limit:g} s, seed, processes)` (method auto, as "
        f"`critical-nodes --time-limit {args.time_limit:g} --seed S --processes P` runs it), seeds "
        f"{', '.join(map(str, seeds))}"
        + (f", at most {args.max_iterations:,} local-search iterations per process" if args.max_iterations else "")
        + (f", settings changed: {', '.join(f'{key} = {value}' for key, value in overrides.items())}"
           if overrides else "")
        + ". IRMS: best and mean of 30 runs of 7,200 s (Zhou, Li, Hao & Glover, INFORMS J. Comput. 2023, "
          "doi:10.1287/ijoc.2022.0130, online supplement Table 1). ✓ = every run at or below IRMS's mean, and at "
          "the best-known value (BKV) where IRMS's mean is. Time to BKV: median over the runs that reached it, "
          "seconds of the search (kernel load excluded). Regions: decomposition regions re-solved, in all runs of "
          "the row (improved / tried; graph.critical_nodes.SearchSettings.window_size).",
        "",
        f"Machine: {os.cpu_count()} cores; load average (1, 5, 15 min) {load_before} at the start and "
        f"{load_average()} at the end — other jobs shared the cores, so wall-clock figures are pessimistic. "
        f"Peak RSS: {peak_rss_mib():.0f} MiB (this process"
        + (f"), {children:.0f} MiB (largest child process)." if children else
           ", whose threads run the P searches).") + " P = searches at once (threads unless said otherwise).",
        "",
        "| instance | n | K | BKV | IRMS best | IRMS mean | P | best | mean | worst | BKV hits | time to BKV (s) | "
        "regions | ✓ |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["at_or_below_irms_mean"] and r["best_known_where_irms_mean_is"] is not False
        lines.append(f"| {r['instance']} | {r['nodes']:,} | {r['k']} | {r['best_known']:,} | {r['irms_best']:,} | "
                     f"{r['irms_mean']:,.1f} | {r['processes']} | {r['best']:,} | {r['mean']:,.1f} | {r['worst']:,} | "
                     f"{r['hits']}/{r['runs']} | {fmt(r['median_time_to_best_known'])} | "
                     f"{r['regions_improved']:,} / {r['regions']:,} | {'✓' if ok else '✗'} |")
    lines += ["", "Reproduce a row: " + (f"`{rows[0]['command']}`" if rows else "–")
              + " (instance and process count of the row).", ""]
    if ablation:
        lines += [f"## Ablation ({args.ablation:,} local-search iterations per run, 1 process, seeds {args.seeds})", "",
                  "Mean objective over the seeds (lower is better); a budget, not a clock, so the table is the same on "
                  "any machine. Variants switch one ingredient off (see `VARIANTS` in bench/bench_cnp.py).", "",
                  "| instance | " + " | ".join(VARIANTS) + " |", "|---|" + "---|" * len(VARIANTS)]
        for name in names:
            cells = [next(a for a in ablation if a["instance"] == name and a["variant"] == v) for v in VARIANTS]
            lines.append(f"| {name} | " + " | ".join(f"{c['mean']:,.1f}" for c in cells) + " |")
        lines += ["", f"Reproduce: `{ablation[0]['command'].replace(names[0], ','.join(names))}`."]
    path = write_results(args.out, {"time_limit": args.time_limit, "seeds": seeds, "processes": modes,
                                    "settings": overrides,
                                    "max_iterations": args.max_iterations, "load_average_start": load_before,
                                    "load_average_end": load_average(), "rows": rows, "ablation": ablation,
                                    "argv": sys.argv[1:]}, "\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
