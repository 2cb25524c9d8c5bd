"""Interdiction MILP: the placement of controls that cuts defectors' capability the most.

The leader picks binary placements ``x_p`` (a control ``p`` closes a set of routes)
within a budget and a collateral cap; each defector ``d`` then obtains its capability
``C_d(x)``, the optimum of the capability LP (:mod:`optimization.capability`) with the
closed routes' capacity set to zero. The min–max problem

    minimise_x  agg_d  C_d(x) / C_d(0)      s.t.  cost·x ≤ B,  collateral(x) ≤ K

is made single-level by LP duality (Wood 1993, doi:10.1016/0895-7177(93)90236-R, for
max-flow; Israeli & Wood 2002, doi:10.1002/net.10039; the same step for the AND/OR
LP). For fixed ``x`` the dual of the capability LP of ``d`` reads (weights ``w =
e_sink / C_d(0)``; ``M_e`` route bounds, see :func:`tight_route_bounds`)

    minimise   Σ_v cap_v λ_v + Σ_e M_e (1 − z_e) μ_e
    s.t.       λ_v − α_v + Σ_{r at v} a_r β_r ≥ w_v          (production y_v)
               α_{src e} − β_{req e} + μ_e ≥ 0                (flow f_e)
               λ, α, β, μ ≥ 0

with ``z_e = 1`` if some chosen control closes ``e``. The product ``z_e μ_e`` is
removed the standard way: a closed route's dual slack moves to a variable ``ν_e`` that
costs nothing but is allowed only on closed routes, ``ν_e ≤ U_e z_e``. The MILP is

    minimise   agg_d [ Σ_v cap_v λ^d_v + Σ_e M_e μ^d_e ]
    s.t.       λ^d_v − α^d_v + Σ_{r at v} a_r β^d_r ≥ w^d_v
               α^d_{src e} − β^d_{req e} + μ^d_e + ν^d_e ≥ 0
               0 ≤ ν^d_e ≤ U^d_e z_e,   α^d ≤ A^d,   β^d_r ≤ U^d_r
               z_e ≤ Σ_{p closes e} x_p,   z_e ≥ x_p (p closes e),   0 ≤ z ≤ 1
               cost·x ≤ B,   collateral·z ≤ K,   x ∈ {0, 1}^P

The bounds ``U``, ``A`` come from :func:`dual_value_bounds` (proof there): for every
placement the capability LP has an optimal dual inside them, so they cut no optimum
off; they are derived from recipe coefficients, never guessed. After the solve the
placement is rounded and every defector's capability is re-computed with the plain
capability LP: the reported objective is that exact value, the bound is the MILP's
proven lower bound, and a placement is reported optimal only when the solver proved
optimality and the two agree within :data:`OPTIMALITY_GAP`.

Small catalogues are solved by exhaustion instead (:meth:`InterdictionModel.maximal_placements`):
capability never rises when more routes close, and cost and collateral never fall when more
controls are chosen, so the best placement within budget and cap is among the *maximal*
feasible ones (no further control fits); where there are few of them, evaluating each with
the exact capability LP proves the optimum without building the MILP.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from graph.failure import throughput_bound
from graph.network import SupplyNetwork, max_flow_network
from optimization.capability import CapabilityModel, relative_loss
from optimization.errors import InaccurateError, InfeasibleError, SolverLimitError, UnboundedError
from optimization.interdiction_heuristic import greedy_placement, prune
from optimization.milp import OPTIMALITY_GAP, solve_milp
from optimization.solvers import require_dpp, solve_checked, solver_options

__all__ = [
    "OPTIMALITY_GAP",
    "AGGREGATES",
    "ENUMERATION_LIMIT",
    "within",
    "PlacementResult",
    "InterdictionModel",
    "dual_value_bounds",
    "tight_route_bounds",
    "unit_scaled",
    "relative_gap",
    "MinCostResult",
    "interdict_max_flow",
]

#: How several defectors' remaining capability shares combine into one objective.
AGGREGATES = ("mean", "max")
#: Seconds allowed to each capability LP that evaluates a placement.
LP_TIME_LIMIT = 60.0
#: Smallest objective scale used in relative gaps (objectives are shares of capability).
_GAP_FLOOR = 1e-6
#: Default of ``InterdictionModel(enumeration_limit=)``: solve by exhaustion when the maximal
#: feasible placements times the active sinks need at most this many capability LPs.
#: ``bench/bench_enumeration.py``: on the job's instances one MILP solve (cvxpy's compile, HiGHS
#: with bounds, re-evaluation) took as long as 221 to 444 of those LPs beyond what both paths
#: share; the retaliation instances needing 105 and 147 LPs are solved by exhaustion in 40-60 %
#: of the MILP's time (the broad scenario's, 168 LPs, in about half). The limit stays below the
#: cheapest MILP measured.
ENUMERATION_LIMIT = 200
#: Nodes of the include/exclude tree visited while listing maximal placements before giving up
#: (bounds the listing's own work on large catalogues; cost and collateral checks only).
_LISTING_NODES = 4096
#: Listing is tried only when at most this many controls fit budget and cap on their own: the
#: whole include/exclude tree over them then has at most 2^12 − 1 < _LISTING_NODES nodes, and
#: larger catalogues (the job's 22-control placements) cost nothing before the MILP takes over.
_LISTING_DEPTH = 11
#: Exact objectives closer than this are equally good (the pruning tolerance of the MILP path).
_TIE_TOLERANCE = 1e-9


def within(value: float, limit: float) -> bool:
    """``value ≤ limit`` up to 1e-9 relative (absolute below 1): how budgets and collateral caps
    are checked everywhere (an infinite limit holds everything)."""
    return value <= limit + 1e-9 * max(1.0, limit if math.isfinite(limit) else 1.0)


def relative_gap(objective: float, bound: float) -> float:
    """``(objective − bound) / max(|objective|, 1e-6)``; objectives are capability shares."""
    if not math.isfinite(bound):
        return math.inf
    return max(objective - bound, 0.0) / max(abs(objective), _GAP_FLOOR)


def tight_route_bounds(network: SupplyNetwork) -> np.ndarray:
    """Upper bound ``M_e`` on the useful flow of each route, derived from data.

    ``M_e = min(cap_e, T_src, a_r · T_dst)`` with ``T`` the throughput bound of
    :func:`graph.failure.throughput_bound` and ``a_r`` the coefficient of the buyer's
    requirement the route serves. The last term is valid because the buyer never uses
    more than ``a_r · y_dst ≤ a_r · T_dst`` of that input: any optimal flow can drop the
    excess without changing the optimum. It keeps ``M_e · U_e`` (flow bound times dual
    bound) near the capability scale, which is what the MILP's numerics depend on.
    """
    bound = throughput_bound(network)
    coefficient = network.req_coefficient[network.edge_requirement()]
    return np.minimum(np.minimum(network.edge_capacity, bound[network.edge_src]),
                      coefficient * bound[network.edge_dst])


def unit_scaled(network: SupplyNetwork) -> tuple[SupplyNetwork, np.ndarray]:
    """The same network with every input type measured in units of its largest producer.

    Parameters
    ----------
    network : SupplyNetwork

    Returns
    -------
    scaled : SupplyNetwork
        Capacities divided by their unit ``s`` (per node: the scale of the input it
        makes; sinks: the scale of what they consume), recipe coefficients
        ``a'_r = a_r · s_v / s_{k_r}``. Every feasible flow maps to one of the scaled
        network by ``y' = y / s``, ``f'_e = f_e / s_{k_e}``, so capability shares — the
        interdiction objective — are unchanged and ``C' = C / s_sink``.
    node_scale : array (N,)
        ``s_v``.

    Notes
    -----
    Why: input types come in units as different as tonnes of gallium, wafers and H100e;
    unscaled, the dual bounds of the MILP span eight orders of magnitude and HiGHS and
    SCIP return wrong "optimal" values on the short-run network. O(N + E + R).
    """
    producers = (network.node_input >= 0) & np.isfinite(network.node_capacity) & (network.node_capacity > 0)
    scale = np.ones(len(network.inputs))
    largest = np.zeros(len(network.inputs))
    np.maximum.at(largest, network.node_input[producers], network.node_capacity[producers])
    scale[largest > 0] = largest[largest > 0]
    node_scale = np.ones(network.num_nodes)
    has_input = network.node_input >= 0
    node_scale[has_input] = scale[network.node_input[has_input]]
    # Nodes that make nothing of their own (actor sinks) are measured in what they consume.
    consumer = np.zeros(network.num_nodes, dtype=bool)
    consumer[network.req_node] = True
    consumer &= ~has_input
    if consumer.any():
        first = np.full(network.num_nodes, -1)
        first[network.req_node[::-1]] = network.req_input[::-1]
        node_scale[consumer] = scale[first[consumer]]
    edge_scale = scale[network.edge_input]
    coefficient = network.req_coefficient * node_scale[network.req_node] / scale[network.req_input]

    def per_actor(values, by):
        return None if values is None else values / by[None, :]

    scaled = dataclasses.replace(
        network, node_capacity=network.node_capacity / node_scale, edge_capacity=network.edge_capacity / edge_scale,
        req_coefficient=coefficient, actor_capacity=per_actor(network.actor_capacity, node_scale),
        actor_edge_capacity=per_actor(network.actor_edge_capacity, edge_scale))
    return scaled, node_scale


def dual_value_bounds(network: SupplyNetwork, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the capability LP's dual variables that keep an optimal dual feasible.

    Parameters
    ----------
    network : SupplyNetwork
    weights : array (N,)
        Objective weights ``w`` of production (``e_sink / C(0)`` for one defector).

    Returns
    -------
    node_value : array (N,)
        ``V_v``, the largest value of one unit of ``v``'s output: the least solution of
        ``V_v = w_v + max_{e out of v} V_{dst e} / a_{req e}`` (0 without out-routes).
    route_value : array (E,)
        ``U_e = V_{dst e} / a_{req e}``, the value of one unit of the input route ``e``
        brings to its buyer.

    Raises
    ------
    UnboundedError
        If the recursion has no finite solution (a cycle whose recipe coefficients
        multiply to less than 1 makes value grow around it).

    Notes
    -----
    **Claim.** For any route capacities (any placement) the capability LP has an
    optimal dual with ``β_r ≤ V_{v_r} / a_r``, ``α_v ≤ A_v := V_v − w_v`` and
    ``μ_e ≤ U_e``.

    **Proof.** Take any optimal dual ``(λ, α, β, μ)`` and set ``β' = min(β, V/a)``,
    ``α' = min(α, A)``, ``μ'_e = max(0, β'_{req e} − α'_{src e})``, ``λ' = λ``.
    *Production rows:* if no ``β_r`` at ``v`` was capped, the left side did not
    decrease (``α' ≤ α``). If one was, ``a_r β'_r = V_v = w_v + A_v ≥ w_v + α'_v``, so
    the row holds as ``λ, β' ≥ 0``. *Flow rows* hold by the choice of ``μ'``.
    *Objective:* ``μ'_e ≤ μ_e`` because either ``α`` was not capped (then
    ``β' − α' ≤ β − α ≤ μ``) or ``α'_{src} = A_{src} ≥ U_e ≥ β'_{req e}`` (then
    ``μ'_e = 0``). So the capped dual is feasible and no worse, hence optimal, and
    ``μ'_e ≤ β'_{req e} ≤ U_e``. □

    In the MILP, a closed route's slack ``ν_e`` must reach ``μ'_e``; ``U_e`` therefore
    suffices as its big-M, and ``U``, ``A`` are valid bounds on ``β``, ``α``. For
    max-flow (every ``a = 1``, ``w = e_sink``) this gives ``U_e = 1`` on every route
    that can reach the sink: Wood's bound.

    Value iteration: one vectorised sweep is O(V + E); a DAG of depth D settles in
    D + 1 sweeps, any graph without gain cycles in at most V + 1 (Bellman–Ford).
    """
    weights = np.asarray(weights, dtype=np.float64)
    coefficient = network.req_coefficient[network.edge_requirement()]
    src, dst = network.edge_src, network.edge_dst
    value = weights.copy()
    for _ in range(network.num_nodes + 2):
        best_out = np.zeros(network.num_nodes)
        np.maximum.at(best_out, src, value[dst] / coefficient)
        new = weights + best_out
        if np.allclose(new, value, rtol=1e-12, atol=0.0):
            value = np.maximum(new, value)
            break
        value = new
    else:
        raise UnboundedError("interdiction big-M", "gain_cycle",
                             "a cycle of routes multiplies value (recipe coefficients below 1 around it); "
                             "dual bounds cannot be derived, break the cycle")
    return value, value[dst] / coefficient


@dataclass(frozen=True)
class PlacementResult:
    """An evaluated placement and what is proven about it.

    ``objective`` is the exact aggregate of remaining capability shares
    ``C_d(x)/C_d(0)`` (re-computed with the capability LP after rounding), ``bound`` a
    proven lower bound on the best objective within budget, ``gap`` their
    :func:`relative_gap`. ``optimal`` is true only for a solver-proven optimum with
    ``gap ≤ OPTIMALITY_GAP``. ``status``: ``optimal``, ``time_limit`` (incumbent with
    gap), ``heuristic`` (heuristic incumbent, LP-relaxation bound) or ``inaccurate``.
    """

    chosen: np.ndarray                 # control indices, ascending
    objective: float
    bound: float
    gap: float
    status: str
    optimal: bool
    cost: float
    collateral: float
    capability_before: np.ndarray      # per sink
    capability_after: np.ndarray       # per sink
    leverage: np.ndarray               # per sink, (C0 − C) / C0 (0 where C0 = 0)
    routes_closed: int
    lp_duality_gap: float              # largest duality gap of the verifying capability LPs
    seconds: float
    method: str
    solver: str
    milp_objective: float = math.nan
    solver_status: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def mean_leverage(self) -> float:
        return float(np.mean(self.leverage)) if self.leverage.size else 0.0


class InterdictionModel:
    """Interdiction of one or several sinks on an AND/OR network by catalogue controls.

    Parameters
    ----------
    network : SupplyNetwork
    sinks : sequence of int
        Node indices of the defectors' sinks.
    closes : bool array (P, E) or sparse matrix
        ``closes[p, e]``: control ``p`` closes route ``e``.
    cost : array (P,)
        Non-negative cost of each control (budget units).
    collateral : array (E,), optional
        Collateral cost of closing each route (linear in the closed set; default 0).
    collateral_cap : float
        Cap on the total collateral of a placement (``inf``: no cap).
    aggregate : {"mean", "max"}
        Objective over several sinks: mean or largest remaining capability share.
    solver : {"HIGHS", "SCIP"}
        MILP solver. Capabilities are always re-computed with the HiGHS LP.
    time_limit : float
        Default seconds per MILP solve.
    capability_model : CapabilityModel, optional
        The LP used to evaluate placements exactly (default: a new HiGHS one).
    lp_cache : dict, optional
        Memo of capability LP results shared between models on the same network and
        capability model.
    baseline_closed : bool array (E,), optional
        Routes already closed before any control of the catalogue (a baseline placement,
        ``docs/design.md#111-controls-in-force-as-a-baseline``). Capability with them closed is the
        "before" (``baseline``), every placement is evaluated on top of them, their
        collateral is not counted again, and the dual blocks price them at zero capacity.
        Default: none (the model is exactly the one without this argument).
    enumeration_limit : int
        :meth:`solve` proves the optimum by exhaustion, without the MILP, when the maximal
        feasible placements times the active sinks need at most this many capability LPs
        (default :data:`ENUMERATION_LIMIT`; 0: always the MILP).

    Notes
    -----
    Size: per sink, N + R + E + E_c dual variables and N + E + E_c rows (N nodes, R
    requirements, E routes, E_c routes some control closes), plus P binaries and E_c
    closure variables. The models are built once (budget and capability target are
    ``cp.Parameter``s, checked DPP) and re-solved.
    """

    def __init__(self, network: SupplyNetwork, sinks, closes, cost, *, collateral=None,
                 collateral_cap: float = math.inf, aggregate: str = "mean", solver: str = "HIGHS",
                 time_limit: float = 60.0, capability_model: CapabilityModel | None = None,
                 lp_cache: dict | None = None, baseline_closed: np.ndarray | None = None,
                 enumeration_limit: int = ENUMERATION_LIMIT):
        self.network = network
        self.sinks = np.atleast_1d(np.asarray(sinks, dtype=np.int64))
        if self.sinks.size == 0:
            raise ValueError("at least one sink is needed")
        closes = sp.csr_matrix(closes, dtype=np.float64)
        closes.data[:] = 1.0
        if closes.shape[1] != network.num_edges:
            raise ValueError(f"closes must have one column per route ({network.num_edges}), got {closes.shape[1]}")
        self.closes = closes
        self.num_controls = closes.shape[0]
        self.cost = np.asarray(cost, dtype=np.float64)
        if self.cost.shape != (self.num_controls,) or not np.isfinite(self.cost).all() or (self.cost < 0).any():
            raise ValueError("cost must hold one finite non-negative number per control")
        self.collateral = (np.zeros(network.num_edges) if collateral is None
                           else np.asarray(collateral, dtype=np.float64))
        if self.collateral.shape != (network.num_edges,) or not np.isfinite(self.collateral).all() \
                or (self.collateral < 0).any():
            raise ValueError("collateral must hold one finite non-negative number per route")
        self.baseline_closed = None
        if baseline_closed is not None:
            self.baseline_closed = np.asarray(baseline_closed, dtype=bool)
            if self.baseline_closed.shape != (network.num_edges,):
                raise ValueError(f"baseline_closed must hold one flag per route ({network.num_edges})")
            # Marginal collateral: what is already closed is not forgone again.
            self.collateral = np.where(self.baseline_closed, 0.0, self.collateral)
        if not collateral_cap >= 0:
            raise ValueError("collateral_cap must be non-negative")
        self.collateral_cap = float(collateral_cap)
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")
        self.aggregate = aggregate
        self.solver = solver.upper()
        self.time_limit = float(time_limit)
        if isinstance(enumeration_limit, bool) or not isinstance(enumeration_limit, (int, np.integer)) \
                or enumeration_limit < 0:
            raise ValueError("enumeration_limit must be a non-negative integer")
        self.enumeration_limit = int(enumeration_limit)
        # The LPs that evaluate placements get their own limit: they take milliseconds, and a
        # short MILP limit must not make them fail.
        self.capability = capability_model or CapabilityModel(network, solver="HIGHS",
                                                              time_limit=max(time_limit, LP_TIME_LIMIT))
        self._cache: dict[bytes, tuple[float, list]] = {}
        # Capability LP results by (sink, closed routes); models on one network may share it.
        self._lp_cache: dict = {} if lp_cache is None else lp_cache
        nothing = np.zeros(network.num_edges, dtype=bool)
        baseline = [self.capability_after(s, nothing if self.baseline_closed is None else self.baseline_closed)
                    for s in self.sinks]
        self.baseline = np.array([r.value for r in baseline])
        self.active = self.baseline > 0
        self.closable = np.flatnonzero(np.asarray(closes.sum(axis=0)).ravel() > 0)
        #: Routes each control closes (CSR rows), and the baseline's closed routes, as index arrays.
        self.control_routes = [closes.indices[closes.indptr[c]:closes.indptr[c + 1]] for c in range(self.num_controls)]
        self._baseline_routes = (np.zeros(0, dtype=closes.indices.dtype) if self.baseline_closed is None
                                 else np.flatnonzero(self.baseline_closed).astype(closes.indices.dtype))
        self.route_bound = tight_route_bounds(network)
        self._scaled = unit_scaled(network)
        self._milp: cp.Problem | None = None
        self._relaxation: cp.Problem | None = None
        self._min_cost: cp.Problem | None = None

    # ------------------------------------------------------------------ evaluation
    def closed_routes(self, chosen_mask: np.ndarray) -> np.ndarray:
        """Boolean mask of routes closed by the chosen controls (and the baseline, if any)."""
        chosen = np.asarray(chosen_mask, dtype=np.float64)
        closed = (self.closes.T @ chosen) > 0.5
        return closed if self.baseline_closed is None else closed | self.baseline_closed

    def aggregate_value(self, shares: np.ndarray) -> float:
        """Aggregate of remaining capability shares over active sinks."""
        return self._aggregate_active(np.asarray(shares, dtype=np.float64)[self.active])

    def capability_after(self, sink: int, closed: np.ndarray):
        """Capability LP of ``sink`` with ``closed`` routes shut (memoised in the shareable
        ``lp_cache``, keyed as :meth:`optimization.capability.CapabilityModel.solve_closed` does)."""
        return self.capability.solve_closed(sink, closed, memo=self._lp_cache)

    def evaluate(self, chosen_mask: np.ndarray) -> tuple[float, list]:
        """Exact objective of a placement and the capability LP result of each sink."""
        chosen_mask = np.asarray(chosen_mask, dtype=bool)
        key = np.packbits(chosen_mask).tobytes()
        if key not in self._cache:
            closed = self.closed_routes(chosen_mask)
            results = [self.capability_after(s, closed) for s in self.sinks]
            values = np.array([r.value for r in results])
            shares = np.divide(values, self.baseline, out=np.zeros_like(values), where=self.baseline > 0)
            self._cache[key] = (self.aggregate_value(shares), results)
        return self._cache[key]

    def result_for(self, chosen_mask: np.ndarray, *, bound: float, status: str, proven: bool, seconds: float,
                   method: str, milp_objective: float = math.nan, solver_status: str = "",
                   notes: tuple[str, ...] = ()) -> PlacementResult:
        """Evaluate a placement exactly and package it with its bound."""
        chosen_mask = np.asarray(chosen_mask, dtype=bool)
        objective, results = self.evaluate(chosen_mask)
        values = np.array([r.value for r in results])
        leverage = relative_loss(self.baseline, values)
        closed = self.closed_routes(chosen_mask)
        if bound > objective + 1e-6 * max(1.0, abs(objective)):
            raise InaccurateError("interdiction MILP", "bound_above_incumbent",
                                  f"the proven bound {bound:.9g} exceeds the exact value {objective:.9g} of a "
                                  "feasible placement: the MILP and the capability LP disagree; report this instance")
        bound = min(bound, objective)
        gap = relative_gap(objective, bound)
        optimal = bool(proven and gap <= OPTIMALITY_GAP)
        if proven and not optimal:
            status = "inaccurate"
            notes = (*notes, f"solver reported optimal but the exact value leaves gap {gap:.2e}")
        return PlacementResult(
            chosen=np.flatnonzero(chosen_mask), objective=objective, bound=bound, gap=gap, status=status,
            optimal=optimal, cost=float(self.cost[chosen_mask].sum()),
            collateral=float(self.collateral[closed].sum()), capability_before=self.baseline.copy(),
            capability_after=values, leverage=leverage, routes_closed=int(closed.sum()),
            lp_duality_gap=max((r.duality_gap for r in results), default=0.0), seconds=seconds, method=method,
            solver=self.solver, milp_objective=milp_objective, solver_status=solver_status, notes=notes)

    def feasible(self, chosen_mask: np.ndarray, budget: float) -> bool:
        """Whether a placement respects the budget and the collateral cap."""
        chosen_mask = np.asarray(chosen_mask, dtype=bool)
        if not within(self.cost[chosen_mask].sum(), budget):
            return False
        # The closed routes as the union of the chosen controls' own routes and the baseline's
        # (the same sorted set as closed_routes(), without a product over the whole catalogue).
        closed = np.unique(np.concatenate([self._baseline_routes,
                                           *(self.control_routes[c] for c in np.flatnonzero(chosen_mask))]))
        return within(self.collateral[closed].sum(), self.collateral_cap)

    def maximal_placements(self, budget: float, limit: int) -> list[np.ndarray] | None:
        """Every maximal feasible placement within ``budget`` and the collateral cap, or None
        when there are more than ``limit`` of them.

        A placement is maximal when it is feasible (:meth:`feasible`) and no further control
        can be added while it stays feasible. Every feasible placement is contained in a
        maximal one (add controls while one fits), and closing more routes never raises a
        capability LP's optimum (its feasible set only shrinks), so the best objective
        within budget is attained at a maximal placement.

        Returns
        -------
        list of bool arrays (P,) or None
            In lexicographic order of the include-first search (controls by index); None also
            when more than ``_LISTING_DEPTH`` controls fit the budget and cap on their own, or
            when listing would visit more than ``_LISTING_NODES`` nodes of the search tree.

        Notes
        -----
        Depth-first include/exclude search over the controls that fit on their own (at most
        ``_LISTING_DEPTH``), in index order, pruned where the placement so far is infeasible (feasibility is lost, never regained, as controls are
        added: costs and collateral are non-negative). Cost and collateral are kept up to date
        as controls go in and out, so a node costs O(routes of one control); each placement
        found is confirmed by :meth:`feasible` (O(nnz(closes))).
        """
        budget = _check_budget(budget)
        chosen = np.zeros(self.num_controls, dtype=bool)
        found: list[np.ndarray] = []
        visited = 0
        # Cost and collateral of the placement so far, kept up to date as controls go in and out
        # (with the same tolerances as feasible()); a found placement is confirmed by feasible().
        routes = self.control_routes
        closed_by = np.zeros(self.network.num_edges, dtype=np.int64)
        capped = math.isfinite(self.collateral_cap)
        spent = [0.0, 0.0]                       # cost, collateral

        def newly_closed(control: int) -> np.ndarray:
            mine = routes[control]
            return mine[closed_by[mine] == 0]

        def fits_with(control: int) -> bool:
            if not within(spent[0] + self.cost[control], budget):
                return False
            return not capped or within(spent[1] + float(self.collateral[newly_closed(control)].sum()),
                                        self.collateral_cap)

        def place(control: int, sign: int) -> None:
            if sign > 0:
                spent[1] += float(self.collateral[newly_closed(control)].sum())
            closed_by[routes[control]] += sign
            if sign < 0:
                spent[1] -= float(self.collateral[newly_closed(control)].sum())
            spent[0] += sign * self.cost[control]
            chosen[control] = sign > 0

        # A control that breaks budget or cap on its own is in no feasible placement, and never fits.
        candidates = [c for c in range(self.num_controls) if fits_with(c)]
        if len(candidates) > _LISTING_DEPTH:
            return None                          # a tree larger than listing may visit: not tried

        def visit(position: int) -> bool:
            nonlocal visited
            visited += 1
            if visited > _LISTING_NODES:
                return False
            if position == len(candidates):
                if not any(fits_with(c) for c in candidates if not chosen[c]) and self.feasible(chosen, budget):
                    found.append(chosen.copy())
                return len(found) <= limit
            control = candidates[position]
            if fits_with(control):
                place(control, +1)
                complete = visit(position + 1)
                place(control, -1)
                if not complete:
                    return False
            return visit(position + 1)

        return found if visit(0) else None

    # ------------------------------------------------------------------ model
    def _build(self, x) -> tuple[list, cp.Expression]:
        """Constraints and aggregate dual objective for leader variable ``x``."""
        constraints, values = self.dual_blocks(x)
        if not values:
            return constraints, cp.Constant(0.0)
        if self.aggregate == "mean":
            return constraints, cp.sum(cp.hstack(list(values.values()))) / len(values)
        worst = cp.Variable(name="worst_share")
        constraints += [worst >= v for v in values.values()]
        return constraints, worst

    def dual_blocks(self, x) -> tuple[list, dict[int, cp.Expression]]:
        """Constraints linking ``x`` to route closures and one dual block per active sink.

        Returns the constraints and, per active sink index (position in ``sinks``), the
        dual objective divided by the sink's baseline capability: at every feasible point
        it bounds the sink's remaining capability share ``C_d(x)/C_d(0)`` from above, and
        its minimum over the dual variables equals that share.
        """
        # Built on the unit-scaled network (same routes and shares, see unit_scaled).
        net, node_scale = self._scaled
        n, e, r = net.num_nodes, net.num_edges, net.req_node.size
        ec = self.closable.size
        cap = self.capability
        finite = cap._cap_index
        select = sp.csr_matrix((np.ones(finite.size), (finite, np.arange(finite.size))), shape=(n, finite.size))
        to_closable = sp.csr_matrix((np.ones(ec), (self.closable, np.arange(ec))), shape=(e, ec))
        closes_c = self.closes[:, self.closable].T.tocsr()           # (E_c, P)
        z = cp.Variable(ec, name="closed")
        constraints = [z <= 1, z <= closes_c @ x]
        if math.isfinite(self.collateral_cap):
            rows, cols = closes_c.nonzero()
            pick_z = sp.csr_matrix((np.ones(rows.size), (np.arange(rows.size), rows)), shape=(rows.size, ec))
            pick_x = sp.csr_matrix((np.ones(rows.size), (np.arange(rows.size), cols)), shape=(rows.size, self.num_controls))
            constraints += [pick_z @ z >= pick_x @ x, self.collateral[self.closable] @ z <= self.collateral_cap]
        need_t = sp.csr_matrix((net.req_coefficient, (net.req_node, np.arange(r))), shape=(n, r))
        out_t, in_t = cap._out_matrix.T.tocsr(), cap._in_matrix.T.tocsr()
        req_node = net.req_node
        values: dict[int, cp.Expression] = {}
        for index, sink in enumerate(self.sinks):
            if not self.active[index]:
                continue
            # Unit weight on the sink keeps the dual rows' right-hand sides at 1 (a weight
            # of 1/C(0) would sit near solver tolerances); the objective is scaled instead.
            weights = np.zeros(n)
            weights[sink] = 1.0
            node_value, route_value = dual_value_bounds(net, weights)
            # The capacities the defector can use (its headroom on a short-run network).
            view = net.for_sink(int(sink))
            route_bound = tight_route_bounds(view)
            if self.baseline_closed is not None:
                # Closed before any placement: open_e = 0 in the dual objective.
                route_bound = np.where(self.baseline_closed, 0.0, route_bound)
            lam = cp.Variable(finite.size, nonneg=True) if finite.size else None
            alpha = cp.Variable(n, nonneg=True)
            beta = cp.Variable(r, nonneg=True)
            mu = cp.Variable(e, nonneg=True)
            nu = cp.Variable(ec, nonneg=True)
            production = -alpha + need_t @ beta
            objective = route_bound @ mu
            if lam is not None:
                production = production + select @ lam
                objective = objective + view.node_capacity[finite] @ lam
            constraints += [
                production >= weights,
                out_t @ alpha - in_t @ beta + mu + to_closable @ nu >= 0,
                nu <= cp.multiply(route_value[self.closable], z),
                alpha <= node_value - weights,
                beta <= node_value[req_node] / net.req_coefficient,
            ]
            values[index] = objective / (self.baseline[index] / node_scale[sink])
        return constraints, values

    def _milp_problem(self) -> cp.Problem:
        if self._milp is None:
            self._x = cp.Variable(self.num_controls, boolean=True, name="place")
            self._budget = cp.Parameter(nonneg=True, name="budget")
            self._milp_parts = self._build(self._x)
            constraints, objective = self._milp_parts
            self._milp = require_dpp(cp.Problem(cp.Minimize(objective),
                                                constraints + [self.cost @ self._x <= self._budget]),
                                     "interdiction MILP")
        return self._milp

    def _min_cost_problem(self) -> cp.Problem:
        # Built on first use only: most models never solve it, and building it costs a DPP check.
        self._milp_problem()
        if self._min_cost is None:
            constraints, objective = self._milp_parts
            self._target = cp.Parameter(name="target")
            self._min_cost = require_dpp(cp.Problem(cp.Minimize(self.cost @ self._x), constraints + [
                self.cost @ self._x <= self._budget, objective <= self._target]), "min-cost interdiction MILP")
        return self._min_cost

    def _relaxation_problem(self) -> cp.Problem:
        if self._relaxation is None:
            self._x_relaxed = cp.Variable(self.num_controls, name="place_relaxed")
            self._budget_relaxed = cp.Parameter(nonneg=True, name="budget")
            constraints, objective = self._build(self._x_relaxed)
            constraints += [self._x_relaxed >= 0, self._x_relaxed <= 1, self.cost @ self._x_relaxed <= self._budget_relaxed]
            self._relaxation = require_dpp(cp.Problem(cp.Minimize(objective), constraints),
                                           "LP relaxation of the interdiction MILP")
        return self._relaxation

    def _trivial(self, budget: float) -> bool:
        return self.num_controls == 0 or self.closable.size == 0 or not self.active.any()

    # ------------------------------------------------------------------ solves
    def solve(self, budget: float, *, time_limit: float | None = None, solver: str | None = None) -> PlacementResult:
        """Exact placement by the MILP within ``budget`` (and the collateral cap).

        The MILP gets 90 % of the time limit. If it does not prove optimality, the rest
        goes to a greedy placement, and the better of the two is returned with status
        ``time_limit``, the MILP's bound (the LP relaxation's if the MILP had no
        incumbent) and the gap. Controls that add nothing to the exact objective are
        dropped, dearest first, so that among equally good placements a cheaper one is
        reported.

        Raises
        ------
        SolverError
            Typed (see :mod:`optimization.errors`) when the solver fails.
        """
        budget = _check_budget(budget)
        started = time.perf_counter()
        empty = np.zeros(self.num_controls, dtype=bool)
        if self._trivial(budget):
            return self.result_for(empty, bound=self.evaluate(empty)[0], status="optimal", proven=True,
                                   seconds=time.perf_counter() - started, method="milp")
        exhaustive = self._solve_by_exhaustion(budget, started)
        if exhaustive is not None:
            return exhaustive
        problem = self._milp_problem()
        self._budget.value = budget
        limit = time_limit or self.time_limit
        deadline = started + limit
        notes: tuple[str, ...] = ()
        try:
            # 90 % of the limit to the MILP, the rest to a greedy incumbent if it is not proven.
            outcome = solve_milp(problem, solver=solver or self.solver, time_limit=0.9 * limit,
                                 what="interdiction MILP")
        except SolverLimitError:
            # No incumbent at the time limit: the LP relaxation still gives a valid bound.
            outcome = None
            chosen = empty
            try:
                bound, _ = self.relaxation_bound(budget, time_limit=max(deadline - time.perf_counter(), 0.1 * limit))
                notes = ("the MILP found no incumbent within the time limit; bound from the LP relaxation",)
            except SolverLimitError:
                bound = 0.0     # capability shares are non-negative
                notes = ("the MILP found no incumbent and the LP relaxation ran out of time; bound 0",)
        else:
            chosen = np.asarray(self._x.value) > 0.5
            bound = outcome.bound
            if not self.feasible(chosen, budget):
                # Rounding a binary that sat within tolerance of 1 can overshoot; fall back safely.
                notes = ("rounded MILP placement broke budget or collateral cap; kept the best feasible",)
                chosen = empty
        proven = outcome is not None and outcome.proven
        # Among equally good placements prefer cheaper ones: drop controls that add nothing.
        chosen = prune(self, chosen)
        if not proven:
            candidate = greedy_placement(self, budget, deadline=deadline)
            if self.evaluate(candidate)[0] < self.evaluate(chosen)[0]:
                chosen = candidate
                notes = (*notes, "greedy incumbent better than the MILP's at the time limit")
        return self.result_for(chosen, bound=bound, status=outcome.status if outcome else "time_limit", proven=proven,
                               seconds=time.perf_counter() - started, method="milp",
                               milp_objective=outcome.objective if outcome else math.nan,
                               solver_status=outcome.solver_status if outcome else "no_incumbent", notes=notes)

    def _solve_by_exhaustion(self, budget: float, started: float) -> PlacementResult | None:
        """The proven optimum by evaluating every maximal feasible placement, when that takes
        at most ``enumeration_limit`` capability LPs (None otherwise).

        Among placements whose exact objectives tie within the pruning tolerance, the cheapest
        (then the one with fewer controls, then the first) is kept, and controls that add
        nothing are dropped as after the MILP, so the report does not depend on the order of
        the search. The bound is the least objective found: exact by exhaustion
        (:meth:`maximal_placements`).
        """
        sinks = int(self.active.sum())
        if self.enumeration_limit < sinks:
            return None
        placements = self.maximal_placements(budget, self.enumeration_limit // sinks)
        if placements is None:
            return None
        # Each placement is inside their union, so no sink keeps less than with the union closed
        # (one LP per sink; with a single placement the union is that placement, memoised).
        floor = self._shares(np.logical_or.reduce(placements))
        values = np.full(len(placements), np.inf)
        for k, chosen in enumerate(placements):
            value = self._value_unless_above(chosen, floor, float(values.min()) + _TIE_TOLERANCE)
            if value is not None:
                values[k] = value
        least = float(values.min())
        tied = [k for k in np.flatnonzero(values <= least + _TIE_TOLERANCE)]
        best = min(tied, key=lambda k: (float(self.cost[placements[k]].sum()), int(placements[k].sum()), k))
        chosen = prune(self, placements[best], tolerance=_TIE_TOLERANCE)
        return self.result_for(chosen, bound=least, status="optimal", proven=True,
                               seconds=time.perf_counter() - started, method="enumeration",
                               solver_status=f"{len(placements)} maximal placements evaluated")

    def _shares(self, chosen_mask: np.ndarray) -> np.ndarray:
        """Remaining capability share of each active sink under a placement."""
        closed = self.closed_routes(chosen_mask)
        return np.array([self._share(index, closed) for index in np.flatnonzero(self.active)])

    def _share(self, index: int, closed: np.ndarray) -> float:
        """Remaining capability share of the active sink at ``index`` with ``closed`` routes shut."""
        return self.capability_after(self.sinks[index], closed).value / self.baseline[index]

    def _value_unless_above(self, chosen_mask: np.ndarray, floor: np.ndarray, limit: float) -> float | None:
        """The exact objective of a placement (as :meth:`evaluate`), or None once it is proven
        above ``limit``: the active sinks are solved one at a time, those not yet solved counted
        at their ``floor`` share (a lower bound), and the aggregate of that mix, a lower bound
        of the objective, is compared with ``limit`` after each."""
        closed = self.closed_routes(chosen_mask)
        shares = floor.copy()
        for position, index in enumerate(np.flatnonzero(self.active)):
            shares[position] = self._share(index, closed)
            if self._aggregate_active(shares) > limit:
                return None
        return self._aggregate_active(shares)

    def _aggregate_active(self, shares: np.ndarray) -> float:
        if shares.size == 0:
            return 0.0
        return float(shares.mean() if self.aggregate == "mean" else shares.max())

    def relaxation_bound(self, budget: float, *, time_limit: float | None = None) -> tuple[float, np.ndarray]:
        """LP-relaxation bound (controls fractional) and the fractional placement.

        A valid lower bound on the best objective within ``budget``: the relaxation's
        feasible set contains every binary placement.
        """
        budget = _check_budget(budget)
        if self._trivial(budget):
            return self.evaluate(np.zeros(self.num_controls, dtype=bool))[0], np.zeros(self.num_controls)
        problem = self._relaxation_problem()
        self._budget_relaxed.value = budget
        solve_checked(problem, solver_options("HIGHS", time_limit or self.time_limit),
                      "LP relaxation of the interdiction MILP")
        return float(problem.value), np.clip(np.asarray(self._x_relaxed.value, dtype=np.float64), 0.0, 1.0)

    def min_cost(self, target: float, *, max_budget: float = math.inf, time_limit: float | None = None,
                 solver: str | None = None) -> "MinCostResult | None":
        """Cheapest placement whose objective is at most ``target`` (``None`` if none exists).

        The dual objective bounds ``C(x)`` from above at every dual-feasible point, so
        ``objective ≤ target`` in the MILP holds iff the placement's exact value does
        (up to solver tolerances; the placement is re-evaluated exactly).
        """
        started = time.perf_counter()
        if self._trivial(0.0):
            return None
        problem = self._min_cost_problem()
        self._budget.value = min(float(max_budget), float(self.cost.sum()))
        self._target.value = float(target)
        try:
            outcome = solve_milp(problem, solver=solver or self.solver,
                                 time_limit=time_limit or self.time_limit, what="min-cost interdiction MILP")
        except InfeasibleError:
            return None
        chosen = np.asarray(self._x.value) > 0.5
        placement = self.result_for(chosen, bound=-math.inf, status=outcome.status, proven=False,
                                    seconds=time.perf_counter() - started, method="milp",
                                    milp_objective=outcome.objective, solver_status=outcome.solver_status)
        return MinCostResult(placement=placement, proven=outcome.proven, cost_bound=outcome.bound,
                             seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class MinCostResult:
    """The cheapest placement reaching a target: its exact evaluation, whether its cost
    is proven minimal, and the proven lower bound on that cost."""

    placement: PlacementResult
    proven: bool
    cost_bound: float
    seconds: float


def _check_budget(budget: float) -> float:
    budget = float(budget)
    if not (budget >= 0 and math.isfinite(budget)):
        raise ValueError("budget must be a finite non-negative number")
    return budget


def interdict_max_flow(num_nodes: int, src, dst, capacity, *, source: int, sink: int, budget: float,
                       cost=None, controllable=None, solver: str = "HIGHS", time_limit: float = 60.0,
                       enumeration_limit: int = ENUMERATION_LIMIT):
    """Max-flow interdiction (remove arcs within a budget to minimise the s–t max-flow).

    The AND/OR model with one input type and every coefficient 1
    (:func:`graph.network.max_flow_network`) and one control per controllable arc.

    Returns
    -------
    result : PlacementResult
        ``result.chosen`` indexes ``arcs``.
    arcs : numpy.ndarray of int
        Input arc of each control: the controllable arcs except those into the source
        or out of the sink, which carry no s–t flow (:func:`max_flow_network` drops them).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    capacity = np.asarray(capacity, dtype=np.float64)
    cost = np.ones(src.size) if cost is None else np.asarray(cost, dtype=np.float64)
    controllable = np.ones(src.size, dtype=bool) if controllable is None else np.asarray(controllable, dtype=bool)
    kept = np.flatnonzero((dst != source) & (src != sink))
    network = max_flow_network(num_nodes, src[kept], dst[kept], capacity[kept], source=source, sink=sink)
    arcs = np.flatnonzero(controllable[kept])
    closes = sp.csr_matrix((np.ones(arcs.size), (np.arange(arcs.size), arcs)), shape=(arcs.size, kept.size))
    model = InterdictionModel(network, [sink], closes, cost[kept][arcs], solver=solver, time_limit=time_limit,
                              enumeration_limit=enumeration_limit)
    return model.solve(budget), kept[arcs]
