"""Strongly connected components of directed graphs given as arrays."""

from __future__ import annotations

import numpy as np

from graph.gt import gt, graph_from_arrays

__all__ = ["strongly_connected_components", "component_sizes"]


def strongly_connected_components(num_vertices: int, src, dst, *, graph: "gt.Graph | None" = None) -> np.ndarray:
    """Label of each vertex's strongly connected component.

    Parameters
    ----------
    num_vertices : int
    src, dst : array_like of int
        Directed edges.
    graph : graph_tool.Graph, optional
        The same graph already built (directed, edge i = (src[i], dst[i])); saves the
        construction.

    Returns
    -------
    numpy.ndarray of int64, shape (num_vertices,)
        Labels are canonical: the smallest vertex index in the component, so two
        vertices share a label iff they are mutually reachable.

    Notes
    -----
    graph-tool's ``label_components(directed=True)`` (Tarjan's algorithm) in
    O(V + E), then a vectorised relabelling in O(V).
    """
    if graph is None:
        graph = graph_from_arrays(num_vertices, src, dst)
    elif graph.num_vertices() != num_vertices or not graph.is_directed():
        raise ValueError("graph must be the directed graph with num_vertices vertices")
    labels, _ = gt.topology.label_components(graph, directed=True)
    raw = np.asarray(labels.a, dtype=np.int64)
    smallest = np.full(int(raw.max()) + 1 if raw.size else 0, num_vertices, dtype=np.int64)
    np.minimum.at(smallest, raw, np.arange(num_vertices))
    return smallest[raw]


def component_sizes(labels) -> np.ndarray:
    """Size of each vertex's component, from any labelling. O(V)."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.bincount(labels, minlength=int(labels.max()) + 1 if labels.size else 0)[labels]
