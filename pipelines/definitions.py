"""The one Dagster entry point: ``dagster dev -m pipelines.definitions`` (or ``make ui``).

Settings come from the environment: ``CHOKEPOINT_DATA_DIR``, ``CHOKEPOINT_SCENARIO``,
``CHOKEPOINT_WAREHOUSE`` (bound below with ``dg.EnvVar``). Variables that are not set
get the project defaults of :func:`chokepoint.paths.default_environment`; values set by
the caller always win. (No ``.env`` file: ``dagster dev`` lets a ``.env`` override the
caller's environment, which would make ``--warehouse`` and test settings ineffective.)
"""

import os

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_duckdb_polars import DuckDBPolarsIOManager

from pipelines.assets import chokepoints, placements, reports, sources, staging, supply_graph
from pipelines.jobs import main_job, weekly_refresh
from pipelines.resources import ChokepointSettings, ReportSettings
from chokepoint.paths import default_environment

for _name, _value in default_environment().items():
    os.environ.setdefault(_name, _value)

_modules = (sources, staging, supply_graph, chokepoints, placements, reports)
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
        "duckdb": DuckDBResource(database=dg.EnvVar("CHOKEPOINT_WAREHOUSE")),
        "reports": ReportSettings(reports_dir=dg.EnvVar("CHOKEPOINT_REPORTS")),
    },
)
