"""What must hold of a supply network built from the staged tables: the rules behind the
``supply_graph`` asset checks."""

from __future__ import annotations

import numpy as np
import polars as pl

from graph.gt import gt
from graph.network import SupplyNetwork, to_graph_tool

__all__ = ["network_problems", "synthetic_share_errors", "SYNTHETIC_SHARE_TOLERANCE"]

#: Country shares of every input must survive the synthetic expansion within this relative error.
SYNTHETIC_SHARE_TOLERANCE = 0.01


def network_problems(network: SupplyNetwork) -> dict:
    """Whether the network is well formed.

    Returns
    -------
    dict
        ``is_dag`` (graph-tool), ``routes_without_requirement`` (routes that serve no
        recipe requirement of their buyer) and ``requirements_without_supplier``
        (requirements of a producer with no supplier route); well formed means
        ``is_dag`` and both counts zero.
    """
    graph = to_graph_tool(network)
    is_dag = bool(gt.topology.is_DAG(graph))
    req = network.edge_requirement()
    unserved_routes = int((req < 0).sum())
    supplied = np.zeros(network.req_node.size, dtype=bool)
    supplied[req[req >= 0]] = True
    return {"is_dag": is_dag, "routes_without_requirement": unserved_routes,
            "requirements_without_supplier": int((~supplied).sum())}


def synthetic_share_errors(nodes: pl.DataFrame, capacities: pl.DataFrame) -> dict:
    """Compare the synthetic network's producer capacity per (input, country) with the staged one.

    Parameters
    ----------
    nodes : polars.DataFrame
        The synthetic network's node table (``kind``, ``iso3``, ``input_id``, ``capacity``;
        categorical or text).
    capacities : polars.DataFrame
        ``staging.capacities``.

    Returns
    -------
    dict
        ``country_input_rows`` compared, ``rows_missing_on_either_side`` and
        ``max_relative_share_error`` (infinite where a side is missing); the shares are
        preserved when no row is missing and the error is at most
        :data:`SYNTHETIC_SHARE_TOLERANCE`.
    """
    produced = (nodes.filter(pl.col("kind").cast(pl.String) == "producer")
                .with_columns(pl.col("iso3").cast(pl.String), pl.col("input_id").cast(pl.String))
                .group_by("input_id", "iso3").agg(pl.col("capacity").sum().alias("generated")))
    compared = (capacities.filter(pl.col("capacity") > 0).select("input_id", "iso3", "capacity")
                .join(produced, on=["input_id", "iso3"], how="full", coalesce=True)
                .with_columns(((pl.col("generated").fill_null(0) - pl.col("capacity").fill_null(0)).abs()
                               / pl.col("capacity")).alias("relative_error")))
    missing = compared.filter(pl.col("generated").is_null() | pl.col("capacity").is_null()).height
    worst = float(compared["relative_error"].fill_null(np.inf).max()) if compared.height else 0.0
    return {"country_input_rows": compared.height, "rows_missing_on_either_side": missing,
            "max_relative_share_error": worst}
