"""Analysts and refreshes never block each other: clients holding the warehouse open.

As an analyst would: a DuckDB client opens the published ``chokepoint.duckdb`` the
default way (read-write, as the DuckDB shell and most SQL tools do), one connection
idle between queries and one inside an open transaction, and keeps querying while a
``chokepoint run`` of every asset (on one scenario partition) refreshes the warehouse
and ``chokepoint sql`` is used from another terminal; then the same around
``chokepoint rollback``. The refresh and the
rollback publish, the client keeps its snapshot, a new connection sees the new run,
``chokepoint verify`` passes.

Cheaper cases on small warehouses (no pipeline run) pin down the rest: the WAL of a
client that writes through the link is its snapshot's own; a WAL left by a killed
writer is moved aside, never replayed; tables a client wrote are not carried into a
new publish; a plain published file held read-write becomes a link; held snapshots
are pruned only past the retention period. Figures go to
``tests/artifacts/reliability-held-connections.json`` (quoted by bench/bench_reliability.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from chokepoint.settings import PROJECT_ROOT
from chokepoint.warehouse.ledger import read_chain
from chokepoint.warehouse.store import (
    WarehousePaths,
    current_snapshot,
    discard_build,
    holders,
    ledger_head,
    list_snapshots,
    open_build,
    publish_build,
    rollback,
    verify_warehouse,
)
from tests.conftest import copy_data

DATA = PROJECT_ROOT / "data"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
FULL_RUN_CAPABILITY_ROWS = 20  # 10 actors × 2 horizons (short_run, long_run)
CLI = [sys.executable, "-m", "pipelines.cli"]


def _env(tmp: Path, warehouse: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    env.update({"DAGSTER_HOME": str(tmp / "dagster"), "CHOKEPOINT_WAREHOUSE": str(warehouse),
                "CHOKEPOINT_KEEP_SNAPSHOTS": "2", "CHOKEPOINT_SCENARIO": "default",
                "CHOKEPOINT_DATA_DIR": str(DATA), "CHOKEPOINT_DATA_MODE": "reference", **extra})
    return env


def _publish_small(published: Path, rows: int, *, keep: int = 3, extra_sql: str = "") -> dict:
    """Publish a small warehouse whose analytics.capability has ``rows`` rows."""
    build = open_build(published, f"small-{rows}-{time.monotonic_ns()}", fresh=True)
    try:
        with duckdb.connect(str(build)) as con:
            con.execute("CREATE SCHEMA analytics")
            con.execute("CREATE TABLE analytics.capability AS SELECT 'A' || range AS actor, range / 3.0 AS capability "
                        "FROM range(?)", [rows])
            if extra_sql:
                con.execute(extra_sql)
        return publish_build(build, published, run_id=f"small-{rows}", keep=keep)
    finally:
        discard_build(build)


# A client as an analyst opens it: duckdb.connect(path), read-write. Connection `idle`
# autocommits; `txn` stays inside one transaction from before the refresh to the end.
# Each line on stdin asks for one round of queries; each answer is one JSON line.
_CLIENT = textwrap.dedent("""
    import json, sys, duckdb
    idle = duckdb.connect(sys.argv[1])
    txn = duckdb.connect(sys.argv[1])
    txn.execute("BEGIN TRANSACTION")
    QUERY = ("SELECT (SELECT count(*) FROM analytics.capability), (SELECT max(seq) FROM ledger.records), "
             "(SELECT json_extract_string(record, '$.run_id') FROM ledger.records ORDER BY seq DESC LIMIT 1)")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        answer = {}
        for name, con in (("idle", idle), ("txn", txn)):
            try:
                answer[name] = list(con.execute(QUERY).fetchone())
            except Exception as exc:
                answer[name] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(answer), flush=True)
    txn.execute("COMMIT")
""")


class Client:
    """A read-write DuckDB client in its own process, holding ``path`` open."""

    def __init__(self, path: Path, env: dict):
        self.process = subprocess.Popen([sys.executable, "-c", _CLIENT, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        ready = self.process.stdout.readline()
        assert json.loads(ready or "{}").get("ready"), self.process.stderr.read()[-2000:]
        self.answers: list[dict] = []

    def ask(self) -> dict:
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def _count_and_seq(path: Path) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as con:  # a new connection, through the link
        return (con.execute("SELECT count(*) FROM analytics.capability").fetchone()[0],
                con.execute("SELECT max(seq) FROM ledger.records").fetchone()[0])


def _record(payload: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "reliability-held-connections.json").write_text(json.dumps(payload, indent=2) + "\n")


# --- a full refresh and a rollback while a client holds the warehouse read-write -------

@pytest.mark.timeout(3000)
def test_full_refresh_and_rollback_while_a_client_holds_the_warehouse_read_write(tmp_path):
    warehouse = tmp_path / "warehouse" / "chokepoint.duckdb"
    # A whole run of every asset, on one scenario partition (the others add time, not behaviour here).
    env = _env(tmp_path, warehouse, CHOKEPOINT_DATA_DIR=str(copy_data(tmp_path / "data", scenarios=("default",))))
    _publish_small(warehouse, 3)
    client = Client(warehouse, env)
    figures = {"refresh": {}, "rollback": {}, "sql_during_refresh": {}}
    try:
        assert client.ask() == {"idle": [3, 1, "small-3"], "txn": [3, 1, "small-3"]}
        held = current_snapshot(warehouse)
        assert any(mode == "WRITE" for _, mode in holders(held)), "the client holds the file read-write"

        # A full refresh from another terminal, while the client keeps querying and
        # `chokepoint sql` (one query and the shell) is used meanwhile.
        started = time.monotonic()
        refresh = subprocess.Popen([*CLI, "run", "--warehouse", str(warehouse), "--data-mode", "reference"],
                                   cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sql_runs, shell_runs = [], []
        next_sql = time.monotonic() + 5
        while refresh.poll() is None:
            client.ask()
            # A few `chokepoint sql` calls spread over the refresh (each is a Python start-up:
            # on two cores a busy loop of them would mostly slow the refresh down).
            if time.monotonic() >= next_sql and len(sql_runs) < 8:
                one = subprocess.run([*CLI, "sql", "SELECT count(*) AS n FROM analytics.capability", "--format",
                                      "csv", "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env,
                                     capture_output=True, text=True, timeout=300)
                sql_runs.append((one.returncode, one.stdout, one.stderr))
                if len(shell_runs) < 2:
                    shell = subprocess.run([*CLI, "sql", "--warehouse", str(warehouse)],
                                           input="SELECT 40 + 2 AS answer;\n", cwd=PROJECT_ROOT, env=env,
                                           capture_output=True, text=True, timeout=300)
                    shell_runs.append((shell.returncode, shell.stdout, shell.stderr))
                next_sql = time.monotonic() + 15
            time.sleep(1.0)
        out, err = refresh.communicate()
        seconds = time.monotonic() - started
        assert refresh.returncode == 0, err[-3000:]
        assert "ledger: record #2" in out

        during = client.answers[1:]
        assert during and all(a == {"idle": [3, 1, "small-3"], "txn": [3, 1, "small-3"]} for a in during), during
        assert client.ask() == {"idle": [3, 1, "small-3"], "txn": [3, 1, "small-3"]}, "still its own snapshot"
        head = ledger_head(warehouse)
        assert head["seq"] == 2 and head["kind"] == "publish"
        assert _count_and_seq(warehouse) == (FULL_RUN_CAPABILITY_ROWS, 2), "a new connection sees the new run"
        verify = subprocess.run([*CLI, "verify", "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "1 snapshot(s)" in verify.stdout and "OK:" in verify.stdout
        assert [s.seq for s in list_snapshots(warehouse)] == [1], "the held snapshot is kept"

        assert sql_runs, "chokepoint sql ran during the refresh"
        assert all(rc == 0 and out.splitlines()[0] == "n" and out.splitlines()[1] in ("3", str(FULL_RUN_CAPABILITY_ROWS)) and
                   "Traceback" not in err for rc, out, err in sql_runs), sql_runs
        assert all(rc == 0 and "42" in out for rc, out, _ in shell_runs), shell_runs
        after = subprocess.run([*CLI, "sql", "SELECT count(*) AS n FROM analytics.capability", "--format", "json",
                                "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env, capture_output=True,
                               text=True, timeout=300)
        assert after.returncode == 0 and json.loads(after.stdout) == [{"n": FULL_RUN_CAPABILITY_ROWS}], after.stderr
        figures["refresh"] = {"seconds": round(seconds, 1), "client_rounds": len(during), "client_errors": 0,
                              "published_seq": head["seq"], "verify_exit": verify.returncode}
        figures["sql_during_refresh"] = {"queries": len(sql_runs), "shells": len(shell_runs),
                                         "failed": sum(rc != 0 for rc, _, _ in sql_runs + shell_runs)}

        # A second client holds the new file read-write too; roll back to the snapshot the
        # first client still holds.
        second = Client(warehouse, env)
        try:
            assert second.ask()["idle"] == [FULL_RUN_CAPABILITY_ROWS, 2, head["run_id"]]
            started = time.monotonic()
            back = subprocess.run([*CLI, "rollback", "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert back.returncode == 0, back.stderr
            assert "now holds the tables of record #1" in back.stdout
            assert second.ask()["txn"] == [FULL_RUN_CAPABILITY_ROWS, 2, head["run_id"]], "the second client keeps its snapshot"
            assert client.ask()["txn"] == [3, 1, "small-3"]
            assert _count_and_seq(warehouse) == (3, 3)
            verify = subprocess.run([*CLI, "verify", "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            figures["rollback"] = {"seconds": round(time.monotonic() - started, 1), "clients": 2,
                                   "client_errors": 0, "verify_exit": verify.returncode}
        finally:
            second.close()
    finally:
        client.close()
    assert all(isinstance(v, list) for a in client.answers for v in a.values()), client.answers
    _record(figures)


# --- writers, stray WALs, plain files, pruning (small warehouses) ---------------------

_WRITER = textwrap.dedent("""
    import os, sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE analytics.scratch AS SELECT 42 AS x")
    print("written", flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), 9)
    for line in sys.stdin:
        if line.strip() == "checkpoint":
            con.execute("CHECKPOINT")
            print("checkpointed", flush=True)
    con.close()
""")


class Writer:
    """A client that writes a table of its own through the path it opened (read-write)."""

    def __init__(self, path: Path, mode: str = "live"):
        self.process = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), mode], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "written"

    def checkpoint(self) -> None:
        self.process.stdin.write("checkpoint\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "checkpointed"

    def close(self) -> int:
        if self.process.poll() is None:
            self.process.stdin.close()
        return self.process.wait(timeout=60)


def test_a_killed_writers_wal_is_its_snapshots_own_and_is_moved_aside_never_replayed(tmp_path):
    warehouse = tmp_path / "chokepoint.duckdb"
    _publish_small(warehouse, 3)
    snapshot = current_snapshot(warehouse)
    assert Writer(warehouse, "die").close() == -signal.SIGKILL
    # DuckDB resolves the link: the WAL names the snapshot written, not the published path.
    wal = snapshot.with_name(snapshot.name + ".wal")
    assert wal.exists() and not WarehousePaths.of(warehouse).stray_wal.exists()
    report = verify_warehouse(warehouse)
    assert any(wal.name in note and "moves it aside" in note for note in report.notes), report.notes

    _publish_small(warehouse, 5)  # the next publish moves it aside
    assert not wal.exists()
    moved = list(snapshot.parent.glob(wal.name + ".moved-*"))
    assert len(moved) == 1
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch'").fetchone() == (0,)
    report = verify_warehouse(warehouse)
    assert report.ok, report.problems
    assert any("moved aside by a publish, never replayed" in note for note in report.notes), report.notes
    # The snapshot it was written against is still intact, so a rollback to it works.
    assert rollback(warehouse)["restored"]["seq"] == 1
    assert _count_and_seq(warehouse) == (3, 3) and verify_warehouse(warehouse).ok


def test_tables_a_client_wrote_into_the_published_file_are_not_carried_into_the_next_publish(tmp_path):
    warehouse = tmp_path / "chokepoint.duckdb"
    _publish_small(warehouse, 3)
    writer = Writer(warehouse)
    try:
        report = verify_warehouse(warehouse)  # the writer holds the file: verify reads a private copy
        assert report.ok and any("is writing into it" in note for note in report.notes), report
        writer.checkpoint()  # its table is in the published snapshot now
        assert any("analytics.scratch is not in ledger record #1" in p for p in verify_warehouse(warehouse).problems)
        build = open_build(warehouse, "carry")  # a refresh's build: a copy of the current snapshot
        with duckdb.connect(str(build)) as con:
            con.execute("UPDATE analytics.capability SET capability = capability + 1")
        publish_build(build, warehouse, run_id="carry")
        discard_build(build)
    finally:
        assert writer.close() == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "scratch" not in tables and "capability" in tables
    assert "analytics.scratch" not in ledger_head(warehouse)["tables"]
    assert verify_warehouse(warehouse, check_snapshots=False).ok
    # The snapshot the client wrote into no longer matches its record: verify names it
    # (and a rollback would refuse it).
    problems = verify_warehouse(warehouse).problems
    assert len(problems) == 1 and "000001-" in problems[0] and "analytics.scratch" in problems[0], problems


def test_a_plain_published_file_held_by_a_writer_becomes_a_link(tmp_path):
    warehouse = tmp_path / "chokepoint.duckdb"
    _publish_small(warehouse, 3)
    # A warehouse from before snapshots were linked: the published path is a plain file.
    paths = WarehousePaths.of(warehouse)
    plain = tmp_path / "plain.duckdb"
    plain.write_bytes(current_snapshot(warehouse).read_bytes())
    os.replace(plain, warehouse)
    for entry in paths.snapshots.iterdir():
        entry.unlink()
    paths.snapshots.rmdir()
    writer = Writer(warehouse)  # writes its WAL as chokepoint.duckdb.wal, the path it opened
    try:
        assert paths.stray_wal.exists()
        _publish_small(warehouse, 5)
        assert warehouse.is_symlink() and _count_and_seq(warehouse) == (5, 2)
        assert not paths.stray_wal.exists(), "moved aside: nothing can replay it into the new snapshot"
        assert len(list(tmp_path.glob("chokepoint.duckdb.wal.moved-*"))) == 1
        assert [s.seq for s in list_snapshots(warehouse)] == [1], "the plain file is kept as snapshot #1"
    finally:
        assert writer.close() == 0, "the writer is not disturbed"
    report = verify_warehouse(warehouse, check_snapshots=False)
    assert report.ok and any("never replayed" in note for note in report.notes), report


def test_held_snapshots_are_pruned_only_past_the_retention_period(tmp_path, monkeypatch):
    warehouse = tmp_path / "chokepoint.duckdb"
    _publish_small(warehouse, 1, keep=0)
    first = current_snapshot(warehouse)
    reader = duckdb.connect(str(warehouse), read_only=True)  # in this process: holds a shared lock
    try:
        assert (os.getpid(), "READ") in holders(first)
        _publish_small(warehouse, 2, keep=0)
        assert first.exists(), "held: kept although beyond the kept count"
        assert [s.path for s in list_snapshots(warehouse)] == [first]
        monkeypatch.setenv("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS", "0")
        _publish_small(warehouse, 3, keep=0)
        assert not first.exists(), "past the retention period: deleted although held"
        assert reader.execute("SELECT count(*) FROM analytics.capability").fetchone() == (1,), \
            "the holder keeps reading its open file"
    finally:
        reader.close()
    monkeypatch.delenv("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS")
    _publish_small(warehouse, 4, keep=0)
    assert list_snapshots(warehouse) == []
    assert sorted(p.name for p in current_snapshot(warehouse).parent.iterdir()) == [current_snapshot(warehouse).name]
    assert verify_warehouse(warehouse).ok


def test_snapshot_retention_setting(monkeypatch):
    from chokepoint.errors import WarehouseError
    from chokepoint.settings import snapshot_retention_hours

    monkeypatch.delenv("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS", raising=False)
    assert snapshot_retention_hours() == 168.0
    monkeypatch.setenv("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS", "0.5")
    assert snapshot_retention_hours() == 0.5
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS", bad)
        with pytest.raises(WarehouseError, match="CHOKEPOINT_SNAPSHOT_RETENTION_HOURS"):
            snapshot_retention_hours()


def test_the_published_path_is_a_relative_link_into_snapshots(tmp_path):
    warehouse = tmp_path / "chokepoint.duckdb"
    record = _publish_small(warehouse, 3)
    assert warehouse.is_symlink()
    assert os.readlink(warehouse) == f"chokepoint.snapshots/{record['seq']:06d}-{record['hash'][:12]}.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert read_chain(con)[-1] == record


def test_a_failed_run_is_recorded_while_a_client_holds_the_warehouse_read_write(tmp_path):
    from chokepoint.warehouse.store import record_run_failure

    warehouse = tmp_path / "chokepoint.duckdb"
    _publish_small(warehouse, 3)
    client = Client(warehouse, dict(os.environ))
    try:
        record = record_run_failure(warehouse, {"run_id": "r1", "job": "main", "message": "disk full"})
        assert record["kind"] == "run_failure" and record["seq"] == 2
        assert client.ask()["txn"] == [3, 1, "small-3"]
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT run_id, message FROM ops.run_failures").fetchall() == [("r1", "disk full")]
        assert verify_warehouse(warehouse).ok
    finally:
        client.close()
