"""Group ``sources``: input files as read (text cells, with file and line)."""

import hashlib
from pathlib import Path

import dagster as dg
import polars as pl

from chokepoint.inputs.real.manifest import (DATASETS, check_dataset_files, data_mode_table, load_manifest,
                                             locate_real_data, verify_files)
from chokepoint.inputs.real.sources import RAW_TABLES, empty_dataset, raw_tables_of, read_dataset
from chokepoint.inputs.real.stage import MAPPING_FILES, empty_mapping_source
from chokepoint.inputs.reference import REFERENCE_FILES
from chokepoint.inputs.scenario_tables import read_scenario_source
from chokepoint.inputs.tables import read_csv_text
from pipelines.metadata import markdown_table, table_metadata
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

_MAPPING_DESCRIPTIONS = {
    "eto_input_map": "which taxonomy input each ETO input and stage is (relation same / part_of / process_of / "
                     "broader / none); only `same` inputs contribute country shares",
    "country_aliases": "country spellings the ISO tables do not know (USGS 'Burma', 'Congo (Kinshasa)', …) and "
                       "aggregates ('World total', 'Other countries', 'Various countries', 'EUR')",
    "firm_aliases": "firm spellings across sources that are one firm (by role: Epoch's foundry 'Samsung' is "
                    "samsung-foundry)",
    "usgs_input_map": "which taxonomy input each USGS mineral's production is",
}


def _mapping_source(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"src_reference_{table}",
        key_prefix="staging",
        group_name=GROUP,
        kinds={"csv", "polars", "duckdb"},
        owners=OWNERS,
        tags={"dataset": "reference"},
        ins={"data_mode": dg.AssetIn(key=["staging", "data_mode"])},
        description=(f"`data/reference/{table}.csv` as read (project-authored mapping table): "
                     f"{_MAPPING_DESCRIPTIONS[table]}. Needed for real data; optional on reference data."),
    )
    def source(settings: ChokepointSettings, data_mode: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        path = settings.reference_dir() / f"{table}.csv"
        if not path.exists() and data_mode["mode"][0] == "reference":
            frame = empty_mapping_source(table)
            return dg.Output(frame, metadata={"dagster/row_count": 0, "note": "file absent; not needed on "
                                                                              "reference data"})
        frame = read_csv_text(path)
        return dg.Output(frame, metadata=table_metadata(
            frame, path=dg.MetadataValue.path(str(path)),
            sha256=hashlib.sha256(path.read_bytes()).hexdigest()))

    return source


mapping_sources = [_mapping_source(table) for table in MAPPING_FILES]


@dg.multi_asset(
    outs={
        "data_mode": dg.AssetOut(
            key_prefix="staging", group_name=GROUP, kinds={"polars", "duckdb"}, owners=OWNERS,
            description=("Which data this run uses: `real` (public datasets merged over the reference data) or "
                         "`reference` (embedded reference data only), as requested (`CHOKEPOINT_DATA_MODE`: auto, "
                         "real, reference), where the files were found (fetch cache or local mirror) and why. "
                         "Grain: one row.")),
        "real_data_files": dg.AssetOut(
            key_prefix="staging", group_name=GROUP, kinds={"polars", "duckdb"}, owners=OWNERS,
            description=("Every real-data file the run ingests, with its public origin (GitHub raw at the pinned "
                         "commit), the manifest's sha256 and size and the file's own: status ok / modified / "
                         "missing. Empty on reference data. Grain: one row per file.")),
    },
)
def real_data(settings: ChokepointSettings):
    """Decide the data mode from the settings and verify the real-data files against the manifest."""
    manifest = load_manifest()
    location = locate_real_data(settings.data_mode, settings.mirror_path(), settings.cache_path(), manifest)
    files = (verify_files(location.root, manifest) if location.mode == "real"
             else verify_files(location.root or settings.reference_dir(), manifest.clear()))
    modified = files.filter(pl.col("status") != "ok")
    mode = data_mode_table(location, files, settings.verify_checksums)
    yield dg.Output(mode, output_name="data_mode", metadata={
        "mode": location.mode, "reason": location.reason, "dagster/row_count": 1,
        "root": str(location.root) if location.root else ""})
    yield dg.Output(files, output_name="real_data_files", metadata=table_metadata(
        files, files_modified=modified.height,
        modified=dg.MetadataValue.md(markdown_table(modified.select("path", "status", "expected_bytes",
                                                                    "actual_bytes")))))


def _dataset_sources(dataset: str) -> dg.AssetsDefinition:
    tables = raw_tables_of(dataset)
    description, licence, attribution = DATASETS[dataset]

    @dg.multi_asset(
        name=f"{dataset}_sources",
        outs={table: dg.AssetOut(
            key_prefix="staging", group_name=GROUP, kinds={"csv", "polars", "duckdb"}, owners=OWNERS,
            tags={"dataset": dataset},
            description=(f"{description} ({licence}; attribution: {attribution}) — the raw file(s) as read: every "
                         "cell as text, with `_file` (path in the data root), `_line` (line the record starts on), "
                         "`_record` (CSV record number), `_problem` (why a record cannot be used) and `_raw`. "
                         "Empty on reference data."))
            for table in tables},
        ins={"data_mode": dg.AssetIn(key=["staging", "data_mode"]),
             "real_data_files": dg.AssetIn(key=["staging", "real_data_files"])},
    )
    def sources(settings: ChokepointSettings, data_mode: pl.DataFrame, real_data_files: pl.DataFrame):
        mode = data_mode.row(0, named=True)
        if mode["mode"] == "real":
            if settings.verify_checksums:
                check_dataset_files(real_data_files, dataset)
            frames = read_dataset(dataset, Path(mode["root"]), load_manifest())
        else:
            frames = empty_dataset(dataset)
        for table in tables:
            frame = frames[table]
            problems = frame.filter(pl.col("_problem").is_not_null()).height
            yield dg.Output(frame, output_name=table, metadata=table_metadata(
                frame, files=frame["_file"].n_unique() if frame.height else 0, records_with_problems=problems,
                mode=mode["mode"]))

    return sources


dataset_sources = [_dataset_sources(dataset) for dataset in DATASETS]
assert set(RAW_TABLES) == {t for d in DATASETS for t in raw_tables_of(d)}


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
    frame = read_scenario_source(path, settings.scenario)
    return dg.Output(frame, metadata={"path": dg.MetadataValue.path(str(path)),
                                      "sha256": frame["sha256"][0], "dagster/row_count": 1})


assets = [*reference_sources, *mapping_sources, real_data, *dataset_sources, src_scenario]
