"""``chokepoint interdict`` end to end: JSON on stdout, answers by hand and by brute force,
one-line errors naming file, line and field."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import subprocess

import networkx as nx
import numpy as np
import pytest

from pipelines.cli import main
from tests.conftest import run_cli
from tests.support.solver_limits import limit_solver

KEYS = {"interdicted", "flow_before", "flow_after", "optimal", "bound", "seconds"}

CLRS = """src,dst,capacity
s,v1,16
s,v2,13
v1,v3,12
v2,v1,4
v2,v4,14
v3,v2,9
v3,t,20
v4,v3,7
v4,t,4
"""


def interdict_subprocess(path, *args, timeout=120):
    """The command as a user runs it (a subprocess of this interpreter on this checkout)."""
    return run_cli("interdict", path, *args, timeout=timeout)


def interdict(path, *args):
    """``pipelines.cli.main`` in this process (same code path, no interpreter start-up)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["interdict", str(path), *args])
        except SystemExit as exc:   # argparse usage errors
            code = exc.code
    return subprocess.CompletedProcess(["chokepoint", "interdict"], code, out.getvalue(), err.getvalue())


def write(tmp_path, text, name="edges.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


#: Every pair of arcs whose removal stops all flow in CLRS Fig. 26.1, by hand: v1's only way on is
#: v1→v3, v3's is v3→t (or back to v2), v4 is reached only by v2→v4; so both arcs out of s,
#: s→v2 with v1→v3 (s→v1 then leads nowhere), v1→v3 with v2→v4 (neither v3 nor v4 reachable),
#: v2→v4 with v3→t (v4 unreachable, v3 cut off from t), or both arcs into t. Any of them is optimal.
CLRS_ZERO_PAIRS = [[["s", "v1"], ["s", "v2"]], [["s", "v2"], ["v1", "v3"]], [["v1", "v3"], ["v2", "v4"]],
                   [["v2", "v4"], ["v3", "t"]], [["v3", "t"], ["v4", "t"]]]


def clrs_flow_without(removed) -> float:
    graph = nx.DiGraph()
    graph.add_nodes_from(["s", "t"])
    for line in CLRS.splitlines()[1:]:
        u, v, c = line.split(",")
        if [u, v] not in removed:
            graph.add_edge(u, v, capacity=float(c))
    return nx.maximum_flow_value(graph, "s", "t")


def test_the_zero_flow_pairs_are_every_optimal_pair():
    arcs = [line.split(",")[:2] for line in CLRS.splitlines()[1:]]
    zero = sorted(sorted(pair) for pair in itertools.combinations(arcs, 2) if clrs_flow_without(list(pair)) == 0)
    assert all(clrs_flow_without([arc]) > 0 for arc in arcs)
    assert zero == CLRS_ZERO_PAIRS


@pytest.mark.parametrize("budget, flow, removed", [(0, 23.0, [[]]), (1, 4.0, [[["v3", "t"]]]),
                                                    (2, 0.0, CLRS_ZERO_PAIRS)])
def test_textbook_network_by_hand(tmp_path, budget, flow, removed):
    """CLRS Fig. 26.1 (max flow 23); answers derived in tests/test_interdiction.py (budget 2 has
    three optimal pairs: the command may report any of them)."""
    run = interdict_subprocess if budget == 1 else interdict
    result = run(write(tmp_path, CLRS), "--source", "s", "--sink", "t", "--budget", str(budget))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == KEYS
    assert payload["flow_before"] == 23.0
    assert payload["flow_after"] == flow
    assert sorted(payload["interdicted"]) in removed
    assert clrs_flow_without(payload["interdicted"]) == flow
    assert payload["optimal"] is True
    assert payload["bound"] == flow
    assert result.stdout.count("\n") == 1 and result.stderr == ""


def test_costs_and_controllable_columns(tmp_path):
    """Arcs into t not controllable, unit costs, budget 1. By hand: removing v1→v3 leaves
    v3 fed only by v4→v3 (7), so the flow is 7 + 4 = 11 (v4 gets 14 from v2); the
    alternatives give 12 (s→v2, s→v1→v3 only, or v2→v4), ≥ 13 (s→v1) or 16 (v4→v3).
    With cost = capacity and budget 11: 12 (remove v4→v3 and v4→t)."""
    lines = CLRS.strip().splitlines()
    text = "src,dst,capacity,cost,controllable\n" + "\n".join(
        f"{row},1,{'false' if row.split(',')[1] == 't' else 'TRUE'}" for row in lines[1:]) + "\n"
    payload = json.loads(interdict(write(tmp_path, text), "--source", "s", "--sink", "t", "--budget", "1").stdout)
    assert payload["flow_after"] == 11.0 and payload["interdicted"] == [["v1", "v3"]]
    text = "src,dst,capacity,cost\n" + "\n".join(f"{row},{row.split(',')[2]}" for row in lines[1:]) + "\n"
    payload = json.loads(interdict(write(tmp_path, text), "--source", "s", "--sink", "t", "--budget", "11",
                                   "--solver", "scip").stdout)
    assert payload["flow_after"] == 12.0 and payload["optimal"]


def test_random_edge_list_equals_brute_force(tmp_path):
    """Arbitrary tokens as node ids, parallel arcs, 0/1 controllable, random costs."""
    rng = np.random.default_rng(7)
    names = ["alpha", "b-2", "C", "node 4", "e", "f.6", "g", "h"]
    rows = []
    for _ in range(22):
        u, v = rng.choice(len(names), size=2, replace=False)
        rows.append((names[u], names[v], int(rng.integers(1, 10)), int(rng.integers(1, 4)), int(rng.random() < 0.6)))
    text = "src,dst,capacity,cost,controllable\n" + "".join(f"{a},{b},{c},{d},{e}\n" for a, b, c, d, e in rows)
    payload = json.loads(interdict(write(tmp_path, text), "--source", "alpha", "--sink", "h", "--budget", "4").stdout)
    controllable = [i for i, r in enumerate(rows) if r[4]]
    best = math.inf
    for size in range(len(controllable) + 1):
        for subset in itertools.combinations(controllable, size):
            if sum(rows[i][3] for i in subset) > 4:
                continue
            g = nx.MultiDiGraph()
            g.add_nodes_from(names)
            for i, (a, b, c, _, _) in enumerate(rows):
                if i not in subset:
                    g.add_edge(a, b, capacity=c)
            simple = nx.DiGraph()
            simple.add_nodes_from(names)
            for a, b, data in g.edges(data=True):
                cap = simple[a][b]["capacity"] if simple.has_edge(a, b) else 0
                simple.add_edge(a, b, capacity=cap + data["capacity"])
            best = min(best, nx.maximum_flow_value(simple, "alpha", "h"))
    assert payload["optimal"] and payload["flow_after"] == pytest.approx(best, abs=1e-9)
    assert sum(rows[[i for i in range(len(rows)) if [rows[i][0], rows[i][1]] == arc][0]][3]
               for arc in payload["interdicted"]) <= 4


def test_limited_search_reports_incumbent_and_bound(tmp_path, monkeypatch):
    """The search stopped after HiGHS's root node (a node limit: the same outcome on any
    machine, unlike a 50 ms time limit): the incumbent is printed with its bound."""
    limit_solver(monkeypatch, highs={"mip_max_nodes": 1})
    rng = np.random.default_rng(3)
    g = nx.gnp_random_graph(60, 0.12, seed=3, directed=True)
    text = "src,dst,capacity\n" + "".join(f"n{u},n{v},{int(rng.integers(1, 20))}\n" for u, v in g.edges())
    result = interdict(write(tmp_path, text), "--source", "n0", "--sink", "n59", "--budget", "6")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["bound"] <= payload["flow_after"] + 1e-9
    assert len(payload["interdicted"]) <= 6
    if payload["optimal"]:
        assert payload["bound"] == pytest.approx(payload["flow_after"])
    else:
        assert payload["bound"] < payload["flow_after"]


BAD = [
    ("src,dst\na,b\n", "line 1, field 'capacity'", "required column missing"),
    ("src,dst,capacity\na,b,lots\n", "line 2, field 'capacity'", "not a number"),
    ("src,dst,capacity\na,b,1\nb,c,-3\n", "line 3, field 'capacity'", "below the allowed minimum"),
    ("src,dst,capacity\na,b,inf\n", "line 2, field 'capacity'", "not a finite number"),
    ("src,dst,capacity,cost\na,b,1,-1\n", "line 2, field 'cost'", "below the allowed minimum"),
    ("src,dst,capacity,controllable\na,b,1,maybe\n", "line 2, field 'controllable'", "not true/false or 1/0"),
    ("src,dst,capacity\n,b,1\n", "line 2, field 'src'", "value is empty"),
    ("src,dst,capacity,weight\na,b,1,2\n", "line 1, field 'weight'", "unknown column"),
    ("src,dst,capacity\na,b,1,7\n", "line 2", "row has 4 fields"),
    ("src;dst;capacity\na;b;1\n", "line 1", "wrong delimiter"),
    ("", "edges.csv", "file is empty"),
]


@pytest.mark.parametrize("text, where, what", BAD)
def test_bad_edge_lists_give_one_line_errors(tmp_path, text, where, what):
    result = interdict(write(tmp_path, text), "--source", "a", "--sink", "b", "--budget", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chokepoint interdict: error: edges.csv")
    assert where in lines[0] and what in lines[0]


@pytest.mark.parametrize("args, what", [
    (["--source", "x", "--sink", "t", "--budget", "1"], "field '--source': node 'x' does not appear"),
    (["--source", "s", "--sink", "s", "--budget", "1"], "source and sink are the same node"),
    (["--source", "s", "--sink", "t", "--budget", "-2"], "--budget: -2 must be a finite non-negative number"),
    (["--source", "s", "--sink", "t", "--budget", "two"], "--budget: 'two' is not a number"),
    (["--source", "s", "--sink", "t", "--budget", "1", "--time-limit", "0"], "--time-limit: 0 must be"),
])
def test_bad_arguments_give_one_line_errors(tmp_path, args, what):
    result = interdict(write(tmp_path, CLRS), *args)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and what in result.stderr


def test_missing_file_as_a_user_sees_it(tmp_path):
    result = interdict_subprocess(tmp_path / "nope.csv", "--source", "a", "--sink", "b", "--budget", "1")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1 and "nope.csv: file not found" in result.stderr and result.stdout == ""
