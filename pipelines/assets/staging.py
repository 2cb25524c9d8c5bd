"""Group ``staging``: canonical, validated tables."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from chokepoint.reference import REFERENCE_FILES, SHARE_SUM_TOLERANCE_PCT, stage_reference
from chokepoint.scenario import Scenario, parse_scenario
from pipelines.metadata import table_metadata

GROUP = "staging"
OWNERS = ["team:chokepoint"]
KINDS = {"polars", "duckdb"}

_DESCRIPTIONS = {
    "countries": "Countries (ISO 3166-1 alpha-3, name, geopolitical bloc, source). Grain: one row per country.",
    "input_types": ("Input types of the AI supply chain, raw materials to compute, with stage, unit and annual "
                    "world capacity. Grain: one row per input type."),
    "recipes": ("The AND structure: `product` needs `coefficient` units of `input` per unit. Acyclic. "
                "Grain: one row per (product, input)."),
    "capacities": ("The OR structure: each country's share (fraction 0–1) of world capacity of each input and "
                   "its capacity (share × world capacity, in the input's unit), with source and origin file:line. "
                   "Grain: one row per (input, country)."),
}


@dg.multi_asset(
    outs={name: dg.AssetOut(key_prefix="staging", description=text, kinds=KINDS, owners=OWNERS, group_name=GROUP)
          for name, text in _DESCRIPTIONS.items()},
    ins={f"src_{name}": dg.AssetIn(key=["staging", f"src_reference_{name}"]) for name in REFERENCE_FILES},
)
def reference_tables(**raw: pl.DataFrame):
    """Validate the reference files (ISO3 codes known, shares in [0, 1] and ≤ 100 % per input,
    recipes acyclic) into canonical tables; any problem stops the run with file, line and field."""
    data = stage_reference({name: raw[f"src_{name}"] for name in REFERENCE_FILES})
    for name in _DESCRIPTIONS:
        frame = getattr(data, name)
        yield dg.Output(frame, output_name=name, metadata=table_metadata(frame))


def scenario_of(src_scenario: pl.DataFrame) -> Scenario:
    """The validated scenario from its source row."""
    row = src_scenario.row(0, named=True)
    return parse_scenario(row["text"], Path(row["path"]))


@dg.multi_asset(
    outs={
        "actors": dg.AssetOut(key_prefix="staging", kinds=KINDS, owners=OWNERS, group_name=GROUP, description=(
            "Scenario actors: members, signatory / candidate-defector flags and payoff parameters (detection "
            "probability p, value of capability V, first-mover gain G, benefit of compliance B). "
            "Grain: one row per (scenario, actor).")),
        "controls": dg.AssetOut(key_prefix="staging", kinds=KINDS, owners=OWNERS, group_name=GROUP, description=(
            "The scenario's control catalogue: export controls, compute exclusions and secondary controls with "
            "their cost. Grain: one row per (scenario, control).")),
    },
    ins={"src_scenario": dg.AssetIn(key=["staging", "src_scenario"]),
         "countries": dg.AssetIn(key=["staging", "countries"]),
         "input_types": dg.AssetIn(key=["staging", "input_types"])},
)
def scenario_tables(src_scenario: pl.DataFrame, countries: pl.DataFrame, input_types: pl.DataFrame):
    """Parse and validate the scenario against the staged countries and input types."""
    scenario = scenario_of(src_scenario)
    scenario.validate_against(countries["iso3"], input_types["input_id"])
    actors = pl.DataFrame([{
        "scenario": scenario.name, "actor": a.id, "name": a.name, "members": list(a.members),
        "signatory": a.signatory, "candidate_defector": a.candidate_defector,
        "detection_probability": a.detection_probability, "value_of_capability": a.value_of_capability,
        "first_mover_gain": a.first_mover_gain, "benefit_of_compliance": a.benefit_of_compliance,
    } for a in scenario.actors])
    controls = pl.DataFrame([{
        "scenario": scenario.name, "control_id": c.id, "kind": c.kind, "jurisdiction": c.jurisdiction,
        "input_id": c.input, "transit": c.transit, "destination": c.destination, "cost": c.cost,
    } for c in scenario.controls], schema={"scenario": pl.String, "control_id": pl.String, "kind": pl.String,
                                           "jurisdiction": pl.String, "input_id": pl.String, "transit": pl.String,
                                           "destination": pl.String, "cost": pl.Float64})
    yield dg.Output(actors, output_name="actors", metadata=table_metadata(actors))
    yield dg.Output(controls, output_name="controls", metadata=table_metadata(controls))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "capacities"]), description=(
    "Shares of each input sum to at most 100 % (+ tolerance) and every share lies in [0, 1]."))
def capacities_shares_within_bounds(capacities: pl.DataFrame) -> dg.AssetCheckResult:
    totals = capacities.group_by("input_id").agg(pl.col("share").sum().alias("total"))
    worst = totals.sort("total", descending=True).row(0, named=True)
    out_of_range = capacities.filter((pl.col("share") < 0) | (pl.col("share") > 1)).height
    passed = worst["total"] <= 1 + SHARE_SUM_TOLERANCE_PCT / 100 and out_of_range == 0
    return dg.AssetCheckResult(passed=bool(passed), metadata={
        "largest_total_share_pct": float(100 * worst["total"]), "largest_total_input": worst["input_id"],
        "shares_outside_0_1": out_of_range})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "capacities"]), description=(
    "Every capacity row names a staged country and input type, and capacities are positive."),
    additional_ins={"countries": dg.AssetIn(key=["staging", "countries"]),
                    "input_types": dg.AssetIn(key=["staging", "input_types"])})
def capacities_reference_integrity(capacities: pl.DataFrame, countries: pl.DataFrame,
                                   input_types: pl.DataFrame) -> dg.AssetCheckResult:
    unknown_country = capacities.filter(~pl.col("iso3").is_in(countries["iso3"].to_list())).height
    unknown_input = capacities.filter(~pl.col("input_id").is_in(input_types["input_id"].to_list())).height
    non_positive = capacities.filter(pl.col("capacity") <= 0).height
    return dg.AssetCheckResult(passed=unknown_country + unknown_input + non_positive == 0, metadata={
        "unknown_countries": unknown_country, "unknown_inputs": unknown_input, "non_positive_capacities": non_positive})


assets = [reference_tables, scenario_tables]
checks = [capacities_shares_within_bounds, capacities_reference_integrity]
