"""Group ``chokepoints``: where the supply chain can be squeezed."""

from __future__ import annotations

import dagster as dg
import polars as pl

from chokepoint.analysis import chokepoint_table, concentration_table
from graph.network import SupplyNetwork
from optimization.capability import CapabilityModel
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "chokepoints"
OWNERS = ["team:chokepoint"]


def capability_model(network: SupplyNetwork, scenario, settings: ChokepointSettings) -> CapabilityModel:
    """The capability LP with the solver and limit from settings, else from the scenario."""
    return CapabilityModel(network, solver=settings.solver or scenario.settings.solver,
                           time_limit=settings.time_limit_s or scenario.settings.time_limit_s)


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
    ins={"supply_network": dg.AssetIn(key=["supply_graph", "supply_network"]),
         "src_scenario": dg.AssetIn(key=["staging", "src_scenario"]),
         "capacities": dg.AssetIn(key=["staging", "capacities"])},
    description=("Chokepoints per candidate defector: for each producer node (country × input) and each country, "
                 "the share of the defector's attainable compute lost if it is removed (LP re-solve), whether it "
                 "is an AND/OR single point of failure, and its supplier share. Grain: one row per "
                 "(scenario, defector, entity, metric), ranked within (defector, entity type, metric)."),
)
def chokepoints(settings: ChokepointSettings, supply_network: SupplyNetwork,
                src_scenario: pl.DataFrame, capacities: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    model = capability_model(supply_network, scenario, settings)
    frame = chokepoint_table(supply_network, scenario, model, capacities)
    top = (frame.filter((pl.col("metric") == "removal_loss") & (pl.col("entity_type") == "node"))
           .sort(["defector", "rank"]).group_by("defector", maintain_order=True).head(5))
    return dg.Output(frame, metadata=table_metadata(top, limit=20, rows=frame.height))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "chokepoints"]), description=(
    "AND/OR propagation and the LP agree: every single point of failure has removal loss 1, and every removal "
    "loss lies in [0, 1]."))
def chokepoints_consistent(chokepoints: pl.DataFrame) -> dg.AssetCheckResult:
    wide = chokepoints.filter(pl.col("metric").is_in(["removal_loss", "single_point_of_failure"])).pivot(
        on="metric", index=["defector", "entity_type", "entity"], values="value")
    disagree = wide.filter((pl.col("single_point_of_failure") == 1) & (pl.col("removal_loss") < 1 - 1e-6)).height
    out_of_range = chokepoints.filter((pl.col("metric") == "removal_loss")
                                      & ((pl.col("value") < -1e-9) | (pl.col("value") > 1 + 1e-9))).height
    return dg.AssetCheckResult(passed=disagree == 0 and out_of_range == 0, metadata={
        "spof_with_loss_below_1": disagree, "losses_outside_0_1": out_of_range,
        "single_points_of_failure": int(wide.filter(pl.col("single_point_of_failure") == 1).height)})


assets = [concentration, chokepoints]
checks = [concentration_bounds, chokepoints_consistent]
