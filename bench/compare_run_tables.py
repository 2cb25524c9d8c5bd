"""Compare the tables of two published warehouses cell by cell (timing columns excluded).

Used to show that a change to the code leaves the published results unchanged: run the
main job once with the old code and once with the new, then

    python -m bench.compare_run_tables OLD.duckdb NEW.duckdb [--schemas analytics staging] [--json out.json]

Every base table and view of the given schemas (default: ``analytics``) is compared
after dropping the columns in :data:`TIMING_COLUMNS`. Rows are compared in stored order;
a table whose rows only differ in order is reported as such. Floats are compared bit for
bit (NaN equals NaN); where they differ, the largest absolute and relative difference is
reported per column, so round-off can be told from a changed result. Exit status 0 when
every table is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import duckdb
import polars as pl

from chokepoint.safety import quote_identifier

__all__ = ["TIMING_COLUMNS", "compare_warehouses", "compare_frames", "main"]

#: Columns that measure the run, not its result (wall-clock seconds of a solve or search).
TIMING_COLUMNS = frozenset({"seconds"})


def _tables(connection: duckdb.DuckDBPyConnection, schemas: list[str]) -> list[str]:
    rows = connection.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN (SELECT unnest(?)) ORDER BY 1", [schemas]).fetchall()
    return [r[0] for r in rows]


def _read(connection: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    schema, name = table.split(".", 1)
    frame = connection.execute(f"SELECT * FROM {quote_identifier(schema)}.{quote_identifier(name)}").pl()
    return frame.drop([c for c in frame.columns if c in TIMING_COLUMNS])


def _same(a, b) -> bool:
    """Bitwise equality of cell values (NaN equals NaN; lists element-wise)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _float_gap(a, b) -> tuple[float, float] | None:
    """Largest absolute and relative difference between two float cells (or lists of
    floats), ``None`` if they are not both numeric."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        gaps = [g for g in (_float_gap(x, y) for x, y in zip(a, b)) if g is not None]
        return (max(g[0] for g in gaps), max(g[1] for g in gaps)) if gaps else None
    if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b):
        return abs(a - b), abs(a - b) / max(abs(a), abs(b), 1e-300)
    return None


def compare_frames(old: pl.DataFrame, new: pl.DataFrame) -> dict:
    """Cell-by-cell comparison of two frames.

    Returns
    -------
    dict
        ``identical`` (bool), ``rows``, and when not identical: ``reason`` and, per
        differing column, ``cells`` (number of differing cells) and for float columns
        ``max_abs`` / ``max_rel`` (``None`` where a difference is not numeric, e.g. a
        value against null).
    """
    if old.columns != new.columns or old.dtypes != new.dtypes:
        return {"identical": False, "rows": [old.height, new.height], "reason": "columns differ",
                "old_columns": old.columns, "new_columns": new.columns}
    if old.height != new.height:
        return {"identical": False, "rows": [old.height, new.height], "reason": "row counts differ"}
    columns = {}
    for name in old.columns:
        a, b = old[name].to_list(), new[name].to_list()
        differing = [(x, y) for x, y in zip(a, b) if not _same(x, y)]
        if not differing:
            continue
        gaps = [_float_gap(x, y) for x, y in differing]
        numeric = all(g is not None for g in gaps)
        columns[name] = {"cells": len(differing),
                         "max_abs": max(g[0] for g in gaps) if numeric else None,
                         "max_rel": max(g[1] for g in gaps) if numeric else None,
                         "example": [repr(differing[0][0])[:80], repr(differing[0][1])[:80]]}
    if not columns:
        return {"identical": True, "rows": old.height}
    reordered = False
    try:
        reordered = old.sort(old.columns, nulls_last=True).equals(new.sort(new.columns, nulls_last=True))
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        pass  # list columns cannot always be sorted on; the cell report stands
    return {"identical": False, "rows": old.height, "reason": "same rows, other order" if reordered else "cells differ",
            "columns": columns}


def compare_warehouses(old: Path, new: Path, schemas: list[str]) -> dict:
    """Compare every table and view of ``schemas`` in two DuckDB files (read-only)."""
    with duckdb.connect(str(old), read_only=True) as a, duckdb.connect(str(new), read_only=True) as b:
        names_a, names_b = _tables(a, schemas), _tables(b, schemas)
        report = {"old": str(old), "new": str(new), "schemas": schemas, "excluded_columns": sorted(TIMING_COLUMNS),
                  "only_old": sorted(set(names_a) - set(names_b)), "only_new": sorted(set(names_b) - set(names_a)),
                  "tables": {}}
        for table in sorted(set(names_a) & set(names_b)):
            report["tables"][table] = compare_frames(_read(a, table), _read(b, table))
    report["identical"] = (not report["only_old"] and not report["only_new"]
                           and all(t["identical"] for t in report["tables"].values()))
    return report


def _print(report: dict) -> None:
    tables = report["tables"]
    same = [t for t, r in tables.items() if r["identical"]]
    print(f"{report['old']} vs {report['new']} (schemas {', '.join(report['schemas'])}; "
          f"columns excluded: {', '.join(report['excluded_columns'])})")
    print(f"{len(same)} of {len(tables)} tables identical"
          + (f"; only in old: {report['only_old']}" if report["only_old"] else "")
          + (f"; only in new: {report['only_new']}" if report["only_new"] else ""))
    for table, result in tables.items():
        if result["identical"]:
            continue
        print(f"  {table}: {result['reason']} (rows {result['rows']})")
        for column, info in result.get("columns", {}).items():
            gap = (f", max abs {info['max_abs']:.3g}, max rel {info['max_rel']:.3g}"
                   if info["max_abs"] is not None else "")
            print(f"    {column}: {info['cells']} cells{gap}; e.g. {info['example'][0]} -> {info['example'][1]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--schemas", nargs="+", default=["analytics"])
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args(argv)
    report = compare_warehouses(args.old, args.new, args.schemas)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
