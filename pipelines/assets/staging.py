"""Group ``staging``: canonical, validated tables."""

import functools
import inspect
from pathlib import Path

import dagster as dg
import polars as pl

from chokepoint.inputs.firm_reference import FIRM_REFERENCE_FILES, parse_firm_reference
from chokepoint.inputs.real.merge import merge_data
from chokepoint.inputs.real.quarantine import row_accounting
from chokepoint.inputs.real.sources import RAW_TABLES
from chokepoint.inputs.real.stage import MAPPING_FILES, Mappings, STAGED_TABLES, USGS_MAP_COLUMNS, parse_mappings, stage_real
from chokepoint.inputs.reference import REFERENCE_FILES, SHARE_SUM_TOLERANCE_PCT, stage_reference
from chokepoint.inputs.scenario import Scenario, parse_scenario
from chokepoint.inputs.tables import typed
from pipelines.metadata import markdown_table, table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "staging"
OWNERS = ["team:chokepoint"]
KINDS = {"polars", "duckdb"}

_REFERENCE_DESCRIPTIONS = {
    "countries": "Reference countries (ISO 3166-1 alpha-3, name, geopolitical bloc, source), validated. "
                 "Grain: one row per country.",
    "input_types": "Reference input types with stage, unit and annual world capacity, validated. "
                   "Grain: one row per input type.",
    "recipes": "Reference recipes (product needs `coefficient` units of input per unit), validated, acyclic. "
               "Grain: one row per (product, input).",
    "capacities": "Reference country shares (fraction 0–1) and capacities per input, validated, with source and "
                  "origin file:line. Grain: one row per (input, country).",
}

_MERGED_DESCRIPTIONS = {
    "countries": ("Countries (ISO 3166-1 alpha-3, name, geopolitical bloc, source): the reference list plus any "
                  "country the real data adds (`origin` says which; bloc by rule). Grain: one row per country."),
    "input_types": ("Input types of the AI supply chain, raw materials to compute, with stage, unit and annual "
                    "world capacity (`world_capacity_origin`: reference or USGS world total), the year of the "
                    "figures used (`data_year`), the real datasets that supplied them and the ETO inputs mapped as "
                    "the same (`eto_input_ids`). Grain: one row per input type."),
    "recipes": ("The AND structure: `product` needs `coefficient` units of `input` per unit (reference "
                "coefficients); `eto_evidence` is the ETO sequence path supporting the edge. Acyclic. "
                "Grain: one row per (product, input)."),
    "capacities": ("The OR structure after merging real data over the reference: each country's share (fraction "
                   "0–1) of world capacity of each input and its capacity (share × world capacity), with the "
                   "winning `dataset`, `file`, `line` (or `rows` for aggregates; see capacity_lineage), `origin`, "
                   "`year`, `imputed`, `rescaled`, `winner` (real/reference) and the reference figure it "
                   "`overrode`. Grain: one row per (input, country)."),
    "capacity_lineage": ("Every source row behind each capacity figure: (input, country) → dataset, file, line "
                         "and the share that row contributes (contributions sum to the capacity's share). "
                         "Grain: one row per (input, country, source row)."),
    "merge_decisions": ("Every candidate figure (reference and real) for an (input, country, year): won or lost "
                        "and why (latest or pinned year, real over reference, observed over imputed, gap fill, "
                        "rescaling). Grain: one row per candidate."),
}

RAW_INS = {table: dg.AssetIn(key=["staging", table]) for table in RAW_TABLES}
MAPPING_INS = {f"src_{name}": dg.AssetIn(key=["staging", f"src_reference_{name}"]) for name in MAPPING_FILES}
FIRM_REFERENCE_INS = {f"src_{name}": dg.AssetIn(key=["staging", f"src_reference_{name}"])
                      for name in FIRM_REFERENCE_FILES if name != "short_run"}


@dg.multi_asset(
    outs={f"reference_{name}": dg.AssetOut(key_prefix="staging", description=text, kinds=KINDS, owners=OWNERS,
                                           group_name=GROUP)
          for name, text in _REFERENCE_DESCRIPTIONS.items()},
    ins={f"src_{name}": dg.AssetIn(key=["staging", f"src_reference_{name}"]) for name in REFERENCE_FILES},
)
def reference_tables(**raw: pl.DataFrame):
    """Validate the reference files (ISO3 codes known, shares in [0, 1] and ≤ 100 % per input,
    recipes acyclic) into canonical tables; any problem stops the run with file, line and field."""
    data = stage_reference({name: raw[f"src_{name}"] for name in REFERENCE_FILES})
    for name in _REFERENCE_DESCRIPTIONS:
        frame = getattr(data, name)
        yield dg.Output(frame, output_name=f"reference_{name}", metadata=table_metadata(frame))


@dg.multi_asset(
    outs={name: dg.AssetOut(key_prefix="staging", description=text, kinds=KINDS, owners=OWNERS, group_name=GROUP)
          for name, text in STAGED_TABLES.items()},
    ins={**RAW_INS, **MAPPING_INS,
         "reference_input_types": dg.AssetIn(key=["staging", "reference_input_types"]),
         "reference_recipes": dg.AssetIn(key=["staging", "reference_recipes"]),
         "reference_countries": dg.AssetIn(key=["staging", "reference_countries"]),
         **FIRM_REFERENCE_INS,
         "data_mode": dg.AssetIn(key=["staging", "data_mode"])},
)
def real_tables(reference_input_types: pl.DataFrame, reference_recipes: pl.DataFrame,
                reference_countries: pl.DataFrame, data_mode: pl.DataFrame, **inputs: pl.DataFrame):
    """Stage the real sources: validate rows (bad ones to the quarantine with a reason), resolve every country
    spelling to ISO3 and every firm spelling to one firm id, impute blank ETO shares, flag share totals above
    100 %, match government-list entries to firms, and account for every source row. Empty tables on reference
    data, except ``firms``: the firms the reference files name, with their roles."""
    raw = {table: inputs[table] for table in RAW_TABLES}
    if data_mode["mode"][0] == "real":
        mappings = parse_mappings({name: inputs[f"src_{name}"] for name in MAPPING_FILES},
                                  reference_input_types["input_id"])
    else:
        mappings = _empty_mappings()
    firm_reference = parse_firm_reference({name: inputs[f"src_{name}"] for name in FIRM_REFERENCE_FILES if
                                           name != "short_run"}, reference_input_types, reference_countries)
    tables = stage_real(raw, mappings, reference_recipes, firm_reference=firm_reference,
                        input_types=reference_input_types)
    for name in STAGED_TABLES:
        frame = tables[name]
        extra = {}
        if name == "row_accounting":
            extra = {"files": frame.height, "rows_read": int(frame["rows_read"].sum() or 0),
                     "staged": int(frame["staged"].sum() or 0), "quarantined": int(frame["quarantined"].sum() or 0),
                     "blank": int(frame["blank"].sum() or 0)}
        elif name == "unresolved_names":
            extra = {"unresolved": frame.height}
        yield dg.Output(frame, output_name=name, metadata=table_metadata(frame, **extra))


def _empty_mappings():
    return Mappings(**{name: pl.DataFrame(schema={c.name: pl.String for c in columns} | {"_line": pl.Int64})
                       for name, columns in MAPPING_FILES.items()})


MERGE_REAL_INPUTS = ("input_taxonomy", "eto_country_shares", "provision", "mineral_production", "compute_clusters",
                     "recipe_evidence")


@dg.multi_asset(
    outs={name: dg.AssetOut(key_prefix="staging", description=text, kinds=KINDS, owners=OWNERS, group_name=GROUP)
          for name, text in _MERGED_DESCRIPTIONS.items()},
    ins={**{f"reference_{name}": dg.AssetIn(key=["staging", f"reference_{name}"]) for name in _REFERENCE_DESCRIPTIONS},
         **{name: dg.AssetIn(key=["staging", name]) for name in MERGE_REAL_INPUTS},
         "src_usgs_input_map": dg.AssetIn(key=["staging", "src_reference_usgs_input_map"]),
         "src_scenario": dg.AssetIn(key=["staging", "src_scenario"]),
         "data_mode": dg.AssetIn(key=["staging", "data_mode"])},
)
def merged_tables(src_usgs_input_map: pl.DataFrame, src_scenario: pl.DataFrame, data_mode: pl.DataFrame,
                  **inputs: pl.DataFrame):
    """Merge real data over the reference figures: per input the latest year (or the scenario's pinned year),
    real over reference for the same (input, country, year), reference fills countries real data lacks; record
    every decision and the source rows behind every figure."""
    reference = {name: inputs[f"reference_{name}"] for name in _REFERENCE_DESCRIPTIONS}
    real = {name: inputs[name] for name in MERGE_REAL_INPUTS} if data_mode["mode"][0] == "real" else None
    usgs_map = (typed(src_usgs_input_map, USGS_MAP_COLUMNS) if real is not None
                else pl.DataFrame(schema={"mineral": pl.String, "measure": pl.String, "input_id": pl.String}))
    pinned = scenario_of(src_scenario).settings.year
    merged = merge_data(reference, real, usgs_map, pinned_year=pinned)
    for name in _MERGED_DESCRIPTIONS:
        frame = getattr(merged, name)
        extra = {}
        if name == "capacities":
            extra = {"from_real_data": int((frame["winner"] == "real").sum()), "pinned_year": pinned or 0,
                     "mode": data_mode["mode"][0]}
        yield dg.Output(frame, output_name=name, metadata=table_metadata(frame, **extra))


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


def _explicit_inputs(*names: str, resources: tuple[tuple[str, type], ...] = ()):
    """Give a check written with ``**tables`` an explicit parameter per input (Dagster asset checks
    match ``additional_ins`` to named parameters)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(**kwargs):
            return fn(**kwargs)
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=pl.DataFrame) for n in names]
        params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=t) for n, t in resources]
        wrapper.__signature__ = inspect.Signature(params, return_annotation=dg.AssetCheckResult)
        wrapper.__annotations__ = {**{n: pl.DataFrame for n in names}, **dict(resources),
                                   "return": dg.AssetCheckResult}
        del wrapper.__wrapped__
        return wrapper
    return decorate


_STAGED_WITH_LINES = ("input_taxonomy", "eto_sequence", "eto_providers", "provision", "mineral_production",
                      "mineral_salient", "compute_clusters", "accelerators", "chip_counts", "firm_edges",
                      "supply_map_nodes", "fab_campuses", "list_entries", "list_skipped")


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "row_accounting"]), description=(
    "Nothing lost: recomputed from the warehouse tables, every record read from every real-data file is in a "
    "staging table or in the quarantine (not both), per file."),
    additional_ins={**RAW_INS, "quarantine": dg.AssetIn(key=["staging", "quarantine"]),
                    **{name: dg.AssetIn(key=["staging", name]) for name in _STAGED_WITH_LINES}})
@_explicit_inputs("row_accounting", "quarantine", *RAW_TABLES, *_STAGED_WITH_LINES)
def rows_add_up_per_file(row_accounting: pl.DataFrame, quarantine: pl.DataFrame,
                         **tables: pl.DataFrame) -> dg.AssetCheckResult:
    raw = pl.concat([tables[t].select("_dataset", "_file", "_line") for t in RAW_TABLES])
    recomputed = row_accounting_of(raw, [tables[t] for t in _STAGED_WITH_LINES], quarantine)
    bad = recomputed.filter(~pl.col("adds_up"))
    stored_differs = not recomputed.select("file", "rows_read", "staged", "quarantined").sort("file").equals(
        row_accounting.select("file", "rows_read", "staged", "quarantined").sort("file"))
    return dg.AssetCheckResult(passed=bad.height == 0 and not stored_differs, metadata={
        "files": recomputed.height, "files_not_adding_up": bad.height,
        "rows_read": int(recomputed["rows_read"].sum() or 0), "staged": int(recomputed["staged"].sum() or 0),
        "quarantined": int(recomputed["quarantined"].sum() or 0),
        "stored_accounting_differs": stored_differs,
        "not_adding_up": dg.MetadataValue.md(markdown_table(bad))})


def row_accounting_of(raw: pl.DataFrame, staged: list[pl.DataFrame], quarantine: pl.DataFrame) -> pl.DataFrame:
    return row_accounting(raw, [t.select("file", "line") for t in staged], quarantine)


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "row_accounting"]), description=(
    "No real-data file loses more than `max_quarantine_fraction` of its data rows to the quarantine (blank rows "
    "aside); set with CHOKEPOINT_MAX_QUARANTINE."),
    additional_ins={"quarantine": dg.AssetIn(key=["staging", "quarantine"])})
def quarantine_within_limit(row_accounting: pl.DataFrame, quarantine: pl.DataFrame,
                            settings: ChokepointSettings) -> dg.AssetCheckResult:
    limit = settings.max_quarantine_fraction
    over = row_accounting.filter(pl.col("quarantined_fraction") > limit).sort("quarantined_fraction",
                                                                             descending=True)
    reasons = (quarantine.filter(~pl.col("blank")).group_by("file", "reason").len().sort("len", descending=True)
               if quarantine.height else quarantine)
    return dg.AssetCheckResult(passed=over.height == 0, metadata={
        "max_quarantine_fraction": limit, "files_over_limit": over.height,
        "quarantined_rows": quarantine.filter(~pl.col("blank")).height if quarantine.height else 0,
        "blank_rows": quarantine.filter(pl.col("blank")).height if quarantine.height else 0,
        "worst_files": dg.MetadataValue.md(markdown_table(over.select("file", "rows_read", "quarantined",
                                                                      "quarantined_fraction"))),
        "top_reasons": dg.MetadataValue.md(markdown_table(reasons))})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "capacities"]), description=(
    "Every capacity figure traces to source rows: its lineage contributions sum to its share, and every lineage "
    "row (file, line) exists in the raw source tables."),
    additional_ins={"capacity_lineage": dg.AssetIn(key=["staging", "capacity_lineage"]), **RAW_INS,
                    "src_shares": dg.AssetIn(key=["staging", "src_reference_shares"]),
                    "src_compute": dg.AssetIn(key=["staging", "src_reference_compute_capacity"])})
@_explicit_inputs("capacities", "capacity_lineage", "src_shares", "src_compute", *RAW_TABLES)
def capacities_trace_to_source_rows(capacities: pl.DataFrame, capacity_lineage: pl.DataFrame,
                                    src_shares: pl.DataFrame, src_compute: pl.DataFrame,
                                    **raw: pl.DataFrame) -> dg.AssetCheckResult:
    sums = capacity_lineage.group_by("input_id", "iso3").agg(pl.col("contribution").sum())
    joined = capacities.select("input_id", "iso3", "share").join(sums, on=["input_id", "iso3"], how="left")
    mismatched = joined.filter(pl.col("contribution").is_null()
                               | ((pl.col("contribution") - pl.col("share")).abs() > 1e-9)).height
    known = pl.concat([
        *[raw[t].select(pl.col("_file").alias("file"), pl.col("_line").alias("line")) for t in RAW_TABLES],
        src_shares.select(pl.lit("reference/shares.csv").alias("file"), pl.col("_line").alias("line")),
        src_compute.select(pl.lit("reference/compute_capacity.csv").alias("file"), pl.col("_line").alias("line")),
    ]).unique()
    dangling = capacity_lineage.join(known, on=["file", "line"], how="anti").height
    return dg.AssetCheckResult(passed=mismatched == 0 and dangling == 0, metadata={
        "capacities": capacities.height, "lineage_rows": capacity_lineage.height,
        "capacities_whose_lineage_does_not_sum_to_their_share": mismatched,
        "lineage_rows_not_found_in_sources": dangling})


assets = [reference_tables, real_tables, merged_tables, scenario_tables]
checks = [capacities_shares_within_bounds, capacities_reference_integrity, rows_add_up_per_file,
          quarantine_within_limit, capacities_trace_to_source_rows]
