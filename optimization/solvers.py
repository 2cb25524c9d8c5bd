"""Solver selection, limits and status checks shared by every model."""

from __future__ import annotations

import cvxpy as cp
import cvxpy.settings as cvxpy_settings

from optimization.errors import InaccurateError, InfeasibleError, SolverError, SolverLimitError, UnboundedError

__all__ = ["SOLVERS", "solver_options", "require_optimal"]

SOLVERS = ("HIGHS", "SCIP")


def _silence_highs_banner() -> None:
    """HiGHS prints a licence banner to fd 1 when its first instance is made, before any
    option can switch output off; commands that print JSON on stdout cannot have it."""
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_highs_banner()


def solver_options(solver: str, time_limit: float) -> dict:
    """Keyword arguments for ``Problem.solve`` with a wall-clock limit in seconds."""
    solver = solver.upper()
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if not time_limit > 0:
        raise ValueError("time_limit must be positive seconds")
    if solver == "HIGHS":
        return {"solver": cp.HIGHS, "time_limit": float(time_limit), "output_flag": False, "log_to_console": False}
    return {"solver": cp.SCIP, "scip_params": {"limits/time": float(time_limit)}}


def require_optimal(problem: cp.Problem, what: str) -> None:
    """Raise the typed error matching ``problem.status`` unless it is ``optimal``."""
    status = problem.status
    if status == cp.OPTIMAL:
        return
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise InfeasibleError(what, status, "the constraints cannot all hold: check capacities, budgets and caps in the scenario")
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise UnboundedError(what, status, "some capacity is missing or infinite: every route into the objective needs a finite bound")
    if status == cvxpy_settings.INFEASIBLE_OR_UNBOUNDED:
        raise InfeasibleError(what, status, "infeasible or unbounded: check capacities and scenario limits")
    if status == cp.OPTIMAL_INACCURATE:
        raise InaccurateError(what, status, "numerical trouble or a time limit: rescale units or raise the time limit")
    if status == cp.USER_LIMIT:
        raise SolverLimitError(what, status, "time or iteration limit reached: raise the time limit")
    raise SolverError(what, str(status), "the solver failed: try the other solver (HIGHS/SCIP)")
