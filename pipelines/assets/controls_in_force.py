"""``staging.controls_in_force``: export controls in force on both sides, as cited data.

``data/reference/controls_in_force.csv`` is read as text (``staging.src_reference_controls_in_force``,
group ``sources``) and validated into ``staging.controls_in_force`` (group ``staging``) by
:mod:`chokepoint.inputs.controls_in_force`: ISO3 codes, input ids of the taxonomy, firm ids
of ``staging.firms`` (on real data), dates, status against ``until``, URLs, uniqueness. A
blocking check re-verifies that every row is cited and its status consistent.
"""

import datetime as dt
import hashlib

import dagster as dg
import polars as pl

from chokepoint.inputs.controls_in_force import (COLUMN_ORDER, CONTROLS_IN_FORCE_FILE, in_force_on,
                                                 stage_controls_in_force)
from chokepoint.inputs.tables import FILE, LINE, read_csv_text
from pipelines.metadata import markdown_table, table_metadata
from pipelines.resources import ChokepointSettings

OWNERS = ["team:chokepoint"]
KINDS = {"polars", "duckdb"}
TABLE = CONTROLS_IN_FORCE_FILE.removesuffix(".csv")

#: Types of the validated table (also of an empty one, when the file is absent).
STAGED_SCHEMA = {
    "measure_id": pl.String, "imposed_by": pl.String, "kind": pl.String, "target": pl.String,
    "input_id": pl.String, "product": pl.String, "scope": pl.String, "in_force_from": pl.Date, "until": pl.Date,
    "status": pl.String, "legal_instrument": pl.String, "source_url": pl.String, "modelled": pl.Boolean,
    "note": pl.String, "source": pl.String, LINE: pl.Int64, FILE: pl.String,
}


@dg.asset(
    name=f"src_reference_{TABLE}",
    key_prefix="staging",
    group_name="sources",
    kinds={"csv", "polars", "duckdb"},
    owners=OWNERS,
    tags={"dataset": "reference"},
    description=(f"`data/reference/{CONTROLS_IN_FORCE_FILE}` as read (project-authored, every row cited): export "
                 "controls in force on both sides (US, Dutch, Japanese; Chinese) with instrument, dates and source "
                 "URL. Every cell as text, with `_line` and `_file`. Empty, with a note, when the file is absent."),
)
def src_reference_controls_in_force(settings: ChokepointSettings) -> dg.Output[pl.DataFrame]:
    """The controls file as text cells with their line; an empty table if the data folder has none."""
    path = settings.reference_dir() / CONTROLS_IN_FORCE_FILE
    if not path.exists():
        frame = pl.DataFrame(schema={**{name: pl.String for name in COLUMN_ORDER}, LINE: pl.Int64, FILE: pl.String})
        return dg.Output(frame, metadata={"dagster/row_count": 0, "note": f"{path} absent: no controls in force "
                                                                          "recorded for this data folder"})
    frame = read_csv_text(path)
    return dg.Output(frame, metadata=table_metadata(frame, path=dg.MetadataValue.path(str(path)),
                                                    sha256=hashlib.sha256(path.read_bytes()).hexdigest()))


@dg.asset(
    name=TABLE,
    key_prefix="staging",
    group_name="staging",
    kinds=KINDS,
    owners=OWNERS,
    ins={"src": dg.AssetIn(key=["staging", f"src_reference_{TABLE}"]),
         "reference_input_types": dg.AssetIn(key=["staging", "reference_input_types"]),
         "firms": dg.AssetIn(key=["staging", "firms"]),
         "data_mode": dg.AssetIn(key=["staging", "data_mode"])},
    description=("Export controls in force, validated: one row per (measure, input type) with the imposing "
                 "jurisdiction, kind, target (ISO3, `*` for all destinations, or a firm id), item, scope, "
                 "in-force dates and status, legal instrument, source URL, whether the model represents it "
                 "(`modelled`) and how (`note`); `source` is the citation, `_file`/`_line` the row it came "
                 "from. Grain: one row per (measure_id, input_id)."),
)
def controls_in_force(src: pl.DataFrame, reference_input_types: pl.DataFrame,
                      firms: pl.DataFrame, data_mode: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Validate the controls file against the input taxonomy (and, on real data, the staged firm ids)."""
    if src.is_empty():
        frame = pl.DataFrame(schema=STAGED_SCHEMA)
        return dg.Output(frame, metadata=table_metadata(frame))
    # The reference data names only the firms it has capacities for; the firms that measures
    # target (entity list, foreign direct product) are known on the real data only.
    real = data_mode.height > 0 and data_mode["mode"][0] == "real"
    firm_ids = firms["firm_id"].to_list() if real and firms.height else None
    staged = stage_controls_in_force(src, reference_input_types["input_id"].to_list(), firm_ids)
    frame = staged.with_columns(
        pl.format("{} ({})", pl.col("legal_instrument"), pl.col("source_url")).alias("source"),
    ).select(*STAGED_SCHEMA)
    today = dt.date.today()
    current = in_force_on(frame, today)
    return dg.Output(frame, metadata=table_metadata(
        frame, firm_ids_checked=firm_ids is not None, in_force_today=current.height,
        modelled_in_force_today=int(current["modelled"].sum()),
        by_jurisdiction=dg.MetadataValue.md(markdown_table(
            frame.group_by("imposed_by").agg(pl.len().alias("rows"), pl.col("modelled").sum().alias("modelled"))
            .sort("imposed_by")))))


@dg.asset_check(blocking=True, asset=dg.AssetKey(["staging", TABLE]), description=(
    "Every row is cited (legal instrument and an http(s) source URL) and its status agrees with its dates: "
    "suspended or lifted rows have `until` on or after `in_force_from`, rows in force have none; modelled rows "
    "name an input type."))
def controls_in_force_cited_and_consistent(controls_in_force: pl.DataFrame) -> dg.AssetCheckResult:
    frame = controls_in_force
    uncited = frame.filter(pl.col("legal_instrument").is_null() | (pl.col("legal_instrument").str.strip_chars() == "")
                           | ~pl.col("source_url").str.contains(r"^https?://\S+$").fill_null(False))
    ended = pl.col("status").is_in(["suspended", "lifted"])
    inconsistent = frame.filter((ended & (pl.col("until").is_null() | (pl.col("until") < pl.col("in_force_from"))))
                                | (~ended & pl.col("until").is_not_null())
                                | (pl.col("modelled") & pl.col("input_id").is_null()))
    bad = pl.concat([uncited, inconsistent]).unique(subset=[LINE], maintain_order=True)
    return dg.AssetCheckResult(passed=bad.height == 0, metadata={
        "rows": frame.height, "uncited": uncited.height, "inconsistent": inconsistent.height,
        "problems": dg.MetadataValue.md(markdown_table(bad.select("measure_id", "input_id", "status", "until",
                                                                  LINE)))})


assets = [src_reference_controls_in_force, controls_in_force]
checks = [controls_in_force_cited_and_consistent]
