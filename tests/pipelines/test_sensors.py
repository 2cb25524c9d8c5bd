"""Operations: inbox sensor, run-failure recording, daily source check, schedules, freshness."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import duckdb
import pytest

from chokepoint.inputs.inbox import changed_files, scan_inbox
from chokepoint.inputs.source_check import check_inputs
from chokepoint.warehouse.store import ledger_head, record_run_failure, verify_warehouse
from pipelines.definitions import defs
from pipelines.sensors import inbox_sensor, record_failed_runs
from pipelines.jobs import FRESH_TABLES, WEEKLY_FRESHNESS


@pytest.fixture
def inbox(tmp_path):
    root = tmp_path / "inbox"
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "shares.csv").write_text("a,b\n1,2\n")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "default.toml").write_text('name = "x"\n')
    (root / "notes.txt").write_text("not an input")
    return root


def test_scan_hashes_inputs_and_refuses_links_and_escapes(inbox, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("secret,1\n")
    (inbox / "reference" / "linked.csv").symlink_to(outside)
    (inbox / "reference" / "inside_link.csv").symlink_to(inbox / "reference" / "shares.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.csv").write_text("x\n")
    (inbox / "escape").symlink_to(elsewhere, target_is_directory=True)
    state = scan_inbox(inbox)
    assert set(state.files) == {"reference/shares.csv", "scenarios/default.toml"}
    refused = dict(state.rejected)
    assert set(refused) == {"reference/linked.csv", "reference/inside_link.csv", "escape"}
    assert all(reason for reason in refused.values())


def test_changed_files_names_new_changed_and_removed():
    assert changed_files({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {"b": "changed", "c": "new"}
    assert changed_files({"a": "1"}, {}) == {"a": "removed"}


def test_inbox_sensor_records_first_then_triggers_once_per_state(inbox, monkeypatch):
    monkeypatch.setenv("CHOKEPOINT_INBOX", str(inbox))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        first = inbox_sensor(context)
        assert isinstance(first, dg.SkipReason) and "2 input files recorded" in first.skip_message
        cursor = context.cursor
        assert set(json.loads(cursor)) == {"reference/shares.csv", "scenarios/default.toml"}

        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        assert isinstance(inbox_sensor(context), dg.SkipReason)  # nothing changed

        (inbox / "reference" / "shares.csv").write_text("a,b\n1,3\n")
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        request = inbox_sensor(context)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == scan_inbox(inbox).fingerprint
        assert "reference/shares.csv (changed)" in request.tags["chokepoint/changed_files"]

        # A link dropped into the inbox is refused: it changes nothing and triggers nothing.
        cursor = context.cursor
        (inbox / "reference" / "evil.csv").symlink_to("/etc/passwd")
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        assert isinstance(inbox_sensor(context), dg.SkipReason)


@pytest.fixture
def published(materialized, tmp_path):
    """A copy of the session's published warehouse with its ledger."""
    from chokepoint.warehouse.store import WarehousePaths

    target = tmp_path / "w" / "chokepoint.duckdb"
    target.parent.mkdir()
    shutil.copyfile(materialized.database, target)
    shutil.copyfile(WarehousePaths.of(materialized.database).ledger_file, WarehousePaths.of(target).ledger_file)
    return target


def test_record_run_failure_publishes_a_copy_with_the_row(published):
    before = ledger_head(published)
    record = record_run_failure(published, {"run_id": "r1", "job": "main", "failed_at": "2026-11-27T00:00:00Z",
                                            "failed_steps": "a, b", "message": "x'); DROP TABLE t; --"})
    assert record["kind"] == "run_failure" and record["prev"] == before["hash"]
    assert record["inputs"] == before["inputs"]
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute("SELECT run_id, job, message FROM ops.run_failures").fetchall()
        assert con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0] > 0
    assert rows == [("r1", "main", "x'); DROP TABLE t; --")]
    report = verify_warehouse(published)
    assert report.ok, report.problems
    log = published.with_name(published.name + ".run_failures.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["run_id"] == "r1"


def test_run_failure_sensor_records_a_real_failed_run(published, monkeypatch):
    monkeypatch.setenv("CHOKEPOINT_WAREHOUSE", str(published))

    @dg.op
    def explode():
        raise RuntimeError("transient disk error on /data")

    @dg.job
    def failing():
        explode()

    with dg.instance_for_test() as instance:
        result = failing.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"
                       or e.event_type_value == "RUN_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="record_failed_runs", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure).for_run_failure()
        record_failed_runs(context)
    with duckdb.connect(str(published), read_only=True) as con:
        row = con.execute("SELECT job, failed_steps, message FROM ops.run_failures").fetchone()
    assert row[0] == "failing" and row[1] == "explode" and "transient disk error" in row[2]


def test_daily_source_check_passes_on_good_data_and_names_bad_input(tmp_path, monkeypatch, data_copy):
    monkeypatch.setenv("CHOKEPOINT_DATA_DIR", str(data_copy))
    monkeypatch.setenv("CHOKEPOINT_DATA_MODE", "reference")
    job = defs.resolve_job_def("check_sources_job")
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        shares = data_copy / "reference" / "shares.csv"
        shares.write_text(shares.read_text().replace("gallium,CHN,98.4", "gallium,CHN,-3"))
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert "shares.csv, line" in error.message and "field 'share_pct'" in error.message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"], "bad input is not retried"


def test_daily_source_check_retries_transient_trouble(monkeypatch, data_copy):
    monkeypatch.setenv("CHOKEPOINT_DATA_DIR", str(data_copy))
    monkeypatch.setenv("CHOKEPOINT_DATA_MODE", "reference")
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("Input/output error")
        return check_inputs(*args, **kwargs)

    monkeypatch.setattr("pipelines.jobs.check_inputs", flaky)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("check_sources_job").execute_in_process(instance=instance)
    assert result.success and len(calls) == 2
    assert [e.event_type_value for e in result.all_events].count("STEP_UP_FOR_RETRY") == 1


def test_schedules_sensors_and_freshness_are_defined():
    assert defs.resolve_schedule_def("weekly_refresh").cron_schedule == "0 3 * * 1"
    assert defs.resolve_schedule_def("daily_source_check").cron_schedule == "0 2 * * *"
    names = {s.name for s in defs.sensors}
    assert {"inbox_sensor", "record_failed_runs"} <= names
    graph = defs.resolve_asset_graph()
    fresh = {key for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy is not None}
    assert fresh == {dg.AssetKey(list(k)) for k in FRESH_TABLES}
    assert graph.get(dg.AssetKey(["analytics", "chokepoints"])).freshness_policy == WEEKLY_FRESHNESS
