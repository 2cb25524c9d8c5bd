"""Graph core of chokepoint, on graph-tool's compiled algorithms.

Plain library: never imports Dagster. Vertex and edge data travel as numpy arrays.
Modules, one algorithm family each:

- :mod:`graph.gt` — building graph-tool graphs from arrays (import point for graph-tool).
- :mod:`graph.dag` — topological order and cycle detection.
- :mod:`graph.network` — the AND/OR production network (country × input nodes, routes).
- :mod:`graph.concentration` — supplier concentration per input (top share, HHI).
- :mod:`graph.failure` — AND/OR producibility and single points of failure.
- :mod:`graph.critical_nodes` — critical-node detection (delete K nodes to minimise pairwise
  connectivity), with its compiled local-search kernels in ``graph._cnp_kernel``.
"""
