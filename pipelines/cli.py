"""The ``chokepoint`` command line: every subcommand's arguments, and the dispatch.

Arguments are declared here with argparse only, so ``chokepoint --help`` and argument
errors answer at once; the handler of the chosen subcommand lives in
:mod:`pipelines.commands` (one ``cmd_*`` module per subcommand) and is imported only when
that subcommand runs — loading the Dagster definitions for ``chokepoint critical-nodes``
would add seconds to every call. Errors are one line on stderr with a non-zero exit
status; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from chokepoint.errors import ChokepointError
from chokepoint.inputs.scenario import load_scenario
from chokepoint.settings import default_environment, scenario_path
from pipelines.commands import CommandError

__all__ = ["main", "build_parser", "HANDLERS"]

#: Subcommand → (module under pipelines.commands, function). The module is imported on use.
HANDLERS = {
    "run": ("cmd_run", "run"),
    "ui": ("cmd_run", "ui"),
    "fetch": ("cmd_fetch", "fetch"),
    "critical-nodes": ("cmd_critical_nodes", "critical_nodes"),
    "interdict": ("cmd_interdict", "interdict"),
    "verify": ("cmd_warehouse", "verify"),
    "rollback": ("cmd_warehouse", "rollback"),
    "sql": ("cmd_sql", "sql"),
    "sweep": ("cmd_sweep", "sweep"),
}

#: Default search time of ``critical-nodes`` (seconds).
CNP_DEFAULT_TIME_LIMIT = 60.0
_WAREHOUSE_HELP = "DuckDB file (default: CHOKEPOINT_WAREHOUSE or data/warehouse/chokepoint.duckdb)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_run(commands) -> None:
    run = commands.add_parser("run", help="materialise every asset and write the DuckDB warehouse")
    run.add_argument("--data-dir", help="folder with reference/ and scenarios/ (default: the project's data/)")
    run.add_argument("--scenario", help="scenario name in <data-dir>/scenarios or a .toml path (default: default)")
    run.add_argument("--warehouse", help="DuckDB file to write (default: data/warehouse/chokepoint.duckdb)")
    run.add_argument("--data-mode", choices=["auto", "reference", "real"],
                     help="auto (default, CHOKEPOINT_DATA_MODE): real data when the fetch cache or the local mirror "
                          "is complete (without either, `run` fetches and verifies it into the cache first), else "
                          "the reference data; reference; real (error if no real data)")
    run.add_argument("--no-fetch", action="store_true",
                     help="in data mode auto, do not download the real data when no complete cache or mirror "
                          "holds it: run on the reference data instead")
    run.add_argument("--synthetic-nodes", type=_positive_int, metavar="N",
                     help="number of nodes of the synthetic facility-level network that the same run builds "
                          "and analyses (supply_graph/synthetic_network, analytics/synthetic_*; default: 1000)")
    run.add_argument("--log-level", default="CRITICAL", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     help="Dagster console log level (default: CRITICAL; errors are summarised in one line and "
                          "the full log is in the run history of `make ui`)")
    ui = commands.add_parser("ui", help="start Dagit (dagster dev) with the project loaded")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, local only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--data-dir")
    ui.add_argument("--scenario")
    ui.add_argument("--warehouse")


def _add_fetch(commands) -> None:
    parser = commands.add_parser(
        "fetch", help="download the real datasets from their public origins, verify sha256, cache them",
        description=("Download every file of data/real_sources.csv from GitHub raw at its pinned commit (or from "
                     "--base), verify size and sha256, and cache it (datasets not ingested yet included). A failed or "
                     "corrupted download leaves the cache unchanged. Offline, says so in one line and uses the local "
                     "mirror instead."))
    parser.add_argument("--cache", help="cache folder (default: CHOKEPOINT_CACHE or data/cache)")
    parser.add_argument("--base", help="base URL of a mirror laid out like ../shared/data "
                                       "(default: CHOKEPOINT_FETCH_BASE, else GitHub raw at the pinned commits)")
    parser.add_argument("--mirror", help="local mirror to use when offline (default: CHOKEPOINT_SHARED_DATA or "
                                         "../shared/data)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per connection attempt (default: 10)")


def _add_critical_nodes(commands) -> None:
    parser = commands.add_parser(
        "critical-nodes", help="delete K nodes of an undirected graph to minimise pairwise connectivity",
        description=("Critical-node detection on an undirected edge list (one edge per line: two "
                     "whitespace-separated node ids; '#' starts a comment). Prints one JSON object."))
    parser.add_argument("edgelist", help="edge-list file")
    parser.add_argument("--k", required=True, help="number of nodes to delete (0 <= K <= number of nodes)")
    parser.add_argument("--time-limit", default=str(CNP_DEFAULT_TIME_LIMIT),
                        help=f"wall-clock seconds for the search (default {CNP_DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--method", default="auto", choices=["auto", "heuristic", "exact"],
                        help="auto: heuristic, plus the exact MILP on small graphs (default)")
    parser.add_argument("--solver", default="HIGHS", choices=["HIGHS", "SCIP"], help="MILP solver (default HIGHS)")
    parser.add_argument("--seed", type=int, default=0, help="heuristic seed (default 0)")
    parser.add_argument("--max-iterations", default=None,
                        help="local-search iterations per process (the machine-independent budget: the same seed "
                             "and budget give the same answer anywhere; the time limit only stops earlier); "
                             "default: search until the time limit")
    parser.add_argument("--processes", default="2",
                        help="independent heuristic searches run in parallel, seeds derived from --seed; the best "
                             "wins (default 2)")


def _add_interdict(commands) -> None:
    parser = commands.add_parser(
        "interdict", help="max-flow interdiction on an edge list: which arcs to remove within a budget",
        description=("Remove arcs of total cost at most BUDGET to minimise the maximum SOURCE→SINK flow "
                     "(exact MILP, LP duality; HiGHS or SCIP). Prints one JSON object."))
    parser.add_argument("edges", metavar="EDGES.csv",
                        help="header src,dst,capacity[,cost][,controllable]; one directed arc per row")
    parser.add_argument("--source", required=True, help="source node id")
    parser.add_argument("--sink", required=True, help="sink node id")
    parser.add_argument("--budget", required=True, help="total cost of arcs that may be removed")
    parser.add_argument("--time-limit", default="60",
                        help="seconds for the MILP (default 60); on expiry the best placement found is printed "
                             "with optimal=false and its bound")
    parser.add_argument("--solver", default="HIGHS", choices=["HIGHS", "SCIP"], type=str.upper,
                        help="MILP solver (default HIGHS)")


def _add_warehouse(commands) -> None:
    verify = commands.add_parser(
        "verify", help="recompute the published warehouse's ledger and name any mismatch",
        description=("Recompute the canonical sha256 of every table, the hash chain, the scenario parameters and "
                     "the ledger file beside the warehouse, check each kept snapshot, and name every mismatch. "
                     "Exit status 1 if anything was altered."))
    verify.add_argument("--warehouse", help=_WAREHOUSE_HELP)
    verify.add_argument("--expect-head", metavar="HASH",
                        help="the last record's hash (or a prefix) as kept elsewhere, e.g. quoted in a report")
    verify.add_argument("--no-snapshots", action="store_true", help="skip checking the kept snapshots")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    back = commands.add_parser(
        "rollback", help="publish the previous warehouse snapshot again (atomically, with a ledger record)",
        description=("Restore a kept snapshot of an earlier publish (default: the one before the current file) "
                     "after verifying it against the ledger. The current file becomes a snapshot too, so a "
                     "rollback can be undone by another rollback."))
    back.add_argument("--warehouse", help=_WAREHOUSE_HELP)
    back.add_argument("--to", type=int, metavar="SEQ", help="ledger record number of the snapshot to restore")
    back.add_argument("--list", action="store_true", help="list the kept snapshots and exit")


def _add_sql(commands) -> None:
    parser = commands.add_parser(
        "sql", help="query the published warehouse read-only: the DuckDB shell, or one query",
        description=("Open the current published snapshot of the warehouse read-only: without QUERY in the DuckDB "
                     "shell (duckdb -readonly), with QUERY run it and print the result. Read-only, so it never "
                     "blocks a refresh; a refresh publishing meanwhile does not change what it sees."))
    parser.add_argument("query", nargs="?", metavar="QUERY", help="SQL to run (default: open the DuckDB shell)")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table",
                        help="how to print the result of QUERY (default: table)")
    parser.add_argument("--warehouse", help=_WAREHOUSE_HELP)


def _add_sweep(commands) -> None:
    parser = commands.add_parser(
        "sweep", help="Monte Carlo over uncertain inputs on Dask: how sure is each verdict (publishes atomically)",
        description=("Sample the scenario's uncertain inputs ([uncertainty] distributions, data defaults by "
                     "provenance), evaluate the point-estimate placements on every sample as chunked tasks on "
                     "dask.distributed, train robust (sample-average, CVaR) placements and test them on fresh "
                     "draws; publish analytics.robustness, rank_intervals and robust_placements into the "
                     "warehouse atomically with a ledger record. Same tables on 1 worker or 100."))
    parser.add_argument("--samples", type=_positive_int, required=True, metavar="N", help="number of samples")
    parser.add_argument("--seed", type=int, required=True, metavar="S", help="root seed (chunk seeds derive from it)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, metavar="K",
                       help="local worker processes (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (tcp://host:port)")
    parser.add_argument("--scenario", help="scenario name in the scenario folder or a .toml path (default: the "
                                           "published run's scenario)")
    parser.add_argument("--warehouse", help=_WAREHOUSE_HELP)
    parser.add_argument("--train", type=_positive_int, default=8, metavar="N",
                        help="training samples of the robust placements' MILPs (default 8)")
    parser.add_argument("--no-robust", action="store_true", help="skip the robust placements (LP solves only)")
    parser.add_argument("--solver", choices=["HIGHS", "SCIP"], type=str.upper, help="MILP solver (default: scenario)")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="seconds per MILP solve (default: the scenario's time_limit_s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chokepoint", description="Supply-chain chokepoint analytics for AI governance.")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_fetch, _add_critical_nodes, _add_interdict, _add_warehouse, _add_sql, _add_sweep):
        add(commands)
    return parser


def configure_environment(args) -> None:
    """Put the run's options into the environment (with the project defaults for the rest),
    before the handler module loads the Dagster definitions, which read it at load time."""
    for option, variable in (("data_dir", "CHOKEPOINT_DATA_DIR"), ("warehouse", "CHOKEPOINT_WAREHOUSE")):
        if getattr(args, option, None):
            # abspath, not resolve(): the published warehouse is a link to its current snapshot
            os.environ[variable] = os.path.abspath(getattr(args, option))
    for option, variable in (("scenario", "CHOKEPOINT_SCENARIO"), ("data_mode", "CHOKEPOINT_DATA_MODE")):
        if getattr(args, option, None):
            os.environ[variable] = getattr(args, option)
    os.environ.update(default_environment())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    module, function = HANDLERS[args.command]
    try:
        if args.command in ("run", "ui"):
            configure_environment(args)
        if args.command == "run":
            # A missing, unreadable or malformed scenario file fails in a second, before Dagster loads;
            # what the scenario names is checked against the data inside the run.
            load_scenario(scenario_path(os.environ["CHOKEPOINT_SCENARIO"]))
        handler = getattr(importlib.import_module(f"pipelines.commands.{module}"), function)
        return handler(args)
    except (CommandError, ChokepointError) as exc:
        print(f"chokepoint {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chokepoint {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
