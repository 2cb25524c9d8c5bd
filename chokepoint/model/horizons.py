"""Horizons: what can move, and how fast (``docs/design.md#9-horizons``).

The supply network of :mod:`chokepoint.model.build` is the **long run**: capacity of an
input type is fungible across every supplier in the world and an actor may take all of
it. The **short run** (a horizon of about a year) keeps the same nodes and adds two
restrictions, both computed here from data:

- **Qualified routes.** A buyer draws an input only from suppliers it is qualified on,
  by the input type's rule (:data:`QUALIFICATION_KINDS`): ``design`` (an accelerator is
  made from its own designer's design), ``listed`` (the buyer firm's listed suppliers
  only: an accelerator's foundry, packager and HBM makers), ``process`` (the buyer keeps
  its supplier mix — a process of record cannot switch resist or gas suppliers within the
  horizon — so for actor ``a`` a route ``u → v`` carries at most
  ``(1 + ψ) · w_uv · a[v, k] · h[v, a]``, the usual share ``w_uv`` (suppliers in
  proportion to capacity) of what ``v`` needs to make its output for ``a``, with
  flexibility ``ψ``), ``installed_base`` (tools: a fab runs on its installed base within
  the horizon, so the requirement and its routes drop out), ``open`` (any supplier).
- **Headroom.** A supplier's capacity serves its committed demand first. The demand of
  every actor's current AI compute build-out is attributed upstream through the qualified
  network (:func:`attribute_demand`); with the input type's utilisation ``ρ_k`` the
  capacity actor ``a`` can use at node ``u`` is

      h[u, a] = committed[u, a] + (1 − ρ_k) · cap[u]

  where ``committed[u, a]`` is the part of ``u``'s output that ends up in ``a``'s current
  compute (rationed to ``ρ_k · cap[u]`` when attributed AI demand exceeds it). Non-AI
  demand (``ρ_k · cap[u]`` minus all AI commitments) and other actors' commitments are
  not available to ``a``. Input types without a utilisation figure are not limited.

**Qualification lead times.** A buyer can qualify a new supplier of input type ``k`` in
``ℓ_k`` months (``staging.short_run_rules.lead_time_months``; absent: not within any
horizon). Within a horizon of ``T`` months it may then draw from any supplier for the
remaining share ``φ_k = max(0, 1 − ℓ_k / T)`` of the horizon: a route its qualification
rule closes (``design``, ``listed``) stays open with capacity ``φ_k · a[v, k] · h[v, a]``
(the buyer's whole need for that share of the horizon), and a ``process`` route's cap
becomes ``a[v, k] · h[v, a] · ((1 − φ_k)(1 + ψ) w_uv + φ_k)``. With every ``ℓ_k ≥ T`` the
rules hold for the whole horizon; as ``T`` grows past every lead time the short run tends
to the long run's routes (headroom still applies).

Removing a node therefore removes exactly what only it could make for an actor within
the horizon (Simchi-Levi et al., "Identifying risks and mitigating disruptions in the
automotive supply chain", Interfaces 45(5):375–390, 2015, doi:10.1287/inte.2015.0804:
remove one node for a horizon and let the rest respond optimally within what can move).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from chokepoint.inputs.scenario import Scenario
from graph.dag import topological_order
from graph.network import PRODUCER, TRADE, SupplyNetwork, restrict_network

__all__ = ["HORIZONS", "SHORT_RUN", "LONG_RUN", "QUALIFICATION_KINDS", "ShortRunRules", "ShortRun",
           "attribute_demand", "short_run_network", "rules_from_tables", "QUALIFYING_BASES"]

SHORT_RUN, LONG_RUN = "short_run", "long_run"
#: Horizons every horizon-aware table reports, default first.
HORIZONS = (SHORT_RUN, LONG_RUN)
QUALIFICATION_KINDS = ("open", "design", "listed", "process", "installed_base")
#: Qualification bases (``staging.qualifications.basis``) that are supply routes today.
QUALIFYING_BASES = ("design_of_record", "supplier_of_record", "second_source")


@dataclass(frozen=True)
class ShortRunRules:
    """What can move within the short-run horizon.

    Attributes
    ----------
    qualification : dict
        Input type → rule in :data:`QUALIFICATION_KINDS` (absent: ``open``).
    utilisation : dict
        Input type → share of capacity in use today, ``ρ_k`` in [0, 1] (absent: no
        headroom limit at that type's suppliers).
    qualified : frozenset of (buyer firm, input type, supplier firm)
        The ``listed`` qualifications. A buyer firm with no row for an input type is
        treated as ``open`` for it (qualification unknown).
    sourcing_mix : dict
        (actor id, input type) → {supplier firm: share}: how an actor's own compute
        sources an input today (e.g. its accelerator vendors). Absent: in proportion to
        supplier capacity.
    supplier_flexibility : float
        Extra share of its usual volume a buyer may take from each remaining supplier of
        a ``process`` input within the horizon (0: none).
    months : int
        Length of the horizon ``T``: inputs whose lead time is shorter can switch supplier
        for the rest of it.
    lead_time : dict
        Input type → months ``ℓ_k`` to qualify a new supplier (absent: not within any horizon).
    route_lead_time : dict, optional
        Lead times that decide which not-yet-qualified routes exist (those with
        ``ℓ < months``); their capacities follow ``lead_time``. Default: ``lead_time`` itself.
        A Monte Carlo sweep sets the low ends of the ranges, so every draw has the same routes
        (some with capacity 0).
    utilisation_range, lead_time_range : dict
        Input type → (low, high) of its utilisation and lead time, where the data gives one
        (what a Monte Carlo sweep draws within).
    """

    qualification: dict[str, str] = field(default_factory=dict)
    utilisation: dict[str, float] = field(default_factory=dict)
    qualified: frozenset = frozenset()
    sourcing_mix: dict = field(default_factory=dict)
    supplier_flexibility: float = 0.0
    months: int = 12
    lead_time: dict[str, float] = field(default_factory=dict)
    route_lead_time: dict[str, float] | None = None
    utilisation_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    lead_time_range: dict[str, tuple[float, float]] = field(default_factory=dict)

    def switch_share(self, inputs, lead_time: dict | None = None) -> np.ndarray:
        """``φ_k = max(0, 1 − ℓ_k / T)`` per input type of ``inputs``: the share of the horizon
        left once a new supplier is qualified (0 without a lead time); ``lead_time``: other ℓ."""
        times = self.lead_time if lead_time is None else lead_time
        return np.array([max(0.0, 1.0 - times[k] / self.months) if k in times else 0.0 for k in inputs])

    def __post_init__(self):
        unknown = sorted(set(self.qualification.values()) - set(QUALIFICATION_KINDS))
        if unknown:
            raise ValueError(f"unknown qualification rule(s) {unknown}; use {', '.join(QUALIFICATION_KINDS)}")
        bad = {k: v for k, v in self.utilisation.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"utilisation must lie in [0, 1]: {bad}")
        if not self.supplier_flexibility >= 0:
            raise ValueError("supplier_flexibility must be non-negative")
        if not self.months > 0:
            raise ValueError("months must be positive")
        bad = {k: v for k, v in self.lead_time.items() if not v >= 0}
        if bad:
            raise ValueError(f"lead times must be non-negative months: {bad}")


@dataclass(frozen=True)
class ShortRun:
    """The short-run view of a network and how its headroom was derived.

    Attributes
    ----------
    network : SupplyNetwork
        Same nodes as the long-run network; qualified routes only; ``actor_capacity`` set.
    long_run_edge : int array (E_short,)
        Index of each short-run route in the long-run network.
    switch_share : array (E_short,)
        0 for a route the buyer is qualified on; ``φ_k`` for a route open only for the part
        of the horizon after qualifying a new supplier.
    demand : array (N, A + 1)
        AI demand attributed to each node, per actor and (last column) the rest of the
        world, before rationing.
    committed : array (N, A + 1)
        Committed capacity per actor (after rationing).
    spare, non_ai : array (N,)
        Uncommitted capacity ``(1 − ρ) cap`` and capacity committed to non-AI demand;
        ``NaN`` where the input type has no utilisation figure (no limit).
    rationed : bool array (N,)
        Attributed AI demand exceeded ``ρ · cap`` and was scaled down.
    dropped_requirements : bool array (R_long,)
        Requirement rows waived within the horizon (installed base).
    """

    network: SupplyNetwork
    long_run_edge: np.ndarray
    demand: np.ndarray
    committed: np.ndarray
    spare: np.ndarray
    non_ai: np.ndarray
    rationed: np.ndarray
    dropped_requirements: np.ndarray
    switch_share: np.ndarray = field(default=None, repr=False)


def _rule_of(network: SupplyNetwork, rules: ShortRunRules) -> np.ndarray:
    return np.array([rules.qualification.get(k, "open") for k in network.inputs], dtype=object)


def _qualified_routes(network: SupplyNetwork, rules: ShortRunRules) -> tuple[np.ndarray, np.ndarray]:
    """Which long-run routes and requirement rows exist in the short run."""
    rule = _rule_of(network, rules)
    firm = network.firm_index()
    firm_names = np.array(list(network.firms) + [""], dtype=object)
    src, dst, k = network.edge_src, network.edge_dst, network.edge_input
    edge_rule = rule[k]
    into_producer = network.node_kind[dst] == PRODUCER
    keep = np.ones(network.num_edges, dtype=bool)
    # Tools: the installed base serves the horizon; no tool shipment is needed.
    installed = edge_rule == "installed_base"
    keep &= ~installed
    # Designs: an accelerator is made from its own designer's design — binding where the buyer
    # firm itself makes the input type (a designer's own line), not for a firm that only buys it
    # (a lab's or cloud's clusters buy any vendor's accelerators).
    producer_pairs = np.unique(firm[network.node_kind == PRODUCER].astype(np.int64) * len(network.inputs)
                               + network.node_input[network.node_kind == PRODUCER])
    buyer_makes_it = np.isin(firm[dst].astype(np.int64) * len(network.inputs) + k, producer_pairs)
    design = (edge_rule == "design") & into_producer & (firm[dst] >= 0) & buyer_makes_it
    keep &= ~design | (firm[src] == firm[dst])
    # Listed: the buyer firm's qualified suppliers, where the data lists any.
    listed = np.flatnonzero((edge_rule == "listed") & into_producer & (firm[dst] >= 0))
    if listed.size:
        by_buyer: dict[tuple[str, str], set[str]] = {}
        for buyer, input_id, supplier in rules.qualified:
            by_buyer.setdefault((buyer, input_id), set()).add(supplier)
        for e in listed:
            suppliers = by_buyer.get((firm_names[firm[dst[e]]], network.inputs[k[e]]))
            if suppliers is not None and (firm[src[e]] < 0 or firm_names[firm[src[e]]] not in suppliers):
                keep[e] = False
    req_rule = rule[network.req_input]
    keep_requirements = ~((req_rule == "installed_base") & (network.node_kind[network.req_node] == PRODUCER))
    return keep, keep_requirements


def _owner_of_compute(network: SupplyNetwork, compute_nodes: np.ndarray) -> np.ndarray:
    """Actor owning each compute node — a firm actor owning it, else the actor its country
    belongs to — else the rest of the world (the last column)."""
    owner = np.full(compute_nodes.size, len(network.actors), dtype=np.int64)
    firm = network.firm_index()[compute_nodes]
    for a in range(len(network.actors)):
        owned = network.firms_of(a)
        if owned:
            owner[np.isin(firm, np.asarray(owned, dtype=np.int32)) & (owner == len(network.actors))] = a
    countries = network.node_country[compute_nodes]
    for a, members in enumerate(network.actor_members):
        mine = np.isin(countries, np.asarray(members, dtype=np.int32)) & (owner == len(network.actors))
        owner[mine] = a
    return owner


def attribute_demand(network: SupplyNetwork, rules: ShortRunRules, compute_input: int) -> np.ndarray:
    """AI demand of every actor's current compute build-out, attributed to every node.

    Each compute node's build-out is demanded by the actor its country belongs to (the
    last column collects countries in no actor). Going upstream in reverse topological
    order, a node's demand for each input it needs (recipe coefficient × its demand) is
    split over its routes of that input: by the actor's sourcing mix where the rules give
    one, else in proportion to supplier capacity. Transit hubs carry no committed demand.

    Returns
    -------
    numpy.ndarray (N, A + 1)

    Notes
    -----
    O(N log N + E + R·A): one topological order and one pass over requirements.
    """
    net = network
    n, num_actors = net.num_nodes, len(net.actors)
    demand = np.zeros((n, num_actors + 1))
    producer = net.node_kind == PRODUCER
    compute_nodes = np.flatnonzero(producer & (net.node_input == compute_input))
    owners = _owner_of_compute(net, compute_nodes)
    demand[compute_nodes, owners] = net.node_capacity[compute_nodes]
    trade = (net.edge_kind == TRADE) & producer[net.edge_src] & producer[net.edge_dst]
    order = topological_order(n, net.edge_src[trade], net.edge_dst[trade])
    edges_in: dict[tuple[int, int], np.ndarray] = {}
    trade_ids = np.flatnonzero(trade)
    key = net.edge_dst[trade_ids].astype(np.int64) * len(net.inputs) + net.edge_input[trade_ids]
    sorter = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[sorter], return_index=True)
    bounds = np.append(starts, sorter.size)
    for i, value in enumerate(keys):
        edges_in[(int(value // len(net.inputs)), int(value % len(net.inputs)))] = trade_ids[sorter[bounds[i]:bounds[i + 1]]]
    requirements: dict[int, list[tuple[int, float]]] = {}
    for v, k, a in zip(net.req_node, net.req_input, net.req_coefficient):
        requirements.setdefault(int(v), []).append((int(k), float(a)))
    firm = net.firm_index()
    firm_names = np.array(list(net.firms) + [""], dtype=object)
    owner_of = dict(zip(compute_nodes.tolist(), owners.tolist()))
    for v in order[::-1]:
        if not producer[v] or not demand[v].any():
            continue
        for k, coefficient in requirements.get(int(v), ()):
            routes = edges_in.get((int(v), k))
            if routes is None or not routes.size:
                continue
            suppliers = net.edge_src[routes]
            capacity = net.node_capacity[suppliers]
            proportional = capacity / capacity.sum() if capacity.sum() > 0 else np.full(routes.size, 1 / routes.size)
            need = coefficient * demand[v]
            owner = owner_of.get(int(v))
            mix = (rules.sourcing_mix.get((net.actors[owner], net.inputs[k])) if owner is not None
                   and owner < num_actors else None)
            if mix:
                share = np.array([mix.get(firm_names[f], 0.0) for f in firm[suppliers]])
                # Split each firm's share over its nodes by capacity.
                names = firm_names[firm[suppliers]]
                totals = {name: capacity[names == name].sum() for name in set(names)}
                weights = np.array([s * c / totals[m] if totals[m] > 0 else 0.0
                                    for s, c, m in zip(share, capacity, names)])
                weights = weights / weights.sum() if weights.sum() > 0 else proportional
                np.add.at(demand, suppliers, weights[:, None] * np.where(np.arange(num_actors + 1) == owner,
                                                                         need, 0.0)[None, :])
                rest = need.copy()
                rest[owner] = 0.0
                np.add.at(demand, suppliers, proportional[:, None] * rest[None, :])
            else:
                np.add.at(demand, suppliers, proportional[:, None] * need[None, :])
    return demand


def short_run_network(network: SupplyNetwork, rules: ShortRunRules, compute_input: int) -> ShortRun:
    """The short-run view of a (long-run) supply network.

    Parameters
    ----------
    network : SupplyNetwork
        The long-run network (all routes, physical capacities).
    rules : ShortRunRules
    compute_input : int
        Index of the compute input type (what sinks consume).

    Returns
    -------
    ShortRun

    Notes
    -----
    Invariants (tested): every short-run route is a long-run route with no larger
    capacity, and ``0 ≤ h[u, a] ≤ cap[u]``, so an actor's short-run capability never
    exceeds its long-run capability. Cost O(N log N + E + R·A).
    """
    net = network
    qualified_only, keep_requirements = _qualified_routes(net, rules)
    rule = _rule_of(net, rules)
    phi = rules.switch_share(net.inputs)
    route_phi = phi if rules.route_lead_time is None else rules.switch_share(net.inputs, rules.route_lead_time)
    producer = net.node_kind == PRODUCER
    # Routes a rule closes but a new supplier can be qualified on within the horizon (tools stay installed base).
    switchable = (~qualified_only & (route_phi[net.edge_input] > 0) & (rule[net.edge_input] != "installed_base")
                  & producer[net.edge_dst])
    keep = qualified_only | switchable
    # Committed demand is today's supply: attributed over the qualified routes only.
    demand = attribute_demand(restrict_network(net, keep_edges=qualified_only, keep_requirements=keep_requirements),
                              rules, compute_input)
    qualified = restrict_network(net, keep_edges=keep, keep_requirements=keep_requirements)
    num_actors = len(net.actors)
    rho = np.array([rules.utilisation.get(k, np.nan) for k in net.inputs])
    used = np.where(producer & (net.node_input >= 0), rho[np.maximum(net.node_input, 0)], np.nan)
    limited = ~np.isnan(used)
    cap = net.node_capacity
    ai = demand.sum(axis=1)
    in_use = np.where(limited, used * cap, np.inf)
    scale = np.where(ai > in_use, in_use / np.where(ai > 0, ai, 1.0), 1.0)
    committed = demand * scale[:, None]
    spare = np.where(limited, (1.0 - np.nan_to_num(used)) * cap, np.nan)
    non_ai = np.where(limited, np.maximum(in_use - committed.sum(axis=1), 0.0), np.nan)
    headroom = np.where(limited[None, :], committed[:, :num_actors].T + np.nan_to_num(spare)[None, :],
                        cap[None, :])
    headroom = np.minimum(headroom, cap[None, :])
    edge_capacity = qualified.edge_capacity.copy()
    actor_edge_capacity = np.repeat(edge_capacity[None, :], num_actors, axis=0)
    src, dst, k = qualified.edge_src, qualified.edge_dst, qualified.edge_input
    requirement = qualified.edge_requirement()
    coefficient = np.where(requirement >= 0, qualified.req_coefficient[np.maximum(requirement, 0)], 0.0)
    switch_share = np.where(switchable[keep], phi[k], 0.0)
    late = np.flatnonzero(switchable[keep])
    # Process-of-record inputs: a buyer keeps its supplier mix within the horizon, until it can requalify.
    process = np.flatnonzero((rule[k] == "process") & (qualified.edge_kind == TRADE) & producer[dst] & producer[src]
                             & ~switchable[keep])
    if process.size:
        key = dst[process].astype(np.int64) * len(net.inputs) + k[process]
        _, group = np.unique(key, return_inverse=True)
        total = np.bincount(group, weights=cap[src[process]])
        share = np.divide(cap[src[process]], total[group], out=np.zeros(process.size), where=total[group] > 0)
        usual = ((1.0 - phi[k[process]]) * (1.0 + rules.supplier_flexibility) * share + phi[k[process]]) \
            * coefficient[process]
        edge_capacity[process] = np.minimum(edge_capacity[process], usual * cap[dst[process]])
        actor_edge_capacity[:, process] = np.minimum(actor_edge_capacity[:, process],
                                                     usual[None, :] * headroom[:, dst[process]])
    # Newly qualified suppliers serve the buyer's whole need for the rest of the horizon.
    if late.size:
        need = switch_share[late] * coefficient[late]
        edge_capacity[late] = np.minimum(edge_capacity[late], need * cap[dst[late]])
        actor_edge_capacity[:, late] = np.minimum(actor_edge_capacity[:, late], need[None, :] * headroom[:, dst[late]])
    actor_edge_capacity = np.minimum(actor_edge_capacity, edge_capacity[None, :])
    short = restrict_network(qualified, keep_edges=np.ones(qualified.num_edges, dtype=bool),
                             keep_requirements=np.ones(qualified.req_node.size, dtype=bool),
                             edge_capacity=edge_capacity, actor_capacity=headroom,
                             actor_edge_capacity=actor_edge_capacity)
    return ShortRun(network=short, long_run_edge=np.flatnonzero(keep), demand=demand, committed=committed,
                    spare=spare, non_ai=non_ai, rationed=limited & (ai > in_use + 1e-9 * np.maximum(cap, 1.0)),
                    dropped_requirements=~keep_requirements, switch_share=switch_share)


def rules_from_tables(short_run_rules: pl.DataFrame, qualifications: pl.DataFrame, compute_sourcing: pl.DataFrame,
                      scenario: Scenario) -> ShortRunRules:
    """The short-run rules of a scenario from the staged tables.

    Parameters
    ----------
    short_run_rules : polars.DataFrame
        ``staging.short_run_rules``: ``input_id``, ``qualification``, ``utilisation``
        (null: no headroom limit at that input type's suppliers) and, where present,
        ``lead_time_months`` (null: no new supplier within any horizon).
    qualifications : polars.DataFrame
        ``staging.qualifications``: ``buyer_firm_id``, ``input_id``, ``supplier_firm_id``
        and ``basis``; only suppliers that make the buyer's product today count
        (:data:`QUALIFYING_BASES`) — a stockpile bought before a control or a supplier
        still qualifying is no supply route within the horizon.
    compute_sourcing : polars.DataFrame
        ``staging.compute_sourcing``: ``iso3`` (or ``WORLD``), ``input_id``,
        ``supplier_firm_id``, ``h100e``. An actor's mix sums the rows of its member
        countries; an actor without rows takes the ``WORLD`` rows.
    scenario : Scenario
        Its ``[short_run]`` settings (months, supplier flexibility) and actors.
    """
    qualification = {r["input_id"]: r["qualification"] for r in short_run_rules.iter_rows(named=True)
                     if r["qualification"]}
    rows = list(short_run_rules.iter_rows(named=True))

    def figures(column: str) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
        # Each figure with its (low, high) where the table gives one; absent columns: none.
        if column not in short_run_rules.columns:
            return {}, {}
        low, high = f"{column.removesuffix('_months')}_low", f"{column.removesuffix('_months')}_high"
        values = {r["input_id"]: float(r[column]) for r in rows if r[column] is not None}
        ranges = {r["input_id"]: (float(r[low]), float(r[high])) for r in rows if r[column] is not None
                  and r.get(low) is not None and r.get(high) is not None}
        return values, ranges

    utilisation, utilisation_range = figures("utilisation")
    lead_time, lead_time_range = figures("lead_time_months")
    qualified = frozenset((r["buyer_firm_id"], r["input_id"], r["supplier_firm_id"])
                          for r in qualifications.iter_rows(named=True)
                          if r["buyer_firm_id"] and r["supplier_firm_id"]
                          and r.get("basis", QUALIFYING_BASES[0]) in QUALIFYING_BASES)
    sourcing: dict[tuple[str, str], dict[str, float]] = {}
    rows = compute_sourcing.filter(pl.col("h100e") > 0) if compute_sourcing.height else compute_sourcing
    world = rows.filter(pl.col("iso3") == "WORLD") if rows.height else rows
    for actor in scenario.actors:
        own = rows.filter(pl.col("iso3").is_in(list(actor.members))) if rows.height else rows
        chosen = own if own.height else world
        if not chosen.height:
            continue
        for (input_id,), group in chosen.group_by(["input_id"], maintain_order=True):
            totals = group.group_by("supplier_firm_id").agg(pl.col("h100e").sum())
            total = float(totals["h100e"].sum())
            if total > 0:
                sourcing[(actor.id, input_id)] = {f: float(h) / total for f, h in
                                                  zip(totals["supplier_firm_id"], totals["h100e"])}
    return ShortRunRules(qualification=qualification, utilisation=utilisation, qualified=qualified,
                         sourcing_mix=sourcing, supplier_flexibility=scenario.short_run.supplier_flexibility,
                         months=scenario.short_run.months, lead_time=lead_time,
                         utilisation_range=utilisation_range, lead_time_range=lead_time_range)
