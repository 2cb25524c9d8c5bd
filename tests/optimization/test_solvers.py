"""``solve_checked``: a warm-started re-solve that HiGHS ends without a solution or a status is
solved once more from scratch; a cold solve that ends so raises a typed error. cvxpy's
module-wide state (its id counter, its DPP-analysis flag) is safe when models are built in threads."""

from __future__ import annotations

import threading

import cvxpy as cp
import pytest
from cvxpy.utilities import scopes

from optimization.errors import ModelError, SolverError
from optimization.solvers import CVXPY_ID_LOCK, require_dpp, solve_checked, solver_options


class _NoSolutionWhenWarm:
    """A small LP whose ``solve`` fails as cvxpy does on HiGHS's unknown status, on warm
    starts (``cold_too``: also cold), and records the ``warm_start`` of every call."""

    def __init__(self, cold_too: bool = False):
        x = cp.Variable(2, nonneg=True)
        self.problem = cp.Problem(cp.Maximize(x[0] + 2 * x[1]), [x[0] + x[1] <= 3, x[1] <= 1])
        self.cold_too, self.calls = cold_too, []
        solve = self.problem.solve

        def failing(**options):
            warm = options.get("warm_start", True)
            self.calls.append(warm)
            if warm or self.cold_too:
                raise ValueError("Cannot unpack invalid solution: Solution(status=UNKNOWN, opt_val=None)")
            return solve(**options)

        self.problem.solve = failing


def test_a_warm_start_without_a_solution_is_solved_again_cold():
    case = _NoSolutionWhenWarm()
    solve_checked(case.problem, solver_options("HIGHS", 10), "toy LP")
    assert case.calls == [True, False]
    assert case.problem.status == cp.OPTIMAL and case.problem.value == pytest.approx(4.0)


def test_a_cold_solve_without_a_solution_raises_a_typed_error():
    case = _NoSolutionWhenWarm(cold_too=True)
    with pytest.raises(SolverError, match="toy LP.*cold start"):
        solve_checked(case.problem, solver_options("HIGHS", 10), "toy LP")
    assert case.calls == [True, False]


def test_other_value_errors_are_not_swallowed():
    x = cp.Variable()
    problem = cp.Problem(cp.Maximize(x), [x <= 1])

    def broken(**options):
        raise ValueError("something else")

    problem.solve = broken
    with pytest.raises(ValueError, match="something else"):
        solve_checked(problem, solver_options("HIGHS", 10), "toy LP")



def test_cvxpy_ids_are_drawn_under_a_lock():
    """Models are built in threads (one per scenario partition): a thread building a model
    waits while another draws an id, and the ids of models built at once are unique."""
    built = threading.Event()
    with CVXPY_ID_LOCK:
        thread = threading.Thread(target=lambda: (cp.Variable(), built.set()))
        thread.start()
        assert not built.wait(0.3), "a variable was numbered while the id lock was held"
    thread.join(10)
    assert built.is_set()
    ids: list[list[int]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=lambda out=out: out.extend(cp.Variable().id for _ in range(5_000)))
               for out in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drawn = [i for out in ids for i in out]
    assert len(set(drawn)) == len(drawn) == 20_000


def test_a_dpp_analysis_in_one_thread_does_not_change_another_threads_expressions():
    """Inside cvxpy's DPP scope parameters are not constants; a thread building
    ``parameter * variable`` while another thread analyses DPP must still see a constant
    parameter (with cvxpy's module-wide flag it raised "not DCP")."""
    inside, leave = threading.Event(), threading.Event()

    def analyse():
        with scopes.dpp_scope():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=analyse)
    thread.start()
    try:
        assert inside.wait(10)
        parameter, variable = cp.Parameter(nonneg=True, value=2.0), cp.Variable()
        assert parameter.is_constant() and not scopes.dpp_scope_active()
        product = parameter * variable
        assert product.is_affine()
    finally:
        leave.set()
        thread.join(10)
    with scopes.dpp_scope():
        assert scopes.dpp_scope_active() and not cp.Parameter().is_constant()
    assert not scopes.dpp_scope_active()


def test_a_model_that_is_not_dpp_is_refused_when_built():
    """``p * p * x`` is not DPP: re-solving it would canonicalise it on every solve."""
    x = cp.Variable()
    p = cp.Parameter(nonneg=True, value=2.0)
    with pytest.raises(ModelError, match="not DPP"):
        require_dpp(cp.Problem(cp.Minimize(p * p * x), [x >= 1]), "test model")
