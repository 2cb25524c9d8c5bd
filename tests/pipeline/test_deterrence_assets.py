"""The partitioned deterrence assets (one partition per scenario file), their checks, the
summary verdict and the per-scenario reports, on the shared runs of every asset (every
partition: ``real_run``; the reference data's ``default`` partition: ``materialized``)."""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.baseline import scenario_baseline
from chokepoint.model.build import horizon_networks
from chokepoint.model.controls import control_route_masks
from chokepoint.warehouse.reads import staged_tables
from optimization.capability import CapabilityModel
from pipelines.partitions import scenario_keys
from tests.conftest import DATA, copy_data, materialize

TABLES = ("deterrence", "deter_all", "equilibria", "sensitivity", "recruitment")
#: The deterrence assets of one partition and what they need.
PARTITION = dg.AssetSelection.assets(["analytics", "deter_all"]).upstream().required_multi_asset_neighbors()


def test_deterrence_tables_cover_every_scenario_partition(real_run):
    evaluations = {e.check_name: e for e in real_run.result.get_asset_check_evaluations()}
    for name in ("deter_all_certified", "equilibria_agree_with_margins", "sensitivity_consistent",
                 "recruitment_monotone"):
        assert evaluations[name].passed, evaluations[name].metadata
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        for table in TABLES:
            found = {r[0] for r in con.execute(f"SELECT DISTINCT scenario FROM analytics.{table}").fetchall()}  # noqa: S608
            assert found == set(scenario_keys()), table


def test_one_partition_rematerialises_without_touching_the_others(real_run, tmp_path):
    """Every partition of a copy of the shared warehouse is marked; re-running one
    partition replaces its rows and leaves the others' as they were."""
    database = tmp_path / "w.duckdb"
    database.write_bytes(real_run.database.read_bytes())
    with duckdb.connect(str(database)) as con:
        con.execute("UPDATE analytics.deter_all SET status = 'marker'")
        marked = dict(con.execute("SELECT scenario, count(*) FROM analytics.deter_all GROUP BY 1").fetchall())
    assert set(marked) == set(scenario_keys()) and all(marked.values())
    result, _ = materialize(tmp_path, selection=PARTITION, partition_key="narrow", database=database,
                            data_mode="reference")
    assert result.success
    with duckdb.connect(str(database), read_only=True) as con:
        rows = dict(con.execute("SELECT scenario, count(*) FILTER (WHERE status = 'marker') FROM analytics.deter_all "
                                "GROUP BY 1").fetchall())
    assert rows == {key: (0 if key == "narrow" else marked[key]) for key in scenario_keys()}


def test_broken_partition_scenario_names_file_and_field(tmp_path):
    data = copy_data(tmp_path / "data")
    narrow = data / "scenarios" / "narrow.toml"
    narrow.write_text(narrow.read_text().replace("detection_probability = 0.5", "detection_probability = 1.5", 1))
    result, _ = materialize(tmp_path, selection=PARTITION, partition_key="narrow", data_dir=str(data),
                            data_mode="reference")
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert "narrow.toml" in error.message and "detection_probability" in error.message


def test_run_summary_prints_the_deterrence_verdict(materialized):
    from chokepoint.report.summary import print_summary

    buffer = io.StringIO()
    print_summary(Path(materialized.database), out=buffer)
    out = buffer.getvalue()
    assert "Deterrence verdict per candidate defector" in out
    for actor in ("CHN", "RUS", "ARE"):
        assert any(line.strip().startswith(f"{actor}:") for line in out.splitlines())
    assert "race game, placement 'optimal'" in out


def test_every_scenario_partition_gets_its_own_report(real_run):
    for key in scenario_keys():
        path = real_run.reports / f"{key}.html"
        text = path.read_text(encoding="utf-8")
        assert "Deter all: the verdict" in text and "Whom to recruit" in text, key
        assert "data:image/png;base64," in text      # margins plot embedded, no network needed
    # Only the run's scenario (default) has the full analysis.
    assert "Top chokepoints" in (real_run.reports / "default.html").read_text(encoding="utf-8")


def test_status_quo_figures_are_marginal_to_the_controls_in_force(real_run):
    """The status_quo partition's deterrence tables say `baseline = status_quo` (the others
    `none`), and a leverage they report is re-derived independently: attainable compute with
    the baseline's routes closed, then with the placement's routes closed too."""
    with duckdb.connect(str(real_run.database), read_only=True) as con:
        for table in TABLES:
            found = dict(con.execute(f"SELECT scenario, list(DISTINCT baseline) FROM analytics.{table} "  # noqa: S608
                                     "GROUP BY 1").fetchall())
            assert found == {key: ["status_quo" if key == "status_quo" else "none"] for key in scenario_keys()}, table
        rows = con.execute("SELECT horizon, actor, controls, leverage FROM analytics.deterrence "
                           "WHERE scenario = 'status_quo' AND placement_kind = 'optimal' AND candidate_defector "
                           "ORDER BY horizon, actor").fetchall()
        in_force = con.execute("SELECT * FROM staging.controls_in_force").pl()
        firms = con.execute("SELECT * FROM staging.firms").pl()
    tables = staged_tables(real_run.database)
    scenario = load_scenario(DATA / "scenarios" / "status_quo.toml")
    networks = horizon_networks(tables, scenario)
    assert rows and {r[0] for r in rows} == {"short_run", "long_run"}
    differs = 0
    for horizon, actor, controls, leverage in rows:
        network = networks[horizon]
        baseline = scenario_baseline(network, scenario, in_force, firms)
        assert baseline.name == "status_quo" and baseline.closed.any()
        masks = control_route_masks(network, scenario)
        placed = baseline.closed.copy()
        for control in controls:
            placed |= masks[control]
        model = CapabilityModel(network, solver="HIGHS", time_limit=60)
        sink = network.sink_of(network.actors.index(actor))
        before = model.solve(sink, (~baseline.closed).astype(float)).value
        after = model.solve(sink, (~placed).astype(float)).value
        expected = 0.0 if before <= 0 else max(0.0, 1 - after / before)
        assert leverage == pytest.approx(expected, abs=1e-6), (horizon, actor, controls)
        # Not marginal (no baseline) would read differently wherever the baseline bites.
        plain_before = model.solve(sink).value
        plain = np.zeros(network.num_edges, dtype=bool)
        for control in controls:
            plain |= masks[control]
        plain_after = model.solve(sink, (~plain).astype(float)).value
        differs += abs((0.0 if plain_before <= 0 else 1 - plain_after / plain_before) - expected) > 1e-6
    assert differs, "the baseline changes at least one leverage figure"
