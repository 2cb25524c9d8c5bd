"""``chokepoint critical-nodes EDGELIST --k K [--time-limit S] [--max-iterations N] [--seed N]
[--processes P]``: critical-node detection.

Prints one JSON object on stdout (nothing else): ``removed`` (node ids),
``pairwise_connectivity`` (int), ``optimal`` (true only when proved), ``seconds``,
plus ``lower_bound``, ``method`` and ``pairwise_connectivity_before``.
"""

from __future__ import annotations

import json
import math
import sys

from chokepoint.errors import GraphInputError, InputError
from chokepoint.inputs.edgelist import read_edge_list
from optimization.cnp_exact import critical_nodes as solve_critical_nodes
from pipelines.commands import CommandError

__all__ = ["critical_nodes"]


def _whole_number(text: str, what: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise CommandError(f"{what} must be a whole number, got {text!r}") from None
    return value


def critical_nodes(args) -> int:
    k = _whole_number(args.k, "--k")
    try:
        time_limit = float(args.time_limit)
    except ValueError:
        raise CommandError(f"--time-limit must be a number of seconds, got {args.time_limit!r}") from None
    if not (math.isfinite(time_limit) and time_limit > 0):
        raise CommandError(f"--time-limit must be a positive number of seconds, got {args.time_limit!r}")
    max_iterations = getattr(args, "max_iterations", None)
    if max_iterations is not None:
        max_iterations = _whole_number(max_iterations, "--max-iterations")
        if max_iterations < 0:
            raise CommandError(f"--max-iterations must be a whole number >= 0, got {args.max_iterations!r}")
    processes = _whole_number(str(getattr(args, "processes", "1")), "--processes")
    if processes < 1:
        raise CommandError(f"--processes must be at least 1, got {args.processes!r}")
    edges = read_edge_list(args.edgelist)
    if not 0 <= k <= edges.num_nodes:
        raise InputError(args.edgelist, f"K = {k} is outside [0, {edges.num_nodes}] (the file has "
                         f"{edges.num_nodes} nodes)", field="--k")
    try:
        result = solve_critical_nodes(edges, k, time_limit, method=args.method, solver=args.solver, seed=args.seed,
                                      max_iterations=max_iterations, processes=processes)
    except GraphInputError as exc:
        raise InputError(args.edgelist, str(exc)) from None
    sys.stdout.write(json.dumps(result.to_json()) + "\n")
    return 0
