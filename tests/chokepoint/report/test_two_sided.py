"""Summary lines of two-sided leverage from hand-made tables: every figure of the line comes
from the row it describes, verdicts follow the flags."""

from __future__ import annotations

import duckdb
import polars as pl

from chokepoint.analyses.retaliation import BASELINE_EFFECT_SCHEMA, RETALIATION_SCHEMA
from chokepoint.analyses.verification import VERIFICATION_SCHEMA
from chokepoint.report.two_sided import lines_from_frames, two_sided_lines


def _frame(schema, rows):
    full = [{name: row.get(name) for name in schema} for row in rows]
    return pl.DataFrame(full, schema=schema)


EFFECT = _frame(BASELINE_EFFECT_SCHEMA, [
    {"scenario": "sq", "actor": "X", "candidate_defector": True, "leverage_baseline": 0.25, "next_leverage": 0.1,
     "next_controls": ["a", "b"]},
    {"scenario": "sq", "actor": "S", "candidate_defector": False, "leverage_baseline": 0.9},
    {"scenario": "other", "actor": "X", "candidate_defector": True, "leverage_baseline": 0.5},
])
RETALIATION = _frame(RETALIATION_SCHEMA, [
    {"scenario": "sq", "placement": "optimal", "defector": "X", "signatory": s, "counter_controls": ["counter-x-gallium"],
     "coalition_loss": 0.2, "expected_loss": 0.1, "tolerance": 0.05, "credible": False} for s in ("S", "T")
] + [{"scenario": "sq", "placement": "none", "defector": "X", "signatory": "S", "counter_controls": [],
      "coalition_loss": 0.0, "expected_loss": 0.0, "tolerance": 0.05, "credible": True}])
VERIFICATION = _frame(VERIFICATION_SCHEMA, [
    {"scenario": "sq", "mechanism": "audit", "actor": "X", "sanctions_cost": 3.0, "joint_cost": 2.0,
     "verification_cheaper": True, "chosen_for_actor": True},
    {"scenario": "sq", "mechanism": "registry", "actor": "X", "sanctions_cost": 3.0, "joint_cost": 2.0,
     "verification_cheaper": True, "chosen_for_actor": False},
])


def test_line_per_defector_with_its_figures():
    lines = lines_from_frames("sq", EFFECT, RETALIATION, VERIFICATION)
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("sq/X: ")
    assert "25.0 %" in line and "(a, b) adds 10.0 %" in line
    assert "counter-x-gallium" in line and "20.0 %" in line and "NOT credible" in line
    assert "verification is the cheaper way" in line and "audit" in line and "registry" not in line
    assert "2 vs sanctions 3" in line


def test_sanctions_cheaper_and_credible_verdicts():
    verification = VERIFICATION.with_columns(pl.lit(False).alias("verification_cheaper"))
    retaliation = RETALIATION.with_columns(pl.lit(True).alias("credible"))
    line = lines_from_frames("sq", EFFECT, retaliation, verification)[0]
    assert "sanctions are the cheaper way to deter it (cost 3)" in line and "is credible" in line


def test_reads_the_warehouse_tables():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analytics")
    for name, frame in (("baseline_effect", EFFECT), ("retaliation", RETALIATION), ("verification", VERIFICATION)):
        con.register("frame", frame.to_arrow())
        con.execute(f"CREATE TABLE analytics.{name} AS SELECT * FROM frame")  # noqa: S608 (test constants)
        con.unregister("frame")
    assert two_sided_lines(con, "sq") == lines_from_frames("sq", EFFECT, RETALIATION, VERIFICATION)


def test_one_block_per_horizon_short_run_first_each_from_its_own_rows():
    def horizons(frame: pl.DataFrame, short_scale: float) -> pl.DataFrame:
        long = frame.with_columns(pl.lit("long_run").alias("horizon"))
        short = frame.with_columns(pl.lit("short_run").alias("horizon"))
        if "leverage_baseline" in frame.columns:
            short = short.with_columns(pl.col("leverage_baseline") * short_scale)
        return pl.concat([long, short])   # long run stored first: the order printed is the model's

    lines = lines_from_frames("sq", horizons(EFFECT, 0.5), horizons(RETALIATION, 1.0), horizons(VERIFICATION, 1.0))
    assert [line.split(":")[0] for line in lines] == ["sq/X (short_run)", "sq/X (long_run)"]
    assert "take 12.5 %" in lines[0] and "take 25.0 %" in lines[1]
