"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``.

Settings come from the environment (``.env`` at the project root holds the defaults):
``CHOKEPOINT_DATA_DIR``, ``CHOKEPOINT_SCENARIO``, ``CHOKEPOINT_WAREHOUSE``, and for the real
data ``CHOKEPOINT_SHARED_DATA``, ``CHOKEPOINT_CACHE``, ``CHOKEPOINT_DATA_MODE``,
``CHOKEPOINT_VERIFY_CHECKSUMS``, ``CHOKEPOINT_MAX_QUARANTINE``.
"""

from __future__ import annotations

import dagster as dg

from chokepoint import paths
from pipelines.io import WarehouseIOManager
from pipelines.assets import chokepoints, placements, sources, staging, supply_graph
from pipelines.jobs import main_job, weekly_refresh
from pipelines.resources import ChokepointSettings

_modules = (sources, staging, supply_graph, chokepoints, placements)
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
            shared_data_dir=dg.EnvVar("CHOKEPOINT_SHARED_DATA"),
            cache_dir=dg.EnvVar("CHOKEPOINT_CACHE"),
            data_mode=dg.EnvVar("CHOKEPOINT_DATA_MODE"),
            # Not strings: read when the definitions load (the CLI sets them first).
            verify_checksums=paths.verify_checksums(),
            max_quarantine_fraction=paths.max_quarantine_fraction(),
        ),
        "io_manager": WarehouseIOManager(database=dg.EnvVar("CHOKEPOINT_WAREHOUSE")),
        "object_io_manager": dg.FilesystemIOManager(),
    },
)
