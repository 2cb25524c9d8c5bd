"""Capability LP: the most AI compute an actor can obtain from the AND/OR network.

Variables: production ``y_v >= 0`` at every node, flow ``f_e >= 0`` on every route.

maximise    y_s                                  (s: the actor's sink)
subject to  y_v <= cap_v                         (node capacity, finite ones)
            sum_{e out of v} f_e <= y_v          (ship no more than is made)
            sum_{e into v carrying k} f_e >= a[v,k] y_v   (AND over input types)
            f_e <= M_e * open_e                  (route capacity; open_e in [0, 1])

``M_e = min(cap_e, bound(src e))`` where ``bound`` is the throughput bound implied by
capacities and recipes (:func:`graph.failure.throughput_bound`): finite
whenever the capability is, derived from data, never guessed. Closing a route
(``open_e = 0``) is how controls act. With one input type and ``a = 1`` this is the
s–t max-flow LP.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from graph.dag import upstream_of
from graph.failure import throughput_bound
from graph.network import SupplyNetwork
from optimization.capability_highs import HighsCapabilityLp
from optimization.errors import UnboundedError
from optimization.solvers import lp_solver_options, require_dpp, solve_checked

__all__ = ["CapabilityResult", "CapabilityModel", "route_bounds", "relative_loss", "LOSS_FLOOR"]

#: Relative capability losses at or below this are LP round-off and reported as 0: each
#: capability is certified to a duality gap of about 1e-9, and two solves of the same
#: capability from different starting bases can differ in their last bits.
LOSS_FLOOR = 1e-9


def relative_loss(before, after) -> np.ndarray:
    """``(before − after) / before`` clipped to [0, 1]; 0 where ``before ≤ 0`` or the loss is
    round-off (≤ :data:`LOSS_FLOOR`). Leverage, removal and coalition losses all use it."""
    before, after = np.broadcast_arrays(np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64))
    loss = np.divide(before - after, before, out=np.zeros(before.shape), where=before > 0)
    return np.where(loss > LOSS_FLOOR, np.minimum(loss, 1.0), 0.0)


@dataclass(frozen=True)
class CapabilityResult:
    """Outcome of one capability solve (always a proven optimum).

    ``route_dual`` is the shadow price of each route's capacity constraint: the
    first-order capability gain per unit of extra capacity on that route, so
    ``route_dual * M`` ranks routes by what closing them could cost the actor.
    ``duality_gap`` is |primal − dual| / max(1, |primal|) from the returned duals;
    ``max_residual`` the largest primal constraint violation.
    """

    value: float
    status: str
    production: np.ndarray
    flow: np.ndarray
    route_dual: np.ndarray
    duality_gap: float
    max_residual: float
    seconds: float
    solver: str


def route_bounds(network: SupplyNetwork) -> np.ndarray:
    """Data-derived upper bound ``M_e`` on the flow each route can carry."""
    return np.minimum(network.edge_capacity, throughput_bound(network)[network.edge_src])


def _finite_route_bounds(network: SupplyNetwork) -> np.ndarray:
    """:func:`route_bounds`, refused with the first route left unbounded.

    Edges whose bound stays infinite cannot carry more than an unbounded source provides;
    any such edge makes some capability unbounded.
    """
    bound = route_bounds(network)
    unbounded = ~np.isfinite(bound)
    if unbounded.any():
        first = int(np.flatnonzero(unbounded)[0])
        names = network.node_names
        label = f"{names[network.edge_src[first]]} -> {names[network.edge_dst[first]]}" if names else str(first)
        raise UnboundedError("capability LP", "unbounded",
                             f"route {label} has no finite capacity upstream; give it or its suppliers a capacity")
    return bound


def _restricted(result: CapabilityResult, nodes: np.ndarray, routes: np.ndarray) -> CapabilityResult:
    """``result`` with production, flows and route duals zero off ``nodes`` / ``routes``
    (see :meth:`CapabilityModel.solve_closed`)."""
    return dataclasses.replace(result, production=np.where(nodes, result.production, 0.0),
                               flow=np.where(routes, result.flow, 0.0),
                               route_dual=np.where(routes, result.route_dual, 0.0))


class CapabilityModel:
    """The capability LP of a network, built once and re-solved per actor and placement.

    Node and route capacities are ``cp.Parameter``s set for each solve from the network
    as the solving actor sees it (:meth:`graph.network.SupplyNetwork.for_sink`): the
    physical capacities on a long-run network, the actor's headroom on a short-run one.
    With HiGHS the same LP goes to HiGHS as arrays and the capacities as column bounds,
    without cvxpy on the way (``docs/design.md#41-capability-lp``).

    Parameters
    ----------
    network : SupplyNetwork
    solver : {"HIGHS", "SCIP"}
    time_limit : float
        Seconds per solve.
    highs_arrays : bool
        With HiGHS, solve the LP handed to HiGHS as arrays, one kept instance per objective
        (:class:`optimization.capability_highs.HighsCapabilityLp`); False solves this
        model's cvxpy problem through cvxpy's HiGHS interface instead (the reference the
        tests and benchmarks compare with).

    Raises
    ------
    UnboundedError
        If some route into a sink has no finite bound (missing capacity data).
    """

    def __init__(self, network: SupplyNetwork, *, solver: str = "HIGHS", time_limit: float = 60.0,
                 highs_arrays: bool = True):
        self.network = network
        self.solver = solver.upper()
        self.options = lp_solver_options(self.solver, time_limit)
        n, e = network.num_nodes, network.num_edges
        self.bound = _finite_route_bounds(network)
        finite_cap = np.flatnonzero(np.isfinite(network.node_capacity))
        self._route_bounds: dict[int, np.ndarray] = {}
        self.y = cp.Variable(n, nonneg=True, name="production")
        self.f = cp.Variable(e, nonneg=True, name="flow")
        # Route bound times openness, and node capacities: data of the solving actor.
        self.route_cap = cp.Parameter(e, nonneg=True, value=np.nan_to_num(self.bound, posinf=0.0), name="route_cap")
        # cvxpy has no zero-length parameters; max-flow instances have no node caps.
        self.capacity = cp.Parameter(finite_cap.size, nonneg=True, value=network.node_capacity[finite_cap],
                                     name="node_capacity") if finite_cap.size else None
        self.weights = cp.Parameter(n, value=np.zeros(n), name="objective_weights")
        rows = np.arange(e)
        out_matrix = sp.csr_matrix((np.ones(e), (network.edge_src, rows)), shape=(n, e))
        edge_req = network.edge_requirement()
        r = network.req_node.size
        in_matrix = sp.csr_matrix((np.ones(e), (edge_req, rows)), shape=(r, e))
        need_matrix = sp.csr_matrix((network.req_coefficient, (np.arange(r), network.req_node)), shape=(r, n))
        self._cap_index = finite_cap
        self._out_matrix, self._in_matrix, self._need_matrix = out_matrix, in_matrix, need_matrix
        self.c_capacity = self.y[finite_cap] <= self.capacity if finite_cap.size else None
        self.c_out = out_matrix @ self.f <= self.y
        self.c_need = in_matrix @ self.f >= need_matrix @ self.y
        self.c_route = self.f <= self.route_cap
        constraints = [c for c in (self.c_capacity, self.c_out, self.c_need, self.c_route) if c is not None]
        self.problem = require_dpp(cp.Problem(cp.Maximize(self.weights @ self.y), constraints), "capability LP")
        # HiGHS gets the same LP as arrays, kept and hot-started per objective; SCIP goes through cvxpy.
        self._highs = (HighsCapabilityLp(out_matrix, in_matrix, need_matrix, time_limit=time_limit)
                       if self.solver == "HIGHS" and highs_arrays else None)
        self._dual = None
        self._memo: dict = {}
        self._reaching: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def route_bound(self, sink: int) -> np.ndarray:
        """Data-derived bound ``M_e`` on each route's flow for the actor of ``sink``
        (:func:`route_bounds` of the network as that actor sees it; memoised)."""
        sink = int(sink)
        if sink not in self._route_bounds:
            view = self.network.for_sink(sink)
            self._route_bounds[sink] = self.bound if view is self.network else route_bounds(view)
        return self._route_bounds[sink]

    def _dual_problem(self):
        """The explicit LP dual, for solvers whose LP duals cvxpy does not return reliably.

        minimise  sum_v cap_v lam_v + sum_e M_e open_e mu_e
        s.t.      lam_v [v finite] - alpha_v + sum_{r at v} a_r beta_r >= w_v   (for y_v)
                  alpha_{src e} - beta_{req e} + mu_e >= 0                      (for f_e)
                  lam, alpha, beta, mu >= 0
        """
        if self._dual is None:
            net = self.network
            n, e, r = net.num_nodes, net.num_edges, net.req_node.size
            lam = cp.Variable(self._cap_index.size, nonneg=True) if self._cap_index.size else None
            alpha = cp.Variable(n, nonneg=True)
            beta = cp.Variable(r, nonneg=True)
            mu = cp.Variable(e, nonneg=True)
            select = sp.csr_matrix((np.ones(self._cap_index.size), (self._cap_index, np.arange(self._cap_index.size))),
                                   shape=(n, self._cap_index.size))
            for_y = -alpha + self._need_matrix.T @ beta
            objective = self.route_cap @ mu
            if lam is not None:
                for_y = for_y + select @ lam
                objective = objective + self.capacity @ lam
            constraints = [for_y >= self.weights, self._out_matrix.T @ alpha - self._in_matrix.T @ beta + mu >= 0]
            problem = require_dpp(cp.Problem(cp.Minimize(objective), constraints), "dual of the capability LP")
            self._dual = (problem, mu)
        return self._dual

    def solve(self, sink: int, route_open: np.ndarray | None = None) -> CapabilityResult:
        """Maximum production at node ``sink`` with the given routes open.

        Parameters
        ----------
        sink : int
            Node index whose production is maximised.
        route_open : array (E,), optional
            1 for open, 0 for closed (fractions scale capacity). Default: all open.
        """
        return self._solve_sink(int(sink), self.route_bound(sink), self.network.for_sink(sink), route_open)

    def solve_on(self, network: SupplyNetwork, sink: int, route_open: np.ndarray | None = None) -> CapabilityResult:
        """:meth:`solve` of ``network`` — this model's network with other capacities (the same
        nodes, routes and recipes) — on this model's LP, which is not built again.

        Capacities and route bounds are parameters of the LP, so a network that differs only
        in them (a sensitivity run that scales an actor's capacities) needs no new model.

        Raises
        ------
        ValueError
            If ``network`` differs from the model's in anything but capacities, or has a
            finite node capacity where the model's has none (or the reverse).
        UnboundedError
            As the constructor, for a route of ``network`` without a finite bound.
        """
        own = self.network
        same = (network.num_nodes == own.num_nodes and network.num_edges == own.num_edges
                and np.array_equal(network.edge_src, own.edge_src) and np.array_equal(network.edge_dst, own.edge_dst)
                and np.array_equal(network.req_node, own.req_node)
                and np.array_equal(network.req_coefficient, own.req_coefficient)
                and np.array_equal(network.edge_requirement(), own.edge_requirement())
                and np.array_equal(np.flatnonzero(np.isfinite(network.node_capacity)), self._cap_index))
        if not same:
            raise ValueError("solve_on needs the model's network with other capacities only (same nodes, routes, "
                             "recipes and capacitated nodes)")
        view = network.for_sink(int(sink))
        return self._solve_sink(int(sink), _finite_route_bounds(view), view, route_open)

    def _solve_sink(self, sink: int, bound: np.ndarray, view: SupplyNetwork, route_open) -> CapabilityResult:
        """Production at ``sink`` with the route bounds and node capacities of ``view`` (the
        network as the sink's actor sees it)."""
        weights = np.zeros(self.network.num_nodes)
        weights[sink] = 1.0
        names = self.network.node_names
        return self._solve(weights, bound, view.node_capacity[self._cap_index], route_open,
                           f"capability LP of {names[sink] if names else sink}")

    def solve_closed(self, sink: int, closed: np.ndarray, *, memo: dict | None = None) -> CapabilityResult:
        """:meth:`solve` with the ``closed`` routes shut, memoised.

        The memo (``memo``, default the model's own) is keyed by the closed routes on some
        path to ``sink`` only (:meth:`graph.network.SupplyNetwork.routes_reaching`), and the
        result it keeps is an optimal primal–dual pair of every LP with that key: production,
        flows and route duals of the nodes and routes that cannot reach ``sink`` set to zero.
        Why that is exact: shipping less than is made is allowed, so zero flow into those
        nodes stays feasible with the same value; zeroing their duals keeps the dual
        feasible (their constraints hold with zeros, and the constraints of the other
        nodes only gain slack) without raising the dual objective, so it stays optimal —
        and with zero duals on those routes it does not depend on whether they are open.
        Placements that differ only where no flow to ``sink`` can pass share one solve.
        """
        sink = int(sink)
        closed = np.asarray(closed, dtype=bool)
        nodes, routes = self._upstream(np.array([sink]))
        key = (sink, np.packbits(closed & routes).tobytes())
        memo = self._memo if memo is None else memo
        if key not in memo:
            memo[key] = _restricted(self.solve(sink, (~closed).astype(np.float64)), nodes, routes)
        return memo[key]

    def solve_weighted_closed(self, weights: np.ndarray, closed: np.ndarray, *,
                              label: str = "weighted production LP") -> CapabilityResult:
        """:meth:`solve_weighted` with the ``closed`` routes shut, memoised as in
        :meth:`solve_closed` by the closed routes on some path to a node of positive weight."""
        weights = np.asarray(weights, dtype=np.float64)
        closed = np.asarray(closed, dtype=bool)
        nodes, routes = self._upstream(np.flatnonzero(weights > 0))
        key = ("weighted", weights.tobytes(), np.packbits(closed & routes).tobytes())
        if key not in self._memo:
            self._memo[key] = _restricted(self.solve_weighted(weights, (~closed).astype(np.float64), label=label),
                                          nodes, routes)
        return self._memo[key]

    def _upstream(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nodes from which a target can be reached, and the routes into them."""
        key = np.asarray(targets, dtype=np.int64).tobytes()
        if key not in self._reaching:
            net = self.network
            nodes = upstream_of(net.num_nodes, net.edge_src, net.edge_dst, targets)
            self._reaching[key] = (nodes, nodes[net.edge_dst])
        return self._reaching[key]

    def solve_weighted(self, weights: np.ndarray, route_open: np.ndarray | None = None, *,
                       label: str = "weighted production LP") -> CapabilityResult:
        """Maximum of ``weights · y`` (production at several nodes at once) with the given
        routes open, on the physical capacities (no actor's headroom).

        Parameters
        ----------
        weights : array (N,)
            Non-negative weight of each node's production.
        route_open : array (E,), optional
            As in :meth:`solve`.
        label : str
            Names the LP in errors.
        """
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.network.num_nodes,) or np.isnan(weights).any() or (weights < 0).any():
            raise ValueError("weights must hold one non-negative number per node")
        return self._solve(weights, self.bound, self.network.node_capacity[self._cap_index], route_open, label)

    def _solve(self, weights: np.ndarray, bound: np.ndarray, capacity: np.ndarray, route_open, label: str):
        net = self.network
        open_ = np.ones(net.num_edges) if route_open is None else np.asarray(route_open, dtype=np.float64)
        if open_.shape != (net.num_edges,) or np.isnan(open_).any() or open_.min() < 0:
            raise ValueError("route_open must hold one non-negative number per route")
        route_upper = bound * open_
        started = time.perf_counter()
        if self._highs is not None:
            node_upper = np.full(net.num_nodes, np.inf)
            node_upper[self._cap_index] = capacity
            solution = self._highs.solve(weights, node_upper, route_upper, label)
            seconds = time.perf_counter() - started
            y, f = np.maximum(solution.production, 0.0), np.maximum(solution.flow, 0.0)
            value, route_dual = solution.value, solution.route_dual
            dual_objective = float(np.dot(route_upper, route_dual)
                                   + np.dot(capacity, solution.production_dual[self._cap_index]))
            status = "optimal"
        else:
            self.weights.value = weights
            self.route_cap.value = route_upper
            if self._cap_index.size:
                self.capacity.value = capacity
            solve_checked(self.problem, self.options, label)
            seconds = time.perf_counter() - started
            y = np.maximum(self.y.value, 0.0)
            f = np.maximum(self.f.value, 0.0)
            value, status = float(self.problem.value), self.problem.status
            if self.solver == "HIGHS":
                route_dual = np.asarray(self.c_route.dual_value, dtype=np.float64)
                dual_objective = float(np.dot(route_upper, route_dual))
                if self.c_capacity is not None:
                    dual_objective += float(np.dot(capacity, self.c_capacity.dual_value))
            else:
                # cvxpy's SCIP interface returns unreliable LP duals; solve the dual LP itself.
                dual_problem, mu = self._dual_problem()
                solve_checked(dual_problem, self.options, "dual of the capability LP")
                route_dual = np.maximum(np.asarray(mu.value, dtype=np.float64), 0.0)
                dual_objective = float(dual_problem.value)
        gap = abs(value - dual_objective) / max(1.0, abs(value))
        residual = max(
            float(np.max(y[self._cap_index] - capacity, initial=0.0)),
            float(np.max(self._out_matrix @ f - y, initial=0.0)),
            float(np.max(self._need_matrix @ y - self._in_matrix @ f, initial=0.0)),
            float(np.max(f - route_upper, initial=0.0)),
        )
        return CapabilityResult(value=value, status=status, production=y, flow=f,
                                route_dual=route_dual, duality_gap=gap, max_residual=residual,
                                seconds=seconds, solver=self.solver)
