"""The console script end to end, as a user runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from chokepoint.settings import PROJECT_ROOT

CHOKEPOINT = Path(sys.executable).with_name("chokepoint")
#: Not the synthetic asset's default, so that the good run shows the flag reached the asset.
SYNTHETIC_NODES = 1_234


def run_cli(*args, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    env.update(env_extra or {})
    return subprocess.run([str(CHOKEPOINT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_ROOT, env=env)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    warehouse = tmp / "warehouse" / "chokepoint.duckdb"
    env = {"DAGSTER_HOME": str(tmp / "dagster")}
    result = run_cli("run", "--warehouse", str(warehouse), "--synthetic-nodes", str(SYNTHETIC_NODES), env_extra=env)
    return result, warehouse, env


def test_run_prints_summary_and_publishes_warehouse(good_run):
    result, warehouse, env = good_run
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Top 10 chokepoints" in out
    for defector in ("CHN", "RUS", "ARE"):
        assert f"\n{defector} " in out
    assert "euv_lithography" in out
    # The deterrence verdict of the run's scenario, one line per candidate defector.
    verdict = out.split("Deterrence verdict per candidate defector", 1)[1].splitlines()
    for defector in ("CHN", "RUS", "ARE"):
        assert any(line.strip().startswith(f"{defector}: ") and ("deterred" in line) for line in verdict[:6])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 10
        assert con.execute("SELECT count(DISTINCT scenario) FROM analytics.deter_all").fetchone()[0] >= 3
    leftovers = sorted(p.name for p in warehouse.parent.iterdir() if p.name != warehouse.name)
    assert leftovers == sorted([f"{warehouse.name}.ledger.jsonl", f".{warehouse.name}.publish.lock",
                                f"{warehouse.stem}.snapshots"])  # the published snapshot, behind the link


def test_run_is_recorded_in_the_project_instance(good_run, monkeypatch):
    import dagster as dg

    _, _, env = good_run
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
    assert any(r.job_name == "main" and r.status == dg.DagsterRunStatus.SUCCESS for r in runs)


def test_synthetic_nodes_sizes_the_synthetic_network_in_the_same_run(good_run, monkeypatch):
    import dagster as dg

    result, warehouse, env = good_run
    assert result.returncode == 0, result.stderr[-2000:]
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        events = {key: instance.get_latest_materialization_event(dg.AssetKey(list(key)))
                  for key in (("supply_graph", "synthetic_network"), ("analytics", "synthetic_chokepoints"))}
        runs = {event.run_id: instance.get_run_by_id(event.run_id) for event in events.values()}
    assert len(runs) == 1, "both synthetic assets come from one run"
    assert all(run.job_name == "main" and run.status == dg.DagsterRunStatus.SUCCESS for run in runs.values())
    assert events["supply_graph", "synthetic_network"].asset_materialization.metadata["nodes"].value == SYNTHETIC_NODES
    assert events["analytics", "synthetic_chokepoints"].asset_materialization.metadata["nodes"].value == SYNTHETIC_NODES
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.synthetic_chokepoints").fetchone()[0] > 0


@pytest.mark.parametrize("bad", ["0", "-5", "many", "1.5"])
def test_synthetic_nodes_must_be_a_positive_whole_number(bad, capsys):
    from pipelines.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--synthetic-nodes", bad])
    assert "--synthetic-nodes" in capsys.readouterr().err


def test_bad_input_gives_one_line_error_and_keeps_published_warehouse(good_run, data_copy):
    _, warehouse, env = good_run
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    shares = data_copy / "reference" / "shares.csv"
    shares.write_text(shares.read_text().replace("euv_lithography,NLD,100.0", "euv_lithography,NLD,250"))
    result = run_cli("run", "--data-dir", str(data_copy), "--warehouse", str(warehouse), env_extra=env)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    assert "shares.csv, line" in error_lines[0] and "field 'share_pct'" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert not [p.name for p in warehouse.parent.iterdir() if ".build-" in p.name]


def test_unknown_scenario_is_a_clear_error(good_run):
    _, warehouse, env = good_run
    result = run_cli("run", "--scenario", "no_such_scenario", "--warehouse", str(warehouse), env_extra=env)
    assert result.returncode == 1
    assert "no_such_scenario.toml: scenario file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_says_which_data_it_used(good_run):
    from chokepoint.settings import cache_dir, shared_data_dir

    result, warehouse, _ = good_run
    first, second = result.stdout.splitlines()[:2]
    real = any((root / "eto_chip_explorer" / "provision.csv").exists() for root in (shared_data_dir(), cache_dir()))
    if real:
        assert "data: real (ETO, Epoch AI, USGS, chip supply map;" in first and "merged over the reference" in first
        assert "rows read =" in second and "capacities from real data" in second
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT mode FROM staging.data_mode").fetchone()[0] == "real"
    else:
        assert "data: embedded reference data" in first
