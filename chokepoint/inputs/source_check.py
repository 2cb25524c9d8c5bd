"""Re-check every input without running the analysis (the daily source check).

Reads and validates the reference data, the export controls in force
(``controls_in_force.csv``, when present), every scenario file against the reference
data, and — when real data is available — verifies each real-data file's sha256 against
the manifest and reads every dataset. Raises :class:`~chokepoint.errors.InputError` on the first
problem; returns a summary otherwise. Nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from chokepoint.errors import InputError
from chokepoint.inputs.controls_in_force import CONTROLS_IN_FORCE_FILE, read_controls_in_force
from chokepoint.inputs.real.manifest import DATASETS, load_manifest, locate_real_data, verify_files
from chokepoint.inputs.real.sources import read_dataset
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario

__all__ = ["check_inputs"]


def check_inputs(data_dir: Path, *, data_mode: str = "auto", mirror: Path | None = None,
                 cache: Path | None = None) -> dict:
    """Validate every input; return counts of what was checked."""
    data_dir = Path(data_dir)
    reference = load_reference(data_dir / "reference")
    countries, inputs = reference.countries["iso3"], reference.input_types["input_id"]
    scenarios = sorted((data_dir / "scenarios").glob("*.toml"))
    if not scenarios:
        raise InputError(data_dir / "scenarios", "no scenario files (*.toml)")
    for path in scenarios:
        load_scenario(path).validate_against(countries, inputs)
    controls_file = data_dir / "reference" / CONTROLS_IN_FORCE_FILE
    controls = read_controls_in_force(controls_file, input_ids=inputs).height if controls_file.exists() else 0
    summary = {"reference_capacities": reference.capacities.height, "controls_in_force": controls,
               "scenarios": len(scenarios), "real_data": "not available", "real_files": 0, "real_rows": 0}
    manifest = load_manifest()
    location = locate_real_data(data_mode, mirror, cache, manifest)
    if location.mode == "real":
        files = verify_files(location.root, manifest)
        bad = files.filter(pl.col("status") != "ok")
        if bad.height:
            row = bad.row(0, named=True)
            raise InputError(row["path"], f"real-data file is {row['status']} (sha256 differs from the manifest)",
                             hint="run `chokepoint fetch`")
        rows = 0
        for dataset in DATASETS:
            rows += sum(frame.height for frame in read_dataset(dataset, location.root, manifest).values())
        summary.update(real_data=f"{location.source} {location.root}", real_files=files.height, real_rows=rows)
    return summary
