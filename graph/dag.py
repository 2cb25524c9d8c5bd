"""Topological order and cycle detection on directed graphs given as arrays."""

from __future__ import annotations

import numpy as np

from graph.gt import gt, graph_from_arrays

__all__ = ["topological_order", "find_cycle", "upstream_of"]


def topological_order(num_vertices: int, src, dst) -> np.ndarray:
    """Vertices in an order where every edge goes forward.

    Parameters
    ----------
    num_vertices : int
    src, dst : array_like of int
        Directed edges.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    ValueError
        If the graph has a cycle; the message lists one.

    Notes
    -----
    O(V + E) via graph-tool's ``topological_sort`` (depth-first search).
    """
    graph = graph_from_arrays(num_vertices, src, dst)
    if not gt.topology.is_DAG(graph):
        raise ValueError(f"graph has a cycle: {' -> '.join(map(str, find_cycle(num_vertices, src, dst)))}")
    return np.asarray(gt.topology.topological_sort(graph), dtype=np.int64)


def find_cycle(num_vertices: int, src, dst) -> list[int]:
    """One directed cycle as a vertex list (first vertex repeated at the end), or ``[]``.

    Notes
    -----
    Strongly connected components by graph-tool in O(V + E); the cycle inside a
    non-trivial component is then traced with a walk that is O(size of component).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    loops = np.flatnonzero(src == dst)
    if loops.size:
        return [int(src[loops[0]]), int(src[loops[0]])]
    graph = graph_from_arrays(num_vertices, src, dst)
    labels, sizes = gt.topology.label_components(graph, directed=True)
    big = np.flatnonzero(np.asarray(sizes) > 1)
    if big.size == 0:
        return []
    label = np.asarray(labels.a)
    inside = label[src] == label[dst]
    comp = big[0]
    in_comp = inside & (label[src] == comp)
    successor = {}
    for s, d in zip(src[in_comp], dst[in_comp]):
        successor.setdefault(int(s), int(d))
    start = int(src[in_comp][0])
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    # Every vertex of a strongly connected component has a successor inside it,
    # so following first successors must revisit a vertex.
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = successor[node]
    cycle = path[seen[node]:]
    return cycle + [cycle[0]]


def upstream_of(num_vertices: int, src, dst, targets) -> np.ndarray:
    """Vertices from which some target can be reached (the targets included).

    Parameters
    ----------
    num_vertices : int
    src, dst : array_like of int
        Directed edges.
    targets : array_like of int
        Vertex indices.

    Returns
    -------
    numpy.ndarray of bool, length ``num_vertices``

    Raises
    ------
    ValueError
        If a target or an edge end lies outside ``0 .. num_vertices - 1``.

    Notes
    -----
    O(V + E): one graph-tool out-component search on the reversed graph from an added
    vertex joined to every target.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    targets = np.unique(np.asarray(targets, dtype=np.int64))
    for name, ids in (("targets", targets), ("edge ends", np.concatenate([src.ravel(), dst.ravel()]))):
        if ids.size and (ids.min() < 0 or ids.max() >= num_vertices):
            raise ValueError(f"{name} must lie in 0 .. {num_vertices - 1}")
    if targets.size == 0:
        return np.zeros(num_vertices, dtype=bool)
    root = num_vertices
    graph = graph_from_arrays(num_vertices + 1, np.concatenate([dst, np.full(targets.size, root)]),
                              np.concatenate([src, targets]))
    reached = np.asarray(gt.topology.label_out_component(graph, graph.vertex(root)).a, dtype=bool)
    return reached[:num_vertices]
