"""The one Dagster entry point: ``dagster dev -m pipelines.definitions`` (or ``make ui``).

Settings come from the environment: ``CHOKEPOINT_DATA_DIR``, ``CHOKEPOINT_SCENARIO``,
``CHOKEPOINT_WAREHOUSE``, and for the real data ``CHOKEPOINT_SHARED_DATA``,
``CHOKEPOINT_CACHE``, ``CHOKEPOINT_DATA_MODE``, ``CHOKEPOINT_VERIFY_CHECKSUMS``,
``CHOKEPOINT_MAX_QUARANTINE`` (bound below with ``dg.EnvVar``). Variables that are not
set get the project defaults of :func:`chokepoint.settings.default_environment`; values set
by the caller always win. (No ``.env`` file: ``dagster dev`` lets a ``.env`` override the
caller's environment, which would make ``--warehouse`` and test settings ineffective.)
"""

import os

import dagster as dg

from chokepoint import settings
from chokepoint.settings import default_environment
from pipelines.assets import (chokepoints, controls_in_force, critical_nodes, deterrence, firms, placements, publish,
                              reports, retaliation, robustness, sources, staging, supply_graph, synthetic_network)
from pipelines.io import WarehouseIOManager
from pipelines.metadata import with_column_schemas
from pipelines.jobs import check_sources_job, daily_source_check, main_job, weekly_refresh, with_freshness_policies
from pipelines.sensors import sensors
from pipelines.resources import ChokepointSettings

for _name, _value in default_environment().items():
    os.environ.setdefault(_name, _value)

_modules = (sources, staging, controls_in_force, firms, supply_graph, chokepoints, critical_nodes, placements,
            deterrence, retaliation, robustness, synthetic_network, reports)
# Every warehouse asset's column schema carries the meanings documented in docs/warehouse.md.
all_assets = with_column_schemas([a for m in _modules for a in m.assets])
all_checks = [c for m in _modules for c in getattr(m, "checks", [])]
# Last: swaps the run's build in as the published warehouse once every check passed.
all_assets.append(publish.published_warehouse(list(all_assets)))

defs = dg.Definitions(
    assets=with_freshness_policies(all_assets),
    asset_checks=all_checks,
    jobs=[main_job, check_sources_job],
    schedules=[weekly_refresh, daily_source_check],
    sensors=sensors,
    # One process runs the whole job and holds its build's lock for the run's lifetime
    # (a multiprocess run would leave the lock free between steps).
    executor=dg.in_process_executor,
    resources={
        "settings": ChokepointSettings(
            data_dir=dg.EnvVar("CHOKEPOINT_DATA_DIR"),
            scenario=dg.EnvVar("CHOKEPOINT_SCENARIO"),
            shared_data_dir=dg.EnvVar("CHOKEPOINT_SHARED_DATA"),
            cache_dir=dg.EnvVar("CHOKEPOINT_CACHE"),
            data_mode=dg.EnvVar("CHOKEPOINT_DATA_MODE"),
            # Not strings: read when the definitions load (the CLI sets them first).
            verify_checksums=settings.verify_checksums(),
            max_quarantine_fraction=settings.max_quarantine_fraction(),
            threads=settings.analysis_threads(),
            reports_dir=dg.EnvVar("CHOKEPOINT_REPORTS"),
        ),
        # Writes each run into its own build file beside the published warehouse.
        "io_manager": WarehouseIOManager(database=dg.EnvVar("CHOKEPOINT_WAREHOUSE")),
        "object_io_manager": dg.FilesystemIOManager(),
    },
)
