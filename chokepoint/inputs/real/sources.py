"""Read each real dataset's files into raw tables (one per source asset).

Raw table names are the warehouse table names of the ``sources`` group
(``staging.src_eto_provision`` …). Chip-count files (33 of them, with varying columns)
are concatenated into one table; USGS files are routed to the world or salient table by
their header.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.real.atlas import ATLAS_REQUIRED
from chokepoint.inputs.real.epoch import CHIP_COUNTS_REQUIRED, CLUSTERS_REQUIRED, HARDWARE_REQUIRED
from chokepoint.inputs.real.eto import ETO_REQUIRED
from chokepoint.inputs.real.opensanctions import LIST_FILES
from chokepoint.inputs.real.rawcsv import raw_frame_schema, read_raw_csv
from chokepoint.inputs.real.supply_map import EDGES_REQUIRED, NODES_REQUIRED
from chokepoint.inputs.real.usgs import SALIENT_REQUIRED, WORLD_REQUIRED, usgs_layout

__all__ = ["RAW_TABLES", "read_dataset", "empty_dataset", "raw_tables_of"]

#: Raw table → (dataset, required columns of its files).
RAW_TABLES = {
    **{f"src_eto_{name}": ("eto", columns) for name, columns in ETO_REQUIRED.items()},
    "src_epoch_gpu_clusters": ("epoch_clusters", CLUSTERS_REQUIRED),
    "src_epoch_ml_hardware": ("epoch_hardware", HARDWARE_REQUIRED),
    "src_epoch_chip_counts": ("epoch_chip_counts", CHIP_COUNTS_REQUIRED),
    "src_usgs_world": ("usgs", WORLD_REQUIRED),
    "src_usgs_salient": ("usgs", SALIENT_REQUIRED),
    "src_supply_map_nodes": ("supply_map", NODES_REQUIRED),
    "src_supply_map_edges": ("supply_map", EDGES_REQUIRED),
    "src_atlas_campuses": ("ai_chip_fab_atlas", ATLAS_REQUIRED),
    **{layout.table: ("opensanctions", layout.required) for layout in LIST_FILES.values()},
}


def raw_tables_of(dataset: str) -> list[str]:
    return [t for t, (d, _) in RAW_TABLES.items() if d == dataset]


def empty_dataset(dataset: str) -> dict[str, pl.DataFrame]:
    """Empty raw tables (required columns and provenance) for a run on reference data."""
    return {t: pl.DataFrame(schema=raw_frame_schema(RAW_TABLES[t][1])) for t in raw_tables_of(dataset)}


def _table_for(path: str) -> str:
    """Raw table of an ETO, Epoch clusters/hardware, supply-map, fab-atlas or list file."""
    stem = Path(path).stem
    table = {"gpu_clusters": "src_epoch_gpu_clusters", "ml_hardware": "src_epoch_ml_hardware",
             "atlas-campuses": "src_atlas_campuses",
             **{name: layout.table for name, layout in LIST_FILES.items()}}.get(stem)
    table = table or {"eto_chip_explorer": f"src_eto_{stem}", "chip_supply_map": f"src_supply_map_{stem}"}.get(
        Path(path).parts[0])
    if table not in RAW_TABLES:
        raise InputError(path, "no raw table for this file")
    return table


def read_dataset(dataset: str, root: Path, manifest: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Read every file of ``dataset`` listed in the manifest from ``root``.

    Raises
    ------
    InputError
        When a file cannot be read as a table (see :func:`read_raw_csv`) or a USGS file
        has neither the world nor the salient layout.
    """
    paths = sorted(manifest.filter(pl.col("dataset") == dataset)["path"].to_list())
    tables: dict[str, list[pl.DataFrame]] = {t: [] for t in raw_tables_of(dataset)}
    for path in paths:
        file = Path(root) / path
        if dataset == "usgs":
            frame = read_raw_csv(file, dataset=dataset, name=path)
            layout = usgs_layout(frame.columns)
            if layout is None:
                # Report the missing column of the layout the header comes closest to.
                closest = max((WORLD_REQUIRED, SALIENT_REQUIRED), key=lambda req: sum(c in frame.columns for c in req))
                missing = next(c for c in closest if c not in frame.columns)
                raise InputError(path, "required column missing (USGS files have the world layout Source, Country, "
                                       "Type, … or the salient layout DataSource, Commodity, Year, …)", row=1,
                                 field=missing)
            tables[f"src_usgs_{layout}"].append(frame)
        elif dataset == "epoch_chip_counts":
            tables["src_epoch_chip_counts"].append(
                read_raw_csv(file, dataset=dataset, name=path, required=CHIP_COUNTS_REQUIRED))
        else:
            table = _table_for(path)
            tables[table].append(read_raw_csv(file, dataset=dataset, name=path, required=RAW_TABLES[table][1]))
    out = {}
    for table, frames in tables.items():
        if frames:
            frame = pl.concat(frames, how="diagonal_relaxed")
            provenance = [c for c in frame.columns if c.startswith("_") and not c.startswith("_unnamed_")]
            out[table] = frame.select([c for c in frame.columns if c not in provenance] + provenance)
        else:
            out[table] = pl.DataFrame(schema=raw_frame_schema(RAW_TABLES[table][1]))
    return out
