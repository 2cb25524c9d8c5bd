"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``.

Settings come from the environment (``.env`` at the project root holds the defaults):
``CHOKEPOINT_DATA_DIR``, ``CHOKEPOINT_SCENARIO``, ``CHOKEPOINT_WAREHOUSE``.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import chokepoints, placements, publish, sources, staging, supply_graph
from pipelines.jobs import main_job, weekly_refresh
from pipelines.resources import ChokepointSettings, WarehouseIOManager

_modules = (sources, staging, supply_graph, chokepoints, placements)
all_assets = [a for m in _modules for a in m.assets]
all_checks = [c for m in _modules for c in getattr(m, "checks", [])]
# Last: swaps the run's build in as the published warehouse once every check passed.
all_assets.append(publish.published_warehouse(list(all_assets)))

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[main_job],
    schedules=[weekly_refresh],
    # One process runs the whole job and holds its build's lock for the run's lifetime
    # (a multiprocess run would leave the lock free between steps).
    executor=dg.in_process_executor,
    resources={
        "settings": ChokepointSettings(
            data_dir=dg.EnvVar("CHOKEPOINT_DATA_DIR"),
            scenario=dg.EnvVar("CHOKEPOINT_SCENARIO"),
        ),
        # Writes each run into its own build file beside the published warehouse.
        "io_manager": WarehouseIOManager(database=dg.EnvVar("CHOKEPOINT_WAREHOUSE")),
        "object_io_manager": dg.FilesystemIOManager(),
    },
)
