"""Configurable resources bound by key in :mod:`pipelines.definitions`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

__all__ = ["ChokepointSettings"]


class ChokepointSettings(dg.ConfigurableResource):
    """Where the input data lives and which scenario to analyse.

    Bound from ``CHOKEPOINT_DATA_DIR`` and ``CHOKEPOINT_SCENARIO`` (see ``.env``).
    ``solver`` and ``time_limit_s``, when set, override the scenario's settings.
    """

    data_dir: str
    scenario: str = "default"
    solver: str = ""
    time_limit_s: float = 0.0

    def reference_dir(self) -> Path:
        return Path(self.data_dir) / "reference"

    def scenario_path(self) -> Path:
        name = self.scenario
        if name.endswith(".toml"):
            return Path(name)
        return Path(self.data_dir) / "scenarios" / f"{name}.toml"


class ReportSettings(dg.ConfigurableResource):
    """Where HTML reports are written (``CHOKEPOINT_REPORTS``; default ``data/reports``)."""

    reports_dir: str

    def report_path(self, scenario: str) -> Path:
        return Path(self.reports_dir) / f"{scenario}.html"
