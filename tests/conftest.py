"""Shared fixtures: the embedded data, editable copies of it, a tmp warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chokepoint.paths import PROJECT_ROOT
from chokepoint.reference import load_reference
from chokepoint.scenario import load_scenario

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
