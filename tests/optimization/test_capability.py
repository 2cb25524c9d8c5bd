"""Capability LP: max-flow special case, a hand-computed AND example, a plain LP, duality."""

from __future__ import annotations

import cvxpy as cp
import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linprog

from graph.network import build_supply_network, max_flow_network
from optimization.capability import CapabilityModel
from optimization.errors import InaccurateError, InfeasibleError, SolverLimitError, UnboundedError
from optimization.solvers import require_optimal
from tests.support.instances import random_and_or_network, random_flow_graph


@pytest.mark.parametrize("solver", ["HIGHS", "SCIP"])
@pytest.mark.parametrize("seed", range(15))
def test_max_flow_special_case_equals_networkx(seed, solver):
    g, src, dst, cap = random_flow_graph(seed)
    network = max_flow_network(g.number_of_nodes(), src, dst, cap, source=0, sink=11)
    result = CapabilityModel(network, solver=solver).solve(11)
    assert result.value == pytest.approx(nx.maximum_flow_value(g, 0, 11), abs=1e-6)
    assert result.duality_gap <= 1e-7
    assert result.max_residual <= 1e-6


def five_node_and_example(open_b: bool = True):
    """Two raw materials feed one fab (AND); the sink takes the fab's output.

    A (country X) makes 10 of ``ore``; B (X) 6 and E (Y) 1 of ``gas``; fab C (X)
    needs 2 ore + 1 gas per unit, capacity 100; the sink of actor d needs 1 chip per
    unit. By hand: min(10 / 2, (6 + 1) / 1) = 5; without B: min(5, 1 / 1) = 1.
    """
    network = build_supply_network(
        countries=["X", "Y"], inputs=["ore", "gas", "chip"],
        producer_country=[0, 0, 1, 0], producer_input=[0, 1, 1, 2], producer_capacity=[10.0, 6.0, 1.0, 100.0],
        recipe_product=[2, 2], recipe_input=[0, 1], recipe_coefficient=[2.0, 1.0],
        compute_input=2, actors=["d"], actor_members=[[0]],
    )
    assert network.num_nodes == 5
    return network


def test_five_node_and_example_by_hand():
    network = five_node_and_example()
    model = CapabilityModel(network)
    sink = network.sink_of(0)
    assert model.solve(sink).value == pytest.approx(5.0)
    without_b = (network.edge_src != 1).astype(float)
    assert model.solve(sink, without_b).value == pytest.approx(1.0)
    without_e = (network.edge_src != 2).astype(float)
    assert model.solve(sink, without_e).value == pytest.approx(5.0)


def plain_lp_capability(network, sink, route_open, weights=None):
    """The capability LP written directly for scipy's linprog, variables [y, f]; with
    ``weights``, the weighted production of every node instead of the sink's."""
    n, e = network.num_nodes, network.num_edges
    rows, rhs = [], []
    for v in range(n):  # out-flow <= production
        row = np.zeros(n + e)
        row[v] = -1.0
        row[n + np.flatnonzero(network.edge_src == v)] = 1.0
        rows.append(row)
        rhs.append(0.0)
    for v, k, a in zip(network.req_node, network.req_input, network.req_coefficient):
        row = np.zeros(n + e)  # a * y_v - inflow of k <= 0
        row[v] = a
        row[n + np.flatnonzero((network.edge_dst == v) & (network.edge_input == k))] = -1.0
        rows.append(row)
        rhs.append(0.0)
    bounds = [(0, c if np.isfinite(c) else None) for c in network.node_capacity]
    bounds += [(0, (c if np.isfinite(c) else None) if o else 0) for c, o in zip(network.edge_capacity, route_open)]
    objective = np.zeros(n + e)
    if weights is None:
        objective[sink] = -1.0
    else:
        objective[:n] = -np.asarray(weights)
    result = linprog(objective, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    assert result.status == 0
    return -result.fun


@pytest.mark.parametrize("seed", range(25))
def test_and_or_capability_equals_plain_lp(seed):
    network = random_and_or_network(seed, n=14)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    rng = np.random.default_rng(seed)
    for trial in range(3):
        route_open = np.ones(network.num_edges, dtype=bool) if trial == 0 else rng.random(network.num_edges) > 0.3
        result = model.solve(sink, route_open.astype(float))
        assert result.value == pytest.approx(plain_lp_capability(network, sink, route_open), rel=1e-7, abs=1e-7)
        assert result.duality_gap <= 1e-7


@pytest.mark.parametrize("seed", range(8))
def test_solve_on_a_network_with_other_capacities_equals_its_own_model(seed):
    """The sensitivity runs re-solve one LP with an actor's capacities scaled: the answer is
    the scaled network's own capability LP, and an independent LP's."""
    import dataclasses

    network = random_and_or_network(seed, n=14)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    rng = np.random.default_rng(seed)
    for factor in (0.75, 1.25, 3.0):
        scaled_nodes = rng.random(network.num_nodes) < 0.5
        capacity = np.where(scaled_nodes, network.node_capacity * factor, network.node_capacity)
        scaled = dataclasses.replace(network, node_capacity=capacity)
        route_open = rng.random(network.num_edges) > 0.3
        result = model.solve_on(scaled, sink, route_open.astype(float))
        assert result.value == pytest.approx(CapabilityModel(scaled).solve(sink, route_open.astype(float)).value,
                                             rel=1e-9, abs=1e-9)
        assert result.value == pytest.approx(plain_lp_capability(scaled, sink, route_open), rel=1e-7, abs=1e-7)
        assert result.duality_gap <= 1e-7


def test_solve_on_refuses_a_network_that_differs_in_more_than_capacities():
    import dataclasses

    network = random_and_or_network(3, n=14)
    model = CapabilityModel(network)
    other = random_and_or_network(4, n=14)
    with pytest.raises(ValueError, match="other capacities only"):
        model.solve_on(other, other.num_nodes - 1)
    capacity = network.node_capacity.copy()
    capacity[np.flatnonzero(np.isfinite(capacity))[0]] = np.inf     # a capacitated node loses its capacity
    with pytest.raises(ValueError, match="other capacities only"):
        model.solve_on(dataclasses.replace(network, node_capacity=capacity), network.num_nodes - 1)


@pytest.mark.parametrize("seed", range(10))
def test_weighted_production_equals_plain_lp(seed):
    network = random_and_or_network(seed, n=14)
    model = CapabilityModel(network)
    rng = np.random.default_rng(50 + seed)
    for trial in range(3):
        weights = rng.random(network.num_nodes) * (rng.random(network.num_nodes) > 0.5)
        route_open = np.ones(network.num_edges, dtype=bool) if trial == 0 else rng.random(network.num_edges) > 0.3
        result = model.solve_weighted(weights, route_open.astype(float))
        expected = plain_lp_capability(network, None, route_open, weights=weights)
        assert result.value == pytest.approx(expected, rel=1e-7, abs=1e-7)
        assert result.duality_gap <= 1e-7
    # The sink's own capability is the weighted LP with one unit weight on the sink.
    sink = network.num_nodes - 1
    unit = np.zeros(network.num_nodes)
    unit[sink] = 1.0
    assert model.solve_weighted(unit).value == pytest.approx(model.solve(sink).value, rel=1e-9, abs=1e-9)
    with pytest.raises(ValueError, match="one non-negative number per node"):
        model.solve_weighted(-unit)


@pytest.mark.parametrize("seed", range(15))
def test_closing_a_route_never_raises_capability(seed):
    network = random_and_or_network(seed, n=16)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    rng = np.random.default_rng(100 + seed)
    route_open = np.ones(network.num_edges)
    previous = model.solve(sink, route_open).value
    for edge in rng.permutation(network.num_edges):
        route_open[edge] = 0.0
        value = model.solve(sink, route_open).value
        assert value <= previous + 1e-7
        previous = value


@pytest.mark.parametrize("solver", ["HIGHS", "SCIP"])
def test_route_duals_certify_the_optimum(solver):
    g, src, dst, cap = random_flow_graph(3)
    network = max_flow_network(g.number_of_nodes(), src, dst, cap, source=0, sink=11)
    result = CapabilityModel(network, solver=solver).solve(11)
    # For max-flow the dual objective is the capacity of a cut: sum of duals x capacity.
    assert float(np.dot(result.route_dual, cap[(dst != 0) & (src != 11)])) == pytest.approx(result.value, abs=1e-6)
    assert (result.route_dual >= -1e-9).all()


def test_model_is_dpp_and_reuses_its_problem():
    model = CapabilityModel(five_node_and_example())
    assert model.problem.is_dpp()
    problem = model.problem
    model.solve(model.network.sink_of(0))
    assert model.problem is problem


def test_unbounded_capacity_raises_typed_error():
    network = max_flow_network(3, [0, 1], [1, 2], [np.inf, np.inf], source=0, sink=2)
    with pytest.raises(UnboundedError, match="finite"):
        CapabilityModel(network)


def test_require_optimal_maps_statuses_to_typed_errors():
    x = cp.Variable()
    infeasible = cp.Problem(cp.Maximize(x), [x <= 0, x >= 1])
    infeasible.solve(solver=cp.HIGHS)
    with pytest.raises(InfeasibleError, match="hint|check"):
        require_optimal(infeasible, "test")
    unbounded = cp.Problem(cp.Maximize(x), [x >= 0])
    unbounded.solve(solver=cp.HIGHS)
    with pytest.raises((UnboundedError, InfeasibleError)):
        require_optimal(unbounded, "test")

    class Fake:
        status = cp.OPTIMAL_INACCURATE

    with pytest.raises(InaccurateError):
        require_optimal(Fake(), "test")
    Fake.status = cp.USER_LIMIT
    with pytest.raises(SolverLimitError):
        require_optimal(Fake(), "test")


def test_bad_route_open_vector_is_rejected():
    model = CapabilityModel(five_node_and_example())
    with pytest.raises(ValueError, match="route_open"):
        model.solve(model.network.sink_of(0), np.ones(2))


@pytest.mark.parametrize("seed", range(12))
def test_memo_keyed_by_routes_towards_the_target_gives_the_independent_optimum(seed):
    """Closing routes that cannot reach the target changes nothing: ``solve_closed`` returns
    the memoised result for them, and every value equals the plain LP with exactly those
    routes closed."""
    network = random_and_or_network(seed, n=16)
    model = CapabilityModel(network)
    rng = np.random.default_rng(300 + seed)
    target = int(rng.integers(network.num_nodes // 2, network.num_nodes))  # the sink or an intermediate node
    towards = network.routes_reaching([target])
    weights = np.zeros(network.num_nodes)
    weights[rng.choice(network.num_nodes, size=3, replace=False)] = rng.uniform(0.5, 2.0, size=3)
    towards_weighted = network.routes_reaching(np.flatnonzero(weights))
    hits = 0
    for _ in range(6):
        closed = rng.random(network.num_edges) < 0.25
        first = model.solve_closed(target, closed)
        elsewhere = closed | (~towards & (rng.random(network.num_edges) < 0.7))
        again = model.solve_closed(target, elsewhere)
        hits += again is first and bool((elsewhere != closed).any())
        for routes in (closed, elsewhere):
            assert model.solve_closed(target, routes).value == pytest.approx(
                plain_lp_capability(network, target, ~routes), rel=1e-7, abs=1e-7)
        weighted = model.solve_weighted_closed(weights, closed | (~towards_weighted & (rng.random(network.num_edges) < 0.7)))
        assert weighted is model.solve_weighted_closed(weights, closed)
        assert weighted.value == pytest.approx(plain_lp_capability(network, None, ~closed, weights=weights),
                                               rel=1e-7, abs=1e-7)
    assert towards.dtype == bool and towards.shape == (network.num_edges,)
    if (~towards).any():
        assert hits > 0  # the memo did serve routes closed away from the target


@pytest.mark.parametrize("seed", range(8))
def test_a_memoised_result_is_an_optimal_pair_of_every_lp_sharing_its_key(seed):
    """Filled with routes closed away from the target, then read for an LP where they are
    open: its flow is feasible there with the same value, and its route duals still certify
    first-order losses there (weak duality: closing route e costs at least μ_e · M_e)."""
    network = random_and_or_network(seed, n=16)
    model = CapabilityModel(network)
    rng = np.random.default_rng(500 + seed)
    target = int(rng.integers(network.num_nodes // 2, network.num_nodes))
    towards = network.routes_reaching([target])
    closed = rng.random(network.num_edges) < 0.2
    model.solve_closed(target, closed | ~towards)      # fills the memo with every other route closed
    memoised = model.solve_closed(target, closed)      # the same key: those routes open here
    bound = model.route_bound(target) * (~closed)
    assert (memoised.flow[~towards] == 0).all() and (memoised.route_dual[~towards] == 0).all()
    assert (memoised.flow <= bound + 1e-7).all()
    assert memoised.value == pytest.approx(plain_lp_capability(network, target, ~closed), rel=1e-7, abs=1e-7)
    for edge in np.flatnonzero((memoised.route_dual > 1e-9) & ~closed & np.isfinite(bound))[:6]:
        shut = closed.copy()
        shut[edge] = True
        after = plain_lp_capability(network, target, ~shut)
        assert after <= memoised.value - memoised.route_dual[edge] * bound[edge] + 1e-6 * max(1.0, memoised.value)


def test_relative_loss_clips_and_reports_round_off_as_no_loss():
    from optimization.capability import LOSS_FLOOR, relative_loss

    before = np.array([10.0, 10.0, 10.0, 0.0, -1.0, 10.0, 10.0])
    after = np.array([4.0, 10.0 * (1 - 1e-15), 12.0, 0.0, 0.0, -5.0, 10.0 * (1 - 10 * LOSS_FLOOR)])
    np.testing.assert_allclose(relative_loss(before, after), [0.6, 0.0, 0.0, 0.0, 0.0, 1.0, 10 * LOSS_FLOOR])
    assert relative_loss(2.0, 1.0) == 0.5 and relative_loss(2.0, 1.0).shape == ()
