"""Small published warehouses built without a pipeline run (for ledger and publishing tests)."""

from __future__ import annotations

import hashlib

import duckdb

from chokepoint.warehouse.store import discard_build, open_build, publish_build
from tests.conftest import DEFAULT_SCENARIO

__all__ = ["make_tables", "publish_generation"]


def make_tables(con, generation: int, scenario=DEFAULT_SCENARIO) -> None:
    """A small warehouse whose row counts and values depend on ``generation``."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    raw = scenario.read_bytes()
    con.execute("CREATE OR REPLACE TABLE staging.src_scenario (scenario VARCHAR, path VARCHAR, sha256 VARCHAR, text VARCHAR)")
    con.execute("INSERT INTO staging.src_scenario VALUES (?, ?, ?, ?)",
                [scenario.stem, str(scenario), hashlib.sha256(raw).hexdigest(), raw.decode()])
    con.execute("CREATE OR REPLACE TABLE analytics.capability (actor VARCHAR, capability DOUBLE, members VARCHAR[])")
    con.executemany("INSERT INTO analytics.capability VALUES (?, ?, ?)",
                    [[f"A{i}", i * (generation + 1) / 3.0, [f"C{i}", "X"]] for i in range(5 + generation)])
    con.execute("CREATE OR REPLACE TABLE analytics.ratio AS SELECT range AS i, range / 7.0 AS x "
                "FROM range(100 + 3 * ?)", [generation])


def publish_generation(published, generation: int, *, keep: int = 3, scenario=DEFAULT_SCENARIO) -> dict:
    """Build a small warehouse for ``generation`` and publish it."""
    build = open_build(published, f"test-gen{generation}-{id(published) % 10_000}", fresh=True)
    try:
        with duckdb.connect(str(build)) as con:
            make_tables(con, generation, scenario)
        return publish_build(build, published, run_id=f"gen{generation}", keep=keep)
    finally:
        discard_build(build)
