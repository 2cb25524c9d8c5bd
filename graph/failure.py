"""AND/OR producibility and single points of failure.

A node is *producible* when it has capacity, is not removed, and for every input
type in its recipe at least one open route brings that input from a producible node.
A *single point of failure* of a sink is a node (or a set, e.g. a whole country)
whose removal makes the sink unproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.network import PRODUCER, SupplyNetwork

__all__ = ["Propagation", "producible", "throughput_bound", "single_points_of_failure", "country_single_points_of_failure"]


@dataclass(frozen=True)
class Propagation:
    """Precomputed level structure for repeated producibility propagation.

    Built once per network (O(V + E)); each :meth:`run` is O(V + E) numpy work in
    ``depth`` vectorised steps.
    """

    network: SupplyNetwork
    level: np.ndarray            # longest-path depth of each node from the sources
    edge_order: np.ndarray       # edges sorted by level of their target
    level_bounds: np.ndarray     # edge_order[level_bounds[L]:level_bounds[L+1]] enter level L
    edge_req: np.ndarray         # requirement row served by each edge
    req_level: np.ndarray

    @classmethod
    def of(cls, network: SupplyNetwork) -> "Propagation":
        level = _levels(network)
        edge_level = level[network.edge_dst]
        order = np.argsort(edge_level, kind="stable")
        depth = int(level.max()) + 1 if level.size else 0
        bounds = np.searchsorted(edge_level[order], np.arange(depth + 1))
        return cls(network=network, level=level, edge_order=order, level_bounds=bounds,
                   edge_req=network.edge_requirement(), req_level=level[network.req_node])

    def run(self, removed: np.ndarray | None = None, route_open: np.ndarray | None = None) -> np.ndarray:
        """Boolean array: which nodes are producible.

        Parameters
        ----------
        removed : bool array (N,), optional
            Nodes taken out.
        route_open : bool array (E,), optional
            Routes still open (default: all).
        """
        net = self.network
        ok = net.node_capacity > 0
        if removed is not None:
            ok &= ~np.asarray(removed, dtype=bool)
        open_ = np.ones(net.num_edges, dtype=bool) if route_open is None else np.asarray(route_open, dtype=bool)
        n_req = net.req_node.size
        for lvl in range(self.level_bounds.size - 1):
            edges = self.edge_order[self.level_bounds[lvl]:self.level_bounds[lvl + 1]]
            live = edges[ok[net.edge_src[edges]] & open_[edges]]
            supplied = np.bincount(self.edge_req[live], minlength=n_req) > 0
            at_level = self.req_level == lvl
            unmet = at_level & ~supplied
            ok[net.req_node[unmet]] = False
        return ok


def _levels(network: SupplyNetwork) -> np.ndarray:
    """Longest-path depth by Kahn's algorithm, one vectorised step per depth.

    Raises ValueError if the network has a directed cycle.
    """
    n = network.num_nodes
    src, dst = network.edge_src, network.edge_dst
    indeg = np.bincount(dst, minlength=n)
    level = np.zeros(n, dtype=np.int64)
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], np.arange(n + 1))
    frontier = np.flatnonzero(indeg == 0)
    done = 0
    depth = 0
    while frontier.size:
        done += frontier.size
        level[frontier] = depth
        counts = starts[frontier + 1] - starts[frontier]
        idx = np.repeat(starts[frontier], counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        targets = dst[order[idx]]
        np.subtract.at(indeg, targets, 1)
        frontier = np.unique(targets[indeg[targets] == 0])
        depth += 1
    if done != n:
        raise ValueError("the production network has a cycle; AND/OR propagation needs a DAG")
    return level


def throughput_bound(network: SupplyNetwork, route_open: np.ndarray | None = None) -> np.ndarray:
    """Upper bound on each node's production implied by capacities and recipes.

    The largest solution of ``bound[v] = min(capacity[v], min_k sum_{routes e carrying
    k into v} min(capacity[e], bound[src e]) / a[v, k])``, found by iterating from the
    node capacities downwards. Works on any directed graph; ``inf`` where nothing
    upstream is bounded (for example on a cycle of unbounded routes).

    Notes
    -----
    Each sweep is O(V + E) numpy work; a DAG of depth D settles in D + 1 sweeps, a
    general graph in at most V + 1.
    """
    net = network
    bound = net.node_capacity.astype(np.float64).copy()
    open_ = np.ones(net.num_edges, dtype=bool) if route_open is None else np.asarray(route_open, dtype=bool)
    edges = np.flatnonzero(open_)
    edge_req = net.edge_requirement()[edges]
    n_req = net.req_node.size
    for _ in range(net.num_nodes + 1):
        carried = np.minimum(net.edge_capacity[edges], bound[net.edge_src[edges]])
        with np.errstate(invalid="ignore"):
            supply = np.bincount(edge_req, weights=carried, minlength=n_req)
        new = bound.copy()
        np.minimum.at(new, net.req_node, supply / net.req_coefficient)
        if np.array_equal(new, bound):
            break
        bound = new
    return bound


def producible(network: SupplyNetwork, removed=None, route_open=None) -> np.ndarray:
    """Which nodes can produce (see module docstring). O(V + E)."""
    return Propagation.of(network).run(removed, route_open)


def single_points_of_failure(network: SupplyNetwork, sink: int, candidates=None, propagation: Propagation | None = None) -> np.ndarray:
    """Nodes whose removal alone makes ``sink`` unproducible.

    Parameters
    ----------
    network : SupplyNetwork
    sink : int
        Node index of the sink.
    candidates : array_like of int, optional
        Nodes to test (default: every producer).
    propagation : Propagation, optional
        Reuse a precomputed level structure.

    Returns
    -------
    numpy.ndarray of int
        Sorted node indices. Empty if the sink is not producible to begin with.

    Notes
    -----
    One propagation per candidate: O(C · (V + E)) for C candidates.
    """
    prop = propagation or Propagation.of(network)
    base = prop.run()
    if not base[sink]:
        return np.empty(0, dtype=np.int64)
    if candidates is None:
        candidates = np.flatnonzero((network.node_kind == PRODUCER) & base)
    removed = np.zeros(network.num_nodes, dtype=bool)
    hits = []
    for node in np.asarray(candidates, dtype=np.int64):
        removed[node] = True
        if not prop.run(removed)[sink]:
            hits.append(node)
        removed[node] = False
    return np.array(sorted(hits), dtype=np.int64)


def country_single_points_of_failure(network: SupplyNetwork, sink: int, propagation: Propagation | None = None) -> np.ndarray:
    """Country indices whose loss (every node located there) makes ``sink`` unproducible."""
    prop = propagation or Propagation.of(network)
    if not prop.run()[sink]:
        return np.empty(0, dtype=np.int64)
    hits = []
    for country in np.unique(network.node_country[network.node_country >= 0]):
        if not prop.run(network.node_country == country)[sink]:
            hits.append(int(country))
    return np.array(hits, dtype=np.int64)
