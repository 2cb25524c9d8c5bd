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

import math
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from optimization.errors import InaccurateError, InfeasibleError
from optimization.interdiction import InterdictionModel
from optimization.milp import solve_milp
from optimization.solvers import require_dpp

__all__ = ["DeterAllModel", "DeterAllResult", "SHARE_TOLERANCE"]

#: Exact remaining shares may exceed their target by this much (solver feasibility tolerance).
SHARE_TOLERANCE = 1e-6


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

    Notes
    -----
    Built once: targets (one per active sink) and the budget are ``cp.Parameter``s
    (checked DPP) and re-solved for new targets. Size as the interdiction MILP: per
    sink N + R + E + E_c dual variables (N nodes, R requirements, E routes, E_c routes
    some control closes) plus P binaries.
    """

    def __init__(self, model: InterdictionModel):
        self.model = model
        self.x = cp.Variable(model.num_controls, boolean=True, name="place")
        constraints, values = model.dual_blocks(self.x)
        self.active_index = np.array(sorted(values), dtype=np.int64)
        self.target = cp.Parameter(self.active_index.size, name="remaining_share_target")
        self.budget = cp.Parameter(nonneg=True, name="budget")
        constraints += [model.cost @ self.x <= self.budget]
        constraints += [values[int(i)] <= self.target[k] for k, i in enumerate(self.active_index)]
        self.problem = require_dpp(cp.Problem(cp.Minimize(model.cost @ self.x), constraints), "deter-all MILP")

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
        self.target.value = required[self.active_index]
        self.budget.value = budget
        try:
            outcome = solve_milp(self.problem, solver=solver or model.solver,
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
                              leverage=np.where(self.model.baseline > 0, 1.0 - shares, 0.0),
                              seconds=time.perf_counter() - started, solver_status=solver_status)

    def _result(self, chosen, required, *, cost_bound, proven, status, solver_status, started) -> DeterAllResult:
        shares = self.shares(chosen)
        cost = float(self.model.cost[chosen].sum())
        return DeterAllResult(feasible=True, chosen=np.flatnonzero(chosen), cost=cost,
                              cost_bound=min(float(cost_bound), cost), proven=bool(proven), status=status,
                              required_share=required, share_after=shares,
                              leverage=np.where(self.model.baseline > 0, np.maximum(1.0 - shares, 0.0), 0.0),
                              seconds=time.perf_counter() - started, solver_status=solver_status)
