"""Analyses the pipeline publishes: concentration, chokepoints, control leverage.

Thin glue between the canonical tables, the graph core (``graph``) and the
optimisation models (``optimization``); returns Polars tables ready for the warehouse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from chokepoint.inputs.scenario import Scenario
from graph.chokepoints import NetworkChokepoints, chokepoint_metrics, import_routes
from graph.concentration import concentration
from graph.failure import Propagation, surviving_fraction
from graph.network import PRODUCER, TRANSIT, SupplyNetwork
from optimization.capability import CapabilityModel, CapabilityResult, relative_loss

__all__ = ["concentration_table", "chokepoint_table", "chokepoint_analysis", "ChokepointRun", "removal_losses",
           "RemovalLosses", "world_capacity_of", "control_leverage_table", "capability_table", "rank_within",
           "NODE_METRICS", "GROUP_METRICS", "TOP_K"]

LARGE_SUPPLIER = 0.10


def concentration_table(input_types: pl.DataFrame, capacities: pl.DataFrame) -> pl.DataFrame:
    """Per input type: top supplier and its share, HHI, suppliers and large suppliers."""
    ids = input_types["input_id"].to_list()
    index = {k: i for i, k in enumerate(ids)}
    rows = capacities.select("input_id", "iso3", "share")
    metrics = concentration(np.array([index[k] for k in rows["input_id"]], dtype=np.int64),
                            rows["share"].to_numpy(), len(ids), large=LARGE_SUPPLIER)
    top_row = metrics["top_row"]
    iso3 = rows["iso3"].to_list()
    return pl.DataFrame({
        "input_id": ids,
        "name": input_types["name"],
        "stage": input_types["stage"],
        "top_iso3": [iso3[r] if r >= 0 else None for r in top_row],
        "top_share": metrics["top_share"],
        "hhi": metrics["hhi"],
        "suppliers": metrics["suppliers"].astype(np.int64),
        "suppliers_above_10pct": metrics["suppliers_above"],
        "covered_share": metrics["covered"],
    }).sort("hhi", descending=True)


def rank_within(frame: pl.DataFrame, by: list[str], value: str = "value") -> pl.DataFrame:
    """Add ``rank`` (1 = largest ``value``, ties share the lowest rank) within groups."""
    return frame.with_columns(pl.col(value).rank(method="min", descending=True).over(by).cast(pl.Int64).alias("rank"))


#: Removal losses are LP-proven for at least this many top entities per (defector, entity type).
TOP_K = 10
#: Tolerance under which the dual and flow bounds are taken to coincide.
BOUND_TOLERANCE = 1e-9
#: Metrics of analytics.chokepoints, by entity type.
NODE_METRICS = ("removal_loss", "loss_lower_bound", "loss_upper_bound", "single_point_of_failure", "or_dominator",
                "failure_cascade", "or_dominated", "betweenness", "core_number", "supplier_share")
GROUP_METRICS = ("removal_loss", "loss_lower_bound", "loss_upper_bound", "single_point_of_failure", "failure_cascade")
CHOKEPOINT_SCHEMA = {"scenario": pl.String, "defector": pl.String, "entity_type": pl.String, "entity": pl.String,
                     "iso3": pl.String, "input_id": pl.String, "metric": pl.String, "value": pl.Float64,
                     "rank": pl.Int64}


@dataclass(frozen=True)
class RemovalLosses:
    """Relative capability loss of one sink for each of B removals.

    ``lower``: dual-price bound (certified lower bound, first-order ranking);
    ``upper``: surviving-flow bound (certified upper bound); ``exact``: the loss where
    established (LP re-solve, or the two bounds coincide), else NaN; ``solved``: LP
    re-solved; ``certified``: the top ``k`` losses are proven (every entity left out
    has an upper bound at most the k-th largest exact loss); ``solves``: LP re-solves.
    """

    lower: np.ndarray
    upper: np.ndarray
    exact: np.ndarray
    solved: np.ndarray
    certified: bool
    solves: int
    k: int


def removal_losses(model: CapabilityModel, sink: int, base: CapabilityResult, edge_entity: np.ndarray,
                   num_entities: int, *, must_solve=(), top_k: int = TOP_K, max_solves: int | None = None,
                   propagation: Propagation | None = None) -> RemovalLosses:
    """Capability loss of ``sink`` when each entity's routes close, bounded for all and
    exact (LP re-solve) for a proven top ``k``.

    Parameters
    ----------
    model, sink, base :
        The capability LP, the sink, and its optimum with every route open.
    edge_entity : int array (E,)
        The entity whose removal closes each route (-1: none); removing a node closes
        its outgoing routes, a country those of its nodes, an embargo its import routes.
    must_solve : sequence of int
        Entities re-solved in any case (single points of failure, so the AND/OR and LP
        results can be checked against each other).
    top_k, max_solves :
        Size of the top set; cap on LP re-solves (default ``5 · top_k`` plus
        ``must_solve``).

    Notes
    -----
    Lower bound: the base optimum's dual solution stays feasible when routes close
    (only the dual objective's ``M_e · open_e`` coefficients change), so by weak
    duality ``C_after ≤ C0 − Σ_{closed e} M_e μ_e``: ``loss ≥ Σ M_e μ_e / C0`` — the
    first-order (dual-price) estimate is a certified lower bound. Upper bound: scaling
    the base flow by :func:`graph.failure.surviving_fraction` stays feasible, so
    ``loss ≤ 1 − s[sink]``. Every re-solve's optimal flow is feasible with all routes
    open as well, so it is scaled the same way to tighten every other entity's upper
    bound (``C_after(i) ≥ s'[sink] · C_j``); this matters because the LP optimum is
    usually degenerate (one supplier per input carries everything), which makes the
    bound from the base flow alone loose for single facilities. Re-solved:
    ``must_solve``, the top k by dual price, then repeatedly the pending entity with the
    largest current upper bound, until the k-th largest exact loss is at least every
    pending upper bound (the top k is then proven: ``certified``) or the cap is reached.
    Cost: O(depth · R + (V + E) · B) per bound pass (one per re-solve) and one LP per
    re-solve.
    """
    net = model.network
    c0 = base.value
    edge_entity = np.asarray(edge_entity, dtype=np.int64)
    valid = np.flatnonzero(edge_entity >= 0)
    if c0 <= 1e-12 or num_entities == 0:
        zeros = np.zeros(num_entities)
        return RemovalLosses(lower=zeros, upper=zeros.copy(), exact=zeros.copy(), solved=np.zeros(num_entities, bool),
                             certified=True, solves=0, k=min(top_k, num_entities))
    contribution = model.route_bound(sink)[valid] * base.route_dual[valid]
    lower = np.clip(np.bincount(edge_entity[valid], weights=contribution, minlength=num_entities) / c0, 0.0, 1.0)
    closed = np.zeros((net.num_edges, num_entities), dtype=bool)
    closed[valid, edge_entity[valid]] = True
    # Flows are scaled within the capacities the sink's actor can use (its short-run headroom).
    net = net.for_sink(sink)
    surviving = surviving_fraction(net, base.flow, closed, propagation=propagation,
                                   production=base.production)[sink]
    upper = np.maximum(np.clip(1.0 - surviving, 0.0, 1.0), lower)
    exact = np.where(upper - lower <= BOUND_TOLERANCE, lower, np.nan)
    solved = np.zeros(num_entities, dtype=bool)
    must_solve = np.unique(np.asarray(must_solve, dtype=np.int64))
    limit = (5 * top_k if max_solves is None else max_solves) + must_solve.size

    def solve(j: int) -> None:
        nonlocal upper
        after = model.solve(sink, (~closed[:, j]).astype(np.float64))
        exact[j] = float(relative_loss(c0, after.value))
        solved[j] = True
        if after.value > 1e-12 * c0:
            # The re-solve's flow is feasible with everything open too: a second flow
            # to scale down, which tightens every other entity's upper bound.
            kept = surviving_fraction(net, after.flow, closed, propagation=propagation,
                                      production=after.production)[sink] * after.value / c0
            upper = np.maximum(np.minimum(upper, np.clip(1.0 - kept, 0.0, 1.0)), lower)
            newly = np.isnan(exact) & (upper - lower <= BOUND_TOLERANCE)
            exact[newly] = lower[newly]

    for j in must_solve:
        solve(int(j))
    k = min(top_k, num_entities)
    # The first-order (dual-price) top k, then upper-bound order until the top k is proven.
    for j in np.argsort(-lower, kind="stable")[:k]:
        if np.isnan(exact[j]) and lower[j] > 0 and int(solved.sum()) < limit:
            solve(int(j))
    certified = False
    while True:
        pending = np.flatnonzero(np.isnan(exact))
        if not pending.size:
            certified = True
            break
        # The pending entity with the largest (current, tightened) upper bound.
        j = int(pending[np.lexsort((-lower[pending], -upper[pending]))[0]])
        known = np.sort(exact[~np.isnan(exact)])[::-1]
        if known.size >= k and (k == 0 or known[k - 1] >= upper[j] - BOUND_TOLERANCE):
            certified = True
            break
        if int(solved.sum()) >= limit:
            break
        solve(j)
    return RemovalLosses(lower=lower, upper=upper, exact=exact, solved=solved, certified=certified,
                         solves=int(solved.sum()), k=k)


def world_capacity_of(capacities: pl.DataFrame, inputs) -> np.ndarray:
    """World capacity per input type as used by the shares (capacity = share × world)."""
    rows = capacities.filter(pl.col("share") > 0).group_by("input_id").agg(
        (pl.col("capacity") / pl.col("share")).median().alias("world"))
    world = dict(zip(rows["input_id"].to_list(), rows["world"].to_list()))
    return np.array([world.get(k, np.nan) for k in inputs], dtype=np.float64)


def _metric_frame(entity_type: str, names, iso3, input_id, metrics: dict, limit: int | None = None) -> pl.DataFrame:
    """Long frame: one row per entity × metric (NaN values dropped).

    With ``limit``, each metric keeps only its ``limit`` largest values (ties at the cut
    broken by position) plus every positive single-point-of-failure / dominator flag;
    the rows kept are exactly those whose rank over all entities is best, so ranks
    computed on them equal the ranks over all entities.
    """
    names, iso3, input_id = (np.asarray(a, dtype=object) for a in (names, iso3, input_id))
    parts = []
    for metric, values in metrics.items():
        values = np.asarray(values, dtype=np.float64)
        keep = np.flatnonzero(~np.isnan(values))
        if limit is not None and keep.size > limit:
            if metric in ("single_point_of_failure", "or_dominator"):
                keep = keep[values[keep] > 0]
            else:
                order = np.lexsort((keep, -values[keep]))
                keep = np.sort(keep[order[:limit]])
        parts.append(pl.DataFrame({
            "entity_type": pl.Series([entity_type] * keep.size, dtype=pl.String),
            "entity": pl.Series(names[keep].tolist(), dtype=pl.String),
            "iso3": pl.Series(iso3[keep].tolist(), dtype=pl.String),
            "input_id": pl.Series(input_id[keep].tolist(), dtype=pl.String),
            "metric": pl.Series([metric] * keep.size, dtype=pl.String),
            "value": values[keep],
        }))
    return pl.concat(parts) if parts else pl.DataFrame(schema={k: v for k, v in CHOKEPOINT_SCHEMA.items()
                                                               if k not in ("scenario", "defector", "rank")})


@dataclass(frozen=True)
class ChokepointRun:
    """Table plus what it took: the graph suite (``suites`` per defector's sink; ``suite`` the
    first, shared by all defectors when they see the same capacities), removal-loss
    statistics, timings."""

    table: pl.DataFrame
    suite: NetworkChokepoints
    removal: dict
    seconds: dict
    suites: dict


@dataclass(frozen=True)
class EntityGroups:
    """How producers and hubs group into the entities of the chokepoint table.

    ``group``: country × input aggregate of each producer (each transit hub its own
    group), -1 for sinks; ``firm`` / ``facility``: the node's firm / facility, -1 if none.
    """

    group: np.ndarray
    group_names: np.ndarray
    group_iso3: np.ndarray
    group_input: np.ndarray
    firm: np.ndarray
    firm_names: np.ndarray
    facility_nodes: np.ndarray


def entity_groups(network: SupplyNetwork, *, aggregate: bool = True) -> EntityGroups:
    """Country × input aggregates (named ``ISO3:input``, as one node per country and input
    was named before firms and facilities), firms and facility nodes of a network.

    With ``aggregate=False`` every producer is its own group under its own name (the
    synthetic facility networks, whose nodes are the entities of interest).
    """
    net = network
    countries = np.array(net.countries, dtype=object)
    inputs = np.array(net.inputs, dtype=object)
    names = np.array(net.node_names, dtype=object) if net.node_names else np.arange(net.num_nodes).astype(str)
    keyed = np.where(net.node_kind == PRODUCER, net.node_country.astype(np.int64) * (len(net.inputs) + 1)
                     + net.node_input, -1)
    hubs = net.node_kind == TRANSIT
    if not aggregate:
        hubs = hubs | (net.node_kind == PRODUCER)
    # Hubs keep their own group: key them past every producer key.
    keyed = np.where(hubs, (len(net.countries) + 1) * (len(net.inputs) + 1) + np.arange(net.num_nodes), keyed)
    members = np.flatnonzero(keyed >= 0)
    unique, first, group_of = np.unique(keyed[members], return_index=True, return_inverse=True)
    group = np.full(net.num_nodes, -1, dtype=np.int64)
    group[members] = group_of
    representative = members[first]
    is_hub = hubs[representative]
    group_names = np.where(is_hub, names[representative],
                           [f"{countries[net.node_country[v]]}:{inputs[net.node_input[v]]}" for v in representative])
    return EntityGroups(
        group=group, group_names=group_names.astype(object),
        group_iso3=countries[net.node_country[representative]], group_input=inputs[net.node_input[representative]],
        firm=net.firm_index().astype(np.int64), firm_names=np.array(net.firms, dtype=object),
        facility_nodes=np.flatnonzero(net.facility_index() >= 0))


def _aggregate(values: np.ndarray, group: np.ndarray, count: int, how: str) -> np.ndarray:
    inside = group >= 0
    out = np.zeros(count)
    if how == "sum":
        np.add.at(out, group[inside], values[inside])
    else:
        np.maximum.at(out, group[inside], values[inside])
    return out


def chokepoint_analysis(network: SupplyNetwork, scenario: Scenario, capacities: pl.DataFrame,
                        model: CapabilityModel | None = None, *, top_k: int = TOP_K, pivots: int | None = None,
                        seed: int = 0, node_rows: int | None = None, aggregate_nodes: bool = True) -> ChokepointRun:
    """Every chokepoint metric per candidate defector, as one long table.

    Entities (``entity_type``): ``node`` (a country × input aggregate of producers, named
    ``ISO3:input``, or a transit hub; removing it closes its members' outgoing routes),
    ``firm`` (every node of a firm, wherever it operates), ``facility`` (one fab campus),
    ``country`` (every node located there), ``input`` (an import embargo of that input
    type on the defector: every route carrying it into the defector's member countries or
    sink from outside them). Metrics per entity (``docs/design.md#3-chokepoint-metrics``):

    ``removal_loss``
        Share of the defector's attainable capability lost (LP re-solve); present for
        the proven top ``top_k`` per entity type, every single point of failure, and
        wherever the two bounds coincide (e.g. 0 for nodes that carry no flow).
    ``loss_lower_bound``, ``loss_upper_bound``
        Dual-price (first-order) and surviving-flow bounds on ``removal_loss``, for all.
    ``single_point_of_failure``
        1 if the loss alone makes the defector's sink unproducible (AND/OR).
    ``failure_cascade``
        Nodes of the defector's supply cone that become unproducible with the loss.
    ``or_dominator``, ``or_dominated`` (nodes, facilities)
        Dominates the sink in the OR skeleton; nodes of the cone it dominates there (for
        an aggregate of several producers: its largest member's value).
    ``betweenness`` (nodes, facilities)
        Flow-weighted betweenness in the defector's supply cone, weighted by the
        defector's LP flows when ``model`` is given (nominal flows otherwise); summed
        over an aggregate's members.
    ``core_number`` (nodes, facilities)
        k-core number in the undirected projection of the route graph (largest member).
    ``supplier_share`` (nodes, facilities)
        Capacity as a share of world capacity of its input.

    On a short-run network every metric is computed on the network as the defector sees
    it (its headroom and route caps, :meth:`graph.network.SupplyNetwork.for_actor`).
    ``aggregate_nodes=False`` makes every producer its own ``node`` entity (synthetic
    facility networks). Without ``model`` the LP metrics are left out (networks too large
    for the LP).
    ``node_rows`` keeps only the ``node_rows`` largest values of each node metric (plus
    every single point of failure and OR dominator; no zero flags) for very large networks.

    Returns
    -------
    ChokepointRun
        ``table`` ranked within (defector, entity type, metric), 1 = largest value.
    """
    started = time.perf_counter()
    net = network
    defectors = [(net.actors.index(a.id), a.id) for a in scenario.defectors if a.id in net.actors]
    sinks = [net.sink_of(i) for i, _ in defectors]
    bases = {sink: model.solve(sink) for sink in sinks} if model is not None else {}
    seconds = {"base_lp": time.perf_counter() - started}
    groups = entity_groups(net, aggregate=aggregate_nodes)
    num_groups, num_firms = groups.group_names.size, groups.firm_names.size
    extra = {"node_group": groups.group}
    if num_firms:
        extra["firm"] = groups.firm
    # One suite for all defectors when they see the same capacities; else one per defector.
    views = {sink: net.for_sink(sink) for sink in sinks}
    suites: dict[int, NetworkChokepoints] = {}
    if not net.per_actor:
        shared = chokepoint_metrics(net, sinks, flows={s: b.flow for s, b in bases.items()}, pivots=pivots,
                                    seed=seed, node_groups=extra)
        suites = {sink: shared for sink in sinks}
    else:
        for i, sink in enumerate(sinks):
            flows = {sink: bases[sink].flow} if sink in bases else {}
            suites[sink] = chokepoint_metrics(views[sink], [sink], flows=flows, pivots=pivots, seed=seed + i,
                                              node_groups=extra)
    for suite in {id(s): s for s in suites.values()}.values():
        for k, v in suite.seconds.items():
            seconds[f"graph_{k}"] = seconds.get(f"graph_{k}", 0.0) + v
    clock = time.perf_counter()
    props = {id(view): Propagation.of(view) for view in {id(v): v for v in views.values()}.values()}

    countries = np.unique(net.node_country[net.node_country >= 0])
    country_entity = np.full(len(net.countries), -1, dtype=np.int64)
    country_entity[countries] = np.arange(countries.size)
    country_of_node = np.where(net.node_country >= 0, country_entity[np.maximum(net.node_country, 0)], -1)
    names = np.array(net.node_names, dtype=object) if net.node_names else np.arange(net.num_nodes).astype(str)
    country_names = np.array(net.countries, dtype=object)
    input_names = np.array(net.inputs, dtype=object)
    facility_nodes = groups.facility_nodes
    facility_entity = np.full(net.num_nodes, -1, dtype=np.int64)
    facility_entity[facility_nodes] = np.arange(facility_nodes.size)
    world = world_capacity_of(capacities, net.inputs)
    node_share = np.where(np.isin(net.node_kind, [PRODUCER, TRANSIT]),
                          net.node_capacity / world[np.maximum(net.node_input, 0)], 0.0)
    node_share = np.where(np.isfinite(node_share), node_share, 0.0)
    group_share = _aggregate(node_share, groups.group, num_groups, "sum")
    firm_iso3 = np.array([None] * num_firms, dtype=object)
    for f in range(num_firms):
        home = net.node_country[groups.firm == f]
        firm_iso3[f] = country_names[np.bincount(home).argmax()] if home.size else None
    frames, removal = [], {}
    for (actor_index, actor_id), sink in zip(defectors, sinks):
        suite = suites[sink]
        m = suite.sinks[sink]
        imports = import_routes(net, actor_index)
        spof_node = np.zeros(net.num_nodes)
        spof_node[m.spof_nodes] = 1.0
        dominator = np.zeros(net.num_nodes)
        dominator[m.or_dominators] = 1.0
        between = m.betweenness.values
        # Cascades count the cone's other nodes that fail: not the removed entity's own members.
        alive = m.cone & suite.essential.producible
        own_group = np.bincount(groups.group[alive & (groups.group >= 0)], minlength=num_groups)
        spof_group = np.zeros(num_groups)
        spof_group[m.group_spof["node_group"]] = 1.0
        group_metrics = {
            "single_point_of_failure": spof_group, "or_dominator": _aggregate(dominator, groups.group, num_groups, "max"),
            "failure_cascade": (m.group_cascade["node_group"][:num_groups] - own_group).astype(np.float64),
            "or_dominated": _aggregate(m.or_dominated.astype(np.float64), groups.group, num_groups, "max"),
            "betweenness": _aggregate(between, groups.group, num_groups, "sum"),
            "core_number": _aggregate(suite.core.astype(np.float64), groups.group, num_groups, "max"),
            "supplier_share": group_share,
        }
        facility_metrics = {
            "single_point_of_failure": spof_node[facility_nodes], "or_dominator": dominator[facility_nodes],
            "failure_cascade": m.node_cascade[facility_nodes], "or_dominated": m.or_dominated[facility_nodes],
            "betweenness": between[facility_nodes], "core_number": suite.core[facility_nodes],
            "supplier_share": node_share[facility_nodes],
        }
        firm_metrics = {}
        if num_firms:
            spof_firm = np.zeros(num_firms)
            spof_firm[m.group_spof["firm"]] = 1.0
            own_firm = np.bincount(groups.firm[alive & (groups.firm >= 0)], minlength=num_firms)
            firm_metrics = {"single_point_of_failure": spof_firm,
                            "failure_cascade": (m.group_cascade["firm"][:num_firms] - own_firm).astype(np.float64)}
        spof_country = np.zeros(countries.size)
        spof_country[country_entity[m.spof_countries]] = 1.0
        spof_input = np.zeros(len(net.inputs))
        spof_input[m.spof_inputs] = 1.0
        country_metrics = {"single_point_of_failure": spof_country,
                           "failure_cascade": m.country_cascade[countries]}
        input_metrics = {"single_point_of_failure": spof_input, "failure_cascade": m.input_cascade}
        if model is not None:
            base = bases[sink]
            spof_groups = m.group_spof["node_group"]
            families = {
                "node": (groups.group[net.edge_src], num_groups, spof_groups, group_metrics),
                "facility": (facility_entity[net.edge_src], facility_nodes.size,
                             facility_entity[m.spof_nodes][facility_entity[m.spof_nodes] >= 0], facility_metrics),
                "firm": (groups.firm[net.edge_src], num_firms, m.group_spof.get("firm", np.empty(0, np.int64)),
                         firm_metrics),
                "country": (country_of_node[net.edge_src], countries.size, country_entity[m.spof_countries],
                            country_metrics),
                "input": (imports, len(net.inputs), m.spof_inputs, input_metrics),
            }
            prop = props[id(views[sink])]
            for entity_type, (edge_entity, count, spof, metrics) in families.items():
                if count == 0:
                    continue
                result = removal_losses(model, sink, base, edge_entity, count, must_solve=spof[spof >= 0],
                                        top_k=top_k, propagation=prop)
                metrics.update({"removal_loss": result.exact, "loss_lower_bound": result.lower,
                                "loss_upper_bound": result.upper})
                removal[(actor_id, entity_type)] = result
        has_imports = np.bincount(imports[imports >= 0], minlength=len(net.inputs)) > 0
        input_metrics = {k: np.where(has_imports, v, np.nan) for k, v in input_metrics.items()}
        defector_frames = [
            _metric_frame("node", groups.group_names, groups.group_iso3, groups.group_input, group_metrics,
                          limit=node_rows),
            _metric_frame("country", country_names[countries], country_names[countries], [None] * countries.size,
                          country_metrics),
            _metric_frame("input", [f"imports:{k}" for k in net.inputs], [None] * len(net.inputs), list(net.inputs),
                          input_metrics),
        ]
        if facility_nodes.size:
            defector_frames.append(_metric_frame(
                "facility", names[facility_nodes], country_names[net.node_country[facility_nodes]],
                input_names[net.node_input[facility_nodes]], facility_metrics, limit=node_rows))
        if num_firms:
            defector_frames.append(_metric_frame("firm", groups.firm_names, firm_iso3, [None] * num_firms,
                                                 firm_metrics))
        frames.append(pl.concat(defector_frames).with_columns(pl.lit(actor_id).alias("defector")))
    table = (rank_within(pl.concat(frames), ["defector", "entity_type", "metric"]) if frames
             else pl.DataFrame(schema=CHOKEPOINT_SCHEMA))
    table = table.with_columns(pl.lit(scenario.name).alias("scenario")).select(list(CHOKEPOINT_SCHEMA))
    seconds["tables_and_lp"] = time.perf_counter() - clock
    first = suites[sinks[0]] if sinks else chokepoint_metrics(net, [], node_groups=extra)
    return ChokepointRun(table=table, suite=first, removal=removal, seconds=seconds, suites=suites)


def chokepoint_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel | None,
                     capacities: pl.DataFrame, **options) -> pl.DataFrame:
    """The table of :func:`chokepoint_analysis` (one row per entity × defector × metric)."""
    return chokepoint_analysis(network, scenario, capacities, model, **options).table


def control_leverage_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel,
                           masks: dict[str, np.ndarray], *, baseline_closed: np.ndarray | None = None) -> pl.DataFrame:
    """Every catalogue control against every candidate defector: capability before and
    after the control alone, leverage ``(C0 − C1) / C0``, cost and leverage per cost.
    With ``baseline_closed`` (routes of the baseline placement) ``C0`` has them closed and
    ``C1`` has them and the control's routes closed: leverage marginal to the baseline."""
    rows = []
    for actor in scenario.defectors:
        sink = network.sink_of(network.actors.index(actor.id))
        if baseline_closed is None:
            base = model.solve(sink)
        else:
            base = model.solve(sink, (~np.asarray(baseline_closed, dtype=bool)).astype(np.float64))
        for control in scenario.controls:
            mask = masks[control.id]
            if baseline_closed is not None:
                mask = mask & ~np.asarray(baseline_closed, dtype=bool)
                after = model.solve(sink, (~(mask | baseline_closed)).astype(np.float64)) if mask.any() else base
            else:
                after = model.solve(sink, (~mask).astype(np.float64)) if mask.any() else base
            leverage = float(relative_loss(base.value, after.value))
            rows.append({
                "defector": actor.id, "control_id": control.id, "kind": control.kind,
                "jurisdiction": control.jurisdiction, "input_id": control.input, "transit": control.transit,
                "destination": control.destination, "cost": control.cost, "routes_closed": int(mask.sum()),
                "capability_before": base.value, "capability_after": after.value,
                "leverage": max(leverage, 0.0), "leverage_per_cost": max(leverage, 0.0) / control.cost if control.cost > 0 else None,
                "status": after.status, "duality_gap": after.duality_gap, "max_residual": after.max_residual,
                "solver": after.solver,
            })
    frame = pl.DataFrame(rows, schema_overrides={"input_id": pl.String, "transit": pl.String,
                                                 "leverage_per_cost": pl.Float64})
    return (rank_within(frame, ["defector"], "leverage")
            .with_columns(pl.lit(scenario.name).alias("scenario"))
            .sort("defector", "rank", "control_id"))


def capability_table(network: SupplyNetwork, scenario: Scenario, model: CapabilityModel,
                     control_leverage: pl.DataFrame, *, baseline_closed: np.ndarray | None = None) -> pl.DataFrame:
    """Per actor: attainable capability with no controls — or, with ``baseline_closed``
    (routes of the baseline placement), with the baseline in force; for candidate defectors
    also the single best catalogue control within budget (from ``control_leverage``, made
    with the same baseline) and the capability it leaves."""
    rows = []
    budget = scenario.settings.budget
    route_open = None if baseline_closed is None else (~np.asarray(baseline_closed, dtype=bool)).astype(np.float64)
    for index, actor in enumerate(scenario.actors):
        base = model.solve(network.sink_of(index), route_open)
        best = (control_leverage.filter((pl.col("defector") == actor.id) & (pl.col("cost") <= budget))
                .sort(["leverage", "cost", "control_id"], descending=[True, False, False]).head(1))
        has_best = actor.candidate_defector and best.height and best["leverage"][0] > 0
        rows.append({
            "actor": actor.id, "name": actor.name, "signatory": actor.signatory,
            "candidate_defector": actor.candidate_defector,
            "capability_before": base.value,
            "best_control": best["control_id"][0] if has_best else None,
            "best_control_cost": best["cost"][0] if has_best else None,
            "capability_after": best["capability_after"][0] if has_best else base.value,
            "leverage": best["leverage"][0] if has_best else 0.0,
            "status": base.status, "duality_gap": base.duality_gap, "max_residual": base.max_residual,
            "solver": base.solver, "seconds": base.seconds,
        })
    return pl.DataFrame(rows, schema_overrides={"best_control": pl.String, "best_control_cost": pl.Float64}).with_columns(
        pl.lit(scenario.name).alias("scenario"))
