"""Solver selection, limits and status checks shared by every model."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings

import cvxpy as cp
import cvxpy.settings as cvxpy_settings
import highspy
import numpy as np
import scipy.sparse as sp
from cvxpy.lin_ops import lin_utils
from cvxpy.utilities import scopes as cvxpy_scopes
from cvxpy.reductions.solvers.conic_solvers.conic_solver import dims_to_solver_dict
from cvxpy.reductions.solvers.conic_solvers.highs_conif import HIGHS as _CvxpyHighs
from cvxpy.reductions.solvers.conic_solvers.highs_conif import unpack_highs_options_inplace
from cvxpy.reductions.solvers.conic_solvers.scip_conif import SCIP as _CvxpyScip

from optimization.errors import (InaccurateError, InfeasibleError, ModelError, SolverError, SolverLimitError,
                                 UnboundedError)

__all__ = ["SOLVERS", "solver_options", "lp_solver_options", "require_optimal", "raise_for_status", "require_dpp",
           "solve_checked", "ScipKeepingStatus", "HIGHS_MILP", "single_variable_rows_as_bounds"]

SOLVERS = ("HIGHS", "SCIP")


def _silence_highs_banner() -> None:
    """HiGHS prints a licence banner to fd 1 when its first instance is made, before any
    option can switch output off; commands that print JSON on stdout cannot have it."""
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


#: Held while cvxpy draws an id (:func:`_thread_safe_cvxpy_ids`).
CVXPY_ID_LOCK = threading.Lock()


def _thread_safe_cvxpy_ids() -> None:
    """cvxpy numbers every variable, parameter, constraint and atom from one global counter
    read and then incremented; two threads building models at once could draw the same id,
    and cvxpy would then mix their columns. The pipeline analyses its scenario partitions in
    threads (HiGHS releases the GIL while it solves), so the counter is drawn under a lock.
    (CPython 3.11 happens not to switch threads between the read and the increment; the lock
    does not rely on that.)"""
    counter = lin_utils.ID_COUNTER

    def get_id() -> int:
        with CVXPY_ID_LOCK:
            new_id = counter.count
            counter.count += 1
        return new_id

    lin_utils.get_id = get_id


_thread_safe_cvxpy_ids()

#: The DPP-analysis flag of the thread that reads it (:func:`_thread_local_dpp_scope`).
_DPP_SCOPE = threading.local()


def _thread_local_dpp_scope() -> None:
    """cvxpy keeps "inside a DPP analysis" (``cvxpy.utilities.scopes``) in one module-level
    flag, under which parameters count as affine rather than constant. While one thread
    checks DPP or canonicalises a problem, another thread building ``parameter * variable``
    would read the flag as set and fail with "Product of two non-constant expressions is
    not DCP" (seen in a run's recruitment step). The flag becomes one per thread; every
    cvxpy module reads it through ``scopes.dpp_scope_active()`` and sets it through
    ``scopes.dpp_scope()``, so replacing both is enough."""

    @contextlib.contextmanager
    def dpp_scope():
        previous = getattr(_DPP_SCOPE, "active", False)
        _DPP_SCOPE.active = True
        try:
            yield
        finally:
            _DPP_SCOPE.active = previous

    def dpp_scope_active() -> bool:
        return getattr(_DPP_SCOPE, "active", False)

    cvxpy_scopes.dpp_scope = dpp_scope
    cvxpy_scopes.dpp_scope_active = dpp_scope_active


_thread_local_dpp_scope()
# cvxpy's generic "Solution may be inaccurate" warning adds nothing: every status is checked
# (require_optimal, solve_milp). Set once for the process rather than per solve, because
# warnings.catch_warnings is not thread-safe.
warnings.filterwarnings("ignore", message="Solution may be inaccurate")


class ScipKeepingStatus(_CvxpyScip):
    """cvxpy's SCIP interface, keeping SCIP's status, dual bound and solution count.

    cvxpy raises its own ``SolverError`` when SCIP stops without a solution (e.g. on a
    time limit) and maps ``timelimit`` to ``optimal_inaccurate``; the kept status lets
    callers say which limit stopped the solve.
    """

    def name(self) -> str:
        return "SCIP_KEEPING_BOUND"

    last: dict | None = None

    def _solve(self, model, variables, constraints, data, dims):
        solution = super()._solve(model, variables, constraints, data, dims)
        solution["scip"] = self.last = {"status": model.getStatus(), "dual_bound": model.getDualbound(),
                                        "primal_bound": model.getPrimalbound(),
                                        "solutions": max(model.getNSols(), model.getNCountedSols())}
        return solution

    def invert(self, solution, inverse_data):
        result = super().invert(solution, inverse_data)
        result.attr[cvxpy_settings.EXTRA_STATS] = {**solution["scip"], "offset": float(inverse_data[cvxpy_settings.OFFSET])}
        return result


def single_variable_rows_as_bounds(matrix: sp.spmatrix, row_lower: np.ndarray, row_upper: np.ndarray,
                                   col_lower: np.ndarray, col_upper: np.ndarray):
    """The rows ``row_lower <= A x <= row_upper`` of one variable each, moved into that
    variable's bounds.

    Returns ``(A', row_lower', row_upper', col_lower', col_upper')`` with only the rows of
    two or more variables (an empty row stays a row: it may be infeasible). A bound is the
    tightest of the variable's own bound and each of its one-variable rows divided by the
    row's coefficient (a negative coefficient swaps the sides).

    Notes
    -----
    O(nnz(A) + m + n) for m rows and n columns. cvxpy states ``x >= 0`` and ``x <= u`` as
    such rows; a MILP solver's presolve would remove them again, at a cost that grows
    with the rows (``docs/design.md#42-interdiction-milp``).
    """
    rows = sp.csr_matrix(matrix)
    count = np.diff(rows.indptr)
    single = np.flatnonzero(count == 1)
    column = rows.indices[rows.indptr[single]]
    coefficient = rows.data[rows.indptr[single]]
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = row_lower[single] / coefficient, row_upper[single] / coefficient
    negative = coefficient < 0
    low, high = np.where(negative, high, low), np.where(negative, low, high)
    col_lower, col_upper = np.array(col_lower, dtype=np.float64), np.array(col_upper, dtype=np.float64)
    np.maximum.at(col_lower, column, low)
    np.minimum.at(col_upper, column, high)
    keep = np.flatnonzero(count != 1)
    return rows[keep], row_lower[keep], row_upper[keep], col_lower, col_upper


class _HighsMilpBounds(_CvxpyHighs):
    """cvxpy's HiGHS interface for MILPs, with cvxpy's one-variable rows (``x >= 0``,
    ``z <= 1``, ``alpha <= bound``) passed as column bounds
    (:func:`single_variable_rows_as_bounds`).

    On the interdiction MILPs of a real-data run about half of the rows are such rows;
    HiGHS's presolve took most of a small MILP's time removing them. An LP keeps cvxpy's own
    path: its row duals must map back to every constraint. Stateless, so one instance
    serves every thread and cvxpy's compiled problem is reused across solves.
    """

    def name(self) -> str:
        return "HIGHS_MILP_BOUNDS"

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        if not (data[cvxpy_settings.BOOL_IDX] or data[cvxpy_settings.INT_IDX]):
            return super().solve_via_data(data, warm_start, verbose, solver_opts, solver_cache)
        dims = dims_to_solver_dict(data[cvxpy_settings.DIMS])
        equalities = dims[cvxpy_settings.EQ_DIM]
        upper = np.asarray(data[cvxpy_settings.B], dtype=np.float64)
        lower = np.concatenate([upper[:equalities], np.full(upper.size - equalities, -highspy.kHighsInf)])
        columns = data[cvxpy_settings.A].shape[1]
        col_lower = np.full(columns, -highspy.kHighsInf)
        col_upper = np.full(columns, highspy.kHighsInf)
        integral = np.array(data[cvxpy_settings.BOOL_IDX] + data[cvxpy_settings.INT_IDX], dtype=np.int64)
        booleans = np.array(data[cvxpy_settings.BOOL_IDX], dtype=np.int64)
        col_lower[booleans], col_upper[booleans] = 0.0, 1.0
        matrix, lower, upper, col_lower, col_upper = single_variable_rows_as_bounds(
            data[cvxpy_settings.A], lower, upper, col_lower, col_upper)
        matrix = matrix.tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = columns, matrix.shape[0]
        lp.offset_ = 0
        lp.col_cost_ = np.asarray(data[cvxpy_settings.C], dtype=np.float64)
        lp.col_lower_, lp.col_upper_ = col_lower, col_upper
        lp.row_lower_, lp.row_upper_ = lower, upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
        kinds = [highspy.HighsVarType.kContinuous] * columns
        for index in integral:
            kinds[index] = highspy.HighsVarType.kInteger
        lp.integrality_ = kinds
        solver = highspy.Highs()
        opts = dict(solver_opts)
        unpack_highs_options_inplace(opts)
        solver.setOptionValue("log_to_console", verbose)
        for name, value in opts.items():
            if solver.setOptionValue(name, value) == highspy.HighsStatus.kError:
                raise ValueError(f"HiGHS refused option {name}={value!r}")
        solver.passModel(lp)
        try:
            solver.run()
            return {"solution": solver.getSolution(), "basis": solver.getBasis(), "info": solver.getInfo(),
                    "model_status": solver.getModelStatus().name, "run_time": solver.getRunTime()}
        except ValueError as exc:
            raise cp.error.SolverError(exc) from None


#: The solver argument for a HiGHS MILP (:class:`_HighsMilpBounds`; one instance, so that
#: cvxpy keeps a problem's compiled form between solves).
HIGHS_MILP = _HighsMilpBounds()


def solver_options(solver: str, time_limit: float) -> dict:
    """Keyword arguments for ``Problem.solve`` with a wall-clock limit in seconds."""
    solver = solver.upper()
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if not time_limit > 0:
        raise ValueError("time_limit must be positive seconds")
    if solver == "HIGHS":
        return {"solver": cp.HIGHS, "time_limit": float(time_limit), "output_flag": False, "log_to_console": False}
    return {"solver": ScipKeepingStatus(), "scip_params": {"limits/time": float(time_limit)}}


def lp_solver_options(solver: str, time_limit: float) -> dict:
    """:func:`solver_options` for an LP built with parameters and re-solved through cvxpy
    (the capability LP with SCIP, and as the cvxpy reference of its HiGHS arrays)."""
    options = solver_options(solver, time_limit)
    # cvxpy's SciPy backend canonicalises the capability LP (one matrix product per
    # constraint block, parameters only in vectors) about 7 times faster than its default
    # C++ backend (0.035 s against 0.25 s on the firm-level network); the canonical problem is the same.
    options["canon_backend"] = cp.SCIPY_CANON_BACKEND
    return options


def require_dpp(problem: cp.Problem, what: str) -> cp.Problem:
    """Return ``problem`` if it is DPP, else raise.

    A DPP problem is canonicalised once; re-solving it with new parameter values only
    re-applies them. A model meant to be re-solved that is not DPP would be canonicalised
    on every solve, silently slow, so this is checked when the model is built.

    Raises
    ------
    ModelError
        If ``problem`` is not DPP.
    """
    if not problem.is_dpp():
        raise ModelError(what, "not DPP: a parameter enters the model non-affinely, so every re-solve would "
                               "canonicalise it again")
    return problem


def require_optimal(problem: cp.Problem, what: str) -> None:
    """Raise the typed error matching ``problem.status`` unless it is ``optimal``."""
    raise_for_status(problem.status, what)


def raise_for_status(status: str, what: str) -> None:
    """Raise the typed error matching a cvxpy status string unless it is ``optimal``
    (models solved without cvxpy map their solver's status to cvxpy's first)."""
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


#: How cvxpy says that the solver returned no solution with a status it does not know.
_NO_SOLUTION = "Cannot unpack invalid solution"


def _solved(problem: cp.Problem, options: dict) -> bool:
    """``problem.solve(**options)``; False when the solver returned no solution and a status
    cvxpy does not know (any other error propagates)."""
    try:
        problem.solve(**options)
    except ValueError as exc:
        if not str(exc).startswith(_NO_SOLUTION):
            raise
        return False
    return True


def solve_checked(problem: cp.Problem, options: dict, what: str) -> None:
    """Solve with :func:`solver_options` keywords; anything but a proven optimum raises.

    cvxpy's own ``SolverError`` (SCIP stopped without any solution) becomes
    :class:`~optimization.errors.SolverLimitError` when SCIP reports a limit, otherwise
    :class:`~optimization.errors.SolverError`; statuses go through :func:`require_optimal`.
    A re-solve that HiGHS ends with no solution and status unknown from the warm start
    cvxpy gives it (the previous solve's point) is solved once more from scratch; a cold
    solve that ends so raises :class:`~optimization.errors.SolverError`.
    """
    try:
        if not _solved(problem, options) and not _solved(problem, {**options, "warm_start": False}):
            raise SolverError(what, "unknown", "the solver stopped without a solution or a status, also "
                                               "from a cold start: try the other solver (HIGHS/SCIP)")
    except cp.error.SolverError as exc:
        scip_status = (getattr(options["solver"], "last", None) or {}).get("status")
        if scip_status in ("timelimit", "nodelimit", "memlimit", "gaplimit", "userinterrupt"):
            raise SolverLimitError(what, scip_status, "the solver stopped at a limit before any solution: "
                                                      "raise the time limit") from None
        raise SolverError(what, scip_status or "solver_error",
                          f"the solver failed ({exc}): try the other solver (HIGHS/SCIP)") from None
    require_optimal(problem, what)
