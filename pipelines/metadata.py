"""Materialisation metadata an analyst can read without SQL."""

from __future__ import annotations

import math

import dagster as dg
import polars as pl

from chokepoint.report.plots import markdown_image

__all__ = ["table_metadata", "markdown_table", "plot_metadata"]


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
    """Row count, column schema and a Markdown preview of the top rows."""
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
