"""Dagster's run history (``storage`` in ``dagster.yaml``): its SQLite storage, with event
writes that do not wait for the disk twice per event.

Dagster's SQLite event log opens a connection per event, commits and closes it. The
databases are in WAL mode, and a connection that closes as the last one on its database
checkpoints the WAL into the database file: with SQLite's default ``synchronous=FULL`` each
event then costs two to three ``fsync`` calls — about 1 ms per event on this machine's disk
when it is quiet, about 20 ms while other jobs write (the test suite's parallel runs, a busy CI
machine); a run of the main job writes ~1,500 events (a third of them asset events, which
are written twice: in the run's database and in the cross-run index). :class:`RunHistoryStorage`
is the same storage with two settings that SQLite documents for WAL databases:

- every connection uses ``synchronous=NORMAL``: a commit is appended to the WAL without an
  ``fsync``; the WAL is synced at checkpoints. A killed process loses nothing (the OS holds
  the writes); a power cut may lose the last events but never corrupts the database;
- while a database is in use the storage holds one idle connection on it, so that an event's
  connection never closes as the last one and the checkpoint runs when the WAL is large
  (SQLite's automatic checkpoint), not after every event. At most :data:`HELD_DATABASES`
  databases are held (the index and the latest runs), so a long-lived webserver reading
  many runs keeps few files open.

The warehouse has its own durability (``chokepoint.warehouse.store``: fsync before every
publish); the run history is Dagster's record of runs, which this changes only in speed.
"""

from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

__all__ = ["RunHistoryStorage", "QuickCommitEventLogStorage", "HELD_DATABASES"]

#: Databases on which an idle connection is held at once (least recently used released first).
HELD_DATABASES = 4


class QuickCommitEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose connections commit with ``synchronous=NORMAL``
    while an idle connection holds their database open (see the module's docstring)."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        self._held: OrderedDict[str, sqlite3.Connection] = OrderedDict()

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with super()._connect(shard) as conn:
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            self._hold(shard)
            yield conn

    def _hold(self, shard: str) -> None:
        """Keep an idle connection on ``shard``'s database (runs under the storage's lock)."""
        if shard in self._held:
            self._held.move_to_end(shard)
            return
        path = self.path_for_shard(shard)
        if not os.path.exists(path):
            return
        holder = sqlite3.connect(path, check_same_thread=False)
        # A read maps the WAL index, so this connection counts as one open on the database.
        holder.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        self._held[shard] = holder
        while len(self._held) > HELD_DATABASES:
            self._held.popitem(last=False)[1].close()

    def release(self) -> None:
        """Close the held connections (the last close checkpoints each database)."""
        with self._db_lock:
            while self._held:
                self._held.popitem()[1].close()

    def dispose(self) -> None:
        self.release()
        super().dispose()


class RunHistoryStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under ``base_dir`` (runs, event logs, schedules: the same
    files as ``storage: sqlite``) with :class:`QuickCommitEventLogStorage` as its event log.

    Configured in ``dagster.yaml``::

        storage:
          custom:
            module: pipelines.run_history
            class: RunHistoryStorage
            config:
              base_dir: {env: DAGSTER_HOME}
    """

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = QuickCommitEventLogStorage(os.path.join(base_dir, "history", "runs", ""))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "RunHistoryStorage":
        # The parent's builds a DagsterSqliteStorage whatever the class it is called on.
        return cls.from_local(inst_data=inst_data, **config_value)
