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
- while a database is in use the storage keeps one connection open on it and every event
  reuses it, so that no event's connection closes as the last one: the checkpoint runs when
  the WAL is large (SQLite's automatic checkpoint), not after every event, and an event
  costs one insert and one commit instead of an engine, a connection and its set-up (1,500
  events: 2.8 s → 0.55 s on this machine). At most :data:`HELD_DATABASES` databases are
  held (the index and the latest runs), so a long-lived webserver reading many runs keeps
  few files open.

The warehouse has its own durability (``chokepoint.warehouse.store``: fsync before every
publish); the run history is Dagster's record of runs, which this changes only in speed.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

__all__ = ["RunHistoryStorage", "QuickCommitEventLogStorage", "HELD_DATABASES"]

#: Databases on which an idle connection is held at once (least recently used released first).
HELD_DATABASES = 4
#: Engines a forked process inherited from its parent: never used, never closed.
_INHERITED: list = []


class QuickCommitEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` that keeps one connection open per database in use,
    committing with ``synchronous=NORMAL`` (see the module's docstring).

    Dagster's storage creates an engine, opens a connection, sets it up and disposes of
    it for every event; here each of the :data:`HELD_DATABASES` latest databases keeps an
    engine whose single connection (``StaticPool``, set up once) every event reuses under
    the storage's lock. A process that inherits the storage through ``fork`` opens its own."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        self._held: OrderedDict[str, Engine] = OrderedDict()
        self._held_pid = os.getpid()

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _engine(self, shard: str) -> Engine:
        """The held engine of ``shard``'s database (runs under the storage's lock)."""
        self._forget_if_forked()
        engine = self._held.get(shard)
        if engine is not None:
            self._held.move_to_end(shard)
            return engine
        engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        event.listen(engine, "connect", _commit_without_waiting_for_the_disk)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._held[shard] = engine
        while len(self._held) > HELD_DATABASES:
            self._held.popitem(last=False)[1].dispose()
        return engine

    def release(self) -> None:
        """Close the held connections (the last close checkpoints each database)."""
        with self._db_lock:
            self._forget_if_forked()
            while self._held:
                self._held.popitem()[1].dispose()

    def _forget_if_forked(self) -> None:
        if self._held_pid != os.getpid():
            # The parent's connections are not this process's to use, nor to close: a close
            # here could checkpoint and remove a WAL the parent still writes. Kept referenced.
            _INHERITED.append(self._held)
            self._held, self._held_pid = OrderedDict(), os.getpid()

    def wipe(self) -> None:
        # Run databases are deleted: none may stay open.
        self.release()
        super().wipe()

    def dispose(self) -> None:
        self.release()
        super().dispose()


def _commit_without_waiting_for_the_disk(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


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
