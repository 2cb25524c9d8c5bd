"""Group ``placements``: what controls do to each candidate defector's capability, and where
to place them (interdiction MILP) so that defectors lose the most per unit of cost."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from chokepoint.analyses.chokepoints import capability_table, control_leverage_table
from chokepoint.model.controls import control_route_masks
from chokepoint.analyses.placements import catalogue_arrays, leverage_curve_table, placement_models, placements_table
from chokepoint.model.baseline import BaselinePlacement
from chokepoint.model.build import HorizonNetworks
from chokepoint.model.horizons import HORIZONS
from chokepoint.report.plots import leverage_curve_png
from graph.network import SupplyNetwork
from optimization.capability import CapabilityModel
from optimization.interdiction import OPTIMALITY_GAP
from pipelines.assets.chokepoints import NETWORK_INS, capability_model
from pipelines.assets.staging import scenario_of
from pipelines.metadata import plot_metadata, table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "placements"
OWNERS = ["team:chokepoint"]
GAP_TOLERANCE = 1e-6
MARGINAL = (" With a baseline (`status_quo`: the controls in force) every figure is marginal to it (`baseline` "
            "column).")
HORIZON_GRAIN = "one row per (scenario, horizon, "


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS, ins=NETWORK_INS,
    description=("Each catalogue control alone against each candidate defector, in each horizon: attainable "
                 "compute before and after (capability LP, HiGHS), leverage = (C0 − C1)/C0, cost, leverage per "
                 "cost, solver status and duality gap." + MARGINAL + " Grain: " + HORIZON_GRAIN
                 + "defector, control)."),
)
def control_leverage(settings: ChokepointSettings, horizon_networks: HorizonNetworks,
                     baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    frame = horizon_networks.table_marginal(baselines, lambda _, network, baseline: control_leverage_table(
        network, scenario, capability_model(network, scenario, settings), control_route_masks(network, scenario),
        baseline_closed=baseline.marginal_to), threads=settings.threads)
    return dg.Output(frame, metadata=table_metadata(frame.filter(pl.col("rank") <= 3), limit=15, rows=frame.height))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS,
    ins={**NETWORK_INS, "control_leverage": dg.AssetIn(key=["analytics", "control_leverage"])},
    description=("Attainable AI compute (H100-equivalents per year) of every actor with no controls (or with "
                 "the baseline's), in each horizon; for candidate defectors also the single best catalogue control "
                 "within budget and the capability and leverage it leaves." + MARGINAL + " Grain: "
                 + HORIZON_GRAIN + "actor)."),
)
def capability(settings: ChokepointSettings, horizon_networks: HorizonNetworks,
               baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame,
               control_leverage: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)

    def table(horizon: str, network: SupplyNetwork, baseline: BaselinePlacement) -> pl.DataFrame:
        return capability_table(network, scenario, capability_model(network, scenario, settings),
                                control_leverage.filter(pl.col("horizon") == horizon).drop("horizon", "baseline"),
                                baseline_closed=baseline.marginal_to)

    frame = horizon_networks.table_marginal(baselines, table, threads=settings.threads)
    return dg.Output(frame, metadata=table_metadata(frame.select(
        "horizon", "actor", "candidate_defector", "capability_before", "best_control", "capability_after",
        "leverage"), limit=30))


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
    "Re-computing each defector's capability after applying its best control and the baseline's routes (fresh "
    "LP) reproduces the reported value, and the solves before any control are optimal with duality gap ≤ 1e-6."),
    additional_ins=NETWORK_INS)
def capability_reproducible(settings: ChokepointSettings, capability: pl.DataFrame,
                            horizon_networks: HorizonNetworks, baselines: dict[str, BaselinePlacement],
                            src_scenario: pl.DataFrame) -> dg.AssetCheckResult:
    scenario = scenario_of(src_scenario)
    worst = 0.0
    for horizon, network in horizon_networks.items():
        model = capability_model(network, scenario, settings)
        masks = control_route_masks(network, scenario)
        for row in capability.filter(pl.col("horizon") == horizon).iter_rows(named=True):
            sink = network.sink_of(network.actors.index(row["actor"]))
            mask = masks[row["best_control"]] if row["best_control"] else np.zeros(network.num_edges, bool)
            mask = mask | baselines[horizon].closed
            again = model.solve(sink, (~mask).astype(np.float64)).value
            worst = max(worst, abs(again - row["capability_after"]) / max(1.0, abs(row["capability_after"])))
    gap = float(capability["duality_gap"].max())
    optimal = bool((capability["status"] == "optimal").all())
    return dg.AssetCheckResult(passed=worst <= 1e-6 and gap <= GAP_TOLERANCE and optimal, metadata={
        "max_relative_difference": worst, "max_duality_gap": gap, "all_optimal": optimal})


def _models(settings: ChokepointSettings, network: SupplyNetwork, scenario, baseline: BaselinePlacement):
    return placement_models(network, scenario, solver=settings.solver_for(scenario),
                            time_limit=settings.time_limit_for(scenario), baseline_closed=baseline.marginal_to)


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS, ins=NETWORK_INS,
    description=(
        "Optimal control placement within the scenario budget (and collateral cap) by the interdiction MILP "
        "(LP duality, data-derived big-M; HiGHS or SCIP): one placement per candidate defector (target = the "
        "defector) and one joint placement maximising mean leverage over all of them (target = 'ALL'). Columns: "
        "chosen controls, cost, collateral (shares of world supply signatory suppliers stop selling), capability "
        "before/after and leverage per defector (exact capability LP after applying the placement), objective = "
        "remaining capability share minimised (mean for the joint placement), proven bound, relative gap, status "
        "(optimal only when proven with gap ≤ 1e-6), solver, seconds, largest relative capability loss of a "
        "signatory." + MARGINAL + " Grain: " + HORIZON_GRAIN + "target, defector)."),
)
def placements(settings: ChokepointSettings, horizon_networks: HorizonNetworks,
               baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    frame = horizon_networks.table_marginal(baselines, lambda _, network, baseline: placements_table(
        network, scenario, _models(settings, network, scenario, baseline), baseline_closed=baseline.marginal_to),
        threads=settings.threads)
    preview = frame.select("horizon", "target", "defector", "leverage", "cost", "collateral", "status", "gap",
                           pl.col("controls").list.join(", ").alias("controls"))
    return dg.Output(frame, metadata=table_metadata(preview, limit=20, rows=frame.height,
                                                    all_optimal=bool(frame["optimal"].all())))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds={"cvxpy", "duckdb"}, owners=OWNERS, ins=NETWORK_INS,
    description=(
        "Leverage curve: the exact Pareto frontier of placement cost vs leverage for each candidate defector "
        "and for the joint placement (target 'ALL'), from budget 0 to the cost of the whole catalogue. Point k "
        "is the least budget that buys more leverage than point k−1 and the best placement within it; leverage "
        "is constant between points. `exact` marks points resting on proven MILP optima. Grain: " + HORIZON_GRAIN
        + "target, point, defector)." + MARGINAL),
)
def leverage_curve(settings: ChokepointSettings, horizon_networks: HorizonNetworks,
                   baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    scenario = scenario_of(src_scenario)
    frame = horizon_networks.table_marginal(baselines, lambda _, network, baseline: leverage_curve_table(
        network, scenario, _models(settings, network, scenario, baseline)), threads=settings.threads)
    preview = frame.select("horizon", "target", "point", "budget", "defector", "leverage", "exact",
                           pl.col("controls").list.join(", ").alias("controls"))
    # One line per target; the joint placement's line is its mean leverage over the defectors, the
    # quantity it maximises (single-defector targets have one row per point, so the mean is that row).
    curves = (frame.filter(pl.col("horizon") == HORIZONS[0])
              .group_by("target", "point", maintain_order=True).agg(pl.col("budget").first(),
                                                                    pl.col("leverage").mean()))
    plot = plot_metadata(leverage_curve_png(curves, by="target"), f"leverage curve per target ({HORIZONS[0]})")
    return dg.Output(frame, metadata=table_metadata(preview, limit=25, rows=frame.height,
                                                    all_exact=bool(frame["exact"].all()), plot=plot))


def _certified(frame: pl.DataFrame, proven: str) -> dict:
    """Gap and duality-gap figures of the rows reported proven (``proven`` column)."""
    claimed = frame.filter(pl.col(proven))
    return {
        "rows_claimed_optimal": claimed.height,
        "max_gap_where_optimal": float(claimed["gap"].max() or 0.0),
        "max_lp_duality_gap_where_optimal": float(claimed["lp_duality_gap"].max() or 0.0),
        "inaccurate_claimed_optimal": claimed.filter(pl.col("status").str.contains("inaccurate")).height,
    }


def _reproduce(frame: pl.DataFrame, networks: HorizonNetworks, baselines: dict[str, BaselinePlacement],
               scenario) -> float:
    """Largest relative difference between reported and freshly re-computed capability
    (the placement's and the baseline's routes closed)."""
    worst = 0.0
    for horizon, network in networks.items():
        worst = max(worst, _reproduce_on(frame.filter(pl.col("horizon") == horizon), network,
                                         baselines[horizon].closed, scenario))
    return worst


def _reproduce_on(frame: pl.DataFrame, network: SupplyNetwork, baseline_closed: np.ndarray, scenario) -> float:
    catalogue = catalogue_arrays(network, scenario)
    index = {c: i for i, c in enumerate(catalogue.ids)}
    fresh = CapabilityModel(network, solver="HIGHS", time_limit=scenario.settings.time_limit_s)
    worst = 0.0
    for row in frame.iter_rows(named=True):
        closed = baseline_closed.copy()
        for control in row["controls"]:
            closed |= catalogue.closes[index[control]]
        sink = network.sink_of(network.actors.index(row["defector"]))
        again = fresh.solve(sink, (~closed).astype(np.float64)).value
        worst = max(worst, abs(again - row["capability_after"]) / max(1.0, abs(row["capability_after"])))
    return worst


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "placements"]), description=(
    f"On placements reported optimal: MILP gap ≤ {OPTIMALITY_GAP:g} and duality gap of the verifying capability "
    f"LPs ≤ {GAP_TOLERANCE:g}; no inaccurate status reported optimal; every placement within budget and "
    "collateral cap."))
def placements_certified(placements: pl.DataFrame) -> dg.AssetCheckResult:
    figures = _certified(placements, "optimal")
    over_budget = placements.filter(pl.col("cost") > pl.col("budget") * (1 + 1e-9) + 1e-12).height
    over_cap = placements.filter(pl.col("collateral_cap").is_not_null()
                                 & (pl.col("collateral") > pl.col("collateral_cap") * (1 + 1e-9) + 1e-12)).height
    passed = (figures["max_gap_where_optimal"] <= OPTIMALITY_GAP
              and figures["max_lp_duality_gap_where_optimal"] <= GAP_TOLERANCE
              and figures["inaccurate_claimed_optimal"] == 0 and over_budget == 0 and over_cap == 0)
    return dg.AssetCheckResult(passed=passed, metadata={**figures, "over_budget": over_budget,
                                                        "over_collateral_cap": over_cap})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "placements"]), description=(
    "Re-computing each defector's capability with a fresh capability LP after applying the reported placement "
    "and the baseline reproduces the reported value (relative difference ≤ 1e-6)."), additional_ins=NETWORK_INS)
def placements_reproducible(placements: pl.DataFrame, horizon_networks: HorizonNetworks,
                            baselines: dict[str, BaselinePlacement], src_scenario: pl.DataFrame) -> dg.AssetCheckResult:
    worst = _reproduce(placements, horizon_networks, baselines, scenario_of(src_scenario))
    return dg.AssetCheckResult(passed=worst <= 1e-6, metadata={"max_relative_difference": worst})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "leverage_curve"]), description=(
    f"On points reported optimal: gap ≤ {OPTIMALITY_GAP:g} and verifying LP duality gap ≤ {GAP_TOLERANCE:g}; "
    "along each curve budgets rise and the objective (remaining capability share) strictly falls; leverage "
    "in [0, 1]."))
def leverage_curve_certified(leverage_curve: pl.DataFrame) -> dg.AssetCheckResult:
    figures = _certified(leverage_curve, "optimal")
    per_point = leverage_curve.group_by("horizon", "target", "point").agg(pl.col("budget").first(),
                                                                         pl.col("objective").first())
    steps = per_point.sort("horizon", "target", "point").with_columns(
        (pl.col("budget").diff().over("horizon", "target")).alias("d_budget"),
        (pl.col("objective").diff().over("horizon", "target")).alias("d_objective"))
    not_monotone = steps.filter((pl.col("d_budget") <= 0) | (pl.col("d_objective") >= 0)).height
    out_of_range = leverage_curve.filter((pl.col("leverage") < -1e-9) | (pl.col("leverage") > 1 + 1e-9)).height
    passed = (figures["max_gap_where_optimal"] <= OPTIMALITY_GAP
              and figures["max_lp_duality_gap_where_optimal"] <= GAP_TOLERANCE
              and figures["inaccurate_claimed_optimal"] == 0 and not_monotone == 0 and out_of_range == 0)
    return dg.AssetCheckResult(passed=passed, metadata={**figures, "non_monotone_steps": not_monotone,
                                                        "leverage_outside_0_1": out_of_range,
                                                        "targets": per_point["target"].n_unique(),
                                                        "points": per_point.height})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "leverage_curve"]), description=(
    "Re-computing capability with a fresh capability LP after applying each frontier point's placement and the "
    "baseline reproduces the reported value (relative difference ≤ 1e-6)."), additional_ins=NETWORK_INS)
def leverage_curve_reproducible(leverage_curve: pl.DataFrame, horizon_networks: HorizonNetworks,
                                baselines: dict[str, BaselinePlacement],
                                src_scenario: pl.DataFrame) -> dg.AssetCheckResult:
    worst = _reproduce(leverage_curve, horizon_networks, baselines, scenario_of(src_scenario))
    return dg.AssetCheckResult(passed=worst <= 1e-6, metadata={"max_relative_difference": worst})


assets = [control_leverage, capability, placements, leverage_curve]
checks = [control_leverage_certified, capability_reproducible, placements_certified, placements_reproducible,
          leverage_curve_certified, leverage_curve_reproducible]
