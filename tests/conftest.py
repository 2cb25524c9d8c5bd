"""Shared fixtures and helpers for the whole suite.

- The embedded data (``reference``, ``scenario``) and a writable copy of it (``data_copy``).
- :func:`resources` — the one factory of Dagster resources for in-process runs, and
  :func:`materialize`, which runs a selection of the definitions with them.
- :func:`clean_env` and :func:`run_cli` — the ``chokepoint`` command as a user runs it,
  in a subprocess of *this* interpreter on *this* checkout (``python -m pipelines.cli``;
  ``.venv/bin/chokepoint`` may belong to another checkout).
- Two whole-pipeline runs shared by every test of a test run (across xdist workers):
  ``materialized`` (the reference data, the ``default`` scenario partition: what most
  tests read) and ``real_run`` (the real data, fetched by the run itself from a local
  server, every scenario partition, hostile scenario names). Each is made once, by the
  first worker that needs it, under a file lock, with ``chokepoint run``; the other
  workers read the same files. Tests that change a warehouse copy it first. These are the
  suite's only runs of the whole job on every partition; tests that need a run of their
  own (faults, a refresh under held connections) use one partition (:func:`copy_data`).

Scheduling (``--dist loadfile``, see :func:`pytest_collection_modifyitems`): the two
modules that build the shared runs come first, so that the two workers build them at once;
light modules run beside the real-data build, the longest modules follow (longest first), the
readers of the real-data run come last, so no worker waits for a build or idles at the end.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from chokepoint.settings import PROJECT_ROOT

DATA = PROJECT_ROOT / "data"
REFERENCE = DATA / "reference"
DEFAULT_SCENARIO = DATA / "scenarios" / "default.toml"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
#: ``chokepoint`` as a subprocess of this interpreter, importing this checkout's packages.
CLI = (sys.executable, "-m", "pipelines.cli")
#: Not the synthetic asset's default, so that a shared run shows the flag reached the asset.
SYNTHETIC_NODES = 1_234
#: Scenario text that would do harm if it ever reached SQL unquoted (the real run's scenario uses it).
HOSTILE = "x'); DROP TABLE t; --"

#: The runs shared by the whole test run (fixture names).
SHARED_GROUPS = ("real_run", "materialized")
#: Seconds a reader of a shared run may take, its wait for the run included (pytest-timeout).
SHARED_RUN_TIMEOUT = 3600


@pytest.fixture(scope="session")
def reference():
    return load_reference(REFERENCE)


@pytest.fixture(scope="session")
def scenario():
    return load_scenario(DEFAULT_SCENARIO)


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the project's data/ (reference + scenarios)."""
    return copy_data(tmp_path / "data")


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory) -> Path:
    """One Dagster instance folder per worker for runs whose history no test reads (runs
    that must fail, fault injection): creating an instance's storage takes seconds."""
    return tmp_path_factory.mktemp("dagster")


def copy_data(target: Path, scenarios: tuple[str, ...] | None = None) -> Path:
    """A copy of the project's data/ in ``target``: the reference data and the scenario
    files, or only ``scenarios`` (file stems). The scenario partitions are the files of the
    data folder, so a run on a copy with only ``("default",)`` analyses that one partition: a
    whole run at about a third of the work, for tests of what a run does around its
    analysis (publishing, faults, held connections)."""
    shutil.copytree(REFERENCE, target / "reference")
    if scenarios is None:
        shutil.copytree(DATA / "scenarios", target / "scenarios")
    else:
        (target / "scenarios").mkdir(parents=True)
        for name in scenarios:
            shutil.copyfile(DATA / "scenarios" / f"{name}.toml", target / "scenarios" / f"{name}.toml")
    return target


# --------------------------------------------------------------------- in-process Dagster runs
def resources(tmp: Path, *, database: Path | None = None, direct: bool = False, objects: bool = True,
              **settings) -> dict:
    """Resources for ``dg.materialize``: the settings (reference data and the default
    scenario unless overridden), the warehouse I/O manager on ``database`` (default
    ``tmp/chokepoint.duckdb``; ``direct`` writes it in place instead of a build that the
    publish asset swaps in) and, with ``objects``, the object store under ``tmp/objects``.
    Reports go to ``tmp/reports``, never into the project's data/."""
    import dagster as dg

    from pipelines.io import WarehouseIOManager
    from pipelines.resources import ChokepointSettings

    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    settings = {"data_dir": str(DATA), "scenario": "default", "reports_dir": str(tmp / "reports"), **settings}
    found = {"settings": ChokepointSettings(**settings),
             "io_manager": WarehouseIOManager(database=str(database or tmp / "chokepoint.duckdb"), direct=direct)}
    if objects:
        found["object_io_manager"] = dg.FilesystemIOManager(base_dir=str(tmp / "objects"))
    return found


def materialize(tmp: Path, *, selection=None, extra=(), database: Path | None = None, direct: bool | None = None,
                partition_key: str | None = None, raise_on_error: bool = False, **settings):
    """Run the definitions' assets and checks (``selection`` of them, plus ``extra``
    definitions) in process on an ephemeral instance; returns (result, database).
    A subset run has no publish step, so by default it writes the warehouse directly."""
    import dagster as dg

    from pipelines.definitions import all_assets, all_checks
    from pipelines.partitions import ALL_SCENARIOS_TAGS

    database = database or Path(tmp) / "chokepoint.duckdb"
    direct = selection is not None if direct is None else direct
    found = resources(tmp, database=database, direct=direct, **settings)
    result = dg.materialize([*all_assets, *all_checks, *extra], resources=found, selection=selection,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                            partition_key=partition_key, tags=None if partition_key else ALL_SCENARIOS_TAGS)
    return result, database


# --------------------------------------------------------------------- the command line
def clean_env(**extra) -> dict[str, str]:
    """This process's environment without any CHOKEPOINT_*/DAGSTER_* setting, this
    checkout first on the import path, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHOKEPOINT_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args, env: dict[str, str] | None = None, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """``chokepoint ARGS`` in a subprocess from the project folder (``env`` default: :func:`clean_env`)."""
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT,
                          env=env if env is not None else clean_env(), **kwargs)


# --------------------------------------------------------------------- runs shared by the whole test run
def _run_wide_folder(tmp_path_factory) -> Path:
    """A folder every xdist worker of this test run sees (the workers' common tmp parent).

    ``PYTEST_SHARED_RUNS=FOLDER`` keeps the shared runs in FOLDER across test runs (a fast
    loop while working on tests that read them; delete the folder after changing code the
    runs depend on)."""
    kept = os.environ.get("PYTEST_SHARED_RUNS")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        return Path(kept)
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / f"shared-{os.environ.get('PYTEST_XDIST_TESTRUNUID', 'local')}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` once per test run, whichever worker asks first; the others wait
    for it and get the same folder. A build that raised is tried again by the next asker."""
    root = _run_wide_folder(tmp_path_factory)
    folder = root / name
    with _locked(root / f"{name}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


class RunEvents:
    """The event log of a run recorded in a Dagster instance, with the accessors of
    ``ExecuteInProcessResult`` that the tests use."""

    def __init__(self, home: Path, job: str = "main"):
        import dagster as dg

        saved = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = str(home)  # the instance's dagster.yaml reads it
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                runs = [r for r in instance.get_runs() if r.job_name == job]
                assert len(runs) == 1, f"{len(runs)} runs of {job} in {home}"
                self.run = runs[0]
                self.all_events = [entry.dagster_event for entry in instance.all_logs(self.run.run_id)
                                   if entry.dagster_event is not None]
        finally:
            if saved is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = saved
        self.run_id = self.run.run_id
        self.success = self.run.status == dg.DagsterRunStatus.SUCCESS

    def get_asset_check_evaluations(self):
        return [e.asset_check_evaluation_data for e in self.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]

    def get_asset_materialization_events(self):
        return [e for e in self.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]


@dataclass
class CliRun:
    """A ``chokepoint run`` in a folder of its own: its warehouse, reports, Dagster home,
    environment, exit status and output."""

    folder: Path
    env: dict[str, str]
    data: Path = field(default=DATA)

    @property
    def database(self) -> Path:
        return self.folder / "warehouse" / "chokepoint.duckdb"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    @property
    def home(self) -> Path:
        return self.folder / "dagster"

    @property
    def returncode(self) -> int:
        return int((self.folder / "returncode").read_text())

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout").read_text()

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr").read_text()

    @functools.cached_property
    def result(self) -> RunEvents:
        return RunEvents(self.home)

    @property
    def seconds(self) -> float:
        """Wall time of the run (for tests that kill runs at random moments of one)."""
        return float((self.folder / "seconds").read_text())

    def run(self, *args, **env) -> None:
        """``chokepoint run ARGS`` with this run's environment (plus ``env``), recorded in the folder."""
        started = time.perf_counter()
        done = run_cli("run", "--synthetic-nodes", SYNTHETIC_NODES, *args, env={**self.env, **env},
                       timeout=SHARED_RUN_TIMEOUT)
        (self.folder / "seconds").write_text(f"{time.perf_counter() - started:.1f}")
        (self.folder / "stdout").write_text(done.stdout)
        (self.folder / "stderr").write_text(done.stderr)
        (self.folder / "returncode").write_text(str(done.returncode))

    def copy_warehouse(self, target_dir: Path) -> Path:
        """A copy of the published warehouse and its ledger in ``target_dir`` (for tests that change it)."""
        from chokepoint.warehouse.store import WarehousePaths

        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / self.database.name
        shutil.copyfile(self.database, target)
        shutil.copyfile(WarehousePaths.of(self.database).ledger_file, WarehousePaths.of(target).ledger_file)
        return target


def _cli_run(folder: Path, data: Path = DATA, **settings) -> CliRun:
    env = clean_env(DAGSTER_HOME=folder / "dagster", CHOKEPOINT_DATA_DIR=data,
                    CHOKEPOINT_WAREHOUSE=folder / "warehouse" / "chokepoint.duckdb",
                    CHOKEPOINT_REPORTS=folder / "reports", **settings)
    return CliRun(folder=folder, env=env, data=data)


@pytest.fixture(scope="session")
def materialized(tmp_path_factory) -> CliRun:
    """Every asset and check on the embedded reference data, published by ``chokepoint run``
    once per test run, for the ``default`` scenario partition only (a copy of data/ with that
    one scenario file, :func:`copy_data`): the reference data's whole pipeline at a third of
    the work; every partition is analysed in :func:`real_run`. No real-data copy is
    configured (the mirror and cache settings name empty folders) and fetching is off, so
    the run falls back to the reference data."""
    def settings(folder):
        return {"CHOKEPOINT_SHARED_DATA": folder / "no-mirror", "CHOKEPOINT_CACHE": folder / "no-cache"}

    def build(folder):
        copy_data(folder / "data", scenarios=("default",))
        # --no-fetch: the fallback must not depend on whether this machine can reach the origins.
        _cli_run(folder, folder / "data", **settings(folder)).run("--no-fetch")

    folder = build_once(tmp_path_factory, "materialized", build)
    return _cli_run(folder, folder / "data", **settings(folder))


def hostile_data(target: Path) -> Path:
    """The project's data with a default scenario whose free-text fields hold SQL."""
    copy_data(target)
    path = target / "scenarios" / "default.toml"
    lines = path.read_text().splitlines()
    top = [i for i, line in enumerate(lines) if line.startswith(("name =", "description ="))][:2]
    assert [lines[i].split(" =")[0] for i in top] == ["name", "description"]
    lines[top[0]] = f'name = "{HOSTILE}"'
    lines[top[1]] = f'description = "{HOSTILE} \\"; DELETE FROM analytics.capability; --"'
    body = "\n".join(lines).replace('name = "China (incl. Hong Kong)"', f'name = "China {HOSTILE}"')
    assert f"China {HOSTILE}" in body, "the default scenario names CHN 'China (incl. Hong Kong)'"
    path.write_text(body + "\n")
    return target


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> CliRun:
    """The real data as a user gets it on a fresh machine: ``chokepoint run`` with no copy
    of the real data (an empty cache, no mirror) fetches and verifies it from the origin —
    a local server serving the mirror (``CHOKEPOINT_FETCH_BASE``), whose request count is
    kept in the folder's ``requests`` — then runs on it, once per test run. The default
    scenario's name, description and one actor's name hold SQL, which must be stored
    verbatim and harm nothing. Without the mirror the same run falls back to the reference
    data (tests of the real data itself are marked ``needs_mirror``)."""
    from tests.support.real_data import MIRROR, serve

    def settings(folder):
        return {"CHOKEPOINT_CACHE": folder / "cache", "CHOKEPOINT_SHARED_DATA": folder / "no-mirror"}

    def build(folder):
        data = hostile_data(folder / "data")
        run = _cli_run(folder, data, **settings(folder))
        if not (MIRROR / "MANIFEST.csv").exists():
            run.run("--no-fetch")
            return
        with serve(MIRROR) as (base, requests):
            run.run(CHOKEPOINT_FETCH_BASE=base)
        (folder / "requests").write_text(str(len(requests)))

    folder = build_once(tmp_path_factory, "real_run", build)
    return _cli_run(folder, folder / "data", **settings(folder))


# --------------------------------------------------------------------- scheduling
#: The module that builds each shared run: first in the queue, one per worker.
BUILDERS = {"real_run": "tests/pipeline/test_real_data.py", "materialized": "tests/pipeline/test_main_job.py"}


def _shared(item) -> str | None:
    """The shared run a test reads (directly or through its fixtures), if any."""
    names = set(getattr(item, "fixturenames", ()))
    return next((g for g in SHARED_GROUPS if g in names), None)


def pytest_itemcollected(item):
    if _shared(item) and not item.get_closest_marker("timeout"):
        # A reader may wait for the whole pipeline (setup counts against the timeout).
        item.add_marker(pytest.mark.timeout(SHARED_RUN_TIMEOUT))


#: Seconds the longest modules took in a full run on this 2-core machine (``--durations=0``,
#: summed per module; 2026-12-01). Only the order of dispatch uses them (see below).
LONG_MODULES = {
    "tests/system/test_reliability.py": 78, "tests/system/test_held_connections.py": 64,
    "tests/system/test_browser.py": 62, "tests/system/test_faults.py": 49, "tests/system/test_fuzz_inputs.py": 39,
    "tests/chokepoint/analyses/test_deterrence.py": 36, "tests/chokepoint/warehouse/test_ledger.py": 32,
    "tests/optimization/test_interdiction.py": 30, "tests/chokepoint/analyses/test_shared_models.py": 25,
    "tests/system/test_sweep_cluster.py": 24, "tests/optimization/test_deter_all.py": 22,
    "tests/test_critical_nodes.py": 20, "tests/pipeline/test_deterrence_assets.py": 16,
}


def pytest_collection_modifyitems(config, items):
    """Order modules for ``--dist loadfile --no-loadscope-reorder`` (whole modules per
    worker, dispatched in this order, so that module fixtures are made once):

    1. the module that builds the real-data run, then the one that builds the reference run:
       each worker starts building one shared run at once;
    2. the other modules that do not read the real-data run, in collection order, except the
       longest ones (the reference run is built before its builder's worker takes a second
       module; light modules meanwhile leave both cores to the real-data run);
    3. the longest modules (:data:`LONG_MODULES`), longest first;
    4. the readers of the real-data run (by then built: no worker waits for a build),
       longest first.

    So the run ends on short modules, not on a long one that leaves the other worker idle.

    (Not ``--dist loadgroup``: with pytest 9, xdist 3.8's group suffix on node ids is lost.)"""
    reading_real = {item.nodeid.split("::")[0] for item in items if _shared(item) == "real_run"}
    builders = list(BUILDERS.values())

    def rank(module: str) -> tuple[int, int]:
        if module in builders:
            return builders.index(module), 0
        seconds = LONG_MODULES.get(module, 0)
        if module in reading_real:
            return 4, -seconds
        return (3, -seconds) if seconds else (2, 0)

    items.sort(key=lambda item: rank(item.nodeid.split("::")[0]))  # stable: order within a rank kept
