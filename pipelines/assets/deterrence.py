"""Group ``deterrence``: what placements do to incentives, per scenario partition.

Payoff tables and deterrence margins, the race game's equilibria, the cheapest placement
that deters every defector, whom to recruit, and how sensitive each verdict is. Every
asset is partitioned by scenario file (:mod:`pipelines.partitions`); one run computes
all requested scenarios on the same staged data.
"""


import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import dagster as dg
import polars as pl

from chokepoint.analyses.deterrence import (DETER_ALL_SCHEMA, DETERRENCE_SCHEMA, EQUILIBRIA_SCHEMA, MARGIN_TOLERANCE,
                                   SENSITIVITY_SCHEMA, analyse_deterrence, verdict_lines)
from chokepoint.model.build import HORIZON_TABLES, NETWORK_TABLES, horizon_networks, with_baseline, with_horizon_first
from chokepoint.model.horizons import HORIZONS
from chokepoint.report.plots import deterrence_margins_png, markdown_image
from chokepoint.analyses.recruitment import RECRUITMENT_SCHEMA, recruitment_table
from chokepoint.threads import in_threads
from chokepoint.inputs.scenario import Scenario, load_scenario
from chokepoint.model.baseline import BaselinePlacement, scenario_baselines
from graph.network import SupplyNetwork
from optimization.capability import CapabilityModel
from pipelines.metadata import table_metadata
from pipelines.partitions import PARTITION_EXPR, PARTITIONED_ASSET, SCENARIO_PARTITIONS
from pipelines.resources import ChokepointSettings

# Single-run backfills of static partitions are stable in practice but flagged beta; the
# warning would reach the one-line error output of `chokepoint run` on every load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

GROUP = "deterrence"
OWNERS = ["team:chokepoint"]
KINDS = {"cvxpy", "duckdb"}
SCHEMAS = {"deterrence": DETERRENCE_SCHEMA, "deter_all": DETER_ALL_SCHEMA, "equilibria": EQUILIBRIA_SCHEMA,
           "sensitivity": SENSITIVITY_SCHEMA}
STAGED = {name: dg.AssetIn(key=["staging", name]) for name in (*NETWORK_TABLES, *HORIZON_TABLES)}
#: What a scenario's baseline is made of: the controls in force as staged (firm measures
#: checked against staging.firms on real data) and the firms' countries.
BASELINE_INS = {"controls_in_force": dg.AssetIn(key=["staging", "controls_in_force"]),
                "firms": dg.AssetIn(key=["staging", "firms"])}
#: The run's network and its blocking well-formedness check gate the analysis: staged data
#: that does not form a valid network is not analysed for any scenario.
GATE = [dg.AssetKey(["supply_graph", "supply_network"])]


def partition_scenario(settings: ChokepointSettings, key: str, countries: pl.DataFrame,
                       input_types: pl.DataFrame) -> Scenario:
    """The scenario file of a partition, validated against the staged countries and inputs."""
    scenario = load_scenario(_scenario_file(settings, key))
    scenario.validate_against(countries["iso3"], input_types["input_id"])
    return scenario


def _scenario_file(settings: ChokepointSettings, key: str) -> Path:
    return Path(settings.data_dir) / "scenarios" / f"{key}.toml"


def present_keys(context, settings: ChokepointSettings) -> tuple[list[str], list[str]]:
    """Requested partitions whose scenario file exists in the data folder, and those missing.

    Partitions are the shipped scenario files known when the definitions loaded; a run on
    another data folder (``--data-dir``) that lacks some of them analyses the ones it has
    and says which it skipped (check ``scenario_files_present``), rather than failing.
    """
    keys = list(context.partition_keys)
    missing = [k for k in keys if not _scenario_file(settings, k).exists()]
    if missing:
        context.log.warning(f"scenario partitions without a file in {settings.data_dir}/scenarios, skipped: "
                            + ", ".join(missing))
    return [k for k in keys if k not in missing], missing


def _solver(settings: ChokepointSettings, scenario: Scenario) -> tuple[str, float]:
    return settings.solver_for(scenario), settings.time_limit_for(scenario)


def keyed(frame: pl.DataFrame, key: str, horizon: str, baseline: str | None = None) -> pl.DataFrame:
    """``frame`` of one partition and horizon with its ``scenario`` (the partition key, the
    file stem, whatever the file's `name` says) and ``horizon`` first, and — when given —
    ``baseline`` right after them."""
    frame = with_horizon_first(frame.with_columns(pl.lit(key).alias("scenario"), pl.lit(horizon).alias("horizon")))
    return frame if baseline is None else with_baseline(frame, baseline)


def empty(schema: dict, *, with_baseline: bool = False) -> pl.DataFrame:
    """An empty table of ``schema`` with the columns :func:`keyed` adds."""
    return keyed(pl.DataFrame(schema=schema), "", "", "" if with_baseline else None)


def network_inputs(staged: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, pl.DataFrame]:
    """The staged inputs an asset of :data:`STAGED` and :data:`BASELINE_INS` received, split
    into the network tables, the controls in force and the firms."""
    return ({name: staged[name] for name in STAGED}, staged["controls_in_force"], staged["firms"])


def horizon_baselines(tables: dict[str, pl.DataFrame], scenario: Scenario, controls_in_force: pl.DataFrame,
                      firms: pl.DataFrame):
    """(horizon, network, baseline) per horizon, short run first: the baseline placement of
    the scenario (``status_quo``: the controls in force) on that horizon's network."""
    networks = horizon_networks(tables, scenario)
    baselines = scenario_baselines(networks, scenario, controls_in_force, firms)
    for horizon, network in networks.items():
        yield horizon, network, baselines[horizon]


@dataclass(frozen=True)
class Setup:
    """One (scenario partition, horizon): its network, baseline, capability LP and solver."""

    key: str
    horizon: str
    scenario: Scenario
    network: SupplyNetwork
    baseline: BaselinePlacement
    solver: str
    time_limit: float

    @cached_property
    def capability(self) -> CapabilityModel:
        """The horizon's capability LP, built on first use (verification of a scenario
        without mechanisms never needs it)."""
        return CapabilityModel(self.network, solver="HIGHS", time_limit=self.time_limit)

    @property
    def work(self) -> int:
        """A proxy of the unit's solve time (routes × candidate defectors): :func:`analysed`
        starts the largest units first, so that a long one does not start last."""
        return self.network.num_edges * max(1, len(self.scenario.defectors))

    def keyed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with this partition's key as ``scenario`` and this horizon, and the
        baseline's name where the analysis does not write its own ``baseline`` column."""
        return keyed(frame, self.key, self.horizon, None if "baseline" in frame.columns else self.baseline.name)


def setups(settings: ChokepointSettings, staged: dict[str, pl.DataFrame], keys: list[str]):
    """Per partition of ``keys`` (see :func:`present_keys`) and horizon (short run first): a
    :class:`Setup`, from the staged inputs of :data:`STAGED` and :data:`BASELINE_INS` as the
    asset received them."""
    tables, controls_in_force, firms = network_inputs(staged)
    for key in keys:
        scenario = partition_scenario(settings, key, tables["countries"], tables["input_types"])
        solver, time_limit = _solver(settings, scenario)
        for horizon, network, baseline in horizon_baselines(tables, scenario, controls_in_force, firms):
            yield Setup(key, horizon, scenario, network, baseline, solver, time_limit)


def partition_setups(context, settings: ChokepointSettings, staged: dict[str, pl.DataFrame]):
    """:func:`setups` of the run's partitions that have a scenario file."""
    return setups(settings, staged, present_keys(context, settings)[0])


Result = TypeVar("Result")


def analysed(settings: ChokepointSettings, units: Iterable[Setup], analyse: Callable[[Setup], Result]) -> list[Result]:
    """``analyse`` of every unit, returned in the units' order, ``settings.threads`` at a time,
    units with a ``work`` estimate (:attr:`Setup.work`) largest first
    (:func:`chokepoint.threads.in_threads`). Each unit builds its own models (no
    state is shared between units), so the results do not depend on the number of threads."""
    return in_threads(analyse, units, settings.threads, work=lambda one: getattr(one, "work", 0), name="partition")


@dg.multi_asset(
    outs={
        "deterrence": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                  metadata=PARTITION_EXPR, description=(
            "Payoff table: for each placement (none, the optimal joint placement within budget, the deter-all "
            "placement, each named analyst placement) and each actor: p, V, G, B, leverage L, expected sanction "
            "p·V·L, defect and comply payoffs, deterrence margin p·V·L + B − G (≥ 0: compliance pays), the "
            "race-game margins alone / when all others race, the dominant strategy, required leverage and "
            "threshold detection probability p*. Grain: one row per (scenario, placement, actor).")),
        "deter_all": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                 metadata=PARTITION_EXPR, description=(
            "Deter all: the minimum-cost placement with every deterrable candidate defector's margin ≥ 0 (MILP "
            "with one LP-dual block per defector). Undeterrable defectors (required leverage above the most any "
            "placement reaches) with their shortfall and the detection probability that would deter them; "
            "over-budget placements flagged. Grain: one row per (scenario, defector).")),
        "equilibria": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                  metadata=PARTITION_EXPR, description=(
            "Nash equilibria of the race among candidate defectors (pure: all 2^N profiles; mixed: two-player "
            "games) under each placement, and whether universal compliance is the unique equilibrium. "
            "Grain: one row per (scenario, placement, equilibrium).")),
        "sensitivity": dg.AssetOut(key_prefix="analytics", kinds=KINDS, owners=OWNERS, group_name=GROUP,
                                   metadata=PARTITION_EXPR, description=(
            "Tornado table under the optimal placement: each defector's margin when p (±0.2), V, G, B (±50 %) "
            "or its own supply shares (capacities ×1.25 / ×0.75, leverage re-computed) move one at a time; "
            "whether the swing flips the verdict; threshold p*. Grain: one row per (scenario, actor, parameter).")),
    },
    ins={**STAGED, **BASELINE_INS}, deps=GATE,
    **PARTITIONED_ASSET,
)
def deterrence_analysis(context: dg.AssetExecutionContext, settings: ChokepointSettings, **staged: pl.DataFrame):
    tables, _, _ = network_inputs(staged)
    keys, missing = present_keys(context, settings)
    analyses = analysed(settings, setups(settings, staged, keys), lambda one: (one, analyse_deterrence(
        tables, one.scenario, solver=one.solver, time_limit=one.time_limit, horizon=one.horizon,
        baseline_closed=one.baseline.marginal_to)))
    out = {name: pl.concat([empty(schema, with_baseline=True)]
                           + [one.keyed(getattr(analysis, name)) for one, analysis in analyses], how="vertical")
           for name, schema in SCHEMAS.items()}
    margins = out["deterrence"].filter(pl.col("candidate_defector") & pl.col("placement_kind").is_in(
        ["none", "optimal", "deter_all"]) & (pl.col("horizon") == HORIZONS[0])).with_columns(
        (pl.col("scenario") + "/" + pl.col("actor")).alias("who"))
    yield dg.Output(out["deterrence"], output_name="deterrence", metadata=table_metadata(
        out["deterrence"].filter(pl.col("candidate_defector")).select(
            "scenario", "horizon", "placement", "actor", "leverage", "margin", "dominant_strategy"), limit=30,
        rows=out["deterrence"].height,
        plot=dg.MetadataValue.md(markdown_image(deterrence_margins_png(margins, actor="who", case="placement"),
                                                "deterrence margins"))))
    yield dg.Output(out["deter_all"], output_name="deter_all", metadata=table_metadata(
        out["deter_all"].select("scenario", "horizon", "defector", "deterred", "cost", "required_leverage",
                                "max_leverage", "margin", "detection_probability_needed"), limit=30,
        scenarios=dg.MetadataValue.json(keys), missing_scenario_files=dg.MetadataValue.json(missing),
        verdict=dg.MetadataValue.md("\n".join(f"- {line}" for line in verdict_lines(out["deter_all"])))))
    yield dg.Output(out["equilibria"], output_name="equilibria", metadata=table_metadata(out["equilibria"], limit=15))
    yield dg.Output(out["sensitivity"], output_name="sensitivity", metadata=table_metadata(
        out["sensitivity"].filter(pl.col("rank") <= 2), limit=20, rows=out["sensitivity"].height))


@dg.asset(
    key_prefix="analytics", group_name=GROUP, kinds=KINDS, owners=OWNERS, ins={**STAGED, **BASELINE_INS}, deps=GATE,
    metadata=PARTITION_EXPR,
    description=("Whom to recruit: for each non-signatory outside the defectors that produces something or hosts a "
                 "transit hub, how much leverage over each defector rises if it joins and its routes come under "
                 "control (best placement within budget re-solved exactly; ceiling with every control placed). "
                 "Ranked by mean gain. Grain: one row per (scenario, country, defector)."),
    **PARTITIONED_ASSET,
)
def recruitment(context: dg.AssetExecutionContext, settings: ChokepointSettings,
                **staged: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    parts = analysed(settings, partition_setups(context, settings, staged), lambda one: one.keyed(recruitment_table(
        one.network, one.scenario, solver=one.solver, time_limit=one.time_limit, capability=one.capability,
        baseline_closed=one.baseline.marginal_to)))
    frame = pl.concat([empty(RECRUITMENT_SCHEMA, with_baseline=True), *parts], how="vertical")
    return dg.Output(frame, metadata=table_metadata(frame.filter(pl.col("rank") <= 5).select(
        "scenario", "horizon", "rank", "country", "defector", "leverage_before", "leverage_after", "leverage_gain"),
        limit=30, rows=frame.height))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "deter_all"]), description=(
    "Every deter-all solve is proven (cost lower bound = cost), within budget unless flagged over budget, every "
    "defector it reports deterred has margin ≥ 0, and no deterrable defector is left with a negative margin."))
def deter_all_certified(deter_all: pl.DataFrame) -> dg.AssetCheckResult:
    placed = deter_all.filter(pl.col("cost").is_not_null())
    unproven = placed.filter(~pl.col("proven")).height
    gap = float((placed["cost"] - placed["cost_lower_bound"]).abs().max() or 0.0)
    over = placed.filter(pl.col("feasible_within_budget") & (pl.col("cost") > pl.col("budget") + 1e-9)).height
    tolerance = MARGIN_TOLERANCE * 1e3
    false_claims = deter_all.filter(pl.col("deterred") & (pl.col("margin") < -tolerance)).height
    missed = deter_all.filter(pl.col("deterrable") & pl.col("cost").is_not_null() & ~pl.col("deterred")).height
    return dg.AssetCheckResult(
        passed=unproven == 0 and gap <= 1e-6 and over == 0 and false_claims == 0 and missed == 0,
        metadata={"unproven_solves": unproven, "max_cost_gap": gap, "over_budget_within_budget_rows": over,
                  "deterred_with_negative_margin": false_claims, "deterrable_left_undeterred": missed,
                  "defectors": deter_all.height})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "equilibria"]), description=(
    "Independent of the game enumeration: universal compliance is an equilibrium exactly when no candidate "
    "defector gains by defecting alone (every margin_if_alone ≥ 0 in the payoff table), for every placement."),
    additional_ins={"deterrence": dg.AssetIn(key=["analytics", "deterrence"])})
def equilibria_agree_with_margins(equilibria: pl.DataFrame, deterrence: pl.DataFrame) -> dg.AssetCheckResult:
    alone = (deterrence.filter(pl.col("candidate_defector"))
             .group_by("scenario", "horizon", "placement")
             .agg((pl.col("margin_if_alone") >= -1e-9).all().alias("by_margins")))
    games = equilibria.group_by("scenario", "horizon", "placement").agg(pl.col("compliance_is_equilibrium").first())
    joined = alone.join(games, on=["scenario", "horizon", "placement"], how="left")
    missing = joined.filter(pl.col("compliance_is_equilibrium").is_null()).height
    disagree = joined.filter(pl.col("compliance_is_equilibrium") != pl.col("by_margins")).height
    return dg.AssetCheckResult(passed=missing == 0 and disagree == 0,
                               metadata={"placements": joined.height, "disagreements": disagree,
                                         "placements_without_equilibria": missing})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "sensitivity"]), description=(
    "Each tornado's base margin equals the payoff table's margin under the optimal placement, and every swing "
    "is |margin_high − margin_low|."), additional_ins={"deterrence": dg.AssetIn(key=["analytics", "deterrence"])})
def sensitivity_consistent(sensitivity: pl.DataFrame, deterrence: pl.DataFrame) -> dg.AssetCheckResult:
    base = deterrence.filter(pl.col("placement_kind") == "optimal").select("scenario", "horizon", "actor", "margin")
    joined = sensitivity.join(base, on=["scenario", "horizon", "actor"], how="left")
    worst = float((joined["base_margin"] - joined["margin"]).abs().max() or 0.0)
    swing = float((sensitivity["swing"] - (sensitivity["margin_high"] - sensitivity["margin_low"]).abs()).abs().max()
                  or 0.0)
    return dg.AssetCheckResult(passed=worst <= 1e-9 and swing <= 1e-9 and joined["margin"].null_count() == 0,
                               metadata={"max_base_margin_difference": worst, "max_swing_error": swing,
                                         "rows": sensitivity.height})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["analytics", "recruitment"]), description=(
    "A larger coalition never lowers leverage: with a recruit's controls added, the best placement within budget "
    "and the ceiling are never below those without; every solve proven optimal."))
def recruitment_monotone(recruitment: pl.DataFrame) -> dg.AssetCheckResult:
    lowered = recruitment.filter((pl.col("leverage_after") < pl.col("leverage_before") - 1e-6)
                                 | (pl.col("ceiling_after") < pl.col("ceiling_before") - 1e-9)).height
    unproven = recruitment.filter(~pl.col("optimal")).height
    return dg.AssetCheckResult(passed=lowered == 0 and unproven == 0,
                               metadata={"rows": recruitment.height, "leverage_lowered": lowered,
                                         "unproven": unproven,
                                         "best_recruit": str(recruitment["country"][0]) if recruitment.height else ""})


@dg.asset_check(asset=dg.AssetKey(["analytics", "deter_all"]), blocking=False, description=(
    "Every scenario partition the definitions know has its scenario file in the run's data folder (warning "
    "only: a run on another data folder analyses the scenarios it has)."))
def scenario_files_present(settings: ChokepointSettings, deter_all: pl.DataFrame) -> dg.AssetCheckResult:
    missing = [k for k in SCENARIO_PARTITIONS.get_partition_keys() if not _scenario_file(settings, k).exists()]
    return dg.AssetCheckResult(passed=not missing, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"missing": dg.MetadataValue.json(missing),
                                         "analysed": dg.MetadataValue.json(sorted(set(deter_all["scenario"])))})


assets = [deterrence_analysis, recruitment]
checks = [deter_all_certified, equilibria_agree_with_margins, sensitivity_consistent, recruitment_monotone,
          scenario_files_present]

__all__ = ["assets", "checks", "partition_scenario"]
