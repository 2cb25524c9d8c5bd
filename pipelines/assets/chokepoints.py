"""Group ``chokepoints``: where the supply chain can be squeezed."""

import dagster as dg
import polars as pl

from chokepoint.analyses.chokepoints import ChokepointRun, chokepoint_analysis, concentration_table
from chokepoint.analyses.consistency import consistency, inconsistencies
from chokepoint.model.baseline import BaselinePlacement
from chokepoint.model.build import HorizonNetworks
from chokepoint.model.horizons import HORIZONS
from chokepoint.report.plots import chokepoint_ranking_png
from graph.network import SupplyNetwork
from optimization.capability import CapabilityModel
from pipelines.assets.staging import scenario_of
from pipelines.metadata import markdown_table, plot_metadata, table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "chokepoints"
OWNERS = ["team:chokepoint"]
#: What the run scenario's analyses read: its network in each horizon, the baseline placed
#: on each, and the scenario.
NETWORK_INS = {"horizon_networks": dg.AssetIn(key=["supply_graph", "horizon_networks"]),
               "baselines": dg.AssetIn(key=["supply_graph", "baselines"]),
               "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])}


def capability_model(network: SupplyNetwork, scenario, settings: ChokepointSettings) -> CapabilityModel:
    """The capability LP with the solver and limit from settings, else from the scenario."""
    return CapabilityModel(network, solver=settings.solver_for(scenario), time_limit=settings.time_limit_for(scenario))


def run_metadata(run: ChokepointRun, prefix: str = "") -> dict:
    """What the analyst needs to judge a chokepoint table: LP re-solves, proven top sets,
    betweenness pivots, suite timings (keys prefixed with ``prefix``)."""
    removal = pl.DataFrame(
        [{"defector": d, "entity_type": t, "lp_resolves": r.solves, "top_k": r.k, "top_k_proven": r.certified}
         for (d, t), r in run.removal.items()],
        schema={"defector": pl.String, "entity_type": pl.String, "lp_resolves": pl.Int64, "top_k": pl.Int64,
                "top_k_proven": pl.Boolean})
    suite = run.suite
    sinks = list(suite.sinks.values())
    metadata = {
        "removal_loss_lp_resolves": int(removal["lp_resolves"].sum()) if removal.height else 0,
        "betweenness_exact": all(s.betweenness.exact for s in sinks),
        "betweenness_pivots_per_defector": max((s.betweenness.num_pivots for s in sinks), default=0),
        "strongly_connected_components": suite.num_components,
        "largest_component": suite.largest_component,
        "max_core_number": int(suite.core.max(initial=0)),
        "seconds": dg.MetadataValue.md(markdown_table(pl.DataFrame(
            {"step": list(run.seconds), "seconds": [round(v, 3) for v in run.seconds.values()]}), limit=30)),
    }
    if removal.height:
        metadata["removal_loss_top_sets"] = dg.MetadataValue.md(markdown_table(removal, limit=30))
    return {f"{prefix}{key}": value for key, value in metadata.items()}


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"polars", "duckdb"}, owners=OWNERS,
    ins={"input_types": dg.AssetIn(key=["staging", "input_types"]),
         "capacities": dg.AssetIn(key=["staging", "capacities"])},
    description=("Supplier concentration per input type: top supplier country and share, HHI (0–10,000 over "
                 "listed shares), number of suppliers and of suppliers above 10 %. Grain: one row per input."),
)
def concentration(input_types: pl.DataFrame, capacities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    frame = concentration_table(input_types, capacities)
    return dg.Output(frame, metadata=table_metadata(frame, limit=15))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "concentration"]), description=(
    "Shares ≤ 100 %, HHI within [0, 10,000] and top share ≤ listed coverage for every input."))
def concentration_bounds(concentration: pl.DataFrame) -> dg.AssetCheckResult:
    bad = concentration.filter((pl.col("covered_share") > 1.005) | (pl.col("hhi") < 0) | (pl.col("hhi") > 10000.5)
                               | (pl.col("top_share") > pl.col("covered_share") + 1e-12))
    return dg.AssetCheckResult(passed=bad.height == 0, metadata={
        "violations": bad.height, "max_covered_share_pct": float(100 * concentration["covered_share"].max())})


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"graph-tool", "cvxpy", "duckdb"}, owners=OWNERS,
    ins={**NETWORK_INS, "capacities": dg.AssetIn(key=["staging", "capacities"])},
    description=("Chokepoints per candidate defector and horizon (short run: qualified routes and headroom; long "
                 "run: fungible capacity). Entities: producer nodes aggregated to country × input (`node`), "
                 "firms (`firm`) and facilities (`facility`) where the data has them, countries, and import "
                 "embargoes of one input (every route carrying it into the defector). Metrics: removal_loss (share "
                 "of attainable compute lost, LP re-solve for single points of failure, the dual-price top 10, then "
                 "the largest remaining upper bound until the top 10 is proven — see metadata), loss_lower_bound "
                 "(dual prices, all), loss_upper_bound (surviving flow, tightened by every re-solve, all), "
                 "single_point_of_failure (AND/OR), failure_cascade, or_dominator / or_dominated (OR skeleton), "
                 "betweenness (flow-weighted, exact), core_number, supplier_share. With a baseline (`status_quo`: the "
                 "controls in force) every metric is computed on the network the baseline leaves, so losses are "
                 "marginal to it (`baseline` column). Grain: one row per (scenario, "
                 "horizon, defector, entity, metric), ranked within (horizon, defector, entity type, metric), "
                 "1 = largest."),
)
def chokepoints(settings: ChokepointSettings, horizon_networks: HorizonNetworks,
                baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame,
                capacities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    runs = {}

    def table(horizon: str, network: SupplyNetwork, baseline: BaselinePlacement) -> pl.DataFrame:
        in_force = baseline.in_force(network)
        run = runs[horizon] = chokepoint_analysis(in_force, scenario, capacities,
                                                  capability_model(in_force, scenario, settings))
        return run.table

    frame = horizon_networks.table_marginal(baselines, table, threads=settings.threads)
    # In report order whichever horizon's analysis finished first.
    metadata = {key: value for horizon in HORIZONS
                for key, value in run_metadata(runs[horizon], prefix=f"{horizon}: ").items()}
    top = (frame.filter((pl.col("metric") == "removal_loss") & (pl.col("entity_type") == "node"))
           .sort(["horizon", "defector", "rank"]).group_by("horizon", "defector", maintain_order=True).head(5))
    plot = plot_metadata(chokepoint_ranking_png(frame.filter(pl.col("horizon") == HORIZONS[0])),
                         f"top chokepoints by removal loss ({HORIZONS[0]})")
    return dg.Output(frame, metadata={**table_metadata(top, limit=30, rows=frame.height, plot=plot), **metadata})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "chokepoints"]), description=(
    "AND/OR propagation, OR skeleton and LP agree: every single point of failure has LP removal loss 1, every "
    "OR-skeleton dominator is a single point of failure, and every removal loss lies in [0, 1] and within its "
    "dual-price lower and surviving-flow upper bound."))
def chokepoints_consistent(chokepoints: pl.DataFrame) -> dg.AssetCheckResult:
    found = consistency(chokepoints)
    return dg.AssetCheckResult(passed=not inconsistencies(found), metadata=found)


assets = [concentration, chokepoints]
checks = [concentration_bounds, chokepoints_consistent]
