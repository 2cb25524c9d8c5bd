"""Group ``staging``: canonical, validated tables."""

import functools
import inspect

import dagster as dg
import polars as pl

from chokepoint.inputs import invariants
from chokepoint.inputs.firm_reference import FIRM_REFERENCE_FILES, parse_firm_reference
from chokepoint.inputs.real.merge import merge_data
from chokepoint.inputs.real.sources import RAW_TABLES
from chokepoint.inputs.real.stage import (MAPPING_FILES, STAGED_TABLES, USGS_MAP_COLUMNS, empty_mappings,
                                          parse_mappings, stage_real)
from chokepoint.inputs.reference import REFERENCE_FILES, stage_reference
from chokepoint.inputs.scenario_tables import actors_table, controls_table, scenario_from_source
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
        mappings = empty_mappings()
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


#: The validated scenario from its source row (used by every asset that reads the scenario).
scenario_of = scenario_from_source


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
    actors, controls = actors_table(scenario), controls_table(scenario)
    yield dg.Output(actors, output_name="actors", metadata=table_metadata(actors))
    yield dg.Output(controls, output_name="controls", metadata=table_metadata(controls))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "capacities"]), description=(
    "Shares of each input sum to at most 100 % (+ tolerance) and every share lies in [0, 1]."))
def capacities_shares_within_bounds(capacities: pl.DataFrame) -> dg.AssetCheckResult:
    found = invariants.share_bounds(capacities)
    return dg.AssetCheckResult(passed=found.pop("passed"), metadata=found)


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "capacities"]), description=(
    "Every capacity row names a staged country and input type, and capacities are positive."),
    additional_ins={"countries": dg.AssetIn(key=["staging", "countries"]),
                    "input_types": dg.AssetIn(key=["staging", "input_types"])})
def capacities_reference_integrity(capacities: pl.DataFrame, countries: pl.DataFrame,
                                   input_types: pl.DataFrame) -> dg.AssetCheckResult:
    found = invariants.capacity_references(capacities, countries, input_types)
    return dg.AssetCheckResult(passed=sum(found.values()) == 0, metadata=found)


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
    found = invariants.rows_add_up(row_accounting, [tables[t] for t in RAW_TABLES],
                                   [tables[t] for t in _STAGED_WITH_LINES], quarantine)
    recomputed, bad = found.recomputed, found.not_adding_up
    return dg.AssetCheckResult(passed=bad.height == 0 and not found.stored_differs, metadata={
        "files": recomputed.height, "files_not_adding_up": bad.height,
        "rows_read": int(recomputed["rows_read"].sum() or 0), "staged": int(recomputed["staged"].sum() or 0),
        "quarantined": int(recomputed["quarantined"].sum() or 0),
        "stored_accounting_differs": found.stored_differs,
        "not_adding_up": dg.MetadataValue.md(markdown_table(bad))})


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", "row_accounting"]), description=(
    "No real-data file loses more than `max_quarantine_fraction` of its data rows to the quarantine (blank rows "
    "aside); set with CHOKEPOINT_MAX_QUARANTINE."),
    additional_ins={"quarantine": dg.AssetIn(key=["staging", "quarantine"])})
def quarantine_within_limit(row_accounting: pl.DataFrame, quarantine: pl.DataFrame,
                            settings: ChokepointSettings) -> dg.AssetCheckResult:
    limit = settings.max_quarantine_fraction
    found = invariants.quarantine_limit(row_accounting, quarantine, limit)
    return dg.AssetCheckResult(passed=found.over.height == 0, metadata={
        "max_quarantine_fraction": limit, "files_over_limit": found.over.height,
        "quarantined_rows": found.quarantined_rows, "blank_rows": found.blank_rows,
        "worst_files": dg.MetadataValue.md(markdown_table(found.over.select("file", "rows_read", "quarantined",
                                                                            "quarantined_fraction"))),
        "top_reasons": dg.MetadataValue.md(markdown_table(found.reasons))})


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
    gaps = invariants.lineage_gaps(capacities, capacity_lineage, {t: raw[t] for t in RAW_TABLES}, src_shares,
                                   src_compute)
    return dg.AssetCheckResult(passed=sum(gaps.values()) == 0, metadata={
        "capacities": capacities.height, "lineage_rows": capacity_lineage.height, **gaps})


assets = [reference_tables, real_tables, merged_tables, scenario_tables]
checks = [capacities_shares_within_bounds, capacities_reference_integrity, rows_add_up_per_file,
          quarantine_within_limit, capacities_trace_to_source_rows]
