"""Deter all: the cheapest placement under which every candidate defector is deterred.

A defector ``d`` is deterred when its margin ``p_d·V_d·L_d + B_d − G_d`` is ≥ 0
(``docs/design.md#53-deter-all``), i.e. when the placement removes at least the leverage
``L*_d = (G_d − B_d) / (p_d·V_d)`` (:func:`optimization.deterrence_margin.required_leverage`),
i.e. when its remaining capability share is at most ``s_d = 1 − L*_d``. The model is the
interdiction MILP of :mod:`optimization.interdiction` with one LP-dual block per
defector and a cost objective:

    minimise   cost·x
    s.t.       (dual objective of d) / C_d(0) ≤ s_d      for every defector d
               (dual feasibility of each block, route closures z ≤ closes·x)
               cost·x ≤ budget,  collateral·z ≤ cap,  x ∈ {0, 1}^P

Each dual objective bounds ``C_d(x)/C_d(0)`` from above at every dual-feasible point
and equals it at the dual optimum, so a placement satisfies the block constraint for
some duals iff its exact remaining share is at most ``s_d`` (weak and strong LP
duality; Wood 1993, doi:10.1016/0895-7177(93)90236-R). The chosen placement is
re-evaluated with the plain capability LP; a placement whose exact shares miss a
target beyond tolerance raises :class:`~optimization.errors.InaccurateError`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from optimization.capability import relative_loss
from optimization.errors import InaccurateError, InfeasibleError
from optimization.interdiction import InterdictionModel, within
from optimization.milp import solve_milp
from optimization.solvers import require_dpp

__all__ = ["DeterAllModel", "DeterAllResult", "SHARE_TOLERANCE", "EXHAUSTION_LIMIT", "CUT_LIMIT", "DeterVerifyModel",
           "DeterVerifyResult", "detection_with", "MARGIN_TOLERANCE", "SUBSET_LIMIT"]

#: Exact remaining shares may exceed their target by this much (solver feasibility tolerance).
SHARE_TOLERANCE = 1e-6
#: A margin term ``p(y)·L − need`` above −MARGIN_TOLERANCE counts as met (solver tolerance).
MARGIN_TOLERANCE = 1e-6
#: Default of ``DeterAllModel(exhaustion_limit=)``: capability LPs spent checking placements in
#: order of cost before the MILP is built instead (``bench/bench_enumeration.py``: the job's
#: deter-all MILP took as long as 38 of those LPs; exhaustion's 73 LPs took 1.6 times as long).
EXHAUSTION_LIMIT = 40
#: Placements (most of them cut by the collateral cap, without an LP) visited in order of cost
#: before the MILP decides instead: bounds the enumeration's own work.
_VISITED_LIMIT = 256
#: Default of ``DeterAllModel(cut_limit=)``: capability evaluations (memoised ones included, so
#: the count does not depend on what an earlier solve left in the memo) the covering-cut
#: search may spend before the MILP decides instead; also bounds its master solves
#: (``bench/bench_exact_paths.py``; the job's searches took at most 37 evaluations and 4 masters).
CUT_LIMIT = 400
#: Catalogues with more controls that fit on their own go straight to the MILP: the master's
#: cut matrix is a cvxpy parameter of (cuts × controls) entries, whose compilation grows with
#: it (on the broad scenario's 928-control catalogue the search took longer than the MILP).
_CUT_CONTROLS = 64
#: Rows of the covering master's cut matrix before it is rebuilt with twice as many.
_CUT_ROWS = 32
#: Default of ``DeterVerifyModel(subset_limit=)``: with at most this many mechanisms the joint
#: solve goes through mechanism subsets (each a deter-all solve) instead of its MILP.
SUBSET_LIMIT = 10


@dataclass(frozen=True)
class DeterAllResult:
    """Outcome of one deter-all solve.

    ``feasible`` is false when no placement within budget and collateral cap reaches
    every target (then ``chosen`` is empty and the capability fields are the baseline).
    ``proven`` is true only for a solver-proven minimum cost; ``cost_bound`` is the
    proven lower bound on the minimum cost (``inf`` when infeasibility is proven).
    """

    feasible: bool
    chosen: np.ndarray                 # control indices, ascending
    cost: float
    cost_bound: float
    proven: bool
    status: str                        # optimal | time_limit | infeasible
    required_share: np.ndarray         # per sink: largest remaining share that deters
    share_after: np.ndarray            # per sink: exact remaining share under the placement
    leverage: np.ndarray               # per sink: 1 − share_after (0 where C0 = 0)
    seconds: float
    solver_status: str


class DeterAllModel:
    """Minimum-cost placement reaching a remaining-share target for every sink.

    Parameters
    ----------
    model : InterdictionModel
        The joint interdiction model over the defectors' sinks (its catalogue, costs,
        collateral cap, solver and exact evaluation are reused).
    exhaustion_limit : int
        Capability LPs :meth:`solve` may spend checking placements in order of cost before it
        tries covering cuts (default :data:`EXHAUSTION_LIMIT`; 0: none).
    cut_limit : int
        Capability evaluations the covering-cut search (:meth:`solve`, Notes) may spend before
        the MILP decides instead (default :data:`CUT_LIMIT`; 0: none). With both limits 0
        every solve is the MILP.

    Notes
    -----
    First, one LP per sink: when every control that fits the budget and the cap on its own,
    placed together, leaves some sink above its target, no placement deters (every feasible
    placement is inside that one). Then three exact paths, cheapest first; each either proves
    its answer or hands over.

    1. :meth:`placements_by_cost`: the first placement found in order of cost that deters
       every sink is a cheapest one, within ``exhaustion_limit`` LPs.
    2. Covering cuts (an implicit hitting set: Karp 2010, doi:10.1007/978-3-642-13509-5_14).
       The placements that deter are closed upwards (closing more routes never raises a
       capability), so a placement ``F`` that leaves some sink above its target rules out
       every placement inside it: each deterring placement within budget and cap holds a
       control outside ``F``. A small master MILP (P binaries, budget, the collateral cap
       through one variable per route with collateral) finds the cheapest placement that meets
       every cut so far; when it deters it is optimal (the master is a relaxation), else
       it is grown, per failing sink, into a maximal failing placement (controls offered
       dearest first, in halving batches, while that sink stays above its target: O(k log n)
       LPs for n candidates of which k are left out) whose cut is added. Tried when at
       most 64 controls fit on their own, within ``cut_limit`` evaluations.
    3. The MILP, built once on first use: targets (one per active sink) and the budget are
       ``cp.Parameter``s (checked DPP). Size as the interdiction MILP: per sink N + R + E +
       E_c dual variables (N nodes, R requirements, E routes, E_c routes some control
       closes) plus P binaries.
    """

    def __init__(self, model: InterdictionModel, *, exhaustion_limit: int = EXHAUSTION_LIMIT,
                 cut_limit: int = CUT_LIMIT):
        self.model = model
        self.exhaustion_limit = _count("exhaustion_limit", exhaustion_limit)
        self.cut_limit = _count("cut_limit", cut_limit)
        self.active_index = np.flatnonzero(model.active)
        self._problem: cp.Problem | None = None
        self._master: _CoveringMaster | None = None

    @property
    def problem(self) -> cp.Problem:
        """The MILP, built on first use (a solve settled by exhaustion never needs it)."""
        if self._problem is None:
            model = self.model
            self.x = cp.Variable(model.num_controls, boolean=True, name="place")
            constraints, values = model.dual_blocks(self.x)
            if not np.array_equal(np.array(sorted(values), dtype=np.int64), self.active_index):
                raise RuntimeError("dual blocks and active sinks disagree")
            self.target = cp.Parameter(self.active_index.size, name="remaining_share_target")
            self.budget = cp.Parameter(nonneg=True, name="budget")
            constraints += [model.cost @ self.x <= self.budget]
            constraints += [values[int(i)] <= self.target[k] for k, i in enumerate(self.active_index)]
            self._problem = require_dpp(cp.Problem(cp.Minimize(model.cost @ self.x), constraints), "deter-all MILP")
        return self._problem

    def shares(self, chosen_mask: np.ndarray) -> np.ndarray:
        """Exact remaining capability share of every sink under a placement (0 where C0 = 0)."""
        _, results = self.model.evaluate(np.asarray(chosen_mask, dtype=bool))
        values = np.array([r.value for r in results])
        base = self.model.baseline
        return np.divide(values, base, out=np.zeros_like(values), where=base > 0)

    def reaches(self, chosen_mask: np.ndarray, required_share: np.ndarray) -> bool:
        """Whether a placement leaves every sink at most its required share (exactly)."""
        return bool((self.shares(chosen_mask) <= np.asarray(required_share) + SHARE_TOLERANCE).all())

    def solve(self, required_share, *, budget: float = math.inf, time_limit: float | None = None,
              solver: str | None = None) -> DeterAllResult:
        """Cheapest placement with every sink's remaining share ≤ its ``required_share``.

        Parameters
        ----------
        required_share : array (number of sinks,)
            ``1 − L*_d`` per sink, in [0, 1] (1: already deterred without controls).
        budget : float
            Upper limit on the placement's cost (``inf``: the whole catalogue may be used).
        time_limit : float, optional
            Seconds for the MILP (default: the interdiction model's).
        solver : {"HIGHS", "SCIP"}, optional

        Raises
        ------
        ValueError
            A required share outside [0, 1].
        InaccurateError
            The chosen placement misses a target when evaluated exactly.
        SolverError
            Other typed solver failures (:mod:`optimization.errors`).
        """
        started = time.perf_counter()
        model = self.model
        required = np.asarray(required_share, dtype=np.float64)
        if required.shape != model.sinks.shape or np.isnan(required).any() or (required < 0).any() \
                or (required > 1 + 1e-12).any():
            raise ValueError(f"required_share must hold one number in [0, 1] per sink ({model.sinks.size})")
        empty = np.zeros(model.num_controls, dtype=bool)
        budget = float(min(budget, model.cost.sum()))
        if self.reaches(empty, required):
            return self._result(empty, required, cost_bound=0.0, proven=True, status="optimal",
                                solver_status="no controls needed", started=started)
        if self.active_index.size == 0 or model.closable.size == 0:
            return self._infeasible(required, started, "no control closes a route")
        fits = self._fitting(budget)
        if not self.reaches(fits, required):
            # Every placement within budget and cap is inside this one, and closing routes
            # never raises a share: none deters (one LP per sink instead of a search).
            return self._infeasible(required, started, "every control that fits, together, leaves a sink above its "
                                                        "target")
        exhaustive = self._solve_by_exhaustion(required, budget, started)
        if exhaustive is not None:
            return exhaustive
        covered = self._solve_by_cuts(required, budget, fits, started, solver=solver or model.solver,
                                      time_limit=time_limit or model.time_limit)
        if covered is not None:
            return covered
        problem = self.problem
        self.target.value = required[self.active_index]
        self.budget.value = budget
        try:
            outcome = solve_milp(problem, solver=solver or model.solver,
                                 time_limit=time_limit or model.time_limit, what="deter-all MILP")
        except InfeasibleError:
            return self._infeasible(required, started, "infeasible")
        chosen = np.asarray(self.x.value) > 0.5
        if not model.feasible(chosen, budget):
            raise InaccurateError("deter-all MILP", outcome.solver_status,
                                  "the rounded placement breaks the budget or the collateral cap; try the other solver")
        if not self.reaches(chosen, required):
            raise InaccurateError("deter-all MILP", outcome.solver_status,
                                  "the chosen placement misses a defector's target when re-evaluated exactly; "
                                  "try the other solver or rescale capacities")
        chosen = self._prune(chosen, required)
        return self._result(chosen, required, cost_bound=outcome.bound, proven=outcome.proven,
                            status="optimal" if outcome.proven else outcome.status,
                            solver_status=outcome.solver_status, started=started)

    def placements_by_cost(self, budget: float):
        """Every placement within ``budget`` (and no other) made of controls that each fit the
        budget and the collateral cap on their own, in order of cost, ties in order of the
        controls' positions when sorted by (cost, index); the empty one first. Placements
        beyond the cap are among them; the caller checks the cap.

        Notes
        -----
        Best-first enumeration of subset sums: controls sorted by cost; a placement whose last
        (highest) sorted position is ``i`` has two successors, "add position i + 1" and
        "move i to i + 1", each costing no less than it; every non-empty placement is
        reached from exactly one predecessor, so a heap keyed by (cost, sorted positions)
        yields each once, cheapest first. O(log Q) per placement for a heap of Q entries.
        """
        model = self.model
        # A control that breaks the budget or the cap on its own is in no placement within them.
        order = sorted(np.flatnonzero(self._fitting(budget)), key=lambda c: (model.cost[c], c))
        cost = model.cost[order]
        yield np.zeros(model.num_controls, dtype=bool)
        if not order:                            # every control left fits the budget alone
            return
        heap = [(float(cost[0]), (0,))]
        while heap:
            total, positions = heapq.heappop(heap)
            if not within(total, budget):
                return
            chosen = np.zeros(model.num_controls, dtype=bool)
            chosen[[order[i] for i in positions]] = True
            yield chosen
            last = positions[-1]
            if last + 1 < len(order):
                heapq.heappush(heap, (total + float(cost[last + 1]), (*positions, last + 1)))
                heapq.heappush(heap, (total - float(cost[last]) + float(cost[last + 1]), (*positions[:-1], last + 1)))

    def _solve_by_exhaustion(self, required: np.ndarray, budget: float, started: float) -> DeterAllResult | None:
        """The cheapest placement by checking placements in order of cost, when that takes at
        most ``exhaustion_limit`` capability LPs (None otherwise: the MILP decides).

        The first placement within the collateral cap that leaves every sink at most its
        required share is a cheapest one: every cheaper placement was checked before it (and
        among equally cheap ones it comes first in :meth:`placements_by_cost`'s order). When
        every placement within ``budget`` fails, none deters within it (proven infeasible).
        Each sink's LP is solved only while the sinks before it met their targets; sinks
        whose required share is 1 need none. At most ``_VISITED_LIMIT`` placements are visited.
        """
        model = self.model
        solved = 0
        for visited, chosen in enumerate(self.placements_by_cost(budget)):
            if visited >= _VISITED_LIMIT:
                return None
            if not model.feasible(chosen, budget):
                continue
            closed = model.closed_routes(chosen)
            meets = True
            for index in self.active_index:
                if required[index] >= 1.0:
                    continue                 # no placement raises a share above 1
                if solved >= self.exhaustion_limit:
                    return None
                solved += 1
                value = model.capability_after(model.sinks[index], closed).value
                if value / model.baseline[index] > required[index] + SHARE_TOLERANCE:
                    meets = False
                    break
            if meets:
                return self._result(self._prune(chosen, required), required,
                                    cost_bound=float(model.cost[chosen].sum()), proven=True, status="optimal",
                                    solver_status=f"exhaustion: cheapest of {visited + 1} placements checked in "
                                                  f"order of cost ({solved} capability LPs)", started=started)
        return self._infeasible(required, started, f"exhaustion: none of the {visited + 1} placements within budget "
                                                   f"deters ({solved} capability LPs)")

    def _fitting(self, budget: float) -> np.ndarray:
        """Controls that fit the budget and the collateral cap on their own (no placement
        within them holds another)."""
        model = self.model
        alone = np.asarray(model.closes @ model.collateral).ravel()      # collateral of each control alone
        return np.array([within(model.cost[c], budget) and within(alone[c], model.collateral_cap)
                         for c in range(model.num_controls)], dtype=bool)

    def _solve_by_cuts(self, required: np.ndarray, budget: float, fits: np.ndarray, started: float, *, solver: str,
                       time_limit: float) -> DeterAllResult | None:
        """The cheapest placement by covering cuts (class Notes, path 2), or None when the
        search would take more than ``cut_limit`` capability evaluations or master solves,
        more than :data:`_CUT_CONTROLS` controls fit on their own, or a master solve is not
        proven. ``fits``: :meth:`_fitting` of ``budget``."""
        model = self.model
        if self.cut_limit == 0 or fits.sum() > _CUT_CONTROLS:
            return None
        if self._master is None:
            self._master = _CoveringMaster(model)
        master = self._master
        master.reset(fits, budget)
        targeted = [int(i) for i in self.active_index if required[i] < 1.0]
        evaluations = masters = 0

        def above_target(chosen: np.ndarray, index: int) -> bool:
            nonlocal evaluations
            if evaluations >= self.cut_limit:
                raise _OverLimit
            evaluations += 1
            value = model.capability_after(model.sinks[index], model.closed_routes(chosen)).value
            return value / model.baseline[index] > required[index] + SHARE_TOLERANCE

        def tally() -> str:
            return f"{master.cuts} cuts, {evaluations} capability evaluations, {masters} master MILPs"

        try:
            while masters < self.cut_limit:
                masters += 1
                try:
                    outcome = master.solve(solver=solver, time_limit=time_limit)
                except InfeasibleError:
                    return self._infeasible(required, started, f"covering cuts: no placement within budget and cap "
                                                               f"meets every cut ({tally()})")
                if not outcome.proven:
                    return None
                chosen = np.asarray(master.x.value) > 0.5
                if not model.feasible(chosen, budget):
                    # The master's tolerances let through what the model's own check refuses:
                    # rule out this placement and every one holding it (they break the same limit).
                    master.add_cut(-chosen.astype(np.float64), 1.0 - chosen.sum())
                    continue
                failing = [index for index in targeted if above_target(chosen, index)]
                if not failing:
                    return self._result(self._prune(chosen, required), required, cost_bound=outcome.bound,
                                        proven=True, status="optimal",
                                        solver_status=f"covering cuts: cheapest placement meeting every cut "
                                                      f"({tally()})", started=started)
                for index in failing:
                    grown = chosen.copy()
                    candidates = sorted(np.flatnonzero(fits & ~grown), key=lambda c: (-model.cost[c], c))
                    _grow_failing(grown, candidates, lambda placement: above_target(placement, index))
                    # Not empty: solve() checked that every control that fits, together, deters.
                    master.add_cut((fits & ~grown).astype(np.float64), 1.0)
        except _OverLimit:
            pass
        return None

    def _prune(self, chosen: np.ndarray, required: np.ndarray) -> np.ndarray:
        """Drop controls (dearest first) that the targets do not need; a proven optimum
        loses nothing, a time-limited incumbent may get cheaper."""
        chosen = chosen.copy()
        for index in sorted(np.flatnonzero(chosen), key=lambda i: -self.model.cost[i]):
            chosen[index] = False
            if not self.reaches(chosen, required):
                chosen[index] = True
        return chosen

    def _infeasible(self, required: np.ndarray, started: float, solver_status: str) -> DeterAllResult:
        empty = np.zeros(self.model.num_controls, dtype=bool)
        shares = self.shares(empty)
        return DeterAllResult(feasible=False, chosen=np.zeros(0, dtype=np.int64), cost=0.0, cost_bound=math.inf,
                              proven=True, status="infeasible", required_share=required, share_after=shares,
                              leverage=relative_loss(np.where(self.model.baseline > 0, 1.0, 0.0), shares),
                              seconds=time.perf_counter() - started, solver_status=solver_status)

    def _result(self, chosen, required, *, cost_bound, proven, status, solver_status, started) -> DeterAllResult:
        shares = self.shares(chosen)
        cost = float(self.model.cost[chosen].sum())
        return DeterAllResult(feasible=True, chosen=np.flatnonzero(chosen), cost=cost,
                              cost_bound=min(float(cost_bound), cost), proven=bool(proven), status=status,
                              required_share=required, share_after=shares,
                              leverage=relative_loss(np.where(self.model.baseline > 0, 1.0, 0.0), shares),
                              seconds=time.perf_counter() - started, solver_status=solver_status)


def _grow_failing(placement: np.ndarray, candidates: list, fails) -> None:
    """Add to ``placement`` (in place) every candidate it can take while ``fails`` holds, in
    the candidates' order: a batch that keeps it failing joins whole, a batch that does not
    is split in halves (a single candidate that does not is left out).

    The result is maximal: a candidate left out made a smaller placement pass, and adding
    controls never makes a passing placement fail again. O(k log n) calls of ``fails`` for
    n candidates of which k are left out (one per candidate when most are left out).
    """
    if not candidates:
        return
    trial = placement.copy()
    trial[candidates] = True
    if fails(trial):
        placement[candidates] = True
    elif len(candidates) > 1:
        middle = len(candidates) // 2
        _grow_failing(placement, candidates[:middle], fails)
        _grow_failing(placement, candidates[middle:], fails)


class _OverLimit(Exception):
    """The covering-cut search reached its evaluation limit (the MILP decides instead)."""


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return int(value)


class _CoveringMaster:
    """Master MILP of the covering-cut search: the cheapest placement within budget and
    collateral cap that meets every cut ``a·x ≥ b`` added so far.

    Controls that do not fit on their own are fixed to 0 (``allowed``); the collateral of a
    placement is ``collateral·u`` with ``u_r ≥ x_c`` for every route r of control c (the
    union of the routes closed, as :meth:`InterdictionModel.feasible` counts it; baseline
    routes carry no collateral). Cuts, their right-hand sides, ``allowed`` and the budget
    are ``cp.Parameter``s: the problem is built once per :data:`_CUT_ROWS`-doubling of the
    cut matrix, unused rows all zero.
    """

    def __init__(self, model: InterdictionModel):
        self.model = model
        self.cuts = 0
        self._rows = 0
        self._problem: cp.Problem | None = None

    def reset(self, allowed: np.ndarray, budget: float) -> None:
        """Forget every cut; new ``allowed`` controls and budget."""
        self.cuts = 0
        if self._problem is None:
            self._build(_CUT_ROWS)
        self._cut_matrix[:] = 0.0
        self._cut_rhs[:] = 0.0
        self._allowed_value = allowed.astype(np.float64)
        self._budget_value = float(budget)

    def add_cut(self, row: np.ndarray, rhs: float) -> None:
        if self.cuts == self._rows:
            matrix, rhs_values = self._cut_matrix, self._cut_rhs
            self._build(2 * self._rows)
            self._cut_matrix[:matrix.shape[0]] = matrix
            self._cut_rhs[:rhs_values.size] = rhs_values
        self._cut_matrix[self.cuts] = row
        self._cut_rhs[self.cuts] = rhs
        self.cuts += 1

    def solve(self, *, solver: str, time_limit: float):
        self.cut_rows.value = self._cut_matrix
        self.cut_bound.value = self._cut_rhs
        self.allowed.value = self._allowed_value
        self.budget.value = min(self._budget_value, float(self.model.cost.sum()))
        return solve_milp(self._problem, solver=solver, time_limit=time_limit, what="deter-all covering master")

    def _build(self, rows: int) -> None:
        model = self.model
        self._rows = rows
        self._cut_matrix = np.zeros((rows, model.num_controls))
        self._cut_rhs = np.zeros(rows)
        self.x = cp.Variable(model.num_controls, boolean=True, name="place")
        self.cut_rows = cp.Parameter((rows, model.num_controls), name="cut_rows")
        self.cut_bound = cp.Parameter(rows, name="cut_bound")
        self.allowed = cp.Parameter(model.num_controls, nonneg=True, name="allowed")
        self.budget = cp.Parameter(nonneg=True, name="budget")
        constraints = [self.cut_rows @ self.x >= self.cut_bound, self.x <= self.allowed,
                       model.cost @ self.x <= self.budget]
        if math.isfinite(model.collateral_cap):
            pairs = [(c, r) for c in range(model.num_controls) for r in model.control_routes[c]
                     if model.collateral[r] > 0]
            if pairs:
                routes = np.unique([r for _, r in pairs])
                position = {int(r): k for k, r in enumerate(routes)}
                union = cp.Variable(routes.size, nonneg=True, name="route_closed")
                pick_route = sp.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)),
                                                                  [position[int(r)] for _, r in pairs])),
                                           shape=(len(pairs), routes.size))
                pick_control = sp.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)), [c for c, _ in pairs])),
                                             shape=(len(pairs), model.num_controls))
                constraints += [pick_route @ union >= pick_control @ self.x,
                                model.collateral[routes] @ union <= model.collateral_cap]
        self._problem = require_dpp(cp.Problem(cp.Minimize(model.cost @ self.x), constraints),
                                    "deter-all covering master")


def detection_with(detection: np.ndarray, coverage: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Detection probability of each sink with the chosen mechanisms in place.

    ``p(y) = 1 − (1 − p0) Π_m (1 − q_m y_m)`` (``docs/design.md#113-verification-as-a-lever``):
    mechanisms detect independently of each other and of the base detection ``p0``.

    Parameters
    ----------
    detection : array (S,)
        Base detection probability ``p0`` per sink.
    coverage : array (M, S)
        ``q_{m,s}`` in [0, 1].
    chosen : bool array (M,)
    """
    coverage = np.asarray(coverage, dtype=np.float64).reshape(-1, np.asarray(detection).size)
    chosen = np.asarray(chosen, dtype=bool)
    miss = np.prod(1.0 - coverage[chosen], axis=0) if chosen.any() else np.ones(coverage.shape[1])
    return 1.0 - (1.0 - np.asarray(detection, dtype=np.float64)) * miss


@dataclass(frozen=True)
class DeterVerifyResult:
    """Outcome of one joint controls-and-verification solve.

    ``feasible`` is false when nothing within the budget meets every target (then nothing is
    chosen). ``chosen`` indexes controls, ``mechanisms`` verification mechanisms; ``cost``
    is their total, split into ``control_cost`` and ``verification_cost``; ``cost_bound``
    the proven lower bound. ``detection`` and ``leverage`` per sink are exact (capability LP
    and :func:`detection_with`); ``target_met`` per sink says whether ``p·L ≥ need``.
    """

    feasible: bool
    chosen: np.ndarray
    mechanisms: np.ndarray
    cost: float
    control_cost: float
    verification_cost: float
    cost_bound: float
    proven: bool
    status: str
    detection: np.ndarray
    leverage: np.ndarray
    target_met: np.ndarray
    seconds: float
    solver_status: str


class DeterVerifyModel:
    """Controls and verification chosen together at least cost so that every targeted
    defector's expected sanction ``p_d(y) · L_d(x)`` reaches ``need_d = (G_d − B_d) / V_d``.

    Parameters
    ----------
    model : InterdictionModel
        The joint interdiction model over the defectors' sinks (catalogue, costs, collateral
        cap, baseline, solver and exact evaluation are reused).
    mechanism_cost : array (M,)
        Non-negative cost of each mechanism, in the catalogue's budget units.
    coverage : array (M, S)
        Detection coverage ``q_{m,s}`` in [0, 1] of mechanism m against the sink s of
        ``model.sinks``.

    Notes
    -----
    With ``ℓ_d = 1 − D_d`` (``D_d`` the dual objective of block d over ``C_d(0)``, an upper
    bound on the remaining share that is tight at the dual optimum, so ``ℓ_d ≤ L_d(x)`` with
    equality attainable) the product ``p_d(y) ℓ_d = ℓ_d − (1 − p0_d) t_d`` with
    ``t_d = ℓ_d Π_m (1 − q_{m,d} y_m)``, computed by the chain

    ``t_0 = ℓ_d``,  ``t_j = t_{j−1} − q_j w_j``,  ``w_j = y_j · t_{j−1}``

    where each ``w_j`` (binary × continuous in [0, 1]) is written with McCormick's four
    inequalities ``0 ≤ w_j ≤ y_j``, ``w_j ≤ t_{j−1}``, ``w_j ≥ t_{j−1} − (1 − y_j)``, which
    are exact for binary ``y_j`` (Glover 1975, doi:10.1287/mnsc.22.4.455). ``D_d ≤ 1`` keeps
    ``ℓ_d`` in [0, 1] and cuts no optimum off (the dual optimum equals the share ≤ 1). The
    constraint ``ℓ_d − (1 − p0_d) t_d ≥ need_d`` is increasing in ``ℓ_d``, so it holds for
    some duals iff it holds at ``ℓ_d = L_d(x)``: exact. Size: the interdiction MILP's plus
    M binaries and 2 variables and 4 rows per (defector, mechanism covering it). Targets,
    base detection and budget are ``cp.Parameter``s (checked DPP); NP-hard like deter-all.
    """

    def __init__(self, model: InterdictionModel, mechanism_cost, coverage, *, subset_limit: int = SUBSET_LIMIT,
                 deter_all: DeterAllModel | None = None):
        self.model = model
        self.mechanism_cost = np.asarray(mechanism_cost, dtype=np.float64).reshape(-1)
        m, s = self.mechanism_cost.size, model.sinks.size
        self.coverage = np.asarray(coverage, dtype=np.float64).reshape(m, s)
        if not np.isfinite(self.mechanism_cost).all() or (self.mechanism_cost < 0).any():
            raise ValueError("mechanism_cost must hold one finite non-negative number per mechanism")
        if np.isnan(self.coverage).any() or (self.coverage < 0).any() or (self.coverage > 1).any():
            raise ValueError("coverage must lie in [0, 1]")
        self.subset_limit = _count("subset_limit", subset_limit)
        if deter_all is not None and deter_all.model is not model:
            raise ValueError("deter_all must be a DeterAllModel of the same interdiction model")
        self.deter_all = deter_all or DeterAllModel(model)
        self._problem: cp.Problem | None = None

    @property
    def problem(self) -> cp.Problem:
        """The joint MILP (class Notes), built on first use: a solve by mechanism subsets
        never needs it."""
        if self._problem is None:
            self._build()
        return self._problem

    def _build(self) -> None:
        model, m = self.model, self.mechanism_cost.size
        self.x = cp.Variable(model.num_controls, boolean=True, name="place")
        self.y = cp.Variable(m, boolean=True, name="verify") if m else None
        constraints, values = model.dual_blocks(self.x)
        self.active_index = np.array(sorted(values), dtype=np.int64)
        k = self.active_index.size
        self.need = cp.Parameter(k, name="needed_expected_sanction")
        self.miss = cp.Parameter(k, nonneg=True, name="base_miss_probability")
        self.budget = cp.Parameter(nonneg=True, name="budget")
        spend = model.cost @ self.x + (self.mechanism_cost @ self.y if m else 0.0)
        for row, index in enumerate(self.active_index):
            share = values[int(index)]
            ell = 1.0 - share
            constraints.append(share <= 1.0)
            t = ell
            for j in np.flatnonzero(self.coverage[:, index] > 0):
                w = cp.Variable(nonneg=True)
                constraints += [w <= self.y[j], w <= t, w >= t - (1 - self.y[j])]
                t = t - self.coverage[j, index] * w
            constraints.append(ell - self.miss[row] * t >= self.need[row])
        constraints.append(spend <= self.budget)
        self._problem = require_dpp(cp.Problem(cp.Minimize(spend), constraints), "deter-and-verify MILP")

    def exact(self, chosen_mask: np.ndarray, mechanism_mask: np.ndarray, detection: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Exact detection and leverage per sink of a placement and a set of mechanisms."""
        _, results = self.model.evaluate(np.asarray(chosen_mask, dtype=bool))
        values = np.array([r.value for r in results])
        base = self.model.baseline
        leverage = np.where(base > 0, np.maximum(1.0 - np.divide(values, base, out=np.zeros_like(values),
                                                                 where=base > 0), 0.0), 0.0)
        return detection_with(detection, self.coverage, mechanism_mask), leverage

    def meets(self, chosen_mask, mechanism_mask, detection, need) -> np.ndarray:
        """Per sink: whether ``p(y)·L(x) ≥ need`` holds exactly (within MARGIN_TOLERANCE)."""
        p, leverage = self.exact(chosen_mask, mechanism_mask, detection)
        return p * leverage >= np.asarray(need, dtype=np.float64) - MARGIN_TOLERANCE

    def solve(self, detection, need, *, budget: float = math.inf, time_limit: float | None = None,
              solver: str | None = None) -> DeterVerifyResult:
        """Cheapest controls and mechanisms with ``p_d(y) L_d(x) ≥ need_d`` for every sink.

        Parameters
        ----------
        detection : array (S,)
            Base detection probability ``p0`` per sink, in [0, 1].
        need : array (S,)
            Required expected sanction share ``(G − B) / V`` per sink; a value ≤ 0 (or
            ``-inf``) means the sink needs nothing (not targeted).
        budget : float
            Upper limit on the total cost (controls and mechanisms).

        Raises
        ------
        ValueError
            Detection outside [0, 1] or arrays of the wrong shape.
        InaccurateError
            The solver's choice misses a target when evaluated exactly, or breaks budget or cap.
        SolverError
            Other typed solver failures.
        """
        started = time.perf_counter()
        model, m = self.model, self.mechanism_cost.size
        detection = np.asarray(detection, dtype=np.float64)
        need = np.asarray(need, dtype=np.float64)
        if detection.shape != model.sinks.shape or need.shape != model.sinks.shape or np.isnan(need).any() \
                or np.isnan(detection).any() or (detection < 0).any() or (detection > 1).any():
            raise ValueError(f"detection (in [0, 1]) and need must hold one number per sink ({model.sinks.size})")
        need = np.where(model.active, need, -math.inf)
        empty_x = np.zeros(model.num_controls, dtype=bool)
        empty_y = np.zeros(m, dtype=bool)
        if self.meets(empty_x, empty_y, detection, need).all():
            return self._result(empty_x, empty_y, detection, need, cost_bound=0.0, proven=True, status="optimal",
                                solver_status="nothing needed", started=started)
        if m <= self.subset_limit:
            return self._solve_by_subsets(detection, need, budget, started, time_limit=time_limit, solver=solver)
        problem = self.problem
        self.need.value = np.maximum(need[self.active_index], -1.0)
        self.miss.value = 1.0 - detection[self.active_index]
        self.budget.value = float(min(budget, model.cost.sum() + self.mechanism_cost.sum()))
        try:
            outcome = solve_milp(problem, solver=solver or model.solver,
                                 time_limit=time_limit or model.time_limit, what="deter-and-verify MILP")
        except InfeasibleError:
            return self._infeasible(detection, need, started, "infeasible")
        chosen = np.asarray(self.x.value) > 0.5
        mechanisms = (np.asarray(self.y.value) > 0.5) if m else empty_y
        spent = model.cost[chosen].sum() + self.mechanism_cost[mechanisms].sum()
        if not model.feasible(chosen, math.inf) or spent > self.budget.value + 1e-9 * max(1.0, self.budget.value):
            raise InaccurateError("deter-and-verify MILP", outcome.solver_status,
                                  "the rounded choice breaks the budget or the collateral cap; try the other solver")
        if not self.meets(chosen, mechanisms, detection, need).all():
            raise InaccurateError("deter-and-verify MILP", outcome.solver_status,
                                  "the chosen controls and mechanisms miss a defector's target when re-evaluated "
                                  "exactly; try the other solver or rescale capacities")
        chosen, mechanisms = self._prune(chosen, mechanisms, detection, need)
        return self._result(chosen, mechanisms, detection, need, cost_bound=outcome.bound, proven=outcome.proven,
                            status="optimal" if outcome.proven else outcome.status,
                            solver_status=outcome.solver_status, started=started)

    def _solve_by_subsets(self, detection: np.ndarray, need: np.ndarray, budget: float, started: float, *,
                          time_limit: float | None, solver: str | None) -> DeterVerifyResult:
        """The joint optimum as the cheapest of (mechanism subset, deter-all placement) pairs.

        A subset ``Y`` of mechanisms fixes each sink's detection ``p_d(Y)``, hence the
        remaining share that deters it, ``1 − need_d / p_d(Y)`` (a sink with ``need_d > p_d(Y)``
        cannot be deterred under ``Y``); the cheapest controls for ``Y`` are a deter-all solve
        within the budget left. Subsets go in order of their cost (ties: fewer mechanisms,
        then by position). More mechanisms only raise detection, so the controls every subset
        needs cost at least the deter-all cost with every mechanism in place (on the whole
        budget): once a subset's own cost plus that bound reaches the best total so far, no
        later subset can beat it. Proven when every deter-all solve it used is.
        """
        model, m = self.model, self.mechanism_cost.size
        budget = float(min(budget, model.cost.sum() + self.mechanism_cost.sum()))
        targeted = np.isfinite(need) & (need > 0)

        def controls_for(mechanisms: np.ndarray, left: float) -> DeterAllResult | None:
            p = detection_with(detection, self.coverage, mechanisms)
            if (targeted & (need > p + 1e-12)).any() or left < 0:
                return None
            required = np.where(targeted, np.clip(1.0 - np.divide(need, p, out=np.ones_like(p), where=p > 0), 0.0,
                                                  1.0), 1.0)
            return self.deter_all.solve(required, budget=left, time_limit=time_limit, solver=solver)

        everything = np.ones(m, dtype=bool)
        floor = controls_for(everything, budget)
        if floor is None or not floor.feasible:
            return self._infeasible(detection, need, started, "mechanism subsets: not even every mechanism with the "
                                                              "cheapest controls meets every target within budget")
        subsets = sorted(itertools.chain.from_iterable(itertools.combinations(range(m), r) for r in range(m + 1)),
                         key=lambda ys: (float(self.mechanism_cost[list(ys)].sum()), len(ys), ys))
        best, best_total, bound, proven, solved = None, math.inf, math.inf, floor.proven, 0
        for ys in subsets:
            mechanisms = np.zeros(m, dtype=bool)
            mechanisms[list(ys)] = True
            own = float(self.mechanism_cost[mechanisms].sum())
            if best is not None and own + floor.cost_bound >= best_total - 1e-9 * max(1.0, best_total):
                bound = min(bound, own + floor.cost_bound)
                break
            if ys == tuple(range(m)):
                # The floor itself, where it fits the budget left (no placement cheaper than it does).
                controls = floor if within(floor.cost, budget - own) else None
            else:
                controls = controls_for(mechanisms, budget - own)
            solved += 1
            if controls is None or not controls.feasible:
                continue
            proven = proven and controls.proven
            bound = min(bound, own + controls.cost_bound)
            if best is None or own + controls.cost < best_total - 1e-9 * max(1.0, best_total):
                best, best_total = (controls, mechanisms), own + controls.cost
        if best is None:
            return self._infeasible(detection, need, started, f"mechanism subsets: none of {2 ** m} meets every "
                                                              "target within budget")
        controls, mechanisms = best
        chosen = np.zeros(model.num_controls, dtype=bool)
        chosen[controls.chosen] = True
        if not self.meets(chosen, mechanisms, detection, need).all():
            raise InaccurateError("deter-and-verify by mechanism subsets", controls.solver_status,
                                  "the chosen controls and mechanisms miss a defector's target when re-evaluated "
                                  "exactly; try the other solver or rescale capacities")
        chosen, mechanisms = self._prune(chosen, mechanisms, detection, need)
        return self._result(chosen, mechanisms, detection, need, cost_bound=min(bound, best_total), proven=proven,
                            status="optimal" if proven else "time_limit",
                            solver_status=f"mechanism subsets: cheapest of {solved} of {2 ** m} solved as deter-all "
                                          f"({controls.solver_status})", started=started)

    def _infeasible(self, detection, need, started: float, solver_status: str) -> DeterVerifyResult:
        empty_x = np.zeros(self.model.num_controls, dtype=bool)
        empty_y = np.zeros(self.mechanism_cost.size, dtype=bool)
        return DeterVerifyResult(
            feasible=False, chosen=np.zeros(0, dtype=np.int64), mechanisms=np.zeros(0, dtype=np.int64), cost=0.0,
            control_cost=0.0, verification_cost=0.0, cost_bound=math.inf, proven=True, status="infeasible",
            detection=detection.copy(), leverage=self.exact(empty_x, empty_y, detection)[1],
            target_met=self.meets(empty_x, empty_y, detection, need), seconds=time.perf_counter() - started,
            solver_status=solver_status)

    def _prune(self, chosen, mechanisms, detection, need):
        """Drop controls and mechanisms (dearest first) the targets do not need."""
        chosen, mechanisms = chosen.copy(), mechanisms.copy()
        items = [(self.model.cost[i], 0, i) for i in np.flatnonzero(chosen)]
        items += [(self.mechanism_cost[j], 1, j) for j in np.flatnonzero(mechanisms)]
        for _, which, index in sorted(items, key=lambda item: -item[0]):
            mask = chosen if which == 0 else mechanisms
            mask[index] = False
            if not self.meets(chosen, mechanisms, detection, need).all():
                mask[index] = True
        return chosen, mechanisms

    def _result(self, chosen, mechanisms, detection, need, *, cost_bound, proven, status, solver_status,
                started) -> DeterVerifyResult:
        p, leverage = self.exact(chosen, mechanisms, detection)
        control_cost = float(self.model.cost[chosen].sum())
        verification_cost = float(self.mechanism_cost[mechanisms].sum())
        cost = control_cost + verification_cost
        return DeterVerifyResult(
            feasible=True, chosen=np.flatnonzero(chosen), mechanisms=np.flatnonzero(mechanisms), cost=cost,
            control_cost=control_cost, verification_cost=verification_cost, cost_bound=min(float(cost_bound), cost),
            proven=bool(proven), status=status, detection=p, leverage=leverage,
            target_met=p * leverage >= need - MARGIN_TOLERANCE, seconds=time.perf_counter() - started,
            solver_status=solver_status)
