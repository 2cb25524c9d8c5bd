"""The one place that imports graph-tool; builds graphs from whole arrays."""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():
    # graph-tool's drawing module warns without cairo; no drawing is done here.
    warnings.simplefilter("ignore", RuntimeWarning)
    import graph_tool as gt  # noqa: F401
    import graph_tool.topology  # noqa: F401
    import graph_tool.flow  # noqa: F401
    import graph_tool.centrality  # noqa: F401

__all__ = ["gt", "graph_from_arrays"]


def graph_from_arrays(num_vertices: int, src, dst, *, directed: bool = True) -> "gt.Graph":
    """Graph with ``num_vertices`` vertices and edges ``src[i] -> dst[i]``, in order.

    Edge ``i`` of the result is the ``i``-th pair, so edge property arrays line up with
    the input arrays.

    Raises
    ------
    ValueError
        If the arrays differ in length or hold ids outside ``[0, num_vertices)``.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.shape != dst.shape or src.ndim != 1:
        raise ValueError(f"src and dst must be 1-d arrays of one length, got {src.shape} and {dst.shape}")
    if num_vertices < 0:
        raise ValueError("num_vertices must be non-negative")
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_vertices):
        raise ValueError(f"vertex ids must lie in [0, {num_vertices})")
    graph = gt.Graph(directed=directed)
    graph.add_vertex(num_vertices)
    graph.add_edge_list(np.column_stack([src, dst]))
    return graph
