"""``chokepoint run`` end to end, as a user runs it (a subprocess of this interpreter).

The good runs are the two runs shared by the whole test run (tests/conftest.py): the
reference data on the default scenario partition (``materialized``) and the real data
fetched by the run itself into an empty cache, every partition (``real_run``), both made by
``chokepoint run --synthetic-nodes 1234``. Runs that must fail get copies.
"""

from __future__ import annotations

import hashlib
import re

import duckdb

from chokepoint.inputs.real.manifest import load_manifest
from pipelines.partitions import scenario_keys
from tests.conftest import SYNTHETIC_NODES, clean_env, run_cli
from tests.support.real_data import needs_mirror

DEFECTORS = ("CHN", "RUS", "ARE")


def _verdicts(stdout: str) -> dict[tuple[str, str], str]:
    """(horizon, defector) → its line of the summary's deterrence verdict: under the heading,
    a `` horizon:`` line, then the lines ``  ISO: …`` (the placement and race-game lines that
    follow them are not verdicts)."""
    block = stdout.split("Deterrence verdict per candidate defector", 1)[1].splitlines()[1:]
    found, horizon = {}, None
    for line in block:
        heading = re.match(r"^ ([a-z_]+):$", line)
        if heading:
            horizon = heading.group(1)
            continue
        match = re.match(r"^  ([A-Z]{3}): (.+)$", line)
        if match and horizon:
            found[(horizon, match.group(1))] = match.group(2)
        elif not line.startswith("  "):
            break
    return found


def test_run_prints_summary_and_publishes_warehouse(materialized):
    run = materialized
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "Top 10 chokepoints" in out
    for defector in DEFECTORS:
        assert f"\n{defector} " in out
    with duckdb.connect(str(run.database), read_only=True) as con:
        # The summary's first chokepoint is the warehouse's: the node with the largest mean
        # short-run removal loss over the defectors.
        top_input, top_country = con.execute(
            "SELECT input_id, iso3 FROM analytics.chokepoints WHERE scenario = 'default' AND horizon = 'short_run' "
            "AND metric = 'removal_loss' AND entity_type = 'node' GROUP BY ALL "
            "ORDER BY avg(value) DESC, input_id LIMIT 1").fetchone()
        assert re.search(rf"^ 1  {top_input} +{top_country} ", out, re.M), (top_input, top_country)
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 20  # 10 actors × 2 horizons
        rows = {(r[0], r[1]): r[2:] for r in con.execute(
            "SELECT horizon, defector, deterred, feasible_within_budget, deterrable, over_budget, margin "
            "FROM analytics.deter_all WHERE scenario = 'default'").fetchall()}
    leftovers = sorted(p.name for p in run.database.parent.iterdir() if p.name != run.database.name)
    assert leftovers == sorted([f"{run.database.name}.ledger.jsonl", f".{run.database.name}.publish.lock",
                                f"{run.database.stem}.snapshots"])  # the published snapshot, behind the link
    # The deterrence verdict of the run's scenario: one line per candidate defector, saying
    # what the warehouse says of it ("cannot be deterred" is not "deterred").
    verdicts = _verdicts(out)
    assert set(verdicts) == {(h, d) for h in ("short_run", "long_run") for d in DEFECTORS} == set(rows)
    for defector, (deterred, within, deterrable, over, margin) in rows.items():
        verdict = verdicts[defector]
        if deterred and within:
            assert verdict.startswith("deterred within budget") and margin >= -1e-6, (defector, verdict)
        elif deterrable and over:
            assert verdict.startswith("deterrable only over budget"), (defector, verdict)
        elif deterrable:
            assert verdict.startswith("deterrable alone, but"), (defector, verdict)
        else:
            assert verdict.startswith("cannot be deterred"), (defector, verdict)


def test_summary_says_what_the_controls_in_force_achieve(real_run):
    """The status_quo partition (analysed in the run of every partition) answers per defector
    and horizon what the controls in force achieve."""
    assert real_run.returncode == 0, real_run.stderr[-2000:]
    out = real_run.stdout
    assert "Controls in force (scenario 'status_quo'" in out
    for horizon in ("short_run", "long_run"):
        for defector in DEFECTORS:
            assert f"  status_quo/{defector} ({horizon}): controls in force take " in out, (horizon, defector)


def test_run_is_recorded_in_the_project_instance(materialized):
    import dagster as dg

    run = materialized.result.run
    assert run.job_name == "main" and run.status == dg.DagsterRunStatus.SUCCESS


def test_synthetic_nodes_sizes_the_synthetic_network_in_the_same_run(materialized):
    events = {e.asset_key.to_user_string(): e for e in materialized.result.get_asset_materialization_events()}
    for key in ("supply_graph/synthetic_network", "analytics/synthetic_chokepoints"):
        assert events[key].materialization.metadata["nodes"].value == SYNTHETIC_NODES, key
    with duckdb.connect(str(materialized.database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM analytics.synthetic_chokepoints").fetchone()[0] > 0


def test_bad_input_gives_one_line_error_and_keeps_published_warehouse(materialized, data_copy, tmp_path,
                                                                      dagster_home):
    warehouse = materialized.copy_warehouse(tmp_path / "w")
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    shares = data_copy / "reference" / "shares.csv"
    shares.write_text(shares.read_text().replace("euv_lithography,NLD,100.0", "euv_lithography,NLD,250"))
    env = {**materialized.env, "DAGSTER_HOME": str(dagster_home), "CHOKEPOINT_REPORTS": str(tmp_path / "r")}
    result = run_cli("run", "--data-dir", data_copy, "--warehouse", warehouse, env=env)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    assert "shares.csv, line" in error_lines[0] and "field 'share_pct'" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    assert not [p.name for p in warehouse.parent.iterdir() if ".build-" in p.name]


def test_unknown_scenario_is_a_clear_error(tmp_path, dagster_home):
    result = run_cli("run", "--scenario", "no_such_scenario", "--warehouse", tmp_path / "w.duckdb",
                     env=clean_env(DAGSTER_HOME=dagster_home, CHOKEPOINT_DATA_MODE="reference"))
    assert result.returncode == 1
    assert "no_such_scenario.toml: scenario file not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def summary_head(stdout: str) -> tuple[str, str]:
    """The summary's first two lines; without a mirror or cache a line about fetching the real data comes first."""
    lines = stdout.splitlines()
    start = [line.startswith("chokepoint run: scenario") for line in lines].index(True)
    return lines[start], lines[start + 1]


def test_run_says_it_fell_back_to_the_reference_data(materialized):
    first, second = summary_head(materialized.stdout)
    assert "data: embedded reference data" in first
    # No complete real-data copy: the reason names both places looked at.
    assert "no complete real-data copy" in second
    assert "no-mirror" in second and "no-cache" in second, second


@needs_mirror
def test_run_without_any_copy_fetches_verifies_then_runs_on_the_real_data(real_run):
    """The shared real-data run is the one end-to-end run from nothing: no mirror, an empty
    cache, a local server as the data origin (see ``tests/conftest.py::real_run``)."""
    assert real_run.returncode == 0, real_run.stderr[-2000:]
    ingested = load_manifest()["dataset"].drop_nulls().len()
    lines = real_run.stdout.splitlines()
    assert lines[0].startswith(f"chokepoint run: fetched {ingested} real-data files (")
    assert lines[1].startswith("chokepoint run: scenario ") and "data: real (" in lines[1]
    assert int((real_run.folder / "requests").read_text()) == ingested
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        # Every scenario partition analysed in the one run on the real data.
        assert {r[0] for r in con.execute("SELECT DISTINCT scenario FROM analytics.deter_all").fetchall()} \
            == set(scenario_keys())
        mode = con.execute("SELECT * FROM staging.data_mode").pl().row(0, named=True)
        files = con.execute("SELECT status, count(*) FROM staging.real_data_files GROUP BY status").fetchall()
    assert (mode["mode"], mode["requested"], mode["source"]) == ("real", "auto", "cache")
    assert mode["root"] == str(real_run.folder / "cache")
    assert files == [("ok", ingested)]


@needs_mirror
def test_run_says_which_real_data_it_used(real_run):
    assert real_run.returncode == 0, real_run.stderr[-2000:]
    first, second = summary_head(real_run.stdout)
    assert "data: real (ETO, Epoch AI, USGS, chip supply map; cache" in first and "merged over the reference" in first
    assert str(real_run.folder / "cache") in first
    assert "rows read =" in second and "capacities from real data" in second
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        assert con.execute("SELECT mode FROM staging.data_mode").fetchone()[0] == "real"
