"""Configurable resources bound by key in :mod:`pipelines.definitions`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from chokepoint.settings import PROJECT_ROOT, reports_dir

__all__ = ["ChokepointSettings"]


class ChokepointSettings(dg.ConfigurableResource):
    """Where the input data lives and which scenario to analyse.

    Bound from ``CHOKEPOINT_DATA_DIR`` and ``CHOKEPOINT_SCENARIO`` (defaults: chokepoint.settings).
    ``solver`` and ``time_limit_s``, when set, override the scenario's settings.

    Real data: ``shared_data_dir`` is the local mirror of the public datasets
    (``CHOKEPOINT_SHARED_DATA``), ``cache_dir`` the folder ``chokepoint fetch`` fills
    (``CHOKEPOINT_CACHE``); empty means none. ``data_mode`` is ``auto`` (real data when a
    complete cache or mirror is present), ``reference`` or ``real``
    (``CHOKEPOINT_DATA_MODE``). ``verify_checksums`` refuses real-data files whose sha256
    differs from the manifest; ``max_quarantine_fraction`` is the largest share of a
    file's data rows the quarantine may take before the run fails. ``threads``: scenario
    partitions analysed at once (``CHOKEPOINT_THREADS``).
    """

    data_dir: str
    scenario: str = "default"
    solver: str = ""
    time_limit_s: float = 0.0
    shared_data_dir: str = ""
    cache_dir: str = ""
    data_mode: str = "auto"
    verify_checksums: bool = True
    max_quarantine_fraction: float = 0.02
    #: Folder of the HTML reports (``CHOKEPOINT_REPORTS``); empty: chokepoint.settings default.
    reports_dir: str = ""
    threads: int = 1

    def solver_for(self, scenario) -> str:
        """The MILP/LP solver: this resource's override, else the scenario's setting."""
        return (self.solver or scenario.settings.solver).upper()

    def time_limit_for(self, scenario) -> float:
        """Seconds per solve: this resource's override, else the scenario's setting."""
        return float(self.time_limit_s or scenario.settings.time_limit_s)

    def report_path(self, scenario: str) -> Path:
        return (Path(self.reports_dir) if self.reports_dir else reports_dir()) / f"{scenario}.html"

    def reference_dir(self) -> Path:
        return Path(self.data_dir) / "reference"

    def scenario_path(self) -> Path:
        name = self.scenario
        if name.endswith(".toml"):
            return Path(name)
        return Path(self.data_dir) / "scenarios" / f"{name}.toml"

    @staticmethod
    def _resolve(value: str) -> Path | None:
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else PROJECT_ROOT / path

    def mirror_path(self) -> Path | None:
        return self._resolve(self.shared_data_dir)

    def cache_path(self) -> Path | None:
        return self._resolve(self.cache_dir)
