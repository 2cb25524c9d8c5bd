"""Group ``supply_graph``: the AND/OR production network, built in graph-tool."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from chokepoint.model.build import (HORIZON_TABLES, NETWORK_TABLES, HorizonNetworks, headroom_table, horizon_networks,
                                    network_tables)
from chokepoint.model.baseline import BaselinePlacement, scenario_baselines
from chokepoint.model.checks import network_problems
from chokepoint.model.horizons import HORIZONS
from graph.network import SupplyNetwork, to_graph_tool
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata

GROUP = "supply_graph"
OWNERS = ["team:chokepoint"]
STAGED = {name: dg.AssetIn(key=["staging", name]) for name in (*NETWORK_TABLES, *HORIZON_TABLES)}


@dg.multi_asset(
    outs={
        "supply_network": dg.AssetOut(
            key_prefix="supply_graph", io_manager_key="object_io_manager", kinds={"graph-tool", "numpy"},
            owners=OWNERS, group_name=GROUP,
            description=("The long-run AND/OR production network of the scenario as arrays (nodes: producers = "
                         "country × input, split into firms and facilities where `staging.producers` has them, "
                         "transit hubs, actor sinks; edges: routes carrying one input type; requirements: recipe "
                         "coefficients). Passed between assets; the tables below are its warehouse form.")),
        "horizon_networks": dg.AssetOut(
            key_prefix="supply_graph", io_manager_key="object_io_manager", kinds={"graph-tool", "numpy"},
            owners=OWNERS, group_name=GROUP,
            description=("The network in both horizons: long run (as `supply_network`) and short run (qualified "
                         "routes only; each actor limited to its headroom at each supplier; tools as installed "
                         "base). Every horizon-aware analysis reads it.")),
        "supply_nodes": dg.AssetOut(
            key_prefix="analytics", kinds={"polars", "duckdb"}, owners=OWNERS, group_name=GROUP,
            description=("Nodes of the production network: producers (country × input, or one firm or facility "
                         "of it; capacity in the input's unit), transit hubs (non-signatory re-export capacity), "
                         "sinks (one per actor). Grain: one row per (scenario, node).")),
        "supply_edges": dg.AssetOut(
            key_prefix="analytics", kinds={"polars", "duckdb"}, owners=OWNERS, group_name=GROUP,
            description=("Routes of the production network: src → dst carrying `input_id`, with route capacity "
                         "(null = limited only by the supplier), the recipe coefficient of the buyer and whether "
                         "the route is qualified in the short run. Grain: one row per (scenario, route).")),
        "headroom": dg.AssetOut(
            key_prefix="analytics", kinds={"polars", "duckdb"}, owners=OWNERS, group_name=GROUP,
            description=("Short-run headroom: what each actor can draw from each producer within the horizon — "
                         "its committed capacity plus the supplier's spare capacity — with the supplier's non-AI "
                         "commitments. Grain: one row per (scenario, producer node, actor).")),
    },
    ins={**STAGED, "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])},
)
def supply_graph(countries: pl.DataFrame, input_types: pl.DataFrame, recipes: pl.DataFrame,
                 capacities: pl.DataFrame, producers: pl.DataFrame, short_run_rules: pl.DataFrame,
                 qualifications: pl.DataFrame, compute_sourcing: pl.DataFrame, compute_owners: pl.DataFrame,
                 src_scenario: pl.DataFrame):
    """Build the network of both horizons from staged tables with whole-array construction."""
    scenario = scenario_of(src_scenario)
    networks = horizon_networks(dict(countries=countries, input_types=input_types, recipes=recipes,
                                     capacities=capacities, producers=producers, short_run_rules=short_run_rules,
                                     qualifications=qualifications, compute_sourcing=compute_sourcing,
                                     compute_owners=compute_owners), scenario)
    network = networks.long_run
    graph = to_graph_tool(network)
    nodes, edges = network_tables(network, networks.short_run)
    headroom = headroom_table(networks.short_run)
    nodes, edges, headroom = (frame.with_columns(pl.lit(scenario.name).alias("scenario"))
                              for frame in (nodes, edges, headroom))
    counts = {kind: int(n) for kind, n in zip(*np.unique(nodes["kind"].to_numpy(), return_counts=True))}
    yield dg.Output(network, output_name="supply_network", metadata={
        "nodes": graph.num_vertices(), "edges": graph.num_edges(), **{f"{k}_nodes": v for k, v in counts.items()},
        "firm_nodes": int(nodes["firm_id"].is_not_null().sum()),
        "facility_nodes": int(nodes["facility_id"].is_not_null().sum())})
    yield dg.Output(networks, output_name="horizon_networks", metadata={
        **{f"{h}_routes": net.num_edges for h, net in networks.items()},
        **{f"{h}_requirements": int(net.req_node.size) for h, net in networks.items()},
        "short_run_months": networks.rules.months})
    yield dg.Output(nodes, output_name="supply_nodes", metadata=table_metadata(nodes))
    yield dg.Output(edges, output_name="supply_edges", metadata=table_metadata(edges))
    yield dg.Output(headroom, output_name="headroom", metadata=table_metadata(
        headroom.filter(pl.col("spare").is_not_null()).sort("headroom").head(10), rows=headroom.height))


@dg.asset(
    key_prefix="supply_graph", group_name=GROUP, io_manager_key="object_io_manager", kinds={"numpy"}, owners=OWNERS,
    ins={"horizon_networks": dg.AssetIn(key=["supply_graph", "horizon_networks"]),
         "src_scenario": dg.AssetIn(key=["staging", "src_scenario"]),
         "controls_in_force": dg.AssetIn(key=["staging", "controls_in_force"]),
         "firms": dg.AssetIn(key=["staging", "firms"])},
    description=("The run scenario's baseline placement in each horizon: nothing (`none`) or, for a scenario "
                 "with `[baseline] controls_in_force = true` (`status_quo`), the modelled controls in force on "
                 "its `as_of` day on both sides and the routes they close. The chokepoint and placement tables "
                 "of the run are computed on the network it leaves and are marginal to it (`baseline` column)."),
)
def baselines(horizon_networks: HorizonNetworks, src_scenario: pl.DataFrame, controls_in_force: pl.DataFrame,
              firms: pl.DataFrame) -> dg.Output[dict[str, BaselinePlacement]]:
    found = scenario_baselines(horizon_networks, scenario_of(src_scenario), controls_in_force, firms)
    metadata = {"baseline": next(iter(found.values())).name, "as_of": str(next(iter(found.values())).as_of)}
    for horizon, baseline in found.items():
        metadata.update({f"{horizon}_controls": len(baseline.controls),
                         f"{horizon}_routes_closed": int(baseline.closed.sum()),
                         f"{horizon}_measures_not_modelled": len(baseline.skipped)})
    return dg.Output(found, metadata=metadata)


@dg.asset_check(blocking=True, asset=dg.AssetKey(["supply_graph", "supply_network"]), description=(
    "The network is a DAG (graph-tool), every route serves a requirement of its buyer, and every input type "
    "a producer needs has at least one supplier route."))
def supply_network_well_formed(supply_network: SupplyNetwork) -> dg.AssetCheckResult:
    found = network_problems(supply_network)
    passed = found["is_dag"] and not found["routes_without_requirement"] and not found["requirements_without_supplier"]
    return dg.AssetCheckResult(passed=passed, metadata=found)


@dg.asset_check(blocking=True, asset=dg.AssetKey(["supply_graph", "horizon_networks"]), description=(
    "The short run never offers more than the long run: every short-run route is a long-run route with no larger "
    "capacity, every actor's headroom lies in [0, physical capacity] and both horizons are well formed."))
def horizons_nested(horizon_networks: HorizonNetworks) -> dg.AssetCheckResult:
    long_run, short = horizon_networks.long_run, horizon_networks.short_run
    routes = short.long_run_edge
    same_route = bool((long_run.edge_src[routes] == short.network.edge_src).all()
                      and (long_run.edge_dst[routes] == short.network.edge_dst).all())
    wider = int((short.network.edge_capacity > long_run.edge_capacity[routes] * (1 + 1e-12)).sum())
    headroom = short.network.actor_capacity
    outside = 0 if headroom is None else int(((headroom < 0) | (headroom > long_run.node_capacity[None, :]
                                                                 * (1 + 1e-9) + 1e-9)).sum())
    problems = {h: network_problems(net) for h, net in horizon_networks.items()}
    well_formed = all(p["is_dag"] and not p["routes_without_requirement"] for p in problems.values())
    return dg.AssetCheckResult(passed=same_route and wider == 0 and outside == 0 and well_formed, metadata={
        "short_run_routes_match_long_run": same_route, "short_run_routes_wider": wider,
        "headroom_outside_capacity": outside, "both_horizons_well_formed": well_formed,
        "horizons": dg.MetadataValue.json(list(HORIZONS))})


assets = [supply_graph, baselines]
checks = [supply_network_well_formed, horizons_nested]
