"""Two-sided leverage per scenario partition, in the ``deterrence`` group
(``docs/design.md#11-retaliation-and-verification``).

What the controls in force achieve (``analytics.baseline_effect``), where the coalition is
itself vulnerable (``analytics.counter_chokepoints``), each defector's best retaliation
against each coalition placement with the credibility test and the race game with
retaliation as a move (``analytics.retaliation``, ``analytics.equilibria_retaliation``), and
verification chosen together with controls (``analytics.verification``). Partitioned by
scenario file like the rest of the ``deterrence`` group; every figure is marginal to the scenario's
baseline (``status_quo``: the controls in force on ``[baseline] as_of``), and every table has a
``horizon`` column: each analysis runs on both horizons' networks
(``docs/design.md#9-horizons``), the short run first.
"""


import dagster as dg
import polars as pl

from chokepoint.analyses.retaliation import (BASELINE_EFFECT_SCHEMA, COUNTER_CHOKEPOINTS_SCHEMA,
                                             EQUILIBRIA_RETALIATION_SCHEMA, RETALIATION_SCHEMA,
                                             baseline_effect_table, counter_chokepoints_table, retaliation_analysis)
from chokepoint.analyses.verification import VERIFICATION_SCHEMA, verification_table
from chokepoint.model.build import CHIP_OUTPUT_STAGES, inputs_of_stages
from pipelines.assets.deterrence import BASELINE_INS, GATE, STAGED, analysed, empty, partition_setups
from pipelines.metadata import table_metadata
from pipelines.partitions import PARTITION_EXPR, PARTITIONED_ASSET
from pipelines.resources import ChokepointSettings

GROUP = "deterrence"
OWNERS = ["team:chokepoint"]
KINDS = {"cvxpy", "duckdb"}
INS = {**STAGED, **BASELINE_INS}


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds=KINDS, owners=OWNERS, ins=INS, deps=GATE,
    metadata=PARTITION_EXPR, **PARTITIONED_ASSET,
    description=("What the controls in force achieve (scenarios with a baseline, e.g. `status_quo`): per actor, "
                 "attainable compute with no controls and with the modelled measures in force on `[baseline] "
                 "as_of` (both sides), the leverage of all of them and of each side's alone, and for candidate "
                 "defectors the best next placement within budget marginal to the baseline. Grain: one row per "
                 "(scenario, horizon, actor)."),
)
def baseline_effect(context: dg.AssetExecutionContext, settings: ChokepointSettings,
                    **staged: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    parts = analysed(settings, partition_setups(context, settings, staged), lambda one: one.keyed(baseline_effect_table(
        one.network, one.scenario, one.baseline, capability=one.capability, solver=one.solver,
        time_limit=one.time_limit)))
    frame = pl.concat([empty(BASELINE_EFFECT_SCHEMA), *parts], how="vertical")
    return dg.Output(frame, metadata=table_metadata(frame.select(
        "scenario", "horizon", "actor", "leverage_baseline", "leverage_by_others", "next_leverage"), limit=20))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds=KINDS, owners=OWNERS, ins=INS, deps=GATE,
    metadata=PARTITION_EXPR, **PARTITIONED_ASSET,
    description=("Counter-chokepoints: where the coalition is vulnerable. For each candidate defector's "
                 "counter-control (withholding an input its members hold at least `[retaliation] share_threshold` "
                 "of, or excluding the signatories from its clouds) and each signatory, the loss of the "
                 "signatory's attainable compute (capability LP, on top of the baseline), ranked, and of its chip "
                 "output (its fabrication-stage producers' most output, all uses). Grain: one row "
                 "per (scenario, horizon, defector, counter_control, signatory)."),
)
def counter_chokepoints(context: dg.AssetExecutionContext, settings: ChokepointSettings,
                        **staged: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    chip_inputs = inputs_of_stages(staged["input_types"], CHIP_OUTPUT_STAGES)
    parts = analysed(settings, partition_setups(context, settings, staged), lambda one: one.keyed(
        counter_chokepoints_table(one.network, one.scenario, one.baseline, capability=one.capability,
                                  chip_inputs=chip_inputs)))
    frame = pl.concat([empty(COUNTER_CHOKEPOINTS_SCHEMA), *parts], how="vertical")
    return dg.Output(frame, metadata=table_metadata(frame.filter(pl.col("rank") == 1).select(
        "scenario", "horizon", "defector", "signatory", "counter_control", "loss"), limit=20, rows=frame.height))


@dg.multi_asset(
    outs={
        "retaliation": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                   metadata=PARTITION_EXPR, description=(
            "Each candidate defector's best counter-placement within its retaliation budget against each coalition "
            "placement of `analytics.deterrence` (interdiction MILP with the signatories' sinks as targets, exact, "
            "time-limited), the signatories' losses, the coalition's expected loss p·loss, the credibility test "
            "(expected loss ≤ tolerance; failing placements reported, not dropped) and the margin when the "
            "defector anticipates that a non-credible sanction is not imposed. Grain: one row per (scenario, "
            "horizon, placement, defector, signatory).")),
        "equilibria_retaliation": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                              metadata=PARTITION_EXPR, description=(
            "The race game of `analytics.equilibria` under each placement without and with retaliation as a move "
            "(leverage kept only where the placement is credible against that defector). Grain: one row per "
            "(scenario, horizon, placement, retaliation, equilibrium).")),
    },
    ins={**INS, "deterrence": dg.AssetIn(key=["analytics", "deterrence"])}, deps=GATE,
    **PARTITIONED_ASSET,
)
def retaliation_analysis_asset(context: dg.AssetExecutionContext, settings: ChokepointSettings,
                               deterrence: pl.DataFrame, **staged: pl.DataFrame):
    def analyse(one):
        # The coalition's placements of the same partition and horizon.
        placed = deterrence.filter((pl.col("scenario") == one.key) & (pl.col("horizon") == one.horizon))
        return retaliation_analysis(one.network, one.scenario, one.baseline, placed, capability=one.capability,
                                    solver=one.solver, time_limit=one.time_limit), one

    analyses = analysed(settings, partition_setups(context, settings, staged), analyse)
    out = {"retaliation": pl.concat([empty(RETALIATION_SCHEMA)] + [one.keyed(a.retaliation) for a, one in analyses],
                                    how="vertical"),
           "equilibria_retaliation": pl.concat([empty(EQUILIBRIA_RETALIATION_SCHEMA)]
                                               + [one.keyed(a.equilibria) for a, one in analyses], how="vertical")}
    verdicts = out["retaliation"].group_by("scenario", "horizon", "placement", "defector", maintain_order=True).agg(
        pl.col("coalition_loss").first(), pl.col("expected_loss").first(), pl.col("credible").first())
    yield dg.Output(out["retaliation"], output_name="retaliation", metadata=table_metadata(
        verdicts, limit=20, rows=out["retaliation"].height,
        not_credible=verdicts.filter(~pl.col("credible")).height))
    yield dg.Output(out["equilibria_retaliation"], output_name="equilibria_retaliation",
                    metadata=table_metadata(out["equilibria_retaliation"].select(
                        "scenario", "horizon", "placement", "retaliation", "defectors", "compliance_unique"),
                        limit=20))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds=KINDS, owners=OWNERS, ins=INS, deps=GATE,
    metadata=PARTITION_EXPR, **PARTITIONED_ASSET,
    description=("Verification as a lever: the scenario's `[verification.*]` mechanisms and the control catalogue "
                 "chosen together at least cost so that every deterrable defector's p(y)·L(x) reaches "
                 "(G − B)/V (MILP, McCormick-exact product), against sanctions alone; per mechanism and defector "
                 "its cost, coverage, detection before and after, whether it is chosen (for all defectors, and "
                 "for that defector alone) and whether verification deters that defector more cheaply than "
                 "sanctions. Grain: one row per (scenario, horizon, mechanism, actor)."),
)
def verification(context: dg.AssetExecutionContext, settings: ChokepointSettings,
                 **staged: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    parts = analysed(settings, partition_setups(context, settings, staged), lambda one: one.keyed(verification_table(
        one.network, one.scenario, capability=one.capability, solver=one.solver, time_limit=one.time_limit,
        baseline_closed=one.baseline.closed)))
    frame = pl.concat([empty(VERIFICATION_SCHEMA), *parts], how="vertical")
    return dg.Output(frame, metadata=table_metadata(frame.select(
        "scenario", "horizon", "mechanism", "actor", "chosen", "detection_after", "verification_cheaper"),
        limit=20))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "baseline_effect"]), description=(
    "The baseline never raises a capability, each side's measures alone take no more than all of them, and "
    "every next placement is proven optimal."))
def baseline_effect_consistent(baseline_effect: pl.DataFrame) -> dg.AssetCheckResult:
    raised = baseline_effect.filter(pl.col("capability_baseline") > pl.col("capability_none") * (1 + 1e-9) + 1e-9)
    side = baseline_effect.filter((pl.col("leverage_by_signatories") > pl.col("leverage_baseline") + 1e-9)
                                  | (pl.col("leverage_by_others") > pl.col("leverage_baseline") + 1e-9))
    unproven = baseline_effect.filter(pl.col("next_optimal").is_not_null() & ~pl.col("next_optimal"))
    return dg.AssetCheckResult(passed=raised.height == side.height == unproven.height == 0, metadata={
        "rows": baseline_effect.height, "capability_raised": raised.height, "side_above_total": side.height,
        "next_placement_unproven": unproven.height})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "retaliation"]), description=(
    "Every best retaliation is proven optimal, losses lie in [0, 1], the coalition loss is the mean of the "
    "active signatories' losses, and `credible` is exactly expected_loss ≤ tolerance."))
def retaliation_certified(retaliation: pl.DataFrame) -> dg.AssetCheckResult:
    unproven = retaliation.filter(~pl.col("optimal")).height
    out_of_range = retaliation.filter((pl.col("loss") < -1e-9) | (pl.col("loss") > 1 + 1e-9)).height
    means = (retaliation.filter(pl.col("capability_before") > 0)
             .group_by("scenario", "horizon", "placement", "defector")
             .agg((pl.col("loss").mean() - pl.col("coalition_loss").first()).abs().alias("error")))
    mean_error = float(means["error"].max() or 0.0)
    wrong = retaliation.filter(pl.col("credible") != (pl.col("expected_loss") <= pl.col("tolerance") + 1e-9)).height
    return dg.AssetCheckResult(passed=unproven == out_of_range == wrong == 0 and mean_error <= 1e-9, metadata={
        "rows": retaliation.height, "unproven": unproven, "loss_outside_0_1": out_of_range,
        "max_coalition_loss_error": mean_error, "credibility_mismatches": wrong})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "counter_chokepoints"]), description=(
    "Every loss lies in [0, 1] and equals (capability_before − capability_after) / capability_before; no "
    "counter-control raises a signatory's capability or chip output (a share of its own capacity, ≤ 1); "
    "ranks run 1, 2, … within (scenario, horizon, defector, signatory)."))
def counter_chokepoints_consistent(counter_chokepoints: pl.DataFrame) -> dg.AssetCheckResult:
    frame = counter_chokepoints
    raised = frame.filter(pl.col("capability_after") > pl.col("capability_before") * (1 + 1e-9) + 1e-9).height
    recomputed = frame.filter(pl.col("capability_before") > 0).with_columns(
        ((pl.col("capability_before") - pl.col("capability_after")) / pl.col("capability_before"))
        .clip(0.0, 1.0).alias("again"))
    error = float((recomputed["again"] - recomputed["loss"]).abs().max() or 0.0)
    chips = frame.filter(pl.col("chip_output_before").is_not_null())
    chip_bad = chips.filter((pl.col("chip_output_loss") < -1e-9) | (pl.col("chip_output_loss") > 1 + 1e-9)
                            | (pl.col("chip_output_after") > pl.col("chip_output_before") * (1 + 1e-9) + 1e-9)
                            | (pl.col("chip_output_before") > 1 + 1e-9)).height
    ranks = frame.group_by("scenario", "horizon", "defector", "signatory").agg(
        (pl.col("rank").sort() == pl.int_range(1, pl.len() + 1)).all().alias("ok"))
    bad_ranks = ranks.filter(~pl.col("ok")).height
    return dg.AssetCheckResult(passed=raised == bad_ranks == chip_bad == 0 and error <= 1e-8, metadata={
        "rows": frame.height, "capability_raised": raised, "max_loss_error": error, "bad_rank_groups": bad_ranks,
        "chip_output_rows": chips.height, "chip_output_out_of_range": chip_bad})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "equilibria_retaliation"]), description=(
    "Without retaliation the game is the one of analytics.equilibria: the same number of equilibria and the "
    "same compliance verdict under every placement of the same scenario and horizon."),
    additional_ins={"equilibria": dg.AssetIn(key=["analytics", "equilibria"])})
def equilibria_without_retaliation_match(equilibria_retaliation: pl.DataFrame,
                                         equilibria: pl.DataFrame) -> dg.AssetCheckResult:
    keys = ["scenario", "horizon", "placement"]
    ours = (equilibria_retaliation.filter(pl.col("retaliation") == "without").group_by(keys)
            .agg(pl.col("pure_equilibria").first(), pl.col("compliance_is_equilibrium").first()))
    theirs = equilibria.filter(pl.col("scenario").is_in(ours["scenario"].unique().to_list())).group_by(keys).agg(
        pl.col("pure_equilibria").first().alias("expected"), pl.col("compliance_is_equilibrium").first().alias("want"))
    joined = ours.join(theirs, on=keys, how="full", coalesce=True)
    disagree = joined.filter((pl.col("pure_equilibria") != pl.col("expected"))
                             | (pl.col("compliance_is_equilibrium") != pl.col("want"))
                             | pl.col("expected").is_null() | pl.col("pure_equilibria").is_null()).height
    return dg.AssetCheckResult(passed=disagree == 0, metadata={"placements": joined.height, "disagreements": disagree})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "verification"]), description=(
    "Every solve is proven; detection after is never below detection before; a defector reported cheaper with "
    "verification has a joint cost below its sanctions-only cost (or no sanctions-only placement)."))
def verification_consistent(verification: pl.DataFrame) -> dg.AssetCheckResult:
    unproven = verification.filter(~pl.col("proven")).height
    lowered = verification.filter(pl.col("detection_after") < pl.col("detection_before") - 1e-12).height
    false_cheaper = verification.filter(pl.col("verification_cheaper") & pl.col("sanctions_cost").is_not_null()
                                        & (pl.col("joint_cost") >= pl.col("sanctions_cost") - 1e-9)).height
    return dg.AssetCheckResult(passed=unproven == lowered == false_cheaper == 0, metadata={
        "rows": verification.height, "unproven": unproven, "detection_lowered": lowered,
        "false_cheaper_claims": false_cheaper})


assets = [baseline_effect, counter_chokepoints, retaliation_analysis_asset, verification]
checks = [baseline_effect_consistent, counter_chokepoints_consistent, retaliation_certified,
          equilibria_without_retaliation_match, verification_consistent]
