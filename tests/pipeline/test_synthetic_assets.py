"""The synthetic facility-level assets in a Dagster run: configuration reaches the
generator and the metrics, checks pass, tables are written."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from graph.parquet import read_network_parquet
from tests.conftest import DATA, resources


def test_synthetic_assets_materialize_with_config(tmp_path):
    from pipelines.assets import firms, sources, staging, synthetic_network

    # Staging reads the firm reference files (firms' source assets) for the real-data merge.
    selection = [*sources.assets, *staging.assets, *firms.assets, *synthetic_network.assets,
                 *synthetic_network.checks]
    folder = tmp_path / "synthetic"
    found = resources(tmp_path, database=tmp_path / "w.duckdb", direct=True, data_mode="reference")
    result = dg.materialize(selection, resources=found, instance=dg.DagsterInstance.ephemeral(), run_config={
        "ops": {"supply_graph__synthetic_network": {"config": {"nodes": 1_200, "seed": 3, "folder": str(folder)}},
                "synthetic_metrics": {"config": {"pivots": 16, "exact_betweenness_max_nodes": 500}}}})
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"synthetic_shares_preserved", "synthetic_chokepoints_consistent"}
    assert all(c.passed for c in checks)
    assert read_network_parquet(folder).num_nodes == 1_200
    materialized = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metrics = materialized["analytics/synthetic_chokepoints"].materialization.metadata
    assert metrics["betweenness_pivots_per_defector"].value == 16
    assert metrics["betweenness_exact"].value is False
    assert metrics["removal_loss_lp"].value is False  # opt-in (lp_max_nodes); LP metrics are tested directly
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        levels = con.execute("SELECT DISTINCT level FROM analytics.synthetic_concentration ORDER BY 1").fetchall()
        metrics_found = {r[0] for r in con.execute("SELECT DISTINCT metric FROM analytics.synthetic_chokepoints").fetchall()}
    assert levels == [("country",), ("facility",)]
    assert {"single_point_of_failure", "betweenness", "failure_cascade", "core_number"} <= metrics_found
    assert "removal_loss" not in metrics_found


@pytest.mark.slow
def test_main_job_runs_every_metric_at_a_million_synthetic_nodes(tmp_path, monkeypatch):
    """The whole main job (reference graph and the synthetic network at 10^6 nodes) with
    every asset check passing. A few minutes and a few GB on the 2-core machine."""
    from pipelines.definitions import defs

    monkeypatch.setenv("CHOKEPOINT_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CHOKEPOINT_DATA_DIR", str(DATA))
    monkeypatch.setenv("CHOKEPOINT_SCENARIO", "default")
    result = defs.resolve_job_def("main").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"ops": {"supply_graph__synthetic_network": {
            "config": {"nodes": 1_000_000, "folder": str(tmp_path / "synthetic")}}}})
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    metrics = {e.asset_key.to_user_string(): e.materialization.metadata
               for e in result.get_asset_materialization_events()}["analytics/synthetic_chokepoints"]
    assert metrics["nodes"].value == 1_000_000 and metrics["betweenness_pivots_per_defector"].value == 64
