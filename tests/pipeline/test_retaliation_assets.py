"""The two-sided leverage assets (pipelines/assets/retaliation.py) on the status_quo partition: its tables, its blocking checks, and
figures re-derived from the tables themselves (coalition loss, credibility, game)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from chokepoint.inputs.scenario import load_scenario
from chokepoint.report.two_sided import two_sided_lines
from tests.conftest import DATA, materialize
from tests.pipeline.test_warehouse_docs import QUERIES

pytestmark = pytest.mark.slow   # ~90 s: the deterrence and retaliation analyses of one partition

TABLES = ("baseline_effect", "counter_chokepoints", "retaliation", "equilibria_retaliation", "verification")
SELECTION = (dg.AssetSelection.assets(*(["analytics", t] for t in TABLES)).upstream()
             .required_multi_asset_neighbors())


@pytest.fixture(scope="module")
def status_quo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retaliation")
    result, database = materialize(tmp, selection=SELECTION, partition_key="status_quo", data_mode="reference")
    assert result.success
    return result, database


def test_every_table_has_status_quo_rows_and_checks_pass(status_quo):
    result, database = status_quo
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("baseline_effect_consistent", "counter_chokepoints_consistent", "retaliation_certified",
                 "equilibria_without_retaliation_match", "verification_consistent"):
        assert evaluations[name].passed, evaluations[name].metadata
    with duckdb.connect(str(database), read_only=True) as con:
        for table in TABLES:
            found = {r[0] for r in con.execute(f"SELECT DISTINCT scenario FROM analytics.{table}").fetchall()}  # noqa: S608
            assert found == {"status_quo"}, table
            assert con.execute(f"SELECT DISTINCT baseline FROM analytics.{table}").fetchall() == [("status_quo",)]  # noqa: S608


def test_credibility_is_reported_not_dropped(status_quo):
    _, database = status_quo
    with duckdb.connect(str(database), read_only=True) as con:
        placements = dict(con.execute("SELECT horizon, count(DISTINCT placement) FROM analytics.deterrence "
                                      "WHERE scenario = 'status_quo' GROUP BY 1").fetchall())
        rows = con.execute("SELECT horizon, placement, defector, count(*), bool_and(credible) = bool_or(credible), "
                           "any_value(expected_loss), any_value(detection_probability * coalition_loss) "
                           "FROM analytics.retaliation GROUP BY ALL").fetchall()
    signatories = sum(a.signatory for a in load_scenario(DATA / "scenarios" / "status_quo.toml").actors)
    assert {r[0] for r in rows} == {"short_run", "long_run"}
    assert all(len({r[1] for r in rows if r[0] == h}) == placements[h] for h in ("short_run", "long_run"))
    for _, _, _, count, one_verdict, expected, product in rows:
        assert count == signatories and one_verdict and expected == pytest.approx(product)


def test_game_with_retaliation_has_both_cases_per_placement(status_quo):
    _, database = status_quo
    with duckdb.connect(str(database), read_only=True) as con:
        cases = con.execute("SELECT horizon, placement, list(DISTINCT retaliation ORDER BY retaliation) "
                            "FROM analytics.equilibria_retaliation GROUP BY 1, 2").fetchall()
        # Without retaliation the game is the one of analytics.equilibria.
        same = con.execute(
            "SELECT count(*) FROM analytics.equilibria_retaliation r JOIN analytics.equilibria e "
            "USING (scenario, horizon, placement, equilibrium) WHERE r.retaliation = 'without' "
            "AND (r.defectors <> e.defectors OR r.kind <> e.kind)").fetchone()[0]
    assert {h for h, _, _ in cases} == {"short_run", "long_run"}
    assert all(c == ["with", "without"] for _, _, c in cases)
    assert same == 0


def test_documented_examples_on_these_tables_answer(status_quo):
    """The example queries of docs/warehouse.md that read this group's tables return rows on the
    status_quo partition (the full-warehouse test runs them all on a complete run)."""
    _, database = status_quo
    ours = [(q, sql) for q, sql in QUERIES if any(f"analytics.{t}" in sql for t in TABLES)]
    assert len(ours) >= 3
    with duckdb.connect(str(database), read_only=True) as con:
        for question, sql in ours:
            assert con.execute(sql).fetchall(), question


def test_summary_lines_per_defector(status_quo):
    _, database = status_quo
    defectors = [a.id for a in load_scenario(DATA / "scenarios" / "status_quo.toml").defectors]
    with duckdb.connect(str(database), read_only=True) as con:
        lines = two_sided_lines(con, "status_quo")
    assert [line.split(":")[0] for line in lines] == [f"status_quo/{d} ({h})" for h in ("short_run", "long_run")
                                                      for d in defectors]
    assert all("controls in force take" in line and "retaliation" in line for line in lines)
