"""The MILP wrapper: which solver outcomes count as proven, typed errors for
infeasibility and for limits without an incumbent, on both solvers."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from optimization.errors import InfeasibleError, SolverLimitError
from optimization.milp import solve_milp
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
