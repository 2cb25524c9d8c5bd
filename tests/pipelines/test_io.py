"""The warehouse I/O manager's catalogue look-up (:func:`pipelines.io.stored_columns`)."""

from __future__ import annotations

import duckdb

from pipelines.io import stored_columns


def test_stored_columns_in_order_with_duckdb_types_and_none_for_a_missing_table():
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE TABLE analytics.a_table (z VARCHAR, b_c DOUBLE, a BIGINT, d DECIMAL(9, 2))")
        con.execute("CREATE TABLE main.other (x INTEGER)")
        expected = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                               ["analytics", "a_table"]).fetchall()
        assert stored_columns(con, "analytics", "a_table") == expected == [
            ("z", "VARCHAR"), ("b_c", "DOUBLE"), ("a", "BIGINT"), ("d", "DECIMAL(9,2)")]
        assert stored_columns(con, "analytics", "other") == []
        assert stored_columns(con, "nowhere", "a_table") == []
        assert stored_columns(con, "main", "other") == [("x", "INTEGER")]
