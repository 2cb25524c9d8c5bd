"""Critical nodes of the supply network (group ``chokepoints``): which K nodes, deleted
together, cut the undirected projection of the network into the smallest pieces."""

import dagster as dg
import polars as pl

from chokepoint.analyses.supply_critical_nodes import critical_nodes_table, supply_projection
from graph.critical_nodes import pairwise_connectivity
from graph.network import SupplyNetwork
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "chokepoints"
OWNERS = ["team:chokepoint"]


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
    frame, summary = critical_nodes_table(supply_network, scenario, solver=settings.solver_for(scenario),
                                          threads=settings.threads)
    return dg.Output(frame, metadata=table_metadata(frame, limit=20, **summary))


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
