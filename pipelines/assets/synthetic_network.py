"""Synthetic facility-level network (group ``supply_graph``) and its chokepoint metrics
(group ``chokepoints``), for scale work.

The size comes from run config: ``chokepoint run --synthetic-nodes N`` (see
:func:`synthetic_run_config`), or in the Dagit launchpad::

    ops:
      supply_graph__synthetic_network:
        config: {nodes: 1000000, seed: 0}
"""

import time
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from chokepoint.analyses.chokepoints import chokepoint_analysis
from chokepoint.analyses.consistency import consistency, inconsistencies
from chokepoint.analyses.synthetic import synthetic_concentration_table
from chokepoint.model.build import synthetic_network_from_tables
from chokepoint.model.checks import SYNTHETIC_SHARE_TOLERANCE, synthetic_share_errors
from graph.parquet import FILES, read_network_parquet, write_network_parquet
from graph.synthetic import SyntheticSpec
from pipelines.assets.chokepoints import capability_model, run_metadata
from pipelines.assets.staging import scenario_of
from pipelines.metadata import markdown_table, table_metadata
from pipelines.resources import ChokepointSettings

OWNERS = ["team:chokepoint"]
STAGED = {name: dg.AssetIn(key=["staging", name]) for name in ("countries", "input_types", "recipes", "capacities")}
#: Country shares of every input must survive the expansion within this relative error.
SHARE_TOLERANCE = SYNTHETIC_SHARE_TOLERANCE


class SyntheticNetworkConfig(dg.Config):
    """Size and shape of the synthetic network (see :class:`graph.synthetic.SyntheticSpec`).

    ``folder``: where the Parquet tables go; empty means
    ``<Dagster storage>/synthetic/n<nodes>-s<seed>``.
    """

    nodes: int = 1_000
    seed: int = 0
    edges_per_node: float = 5.0
    capacity_tail: float = 1.5
    supplier_preference: float = 1.0
    folder: str = ""


class SyntheticMetricsConfig(dg.Config):
    """How far the metric suite goes on the synthetic network.

    Betweenness is exact up to ``exact_betweenness_max_nodes`` nodes, else sampled with
    ``pivots`` pivots per defector. The capability LP (removal losses and their bounds)
    runs only up to ``lp_max_nodes`` nodes: off by default, because each LP re-solve
    costs ~0.1 s at 10^3 nodes and the model needs ~1.4 GB at 10^4. The table keeps the
    ``node_rows`` largest values of each node metric (plus every single point of failure
    and OR dominator).
    """

    pivots: int = 64
    exact_betweenness_max_nodes: int = 2_000
    lp_max_nodes: int = 0
    node_rows: int = 100
    top_k: int = 10
    seed: int = 0


@dg.asset(
    key_prefix="supply_graph", group_name="supply_graph", io_manager_key="object_io_manager", owners=OWNERS,
    kinds={"numpy", "parquet"}, ins={**STAGED, "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])},
    description=("Synthetic facility-level AND/OR network expanded from the reference country shares (heavy-tailed "
                 "facility capacities, each buyer drawing several suppliers per input, one sink per actor), "
                 "written as Parquet tables nodes / edges / requirements. Size from run config (default 1,000 "
                 "nodes, ≈ 5 routes per node); deterministic by seed. Value: the folder path."),
)
def synthetic_network(context: dg.AssetExecutionContext, config: SyntheticNetworkConfig, countries: pl.DataFrame,
                      input_types: pl.DataFrame, recipes: pl.DataFrame, capacities: pl.DataFrame,
                      src_scenario: pl.DataFrame) -> dg.Output[str]:
    scenario = scenario_of(src_scenario)
    spec = SyntheticSpec(nodes=config.nodes, seed=config.seed, edges_per_node=config.edges_per_node,
                         capacity_tail=config.capacity_tail, supplier_preference=config.supplier_preference)
    started = time.perf_counter()
    network = synthetic_network_from_tables(countries, input_types, recipes, capacities, scenario, spec)
    generated = time.perf_counter() - started
    folder = (Path(config.folder) if config.folder
              else Path(context.instance.storage_directory()) / "synthetic" / f"n{spec.nodes}-s{spec.seed}")
    paths = write_network_parquet(network, folder)
    kinds = dict(zip(*np.unique(network.node_kind, return_counts=True)))
    return dg.Output(str(folder), metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "nodes": network.num_nodes, "edges": network.num_edges,
        "edges_per_node": round(network.num_edges / max(network.num_nodes, 1), 3),
        "producers": int(kinds.get(0, 0)), "transit_hubs": int(kinds.get(1, 0)), "sinks": int(kinds.get(2, 0)),
        "generate_seconds": round(generated, 3), "write_seconds": round(time.perf_counter() - started - generated, 3),
        "parquet_mib": round(sum(p.stat().st_size for p in paths.values()) / 2**20, 2),
    })


@dg.asset_check(blocking=True, asset=synthetic_network, additional_ins={"capacities": dg.AssetIn(
    key=["staging", "capacities"])}, description=(
    "Read back from Parquet: every country keeps its share of every input within 1 % (relative), and every "
    "reference (country, input) row has at least one facility."))
def synthetic_shares_preserved(synthetic_network: str, capacities: pl.DataFrame) -> dg.AssetCheckResult:
    nodes = pl.read_parquet(Path(synthetic_network) / FILES["nodes"], columns=["kind", "iso3", "input_id", "capacity"])
    found = synthetic_share_errors(nodes, capacities)
    passed = found["rows_missing_on_either_side"] == 0 and found["max_relative_share_error"] <= SHARE_TOLERANCE
    return dg.AssetCheckResult(passed=passed, metadata=found)


@dg.multi_asset(
    outs={
        "synthetic_chokepoints": dg.AssetOut(
            key_prefix="analytics", group_name="chokepoints", owners=OWNERS, kinds={"graph-tool", "duckdb"},
            description=("The chokepoint metric suite on the synthetic network, per candidate defector, in the "
                         "format of analytics.chokepoints (entities: facilities, countries, import embargoes). "
                         "Removal losses only up to the configured LP size; betweenness sampled beyond the "
                         "configured exact size (pivots in the metadata); node metrics cut to the best ranks. "
                         "Grain: one row per (scenario, defector, entity, metric).")),
        "synthetic_concentration": dg.AssetOut(
            key_prefix="analytics", group_name="chokepoints", owners=OWNERS, kinds={"numpy", "duckdb"},
            description=("Concentration of producer capacity per input in the synthetic network, by facility and "
                         "by country: number of suppliers, top share, HHI, suppliers above 10 %. Grain: one row "
                         "per (input, level).")),
    },
    ins={"synthetic_network": dg.AssetIn(key=["supply_graph", "synthetic_network"]),
         "src_scenario": dg.AssetIn(key=["staging", "src_scenario"]),
         "capacities": dg.AssetIn(key=["staging", "capacities"])},
)
def synthetic_metrics(config: SyntheticMetricsConfig, settings: ChokepointSettings, synthetic_network: str,
                      src_scenario: pl.DataFrame, capacities: pl.DataFrame):
    scenario = scenario_of(src_scenario)
    started = time.perf_counter()
    network = read_network_parquet(synthetic_network)
    read = time.perf_counter() - started
    model = capability_model(network, scenario, settings) if network.num_nodes <= config.lp_max_nodes else None
    pivots = None if network.num_nodes <= config.exact_betweenness_max_nodes else config.pivots
    run = chokepoint_analysis(network, scenario, capacities, model, pivots=pivots, seed=config.seed, aggregate_nodes=False,
                              node_rows=config.node_rows, top_k=config.top_k)
    frame = run.table
    top = (frame.filter((pl.col("metric") == "failure_cascade") & (pl.col("entity_type") == "node"))
           .sort(["defector", "rank"]).group_by("defector", maintain_order=True).head(5))
    yield dg.Output(frame, output_name="synthetic_chokepoints", metadata={
        **table_metadata(top, limit=15, rows=frame.height), **run_metadata(run),
        "nodes": network.num_nodes, "edges": network.num_edges, "removal_loss_lp": model is not None,
        "read_parquet_seconds": round(read, 3), "suite_seconds": round(sum(run.suite.seconds.values()), 3)})
    table = synthetic_concentration_table(network, run.suite, scenario.name)
    yield dg.Output(table, output_name="synthetic_concentration", metadata=table_metadata(
        table.filter(pl.col("level") == "facility").sort("hhi", descending=True), limit=10,
        summary=dg.MetadataValue.md(markdown_table(table.sort("input_id", "level"), limit=8))))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "synthetic_chokepoints"]), description=(
    "As analytics.chokepoints: OR dominators are single points of failure; where removal losses were computed, "
    "single points of failure lose everything and losses lie within their bounds."))
def synthetic_chokepoints_consistent(synthetic_chokepoints: pl.DataFrame) -> dg.AssetCheckResult:
    found = consistency(synthetic_chokepoints)
    return dg.AssetCheckResult(passed=not inconsistencies(found, losses_required=False), metadata=found)


def synthetic_run_config(nodes: int) -> dict:
    """The part of a run config that sizes the synthetic network.

    Parameters
    ----------
    nodes : int
        Number of nodes of the synthetic network (facilities, transit hubs and sinks).

    Returns
    -------
    dict
        ``{"ops": {<op of synthetic_network>: {"config": {"nodes": nodes}}}}``, to merge into the
        run config of a job that selects the synthetic assets (the other settings keep their
        defaults).
    """
    return {"ops": {synthetic_network.op.name: {"config": {"nodes": nodes}}}}


assets = [synthetic_network, synthetic_metrics]
checks = [synthetic_shares_preserved, synthetic_chokepoints_consistent]
