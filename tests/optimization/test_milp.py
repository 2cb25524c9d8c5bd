"""The MILP wrapper: which solver outcomes count as proven, typed errors for
infeasibility and for limits without an incumbent, on both solvers; HiGHS's MILPs with
one-variable rows passed as bounds."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp

from optimization.errors import InfeasibleError, SolverLimitError
from optimization.milp import solve_milp
from optimization.solvers import single_variable_rows_as_bounds
from tests.support.solver_limits import limit_solver

SOLVERS = ["HIGHS", "SCIP"]


def test_inaccurate_solver_status_is_never_proven(monkeypatch):
    """A 5-constraint 0-1 knapsack that SCIP cannot close at the root node."""
    limit_solver(monkeypatch, scip={"limits/nodes": 1})  # SCIP: status nodelimit, cvxpy: optimal_inaccurate
    rng = np.random.default_rng(0)
    a = rng.integers(1, 1000, size=(5, 80))
    value = a.sum(axis=0) + rng.integers(0, 50, size=80)
    x = cp.Variable(80, boolean=True)
    problem = cp.Problem(cp.Minimize(-value @ x), [a @ x <= a.sum(axis=1) // 2])
    outcome = solve_milp(problem, solver="SCIP", time_limit=30)
    assert problem.status == cp.OPTIMAL_INACCURATE
    assert outcome.status == "inaccurate" and not outcome.proven and outcome.solver_status == "nodelimit"
    assert outcome.bound < outcome.objective


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_milp_raises_typed_error_with_hint(solver):
    x = cp.Variable(3, boolean=True)
    problem = cp.Problem(cp.Minimize(cp.sum(x)), [cp.sum(x) >= 4])
    with pytest.raises(InfeasibleError, match="check budget"):
        solve_milp(problem, solver=solver, time_limit=5)


@pytest.mark.parametrize("solver", SOLVERS)
def test_limit_without_incumbent_raises_solver_limit_error(solver, monkeypatch):
    """A market-split instance (Cornuéjols & Dawande 1998): find binary x with A x = b.
    Hard for branch and bound: after the root node (HiGHS, node limit) or before the
    search (SCIP, whose time limit alone gives the 'timelimit' status, set to zero) there
    is no incumbent. Deterministic: no wall-clock limit decides the outcome."""
    if solver == "HIGHS":
        limit_solver(monkeypatch, highs={"mip_max_nodes": 1})
    else:
        limit_solver(monkeypatch, scip={"limits/time": 0.0})
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, size=(4, 30))
    x = cp.Variable(30, boolean=True)
    problem = cp.Problem(cp.Minimize(0), [a @ x == a.sum(axis=1) // 2])
    with pytest.raises(SolverLimitError, match="raise the time limit"):
        solve_milp(problem, solver=solver, time_limit=60)


def _random_milp(seed: int):
    """A random bounded MILP with equality and inequality rows, bounds as cvxpy states them
    (``x >= 0``, ``x <= u``, a negative-coefficient one-variable row) and binaries."""
    rng = np.random.default_rng(seed)
    n, m = 12, 8
    x = cp.Variable(n, nonneg=True)
    y = cp.Variable(6, boolean=True)
    upper = rng.uniform(1, 5, n)
    a = rng.normal(size=(m, n)) * (rng.random((m, n)) < 0.5)
    b = rng.normal(size=(m, 6)) * (rng.random((m, 6)) < 0.5)
    rhs = a @ (upper / 2) + b @ np.ones(6) + rng.uniform(0, 2, m)
    constraints = [a @ x + b @ y <= rhs, x <= upper, -2 * x[0] >= -upper[0],
                   cp.sum(x[:3]) == float(upper[:3].sum() / 3)]
    objective = cp.Minimize(rng.normal(size=n) @ x + rng.normal(size=6) @ y)
    return cp.Problem(objective, constraints), x, y


@pytest.mark.parametrize("seed", range(8))
def test_highs_milp_with_bounds_reaches_cvxpys_own_highs_optimum(seed):
    """The HiGHS path that passes one-variable rows as bounds solves the same MILP as
    cvxpy's own HiGHS interface: same optimum, and its solution satisfies every original
    constraint (checked on the cvxpy constraints, rows and bounds alike)."""
    problem, x, y = _random_milp(seed)
    outcome = solve_milp(problem, solver="HIGHS", time_limit=30)
    ours = problem.value
    assert outcome.proven
    for constraint in problem.constraints:
        assert np.all(constraint.violation() <= 1e-7)
    assert np.allclose(y.value, np.round(y.value), atol=1e-9)
    reference, _, _ = _random_milp(seed)
    reference.solve(solver=cp.HIGHS, mip_rel_gap=1e-9)
    assert reference.status == cp.OPTIMAL
    assert ours == pytest.approx(reference.value, rel=1e-6, abs=1e-9)


def test_one_variable_rows_become_bounds_on_a_hand_built_matrix():
    """Rows 0-2 hold one variable each (coefficients 2, -4 and 1 on x0, x0 and x1); row 3
    holds two and stays; the empty row 4 stays (it may be infeasible). x0: 2 x0 <= 6 gives
    x0 <= 3, -4 x0 <= -2 gives x0 >= 0.5; x1 = 7 from an equality row."""
    matrix = sp.csr_matrix(np.array([[2.0, 0], [-4, 0], [0, 1], [1, 1], [0, 0]]))
    inf = np.inf
    lower = np.array([-inf, -inf, 7, -inf, 0])
    upper = np.array([6, -2, 7, 9, 1.0])
    kept, row_lower, row_upper, col_lower, col_upper = single_variable_rows_as_bounds(
        matrix, lower, upper, np.array([-inf, 0.0]), np.array([inf, 10.0]))
    assert kept.toarray().tolist() == [[1, 1], [0, 0]]
    assert row_lower.tolist() == [-inf, 0] and row_upper.tolist() == [9, 1]
    assert col_lower.tolist() == [0.5, 7] and col_upper.tolist() == [3, 7]


def test_highs_milp_keeps_an_infeasible_bound_pair_infeasible():
    """x >= 3 and x <= 2 as rows become crossing bounds: still reported infeasible."""
    x = cp.Variable(2, boolean=True)
    z = cp.Variable()
    problem = cp.Problem(cp.Minimize(z + cp.sum(x)), [z >= 3, z <= 2])
    with pytest.raises(InfeasibleError):
        solve_milp(problem, solver="HIGHS", time_limit=5)
