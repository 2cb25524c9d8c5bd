"""``chokepoint sweep`` arguments and bad input: one line on stderr naming what to fix, exit 1,
the published warehouse untouched. (The sweep itself against a running cluster:
``tests/system/test_sweep_cluster.py``.)"""

from __future__ import annotations

import duckdb
import pytest

import chokepoint.analyses.montecarlo as montecarlo
from chokepoint.report.summary import robustness_lines
from chokepoint.warehouse.store import ledger_head
from pipelines.cli import build_parser, main
from tests.support.sweep_cases import SCENARIO_TEXT, publish_staged, write_scenario


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "warehouse" / "chokepoint.duckdb"
    publish_staged(path, write_scenario(tmp_path / "scenarios"))
    return path


def test_arguments():
    args = build_parser().parse_args(["sweep", "--samples", "10", "--seed", "3", "--workers", "2"])
    assert (args.samples, args.seed, args.workers, args.scheduler, args.train) == (10, 3, 2, None, 8)
    for bad in (["sweep", "--seed", "1"], ["sweep", "--samples", "0", "--seed", "1"],
                ["sweep", "--samples", "5", "--seed", "1", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_missing_warehouse_is_one_line(tmp_path, capsys):
    assert main(["sweep", "--samples", "2", "--seed", "1", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no published warehouse" in err


def test_bad_distribution_names_file_line_and_field(tmp_path, published, capsys):
    bad = write_scenario(tmp_path / "other", "bad", SCENARIO_TEXT.replace('dist = "triangular"', 'dist = "beta"'))
    before = ledger_head(published)
    assert main(["sweep", "--samples", "2", "--seed", "1", "--warehouse", str(published), "--scenario", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "bad.toml" in err and "detection_probability" in err and "unknown distribution 'beta'" in err
    assert "[uncertainty.actors.RUS] (line" in err
    assert ledger_head(published) == before


def test_unreachable_scheduler_is_one_line(published, capsys, monkeypatch):
    monkeypatch.setattr(montecarlo, "CONNECT_TIMEOUT", "1s")
    before = ledger_head(published)
    code = main(["sweep", "--samples", "2", "--seed", "1", "--warehouse", str(published), "--no-robust",
                 "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert ledger_head(published) == before


def test_run_summary_prints_the_probability_line():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analytics")
    con.execute("CREATE TABLE analytics.robustness (scenario VARCHAR, horizon VARCHAR, defector VARCHAR, "
                "placement VARCHAR, samples BIGINT, p_deterred DOUBLE, p_deterred_se DOUBLE)")
    con.execute("INSERT INTO analytics.robustness VALUES ('default', 'long_run', 'CHN', 'optimal', 16, 0.25, "
                "0.108), ('default', 'long_run', 'CHN', 'deter_all', 16, 0.5, 0.125), "
                "('narrow', 'long_run', 'RUS', 'optimal', 16, 1.0, 0.0)")
    lines = robustness_lines(con, "default")
    assert lines[-1] == ("  CHN (long_run): deterred with probability 0.25 ± 0.11 under the optimal placement "
                         "(n = 16)")
    assert len(lines) == 3
    assert robustness_lines(duckdb.connect(), "default") == []   # no table: no lines
