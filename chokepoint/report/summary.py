"""The short summary ``chokepoint run`` prints, read back from the warehouse."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from chokepoint.analyses.deterrence import verdict_lines
from chokepoint.analyses.sweep import probability_lines
from chokepoint.settings import reports_dir
from chokepoint.warehouse.reads import read_only

__all__ = ["print_summary", "data_description", "placement_lines", "TOP_CHOKEPOINTS_SQL", "CAPABILITY_SQL",
           "PLACEMENTS_SQL", "deterrence_lines", "DETER_ALL_SQL", "EQUILIBRIA_SQL"]

#: Producer nodes ranked by mean share of capability lost across candidate defectors.
TOP_CHOKEPOINTS_SQL = """
WITH per_node AS (
    SELECT entity, any_value(iso3) AS iso3, any_value(input_id) AS input_id,
           avg(value) FILTER (WHERE metric = 'removal_loss') AS mean_loss,
           sum(value) FILTER (WHERE metric = 'single_point_of_failure') AS spof_defectors,
           count(DISTINCT defector) AS defectors,
           max(value) FILTER (WHERE metric = 'supplier_share') AS supplier_share
    FROM analytics.chokepoints
    WHERE entity_type = 'node'
    GROUP BY entity
)
SELECT * FROM per_node
ORDER BY mean_loss DESC, spof_defectors DESC, supplier_share DESC, entity
LIMIT ?
"""

CAPABILITY_SQL = """
SELECT actor, capability_before, best_control, capability_after, leverage
FROM analytics.capability
WHERE candidate_defector
ORDER BY capability_before DESC
"""

#: Optimal placement per target (each defector, then the joint one 'ALL'), one row per defector.
PLACEMENTS_SQL = """
SELECT target, defector, budget, leverage, cost, collateral, status, gap, controls
FROM analytics.placements
ORDER BY target = 'ALL', capability_before DESC, defector
"""


def placement_lines(con) -> list[str]:
    """Summary lines: optimal placement per defector and the joint one (none if the table is absent)."""
    try:
        rows = con.execute(PLACEMENTS_SQL).fetchall()
    except duckdb.CatalogException:
        return []
    lines: list[str] = []
    write = lines.append
    if not rows:
        return lines
    write("")
    write(f"Optimal placement per candidate defector within budget {rows[0][2]:g} (interdiction MILP; "
          "leverage = share of its attainable compute removed)")
    write(f"{'target':<8} {'leverage':>8}  {'cost':>5}  {'status':<10} controls")
    joint = [r for r in rows if r[0] == "ALL"]
    for target, _, _, leverage, cost, _, status, gap, controls in (r for r in rows if r[0] != "ALL"):
        label = status if status == "optimal" else f"{status} (gap {100 * gap:.2g}%)"
        write(f"{target:<8} {100 * leverage:7.1f}%  {cost:5.2f}  {label:<10} {', '.join(controls) or '(none)'}")
    if joint:
        _, _, _, _, cost, _, status, gap, controls = joint[0]
        mean = sum(r[3] for r in joint) / len(joint)
        label = status if status == "optimal" else f"{status} (gap {100 * gap:.2g}%)"
        write(f"{'ALL':<8} {100 * mean:7.1f}%  {cost:5.2f}  {label:<10} {', '.join(controls) or '(none)'}")
        write(f"{'':<8} one placement against all: " + ", ".join(f"{r[1]} {100 * r[3]:.1f}%" for r in joint))
    return lines


#: Deter-all verdict per candidate defector of one scenario partition (analytics.deter_all).
DETER_ALL_SQL = """
SELECT * FROM analytics.deter_all WHERE scenario = ? ORDER BY defector
"""
#: Race-game equilibria per placement of one scenario partition (analytics.equilibria).
EQUILIBRIA_SQL = """
SELECT placement, kind, defectors, compliance_unique
FROM analytics.equilibria WHERE scenario = ? AND placement IN ('none', 'optimal', 'deter_all')
ORDER BY placement = 'none' DESC, placement = 'optimal' DESC, equilibrium
"""


ROBUSTNESS_SQL = ("SELECT scenario, horizon, defector, placement, samples, p_deterred, p_deterred_se "
                  "FROM analytics.robustness WHERE scenario = ? AND placement = 'optimal'")


def robustness_lines(con, scenario_key: str) -> list[str]:
    """Summary lines: per defector, the probability that the optimal placement deters it
    under the Monte Carlo sweep (``analytics.robustness``), with its standard error."""
    try:
        frame = con.execute(ROBUSTNESS_SQL, [scenario_key]).pl()
    except duckdb.CatalogException:
        return []
    if frame.is_empty():
        return []
    return ["", "How sure (Monte Carlo over the uncertain inputs, analytics.robustness; more samples: "
                "`chokepoint sweep`)"] + [f"  {line}" for line in probability_lines(frame)]


def deterrence_lines(con, scenario_key: str) -> list[str]:
    """Summary lines: the deterrence verdict per defector and the race game's equilibria."""
    try:
        deter_all = con.execute(DETER_ALL_SQL, [scenario_key]).pl()
        equilibria = con.execute(EQUILIBRIA_SQL, [scenario_key]).fetchall()
    except duckdb.CatalogException:
        return []
    if deter_all.is_empty():
        return [] if not equilibria else ["", f"No candidate defectors in scenario '{scenario_key}'."]
    lines = ["", "Deterrence verdict per candidate defector (margin p·V·L + B − G ≥ 0 means compliance pays; "
                 "cheapest deterring placement, analytics.deter_all)"]
    lines += [f"  {line.split('/', 1)[1]}" for line in verdict_lines(deter_all)]
    controls = deter_all["controls"][0]
    if controls is not None and len(controls):
        lines.append(f"  deter-all placement: {', '.join(controls)}")
    for placement, kind, defectors, unique in equilibria:
        if kind != "pure":
            continue
        who = ", ".join(defectors) if len(defectors) else "nobody"
        lines.append(f"  race game, placement '{placement}': equilibrium with {who} racing"
                     + ("; universal compliance is the unique equilibrium" if unique else ""))
    return lines


def data_description(con) -> tuple[str, str]:
    """Which data the run used (``staging.data_mode``) and, for real data, its row accounting."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'").fetchall()}
    if "data_mode" not in tables:
        return "embedded reference data", ""
    mode, requested, source, root, reason = con.execute(
        "SELECT mode, requested, source, root, reason FROM staging.data_mode").fetchone()
    if mode != "real":
        return "embedded reference data", reason
    files, read, staged, quarantined, blank = con.execute(
        "SELECT count(*), sum(rows_read), sum(staged), sum(quarantined), sum(blank) FROM staging.row_accounting"
    ).fetchone()
    from_real, total = con.execute(
        "SELECT count(*) FILTER (WHERE winner = 'real'), count(*) FROM staging.capacities").fetchone()
    unresolved = con.execute("SELECT count(*) FROM staging.unresolved_names").fetchone()[0]
    return (f"real (ETO, Epoch AI, USGS, chip supply map; {source} {root}) merged over the reference data",
            f"{files} files, {read:,} rows read = {staged:,} staged + {quarantined:,} quarantined ({blank:,} blank); "
            f"{unresolved} unresolved names; {from_real} of {total} capacities from real data "
            "(staging.merge_decisions says why)")


def print_summary(warehouse: Path, *, run_id: str = "", seconds: float = 0.0, out=sys.stdout, top: int = 10) -> None:
    """Print the top chokepoints and each candidate defector's capability before/after."""
    with read_only(warehouse) as con:
        top_rows = con.execute(TOP_CHOKEPOINTS_SQL, [top]).fetchall()
        capability_rows = con.execute(CAPABILITY_SQL).fetchall()
        scenario = con.execute("SELECT any_value(scenario) FROM analytics.capability").fetchone()[0]
        data, detail = data_description(con)
        scenario_file = Path(con.execute("SELECT path FROM staging.src_scenario").fetchone()[0])
        placements = placement_lines(con)
        deterrence = deterrence_lines(con, scenario_file.stem) + robustness_lines(con, scenario_file.stem)
    write = lambda text="": print(text, file=out)  # noqa: E731
    write(f"chokepoint run: scenario '{scenario}', data: {data}, {seconds:.1f} s")
    if detail:
        write(f"  {detail}")
    write(f"warehouse: {warehouse}" + (f"  (run {run_id[:8]})" if run_id else ""))
    write()
    write(f"Top {len(top_rows)} chokepoints (share of a defector's attainable AI compute lost if removed; mean over defectors)")
    write(f"{'#':>2}  {'input':<28} {'country':<7} {'loss':>6}  {'SPOF':>5}  {'share':>6}")
    for i, (entity, iso3, input_id, loss, spof, defectors, share) in enumerate(top_rows, 1):
        write(f"{i:>2}  {input_id:<28} {iso3:<7} {100 * loss:5.1f}%  {int(spof)}/{defectors:<3} {100 * share:5.1f}%")
    write()
    write("Attainable AI compute per candidate defector (H100e/yr): no controls → best single control in budget")
    write(f"{'actor':<8} {'before':>12} {'after':>12} {'leverage':>9}  best control")
    for actor, before, best, after, leverage in capability_rows:
        write(f"{actor:<8} {before:12,.0f} {after:12,.0f} {100 * leverage:8.1f}%  {best or '(none in budget)'}")
    for line in placements + deterrence:
        write(line)
    report = reports_dir() / f"{scenario_file.stem}.html"
    if report.exists():
        write()
        write(f"report: {report}")
