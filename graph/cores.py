"""k-core decomposition of the undirected projection of a graph given as arrays."""

from __future__ import annotations

import numpy as np

from graph.gt import gt, graph_from_arrays

__all__ = ["undirected_simple_edges", "core_numbers"]


def undirected_simple_edges(num_vertices: int, src, dst) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the undirected simple projection: ``{u, v}`` once per connected pair,
    self-loops dropped; returned as ``(min, max)`` pairs sorted. O(E log E)."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    key = np.unique(lo[keep] * np.int64(max(num_vertices, 1)) + hi[keep])
    return key // max(num_vertices, 1), key % max(num_vertices, 1)


def core_numbers(num_vertices: int, src, dst, *, simple: bool = False, graph: "gt.Graph | None" = None) -> np.ndarray:
    """Core number of every vertex of the undirected simple projection.

    The k-core is the largest subgraph in which every vertex has at least k
    neighbours; a vertex's core number is the largest k whose k-core holds it.

    Parameters
    ----------
    num_vertices : int
    src, dst : array_like of int
        Edges; direction, repeats and self-loops are ignored.
    simple : bool
        Promise that the edges already form a simple graph with no pair in both
        directions (for example the routes of a supply DAG, where each buyer draws
        a supplier once); skips the O(E log E) projection.
    graph : graph_tool.Graph, optional
        With ``simple=True`` only: the graph already built from these edges (directed
        or not); graph-tool counts total degree on directed graphs, which on a simple
        graph without antiparallel pairs equals the undirected degree.

    Returns
    -------
    numpy.ndarray of int64, shape (num_vertices,)

    Notes
    -----
    graph-tool's ``kcore_decomposition`` (Batagelj–Zaversnik bucket algorithm,
    O(V + E)); DOI 10.1007/s11634-010-0079-y.
    """
    if simple:
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        if (src == dst).any():
            raise ValueError("simple=True but the edges hold self-loops")
    else:
        if graph is not None:
            raise ValueError("a prebuilt graph is only accepted with simple=True")
        src, dst = undirected_simple_edges(num_vertices, src, dst)
    if graph is None:
        graph = graph_from_arrays(num_vertices, src, dst, directed=False)
    elif graph.num_vertices() != num_vertices or graph.num_edges() != src.size:
        raise ValueError("graph does not match num_vertices and the edge arrays")
    return np.asarray(gt.topology.kcore_decomposition(graph).a, dtype=np.int64)
