"""Critical-node detection (CNP): delete K nodes to minimise pairwise connectivity.

Given an undirected graph ``G = (V, E)`` and a budget ``K``, find ``S ⊆ V`` with
``|S| = K`` minimising the *pairwise connectivity* of ``G - S``,
``f(S) = Σ_C |C| (|C| - 1) / 2`` over its connected components ``C`` — the number of
node pairs that can still reach each other. Works on any undirected graph an analyst
brings; node ids are arbitrary tokens.

- :func:`edge_list` — validated input (pairs, graph-tool or networkx graphs); files are
  read by :func:`chokepoint.inputs.edgelist.read_edge_list`.
- :func:`pairwise_connectivity` — f(S) with graph-tool's compiled components.
- :func:`greedy_critical_nodes` — the greedy baseline (best exact gain each step).
- :func:`heuristic_critical_nodes` — reduce–solve–combine memetic search with a
  component-based local search (two-phase and deep exchanges, exact swap descent);
  deterministic given a seed and an iteration budget, optionally several searches at once (threads).
- :func:`safe_fixings` — nodes an exact model may fix as not deleted.
- :func:`exhaustive_critical_nodes` — proven optimum by enumeration on small reduced instances.

The entry point that adds the exact MILP on small graphs (``optimal`` only when proved)
is :func:`optimization.cnp_exact.critical_nodes`.

The local-search kernels are JIT-compiled loops in :mod:`graph._cnp_kernel`.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np

from graph import _cnp_kernel as kernel
from graph.errors import GraphInputError
from graph.gt import graph_from_arrays, gt

__all__ = [
    "EdgeList",
    "CriticalNodesResult",
    "GraphInputError",
    "edge_list",
    "edge_list_from_pairs",
    "undirected_projection",
    "pairwise_connectivity",
    "removal_gains",
    "greedy_critical_nodes",
    "heuristic_critical_nodes",
    "SearchSettings",
    "safe_fixings",
    "exhaustive_critical_nodes",
    "EXHAUSTIVE_WORK",
    "validate_k",
    "warm_up",
]

@dataclass(frozen=True)
class EdgeList:
    """An undirected simple graph with named nodes, as arrays.

    ``ids[i]`` is the token of node ``i``; edge ``j`` joins ``src[j] < dst[j]``; no
    self-loops, no duplicates. ``source`` names where it came from (for messages).
    """

    ids: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    source: str = "<edges>"

    @property
    def num_nodes(self) -> int:
        return len(self.ids)

    @property
    def num_edges(self) -> int:
        return int(self.src.size)

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency in compressed sparse row form (both directions of every edge)."""
        n = self.num_nodes
        heads = np.concatenate([self.src, self.dst])
        tails = np.concatenate([self.dst, self.src])
        order = np.lexsort((tails, heads))
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(heads, minlength=n), out=indptr[1:])
        return indptr, tails[order].astype(np.int64)

    def to_graph_tool(self) -> "gt.Graph":
        return graph_from_arrays(self.num_nodes, self.src, self.dst, directed=False)


@dataclass(frozen=True)
class CriticalNodesResult:
    """Outcome of :func:`critical_nodes`.

    Attributes
    ----------
    removed : list of str
        The ``K`` deleted node ids (in input order of first appearance).
    pairwise_connectivity : int
        f(S), recomputed with graph-tool on the returned set.
    optimal : bool
        True only when optimality is proved (MILP optimum, or f(S) = 0).
    seconds : float
        Wall time.
    lower_bound : int
        Proven lower bound on the optimum (0 when nothing better is proved).
    method : str
        What produced ``removed``: ``trivial``, ``heuristic``, ``exact`` or ``exact+heuristic``.
    before : int
        f(∅), pairwise connectivity of the whole graph.
    """

    removed: list[str]
    pairwise_connectivity: int
    optimal: bool
    seconds: float
    lower_bound: int = 0
    method: str = "heuristic"
    before: int = 0
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"removed": list(self.removed), "pairwise_connectivity": int(self.pairwise_connectivity),
                "optimal": bool(self.optimal), "seconds": round(float(self.seconds), 6),
                "lower_bound": int(self.lower_bound), "method": self.method,
                "pairwise_connectivity_before": int(self.before)}


# ----------------------------------------------------------------------------- input

def edge_list_from_pairs(pairs, source: str = "<edges>") -> EdgeList:
    """EdgeList from ``(u, v)`` token pairs (validated: no self-loops); duplicates merged."""
    index: dict[str, int] = {}
    flat = np.fromiter((index.setdefault(token, len(index)) for pair in pairs for token in pair),
                       dtype=np.int64, count=2 * len(pairs))
    a, b = flat[0::2], flat[1::2]
    if np.any(a == b):
        at = int(np.argmax(a == b))
        raise GraphInputError(f"edge {at + 1}: self-loop {pairs[at][0]!r}; an edge needs two distinct nodes")
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    n = len(index)
    keys = np.unique(lo * n + hi)
    return EdgeList(ids=tuple(index), src=keys // n, dst=keys % n, source=source)


def undirected_projection(num_nodes: int, src, dst, ids=None, source: str = "<projection>") -> EdgeList:
    """Undirected simple graph of a directed network given as arrays.

    Arc direction is dropped, antiparallel and parallel arcs merge into one edge, and
    self-loops are dropped (a projection, not analyst input: a loop never changes
    connectivity). ``ids`` names the nodes (default: their indices). O(m log m).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    n = int(num_nodes)
    if src.shape != dst.shape or (src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n)):
        raise GraphInputError(f"arcs must be two equal-length arrays of node indices in [0, {n})")
    ids = tuple(str(i) for i in range(n)) if ids is None else tuple(str(x) for x in ids)
    if len(ids) != n or len(set(ids)) != n:
        raise GraphInputError("ids must name every node once")
    loop = src == dst
    lo, hi = np.minimum(src[~loop], dst[~loop]), np.maximum(src[~loop], dst[~loop])
    keys = np.unique(lo * max(n, 1) + hi)
    return EdgeList(ids=ids, src=keys // max(n, 1), dst=keys % max(n, 1), source=source)


def edge_list(graph) -> EdgeList:
    """An :class:`EdgeList` from what an analyst has at hand.

    Accepts an :class:`EdgeList`, a graph-tool graph
    (directed ones are read as undirected; ids are vertex indices), a networkx graph
    (node objects become ``str`` ids; isolated nodes kept), or an iterable of
    ``(u, v)`` pairs (ids become ``str``).

    Raises
    ------
    GraphInputError
        Self-loops or pairs that are not pairs.
    """
    if isinstance(graph, EdgeList):
        return graph
    if isinstance(graph, (str, bytes)) or hasattr(graph, "read_bytes"):
        raise TypeError("read edge-list files with chokepoint.inputs.edgelist.read_edge_list")
    if isinstance(graph, gt.Graph):
        edges = graph.get_edges()
        src, dst = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64)
        if np.any(src == dst):
            raise GraphInputError(f"self-loop at vertex {int(src[np.argmax(src == dst)])}: an edge needs two "
                                  "distinct nodes (graph_tool.stats.remove_self_loops removes them)")
        n = graph.num_vertices()
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        keys = np.unique(lo * max(n, 1) + hi)
        return EdgeList(ids=tuple(str(i) for i in range(n)), src=keys // max(n, 1), dst=keys % max(n, 1),
                        source="<graph-tool graph>")
    if hasattr(graph, "nodes") and hasattr(graph, "edges"):  # networkx-like
        nodes = [str(v) for v in graph.nodes()]
        if len(set(nodes)) != len(nodes):
            raise GraphInputError("two nodes of the networkx graph have the same str() id")
        index = {v: i for i, v in enumerate(graph.nodes())}
        pairs = [(index[u], index[v]) for u, v in graph.edges()]
        if any(u == v for u, v in pairs):
            raise GraphInputError("self-loop in the networkx graph: an edge needs two distinct nodes "
                                  "(nx.selfloop_edges lists them)")
        arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        n = len(nodes)
        lo, hi = np.minimum(arr[:, 0], arr[:, 1]), np.maximum(arr[:, 0], arr[:, 1])
        keys = np.unique(lo * max(n, 1) + hi)
        return EdgeList(ids=tuple(nodes), src=keys // max(n, 1), dst=keys % max(n, 1), source="<networkx graph>")
    pairs = []
    for number, pair in enumerate(graph, start=1):
        try:
            u, v = pair
        except (TypeError, ValueError):
            raise GraphInputError(f"edge {number}: expected a (u, v) pair, got {pair!r}") from None
        if str(u) == str(v):
            raise GraphInputError(f"edge {number}: self-loop {u!r}; an edge needs two distinct nodes")
        pairs.append((str(u), str(v)))
    if not pairs:
        return EdgeList(ids=(), src=np.zeros(0, np.int64), dst=np.zeros(0, np.int64))
    return edge_list_from_pairs(pairs, source="<edges>")


# ----------------------------------------------------------------------------- evaluation

def _removed_mask(n: int, removed) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    removed = np.asarray(removed if removed is not None else [], dtype=np.int64).ravel()
    if removed.size and (removed.min() < 0 or removed.max() >= n):
        raise ValueError(f"removed node indices must lie in [0, {n})")
    mask[removed] = True
    return mask


def pairwise_connectivity(graph, removed=None) -> int:
    """Pairwise connectivity of ``graph`` minus the ``removed`` node indices.

    Uses graph-tool's compiled ``label_components`` on a vertex-filtered view.
    O(n + m).

    Parameters
    ----------
    graph : EdgeList or anything :func:`edge_list` accepts
    removed : sequence of int, optional
        Node indices (positions in ``EdgeList.ids``) to delete.
    """
    edges = edge_list(graph)
    n = edges.num_nodes
    if n == 0:
        return 0
    keep = ~_removed_mask(n, removed)
    g = edges.to_graph_tool()
    view = gt.GraphView(g, vfilt=g.new_vertex_property("bool", vals=keep))
    labels, sizes = gt.topology.label_components(view)
    sizes = np.asarray(sizes, dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def removal_gains(graph, removed=None) -> np.ndarray:
    """Decrease of pairwise connectivity from deleting each single node (after ``removed``).

    Exact for every node at once from one depth-first search per component
    (articulation points: deleting ``v`` splits off each DFS child subtree ``c`` with
    ``low(c) >= disc(v)``). O(n + m). Deleted nodes get ``-1``.
    """
    edges = edge_list(graph)
    indptr, adj = edges.csr()
    in_s = _removed_mask(edges.num_nodes, removed).astype(np.uint8)
    return kernel.removal_gains_all(indptr, adj, in_s)


# ----------------------------------------------------------------------------- heuristics

def validate_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise GraphInputError(f"K must be a whole number, got {k!r}")
    if k < 0 or k > n:
        raise GraphInputError(f"K = {k} is outside [0, {n}] (the graph has {n} nodes)")
    return int(k)


def greedy_critical_nodes(graph, k: int) -> np.ndarray:
    """Greedy baseline: K times, delete the node of largest exact gain.

    Ties go to the lowest index. O(K (n + m)) worst case (only the component split
    by the last deletion is re-evaluated, plus an O(n) scan per step).

    Notes
    -----
    The articulation-point gain computation follows Ventresca & Aleman, "A fast
    greedy algorithm for the critical node detection problem", COCOA 2014,
    doi:10.1007/978-3-319-12691-3_45.
    """
    edges = edge_list(graph)
    k = validate_k(k, edges.num_nodes)
    indptr, adj = edges.csr()
    order = np.argsort(-np.diff(indptr), kind="stable").astype(np.int64)
    return np.sort(kernel.greedy_fill(indptr, adj, np.zeros(0, np.int64), k, False, np.inf, order))


@dataclass
class _Pool:
    """Population of the memetic search (solutions as sorted index arrays)."""

    members: list
    objectives: list

    def contains(self, s: np.ndarray) -> bool:
        return any(np.array_equal(s, m) for m in self.members)


def _pool_update(pool: _Pool, child: np.ndarray, child_obj: int, n: int, k: int, capacity: int,
                 quality_weight: float = 0.6) -> bool:
    """Rank-based quality-and-distance pool update (Zhou, Hao & Glover 2019, §III-E).

    The child joins; if the pool is over capacity, the member with the worst score
    ``β·rank(objective) + (1-β)·rank(-distance to the nearest other member)`` leaves
    (possibly the child). Returns whether the child stayed.
    """
    if pool.contains(child):
        return False
    pool.members.append(child)
    pool.objectives.append(int(child_obj))
    if len(pool.members) <= capacity:
        return True
    p = len(pool.members)
    matrix = np.zeros((p, n), dtype=np.float32)
    for i, s in enumerate(pool.members):
        matrix[i, s] = 1.0
    shared = matrix @ matrix.T
    distance = k - shared
    np.fill_diagonal(distance, np.inf)
    nearest = distance.min(axis=1)
    objectives = np.asarray(pool.objectives, dtype=np.float64)
    rank_quality = np.argsort(np.argsort(objectives, kind="stable"), kind="stable")
    rank_distance = np.argsort(np.argsort(-nearest, kind="stable"), kind="stable")
    score = quality_weight * rank_quality + (1 - quality_weight) * rank_distance
    worst = int(np.argmax(score))
    del pool.members[worst]
    del pool.objectives[worst]
    return worst != p - 1


_WARM = False


def warm_up() -> float:
    """Load (or, on a new machine, compile) the numba kernels once per process.

    Takes about 1–2 s on the first call (tens of seconds when compiling on a new
    machine), then nothing. Called before any clock starts, so search time limits
    are not eaten by it. Returns the seconds spent.
    """
    global _WARM
    if _WARM:
        return 0.0
    started = time.perf_counter()
    indptr = np.array([0, 1, 3, 4], np.int64)
    adj = np.array([1, 0, 2, 1], np.int64)
    kernel.seed_rng(0)
    kernel.objective_of(indptr, adj, np.zeros(3, np.uint8))
    kernel.removal_gains_all(indptr, adj, np.zeros(3, np.uint8))
    order = np.arange(3, dtype=np.int64)
    one = kernel.greedy_fill(indptr, adj, np.zeros(0, np.int64), 1, False, np.inf, order)
    kernel.greedy_fill(indptr, adj, np.zeros(0, np.int64), 1, True, np.inf, order)
    kernel.local_search(indptr, adj, one, np.zeros(3, np.uint8), np.zeros(3, np.int64), 1, 1, np.inf, 0.5, 5, 0, 0.5, 2)
    kernel.exhaustive_best(indptr, adj, order, np.zeros(3, np.uint8), 1, 1 << 62)
    kernel.swap_descent(indptr, adj, one, np.zeros(3, np.uint8), 1, np.inf, True)
    kernel.greedy_restore(indptr, adj, order, 1)
    kernel.residual_window(indptr, adj, np.zeros(3, np.uint8), 2)
    _WARM = True
    return time.perf_counter() - started


@dataclass(frozen=True)
class SearchSettings:
    """Parameters of :func:`heuristic_critical_nodes` (defaults: see bench/results/cnp.md).

    population : largest pool size of the memetic search; offspring join until it is full.
    initial_population : solutions built (greedy + local search) before the first generation.
        A full pool (10): from 4, the offspring of near-identical parents kept the pool
        where it began (FF2000 stayed at its first local optimum, 4,589, for 2·10⁶
        iterations; 10 reached 4,557 in 5·10⁵; session 7 figures in bench/results/cnp.md).
    max_idle : a local search stops after this many iterations without improvement.
    greedy_probability : share of local-search iterations that delete the best-gain
        vertex of the picked component (articulation-point impact) instead of the
        heaviest one (node weighting); 0 = MACNP's pure node weighting.
    tenure : a returned vertex is not deleted again by a best-gain move for this many iterations.
    reduce : offspring are searched on the instance reduced by their parents' common
        vertices (IRMS's reduce–solve–combine); False = MACNP's double-backbone
        crossover, all vertices free.
    polish : after the reduced search, one more local search on the whole instance.
    descent : every local-search result is finished by a descent over exact swaps
        (:func:`graph._cnp_kernel.swap_descent`), so pool members are swap-optimal.
    history : late-acceptance list length of the local search (0 = every exchange is
        kept, as in MACNP).
    restart_after : generations without a new best before the pool (but its best
        member) is rebuilt from fresh starts; 0 disables restarts. Without them a long
        search stalls in its converged pool: 2·10⁶ iterations gave WS250 the same 3,242 /
        3,237 as 10⁶; with restarts after 100 idle generations 3,154 / 3,094 (50: 3,196 /
        3,130); over six instances 100 was best on three, 50 on two, about equal on one.
    degree_start : one start of the pool is the K highest-degree vertices (ties to the lower
        index), improved like the others. On the reference supply network (K = 10) every seed
        then finds 10,742 at 100 generations; without it 14,798–28,880 (27,032 at seed 0):
        the greedy and the randomized starts never delete the five producers of one input
        together, the cut that splits the graph.
    depth_probability, max_depth : share of local-search iterations that are deep
        exchanges — delete ``d`` vertices one after the other (``d`` uniform in
        ``2..max_depth``), then return ``d`` cheapest one after the other — instead of
        a single two-phase exchange.
    window_size, window_generations, window_idle, window_share : decomposition
        (POPMUSIC). When the search stalls (where it would restart), closed regions of
        the best solution (:func:`graph._cnp_kernel.residual_window`: whole components
        of ``G - S`` grown to ``window_size`` vertices, with the deleted vertices that
        touch only them) are re-solved as critical-node instances of their own, by this
        search with ``window_generations`` generations, until ``window_idle`` regions in
        a row bring nothing or the regions have used ``window_share`` (0 ≤ share < 1) of
        all iterations.
        Only graphs of at least four regions' worth of vertices are decomposed, and a region
        over a quarter of the graph is skipped; ``window_size = 0`` disables the phase. With
        regions up to half the graph, WS1500 (n = 1,500: regions of 40 % of it) fell behind
        its search without regions on seed 3 (13,162 against 13,098 at 60 s, P = 2).
        On powergrid (n = 4,941, K = 494, ≈ 960 residual components) the memetic search
        stalls near 15,900–15,920 in 60 s, ≈ 0.3 % above IRMS's one-hour mean: no global
        move fixes a region that needs many deletions rearranged together, and a region
        re-solved alone gets the whole search's intensity. Regions of 150 / 300 / 600 /
        1,000 vertices re-solving one 20 s solution (15,951) for 40 s: 15,945 / 15,898 /
        15,851 / 15,861; 10 / 30 / 100 generations at 600: 15,858 / 15,851 / 15,851. The
        share keeps the memetic search's time where regions rarely improve: at an
        unlimited share WS1500 (seed 0, 60 s, two searches) ended at 13,106 with 90 regions
        (11 improved) against 13,098 at 0.7; 0.5 left powergrid (seed 2) at 15,871, 0.7 at
        15,864 (docs/results.md, "Critical-node detection", thirteenth session).
    """

    population: int = 10
    initial_population: int = 10
    max_idle: int = 1000
    greedy_probability: float = 0.5
    tenure: int = 5
    reduce: bool = True
    polish: bool = False
    restart_after: int = 100
    depth_probability: float = 0.3
    max_depth: int = 50
    descent: bool = True
    history: int = 0
    degree_start: bool = True
    window_size: int = 600
    window_generations: int = 30
    window_idle: int = 30
    window_share: float = 0.7


def _derived_seed(seed: int, worker: int) -> int:
    """Seed of process ``worker`` of a multi-process run; worker 0 keeps ``seed``, so a
    2-process run never ends worse than the 1-process run of the same seed and budget."""
    if worker == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, worker]).generate_state(1)[0] & 0x7FFFFFFF)


def _search(edges: EdgeList, k: int, seconds: float, seed: int, max_iterations: int | None,
            max_generations: int | None, stall_generations: int | None, target: int, initial,
            settings: SearchSettings) -> tuple[np.ndarray, int, dict]:
    """One process's memetic search (see :func:`heuristic_critical_nodes`)."""
    started = time.perf_counter()
    wall_started = time.time()
    deadline = started + float(seconds)
    n = edges.num_nodes
    indptr, adj = edges.csr()
    kernel.seed_rng(int(seed) & 0x7FFFFFFF)
    rng = np.random.default_rng(seed)
    budget = (1 << 62) if max_iterations is None else int(max_iterations)
    stats = {"seed": int(seed), "generations": 0, "iterations": 0, "restarts": 0, "initial_greedy": None,
             "trajectory": [], "windows": 0, "windows_improved": 0}
    weight = np.zeros(n, np.int64)
    no_fixing = np.zeros(n, np.uint8)

    def improve(s: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, int]:
        left = budget - stats["iterations"]
        best, obj, iterations = kernel.local_search(indptr, adj, s.astype(np.int64), fixed, weight,
                                                    settings.max_idle, max(left, 0), deadline,
                                                    float(settings.greedy_probability), int(settings.tenure),
                                                    int(target), float(settings.depth_probability),
                                                    int(settings.max_depth), int(settings.history))
        stats["iterations"] += int(iterations)
        if settings.descent and obj > target and stats["iterations"] < budget:
            # each swap made counts as one iteration of the budget
            best, obj, swaps = kernel.swap_descent(indptr, adj, best, fixed, budget - stats["iterations"], deadline,
                                                   True)
            stats["iterations"] += int(swaps)
            stats["descent_swaps"] = stats.get("descent_swaps", 0) + int(swaps)
        return best, int(obj)

    pool = _Pool([], [])
    best_s, best_obj = None, None

    def consider(s: np.ndarray, obj: int) -> None:
        nonlocal best_s, best_obj
        if best_obj is None or obj < best_obj:
            best_s, best_obj = s, obj
            stats["trajectory"].append((round(time.time() - wall_started, 4), stats["iterations"], int(obj)))
        _pool_update(pool, s, obj, n, k, settings.population)

    def out_of_budget() -> bool:
        return stats["iterations"] >= budget or time.perf_counter() >= deadline or best_obj <= target

    # Exact greedy is O(K (n + m)); above that budget start from a degree ranking.
    by_degree = np.argsort(-np.diff(indptr), kind="stable").astype(np.int64)
    large = k * (n + adj.size) > 2e7
    empty = np.zeros(0, np.int64)
    first = by_degree[:k].copy() if large else kernel.greedy_fill(indptr, adj, empty, k, False, deadline, by_degree)
    stats["initial_greedy"] = int(kernel.objective_of(indptr, adj, _removed_mask(n, first).astype(np.uint8)))
    starts = [first] if initial is None else [np.asarray(initial, dtype=np.int64), first]
    if settings.degree_start and not large:
        # the K highest-degree vertices as one more start (the first one already when the
        # graph is large): the articulation-point gains cannot see a cut that only a whole
        # group of hubs makes (deleting one of five producers of an input cuts nothing)
        starts.append(by_degree[:k].copy())
    for s in starts:
        consider(*improve(s, no_fixing))

    def fill_pool(capacity: int) -> None:
        attempts = 0  # small graphs may have fewer distinct local optima than pool places
        while len(pool.members) < capacity and attempts < 3 * capacity and not out_of_budget():
            consider(*improve(kernel.greedy_fill(indptr, adj, empty, k, True, deadline, by_degree), no_fixing))
            attempts += 1

    fill_pool(settings.initial_population)
    window_settings = replace(settings, window_size=0)
    window_iterations = 0

    def window_phase() -> None:
        # decomposition (POPMUSIC): re-solve closed regions of the best solution as whole
        # critical-node instances until `window_idle` regions in a row improve nothing, or
        # the regions have had their share of all iterations so far
        nonlocal window_iterations
        idle = 0
        tails = np.repeat(np.arange(n), np.diff(indptr))
        allowed = settings.window_share / (1.0 - settings.window_share) * (stats["iterations"] - window_iterations)
        while idle < settings.window_idle and window_iterations < allowed and not out_of_budget():
            removed = _removed_mask(n, best_s).astype(np.uint8)
            members, deleted = kernel.residual_window(indptr, adj, removed, int(settings.window_size))
            region = np.concatenate([members, deleted])
            if deleted.size == 0 or 4 * region.size > n:
                idle += 1
                continue
            stats["windows"] += 1
            local = np.full(n, -1, np.int64)
            local[region] = np.arange(region.size)
            inside = (local[tails] >= 0) & (local[adj] >= 0) & (tails < adj)
            sub = undirected_projection(region.size, local[tails[inside]], local[adj[inside]], source="region")
            at_start = np.arange(members.size, region.size)
            before = int(kernel.objective_of(*sub.csr(), _removed_mask(region.size, at_start).astype(np.uint8)))
            s, obj, sub_stats = _search(sub, deleted.size, max(deadline - time.perf_counter(), 1e-3),
                                        int(rng.integers(1 << 31)), budget - stats["iterations"],
                                        settings.window_generations, None, 0,
                                        at_start, window_settings)
            stats["iterations"] += sub_stats["iterations"]
            window_iterations += sub_stats["iterations"]
            if obj < before:
                stats["windows_improved"] += 1
                whole = np.sort(np.concatenate([np.setdiff1d(best_s, deleted, assume_unique=True), region[s]]))
                # the region is closed: nothing outside it changes (residual_window)
                consider(whole, best_obj - before + obj)
                idle = 0
            else:
                idle += 1

    generations = stall = since_best = 0
    while not out_of_budget() and len(pool.members) >= 2:
        if max_generations is not None and generations >= max_generations:
            break
        if stall_generations is not None and stall >= stall_generations:
            break
        if settings.restart_after and since_best >= settings.restart_after:
            if settings.window_size and n >= 4 * settings.window_size:
                window_phase()
            keep = int(np.argmin(pool.objectives))
            pool.members, pool.objectives = [pool.members[keep]], [pool.objectives[keep]]
            weight[:] = 0
            fill_pool(settings.initial_population)
            stats["restarts"] += 1
            since_best = 0
            continue
        a, b = rng.choice(len(pool.members), size=2, replace=False)
        pa, pb = pool.members[a], pool.members[b]
        previous = best_obj
        if settings.reduce:
            common = np.intersect1d(pa, pb, assume_unique=True)
            child = kernel.greedy_fill(indptr, adj, common, k, True, deadline, by_degree)
            fixed = _removed_mask(n, common).astype(np.uint8)
            s, obj = improve(child, fixed)
            if settings.polish and not out_of_budget():
                s, obj = improve(s, no_fixing)
        else:
            s, obj = improve(_backbone_child(indptr, adj, pa, pb, k, rng, deadline, by_degree), no_fixing)
        consider(s, obj)
        improved = best_obj < previous
        stall = 0 if improved else stall + 1
        since_best = 0 if improved else since_best + 1
        generations += 1
    stats["generations"] = generations
    stats["population"] = len(pool.members)
    stats["seconds"] = time.perf_counter() - started
    return best_s, int(best_obj), stats


def _backbone_child(indptr, adj, pa, pb, k, rng, deadline, order) -> np.ndarray:
    """Double backbone-based crossover (Zhou, Hao & Glover 2019): vertices deleted in
    both parents are kept, each vertex deleted in one parent with probability 0.85;
    then repaired to exactly ``k``: extra vertices are returned cheapest first (by a
    local search with no idle allowance), missing ones deleted greedily."""
    common = np.intersect1d(pa, pb, assume_unique=True)
    either = np.setxor1d(pa, pb, assume_unique=True)
    keep = either[rng.random(either.size) < 0.85]
    chosen = np.sort(np.concatenate([common, keep]))
    if chosen.size > k:
        chosen = np.sort(rng.permutation(chosen)[:k])
    return kernel.greedy_fill(indptr, adj, chosen, k, True, deadline, order)


def _thread_worker(payload: tuple) -> tuple[np.ndarray, int, dict, float]:
    """A search in a thread of this process until the shared deadline: the kernels release
    the GIL and numba keeps one random state per thread (seeded by :func:`_search`), so the
    searches run at once and each is the same as alone."""
    edges, k, wall_deadline, seed, max_iterations, max_generations, stall_generations, target, initial, settings = payload
    seconds = max(wall_deadline - time.time(), 1e-3)
    began = time.time()
    s, obj, stats = _search(edges, k, seconds, seed, max_iterations, max_generations, stall_generations, target,
                            initial, settings)
    return s, obj, stats, began


def _worker(payload: tuple) -> tuple[np.ndarray, int, dict, float]:
    """Entry point of a search process (spawned): load the kernels, then the thread's search."""
    warm_up()
    return _thread_worker(payload)


def heuristic_critical_nodes(graph, k: int, time_limit: float = 10.0, *, seed: int = 0,
                             max_iterations: int | None = None, processes: int = 1,
                             max_generations: int | None = None, stall_generations: int | None = None,
                             target: int = 0, initial=None, settings: SearchSettings | None = None,
                             parallel: str = "threads", **overrides) -> tuple[np.ndarray, int, dict]:
    """Memetic search for the CNP (reduce–solve–combine); returns ``(S, f(S), stats)``.

    Population: the exact greedy, then randomized greedy solutions (random large
    component, best gain in it), each improved by the component-based local search
    (:func:`graph._cnp_kernel.local_search`). Each generation: two random parents; the
    vertices deleted in both are fixed (the instance is *reduced* by them), the rest
    is filled greedily and improved by local search on the reduced instance (*solve*),
    the child is the union (*combine*) and enters the pool by the rank-based
    quality-and-distance rule. Where the search stalls (``restart_after`` generations
    without a new best), closed regions of the best solution are first re-solved as
    instances of their own (decomposition; ``SearchSettings.window_size``), then the
    pool is rebuilt around the best.

    Deterministic: with ``seed`` and a budget (``max_iterations`` local-search moves
    in all per process, ``max_generations``), the result is the same on any machine;
    the wall-clock ``time_limit`` only stops the search early (then where it stops
    depends on the machine's speed). Nothing that steers the search reads the clock.

    Parameters
    ----------
    graph : EdgeList or anything :func:`edge_list` accepts
    k : int
        Nodes to delete, ``0 <= k <= n``.
    time_limit : float
        Seconds of wall clock (> 0).
    seed : int
    max_iterations : int, optional
        Local-search iterations (two-phase exchanges) per process; unlimited by default.
    processes : int
        Independent searches run in parallel (seed of search ``i`` derived from
        ``seed``, search 0 with ``seed`` itself); the best result wins, ties to the
        lexicographically smallest set. 1 = one search in the calling thread.
    parallel : {"threads", "processes"}
        How several searches run: threads of this process (default; the compiled
        kernels release the GIL, and nothing is spawned, imported or loaded again, which
        cost a spawned process 2–5 s of its time limit), or spawned processes. Either
        way each search gives what it gives alone with its seed and budget.
    max_generations, stall_generations : int, optional
        Stop after that many memetic generations in all / without a new best.
    target : int
        Stop once ``f(S) <= target`` (a proven lower bound; 0 by default).
    initial : sequence of int, optional
        A solution to seed the pool with (e.g. from an exact solve).
    settings : SearchSettings, optional
        Algorithm parameters; keyword ``overrides`` replace single fields.

    Notes
    -----
    One local-search iteration costs O(|L| + e(L) + Σ_{u∈S} deg u) for the chosen
    large component ``L`` — independent of n — and deleting a vertex costs time in the
    size of the small pieces it cuts off (interleaved searches). The greedy
    construction is O(K (n + m)). Cutting out a region costs O(n + m), then a search on
    the region's ``window_size`` vertices.

    References: Y. Zhou, J. Li, J.-K. Hao, F. Glover, "Detecting critical nodes in
    sparse graphs via 'reduce-solve-combine' memetic search", INFORMS J. Comput.
    36(1):39–60, 2024, doi:10.1287/ijoc.2022.0130 (reduction by common vertices,
    articulation-point impact with node weighting); Y. Zhou, J.-K. Hao, F. Glover,
    "Memetic search for identifying critical nodes in sparse graphs", IEEE Trans.
    Cybern. 49(10):3699–3712, 2019, doi:10.1109/TCYB.2018.2848116 (two-phase exchange,
    node weighting, double backbone crossover, pool update); B. Addis, R. Aringhieri,
    A. Grosso, P. Hosteins, "Hybrid constructive heuristics for the critical node
    problem", Ann. Oper. Res. 238:637–649, 2016, doi:10.1007/s10479-016-2110-y (greedy
    construction and repair); É. D. Taillard, "Decomposition methods", ch. 6 of *Design of
    Heuristic Algorithms for Hard Optimization*, Springer, 2023,
    doi:10.1007/978-3-031-13714-3_6 (POPMUSIC, Taillard & Voß 2002: re-optimise parts of a
    solution made of parts close to a seed part).
    """
    warm_up()
    started = time.perf_counter()
    edges = edge_list(graph)
    n = edges.num_nodes
    k = validate_k(k, n)
    if not time_limit > 0:
        raise GraphInputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    if max_iterations is not None and (isinstance(max_iterations, bool) or int(max_iterations) < 0):
        raise GraphInputError(f"max_iterations must be a whole number >= 0, got {max_iterations!r}")
    processes = int(processes)
    if processes < 1:
        raise GraphInputError(f"processes must be at least 1, got {processes!r}")
    settings = replace(settings or SearchSettings(), **overrides)
    if not 0 <= settings.window_share < 1:
        raise GraphInputError(f"window_share must be in [0, 1), got {settings.window_share!r}")
    if k == 0 or n == 0:
        indptr, adj = edges.csr()
        return np.zeros(0, np.int64), int(kernel.objective_of(indptr, adj, np.zeros(n, np.uint8))), {}
    if parallel not in ("threads", "processes"):
        raise GraphInputError(f"parallel must be 'threads' or 'processes', got {parallel!r}")
    if processes == 1:
        return _search(edges, k, time_limit, seed, max_iterations, max_generations, stall_generations, target,
                       initial, settings)
    wall_start = time.time()
    payloads = [(edges, k, wall_start + float(time_limit), _derived_seed(seed, i), max_iterations, max_generations,
                 stall_generations, target, initial, settings) for i in range(processes)]
    if parallel == "threads":
        with ThreadPoolExecutor(max_workers=processes) as pool:
            runs = list(pool.map(_thread_worker, payloads))
    else:
        with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(_worker, payloads))
    s, obj, _, _ = min(runs, key=lambda run: (run[1], tuple(run[0].tolist())))
    stats = {"processes": processes, "parallel": parallel, "workers": [], "trajectory": []}
    for run_s, run_obj, run_stats, began in runs:
        offset = began - wall_start
        run_stats["trajectory"] = [(round(t + offset, 4), it, f) for t, it, f in run_stats["trajectory"]]
        stats["workers"].append(run_stats)
    merged = sorted((p for w in stats["workers"] for p in w["trajectory"]), key=lambda p: p[0])
    for point in merged:  # the best-so-far over all processes, by wall time
        if not stats["trajectory"] or point[2] < stats["trajectory"][-1][2]:
            stats["trajectory"].append(point)
    for key in ("iterations", "generations", "restarts", "windows", "windows_improved"):
        stats[key] = sum(w.get(key, 0) for w in stats["workers"])
    stats["initial_greedy"] = stats["workers"][0].get("initial_greedy")
    stats["seconds"] = time.perf_counter() - started
    return s, int(obj), stats

# ----------------------------------------------------------------------------- fixings for exact models

def safe_fixings(edges: EdgeList) -> np.ndarray:
    """Nodes that may be fixed as *not deleted* without losing every optimum.

    - isolated nodes (deleting one changes nothing);
    - a leaf whose neighbour has degree ≥ 2: deleting the neighbour instead is never
      worse (it isolates the leaf and may split more);
    - in a component that is a single edge, one of its two ends (symmetry).

    Valid for the relaxed budget ``|S| <= K`` (deleting more never raises f), which
    is what the exact model uses. Returns a boolean mask of fixed nodes.
    """
    n = edges.num_nodes
    degree = np.bincount(np.concatenate([edges.src, edges.dst]), minlength=n)
    fixed = degree == 0
    leaf_src = (degree[edges.src] == 1)
    leaf_dst = (degree[edges.dst] == 1)
    fixed[edges.src[leaf_src & ~leaf_dst]] = True
    fixed[edges.dst[leaf_dst & ~leaf_src]] = True
    both = leaf_src & leaf_dst
    fixed[np.minimum(edges.src[both], edges.dst[both])] = True
    return fixed


#: Enumeration proves an optimum when ``C(free, k) · (n + m)`` — subsets times the cost
#: of evaluating one — is at most this: 2–3 s of compiled loop here (5·10⁸ took 1.3 s:
#: K = 2 on the 327-node firm-level supply network, proved instead of searched).
EXHAUSTIVE_WORK = 1e9


def exhaustive_critical_nodes(graph, k: int, *, fixed=None, max_work: float = EXHAUSTIVE_WORK):
    """Proven optimum by trying every ``k``-subset of the nodes not ``fixed``.

    ``fixed`` marks nodes that may be assumed *not deleted* without losing every
    optimum (:func:`safe_fixings`, valid for ``|S| <= K``); with fewer free nodes than
    ``k``, deleting all of them is optimal and the set is padded with fixed nodes.
    Returns ``(S, f(S))``, or None when ``C(free, k) · (n + m)`` exceeds ``max_work``.
    Each subset is evaluated by union-find in O(n + m α).
    """
    edges = edge_list(graph)
    n = edges.num_nodes
    k = validate_k(k, n)
    fixed = np.zeros(n, bool) if fixed is None else np.asarray(fixed, dtype=bool)
    free = np.flatnonzero(~fixed).astype(np.int64)
    take = min(k, free.size)
    if math.comb(free.size, take) * (n + 2 * edges.num_edges + 1) > max_work:
        return None
    warm_up()
    indptr, adj = edges.csr()
    value, subset = kernel.exhaustive_best(indptr, adj, free, np.zeros(n, np.uint8), take, 1 << 62)
    if take < k:
        subset = np.concatenate([subset, np.flatnonzero(fixed)[: k - take]])
    return np.sort(subset.astype(np.int64)), int(value)
