"""The critical-node asset's generation budget on the job's own supply networks (one process run).

For the supply network of each warehouse given (``CHOKEPOINT_BENCH_WAREHOUSES``, paths separated
by ``:``; default: the default warehouse), the heuristic budgets K of
:data:`chokepoint.analyses.supply_critical_nodes.BUDGETS` that enumeration does not settle are
searched with each seed and generation budget, as the asset runs them (``critical_nodes`` with
``max_generations``): the pairwise connectivity reached and the seconds. The asset's
:data:`~chokepoint.analyses.supply_critical_nodes.GENERATIONS` is read off this table: the least
budget at which every seed reaches the best value found at any budget, with a margin.

Run: ``CHOKEPOINT_BENCH_WAREHOUSES=<run A's warehouse>:<run B's> .venv/bin/python -m bench
bench_supply_cnp_budget`` → ``bench/results/supply_cnp_budget.{json,md}``.
"""

from __future__ import annotations

import os
import time

from bench.common import markdown_rows, peak_rss_mib, write_results
from chokepoint.analyses.supply_critical_nodes import BUDGETS, GENERATIONS, supply_projection
from chokepoint.settings import warehouse_path
from chokepoint.warehouse.reads import network_from_warehouse
from optimization.cnp_exact import critical_nodes

#: Generation budgets compared (the asset's own among them).
BUDGETS_TRIED = tuple(sorted({20, 30, 50, 100, GENERATIONS}))
SEEDS = tuple(range(5))
#: Ks that enumeration proves without a search (K = 1, 2 on these networks) are left out.
SEARCHED_K = tuple(k for k in BUDGETS if k >= 3)
#: Seconds: a safety net only, the generation budget ends every search long before.
SAFETY_SECONDS = 600.0


def main() -> None:
    warehouses = [p for p in os.environ.get("CHOKEPOINT_BENCH_WAREHOUSES", str(warehouse_path())).split(":") if p]
    rows = []
    for warehouse in warehouses:
        network, _ = network_from_warehouse(warehouse)
        edges = supply_projection(network)
        for k in SEARCHED_K:
            for seed in SEEDS:
                for generations in BUDGETS_TRIED:
                    started = time.perf_counter()
                    found = critical_nodes(edges, k, SAFETY_SECONDS, seed=seed, max_generations=generations)
                    rows.append({"warehouse": warehouse, "nodes": edges.num_nodes, "edges": edges.num_edges, "k": k,
                                 "seed": seed, "generations": generations,
                                 "pairwise_connectivity": found.pairwise_connectivity,
                                 "seconds": round(time.perf_counter() - started, 3)})
                    print(rows[-1], flush=True)
    table = []
    for warehouse in warehouses:
        for k in SEARCHED_K:
            mine = [r for r in rows if r["warehouse"] == warehouse and r["k"] == k]
            best = min(r["pairwise_connectivity"] for r in mine)
            cells = []
            for generations in BUDGETS_TRIED:
                at = [r for r in mine if r["generations"] == generations]
                reached = sum(r["pairwise_connectivity"] == best for r in at)
                seconds = sorted(r["seconds"] for r in at)
                cells.append(f"{reached}/{len(at)} · {seconds[0]:.1f}–{seconds[-1]:.1f} s")
            table.append([warehouse, mine[0]["nodes"], k, best, *cells])
    header = ["warehouse", "nodes", "K", "best found", *(f"{g} generations" for g in BUDGETS_TRIED)]
    lines = ["# The critical-node asset's generation budget", "",
             f"Seeds {SEEDS[0]}–{SEEDS[-1]}; per budget: seeds that reach the best value found at any budget, and "
             f"the range of seconds per search. The asset runs {GENERATIONS} generations. "
             f"Peak RSS {peak_rss_mib():.0f} MiB.", "",
             *markdown_rows(header, table), "",
             "Reproduce: `CHOKEPOINT_BENCH_WAREHOUSES=<warehouse>:<warehouse> .venv/bin/python -m bench "
             "bench_supply_cnp_budget`."]
    path = write_results("supply_cnp_budget", {"rows": rows, "generations": GENERATIONS, "seeds": list(SEEDS)},
                         "\n".join(lines))
    print(path.read_text())


if __name__ == "__main__":
    main()
