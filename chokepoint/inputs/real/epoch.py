"""Epoch AI: GPU clusters, ML hardware and AI chip counts → canonical tables.

GPU clusters (``epoch/gpu_clusters.csv``, 786 clusters × 55 columns, quoted notes that
span lines): one row per cluster with country (ISO3), owners (firm ids), H100
equivalents, status, certainty, dates. A cluster counts towards a country's installed
compute (``in_capacity``) when it is operational (status ``Existing``), not flagged as a
possible duplicate, not superseded by a later phase, and has a country and an H100e
figure — the rule behind the reference's ``compute_capacity.csv``; ``capacity_note``
says why a cluster does not count.

ML hardware (``epoch/ml_hardware.csv``): accelerators with designer, foundry (firm ids)
and process node.

AI chip counts (``epoch/ai_chip_counts/**``): H100-equivalent and unit estimates (median,
5th and 95th percentile) by designer, owner, chip type and period; ``series`` says
whether a row is one quarter or cumulative, ``by_chip`` whether it is one chip type.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.firms import FirmResolver
from chokepoint.inputs.real.quarantine import empty_quarantine, parse_number, source_columns, split_checks

__all__ = ["EpochStaged", "stage_epoch", "compute_shares", "CLUSTERS_REQUIRED", "HARDWARE_REQUIRED",
           "CHIP_COUNTS_REQUIRED", "parse_date"]

CLUSTERS_REQUIRED = ("Name", "Status", "H100 equivalents", "Country", "Owner", "First Operational Date",
                     "Possible Duplicate", "Superseded by")
HARDWARE_REQUIRED = ("Hardware name", "Manufacturer", "Foundry", "Process size (nm)", "Release date")
CHIP_COUNTS_REQUIRED = ("Name", "Chip manufacturer", "Start date", "End date")

_H100E = ("Compute estimate in H100e (median)",)
_H100E_P05 = ("H100e (5th percentile)", "Compute estimate in H100e (5th percentile)")
_H100E_P95 = ("H100e (95th percentile)", "Compute estimate in H100e (95th percentile)")
_UNITS = ("Number of Units", "Number of units (median)", "Number of Units (median)")
_UNITS_P05 = ("Number of Units (5th percentile)", "Number of units (5th percentile)")
_UNITS_P95 = ("Number of Units (95th percentile)", "Number of units (95th percentile)")

CLUSTER_SCHEMA = {
    "name": pl.String, "status": pl.String, "certainty": pl.String, "country_as_written": pl.String,
    "iso3": pl.String, "aggregate": pl.String, "country_method": pl.String, "owner": pl.String,
    "owner_firm_ids": pl.List(pl.String), "h100e": pl.Float64, "chip_type": pl.String, "chip_quantity": pl.Float64,
    "power_mw": pl.Float64, "first_operational": pl.Date, "first_operational_as_written": pl.String,
    "decommissioned": pl.Date, "possible_duplicate": pl.Boolean, "superseded_by": pl.String,
    "in_capacity": pl.Boolean, "capacity_note": pl.String, "identical_to_line": pl.Int64, "year": pl.Int64, "dataset": pl.String,
    "file": pl.String, "line": pl.Int64, "record": pl.Int64}


@dataclass(frozen=True)
class EpochStaged:
    clusters: pl.DataFrame
    accelerators: pl.DataFrame
    chip_counts: pl.DataFrame
    quarantine: pl.DataFrame


def parse_date(column: str) -> pl.Expr:
    """``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or ``M/D/YYYY`` text → Date (null if blank or unparseable)."""
    text = pl.col(column).str.strip_chars()
    return pl.coalesce(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        (text + "-01").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        (text + "-01-01").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        text.str.strptime(pl.Date, "%m/%d/%Y", strict=False),
    )


def _bad_date(column: str) -> pl.Expr:
    text = pl.col(column).fill_null("").str.strip_chars()
    return (text != "") & parse_date(column).is_null()


def _bad_number(column: str, *, allow_negative: bool = False) -> list[tuple[pl.Expr, pl.Expr]]:
    text = pl.col(column).fill_null("").str.strip_chars()
    value = parse_number(column)
    checks = [((text != "") & value.is_null(), pl.format("'{}' in '{}' is not a number", text, pl.lit(column))),
              (value.is_nan() | value.is_infinite(), pl.format("'{}' in '{}' is not a finite number", text,
                                                              pl.lit(column)))]
    if not allow_negative:
        checks.append((value < 0, pl.format("negative value {} in '{}'", text, pl.lit(column))))
    return checks


def stage_epoch(clusters: pl.DataFrame, hardware: pl.DataFrame, chip_counts: pl.DataFrame,
                countries: CountryResolver, firms: FirmResolver) -> EpochStaged:
    """Stage the three Epoch AI datasets (raw frames; chip counts concatenated over files)."""
    c, q1 = _stage_clusters(clusters, countries, firms)
    h, q2 = _stage_hardware(hardware, firms)
    k, q3 = _stage_chip_counts(chip_counts, countries, firms)
    return EpochStaged(clusters=c, accelerators=h, chip_counts=k, quarantine=pl.concat([q1, q2, q3]))


def _stage_clusters(raw: pl.DataFrame, countries: CountryResolver, firms: FirmResolver):
    cols = source_columns(raw)
    # Identical records are not duplicates here: Epoch lists anonymised systems ("Anonymized
    # Chinese System") with identical fields, one record each. Epoch's own "Possible
    # Duplicate" flag marks real duplicates; ``identical_to_line`` shows the identical ones.
    frame = raw.with_columns(pl.struct(cols).hash().alias("_hash"))
    first = frame.group_by("_hash", maintain_order=True).agg(pl.col("_line").first().alias("_first_line"))
    frame = frame.join(first, on="_hash", how="left")
    checks = [(pl.col("Name").fill_null("").str.strip_chars() == "", "cluster name is empty")]
    checks += _bad_number("H100 equivalents")
    for column in ("First Operational Date", "Decommissioned Date (if applicable)"):
        if column in cols:
            checks.append((_bad_date(column), pl.format("'{}' in '{}' is not a date", pl.col(column),
                                                        pl.lit(column))))
    good, quarantine = split_checks(frame, checks, cols)
    if good.height == 0:
        return pl.DataFrame(schema=CLUSTER_SCHEMA), quarantine
    file = good["_file"][0]
    resolved = countries.resolve_column(good["Country"], dataset="epoch_clusters", file=file, field="Country")
    owners = [[f for f in (firms.resolve(o, dataset="epoch_clusters", file=file, role="owner")
                           for o in (text or "").split(",")) if f] for text in good["Owner"].to_list()]
    good = pl.concat([good, resolved], how="horizontal").with_columns(
        pl.Series("_owners", owners, dtype=pl.List(pl.String)))

    def optional(name: str, expr_of) -> pl.Expr:
        return expr_of(name) if name in good.columns else pl.lit(None)

    h100e = parse_number("H100 equivalents")
    duplicate = pl.col("Possible Duplicate").fill_null("").str.strip_chars().str.to_lowercase() == "true"
    superseded = pl.col("Superseded by").fill_null("").str.strip_chars()
    status = pl.col("Status").fill_null("").str.strip_chars()
    note = (pl.when(status != "Existing").then(pl.format("status '{}'", status))
            .when(duplicate).then(pl.lit("possible duplicate"))
            .when(superseded != "").then(pl.format("superseded by '{}'", superseded))
            .when(pl.col("iso3").is_null()).then(pl.lit("no country"))
            .when(h100e.is_null() | (h100e <= 0)).then(pl.lit("no H100e figure"))
            .otherwise(pl.lit(None, dtype=pl.String)))
    first_operational = parse_date("First Operational Date")
    staged = good.select(
        pl.col("Name").str.strip_chars().alias("name"), status.alias("status"),
        optional("Certainty", lambda n: pl.col(n).str.strip_chars()).cast(pl.String).alias("certainty"),
        pl.col("Country").str.strip_chars().alias("country_as_written"), "iso3", "aggregate", "country_method",
        pl.col("Owner").alias("owner"), pl.col("_owners").alias("owner_firm_ids"), h100e.alias("h100e"),
        optional("Chip type (primary)", pl.col).cast(pl.String).alias("chip_type"),
        optional("Chip quantity (primary)", parse_number).cast(pl.Float64).alias("chip_quantity"),
        optional("Power Capacity (MW)", parse_number).cast(pl.Float64).alias("power_mw"),
        first_operational.alias("first_operational"),
        pl.col("First Operational Date").alias("first_operational_as_written"),
        optional("Decommissioned Date (if applicable)", parse_date).cast(pl.Date).alias("decommissioned"),
        duplicate.alias("possible_duplicate"), pl.when(superseded != "").then(superseded).alias("superseded_by"),
        note.is_null().alias("in_capacity"), note.alias("capacity_note"),
        pl.when(pl.col("_first_line") != pl.col("_line")).then(pl.col("_first_line")).alias("identical_to_line"),
        first_operational.dt.year().cast(pl.Int64).alias("year"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"),
        pl.col("_record").alias("record"))
    return staged.select(list(CLUSTER_SCHEMA)), quarantine


def _stage_hardware(raw: pl.DataFrame, firms: FirmResolver):
    cols = source_columns(raw)
    frame = raw.with_columns(pl.col("Hardware name").str.strip_chars().alias("_name"))
    first = frame.group_by("_name", maintain_order=True).agg(pl.col("_line").first().alias("_first_line"))
    frame = frame.join(first, on="_name", how="left", nulls_equal=True)
    checks = [(pl.col("_name").fill_null("") == "", "hardware name is empty"),
              (pl.col("_first_line") != pl.col("_line"),
               pl.format("duplicate hardware name of line {}", pl.col("_first_line"))),
              (_bad_date("Release date"), pl.format("'{}' in 'Release date' is not a date", pl.col("Release date")))]
    checks += _bad_number("Process size (nm)")
    good, quarantine = split_checks(frame, checks, cols)
    schema = {"name": pl.String, "designer": pl.String, "designer_firm_id": pl.String, "foundry": pl.String,
              "foundry_firm_ids": pl.List(pl.String), "process_nm": pl.Float64, "type": pl.String,
              "release_date": pl.Date, "year": pl.Int64, "fp16_flops": pl.Float64, "tdp_w": pl.Float64,
              "dataset": pl.String, "file": pl.String, "line": pl.Int64}
    if good.height == 0:
        return pl.DataFrame(schema=schema), quarantine
    file = good["_file"][0]
    designers = [firms.resolve(d, dataset="epoch_hardware", file=file, role="designer") if d else None
                 for d in good["Manufacturer"].to_list()]
    foundries = [[f for f in (firms.resolve(x, dataset="epoch_hardware", file=file, role="foundry")
                              for x in (text or "").split(",")) if f] for text in good["Foundry"].to_list()]
    release = parse_date("Release date")

    def number_or_null(name: str) -> pl.Expr:
        return parse_number(name) if name in good.columns else pl.lit(None, dtype=pl.Float64)

    staged = good.with_columns(pl.Series("_designer", designers, dtype=pl.String),
                               pl.Series("_foundries", foundries, dtype=pl.List(pl.String))).select(
        pl.col("_name").alias("name"), pl.col("Manufacturer").alias("designer"),
        pl.col("_designer").alias("designer_firm_id"), pl.col("Foundry").alias("foundry"),
        pl.col("_foundries").alias("foundry_firm_ids"), parse_number("Process size (nm)").alias("process_nm"),
        (pl.col("Type") if "Type" in good.columns else pl.lit(None, pl.String)).alias("type"),
        release.alias("release_date"), release.dt.year().cast(pl.Int64).alias("year"),
        number_or_null("Tensor-FP16/BF16 performance (FLOP/s)").alias("fp16_flops"),
        number_or_null("TDP (W)").alias("tdp_w"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))
    return staged, quarantine


CHIP_COUNT_SCHEMA = {
    "name": pl.String, "designer": pl.String, "designer_firm_id": pl.String, "owner": pl.String,
    "owner_firm_id": pl.String, "owner_iso3": pl.String, "owner_aggregate": pl.String, "chip_type": pl.String,
    "start_date": pl.Date, "end_date": pl.Date, "year": pl.Int64, "series": pl.String, "by_chip": pl.Boolean,
    "calendar": pl.String, "h100e": pl.Float64, "h100e_p05": pl.Float64, "h100e_p95": pl.Float64,
    "units": pl.Float64, "units_p05": pl.Float64, "units_p95": pl.Float64, "dataset": pl.String, "file": pl.String,
    "line": pl.Int64}


def _stage_chip_counts(raw: pl.DataFrame, countries: CountryResolver, firms: FirmResolver):
    """All chip-count files at once: the files name the same quantities differently (e.g.
    "H100e (5th percentile)" / "Compute estimate in H100e (5th percentile)"), so each canonical
    column is the coalesce of its spellings; a file's own columns are the non-null ones."""
    if raw.height == 0:
        return pl.DataFrame(schema=CHIP_COUNT_SCHEMA), empty_quarantine()
    cols = source_columns(raw)
    spellings = {"h100e": _H100E, "h100e_p05": _H100E_P05, "h100e_p95": _H100E_P95, "units": _UNITS,
                 "units_p05": _UNITS_P05, "units_p95": _UNITS_P95}
    present = {key: [n for n in names if n in cols] for key, names in spellings.items()}
    checks = [(pl.col("Name").fill_null("").str.strip_chars() == "", "name is empty"),
              (_bad_date("Start date") | pl.col("Start date").fill_null("").str.strip_chars().eq(""),
               pl.format("'{}' in 'Start date' is not a date", pl.col("Start date"))),
              (_bad_date("End date") | pl.col("End date").fill_null("").str.strip_chars().eq(""),
               pl.format("'{}' in 'End date' is not a date", pl.col("End date"))),
              (parse_date("End date") < parse_date("Start date"), "end date before start date")]
    for names in present.values():
        for column in names:
            checks += _bad_number(column)
    # A file must have an H100e or a unit column (a row of a file without either carries no quantity).
    quantity = present["h100e"] + present["units"]
    has_quantity = raw.group_by("_file").agg(
        (pl.any_horizontal([pl.col(c).is_not_null().any() for c in quantity]) if quantity else pl.lit(False))
        .alias("_has_quantity"))
    frame = raw.join(has_quantity, on="_file", how="left")
    checks.append((~pl.col("_has_quantity"), "no H100e or unit column in the header"))
    good, quarantine = split_checks(frame, checks, cols)
    if good.height == 0:
        return pl.DataFrame(schema=CHIP_COUNT_SCHEMA), quarantine

    designer_ids, owner_rows = {}, {}
    for (file, designer, owner) in good.select("_file", "Chip manufacturer",
                                               pl.col("Owner") if "Owner" in cols else pl.lit(None, pl.String)
                                               ).unique(maintain_order=True).iter_rows():
        if designer and (file, designer) not in designer_ids:
            designer_ids[(file, designer)] = firms.resolve(designer, dataset="epoch_chip_counts", file=file,
                                                           role="designer")
        if not owner or not owner.strip():
            continue
        country = countries.resolve(owner)  # owners are firms, or a country / "Other" aggregate
        if country.resolved:
            countries.resolve(owner, dataset="epoch_chip_counts", file=file, field="Owner")
            owner_rows[(file, owner)] = (None, country.iso3, country.aggregate)
        else:  # a firm, or "Other" (everyone else): an aggregate, not a firm
            firm_id = firms.resolve(owner, dataset="epoch_chip_counts", file=file, role="owner")
            owner_rows[(file, owner)] = (firm_id, None, None if firm_id else "OTHER")
    owner_col = good["Owner"].to_list() if "Owner" in cols else [None] * good.height
    keys = list(zip(good["_file"].to_list(), owner_col))
    resolved = [owner_rows.get(k, (None, None, None)) for k in keys]
    designers = [designer_ids.get(k) for k in zip(good["_file"].to_list(), good["Chip manufacturer"].to_list())]
    stem = pl.col("_file").str.split("/").list.last()

    def number(key: str) -> pl.Expr:
        names = present[key]
        return pl.coalesce([parse_number(n) for n in names]) if names else pl.lit(None, dtype=pl.Float64)

    staged = good.with_columns(
        pl.Series("_designer", designers, dtype=pl.String),
        pl.Series("_owner_firm", [r[0] for r in resolved], dtype=pl.String),
        pl.Series("_owner_iso3", [r[1] for r in resolved], dtype=pl.String),
        pl.Series("_owner_aggregate", [r[2] for r in resolved], dtype=pl.String),
    ).select(
        pl.col("Name").str.strip_chars().alias("name"), pl.col("Chip manufacturer").alias("designer"),
        pl.col("_designer").alias("designer_firm_id"),
        (pl.col("Owner") if "Owner" in cols else pl.lit(None, pl.String)).alias("owner"),
        pl.col("_owner_firm").alias("owner_firm_id"), pl.col("_owner_iso3").alias("owner_iso3"),
        pl.col("_owner_aggregate").alias("owner_aggregate"),
        (pl.col("Chip type") if "Chip type" in cols else pl.lit(None, pl.String)).alias("chip_type"),
        parse_date("Start date").alias("start_date"), parse_date("End date").alias("end_date"),
        parse_date("End date").dt.year().cast(pl.Int64).alias("year"),
        pl.when(stem.str.contains("cumulative")).then(pl.lit("cumulative")).otherwise(pl.lit("quarter"))
        .alias("series"),
        (stem.str.contains("by_chip") | stem.str.contains("chip_timelines")).alias("by_chip"),
        pl.when(stem.str.contains("fiscal")).then(pl.lit("fiscal")).otherwise(pl.lit("calendar")).alias("calendar"),
        number("h100e").alias("h100e"), number("h100e_p05").alias("h100e_p05"),
        number("h100e_p95").alias("h100e_p95"), number("units").alias("units"),
        number("units_p05").alias("units_p05"), number("units_p95").alias("units_p95"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))
    return staged.select(list(CHIP_COUNT_SCHEMA)), quarantine


def compute_shares(clusters: pl.DataFrame) -> pl.DataFrame:
    """Installed compute by country from clusters that count (``in_capacity``).

    Returns ``iso3``, ``h100e``, ``share`` (of the total over attributed clusters),
    ``clusters`` and ``year`` (the latest first-operational year among them: the
    snapshot the figure describes).
    """
    counted = clusters.filter(pl.col("in_capacity"))
    schema = {"iso3": pl.String, "h100e": pl.Float64, "share": pl.Float64, "clusters": pl.UInt32, "year": pl.Int64}
    if counted.height == 0:
        return pl.DataFrame(schema=schema)
    year = counted["year"].max()
    total = counted["h100e"].sum()
    return (counted.group_by("iso3").agg(pl.col("h100e").sum(), pl.len().alias("clusters"))
            .with_columns((pl.col("h100e") / total).alias("share"), pl.lit(year, dtype=pl.Int64).alias("year"))
            .select(list(schema)).sort("h100e", descending=True))
