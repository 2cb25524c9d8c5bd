"""Analyst views (chokepoint.warehouse.views): created when their tables exist, readable columns."""

from __future__ import annotations

import duckdb
import pytest

from chokepoint.warehouse.views import VIEWS, create_views, existing_tables

PLACEMENT_COLUMNS = ["scenario", "target", "defector", "budget", "collateral_cap", "controls", "n_controls", "cost",
                     "collateral", "capability_before", "capability_after", "leverage", "objective", "bound", "gap",
                     "status", "optimal"]


@pytest.fixture
def placements_only():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analytics")
    con.execute("CREATE TABLE analytics.placements (scenario VARCHAR, horizon VARCHAR, target VARCHAR, defector VARCHAR, "
                "budget DOUBLE, collateral_cap DOUBLE, controls VARCHAR[], n_controls BIGINT, cost DOUBLE, "
                "collateral DOUBLE, capability_before DOUBLE, capability_after DOUBLE, leverage DOUBLE, "
                "objective DOUBLE, bound DOUBLE, gap DOUBLE, status VARCHAR, optimal BOOLEAN)")
    con.executemany("INSERT INTO analytics.placements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        ["s", "short_run", "X", "X", 3.0, None, ["a-ctl", "b-ctl"], 2, 2.5, 0.1, 200.0, 50.0, 0.75, 0.25, 0.25, 0.0, "optimal",
         True],
        ["s", "short_run", "Y", "Y", 3.0, None, [], 0, 0.0, 0.0, 80.0, 80.0, 0.0, 1.0, 0.9, 0.1, "time_limit", False],
    ])
    yield con
    con.close()


def test_only_views_whose_tables_exist_are_created(placements_only):
    created = create_views(placements_only)
    assert created == [name for name, (needs, _) in VIEWS.items() if needs == ("analytics.placements",)]
    assert "v_placements" in created
    assert "analytics.v_chokepoints" not in existing_tables(placements_only)


def test_placements_view_is_readable(placements_only):
    create_views(placements_only)
    rows = placements_only.execute("SELECT target, controls, n_controls, leverage_pct, cost, collateral, status, "
                                   "gap, proven_optimal FROM analytics.v_placements ORDER BY target").fetchall()
    assert rows == [("X", "a-ctl, b-ctl", 2, 75.0, 2.5, 0.1, "optimal", 0.0, True),
                    ("Y", "", 0, 0.0, 0.0, 0.0, "time_limit", pytest.approx(0.1), False)]


def test_every_view_is_in_the_materialised_warehouse(materialized):
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        present = existing_tables(con)
        assert {f"analytics.{name}" for name in VIEWS} <= present
        for name in VIEWS:
            assert con.execute(f"SELECT count(*) FROM analytics.{name}").fetchone()[0] > 0, name


def test_placements_view_matches_its_table(materialized):
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        table = con.execute("SELECT scenario, target, defector, controls, leverage, cost, collateral, status, gap, "
                            "optimal FROM analytics.placements ORDER BY target, defector").fetchall()
        view = con.execute("SELECT scenario, target, defector, controls, leverage_pct, cost, collateral, status, "
                           "gap, proven_optimal FROM analytics.v_placements ORDER BY target, defector").fetchall()
    assert len(view) == len(table) > 0
    for t, v in zip(table, view):
        assert v[:3] == t[:3]
        assert (v[3].split(", ") if v[3] else []) == t[3]
        assert v[4] == pytest.approx(100 * t[4])
        assert v[5:] == t[5:]
