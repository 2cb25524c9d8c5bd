"""``chokepoint sql``: the published warehouse, read-only, in the DuckDB shell or one query.

Both resolve the current published snapshot (what the link ``chokepoint.duckdb`` points
to) and open that file read-only, so nothing done here can block a refresh, and a
refresh publishing meanwhile does not change what an open shell sees: it keeps its
snapshot until it is started again. When another client holds the snapshot read-write
(which would make DuckDB refuse any other open), a private copy of it is opened instead.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from chokepoint.errors import ChokepointError
from chokepoint.settings import warehouse_path
from chokepoint.warehouse.ledger import connect_read_only, private_copy
from chokepoint.warehouse.store import current_snapshot, holders
from pipelines.commands import CommandError

__all__ = ["sql", "FORMATS"]

FORMATS = ("table", "csv", "json")


def _published(args) -> Path:
    if getattr(args, "warehouse", None):
        return Path(os.path.abspath(args.warehouse))  # not resolve(): the path is a link to a snapshot
    return warehouse_path()


def _snapshot(published: Path) -> Path:
    snapshot = current_snapshot(published)
    if snapshot is None:
        raise CommandError(f"{published}: no published warehouse (run `chokepoint run` first)")
    return snapshot


def _duckdb_shell() -> str:
    beside = Path(sys.executable).with_name("duckdb")
    found = str(beside) if beside.is_file() else shutil.which("duckdb")
    if not found:
        raise CommandError("the DuckDB shell is not installed (package duckdb-cli; run scripts/setup.sh)")
    return found


def _held_for_writing(snapshot: Path) -> bool:
    return any(mode == "WRITE" and pid != os.getpid() for pid, mode in holders(snapshot) or [])


def shell(snapshot: Path) -> int:
    """The DuckDB shell on ``snapshot``, read-only; its exit status."""
    command = _duckdb_shell()
    if not _held_for_writing(snapshot):
        return subprocess.call([command, "-readonly", str(snapshot)])
    with tempfile.TemporaryDirectory(prefix="chokepoint-sql-") as folder:
        copy = private_copy(snapshot, Path(folder))
        print(f"chokepoint sql: {snapshot.name} is held read-write by another client; opening a private copy",
              file=sys.stderr)
        return subprocess.call([command, "-readonly", str(copy)])


def _plain(value):
    """A JSON value for one cell (non-finite numbers as null, times as ISO text)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _text(value, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def _numeric(value) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def print_table(columns: list[str], rows: list[tuple], out) -> None:
    """Columns aligned (numbers to the right), a rule under the header, the row count last."""
    cells = [[_text(v, "NULL") for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(_numeric(row[i]) or row[i] is None for row in rows) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    out.write(line(columns) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def print_csv(columns: list[str], rows: list[tuple], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_text(v, "") for v in row] for row in rows)


def print_json(columns: list[str], rows: list[tuple], out) -> None:
    """A JSON array of one object per row, one row a line."""
    records = [json.dumps({c: _plain(v) for c, v in zip(columns, row)}, ensure_ascii=False, allow_nan=False)
               for row in rows]
    out.write("[\n" + ",\n".join(records) + ("\n" if records else "") + "]\n")


PRINTERS = {"table": print_table, "csv": print_csv, "json": print_json}


def run_query(snapshot: Path, query: str) -> tuple[list[str], list[tuple]] | None:
    """Run ``query`` on a read-only connection to ``snapshot``: its columns and rows
    (None for a statement without a result)."""
    try:
        with connect_read_only(snapshot) as con:
            # The analyst's own SQL, on a read-only connection: the one statement here that
            # is not built from constants (tests/test_security.py names this exception).
            cursor = con.execute(query)
            if cursor.description is None:
                return None
            return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CommandError(message) from None
    except ChokepointError as exc:
        raise CommandError(str(exc)) from None


def sql(args) -> int:
    snapshot = _snapshot(_published(args))
    if args.query is None:
        return shell(snapshot)
    result = run_query(snapshot, args.query)
    if result is not None:
        PRINTERS[args.format](*result, sys.stdout)
    return 0
