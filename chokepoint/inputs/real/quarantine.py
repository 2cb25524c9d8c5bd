"""Splitting source rows into staged and quarantined, and the per-file row accounting.

A staging function takes a raw frame (from :func:`chokepoint.inputs.real.rawcsv.read_raw_csv`),
applies checks in order, and keeps every row that fails one in the quarantine with the
first reason found. The quarantine keeps the row's raw text (or its cells as JSON), so
an analyst can see what was rejected without opening the file.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import polars as pl

from chokepoint.inputs.real.rawcsv import BLANK_ROW

__all__ = [
    "QUARANTINE_SCHEMA",
    "ACCOUNTING_SCHEMA",
    "empty_quarantine",
    "split_checks",
    "to_quarantine",
    "parse_number",
    "source_columns",
    "row_accounting",
]

QUARANTINE_SCHEMA = {"dataset": pl.String, "file": pl.String, "line": pl.Int64, "record": pl.Int64,
                     "reason": pl.String, "blank": pl.Boolean, "raw": pl.String}
ACCOUNTING_SCHEMA = {"dataset": pl.String, "file": pl.String, "rows_read": pl.Int64, "staged": pl.Int64,
                     "quarantined": pl.Int64, "blank": pl.Int64, "quarantined_fraction": pl.Float64,
                     "adds_up": pl.Boolean}

_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def source_columns(frame: pl.DataFrame) -> list[str]:
    """The columns of a raw frame that came from the file (not provenance)."""
    return [c for c in frame.columns if not c.startswith("_")]


def to_quarantine(frame: pl.DataFrame, reason: pl.Expr | str, columns: Sequence[str]) -> pl.DataFrame:
    """Quarantine rows of ``frame`` (a raw frame, possibly with derived columns).

    ``columns`` are the source columns whose cells are kept (as JSON) when the raw
    record text is not already in ``_raw``.
    """
    if frame.height == 0:
        return empty_quarantine()
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    cells = (pl.struct([pl.col(c) for c in columns]).struct.json_encode() if columns
             else pl.lit(None, dtype=pl.String))
    return frame.select(
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"),
        pl.col("_record").alias("record"), reason_expr.cast(pl.String).alias("reason"),
        (pl.col("_problem") == BLANK_ROW).fill_null(False).alias("blank"),
        pl.coalesce(pl.col("_raw"), cells).alias("raw"),
    )


def split_checks(frame: pl.DataFrame, checks: Iterable[tuple[pl.Expr, pl.Expr | str]],
                 columns: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply ``checks`` (bad-row condition, reason) in order; first failing reason wins.

    Rows with a ``_problem`` from reading fail first. Returns ``(good, quarantine)``.
    """
    reason = pl.when(pl.col("_problem").is_not_null()).then(pl.col("_problem"))
    for bad, why in checks:
        reason = reason.when(bad.fill_null(False)).then(pl.lit(why) if isinstance(why, str) else why)
    frame = frame.with_columns(reason.otherwise(pl.lit(None, dtype=pl.String)).alias("_reason"))
    bad = frame.filter(pl.col("_reason").is_not_null())
    good = frame.filter(pl.col("_reason").is_null()).drop("_reason")
    return good, to_quarantine(bad, pl.col("_reason"), columns)


def parse_number(column: str) -> pl.Expr:
    """Text → Float64: blanks are null, thousands separators ("1,000,000") removed;
    anything else that is not a number becomes null (check with :func:`not_a_number`)."""
    text = pl.col(column).str.strip_chars()
    cleaned = pl.when(text.str.contains(_THOUSANDS)).then(text.str.replace_all(",", "")).otherwise(text)
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(cleaned.cast(pl.Float64, strict=False))


def row_accounting(raw: pl.DataFrame, staged_lines: Iterable[pl.DataFrame], quarantine: pl.DataFrame) -> pl.DataFrame:
    """Per file: records read, staged (distinct lines in any staged table), quarantined, blank.

    A file adds up when every record read is staged or quarantined, none is both, and no
    line that was not read appears in either. ``quarantined_fraction`` leaves blank rows
    out (they carry no data).
    """
    read = raw.select(pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"),
                      pl.col("_line").alias("line")).unique()
    staged = pl.concat([s.select("file", "line") for s in staged_lines] or
                       [pl.DataFrame(schema={"file": pl.String, "line": pl.Int64})]).unique()
    quarantined = quarantine.select("file", "line", "blank").unique(["file", "line"])
    rows = []
    for (dataset, file), group in read.group_by(["dataset", "file"], maintain_order=True):
        lines = set(group["line"].to_list())
        s = set(staged.filter(pl.col("file") == file)["line"].to_list())
        qf = quarantined.filter(pl.col("file") == file)
        q = set(qf["line"].to_list())
        blank = qf.filter(pl.col("blank")).height
        adds_up = (s | q) == lines and not (s & q)
        data_rows = len(lines) - blank
        fraction = (len(q) - blank) / data_rows if data_rows else 0.0
        rows.append({"dataset": dataset, "file": file, "rows_read": len(lines), "staged": len(s),
                     "quarantined": len(q), "blank": blank, "quarantined_fraction": fraction,
                     "adds_up": adds_up})
    return pl.DataFrame(rows, schema=ACCOUNTING_SCHEMA).sort("dataset", "file")
