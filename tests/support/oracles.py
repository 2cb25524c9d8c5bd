"""Independent references for cross-checks: the capability LP written out from its
definition for scipy's ``linprog`` (no cvxpy, none of the project's models), subset
enumeration for brute force, and the recursive producibility definition with closed routes.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

__all__ = ["PlainLP", "plain_capability", "placements_within", "brute_force_producible_with_routes"]


class PlainLP:
    """Capability LP from its definition, for scipy's linprog (variables [y, f]).

    maximise y_sink s.t. out-flow(v) − y_v ≤ 0; a_r y_v − in-flow(r) ≤ 0;
    0 ≤ y ≤ cap; 0 ≤ f ≤ route capacity (0 when closed). Built once per network.
    """

    def __init__(self, network):
        n, e = network.num_nodes, network.num_edges
        self.n, self.network = n, network
        rows = np.arange(e)
        out_rows = sp.csr_matrix((np.ones(e), (network.edge_src, rows)), shape=(n, e))
        ship = sp.hstack([-sp.identity(n), out_rows])
        need_rows = []
        for v, k, a in zip(network.req_node, network.req_input, network.req_coefficient):
            mask = ((network.edge_dst == v) & (network.edge_input == k)).astype(float)
            y_part = sp.csr_matrix(([a], ([0], [v])), shape=(1, n))
            need_rows.append(sp.hstack([y_part, -sp.csr_matrix(mask)]))
        self.a_ub = sp.vstack([ship, *need_rows]).tocsr()
        self.node_bounds = [(0, c if np.isfinite(c) else None) for c in network.node_capacity]
        # Brute-force checks of several solution paths ask for the same LPs: each is solved once.
        self._values: dict[tuple, float] = {}

    def value(self, sink, closed, weights=None) -> float:
        """max y_sink (or, with ``weights``, max weights · y) with the ``closed`` routes shut."""
        key = (None if sink is None else int(sink), np.packbits(np.asarray(closed, dtype=bool)).tobytes(),
               None if weights is None else np.asarray(weights, dtype=float).tobytes())
        if key not in self._values:
            self._values[key] = self._solve(sink, closed, weights)
        return self._values[key]

    def _solve(self, sink, closed, weights) -> float:
        net = self.network
        bounds = self.node_bounds + [(0, 0 if shut else (c if np.isfinite(c) else None))
                                     for c, shut in zip(net.edge_capacity, closed)]
        objective = np.zeros(self.a_ub.shape[1])
        if weights is None:
            objective[sink] = -1.0
        else:
            objective[:self.n] = -np.asarray(weights, dtype=float)
        result = linprog(objective, A_ub=self.a_ub, b_ub=np.zeros(self.a_ub.shape[0]), bounds=bounds, method="highs")
        assert result.status == 0, result.message
        return -result.fun


_PLAIN: dict[int, PlainLP] = {}


def plain_capability(network, sink, closed, weights=None) -> float:
    if id(network) not in _PLAIN:
        _PLAIN[id(network)] = PlainLP(network)
    return _PLAIN[id(network)].value(sink, closed, weights)


def placements_within(cost, budget, closes=None, collateral=None, cap=math.inf):
    """Every subset of controls with total cost ≤ budget (and collateral ≤ cap)."""
    p = len(cost)
    for size in range(p + 1):
        for subset in itertools.combinations(range(p), size):
            if sum(cost[i] for i in subset) > budget + 1e-9:
                continue
            if math.isfinite(cap):
                closed = closes[list(subset)].any(axis=0) if subset else np.zeros(closes.shape[1], bool)
                if collateral[closed].sum() > cap + 1e-9:
                    continue
            yield subset


def brute_force_producible_with_routes(network, removed=frozenset(), closed=frozenset()):
    """Recursive definition with closed routes, written independently of the level code."""
    suppliers: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for e, (s, d, k) in enumerate(zip(network.edge_src, network.edge_dst, network.edge_input)):
        suppliers.setdefault((int(d), int(k)), []).append((e, int(s)))
    needs: dict[int, list[int]] = {}
    for v, k in zip(network.req_node, network.req_input):
        needs.setdefault(int(v), []).append(int(k))

    @functools.lru_cache(maxsize=None)
    def ok(v: int) -> bool:
        if v in removed or not network.node_capacity[v] > 0:
            return False
        return all(any(e not in closed and ok(u) for e, u in suppliers.get((v, k), [])) for k in needs.get(v, []))

    return np.array([ok(v) for v in range(network.num_nodes)])
