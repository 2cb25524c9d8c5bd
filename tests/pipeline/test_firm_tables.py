"""The firm- and facility-level tables in a warehouse built on the reference data (the session's
``materialized`` run): present, checked, and the country totals equal the sum of their producers."""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.assets.firms import checks as firm_checks
from pipelines.definitions import defs

NEW_TABLES = ("producers", "firm_capacity", "short_run_rules", "qualifications", "compute_sourcing", "facilities",
              "fab_campuses", "list_entries", "list_matches", "list_skipped")


@pytest.fixture(scope="module")
def warehouse(materialized):
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        yield con


def sql(con, query: str) -> pl.DataFrame:
    return con.execute(query).pl()


def test_every_new_asset_has_a_description_and_its_checks_ran_and_passed(materialized):
    graph = defs.resolve_asset_graph()
    for table in NEW_TABLES:
        assert graph.get(dg.AssetKey(["staging", table])).description, table
    evaluations = {e.check_name: e.passed for e in materialized.result.get_asset_check_evaluations()}
    for check in firm_checks:
        for spec in check.check_specs:
            assert evaluations[spec.name], spec.name


def test_country_totals_equal_the_sum_of_their_producers(warehouse):
    joined = sql(warehouse, """
        SELECT c.input_id, c.iso3, c.capacity AS country, sum(p.capacity) AS producers
        FROM staging.capacities c JOIN staging.producers p USING (input_id, iso3)
        GROUP BY ALL""")
    assert joined.height == sql(warehouse, "SELECT count(*) AS n FROM staging.capacities")["n"][0]
    assert (((joined["producers"] - joined["country"]).abs() / joined["country"]) <= 1e-9).all()
    levels = set(sql(warehouse, "SELECT DISTINCT level FROM staging.producers")["level"])
    assert levels == {"country", "firm"}  # no facilities without the atlas


def test_reference_mode_names_firms_with_roles_but_no_lists_or_facilities(warehouse):
    firms = sql(warehouse, "SELECT firm_id, datasets, roles, lists FROM staging.firms")
    assert firms.height > 0 and firms["datasets"].list.contains("reference").all()
    roles = dict(zip(firms["firm_id"].to_list(), firms["roles"].to_list()))
    assert "foundry" in roles["tsmc"] and "memory" in roles["sk-hynix"] and "designer" in roles["nvidia"]
    assert firms["lists"].list.len().sum() == 0
    for table in ("facilities", "fab_campuses", "list_entries", "list_matches", "list_skipped"):
        assert sql(warehouse, f"SELECT count(*) AS n FROM staging.{table}")["n"][0] == 0, table
    rules = sql(warehouse, "SELECT count(*) AS n FROM staging.short_run_rules")["n"][0]
    assert rules == sql(warehouse, "SELECT count(*) AS n FROM staging.input_types")["n"][0]
