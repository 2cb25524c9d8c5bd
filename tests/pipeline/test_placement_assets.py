"""The placement assets and their checks, the placements and leverage-curve tables, the
network read back from the warehouse and the summary block, on the shared run of every asset."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from chokepoint.analyses.placements import JOINT
from chokepoint.errors import InputError
from chokepoint.model.build import horizon_networks
from chokepoint.report.summary import placement_lines
from chokepoint.warehouse.reads import network_from_warehouse


@pytest.fixture(scope="module")
def network(materialized, scenario):
    """The long-run network built independently from the staged tables of the run."""
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        tables = {name: con.execute(f"SELECT * FROM staging.{name}").pl()
                  for name in ("countries", "input_types", "recipes", "capacities", "producers", "short_run_rules",
                               "qualifications", "compute_sourcing")}
    return horizon_networks(tables, scenario).long_run


def test_placement_assets_materialise_with_passing_checks(materialized):
    result = materialized.result
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("placements_certified", "placements_reproducible", "leverage_curve_certified",
                 "leverage_curve_reproducible"):
        assert name in evaluations and evaluations[name].passed, evaluations.get(name)


def test_placements_table(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.execute("SELECT * FROM analytics.placements").pl()
    assert set(frame["horizon"]) == {"short_run", "long_run"}
    # Controls bite in the long run; within the short run some defectors have nothing to lose to them.
    assert (frame.filter(pl.col("horizon") == "long_run")["leverage"] > 0).all()
    frame = frame.filter(pl.col("horizon") == "long_run")
    defectors = {a.id for a in scenario.defectors}
    assert set(frame["target"]) == defectors | {JOINT}
    assert set(frame.filter(pl.col("target") == JOINT)["defector"]) == defectors
    assert frame["optimal"].all() and (frame["status"] == "optimal").all()
    assert (frame["budget"] == scenario.settings.budget).all()
    single = frame.filter(pl.col("target") == pl.col("defector"))
    joint = frame.filter(pl.col("target") == JOINT)
    # Optimised against one defector, a placement is at least as good against it as the joint one.
    merged = single.join(joint, on="defector", suffix="_joint")
    assert merged.height == len(defectors)
    assert (merged["leverage"] >= merged["leverage_joint"] - 1e-9).all()


def test_leverage_curve_table(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.execute("SELECT * FROM analytics.leverage_curve ORDER BY target, point, defector").pl()
        placements = con.execute("SELECT * FROM analytics.placements").pl()
    assert frame["exact"].all()
    for horizon, target in frame.select("horizon", "target").unique().iter_rows():
        curve = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == target)).group_by("point").agg(
            pl.col("budget").first(), pl.col("objective").first()).sort("point")
        assert curve["budget"][0] == 0.0 and curve["objective"][0] == pytest.approx(1.0)
        assert (curve["budget"].diff().drop_nulls() > 0).all()
        assert (curve["objective"].diff().drop_nulls() < 0).all()
        # The curve at the scenario budget gives the placement's objective.
        at_budget = curve.filter(pl.col("budget") <= scenario.settings.budget + 1e-12)["objective"][-1]
        placed = placements.filter((pl.col("horizon") == horizon) & (pl.col("target") == target))["objective"][0]
        assert at_budget == pytest.approx(placed, abs=1e-7)


def test_network_from_warehouse_rebuilds_the_same_network(materialized, network):
    database = materialized.database
    again, scenario = network_from_warehouse(database)
    assert (again.num_nodes, again.num_edges) == (network.num_nodes, network.num_edges)
    assert scenario.name == "default"
    with pytest.raises(InputError, match="warehouse not found"):
        network_from_warehouse(database.with_name("missing.duckdb"))


def test_summary_prints_the_placement_block(materialized, scenario):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        text = "\n".join(placement_lines(con))
        frame = con.execute("SELECT * FROM analytics.placements").pl()
    assert "Optimal placement per candidate defector within budget 4" in text
    for horizon in ("short_run", "long_run"):
        for defector in scenario.defectors:
            row = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == defector.id)).row(0, named=True)
            assert f"\n{horizon:<10} {defector.id:<8} {100 * row['leverage']:7.1f}%" in text
            assert ", ".join(row["controls"]) in text
        joint = frame.filter((pl.col("horizon") == horizon) & (pl.col("target") == JOINT))
        assert f"\n{horizon:<10} ALL      {100 * joint['leverage'].mean():7.1f}%" in text
    assert "one placement against all:" in text


def test_summary_without_placements_table_prints_nothing_extra(tmp_path):
    database = tmp_path / "empty.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA analytics")
        assert placement_lines(con) == []
