"""The warehouse I/O manager: Polars frames in DuckDB, written into a per-run build file.

Analysts query the published warehouse while refreshes run, so no run writes it in
place: each run writes its own build file beside it and the ``warehouse/published``
asset links the build in atomically (as a new immutable snapshot) after every upstream check passed
(:mod:`chokepoint.warehouse.store`). Empty frames still create their (empty) tables: empty
tables are normal here (no real data on a run on reference data, nothing quarantined)
and downstream loads and analysts should get zero rows, not an error — the stock
``DuckDBPolarsIOManager`` skips them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler

from chokepoint.safety import sql_identifier
from chokepoint.warehouse.store import WarehousePaths, open_build, release_build
from pipelines.metadata import COLUMN_SCHEMA, column_schema

__all__ = ["WarehouseIOManager", "run_warehouse_connection"]

#: The open client of each build this process writes, closed by the IO manager's teardown.
_CLIENTS: dict[str, "_BuildClient"] = {}


class _BuildClient(DuckDbClient):
    """Connects to the run's build file, never to the published warehouse, and replaces
    (drops and recreates) each table it writes so a changed schema cannot be appended
    into an old one column by column.

    One connection to the build stays open for the run (opening a DuckDB file reads its
    whole catalogue, and a run loads and stores tables some four hundred times); each
    load and store gets a cursor on it. :meth:`close` checkpoints and closes it: the
    publishing step does so before it swaps the build in, the IO manager's teardown in
    any case. A closed client refuses to reopen (the build may have become the
    published file).
    """

    def __init__(self, build: Path):
        self.build = str(build)
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._closed = False

    def cursor(self, connection_config: dict | None = None) -> duckdb.DuckDBPyConnection:
        """A new cursor on the run's connection to the build (opened on first use)."""
        if self._closed:
            raise RuntimeError(f"the run's connection to {self.build} was closed for publishing")
        if self._connection is None:
            config = {"custom_user_agent": "dagster", **(connection_config or {})}
            self._connection = duckdb.connect(self.build, read_only=False, config=config)
        return self._connection.cursor()

    def close(self) -> None:
        """Close the run's connection (DuckDB checkpoints the build); no reopening after."""
        self._closed = True
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    @contextmanager
    def connect(self, context, _):
        cursor = self.cursor((context.resource_config or {}).get("connection_config", {}))
        try:
            yield cursor
        finally:
            cursor.close()

    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        if table_slice.partition_dimensions:
            DuckDbClient.delete_table_slice(context, table_slice, connection)
            return
        connection.execute(f"DROP TABLE IF EXISTS {sql_identifier(table_slice.schema)}."
                           f"{sql_identifier(table_slice.table)}")


class _PolarsTables(DuckDBPolarsTypeHandler):
    """The stock Polars handler skips empty frames; an empty table is still a published
    fact (e.g. a scenario without controls), so it is created with its columns."""

    def handle_output(self, context, table_slice, obj, connection):
        if isinstance(obj, pl.DataFrame) and table_slice.partition_dimensions:
            # Partition rows are appended by position into the existing table; if the code
            # changed its columns, the other partitions' rows are stale: start the table afresh.
            existing = [name for name, _ in stored_columns(connection, table_slice.schema, table_slice.table)]
            if existing and existing != obj.columns:
                context.log.warning(f"{table_slice.schema}.{table_slice.table}: columns changed; other partitions' "
                                    "rows dropped (re-materialise them)")
                connection.execute(f"DROP TABLE {sql_identifier(table_slice.schema)}.{sql_identifier(table_slice.table)}")
        if isinstance(obj, pl.DataFrame) and obj.is_empty():
            obj_arrow = obj.to_arrow()  # noqa: F841  (DuckDB reads the local variable by name)
            schema, table = sql_identifier(table_slice.schema), sql_identifier(table_slice.table)
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{table} AS SELECT * FROM obj_arrow")
            context.add_output_metadata({"row_count": 0})
            return
        super().handle_output(context, table_slice, obj, connection)


class _BuildIOManager(DbIOManager):
    """DbIOManager that knows its build and the published file, and which tables it wrote."""

    def __init__(self, *, build: Path, published: Path, db_client: _BuildClient, **kwargs):
        super().__init__(db_client=db_client, **kwargs)
        self.build_path, self.published_path = build, published
        self.client = db_client
        self.written: set[str] = set()
        _CLIENTS[str(build)] = db_client

    def close_connection(self) -> None:
        """Close the run's connection to the build (before it is published)."""
        self.client.close()

    def handle_output(self, context, obj) -> None:
        super().handle_output(context, obj)
        if context.has_asset_key:
            table = ".".join(context.asset_key.path)
            self.written.add(table)
            # The columns as stored (DuckDB types) with their documented meanings, in place
            # of the frame's Polars types (pipelines.metadata.table_metadata).
            context.add_output_metadata({COLUMN_SCHEMA: column_schema(table, self._stored_columns(context))})

    def _stored_columns(self, context) -> list[tuple[str, str]]:
        table_slice = self._get_table_slice(context, context)
        with self._db_client.connect(context, table_slice) as connection:
            return stored_columns(connection, table_slice.schema, table_slice.table)


def stored_columns(connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of ``schema.table`` in order; empty if there is no such table."""
    # The table's own catalogue entry: information_schema scans every table's (8 ms vs 0.4 ms).
    name = f"{sql_identifier(schema)}.{sql_identifier(table)}"
    try:
        return connection.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", [name]).fetchall()
    except duckdb.CatalogException:
        return []


def _build_key(context) -> str:
    run = getattr(context, "dagster_run", None)
    if run is None:
        return f"adhoc-{os.getpid()}"
    # Re-executions share the root run's build, so steps that are not re-run find the
    # outputs their original run wrote.
    return run.root_run_id or run.run_id


class WarehouseIOManager(DuckDBPolarsIOManager):
    """DuckDB IO manager for the published warehouse that never writes it in place.

    ``database`` is the published file analysts query. Each run writes into its own
    build file beside it (``.<name>.build-<root run id>``, a byte copy of the current
    snapshot to begin with: no lock on what analysts hold), held under a lock while the
    run's process lives; the ``warehouse/published`` asset links the build in atomically after every upstream
    asset check passed (:mod:`chokepoint.warehouse.store`). A run that does not select that
    asset publishes nothing; its build is removed by a later run.

    ``direct=True`` writes ``database`` itself (no build, no publishing): for tests and
    scratch runs of a subset of assets whose output nobody else reads.
    """

    direct: bool = False

    @staticmethod
    def type_handlers():
        return [_PolarsTables()]

    def create_io_manager(self, context) -> DbIOManager:
        if self.direct:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            return _BuildIOManager(build=Path(self.database), published=Path(self.database),
                                   db_client=_BuildClient(Path(self.database)), database=self.database,
                                   schema=self.schema_, type_handlers=self.type_handlers(),
                                   default_load_type=self.default_load_type(), io_manager_name="WarehouseIOManager")
        build = open_build(self.database, _build_key(context))
        return _BuildIOManager(build=build, published=Path(self.database), db_client=_BuildClient(build),
                               database=str(build), schema=self.schema_, type_handlers=self.type_handlers(),
                               default_load_type=self.default_load_type(), io_manager_name="WarehouseIOManager")

    def teardown_after_execution(self, context) -> None:
        build = Path(self.database) if self.direct else WarehousePaths.of(self.database).build(_build_key(context))
        client = _CLIENTS.pop(str(build), None)
        if client is not None:
            client.close()
        if not self.direct:
            release_build(build)


@contextmanager
def run_warehouse_connection(context):
    """A DuckDB connection to the file this run writes (its build, or the database in
    ``direct`` mode), for assets that run SQL in the warehouse (views, reports): a cursor
    on the run's open connection.

    The asset must declare ``required_resource_keys={"io_manager", ...}``.
    """
    io_manager = context.resources.io_manager
    client = getattr(io_manager, "client", None)
    if not isinstance(client, _BuildClient):
        raise RuntimeError("the io_manager is not a pipelines.io.WarehouseIOManager; no warehouse file to open")
    cursor = client.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
