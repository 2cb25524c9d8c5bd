"""The controls-in-force assets: source and staged table in DuckDB, the blocking check, bad or missing files."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from pipelines.assets.controls_in_force import STAGED_SCHEMA
from pipelines.definitions import all_assets, all_checks
from pipelines.io import WarehouseIOManager
from pipelines.partitions import ALL_SCENARIOS_TAGS
from pipelines.resources import ChokepointSettings
from tests.conftest import DATA

SELECTION = dg.AssetSelection.assets(["staging", "controls_in_force"]).upstream().required_multi_asset_neighbors()


def _run(tmp_path, data_dir):
    database = tmp_path / "w.duckdb"
    resources = {
        "settings": ChokepointSettings(data_dir=str(data_dir), scenario="default", data_mode="reference"),
        "io_manager": WarehouseIOManager(database=str(database), direct=True),
        "object_io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "objects")),
    }
    result = dg.materialize([*all_assets, *all_checks], resources=resources, selection=SELECTION,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags=ALL_SCENARIOS_TAGS)
    return result, database


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("controls"), DATA)


def test_the_staged_table_has_every_row_typed_with_provenance(run):
    result, database = run
    assert result.success
    with duckdb.connect(str(database), read_only=True) as con:
        columns = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                              "'staging' AND table_name = 'controls_in_force' ORDER BY ordinal_position").fetchall()
        rows = con.execute("SELECT count(*), count(DISTINCT _line), min(_line) FROM staging.controls_in_force").fetchone()
        source = con.execute("SELECT count(*) FROM staging.src_reference_controls_in_force").fetchone()[0]
        cited = con.execute("SELECT source FROM staging.controls_in_force WHERE measure_id = ?",
                            ["cn-2023-23-gallium"]).fetchone()[0]
    assert [c for c, _ in columns] == list(STAGED_SCHEMA)
    assert dict(columns)["in_force_from"] == "DATE" and dict(columns)["modelled"] == "BOOLEAN"
    assert rows[0] == rows[1] == source >= 25 and rows[2] == 2
    assert cited.startswith("MOFCOM/GAC Announcement No. 23 of 2023") and cited.endswith(")")


def test_the_check_passes_on_the_real_file(run):
    result, _ = run
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = checks["controls_in_force_cited_and_consistent"]
    assert check.passed and check.metadata["uncited"].value == 0 and check.metadata["inconsistent"].value == 0


def test_a_data_folder_without_the_file_gives_an_empty_table(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA / "reference", data / "reference", ignore=shutil.ignore_patterns("controls_in_force.csv"))
    shutil.copytree(DATA / "scenarios", data / "scenarios")
    result, database = _run(tmp_path, data)
    assert result.success
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM staging.controls_in_force").fetchone()[0] == 0


def test_a_bad_row_stops_the_run_naming_file_line_and_field(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA / "reference", data / "reference")
    shutil.copytree(DATA / "scenarios", data / "scenarios")
    path = data / "reference" / "controls_in_force.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(",USA,", ",USX,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    result, _ = _run(tmp_path, data)
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [f.step_key for f in failures] == ["staging__controls_in_force"]
    error = failures[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert "controls_in_force.csv, line 4, field 'imposed_by'" in error.message
