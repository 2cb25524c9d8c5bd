"""Interdiction MILP against brute force, textbook answers, monotonicity and typed errors.

Brute force enumerates every placement within budget and computes capability
independently of the project's models: networkx max-flow for max-flow instances, a
plain scipy ``linprog`` written from the model's definition for AND/OR instances.
"""

from __future__ import annotations

import functools
import math

import cvxpy as cp
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import optimization.interdiction as interdiction
from graph.network import build_supply_network, max_flow_network
from optimization.errors import InaccurateError, SolverLimitError
from optimization.frontier import leverage_frontier
from optimization.interdiction import (
    OPTIMALITY_GAP,
    InterdictionModel,
    dual_value_bounds,
    interdict_max_flow,
    relative_gap,
)
from optimization.interdiction_heuristic import heuristic_placement
from optimization.random_instances import layered_instance
from tests.support.instances import and_or_case
from tests.support.oracles import placements_within, plain_capability
from tests.support.solver_limits import limit_solver

SOLVERS = ["HIGHS", "SCIP"]
MAX_FLOW_SEEDS = range(20)
AND_OR_SEEDS = range(15)
JOINT_SEEDS = range(6)


def milp_model(*args, **kwargs) -> InterdictionModel:
    """The model with exhaustion switched off: these tests are about the MILP."""
    return InterdictionModel(*args, enumeration_limit=0, **kwargs)


def milp_max_flow(*args, **kwargs):
    return interdict_max_flow(*args, enumeration_limit=0, **kwargs)


def max_flow_case(seed):
    """Random digraph, ≤ 12 controllable arcs with costs 1–3, budget 2–5."""
    rng = np.random.default_rng(1000 + seed)
    g = nx.gnp_random_graph(9, 0.35, seed=seed, directed=True)
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    capacity = rng.integers(1, 10, size=src.size).astype(float)
    for (u, v), c in zip(g.edges(), capacity):
        g[u][v]["capacity"] = float(c)
    controllable = np.zeros(src.size, dtype=bool)
    controllable[rng.choice(src.size, size=min(12, src.size), replace=False)] = True
    cost = rng.integers(1, 4, size=src.size).astype(float)
    budget = float(rng.integers(2, 6))
    return g, src, dst, capacity, controllable, cost, budget


@functools.lru_cache(maxsize=None)
def brute_force_max_flow(seed):
    g, src, dst, capacity, controllable, cost, budget = max_flow_case(seed)
    arcs = np.flatnonzero(controllable)
    best = math.inf
    for subset in placements_within(cost[arcs], budget):
        h = nx.DiGraph()
        h.add_nodes_from(range(g.number_of_nodes()))
        removed = set(arcs[list(subset)].tolist())
        for i, (u, v, c) in enumerate(zip(src, dst, capacity)):
            if i not in removed:
                h.add_edge(int(u), int(v), capacity=float(c))
        best = min(best, nx.maximum_flow_value(h, 0, 8))
    return best


@functools.lru_cache(maxsize=None)
def brute_force_and_or(seed, budget, cap=math.inf, sinks=1, aggregate="mean"):
    inst = and_or_case(seed, sinks=sinks)
    base = [plain_capability(inst.network, s, np.zeros(inst.network.num_edges, bool)) for s in inst.sinks]
    best, best_subset = math.inf, None
    for subset in placements_within(inst.cost, budget, inst.closes, inst.collateral, cap):
        closed = inst.closes[list(subset)].any(axis=0) if subset else np.zeros(inst.network.num_edges, bool)
        shares = [plain_capability(inst.network, s, closed) / b for s, b in zip(inst.sinks, base) if b > 0]
        value = float(np.mean(shares) if aggregate == "mean" else np.max(shares)) if shares else 0.0
        if value < best - 1e-12:
            best, best_subset = value, subset
    return best, best_subset, base


# --------------------------------------------------------------------- exact vs brute force
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", MAX_FLOW_SEEDS)
def test_max_flow_interdiction_equals_brute_force(seed, solver):
    g, src, dst, capacity, controllable, cost, budget = max_flow_case(seed)
    result, arcs = milp_max_flow(9, src, dst, capacity, source=0, sink=8, budget=budget, cost=cost,
                                      controllable=controllable, solver=solver, time_limit=60)
    expected = brute_force_max_flow(seed)
    flow_before = nx.maximum_flow_value(g, 0, 8)
    assert result.capability_before[0] == pytest.approx(flow_before, abs=1e-6)
    assert result.optimal and result.status == "optimal"
    assert result.capability_after[0] == pytest.approx(expected, abs=1e-6)
    if flow_before > 0:
        assert result.bound * flow_before == pytest.approx(expected, abs=1e-6)
    assert cost[arcs[result.chosen]].sum() <= budget + 1e-9


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", AND_OR_SEEDS)
def test_and_or_interdiction_equals_brute_force(seed, solver):
    inst = and_or_case(seed)
    budget = 2.0 + seed % 3
    expected, _, base = brute_force_and_or(seed, budget)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, solver=solver)
    result = model.solve(budget)
    assert result.capability_before[0] == pytest.approx(base[0], rel=1e-7, abs=1e-7)
    assert result.optimal
    assert result.objective == pytest.approx(expected, abs=1e-7)
    assert result.gap <= OPTIMALITY_GAP
    assert result.cost <= budget + 1e-9


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", range(8))
def test_collateral_cap_equals_brute_force(seed, solver):
    inst = and_or_case(seed)
    budget = 4.0
    unconstrained, subset, _ = brute_force_and_or(seed, budget)
    closed = inst.closes[list(subset)].any(axis=0) if subset else np.zeros(inst.network.num_edges, bool)
    cap = 0.5 * float(inst.collateral[closed].sum())   # binds whenever the best placement has collateral
    expected, _, _ = brute_force_and_or(seed, budget, cap)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                              collateral_cap=cap, solver=solver)
    result = model.solve(budget)
    assert result.optimal
    assert result.objective == pytest.approx(expected, abs=1e-7)
    assert result.collateral <= cap + 1e-9
    assert expected >= unconstrained - 1e-12


@pytest.mark.parametrize("aggregate", ["mean", "max"])
@pytest.mark.parametrize("seed", JOINT_SEEDS)
def test_joint_placement_over_two_defectors_equals_brute_force(seed, aggregate):
    inst = and_or_case(seed, sinks=2)
    expected, _, base = brute_force_and_or(seed, 4.0, sinks=2, aggregate=aggregate)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, aggregate=aggregate)
    result = model.solve(4.0)
    assert result.optimal
    assert result.objective == pytest.approx(expected, abs=1e-7)
    shares = result.capability_after / np.array(base)
    assert result.leverage == pytest.approx(1 - shares, abs=1e-7)


def test_joint_placement_with_scip_matches_highs():
    inst = and_or_case(3, sinks=2)
    values = [milp_model(inst.network, inst.sinks, inst.closes, inst.cost, solver=s).solve(4.0).objective
              for s in SOLVERS]
    assert values[0] == pytest.approx(values[1], abs=1e-7)


# --------------------------------------------------------------------- exhaustion (small catalogues)
def brute_force_maximal(cost, budget, closes=None, collateral=None, cap=math.inf) -> set[tuple[int, ...]]:
    """Feasible subsets to which no further control can be added, by listing every subset."""
    feasible = {tuple(s) for s in placements_within(cost, budget, closes, collateral, cap)}
    return {s for s in feasible
            if not any(tuple(sorted((*s, j))) in feasible for j in range(len(cost)) if j not in s)}


@pytest.mark.parametrize("seed", range(10))
def test_maximal_placements_equal_brute_force_listing(seed):
    inst = and_or_case(seed, num_controls=6)
    rng = np.random.default_rng(500 + seed)
    cost = rng.choice([0.0, 0.5, 1.0, 2.0], size=inst.cost.size)      # zero-cost controls included
    budget = float(rng.choice([0.0, 1.0, 2.5]))
    cap = math.inf if seed % 2 else 0.6 * float(inst.collateral[inst.closes.any(axis=0)].sum())
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, cost, collateral=inst.collateral,
                              collateral_cap=cap)
    listed = model.maximal_placements(budget, limit=64)
    assert listed is not None
    assert {tuple(np.flatnonzero(m)) for m in listed} == brute_force_maximal(cost, budget, inst.closes,
                                                                             inst.collateral, cap)
    assert len(listed) == len({m.tobytes() for m in listed})
    fewer = len(listed) - 1
    assert model.maximal_placements(budget, limit=fewer) is None


@pytest.mark.parametrize(("seed", "sinks", "aggregate", "capped"),
                         [(s, 1, "mean", False) for s in range(6)] + [(s, 1, "mean", True) for s in range(4)]
                         + [(s, 2, a, False) for s in range(3) for a in ("mean", "max")])
def test_exhaustion_equals_brute_force(seed, sinks, aggregate, capped):
    inst = and_or_case(seed, sinks=sinks, num_controls=6)
    budget = 2.0 + seed % 2
    cap = math.inf
    if capped:
        cap = 0.5 * float(inst.collateral[inst.closes.any(axis=0)].sum())
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                              collateral_cap=cap, aggregate=aggregate, enumeration_limit=1_000)
    result = model.solve(budget)
    base = [plain_capability(inst.network, s, np.zeros(inst.network.num_edges, bool)) for s in inst.sinks]
    best = math.inf
    for subset in placements_within(inst.cost, budget, inst.closes, inst.collateral, cap):
        closed = inst.closes[list(subset)].any(axis=0) if subset else np.zeros(inst.network.num_edges, bool)
        shares = [plain_capability(inst.network, s, closed) / b for s, b in zip(inst.sinks, base) if b > 0]
        best = min(best, float(np.mean(shares) if aggregate == "mean" else np.max(shares)) if shares else 0.0)
    assert result.method == "enumeration" or not model.active.any()
    assert result.optimal and result.status == "optimal"
    assert result.objective == pytest.approx(best, abs=1e-7)
    assert result.bound == pytest.approx(best, abs=1e-7)
    assert result.cost <= budget + 1e-9 and result.collateral <= cap + 1e-9
    milp = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, collateral=inst.collateral,
                      collateral_cap=cap, aggregate=aggregate).solve(budget)
    assert milp.method == "milp" and milp.objective == pytest.approx(result.objective, abs=1e-7)


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_exhaustion_stops_a_placement_only_once_its_lower_bound_passes_the_best(aggregate):
    """The sinks of a placement are solved one at a time with the others at their share under
    the union of all placements (a lower bound: closing more routes never raises capability).
    A placement is dropped only when that bound is above the limit, so a dropped placement is
    worse than the limit (up to the LPs' round-off: a sink the union's extra routes do not touch
    gets the same share to the last bits or so, hence exhaustion's limit of the best so far plus
    its tie tolerance) and a kept one has exactly :meth:`evaluate`'s objective; and on these
    instances some placements are dropped, which is what saves their LPs."""
    dropped = 0
    for seed in range(4):
        inst = and_or_case(seed, sinks=3, num_controls=7)
        model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, aggregate=aggregate)
        placements = model.maximal_placements(3.0, limit=10_000)
        floor = model._shares(np.logical_or.reduce(placements))
        exact = [model.evaluate(chosen)[0] for chosen in placements]
        for limit in (min(exact) + interdiction._TIE_TOLERANCE, float(np.median(exact)) + interdiction._TIE_TOLERANCE):
            for chosen, value in zip(placements, exact):
                got = model._value_unless_above(chosen, floor, limit)
                if got is None:
                    dropped += 1
                    assert value > limit - 1e-12
                else:
                    assert got == value
    assert dropped > 0


def test_exhaustion_reports_the_cheapest_of_equally_good_placements():
    """The network of :func:`test_and_example_by_hand` with controls: 0 cut gas B→C (cost 1),
    1 the same cut at cost 2, 2 cut gas E→C (cost 1), 3 cut ore A→C (cost 3), 4 closes
    nothing (cost 0). Budget 3: {0, 2}, {1, 2} and {3} all stop production; {0, 2} is the
    cheapest; control 4 is in every maximal placement and adds nothing, so it is dropped."""
    network = five_node_and_network()
    sink = network.sink_of(0)
    routes = {(int(s), int(d)): i for i, (s, d) in enumerate(zip(network.edge_src, network.edge_dst))}
    closes = np.zeros((5, network.num_edges), dtype=bool)
    closes[0, routes[(1, 3)]] = closes[1, routes[(1, 3)]] = closes[2, routes[(2, 3)]] = closes[3, routes[(0, 3)]] = True
    cost = np.array([1.0, 2.0, 1.0, 3.0, 0.0])
    model = InterdictionModel(network, [sink], closes, cost)
    assert {tuple(np.flatnonzero(m)) for m in model.maximal_placements(3.0, limit=10)} == \
        {(0, 2, 4), (1, 2, 4), (3, 4), (0, 1, 4)}
    result = model.solve(3.0)
    assert result.method == "enumeration" and result.optimal
    assert result.chosen.tolist() == [0, 2] and result.cost == 2.0
    assert result.capability_after[0] == pytest.approx(0.0, abs=1e-9)


def test_enumeration_limit_chooses_between_exhaustion_and_the_milp():
    inst = and_or_case(2, sinks=2, num_controls=8)
    budget = 3.0
    listed = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost).maximal_placements(budget, 10_000)
    needed = len(listed) * int(InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost).active.sum())
    just_enough = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, enumeration_limit=needed)
    one_short = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, enumeration_limit=needed - 1)
    a, b = just_enough.solve(budget), one_short.solve(budget)
    assert (a.method, b.method) == ("enumeration", "milp")
    assert a.objective == pytest.approx(b.objective, abs=1e-7)
    assert milp_model(inst.network, inst.sinks, inst.closes, inst.cost)._milp is None   # nothing built up front
    assert just_enough._milp is None, "exhaustion never builds the MILP"


def test_listing_gives_up_on_large_catalogues(monkeypatch):
    inst = and_or_case(0, num_controls=12)
    cost = np.ones(12)
    cost[11] = 5.0                                    # fits no budget below 5: never a candidate
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, cost)
    assert len(model.maximal_placements(3.0, limit=10**6)) == 165             # C(11, 3)
    monkeypatch.setattr(interdiction, "_LISTING_NODES", 100)
    assert model.maximal_placements(3.0, limit=10**6) is None
    assert model.solve(3.0).method == "milp"
    monkeypatch.setattr(interdiction, "_LISTING_NODES", 10**6)
    wide = InterdictionModel(inst.network, inst.sinks, inst.closes, np.ones(12))
    assert wide.maximal_placements(3.0, limit=10**6) is None, "12 controls fit on their own: not tried"


@pytest.mark.parametrize("limit", [-1, 2.5, True, "48"])
def test_bad_enumeration_limit_is_refused(limit):
    inst = and_or_case(0, num_controls=3)
    with pytest.raises(ValueError, match="enumeration_limit"):
        InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, enumeration_limit=limit)


def test_every_seeded_case_is_non_trivial_somewhere():
    """Guard against a generator that makes every case trivially 0 or 1."""
    values = [brute_force_and_or(seed, 2.0 + seed % 3)[0] for seed in AND_OR_SEEDS]
    assert sum(0.0 < v < 1.0 for v in values) >= len(values) // 3
    flows = [brute_force_max_flow(seed) for seed in MAX_FLOW_SEEDS]
    assert sum(f > 0 for f in flows) >= len(flows) // 3


# --------------------------------------------------------------------- textbook and special cases
CLRS_ARCS = [("s", "v1", 16), ("s", "v2", 13), ("v1", "v3", 12), ("v2", "v1", 4), ("v2", "v4", 14),
             ("v3", "v2", 9), ("v3", "t", 20), ("v4", "v3", 7), ("v4", "t", 4)]


def clrs_network():
    names = ["s", "v1", "v2", "v3", "v4", "t"]
    index = {v: i for i, v in enumerate(names)}
    src = np.array([index[u] for u, _, _ in CLRS_ARCS])
    dst = np.array([index[v] for _, v, _ in CLRS_ARCS])
    capacity = np.array([c for _, _, c in CLRS_ARCS], dtype=float)
    return src, dst, capacity


@pytest.mark.parametrize("solver", SOLVERS)
def test_textbook_max_flow_interdiction(solver):
    """Cormen, Leiserson, Rivest & Stein, *Introduction to Algorithms* (3rd ed.), Fig. 26.1.

    The flow network's maximum flow is 23 (Fig. 26.6), with minimum cut
    ({s, v1, v2, v4}, {v3, t}): c(v1,v3) + c(v4,v3) + c(v4,t) = 12 + 7 + 4 = 23.
    Interdiction, unit arc costs, by hand:

    - budget 0: 23.
    - budget 1: removing v3→t leaves v4→t (4) as the only arc into t, so the cut
      ({s, v1, v2, v3, v4}, {t}) has capacity 4 and 4 units still flow (s→v2→v4→t);
      no single removal does better, since every other removal leaves both arcs into t
      (4 + 20) and the cut above then still needs two arcs removed to fall under 4.
      Answer 4.
    - budget 2: remove both arcs into t (one of five optimal pairs, listed in
      tests/pipelines/test_cmd_interdict.py). Answer 0.
    - cost = capacity, budget 11: any removal of total capacity ≤ 11 lowers every cut by
      ≤ 11, so the flow stays ≥ 23 − 11 = 12; removing v4→v3 and v4→t (7 + 4) from the
      minimum cut reaches 12. Answer 12.
    """
    src, dst, capacity = clrs_network()
    expected = {0: 23.0, 1: 4.0, 2: 0.0}
    for budget, flow in expected.items():
        result, _ = milp_max_flow(6, src, dst, capacity, source=0, sink=5, budget=budget, solver=solver)
        assert result.capability_before[0] == pytest.approx(23.0)
        assert result.capability_after[0] == pytest.approx(flow, abs=1e-7), budget
        assert result.optimal
    result, arcs = milp_max_flow(6, src, dst, capacity, source=0, sink=5, budget=11, cost=capacity, solver=solver)
    assert result.capability_after[0] == pytest.approx(12.0, abs=1e-7)
    assert result.optimal


def test_single_input_and_or_reduces_to_max_flow():
    """The AND/OR model with one input type and a = 1 is max-flow: its dual bounds are
    Wood's (1 on every route that can reach the sink, 0 elsewhere), and interdiction
    equals max-flow interdiction computed by networkx."""
    for seed in range(6):
        g, src, dst, capacity, controllable, cost, budget = max_flow_case(seed)
        keep = (dst != 0) & (src != 8)
        network = max_flow_network(9, src[keep], dst[keep], capacity[keep], source=0, sink=8)
        weights = np.zeros(9)
        weights[8] = 1.0
        _, route_value = dual_value_bounds(network, weights)
        kept = nx.DiGraph(list(zip(src[keep].tolist(), dst[keep].tolist())))
        kept.add_nodes_from(range(9))
        reaches = np.array([nx.has_path(kept, int(v), 8) for v in network.edge_dst])
        assert np.array_equal(route_value, reaches.astype(float))
        result, _ = milp_max_flow(9, src, dst, capacity, source=0, sink=8, budget=budget, cost=cost,
                                       controllable=controllable)
        assert result.capability_after[0] == pytest.approx(brute_force_max_flow(seed), abs=1e-6)


def five_node_and_network():
    """A (X) makes 10 ore; B (X) 6 and E (Y) 1 gas; fab C (X) needs 2 ore + 1 gas per
    unit (capacity 100); the sink needs 1 chip per unit. Capability min(10/2, 7/1) = 5."""
    return build_supply_network(
        countries=["X", "Y"], inputs=["ore", "gas", "chip"],
        producer_country=[0, 0, 1, 0], producer_input=[0, 1, 1, 2], producer_capacity=[10.0, 6.0, 1.0, 100.0],
        recipe_product=[2, 2], recipe_input=[0, 1], recipe_coefficient=[2.0, 1.0],
        compute_input=2, actors=["d"], actor_members=[[0]])


def test_and_example_by_hand():
    """Controls: cut ore A→C (cost 3), cut gas B→C (cost 1), cut gas E→C (cost 1).
    By hand: budget 1 → cut B→C leaves gas 1, capability min(5, 1) = 1 (cutting E→C
    leaves min(5, 6) = 5); budget 2 → cut both gas routes: 0; budget 3 → cut ore: 0.
    Dual bound: one unit of ore at C is worth at most 1/2 unit of output, gas 1."""
    network = five_node_and_network()
    sink = network.sink_of(0)
    routes = {(int(s), int(d)): i for i, (s, d) in enumerate(zip(network.edge_src, network.edge_dst))}
    closes = np.zeros((3, network.num_edges), dtype=bool)
    closes[0, routes[(0, 3)]] = closes[1, routes[(1, 3)]] = closes[2, routes[(2, 3)]] = True
    model = milp_model(network, [sink], closes, [3.0, 1.0, 1.0])
    assert model.solve(0).capability_after[0] == pytest.approx(5.0)
    one = model.solve(1)
    assert one.capability_after[0] == pytest.approx(1.0) and one.chosen.tolist() == [1]
    assert model.solve(2).capability_after[0] == pytest.approx(0.0, abs=1e-9)
    weights = np.zeros(network.num_nodes)
    weights[sink] = 1.0
    _, route_value = dual_value_bounds(network, weights)
    assert route_value[routes[(0, 3)]] == pytest.approx(0.5)
    assert route_value[routes[(1, 3)]] == pytest.approx(1.0)


# --------------------------------------------------------------------- big-M must be right
def test_too_small_big_m_is_caught(monkeypatch):
    """Scaling the big-M of closed routes (``U``) down breaks exactness; the brute-force
    comparison (or the built-in bound-vs-exact check) must notice on some seeded case."""
    honest = interdiction.dual_value_bounds

    def too_small(network, weights):
        node_value, route_value = honest(network, weights)
        return node_value, route_value * 0.2

    monkeypatch.setattr(interdiction, "dual_value_bounds", too_small)
    caught = 0
    for seed in AND_OR_SEEDS:
        inst = and_or_case(seed)
        budget = 2.0 + seed % 3
        expected = brute_force_and_or(seed, budget)[0]
        try:
            result = milp_model(inst.network, inst.sinks, inst.closes, inst.cost).solve(budget)
        except InaccurateError:
            caught += 1
            continue
        if abs(result.objective - expected) > 1e-7 or not result.optimal:
            caught += 1
    assert caught >= 1


def test_derived_bounds_hold_at_optimal_duals():
    """At optimal duals of many placements, the capped duals stay within the bounds,
    and bounding the dual LP by them leaves its optimum unchanged."""
    for seed in range(6):
        inst = and_or_case(seed)
        net = inst.network
        sink = int(inst.sinks[0])
        weights = np.zeros(net.num_nodes)
        weights[sink] = 1.0
        node_value, route_value = dual_value_bounds(net, weights)
        rng = np.random.default_rng(seed)
        for _ in range(4):
            closed = rng.random(net.num_edges) < 0.3
            plain = plain_capability(net, sink, closed)
            bounded = bounded_dual_value(net, weights, closed, node_value, route_value)
            assert bounded == pytest.approx(plain, rel=1e-7, abs=1e-7)


def bounded_dual_value(net, weights, closed, node_value, route_value):
    """The dual LP of the capability LP with the derived bounds on α, β, μ (cvxpy)."""
    n, e, r = net.num_nodes, net.num_edges, net.req_node.size
    edge_req = net.edge_requirement()
    finite = np.flatnonzero(np.isfinite(net.node_capacity))
    lam, alpha, beta, mu = (cp.Variable(finite.size, nonneg=True), cp.Variable(n, nonneg=True),
                            cp.Variable(r, nonneg=True), cp.Variable(e, nonneg=True))
    constraints = []
    need = sp.csr_matrix((net.req_coefficient, (net.req_node, np.arange(r))), shape=(n, r))
    select = sp.csr_matrix((np.ones(finite.size), (finite, np.arange(finite.size))), shape=(n, finite.size))
    constraints.append(select @ lam - alpha + need @ beta >= weights)
    out_t = sp.csr_matrix((np.ones(e), (np.arange(e), net.edge_src)), shape=(e, n))
    in_t = sp.csr_matrix((np.ones(e), (np.arange(e), edge_req)), shape=(e, r))
    constraints.append(out_t @ alpha - in_t @ beta + mu >= 0)
    constraints += [alpha <= node_value - weights, beta <= node_value[net.req_node] / net.req_coefficient,
                    mu <= route_value]
    route_bound = interdiction.tight_route_bounds(net)
    objective = net.node_capacity[finite] @ lam + (route_bound * ~closed) @ mu
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver=cp.HIGHS)
    assert problem.status == cp.OPTIMAL
    return problem.value


# --------------------------------------------------------------------- monotonicity
@pytest.mark.parametrize("seed", range(5))
def test_more_budget_never_lowers_leverage(seed):
    inst = and_or_case(seed)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    previous = math.inf
    for budget in np.arange(0.0, inst.cost.sum() + 1.0, 1.0):
        value = model.solve(budget).objective
        assert value <= previous + 1e-9
        previous = value


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), data=st.data())
def test_closing_more_routes_never_raises_capability(seed, data):
    inst = and_or_case(seed % 40)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    p = model.num_controls
    smaller = np.array(data.draw(st.lists(st.booleans(), min_size=p, max_size=p)), dtype=bool)
    extra = np.array(data.draw(st.lists(st.booleans(), min_size=p, max_size=p)), dtype=bool)
    larger = smaller | extra
    assert model.evaluate(larger)[0] <= model.evaluate(smaller)[0] + 1e-9


# --------------------------------------------------------------------- frontier
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", [0, 2, 5])
def test_frontier_equals_brute_force_pareto_set(seed, solver):
    inst = and_or_case(seed, num_controls=8)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, solver=solver)
    points = leverage_frontier(model)
    expected = brute_force_frontier_small(seed)
    assert [round(p.budget, 9) for p in points] == [round(c, 9) for c, _ in expected]
    assert [p.placement.objective for p in points] == pytest.approx([v for _, v in expected], abs=1e-7)
    assert all(p.exact for p in points)


@functools.lru_cache(maxsize=None)
def brute_force_frontier_small(seed):
    inst = and_or_case(seed, num_controls=8)
    base = plain_capability(inst.network, int(inst.sinks[0]), np.zeros(inst.network.num_edges, bool))
    options = []
    for subset in placements_within(inst.cost, inst.cost.sum()):
        closed = inst.closes[list(subset)].any(axis=0) if subset else np.zeros(inst.network.num_edges, bool)
        options.append((float(inst.cost[list(subset)].sum()),
                        plain_capability(inst.network, int(inst.sinks[0]), closed) / base))
    options.sort()
    frontier, best = [], math.inf
    for cost, value in options:
        if value < best - 1e-6:
            frontier.append((cost, value))
            best = value
    return tuple(frontier)


# --------------------------------------------------------------------- heuristic and bounds
@pytest.mark.parametrize("seed", range(6))
def test_heuristic_is_feasible_and_bracketed_by_exact(seed):
    inst = and_or_case(seed, width=5, num_controls=12)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    exact = model.solve(4.0)
    heuristic = heuristic_placement(model, 4.0, time_limit=30)
    assert heuristic.cost <= 4.0 + 1e-9
    assert heuristic.objective >= exact.objective - 1e-9
    assert heuristic.bound <= exact.objective + 1e-9
    assert heuristic.gap == pytest.approx(relative_gap(heuristic.objective, heuristic.bound))
    if heuristic.optimal:
        assert heuristic.objective == pytest.approx(exact.objective, abs=1e-7)


def test_relaxation_bound_is_below_every_placement():
    inst = and_or_case(4, width=5, num_controls=12)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    bound, fractional = model.relaxation_bound(4.0)
    assert bound <= model.solve(4.0).objective + 1e-9
    assert (fractional >= -1e-9).all() and (fractional <= 1 + 1e-9).all()
    assert float(inst.cost @ fractional) <= 4.0 + 1e-7


# --------------------------------------------------------------------- statuses and errors
def test_solver_reported_optimum_with_a_gap_is_not_reported_optimal():
    inst = and_or_case(1)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    chosen = np.zeros(model.num_controls, dtype=bool)
    result = model.result_for(chosen, bound=0.0, status="optimal", proven=True, seconds=0.0, method="milp")
    assert result.objective == pytest.approx(1.0)
    assert not result.optimal and result.status == "inaccurate" and result.gap == pytest.approx(1.0)


def test_inaccurate_interdiction_solve_is_reported_with_its_gap(monkeypatch):
    """A 97-node, 64-control instance on which SCIP needs branching."""
    limit_solver(monkeypatch, scip={"limits/nodes": 1})
    inst = layered_instance(102, layers=4, width=24, types=3, countries=8, num_controls=64, supplier_probability=0.75)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost, solver="SCIP")
    result = model.solve(float(np.round(0.08 * inst.cost.sum())))
    assert result.solver_status == "nodelimit"
    assert result.status == "inaccurate" and not result.optimal
    assert result.gap == pytest.approx(relative_gap(result.objective, result.bound))


def test_bound_above_a_feasible_value_raises_inaccurate():
    inst = and_or_case(1)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    chosen = np.ones(model.num_controls, dtype=bool)
    value = model.evaluate(chosen)[0]
    with pytest.raises(InaccurateError, match="exceeds the exact value"):
        model.result_for(chosen, bound=value + 0.1, status="optimal", proven=True, seconds=0.0, method="milp")


def test_limited_solve_returns_incumbent_with_honest_gap(monkeypatch):
    """HiGHS stopped by a node limit (deterministic, unlike a 50 ms time limit) after the
    root node of an instance it cannot close there: the incumbent is returned, not
    reported optimal, with the gap between it and the proven bound."""
    limit_solver(monkeypatch, highs={"mip_max_nodes": 1})
    inst = layered_instance(11, layers=5, width=10, types=3, countries=5, sinks=3, num_controls=60,
                            supplier_probability=0.7)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)
    result = model.solve(6.0)
    assert result.status == "time_limit" and not result.optimal
    assert result.cost <= 6.0 + 1e-9
    assert result.bound < result.objective
    assert result.gap == pytest.approx(relative_gap(result.objective, result.bound))
    assert result.objective == pytest.approx(model.evaluate(np.isin(np.arange(model.num_controls), result.chosen))[0])


def test_no_incumbent_at_the_time_limit_falls_back_to_greedy_and_relaxation_bound(monkeypatch):
    inst = and_or_case(2)
    model = milp_model(inst.network, inst.sinks, inst.closes, inst.cost)

    def no_incumbent(*args, **kwargs):
        raise SolverLimitError("interdiction MILP", "user_limit", "raise the time limit")

    monkeypatch.setattr(interdiction, "solve_milp", no_incumbent)
    result = model.solve(3.0)
    bound, _ = model.relaxation_bound(3.0)
    assert result.status == "time_limit" and not result.optimal
    assert result.bound == pytest.approx(min(bound, result.objective))
    assert result.cost <= 3.0 + 1e-9
    assert result.objective <= model.evaluate(np.zeros(model.num_controls, dtype=bool))[0]
    assert "no incumbent" in " ".join(result.notes)


def test_bad_arguments_are_rejected():
    inst = and_or_case(0)
    with pytest.raises(ValueError, match="cost"):
        InterdictionModel(inst.network, inst.sinks, inst.closes, -inst.cost)
    with pytest.raises(ValueError, match="one column per route"):
        InterdictionModel(inst.network, inst.sinks, inst.closes[:, :-1], inst.cost)
    with pytest.raises(ValueError, match="aggregate"):
        InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost, aggregate="median")
    model = InterdictionModel(inst.network, inst.sinks, inst.closes, inst.cost)
    with pytest.raises(ValueError, match="budget"):
        model.solve(-1.0)
    with pytest.raises(ValueError, match="budget"):
        model.solve(math.inf)
