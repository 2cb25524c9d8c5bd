"""Critical nodes of the supply network: which K producers, hubs and sinks, deleted
together, cut the undirected projection of the network into the smallest pieces
(``docs/design.md#3-chokepoint-metrics``).

The solver (:func:`optimization.cnp_exact.critical_nodes`) runs once per budget K with a
generation budget, so the table does not depend on the machine's speed; a larger K's
answer is never worse than the smaller K's answer extended greedily.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from chokepoint.threads import in_threads
from chokepoint.inputs.scenario import Scenario
from graph.critical_nodes import EdgeList, pairwise_connectivity, removal_gains, undirected_projection
from graph.network import NODE_KINDS, SupplyNetwork
from optimization.cnp_exact import critical_nodes

__all__ = ["BUDGETS", "GENERATIONS", "CRITICAL_NODES_SCHEMA", "supply_projection", "extend_greedily",
           "critical_nodes_table"]

#: Budgets reported for the supply network (capped at the node count).
BUDGETS = (1, 2, 3, 5, 10)
#: Memetic generations per budget: the search budget, independent of the machine. On both
#: shipped supply networks every seed 0-4 reaches the same sets' connectivity at 20 and at 100
#: (``docs/design.md#3-chokepoint-metrics``); 30 keeps a margin over the least.
GENERATIONS = 30
#: A safety net only: the generation budget ends the search long before on a supply network.
SAFETY_SECONDS = 120.0

CRITICAL_NODES_SCHEMA = {
    "scenario": pl.Utf8, "k": pl.Int64, "node": pl.Utf8, "position": pl.Int64, "node_kind": pl.Utf8,
    "country": pl.Utf8, "input_id": pl.Utf8, "pairwise_connectivity_before": pl.Int64,
    "pairwise_connectivity_after": pl.Int64, "connectivity_removed_share": pl.Float64,
    "lower_bound": pl.Int64, "optimal": pl.Boolean, "method": pl.Utf8, "seconds": pl.Float64}


def supply_projection(network: SupplyNetwork) -> EdgeList:
    """Undirected projection of the production network: nodes keep their names, every
    route becomes an edge (direction and input type dropped, parallel routes merged)."""
    return undirected_projection(network.num_nodes, network.edge_src, network.edge_dst,
                                 ids=network.node_names or None, source="supply_network")


def extend_greedily(edges: EdgeList, removed: list[int], k: int) -> list[int]:
    """``removed`` plus nodes chosen one at a time by exact removal gain until ``k``."""
    chosen = list(removed)
    while len(chosen) < k:
        gains = removal_gains(edges, chosen)
        chosen.append(int(np.argmax(gains)))
    return chosen


def critical_nodes_table(network: SupplyNetwork, scenario: Scenario, *, solver: str,
                         generations: int = GENERATIONS, seed: int = 0, threads: int = 1) -> tuple[pl.DataFrame, dict]:
    """The critical-node sets for every budget in :data:`BUDGETS`.

    The searches of the budgets are independent (each seeded with ``seed``, the kernels
    release the GIL), so ``threads`` of them run at once, the largest budget first; the
    results do not depend on ``threads``.

    Returns
    -------
    table : polars.DataFrame
        One row per (k, removed node), :data:`CRITICAL_NODES_SCHEMA`.
    summary : dict
        Per K, the pairwise connectivity left and whether it is proved optimal; the
        projection's size.
    """
    edges = supply_projection(network)
    index = {name: i for i, name in enumerate(edges.ids)}
    rows, summary = [], {"nodes": edges.num_nodes, "edges": edges.num_edges}
    budgets = sorted({min(k, edges.num_nodes) for k in BUDGETS})

    def search(k: int):
        return critical_nodes(edges, k, SAFETY_SECONDS, solver=solver, seed=seed, max_generations=generations)

    # Largest budget first: it takes longest, the others fill the other thread meanwhile.
    found = dict(zip(budgets, in_threads(search, budgets, threads, work=lambda k: k, name="critical-nodes")))
    previous = None
    for k in budgets:
        result = found[k]
        if previous is not None and not result.optimal:
            # A search at a larger K can land above the smaller K's solution; that solution
            # plus the best extra nodes is also a K-set, so keep the better of the two.
            extended = extend_greedily(edges, [index[name] for name in previous.removed], k)
            value = pairwise_connectivity(edges, extended)
            if value < result.pairwise_connectivity:
                result = dataclasses.replace(result, removed=[edges.ids[v] for v in extended],
                                             pairwise_connectivity=value, method=f"{result.method}+extended")
        previous = result
        summary[f"k{k}_pairwise_connectivity"] = result.pairwise_connectivity
        summary[f"k{k}_optimal"] = result.optimal
        for rank, name in enumerate(result.removed, start=1):
            v = index[name]
            country = int(network.node_country[v])
            product = int(network.node_input[v])
            rows.append({
                "scenario": scenario.name, "k": k, "node": name, "position": rank,
                "node_kind": NODE_KINDS[int(network.node_kind[v])],
                "country": network.countries[country] if country >= 0 else None,
                "input_id": network.inputs[product] if product >= 0 else None,
                "pairwise_connectivity_before": result.before,
                "pairwise_connectivity_after": result.pairwise_connectivity,
                "connectivity_removed_share": 1 - result.pairwise_connectivity / result.before if result.before else 0.0,
                "lower_bound": result.lower_bound, "optimal": result.optimal, "method": result.method,
                "seconds": result.seconds,
            })
    return pl.DataFrame(rows, schema=CRITICAL_NODES_SCHEMA), summary
