"""Tables of the synthetic facility-level network's analysis."""

from __future__ import annotations

import numpy as np
import polars as pl

from graph.network import SupplyNetwork

__all__ = ["synthetic_concentration_table"]


def synthetic_concentration_table(network: SupplyNetwork, suite, scenario: str) -> pl.DataFrame:
    """Concentration of producer capacity per input, by facility and by country.

    Parameters
    ----------
    network : SupplyNetwork
        The synthetic network.
    suite
        The metric suite of its chokepoint run (``ChokepointRun.suite``), with
        ``concentration_by_node`` and ``concentration_by_country``.
    scenario : str
        Scenario name for the ``scenario`` column.

    Returns
    -------
    polars.DataFrame
        ``analytics.synthetic_concentration``: one row per (input, level).
    """
    rows = []
    for level, metrics in (("facility", suite.concentration_by_node), ("country", suite.concentration_by_country)):
        names = (list(network.node_names) if level == "facility" else list(network.countries))
        rows.append(pl.DataFrame({
            "input_id": list(network.inputs), "level": level,
            "top_supplier": [names[i] if i >= 0 else None for i in metrics["top_supplier"]],
            "top_share": metrics["top_share"], "hhi": metrics["hhi"],
            "suppliers": metrics["suppliers"].astype(np.int64), "suppliers_above_10pct": metrics["suppliers_above"],
        }, schema_overrides={"top_supplier": pl.String}))
    return pl.concat(rows).with_columns(pl.lit(scenario).alias("scenario"))
