"""The AND/OR production network as arrays, and its graph-tool form.

Nodes are producers (one country × one input type), transit hubs (a non-signatory
re-exporting one input type) and sinks (one actor's AI development). Edges are
routes that carry one input type from a node that has it to a node that needs it.

- AND across input types: node v needs ``a[v, k]`` units of every input type k in
  its recipe per unit of output (the *requirements* table).
- OR across suppliers: any open route carrying k into v counts towards k.

Plain max-flow is the special case with one input type and ``a = 1``
(:func:`max_flow_network`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from graph.dag import upstream_of
from graph.gt import gt, graph_from_arrays

__all__ = [
    "PRODUCER", "TRANSIT", "SINK", "SOURCE",
    "TRADE", "TRANSIT_IN", "TRANSIT_OUT", "HOME_COMPUTE", "CLOUD", "ARC",
    "NODE_KINDS", "EDGE_KINDS",
    "SupplyNetwork",
    "build_supply_network",
    "max_flow_network",
    "to_graph_tool",
    "export_control_routes",
    "compute_exclusion_routes",
    "secondary_control_routes",
    "restrict_network",
    "without_routes",
]

PRODUCER, TRANSIT, SINK, SOURCE = 0, 1, 2, 3
NODE_KINDS = ("producer", "transit", "sink", "source")
TRADE, TRANSIT_IN, TRANSIT_OUT, HOME_COMPUTE, CLOUD, ARC = 0, 1, 2, 3, 4, 5
EDGE_KINDS = ("trade", "transit_in", "transit_out", "home_compute", "cloud", "arc")


@dataclass(frozen=True)
class SupplyNetwork:
    """Arrays describing an AND/OR production network.

    Node arrays (length N): ``node_kind``, ``node_country`` (country index, -1 for
    sinks), ``node_input`` (input type produced or relayed, -1 for sinks),
    ``node_actor`` (actor index of a sink, else -1), ``node_capacity`` (``inf`` when
    unbounded). Edge arrays (length E): ``edge_src``, ``edge_dst``, ``edge_input``
    (input type carried), ``edge_capacity`` (``inf`` when unbounded), ``edge_kind``.
    Requirement arrays (length R): ``req_node``, ``req_input``, ``req_coefficient``.
    ``countries``, ``inputs`` and ``actors`` name the indices.

    Firm-level detail (optional): ``node_firm`` and ``node_facility`` (length N, -1 where
    a node is a country-level aggregate, a hub or a sink) index ``firms`` and
    ``facilities``. ``actor_capacity`` (A × N, optional) is the capacity each actor can
    use at each node — the short-run *headroom* (``docs/design.md#9-horizons``) — and
    ``actor_edge_capacity`` (A × E, optional) each actor's cap on each route; without them
    every actor can use ``node_capacity`` and ``edge_capacity``, which always hold the
    physical capacities (so per-actor values never exceed them). :meth:`for_actor` gives
    the network as one actor sees it. ``node_tool_origin`` (N × C bool, optional):
    ``[v, c]`` when node ``v``'s product is made with tools or design software from
    country ``c`` — judged on the installed base (the long-run routes), so a short-run view
    that waives tool routes keeps it; foreign-direct-product controls read it.
    ``actor_firms`` (one tuple of firm indices per actor, or empty): the firms whose
    producers belong to an actor wherever they are (a firm actor — a lab or cloud that
    owns clusters — uses its own compute freely, as a country actor uses its countries').
    """

    node_kind: np.ndarray
    node_country: np.ndarray
    node_input: np.ndarray
    node_actor: np.ndarray
    node_capacity: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_input: np.ndarray
    edge_capacity: np.ndarray
    edge_kind: np.ndarray
    req_node: np.ndarray
    req_input: np.ndarray
    req_coefficient: np.ndarray
    countries: tuple[str, ...]
    inputs: tuple[str, ...]
    actors: tuple[str, ...] = ()
    actor_members: tuple[tuple[int, ...], ...] = ()
    node_names: tuple[str, ...] = field(default=(), repr=False)
    node_firm: np.ndarray | None = field(default=None, repr=False)
    node_facility: np.ndarray | None = field(default=None, repr=False)
    firms: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    actor_capacity: np.ndarray | None = field(default=None, repr=False)
    actor_edge_capacity: np.ndarray | None = field(default=None, repr=False)
    node_tool_origin: np.ndarray | None = field(default=None, repr=False)
    actor_firms: tuple[tuple[int, ...], ...] = ()

    @property
    def num_nodes(self) -> int:
        return int(self.node_kind.size)

    def firm_index(self) -> np.ndarray:
        """Firm index of every node (-1: none)."""
        return (np.full(self.num_nodes, -1, dtype=np.int32) if self.node_firm is None
                else np.asarray(self.node_firm, dtype=np.int32))

    def facility_index(self) -> np.ndarray:
        """Facility index of every node (-1: none)."""
        return (np.full(self.num_nodes, -1, dtype=np.int32) if self.node_facility is None
                else np.asarray(self.node_facility, dtype=np.int32))

    @property
    def num_edges(self) -> int:
        return int(self.edge_src.size)

    def sink_of(self, actor: int) -> int:
        """Node index of an actor's sink."""
        hits = np.flatnonzero((self.node_kind == SINK) & (self.node_actor == actor))
        if hits.size != 1:
            raise KeyError(f"actor {actor} has no unique sink")
        return int(hits[0])

    @property
    def per_actor(self) -> bool:
        """Whether actors see different capacities (a short-run network)."""
        return self.actor_capacity is not None or self.actor_edge_capacity is not None

    def for_actor(self, actor: int) -> "SupplyNetwork":
        """The network with the capacities ``actor`` can use as its physical ones (itself
        when every actor sees the same capacities)."""
        if not self.per_actor:
            return self
        return dataclasses.replace(
            self,
            node_capacity=self.node_capacity if self.actor_capacity is None else self.actor_capacity[actor],
            edge_capacity=self.edge_capacity if self.actor_edge_capacity is None else self.actor_edge_capacity[actor],
            actor_capacity=None, actor_edge_capacity=None)

    def for_sink(self, sink: int) -> "SupplyNetwork":
        """:meth:`for_actor` of the actor whose sink is ``sink`` (itself for a sink of no actor,
        such as the sink of a max-flow instance)."""
        actor = int(self.node_actor[sink])
        return self if actor < 0 else self.for_actor(actor)

    def firms_of(self, actor: int) -> tuple[int, ...]:
        """Firm indices owned by ``actor`` (none for a country actor)."""
        return tuple(self.actor_firms[actor]) if self.actor_firms else ()

    def actor_nodes(self, actor: int) -> np.ndarray:
        """Nodes that belong to ``actor`` (boolean mask of length N): those in its member
        countries, those of its firms wherever they are, and its sink — where a control
        aimed at the actor stops what flows in."""
        mine = np.isin(self.node_country, np.asarray(self.actor_members[actor], dtype=np.int32))
        mine &= self.node_kind != SINK
        firms = self.firms_of(actor)
        if firms:
            mine |= np.isin(self.firm_index(), np.asarray(firms, dtype=np.int32))
        return mine | ((self.node_kind == SINK) & (self.node_actor == actor))

    def routes_reaching(self, sinks) -> np.ndarray:
        """Routes on some path to one of ``sinks`` (boolean mask of length E).

        Only these routes can carry flow that ends in those sinks, so a capability of the
        sinks depends on which of them are open and on no other route (see
        :mod:`optimization.capability`: shipping less than is made is always allowed).
        O(N + E) (:func:`graph.dag.upstream_of`).
        """
        return upstream_of(self.num_nodes, self.edge_src, self.edge_dst, sinks)[self.edge_dst]

    def edge_requirement(self) -> np.ndarray:
        """For each edge, the requirement row it serves (-1 if its target needs no such input)."""
        key_req = self.req_node.astype(np.int64) * len(self.inputs) + self.req_input
        key_edge = self.edge_dst.astype(np.int64) * len(self.inputs) + self.edge_input
        order = np.argsort(key_req, kind="stable")
        sorted_keys = key_req[order]
        pos = np.searchsorted(sorted_keys, key_edge)
        pos_clipped = np.minimum(pos, max(sorted_keys.size - 1, 0))
        found = (sorted_keys.size > 0) & (sorted_keys[pos_clipped] == key_edge)
        return np.where(found, order[pos_clipped], -1)

    def validate(self) -> None:
        """Check array shapes, index ranges and value types; raise ValueError if wrong."""
        n, e, r = self.num_nodes, self.num_edges, self.req_node.size
        for name, arr, size in [("node_country", self.node_country, n), ("node_input", self.node_input, n),
                                ("node_actor", self.node_actor, n), ("node_capacity", self.node_capacity, n),
                                ("edge_dst", self.edge_dst, e), ("edge_input", self.edge_input, e),
                                ("edge_capacity", self.edge_capacity, e), ("edge_kind", self.edge_kind, e),
                                ("req_input", self.req_input, r), ("req_coefficient", self.req_coefficient, r)]:
            if arr.shape != (size,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({size},)")
        if e and (self.edge_src.min() < 0 or self.edge_src.max() >= n or self.edge_dst.min() < 0 or self.edge_dst.max() >= n):
            raise ValueError("edge endpoints out of range")
        if r and (self.req_node.min() < 0 or self.req_node.max() >= n):
            raise ValueError("requirement node out of range")
        for name, arr in [("node_capacity", self.node_capacity), ("edge_capacity", self.edge_capacity),
                          ("req_coefficient", self.req_coefficient)]:
            if np.isnan(arr).any() or (arr < 0).any():
                raise ValueError(f"{name} must be non-negative numbers (NaN or negative found)")
        for name, arr, labels in [("node_firm", self.node_firm, self.firms),
                                  ("node_facility", self.node_facility, self.facilities)]:
            if arr is None:
                continue
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
            if arr.size and (arr.min() < -1 or arr.max() >= len(labels)):
                raise ValueError(f"{name} indices out of range")
        if self.actor_firms:
            if len(self.actor_firms) != len(self.actors):
                raise ValueError("actor_firms needs one firm list per actor")
            if any(f < 0 or f >= len(self.firms) for owned in self.actor_firms for f in owned):
                raise ValueError("actor_firms indices out of range")
        if self.node_tool_origin is not None and self.node_tool_origin.shape != (n, len(self.countries)):
            raise ValueError(f"node_tool_origin has shape {self.node_tool_origin.shape}, "
                             f"expected ({n}, {len(self.countries)})")
        if self.actor_capacity is not None:
            if self.actor_capacity.shape != (len(self.actors), n):
                raise ValueError(f"actor_capacity has shape {self.actor_capacity.shape}, "
                                 f"expected ({len(self.actors)}, {n})")
            if np.isnan(self.actor_capacity).any() or (self.actor_capacity < 0).any():
                raise ValueError("actor_capacity must be non-negative numbers (NaN or negative found)")
            if (self.actor_capacity > self.node_capacity[None, :] * (1 + 1e-9) + 1e-9).any():
                raise ValueError("actor_capacity exceeds node_capacity (headroom above physical capacity)")
        if self.actor_edge_capacity is not None:
            if self.actor_edge_capacity.shape != (len(self.actors), e):
                raise ValueError(f"actor_edge_capacity has shape {self.actor_edge_capacity.shape}, "
                                 f"expected ({len(self.actors)}, {e})")
            if np.isnan(self.actor_edge_capacity).any() or (self.actor_edge_capacity < 0).any():
                raise ValueError("actor_edge_capacity must be non-negative numbers (NaN or negative found)")
            if (self.actor_edge_capacity > self.edge_capacity[None, :] * (1 + 1e-9) + 1e-9).any():
                raise ValueError("actor_edge_capacity exceeds edge_capacity")
        if (self.req_coefficient <= 0).any():
            raise ValueError("recipe coefficients must be positive")
        if (self.edge_requirement() < 0).any():
            bad = int(np.flatnonzero(self.edge_requirement() < 0)[0])
            raise ValueError(f"edge {bad} carries input {self.edge_input[bad]} that its target does not need")


def _cartesian(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(a, b.size), np.tile(b, a.size)


def build_supply_network(
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
    actor_firms=(),
    cloud_access_fraction: float = 0.0,
    transit_country=(),
    transit_fraction=(),
    world_capacity=None,
    producer_firm=None,
    producer_facility=None,
    firms=(),
    facilities=(),
) -> SupplyNetwork:
    """Build the country-level AND/OR network from tables given as arrays.

    Parameters
    ----------
    countries, inputs : sequence of str
        Names of country and input-type indices.
    producer_country, producer_input, producer_capacity : array_like
        One row per (country, input type) with positive capacity.
    recipe_product, recipe_input, recipe_coefficient : array_like
        ``product`` needs ``coefficient`` units of ``input`` per unit.
    compute_input : int
        Input type consumed by sinks (one unit per unit of capability).
    actors : sequence of str
        Actor names; each gets a sink.
    actor_members : sequence of sequence of int
        Countries whose domestic compute an actor uses without limit.
    actor_firms : sequence of sequence of int, optional
        Firms (indices into ``firms``) whose compute an actor uses without limit wherever
        it is (a firm actor; empty for a country actor).
    cloud_access_fraction : float
        Share of a foreign country's compute an actor can rent (cloud route capacity).
    transit_country, transit_fraction : array_like
        Non-signatory transit hubs: each relays every input type up to
        ``fraction × world_capacity[k]`` from suppliers elsewhere to buyers elsewhere.
    world_capacity : array_like, optional
        World capacity per input type; defaults to the sum of producer capacities.
    producer_firm, producer_facility : array_like of int, optional
        Per producer row, the index into ``firms`` / ``facilities`` (-1: a country-level
        producer with no firm or facility). Several rows may then share a (country,
        input type); node names become ``ISO3:input:firm[:facility]``.
    firms, facilities : sequence of str
        Names of the firm and facility indices.

    Returns
    -------
    SupplyNetwork

    Notes
    -----
    Routes are all supplier × buyer pairs of each recipe edge, built with
    ``numpy.repeat``/``tile`` per recipe edge: O(R + E) for R recipe edges and E routes.
    """
    countries, inputs, actors = tuple(countries), tuple(inputs), tuple(actors)
    n_in = len(inputs)
    p_country = np.asarray(producer_country, dtype=np.int32)
    p_input = np.asarray(producer_input, dtype=np.int32)
    p_cap = np.asarray(producer_capacity, dtype=np.float64)
    if np.isnan(p_cap).any() or (p_cap < 0).any():
        raise ValueError("producer capacities must be non-negative numbers")
    firms, facilities = tuple(firms), tuple(facilities)
    p_firm = (np.full(p_cap.size, -1, dtype=np.int32) if producer_firm is None
              else np.asarray(producer_firm, dtype=np.int32))
    p_facility = (np.full(p_cap.size, -1, dtype=np.int32) if producer_facility is None
                  else np.asarray(producer_facility, dtype=np.int32))
    if p_firm.shape != p_cap.shape or p_facility.shape != p_cap.shape:
        raise ValueError("producer_firm and producer_facility need one entry per producer row")
    keep = p_cap > 0
    p_country, p_input, p_cap = p_country[keep], p_input[keep], p_cap[keep]
    p_firm, p_facility = p_firm[keep], p_facility[keep]
    r_prod = np.asarray(recipe_product, dtype=np.int32)
    r_in = np.asarray(recipe_input, dtype=np.int32)
    r_coef = np.asarray(recipe_coefficient, dtype=np.float64)
    world = (np.bincount(p_input, weights=p_cap, minlength=n_in) if world_capacity is None
             else np.asarray(world_capacity, dtype=np.float64))
    t_country = np.asarray(transit_country, dtype=np.int32)
    t_frac = np.asarray(transit_fraction, dtype=np.float64)

    n_prod = p_country.size
    producers_of = [np.flatnonzero(p_input == k) for k in range(n_in)]

    # Transit hubs: one per (transit country, input type that has both suppliers and buyers).
    consumed = np.zeros(n_in, dtype=bool)
    consumed[r_in] = True
    consumed[compute_input] = True
    t_rows = [(c, k, f * world[k]) for c, f in zip(t_country, t_frac) if f > 0
              for k in range(n_in) if consumed[k] and producers_of[k].size]
    t_node_country = np.array([r[0] for r in t_rows], dtype=np.int32)
    t_node_input = np.array([r[1] for r in t_rows], dtype=np.int32)
    t_node_cap = np.array([r[2] for r in t_rows], dtype=np.float64)
    n_tr = t_node_country.size
    n_sink = len(actors)

    node_kind = np.concatenate([np.full(n_prod, PRODUCER), np.full(n_tr, TRANSIT), np.full(n_sink, SINK)]).astype(np.int8)
    node_country = np.concatenate([p_country, t_node_country, np.full(n_sink, -1)]).astype(np.int32)
    node_input = np.concatenate([p_input, t_node_input, np.full(n_sink, -1)]).astype(np.int32)
    node_actor = np.concatenate([np.full(n_prod + n_tr, -1), np.arange(n_sink)]).astype(np.int32)
    node_capacity = np.concatenate([p_cap, t_node_cap, np.full(n_sink, np.inf)])
    sink_nodes = n_prod + n_tr + np.arange(n_sink)

    src_parts, dst_parts, inp_parts, cap_parts, kind_parts = [], [], [], [], []

    def add(src, dst, k, cap, kind):
        src_parts.append(np.asarray(src, dtype=np.int64))
        dst_parts.append(np.asarray(dst, dtype=np.int64))
        inp_parts.append(np.broadcast_to(np.asarray(k, dtype=np.int32), np.shape(src)))
        cap_parts.append(np.broadcast_to(np.asarray(cap, dtype=np.float64), np.shape(src)))
        kind_parts.append(np.full(np.shape(src), kind, dtype=np.int8))

    req_node_parts, req_input_parts, req_coef_parts = [], [], []
    for product, k, a in zip(r_prod, r_in, r_coef):
        buyers = producers_of[product]
        if not buyers.size:
            continue
        req_node_parts.append(buyers)
        req_input_parts.append(np.full(buyers.size, k))
        req_coef_parts.append(np.full(buyers.size, a))
        s, d = _cartesian(producers_of[k], buyers)
        add(s, d, k, np.inf, TRADE)

    # Transit hubs buy from suppliers outside their country and sell to buyers outside it.
    transit_nodes = n_prod + np.arange(n_tr)
    for node, c, k in zip(transit_nodes, t_node_country, t_node_input):
        suppliers = producers_of[k][p_country[producers_of[k]] != c]
        add(suppliers, np.full(suppliers.size, node), k, np.inf, TRANSIT_IN)
        buyers = np.unique(np.concatenate([producers_of[p][p_country[producers_of[p]] != c]
                                           for p in r_prod[r_in == k]] or [np.empty(0, np.int32)]))
        if k == compute_input:
            member_sets = [set(m) for m in actor_members]
            buyers = np.concatenate([buyers, np.array([sink_nodes[a] for a in range(n_sink)
                                                       if c not in member_sets[a]], dtype=np.int64)])
        add(np.full(buyers.size, node), buyers, k, np.inf, TRANSIT_OUT)
    req_node_parts.append(transit_nodes)
    req_input_parts.append(t_node_input)
    req_coef_parts.append(np.ones(n_tr))

    # Sinks use their own compute (domestic, or their firms') freely and other compute through capped cloud routes.
    compute_nodes = producers_of[compute_input]
    owned_firms = [tuple(int(f) for f in owned) for owned in actor_firms] if len(actor_firms) else []
    if owned_firms and len(owned_firms) != n_sink:
        raise ValueError("actor_firms needs one firm list per actor")
    for a in range(n_sink):
        home = np.isin(p_country[compute_nodes], np.asarray(actor_members[a], dtype=np.int32))
        if owned_firms and owned_firms[a]:
            home |= np.isin(p_firm[compute_nodes], np.asarray(owned_firms[a], dtype=np.int32))
        add(compute_nodes[home], np.full(int(home.sum()), sink_nodes[a]), compute_input, np.inf, HOME_COMPUTE)
        foreign = compute_nodes[~home]
        if cloud_access_fraction > 0 and foreign.size:
            add(foreign, np.full(foreign.size, sink_nodes[a]), compute_input, cloud_access_fraction * p_cap[foreign], CLOUD)
    req_node_parts.append(sink_nodes)
    req_input_parts.append(np.full(n_sink, compute_input))
    req_coef_parts.append(np.ones(n_sink))

    def producer_name(c, k, firm, facility):
        name = f"{countries[c]}:{inputs[k]}"
        if firm >= 0:
            name += f":{firms[firm]}"
        if facility >= 0:
            name += f":{facilities[facility]}"
        return name

    names = tuple(
        [producer_name(c, k, m, s) for c, k, m, s in zip(p_country, p_input, p_firm, p_facility)]
        + [f"transit:{countries[c]}:{inputs[k]}" for c, k in zip(t_node_country, t_node_input)]
        + [f"sink:{a}" for a in actors]
    )
    network = SupplyNetwork(
        node_kind=node_kind, node_country=node_country, node_input=node_input, node_actor=node_actor,
        node_capacity=node_capacity,
        edge_src=np.concatenate(src_parts) if src_parts else np.empty(0, np.int64),
        edge_dst=np.concatenate(dst_parts) if dst_parts else np.empty(0, np.int64),
        edge_input=np.concatenate(inp_parts).astype(np.int32) if inp_parts else np.empty(0, np.int32),
        edge_capacity=np.concatenate(cap_parts).astype(np.float64) if cap_parts else np.empty(0),
        edge_kind=np.concatenate(kind_parts) if kind_parts else np.empty(0, np.int8),
        req_node=np.concatenate(req_node_parts).astype(np.int64),
        req_input=np.concatenate(req_input_parts).astype(np.int32),
        req_coefficient=np.concatenate(req_coef_parts).astype(np.float64),
        countries=countries, inputs=inputs, actors=actors,
        actor_members=tuple(tuple(int(m) for m in members) for members in actor_members),
        actor_firms=tuple(owned_firms),
        node_names=names,
        node_firm=(np.concatenate([p_firm, np.full(n_tr + n_sink, -1)]).astype(np.int32) if firms else None),
        node_facility=(np.concatenate([p_facility, np.full(n_tr + n_sink, -1)]).astype(np.int32)
                       if facilities else None),
        firms=firms, facilities=facilities,
    )
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"two producers have the same name {duplicate!r}: give them a firm or facility")
    network.validate()
    return network


def restrict_network(network: SupplyNetwork, *, keep_edges: np.ndarray, keep_requirements: np.ndarray,
                     edge_capacity: np.ndarray | None = None, actor_capacity: np.ndarray | None = None,
                     actor_edge_capacity: np.ndarray | None = None) -> SupplyNetwork:
    """The same nodes with a subset of routes and requirements, other route capacities
    and per-actor node capacities (the short-run view of a network).

    Parameters
    ----------
    network : SupplyNetwork
    keep_edges : bool array (E,)
        Routes that exist in the restricted network.
    keep_requirements : bool array (R,)
        Requirement rows that stay (a dropped row means the buyer does not need that
        input within the horizon, e.g. an installed tool base). Routes serving a dropped
        requirement must be dropped too.
    edge_capacity : array (E,), optional
        New route capacities (of all E routes; only the kept ones are used).
    actor_capacity : array (A, N), optional
        Per-actor node capacities, each at most ``node_capacity``.
    actor_edge_capacity : array (A, E), optional
        Per-actor route capacities of all E routes, each at most the route's capacity.

    Returns
    -------
    SupplyNetwork
        Node arrays and names unchanged (node ``i`` is the same producer in both).
    """
    keep_edges = np.asarray(keep_edges, dtype=bool)
    keep_requirements = np.asarray(keep_requirements, dtype=bool)
    if keep_edges.shape != (network.num_edges,) or keep_requirements.shape != (network.req_node.size,):
        raise ValueError("keep_edges and keep_requirements need one flag per route and per requirement")
    capacity = network.edge_capacity if edge_capacity is None else np.asarray(edge_capacity, dtype=np.float64)
    if capacity.shape != (network.num_edges,):
        raise ValueError("edge_capacity needs one value per route")
    restricted = dataclasses.replace(
        network,
        edge_src=network.edge_src[keep_edges], edge_dst=network.edge_dst[keep_edges],
        edge_input=network.edge_input[keep_edges], edge_capacity=capacity[keep_edges],
        edge_kind=network.edge_kind[keep_edges],
        req_node=network.req_node[keep_requirements], req_input=network.req_input[keep_requirements],
        req_coefficient=network.req_coefficient[keep_requirements],
        actor_capacity=None if actor_capacity is None else np.asarray(actor_capacity, dtype=np.float64),
        actor_edge_capacity=(None if actor_edge_capacity is None
                             else np.asarray(actor_edge_capacity, dtype=np.float64)[:, keep_edges]),
    )
    restricted.validate()
    return restricted


def without_routes(network: SupplyNetwork, closed: np.ndarray) -> SupplyNetwork:
    """The same network without the ``closed`` routes: every node, requirement and per-actor
    capacity kept (a world where those routes are shut, e.g. by controls in force).

    Parameters
    ----------
    network : SupplyNetwork
    closed : bool array (E,)
        Routes to drop.

    Returns
    -------
    SupplyNetwork
        Route ``j`` of the result is route ``np.flatnonzero(~closed)[j]`` of ``network``.

    Notes
    -----
    O(N + E + A · E) array work for N nodes, E routes and A actors with their own route
    capacities. A capability LP on the result equals the LP on ``network`` with the closed
    routes' flows fixed at zero.
    """
    closed = np.asarray(closed)
    if closed.dtype != bool or closed.shape != (network.num_edges,):
        raise ValueError(f"closed must be a bool array with one flag per route ({network.num_edges})")
    return restrict_network(network, keep_edges=~closed, keep_requirements=np.ones(network.req_node.size, dtype=bool),
                            actor_capacity=network.actor_capacity, actor_edge_capacity=network.actor_edge_capacity)


def max_flow_network(num_nodes: int, src, dst, capacity, source: int, sink: int) -> SupplyNetwork:
    """Plain max-flow as an AND/OR network: one input type, every coefficient 1.

    The source is unbounded and needs nothing; every other node needs the single
    input type; ``sink`` is the sink (actor 0). Its capability equals the s–t max-flow.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    capacity = np.asarray(capacity, dtype=np.float64)
    if not (0 <= source < num_nodes and 0 <= sink < num_nodes) or source == sink:
        raise ValueError("source and sink must be distinct node indices")
    # Arcs into the source or out of the sink never carry useful s-t flow; arcs out of
    # the sink would even let flow re-enter it and be counted twice.
    keep = (dst != source) & (src != sink)
    src, dst, capacity = src[keep], dst[keep], capacity[keep]
    kind = np.full(num_nodes, PRODUCER, dtype=np.int8)
    kind[source], kind[sink] = SOURCE, SINK
    actor = np.full(num_nodes, -1, dtype=np.int32)
    actor[sink] = 0
    needs = np.setdiff1d(np.arange(num_nodes), [source])
    network = SupplyNetwork(
        node_kind=kind, node_country=np.zeros(num_nodes, np.int32), node_input=np.zeros(num_nodes, np.int32),
        node_actor=actor, node_capacity=np.full(num_nodes, np.inf),
        edge_src=src, edge_dst=dst, edge_input=np.zeros(src.size, np.int32), edge_capacity=capacity,
        edge_kind=np.full(src.size, ARC, dtype=np.int8),
        req_node=needs, req_input=np.zeros(needs.size, np.int32), req_coefficient=np.ones(needs.size),
        countries=("",), inputs=("flow",), actors=("sink",), actor_members=((),),
        node_names=tuple(str(i) for i in range(num_nodes)),
    )
    network.validate()
    return network


def to_graph_tool(network: SupplyNetwork) -> "gt.Graph":
    """The network as a directed graph-tool graph with its arrays as property maps.

    Vertex properties: ``kind``, ``country``, ``input``, ``actor``, ``capacity``,
    ``name``. Edge properties: ``input``, ``capacity``, ``kind``. Edge i is route i.
    """
    graph = graph_from_arrays(network.num_nodes, network.edge_src, network.edge_dst)
    for name, arr, typ in [("kind", network.node_kind, "int16_t"), ("country", network.node_country, "int32_t"),
                           ("input", network.node_input, "int32_t"), ("actor", network.node_actor, "int32_t"),
                           ("capacity", network.node_capacity, "double")]:
        prop = graph.new_vertex_property(typ)
        prop.a[:] = arr
        graph.vertex_properties[name] = prop
    names = graph.new_vertex_property("string")
    for v, label in zip(graph.vertices(), network.node_names):
        names[v] = label
    graph.vertex_properties["name"] = names
    for name, arr, typ in [("input", network.edge_input, "int32_t"), ("capacity", network.edge_capacity, "double"),
                           ("kind", network.edge_kind, "int16_t")]:
        prop = graph.new_edge_property(typ)
        prop.a[:] = arr
        graph.edge_properties[name] = prop
    return graph


def export_control_routes(network: SupplyNetwork, jurisdiction: int, input_type: int, destination_actor: int) -> np.ndarray:
    """Routes an export control closes: ``input_type`` from producers in ``jurisdiction``
    to buyers in the destination actor's countries (and to its sink for compute)."""
    src_country = network.node_country[network.edge_src]
    to_destination = network.actor_nodes(destination_actor)[network.edge_dst]
    from_jurisdiction = (network.node_kind[network.edge_src] == PRODUCER) & (src_country == jurisdiction)
    return from_jurisdiction & to_destination & (network.edge_input == input_type)


def compute_exclusion_routes(network: SupplyNetwork, jurisdiction: int, destination_actor: int) -> np.ndarray:
    """Routes a compute exclusion closes: compute in ``jurisdiction`` → the actor's sink."""
    into_sink = network.node_actor[network.edge_dst] == destination_actor
    from_clusters = (network.node_kind[network.edge_src] == PRODUCER) & (network.node_country[network.edge_src] == jurisdiction)
    return into_sink & from_clusters


def secondary_control_routes(network: SupplyNetwork, transit: int, input_type: int, destination_actor: int) -> np.ndarray:
    """Routes a secondary control closes: re-exports of ``input_type`` via ``transit`` to the destination."""
    from_hub = (network.node_kind[network.edge_src] == TRANSIT) & (network.node_country[network.edge_src] == transit)
    to_destination = network.actor_nodes(destination_actor)[network.edge_dst]
    return from_hub & to_destination & (network.edge_input == input_type)
