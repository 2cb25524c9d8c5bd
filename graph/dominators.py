"""Dominators: of any rooted directed graph, and of the OR skeleton of a supply network.

The *OR skeleton* of an AND/OR network ignores the AND: a node with positive
capacity survives as long as it receives *any* open route from a surviving node, or
needs nothing at all. Formally it is the directed graph on the nodes with positive
capacity plus a virtual root ``ρ``, with an arc ``ρ → v`` for every node ``v`` that
has no requirement and an arc ``u → v`` for every open route; a node survives iff ρ
reaches it. Node ``u`` *dominates* ``v`` when every ρ → v path passes through ``u``:
removing ``u`` alone cuts ``v`` off even if any single supplier of any input were
enough. Because surviving under AND/OR implies surviving in the OR skeleton, every
OR-skeleton dominator of a producible sink is also an AND/OR single point of failure
(:func:`graph.failure.single_points_of_failure`); the converse fails when the AND
matters (a node can kill one input of the sink while other inputs still arrive).
"""

from __future__ import annotations

import numpy as np

from graph.gt import gt, graph_from_arrays
from graph.network import SupplyNetwork

__all__ = ["immediate_dominators", "or_skeleton", "or_dominator_tree", "dominators_of", "dominated_counts"]

#: ``or_dominator_tree`` value for a node whose immediate dominator is the virtual root.
ROOT = -1
#: ``or_dominator_tree`` value for a node the virtual root does not reach.
UNREACHED = -2


def immediate_dominators(num_vertices: int, src, dst, root: int) -> np.ndarray:
    """Immediate dominator of every vertex reachable from ``root``.

    Returns
    -------
    numpy.ndarray of int64
        ``idom[v]``; ``idom[root] = root``; ``-1`` for vertices ``root`` does not reach
        (the convention of ``networkx.immediate_dominators``, as an array).

    Notes
    -----
    graph-tool's ``dominator_tree`` (Boost's Lengauer–Tarjan, DOI 10.1145/357062.357071),
    O((V + E) log(V + E)), after one BFS for reachability, O(V + E). graph-tool 2.45
    leaves the entry of any vertex with an in-edge from an unreachable vertex unwritten
    (and never writes the root's or unreachable vertices' entries), so edges out of
    unreachable vertices are filtered out first (they cannot lie on a root path) and the
    map is pre-filled; ``tests/graph/test_dominators.py`` pins this against networkx.
    """
    if not 0 <= root < num_vertices:
        raise ValueError(f"root {root} is not a vertex of a graph with {num_vertices} vertices")
    src = np.asarray(src, dtype=np.int64)
    graph = graph_from_arrays(num_vertices, src, dst)
    reached = np.asarray(gt.topology.label_out_component(graph, graph.vertex(root)).a, dtype=bool)
    from_reached = graph.new_edge_property("bool")
    from_reached.a[:] = reached[src]
    view = gt.GraphView(graph, efilt=from_reached)
    dom = view.new_vertex_property("int32_t")
    dom.a[:] = -1
    gt.topology.dominator_tree(view, view.vertex(root), dom_map=dom)
    idom = np.where(reached, np.asarray(dom.a, dtype=np.int64), -1)
    idom[root] = root
    if (idom[reached] < 0).any():
        raise RuntimeError("graph-tool's dominator_tree left a reachable vertex without a dominator")
    return idom


def or_skeleton(network: SupplyNetwork, route_open=None) -> tuple[int, np.ndarray, np.ndarray]:
    """The OR skeleton as arrays: node ``v`` is vertex ``v``, the virtual root is vertex ``N``.

    Returns ``(num_vertices, src, dst)``; see the module docstring.
    """
    net = network
    alive = net.node_capacity > 0
    open_ = np.ones(net.num_edges, dtype=bool) if route_open is None else np.asarray(route_open, dtype=bool)
    keep = open_ & alive[net.edge_src] & alive[net.edge_dst]
    needs = np.zeros(net.num_nodes, dtype=bool)
    needs[net.req_node] = True
    roots = np.flatnonzero(alive & ~needs)
    src = np.concatenate([net.edge_src[keep], np.full(roots.size, net.num_nodes, dtype=np.int64)])
    dst = np.concatenate([net.edge_dst[keep], roots])
    return net.num_nodes + 1, src, dst


def or_dominator_tree(network: SupplyNetwork, route_open=None) -> np.ndarray:
    """Immediate dominator of every node in the OR skeleton.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        A node index, :data:`ROOT` (-1) when only the virtual root dominates it, or
        :data:`UNREACHED` (-2) when it cannot survive even in the OR skeleton.

    Notes
    -----
    One dominator tree for all nodes: O((V + E) log(V + E)).
    """
    n, src, dst = or_skeleton(network, route_open)
    root = n - 1
    idom = immediate_dominators(n, src, dst, root)[:root]
    return np.where(idom < 0, UNREACHED, np.where(idom == root, ROOT, idom))


def dominators_of(idom: np.ndarray, node: int) -> np.ndarray:
    """All dominators of ``node`` (itself excluded), nearest first, from an
    :func:`or_dominator_tree` array. O(depth of the tree); empty if unreached."""
    chain = []
    current = int(idom[node])
    while current >= 0:
        chain.append(current)
        current = int(idom[current])
    return np.array(chain, dtype=np.int64)


def dominated_counts(idom: np.ndarray, level: np.ndarray, within=None) -> np.ndarray:
    """For each node u, how many other nodes (optionally only those in ``within``) u dominates.

    Parameters
    ----------
    idom : array (N,)
        From :func:`or_dominator_tree`.
    level : array (N,)
        Any numbering that increases along every route (e.g. the longest-path depth
        of :class:`graph.failure.Propagation`); a dominator precedes what it dominates.
    within : bool array (N,), optional
        Count only dominated nodes in this set.

    Notes
    -----
    Subtree sizes of the dominator tree, accumulated from the deepest level up with one
    ``numpy.bincount`` per level: O(V + depth).
    """
    idom = np.asarray(idom, dtype=np.int64)
    n = idom.size
    weight = np.ones(n) if within is None else np.asarray(within, dtype=np.float64)
    subtree = np.where(idom >= -1, weight, 0.0)
    level = np.asarray(level)
    order = np.argsort(-level, kind="stable")
    bounds = np.flatnonzero(np.r_[True, level[order][1:] != level[order][:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        nodes = order[a:b]
        nodes = nodes[idom[nodes] >= 0]
        subtree += np.bincount(idom[nodes], weights=subtree[nodes], minlength=n)
    return np.rint(subtree - np.where(idom >= -1, weight, 0.0)).astype(np.int64)
