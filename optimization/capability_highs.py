"""The capability LP handed to HiGHS as arrays, one kept instance per objective.

A run re-solves the capability LP (``docs/design.md#41-capability-lp``) thousands of
times: per actor, per placement, per scenario. Each solve changes only upper bounds (which
routes are open, whose headroom applies) and, between actors, the objective. Through
cvxpy, a solve re-applies every parameter to the whole canonical problem, inverts the
solution back and maps the duals: about 5 ms of Python per hot-started solve around
2.5 ms of HiGHS, and ≈ 40 ms for the first solve of each actor (canonicalisation and a
simplex run from a crash basis). Here the LP is written once in HiGHS's own form:

* columns: production ``y`` (N) then flow ``f`` (E), lower bounds 0, upper bounds the
  node capacities (``inf`` where none) and the route bounds times openness;
* rows: ``Σ_{e out of v} f_e − y_v ≤ 0`` (N rows, *ship no more than is made*) and
  ``Σ_{e into v carrying k} f_e − a[v,k] y_v ≥ 0`` (R rows, the AND over input types);
* objective: maximise ``w · y``.

One HiGHS instance is kept per objective vector (the :data:`POOL_SIZE` most recently used);
the next solve of that objective changes only the column bounds that differ and runs the
dual simplex from the optimal basis it kept (a few pivots: median 7.5 on the real data's
long run). A new objective starts from the optimal basis of the most recently used
instance, which stays primal feasible when only the objective changes, with the primal
simplex (tens of pivots instead of hundreds from scratch).

Duals. Every bound is 0 except the columns' upper bounds, so the dual objective is
``Σ_j u_j d_j`` over the columns' upper-bound duals ``d_j``: HiGHS reports a maximisation's
reduced cost of a column at its upper bound as ≥ 0 (at its lower bound, ≤ 0), so ``d_j =
max(reduced cost, 0)``. A fixed column (a closed route, ``0 ≤ f_e ≤ 0``) takes the sign
HiGHS gives it; its bound is 0 either way. The caller certifies each optimum with them
(:class:`optimization.capability.CapabilityModel`: duality gap and residuals).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from cvxpy.reductions.solvers.qp_solvers.highs_qpif import HIGHS as _CvxpyHighs

from optimization.solvers import raise_for_status

__all__ = ["HighsCapabilityLp", "HighsSolution", "POOL_SIZE"]

#: HiGHS instances kept per model, one per objective vector, least recently used dropped.
#: The analyses solve one LP per actor and placement; a run has a few dozen actors.
POOL_SIZE = 48

#: HiGHS's ``simplex_strategy`` values: dual simplex for a kept basis after bound changes
#: (it stays dual feasible), primal for a new objective on another objective's basis (it
#: stays primal feasible).
DUAL_SIMPLEX, PRIMAL_SIMPLEX = 1, 4

#: HiGHS's default ``dual_feasibility_tolerance``.
DUAL_TOLERANCE = 1e-7


@dataclass(frozen=True)
class HighsSolution:
    """One proven optimum of the capability LP.

    ``production_dual`` and ``route_dual``: the duals of the columns' upper bounds (node
    capacity, route bound times openness), ≥ 0; ``iterations``: simplex pivots of the run.
    """

    value: float
    production: np.ndarray
    flow: np.ndarray
    production_dual: np.ndarray
    route_dual: np.ndarray
    iterations: int


class HighsCapabilityLp:
    """The capability LP of one network's structure as a HiGHS model, re-solved with new
    objectives and upper bounds.

    Parameters
    ----------
    out_matrix : sparse (N, E)
        ``[v, e]`` = 1 when route ``e`` leaves node ``v``.
    in_matrix : sparse (R, E)
        ``[i, e]`` = 1 when route ``e`` delivers requirement ``i``'s input to its node.
    need_matrix : sparse (R, N)
        ``[i, v]`` = ``a[v, k]`` for requirement ``i`` of node ``v`` on input ``k``.
    time_limit : float
        Seconds per solve.

    Notes
    -----
    A hot solve costs the simplex pivots from the kept basis plus O(N + E) to find the
    bounds that changed and to copy the solution back (N nodes, E routes); the first solve
    of an objective adds one model copy into HiGHS and a primal simplex from another
    objective's basis.
    """

    def __init__(self, out_matrix, in_matrix, need_matrix, *, time_limit: float, pool_size: int = POOL_SIZE):
        if not time_limit > 0:
            raise ValueError("time_limit must be positive seconds")
        n, e = out_matrix.shape
        r = in_matrix.shape[0]
        if in_matrix.shape != (r, e) or need_matrix.shape != (r, n):
            raise ValueError("out_matrix (N, E), in_matrix (R, E) and need_matrix (R, N) must agree")
        self.num_nodes, self.num_routes = n, e
        self.time_limit = float(time_limit)
        self.pool_size = int(pool_size)
        matrix = sp.vstack([sp.hstack([-sp.identity(n), out_matrix]),
                            sp.hstack([-need_matrix, in_matrix])]).tocsc()
        matrix.sort_indices()
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n + e, n + r
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.offset_ = 0
        lp.col_cost_ = np.zeros(n + e)
        lp.col_lower_ = np.zeros(n + e)
        lp.col_upper_ = np.full(n + e, inf)
        lp.row_lower_ = np.concatenate([np.full(n, -inf), np.zeros(r)])
        lp.row_upper_ = np.concatenate([np.zeros(n), np.full(r, inf)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self._lp = lp
        #: objective bytes -> (HiGHS instance, the column upper bounds and reduced costs of its last solve)
        self.pool: OrderedDict[bytes, tuple[highspy.Highs, np.ndarray, np.ndarray]] = OrderedDict()

    def solve(self, weights: np.ndarray, node_upper: np.ndarray, route_upper: np.ndarray,
              what: str = "capability LP") -> HighsSolution:
        """Maximise ``weights · y`` with production at most ``node_upper`` (``inf``: none)
        and flow at most ``route_upper``.

        Raises
        ------
        SolverLimitError, SolverError
            As :func:`optimization.solvers.raise_for_status`, for any outcome but a proven
            optimum (the instance is then dropped: its basis would start the next solve).
        """
        weights = np.asarray(weights, dtype=np.float64)
        upper = np.concatenate([np.asarray(node_upper, dtype=np.float64), np.asarray(route_upper, dtype=np.float64)])
        if weights.shape != (self.num_nodes,) or upper.shape != (self.num_nodes + self.num_routes,):
            raise ValueError("weights (N,), node_upper (N,) and route_upper (E,) must match the model")
        key = weights.tobytes()
        kept = self.pool.pop(key, None)
        fresh = kept is None
        if fresh:
            solver = self._fresh(weights, upper)
        else:
            solver, last, last_dual = kept
            changed = np.flatnonzero(_differs(upper, last)).astype(np.int32)
            if changed.size:
                solver.changeColsBounds(changed.size, changed, np.zeros(changed.size),
                                        np.ascontiguousarray(upper[changed]))
                _keep_dual_feasible(solver, changed[last[changed] == 0], last_dual)
        # HiGHS's clock runs on over an instance's runs: the limit is its time so far plus this solve's.
        solver.setOptionValue("time_limit", solver.getRunTime() + self.time_limit)
        solver.run()
        if fresh:       # its first run may have been primal (_fresh); later ones start from a dual feasible basis
            solver.setOptionValue("simplex_strategy", DUAL_SIMPLEX)
        status = solver.getModelStatus().name
        if status != "kOptimal":
            raise_for_status(_CvxpyHighs.STATUS_MAP.get(status, "solver_error"), what)
        solution = solver.getSolution()
        columns = np.asarray(solution.col_value, dtype=np.float64)
        reduced = np.asarray(solution.col_dual, dtype=np.float64)
        self.pool[key] = (solver, upper, reduced)
        while len(self.pool) > self.pool_size:
            self.pool.popitem(last=False)
        duals = np.maximum(reduced, 0.0)
        n = self.num_nodes
        info = solver.getInfo()
        return HighsSolution(value=float(info.objective_function_value), production=columns[:n], flow=columns[n:],
                             production_dual=duals[:n], route_dual=duals[n:],
                             iterations=int(info.simplex_iteration_count))

    def _fresh(self, weights: np.ndarray, upper: np.ndarray) -> highspy.Highs:
        """A new instance for a new objective, started from the optimal basis of the most
        recently used one (none: HiGHS's own start, with presolve)."""
        solver = highspy.Highs()
        for name, value in (("output_flag", False), ("log_to_console", False)):
            solver.setOptionValue(name, value)
        self._lp.col_cost_ = np.concatenate([weights, np.zeros(self.num_routes)])
        self._lp.col_upper_ = upper
        solver.passModel(self._lp)
        if self.pool:
            sibling = next(reversed(self.pool.values()))[0]
            if solver.setBasis(sibling.getBasis()) != highspy.HighsStatus.kError:
                solver.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX)
        return solver


def _keep_dual_feasible(solver: highspy.Highs, unfixed: np.ndarray, reduced: np.ndarray) -> None:
    """Give the columns that were fixed at 0 and no longer are (a closed route reopened) the
    nonbasic bound their reduced cost calls for: upper where it is positive, lower otherwise.

    A fixed column is dual feasible at either bound, so HiGHS may have left it "at upper"
    with a negative reduced cost; once its upper bound is above 0 again that status is dual
    infeasible, and HiGHS's dual simplex then restarts from phase 1 — on the real data's long
    run about as many pivots as a solve from scratch (≈ 1,400 instead of a few)."""
    # A reduced cost within HiGHS's dual feasibility tolerance is feasible at either bound.
    unfixed = unfixed[np.abs(reduced[unfixed]) > DUAL_TOLERANCE]
    if not unfixed.size:
        return
    basis = solver.getBasis()
    status = basis.col_status
    moved = False
    for column in unfixed.tolist():
        current = status[column]
        if current == highspy.HighsBasisStatus.kBasic:
            continue
        wanted = highspy.HighsBasisStatus.kUpper if reduced[column] > 0 else highspy.HighsBasisStatus.kLower
        if current != wanted:
            status[column] = wanted
            moved = True
    if moved:
        basis.col_status = status
        solver.setBasis(basis)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entries whose bits differ (so -0.0 and NaN payloads count, as they would for HiGHS)."""
    return a.view(np.int64) != b.view(np.int64)
