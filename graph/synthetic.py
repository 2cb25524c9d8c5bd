"""Synthetic facility-level AND/OR networks expanded from country-level shares.

The country-level network (:func:`graph.network.build_supply_network`) has one node per
(country, input type). For scale work the generator here splits every such node into
facilities with heavy-tailed capacities and lets every buyer facility draw a few
suppliers per required input, so that the network has any requested size while each
country keeps its share of every input:

- **facilities**: the producer budget is split evenly over the input types that have
  producers; within an input type every producing country gets at least one facility
  and the rest by share (largest remainder). Facility capacities within a
  (country, input) pair are Pareto draws (shape ``capacity_tail``) rescaled so that
  they sum to the country's capacity exactly; country shares are therefore preserved
  up to rounding of floating-point sums.
- **AND**: every facility of product p needs every input of p's recipe with p's
  coefficient.
- **OR**: for every requirement the buyer draws ``1 + Poisson(λ)`` suppliers of the
  input, with probability proportional to ``capacity ** supplier_preference``
  (the first draw always from producers, later ones may hit a transit hub);
  duplicates are merged. λ is set so that the network has about ``edges_per_node``
  routes per node.
- **transit hubs** (one per non-signatory hub country × consumed input, capacity
  ``fraction × world capacity``) buy from a few suppliers outside their country and
  sell to buyers outside it that drew them; compute hubs serve every sink whose actor
  does not include the hub country (as in the country-level model).
- **sinks**: one per actor, fed by every compute facility in its member countries
  (unbounded) and by every foreign one through a cloud route capped at
  ``cloud_access_fraction`` of that facility's capacity.

Because facility capacities and cloud caps sum to the country-level ones and the
facility routes are a subset of the country-level routes, aggregating a facility
flow by country gives a feasible country-level flow: the facility network's
capability never exceeds the country-level one.

Deterministic by seed: one ``numpy.random.Generator`` consumed in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.arrays import concat_ranges
from graph.dag import find_cycle
from graph.network import (CLOUD, HOME_COMPUTE, PRODUCER, SINK, TRADE, TRANSIT, TRANSIT_IN, TRANSIT_OUT,
                           SupplyNetwork)

__all__ = ["SyntheticSpec", "generate_facility_network", "country_shares", "minimum_nodes"]


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and shape of a synthetic facility network.

    Parameters
    ----------
    nodes : int
        Total number of nodes (facilities + transit hubs + sinks), exactly.
    edges_per_node : float
        Target mean number of routes per node (met within a few per cent).
    seed : int
        Seed of the random generator; equal specs give equal networks.
    capacity_tail : float
        Shape α of the Pareto law of facility sizes (α ≤ 2: infinite variance).
    supplier_preference : float
        Exponent β in the supplier-choice weight ``capacity ** β`` (0: uniform,
        1: proportional to capacity).
    """

    nodes: int = 1_000
    edges_per_node: float = 5.0
    seed: int = 0
    capacity_tail: float = 1.5
    supplier_preference: float = 1.0

    def __post_init__(self):
        if not isinstance(self.nodes, (int, np.integer)) or self.nodes < 1:
            raise ValueError(f"nodes must be a positive integer, got {self.nodes!r}")
        if not np.isfinite(self.edges_per_node) or self.edges_per_node <= 0:
            raise ValueError(f"edges_per_node must be a positive number, got {self.edges_per_node!r}")
        if not np.isfinite(self.capacity_tail) or self.capacity_tail <= 0:
            raise ValueError(f"capacity_tail must be positive, got {self.capacity_tail!r}")
        if not np.isfinite(self.supplier_preference) or self.supplier_preference < 0:
            raise ValueError(f"supplier_preference must be non-negative, got {self.supplier_preference!r}")


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (Hamilton's method)."""
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(weights.size, dtype=np.int64)
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(np.int64)
    short = total - int(base.sum())
    # Ties broken by position so the result does not depend on sort stability.
    order = np.lexsort((np.arange(weights.size), -(quota - base)))
    base[order[:short]] += 1
    return base


def minimum_nodes(num_country_rows: int, num_transit: int, num_actors: int) -> int:
    """Smallest node count a synthetic network can have: one facility per row."""
    return num_country_rows + num_transit + num_actors


def generate_facility_network(
    *,
    countries,
    inputs,
    producer_country,
    producer_input,
    producer_capacity,
    recipe_product,
    recipe_input,
    recipe_coefficient,
    compute_input: int,
    actors=(),
    actor_members=(),
    cloud_access_fraction: float = 0.0,
    transit_country=(),
    transit_fraction=(),
    world_capacity=None,
    spec: SyntheticSpec = SyntheticSpec(),
) -> SupplyNetwork:
    """Expand country-level capacities into a facility-level AND/OR network.

    Parameters are those of :func:`graph.network.build_supply_network` (one row per
    country × input with positive capacity; recipes; actors and their member
    countries; cloud access; transit hubs) plus ``spec``.

    Returns
    -------
    SupplyNetwork
        Nodes ordered producers (grouped by input type, then country), transit hubs,
        sinks; ``node_names`` like ``"TWN:leading_edge_logic_fab#3"``.

    Raises
    ------
    ValueError
        If the recipes have a cycle, indices are out of range, capacities are
        negative, or ``spec.nodes`` is below :func:`minimum_nodes`.

    Notes
    -----
    O(N + E) numpy work for N nodes and E routes (supplier draws by inverse-CDF
    ``searchsorted`` on per-input cumulative weights: O(E log N)); Python loops run
    only over recipe rows, transit hubs and actors, never over facilities or routes.
    """
    countries, inputs, actors = tuple(countries), tuple(inputs), tuple(actors)
    n_in, n_country, n_actor = len(inputs), len(countries), len(actors)
    p_country = np.asarray(producer_country, dtype=np.int64)
    p_input = np.asarray(producer_input, dtype=np.int64)
    p_cap = np.asarray(producer_capacity, dtype=np.float64)
    r_prod = np.asarray(recipe_product, dtype=np.int64)
    r_in = np.asarray(recipe_input, dtype=np.int64)
    r_coef = np.asarray(recipe_coefficient, dtype=np.float64)
    t_country = np.asarray(transit_country, dtype=np.int64)
    t_frac = np.asarray(transit_fraction, dtype=np.float64)
    if not (p_country.shape == p_input.shape == p_cap.shape) or not (r_prod.shape == r_in.shape == r_coef.shape):
        raise ValueError("producer and recipe arrays must have matching lengths")
    if p_cap.size and (np.isnan(p_cap).any() or (p_cap < 0).any()):
        raise ValueError("producer capacities must be non-negative numbers")
    if p_input.size and (p_input.min() < 0 or p_input.max() >= n_in):
        raise ValueError("producer input index out of range")
    if p_country.size and (p_country.min() < 0 or p_country.max() >= n_country):
        raise ValueError("producer country index out of range")
    if r_prod.size and (min(r_prod.min(), r_in.min()) < 0 or max(r_prod.max(), r_in.max()) >= n_in):
        raise ValueError("recipe input index out of range")
    if (r_coef <= 0).any():
        raise ValueError("recipe coefficients must be positive")
    if not 0 <= compute_input < n_in:
        raise ValueError("compute_input out of range")
    if len(actor_members) != n_actor:
        raise ValueError("actor_members needs one member list per actor")
    cycle = find_cycle(n_in, r_in, r_prod)
    if cycle:
        raise ValueError("recipes have a cycle: " + " -> ".join(inputs[k] for k in cycle))
    rng = np.random.default_rng(spec.seed)
    world = (np.bincount(p_input, weights=p_cap, minlength=n_in) if world_capacity is None
             else np.asarray(world_capacity, dtype=np.float64))

    # Country rows with capacity, sorted by (input, country): facilities of one input
    # type end up contiguous.
    keep = p_cap > 0
    p_country, p_input, p_cap = p_country[keep], p_input[keep], p_cap[keep]
    order = np.lexsort((p_country, p_input))
    p_country, p_input, p_cap = p_country[order], p_input[order], p_cap[order]
    has_producers = np.bincount(p_input, minlength=n_in) > 0

    consumed = np.zeros(n_in, dtype=bool)
    consumed[r_in] = True
    consumed[compute_input] = True
    hubs = [(int(c), k, float(f * world[k])) for c, f in zip(t_country, t_frac) if f > 0
            for k in range(n_in) if consumed[k] and has_producers[k]]
    n_transit = len(hubs)
    n_prod = spec.nodes - n_transit - n_actor
    if n_prod < p_country.size:
        raise ValueError(f"nodes={spec.nodes} is too small: at least "
                         f"{minimum_nodes(p_country.size, n_transit, n_actor)} needed "
                         f"({p_country.size} country rows, {n_transit} transit hubs, {n_actor} sinks)")

    # Facilities per row: one each, the rest split evenly over input types and by share within one.
    row_total = np.bincount(p_input, weights=p_cap, minlength=n_in)
    row_weight = p_cap / row_total[p_input] / int(has_producers.sum())
    per_row = 1 + _largest_remainder(n_prod - p_country.size, row_weight)
    row_of = np.repeat(np.arange(per_row.size), per_row)
    size = 1.0 + rng.pareto(spec.capacity_tail, size=n_prod)
    size_sum = np.bincount(row_of, weights=size, minlength=per_row.size)
    fac_cap = p_cap[row_of] * size / size_sum[row_of]
    fac_country = p_country[row_of]
    fac_input = p_input[row_of]
    fac_serial = np.arange(n_prod) - np.repeat(np.cumsum(per_row) - per_row, per_row) + 1
    fac_start = np.searchsorted(fac_input, np.arange(n_in))
    fac_end = np.searchsorted(fac_input, np.arange(n_in), side="right")

    hub_country = np.array([h[0] for h in hubs], dtype=np.int64)
    hub_input = np.array([h[1] for h in hubs], dtype=np.int64)
    hub_cap = np.array([h[2] for h in hubs], dtype=np.float64)
    hub_nodes = n_prod + np.arange(n_transit)
    sink_nodes = n_prod + n_transit + np.arange(n_actor)
    n = spec.nodes

    # Requirements of facilities (loop over recipe rows only).
    req_parts = [(concat_ranges([fac_start[p]], [fac_end[p] - fac_start[p]]), k, a) for p, k, a in zip(r_prod, r_in, r_coef)]
    buyer_req_node = np.concatenate([b for b, _, _ in req_parts] or [np.empty(0, np.int64)])
    buyer_req_input = np.concatenate([np.full(b.size, k) for b, k, _ in req_parts] or [np.empty(0, np.int64)])
    buyer_req_coef = np.concatenate([np.full(b.size, a) for b, _, a in req_parts] or [np.empty(0)])

    # Supplier pools per input: producers first, then hubs; weights normalised per input so
    # the global cumulative sum stays small and precise.
    weight = np.concatenate([fac_cap, hub_cap]) ** spec.supplier_preference
    pool_node = np.concatenate([np.arange(n_prod), hub_nodes])
    pool_input = np.concatenate([fac_input, hub_input])
    pool_order = np.lexsort((pool_node, pool_input))
    pool_node, pool_input, weight = pool_node[pool_order], pool_input[pool_order], weight[pool_order]
    pool_total = np.bincount(pool_input, weights=weight, minlength=n_in)
    weight = weight / np.where(pool_total > 0, pool_total, 1.0)[pool_input]
    cum = np.cumsum(weight)
    pool_start = np.searchsorted(pool_input, np.arange(n_in))
    pool_end = np.searchsorted(pool_input, np.arange(n_in), side="right")
    producers_end = pool_start + (fac_end - fac_start)   # producers precede hubs within a pool
    before = np.concatenate([[0.0], cum])                 # before[i] = sum of weights of entries < i

    sink_edge_count = n_actor * int(fac_end[compute_input] - fac_start[compute_input])
    target = spec.edges_per_node * n - sink_edge_count
    servable = has_producers[buyer_req_input]
    draws_per_req = max(target / max(int(servable.sum()), 1) - 1.0, 0.0)
    extra = rng.poisson(draws_per_req, size=buyer_req_node.size)
    count = np.where(servable, 1 + extra, 0)
    draw_req = np.repeat(np.arange(buyer_req_node.size), count)
    first = np.ones(draw_req.size, dtype=bool)
    first[1:] = draw_req[1:] != draw_req[:-1]
    k = buyer_req_input[draw_req]
    lo = pool_start[k]
    hi = np.where(first, producers_end[k], pool_end[k])
    u = rng.random(draw_req.size)
    target_mass = before[lo] + u * (before[hi] - before[lo])
    pick = np.clip(np.searchsorted(cum, target_mass, side="right"), lo, hi - 1)
    supplier = pool_node[pick]
    pair = np.unique(draw_req * np.int64(n) + supplier)
    draw_req, supplier = pair // n, pair % n
    buyer = buyer_req_node[draw_req]
    is_hub = supplier >= n_prod
    same_country = np.zeros(supplier.size, dtype=bool)
    same_country[is_hub] = hub_country[supplier[is_hub] - n_prod] == fac_country[buyer[is_hub]]
    draw_req, supplier, buyer = draw_req[~same_country], supplier[~same_country], buyer[~same_country]
    trade_kind = np.where(supplier >= n_prod, TRANSIT_OUT, TRADE).astype(np.int8)

    src_parts = [supplier]
    dst_parts = [buyer]
    inp_parts = [buyer_req_input[draw_req]]
    cap_parts = [np.full(supplier.size, np.inf)]
    kind_parts = [trade_kind]

    # Transit hubs: buy from suppliers outside their country (loop over hubs only).
    member_sets = [set(int(m) for m in members) for members in actor_members]
    for node, c, kk in zip(hub_nodes, hub_country, hub_input):
        candidates = np.arange(fac_start[kk], fac_end[kk])
        candidates = candidates[fac_country[candidates] != c]
        if candidates.size:
            m = min(candidates.size, 1 + int(rng.poisson(draws_per_req)))
            w = fac_cap[candidates] ** spec.supplier_preference
            chosen = np.sort(rng.choice(candidates, size=m, replace=False, p=w / w.sum()))
            src_parts.append(chosen)
            dst_parts.append(np.full(m, node))
            inp_parts.append(np.full(m, kk))
            cap_parts.append(np.full(m, np.inf))
            kind_parts.append(np.full(m, TRANSIT_IN, dtype=np.int8))
        if kk == compute_input:
            served = np.array([sink_nodes[a] for a in range(n_actor) if c not in member_sets[a]], dtype=np.int64)
            src_parts.append(np.full(served.size, node))
            dst_parts.append(served)
            inp_parts.append(np.full(served.size, kk))
            cap_parts.append(np.full(served.size, np.inf))
            kind_parts.append(np.full(served.size, TRANSIT_OUT, dtype=np.int8))

    # Sinks: home compute unbounded, foreign compute through capped cloud routes.
    compute = np.arange(fac_start[compute_input], fac_end[compute_input])
    for a in range(n_actor):
        home = np.isin(fac_country[compute], np.asarray(actor_members[a], dtype=np.int64))
        src_parts.append(compute[home])
        dst_parts.append(np.full(int(home.sum()), sink_nodes[a]))
        inp_parts.append(np.full(int(home.sum()), compute_input))
        cap_parts.append(np.full(int(home.sum()), np.inf))
        kind_parts.append(np.full(int(home.sum()), HOME_COMPUTE, dtype=np.int8))
        foreign = compute[~home]
        if cloud_access_fraction > 0 and foreign.size:
            src_parts.append(foreign)
            dst_parts.append(np.full(foreign.size, sink_nodes[a]))
            inp_parts.append(np.full(foreign.size, compute_input))
            cap_parts.append(cloud_access_fraction * fac_cap[foreign])
            kind_parts.append(np.full(foreign.size, CLOUD, dtype=np.int8))

    names = _names(countries, inputs, actors, fac_country, fac_input, fac_serial, hub_country, hub_input)
    network = SupplyNetwork(
        node_kind=np.concatenate([np.full(n_prod, PRODUCER), np.full(n_transit, TRANSIT),
                                  np.full(n_actor, SINK)]).astype(np.int8),
        node_country=np.concatenate([fac_country, hub_country, np.full(n_actor, -1)]).astype(np.int32),
        node_input=np.concatenate([fac_input, hub_input, np.full(n_actor, -1)]).astype(np.int32),
        node_actor=np.concatenate([np.full(n_prod + n_transit, -1), np.arange(n_actor)]).astype(np.int32),
        node_capacity=np.concatenate([fac_cap, hub_cap, np.full(n_actor, np.inf)]),
        edge_src=np.concatenate(src_parts).astype(np.int64),
        edge_dst=np.concatenate(dst_parts).astype(np.int64),
        edge_input=np.concatenate(inp_parts).astype(np.int32),
        edge_capacity=np.concatenate(cap_parts).astype(np.float64),
        edge_kind=np.concatenate(kind_parts).astype(np.int8),
        req_node=np.concatenate([buyer_req_node, hub_nodes, sink_nodes]).astype(np.int64),
        req_input=np.concatenate([buyer_req_input, hub_input, np.full(n_actor, compute_input)]).astype(np.int32),
        req_coefficient=np.concatenate([buyer_req_coef, np.ones(n_transit), np.ones(n_actor)]).astype(np.float64),
        countries=countries, inputs=inputs, actors=actors,
        actor_members=tuple(tuple(int(m) for m in members) for members in actor_members),
        node_names=names,
    )
    network.validate()
    return network


def _names(countries, inputs, actors, fac_country, fac_input, fac_serial, hub_country, hub_input) -> tuple[str, ...]:
    """Readable node names; one f-string per node (no per-route work)."""
    prefix = [f"{c}:{k}#" for c in countries for k in inputs]
    key = (fac_country * len(inputs) + fac_input).tolist()
    producers = [prefix[p] + str(s) for p, s in zip(key, fac_serial.tolist())]
    transit = [f"transit:{countries[c]}:{inputs[k]}" for c, k in zip(hub_country.tolist(), hub_input.tolist())]
    return tuple(producers + transit + [f"sink:{a}" for a in actors])


def country_shares(network: SupplyNetwork, world_capacity=None) -> np.ndarray:
    """Producer capacity per (input type, country), as a share of world capacity.

    Returns
    -------
    numpy.ndarray, shape (num_inputs, num_countries)
        ``share[k, c]`` = capacity of producers of k in c / ``world_capacity[k]``
        (default: total producer capacity of k). O(N).
    """
    producers = network.node_kind == PRODUCER
    k, c = network.node_input[producers], network.node_country[producers]
    n_in, n_c = len(network.inputs), len(network.countries)
    total = np.bincount(k * n_c + c, weights=network.node_capacity[producers], minlength=n_in * n_c).reshape(n_in, n_c)
    world = total.sum(axis=1) if world_capacity is None else np.asarray(world_capacity, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(world[:, None] > 0, total / world[:, None], 0.0)
