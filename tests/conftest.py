"""Shared fixtures: the embedded data, editable copies of it, a tmp warehouse."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from chokepoint.settings import PROJECT_ROOT
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario

DATA = PROJECT_ROOT / "data"
REFERENCE = DATA / "reference"
DEFAULT_SCENARIO = DATA / "scenarios" / "default.toml"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def reference():
    return load_reference(REFERENCE)


@pytest.fixture(scope="session")
def scenario():
    return load_scenario(DEFAULT_SCENARIO)


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the project's data/ (reference + scenarios)."""
    target = tmp_path / "data"
    shutil.copytree(REFERENCE, target / "reference")
    shutil.copytree(DATA / "scenarios", target / "scenarios")
    return target


@dataclass
class Materialized:
    result: object
    database: Path
    reports: Path


@pytest.fixture(scope="session")
def materialized(tmp_path_factory) -> Materialized:
    """Every asset and check of the definitions materialised once into a tmp warehouse."""
    import dagster as dg
    from pipelines.definitions import all_assets, all_checks
    from pipelines.io import WarehouseIOManager
    from pipelines.partitions import ALL_SCENARIOS_TAGS
    from pipelines.resources import ChokepointSettings

    tmp = tmp_path_factory.mktemp("warehouse")
    database = tmp / "chokepoint.duckdb"
    reports = tmp / "reports"
    resources = {
        "settings": ChokepointSettings(data_dir=str(DATA), scenario="default", reports_dir=str(reports)),
        "io_manager": WarehouseIOManager(database=str(database)),
        "object_io_manager": dg.FilesystemIOManager(base_dir=str(tmp / "objects")),
    }
    result = dg.materialize([*all_assets, *all_checks], resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            tags=ALL_SCENARIOS_TAGS)
    return Materialized(result=result, database=database, reports=reports)
