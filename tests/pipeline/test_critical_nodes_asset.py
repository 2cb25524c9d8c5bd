"""The critical-nodes asset on the reference supply network, in the shared run of every asset."""

from __future__ import annotations

import duckdb

from pipelines.definitions import defs


def test_asset_is_in_the_main_job():
    keys = {key.to_user_string() for key in defs.resolve_job_def("main").asset_layer.executable_asset_keys}
    assert "analytics/critical_nodes" in keys


def test_critical_nodes_table_and_check(materialized):
    result, database = materialized.result, materialized.database
    assert result.success
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "critical_nodes_recomputed"]
    assert len(checks) == 1 and checks[0].passed, checks[0].metadata
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("SELECT k, count(*), min(pairwise_connectivity_after), max(pairwise_connectivity_before), "
                           "bool_and(lower_bound <= pairwise_connectivity_after) "
                           "FROM analytics.critical_nodes GROUP BY k ORDER BY k").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 5, 10]
    for k, count, after, before, bounded in rows:
        assert count == k and after < before and bounded
    afters = [r[2] for r in rows]
    assert afters == sorted(afters, reverse=True)
