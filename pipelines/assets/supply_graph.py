"""Group ``supply_graph``: the AND/OR production network, built in graph-tool."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from chokepoint.model.build import network_from_tables, network_tables
from chokepoint.model.checks import network_problems
from graph.network import SupplyNetwork, to_graph_tool
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata

GROUP = "supply_graph"
OWNERS = ["team:chokepoint"]
STAGED = {name: dg.AssetIn(key=["staging", name]) for name in ("countries", "input_types", "recipes", "capacities")}


@dg.multi_asset(
    outs={
        "supply_network": dg.AssetOut(
            key_prefix="supply_graph", io_manager_key="object_io_manager", kinds={"graph-tool", "numpy"},
            owners=OWNERS, group_name=GROUP,
            description=("The AND/OR production network of the scenario as arrays (nodes: producers = country × "
                         "input, transit hubs, actor sinks; edges: routes carrying one input type; requirements: "
                         "recipe coefficients). Passed between assets; the tables below are its warehouse form.")),
        "supply_nodes": dg.AssetOut(
            key_prefix="analytics", kinds={"polars", "duckdb"}, owners=OWNERS, group_name=GROUP,
            description=("Nodes of the production network: producers (country × input, capacity in the input's "
                         "unit), transit hubs (non-signatory re-export capacity), sinks (one per actor). "
                         "Grain: one row per (scenario, node).")),
        "supply_edges": dg.AssetOut(
            key_prefix="analytics", kinds={"polars", "duckdb"}, owners=OWNERS, group_name=GROUP,
            description=("Routes of the production network: src → dst carrying `input_id`, with route capacity "
                         "(null = limited only by the supplier) and the recipe coefficient of the buyer. "
                         "Grain: one row per (scenario, route).")),
    },
    ins={**STAGED, "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])},
)
def supply_graph(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                 capacities: pl.DataFrame, src_scenario: pl.DataFrame):
    """Build the network from staged tables with whole-array construction (no loop per route)."""
    scenario = scenario_of(src_scenario)
    network = network_from_tables(countries, input_types, recipes, capacities, scenario)
    graph = to_graph_tool(network)
    nodes, edges = network_tables(network)
    nodes = nodes.with_columns(pl.lit(scenario.name).alias("scenario"))
    edges = edges.with_columns(pl.lit(scenario.name).alias("scenario"))
    counts = {kind: int(n) for kind, n in zip(*np.unique(nodes["kind"].to_numpy(), return_counts=True))}
    yield dg.Output(network, output_name="supply_network", metadata={
        "nodes": graph.num_vertices(), "edges": graph.num_edges(), **{f"{k}_nodes": v for k, v in counts.items()}})
    yield dg.Output(nodes, output_name="supply_nodes", metadata=table_metadata(nodes))
    yield dg.Output(edges, output_name="supply_edges", metadata=table_metadata(edges))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["supply_graph", "supply_network"]), description=(
    "The network is a DAG (graph-tool), every route serves a requirement of its buyer, and every input type "
    "a producer needs has at least one supplier route."))
def supply_network_well_formed(supply_network: SupplyNetwork) -> dg.AssetCheckResult:
    found = network_problems(supply_network)
    passed = found["is_dag"] and not found["routes_without_requirement"] and not found["requirements_without_supplier"]
    return dg.AssetCheckResult(passed=passed, metadata=found)


assets = [supply_graph]
checks = [supply_network_well_formed]
