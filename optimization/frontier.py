"""Leverage curve: the exact Pareto frontier of placement cost against leverage.

The best objective as a function of the budget, ``F(B) = min {agg C(x)/C(0) :
cost·x ≤ B}`` (remaining capability share; leverage is one minus it), is a
non-increasing step function that changes only at the costs of Pareto-optimal
placements. The walk goes down from the largest budget:

1. solve the interdiction MILP at budget ``B`` → ``F(B)`` and a placement;
2. prune the placement: drop controls (dearest first) whose removal leaves the exact
   objective unchanged → cost ``c ≤ B``;
3. solve at ``c − η``: if the objective rises, ``(c, F(B))`` is a frontier point and
   that solve is the next step's; if not, it found a cheaper placement with the same
   objective — prune it and repeat 3.

Every frontier point therefore rests on proven MILP optima (flagged ``exact``) and
every MILP solve is used once: at most ``K + T`` solves for ``K`` points and ``T``
ties between equally good placements of different cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimization.interdiction import InterdictionModel, PlacementResult
from optimization.interdiction_heuristic import prune

__all__ = ["FrontierPoint", "leverage_frontier", "RESOLUTION"]

#: Objective differences (share of capability) below this are ties.
RESOLUTION = 1e-6


@dataclass(frozen=True)
class FrontierPoint:
    """One Pareto-optimal placement: the least budget that buys its leverage.

    ``budget`` is the breakpoint, equal to ``placement.cost``; every budget below it
    gives a strictly worse objective (proven when ``exact``).
    """

    budget: float
    placement: PlacementResult
    exact: bool


def _mask(model: InterdictionModel, result: PlacementResult) -> np.ndarray:
    mask = np.zeros(model.num_controls, dtype=bool)
    mask[result.chosen] = True
    return mask


def leverage_frontier(model: InterdictionModel, *, max_budget: float | None = None, time_limit: float | None = None,
                      resolution: float = RESOLUTION, max_solves: int = 500) -> list[FrontierPoint]:
    """Pareto frontier of cost vs objective for ``model``, budgets up to ``max_budget``.

    Parameters
    ----------
    model : InterdictionModel
    max_budget : float, optional
        Largest budget considered (default: the cost of every control together).
    time_limit : float, optional
        Seconds per MILP solve.
    resolution : float
        Objective differences below this count as ties.
    max_solves : int
        Safety stop on the number of MILP solves.

    Returns
    -------
    list of FrontierPoint
        Budgets strictly increasing (first one ≥ 0), objectives strictly decreasing.
    """
    cap = float(model.cost.sum()) if max_budget is None else float(max_budget)
    # Budgets closer than this are not told apart (MILP feasibility tolerance on cost·x).
    step = 1e-6 * max(1.0, cap)
    points: list[FrontierPoint] = []
    current = model.solve(cap, time_limit=time_limit)
    solves = 1
    while solves < max_solves:
        chosen = prune(model, _mask(model, current))
        exact = current.optimal
        objective = model.evaluate(chosen)[0]
        below = None
        while True:
            cost = float(model.cost[chosen].sum())
            if cost <= step:
                break
            below = model.solve(cost - step, time_limit=time_limit)
            solves += 1
            exact = exact and below.optimal
            if below.objective > objective + resolution or solves >= max_solves:
                break
            # A cheaper placement is as good: keep descending within this step.
            chosen = prune(model, _mask(model, below))
            objective = min(objective, model.evaluate(chosen)[0])
            below = None
        placement = model.result_for(chosen, bound=current.bound, status=current.status, proven=current.optimal,
                                     seconds=current.seconds, method=current.method,
                                     milp_objective=current.milp_objective, solver_status=current.solver_status)
        points.append(FrontierPoint(budget=placement.cost, placement=placement, exact=exact))
        if below is None:
            break
        current = below
    points.reverse()
    return points
