"""The Dagster instance's run history (``dagster.yaml`` → :mod:`pipelines.run_history`):
the project's instance writes its event log through :class:`QuickCommitEventLogStorage`,
whose commits use ``synchronous=NORMAL`` while an idle connection holds at most
``HELD_DATABASES`` databases open, and a writer killed with SIGKILL loses no event."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.events.log import EventLogEntry

from chokepoint.settings import PROJECT_ROOT
from pipelines.run_history import HELD_DATABASES, QuickCommitEventLogStorage


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A Dagster home with the project's dagster.yaml (its storage reads DAGSTER_HOME)."""
    (tmp_path / "dagster.yaml").symlink_to(PROJECT_ROOT / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def _entry(run_id: str, k: int) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=logging.INFO, user_message=f"event {k}", run_id=run_id,
                         timestamp=time.time(), step_key=None, job_name="main", dagster_event=None)


def _event_log(instance: dg.DagsterInstance) -> QuickCommitEventLogStorage:
    return instance.event_log_storage


def test_the_project_instance_uses_the_quick_commit_event_log(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = _event_log(instance)
        assert type(storage) is QuickCommitEventLogStorage
        assert storage.path_for_shard("index") == str(home / "history" / "runs" / "index.db")
        storage.store_event(_entry("run-a", 0))
        with storage.run_connection("run-a") as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (FULL is 2)
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert [e.user_message for e in instance.all_logs("run-a")] == ["event 0"]
        assert instance.run_coordinator.dequeue_interval_seconds == 1, "a run launched from Dagit starts within a second"


def test_at_most_the_latest_databases_are_held_and_dispose_releases_them(home):
    runs = [f"run-{k}" for k in range(HELD_DATABASES + 2)]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = _event_log(instance)
        for k, run_id in enumerate(runs):
            storage.store_event(_entry(run_id, k))
        # run-0 is used again: the least recently used (run-1, run-2) are released, not it.
        storage.store_event(_entry(runs[0], 99))
        assert list(storage._held) == [*runs[3:], runs[0]]  # noqa: SLF001
        held_wal = home / "history" / "runs" / f"{runs[-1]}.db-wal"
        assert held_wal.exists() and held_wal.stat().st_size > 0, "a held database keeps its WAL between events"
    assert not storage._held  # noqa: SLF001
    # Released: the last close checkpointed every database into its file.
    assert not [p for p in (home / "history" / "runs").glob("*.db-wal") if p.stat().st_size > 0]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert [e.user_message for e in instance.all_logs(runs[0])] == ["event 0", "event 99"]


def test_events_reuse_one_connection_per_database_from_any_thread(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = _event_log(instance)
        storage.store_event(_entry("run-t", -1))
        engine = storage._held["run-t"]  # noqa: SLF001
        opened = []
        sqlalchemy.event.listen(engine, "connect", lambda *_: opened.append(1))
        threads = [threading.Thread(target=lambda t=t: [storage.store_event(_entry("run-t", 100 * t + k))
                                                        for k in range(50)]) for t in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert opened == [], "no event opened a connection of its own"
        messages = [e.user_message for e in instance.all_logs("run-t")]
        assert sorted(messages) == sorted([f"event {k}" for k in [-1, *range(50), *range(100, 150)]])


def test_a_forked_process_opens_its_own_connection_and_leaves_the_parents_open(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = _event_log(instance)
        storage.store_event(_entry("run-f", 0))
        parents = storage._held["run-f"]  # noqa: SLF001
        child = os.fork()
        if child == 0:  # the child writes through a connection of its own, then releases it
            ok = False
            try:
                storage.store_event(_entry("run-f", 1))
                ok = storage._held["run-f"] is not parents  # noqa: SLF001
                storage.release()
            finally:
                os._exit(0 if ok else 3)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child wrote through the parent's connection"
        assert storage._held["run-f"] is parents  # noqa: SLF001
        storage.store_event(_entry("run-f", 2))  # the parent's connection still works
        assert [e.user_message for e in instance.all_logs("run-f")] == ["event 0", "event 1", "event 2"]


def test_a_writer_killed_with_sigkill_loses_no_event(home):
    writer = textwrap.dedent("""
        import logging, os, signal, sys, time
        import dagster as dg
        from dagster._core.events.log import EventLogEntry
        with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
            for k in range(200):
                instance.handle_new_event(EventLogEntry(
                    error_info=None, level=logging.INFO, user_message=f"event {k}", run_id="killed",
                    timestamp=time.time(), step_key=None, job_name="main", dagster_event=None))
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", writer, str(home)], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    wal = home / "history" / "runs" / "killed.db-wal"
    assert wal.exists() and wal.stat().st_size > 0, "the events were still in the WAL when the writer died"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert [e.user_message for e in instance.all_logs("killed")] == [f"event {k}" for k in range(200)]
