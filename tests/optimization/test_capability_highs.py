"""The capability LP handed to HiGHS as arrays reaches the optimum of the cvxpy model.

Every capability LP of a run with HiGHS goes through
:class:`optimization.capability_highs.HighsCapabilityLp`: one kept instance per objective,
hot-started; a new objective started from another's basis. Sequences of solves as the
analyses make them are replayed through it and through the model's cvxpy problem on
cvxpy's own HiGHS interface (``highs_arrays=False``): the optimal values agree solve by
solve and every result carries its own certificate. The duals it returns are checked as a
dual certificate by an independent LP (scipy): with them fixed, the rest of the explicit
dual is feasible and its objective is the primal value. Pool, time limit, failed solves,
and the basis repair for reopened routes are tested on their own.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from chokepoint.analyses.placements import catalogue_arrays
from chokepoint.model.build import network_from_tables
from optimization import capability_highs
from optimization.capability import CapabilityModel
from optimization.capability_highs import HighsCapabilityLp
from optimization.errors import SolverLimitError
from optimization.random_instances import layered_instance
from tests.support.instances import random_and_or_network


def _sequence(network, sinks, seed: int, length: int, closes=None) -> list:
    """Solves as the analyses make them: all open, routes closed by random placements (and
    reopened by the next), and some fractional capacities."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(length):
        if closes is not None and len(closes):
            closed = closes[rng.random(len(closes)) < 0.3].any(axis=0)
        else:
            closed = rng.random(network.num_edges) < 0.2
        route_open = (~closed).astype(np.float64)
        draw = rng.random()
        if draw < 0.15:
            route_open = None
        elif draw < 0.3:
            route_open = route_open * rng.random(network.num_edges)
        out.append((sinks[i % len(sinks)], route_open))
    return out


def _replay(network, sequence) -> tuple[CapabilityModel, list]:
    """The sequence on the arrays path and on cvxpy's, certified and equal in value."""
    arrays = CapabilityModel(network, solver="HIGHS", time_limit=60)
    plain = CapabilityModel(network, solver="HIGHS", time_limit=60, highs_arrays=False)
    results = []
    for sink, route_open in sequence:
        mine, reference = arrays.solve(sink, route_open), plain.solve(sink, route_open)
        assert mine.status == reference.status == "optimal"
        assert mine.value == pytest.approx(reference.value, rel=1e-9, abs=1e-9)
        assert mine.duality_gap <= 1e-7 and mine.max_residual <= 1e-7
        assert mine.route_dual.shape == (network.num_edges,) and (mine.route_dual >= 0).all()
        results.append((sink, route_open, mine))
    return arrays, results


def _assert_dual_certificate(network, model: CapabilityModel, sink: int, route_open, result) -> None:
    """With ``λ`` (capacity duals, from the solve's kept reduced costs) and ``μ`` (route duals)
    fixed to the returned ones, some ``α, β ≥ 0`` satisfy the explicit dual
    (docs/design.md#41-capability-lp), found by scipy: then ``Σ cap λ + Σ M open μ`` bounds
    the capability from above, and it equals the value."""
    n, e, r = network.num_nodes, network.num_edges, network.req_node.size
    route_open = np.ones(e) if route_open is None else route_open
    weights = np.zeros(n)
    weights[sink] = 1.0
    *_, reduced = model._highs.pool[weights.tobytes()]
    capacity = network.for_sink(sink).node_capacity
    capped = np.isfinite(capacity)
    lam = np.where(capped, np.maximum(reduced[:n], 0.0), 0.0)
    mu = result.route_dual
    edge_req = network.edge_requirement()
    # Unknowns α (N), β (R) ≥ 0:  α_v − Σ_{r at v} a_r β_r ≤ λ_v − w_v ;  −α_{src e} + β_{r(e)} ≤ μ_e.
    need = sp.csr_matrix((network.req_coefficient, (network.req_node, np.arange(r))), shape=(n, r))
    out = sp.csr_matrix((np.ones(e), (np.arange(e), network.edge_src)), shape=(e, n))
    serves = edge_req >= 0
    into = sp.csr_matrix((np.ones(serves.sum()), (np.flatnonzero(serves), edge_req[serves])), shape=(e, r))
    a_ub = sp.vstack([sp.hstack([sp.identity(n), -need]), sp.hstack([-out, into])]).tocsr()
    b_ub = np.concatenate([lam - weights, mu]) + 1e-9
    found = linprog(np.zeros(n + r), A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * (n + r), method="highs")
    assert found.status == 0, f"the returned duals are not part of a feasible dual: {found.message}"
    dual_value = float(np.dot(capacity[capped], lam[capped]) + np.dot(model.route_bound(sink) * route_open, mu))
    assert dual_value == pytest.approx(result.value, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_reach_the_cvxpy_models_optimum(seed):
    network = random_and_or_network(seed, n=16)
    _replay(network, _sequence(network, [network.num_nodes - 1], seed, 25))


@pytest.mark.parametrize("seed", range(3))
def test_layered_instances_with_several_sinks_reach_the_cvxpy_models_optimum(seed):
    """Several objectives: each new one starts from another's basis."""
    inst = layered_instance(seed, layers=3, width=6, types=2, countries=4, sinks=3, num_controls=8)
    model, _ = _replay(inst.network, _sequence(inst.network, list(inst.sinks), seed, 30, closes=inst.closes))
    assert len(model._highs.pool) == len(set(inst.sinks))


def test_reference_network_reaches_the_cvxpy_models_optimum_with_one_instance_per_sink(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(network.actors.index(a.id)) for a in scenario.defectors]
    model, _ = _replay(network, _sequence(network, sinks, 7, 40, closes=catalogue_arrays(network, scenario).closes))
    assert len(model._highs.pool) == len(set(sinks))


@pytest.mark.parametrize("seed", range(3))
def test_returned_duals_are_a_dual_certificate(seed):
    inst = layered_instance(seed, layers=3, width=5, types=2, countries=3, sinks=2, num_controls=6)
    model = CapabilityModel(inst.network, solver="HIGHS", time_limit=60)
    for sink, route_open in _sequence(inst.network, list(inst.sinks), seed, 12, closes=inst.closes):
        _assert_dual_certificate(inst.network, model, sink, route_open, model.solve(sink, route_open))


def test_pool_keeps_the_most_recently_used_objectives(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(i) for i in range(len(network.actors))][:4]
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    model._highs.pool_size = 2
    keys = []
    for sink in sinks:
        model.solve(sink)
        keys.append(next(reversed(model._highs.pool)))
    assert len(set(keys)) == len(sinks)
    assert list(model._highs.pool) == keys[-2:]
    model.solve(sinks[-2])      # used again: now the most recent
    assert list(model._highs.pool) == [keys[-1], keys[-2]]


def test_kept_instance_gets_a_time_limit_beyond_its_clock(reference, scenario):
    """HiGHS's clock runs on over an instance's runs; each solve's limit is counted from its start."""
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    model = CapabilityModel(network, solver="HIGHS", time_limit=5)
    for _ in range(4):
        model.solve(network.sink_of(0))
    (solver, *_), = model._highs.pool.values()
    _, limit = solver.getOptionValue("time_limit")
    assert 0 < limit - 5 <= solver.getRunTime()


def test_a_solve_stopped_by_its_limit_is_a_typed_error_and_drops_its_instance(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sink, other = network.sink_of(0), network.sink_of(1)
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    expected = model.solve(sink).value
    model.solve(other)
    # A limit of zero is already exceeded when HiGHS first looks at its clock: the same on any machine.
    model._highs.time_limit = 0.0
    closed = np.ones(network.num_edges)
    closed[:: 2] = 0.0
    with pytest.raises(SolverLimitError, match="user_limit.*raise the time limit"):
        model.solve(sink, closed)
    assert len(model._highs.pool) == 1, "the stopped instance is not kept"
    model._highs.time_limit = 60.0
    assert model.solve(sink).value == pytest.approx(expected, rel=1e-12)


def test_a_route_reopened_gets_the_bound_its_reduced_cost_calls_for():
    """max x0 + x1 s.t. x0 + x1 ≤ 1 with x0 fixed at 0 and left "at upper" although its reduced
    cost is negative: once x0 may rise again it is moved to its lower bound (dual feasible)."""
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    solver.addVars(2, np.array([0.0, 0.0]), np.array([0.0, inf]))
    solver.changeColsCost(2, np.array([0, 1], dtype=np.int32), np.array([0.5, 1.0]))
    solver.addRow(-inf, 1.0, 2, np.array([0, 1], dtype=np.int32), np.array([1.0, 1.0]))
    solver.changeObjectiveSense(highspy.ObjSense.kMaximize)
    solver.run()
    basis = solver.getBasis()
    basis.col_status = [highspy.HighsBasisStatus.kUpper, basis.col_status[1]]
    solver.setBasis(basis)
    reduced = np.array([-0.5, 0.0])      # 0.5 − 1·(row dual 1)
    solver.changeColsBounds(1, np.array([0], dtype=np.int32), np.array([0.0]), np.array([1.0]))
    capability_highs._keep_dual_feasible(solver, np.array([0]), reduced)
    assert solver.getBasis().col_status[0] == highspy.HighsBasisStatus.kLower
    # Within the dual tolerance either bound is feasible: nothing is moved.
    basis = solver.getBasis()
    basis.col_status = [highspy.HighsBasisStatus.kUpper, basis.col_status[1]]
    solver.setBasis(basis)
    capability_highs._keep_dual_feasible(solver, np.array([0]), np.array([-1e-9, 0.0]))
    assert solver.getBasis().col_status[0] == highspy.HighsBasisStatus.kUpper
    solver.run()
    assert solver.getInfo().objective_function_value == pytest.approx(1.0)


def test_bad_arguments_are_refused():
    network = random_and_or_network(0, n=8)
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    n, e = network.num_nodes, network.num_edges
    with pytest.raises(ValueError, match="must match the model"):
        model._highs.solve(np.zeros(n + 1), np.full(n, np.inf), np.ones(e))
    with pytest.raises(ValueError, match="must match the model"):
        model._highs.solve(np.zeros(n), np.full(n, np.inf), np.ones(e - 1))
    with pytest.raises(ValueError, match="positive seconds"):
        HighsCapabilityLp(model._out_matrix, model._in_matrix, model._need_matrix, time_limit=0)
    with pytest.raises(ValueError, match="must agree"):
        HighsCapabilityLp(model._out_matrix, model._in_matrix[:, :-1], model._need_matrix, time_limit=1)
