"""``chokepoint critical-nodes EDGELIST --k K [--time-limit S]``: critical-node detection.

Prints one JSON object on stdout (nothing else): ``removed`` (node ids),
``pairwise_connectivity`` (int), ``optimal`` (true only when proved), ``seconds``,
plus ``lower_bound``, ``method`` and ``pairwise_connectivity_before``.
"""

from __future__ import annotations

import json
import math
import sys

from chokepoint.commands import CommandError

__all__ = ["register"]

DEFAULT_TIME_LIMIT = 60.0


def _whole_number(text: str, what: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise CommandError(f"{what} must be a whole number, got {text!r}") from None
    return value


def _run(args) -> int:
    from chokepoint.edgelist import read_edge_list
    from chokepoint.errors import InputError
    from graph.critical_nodes import GraphInputError, critical_nodes

    k = _whole_number(args.k, "--k")
    try:
        time_limit = float(args.time_limit)
    except ValueError:
        raise CommandError(f"--time-limit must be a number of seconds, got {args.time_limit!r}") from None
    if not (math.isfinite(time_limit) and time_limit > 0):
        raise CommandError(f"--time-limit must be a positive number of seconds, got {args.time_limit!r}")
    edges = read_edge_list(args.edgelist)
    if not 0 <= k <= edges.num_nodes:
        raise InputError(args.edgelist, f"K = {k} is outside [0, {edges.num_nodes}] (the file has "
                         f"{edges.num_nodes} nodes)", field="--k")
    try:
        result = critical_nodes(edges, k, time_limit, method=args.method, solver=args.solver, seed=args.seed)
    except GraphInputError as exc:
        raise InputError(args.edgelist, str(exc)) from None
    sys.stdout.write(json.dumps(result.to_json()) + "\n")
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "critical-nodes", help="delete K nodes of an undirected graph to minimise pairwise connectivity",
        description=("Critical-node detection on an undirected edge list (one edge per line: two "
                     "whitespace-separated node ids; '#' starts a comment). Prints one JSON object."))
    parser.add_argument("edgelist", help="edge-list file")
    parser.add_argument("--k", required=True, help="number of nodes to delete (0 <= K <= number of nodes)")
    parser.add_argument("--time-limit", default=str(DEFAULT_TIME_LIMIT),
                        help=f"wall-clock seconds for the search (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--method", default="auto", choices=["auto", "heuristic", "exact"],
                        help="auto: heuristic, plus the exact MILP on small graphs (default)")
    parser.add_argument("--solver", default="HIGHS", choices=["HIGHS", "SCIP"], help="MILP solver (default HIGHS)")
    parser.add_argument("--seed", type=int, default=0, help="heuristic seed (default 0)")
    parser.set_defaults(handler=_run)
