"""Core numbers against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.cores import core_numbers, undirected_simple_edges
from graph.gt import graph_from_arrays
from tests.support.instances import random_digraph


@pytest.mark.parametrize("seed", range(30))
def test_core_numbers_match_networkx_with_repeats_and_loops(seed):
    g, src, dst = random_digraph(seed, p=0.15)
    rng = np.random.default_rng(seed)
    # Add reversed copies, repeats and self-loops: all ignored by the projection.
    extra = rng.integers(0, src.size, size=src.size // 3) if src.size else np.empty(0, np.int64)
    loops = rng.integers(0, 30, size=3)
    src2 = np.concatenate([src, dst[extra], src[extra], loops])
    dst2 = np.concatenate([dst, src[extra], dst[extra], loops])
    undirected = nx.Graph(g.to_undirected())
    undirected.add_nodes_from(range(30))
    expected = nx.core_number(undirected)
    got = core_numbers(30, src2, dst2)
    assert got.tolist() == [expected[v] for v in range(30)]


def test_core_numbers_simple_fast_path_and_projection():
    src, dst = np.array([0, 1, 2, 0]), np.array([1, 2, 0, 3])
    assert core_numbers(4, src, dst, simple=True).tolist() == [2, 2, 2, 1]
    assert core_numbers(4, src, dst, simple=True, graph=graph_from_arrays(4, src, dst)).tolist() == [2, 2, 2, 1]
    lo, hi = undirected_simple_edges(4, [1, 0, 2, 2], [0, 1, 2, 3])
    assert list(zip(lo.tolist(), hi.tolist())) == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match="self-loops"):
        core_numbers(3, [0, 1], [1, 1], simple=True)
    with pytest.raises(ValueError, match="only accepted with simple=True"):
        core_numbers(3, [0], [1], graph=graph_from_arrays(3, [0], [1]))
