"""Critical nodes of the supply network (``chokepoint/analyses/supply_critical_nodes.py``):
the budgets' searches run in threads with the table one thread gives."""

from __future__ import annotations

import polars as pl

from chokepoint.analyses.supply_critical_nodes import BUDGETS, critical_nodes_table
from chokepoint.model.build import network_from_tables


def test_threaded_searches_give_the_serial_table(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    serial, serial_summary = critical_nodes_table(network, scenario, solver="HIGHS", generations=15, threads=1)
    threaded, summary = critical_nodes_table(network, scenario, solver="HIGHS", generations=15, threads=2)
    assert serial.drop("seconds").equals(threaded.drop("seconds"))
    assert serial_summary == summary
    assert serial["k"].unique().sort().to_list() == sorted(BUDGETS)
    # Some budget is searched by the heuristic (the part that runs in threads), not only proved exactly.
    assert not serial.filter(pl.col("method").str.starts_with("heuristic")).is_empty()
