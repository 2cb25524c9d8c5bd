"""Strongly connected components against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.components import component_sizes, strongly_connected_components
from graph.gt import graph_from_arrays
from tests.support.instances import random_digraph


@pytest.mark.parametrize("seed", range(30))
def test_strongly_connected_components_match_networkx(seed):
    g, src, dst = random_digraph(seed, p=0.04 + 0.004 * seed)
    labels = strongly_connected_components(30, src, dst)
    expected = {frozenset(c) for c in nx.strongly_connected_components(g)}
    got = {}
    for v, label in enumerate(labels):
        got.setdefault(label, set()).add(v)
    assert {frozenset(c) for c in got.values()} == expected
    assert all(label == min(got[label]) for label in got)
    sizes = component_sizes(labels)
    assert all(sizes[v] == len(got[labels[v]]) for v in range(30))
    prebuilt = strongly_connected_components(30, src, dst, graph=graph_from_arrays(30, src, dst))
    assert (prebuilt == labels).all()
