"""Group ``reports``: analyst views in the warehouse and the HTML report per scenario."""

import os
import time
from pathlib import Path

import dagster as dg

from chokepoint.report import plots
from chokepoint.report.html import ReportInput, render_report
from chokepoint.inputs.scenario import load_scenario, parse_scenario
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

#: Sections every scenario partition has (deterrence group), one query each with the
#: scenario key as parameter.
SCENARIO_QUERIES = {
    "deterrence": """
        SELECT actor, placement AS "case", round(leverage_pct, 1) AS leverage_pct, margin, deterred,
               dominant_strategy, controls
        FROM analytics.v_deterrence WHERE scenario = ? AND placement_kind IN ('none', 'optimal', 'deter_all')
        ORDER BY actor, placement_kind = 'deter_all', placement_kind = 'optimal'""",
    "deter_all": """
        SELECT defector, deterrable, deterred, round(100 * required_leverage, 1) AS required_leverage_pct,
               round(100 * max_leverage, 1) AS max_leverage_pct, cost, budget, over_budget, margin, shortfall,
               detection_probability_needed, array_to_string(controls, ', ') AS controls
        FROM analytics.deter_all WHERE scenario = ? ORDER BY defector""",
    "recruitment": """
        SELECT rank, country, defector, round(100 * leverage_before, 1) AS leverage_before_pct,
               round(100 * leverage_after, 1) AS leverage_after_pct, round(100 * leverage_gain, 2) AS gain_pct
        FROM analytics.recruitment WHERE scenario = ? AND rank <= 5 ORDER BY rank, defector""",
}
#: Scenario partitions present in the warehouse.
SCENARIO_KEYS_SQL = "SELECT DISTINCT scenario FROM analytics.deter_all ORDER BY scenario"


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
        keys = [row[0] for row in connection.execute(SCENARIO_KEYS_SQL).fetchall()]
        per_scenario = {key: {name: connection.execute(SCENARIO_QUERIES[name], [key]).pl() for name in SCENARIO_QUERIES}
                        for key in keys}
    run_key = Path(source[1]).stem
    written = {}
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for key in sorted({run_key, *keys}):
        if key == run_key:
            scenario = parse_scenario(source[0], Path(source[1]))
            content = {**tables, **per_scenario.get(key, {})}
            notes = ["Figures are model outputs on the staged data; see docs/warehouse.md for provenance."]
        else:
            scenario = load_scenario(Path(settings.data_dir) / "scenarios" / f"{key}.toml")
            content = per_scenario[key]
            notes = [f"Scenario partition '{key}': deterrence analysis only (the run analysed '{run_key}' in full)."]
        report = ReportInput(scenario=scenario.name, description=scenario.description, generated_at=generated,
                             tables=content, notes=notes)
        # Named by the scenario file, not its free-text name (which may hold anything).
        path = settings.report_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(render_report(report), encoding="utf-8")
        os.replace(partial, path)
        written[key] = path
    path = written[run_key]
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "reports": dg.MetadataValue.json({k: str(v) for k, v in written.items()}),
        "bytes": path.stat().st_size,
        "chokepoint_ranking": dg.MetadataValue.md(plots.markdown_image(
            plots.chokepoint_ranking_png(tables["chokepoints"]), "chokepoint ranking")),
        "capability": dg.MetadataValue.md(plots.markdown_image(plots.capability_png(tables["capability"]), "capability")),
    })


assets = [warehouse_views, html_report]
