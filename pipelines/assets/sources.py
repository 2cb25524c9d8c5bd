"""Group ``sources``: input files as read (text cells, with file and line)."""

from __future__ import annotations

import hashlib

import dagster as dg
import polars as pl

from chokepoint.errors import InputError
from chokepoint.reference import REFERENCE_FILES
from chokepoint.tables import read_csv_text
from pipelines.metadata import table_metadata
from pipelines.resources import ChokepointSettings

GROUP = "sources"
OWNERS = ["team:chokepoint"]


def _reference_source(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"src_reference_{table}",
        key_prefix="staging",
        group_name=GROUP,
        kinds={"csv", "polars", "duckdb"},
        owners=OWNERS,
        tags={"dataset": "reference"},
        description=(f"`data/reference/{table}.csv` as read: every cell as text, with `_line` (line in the file) "
                     "and `_file`, so any staged figure can be traced back to its row."),
    )
    def source(settings: ChokepointSettings) -> dg.Output[pl.DataFrame]:
        path = settings.reference_dir() / f"{table}.csv"
        frame = read_csv_text(path)
        return dg.Output(frame, metadata=table_metadata(
            frame, path=dg.MetadataValue.path(str(path)),
            sha256=hashlib.sha256(path.read_bytes()).hexdigest()))

    return source


reference_sources = [_reference_source(table) for table in REFERENCE_FILES]


@dg.asset(
    key_prefix="staging",
    group_name=GROUP,
    kinds={"toml", "polars", "duckdb"},
    owners=OWNERS,
    description=("The scenario file as read (name, path, sha256, text): signatories, candidate defectors, "
                 "payoffs, leakage and the control catalogue. Selected by `CHOKEPOINT_SCENARIO`."),
)
def src_scenario(settings: ChokepointSettings) -> dg.Output[pl.DataFrame]:
    path = settings.scenario_path()
    if not path.exists():
        raise InputError(path, "scenario file not found", hint="set CHOKEPOINT_SCENARIO to a file in data/scenarios")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8", hint="save the scenario as UTF-8") from None
    frame = pl.DataFrame({"scenario": [settings.scenario], "path": [str(path)],
                          "sha256": [hashlib.sha256(raw).hexdigest()], "text": [text]})
    return dg.Output(frame, metadata={"path": dg.MetadataValue.path(str(path)),
                                      "sha256": frame["sha256"][0], "dagster/row_count": 1})


assets = [*reference_sources, src_scenario]
