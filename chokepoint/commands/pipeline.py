"""``chokepoint run`` and ``chokepoint ui``: the main job and Dagit."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from chokepoint.commands import CommandError

__all__ = ["register"]


def _configure_environment(args) -> dict[str, str]:
    if getattr(args, "data_dir", None):
        os.environ["CHOKEPOINT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if getattr(args, "scenario", None):
        os.environ["CHOKEPOINT_SCENARIO"] = args.scenario
    if getattr(args, "warehouse", None):
        os.environ["CHOKEPOINT_WAREHOUSE"] = str(Path(args.warehouse).resolve())
    if getattr(args, "data_mode", None):
        os.environ["CHOKEPOINT_DATA_MODE"] = args.data_mode
    from chokepoint.paths import default_environment

    env = default_environment()
    os.environ.update(env)
    return env


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


def _run(args) -> int:
    env = _configure_environment(args)
    started = time.perf_counter()
    import dagster as dg

    from chokepoint.warehouse import clean_stale_builds, ledger_head
    from pipelines.definitions import defs

    published = Path(env["CHOKEPOINT_WAREHOUSE"])
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
        from pipelines.assets.synthetic import synthetic_run_config

        run_config.update(synthetic_run_config(args.synthetic_nodes))
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
    if not result.success:
        # The failed run's build is not kept for a re-execution from the command line.
        clean_stale_builds(published)
    evaluations = [e.asset_check_evaluation_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    # Warning-severity checks (e.g. a scenario partition without its file) are reported, not fatal.
    failed_checks = [c for c in evaluations if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    warnings = [c for c in evaluations if not c.passed and c.severity != dg.AssetCheckSeverity.ERROR]
    if failed_checks:
        raise CommandError("asset check failed: " + "; ".join(_check_summary(c) for c in failed_checks)
                           + "; published warehouse left unchanged")
    failures = [event for event in result.all_events if event.is_step_failure]
    if failures:
        first = failures[0]
        raise CommandError(f"step '{first.step_key}' failed: {_innermost_error(first.step_failure_data.error)}"
                           f"; published warehouse left unchanged")
    if not result.success:
        raise CommandError("the run did not succeed; published warehouse left unchanged (see `make ui`)")
    from chokepoint.summary import print_summary

    for check in warnings:
        print(f"chokepoint run: warning: {_check_summary(check)}", file=sys.stderr)

    print_summary(published, run_id=result.run_id, seconds=time.perf_counter() - started, out=sys.stdout)
    head = ledger_head(published)
    if head is not None:
        replaced = f", replacing #{before['seq']}" if before else ""
        print(f"\nledger: record #{head['seq']} {head['hash'][:16]} ({len(head['tables'])} tables{replaced}); "
              "check with `chokepoint verify`", file=sys.stdout)
    return 0


def _ui(args) -> int:
    env = _configure_environment(args)
    from chokepoint.paths import PROJECT_ROOT

    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-m", "pipelines.definitions", "-h", args.host, "-p", str(args.port)]
    os.chdir(PROJECT_ROOT)
    os.execve(str(dagster), command, {**os.environ, **env})


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(commands) -> None:
    run = commands.add_parser("run", help="materialise every asset and write the DuckDB warehouse")
    run.add_argument("--data-dir", help="folder with reference/ and scenarios/ (default: the project's data/)")
    run.add_argument("--scenario", help="scenario name in <data-dir>/scenarios or a .toml path (default: default)")
    run.add_argument("--warehouse", help="DuckDB file to write (default: data/warehouse/chokepoint.duckdb)")
    run.add_argument("--data-mode", choices=["auto", "reference", "real"],
                     help="auto (default, CHOKEPOINT_DATA_MODE): real data when the fetch cache or the local mirror "
                          "is complete, else the reference data; reference; real (error if no real data)")
    run.add_argument("--synthetic-nodes", type=_positive_int, metavar="N",
                     help="number of nodes of the synthetic facility-level network that the same run builds "
                          "and analyses (supply_graph/synthetic_network, analytics/synthetic_*; default: 1000)")
    run.add_argument("--log-level", default="CRITICAL", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     help="Dagster console log level (default: CRITICAL; errors are summarised in one line and "
                          "the full log is in the run history of `make ui`)")
    run.set_defaults(handler=_run)
    ui = commands.add_parser("ui", help="start Dagit (dagster dev) with the project loaded")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, local only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--data-dir")
    ui.add_argument("--scenario")
    ui.add_argument("--warehouse")
    ui.set_defaults(handler=_ui)
