"""Group ``reports``: analyst views in the warehouse and the HTML report per scenario."""

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl

from chokepoint import plots
from chokepoint.report import ReportInput, render_report
from chokepoint.scenario import parse_scenario
from chokepoint.views import create_views
from pipelines.io import run_warehouse_connection
from pipelines.resources import ChokepointSettings

GROUP = "reports"
OWNERS = ["team:chokepoint"]

#: Tables the views and the report read; the views asset waits for all of them.
ANALYTICS_TABLES = [
    ["staging", "capacities"], ["staging", "recipes"], ["staging", "countries"],
    ["analytics", "concentration"], ["analytics", "chokepoints"],
    ["analytics", "control_leverage"], ["analytics", "capability"], ["analytics", "placements"],
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


#: What the report shows, by section: one query each against the stable views.
REPORT_QUERIES = {
    "chokepoints": "SELECT * FROM analytics.chokepoints",
    "chokepoint_summary": """
        SELECT entity, input_id, iso3, round(100 * mean_removal_loss, 1) AS mean_loss_pct,
               spof_defectors || '/' || defectors AS spof, round(100 * supplier_share, 1) AS share_pct
        FROM analytics.v_chokepoint_ranking ORDER BY mean_removal_loss DESC, entity LIMIT 15""",
    "capability": "SELECT * FROM analytics.v_capability ORDER BY capability_before DESC",
    "control_leverage": """
        SELECT defector, control_id, kind, cost, capability_before, capability_after, leverage
        FROM analytics.v_single_controls WHERE rank <= 5 AND leverage > 0 ORDER BY defector, rank""",
    "concentration": "SELECT * FROM analytics.concentration",
}


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
        tables = {name: connection.execute(REPORT_QUERIES[name]).pl() for name in REPORT_QUERIES}
        source = connection.execute("SELECT text, path FROM staging.src_scenario").fetchone()
    scenario = parse_scenario(source[0], Path(source[1]))
    report = ReportInput(scenario=scenario.name, description=scenario.description,
                         generated_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), tables=tables,
                         notes=["Figures are model outputs on the staged data; see docs/warehouse.md for provenance."])
    # Named by the scenario file, not its free-text name (which may hold anything).
    path = settings.report_path(Path(source[1]).stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(render_report(report), encoding="utf-8")
    os.replace(partial, path)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "bytes": path.stat().st_size,
        "chokepoint_ranking": dg.MetadataValue.md(plots.markdown_image(
            plots.chokepoint_ranking_png(tables["chokepoints"]), "chokepoint ranking")),
        "capability": dg.MetadataValue.md(plots.markdown_image(plots.capability_png(tables["capability"]), "capability")),
    })


assets = [warehouse_views, html_report]
