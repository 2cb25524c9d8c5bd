"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``.

Settings come from the environment (``.env`` at the project root holds the defaults):
``CHOKEPOINT_DATA_DIR``, ``CHOKEPOINT_SCENARIO``, ``CHOKEPOINT_WAREHOUSE``.
"""

from __future__ import annotations

import dagster as dg
from dagster_duckdb_polars import DuckDBPolarsIOManager

from pipelines.assets import chokepoints, critical_nodes, placements, sources, staging, supply_graph
from pipelines.jobs import main_job, weekly_refresh
from pipelines.resources import ChokepointSettings

_modules = (sources, staging, supply_graph, chokepoints, critical_nodes, placements)
all_assets = [a for m in _modules for a in m.assets]
all_checks = [c for m in _modules for c in getattr(m, "checks", [])]

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[main_job],
    schedules=[weekly_refresh],
    resources={
        "settings": ChokepointSettings(
            data_dir=dg.EnvVar("CHOKEPOINT_DATA_DIR"),
            scenario=dg.EnvVar("CHOKEPOINT_SCENARIO"),
        ),
        "io_manager": DuckDBPolarsIOManager(database=dg.EnvVar("CHOKEPOINT_WAREHOUSE")),
        "object_io_manager": dg.FilesystemIOManager(),
    },
)
