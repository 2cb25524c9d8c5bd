"""Seeded random interdiction instances on layered AND/OR networks (tests, benchmarks).

A stand-in for a facility-level generator: any function returning an
:class:`InterdictionInstance` can be passed to the benchmark instead.

Structure: ``layers`` production stages of ``width`` producers each. Producers of
stage 0 are raw-material sources. A producer at stage ``L ≥ 1`` makes one of
``types`` product types of its stage and needs one or two product types of stage
``L − 1`` (AND), each bought from a random non-empty subset of that type's makers
(OR), with recipe coefficients drawn from {0.5, 1, 2}. Every producer sits in one of
``countries`` countries and has a capacity in [1, 10]. Each sink needs one product
type of the last stage and buys it from every maker in the sink's ``allowed``
countries (like home and cloud compute).

Controls mimic export controls: control ``(country, type, buyer country, sink)``
closes the routes carrying ``type`` from producers in ``country`` to buyers in
``buyer country`` that lie upstream of ``sink`` (jurisdiction × input × destination,
as in the scenario catalogue; route sets of different sinks overlap). ``num_controls`` of them are drawn without replacement from
the non-empty ones. Costs are integers 1–3; route collateral is uniform in [0, 1]
on routes out of the first ``signatories`` countries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.network import PRODUCER, SINK, SupplyNetwork

__all__ = ["InterdictionInstance", "layered_instance"]


@dataclass(frozen=True)
class InterdictionInstance:
    network: SupplyNetwork
    sinks: np.ndarray          # node indices
    closes: np.ndarray         # (P, E) bool
    cost: np.ndarray           # (P,)
    collateral: np.ndarray     # (E,)
    labels: tuple[str, ...]    # one per control


def _reaches(num_nodes: int, src: np.ndarray, dst: np.ndarray, target: int) -> np.ndarray:
    """Nodes with a directed path to ``target`` (reverse BFS over arrays)."""
    seen = np.zeros(num_nodes, dtype=bool)
    seen[target] = True
    frontier = np.array([target])
    while frontier.size:
        hit = np.isin(dst, frontier) & ~seen[src]
        frontier = np.unique(src[hit])
        seen[frontier] = True
    return seen


def layered_instance(seed: int, *, layers: int = 3, width: int = 4, types: int = 2, countries: int = 3,
                     sinks: int = 1, num_controls: int = 10, signatories: int = 1,
                     supplier_probability: float = 0.5) -> InterdictionInstance:
    """A random layered AND/OR interdiction instance (see module docstring).

    Notes
    -----
    Size: ``layers · width + sinks`` nodes, about ``layers · width · 1.5 ·
    supplier_probability · width / types`` routes. O(size) numpy work per layer.
    """
    rng = np.random.default_rng(seed)
    n_prod = layers * width
    layer = np.repeat(np.arange(layers), width)
    if types > width:
        raise ValueError("types must not exceed width (every type needs a maker in its stage)")
    # Types assigned round-robin then shuffled: every type of a stage has a maker.
    product = np.concatenate([rng.permutation(np.arange(width) % types) + types * L for L in range(layers)])
    country = rng.integers(0, countries, size=n_prod + sinks).astype(np.int32)
    capacity = np.concatenate([rng.uniform(1.0, 10.0, size=n_prod), np.full(sinks, np.inf)])
    src, dst, carried, req_node, req_input, req_coef = [], [], [], [], [], []

    def buy(v, k, makers):
        chosen = makers[rng.random(makers.size) < supplier_probability]
        if chosen.size == 0:
            chosen = makers[rng.integers(0, makers.size, size=1)]
        req_node.append(v)
        req_input.append(int(k))
        req_coef.append(float(rng.choice([0.5, 1.0, 2.0])))
        src.extend(int(u) for u in chosen)
        dst.extend([v] * chosen.size)
        carried.extend([int(k)] * chosen.size)

    for v in range(width, n_prod):
        previous = np.arange(types) + types * (layer[v] - 1)
        needs = rng.choice(previous, size=int(rng.integers(1, 3)) if types > 1 else 1, replace=False)
        for k in needs:
            makers = np.flatnonzero((product == k) & (layer == layer[v] - 1))
            buy(v, k, makers)
    sink_nodes = n_prod + np.arange(sinks)
    last = np.arange(types) + types * (layers - 1)
    for s in sink_nodes:
        k = int(rng.choice(last))
        makers = np.flatnonzero(product == k)
        req_node.append(int(s))
        req_input.append(k)
        req_coef.append(1.0)
        src.extend(int(u) for u in makers)
        dst.extend([int(s)] * makers.size)
        carried.extend([k] * makers.size)
    kind = np.concatenate([np.full(n_prod, PRODUCER), np.full(sinks, SINK)]).astype(np.int8)
    actor = np.concatenate([np.full(n_prod, -1), np.arange(sinks)]).astype(np.int32)
    node_input = np.concatenate([product, np.full(sinks, -1)]).astype(np.int32)
    src_a, dst_a = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    network = SupplyNetwork(
        node_kind=kind, node_country=country, node_input=node_input, node_actor=actor, node_capacity=capacity,
        edge_src=src_a, edge_dst=dst_a, edge_input=np.array(carried, dtype=np.int32),
        edge_capacity=np.full(src_a.size, np.inf), edge_kind=np.zeros(src_a.size, dtype=np.int8),
        req_node=np.array(req_node, dtype=np.int64), req_input=np.array(req_input, dtype=np.int32),
        req_coefficient=np.array(req_coef), countries=tuple(f"c{i}" for i in range(countries)),
        inputs=tuple(f"k{i}" for i in range(types * layers)), actors=tuple(f"d{i}" for i in range(sinks)),
        actor_members=tuple((int(country[s]),) for s in sink_nodes),
        node_names=tuple([f"p{v}" for v in range(n_prod)] + [f"sink{i}" for i in range(sinks)]),
    )
    network.validate()
    groups, labels = [], []
    buyer_country = country[dst_a]
    for i, s in enumerate(sink_nodes):
        upstream = _reaches(network.num_nodes, src_a, dst_a, int(s))
        for c in range(countries):
            for k in range(types * layers):
                for b in range(countries):
                    mask = ((country[src_a] == c) & (network.edge_input == k) & (buyer_country == b)
                            & upstream[dst_a])
                    if mask.any():
                        groups.append(mask)
                        labels.append(f"c{c}-k{k}-to-c{b}-d{i}")
    # Distinct route sets only: two labels closing the same routes would be one control.
    _, first = np.unique(np.array(groups, dtype=np.uint8), axis=0, return_index=True)
    first = np.sort(first)
    pick = np.sort(rng.choice(first, size=min(num_controls, first.size), replace=False))
    closes = np.array([groups[i] for i in pick], dtype=bool).reshape(len(pick), src_a.size)
    cost = rng.integers(1, 4, size=pick.size).astype(np.float64)
    collateral = np.where(country[src_a] < signatories, rng.uniform(0.0, 1.0, size=src_a.size), 0.0)
    return InterdictionInstance(network=network, sinks=sink_nodes, closes=closes, cost=cost,
                                collateral=collateral, labels=tuple(labels[i] for i in pick))
