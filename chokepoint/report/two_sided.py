"""Summary lines of two-sided leverage, per candidate defector, from the ``retaliation`` group's
tables (``docs/design.md#11-retaliation-and-verification``): what the controls in force achieve,
what the best next placement adds, what retaliation would cost the coalition and whether the
placement is credible, and whether verification or sanctions are the cheaper way to deter.

Ready for the run summary (:mod:`chokepoint.report.summary`) to print under a scenario with a
baseline; :func:`two_sided_lines` reads the published warehouse, :func:`lines_from_frames`
works on the tables themselves.
"""

from __future__ import annotations

import polars as pl

from chokepoint.model.horizons import HORIZONS
from chokepoint.safety import qualified_name

__all__ = ["two_sided_lines", "lines_from_frames", "RETALIATION_PLACEMENT"]

#: The coalition placement whose retaliation the summary reports (the joint optimum within budget).
RETALIATION_PLACEMENT = "optimal"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def lines_from_frames(scenario: str, baseline_effect: pl.DataFrame, retaliation: pl.DataFrame,
                      verification: pl.DataFrame, *, placement: str = RETALIATION_PLACEMENT) -> list[str]:
    """One line per candidate defector of ``scenario`` (see module docstring).

    Parameters
    ----------
    scenario : str
        Scenario partition key.
    baseline_effect, retaliation, verification : polars.DataFrame
        The tables ``analytics.baseline_effect``, ``analytics.retaliation``, ``analytics.verification``
        (any scenarios; filtered here).
    placement : str
        The coalition placement whose best retaliation is reported.

    With a ``horizon`` column in every table, one block of lines per horizon (short run
    first), each line labelled ``scenario/DEFECTOR (horizon)``.
    """
    frames = (baseline_effect, retaliation, verification)
    if all("horizon" in frame.columns for frame in frames):
        horizons = [h for h in HORIZONS if any(h in frame["horizon"].to_list() for frame in frames)]
        return [line for horizon in horizons for line in _lines(
            scenario, *(frame.filter(pl.col("horizon") == horizon) for frame in frames), placement=placement,
            label=f" ({horizon})")]
    return _lines(scenario, *frames, placement=placement, label="")


def _lines(scenario: str, baseline_effect: pl.DataFrame, retaliation: pl.DataFrame, verification: pl.DataFrame, *,
           placement: str, label: str) -> list[str]:
    effect = baseline_effect.filter((pl.col("scenario") == scenario) & pl.col("candidate_defector"))
    counter = (retaliation.filter((pl.col("scenario") == scenario) & (pl.col("placement") == placement))
               .group_by("defector", maintain_order=True)
               .agg(pl.col("counter_controls").first(), pl.col("coalition_loss").first(),
                    pl.col("expected_loss").first(), pl.col("tolerance").first(), pl.col("credible").first()))
    verify = (verification.filter(pl.col("scenario") == scenario)
              .group_by("actor", maintain_order=True)
              .agg(pl.col("sanctions_cost").first(), pl.col("joint_cost").first(),
                   pl.col("verification_cheaper").first(),
                   pl.col("mechanism").filter(pl.col("chosen_for_actor")).alias("mechanisms")))
    defectors = list(dict.fromkeys(effect["actor"].to_list() + counter["defector"].to_list()
                                   + verify["actor"].to_list()))
    lines = []
    for defector in defectors:
        parts = []
        row = effect.filter(pl.col("actor") == defector)
        if row.height:
            r = row.row(0, named=True)
            nxt = ", ".join(r["next_controls"] or []) or "nothing"
            parts.append(f"controls in force take {_pct(r['leverage_baseline'])} of its compute; the best next "
                         f"placement ({nxt}) adds {_pct(r['next_leverage'])}")
        row = counter.filter(pl.col("defector") == defector)
        if row.height:
            r = row.row(0, named=True)
            answer = ", ".join(r["counter_controls"] or []) or "no counter-control"
            verdict = "credible" if r["credible"] else "NOT credible"
            parts.append(f"its best retaliation ({answer}) costs the coalition {_pct(r['coalition_loss'])} "
                         f"(expected {_pct(r['expected_loss'])} vs tolerance {_pct(r['tolerance'])}): "
                         f"the {placement} placement is {verdict}")
        row = verify.filter(pl.col("actor") == defector)
        if row.height:
            r = row.row(0, named=True)
            if r["joint_cost"] is None:
                parts.append("neither sanctions nor verification deter it")
            elif r["verification_cheaper"]:
                mechanisms = ", ".join(r["mechanisms"] or [])
                sanctions = "no sanctions alone" if r["sanctions_cost"] is None else f"sanctions {r['sanctions_cost']:g}"
                parts.append(f"verification is the cheaper way to deter it ({mechanisms}: {r['joint_cost']:g} vs "
                             f"{sanctions})")
            else:
                parts.append(f"sanctions are the cheaper way to deter it (cost {r['sanctions_cost']:g})")
        lines.append(f"{scenario}/{defector}{label}: " + "; ".join(parts))
    return lines


def two_sided_lines(con, scenario: str, *, placement: str = RETALIATION_PLACEMENT) -> list[str]:
    """:func:`lines_from_frames` on a warehouse connection (read-only is enough)."""
    def table(name: str) -> pl.DataFrame:
        return con.execute(f"SELECT * FROM {qualified_name('analytics', name)} WHERE scenario = ?", [scenario]).pl()

    return lines_from_frames(scenario, table("baseline_effect"), table("retaliation"), table("verification"),
                             placement=placement)
