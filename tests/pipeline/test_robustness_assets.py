"""The ``robustness`` asset group: one scenario partition materialised with its upstream
assets on the reference data through the engine resource, its blocking checks, and the
checks failing on tables that break what they promise."""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl
import pytest

from chokepoint.analyses.robust import ROBUST_PLACEMENTS_SCHEMA
from chokepoint.model.horizons import HORIZONS
from pipelines.assets.robustness import (SweepEngine, default_engine, rank_intervals_ordered,
                                         robust_placements_consistent, robustness_consistent)
from pipelines.partitions import scenario_keys
from tests.conftest import materialize

PARTITION = (dg.AssetSelection.assets(["analytics", "robustness"]).upstream().required_multi_asset_neighbors())


def test_every_partition_in_the_shared_run(real_run):
    """The shared run of every partition (``chokepoint run`` on the real data) swept every
    scenario partition in both horizons, each with that horizon's published point-estimate
    placements, and printed the probability line."""
    evaluations = {e.check_name: e for e in real_run.result.get_asset_check_evaluations()}
    for name in ("robustness_consistent", "rank_intervals_ordered", "robust_placements_consistent"):
        assert evaluations[name].passed, evaluations[name].metadata
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        found = {r[0] for r in con.execute("SELECT DISTINCT scenario FROM analytics.robustness").fetchall()}
        inputs = {r[0] for r in con.execute("SELECT DISTINCT scenario FROM analytics.uncertain_inputs").fetchall()}
        baselines = {table: dict(con.execute(f"SELECT scenario, list(DISTINCT baseline) FROM analytics.{table} "  # noqa: S608
                                             "GROUP BY 1").fetchall())
                     for table in ("robustness", "rank_intervals")}
        horizons = {table: set(con.execute(f"SELECT DISTINCT scenario, horizon FROM analytics.{table}").fetchall())  # noqa: S608
                    for table in ("robustness", "rank_intervals")}
        swept = con.execute("SELECT DISTINCT scenario, horizon, placement, list_sort(controls) "
                            "FROM analytics.robustness").fetchall()
        published = con.execute("SELECT DISTINCT scenario, horizon, placement_kind, list_sort(controls) "
                                "FROM analytics.deterrence WHERE placement_kind IN ('optimal', 'deter_all')").fetchall()
    assert found == inputs == set(scenario_keys())
    for table, pairs in horizons.items():
        assert pairs == {(k, h) for k in scenario_keys() for h in HORIZONS}, table
    assert {(s, h, p, tuple(c)) for s, h, p, c in swept} == {(s, h, p, tuple(c)) for s, h, p, c in published}
    # The status_quo partition's sweep keeps the controls in force in every sample.
    for table, found in baselines.items():
        assert found == {k: ["status_quo" if k == "status_quo" else "none"] for k in scenario_keys()}, table
    assert "deterred with probability" in real_run.stdout


@pytest.mark.slow
def test_one_partition_materialises_with_passing_checks(tmp_path):
    """Slow (≈ 50 s: the partition's upstream assets too); the shared run covers the same in the default run."""
    result, database = materialize(tmp_path, selection=PARTITION, partition_key="narrow", data_mode="reference")
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("robustness_consistent", "rank_intervals_ordered", "robust_placements_consistent"):
        assert evaluations[name].passed, evaluations[name].metadata
    samples = default_engine().samples
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT scenario, horizon, placement, samples FROM analytics.robustness "
                           "WHERE horizon = 'long_run'").fetchall()
        ranks = con.execute("SELECT count(*), min(rank_p50) FROM analytics.rank_intervals").fetchone()
        inputs = con.execute("SELECT count(*), count(*) FILTER (WHERE distribution <> 'fixed') "
                             "FROM analytics.uncertain_inputs WHERE scenario = 'narrow'").fetchone()
        defectors = con.execute("SELECT count(DISTINCT defector) FROM analytics.robustness").fetchone()[0]
        expected = con.execute("SELECT count(DISTINCT actor) FROM analytics.deterrence WHERE candidate_defector")
        expected = expected.fetchone()[0]
        kinds = {r[0] for r in con.execute("SELECT DISTINCT placement_kind FROM analytics.deterrence WHERE "
                                           "placement_kind IN ('optimal', 'deter_all') AND horizon = 'long_run'")
                 .fetchall()}
        horizons = {r[0] for r in con.execute("SELECT DISTINCT horizon FROM analytics.robustness").fetchall()}
    assert {(r[0], r[1], r[3]) for r in rows} == {("narrow", "long_run", samples)}
    assert horizons == set(HORIZONS)
    assert {r[2] for r in rows} == kinds and "optimal" in kinds
    assert defectors == expected
    assert ranks[0] > 0 and ranks[1] == 1
    assert inputs[0] > 0 and inputs[1] > 0     # data rows carry their provenance defaults


def _robustness(**changes) -> pl.DataFrame:
    row = {"scenario": "s", "horizon": "long_run", "defector": "D", "placement": "optimal", "controls": ["c"],
           "samples": 4, "p_deterred": 0.25, "p_deterred_se": (0.25 * 0.75 / 4) ** 0.5, "leverage_p05": 0.1,
           "leverage_p50": 0.2, "leverage_p95": 0.3, "margin_p05": -1.0, "margin_p50": 0.0, "margin_p95": 1.0,
           "seed": 0}
    row.update(changes)
    return pl.DataFrame([row])


@pytest.mark.parametrize("changes", [{"p_deterred": 1.5}, {"p_deterred_se": 0.01}, {"leverage_p05": 0.25},
                                     {"margin_p95": -2.0}, {"leverage_p95": 1.2}])
def test_robustness_check_fails_on_broken_rows(changes):
    assert robustness_consistent(_robustness()).passed
    assert not robustness_consistent(_robustness(**changes)).passed


def test_rank_and_robust_placement_checks_fail_on_broken_rows():
    ranks = pl.DataFrame({"scenario": ["s", "s"], "horizon": ["h", "h"], "entity": ["a", "b"], "samples": [3, 3],
                          "rank_p05": [1.0, 1.0], "rank_p50": [1.0, 2.0], "rank_p95": [2.0, 2.0]})
    assert rank_intervals_ordered(ranks).passed
    assert not rank_intervals_ordered(ranks.with_columns(pl.lit(3.0).alias("rank_p95"))).passed
    row = {"scenario": "s", "horizon": "h", "placement": "saa_mean", "objective": "mean", "controls": [],
           "cost": 1.0, "budget": 2.0, "train_samples": 2, "train_objective": 0.5, "train_bound": 0.5,
           "optimal": True, "status": "optimal", "test_samples": 4, "test_mean_leverage": 0.5,
           "test_cvar10_leverage": 0.4, "test_leverage_p05": 0.4, "test_p_all_deterred": 0.0, "seed": 0,
           "seconds": 1.0}
    point = {**row, "placement": "point_estimate", "objective": "point", "train_objective": 0.6, "optimal": False}
    good = pl.DataFrame([row, point], schema=ROBUST_PLACEMENTS_SCHEMA)
    assert robust_placements_consistent(good).passed
    for broken in ({"cost": 3.0}, {"test_cvar10_leverage": 0.6}, {"train_objective": 0.7}):
        frame = pl.DataFrame([{**row, **broken}, point], schema=ROBUST_PLACEMENTS_SCHEMA)
        assert not robust_placements_consistent(frame).passed, broken


def test_engine_runs_in_process_without_workers_or_scheduler():
    with SweepEngine(samples=2).client() as client:
        assert client is None


def test_the_main_jobs_sweep_is_small_unless_a_setting_raises_it(monkeypatch):
    """Two samples per partition and horizon by default, no removal-loss re-solves (the
    sweep's share of a real-data run is measured in docs/results.md); CHOKEPOINT_SWEEP_SAMPLES
    raises it, and a bad value names the setting."""
    from chokepoint.errors import InputError

    monkeypatch.delenv("CHOKEPOINT_SWEEP_SAMPLES", raising=False)
    assert default_engine().samples == SweepEngine().samples == 2
    assert default_engine().rank_solves == 0
    monkeypatch.setenv("CHOKEPOINT_SWEEP_SAMPLES", "200")
    assert default_engine().samples == 200
    monkeypatch.setenv("CHOKEPOINT_SWEEP_SAMPLES", "0")
    with pytest.raises(InputError, match="CHOKEPOINT_SWEEP_SAMPLES.*below the minimum 1"):
        default_engine()
