"""Mixed-integer solves that report incumbent, proven bound and gap, with a time limit.

cvxpy's own status strings are not enough for a MILP: a time limit must still hand
back the best incumbent *and* the best proven bound, and the two solvers say
different things (cvxpy maps HiGHS ``kTimeLimit`` to ``user_limit`` but SCIP's
``timelimit`` and ``gaplimit`` to ``optimal_inaccurate``, and drops SCIP's bound).
:func:`solve_milp` runs HiGHS through cvxpy's interface (its ``HighsInfo`` carries
``mip_dual_bound``) and SCIP through a thin subclass of cvxpy's interface that keeps
SCIP's own status and dual bound, then returns one :class:`MilpOutcome` in which
``proven`` is true only for a solver-reported optimum — never for an
``*_inaccurate`` status.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cvxpy as cp
import cvxpy.settings as cvxpy_settings

from optimization.errors import InfeasibleError, SolverError, SolverLimitError, UnboundedError
from optimization.solvers import HIGHS_MILP, SOLVERS, ScipKeepingStatus

__all__ = ["MilpOutcome", "solve_milp", "MIP_REL_GAP", "OPTIMALITY_GAP"]

#: Relative gap at which a MILP counts as solved (both solvers are asked for it).
MIP_REL_GAP = 1e-7
#: A placement is reported optimal only if (objective − bound) / objective is at most this.
OPTIMALITY_GAP = 1e-6


@dataclass(frozen=True)
class MilpOutcome:
    """What one MILP solve established (objective sense: minimise).

    ``objective`` is the incumbent's objective (``nan`` without one), ``bound`` the best
    proven lower bound (``-inf`` if none), ``proven`` true only when the solver reported
    an optimum within :data:`MIP_REL_GAP`. ``status`` is ``"optimal"``, ``"time_limit"``
    or ``"inaccurate"`` (a solution whose optimality the solver would not vouch for).
    """

    status: str
    proven: bool
    has_incumbent: bool
    objective: float
    bound: float
    seconds: float
    solver: str
    solver_status: str


def _options(solver: str, time_limit: float, rel_gap: float) -> dict:
    """Solve keywords; SCIP gets a fresh :class:`ScipKeepingStatus` (read back via ``last``)."""
    if solver == "HIGHS":
        # mip_feasibility_tolerance also bounds how far a binary may sit from 0/1; kept
        # small because a "nearly zero" control times a big-M must not close a route.
        # Primal and dual feasibility at 1e-9 too: on the short-run interdiction MILP (dual
        # bounds spanning eight orders of magnitude, from recipe coefficients in units as
        # different as tonnes of gallium and H100e) the default 1e-7 let presolve and the
        # LP solves settle on a "proven" optimum 13 times the true one.
        return {"solver": HIGHS_MILP, "time_limit": float(time_limit), "mip_rel_gap": rel_gap, "mip_abs_gap": 1e-9,
                "mip_feasibility_tolerance": 1e-9, "primal_feasibility_tolerance": 1e-9,
                "dual_feasibility_tolerance": 1e-9, "output_flag": False, "log_to_console": False,
                # A re-solve started from the previous budget's solution reported a proven
                # bound of 0 for a placement worth 1 (tests/chokepoint/model/test_entity_controls.py).
                "warm_start": False,
                # Sub-MIP heuristics off: these MILPs are proved within a few nodes, and the
                # sub-MIPs took 2-5 s of a real-data solve that takes under 1 s without them
                # (docs/design.md#42-interdiction-milp).
                "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                "mip_heuristic_run_root_reduced_cost": False}
    return {"solver": ScipKeepingStatus(),
            "scip_params": {"limits/time": float(time_limit), "limits/gap": rel_gap, "limits/absgap": 1e-9,
                            "numerics/feastol": 1e-9}}


def solve_milp(problem: cp.Problem, *, solver: str = "HIGHS", time_limit: float = 60.0, what: str = "MILP",
               rel_gap: float = MIP_REL_GAP) -> MilpOutcome:
    """Solve a minimisation MILP and report incumbent, bound and whether it is proven.

    Parameters
    ----------
    problem : cvxpy.Problem
        A ``Minimize`` problem with boolean variables.
    solver : {"HIGHS", "SCIP"}
    time_limit : float
        Wall-clock seconds given to the solver.
    what : str
        Name used in error messages.
    rel_gap : float
        Relative gap at which the solver stops and reports optimal.

    Returns
    -------
    MilpOutcome
        Also when the time limit stopped the search with an incumbent.

    Raises
    ------
    InfeasibleError, UnboundedError
        The model has no feasible point / an unbounded objective.
    SolverLimitError
        The time limit struck before any incumbent was found.
    SolverError
        Any other solver failure.
    """
    solver = solver.upper()
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if not time_limit > 0:
        raise ValueError("time_limit must be positive seconds")
    if not isinstance(problem.objective, cp.Minimize):
        raise ValueError("solve_milp expects a Minimize problem")
    started = time.perf_counter()
    options = _options(solver, time_limit, rel_gap)
    try:
        # Statuses are checked below (cvxpy's "may be inaccurate" warning is off: optimization.solvers).
        problem.solve(**options)
    except cp.error.SolverError as exc:
        scip_status = (getattr(options["solver"], "last", None) or {}).get("status")
        if scip_status == "timelimit":
            raise SolverLimitError(what, scip_status, "no feasible placement found within the time limit: "
                                                      "raise the time limit or use the heuristic") from None
        raise SolverError(what, scip_status or "solver_error",
                          f"{solver} failed ({exc}); try the other solver (HIGHS/SCIP)") from None
    seconds = time.perf_counter() - started
    status = problem.status
    extra = problem.solver_stats.extra_stats if problem.solver_stats is not None else None
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, cvxpy_settings.INFEASIBLE_OR_UNBOUNDED):
        raise InfeasibleError(what, status, "no placement satisfies the constraints: check budget, collateral cap "
                                            "and targets in the scenario")
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise UnboundedError(what, status, "some capacity is missing or infinite")
    if solver == "HIGHS":
        solver_status = status
        has_incumbent = status in cvxpy_settings.SOLUTION_PRESENT and extra is not None and extra.primal_solution_status == 2
        bound = float(extra.mip_dual_bound) if extra is not None else -math.inf
        proven = status == cp.OPTIMAL
        if status == cp.USER_LIMIT:
            outcome = "time_limit"
        elif status == cp.OPTIMAL:
            outcome = "optimal"
        else:
            raise SolverError(what, str(status), "HiGHS failed: try SCIP, or rescale the data")
    else:
        scip = extra or {}
        solver_status = scip.get("status", str(status))
        has_incumbent = scip.get("solutions", 0) > 0
        bound = float(scip["dual_bound"]) + scip.get("offset", 0.0) if "dual_bound" in scip else -math.inf
        # "gaplimit" means SCIP proved the gap below the limit we set, as HiGHS's optimal does.
        proven = solver_status in ("optimal", "gaplimit")
        if proven:
            outcome = "optimal"
        elif solver_status == "timelimit":
            outcome = "time_limit"
        elif status in (cp.OPTIMAL_INACCURATE, cp.USER_LIMIT):
            outcome = "inaccurate"
        else:
            raise SolverError(what, str(solver_status), "SCIP failed: try HiGHS, or rescale the data")
    if not has_incumbent:
        if outcome == "time_limit":
            raise SolverLimitError(what, str(solver_status), "no feasible placement found within the time limit: "
                                                              "raise the time limit or use the heuristic")
        raise SolverError(what, str(solver_status), "the solver returned no solution: try the other solver")
    objective = float(problem.value) if problem.value is not None else math.nan
    if math.isnan(bound):
        bound = -math.inf
    return MilpOutcome(status=outcome, proven=proven, has_incumbent=True, objective=objective, bound=bound,
                       seconds=seconds, solver=solver, solver_status=str(solver_status))
