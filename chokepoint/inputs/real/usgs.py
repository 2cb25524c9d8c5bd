"""USGS Mineral Commodity Summaries 2022–2024 → mineral production and salient statistics.

Two layouts, recognised by their header (not by the file name: upstream's
``mcs2024-cobal_salient.csv`` has the world layout):

world    ``Source, Country, Type, Prod_t_2020, Prod_t_Est_2021[, Prod_notes, Reserves_t,
         Reserves_notes | Cap_kg_2023, Cap_notes]`` — one row per country, "Other
         countries" and "World total (rounded)".
salient  ``DataSource, Commodity, Year, <statistic columns>`` — US salient statistics.

Raw quirks handled: byte-order mark, trailing empty columns and blank rows (read as
blank, quarantined as such), footnote digits or an "e" glued to country names
("New Caledonia11", "Japane" — see :mod:`chokepoint.inputs.real.countries`), non-breaking
spaces ("United States"), thousands separators ("1,000,000"), ``NA`` (not available),
``W`` (withheld to avoid disclosing company data), "Included in World total." (graphite
reserves). Quantities are staged in tonnes
(kg ÷ 1000). A value column's year comes from its name; reserves carry the edition's
latest production year. ``est`` in a column name marks the values estimated.

Country shares for the merge (:func:`mineral_shares`): per (mineral, year) the latest
edition reporting that year with at least one number is used; share = country tonnes ÷
the sum of all non-world rows with a number ("Other countries" included). When a row
is withheld (``W``) the published world total is the denominator instead, so withheld
production is not silently given to the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.quarantine import empty_quarantine, parse_number, source_columns, split_checks

__all__ = ["UsgsStaged", "stage_usgs", "mineral_shares", "usgs_layout", "MINERALS", "WORLD_REQUIRED",
           "SALIENT_REQUIRED"]

DATASET = "usgs"
#: USGS file-name codes → mineral.
MINERALS = {"raree": "rare_earths", "galli": "gallium", "germa": "germanium", "tungs": "tungsten",
            "graph": "graphite", "cobal": "cobalt"}
WORLD_REQUIRED = ("Source", "Country", "Type")
SALIENT_REQUIRED = ("DataSource", "Commodity", "Year")

_VALUE_COLUMN = re.compile(r"^(Prod|Cap|Reserves)_(t|kg)(?:_(est))?(?:_(\d{4}))?$", re.IGNORECASE)
_MEASURES = {"prod": "production", "cap": "capacity", "reserves": "reserves"}
_FILE_CODE = re.compile(r"(?:mcs(\d{4})-)?(raree|galli|germa|tungs|graph|cobal)_")
_MARKERS = {"NA": "not_available", "W": "withheld", "": "missing",
            "Included in World total.": "included_in_world_total",
            "Included in World total": "included_in_world_total"}

PRODUCTION_SCHEMA = {
    "mineral": pl.String, "measure": pl.String, "production_type": pl.String, "country_as_written": pl.String,
    "iso3": pl.String, "aggregate": pl.String, "country_method": pl.String, "year": pl.Int64,
    "tonnes": pl.Float64, "status": pl.String, "value_as_reported": pl.String, "unit_as_reported": pl.String,
    "column": pl.String, "edition": pl.String, "note": pl.String, "latest_edition": pl.Boolean,
    "dataset": pl.String, "file": pl.String, "line": pl.Int64}
SALIENT_SCHEMA = {
    "mineral": pl.String, "commodity": pl.String, "edition": pl.String, "year": pl.Int64, "statistic": pl.String,
    "value": pl.Float64, "value_as_reported": pl.String, "status": pl.String, "dataset": pl.String,
    "file": pl.String, "line": pl.Int64}


@dataclass(frozen=True)
class UsgsStaged:
    production: pl.DataFrame  # one row per (file line, value column)
    salient: pl.DataFrame     # one row per (file line, statistic)
    quarantine: pl.DataFrame


def usgs_layout(columns) -> str | None:
    """``world``, ``salient`` or None, from a header."""
    columns = set(columns)
    if set(WORLD_REQUIRED) <= columns:
        return "world"
    if set(SALIENT_REQUIRED) <= columns:
        return "salient"
    return None


def _file_facts(file: str) -> tuple[str | None, str | None]:
    """(mineral, edition from the file name) of a USGS file name."""
    match = _FILE_CODE.search(file.rsplit("/", 1)[-1])
    if not match:
        return None, None
    edition = f"MCS{match.group(1)}" if match.group(1) else None
    return MINERALS[match.group(2)], edition


def _status(text_col: str, number_col: str, estimated: bool) -> pl.Expr:
    text = pl.col(text_col).fill_null("").str.strip_chars()
    expr = pl.when(pl.col(number_col).is_not_null()).then(pl.lit("estimated" if estimated else "reported"))
    for marker, status in _MARKERS.items():
        expr = expr.when(text == marker).then(pl.lit(status))
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def stage_usgs(world: pl.DataFrame, salient: pl.DataFrame, countries: CountryResolver) -> UsgsStaged:
    """Stage the concatenated world and salient raw tables (one file after another).

    Notes
    -----
    O(R · C) for R rows and C value columns per file.
    """
    parts, salient_parts, quarantined = [], [], []
    for file, frame in (world.partition_by("_file", as_dict=True, maintain_order=True).items()
                        if world.height else []):
        staged, q = _stage_world_file(file[0], frame, countries)
        parts.append(staged)
        quarantined.append(q)
    for file, frame in (salient.partition_by("_file", as_dict=True, maintain_order=True).items()
                        if salient.height else []):
        staged, q = _stage_salient_file(file[0], frame)
        salient_parts.append(staged)
        quarantined.append(q)
    production = pl.concat(parts) if parts else pl.DataFrame(schema=PRODUCTION_SCHEMA)
    if production.height:
        latest = production.group_by("mineral", "measure", "year", "country_as_written").agg(
            pl.col("edition").max().alias("_latest"))
        production = production.drop("latest_edition").join(
            latest, on=["mineral", "measure", "year", "country_as_written"], how="left"
        ).with_columns((pl.col("edition") == pl.col("_latest")).alias("latest_edition")).drop("_latest")
    production = production.select(list(PRODUCTION_SCHEMA))
    return UsgsStaged(
        production=production.sort("mineral", "edition", "file", "line", "column"),
        salient=(pl.concat(salient_parts) if salient_parts else pl.DataFrame(schema=SALIENT_SCHEMA)),
        quarantine=pl.concat(quarantined) if quarantined else empty_quarantine())


def _drop_all_blank_columns(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    if not columns:
        return columns
    blank = frame.select(pl.col(c).fill_null("").str.strip_chars().eq("").all() for c in columns).row(0)
    return [c for c, is_blank in zip(columns, blank) if not is_blank]


def _present_columns(frame: pl.DataFrame) -> list[str]:
    """Source columns of this file (files are concatenated: other files' columns are all null here)."""
    columns = source_columns(frame)
    if not columns or frame.height == 0:
        return columns
    absent = frame.select(pl.col(c).is_null().all() for c in columns).row(0)
    return [c for c, is_absent in zip(columns, absent) if not is_absent]


def _stage_world_file(file: str, frame: pl.DataFrame, countries: CountryResolver):
    cols = _present_columns(frame)
    mineral, edition_from_name = _file_facts(file)
    value_columns = []
    for c in cols:
        match = _VALUE_COLUMN.match(c)
        if match:
            measure = _MEASURES[match.group(1).lower()]
            value_columns.append((c, measure, match.group(2).lower(), bool(match.group(3)),
                                  int(match.group(4)) if match.group(4) else None))
    production_years = [y for _, m, _, _, y in value_columns if m == "production" and y is not None]
    latest_year = max(production_years) if production_years else None
    notes = {m: f"{n}_notes" for _, m, _, _, _ in value_columns
             for n in ("Prod", "Cap", "Reserves") if _MEASURES[n.lower()] == m}
    frame = frame.with_columns([parse_number(c).alias(f"_v{i}") for i, (c, *_rest) in enumerate(value_columns)])
    checks = [(pl.lit(mineral is None), f"file name does not name a USGS commodity ({', '.join(MINERALS)})"),
              (pl.lit(not value_columns), "no value column (Prod_t_<year>, Prod_kg_<year>, Reserves_t, Cap_kg_<year>)")]
    for i, (c, *_rest) in enumerate(value_columns):
        text = pl.col(c).fill_null("").str.strip_chars()
        checks.append((~text.is_in(list(_MARKERS)) & pl.col(f"_v{i}").is_null(),
                       pl.format("value '{}' in column '{}' is not a number, NA, W or 'Included in World total.'",
                                 text, pl.lit(c))))
        checks.append((pl.col(f"_v{i}") < 0, pl.format("negative value {} in column '{}'", text, pl.lit(c))))
        checks.append((pl.col(f"_v{i}").is_nan() | pl.col(f"_v{i}").is_infinite(),
                       pl.format("value '{}' in column '{}' is not a finite number", text, pl.lit(c))))
    checks.append((pl.col("Country").fill_null("").str.strip_chars() == "", "country is empty"))
    good, quarantine = split_checks(frame, checks, cols)
    if good.height == 0 or not value_columns:
        return pl.DataFrame(schema=PRODUCTION_SCHEMA), quarantine
    resolved = countries.resolve_column(good["Country"], dataset=DATASET, file=file, field="Country")
    good = pl.concat([good, resolved], how="horizontal")
    edition = pl.coalesce(pl.col("Source").str.strip_chars().replace("", None), pl.lit(edition_from_name))
    long_parts = []
    for i, (c, measure, unit, estimated, year) in enumerate(value_columns):
        note_col = notes.get(measure)
        long_parts.append(good.select(
            pl.lit(mineral).alias("mineral"), pl.lit(measure).alias("measure"),
            pl.col("Type").str.strip_chars().alias("production_type"),
            pl.col("Country").alias("country_as_written"), "iso3", "aggregate", "country_method",
            pl.lit(year if year is not None else latest_year, dtype=pl.Int64).alias("year"),
            (pl.col(f"_v{i}") / (1000.0 if unit == "kg" else 1.0)).alias("tonnes"),
            _status(c, f"_v{i}", estimated).alias("status"),
            pl.col(c).alias("value_as_reported"), pl.lit(unit).alias("unit_as_reported"), pl.lit(c).alias("column"),
            edition.alias("edition"),
            (pl.col(note_col).str.strip_chars().replace("", None) if note_col in good.columns
             else pl.lit(None, dtype=pl.String)).alias("note"),
            pl.lit(True).alias("latest_edition"), pl.col("_dataset").alias("dataset"),
            pl.col("_file").alias("file"), pl.col("_line").alias("line")))
    return pl.concat(long_parts), quarantine


def _stage_salient_file(file: str, frame: pl.DataFrame):
    cols = _present_columns(frame)
    mineral, edition_from_name = _file_facts(file)
    statistics = [c for c in cols if c not in SALIENT_REQUIRED and not c.startswith("_unnamed_")]
    statistics = _drop_all_blank_columns(frame, statistics) if frame.height else statistics
    year = pl.col("Year").str.strip_chars().cast(pl.Int64, strict=False)
    checks = [(pl.lit(mineral is None), f"file name does not name a USGS commodity ({', '.join(MINERALS)})"),
              (year.is_null(), pl.format("year '{}' is not an integer", pl.col("Year")))]
    unnamed = [c for c in cols if c.startswith("_unnamed_")]
    for c in unnamed:
        checks.append((pl.col(c).fill_null("").str.strip_chars() != "",
                       pl.format("value '{}' in a column without a name", pl.col(c))))
    good, quarantine = split_checks(frame, checks, cols)
    if good.height == 0:
        return pl.DataFrame(schema=SALIENT_SCHEMA), quarantine
    edition = pl.coalesce(pl.col("DataSource").str.strip_chars().replace("", None), pl.lit(edition_from_name))
    if not statistics:  # a row with only Year: still staged, as a row without statistics
        return good.select(
            pl.lit(mineral).alias("mineral"), pl.col("Commodity").alias("commodity"), edition.alias("edition"),
            year.alias("year"), pl.lit(None, pl.String).alias("statistic"), pl.lit(None, pl.Float64).alias("value"),
            pl.lit(None, pl.String).alias("value_as_reported"), pl.lit("missing").alias("status"),
            pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line")
        ).select(list(SALIENT_SCHEMA)), quarantine
    long = good.select(
        pl.lit(mineral).alias("mineral"), pl.col("Commodity").str.strip_chars().alias("commodity"),
        edition.alias("edition"), year.alias("year"), pl.col("_dataset").alias("dataset"),
        pl.col("_file").alias("file"), pl.col("_line").alias("line"), *statistics,
    ).unpivot(on=statistics, index=["mineral", "commodity", "edition", "year", "dataset", "file", "line"],
              variable_name="statistic", value_name="value_as_reported")
    value = parse_number("value_as_reported")
    text = pl.col("value_as_reported").fill_null("").str.strip_chars()
    status = pl.when(value.is_not_null()).then(pl.lit("reported"))
    for marker, label in _MARKERS.items():
        status = status.when(text == marker).then(pl.lit(label))
    long = long.with_columns(
        pl.when(value.is_finite()).then(value).otherwise(None).alias("value"),
        status.otherwise(pl.lit("qualified")).alias("status"))  # ">95", "E", ">50%": USGS notation
    return long.select(list(SALIENT_SCHEMA)), quarantine


def mineral_shares(production: pl.DataFrame, input_map: pl.DataFrame) -> pl.DataFrame:
    """Country shares of production per (taxonomy input, year) — see the module docstring.

    Returns one row per (input_id, year, iso3) with ``share``, ``tonnes``,
    ``world_tonnes`` (the published world total, else the denominator), ``denominator``
    basis, ``edition``, ``file`` and ``line`` of the country row.
    """
    mapped = input_map.filter(pl.col("input_id").is_not_null()).select("mineral", "measure", "input_id")
    rows = production.join(mapped, on=["mineral", "measure"], how="inner")
    schema = {"input_id": pl.String, "mineral": pl.String, "year": pl.Int64, "iso3": pl.String,
              "share": pl.Float64, "tonnes": pl.Float64, "world_tonnes": pl.Float64, "basis": pl.String,
              "edition": pl.String, "dataset": pl.String, "file": pl.String, "line": pl.Int64}
    if rows.height == 0:
        return pl.DataFrame(schema=schema)
    numeric = pl.col("status").is_in(["reported", "estimated"])
    is_world = pl.col("aggregate") == "WORLD"
    # The latest edition reporting the year with at least one number for a non-world row.
    editions = (rows.filter(numeric & ~is_world.fill_null(False))
                .group_by("input_id", "year").agg(pl.col("edition").max().alias("edition")))
    rows = rows.join(editions, on=["input_id", "year", "edition"], how="inner")
    totals = rows.group_by("input_id", "year").agg(
        pl.col("tonnes").filter(numeric & ~is_world.fill_null(False)).sum().alias("_sum"),
        (pl.col("status") == "withheld").filter(~is_world.fill_null(False)).any().alias("_withheld"),
        pl.col("tonnes").filter(numeric & is_world.fill_null(False)).first().alias("_world"),
    ).with_columns(
        pl.when(pl.col("_withheld") & pl.col("_world").is_not_null()).then(pl.col("_world"))
        .otherwise(pl.col("_sum")).alias("_denominator"),
        pl.when(pl.col("_withheld") & pl.col("_world").is_not_null())
        .then(pl.lit("share of the published world total (a country figure is withheld)"))
        .otherwise(pl.lit("share of the sum of country figures")).alias("basis"),
        pl.coalesce("_world", "_sum").alias("world_tonnes"),
    )
    shares = (rows.filter(numeric & pl.col("iso3").is_not_null())
              .join(totals, on=["input_id", "year"])
              .filter(pl.col("_denominator") > 0)
              .with_columns((pl.col("tonnes") / pl.col("_denominator")).alias("share")))
    return shares.select(list(schema)).sort("input_id", "year", "iso3")
