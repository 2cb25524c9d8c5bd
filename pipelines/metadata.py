"""Metadata an analyst can read in Dagit without SQL: materialisation previews and plots, and
each warehouse asset's column schema with the meaning of every column.

Column meanings are written once, in ``docs/warehouse.md``
(:mod:`chokepoint.warehouse.columns`): :func:`with_column_schemas` attaches them to the
definition of every asset stored in the warehouse, and the warehouse I/O manager
(:mod:`pipelines.io`) to each materialisation, with the column types DuckDB stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import dagster as dg
import polars as pl

from chokepoint.report.plots import markdown_image
from chokepoint.warehouse.columns import documented_columns

__all__ = ["table_metadata", "markdown_table", "plot_metadata", "column_schema", "warehouse_tables",
           "with_column_schemas", "COLUMN_SCHEMA"]

#: Dagster's metadata key for a table's columns (shown in Dagit's column list).
COLUMN_SCHEMA = "dagster/column_schema"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")[:80]


def markdown_table(frame: pl.DataFrame, limit: int = 10) -> str:
    """The first ``limit`` rows of ``frame`` as a Markdown table."""
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    if frame.height > limit:
        lines.append(f"\n… {frame.height - limit} more rows")
    return "\n".join(lines)


def table_metadata(frame: pl.DataFrame, limit: int = 10, **extra) -> dict:
    """Row count, column schema and a Markdown preview of the top rows.

    The column schema here has the frame's Polars types; for a table stored in the
    warehouse the I/O manager replaces it with the DuckDB types and documented meanings.
    """
    metadata = {
        "dagster/row_count": frame.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]),
        "preview": dg.MetadataValue.md(markdown_table(frame, limit)),
    }
    metadata.update(extra)
    return metadata


def plot_metadata(png: bytes, alt: str) -> dg.MarkdownMetadataValue:
    """A PNG figure as a Markdown metadata entry that Dagit shows inline.

    Parameters
    ----------
    png : bytes
        The figure, as returned by the functions of :mod:`chokepoint.report.plots`.
    alt : str
        Alternative text, shown where the image cannot be.

    Returns
    -------
    dagster.MarkdownMetadataValue
        The image embedded as a base64 data URI: Dagit needs no file or server to show it.
    """
    return dg.MetadataValue.md(markdown_image(png, alt))


def column_schema(table: str, columns: Sequence[tuple[str, str]] | None = None) -> dg.TableSchema | None:
    """The column schema of warehouse table ``table`` with each column's documented meaning.

    Parameters
    ----------
    table : str
        ``schema.table``, as in ``docs/warehouse.md``.
    columns : sequence of (name, type), optional
        The columns as stored (name and DuckDB type); default: the documented ones.
        A column the documentation lacks gets no description.

    Returns
    -------
    dagster.TableSchema or None
        None when ``table`` is not documented and no ``columns`` are given.
    """
    documented = {c.name: c for c in documented_columns().get(table, [])}
    if columns is None:
        if not documented:
            return None
        columns = [(c.name, c.type) for c in documented.values()]
    return dg.TableSchema(columns=[
        dg.TableColumn(name, kind, description=documented[name].meaning if name in documented else None)
        for name, kind in columns])


def warehouse_tables(assets: Iterable[dg.AssetsDefinition]) -> list[str]:
    """``schema.table`` of every asset stored by the DuckDB I/O manager (``io_manager``).

    Assets that return a ``MaterializeResult`` (views, reports) have a Nothing output and
    no table; assets on ``object_io_manager`` are not in the warehouse.
    """
    tables = set()
    for assets_def in assets:
        for key in assets_def.keys:
            output = assets_def.node_def.output_def_named(assets_def.get_output_name_for_asset_key(key))
            if output.io_manager_key == "io_manager" and not output.dagster_type.is_nothing:
                tables.add(".".join(key.path))
    return sorted(tables)


def with_column_schemas(assets: list) -> list:
    """``assets`` with the documented column schema (:func:`column_schema`) in the definition
    metadata of every asset stored in the warehouse; other specs unchanged."""
    tables = set(warehouse_tables(assets))

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        table = ".".join(spec.key.path)
        schema = column_schema(table) if table in tables else None
        return spec.merge_attributes(metadata={COLUMN_SCHEMA: schema}) if schema else spec

    return list(dg.map_asset_specs(attach, assets))
