"""Group ``placements``: what controls do to each candidate defector's capability."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from chokepoint.analysis import capability_table, control_leverage_table
from chokepoint.model import control_route_masks
from graph.network import SupplyNetwork
from pipelines.assets.chokepoints import capability_model
from pipelines.assets.staging import scenario_of
from pipelines.metadata import table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "placements"
OWNERS = ["team:chokepoint"]
GAP_TOLERANCE = 1e-6
NETWORK_INS = {"supply_network": dg.AssetIn(key=["supply_graph", "supply_network"]),
               "src_scenario": dg.AssetIn(key=["staging", "src_scenario"])}


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS, ins=NETWORK_INS,
    description=("Each catalogue control alone against each candidate defector: attainable compute before and "
                 "after (capability LP, HiGHS), leverage = (C0 − C1)/C0, cost, leverage per cost, solver status "
                 "and duality gap. Grain: one row per (scenario, defector, control)."),
)
def control_leverage(settings: ChokepointSettings, supply_network: SupplyNetwork,
                     src_scenario: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    model = capability_model(supply_network, scenario, settings)
    frame = control_leverage_table(supply_network, scenario, model, control_route_masks(supply_network, scenario))
    return dg.Output(frame, metadata=table_metadata(frame.filter(pl.col("rank") <= 3), limit=15, rows=frame.height))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS,
    ins={**NETWORK_INS, "control_leverage": dg.AssetIn(key=["analytics", "control_leverage"])},
    description=("Attainable AI compute (H100-equivalents per year) of every actor with no controls; for "
                 "candidate defectors also the single best catalogue control within budget and the capability "
                 "and leverage it leaves. Grain: one row per (scenario, actor)."),
)
def capability(settings: ChokepointSettings, supply_network: SupplyNetwork, src_scenario: pl.DataFrame,
               control_leverage: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    model = capability_model(supply_network, scenario, settings)
    frame = capability_table(supply_network, scenario, model, control_leverage)
    return dg.Output(frame, metadata=table_metadata(frame.select(
        "actor", "candidate_defector", "capability_before", "best_control", "capability_after", "leverage"),
        limit=20))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "control_leverage"]), description=(
    f"Every solve is optimal with duality gap ≤ {GAP_TOLERANCE:g} and primal residual ≤ 1e-6 (relative); no "
    "control raises a capability."))
def control_leverage_certified(control_leverage: pl.DataFrame) -> dg.AssetCheckResult:
    not_optimal = control_leverage.filter(pl.col("status") != "optimal").height
    gap = float(control_leverage["duality_gap"].max())
    residual = float((control_leverage["max_residual"] / control_leverage["capability_before"].clip(lower_bound=1.0)).max())
    raised = control_leverage.filter(pl.col("capability_after") > pl.col("capability_before") * (1 + 1e-9) + 1e-9).height
    return dg.AssetCheckResult(
        passed=not_optimal == 0 and gap <= GAP_TOLERANCE and residual <= 1e-6 and raised == 0,
        metadata={"not_optimal": not_optimal, "max_duality_gap": gap, "max_relative_residual": residual,
                  "controls_raising_capability": raised})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "capability"]), description=(
    "Re-computing each defector's capability after applying its best control (fresh LP) reproduces the "
    "reported value, and baseline solves are optimal with duality gap ≤ 1e-6."),
    additional_ins=NETWORK_INS)
def capability_reproducible(settings: ChokepointSettings, capability: pl.DataFrame, supply_network: SupplyNetwork,
                            src_scenario: pl.DataFrame) -> dg.AssetCheckResult:
    scenario = scenario_of(src_scenario)
    model = capability_model(supply_network, scenario, settings)
    masks = control_route_masks(supply_network, scenario)
    worst = 0.0
    for row in capability.iter_rows(named=True):
        sink = supply_network.sink_of(supply_network.actors.index(row["actor"]))
        mask = masks[row["best_control"]] if row["best_control"] else np.zeros(supply_network.num_edges, bool)
        again = model.solve(sink, (~mask).astype(np.float64)).value
        worst = max(worst, abs(again - row["capability_after"]) / max(1.0, abs(row["capability_after"])))
    gap = float(capability["duality_gap"].max())
    optimal = bool((capability["status"] == "optimal").all())
    return dg.AssetCheckResult(passed=worst <= 1e-6 and gap <= GAP_TOLERANCE and optimal, metadata={
        "max_relative_difference": worst, "max_duality_gap": gap, "all_optimal": optimal})


assets = [control_leverage, capability]
checks = [control_leverage_certified, capability_reproducible]
