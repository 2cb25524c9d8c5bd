"""The graph benchmark's comparison of graph-tool and networkx results: full vectors, not
samples (a top-20 intersection, or sums of cores and cascades, would call different
results equal)."""

from __future__ import annotations

import numpy as np

from bench.bench_graph import BETWEENNESS_RTOL, _agree


def _digest(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"components": np.array([7]), "core": rng.integers(0, 5, 50),
            "CHN.spof_nodes": np.array([3, 9]), "CHN.node_cascade": rng.integers(0, 9, 50),
            "CHN.cone": rng.random(50) < 0.5, "CHN.betweenness": rng.random(50)}


def test_identical_digests_agree():
    assert _agree(_digest(), _digest()) == (True, "all equal")


def test_betweenness_is_compared_at_every_node():
    a, b = _digest(), _digest()
    # Same 20 largest values, different everywhere else: a top-20 comparison would pass.
    order = np.argsort(-a["CHN.betweenness"])
    b["CHN.betweenness"][order[20:]] = b["CHN.betweenness"][order[20:]][::-1]
    agree, what = _agree(a, b)
    assert not agree and "CHN.betweenness" in what
    # A relative difference within the tolerance (summation order) is agreement.
    c = _digest()
    c["CHN.betweenness"] = c["CHN.betweenness"] * (1 + BETWEENNESS_RTOL / 10)
    assert _agree(a, c)[0]


def test_cores_and_cascades_are_compared_entry_by_entry_not_as_sums():
    a = _digest()
    for key in ("core", "CHN.node_cascade"):
        b = _digest()
        b[key] = b[key].copy()
        b[key][[0, 1]] = b[key][[1, 0]] + np.array([1, -1]) * (b[key][0] == b[key][1])  # same sum
        assert b[key].sum() == a[key].sum() and not np.array_equal(a[key], b[key])
        agree, what = _agree(a, b)
        assert not agree and key in what


def test_missing_keys_and_shapes_disagree():
    a, b = _digest(), _digest()
    del b["CHN.cone"]
    assert _agree(a, b) == (False, "CHN.cone")
    c = _digest()
    c["core"] = c["core"][:-1]
    assert not _agree(a, c)[0]
