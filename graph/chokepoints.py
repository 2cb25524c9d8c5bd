"""The graph-side chokepoint metric suite of a supply network, for a set of sinks.

One call builds the route graph once and runs every family on it:

- structure: strongly connected components (:mod:`graph.components`) and core
  numbers of the undirected projection (:mod:`graph.cores`);
- concentration of producer capacity per input, by facility and by country
  (:mod:`graph.concentration`);
- AND/OR single points of failure and failure cascades of nodes, countries and
  import embargoes, for every sink at once (:func:`graph.failure.essential_sets`);
- dominators of the OR skeleton (:mod:`graph.dominators`);
- per sink: its supply cone and flow-weighted betweenness inside it
  (:mod:`graph.centrality`), exact or with sampled pivots.

An *import embargo* of input k on actor d closes every route carrying k from a node
outside d's member countries into one inside them or into d's sink (all imports of k,
including re-exports through transit hubs and cloud compute).

Everything needing a linear program (removal loss) lives in :mod:`chokepoint.analyses.chokepoints`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from graph.centrality import Betweenness, flow_betweenness, supply_cone
from graph.components import strongly_connected_components
from graph.concentration import capacity_concentration
from graph.cores import core_numbers
from graph.dag import find_cycle
from graph.dominators import dominated_counts, dominators_of, or_dominator_tree
from graph.arrays import concat_ranges
from graph.failure import EssentialSets, Propagation, essential_sets
from graph.gt import graph_from_arrays
from graph.network import SupplyNetwork

__all__ = ["SinkChokepoints", "NetworkChokepoints", "import_routes", "chokepoint_metrics"]


@dataclass(frozen=True)
class SinkChokepoints:
    """Chokepoint metrics of one sink.

    ``cone``: nodes with a route path to the sink. ``spof_nodes``, ``spof_countries``,
    ``spof_inputs``: nodes, countries and import embargoes (input types) whose loss
    alone makes the sink unproducible (AND/OR). ``or_dominators``: dominators of the
    sink in the OR skeleton, nearest first (a subset of ``spof_nodes``).
    ``node_cascade[v]``, ``country_cascade[c]``, ``input_cascade[k]``: how many nodes of
    the cone (other than the removed node) become unproducible with that loss.
    ``or_dominated[v]``: nodes of the cone that v dominates in the OR skeleton.
    ``betweenness``: flow-weighted betweenness inside the cone. ``group_spof[f]`` and
    ``group_cascade[f]``: the same for each extra node-group family ``f`` (e.g. firms).
    """

    sink: int
    producible: bool
    cone: np.ndarray
    spof_nodes: np.ndarray
    spof_countries: np.ndarray
    spof_inputs: np.ndarray
    or_dominators: np.ndarray
    node_cascade: np.ndarray
    country_cascade: np.ndarray
    input_cascade: np.ndarray
    or_dominated: np.ndarray
    betweenness: Betweenness
    group_spof: dict = field(default_factory=dict)
    group_cascade: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkChokepoints:
    """Suite results: network-wide structure and concentration, per-sink metrics, timings."""

    components: np.ndarray
    num_components: int
    largest_component: int
    core: np.ndarray
    concentration_by_node: dict
    concentration_by_country: dict
    sinks: dict
    essential: EssentialSets
    dominator_tree: np.ndarray
    seconds: dict = field(default_factory=dict)


def import_routes(network: SupplyNetwork, actor: int) -> np.ndarray:
    """For each route, the input type it imports into ``actor``'s territory, else -1.

    A route imports when its buyer belongs to the actor (in one of its member countries, one
    of its firms' nodes, or its sink) and its seller does not. O(N + E).
    """
    net = network
    inside = net.actor_nodes(actor)
    imports = inside[net.edge_dst] & ~inside[net.edge_src]
    return np.where(imports, net.edge_input, -1).astype(np.int64)


def _is_simple(num_nodes: int, src: np.ndarray, dst: np.ndarray) -> bool:
    """No repeated (src, dst) pair and no self-loop (antiparallel pairs need a cycle)."""
    if (src == dst).any():
        return False
    key = np.sort(src.astype(np.int64) * num_nodes + dst)
    return not (key[1:] == key[:-1]).any()


def chokepoint_metrics(network: SupplyNetwork, sinks, *, flows: dict | None = None, pivots: int | None = None,
                       seed: int = 0, resolution: int = 4, node_groups: dict | None = None) -> NetworkChokepoints:
    """Run the whole suite (see module docstring).

    Parameters
    ----------
    network : SupplyNetwork
        Must be acyclic (the AND/OR semantics need it).
    sinks : sequence of int
        Sink node indices (each the sink of one actor).
    flows : dict of int to array (E,), optional
        Route flow per sink for the betweenness weights (e.g. the capability LP's
        optimum); sinks without one use the nominal flow.
    pivots : int, optional
        Pivots of the sampled betweenness per sink (``None``: exact).
    seed : int
        Seed of the pivot samples (sink i uses ``seed + i``).
    resolution : int
        Resolution of the dependency lengths (:func:`graph.centrality.dependency_lengths`).
    node_groups : dict of str to int array (N,), optional
        Extra families of node groups removed together (``-1``: in no group), e.g. firms
        or country × input aggregates; their single points of failure and cascades
        are reported per sink in ``group_spof`` / ``group_cascade``.

    Returns
    -------
    NetworkChokepoints
        ``seconds`` holds the wall time of each step.

    Raises
    ------
    ValueError
        If the network has a directed cycle (the message lists one).

    Notes
    -----
    Graph build O(V + E); components O(V + E); cores O(V + E) (+ O(E log E) to check
    the routes form a simple graph); essential sets O((V + E + S) log(V + E + S)) for all
    sinks together (S: total essential-set size); dominator tree
    O((V + E) log(V + E)); per sink a cone BFS O(V + E), cascades O(S), betweenness
    O(P (V + E) log V).
    """
    net = network
    flows = flows or {}
    sinks = [int(s) for s in sinks]
    for s in sinks:
        if not (0 <= s < net.num_nodes) or net.node_actor[s] < 0:
            raise ValueError(f"node {s} is not an actor's sink")
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - clock
        clock = now

    n = net.num_nodes
    graph = graph_from_arrays(n, net.edge_src, net.edge_dst)
    lap("build_graph")
    components = strongly_connected_components(n, net.edge_src, net.edge_dst, graph=graph)
    sizes = np.bincount(components, minlength=n)
    if sizes.max(initial=0) > 1:
        cycle = find_cycle(n, net.edge_src, net.edge_dst)
        names = net.node_names or tuple(map(str, range(n)))
        raise ValueError("the production network has a cycle: " + " -> ".join(names[v] for v in cycle))
    lap("components")
    if _is_simple(n, net.edge_src, net.edge_dst):
        core = core_numbers(n, net.edge_src, net.edge_dst, simple=True, graph=graph)
    else:
        core = core_numbers(n, net.edge_src, net.edge_dst)
    lap("cores")
    by_node = capacity_concentration(net, by="node")
    by_country = capacity_concentration(net, by="country")
    lap("concentration")
    prop = Propagation.of(net)
    actors = sorted({int(net.node_actor[s]) for s in sinks})
    embargo = {f"imports:{net.actors[a]}": import_routes(net, a) for a in actors}
    extra = dict(node_groups or {})
    if "country" in extra:
        raise ValueError("the 'country' node-group family is built in")
    ess = essential_sets(net, node_groups={"country": net.node_country, **extra}, route_groups=embargo,
                         propagation=prop)
    lap("essential_sets")
    idom = or_dominator_tree(net)
    lap("dominators")

    per_sink = {}
    country_offset, n_countries = ess.families["country"]
    for i, sink in enumerate(sinks):
        actor = int(net.node_actor[sink])
        cone = supply_cone(net, sink, graph=graph)
        lap("cones")
        alive = np.flatnonzero(cone & ess.producible)
        counts = np.bincount(ess.labels[concat_ranges(ess.start[alive], ess.length[alive])],
                             minlength=ess.space)
        offset, size = ess.families[f"imports:{net.actors[actor]}"]
        node_cascade = counts[:n].copy()
        node_cascade[alive] -= 1
        producible_sink = bool(ess.producible[sink])
        per_sink_partial = dict(
            spof_nodes=ess.nodes(sink) if producible_sink else np.empty(0, np.int64),
            spof_countries=ess.groups(sink, "country") if producible_sink else np.empty(0, np.int64),
            spof_inputs=(ess.groups(sink, f"imports:{net.actors[actor]}") if producible_sink
                         else np.empty(0, np.int64)),
            node_cascade=node_cascade,
            country_cascade=counts[country_offset:country_offset + n_countries],
            input_cascade=np.pad(counts[offset:offset + size], (0, len(net.inputs) - size)),
            group_spof={name: ess.groups(sink, name) if producible_sink else np.empty(0, np.int64) for name in extra},
            group_cascade={name: np.pad(counts[ess.families[name][0]:sum(ess.families[name])],
                                        (0, max(int(extra[name].max(initial=-1)) + 1 - ess.families[name][1], 0)))
                           for name in extra},
        )
        lap("essential_sets")
        dominators = dominators_of(idom, sink)
        dominated = dominated_counts(idom, prop.level, within=cone)
        lap("dominators")
        between = flow_betweenness(net, flows.get(sink), sink=sink, pivots=pivots, seed=seed + i,
                                   resolution=resolution, graph=graph)
        lap("betweenness")
        per_sink[sink] = SinkChokepoints(sink=sink, producible=producible_sink, cone=cone, or_dominators=dominators,
                                         or_dominated=dominated, betweenness=between, **per_sink_partial)
    return NetworkChokepoints(components=components, num_components=int(np.unique(components).size),
                              largest_component=int(sizes.max(initial=0)), core=core,
                              concentration_by_node=by_node, concentration_by_country=by_country, sinks=per_sink,
                              essential=ess, dominator_tree=idom, seconds=seconds)
