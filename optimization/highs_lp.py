"""Re-solving one parametrised LP with HiGHS without rebuilding what did not change.

cvxpy re-solves a DPP problem without canonicalising it again, but every solve still
re-applies the parameters to the whole constraint matrix, slices it, and hands a fresh
HiGHS instance a model whose index arrays are copied into C++ element by element, and
HiGHS then starts its simplex from a crash basis. For the capability LP (a few thousand
rows, re-solved thousands of times per run, each solve a few routes away from an earlier
one of the same objective) that bookkeeping and the restart cost most of the time.

:class:`ReusingHighsLp` is cvxpy's own HiGHS QP interface with three steps changed per
canonicalised problem (:class:`~cvxpy.reductions.qp2quad_form.qp_matrix_stuffing.ParamQuadProg`),
when — and only when — no parameter enters the constraint matrix or the quadratic
term (parameters only in the objective vector and the right-hand sides, as in every
LP of this project):

* ``apply``: the constraint matrix and ``P`` are kept; the objective vector and the
  right-hand side are recomputed per solve as cvxpy computes them (the right-hand side
  as the same product over cvxpy's own reduced tensor, offset entries read out; the
  objective, when each of its entries is one coefficient times one parameter, as that
  product — which is what scipy's sparse product in cvxpy yields — else by cvxpy's own
  function);
* ``solve_via_data``: one HiGHS instance is kept per objective vector (the
  :data:`POOL_SIZE` most recently used); a solve with a known objective changes, in bulk,
  only the bounds that differ from that instance's last solve and runs HiGHS from the
  optimal basis it kept (a hot start: the capability LP of one actor under the next
  placement is a few dual-simplex pivots away — median 7.5 on the real data's long run);
  a new objective gets a fresh instance, solved from scratch;
* the model HiGHS gets is cvxpy's with its *bound rows* — inequalities with one non-zero,
  which is how cvxpy writes a ``nonneg`` attribute and ``x ≤ p`` — as column bounds, and
  cvxpy gets back a dual for every row: a kept row's own, a bound row's from the reduced
  cost of its column (:meth:`_CachedLp.row_duals`). On the capability LP nine rows in ten
  are bound rows; a hot start factorises a basis of the others only (11.4 → 6.5 ms per
  solve of the real data's long-run LP, 4,797 routes).

Status map and the inversion of the solution are cvxpy's code path. Every solve reaches
cvxpy's optimum, the first of each objective from scratch and the later ones from another
start, so at a degenerate optimum HiGHS may return another optimal primal–dual pair
(callers certify each result: the capability LP checks its duality gap and residuals). The
first :data:`CACHE_AFTER` solves of each problem go
through cvxpy's own ``apply``; then the cached computation is compared bit for bit with
cvxpy's ``apply_parameters`` at the current and at random parameter values, and any
difference (or a parameter in the matrix) keeps that problem on cvxpy's path for good.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import highspy
import numpy as np
import scipy.sparse as sp
import cvxpy.settings as s
from cvxpy.cvxcore.python import canonInterface
from cvxpy.error import SolverError
from cvxpy.lin_ops.lin_op import CONSTANT_ID
from cvxpy.reductions.solvers.qp_solvers.highs_qpif import HIGHS as _CvxpyHighsQp
from cvxpy.reductions.solvers.qp_solvers.highs_qpif import unpack_highs_options_inplace
from cvxpy.reductions.solvers.qp_solvers.qp_solver import QpSolver

__all__ = ["ReusingHighsLp", "REUSING_HIGHS_LP"]

#: A problem is cached at its this-many-th solve: the check against cvxpy costs about four
#: of its parameter applications, which a problem solved once or twice would not repay.
CACHE_AFTER = 3

#: Key of a solve's column bounds (from its bound rows) in cvxpy's data dict: computed once
#: per solve, passed to HiGHS, kept for the next solve's comparison and used for the duals.
COLUMN_BOUNDS = "column_bounds"

#: HiGHS instances kept per problem, one per objective vector, least recently used dropped.
#: The analyses solve one LP per actor and placement; a run has a few dozen actors.
POOL_SIZE = 48


def _same(a, b) -> bool:
    """Bit-identical arrays or sparse matrices (same structure, same stored values)."""
    if sp.issparse(a) or sp.issparse(b):
        if not (sp.issparse(a) and sp.issparse(b)) or a.shape != b.shape or a.format != b.format:
            return False
        return all(np.array_equal(getattr(a, k), getattr(b, k)) and getattr(a, k).dtype == getattr(b, k).dtype
                   for k in ("indptr", "indices", "data"))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


class _CachedLp:
    """What stays fixed between solves of one canonicalised LP, and how to redo the rest.

    Raises ``ValueError`` (caught by :class:`ReusingHighsLp`, which then keeps the
    problem on cvxpy's path) when a parameter enters the constraint matrix or the
    quadratic term, or the tensors are not laid out as expected.
    """

    def __init__(self, problem, data: dict):
        reduced = problem.reduced_A
        if reduced.problem_data_index is None or reduced.mapping_nonzero is not None:
            raise ValueError("no reduced tensor to reuse")
        indices, indptr, shape = reduced.problem_data_index
        n = problem.x.size
        if shape[1] != n + 1 or data[s.P].count_nonzero():
            raise ValueError("unexpected tensor shape or a quadratic objective")
        const_col = problem.param_id_to_col[CONSTANT_ID]
        matrix_entries = int(indptr[n])
        # The matrix entries must depend on the constant only: then the matrix is fixed.
        rows = sp.csr_array(reduced.reduced_mat)[:matrix_entries]
        if rows.nnz and not (rows.indices == const_col).all():
            raise ValueError("a parameter enters the constraint matrix")
        if problem.reduced_P.reduced_mat is not None and problem.reduced_P.problem_data_index is not None:
            p_rows = sp.csr_array(problem.reduced_P.reduced_mat)
            if p_rows.nnz and not (p_rows.indices == const_col).all():
                raise ValueError("a parameter enters the quadratic term")
        self.offset_rows = indices[matrix_entries:]
        if np.unique(self.offset_rows).size != self.offset_rows.size:
            raise ValueError("repeated offset entries")
        self.offset_slice = slice(matrix_entries, None)
        self.num_rows = shape[0]
        # The objective tensor, when every entry is one product of a coefficient and a
        # parameter (or the constant): then scipy's sparse product is that product.
        q_tensor = sp.csr_array(problem.q)
        self.q_single = bool((np.diff(q_tensor.indptr) <= 1).all())
        if self.q_single:
            self.q_rows = np.repeat(np.arange(q_tensor.shape[0]), np.diff(q_tensor.indptr))
            self.q_cols, self.q_coef = q_tensor.indices, q_tensor.data
        self.fixed = {key: data[key] for key in (s.P, s.A, s.F)}
        self.len_eq = data["n_eq"]
        self.model: highspy.HighsModel | None = None
        #: objective bytes -> (HiGHS instance, the bounds of its last solve: :meth:`last_bounds`)
        self.pool: OrderedDict[bytes, tuple[highspy.Highs, tuple[np.ndarray, np.ndarray]]] = OrderedDict()

    def _objective(self, problem, param_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``q`` and the offset ``d`` as ``canonInterface.get_matrix_from_tensor`` computes
        them: a sparse product in which an entry is the sum, from 0, of its non-zero terms
        (zero parameters dropped, zero results stored as +0)."""
        if not self.q_single:
            q, d = canonInterface.get_matrix_from_tensor(problem.q, param_vec, problem.x.size, with_offset=True)
            return q.toarray().flatten(), d
        terms = self.q_coef * param_vec[self.q_cols]
        kept = param_vec[self.q_cols] != 0
        flat = np.zeros(problem.x.size + 1)
        flat[self.q_rows[kept]] = 0.0 + terms[kept]
        return flat[:-1].copy(), np.squeeze(flat[-1:].copy())

    def vectors(self, problem, param_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``q``, ``d`` and ``bg`` of ``ParamQuadProg.apply_parameters`` for ``param_vec``."""
        q, d = self._objective(problem, param_vec)
        # The offset of A x + b: the very product canonInterface.get_matrix_from_tensor
        # takes over the reduced tensor, offset entries read out.
        flat = problem.reduced_A.reduced_mat @ param_vec
        bg = np.zeros(self.num_rows)
        bg[self.offset_rows] = flat[self.offset_slice]
        return q, d, np.atleast_1d(np.squeeze(bg))

    def agrees(self, problem, draws: int = 3, seed: int = 0) -> bool:
        """Whether :meth:`vectors` and the fixed matrices reproduce cvxpy's
        ``apply_parameters`` bit for bit, at the current parameter values and at random
        ones (some exactly 0 or 1)."""
        rng = np.random.default_rng(seed)
        current = {k: np.array(p.value) for k, p in problem.id_to_param.items()}
        for draw in range(draws + 1):
            values = current if draw == 0 else {
                k: np.choose(rng.integers(0, 3, v.shape), [np.zeros(v.shape), np.ones(v.shape), rng.random(v.shape)])
                for k, v in current.items()}
            param_vec = canonInterface.get_parameter_vector(
                problem.total_param_size, problem.param_id_to_col, problem.param_id_to_size,
                lambda idx: values[idx])
            P, q, d, AF, bg = problem.apply_parameters(id_to_param_value=values)
            mine = self.vectors(problem, param_vec)
            if not (_same(q, mine[0]) and _same(d, mine[1]) and _same(bg, mine[2])):
                return False
            if not (_same(sp.csc_array(-AF[self.len_eq:, :]), self.fixed[s.F])
                    and _same(sp.csc_array(P), self.fixed[s.P])):
                return False
        return True

    def fill(self, solver: QpSolver, problem) -> tuple[dict, dict]:
        """The data and inverse data of ``QpSolver.apply`` for the current parameter values."""
        problem, data, inv_data = solver._prepare_data_and_inv_data(problem)
        param_vec = canonInterface.get_parameter_vector(
            problem.total_param_size, problem.param_id_to_col, problem.param_id_to_size,
            lambda idx: np.array(problem.id_to_param[idx].value))
        q, d, bg = self.vectors(problem, param_vec)
        inv_data[s.OFFSET] = d
        # As QpSolver.apply.
        b = -bg[:self.len_eq] if self.len_eq > 0 else -np.array([])
        g = bg[self.len_eq:] if self.fixed[s.F].shape[0] > 0 else -np.array([])
        data[s.P], data[s.Q], data[s.A], data[s.B] = self.fixed[s.P], q, self.fixed[s.A], b
        data[s.F], data[s.G] = self.fixed[s.F], g
        data[s.BOOL_IDX] = [t[0] for t in problem.x.boolean_idx]
        data[s.INT_IDX] = [t[0] for t in problem.x.integer_idx]
        data[s.LOWER_BOUNDS] = problem.lower_bounds
        data[s.UPPER_BOUNDS] = problem.upper_bounds
        data["n_var"] = problem.x.size
        data["n_eq"] = self.fixed[s.A].shape[0]
        data["n_ineq"] = self.fixed[s.F].shape[0]
        return data, inv_data

    def _split_bound_rows(self, ax: sp.csc_matrix) -> None:
        """Sort the rows of ``[A; F]`` into bound rows — inequalities with one non-zero, ``a x_j
        ≤ g``, which is how cvxpy writes a variable's ``nonneg`` attribute and ``x ≤ p`` — and
        the rows HiGHS keeps. A bound row becomes a bound of its column (``x_j ≤ g/a`` for
        ``a > 0``, ``x_j ≥ g/a`` for ``a < 0``), so the simplex factorises a basis of the
        kept rows only: on the capability LP a tenth of the rows."""
        rows = ax.tocsr()
        counts = np.diff(rows.indptr)
        first = rows.indptr[:-1]
        single = (counts == 1) & (np.arange(rows.shape[0]) >= self.len_eq)
        coef = np.zeros(rows.shape[0])
        coef[single] = rows.data[first[single]]
        single &= coef != 0
        self.bound_rows = np.flatnonzero(single)
        self.bound_col = rows.indices[first[single]]
        self.bound_coef = coef[single]
        self.kept_rows = np.flatnonzero(~single)
        self.kept_ax = rows[self.kept_rows].tocsc()

    def column_bounds(self, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column bounds implied by the bound rows under the row upper bounds ``upper``."""
        inf = highspy.kHighsInf
        lower_col = np.full(self.ax.shape[1], -inf)
        upper_col = np.full(self.ax.shape[1], inf)
        values = upper[self.bound_rows] / self.bound_coef
        above = self.bound_coef > 0
        np.minimum.at(upper_col, self.bound_col[above], values[above])
        np.maximum.at(lower_col, self.bound_col[~above], values[~above])
        return lower_col, upper_col

    def row_duals(self, kept_dual, column_dual, upper: np.ndarray,
                  columns: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The duals of every row of ``[A; F]``, as HiGHS would report them with the bound
        rows kept as rows: a kept row's own, and for a column at a bound its reduced cost
        divided by the coefficient of the bound row that sets that bound (negative reduced
        cost: the upper bound; positive: the lower; the first such row where several set the
        same bound), 0 for the other bound rows. With the bound row in the basis instead of
        the column bound, the column is basic (reduced cost 0), which is what that dual makes.
        ``columns``: :meth:`column_bounds` of ``upper``, as the solve passed them."""
        duals = np.zeros(self.num_rows_total)
        duals[self.kept_rows] = kept_dual
        reduced = np.asarray(column_dual, dtype=np.float64)[self.bound_col]
        lower_col, upper_col = columns
        values = upper[self.bound_rows] / self.bound_coef
        above = self.bound_coef > 0
        sets = np.where(above, (reduced < 0) & (values == upper_col[self.bound_col]),
                        (reduced > 0) & (values == lower_col[self.bound_col]))
        candidates = np.flatnonzero(sets)
        side_of = self.bound_col[candidates] * 2 + above[candidates]
        _, first = np.unique(side_of, return_index=True)
        chosen = candidates[first]
        duals[self.bound_rows[chosen]] = reduced[chosen] / self.bound_coef[chosen]
        return duals

    def pass_model(self, solver: highspy.Highs, data: dict) -> None:
        """Give a fresh ``solver`` the model of the current solve: cvxpy's, with its bound
        rows as column bounds (:meth:`_split_bound_rows`). The HiGHS model is built once;
        later instances get it and change, in bulk, the costs and bounds that differ from it."""
        cost, lower, upper = self._costs_and_bounds(data)
        if self.model is None:
            ax = sp.vstack([data[s.A], data[s.F]]).tocsc()
            self.ax, self.num_rows_total = ax, ax.shape[0]
            self._split_bound_rows(ax)
            columns = self.column_bounds(upper)
            kept = self.kept_ax
            model = highspy.HighsModel()
            lp = model.lp_
            lp.num_col_ = kept.shape[1]
            lp.num_row_ = kept.shape[0]
            lp.offset_ = 0
            lp.col_cost_ = cost
            lp.row_lower_ = np.ascontiguousarray(lower[self.kept_rows])
            lp.row_upper_ = np.ascontiguousarray(upper[self.kept_rows])
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.start_ = kept.indptr
            lp.a_matrix_.index_ = kept.indices
            lp.a_matrix_.value_ = kept.data
            lp.col_lower_, lp.col_upper_ = columns
            self.model = model
            self.cost, self.bounds = cost.copy(), (lower.copy(), upper.copy(), columns)
            solver.passModel(model)
        else:
            columns = self.column_bounds(upper)
            solver.passModel(self.model)
            cols = np.flatnonzero(_differs(cost, self.cost)).astype(np.int32)
            if cols.size:
                solver.changeColsCost(cols.size, cols, np.ascontiguousarray(cost[cols]))
            self._change_bounds(solver, self.bounds, (lower, upper, columns))
        data["Ax"], data["u"], data["l"], data[COLUMN_BOUNDS] = self.ax, upper, lower, columns

    def rebound(self, solver: highspy.Highs, data: dict, last: tuple) -> None:
        """Move a kept ``solver`` (same objective) from its ``last`` bounds (row lower and
        upper bounds, column bounds) to this solve's, changing only the rows and columns that
        differ."""
        _, lower, upper = self._costs_and_bounds(data)
        columns = self.column_bounds(upper)
        self._change_bounds(solver, last, (lower, upper, columns))
        data["Ax"], data["u"], data["l"], data[COLUMN_BOUNDS] = self.ax, upper, lower, columns

    def last_bounds(self, data: dict) -> tuple:
        """This solve's bounds, as :meth:`rebound` takes them for the next solve."""
        return data["l"].copy(), data["u"].copy(), data[COLUMN_BOUNDS]

    @staticmethod
    def _costs_and_bounds(data: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inf = highspy.kHighsInf
        upper = np.concatenate((data[s.B], data[s.G]))
        lower = np.concatenate([data[s.B], -inf * np.ones(data[s.G].shape)])
        return data[s.Q], lower, upper

    def _change_bounds(self, solver: highspy.Highs, old: tuple, new: tuple) -> None:
        """Change the kept rows' bounds and the column bounds that differ between ``old`` and
        ``new`` (each: row lower bounds, row upper bounds, column bounds)."""
        (old_lower, old_upper, (old_low, old_up)), (lower, upper, (low, up)) = old, new
        kept = self.kept_rows
        rows = np.flatnonzero(_differs(lower[kept], old_lower[kept]) | _differs(upper[kept], old_upper[kept]))
        if rows.size:
            solver.changeRowsBounds(rows.size, rows.astype(np.int32), np.ascontiguousarray(lower[kept][rows]),
                                    np.ascontiguousarray(upper[kept][rows]))
        cols = np.flatnonzero(_differs(low, old_low) | _differs(up, old_up)).astype(np.int32)
        if cols.size:
            solver.changeColsBounds(cols.size, cols, np.ascontiguousarray(low[cols]), np.ascontiguousarray(up[cols]))


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entries whose bits differ (so -0.0 and NaN payloads count, as they would for HiGHS)."""
    return a.view(np.int64) != b.view(np.int64)


class ReusingHighsLp(_CvxpyHighsQp):
    """cvxpy's HiGHS QP interface, reusing the fixed parts of an LP between its solves.

    Use one instance for every solve of a problem (a new instance is a new solver to
    cvxpy, which then canonicalises the problem again): :data:`REUSING_HIGHS_LP`.
    """

    def __init__(self):
        super().__init__()
        # One entry per canonicalised problem; False: keep it on cvxpy's path.
        self._cached: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Solves through cvxpy's path so far, of problems not yet cached.
        self._solves: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def name(self) -> str:
        return "HIGHS_REUSING_LP"

    def apply(self, problem):
        cached = self._cached.get(problem)
        if cached:
            return cached.fill(self, problem)
        data, inv_data = super().apply(problem)
        if cached is None:
            seen = self._solves[problem] = self._solves.get(problem, 0) + 1
            if seen >= CACHE_AFTER:
                # Cache only what reproduces cvxpy bit for bit.
                try:
                    candidate = _CachedLp(problem, data)
                    agrees = candidate.agrees(problem)
                except (ValueError, KeyError, AttributeError, TypeError, IndexError):
                    agrees = False
                self._cached[problem] = candidate if agrees else False
        return data, inv_data

    def solve_via_data(self, data, warm_start: bool, verbose: bool, solver_opts, solver_cache=None):
        """cvxpy's ``HIGHS.solve_via_data``, on the kept HiGHS instance of this objective
        (see the module docstring) once the problem is cached."""
        cached = self._cached.get(data[s.PARAM_PROB])
        if not cached:
            return super().solve_via_data(data, warm_start, verbose, solver_opts, solver_cache)
        unpack_highs_options_inplace(solver_opts)
        options = {"log_to_console": verbose, **solver_opts}
        key = data[s.Q].tobytes()
        kept = cached.pool.pop(key, None)
        if kept is None:
            solver = highspy.Highs()
            _set_options(solver, options)
            cached.pass_model(solver, data)
        else:
            solver, last = kept
            # HiGHS's clock runs on over an instance's runs: the limit is its time so far plus this solve's.
            if "time_limit" in options:
                options["time_limit"] = solver.getRunTime() + float(options["time_limit"])
            _set_options(solver, options)
            cached.rebound(solver, data, last)
        cached.pool[key] = (solver, cached.last_bounds(data))
        while len(cached.pool) > POOL_SIZE:
            cached.pool.popitem(last=False)
        try:
            solver.run()
            solution = solver.getSolution()
            if solution.dual_valid:
                # cvxpy reads a dual per row of [A; F]: the bound rows' from the reduced costs.
                solution.row_dual = cached.row_duals(solution.row_dual, solution.col_dual, data["u"],
                                                     data[COLUMN_BOUNDS])
            results = {
                "solution": solution,
                "basis": solver.getBasis(),
                "info": solver.getInfo(),
                "model_status": solver.getModelStatus().name,
                "run_time": solver.getRunTime(),
            }
        except ValueError as e:
            raise SolverError(e)
        if results["model_status"] not in ("kOptimal",):
            # An instance left after a failed solve would start the next one from there.
            cached.pool.pop(key, None)
        if solver_cache is not None:
            solver_cache[self.name()] = (solver, data, results)
        return results


def _set_options(solver: highspy.Highs, options: dict) -> None:
    for name, value in options.items():
        if solver.setOptionValue(name, value) == highspy.HighsStatus.kError:
            raise ValueError(f"HIGHS returned status kError for option (name, value): ({name}, {value})")


#: The shared instance (cvxpy keys its canonicalisation cache by the solver object).
REUSING_HIGHS_LP = ReusingHighsLp()
