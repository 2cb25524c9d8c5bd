"""The HTML report of each scenario in the warehouse: what it shows, and writing it.

One query per section against the stable views: the run's scenario gets every section;
each further scenario partition of the deterrence group gets its deterrence sections.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chokepoint.inputs.scenario import load_scenario, parse_scenario
from chokepoint.report.html import ReportInput, render_report, report_figures

__all__ = ["REPORT_QUERIES", "SCENARIO_QUERIES", "SCENARIO_KEYS_SQL", "WrittenReports", "write_reports"]

#: What the report shows, by section: one query each against the stable views.
REPORT_QUERIES = {
    # The ranking figure shows the default horizon.
    "chokepoints": "SELECT * FROM analytics.chokepoints WHERE horizon = 'short_run'",
    "chokepoint_summary": """
        SELECT s.entity, s.input_id, s.iso3, round(100 * s.mean_removal_loss, 1) AS short_run_loss_pct,
               round(100 * l.mean_removal_loss, 1) AS long_run_loss_pct,
               s.spof_defectors || '/' || s.defectors AS short_run_spof, round(100 * s.supplier_share, 1) AS share_pct
        FROM analytics.v_chokepoint_ranking s
        LEFT JOIN analytics.v_chokepoint_ranking l
               ON l.scenario = s.scenario AND l.entity = s.entity AND l.horizon = 'long_run'
        WHERE s.horizon = 'short_run'
        ORDER BY s.mean_removal_loss DESC, l.mean_removal_loss DESC, s.entity LIMIT 15""",
    "capability": "SELECT * FROM analytics.v_capability ORDER BY horizon DESC, capability_before DESC",
    "control_leverage": """
        SELECT horizon, defector, control_id, kind, cost, capability_before, capability_after, leverage
        FROM analytics.v_single_controls WHERE rank <= 5 AND leverage > 0
        ORDER BY horizon DESC, defector, rank""",
    "concentration": "SELECT * FROM analytics.concentration",
}

#: Sections every scenario partition has (deterrence group), one query each with the
#: scenario key as parameter.
SCENARIO_QUERIES = {
    "deterrence": """
        SELECT horizon, actor, placement AS "case", round(leverage_pct, 1) AS leverage_pct, margin, deterred,
               dominant_strategy, controls
        FROM analytics.v_deterrence WHERE scenario = ? AND placement_kind IN ('none', 'optimal', 'deter_all')
        ORDER BY horizon DESC, actor, placement_kind = 'deter_all', placement_kind = 'optimal'""",
    "deter_all": """
        SELECT horizon, defector, deterrable, deterred, round(100 * required_leverage, 1) AS required_leverage_pct,
               round(100 * max_leverage, 1) AS max_leverage_pct, cost, budget, over_budget, margin, shortfall,
               detection_probability_needed, array_to_string(controls, ', ') AS controls
        FROM analytics.deter_all WHERE scenario = ? ORDER BY horizon DESC, defector""",
    "recruitment": """
        SELECT horizon, rank, country, defector, round(100 * leverage_before, 1) AS leverage_before_pct,
               round(100 * leverage_after, 1) AS leverage_after_pct, round(100 * leverage_gain, 2) AS gain_pct
        FROM analytics.recruitment WHERE scenario = ? AND rank <= 5 ORDER BY horizon DESC, rank, defector""",
}
#: Scenario partitions present in the warehouse.
SCENARIO_KEYS_SQL = "SELECT DISTINCT scenario FROM analytics.deter_all ORDER BY scenario"


@dataclass(frozen=True)
class WrittenReports:
    """The reports written: ``paths`` by scenario key, the run's own key, and the figures
    of the run's own report (PNG by table name)."""

    run_key: str
    paths: dict[str, Path]
    figures: dict[str, bytes]


def write_reports(connection, *, scenarios_dir: Path, report_path: Callable[[str], Path]) -> WrittenReports:
    """Write one self-contained HTML report per scenario in the warehouse.

    Parameters
    ----------
    connection : duckdb.DuckDBPyConnection
        The warehouse the run writes (views created).
    scenarios_dir : Path
        Folder of the scenario files, for the partitions other than the run's scenario.
    report_path : callable
        Scenario key (file name without ``.toml``) → where its report goes.

    Returns
    -------
    WrittenReports
        Each file is written beside its target and renamed over it, so a reader never
        sees half a report.
    """
    tables = {name: connection.execute(REPORT_QUERIES[name]).pl() for name in REPORT_QUERIES}
    source = connection.execute("SELECT text, path FROM staging.src_scenario").fetchone()
    keys = [row[0] for row in connection.execute(SCENARIO_KEYS_SQL).fetchall()]
    per_scenario = {key: {name: connection.execute(SCENARIO_QUERIES[name], [key]).pl() for name in SCENARIO_QUERIES}
                    for key in keys}
    run_key = Path(source[1]).stem
    written, figures = {}, {}
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for key in sorted({run_key, *keys}):
        if key == run_key:
            scenario = parse_scenario(source[0], Path(source[1]))
            content = {**tables, **per_scenario.get(key, {})}
            notes = ["Figures are model outputs on the staged data; see docs/warehouse.md for provenance."]
        else:
            scenario = load_scenario(Path(scenarios_dir) / f"{key}.toml")
            content = per_scenario[key]
            notes = [f"Scenario partition '{key}': deterrence analysis only (the run analysed '{run_key}' in full)."]
        report = ReportInput(scenario=scenario.name, description=scenario.description, generated_at=generated,
                             tables=content, notes=notes)
        # Named by the scenario file, not its free-text name (which may hold anything).
        path = report_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        rendered = report_figures(content)
        if key == run_key:
            figures = rendered
        partial.write_text(render_report(report, rendered), encoding="utf-8")
        os.replace(partial, path)
        written[key] = path
    return WrittenReports(run_key=run_key, paths=written, figures=figures)
