"""Group ``reports``: analyst views in the warehouse and the HTML report per scenario."""

from pathlib import Path

import dagster as dg

from chokepoint.report import plots
from chokepoint.report.scenario_reports import write_reports
from chokepoint.warehouse.views import create_views
from pipelines.io import run_warehouse_connection
from pipelines.resources import ChokepointSettings

GROUP = "reports"
OWNERS = ["team:chokepoint"]

#: Tables the views and the report read; the views asset waits for all of them.
ANALYTICS_TABLES = [
    ["staging", "capacities"], ["staging", "recipes"], ["staging", "countries"],
    ["analytics", "concentration"], ["analytics", "chokepoints"],
    ["analytics", "control_leverage"], ["analytics", "capability"], ["analytics", "placements"],
    ["analytics", "deterrence"], ["analytics", "deter_all"], ["analytics", "recruitment"],
]


@dg.asset(
    key=["analytics", "warehouse_views"], group_name=GROUP, kinds={"duckdb", "sql"}, owners=OWNERS,
    deps=[dg.AssetKey(k) for k in ANALYTICS_TABLES], required_resource_keys={"io_manager"}, dagster_type=dg.Nothing,
    description=("Stable analyst views in schema `analytics` (`v_chokepoint_ranking`, `v_chokepoints`, "
                 "`v_capability`, `v_single_controls`, `v_placements`, `v_dependencies`, …), documented in docs/warehouse.md. "
                 "Query these rather than the raw tables: their columns are kept stable."),
)
def warehouse_views(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with run_warehouse_connection(context) as connection:
        created = create_views(connection)
    return dg.MaterializeResult(metadata={"views": dg.MetadataValue.json(created), "count": len(created)})


@dg.asset(
    key=["reports", "html_report"], group_name=GROUP, kinds={"html", "matplotlib"}, owners=OWNERS,
    deps=[dg.AssetKey(["analytics", "warehouse_views"])], required_resource_keys={"io_manager", "settings"},
    dagster_type=dg.Nothing,
    description=("One self-contained HTML report for the scenario (plots and tables inline, viewable offline) "
                 "at `CHOKEPOINT_REPORTS/<scenario file name>.html`; `chokepoint run` prints its path."),
)
def html_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings: ChokepointSettings = context.resources.settings
    with run_warehouse_connection(context) as connection:
        reports = write_reports(connection, scenarios_dir=Path(settings.data_dir) / "scenarios",
                                report_path=settings.report_path)
    written = reports.paths
    path = written[reports.run_key]
    # The run's report's own figures, not rendered a second time.
    shown = {"chokepoint_ranking": ("chokepoints", "chokepoint ranking"), "capability": ("capability", "capability")}
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "reports": dg.MetadataValue.json({k: str(v) for k, v in written.items()}),
        "bytes": path.stat().st_size,
        **{label: dg.MetadataValue.md(plots.markdown_image(reports.figures[table], alt))
           for label, (table, alt) in shown.items() if table in reports.figures},
    })


assets = [warehouse_views, html_report]
