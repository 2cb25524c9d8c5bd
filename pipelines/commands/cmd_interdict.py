"""``chokepoint interdict``: max-flow interdiction on any edge list an analyst brings.

``chokepoint interdict EDGES.csv --source S --sink T --budget B [--time-limit S]``

EDGES.csv has the header ``src,dst,capacity`` and optionally ``cost`` (default 1) and
``controllable`` (true/false or 1/0, default true). Arcs are directed, node ids are
arbitrary tokens, capacities and costs non-negative numbers. Interdicting an arc
removes it; the interdicted arcs cost at most B in total. Prints one JSON object:
``interdicted`` (list of [src, dst] in file order), ``flow_before``, ``flow_after``,
``optimal`` (true only when proven), ``bound`` (proven lower bound on the least
achievable flow), ``seconds``. Numbers are printed to 12 significant digits.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from chokepoint.errors import InputError
from chokepoint.inputs.tables import Column, read_csv_text, typed
from optimization.interdiction import interdict_max_flow
from pipelines.commands import CommandError

__all__ = ["interdict", "read_edges", "EDGE_COLUMNS"]

#: Columns of EDGES.csv: name → required.
EDGE_COLUMNS = {"src": True, "dst": True, "capacity": True, "cost": False, "controllable": False}
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def _controllable_problem(value: str) -> str | None:
    if value.lower() not in _TRUE | _FALSE:
        return f"'{value}' is not true/false or 1/0"
    return None


def read_edges(path: Path):
    """Read and validate an edge list.

    Returns
    -------
    nodes : list of str
        Node ids in order of first appearance.
    src, dst : numpy.ndarray of int
        Arc endpoints as indices into ``nodes``.
    capacity, cost : numpy.ndarray of float
    controllable : numpy.ndarray of bool

    Raises
    ------
    InputError
        Naming file, line and field: missing or unknown columns, empty ids, values that
        are not finite non-negative numbers, bad ``controllable`` values.
    """
    frame = read_csv_text(path)
    unknown = [c for c in frame.columns if c not in EDGE_COLUMNS and not c.startswith("_")]
    if unknown:
        raise InputError(path, "unknown column", row=1, field=unknown[0],
                         hint=f"columns are {', '.join(EDGE_COLUMNS)} (cost and controllable optional)")
    columns = [Column("src"), Column("dst"), Column("capacity", "float", minimum=0.0),
               Column("cost", "float", required=False, minimum=0.0),
               Column("controllable", required=False, extra_check=_controllable_problem)]
    frame = typed(frame, columns)
    src_ids, dst_ids = frame["src"].to_list(), frame["dst"].to_list()
    nodes = list(dict.fromkeys(token for pair in zip(src_ids, dst_ids) for token in pair))
    index = {node: i for i, node in enumerate(nodes)}
    src = np.array([index[v] for v in src_ids], dtype=np.int64)
    dst = np.array([index[v] for v in dst_ids], dtype=np.int64)
    capacity = frame["capacity"].to_numpy().astype(np.float64)
    cost = frame["cost"].cast(float).fill_null(1.0).to_numpy() if "cost" in frame.columns else np.ones(src.size)
    controllable = np.array([True if v is None else v.lower() in _TRUE for v in frame["controllable"]], dtype=bool)
    return nodes, src, dst, capacity, cost.astype(np.float64), controllable


def _number(value: float) -> float:
    """Round to 12 significant digits (solver noise like 3.9999999999996 → 4.0)."""
    value = float(f"{float(value):.12g}")
    return 0.0 if value == 0 else value


def interdict(args) -> int:
    started = time.perf_counter()
    budget = _number_argument("--budget", args.budget)
    time_limit = _number_argument("--time-limit", args.time_limit, positive=True)
    path = Path(args.edges)
    nodes, src, dst, capacity, cost, controllable = read_edges(path)
    index = {node: i for i, node in enumerate(nodes)}
    for flag, node in (("--source", args.source), ("--sink", args.sink)):
        if node not in index:
            raise InputError(path, f"node '{node}' does not appear in the edge list", field=flag,
                             hint="node ids are matched exactly, as written in the src/dst columns")
    if args.source == args.sink:
        raise InputError(path, "source and sink are the same node", field="--sink")
    result, arcs = interdict_max_flow(len(nodes), src, dst, capacity, source=index[args.source],
                                      sink=index[args.sink], budget=budget, cost=cost,
                                      controllable=controllable, solver=args.solver, time_limit=time_limit)
    rows = np.sort(arcs[result.chosen])
    flow_before = float(result.capability_before[0])
    payload = {
        "interdicted": [[nodes[src[i]], nodes[dst[i]]] for i in rows],
        "flow_before": _number(flow_before),
        "flow_after": _number(result.capability_after[0]),
        "optimal": bool(result.optimal),
        "bound": _number(max(result.bound, 0.0) * flow_before),
        "seconds": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(payload))
    return 0


def _number_argument(flag: str, text: str, *, positive: bool = False) -> float:
    """Parse a numeric option; errors are one line (argparse's own print usage too)."""
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{flag}: '{text}' is not a number") from None
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise CommandError(f"{flag}: {text} must be a finite {'positive' if positive else 'non-negative'} number")
    return value
