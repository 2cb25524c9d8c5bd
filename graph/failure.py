"""AND/OR producibility, single points of failure, and flow that survives a removal.

A node is *producible* when it has capacity, is not removed, and for every input
type in its recipe at least one open route brings that input from a producible node.
A *single point of failure* of a sink is a node (or a set, e.g. a whole country or
every route of an embargo) whose removal makes the sink unproducible.

All single points of failure of every node come from one pass in topological order
(:func:`essential_sets`); :func:`single_points_of_failure_by_removal` is the
one-propagation-per-candidate definition, kept as the reference it is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph.arrays import concat_ranges

from graph.network import PRODUCER, SupplyNetwork

__all__ = [
    "Propagation",
    "producible",
    "throughput_bound",
    "EssentialSets",
    "essential_sets",
    "single_points_of_failure",
    "single_points_of_failure_by_removal",
    "country_single_points_of_failure",
    "surviving_fraction",
]


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



@dataclass(frozen=True)
class EssentialSets:
    """For every producible node, the labels whose single removal makes it unproducible.

    Labels: node ``v`` is label ``v``; group ``g`` of family ``f`` is label
    ``families[f][0] + g``. ``start[v]``, ``length[v]`` locate node ``v``'s sorted
    labels in ``labels``; nodes that are not producible to begin with have none.
    """

    producible: np.ndarray
    start: np.ndarray
    length: np.ndarray
    labels: np.ndarray
    families: dict
    space: int

    def of(self, node: int) -> np.ndarray:
        """Sorted labels essential to ``node`` (itself included)."""
        s = int(self.start[node])
        return self.labels[s:s + int(self.length[node])]

    def nodes(self, node: int) -> np.ndarray:
        """Other nodes whose removal alone makes ``node`` unproducible (sorted)."""
        labels = self.of(node)
        return labels[(labels < self.producible.size) & (labels != node)]

    def groups(self, node: int, family: str) -> np.ndarray:
        """Groups of ``family`` whose removal alone makes ``node`` unproducible (sorted)."""
        offset, size = self.families[family]
        labels = self.of(node)
        return labels[(labels >= offset) & (labels < offset + size)] - offset

    @property
    def total_size(self) -> int:
        return int(self.length.sum())


def _group_labels(groups: dict, size: int, offset: int, what: str) -> tuple[list[np.ndarray], dict, int]:
    columns, families = [], {}
    for name, values in groups.items():
        values = np.asarray(values)
        if values.shape != (size,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{what} group '{name}' must be an integer array of length {size}")
        count = int(values.max()) + 1 if values.size and values.max() >= 0 else 0
        families[name] = (offset, count)
        columns.append(np.where(values >= 0, values.astype(np.int64) + offset, -1))
        offset += count
    return columns, families, offset


def essential_sets(network: SupplyNetwork, *, route_open=None, node_groups: dict | None = None,
                   route_groups: dict | None = None, propagation: Propagation | None = None) -> EssentialSets:
    """Every node's single points of failure, for all nodes at once.

    Parameters
    ----------
    network : SupplyNetwork
        Must be acyclic.
    route_open : bool array (E,), optional
        Routes open before any removal (default: all).
    node_groups : dict of str to int array (N,), optional
        Families of node groups removed together (``-1``: in no group). Default
        ``{"country": network.node_country}``.
    route_groups : dict of str to int array (E,), optional
        Families of route groups closed together, e.g. an embargo of one input on
        one destination (``-1``: in no group).

    Returns
    -------
    EssentialSets

    Notes
    -----
    With removal of a single label ``x`` (a node, a node group or a route group),
    node ``v`` fails iff ``x`` is in

    ``ess(v) = labels(v) ∪ ⋃_{k needed by v} ⋂_{live routes e carrying k into v} (ess(src e) ∪ labels(e))``

    where a route is *live* when it is open and both ends are producible with nothing
    removed (routes from nodes that fail anyway never help). Proof by induction in
    topological order: v fails iff x removes v itself, or for some input k every
    live supplier route is closed by x or comes from a node that x makes fail.

    Computed level by level (longest-path depth), all nodes of a level at once:
    intersections by counting label occurrences per requirement (``numpy.unique`` on
    (requirement, label) keys), unions by sorting (node, label) keys. Time
    O((V + E + S) log(V + E + S)) with S = Σ_e |ess(src e)|, memory O(V + E + S);
    S is small when suppliers are diverse (essential sets stay short) and at most
    O(E · V) in the worst case. The per-candidate alternative,
    :func:`single_points_of_failure_by_removal`, costs O(C (V + E)) for C candidates.

    This is the AND/OR analogue of dominators: with one input type per node and no
    groups, ``ess(v)`` is exactly the set of dominators of ``v`` in the graph with
    a virtual root feeding every node that needs nothing.
    """
    net = network
    n, e_count = net.num_nodes, net.num_edges
    prop = propagation or Propagation.of(net)
    node_cols, families, offset = _group_labels(
        {"country": net.node_country} if node_groups is None else node_groups, n, n, "node")
    route_cols, route_families, space = _group_labels(route_groups or {}, e_count, offset, "route")
    families.update(route_families)
    base = prop.run(route_open=route_open)
    open_ = np.ones(e_count, dtype=bool) if route_open is None else np.asarray(route_open, dtype=bool)
    live = open_ & base[net.edge_src] & base[net.edge_dst]
    live_degree = np.bincount(prop.edge_req[live], minlength=net.req_node.size)
    depth = prop.level_bounds.size - 1
    node_order = np.argsort(prop.level, kind="stable")
    node_bounds = np.searchsorted(prop.level[node_order], np.arange(depth + 1))

    start = np.zeros(n, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    chunks: list[np.ndarray] = []
    stored = 0
    flat = np.empty(0, dtype=np.int64)
    for lvl in range(depth):
        nodes = node_order[node_bounds[lvl]:node_bounds[lvl + 1]]
        nodes = nodes[base[nodes]]
        if not nodes.size:
            continue
        owners = [nodes] + [nodes[col[nodes] >= 0] for col in node_cols]
        members = [nodes.astype(np.int64)] + [col[nodes][col[nodes] >= 0] for col in node_cols]
        edges = prop.edge_order[prop.level_bounds[lvl]:prop.level_bounds[lvl + 1]]
        edges = edges[live[edges]]
        if edges.size:
            if chunks:
                flat = np.concatenate([flat, *chunks])
                chunks = []
            src = net.edge_src[edges]
            counts = length[src]
            owner = np.repeat(np.arange(edges.size), counts)
            label = flat[concat_ranges(start[src], counts)]
            if route_cols:
                extra_owner = np.concatenate([np.flatnonzero(col[edges] >= 0) for col in route_cols])
                extra_label = np.concatenate([col[edges][col[edges] >= 0] for col in route_cols])
                if extra_owner.size:
                    # ess(src) ∪ labels(e) may repeat a label on labelled routes: merge those only.
                    tagged_edge = np.zeros(edges.size, dtype=bool)
                    tagged_edge[extra_owner] = True
                    tagged = tagged_edge[owner]
                    merged = np.unique(np.concatenate([owner[tagged], extra_owner]) * space
                                       + np.concatenate([label[tagged], extra_label]))
                    owner = np.concatenate([owner[~tagged], merged // space])
                    label = np.concatenate([label[~tagged], merged % space])
            req = prop.edge_req[edges][owner]
            key, times = np.unique(req * space + label, return_counts=True)
            req_of_key = key // space
            common = times == live_degree[req_of_key]
            owners.append(net.req_node[req_of_key[common]])
            members.append(key[common] % space)
        key = np.unique(np.concatenate(owners).astype(np.int64) * space + np.concatenate(members))
        node_of_key = key // space
        first = np.flatnonzero(np.r_[True, node_of_key[1:] != node_of_key[:-1]])
        who = node_of_key[first]
        start[who] = stored + first
        length[who] = np.diff(np.r_[first, key.size])
        chunks.append(key % space)
        stored += key.size
    labels = np.concatenate([flat, *chunks]) if chunks else flat
    return EssentialSets(producible=base, start=start, length=length, labels=labels, families=families, space=space)


def single_points_of_failure(network: SupplyNetwork, sink: int, candidates=None,
                             propagation: Propagation | None = None,
                             essential: EssentialSets | None = None) -> np.ndarray:
    """Nodes whose removal alone makes ``sink`` unproducible.

    Parameters
    ----------
    network : SupplyNetwork
    sink : int
        Node index of the sink.
    candidates : array_like of int, optional
        Only report these nodes (default: every node but the sink).
    propagation : Propagation, optional
        Reuse a precomputed level structure.
    essential : EssentialSets, optional
        Reuse :func:`essential_sets` of the network (with nothing removed).

    Returns
    -------
    numpy.ndarray of int
        Sorted node indices. Empty if the sink is not producible to begin with.

    Notes
    -----
    Read off :func:`essential_sets`: O((V + E + S) log(V + E + S)) once for all sinks.
    """
    ess = essential or essential_sets(network, propagation=propagation)
    if not ess.producible[sink]:
        return np.empty(0, dtype=np.int64)
    hits = ess.nodes(sink)
    if candidates is not None:
        hits = hits[np.isin(hits, np.asarray(candidates, dtype=np.int64))]
    return hits.astype(np.int64)


def single_points_of_failure_by_removal(network: SupplyNetwork, sink: int, candidates=None,
                                        propagation: Propagation | None = None) -> np.ndarray:
    """Reference definition: remove each candidate in turn and propagate.

    Same result as :func:`single_points_of_failure` (default candidates: every
    producer). O(C · (V + E)) for C candidates.
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


def country_single_points_of_failure(network: SupplyNetwork, sink: int, propagation: Propagation | None = None,
                                     essential: EssentialSets | None = None) -> np.ndarray:
    """Country indices whose loss (every node located there) makes ``sink`` unproducible.

    Read off :func:`essential_sets` with the default ``country`` node groups.
    """
    ess = essential or essential_sets(network, propagation=propagation)
    if not ess.producible[sink]:
        return np.empty(0, dtype=np.int64)
    return ess.groups(sink, "country").astype(np.int64)


def surviving_fraction(network: SupplyNetwork, flow, closed, *, propagation: Propagation | None = None,
                       production=None) -> np.ndarray:
    """Share of every node's production that certainly survives closing routes.

    Parameters
    ----------
    network : SupplyNetwork
    flow : array (E,)
        A feasible route flow (e.g. the capability LP's optimum).
    closed : bool array (E,) or (E, B)
        Routes closed in each of B scenarios (removing a node = closing its out-routes).
    propagation : Propagation, optional
        Of ``network`` (built when not given).
    production : array (N,), optional
        The production that goes with ``flow``. Given, the bound holds also for a flow
        that meets its constraints only up to a solver's tolerance (an LP optimum): each
        node's outgoing flows are first cut to its production and every flow to its
        route's capacity, and each requirement's share is taken of the larger of what
        arrives and what the production needs (``a[v,k] y[v]``). Without it the flow is
        taken as exactly feasible.

    Returns
    -------
    numpy.ndarray (N,) or (N, B)
        ``s[v]``: scaling every route flow by ``s`` of its source (0 on closed
        routes) and every production ``y[v]`` by ``s[v]`` stays feasible, so the
        capability of sink ``d`` after the closure is at least ``s[d] · y[d]``:
        ``1 − s[d]`` bounds the relative loss from above.

    Notes
    -----
    ``s[v] = min_k (Σ_{e∈in_k(v)} f_e · open_e · s[src e]) / max(Σ_{e∈in_k(v)} f_e, a[v,k] y[v])``
    (1 where v receives no flow of k, which only happens when ``y[v] = 0``; with
    ``production``, 0 where a production that needs k receives none of it), in
    topological order. Feasible because ``a[v,k] y[v] s[v] ≤ Σ f_e open_e s[src e]``,
    outflow (at most ``y[v]``) scales with ``s[v]``, and scaled flows stay under route
    capacities. Without ``production`` the denominator is ``Σ f_e``, which is at least
    ``a[v,k] y[v]`` for an exactly feasible flow. The solver's tolerance matters where an
    input's quantities are tiny (a hub passing on micrograms of germanium meets its
    requirement to 1e-8 absolute, a relative error of 1e-3). One sparse product per level:
    O(depth · R + (E + V) · B).
    """
    net = network
    prop = propagation or Propagation.of(net)
    flow = np.asarray(flow, dtype=np.float64)
    closed = np.asarray(closed, dtype=bool)
    single = closed.ndim == 1
    closed = closed[:, None] if single else closed
    if flow.shape != (net.num_edges,) or closed.shape[0] != net.num_edges:
        raise ValueError("flow and closed need one row per route")
    batch = closed.shape[1]
    s = np.ones((net.num_nodes, batch))
    r = net.req_node.size
    need = np.zeros(r)
    if production is not None:
        y = np.asarray(production, dtype=np.float64)
        if y.shape != (net.num_nodes,):
            raise ValueError("production needs one value per node")
        y = np.minimum(np.clip(y, 0.0, None), net.node_capacity)
        shipped = np.bincount(net.edge_src, weights=flow, minlength=net.num_nodes)
        cut = np.divide(y, shipped, out=np.ones(net.num_nodes), where=shipped > y)
        flow = np.minimum(np.clip(flow, 0.0, None) * cut[net.edge_src], net.edge_capacity)
        need = net.req_coefficient * y[net.req_node]
    arrived = np.bincount(prop.edge_req, weights=flow, minlength=r)
    total = np.maximum(arrived, need)
    starved = (need > 0) & (arrived <= 0)
    s[net.req_node[starved]] = 0.0
    for lvl in range(prop.level_bounds.size - 1):
        edges = prop.edge_order[prop.level_bounds[lvl]:prop.level_bounds[lvl + 1]]
        edges = edges[flow[edges] > 0]
        if not edges.size:
            continue
        reqs, local = np.unique(prop.edge_req[edges], return_inverse=True)
        gather = sp.csr_matrix((flow[edges], (local, np.arange(edges.size))), shape=(reqs.size, edges.size))
        kept = gather @ (s[net.edge_src[edges]] * ~closed[edges])
        ratio = np.minimum(kept / total[reqs][:, None], 1.0)
        np.minimum.at(s, net.req_node[reqs], ratio)
    return s[:, 0] if single else s
