"""PNG figures for Dagit metadata and the HTML report (matplotlib, Agg backend).

Each function takes a Polars table as the warehouse holds it and returns PNG bytes.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

__all__ = [
    "chokepoint_ranking_png",
    "concentration_png",
    "capability_png",
    "leverage_curve_png",
    "deterrence_margins_png",
    "png_data_uri",
    "markdown_image",
]

_PALETTE = ["#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057", "#a05195"]


def _to_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that shows the PNG inline (Dagit renders data URIs in metadata)."""
    return f"![{alt}]({png_data_uri(png)})"


def chokepoint_ranking_png(chokepoints: pl.DataFrame, top: int = 15) -> bytes:
    """Horizontal bars: producer nodes by mean share of defectors' capability lost when removed."""
    ranked = (chokepoints.filter((pl.col("entity_type") == "node") & (pl.col("metric") == "removal_loss"))
              .group_by("entity").agg(pl.col("value").mean().alias("loss"))
              .sort(["loss", "entity"], descending=[True, False]).head(top).reverse())
    figure, axis = plt.subplots(figsize=(7.5, 0.32 * max(len(ranked), 4) + 1.2))
    axis.barh(ranked["entity"].to_list(), (100 * ranked["loss"]).to_list(), color=_PALETTE[0])
    axis.set_xlabel("% of attainable compute lost if removed (mean over defectors)")
    axis.set_xlim(0, 100)
    axis.set_title(f"Top {len(ranked)} chokepoints")
    axis.grid(axis="x", alpha=0.3)
    return _to_png(figure)


def concentration_png(concentration: pl.DataFrame) -> bytes:
    """Bars: HHI per input type (0–10,000), coloured by top supplier's share."""
    ordered = concentration.sort("hhi")
    figure, axis = plt.subplots(figsize=(7.5, 0.26 * max(len(ordered), 4) + 1.2))
    colours = [_PALETTE[1] if share >= 0.9 else _PALETTE[2] if share >= 0.5 else _PALETTE[4]
               for share in ordered["top_share"].to_list()]
    labels = [f"{k} ({c})" for k, c in zip(ordered["input_id"].to_list(), ordered["top_iso3"].to_list())]
    axis.barh(labels, ordered["hhi"].to_list(), color=colours)
    axis.axvline(2500, color="black", linewidth=0.8, linestyle="--")
    axis.text(2550, -0.8, "highly concentrated (2,500)", fontsize=7)
    axis.set_xlabel("HHI (0–10,000); red: top supplier ≥ 90 %, amber ≥ 50 %")
    axis.set_title("Supplier concentration per input")
    return _to_png(figure)


def capability_png(capability: pl.DataFrame) -> bytes:
    """Grouped bars: each candidate defector's attainable compute before and after controls."""
    rows = capability.filter(pl.col("candidate_defector"))
    actors = (rows["actor"] + "\n" + rows["horizon"].str.replace("_run", " run")).to_list() if "horizon" in rows.columns \
        else rows["actor"].to_list()
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    positions = range(len(actors))
    axis.bar([p - 0.2 for p in positions], rows["capability_before"].to_list(), width=0.4, label="no controls",
             color=_PALETTE[0])
    axis.bar([p + 0.2 for p in positions], rows["capability_after"].to_list(), width=0.4, label="with placement",
             color=_PALETTE[1])
    axis.set_xticks(list(positions), actors)
    axis.set_ylabel("attainable AI compute (H100e / yr)")
    if len(actors) > 6:
        axis.tick_params(axis="x", labelsize=7)
    axis.legend()
    axis.set_title("Capability before and after controls")
    return _to_png(figure)


def leverage_curve_png(curve: pl.DataFrame, *, budget: str = "budget", leverage: str = "leverage",
                       by: str = "defector") -> bytes:
    """Step lines: optimal leverage over each defector as the budget grows."""
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    for i, (name, group) in enumerate(curve.sort(budget).group_by(by, maintain_order=True)):
        label = name[0] if isinstance(name, tuple) else name
        axis.step(group[budget].to_list(), (100 * group[leverage]).to_list(), where="post",
                  label=str(label), color=_PALETTE[i % len(_PALETTE)], marker="o", markersize=3)
    axis.set_xlabel("budget (cost units)")
    axis.set_ylabel("leverage (% of capability removed)")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title("Leverage curve (optimal placement per budget)")
    return _to_png(figure)


def deterrence_margins_png(deterrence: pl.DataFrame, *, actor: str = "actor", margin: str = "margin",
                           case: str = "case") -> bytes:
    """Bars: deterrence margin p·V·L + B − G per actor and case; ≥ 0 means compliance dominates."""
    figure, axis = plt.subplots(figsize=(7, 3.8))
    cases = deterrence[case].unique(maintain_order=True).to_list() if case in deterrence.columns else [None]
    actors = deterrence[actor].unique(maintain_order=True).to_list()
    width = 0.8 / max(len(cases), 1)
    for i, name in enumerate(cases):
        rows = deterrence if name is None else deterrence.filter(pl.col(case) == name)
        values = dict(zip(rows[actor].to_list(), rows[margin].to_list()))
        axis.bar([a + i * width - 0.4 + width / 2 for a in range(len(actors))], [values.get(a, 0.0) for a in actors],
                 width=width, label=str(name) if name is not None else None, color=_PALETTE[i % len(_PALETTE)])
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(actors)), actors)
    axis.set_ylabel("deterrence margin (value units)")
    if cases != [None]:
        axis.legend()
    axis.set_title("Deterrence margins (≥ 0: compliance is dominant)")
    return _to_png(figure)
