"""Dagster definitions load, and the shared run of every asset (tests/conftest.py) fills the warehouse."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import all_checks, defs

EXPECTED_TABLES = {
    "staging": ["src_reference_countries", "src_reference_input_types", "src_reference_recipes",
                "src_reference_shares", "src_reference_compute_capacity", "src_scenario",
                "countries", "input_types", "recipes", "capacities", "actors", "controls"],
    "analytics": ["supply_nodes", "supply_edges", "concentration", "chokepoints", "control_leverage", "capability",
                  "placements", "leverage_curve", "deterrence", "deter_all", "equilibria", "recruitment",
                  "sensitivity", "robustness", "rank_intervals", "robust_placements", "uncertain_inputs"],
}
GROUPS = {"sources", "staging", "supply_graph", "chokepoints", "placements", "deterrence", "robustness", "reports",
          "publish"}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for schema, tables in EXPECTED_TABLES.items():
        for table in tables:
            assert f"{schema}/{table}" in keys
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == GROUPS
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key} has no description"
    assert defs.resolve_job_def("main") is not None
    assert defs.resolve_schedule_def("weekly_refresh").cron_schedule == "0 3 * * 1"


#: Written but empty in the default run: the robust placements need training MILPs, which the
#: main job leaves to `chokepoint sweep` (`CHOKEPOINT_SWEEP_TRAIN`; docs/design.md#12-uncertainty).
EMPTY_BY_DEFAULT = {"analytics.robust_placements"}


def test_materialize_writes_every_table(materialized):
    result, database = materialized.result, materialized.database
    assert result.success
    with duckdb.connect(str(database), read_only=True) as con:
        for schema, tables in EXPECTED_TABLES.items():
            for table in tables:
                rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
                if f"{schema}.{table}" in EMPTY_BY_DEFAULT:
                    continue
                assert rows > 0, f"{schema}.{table} is empty"


def test_every_asset_check_passed(materialized):
    result = materialized.result
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(all_checks)
    failed = [(e.asset_key.to_user_string(), e.check_name, e.metadata) for e in evaluations if not e.passed]
    assert not failed


def test_warehouse_figures_trace_back_to_source_rows(materialized):
    database = materialized.database
    with duckdb.connect(str(database), read_only=True) as con:
        origin, share = con.execute(
            "SELECT origin, share FROM staging.capacities WHERE input_id = 'euv_lithography' AND iso3 = 'NLD'").fetchone()
        file, line = origin.split(":")
        raw = con.execute(f"SELECT share_pct FROM staging.src_reference_{file.removesuffix('.csv')} "
                          "WHERE _line = ?", [int(line)]).fetchone()[0]
    assert float(raw) / 100 == pytest.approx(share)


def test_summary_says_the_run_used_the_reference_data(materialized):
    """The shared run names empty folders as mirror and cache: the data mode falls back to the reference data."""
    import io

    from chokepoint.report.summary import print_summary

    database = materialized.database
    out = io.StringIO()
    print_summary(database, out=out)
    first, second = out.getvalue().splitlines()[:2]
    assert "data: embedded reference data" in first
    assert second.strip().startswith("no complete real-data copy — cache ") and "no-mirror" in second
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT mode FROM staging.data_mode").fetchone()[0] == "reference"
        assert con.execute("SELECT count(*) FROM staging.capacities WHERE winner = 'real'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM staging.provision").fetchone()[0] == 0  # exists, empty


def test_the_report_asset_shows_the_figures_of_the_written_report(materialized):
    """Dagit's plots of the HTML report asset are the report's own figures (rendered once)."""
    event = next(e for e in materialized.result.get_asset_materialization_events()
                 if e.asset_key == dg.AssetKey(["reports", "html_report"]))
    metadata = event.step_materialization_data.materialization.metadata
    page = (materialized.reports / "default.html").read_text(encoding="utf-8")
    for label in ("chokepoint_ranking", "capability"):
        uri = metadata[label].value.split("](", 1)[1].rstrip(")")
        assert uri.startswith("data:image/png;base64,") and len(uri) > 1_000
        assert f'src="{uri}"' in page, f"{label}: Dagit's plot is not the report's figure"
