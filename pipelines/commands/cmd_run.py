"""``chokepoint run`` and ``chokepoint ui``: the main job and Dagit.

The Dagster definitions read the environment when they load (scenario partitions are the
files in the data folder), so :func:`pipelines.cli.main` applies ``--data-dir``,
``--warehouse`` and the other options to the environment before this module is imported.

Real data by default: in data mode ``auto``, when neither the fetch cache nor the local
mirror is complete, :func:`run` first fetches and verifies the real data into the cache
(:func:`chokepoint.inputs.real.prepare.prepare_real_data`); when that fails it says why in
one line and the run uses the reference data. ``--no-fetch`` skips the download.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import dagster as dg

from chokepoint import settings
from chokepoint.inputs.real.manifest import load_manifest
from chokepoint.inputs.real.prepare import RunData, prepare_real_data
from chokepoint.report.summary import print_summary
from chokepoint.settings import PROJECT_ROOT, warehouse_path
from chokepoint.warehouse.store import clean_stale_builds, ledger_head
from pipelines.assets.synthetic_network import synthetic_run_config
from pipelines.commands import CommandError
from pipelines.definitions import defs
from pipelines.process_tree import run_supervised

__all__ = ["run", "ui", "prepare_data"]


def _innermost_error(error_info) -> str:
    """The user's exception message from a Dagster step failure (innermost cause)."""
    info = error_info
    while getattr(info, "cause", None) is not None:
        info = info.cause
    message = (info.message or "").strip()
    # SerializableErrorInfo messages read "module.Class: text"; the class is noise here.
    head, sep, tail = message.partition(": ")
    if sep and "." in head and " " not in head:
        message = tail
    return message.splitlines()[0] if message else info.cls_name or "unknown error"


def _check_summary(evaluation) -> str:
    """``asset:check (key=value, ...)`` from a failed asset check's metadata."""
    values = []
    for key, entry in (evaluation.metadata or {}).items():
        value = getattr(entry, "value", entry)
        if isinstance(value, (int, float, str, bool)) and len(str(value)) <= 40:
            values.append(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}")
    detail = f" ({', '.join(values)})" if values else ""
    return f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}{detail}"


def prepare_data(*, allow_fetch: bool = True, out=sys.stdout) -> RunData:
    """Before the job: in data mode ``auto`` without a complete cache or mirror, fetch the real
    data into the cache; print the outcome (or why the run uses the reference data) in one line.

    Parameters
    ----------
    allow_fetch : bool
        False for ``--no-fetch``.
    out : file
        Where the line goes (standard output).

    Returns
    -------
    RunData
        See :func:`chokepoint.inputs.real.prepare.prepare_real_data`; reads the settings
        (``CHOKEPOINT_DATA_MODE``, ``CHOKEPOINT_SHARED_DATA``, ``CHOKEPOINT_CACHE``,
        ``CHOKEPOINT_FETCH_BASE``) from the environment.
    """
    prepared = prepare_real_data(settings.data_mode(), settings.shared_data_dir(), settings.cache_dir(),
                                 load_manifest(), base=settings.fetch_base() or None, allow_fetch=allow_fetch)
    if prepared.notice:
        print(f"chokepoint run: {prepared.notice}", file=out, flush=True)
    return prepared


def run(args) -> int:
    started = time.perf_counter()
    prepare_data(allow_fetch=not getattr(args, "no_fetch", False))
    published = warehouse_path()
    # Builds left by runs that died (killed, power loss) are removed; a build another
    # live run holds is not touched.
    clean_stale_builds(published)
    before = ledger_head(published) if published.exists() else None
    # The job writes a build file of its own (pipelines.resources.WarehouseIOManager) and
    # its last asset, warehouse/published, swaps it in only when every step and blocking
    # check succeeded: bad input never leaves analysts a half-written warehouse.
    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("main")
    run_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    if args.synthetic_nodes is not None:
        run_config.update(synthetic_run_config(args.synthetic_nodes))
    run_id, stopped_by = str(uuid.uuid4()), None
    try:
        # The first failed step or blocking check stops the run: nothing can be published
        # after it, and every step still to run would only delay the error.
        succeeded = job.execute_in_process(instance=instance, raise_on_error=True, run_config=run_config,
                                           run_id=run_id).success
    except Exception as error:  # noqa: BLE001 - read back from the run's events below
        succeeded, stopped_by = False, error
    events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event is not None]
    if not succeeded:
        # The failed run's build is not kept for a re-execution from the command line.
        clean_stale_builds(published)
    evaluations = [e.asset_check_evaluation_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    # Warning-severity checks (e.g. a scenario partition without its file) are reported, not fatal.
    failed_checks = [c for c in evaluations if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    warnings = [c for c in evaluations if not c.passed and c.severity != dg.AssetCheckSeverity.ERROR]
    if failed_checks:
        raise CommandError("asset check failed: " + "; ".join(_check_summary(c) for c in failed_checks)
                           + "; published warehouse left unchanged")
    failures = [event for event in events if event.is_step_failure]
    if failures:
        first = failures[0]
        raise CommandError(f"step '{first.step_key}' failed: {_innermost_error(first.step_failure_data.error)}"
                           f"; published warehouse left unchanged")
    if not succeeded:
        if stopped_by is not None and not any(e.event_type_value == "PIPELINE_START" for e in events):
            raise stopped_by  # the run never started (e.g. a configuration error): not a step's failure
        raise CommandError("the run did not succeed; published warehouse left unchanged (see `make ui`)")
    for check in warnings:
        print(f"chokepoint run: warning: {_check_summary(check)}", file=sys.stderr)

    print_summary(published, run_id=run_id, seconds=time.perf_counter() - started, out=sys.stdout)
    head = ledger_head(published)
    if head is not None:
        replaced = f", replacing #{before['seq']}" if before else ""
        print(f"\nledger: record #{head['seq']} {head['hash'][:16]} ({len(head['tables'])} tables{replaced}); "
              "check with `chokepoint verify`", file=sys.stdout)
    return 0


def ui(args) -> int:
    """``dagster dev`` with the project loaded, supervised: when ``chokepoint ui`` is stopped
    (Ctrl-C, SIGTERM, SIGHUP) the webserver, daemon and code servers stop with it."""
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", "pipelines.definitions", "-h", args.host, "-p", str(args.port)]
    return run_supervised(command, cwd=PROJECT_ROOT, env=dict(os.environ))
