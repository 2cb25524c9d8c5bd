"""The capability LP as the analyses re-solve it: cvxpy's HiGHS path against HiGHS's arrays.

Every placement the analyses evaluate is a capability LP per defector with some routes
closed; consecutive solves of one defector differ by a control or two (pruning a
placement, a local-search move). Two paths solve the same sequence on fresh models:

* ``cvxpy``: the model's cvxpy problem with ``solver=cp.HIGHS`` (cvxpy's own interface:
  parameters applied to the whole problem, a fresh HiGHS instance per solve started from
  the previous solution), default C++ canonicalisation backend
  (``CapabilityModel(..., highs_arrays=False)``);
* ``arrays``: what the analyses use — the LP handed to HiGHS as arrays once per model, one
  instance kept per objective and hot-started from its last optimal basis, only changed
  column bounds passed (:mod:`optimization.capability_highs`).

The optimal values must agree (largest relative difference reported). Also the time to
canonicalise a new capability LP with each cvxpy backend (what SCIP's path and the
reference pay). Instance: the staged tables of a warehouse a run wrote
(``CHOKEPOINT_BENCH_WAREHOUSE``, else the default warehouse; the embedded reference data
when neither exists), default scenario, both horizons.

Run: ``.venv/bin/python -m bench bench_capability_lp`` → ``bench/results/capability_lp.{json,md}``.
"""

from __future__ import annotations

import statistics
import time

import cvxpy as cp
import numpy as np

from bench.bench_horizons import instance
from bench.common import peak_rss_mib, write_results
from chokepoint.analyses.placements import catalogue_arrays
from chokepoint.model.build import horizon_networks
from optimization.capability import CapabilityModel
from optimization.solvers import solver_options

__all__ = ["main", "solve_sequence"]

REPEATS = 3
#: Placements per defector: a random one of ``START_CONTROLS`` controls, then moves of one control.
MOVES = 40
START_CONTROLS = 6


def solve_sequence(network, scenario, seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """(sink, route_open) of a prune / local-search-like walk per candidate defector."""
    catalogue = catalogue_arrays(network, scenario)
    closes = catalogue.closes.reshape(-1, network.num_edges)
    rng = np.random.default_rng(seed)
    sequence = []
    for actor in scenario.defectors:
        sink = network.sink_of(network.actors.index(actor.id))
        chosen = np.zeros(len(closes), dtype=bool)
        chosen[rng.choice(len(closes), size=min(START_CONTROLS, len(closes)), replace=False)] = True
        for _ in range(MOVES):
            closed = closes[chosen].any(axis=0) if chosen.any() else np.zeros(network.num_edges, bool)
            sequence.append((sink, (~closed).astype(np.float64)))
            chosen[rng.integers(len(closes))] ^= True
    return sequence


def _timed(network, sequence, arrays: bool) -> tuple[float, list[float]]:
    model = CapabilityModel(network, solver="HIGHS", time_limit=60, highs_arrays=arrays)
    model.options = solver_options("HIGHS", 60)
    started = time.perf_counter()
    values = [model.solve(sink, route_open).value for sink, route_open in sequence]
    return time.perf_counter() - started, values


def _canonicalisation(network, backend: str) -> float:
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    started = time.perf_counter()
    model.problem.get_problem_data(cp.HIGHS, canon_backend=backend)
    return time.perf_counter() - started


def main() -> None:
    tables, scenario, source = instance()
    rows = []
    for horizon, network in horizon_networks(tables, scenario).items():
        sequence = solve_sequence(network, scenario)
        paths = {"cvxpy": False, "arrays": True}
        seconds = {name: [] for name in paths}
        values = {}
        for _ in range(REPEATS):
            for name, arrays in paths.items():     # alternate, so both see the same machine load
                spent, values[name] = _timed(network, sequence, arrays)
                seconds[name].append(spent)
        difference = max(abs(a - b) / max(1.0, abs(a)) for a, b in zip(values["cvxpy"], values["arrays"], strict=True))
        canon = {backend: statistics.median(_canonicalisation(network, backend) for _ in range(REPEATS))
                 for backend in (cp.CPP_CANON_BACKEND, cp.SCIPY_CANON_BACKEND)}
        per_solve = {name: 1000 * statistics.median(s) / len(sequence) for name, s in seconds.items()}
        rows.append({"horizon": horizon, "nodes": network.num_nodes, "routes": network.num_edges,
                     "solves": len(sequence), "cvxpy_ms_per_solve": per_solve["cvxpy"],
                     "arrays_ms_per_solve": per_solve["arrays"], "speedup": per_solve["cvxpy"] / per_solve["arrays"],
                     "max_relative_difference": difference,
                     "canonicalise_cpp_s": canon[cp.CPP_CANON_BACKEND],
                     "canonicalise_scipy_s": canon[cp.SCIPY_CANON_BACKEND]})
    lines = [f"# Capability LP re-solves: cvxpy's HiGHS path vs HiGHS's arrays ({source})", "",
             f"Median of {REPEATS} repeats, the two paths alternating; {MOVES} placements per candidate defector, "
             "each one control away from the last. Peak RSS "
             f"{peak_rss_mib():.0f} MiB.", "",
             "| horizon | nodes | routes | solves | cvxpy ms/solve | arrays ms/solve | speed-up | max rel. diff "
             "| canonicalise C++ s | canonicalise SciPy s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['horizon']} | {r['nodes']} | {r['routes']} | {r['solves']} | "
                     f"{r['cvxpy_ms_per_solve']:.1f} | {r['arrays_ms_per_solve']:.1f} | {r['speedup']:.1f}× | "
                     f"{r['max_relative_difference']:.1e} | {r['canonicalise_cpp_s']:.3f} | "
                     f"{r['canonicalise_scipy_s']:.3f} |")
    lines += ["", "Command: `CHOKEPOINT_BENCH_WAREHOUSE=<warehouse> .venv/bin/python -m bench bench_capability_lp`"]
    print(write_results("capability_lp", {"source": source, "rows": rows, "peak_rss_mib": peak_rss_mib()},
                        "\n".join(lines)).read_text())


if __name__ == "__main__":
    main()
