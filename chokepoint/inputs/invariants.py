"""What must hold of the staged tables: the rules behind the ``staging`` asset checks.

Each function takes warehouse tables and returns counts (and, where an analyst needs to
see them, the offending rows); the asset checks in :mod:`pipelines.assets.staging` turn
them into pass/fail with metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.quarantine import row_accounting
from chokepoint.inputs.reference import SHARE_SUM_TOLERANCE_PCT

__all__ = ["share_bounds", "capacity_references", "RowsAddUp", "rows_add_up", "QuarantineLimit",
           "quarantine_limit", "lineage_gaps", "LINEAGE_TOLERANCE"]

#: A capacity's lineage contributions must sum to its share within this absolute error.
LINEAGE_TOLERANCE = 1e-9


def share_bounds(capacities: pl.DataFrame) -> dict:
    """Shares of each input sum to at most 100 % (+ :data:`SHARE_SUM_TOLERANCE_PCT`) and lie in [0, 1].

    Returns
    -------
    dict
        ``passed``, ``largest_total_share_pct``, ``largest_total_input``, ``shares_outside_0_1``.
    """
    totals = capacities.group_by("input_id").agg(pl.col("share").sum().alias("total"))
    worst = totals.sort("total", descending=True).row(0, named=True)
    out_of_range = capacities.filter((pl.col("share") < 0) | (pl.col("share") > 1)).height
    passed = worst["total"] <= 1 + SHARE_SUM_TOLERANCE_PCT / 100 and out_of_range == 0
    return {"passed": bool(passed), "largest_total_share_pct": float(100 * worst["total"]),
            "largest_total_input": worst["input_id"], "shares_outside_0_1": out_of_range}


def capacity_references(capacities: pl.DataFrame, countries: pl.DataFrame, input_types: pl.DataFrame) -> dict:
    """Counts of capacity rows naming an unknown country or input type, or with capacity ≤ 0."""
    return {
        "unknown_countries": capacities.filter(~pl.col("iso3").is_in(countries["iso3"].to_list())).height,
        "unknown_inputs": capacities.filter(~pl.col("input_id").is_in(input_types["input_id"].to_list())).height,
        "non_positive_capacities": capacities.filter(pl.col("capacity") <= 0).height,
    }


@dataclass(frozen=True)
class RowsAddUp:
    """Row accounting recomputed from the tables: per file, and whether the stored one agrees."""

    recomputed: pl.DataFrame
    not_adding_up: pl.DataFrame
    stored_differs: bool


def rows_add_up(stored: pl.DataFrame, raw: Sequence[pl.DataFrame], staged: Sequence[pl.DataFrame],
                quarantine: pl.DataFrame) -> RowsAddUp:
    """Recompute, per real-data file, that every record read is staged or quarantined (not both).

    Parameters
    ----------
    stored : polars.DataFrame
        ``staging.row_accounting`` as written by the staging step.
    raw : sequence of polars.DataFrame
        The raw source tables (``_dataset``, ``_file``, ``_line``).
    staged : sequence of polars.DataFrame
        Every staged table that keeps its source ``file`` and ``line``.
    quarantine : polars.DataFrame
        ``staging.quarantine``.
    """
    records = pl.concat([table.select("_dataset", "_file", "_line") for table in raw])
    recomputed = row_accounting(records, [table.select("file", "line") for table in staged], quarantine)
    columns = ("file", "rows_read", "staged", "quarantined")
    differs = not recomputed.select(*columns).sort("file").equals(stored.select(*columns).sort("file"))
    return RowsAddUp(recomputed, recomputed.filter(~pl.col("adds_up")), differs)


@dataclass(frozen=True)
class QuarantineLimit:
    """Files over the quarantine limit (worst first) and the quarantine's reasons by count."""

    over: pl.DataFrame
    reasons: pl.DataFrame
    quarantined_rows: int
    blank_rows: int


def quarantine_limit(accounting: pl.DataFrame, quarantine: pl.DataFrame, limit: float) -> QuarantineLimit:
    """Which files lose more than ``limit`` (a fraction) of their data rows to the quarantine
    (blank rows aside)."""
    over = accounting.filter(pl.col("quarantined_fraction") > limit).sort("quarantined_fraction", descending=True)
    if not quarantine.height:
        return QuarantineLimit(over, quarantine, 0, 0)
    reasons = quarantine.filter(~pl.col("blank")).group_by("file", "reason").len().sort("len", descending=True)
    return QuarantineLimit(over, reasons, quarantine.filter(~pl.col("blank")).height,
                           quarantine.filter(pl.col("blank")).height)


def lineage_gaps(capacities: pl.DataFrame, lineage: pl.DataFrame, raw: Mapping[str, pl.DataFrame],
                 src_shares: pl.DataFrame, src_compute: pl.DataFrame) -> dict:
    """Capacity figures that do not trace to source rows.

    Parameters
    ----------
    capacities, lineage : polars.DataFrame
        ``staging.capacities`` and ``staging.capacity_lineage``.
    raw : mapping of str to polars.DataFrame
        The raw real-data tables (``_file``, ``_line``).
    src_shares, src_compute : polars.DataFrame
        ``reference/shares.csv`` and ``reference/compute_capacity.csv`` as read (``_line``).

    Returns
    -------
    dict
        ``capacities_whose_lineage_does_not_sum_to_their_share`` (within
        :data:`LINEAGE_TOLERANCE`) and ``lineage_rows_not_found_in_sources``.
    """
    sums = lineage.group_by("input_id", "iso3").agg(pl.col("contribution").sum())
    joined = capacities.select("input_id", "iso3", "share").join(sums, on=["input_id", "iso3"], how="left")
    mismatched = joined.filter(pl.col("contribution").is_null()
                               | ((pl.col("contribution") - pl.col("share")).abs() > LINEAGE_TOLERANCE)).height
    known = pl.concat([
        *[table.select(pl.col("_file").alias("file"), pl.col("_line").alias("line")) for table in raw.values()],
        src_shares.select(pl.lit("reference/shares.csv").alias("file"), pl.col("_line").alias("line")),
        src_compute.select(pl.lit("reference/compute_capacity.csv").alias("file"), pl.col("_line").alias("line")),
    ]).unique()
    dangling = lineage.join(known, on=["file", "line"], how="anti").height
    return {"capacities_whose_lineage_does_not_sum_to_their_share": mismatched,
            "lineage_rows_not_found_in_sources": dangling}
