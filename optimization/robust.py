"""Robust placements: the sample-average and CVaR interdiction MILPs (``docs/design.md#12-uncertainty``).

Given ``S`` training samples of the network (same routes, sampled capacities and recipe
coefficients), one placement ``x`` is chosen for all of them. Each sample ``s`` and
defector ``d`` contributes the LP-dual block of the interdiction MILP
(:meth:`optimization.interdiction.InterdictionModel.dual_blocks`), whose objective
``D_sd(x)`` bounds the remaining capability share ``C_sd(x)/C_sd(0)`` from above and equals
it at its minimum. With ``r_s(x) = mean_d D_sd(x)`` (the sample's mean remaining share)

    sample average:   minimise  (1/S) Σ_s r_s(x)
    CVaR at level α:  minimise  t + 1/(α S) Σ_s e_s,   e_s ≥ r_s(x) − t,  e_s ≥ 0

subject to ``cost·x ≤ B``, the collateral cap and ``x ∈ {0, 1}^P``. The second is the
Rockafellar–Uryasev form of the mean of the worst α-fraction of remaining shares (the
10 % of samples where the placement leaves the most), so maximising leverage in the worst
tail. Both are exact: every term is minimised over the dual variables and appears with a
non-negative weight, so at the optimum each ``D_sd`` equals its LP value (weak and strong
duality, as in §4.2).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from graph.network import SupplyNetwork
from optimization.errors import SolverLimitError
from optimization.interdiction import InterdictionModel
from optimization.milp import OPTIMALITY_GAP, solve_milp
from optimization.solvers import require_dpp

__all__ = ["RobustResult", "RobustPlacementModel", "cvar", "OBJECTIVES"]

#: Objectives of the robust MILP.
OBJECTIVES = ("mean", "cvar")


def cvar(values: np.ndarray, alpha: float) -> float:
    """Mean of the largest ``alpha`` fraction of ``values`` (Rockafellar–Uryasev, exact for
    a discrete sample: the ``⌈αS⌉``-th largest counted fractionally)."""
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if values.size == 0:
        return math.nan
    mass = alpha * values.size
    whole = int(math.floor(mass))
    total = values[:whole].sum() + (mass - whole) * (values[whole] if whole < values.size else 0.0)
    return float(total / mass)


@dataclass(frozen=True)
class RobustResult:
    """One robust placement: chosen controls, exact training objective and what is proven.

    ``shares`` (S,) is each training sample's exact mean remaining share under the
    placement (capability LP re-solve); ``objective`` its mean (``mean``) or CVaR
    (``cvar``); ``bound`` the MILP's proven lower bound; ``optimal`` only when the
    solver proved optimality and the exact objective agrees within
    :data:`optimization.milp.OPTIMALITY_GAP`.
    """

    objective_kind: str
    chosen: np.ndarray
    cost: float
    objective: float
    bound: float
    optimal: bool
    status: str
    shares: np.ndarray
    seconds: float


class RobustPlacementModel:
    """Sample-average and CVaR interdiction MILPs over training samples, built once.

    Parameters
    ----------
    networks : list of SupplyNetwork
        Training samples; every one has the same routes (``edge_src``, ``edge_dst``).
    sinks : sequence of int
        The defectors' sink nodes (the same in every sample).
    closes : bool array (P, E)
        Routes each control closes.
    cost : array (P,)
    collateral : array (E,), optional
    collateral_cap : float
    solver : {"HIGHS", "SCIP"}
    time_limit : float
        Seconds per MILP solve (passed to every solve).
    alpha : float
        CVaR level (0.1: the worst 10 % of samples).

    Raises
    ------
    ValueError
        If the samples do not share one route structure.
    ModelError
        If a MILP is not DPP (the budget is a ``cp.Parameter``; re-solves only set it).

    Notes
    -----
    Size: ``S · D`` dual blocks of the interdiction MILP (each N + R + E + E_c variables),
    P binaries; NP-hard like §4.2. The per-sample models (and their baseline LPs) are
    built once; :meth:`solve` re-solves with a new budget.
    """

    def __init__(self, networks: list[SupplyNetwork], sinks, closes, cost, *, collateral=None,
                 collateral_cap: float = math.inf, solver: str = "HIGHS", time_limit: float = 60.0,
                 alpha: float = 0.1):
        if not networks:
            raise ValueError("at least one training sample is needed")
        first = networks[0]
        for net in networks[1:]:
            if not (np.array_equal(net.edge_src, first.edge_src) and np.array_equal(net.edge_dst, first.edge_dst)):
                raise ValueError("training samples must share one route structure")
        if not 0 < alpha <= 1:
            raise ValueError("alpha must lie in (0, 1]")
        self.alpha = float(alpha)
        self.solver, self.time_limit = solver.upper(), float(time_limit)
        self.models = [InterdictionModel(net, sinks, closes, cost, collateral=collateral,
                                         collateral_cap=collateral_cap, aggregate="mean", solver=solver,
                                         time_limit=time_limit) for net in networks]
        self.cost = self.models[0].cost
        self.num_controls = self.models[0].num_controls
        self.x = cp.Variable(self.num_controls, boolean=True, name="place")
        self.budget = cp.Parameter(nonneg=True, name="budget")
        constraints = [self.cost @ self.x <= self.budget]
        shares = []
        for model in self.models:
            block, values = model.dual_blocks(self.x)
            constraints += block
            shares.append(cp.sum(cp.hstack(list(values.values()))) / len(values) if values else cp.Constant(0.0))
        self._share = cp.hstack(shares)
        count = len(self.models)
        self.t = cp.Variable(name="value_at_risk")
        self.excess = cp.Variable(count, nonneg=True, name="excess")
        self.tail_weight = cp.Parameter(nonneg=True, name="tail_weight", value=1.0 / (self.alpha * count))
        self.problems = {
            "mean": require_dpp(cp.Problem(cp.Minimize(cp.sum(self._share) / count), constraints),
                                "sample-average interdiction MILP"),
            "cvar": require_dpp(cp.Problem(cp.Minimize(self.t + self.tail_weight * cp.sum(self.excess)),
                                           constraints + [self.excess >= self._share - self.t]),
                                "CVaR interdiction MILP"),
        }

    def exact_shares(self, mask: np.ndarray) -> np.ndarray:
        """Each training sample's exact mean remaining share under placement ``mask``."""
        return np.array([model.evaluate(np.asarray(mask, dtype=bool))[0] for model in self.models])

    def objective_of(self, kind: str, shares: np.ndarray) -> float:
        return float(np.mean(shares)) if kind == "mean" else cvar(shares, self.alpha)

    def solve(self, kind: str, budget: float, *, time_limit: float | None = None, candidates=()) -> RobustResult:
        """The placement minimising the mean (``kind="mean"``) or the CVaR (``"cvar"``) of the
        remaining share over the training samples within ``budget`` and the collateral cap.

        ``candidates`` (boolean masks over controls, e.g. the point-estimate placement) are
        the fallback when the MILP finds no incumbent within the time limit: the best feasible
        one by its exact objective is returned with ``status="time_limit"``, bound 0 (shares
        are non-negative) and ``optimal=False`` — a placement, never a claimed optimum.

        Raises
        ------
        SolverError, InfeasibleError
            From :func:`optimization.milp.solve_milp` (solver failure): never reported as a
            placement.
        """
        if kind not in OBJECTIVES:
            raise ValueError(f"kind must be one of {', '.join(OBJECTIVES)}")
        if not (budget >= 0 and math.isfinite(budget)):
            raise ValueError("budget must be a finite non-negative number")
        started = time.perf_counter()
        self.budget.value = float(budget)
        try:
            outcome = solve_milp(self.problems[kind], solver=self.solver, time_limit=time_limit or self.time_limit,
                                 what=f"{'sample-average' if kind == 'mean' else 'CVaR'} interdiction MILP")
        except SolverLimitError:
            options = [np.zeros(self.num_controls, dtype=bool)] + [
                np.asarray(c, dtype=bool) for c in candidates if self.models[0].feasible(np.asarray(c, bool), budget)]
            scored = [(self.objective_of(kind, self.exact_shares(m)), i) for i, m in enumerate(options)]
            best = options[min(scored)[1]]
            shares = self.exact_shares(best)
            return RobustResult(objective_kind=kind, chosen=np.flatnonzero(best), cost=float(self.cost[best].sum()),
                                objective=self.objective_of(kind, shares), bound=0.0, optimal=False,
                                status="time_limit", shares=shares, seconds=time.perf_counter() - started)
        mask = np.asarray(self.x.value) > 0.5
        if not self.models[0].feasible(mask, budget):
            mask = np.zeros(self.num_controls, dtype=bool)
        shares = self.exact_shares(mask)
        objective = self.objective_of(kind, shares)
        bound = min(outcome.bound, objective)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1e-6)
        optimal = bool(outcome.proven and gap <= OPTIMALITY_GAP)
        status = outcome.status if (optimal or not outcome.proven) else "inaccurate"
        return RobustResult(objective_kind=kind, chosen=np.flatnonzero(mask), cost=float(self.cost[mask].sum()),
                            objective=objective, bound=bound, optimal=optimal, status=status, shares=shares,
                            seconds=time.perf_counter() - started)
