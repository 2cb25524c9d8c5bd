"""One self-contained HTML report per scenario: plots and tables, no network to view it.

Images are inline PNG data URIs, styles are inline; every value from the data is
HTML-escaped, so hostile names in scenario files cannot inject markup.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import polars as pl

from chokepoint.report import plots

__all__ = ["ReportInput", "render_report", "report_figures", "FIGURES"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d8dde6;padding-bottom:.3rem}
.meta{color:#5a6478;font-size:.9rem}.note{color:#5a6478;font-size:.85rem;max-width:60rem}
table{border-collapse:collapse;font-size:.82rem;margin:.6rem 0}th,td{border:1px solid #d8dde6;padding:.25rem .5rem;text-align:left}
th{background:#f2f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:flex;flex-wrap:wrap;gap:1rem}.figures img{max-width:100%;border:1px solid #e4e7ee}
.verdict-ok{color:#1c7c3c;font-weight:600}.verdict-bad{color:#b3261e;font-weight:600}
"""


@dataclass
class ReportInput:
    """What the report shows. Tables that are absent are simply left out."""

    scenario: str
    description: str = ""
    generated_at: str = ""
    data_mode: str = ""
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _format(value) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN", True
        if abs(value) >= 1000:
            return f"{value:,.0f}", True
        return f"{value:.4g}", True
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)), False
    return str(value), False


def html_table(frame: pl.DataFrame, limit: int = 25) -> str:
    """An escaped HTML table of the first ``limit`` rows."""
    head = frame.head(limit)
    parts = ["<table><thead><tr>"]
    parts += [f"<th>{html.escape(str(c))}</th>" for c in head.columns]
    parts.append("</tr></thead><tbody>")
    for row in head.iter_rows():
        parts.append("<tr>")
        for value in row:
            text, numeric = _format(value)
            parts.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if frame.height > limit:
        parts.append(f'<p class="note">… {frame.height - limit} more rows in the warehouse.</p>')
    return "".join(parts)


def _figure(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{plots.png_data_uri(png)}">'


#: The report's figures: table → (plot, caption), in the order they appear.
FIGURES = {
    "chokepoints": (plots.chokepoint_ranking_png, "Top chokepoints"),
    "capability": (plots.capability_png, "Capability before and after"),
    "leverage_curve": (plots.leverage_curve_png, "Leverage curve"),
    "deterrence": (plots.deterrence_margins_png, "Deterrence margins"),
    "concentration": (plots.concentration_png, "Supplier concentration"),
}


def report_figures(tables: dict[str, pl.DataFrame]) -> dict[str, bytes]:
    """The PNG of each figure whose table is present and not empty (keys of :data:`FIGURES`)."""
    return {name: plot(tables[name]) for name, (plot, _) in FIGURES.items() if name in tables and tables[name].height}


def render_report(report: ReportInput, figures: dict[str, bytes] | None = None) -> str:
    """The report as one HTML document (string); ``figures`` (default: rendered here) as
    :func:`report_figures` gives them."""
    t = report.tables
    figures = report_figures(t) if figures is None else figures
    sections: list[str] = []
    rendered = [_figure(figures[name], caption) for name, (_, caption) in FIGURES.items() if name in figures]
    if rendered:
        sections.append('<h2>Figures</h2><div class="figures">' + "".join(rendered) + "</div>")

    explanations = {
        "capability": ("Attainable AI compute per actor",
                       "H100-equivalents per year an actor can obtain at full supply-chain utilisation (capability LP), "
                       "with no controls and with the best placement in budget."),
        "placements": ("Optimal placements", "Exact interdiction: which controls to place, what they cost, the "
                       "leverage they give and the solver's proof (status, bound, gap)."),
        "leverage_curve": ("Leverage curve", "Optimal leverage as the budget grows."),
        "deterrence": ("Deterrence margins", "margin = p·V·L + B − G per candidate defector under no controls, the "
                       "optimal placement and the cheapest deterring one; compliance pays when the margin is ≥ 0."),
        "deter_all": ("Deter all: the verdict", "Cheapest placement with every deterrable defector's margin ≥ 0 "
                      "(exact MILP). Undeterrable defectors: the leverage they would need, the most any placement "
                      "reaches, the shortfall in their margin and the detection probability that would deter them."),
        "recruitment": ("Whom to recruit", "How much leverage over each defector rises if a non-signatory joins and "
                        "its routes come under control (best placement within budget, re-solved exactly)."),
        "chokepoint_summary": ("Top chokepoints", "Mean share of defectors' attainable compute lost if the entity is "
                               "removed; SPOF = single point of failure under AND/OR semantics."),
        "control_leverage": ("Single controls", "Each catalogue control alone against each candidate defector."),
        "concentration": ("Supplier concentration", "Top supplier, share and HHI (0–10,000) per input type."),
    }
    for key, (title, note) in explanations.items():
        if key in t and t[key].height:
            sections.append(f"<h2>{html.escape(title)}</h2><p class=\"note\">{html.escape(note)}</p>{html_table(t[key])}")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in report.notes)
    meta = " · ".join(html.escape(x) for x in [f"scenario: {report.scenario}", report.data_mode, report.generated_at] if x)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>chokepoint report — {html.escape(report.scenario)}</title><style>{_CSS}</style></head><body>"
        f"<h1>chokepoint report — {html.escape(report.scenario)}</h1><p class=\"meta\">{meta}</p>"
        f"<p>{html.escape(report.description)}</p>{notes}{''.join(sections)}</body></html>"
    )
