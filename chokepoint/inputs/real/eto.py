"""ETO Advanced Semiconductor Supply Chain Dataset → canonical tables.

Files (``eto_chip_explorer/``): ``inputs.csv`` (tools, materials, processes, design
resources), ``stages.csv`` (design, fabrication, ATP), ``sequence.csv`` (``goes_into``
edges = the recipe/AND structure; ``is_type_of`` = taxonomy), ``providers.csv``
(organisations with their country, and countries), ``provision.csv`` (provider → input
shares in percent, years 2019–2025, blanks present).

Rules
-----
- **Blank shares** are imputed per (input, year, provider level): the remainder
  ``max(0, 100 − sum of reported shares)`` is split equally over the blank rows, which
  are marked ``imputed``.
- **Shares above 100 %** per (input, year, level), beyond the tolerance of 0.5 pt, are
  flagged in the share checks (ETO rounds shares between 0 and 1 % up to 1 %, so sums
  slightly above 100 % occur). The merge rescales such a distribution to 100 %.
- **Country vs organisation rows.** For an input, ETO may list country-level providers
  and organisation-level providers; both describe the same market, so adding them would
  count it twice. The country share of an input-year is taken from its country rows when
  there are any; otherwise organisation shares are summed by the organisation's country.
  "Various countries" / "Various companies" and "EUR" (Europe) stay as unattributed
  aggregates (no ISO3).
- Rows that fail a check (unknown provider or input id, share not a number, negative,
  above 100 %, NaN, year not a year, duplicates of a (provider, input, year)) are
  quarantined with the reason; the first of a duplicate set is kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.firms import FirmResolver
from chokepoint.inputs.real.quarantine import parse_number, source_columns, split_checks
from chokepoint.inputs.reference import SHARE_SUM_TOLERANCE_PCT
from chokepoint.inputs.tables import Column

__all__ = ["EtoStaged", "stage_eto", "ETO_REQUIRED", "INPUT_MAP_COLUMNS", "RELATIONS", "SHARE_RELATIONS",
           "mapped_recipe_edges"]

DATASET = "eto"
#: Required columns of each ETO file.
ETO_REQUIRED = {
    "inputs": ("input_id", "input_name", "type", "year"),
    "stages": ("stage_id", "stage_name"),
    "sequence": ("input_id", "goes_into_id", "is_type_of_id"),
    "providers": ("provider_name", "provider_id", "provider_type", "country"),
    "provision": ("provider_id", "provided_id", "share_provided", "year"),
}
#: Relations of an ETO input to a taxonomy input (``data/reference/eto_input_map.csv``).
RELATIONS = ("same", "part_of", "process_of", "broader", "none")
#: Only inputs that are the same as a taxonomy input contribute country shares.
SHARE_RELATIONS = ("same",)
#: Relations that place an ETO node on the taxonomy when tracing recipe edges.
_WALK_RELATIONS = ("same", "part_of", "process_of", "broader")

INPUT_MAP_COLUMNS = [
    Column("eto_input_id"),
    Column("eto_input_name"),
    Column("input_id", "id", nullable=True),
    Column("relation", choices=RELATIONS),
    Column("note"),
]


@dataclass(frozen=True)
class EtoStaged:
    taxonomy: pl.DataFrame        # every ETO input and stage with its taxonomy input and relation
    sequence: pl.DataFrame        # goes_into / is_type_of edges
    providers: pl.DataFrame       # provider → firm id / ISO3 / aggregate
    provision: pl.DataFrame       # provider → input shares (fraction), imputed flag
    country_shares: pl.DataFrame  # (ETO input, year, ISO3 or aggregate) shares, with the rule used
    share_checks: pl.DataFrame    # per (input, year, level): totals and status
    quarantine: pl.DataFrame


def _year_expr(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Int64, strict=False)


def _duplicate_checks(frame: pl.DataFrame, keys: list[str], value: str | None = None) -> pl.DataFrame:
    """Add ``_first_line`` (line of the first row with the same keys) and ``_first_value``."""
    first = frame.group_by(keys, maintain_order=True).agg(
        pl.col("_line").first().alias("_first_line"),
        *([pl.col(value).first().alias("_first_value")] if value else []))
    return frame.join(first, on=keys, how="left", nulls_equal=True)


def stage_eto(raw: dict[str, pl.DataFrame], countries: CountryResolver, firms: FirmResolver,
              input_map: pl.DataFrame) -> EtoStaged:
    """Stage the ETO files (raw frames keyed by table name) into canonical tables.

    Notes
    -----
    O(R) for R source rows plus O(V + E) per mapped input for the recipe-edge walk
    (V = 129 inputs and stages, E = 139 sequence rows).
    """
    quarantined = []

    # Inputs and stages: ids unique, year an integer or blank.
    inputs_raw = raw["inputs"]
    cols = source_columns(inputs_raw)
    inputs = _duplicate_checks(inputs_raw.with_columns(pl.col("input_id").str.strip_chars()), ["input_id"])
    inputs, q = split_checks(inputs, [
        (pl.col("input_id").is_null() | (pl.col("input_id") == ""), "input_id is empty"),
        (pl.col("_first_line") != pl.col("_line"), pl.format("duplicate input_id of line {}", pl.col("_first_line"))),
        (pl.col("year").str.strip_chars().ne("") & _year_expr("year").is_null(),
         pl.format("year '{}' is not an integer", pl.col("year"))),
    ], cols)
    quarantined.append(q)
    stages_raw = raw["stages"]
    stages = _duplicate_checks(stages_raw.with_columns(pl.col("stage_id").str.strip_chars()), ["stage_id"])
    stages, q = split_checks(stages, [
        (pl.col("stage_id").is_null() | (pl.col("stage_id") == ""), "stage_id is empty"),
        (pl.col("_first_line") != pl.col("_line"), pl.format("duplicate stage_id of line {}", pl.col("_first_line"))),
    ], source_columns(stages_raw))
    quarantined.append(q)
    nodes = pl.concat([
        inputs.select(pl.col("input_id").alias("eto_input_id"), pl.col("input_name").str.strip_chars()
                      .alias("eto_input_name"), pl.col("type").alias("eto_type"),
                      (pl.col("stage_name") if "stage_name" in inputs.columns else pl.lit(None, pl.String))
                      .alias("eto_stage"), _year_expr("year").alias("year"),
                      pl.col("_file").alias("file"), pl.col("_line").alias("line")),
        stages.select(pl.col("stage_id").alias("eto_input_id"), pl.col("stage_name").alias("eto_input_name"),
                      pl.lit("stage").alias("eto_type"), pl.col("stage_name").alias("eto_stage"),
                      pl.lit(None, pl.Int64).alias("year"), pl.col("_file").alias("file"),
                      pl.col("_line").alias("line")),
    ])
    known_ids = set(nodes["eto_input_id"].to_list())

    # Sequence: exactly one of goes_into / is_type_of, known ids, no self-loops, no duplicates.
    seq_raw = raw["sequence"]
    seq = seq_raw.with_columns(
        pl.col("input_id").str.strip_chars().alias("_src"),
        pl.col("goes_into_id").str.strip_chars().replace("", None).alias("_goes"),
        pl.col("is_type_of_id").str.strip_chars().replace("", None).alias("_type"),
    ).with_columns(
        pl.coalesce("_goes", "_type").alias("_dst"),
        pl.when(pl.col("_goes").is_not_null()).then(pl.lit("goes_into")).otherwise(pl.lit("is_type_of"))
        .alias("_relation"))
    seq = _duplicate_checks(seq, ["_src", "_dst", "_relation"])
    seq, q = split_checks(seq, [
        (~pl.col("_src").is_in(known_ids), pl.format("unknown input_id '{}'", pl.col("_src"))),
        (pl.col("_goes").is_null() & pl.col("_type").is_null(), "neither goes_into_id nor is_type_of_id is given"),
        (pl.col("_goes").is_not_null() & pl.col("_type").is_not_null(),
         "both goes_into_id and is_type_of_id are given (one edge per row)"),
        (~pl.col("_dst").is_in(known_ids), pl.format("unknown target id '{}'", pl.col("_dst"))),
        (pl.col("_src") == pl.col("_dst"), "edge from an input to itself"),
        (pl.col("_first_line") != pl.col("_line"), pl.format("duplicate edge of line {}", pl.col("_first_line"))),
    ], source_columns(seq_raw))
    quarantined.append(q)
    sequence = seq.select(pl.col("_src").alias("eto_input_id"), pl.col("_dst").alias("target_eto_id"),
                          pl.col("_relation").alias("relation"), pl.lit(DATASET).alias("dataset"),
                          pl.col("_file").alias("file"), pl.col("_line").alias("line"))

    # Taxonomy: every node with its mapping and its is_type_of parent.
    mapping = input_map.select("eto_input_id", "input_id", "relation", pl.col("note").alias("mapping_note"))
    parents = sequence.filter(pl.col("relation") == "is_type_of").group_by("eto_input_id").agg(
        pl.col("target_eto_id").first().alias("parent_eto_id"))
    taxonomy = (nodes.join(mapping, on="eto_input_id", how="left").join(parents, on="eto_input_id", how="left")
                .with_columns(pl.col("relation").fill_null("unmapped"),
                              pl.lit(DATASET).alias("dataset"))
                .select("eto_input_id", "eto_input_name", "eto_type", "eto_stage", "parent_eto_id", "input_id",
                        "relation", "mapping_note", "year", "dataset", "file", "line"))

    # Providers: a country (ISO3 code or name) or an organisation with its country. One
    # provider id may take several lines, one per alias (Canon: "Canon ANELVA", "Canon
    # Machinery"); lines that disagree on name, type or country are quarantined.
    prov_raw = raw["providers"]
    providers = prov_raw.with_columns(pl.col(c).str.strip_chars().fill_null("").alias(f"_{c}")
                                      for c in ("provider_id", "provider_name", "provider_type", "country"))
    first = providers.group_by("_provider_id", maintain_order=True).agg(
        pl.col("_line").first().alias("_first_line"),
        *[pl.col(f"_{c}").first().alias(f"_first_{c}") for c in ("provider_name", "provider_type", "country")])
    providers = providers.join(first, on="_provider_id", how="left")
    differs = pl.lit(False)
    for c in ("provider_name", "provider_type", "country"):
        differs = differs | (pl.col(f"_{c}") != pl.col(f"_first_{c}"))
    providers, q = split_checks(providers, [
        (pl.col("_provider_id") == "", "provider_id is empty"),
        (~pl.col("_provider_type").is_in(["country", "organization"]),
         pl.format("provider_type '{}' is neither country nor organization", pl.col("_provider_type"))),
        (differs, pl.format("provider_id of line {} with another name, type or country", pl.col("_first_line"))),
    ], source_columns(prov_raw))
    quarantined.append(q)
    provider_rows = []
    for row in providers.iter_rows(named=True):
        name, alias = row["_provider_name"], (row.get("alias") or "").strip() or None
        if row["_provider_type"] == "country":
            found = countries.resolve(name, dataset=DATASET, file=row["_file"], field="provider_name")
            if not found.resolved and alias:
                found = countries.resolve(alias, dataset=DATASET, file=row["_file"], field="alias")
            firm_id, country_text = None, name
        else:
            country_text = row["_country"]
            found = (countries.resolve(country_text, dataset=DATASET, file=row["_file"], field="country")
                     if country_text else None)
            firm_id = firms.resolve(name, dataset=DATASET, file=row["_file"], role="provider",
                                    iso3=found.iso3 if found else None)
            if firm_id and alias:
                firms.add_spelling(firm_id, alias, dataset=DATASET, file=row["_file"])
        provider_rows.append({
            "provider_id": row["_provider_id"], "provider_name": name, "alias": alias,
            "provider_kind": row["_provider_type"], "firm_id": firm_id, "country_as_written": country_text or None,
            "iso3": found.iso3 if found else None, "aggregate": found.aggregate if found else None,
            "country_method": found.method if found else "missing", "dataset": DATASET,
            "file": row["_file"], "line": row["_line"]})
    provider_table = pl.DataFrame(provider_rows, schema={
        "provider_id": pl.String, "provider_name": pl.String, "alias": pl.String, "provider_kind": pl.String,
        "firm_id": pl.String, "country_as_written": pl.String, "iso3": pl.String, "aggregate": pl.String,
        "country_method": pl.String, "dataset": pl.String, "file": pl.String, "line": pl.Int64})
    provider_lookup = provider_table.unique("provider_id", keep="first", maintain_order=True)

    # Provision rows.
    pv_raw = raw["provision"]
    pv = pv_raw.with_columns(
        pl.col("provider_id").str.strip_chars().alias("_provider"),
        pl.col("provided_id").str.strip_chars().alias("_input"),
        _year_expr("year").alias("_year"),
        parse_number("share_provided").alias("_pct"),
        pl.col("share_provided").str.strip_chars().fill_null("").alias("_pct_text"),
    )
    pv = _duplicate_checks(pv, ["_provider", "_input", "_year"], value="_pct")
    same_as_first = ((pl.col("_pct") == pl.col("_first_value"))
                     | (pl.col("_pct").is_null() & pl.col("_first_value").is_null()))
    pv, q = split_checks(pv, [
        (~pl.col("_provider").is_in(provider_lookup["provider_id"].to_list()),
         pl.format("unknown provider_id '{}' (not in providers.csv)", pl.col("_provider"))),
        (~pl.col("_input").is_in(known_ids), pl.format("unknown provided_id '{}' (not in inputs.csv or stages.csv)",
                                                       pl.col("_input"))),
        (pl.col("_year").is_null() | (pl.col("_year") < 1990) | (pl.col("_year") > 2100),
         pl.format("year '{}' is not a year", pl.col("year"))),
        ((pl.col("_pct_text") != "") & pl.col("_pct").is_null(),
         pl.format("share '{}' is not a number", pl.col("_pct_text"))),
        (pl.col("_pct").is_nan(), "share is NaN"),
        (pl.col("_pct").is_infinite(), "share is infinite"),
        (pl.col("_pct") < 0, pl.format("negative share {} %", pl.col("_pct_text"))),
        (pl.col("_pct") > 100, pl.format("share {} % is above 100 %", pl.col("_pct_text"))),
        ((pl.col("_first_line") != pl.col("_line")) & same_as_first,
         pl.format("duplicate of line {} (same provider, input and year)", pl.col("_first_line"))),
        ((pl.col("_first_line") != pl.col("_line")) & ~same_as_first,
         pl.format("conflicting duplicate of line {} (same provider, input and year; share {} % there); "
                   "the first row is kept", pl.col("_first_line"), pl.col("_first_value"))),
    ], source_columns(pv_raw))
    quarantined.append(q)
    pv = pv.join(provider_lookup.select("provider_id", pl.col("provider_name").alias("_provider_name"),
                                        "provider_kind", "firm_id", "iso3", "aggregate"),
                 left_on="_provider", right_on="provider_id", how="left")

    # Imputation per (input, year, level).
    group = ["_input", "_year", "provider_kind"]
    pv = pv.with_columns(
        pl.col("_pct").sum().over(group).alias("_known"),
        pl.col("_pct").is_null().sum().over(group).alias("_blanks"),
    ).with_columns(
        pl.when(pl.col("_pct").is_null())
        .then(((100.0 - pl.col("_known")).clip(lower_bound=0.0)) / pl.col("_blanks"))
        .otherwise(pl.col("_pct")).alias("_pct_final"),
        pl.col("_pct").is_null().alias("imputed"),
    )
    provision = pv.select(
        pl.col("_provider").alias("provider_id"), pl.col("_provider_name").alias("provider_name"), "provider_kind",
        "firm_id", "iso3", "aggregate", pl.col("_input").alias("eto_input_id"), pl.col("_year").alias("year"),
        (pl.col("_pct_final") / 100.0).alias("share"), pl.col("_pct").alias("share_pct_reported"), "imputed",
        pl.col("source").alias("source") if "source" in pv.columns else pl.lit(None, pl.String).alias("source"),
        pl.lit(DATASET).alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"),
    ).sort("eto_input_id", "year", "provider_kind", "provider_id")

    share_checks = provision.group_by("eto_input_id", "year", "provider_kind").agg(
        pl.len().alias("rows"), pl.col("imputed").sum().alias("imputed_rows"),
        pl.col("share_pct_reported").sum().alias("reported_pct"), (100 * pl.col("share").sum()).alias("total_pct"),
    ).with_columns(
        pl.when(pl.col("reported_pct") > 100 + SHARE_SUM_TOLERANCE_PCT).then(pl.lit("over_100"))
        .when(pl.col("imputed_rows") > 0).then(pl.lit("imputed"))
        .otherwise(pl.lit("ok")).alias("status"),
        pl.lit(SHARE_SUM_TOLERANCE_PCT).alias("tolerance_pct"), pl.lit(DATASET).alias("dataset"),
    ).sort("eto_input_id", "year", "provider_kind")

    country_shares = _country_shares(provision)
    quarantine = pl.concat(quarantined)
    return EtoStaged(taxonomy=taxonomy, sequence=sequence, providers=provider_table, provision=provision,
                     country_shares=country_shares, share_checks=share_checks, quarantine=quarantine)


def _country_shares(provision: pl.DataFrame) -> pl.DataFrame:
    """Country shares per (input, year): country rows if any, else organisations summed by country."""
    has_country = provision.group_by("eto_input_id", "year").agg(
        (pl.col("provider_kind") == "country").any().alias("_has_country"))
    rows = provision.join(has_country, on=["eto_input_id", "year"]).filter(
        pl.when(pl.col("_has_country")).then(pl.col("provider_kind") == "country")
        .otherwise(pl.col("provider_kind") == "organization"))
    return (rows.group_by("eto_input_id", "year", "iso3", "aggregate", maintain_order=True).agg(
        pl.col("share").sum().alias("share"), pl.col("imputed").any().alias("imputed"),
        pl.col("imputed").all().alias("all_imputed"),
        pl.col("provider_kind").first().alias("provider_kind"), pl.col("file").first().alias("file"),
        pl.col("line").sort().alias("lines"), pl.col("provider_id").sort().alias("provider_ids"))
        .with_columns(pl.when(pl.col("provider_kind") == "country").then(pl.lit("country rows"))
                      .otherwise(pl.lit("organisation rows summed by country")).alias("basis"),
                      pl.lit(DATASET).alias("dataset"))
        .drop("provider_kind")
        .sort("eto_input_id", "year", "iso3", nulls_last=True))


def mapped_recipe_edges(taxonomy: pl.DataFrame, sequence: pl.DataFrame) -> pl.DataFrame:
    """ETO's sequence traced onto the taxonomy: (input_id → product_id) edges with the ETO path.

    From every ETO node mapped to a taxonomy input k, walk along ``goes_into`` edges and
    up ``is_type_of`` edges (a subclass goes where its class goes), through unmapped
    nodes and nodes mapped to k itself, and stop at the first node mapped to another
    taxonomy input p: that is the edge k → p (p needs k).

    Notes
    -----
    Breadth-first per mapped node: O(M (V + E)) for M mapped nodes.
    """
    mapped = {r["eto_input_id"]: r["input_id"] for r in taxonomy.iter_rows(named=True)
              if r["relation"] in _WALK_RELATIONS and r["input_id"]}
    successors: dict[str, list[str]] = {}
    for row in sequence.iter_rows(named=True):
        successors.setdefault(row["eto_input_id"], []).append(row["target_eto_id"])
    best: dict[tuple[str, str], list[str]] = {}
    for start, k in mapped.items():
        queue = deque([[start]])
        seen = {start}
        while queue:
            path = queue.popleft()
            for nxt in successors.get(path[-1], []):
                if nxt in seen:
                    continue
                seen.add(nxt)
                target = mapped.get(nxt)
                if target is not None and target != k:
                    key = (k, target)
                    if key not in best or len(path) + 1 < len(best[key]):
                        best[key] = path + [nxt]
                    continue
                queue.append(path + [nxt])
    rows = [{"input_id": k, "product_id": p, "eto_path": " > ".join(path), "hops": len(path) - 1}
            for (k, p), path in sorted(best.items())]
    return pl.DataFrame(rows, schema={"input_id": pl.String, "product_id": pl.String, "eto_path": pl.String,
                                      "hops": pl.Int64})
