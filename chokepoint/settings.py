"""Where things live. Every location can be overridden by an environment variable.

The defaults are the project's own folders. The Dagster definitions read the settings
via ``dg.EnvVar`` and fill in these defaults for variables the caller did not set.
"""

from __future__ import annotations

import os
from pathlib import Path

from chokepoint.errors import InputError, WarehouseError

__all__ = [
    "PROJECT_ROOT",
    "data_dir",
    "reference_dir",
    "scenario_dir",
    "scenario_path",
    "shared_data_dir",
    "cache_dir",
    "data_mode",
    "fetch_base",
    "verify_checksums",
    "max_quarantine_fraction",
    "warehouse_path",
    "reports_dir",
    "inbox_dir",
    "keep_snapshots",
    "snapshot_retention_hours",
    "crash_at",
    "dagster_home",
    "default_environment",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else (PROJECT_ROOT / path)


def data_dir() -> Path:
    """Folder holding ``reference/`` and ``scenarios/`` (``CHOKEPOINT_DATA_DIR``)."""
    return _env_path("CHOKEPOINT_DATA_DIR", PROJECT_ROOT / "data")


def reference_dir() -> Path:
    return data_dir() / "reference"


def scenario_dir() -> Path:
    return data_dir() / "scenarios"


def scenario_path(name: str = "default") -> Path:
    """Path of a scenario file by name (``default`` → ``scenarios/default.toml``)."""
    candidate = Path(name)
    if candidate.suffix == ".toml":
        return candidate if candidate.is_absolute() else (Path.cwd() / candidate)
    return scenario_dir() / f"{name}.toml"


def shared_data_dir() -> Path:
    """Real public datasets read in place (``CHOKEPOINT_SHARED_DATA``)."""
    return _env_path("CHOKEPOINT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")


def cache_dir() -> Path:
    """Where ``chokepoint fetch`` keeps verified downloads (``CHOKEPOINT_CACHE``)."""
    return _env_path("CHOKEPOINT_CACHE", PROJECT_ROOT / "data" / "cache")


def data_mode() -> str:
    """``auto`` (real data when a cache or mirror is present), ``reference`` or ``real`` (``CHOKEPOINT_DATA_MODE``)."""
    return os.environ.get("CHOKEPOINT_DATA_MODE") or "auto"


def fetch_base() -> str:
    """Base URL of a mirror laid out like ``../shared/data`` (``CHOKEPOINT_FETCH_BASE``); empty = GitHub raw."""
    return os.environ.get("CHOKEPOINT_FETCH_BASE", "")


def verify_checksums() -> bool:
    """Whether real-data files must match the manifest's sha256 (``CHOKEPOINT_VERIFY_CHECKSUMS``, default on)."""
    return os.environ.get("CHOKEPOINT_VERIFY_CHECKSUMS", "1").strip().lower() not in ("0", "false", "no", "off")


def max_quarantine_fraction() -> float:
    """Largest share of a file's data rows that may be quarantined (``CHOKEPOINT_MAX_QUARANTINE``, default 0.02)."""
    value = os.environ.get("CHOKEPOINT_MAX_QUARANTINE", "")
    try:
        return float(value) if value else 0.02
    except ValueError:
        raise InputError("CHOKEPOINT_MAX_QUARANTINE", f"'{value}' is not a number", hint="a fraction such as 0.02")


def warehouse_path() -> Path:
    """The DuckDB file analysts query (``CHOKEPOINT_WAREHOUSE``)."""
    return _env_path("CHOKEPOINT_WAREHOUSE", PROJECT_ROOT / "data" / "warehouse" / "chokepoint.duckdb")


def inbox_dir() -> Path:
    """Folder the inbox sensor watches for new or changed inputs (``CHOKEPOINT_INBOX``;
    default: the data folder)."""
    return _env_path("CHOKEPOINT_INBOX", data_dir())


def reports_dir() -> Path:
    """Folder of the HTML reports, one per scenario (``CHOKEPOINT_REPORTS``)."""
    return _env_path("CHOKEPOINT_REPORTS", PROJECT_ROOT / "data" / "reports")


def keep_snapshots() -> int:
    """How many earlier published warehouse files to keep (``CHOKEPOINT_KEEP_SNAPSHOTS``, default 3)."""
    value = os.environ.get("CHOKEPOINT_KEEP_SNAPSHOTS", "").strip()
    if not value:
        return 3
    try:
        keep = int(value)
    except ValueError:
        raise WarehouseError(f"CHOKEPOINT_KEEP_SNAPSHOTS={value!r} is not a whole number") from None
    if keep < 0:
        raise WarehouseError(f"CHOKEPOINT_KEEP_SNAPSHOTS={value!r} must be 0 or more")
    return keep


def snapshot_retention_hours() -> float:
    """How long an earlier snapshot beyond the kept count is kept while a client still holds
    it open (``CHOKEPOINT_SNAPSHOT_RETENTION_HOURS``, default 168 = one week), counted from
    when it stopped being the published one. Unheld snapshots beyond the count are deleted
    at once; a held one after this period (its client keeps reading the open file)."""
    value = os.environ.get("CHOKEPOINT_SNAPSHOT_RETENTION_HOURS", "").strip()
    if not value:
        return 168.0
    try:
        hours = float(value)
    except ValueError:
        raise WarehouseError(f"CHOKEPOINT_SNAPSHOT_RETENTION_HOURS={value!r} is not a number") from None
    if not hours >= 0:
        raise WarehouseError(f"CHOKEPOINT_SNAPSHOT_RETENTION_HOURS={value!r} must be 0 or more")
    return hours


def _env_int(name: str, default: int, minimum: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InputError(name, f"'{value}' is not a whole number") from None
    if number < minimum:
        raise InputError(name, f"{number} is below the minimum {minimum}")
    return number


def sweep_scheduler() -> str:
    """Address of the Dask scheduler the ``robustness`` assets use (``CHOKEPOINT_SWEEP_SCHEDULER``;
    empty: local, see :func:`sweep_workers`)."""
    return os.environ.get("CHOKEPOINT_SWEEP_SCHEDULER", "").strip()


def sweep_workers() -> int:
    """Local Dask worker processes of the ``robustness`` assets (``CHOKEPOINT_SWEEP_WORKERS``,
    default 0: the chunks run in the asset's own process, no cluster started)."""
    return _env_int("CHOKEPOINT_SWEEP_WORKERS", 0, 0)


def sweep_samples() -> int:
    """Samples per horizon of the pipeline's sweep (``CHOKEPOINT_SWEEP_SAMPLES``, default 2:
    four evaluations per scenario partition, as before the short run joined; at 3 the sweep
    step took 15.8 s of a real-data run of the four shipped scenarios, above the 15 s the main
    job allows it; raise it here, or use ``chokepoint sweep --samples`` for more)."""
    return _env_int("CHOKEPOINT_SWEEP_SAMPLES", 2, 1)


def sweep_seed() -> int:
    """Root seed of the pipeline's sweep (``CHOKEPOINT_SWEEP_SEED``, default 0)."""
    return _env_int("CHOKEPOINT_SWEEP_SEED", 0, 0)


def sweep_train() -> int:
    """Training samples of the pipeline's robust placements (``CHOKEPOINT_SWEEP_TRAIN``;
    default 0: none, the pipeline's sweep solves LPs only)."""
    return _env_int("CHOKEPOINT_SWEEP_TRAIN", 0, 0)


def analysis_threads() -> int:
    """Threads that analyse scenario partitions at once in the pipeline (``CHOKEPOINT_THREADS``;
    default: the machine's cores, at most 2 — HiGHS releases the GIL while it solves, so two
    threads take about 60 % of the serial time on this 2-core machine; results do not depend
    on it)."""
    return _env_int("CHOKEPOINT_THREADS", min(2, os.cpu_count() or 1), 1)


def crash_at() -> str:
    """Test hook: the publish step at which the process SIGKILLs itself (``CHOKEPOINT_CRASH_AT``;
    points in :data:`chokepoint.warehouse.store.CRASH_POINTS`); empty in normal use."""
    return os.environ.get("CHOKEPOINT_CRASH_AT", "")


def dagster_home() -> Path:
    """Project-local Dagster instance folder (``DAGSTER_HOME``)."""
    return _env_path("DAGSTER_HOME", PROJECT_ROOT / ".dagster")


def default_environment() -> dict[str, str]:
    """Absolute values for every setting, for processes the CLI starts.

    Also makes sure the Dagster instance folder exists and holds the project's
    ``dagster.yaml`` (instance settings only).
    """
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    link = home / "dagster.yaml"
    source = PROJECT_ROOT / "dagster.yaml"
    if not link.exists() and source.exists():
        link.symlink_to(source)
    warehouse = warehouse_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "DAGSTER_HOME": str(home),
        "CHOKEPOINT_DATA_DIR": str(data_dir()),
        "CHOKEPOINT_SHARED_DATA": str(shared_data_dir()),
        "CHOKEPOINT_CACHE": str(cache_dir()),
        "CHOKEPOINT_DATA_MODE": data_mode(),
        "CHOKEPOINT_VERIFY_CHECKSUMS": "1" if verify_checksums() else "0",
        "CHOKEPOINT_MAX_QUARANTINE": str(max_quarantine_fraction()),
        "CHOKEPOINT_WAREHOUSE": str(warehouse),
        "CHOKEPOINT_REPORTS": str(reports_dir()),
        "CHOKEPOINT_INBOX": str(inbox_dir()),
        "CHOKEPOINT_SCENARIO": os.environ.get("CHOKEPOINT_SCENARIO", "default"),
    }
