"""Heuristic placements for interdiction instances beyond exact reach, with a proven bound.

Three moves, all judged by the exact capability LP (never by an estimate):

1. **LP-relaxation rounding.** Solve the interdiction MILP with controls fractional
   (this also gives the bound), fill the budget with controls in decreasing
   fractional value, then drop those whose removal does not raise the exact objective.
2. **Dual-price greedy.** Repeatedly add the control with the largest exact loss per
   unit cost among a shortlist ranked by route dual prices: closing route ``e`` costs
   the defector at least ``μ_e · M_e`` (weak duality: the current optimal dual stays
   feasible after closing), so ``Σ_{e ∈ p} μ_e M_e / cost_p`` ranks controls by a
   guaranteed first-order loss per cost.
3. **Local improvement.** First-improvement search over *add* and *swap* (drop one
   chosen control, add one other) moves until no move improves or time runs out.

The bound reported with a heuristic placement is the LP relaxation's optimum, a
valid lower bound on the best objective within the budget.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from optimization.milp import OPTIMALITY_GAP

__all__ = ["greedy_placement", "rounding_placement", "prune", "local_search", "heuristic_placement", "dual_scores"]

#: Evaluate every affordable control exactly when there are at most this many; else a shortlist.
EXACT_CANDIDATES = 40
#: Size of the dual-price shortlist on larger instances.
SHORTLIST = 20
#: An exact improvement smaller than this (in capability share) is not an improvement.
IMPROVEMENT = 1e-9


def dual_scores(model, chosen: np.ndarray) -> np.ndarray:
    """Guaranteed first-order loss of each control at placement ``chosen`` (see module notes)."""
    _, results = model.evaluate(chosen)
    closed = model.closed_routes(chosen)
    loss_per_route = np.zeros(model.network.num_edges)
    active = np.flatnonzero(model.active)
    for index in active:
        bound = model.capability.route_bound(model.sinks[index])
        loss_per_route += results[index].route_dual * bound / model.baseline[index]
    if model.aggregate == "mean" and active.size:
        loss_per_route /= active.size
    loss_per_route[closed] = 0.0
    return np.asarray(model.closes @ loss_per_route).ravel()


def _per_cost(loss: np.ndarray, cost: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, loss / np.where(cost > 0, cost, 1.0), np.where(loss > 0, np.inf, 0.0))


def _candidates(model, chosen: np.ndarray, budget: float, order: np.ndarray | None = None) -> np.ndarray:
    """Affordable unchosen controls, shortlisted by dual score (and ``order``) when many."""
    free = np.flatnonzero(~chosen)
    affordable = np.array([p for p in free if model.feasible(_with(chosen, p), budget)], dtype=np.int64)
    if affordable.size <= EXACT_CANDIDATES:
        return affordable
    scores = _per_cost(dual_scores(model, chosen)[affordable], model.cost[affordable])
    picked = list(affordable[np.argsort(-scores, kind="stable")[:SHORTLIST]])
    if order is not None:
        picked += [p for p in order if p in set(affordable)][:SHORTLIST]
    return np.unique(np.array(picked, dtype=np.int64))


def _with(chosen: np.ndarray, add: int, drop: int | None = None) -> np.ndarray:
    new = chosen.copy()
    new[add] = True
    if drop is not None:
        new[drop] = False
    return new


def greedy_placement(model, budget: float, *, deadline: float = math.inf, start: np.ndarray | None = None,
                     order: np.ndarray | None = None) -> np.ndarray:
    """Add the best exact loss-per-cost control until none improves or fits."""
    chosen = np.zeros(model.num_controls, dtype=bool) if start is None else start.copy()
    value = model.evaluate(chosen)[0]
    while time.perf_counter() < deadline:
        best, best_key = None, (0.0, 0.0)
        for p in _candidates(model, chosen, budget, order):
            loss = value - model.evaluate(_with(chosen, p))[0]
            if loss <= IMPROVEMENT:
                continue
            key = (loss / model.cost[p] if model.cost[p] > 0 else math.inf, loss)
            if best is None or key > best_key:
                best, best_key = p, key
            if time.perf_counter() >= deadline:
                break
        if best is None:
            break
        chosen[best] = True
        value = model.evaluate(chosen)[0]
    return chosen


def rounding_placement(model, budget: float, fractional: np.ndarray, *, deadline: float = math.inf) -> np.ndarray:
    """Fill the budget in decreasing LP-relaxation value, then drop what does not help.

    Controls that only work together (closing a supplier and the transit route that
    would replace it) each improve nothing alone; filling first keeps such pairs.
    """
    chosen = np.zeros(model.num_controls, dtype=bool)
    for p in np.argsort(-fractional, kind="stable"):
        if fractional[p] <= 1e-9 or time.perf_counter() >= deadline:
            break
        candidate = _with(chosen, p)
        if model.feasible(candidate, budget):
            chosen = candidate
    return prune(model, chosen)


def prune(model, chosen: np.ndarray, *, tolerance: float = 1e-9) -> np.ndarray:
    """Drop chosen controls, dearest first, while the exact objective does not rise."""
    chosen = np.asarray(chosen, dtype=bool).copy()
    value = model.evaluate(chosen)[0]
    for p in sorted(np.flatnonzero(chosen), key=lambda q: (-model.cost[q], q)):
        candidate = chosen.copy()
        candidate[p] = False
        if model.evaluate(candidate)[0] <= value + tolerance:
            chosen = candidate
    return chosen


def local_search(model, chosen: np.ndarray, budget: float, *, deadline: float = math.inf,
                 order: np.ndarray | None = None) -> np.ndarray:
    """First-improvement search over add and swap moves (exact evaluation)."""
    chosen = chosen.copy()
    value = model.evaluate(chosen)[0]
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for p in _candidates(model, chosen, budget, order):
            new_value = model.evaluate(_with(chosen, p))[0]
            if new_value < value - IMPROVEMENT:
                chosen[p], value, improved = True, new_value, True
                break
        if improved:
            continue
        for q in np.flatnonzero(chosen):
            dropped = chosen.copy()
            dropped[q] = False
            for p in _candidates(model, dropped, budget, order):
                if p == q or time.perf_counter() >= deadline:
                    continue
                candidate = _with(dropped, p)
                new_value = model.evaluate(candidate)[0]
                if new_value < value - IMPROVEMENT:
                    chosen, value, improved = candidate, new_value, True
                    break
            if improved or time.perf_counter() >= deadline:
                break
    return chosen


def heuristic_placement(model, budget: float, *, time_limit: float | None = None):
    """Best of rounding and greedy, then local improvement; bound from the LP relaxation.

    Returns
    -------
    PlacementResult
        ``status`` is ``heuristic``, or ``optimal`` when the exact value meets the LP
        bound within :data:`optimization.milp.OPTIMALITY_GAP`.
    """
    started = time.perf_counter()
    limit = time_limit or model.time_limit
    deadline = started + limit
    bound, fractional = model.relaxation_bound(budget, time_limit=limit)
    order = np.argsort(-fractional, kind="stable")
    rounded = rounding_placement(model, budget, fractional, deadline=deadline)
    greedy = greedy_placement(model, budget, deadline=deadline, order=order)
    best = min((rounded, greedy), key=lambda c: model.evaluate(c)[0])
    best = local_search(model, best, budget, deadline=deadline, order=order)
    result = model.result_for(best, bound=bound, status="heuristic", proven=False,
                              seconds=time.perf_counter() - started, method="heuristic")
    if result.gap <= OPTIMALITY_GAP:
        result = dataclasses.replace(result, status="optimal", optimal=True,
                                     notes=(*result.notes, "heuristic value meets the LP-relaxation bound"))
    return result
