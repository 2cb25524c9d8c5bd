"""Firm-level chip supply map (``chip_supply_map/nodes.csv``, ``edges.csv``) → firms and firm edges.

Nodes are firms (and a few product platforms) with type, subtype, country (ISO2) and
city; their ids become firm ids (see :mod:`chokepoint.inputs.real.firms`). Edges are typed
(``supplies-equipment``, ``manufactures-for``, …) with a strength (critical, high,
medium, low). Edges naming an unknown node, self-loops, unknown strengths and repeated
(source, target, relation) triples are quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from chokepoint.inputs.real.countries import CountryResolver
from chokepoint.inputs.real.firms import FirmResolver
from chokepoint.inputs.real.quarantine import source_columns, split_checks

__all__ = ["SupplyMapStaged", "stage_supply_map", "NODES_REQUIRED", "EDGES_REQUIRED", "STRENGTHS"]

DATASET = "supply_map"
NODES_REQUIRED = ("id", "name", "type", "country")
EDGES_REQUIRED = ("source", "target", "relation", "strength")
STRENGTHS = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class SupplyMapStaged:
    nodes: pl.DataFrame
    edges: pl.DataFrame
    quarantine: pl.DataFrame


def stage_supply_map(nodes: pl.DataFrame, edges: pl.DataFrame, countries: CountryResolver,
                     firms: FirmResolver) -> SupplyMapStaged:
    """Stage nodes (registering their ids as firm ids) and edges."""
    node_cols = source_columns(nodes)
    frame = nodes.with_columns(pl.col("id").str.strip_chars().alias("_id"))
    first = frame.group_by("_id", maintain_order=True).agg(pl.col("_line").first().alias("_first_line"))
    frame = frame.join(first, on="_id", how="left", nulls_equal=True)
    good, q_nodes = split_checks(frame, [
        (pl.col("_id").fill_null("") == "", "node id is empty"),
        (pl.col("name").fill_null("").str.strip_chars() == "", "node name is empty"),
        (pl.col("_first_line") != pl.col("_line"), pl.format("duplicate node id of line {}", pl.col("_first_line"))),
    ], node_cols)
    file = good["_file"][0] if good.height else ""
    resolved = countries.resolve_column(good["country"], dataset=DATASET, file=file, field="country")
    good = pl.concat([good, resolved], how="horizontal")
    for row in good.iter_rows(named=True):
        firms.register(row["_id"], row["name"].strip(), dataset=DATASET, file=row["_file"], iso3=row["iso3"],
                       kind=row["type"], subtype=row.get("subtype"))
    staged_nodes = good.select(
        pl.col("_id").alias("firm_id"), pl.col("name").str.strip_chars(), "type",
        (pl.col("subtype") if "subtype" in good.columns else pl.lit(None, pl.String)).alias("subtype"),
        pl.col("country").alias("country_as_written"), "iso3", "country_method",
        (pl.col("city") if "city" in good.columns else pl.lit(None, pl.String)).alias("city"),
        (pl.col("source_id") if "source_id" in good.columns else pl.lit(None, pl.String)).alias("source_id"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))

    edge_cols = source_columns(edges)
    known = set(staged_nodes["firm_id"].to_list())
    frame = edges.with_columns(pl.col("source").str.strip_chars().alias("_src"),
                               pl.col("target").str.strip_chars().alias("_dst"),
                               pl.col("relation").str.strip_chars().alias("_relation"),
                               pl.col("strength").str.strip_chars().str.to_lowercase().alias("_strength"))
    first = frame.group_by("_src", "_dst", "_relation", maintain_order=True).agg(
        pl.col("_line").first().alias("_first_line"))
    frame = frame.join(first, on=["_src", "_dst", "_relation"], how="left", nulls_equal=True)
    good_edges, q_edges = split_checks(frame, [
        (~pl.col("_src").is_in(known), pl.format("unknown source node '{}' (not in nodes.csv)", pl.col("_src"))),
        (~pl.col("_dst").is_in(known), pl.format("unknown target node '{}' (not in nodes.csv)", pl.col("_dst"))),
        (pl.col("_src") == pl.col("_dst"), "edge from a node to itself"),
        (pl.col("_relation").fill_null("") == "", "relation is empty"),
        (~pl.col("_strength").is_in(list(STRENGTHS)),
         pl.format("strength '{}' is not one of {}", pl.col("strength"), pl.lit(", ".join(STRENGTHS)))),
        (pl.col("_first_line") != pl.col("_line"),
         pl.format("duplicate of the edge on line {} (same source, target and relation)", pl.col("_first_line"))),
    ], edge_cols)
    staged_edges = good_edges.select(
        pl.col("_src").alias("source_firm_id"), pl.col("_dst").alias("target_firm_id"),
        pl.col("_relation").alias("relation"), pl.col("_strength").alias("strength"),
        (pl.col("notes") if "notes" in good_edges.columns else pl.lit(None, pl.String)).alias("notes"),
        (pl.col("source_id") if "source_id" in good_edges.columns else pl.lit(None, pl.String)).alias("source_id"),
        pl.col("_dataset").alias("dataset"), pl.col("_file").alias("file"), pl.col("_line").alias("line"))
    return SupplyMapStaged(nodes=staged_nodes, edges=staged_edges, quarantine=pl.concat([q_nodes, q_edges]))
