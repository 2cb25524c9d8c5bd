"""A run's own publish step (the last asset of the main job, whoever launches the run):
the build is swapped in with a ledger record only after every blocking check passed;
scenario text that looks like SQL is stored verbatim; subset runs publish nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb

from chokepoint.warehouse.store import clean_stale_builds, ledger_head, verify_warehouse
from tests.conftest import DATA, HOSTILE, materialize, resources


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _builds(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.parent.iterdir() if ".build-" in p.name)


def test_run_publishes_once_with_a_ledger_record(materialized):
    result, warehouse = materialized.result, materialized.database
    assert result.success
    published = [e for e in result.all_events
                 if e.is_step_materialization and e.asset_key == dg.AssetKey(["warehouse", "published"])]
    assert len(published) == 1
    report = verify_warehouse(warehouse)
    assert report.ok, report.problems
    head = report.head
    assert head["seq"] == 1 and head["run_id"] == result.run_id
    assert head["tables"]["analytics.capability"]["rows"] == 20  # 10 actors × 2 horizons
    reference_files = {p.name for p in (DATA / "reference").glob("*.csv")}
    assert {"countries.csv", "shares.csv", "eto_input_map.csv"} <= reference_files
    assert {Path(p).name for p in head["inputs"]} == reference_files | {"default.toml"}
    assert _builds(warehouse) == [], "the build is renamed into place, its lock removed"


def test_hostile_names_are_stored_verbatim_and_harm_nothing(real_run):
    assert real_run.returncode == 0, real_run.stderr[-2000:]
    warehouse = real_run.database
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT DISTINCT scenario FROM analytics.capability").fetchall() == [(HOSTILE,)]
        assert con.execute("SELECT name FROM staging.actors WHERE actor = 'CHN'").fetchone()[0] == f"China {HOSTILE}"
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] == 20  # 10 actors × 2 horizons
        tables = {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
            "('staging', 'analytics') AND table_type = 'BASE TABLE'").fetchall()}
    head = ledger_head(warehouse)
    assert len(tables) > 20 and tables == {t for t in head["tables"] if t.split(".")[0] in ("staging", "analytics")}
    assert head["scenario"]["name"] == HOSTILE
    assert head["scenario"]["parameters"]["description"].startswith(HOSTILE)


def test_failing_blocking_check_stops_publishing(materialized, tmp_path):
    """A blocking check that fails (here an injected one on the first staged table)
    stops the run before warehouse/published; the published file stays as it was."""
    warehouse = materialized.copy_warehouse(tmp_path / "w")
    before = _sha(warehouse)

    @dg.asset_check(asset=dg.AssetKey(["staging", "countries"]), blocking=True, name="injected_failure")
    def injected_failure():
        return dg.AssetCheckResult(passed=False, metadata={"why": "test"})

    result, _ = materialize(tmp_path, extra=[injected_failure], database=warehouse, direct=False,
                            data_mode="reference")
    assert not result.success
    ran = {e.step_key for e in result.all_events if e.is_step_success}
    assert not any("published" in key for key in ran)
    assert _sha(warehouse) == before
    assert verify_warehouse(warehouse).ok
    # The run ended, so its build's lock is free: the next refresh removes it.
    assert [name for name in _builds(warehouse) if not name.endswith(".lock")]
    assert clean_stale_builds(warehouse) and _builds(warehouse) == []


def test_a_subset_run_without_the_publish_asset_publishes_nothing(materialized, tmp_path):
    from pipelines.definitions import all_assets

    warehouse = materialized.copy_warehouse(tmp_path / "w")
    before = _sha(warehouse)
    sources = [a for a in all_assets if a.group_names_by_key and set(a.group_names_by_key.values()) == {"sources"}]
    found = resources(tmp_path, database=warehouse, objects=False, data_mode="reference")
    assert dg.materialize(sources, resources=found, instance=dg.DagsterInstance.ephemeral()).success
    assert _sha(warehouse) == before
