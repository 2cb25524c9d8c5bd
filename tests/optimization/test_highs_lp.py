"""The reusing HiGHS LP interface reaches cvxpy's own HiGHS optimum.

Every capability LP of a run goes through :data:`optimization.highs_lp.REUSING_HIGHS_LP`,
which keeps one HiGHS instance per objective and hot-starts it. The same sequence of
solves is replayed through both paths: optimal values agree and every reused result
carries its own certificate (duality gap and residuals), the first solve of an objective
too (its bound rows are column bounds, so it is cvxpy's optimum, not its bits); bound rows
become column bounds and their duals come back from the reduced costs. Problems whose matrix holds a parameter stay on
cvxpy's path; a model that is not DPP is refused when it is built.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from chokepoint.analyses.placements import catalogue_arrays
from chokepoint.model.build import network_from_tables
from optimization.capability import CapabilityModel
from optimization.errors import ModelError
from optimization import highs_lp
from optimization.highs_lp import CACHE_AFTER, REUSING_HIGHS_LP
from optimization.random_instances import layered_instance
from optimization.solvers import lp_solver_options, require_dpp, solver_options
from tests.support.instances import random_and_or_network


def _fields(result) -> tuple:
    return (result.value, result.status, result.production.tobytes(), result.flow.tobytes(),
            result.route_dual.tobytes(), result.duality_gap, result.max_residual)


def _replay(network, sequence, options) -> list[tuple]:
    """The sequence of (sink, route_open) solves on one capability model with ``options``."""
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    model.options = options
    return [_fields(model.solve(sink, route_open)) for sink, route_open in sequence]


def _sequence(network, sinks, seed: int, length: int, closes=None) -> list:
    """Solves as the analyses make them: all open, routes closed by random placements,
    and some fractional capacities."""
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


def _reused(model: CapabilityModel) -> bool:
    return bool(_cached(model))


def _cached(model: CapabilityModel):
    return REUSING_HIGHS_LP._cached.get(model.problem._cache.param_prog)


def _assert_same_optimum(reused: list[tuple], plain: list[tuple]) -> None:
    """Same optimal value as cvxpy's path, solve by solve, and a certified optimum each time."""
    for (value, status, *_, gap, residual), (plain_value, plain_status, *_) in zip(reused, plain, strict=True):
        assert status == plain_status == "optimal"
        assert value == pytest.approx(plain_value, rel=1e-9, abs=1e-9)
        assert gap <= 1e-7 and residual <= 1e-7


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_reach_cvxpys_optimum(seed):
    network = random_and_or_network(seed, n=16)
    sequence = _sequence(network, [network.num_nodes - 1], seed, 25)
    plain = _replay(network, sequence, solver_options("HIGHS", 60))
    _assert_same_optimum(_replay(network, sequence, lp_solver_options("HIGHS", 60)), plain)


@pytest.mark.parametrize("seed", range(2))
def test_layered_instances_with_several_sinks_reach_cvxpys_optimum(seed):
    inst = layered_instance(seed, layers=3, width=6, types=2, countries=4, sinks=2, num_controls=8)
    sequence = _sequence(inst.network, list(inst.sinks), seed, 30, closes=inst.closes)
    plain = _replay(inst.network, sequence, solver_options("HIGHS", 60))
    _assert_same_optimum(_replay(inst.network, sequence, lp_solver_options("HIGHS", 60)), plain)


def test_reference_network_reaches_cvxpys_optimum_and_is_reused(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(network.actors.index(a.id)) for a in scenario.defectors]
    sequence = _sequence(network, sinks, 7, 40, closes=catalogue_arrays(network, scenario).closes)
    plain = _replay(network, sequence, solver_options("HIGHS", 60))
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    reused = [_fields(model.solve(sink, route_open)) for sink, route_open in sequence]
    _assert_same_optimum(reused, plain)
    assert _reused(model), "the capability LP should take the reusing path"
    # One kept instance per objective: one per sink solved (all within the pool).
    assert len(_cached(model).pool) == len(set(sinks))


def test_first_solve_of_an_objective_reaches_cvxpys_cold_optimum(reference, scenario):
    """A fresh instance solves cvxpy's model with its bound rows as column bounds: the same
    optimum (to the last digits, not the last bit), certified, with every route dual."""
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(i) for i in range(len(network.actors))]
    rng = np.random.default_rng(3)
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    for sink in sinks[:CACHE_AFTER]:  # cvxpy's own path until the problem is cached
        model.solve(sink)
    assert _reused(model)
    cold = CapabilityModel(network, solver="HIGHS", time_limit=60)
    cold.options = {**solver_options("HIGHS", 60), "warm_start": False}
    for sink in sinks[CACHE_AFTER:]:
        route_open = (rng.random(network.num_edges) > 0.2).astype(np.float64)
        reused, plain = model.solve(sink, route_open), cold.solve(sink, route_open)
        _assert_same_optimum([_fields(reused)], [_fields(plain)])
        assert reused.route_dual.shape == plain.route_dual.shape == (network.num_edges,)


def test_pool_keeps_the_most_recently_used_objectives(reference, scenario, monkeypatch):
    monkeypatch.setattr(highs_lp, "POOL_SIZE", 2)
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sinks = [network.sink_of(i) for i in range(len(network.actors))][:4]
    model = CapabilityModel(network, solver="HIGHS", time_limit=60)
    for _ in range(CACHE_AFTER):
        model.solve(sinks[0])
    pool = _cached(model).pool
    keys = []
    for sink in sinks:
        model.solve(sink)
        keys.append(next(reversed(pool)))
    assert len(set(keys)) == len(sinks)
    assert list(pool) == keys[-2:]
    model.solve(sinks[-2])      # used again: now the most recent
    assert list(pool) == [keys[-1], keys[-2]]


def test_kept_instance_gets_a_time_limit_beyond_its_clock(reference, scenario):
    """HiGHS's clock runs on over an instance's runs; each solve's limit is counted from its start."""
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    sink = network.sink_of(0)
    model = CapabilityModel(network, solver="HIGHS", time_limit=5)
    for _ in range(CACHE_AFTER + 3):
        model.solve(sink)
    (solver, _), = _cached(model).pool.values()
    _, limit = solver.getOptionValue("time_limit")
    # The last solve's limit: the instance's clock before that solve (> 0 after earlier runs), plus 5 s.
    assert 0 < limit - 5 <= solver.getRunTime()


def test_failed_solve_drops_its_instance():
    x = cp.Variable(2, nonneg=True)
    low = cp.Parameter(2, value=np.zeros(2))
    high = cp.Parameter(2, nonneg=True, value=np.ones(2))
    problem = require_dpp(cp.Problem(cp.Minimize(cp.sum(x)), [x >= low, x <= high]), "test LP")
    options = lp_solver_options("HIGHS", 10)
    for value in range(CACHE_AFTER + 1):
        low.value = np.array([0.5, 0.25 * value])
        problem.solve(**options)
        assert problem.value == pytest.approx(0.5 + 0.25 * value)
    cached = REUSING_HIGHS_LP._cached[problem._cache.param_prog]
    assert len(cached.pool) == 1
    low.value = np.array([2.0, 0.0])     # above the upper bound: infeasible
    problem.solve(**options)
    assert problem.status == cp.INFEASIBLE
    assert len(cached.pool) == 0
    low.value = np.array([0.5, 0.5])
    problem.solve(**options)
    assert problem.status == cp.OPTIMAL and problem.value == pytest.approx(1.0)


def test_parameter_in_the_matrix_stays_on_cvxpys_path():
    x = cp.Variable(3, nonneg=True)
    scale = cp.Parameter(3, nonneg=True)
    problem = require_dpp(cp.Problem(cp.Minimize(cp.sum(x)), [cp.multiply(scale, x) >= 1]), "test LP")
    for values in ([1.0, 2.0, 4.0], [2.0, 2.0, 0.5], [1.0, 1.0, 1.0]):
        scale.value = np.array(values)
        problem.solve(**lp_solver_options("HIGHS", 10))
        reused = problem.value
        problem.solve(**solver_options("HIGHS", 10))
        assert reused == problem.value
    assert REUSING_HIGHS_LP._cached.get(problem._cache.param_prog) is None  # the plain solve re-compiled it
    for _ in range(CACHE_AFTER):
        problem.solve(**lp_solver_options("HIGHS", 10))
    assert REUSING_HIGHS_LP._cached[problem._cache.param_prog] is False


def test_not_dpp_is_refused():
    x = cp.Variable()
    p = cp.Parameter(nonneg=True, value=2.0)
    with pytest.raises(ModelError, match="not DPP"):
        require_dpp(cp.Problem(cp.Minimize(p * p * x), [x >= 1]), "test model")


def _bounded_lp(n: int, m: int, seed: int):
    """max c·x s.t. A x ≤ b, x ≤ upper (a parameter), x ≥ 0: two of its three constraint
    sets are bound rows to cvxpy (one non-zero each)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.1, 1.0, (m, n)), rng.uniform(1.0, 2.0, m), rng.uniform(0.5, 1.5, n)
    x = cp.Variable(n, nonneg=True)
    upper = cp.Parameter(n, nonneg=True)
    rows, caps = a @ x <= b, x <= upper
    return require_dpp(cp.Problem(cp.Maximize(c @ x), [rows, caps]), "test LP"), upper, rows, caps


@pytest.mark.parametrize("seed", range(3))
def test_bound_rows_become_column_bounds_with_the_duals_cvxpy_reports(seed):
    """On generic random LPs (unique primal and dual optima) the reusing path — bound rows
    passed as column bounds, their duals rebuilt from reduced costs — gives cvxpy's own
    HiGHS values, solutions and the duals of both the kept rows and the bound rows."""
    reused, upper, rows, caps = _bounded_lp(12, 8, seed)
    plain, plain_upper, plain_rows, plain_caps = _bounded_lp(12, 8, seed)
    rng = np.random.default_rng(100 + seed)
    for _ in range(CACHE_AFTER + 5):
        upper.value = plain_upper.value = rng.uniform(0.05, 0.6, 12)
        reused.solve(**lp_solver_options("HIGHS", 60))
        plain.solve(**solver_options("HIGHS", 60))
        assert reused.status == plain.status == "optimal"
        assert reused.value == pytest.approx(plain.value, rel=1e-9)
        np.testing.assert_allclose(reused.variables()[0].value, plain.variables()[0].value, atol=1e-8)
        np.testing.assert_allclose(rows.dual_value, plain_rows.dual_value, atol=1e-8)
        np.testing.assert_allclose(caps.dual_value, plain_caps.dual_value, atol=1e-8)
    cached = REUSING_HIGHS_LP._cached.get(reused._cache.param_prog)
    assert cached, "the LP should take the reusing path"
    # x ≥ 0 and x ≤ upper: 24 bound rows; A x ≤ b: 8 kept rows.
    assert cached.bound_rows.size == 24 and cached.kept_rows.size == 8
    assert (caps.dual_value > 1e-9).any(), "some cap binds, so its dual comes from a reduced cost"
