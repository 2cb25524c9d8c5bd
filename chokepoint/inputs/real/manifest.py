"""The pinned list of real-data files, and where the pipeline finds them.

``data/real_sources.csv`` is the project's copy of ``../shared/data/MANIFEST.csv``: every
file with its sha256, size, public GitHub repository, commit and path there. ``fetch``
downloads exactly those bytes; the pipeline reads them from the fetch cache or from the
local mirror and compares their checksums with it.

Files of datasets that are fetched and verified but not ingested yet (folders listed in
:data:`FETCHED_ONLY`, with their licence) have ``dataset`` null, like the documentation and
licence files: ``chokepoint fetch`` downloads them, but no data mode requires them.

Data modes: ``reference`` (embedded reference data only), ``real`` (real data merged over
the reference data; an error if no complete copy is found) and ``auto`` (real when a
complete cache or mirror is present, reference otherwise). The cache wins over the
mirror: it holds what ``chokepoint fetch`` downloaded and verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.files import file_sha256
from chokepoint.inputs.tables import Column, read_csv_table
from chokepoint.settings import PROJECT_ROOT

__all__ = [
    "DATA_MODES",
    "DATASETS",
    "DataLocation",
    "FETCHED_ONLY",
    "MANIFEST_COLUMNS",
    "check_dataset_files",
    "data_mode_table",
    "dataset_of",
    "load_manifest",
    "locate_real_data",
    "origin_url",
    "verify_files",
    "manifest_path",
]

DATA_MODES = ("auto", "reference", "real")

#: Ingested datasets: description, licence and the attribution it requires.
DATASETS = {
    "eto": ("ETO Advanced Semiconductor Supply Chain Dataset (inputs, sequence, providers, provision)",
            "CC BY-NC 4.0", "Emerging Technology Observatory, Georgetown CSET"),
    "epoch_clusters": ("Epoch AI GPU clusters", "CC BY 4.0", "Epoch AI, 'Data on GPU Clusters'"),
    "epoch_hardware": ("Epoch AI ML hardware", "CC BY 4.0", "Epoch AI, 'Data on Machine Learning Hardware'"),
    "epoch_chip_counts": ("Epoch AI AI chip counts by quarter and owner", "MIT", "© 2025 Epoch AI"),
    "usgs": ("USGS Mineral Commodity Summaries 2022-2024 (world production and reserves, US salient statistics)",
             "US public domain", "U.S. Geological Survey"),
    "supply_map": ("Firm-level chip supply map (nodes, typed edges)", "MIT", "© 2026 Vignesh Gopalakrishnan"),
    "ai_chip_fab_atlas": ("AI Chip Fab Atlas v1.0.0, Berkeley AI Risk: AI-die fab campuses (operator, ISO3 country, "
                          "coordinates, lifecycle status)",
                          "CC BY 4.0 (16 coordinates are OpenStreetMap points, ODbL)",
                          "AI Chip Fab Atlas, Berkeley AI Risk"),
    "opensanctions": ("OpenSanctions curated government lists (US DoD 1260H, NDAA sections 5949 and 889, BIS "
                      "MIEU, China's countermeasures, EU Regulation 833/2014 annexes)",
                      "CC BY-NC 4.0", "OpenSanctions"),
}

#: Datasets in the manifest that are fetched and verified but not ingested yet (their files
#: have ``dataset`` null): top folder → description, licence and the attribution it requires.
FETCHED_ONLY: dict[str, tuple[str, str, str]] = {}

MANIFEST_COLUMNS = [
    Column("path"),
    Column("sha256"),
    Column("bytes", "int", minimum=0),
    Column("repo"),
    Column("commit"),
    Column("origin_path"),
]

_ETO_TABLES = {"inputs", "sequence", "providers", "provision", "stages"}
#: Top folders of the ingested datasets (their documentation and licence files included).
_INGESTED_FOLDERS = ("eto_chip_explorer", "epoch", "usgs_mcs", "chip_supply_map", "ai_chip_fab_atlas", "opensanctions")
_GITHUB_RAW = "https://raw.githubusercontent.com"


def manifest_path() -> Path:
    return PROJECT_ROOT / "data" / "real_sources.csv"


def dataset_of(path: str) -> str | None:
    """The ingested dataset a manifest path belongs to.

    None for documentation and licence files and for every file of a dataset that is
    fetched but not ingested (:data:`FETCHED_ONLY`).
    """
    p = Path(path)
    if p.suffix != ".csv":
        return None
    top = p.parts[0]
    if top == "eto_chip_explorer" and p.stem in _ETO_TABLES:
        return "eto"
    if path == "epoch/gpu_clusters.csv":
        return "epoch_clusters"
    if path == "epoch/ml_hardware.csv":
        return "epoch_hardware"
    if path.startswith("epoch/ai_chip_counts/"):
        return "epoch_chip_counts"
    if top == "usgs_mcs":
        return "usgs"
    if top == "chip_supply_map" and p.stem in ("nodes", "edges"):
        return "supply_map"
    if path == "ai_chip_fab_atlas/atlas-campuses.csv":
        return "ai_chip_fab_atlas"
    if top == "opensanctions":
        return "opensanctions"
    return None


def load_manifest(path: Path | None = None) -> pl.DataFrame:
    """The manifest with a ``dataset`` column (null for files fetched but not ingested).

    Raises
    ------
    InputError
        Naming the file, line and field: a malformed sha256, a path leaving the data
        root, or a path in a folder that is neither an ingested dataset's nor listed in
        :data:`FETCHED_ONLY` (so that nobody's licence goes unrecorded).
    """
    path = Path(path) if path else manifest_path()
    frame = read_csv_table(path, MANIFEST_COLUMNS)
    known = (*_INGESTED_FOLDERS, *FETCHED_ONLY)
    for row in frame.iter_rows(named=True):
        if len(row["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in row["sha256"]):
            raise InputError(path, f"'{row['sha256']}' is not a sha256 hex digest", row=row["_line"], field="sha256")
        if Path(row["path"]).is_absolute() or ".." in Path(row["path"]).parts:
            raise InputError(path, "path must be relative and stay inside the data root", row=row["_line"],
                             field="path")
        if Path(row["path"]).parts[0] not in known:
            raise InputError(path, f"'{row['path']}' is in no known dataset folder", row=row["_line"], field="path",
                             hint="list the folder with its licence in chokepoint.inputs.real.manifest.FETCHED_ONLY, "
                                  "or ingest it")
    return frame.select("path", "sha256", "bytes", "repo", "commit", "origin_path").with_columns(
        pl.col("path").map_elements(dataset_of, return_dtype=pl.String).alias("dataset"))


def origin_url(row: dict, base: str | None = None) -> str:
    """Where to download one manifest file: GitHub raw at the pinned commit, or ``base``/path."""
    if base:
        return f"{base.rstrip('/')}/{row['path']}"
    return f"{_GITHUB_RAW}/{row['repo']}/{row['commit']}/{row['origin_path']}"


def verify_files(root: Path, manifest: pl.DataFrame, *, ingested_only: bool = True) -> pl.DataFrame:
    """Per file: expected and actual sha256 and size, and ``status`` ok / modified / missing."""
    rows = []
    for row in manifest.iter_rows(named=True):
        if ingested_only and row["dataset"] is None:
            continue
        file = Path(root) / row["path"]
        if file.exists():
            actual, size = file_sha256(file), file.stat().st_size
            status = "ok" if actual == row["sha256"] else "modified"
        else:
            actual, size, status = None, None, "missing"
        rows.append({"dataset": row["dataset"], "path": row["path"], "status": status,
                     "expected_sha256": row["sha256"], "actual_sha256": actual,
                     "expected_bytes": row["bytes"], "actual_bytes": size, "origin": origin_url(row)})
    return pl.DataFrame(rows, schema={"dataset": pl.String, "path": pl.String, "status": pl.String,
                                      "expected_sha256": pl.String, "actual_sha256": pl.String,
                                      "expected_bytes": pl.Int64, "actual_bytes": pl.Int64, "origin": pl.String})


@dataclass(frozen=True)
class DataLocation:
    """Which data the run uses and why.

    ``mode`` is ``real`` or ``reference``; ``source`` is ``cache`` or ``mirror`` (real
    mode) and ``root`` the folder the files are read from.
    """

    mode: str
    requested: str
    source: str | None
    root: Path | None
    reason: str


def _missing(root: Path | None, manifest: pl.DataFrame) -> list[str]:
    paths = manifest.filter(pl.col("dataset").is_not_null())["path"].to_list()
    if root is None or not Path(root).is_dir():
        return paths
    return [p for p in paths if not (Path(root) / p).is_file()]


def locate_real_data(requested: str, mirror: Path | None, cache: Path | None,
                     manifest: pl.DataFrame) -> DataLocation:
    """Decide the data mode (see the module docstring).

    Raises
    ------
    InputError
        For an unknown mode, or mode ``real`` without a complete cache or mirror.
    """
    if requested not in DATA_MODES:
        raise InputError("CHOKEPOINT_DATA_MODE", f"unknown data mode '{requested}'",
                         hint="one of " + ", ".join(DATA_MODES))
    if requested == "reference":
        return DataLocation("reference", requested, None, None, "reference data requested (data mode 'reference')")
    total = manifest.filter(pl.col("dataset").is_not_null()).height
    notes = []
    for source, root in (("cache", cache), ("mirror", mirror)):
        missing = _missing(root, manifest)
        if not missing:
            return DataLocation("real", requested, source, Path(root),
                                f"real data from the {source} at {root} ({total} files)")
        where = f"{source} {root}" if root else f"no {source} configured"
        notes.append(f"{where}: {len(missing)} of {total} files missing" + (f" (first: {missing[0]})"
                                                                              if root and Path(root).is_dir() else ""))
    reason = "no complete real-data copy — " + "; ".join(notes)
    if requested == "real":
        raise InputError("CHOKEPOINT_DATA_MODE", f"data mode 'real' but {reason}",
                         hint="run `chokepoint fetch` or set CHOKEPOINT_SHARED_DATA to the mirror")
    return DataLocation("reference", requested, None, None, reason)


def data_mode_table(location: DataLocation, files: pl.DataFrame, verify_checksums: bool) -> pl.DataFrame:
    """The one-row ``staging.data_mode`` table: the mode, where the files were found and why,
    and how many of the verified ``files`` (:func:`verify_files`) match the manifest."""
    modified = files.filter(pl.col("status") != "ok").height
    return pl.DataFrame([{
        "mode": location.mode, "requested": location.requested, "source": location.source,
        "root": str(location.root) if location.root else None, "reason": location.reason,
        "files": files.height, "files_ok": files.height - modified, "files_modified": modified,
        "verify_checksums": verify_checksums,
        "datasets": ", ".join(sorted(set(files["dataset"].to_list()))) if files.height else "",
    }], schema={"mode": pl.String, "requested": pl.String, "source": pl.String, "root": pl.String,
                "reason": pl.String, "files": pl.Int64, "files_ok": pl.Int64, "files_modified": pl.Int64,
                "verify_checksums": pl.Boolean, "datasets": pl.String})


def check_dataset_files(files: pl.DataFrame, dataset: str) -> None:
    """Refuse a dataset whose files are missing or differ from the manifest.

    Parameters
    ----------
    files : polars.DataFrame
        :func:`verify_files` of the data root.
    dataset : str
        A key of :data:`DATASETS`.

    Raises
    ------
    InputError
        Naming the first such file, with the expected and actual sha256 and size.
    """
    bad = files.filter((pl.col("dataset") == dataset) & (pl.col("status") != "ok"))
    if not bad.height:
        return
    row = bad.row(0, named=True)
    if row["status"] == "missing":
        raise InputError(row["path"], "real-data file missing", hint="run `chokepoint fetch`")
    raise InputError(
        row["path"], f"sha256 does not match the manifest (expected {row['expected_sha256'][:12]}…, got "
                     f"{row['actual_sha256'][:12]}…; {row['expected_bytes']:,} bytes expected, "
                     f"{row['actual_bytes']:,} found): the file was modified or truncated",
        hint="run `chokepoint fetch` to restore it, or set CHOKEPOINT_VERIFY_CHECKSUMS=0 to ingest it as is")
