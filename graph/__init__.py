"""Graph core of chokepoint, on graph-tool's compiled algorithms.

Plain library: never imports Dagster. Vertex and edge data travel as numpy arrays.
Modules, one algorithm family each:

- :mod:`graph.gt` — building graph-tool graphs from arrays (import point for graph-tool).
- :mod:`graph.arrays` — small whole-array helpers.
- :mod:`graph.dag` — topological order and cycle detection.
- :mod:`graph.network` — the AND/OR production network (country × input nodes, routes).
- :mod:`graph.synthetic` — facility-level networks of any size expanded from country shares.
- :mod:`graph.parquet` — a network as Parquet node / edge / requirement tables and back.
- :mod:`graph.concentration` — supplier concentration per input (top share, HHI).
- :mod:`graph.failure` — AND/OR producibility, single points of failure (essential sets),
  surviving flow after a removal.
- :mod:`graph.dominators` — dominator trees; dominators of the OR skeleton.
- :mod:`graph.components` — strongly connected components.
- :mod:`graph.cores` — k-core decomposition.
- :mod:`graph.centrality` — flow-weighted betweenness (exact or sampled).
- :mod:`graph.flow` — maximum flow and minimum cut.
- :mod:`graph.chokepoints` — the whole graph-side metric suite for a set of sinks.
- :mod:`graph.critical_nodes` — critical-node detection (delete K nodes to minimise pairwise
  connectivity), with its compiled local-search kernels in ``graph._cnp_kernel``.
"""
