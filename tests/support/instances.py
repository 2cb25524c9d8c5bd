"""Seeded random instances for cross-checks (shared by several test modules)."""

from __future__ import annotations

import functools

import networkx as nx
import numpy as np

from graph.network import PRODUCER, SINK, SupplyNetwork
from optimization.random_instances import layered_instance


def random_and_or_network(seed: int, n: int = 14, types: int = 4, zero_capacity: float = 0.0) -> SupplyNetwork:
    """A random AND/OR DAG: node i makes type t_i, needs 1–2 types made by earlier
    nodes, and buys each from a random non-empty subset of their makers. The last node
    is the sink (actor 0) and needs every type its predecessors make, up to 2."""
    rng = np.random.default_rng(seed)
    node_input = rng.integers(0, types, size=n).astype(np.int32)
    capacity = rng.uniform(1.0, 10.0, size=n)
    if zero_capacity:
        capacity[rng.random(n) < zero_capacity] = 0.0
    kind = np.full(n, PRODUCER, dtype=np.int8)
    kind[-1] = SINK
    capacity[-1] = np.inf
    src, dst, carried, req_node, req_input, req_coef = [], [], [], [], [], []
    for v in range(2, n):
        available = sorted(set(node_input[:v].tolist()))
        if v < n - 1 and rng.random() < 0.25:
            continue  # a raw-material node: needs nothing
        needs = rng.choice(available, size=min(len(available), int(rng.integers(1, 3))), replace=False)
        for k in needs:
            makers = np.flatnonzero(node_input[:v] == k)
            chosen = makers[rng.random(makers.size) < 0.6]
            if chosen.size == 0:
                chosen = makers[:1]
            req_node.append(v)
            req_input.append(int(k))
            req_coef.append(float(rng.choice([0.5, 1.0, 2.0])))
            for u in chosen:
                src.append(int(u))
                dst.append(v)
                carried.append(int(k))
    network = SupplyNetwork(
        node_kind=kind, node_country=np.arange(n, dtype=np.int32) % 3, node_input=node_input,
        node_actor=np.where(kind == SINK, 0, -1).astype(np.int32), node_capacity=capacity,
        edge_src=np.array(src, dtype=np.int64), edge_dst=np.array(dst, dtype=np.int64),
        edge_input=np.array(carried, dtype=np.int32), edge_capacity=np.full(len(src), np.inf),
        edge_kind=np.zeros(len(src), dtype=np.int8),
        req_node=np.array(req_node, dtype=np.int64), req_input=np.array(req_input, dtype=np.int32),
        req_coefficient=np.array(req_coef), countries=("A", "B", "C"), inputs=tuple(f"k{i}" for i in range(types)),
        actors=("d",), actor_members=((0,),), node_names=tuple(str(i) for i in range(n)),
    )
    network.validate()
    return network


def random_flow_graph(seed: int, n: int = 12, p: float = 0.3, max_capacity: int = 10):
    """A random directed graph with integer capacities as (networkx graph, src, dst, cap)."""
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    cap = rng.integers(1, max_capacity, size=src.size).astype(float)
    for (u, v), c in zip(g.edges(), cap):
        g[u][v]["capacity"] = c
    return g, src, dst, cap


@functools.lru_cache(maxsize=None)
def _cached_case(seed, items):
    return layered_instance(seed, **dict(items))


def and_or_case(seed, **overrides):
    """A small layered AND/OR instance (optimization.random_instances), cached by its options."""
    options = dict(layers=3, width=6, types=2, countries=4, num_controls=12, supplier_probability=0.8)
    options.update(overrides)
    return _cached_case(seed, tuple(sorted(options.items())))


def random_digraph(seed: int, n: int = 30, p: float = 0.08):
    """A random directed graph as (networkx graph, src, dst)."""
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    src = np.array([u for u, _ in g.edges()], dtype=np.int64)
    dst = np.array([v for _, v in g.edges()], dtype=np.int64)
    return g, src, dst
