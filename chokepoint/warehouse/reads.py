"""Reading the published warehouse: the one place that opens it for analysis code.

Connections are read-only, so a reader never blocks a refresh (publishing links a new
snapshot; see :mod:`chokepoint.warehouse.store`), and a client holding the file read-write
never blocks a reader (:func:`chokepoint.warehouse.ledger.connect_read_only` reads a private
copy then). Queries are module constants: no SQL text is built at run time (``tests``
audit every ``execute``).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.scenario import Scenario, parse_scenario
from chokepoint.model.build import HORIZON_TABLES, NETWORK_TABLES, horizon_network
from chokepoint.model.horizons import LONG_RUN
from chokepoint.warehouse.ledger import connect_read_only
from graph.network import SupplyNetwork

__all__ = ["read_only", "staged_tables", "network_from_warehouse", "published_deterrence", "STAGED_QUERIES"]

#: The staged tables the network and scenario are rebuilt from (the horizon tables only
#: where the warehouse has them: warehouses written before the short-run model lack them).
#: Staged tables read when present: the firm-level and short-run tables, and what a
#: scenario's baseline is made of (the controls in force and the firms' countries).
OPTIONAL_STAGED = (*HORIZON_TABLES, "controls_in_force", "firms")
STAGED_QUERIES = {name: f"SELECT * FROM staging.{name}"
                  for name in (*NETWORK_TABLES, *OPTIONAL_STAGED, "src_scenario")}
STAGING_TABLES_SQL = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'"


#: The point-estimate placements of every scenario partition and horizon (None when no run
#: wrote them): the sweep evaluates each horizon's (docs/design.md#12-uncertainty).
DETERRENCE_QUERY = ("SELECT DISTINCT scenario, horizon, placement_kind, controls FROM analytics.deterrence "
                    "WHERE placement_kind IN ('optimal', 'deter_all')")
_HAS_DETERRENCE = ("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'analytics' "
                   "AND table_name = 'deterrence'")


@contextmanager
def read_only(warehouse):
    """A read-only DuckDB connection to a warehouse file that must exist."""
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise InputError(warehouse, "warehouse not found", hint="run `chokepoint run` first")
    with connect_read_only(warehouse) as con:
        yield con


def staged_tables(warehouse) -> dict[str, pl.DataFrame]:
    """The staged tables a network and its baseline are built from (whatever data the run
    staged; the optional ones only where present)."""
    with read_only(warehouse) as con:
        present = {row[0] for row in con.execute(STAGING_TABLES_SQL).fetchall()}
        return {name: con.execute(STAGED_QUERIES[name]).pl() for name in STAGED_QUERIES
                if name in present or name not in OPTIONAL_STAGED}


def network_from_warehouse(warehouse, horizon: str = LONG_RUN) -> tuple[SupplyNetwork, Scenario]:
    """The network of one horizon and the scenario of the staged tables in a warehouse a run
    has written (the long run, as ``supply_graph/supply_network``, by default).

    Reads ``staging.countries``, ``input_types``, ``recipes``, ``capacities``, the firm-level
    and short-run tables where present, and ``src_scenario``: whatever data the pipeline
    staged (reference or real).
    """
    tables = staged_tables(warehouse)
    row = tables["src_scenario"].row(0, named=True)
    scenario = parse_scenario(row["text"], Path(row["path"]))
    return horizon_network(tables, scenario, horizon), scenario


def published_deterrence(warehouse) -> pl.DataFrame | None:
    """The ``optimal`` and ``deter_all`` placements of ``analytics.deterrence`` (scenario,
    horizon, placement_kind, controls), or None when the warehouse has no such table."""
    with read_only(warehouse) as con:
        if not con.execute(_HAS_DETERRENCE).fetchone()[0]:
            return None
        return con.execute(DETERRENCE_QUERY).pl()
