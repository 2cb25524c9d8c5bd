"""The short summary ``chokepoint run`` prints, read back from the warehouse."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from chokepoint.analyses.deterrence import verdict_lines
from chokepoint.analyses.sweep import probability_lines
from chokepoint.report.two_sided import two_sided_lines
from chokepoint.settings import reports_dir
from chokepoint.warehouse.reads import read_only

__all__ = ["print_summary", "data_description", "placement_lines", "TOP_CHOKEPOINTS_SQL", "TOP_FIRMS_SQL",
           "CAPABILITY_SQL", "PLACEMENTS_SQL", "deterrence_lines", "DETER_ALL_SQL", "EQUILIBRIA_SQL",
           "horizon_reason"]

#: Entities of one type ranked by mean share of capability lost across candidate defectors in
#: the short run (the default horizon), with the long-run figure beside it.
TOP_CHOKEPOINTS_SQL = """
WITH per_entity AS (
    SELECT entity, any_value(iso3) AS iso3, any_value(input_id) AS input_id,
           avg(value) FILTER (WHERE metric = 'removal_loss' AND horizon = 'short_run') AS short_loss,
           avg(value) FILTER (WHERE metric = 'removal_loss' AND horizon = 'long_run') AS long_loss,
           sum(value) FILTER (WHERE metric = 'single_point_of_failure' AND horizon = 'short_run') AS spof_defectors,
           count(DISTINCT defector) AS defectors,
           max(value) FILTER (WHERE metric = 'supplier_share') AS supplier_share
    FROM analytics.chokepoints
    WHERE entity_type = ?
    GROUP BY entity
)
SELECT * FROM per_entity
ORDER BY coalesce(short_loss, 0) DESC, coalesce(long_loss, 0) DESC, spof_defectors DESC, supplier_share DESC, entity
LIMIT ?
"""
#: The same for firms.
TOP_FIRMS_SQL = TOP_CHOKEPOINTS_SQL

#: The short-run rule of each input type (why the horizons differ).
SHORT_RUN_RULES_SQL = "SELECT input_id, qualification, utilisation FROM staging.short_run_rules"

CAPABILITY_SQL = """
SELECT s.actor, s.capability_before, l.capability_before, s.best_control, s.leverage, l.best_control, l.leverage
FROM analytics.capability s
JOIN analytics.capability l ON l.scenario = s.scenario AND l.actor = s.actor AND l.horizon = 'long_run'
WHERE s.candidate_defector AND s.horizon = 'short_run'
ORDER BY l.capability_before DESC
"""

#: Optimal placement per horizon and target (each defector, then the joint one 'ALL'), one row per defector.
PLACEMENTS_SQL = """
SELECT horizon, target, defector, budget, leverage, cost, collateral, status, gap, controls
FROM analytics.placements
ORDER BY horizon = 'long_run', target = 'ALL', capability_before DESC, defector
"""


def _label(status: str, gap: float) -> str:
    return status if status == "optimal" else f"{status} (gap {100 * gap:.2g}%)"


def placement_lines(con) -> list[str]:
    """Summary lines: optimal placement per defector and the joint one, in each horizon
    (none if the table is absent)."""
    try:
        rows = con.execute(PLACEMENTS_SQL).fetchall()
    except duckdb.CatalogException:
        return []
    lines: list[str] = []
    write = lines.append
    if not rows:
        return lines
    write("")
    write(f"Optimal placement per candidate defector within budget {rows[0][3]:g} (interdiction MILP; "
          "leverage = share of its attainable compute removed)")
    write(f"{'horizon':<10} {'target':<8} {'leverage':>8}  {'cost':>5}  {'status':<10} controls")
    for horizon in dict.fromkeys(r[0] for r in rows):
        mine = [r[1:] for r in rows if r[0] == horizon]
        joint = [r for r in mine if r[0] == "ALL"]
        for target, _, _, leverage, cost, _, status, gap, controls in (r for r in mine if r[0] != "ALL"):
            write(f"{horizon:<10} {target:<8} {100 * leverage:7.1f}%  {cost:5.2f}  {_label(status, gap):<10} "
                  f"{', '.join(controls) or '(none)'}")
        if joint:
            _, _, _, _, cost, _, status, gap, controls = joint[0]
            mean = sum(r[3] for r in joint) / len(joint)
            write(f"{horizon:<10} {'ALL':<8} {100 * mean:7.1f}%  {cost:5.2f}  {_label(status, gap):<10} "
                  f"{', '.join(controls) or '(none)'}")
            write(f"{'':<19} one placement against all: " + ", ".join(f"{r[1]} {100 * r[3]:.1f}%" for r in joint))
    return lines


#: Deter-all verdict per candidate defector of one scenario partition (analytics.deter_all).
DETER_ALL_SQL = """
SELECT * FROM analytics.deter_all WHERE scenario = ? ORDER BY horizon = 'long_run', defector
"""
#: Race-game equilibria per placement of one scenario partition (analytics.equilibria).
EQUILIBRIA_SQL = """
SELECT horizon, placement, kind, defectors, compliance_unique
FROM analytics.equilibria WHERE scenario = ? AND placement IN ('none', 'optimal', 'deter_all')
ORDER BY horizon = 'long_run', placement = 'none' DESC, placement = 'optimal' DESC, equilibrium
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


def _two_sided_lines(con, scenario_key: str) -> list[str]:
    """Controls in force, retaliation and verification lines (none for a warehouse without those tables)."""
    try:
        return two_sided_lines(con, scenario_key)
    except duckdb.CatalogException:
        return []


#: Scenario partitions whose figures are marginal to a baseline (controls in force), with its day.
BASELINE_SCENARIOS_SQL = ("SELECT scenario, any_value(as_of) FROM analytics.baseline_effect WHERE baseline <> 'none' "
                          "GROUP BY scenario ORDER BY scenario")


def baseline_lines(con, run_scenario_key: str) -> list[str]:
    """Summary lines for every other scenario partition with a baseline (``status_quo``):
    per defector and horizon, what the controls in force achieve, what the best next
    placement adds, retaliation and credibility, verification or sanctions."""
    try:
        keys = [(key, day) for key, day in con.execute(BASELINE_SCENARIOS_SQL).fetchall() if key != run_scenario_key]
    except duckdb.CatalogException:
        return []
    lines = []
    for key, day in keys:
        found = _two_sided_lines(con, key)
        if found:
            lines += ["", f"Controls in force (scenario '{key}': the measures in force on {day} are its baseline; "
                          "every figure is marginal to them)"] + [f"  {line}" for line in found]
    return lines


def deterrence_lines(con, scenario_key: str) -> list[str]:
    """Summary lines: the deterrence verdict per defector and the race game's equilibria, per horizon."""
    try:
        deter_all = con.execute(DETER_ALL_SQL, [scenario_key]).pl()
        equilibria = con.execute(EQUILIBRIA_SQL, [scenario_key]).fetchall()
    except duckdb.CatalogException:
        return []
    if deter_all.is_empty():
        return [] if not equilibria else ["", f"No candidate defectors in scenario '{scenario_key}'."]
    lines = ["", "Deterrence verdict per candidate defector (margin p·V·L + B − G ≥ 0 means compliance pays; "
                 "cheapest deterring placement, analytics.deter_all)"]
    for (horizon,), rows in deter_all.group_by(["horizon"], maintain_order=True):
        lines.append(f" {horizon}:")
        lines += [f"  {line.split('/', 1)[1].replace(f' ({horizon})', '')}"
                  for line in verdict_lines(rows.drop("horizon"))]
        controls = rows["controls"][0]
        if controls is not None and len(controls):
            lines.append(f"  deter-all placement: {', '.join(controls)}")
        for game_horizon, placement, kind, defectors, unique in equilibria:
            if kind != "pure" or game_horizon != horizon:
                continue
            who = ", ".join(defectors) if len(defectors) else "nobody"
            lines.append(f"  race game, placement '{placement}': equilibrium with {who} racing"
                         + ("; universal compliance is the unique equilibrium" if unique else ""))
    return lines


def horizon_reason(input_id: str, short_loss: float, long_loss: float, rules: dict[str, tuple]) -> str:
    """One line on why an entity's short- and long-run removal losses differ, from the
    short-run rule of its input type (``staging.short_run_rules``)."""
    qualification, utilisation = rules.get(input_id, (None, None))
    committed = (f"{100 * utilisation:.0f} % of capacity is in use today, so beyond its own share the defector "
                 "gets only the spare" if utilisation is not None else "capacity is not limited by commitments")
    if short_loss > long_loss:
        how = {"design": "chips are made only from their own designs",
               "listed": "buyers draw only on the suppliers they are qualified with",
               "process": "processes of record keep their supplier mix"}.get(qualification, "routes cannot move")
        return (f"within the horizon {how} and {committed}; in the long run the defector could take all other "
                "suppliers' capacity")
    if qualification == "installed_base":
        return ("within the horizon fabs run on their installed base of this equipment, so withholding it bites "
                "only in the long run")
    return f"in the short run other limits bind first ({committed})"


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


def run_baseline(con, key: str) -> str | None:
    """What the run scenario's tables are marginal to, in words (None for no baseline, or a
    warehouse written before the ``baseline`` column); ``key`` is the scenario file's stem
    (its partition key, for the day of the baseline)."""
    try:
        name = con.execute("SELECT any_value(baseline) FROM analytics.capability").fetchone()[0]
    except duckdb.BinderException:   # a warehouse written before the column
        return None
    if name in (None, "none"):
        return None
    try:
        as_of = con.execute("SELECT any_value(as_of) FROM analytics.baseline_effect WHERE scenario = ?",
                            [key]).fetchone()[0]
    except duckdb.CatalogException:
        as_of = None
    return f"{name} (the modelled controls in force" + (f" on {as_of})" if as_of else ")")


def print_summary(warehouse: Path, *, run_id: str = "", seconds: float = 0.0, out=sys.stdout, top: int = 10) -> None:
    """Print the top chokepoints (nodes and firms, both horizons) and each candidate
    defector's capability, placements and deterrence verdicts."""
    with read_only(warehouse) as con:
        top_rows = con.execute(TOP_CHOKEPOINTS_SQL, ["node", top]).fetchall()
        firm_rows = con.execute(TOP_FIRMS_SQL, ["firm", 5]).fetchall()
        capability_rows = con.execute(CAPABILITY_SQL).fetchall()
        scenario = con.execute("SELECT any_value(scenario) FROM analytics.capability").fetchone()[0]
        data, detail = data_description(con)
        scenario_file = Path(con.execute("SELECT path FROM staging.src_scenario").fetchone()[0])
        baseline = run_baseline(con, scenario_file.stem)
        placements = placement_lines(con)
        deterrence = (deterrence_lines(con, scenario_file.stem) + _two_sided_lines(con, scenario_file.stem)
                      + robustness_lines(con, scenario_file.stem) + baseline_lines(con, scenario_file.stem))
        rules = {r[0]: (r[1], r[2]) for r in con.execute(SHORT_RUN_RULES_SQL).fetchall()}
    write = lambda text="": print(text, file=out)  # noqa: E731
    write(f"chokepoint run: scenario '{scenario}', data: {data}, {seconds:.1f} s")
    if detail:
        write(f"  {detail}")
    if baseline:
        write(f"  baseline: {baseline} — every figure below is marginal to it (capability with the measures in "
              "force; losses and leverage on top of them)")
    write(f"warehouse: {warehouse}" + (f"  (run {run_id[:8]})" if run_id else ""))
    write()
    write(f"Top {len(top_rows)} chokepoints (share of a defector's attainable AI compute lost if removed; mean over "
          "defectors; short run = qualified routes and headroom within the horizon, long run = fungible capacity)")
    write(f"{'#':>2}  {'input':<28} {'country':<7} {'short':>6} {'long':>6}  {'SPOF':>5}  {'share':>6}")
    differ = []
    for i, (entity, iso3, input_id, short, long, spof, defectors, share) in enumerate(top_rows, 1):
        short, long = short or 0.0, long or 0.0
        write(f"{i:>2}  {input_id:<28} {iso3:<7} {100 * short:5.1f}% {100 * long:5.1f}%  "
              f"{int(spof or 0)}/{defectors:<3} {100 * (share or 0):5.1f}%")
        if abs(short - long) >= 0.10:
            differ.append(f"  {entity}: {100 * short:.0f}% vs {100 * long:.0f}%: "
                          + horizon_reason(input_id, short, long, rules))
    if differ:
        write("Why the horizons differ:")
        for line in differ:
            write(line)
    if firm_rows:
        write()
        write("Top firms (removal loss, mean over defectors): " + "; ".join(
            f"{entity} {100 * (short or 0):.0f}% short / {100 * (long or 0):.0f}% long"
            for entity, _, _, short, long, *_ in firm_rows))
    write()
    write("Attainable AI compute per candidate defector (H100e/yr) and the best single control in budget, per horizon")
    write(f"{'actor':<8} {'short run':>12} {'long run':>12}  {'short':>6} {'long':>6}  best control (short; long)")
    for actor, short, long, best_short, lev_short, best_long, lev_long in capability_rows:
        write(f"{actor:<8} {short:12,.0f} {long:12,.0f}  {100 * lev_short:5.1f}% {100 * lev_long:5.1f}%  "
              f"{best_short or '(none in budget)'}; {best_long or '(none in budget)'}")
    for line in placements + deterrence:
        write(line)
    report = reports_dir() / f"{scenario_file.stem}.html"
    if report.exists():
        write()
        write(f"report: {report}")
