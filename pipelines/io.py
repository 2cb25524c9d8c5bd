"""The warehouse I/O manager: Polars frames in DuckDB, empty tables included.

``dagster_duckdb_polars.DuckDBPolarsIOManager`` skips writing an empty frame, so the
table does not exist and a downstream asset that loads it fails. Empty tables are
normal here (no real data on a run on reference data, nothing quarantined, no
unresolved names), and an analyst querying them should get zero rows, not an error.
"""

from collections.abc import Sequence

import polars as pl
from dagster import OutputContext
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDBIOManager
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

__all__ = ["WarehouseIOManager", "EmptyTablePolarsTypeHandler"]


class EmptyTablePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """As :class:`DuckDBPolarsTypeHandler`, but an empty frame creates an empty table with its columns."""

    def handle_output(self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection):
        if not obj.is_empty():
            return super().handle_output(context, table_slice, obj, connection)
        empty_arrow = obj.to_arrow()  # noqa: F841  (referenced by name in the query)
        connection.execute(f"create schema if not exists {table_slice.schema};")
        connection.execute(f"create table if not exists {table_slice.schema}.{table_slice.table} as "
                           "select * from empty_arrow;")
        context.add_output_metadata({"row_count": 0})


class WarehouseIOManager(DuckDBIOManager):
    """Reads and writes Polars frames in the DuckDB warehouse (``database``); writes empty tables too."""

    @classmethod
    def _is_dagster_maintained(cls) -> bool:
        return False

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [EmptyTablePolarsTypeHandler()]

    @staticmethod
    def default_load_type():
        return pl.DataFrame
