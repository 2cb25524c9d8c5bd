"""Critical nodes of the supply network (group ``chokepoints``): which K nodes, deleted
together, cut the undirected projection of the network into the smallest pieces."""

import dataclasses

import dagster as dg
import numpy as np
import polars as pl

from graph.critical_nodes import critical_nodes as solve_critical_nodes
from graph.critical_nodes import pairwise_connectivity, removal_gains, undirected_projection
from graph.network import NODE_KINDS, SupplyNetwork
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "chokepoints"
OWNERS = ["team:chokepoint"]
#: Budgets reported for the supply network (capped at the node count).
BUDGETS = (1, 2, 3, 5, 10)
#: The heuristic stops after this many memetic generations without improvement, so the
#: main job does not spend the whole time limit on a small network ...
STALL_GENERATIONS = 30
#: ... and never more than this many seconds per budget.
MAX_SECONDS_PER_BUDGET = 5.0


def extend_greedily(edges, removed: list[int], k: int) -> list[int]:
    """``removed`` plus nodes chosen one at a time by exact removal gain until ``k``."""
    chosen = list(removed)
    while len(chosen) < k:
        gains = removal_gains(edges, chosen)
        chosen.append(int(np.argmax(gains)))
    return chosen


def supply_projection(network: SupplyNetwork):
    """Undirected projection of the production network: nodes keep their names, every
    route becomes an edge (direction and input type dropped, parallel routes merged)."""
    return undirected_projection(network.num_nodes, network.edge_src, network.edge_dst,
                                 ids=network.node_names or None, source="supply_network")


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"graph-tool", "numba", "cvxpy", "duckdb"}, owners=OWNERS,
    ins={"supply_network": dg.AssetIn(key=["supply_graph", "supply_network"]),
         "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])},
    description=("Critical-node detection on the undirected projection of the supply network: for each budget K, "
                 "the K nodes whose joint deletion minimises pairwise connectivity (node pairs still linked by "
                 "some route, in either direction), with connectivity before and after, the proven lower bound "
                 "and whether the optimum is proved (exact MILP) or heuristic. Grain: one row per "
                 "(scenario, k, removed node)."),
)
def critical_nodes(settings: ChokepointSettings, supply_network: SupplyNetwork,
                   src_scenario: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    edges = supply_projection(supply_network)
    time_limit = min(settings.time_limit_s or scenario.settings.time_limit_s, MAX_SECONDS_PER_BUDGET)
    solver = settings.solver or scenario.settings.solver
    index = {name: i for i, name in enumerate(edges.ids)}
    rows, summary = [], {}
    previous = None
    for k in sorted({min(k, edges.num_nodes) for k in BUDGETS}):
        result = solve_critical_nodes(edges, k, time_limit, solver=solver, stall_generations=STALL_GENERATIONS)
        if previous is not None and not result.optimal:
            # A time-limited search at a larger K can land above the smaller K's solution;
            # that solution plus the best extra nodes is also a K-set, so keep the better one.
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
            country = int(supply_network.node_country[v])
            product = int(supply_network.node_input[v])
            rows.append({
                "scenario": scenario.name, "k": k, "node": name, "position": rank,
                "node_kind": NODE_KINDS[int(supply_network.node_kind[v])],
                "country": supply_network.countries[country] if country >= 0 else None,
                "input_id": supply_network.inputs[product] if product >= 0 else None,
                "pairwise_connectivity_before": result.before,
                "pairwise_connectivity_after": result.pairwise_connectivity,
                "connectivity_removed_share": 1 - result.pairwise_connectivity / result.before if result.before else 0.0,
                "lower_bound": result.lower_bound, "optimal": result.optimal, "method": result.method,
                "seconds": result.seconds,
            })
    frame = pl.DataFrame(rows, schema={
        "scenario": pl.Utf8, "k": pl.Int64, "node": pl.Utf8, "position": pl.Int64, "node_kind": pl.Utf8,
        "country": pl.Utf8, "input_id": pl.Utf8, "pairwise_connectivity_before": pl.Int64,
        "pairwise_connectivity_after": pl.Int64, "connectivity_removed_share": pl.Float64,
        "lower_bound": pl.Int64, "optimal": pl.Boolean, "method": pl.Utf8, "seconds": pl.Float64})
    return dg.Output(frame, metadata=table_metadata(frame, limit=20, nodes=edges.num_nodes,
                                                    edges=edges.num_edges, **summary))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "critical_nodes"]),
                additional_ins={"supply_network": dg.AssetIn(key=["supply_graph", "supply_network"])}, description=(
    "Recomputed independently (graph-tool components on the projection): deleting each reported set gives the "
    "reported pairwise connectivity; each set has exactly K distinct nodes; bound ≤ value; a proved optimum has "
    "bound = value; connectivity never rises with K."))
def critical_nodes_recomputed(critical_nodes: pl.DataFrame, supply_network: SupplyNetwork) -> dg.AssetCheckResult:
    edges = supply_projection(supply_network)
    index = {name: i for i, name in enumerate(edges.ids)}
    mismatches, bad_sizes, bad_bounds, values = [], 0, 0, {}
    for (k,), group in critical_nodes.group_by(["k"], maintain_order=True):
        removed = [index[name] for name in group["node"]]
        reported = int(group["pairwise_connectivity_after"][0])
        recomputed = pairwise_connectivity(edges, removed)
        values[int(k)] = reported
        if recomputed != reported:
            mismatches.append({"k": int(k), "reported": reported, "recomputed": recomputed})
        if len(set(removed)) != int(k) or group.height != int(k):
            bad_sizes += 1
        bound = int(group["lower_bound"][0])
        if bound > reported or (bool(group["optimal"][0]) and bound != reported):
            bad_bounds += 1
    ks = sorted(values)
    monotone = all(values[a] >= values[b] for a, b in zip(ks, ks[1:]))
    return dg.AssetCheckResult(
        passed=not mismatches and bad_sizes == 0 and bad_bounds == 0 and monotone,
        metadata={"budgets": len(values), "mismatches": len(mismatches), "wrong_set_sizes": bad_sizes,
                  "inconsistent_bounds": bad_bounds, "monotone_in_k": monotone,
                  "details": dg.MetadataValue.json(mismatches)})


assets = [critical_nodes]
checks = [critical_nodes_recomputed]
