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

__all__ = ["WarehouseIOManager", "run_warehouse_connection"]

class _BuildClient(DuckDbClient):
    """Connects to the run's build file, never to the published warehouse, and replaces
    (drops and recreates) each table it writes so a changed schema cannot be appended
    into an old one column by column."""

    def __init__(self, build: Path):
        self.build = str(build)

    @contextmanager
    def connect(self, context, _):
        config = {"custom_user_agent": "dagster", **(context.resource_config or {}).get("connection_config", {})}
        connection = duckdb.connect(self.build, read_only=False, config=config)
        try:
            yield connection
        finally:
            connection.close()

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
            existing = [row[0] for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position", [table_slice.schema, table_slice.table]).fetchall()]
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

    def __init__(self, *, build: Path, published: Path, **kwargs):
        super().__init__(**kwargs)
        self.build_path, self.published_path = build, published
        self.written: set[str] = set()

    def handle_output(self, context, obj) -> None:
        super().handle_output(context, obj)
        if context.has_asset_key:
            self.written.add(".".join(context.asset_key.path))


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
        if self.direct:
            return
        release_build(WarehousePaths.of(self.database).build(_build_key(context)))


@contextmanager
def run_warehouse_connection(context):
    """A DuckDB connection to the file this run writes (its build, or the database in
    ``direct`` mode), for assets that run SQL in the warehouse (views, reports).

    The asset must declare ``required_resource_keys={"io_manager", ...}``.
    """
    io_manager = context.resources.io_manager
    path = getattr(io_manager, "build_path", None)
    if path is None:
        raise RuntimeError("the io_manager is not a pipelines.io.WarehouseIOManager; no warehouse file to open")
    connection = duckdb.connect(str(path))
    try:
        yield connection
    finally:
        connection.close()
