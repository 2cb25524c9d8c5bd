"""Flow-weighted betweenness: which nodes sit on the supply chains a sink depends on most.

Definitions
-----------
*Dependency share* of a route e carrying input k into buyer v: ``f_e / Σ f_e'`` over
the routes carrying k into v, for a route flow f (the capability LP's optimum for one
actor, or the *nominal* flow ``min(route capacity, supplier capacity)`` when no LP is
solved). Routes with zero flow are left out.

*Dependency length* of a route: ``1 + round(resolution · log2(1 / share))``, an
integer. A shortest path is then a chain of strong dependencies (a supplier holding
all of a buyer's intake costs 1 hop, one holding half costs ``1 + resolution``). Integer
lengths keep path sums exact, so ties, and therefore path counts, are the same in
every implementation (graph-tool and networkx agree to rounding of the final sums).

*Flow-weighted betweenness* of node v: the shortest-path betweenness (Brandes) on
the routes with positive flow under dependency lengths, over ordered pairs (s, t)
of distinct nodes other than v, normalised by ``(n − 1)(n − 2)`` for the n nodes
considered (optionally only a sink's supply cone: the nodes with a positive-flow
path to it; paths between two nodes of the cone never leave it).

Sampling: with P pivots drawn uniformly without replacement from the n_s nodes that
have an outgoing route, ``n_s / P · Σ_{s ∈ pivots} δ_s(v)`` is an unbiased estimate of
``Σ_s δ_s(v)`` (Brandes & Pich 2007, DOI 10.1142/S0218127407018403); nodes with no
outgoing route are sources of no path, so leaving them out only lowers the variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.gt import gt, graph_from_arrays
from graph.network import SupplyNetwork

__all__ = [
    "Betweenness",
    "betweenness",
    "dependency_share",
    "dependency_lengths",
    "supply_cone",
    "flow_betweenness",
]


@dataclass(frozen=True)
class Betweenness:
    """Normalised betweenness and how it was obtained.

    ``values`` (one per vertex); ``pivots`` (the source vertices used); ``sources``
    (vertices with an outgoing edge, the pivot population); ``exact`` (every source
    used); ``vertices`` (n in the normalisation).
    """

    values: np.ndarray
    pivots: np.ndarray
    sources: int
    exact: bool
    vertices: int

    @property
    def num_pivots(self) -> int:
        return int(self.pivots.size)


def betweenness(num_vertices: int, src, dst, length=None, *, pivots: int | None = None, seed: int = 0,
                graph: "gt.Graph | None" = None, vertex_filter=None, edge_filter=None) -> Betweenness:
    """Shortest-path betweenness of a directed graph, exact or sampled.

    Parameters
    ----------
    num_vertices : int
    src, dst : array_like of int
        Directed edges.
    length : array_like of float, optional
        Edge lengths, positive and finite on the edges considered (default: 1 each).
    pivots : int, optional
        Number of sampled source vertices; ``None`` or at least the number of vertices
        with an outgoing edge: exact.
    seed : int
        Seed of the pivot sample.
    graph : graph_tool.Graph, optional
        The same directed graph already built (edge i = (src[i], dst[i])); filters are
        then applied as views instead of rebuilding.
    vertex_filter : bool array (num_vertices,), optional
        Consider only these vertices (and the edges between them).
    edge_filter : bool array (E,), optional
        Consider only these edges.

    Returns
    -------
    Betweenness
        ``values[v]`` normalised by ``(n − 1)(n − 2)`` (n: vertices considered), 0
        outside the filter; the sampled estimate is scaled by ``sources / pivots``.

    Notes
    -----
    graph-tool's ``betweenness`` (Brandes, DOI 10.1080/0022250X.2001.9990249), run in
    parallel over pivots: O(P (V + E) log V) with Dijkstra for P pivots (P = V exact).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.shape != dst.shape:
        raise ValueError("src and dst must have one length")
    inside = np.ones(num_vertices, dtype=bool) if vertex_filter is None else np.asarray(vertex_filter, dtype=bool)
    keep = np.ones(src.size, dtype=bool) if edge_filter is None else np.asarray(edge_filter, dtype=bool)
    if inside.shape != (num_vertices,) or keep.shape != src.shape:
        raise ValueError("vertex_filter needs one entry per vertex and edge_filter one per edge")
    considered = keep & inside[src] & inside[dst]
    if length is not None:
        length = np.asarray(length, dtype=np.float64)
        if length.shape != src.shape:
            raise ValueError("length needs one entry per edge")
        if not (np.isfinite(length[considered]).all() and (length[considered] > 0).all()):
            raise ValueError("edge lengths must be positive and finite on the edges considered")
    if pivots is not None and pivots < 1:
        raise ValueError("pivots must be a positive number")
    has_out = np.zeros(num_vertices, dtype=bool)
    has_out[src[considered]] = True
    population = np.flatnonzero(has_out)
    n = int(inside.sum())
    exact = pivots is None or pivots >= population.size
    chosen = population if exact else np.sort(np.random.default_rng(seed).choice(population, size=pivots, replace=False))
    if graph is None:
        # Build only what is considered; vertex ids stay as given.
        graph = graph_from_arrays(num_vertices, src[considered], dst[considered])
        length = None if length is None else length[considered]
        view = graph
    else:
        if graph.num_vertices() != num_vertices or graph.num_edges() != src.size or not graph.is_directed():
            raise ValueError("graph does not match num_vertices and the edge arrays")
        view = graph
        if not considered.all():
            efilt = graph.new_edge_property("bool")
            efilt.a[:] = considered
            view = gt.GraphView(graph, efilt=efilt)
        if length is not None:
            # Property arrays follow edge indices, filtered or not; unread entries get 1.
            length = np.where(considered, length, 1.0)
    weight = None
    if length is not None:
        weight = view.new_edge_property("double")
        weight.a[:] = length
    values = np.zeros(num_vertices)
    if chosen.size and n > 2:
        vertex_bt, _ = gt.centrality.betweenness(view, pivots=chosen, weight=weight, norm=False)
        raw = np.asarray(vertex_bt.a, dtype=np.float64)
        values = np.where(inside, raw * (population.size / chosen.size) / ((n - 1) * (n - 2)), 0.0)
    return Betweenness(values=values, pivots=chosen, sources=int(population.size), exact=bool(exact), vertices=n)


def dependency_share(network: SupplyNetwork, flow=None, route_open=None) -> np.ndarray:
    """Share of each route in its buyer's intake of the input it carries.

    Parameters
    ----------
    flow : array (E,), optional
        Route flows (default: nominal, ``min(route capacity, supplier capacity)``).
    route_open : bool array (E,), optional
        Closed routes get share 0.

    Returns
    -------
    numpy.ndarray (E,) in [0, 1]; 0 where the route carries nothing. O(E).
    """
    net = network
    if flow is None:
        flow = np.minimum(net.edge_capacity, net.node_capacity[net.edge_src])
    flow = np.asarray(flow, dtype=np.float64)
    if flow.shape != (net.num_edges,) or np.isnan(flow).any() or (flow < 0).any():
        raise ValueError("flow must hold one non-negative number per route")
    if route_open is not None:
        flow = np.where(np.asarray(route_open, dtype=bool), flow, 0.0)
    req = net.edge_requirement()
    finite = np.isfinite(flow)
    # Unbounded nominal flows: unbounded suppliers share a requirement equally.
    any_inf = np.bincount(req, weights=(~finite).astype(float), minlength=net.req_node.size) > 0
    weight = np.where(any_inf[req], (~finite).astype(float), np.where(finite, flow, 0.0))
    total = np.bincount(req, weights=weight, minlength=net.req_node.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[req] > 0, weight / total[req], 0.0)


def dependency_lengths(share, resolution: int = 4) -> np.ndarray:
    """Integer route lengths ``1 + round(resolution · log2(1 / share))``; ``inf`` for share 0."""
    share = np.asarray(share, dtype=np.float64)
    if resolution < 0:
        raise ValueError("resolution must be non-negative")
    with np.errstate(divide="ignore"):
        return np.where(share > 0, 1.0 + np.rint(resolution * -np.log2(np.where(share > 0, share, 1.0))), np.inf)


def supply_cone(network: SupplyNetwork, sink: int, carried=None, *, graph: "gt.Graph | None" = None) -> np.ndarray:
    """Nodes with a path of carrying routes to ``sink`` (the sink included).

    ``carried``: bool (E,), routes that count (default all). One BFS on the reversed
    graph, O(V + E).
    """
    net = network
    carried = np.ones(net.num_edges, dtype=bool) if carried is None else np.asarray(carried, dtype=bool)
    if graph is None:
        graph = graph_from_arrays(net.num_nodes, net.edge_src, net.edge_dst)
    efilt = graph.new_edge_property("bool")
    efilt.a[:] = carried
    reverse = gt.GraphView(graph, efilt=efilt, reversed=True)
    return np.asarray(gt.topology.label_out_component(reverse, reverse.vertex(sink)).a, dtype=bool)


def flow_betweenness(network: SupplyNetwork, flow=None, *, sink: int | None = None, pivots: int | None = None,
                     seed: int = 0, resolution: int = 4, route_open=None,
                     graph: "gt.Graph | None" = None) -> Betweenness:
    """Flow-weighted betweenness of every node (see module docstring).

    Parameters
    ----------
    flow : array (E,), optional
        Route flows; default nominal (see :func:`dependency_share`).
    sink : int, optional
        Restrict to the sink's supply cone over carrying routes.
    pivots, seed : see :func:`betweenness`.
    graph : graph_tool.Graph, optional
        The network's route graph already built (edge i = route i).

    Notes
    -----
    O(E) for shares and lengths, O(V + E) for the cone, then :func:`betweenness` on the
    carrying routes, O(P (V + E) log V).
    """
    net = network
    share = dependency_share(net, flow, route_open)
    carried = share > 0
    inside = None if sink is None else supply_cone(net, sink, carried, graph=graph)
    return betweenness(net.num_nodes, net.edge_src, net.edge_dst, dependency_lengths(share, resolution),
                       pivots=pivots, seed=seed, graph=graph, vertex_filter=inside, edge_filter=carried)
