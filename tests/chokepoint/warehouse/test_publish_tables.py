"""``publish_tables``: computed tables published as a new snapshot with a ledger record, replacing
only the rows of the keys they carry, keeping every other table; verify agrees."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from chokepoint.errors import WarehouseError
from chokepoint.warehouse.store import ledger_head, publish_tables, verify_warehouse
from tests.support.warehouses import publish_generation


def _frame(scenario: str, values) -> pl.DataFrame:
    return pl.DataFrame({"scenario": [scenario] * len(values), "p": values, "tags": [["a"]] * len(values)})


def test_rows_of_the_given_keys_are_replaced_others_kept(tmp_path):
    published = tmp_path / "w" / "chokepoint.duckdb"
    publish_generation(published, 0)
    first = publish_tables(published, {"analytics.robustness": _frame("a", [0.1, 0.2])}, run_id="sweep-1")
    publish_tables(published, {"analytics.robustness": _frame("b", [0.5])}, run_id="sweep-2")
    last = publish_tables(published, {"analytics.robustness": _frame("a", [0.9])}, run_id="sweep-3")
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute("SELECT scenario, p FROM analytics.robustness ORDER BY scenario").fetchall()
        kept = con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0]
    assert rows == [("a", 0.9), ("b", 0.5)]
    assert kept > 0, "tables the sweep does not write are carried over"
    assert last["seq"] == first["seq"] + 2 and ledger_head(published)["run_id"] == "sweep-3"
    assert "analytics.robustness" in last["tables"] and "analytics.capability" in last["tables"]
    assert verify_warehouse(published).ok


def test_changed_columns_recreate_the_table(tmp_path):
    published = tmp_path / "w" / "chokepoint.duckdb"
    publish_generation(published, 0)
    publish_tables(published, {"analytics.robustness": _frame("a", [0.1])}, run_id="sweep-1")
    publish_tables(published, {"analytics.robustness": pl.DataFrame({"scenario": ["b"], "q": [1]})}, run_id="s2")
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT * FROM analytics.robustness").fetchall() == [("b", 1)]


def test_no_published_warehouse_is_refused(tmp_path):
    with pytest.raises(WarehouseError, match="no published warehouse"):
        publish_tables(tmp_path / "none.duckdb", {"analytics.robustness": _frame("a", [0.1])}, run_id="x")
