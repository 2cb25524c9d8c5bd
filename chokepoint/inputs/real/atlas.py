"""AI Chip Fab Atlas (``ai_chip_fab_atlas/atlas-campuses.csv``) → fab campuses with operator firm ids.

The atlas (v1.0.0, Berkeley AI Risk, CC BY 4.0; 16 coordinates are OpenStreetMap points,
ODbL) lists 31 fab campuses that make or could make AI-accelerator compute dies: campus
id and name, operator as written ("TSMC", "TSMC / JASM", "SMIC / SMBC", …), ISO3 country,
WGS84 coordinates, lifecycle status and the date the status was last checked. It has no
capacities. The file has CRLF line endings (the raw reader handles them).

Rules
-----
- **Operator.** Resolved with the firm resolver in role ``foundry`` (the atlas lists
  logic fabs), so the decision lands in ``staging.entity_names``. Joint spellings are
  decided in ``data/reference/firm_aliases.csv`` (e.g. "TSMC / JASM" → ``tsmc``: JASM is
  TSMC's majority-owned Kumamoto subsidiary); ``operator_note`` carries that row's note.
- **Status.** ``operating`` is true exactly when the atlas display group is
  ``operating`` (statuses operating, operating_ramp, operating_with_expansion, …);
  pilot lines, campuses under construction and campuses of uncertain status are not
  current capacity (``operating_note`` says why).
- Rows without a campus id, with a repeated campus id, a country that is not an ISO3
  code, coordinates that are not numbers in range, or an unreadable as-of date are
  quarantined with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.firms import FirmResolver, firm_key
from chokepoint.inputs.real.quarantine import empty_quarantine, parse_number, source_columns, split_checks

__all__ = ["ATLAS_REQUIRED", "AtlasStaged", "CAMPUS_SCHEMA", "OPERATING_GROUP", "stage_atlas"]

DATASET = "ai_chip_fab_atlas"
ATLAS_REQUIRED = ("campus_id", "campus_name", "operator", "country_code", "longitude_wgs84", "latitude_wgs84",
                  "lifecycle_status", "lifecycle_display_group", "lifecycle_as_of_date")
#: The atlas display group of campuses that produce today.
OPERATING_GROUP = "operating"

CAMPUS_SCHEMA = {
    "facility_id": pl.String, "name": pl.String, "operator_as_written": pl.String, "operator_firm_id": pl.String,
    "operator_method": pl.String, "operator_note": pl.String, "iso3": pl.String, "status": pl.String,
    "status_group": pl.String, "operating": pl.Boolean, "operating_note": pl.String, "as_of": pl.Date,
    "longitude": pl.Float64, "latitude": pl.Float64, "coordinate_precision": pl.String, "dataset": pl.String,
    "file": pl.String, "line": pl.Int64}


@dataclass(frozen=True)
class AtlasStaged:
    campuses: pl.DataFrame
    quarantine: pl.DataFrame


def stage_atlas(raw: pl.DataFrame, countries: CountryResolver, firms: FirmResolver,
                firm_aliases: pl.DataFrame | None = None) -> AtlasStaged:
    """Stage the atlas campuses (raw frame from :func:`~chokepoint.inputs.real.rawcsv.read_raw_csv`).

    Parameters
    ----------
    raw : polars.DataFrame
        ``staging.src_atlas_campuses`` (empty on reference data).
    countries : CountryResolver
        Resolves ``country_code`` (an ISO3 code in the atlas).
    firms : FirmResolver
        Resolves ``operator`` in role ``foundry``; its log records every decision.
    firm_aliases : polars.DataFrame, optional
        The alias table (``name``, ``role``, ``note``): the note of the alias that decided
        an operator spelling, if any.

    Returns
    -------
    AtlasStaged
        ``campuses`` (one row per campus, :data:`CAMPUS_SCHEMA`) and the quarantine.

    Notes
    -----
    Linear in the number of campuses.
    """
    if raw.height == 0:
        return AtlasStaged(pl.DataFrame(schema=CAMPUS_SCHEMA), empty_quarantine())
    cols = source_columns(raw)
    frame = raw.with_columns(pl.col("campus_id").str.strip_chars().alias("_id"),
                             pl.col("country_code").str.strip_chars().alias("_country"),
                             parse_number("longitude_wgs84").alias("_lon"), parse_number("latitude_wgs84").alias("_lat"),
                             pl.col("lifecycle_as_of_date").str.strip_chars()
                             .str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("_as_of"))
    first = frame.group_by("_id", maintain_order=True).agg(pl.col("_line").first().alias("_first_line"))
    frame = frame.join(first, on="_id", how="left", nulls_equal=True)
    iso3 = {code: countries.resolve(code).iso3 for code in frame["_country"].drop_nulls().unique().to_list()}
    frame = frame.with_columns(pl.col("_country").replace_strict(iso3, default=None, return_dtype=pl.String)
                               .alias("_iso3"))
    good, quarantine = split_checks(frame, [
        (pl.col("_id").fill_null("") == "", "campus_id is empty"),
        (pl.col("_first_line") != pl.col("_line"), pl.format("duplicate campus_id of line {}", pl.col("_first_line"))),
        (pl.col("operator").fill_null("").str.strip_chars() == "", "operator is empty"),
        (pl.col("_iso3").is_null(), pl.format("country_code '{}' is not a country", pl.col("country_code"))),
        (pl.col("_lon").is_null() | (pl.col("_lon").abs() > 180),
         pl.format("longitude_wgs84 '{}' is not a longitude", pl.col("longitude_wgs84"))),
        (pl.col("_lat").is_null() | (pl.col("_lat").abs() > 90),
         pl.format("latitude_wgs84 '{}' is not a latitude", pl.col("latitude_wgs84"))),
        (pl.col("_as_of").is_null(),
         pl.format("lifecycle_as_of_date '{}' is not a date (YYYY-MM-DD)", pl.col("lifecycle_as_of_date"))),
        (pl.col("lifecycle_display_group").fill_null("").str.strip_chars() == "", "lifecycle_display_group is empty"),
    ], cols)
    if good.height == 0:
        return AtlasStaged(pl.DataFrame(schema=CAMPUS_SCHEMA), quarantine)
    for code in good["_country"].to_list():  # log where each spelling was seen
        countries.resolve(code, dataset=DATASET, file=good["_file"][0], field="country_code")
    notes = {}
    if firm_aliases is not None and firm_aliases.height:
        for row in firm_aliases.iter_rows(named=True):
            if row["role"] in ("foundry", "any"):
                notes.setdefault((firm_key(row["name"]), row["role"]), row["note"])
    operators = good["operator"].to_list()
    operator_ids = [firms.resolve(op, dataset=DATASET, file=file, role="foundry")
                    for op, file in zip(operators, good["_file"].to_list())]
    log = firms.aliases().filter((pl.col("dataset") == DATASET) & (pl.col("role") == "foundry"))
    how = dict(zip(log["name"].to_list(), log["method"].to_list()))
    methods = [how.get(op.strip()) for op in operators]
    operator_notes = [(notes.get((firm_key(op), "foundry")) or notes.get((firm_key(op), "any")))
                      if method == "alias" else None for op, method in zip(operators, methods)]
    group = pl.col("lifecycle_display_group").str.strip_chars()
    status = pl.col("lifecycle_status").str.strip_chars()
    campuses = good.with_columns(
        pl.Series("_firm", operator_ids, dtype=pl.String), pl.Series("_method", methods, dtype=pl.String),
        pl.Series("_note", operator_notes, dtype=pl.String),
    ).select(
        pl.col("_id").alias("facility_id"), pl.col("campus_name").str.strip_chars().alias("name"),
        pl.col("operator").str.strip_chars().alias("operator_as_written"), pl.col("_firm").alias("operator_firm_id"),
        pl.col("_method").alias("operator_method"), pl.col("_note").alias("operator_note"),
        pl.col("_iso3").alias("iso3"), status.alias("status"), group.alias("status_group"),
        (group == OPERATING_GROUP).alias("operating"),
        pl.when(group == OPERATING_GROUP).then(None)
        .otherwise(pl.format("not current capacity: atlas status '{}' ({})", status, group)).alias("operating_note"),
        pl.col("_as_of").alias("as_of"), pl.col("_lon").alias("longitude"), pl.col("_lat").alias("latitude"),
        (pl.col("coordinate_precision") if "coordinate_precision" in good.columns
         else pl.lit(None, pl.String)).alias("coordinate_precision"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))
    return AtlasStaged(campuses.select(list(CAMPUS_SCHEMA)).cast(CAMPUS_SCHEMA), quarantine)
