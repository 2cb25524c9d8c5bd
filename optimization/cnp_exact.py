"""Exact critical-node MILP (compact formulation of Veremyev, Boginski & Pasiliao 2014).

Variables: ``v_i ∈ {0, 1}`` (node i deleted) for the free nodes, ``u_ij ∈ [0, 1]``
(i and j still connected) for every unordered pair inside one connected component
of G (pairs in different components are never connected).

minimise    Σ u_ij
subject to  u_ij + v_i + v_j >= 1                for every edge {i, j}
            u_ij >= u_kj - v_i                  for every edge {i, k} (both orientations)
                                                and every j ≠ i, k in the component
            Σ v_i <= K

Why it is exact: if i and j are joined by a path with no deleted node, the edge
constraint at the path's last edge and the propagation constraints back along the
path force ``u_ij = 1``; conversely, for integral ``v`` the least ``u`` meeting the
constraints is the 0/1 connectivity indicator, so at an optimum ``Σ u`` is the
pairwise connectivity and ``u`` need not be declared integral. ``|S| <= K`` instead
of ``= K`` is harmless: deleting more never raises connectivity.

The budget K and an optional objective cutoff (a heuristic's value) are
``cp.Parameter``s, so one model serves every K on the same graph.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from graph.critical_nodes import (CriticalNodesResult, GraphInputError, SearchSettings, edge_list,
                                  exhaustive_critical_nodes, heuristic_critical_nodes, pairwise_connectivity,
                                  safe_fixings, validate_k, warm_up)
from optimization.solvers import solver_options

__all__ = ["ExactCNPResult", "CriticalNodesModel", "solve_critical_nodes_milp", "critical_nodes", "EXACT_MAX_NODES"]

#: Graphs with at most this many non-trivial nodes (after preprocessing) go to the
#: exact MILP in ``method="auto"``. Measured (bench/results/cnp.md, 2 shared cores):
#: proofs take ≤ 6 s up to 28 nodes, but often more than 60 s at 40 (sparse ER, K = 5).
EXACT_MAX_NODES = 40


@dataclass(frozen=True)
class ExactCNPResult:
    """One MILP solve.

    ``proved`` is true only for solver status ``optimal`` with zero relative gap and
    absolute gap below one (the objective is an integer). ``removed`` holds the
    incumbent's deleted node indices (None if the solver has none); ``bound`` is the
    solver's proven lower bound when it reports one (HiGHS), else None.
    """

    status: str
    proved: bool
    removed: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float


def _component_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    graph = sp.coo_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    _, labels = sp.csgraph.connected_components(graph, directed=False)
    return labels


class CriticalNodesModel:
    """The compact CNP MILP of one graph; solve it for any K.

    Parameters
    ----------
    num_nodes : int
    src, dst : int arrays
        Undirected edges (each once, no self-loops).
    fixed_zero : bool array, optional
        Nodes that may be assumed not deleted (e.g. leaves; see
        ``graph.critical_nodes.safe_fixings``).

    Notes
    -----
    Size: n binaries, P = Σ_C |C|(|C|-1)/2 continuous pair variables, m edge rows and
    Σ_{i→k} (|C(i)| - 2) ≤ 2 m n propagation rows. The formulation is from
    A. Veremyev, V. Boginski, E. L. Pasiliao, "Exact identification of critical nodes
    in sparse networks via new compact formulations", Optim. Lett. 8(4):1245–1259,
    2014, doi:10.1007/s11590-013-0666-x; the problem and the first (cubic-size) model
    from A. Arulselvan, C. W. Commander, L. Elefteriadou, P. M. Pardalos, "Detecting
    critical nodes in sparse graphs", Comput. Oper. Res. 36(7):2193–2200, 2009,
    doi:10.1016/j.cor.2008.08.016.
    """

    def __init__(self, num_nodes: int, src, dst, fixed_zero=None):
        n = int(num_nodes)
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        fixed = np.zeros(n, dtype=bool) if fixed_zero is None else np.asarray(fixed_zero, dtype=bool)
        self.num_nodes = n
        labels = _component_labels(n, src, dst)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=labels.max() + 1 if n else 0)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        local = np.empty(n, dtype=np.int64)
        local[order] = np.arange(n) - starts[labels[order]]
        pair_counts = counts * (counts - 1) // 2
        pair_offset = np.concatenate([[0], np.cumsum(pair_counts)[:-1]])
        self.num_pairs = int(pair_counts.sum())
        size_of = counts[labels]

        def pair_index(comp, a, b):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            c = counts[comp]
            return pair_offset[comp] + lo * c - lo * (lo + 1) // 2 + (hi - lo - 1)

        free = np.flatnonzero(~fixed)
        self.free_nodes = free
        column = np.full(n, -1, dtype=np.int64)
        column[free] = np.arange(free.size)
        self.v = cp.Variable(free.size, boolean=True, name="deleted") if free.size else None
        self.u = cp.Variable(self.num_pairs, name="connected")
        self.k = cp.Parameter(nonneg=True, name="k")
        self.cutoff = cp.Parameter(nonneg=True, name="cutoff")

        def v_matrix(rows, nodes, n_rows):
            keep = column[nodes] >= 0
            return sp.csr_matrix((np.ones(keep.sum()), (rows[keep], column[nodes[keep]])), shape=(n_rows, free.size))

        m = src.size
        comp_e = labels[src]
        edge_pairs = pair_index(comp_e, local[src], local[dst])
        rows = np.arange(m)
        edge_u = sp.csr_matrix((np.ones(m), (rows, edge_pairs)), shape=(m, self.num_pairs))
        edge_v = v_matrix(np.concatenate([rows, rows]), np.concatenate([src, dst]), m)
        # Propagation rows, vectorised: one block per directed edge (i -> k), j over C(i) minus {i, k}.
        heads = np.concatenate([src, dst])
        tails = np.concatenate([dst, src])
        comp = labels[heads]
        block = size_of[heads]
        owner = np.repeat(np.arange(heads.size), block)
        j_local = np.arange(block.sum()) - np.repeat(np.cumsum(block) - block, block)
        i_loc, k_loc, comp_r = local[heads][owner], local[tails][owner], comp[owner]
        keep = (j_local != i_loc) & (j_local != k_loc)
        owner, j_local, i_loc, k_loc, comp_r = owner[keep], j_local[keep], i_loc[keep], k_loc[keep], comp_r[keep]
        r = owner.size
        prow = np.arange(r)
        prop_u = sp.csr_matrix(
            (np.concatenate([np.ones(r), -np.ones(r)]),
             (np.concatenate([prow, prow]),
              np.concatenate([pair_index(comp_r, i_loc, j_local), pair_index(comp_r, k_loc, j_local)]))),
            shape=(r, self.num_pairs))
        prop_v = v_matrix(prow, heads[owner], r)
        self.num_rows = m + r
        total = cp.sum(self.u)
        constraints = [self.u >= 0, self.u <= 1, total <= self.cutoff]
        if self.v is not None:
            constraints += [edge_u @ self.u + edge_v @ self.v >= 1,
                            prop_u @ self.u + prop_v @ self.v >= 0,
                            cp.sum(self.v) <= self.k]
        else:
            constraints += [edge_u @ self.u >= 1, prop_u @ self.u >= 0]
        self.problem = cp.Problem(cp.Minimize(total), constraints)
        assert self.problem.is_dcp(dpp=True)

    def solve(self, k: int, time_limit: float, solver: str = "HIGHS", upper_bound: float | None = None) -> ExactCNPResult:
        """Solve for budget ``k`` within ``time_limit`` seconds; never raises on a time-out."""
        started = time.perf_counter()
        self.k.value = float(k)
        self.cutoff.value = float(self.num_pairs if upper_bound is None else upper_bound)
        options = solver_options(solver, time_limit)
        if options["solver"] == cp.HIGHS:
            # The objective is an integer: an absolute gap below 1 is a proof; HiGHS's
            # default relative gap (1e-4) is not.
            options.update(mip_rel_gap=0.0, mip_abs_gap=0.999)
        # SCIP's default gap limits are 0; setting one makes it stop with status
        # 'gaplimit', which cvxpy reports as optimal_inaccurate (never accepted).
        try:
            with warnings.catch_warnings():
                # cvxpy warns "solution may be inaccurate" on a time-out; the status says it.
                warnings.simplefilter("ignore", UserWarning)
                self.problem.solve(**options)
            status = self.problem.status
        except cp.error.SolverError as exc:
            return ExactCNPResult(f"solver_error: {exc}", False, None, None, None, time.perf_counter() - started)
        removed = None
        if self.v is not None and self.v.value is not None:
            removed = self.free_nodes[np.asarray(self.v.value) > 0.5]
        elif self.v is None and self.u.value is not None:
            removed = np.zeros(0, dtype=np.int64)
        stats = self.problem.solver_stats
        extra = getattr(stats, "extra_stats", None) if stats is not None else None
        # HiGHS stopped by its time limit before any incumbent still hands cvxpy a
        # (meaningless) point; only a feasible primal solution counts.
        if extra is not None and getattr(extra, "primal_solution_status", 2) != 2:
            removed = None
        if removed is not None and removed.size > k:
            removed = None
        objective = None if removed is None or self.problem.value is None else float(self.problem.value)
        if objective is None:
            removed = None
        bound = None
        if extra is not None and hasattr(extra, "mip_dual_bound"):
            value = float(extra.mip_dual_bound)
            if np.isfinite(value):
                bound = value
        proved = status == cp.OPTIMAL and removed is not None
        if proved:
            bound = objective
        return ExactCNPResult(str(status), proved, removed, objective, bound, time.perf_counter() - started)


def solve_critical_nodes_milp(num_nodes: int, src, dst, k: int, *, time_limit: float, solver: str = "HIGHS",
                              fixed_zero=None, upper_bound: float | None = None) -> ExactCNPResult:
    """Build :class:`CriticalNodesModel` and solve it once (see there)."""
    started = time.perf_counter()
    model = CriticalNodesModel(num_nodes, src, dst, fixed_zero)
    remaining = max(time_limit - (time.perf_counter() - started), 1e-3)
    result = model.solve(k, remaining, solver, upper_bound)
    return ExactCNPResult(result.status, result.proved, result.removed, result.objective, result.bound,
                          time.perf_counter() - started)


def critical_nodes(graph, k: int, time_limit: float = 60.0, *, method: str = "auto", solver: str = "HIGHS",
                   seed: int = 0, exact_max_nodes: int = EXACT_MAX_NODES,
                   stall_generations: int | None = None, max_generations: int | None = None,
                   max_iterations: int | None = None, processes: int = 1,
                   settings: SearchSettings | None = None) -> CriticalNodesResult:
    """Delete ``k`` nodes of an undirected graph to minimise pairwise connectivity.

    Parameters
    ----------
    graph : EdgeList, path, graph-tool or networkx graph, or iterable of (u, v) pairs
    k : int
        Number of nodes to delete, ``0 <= k <= n``.
    time_limit : float
        Wall-clock seconds for the search (heuristic and MILP share it). It only stops
        the search early: with a budget (``max_iterations``, ``max_generations``) the
        answer does not depend on the machine. The one-off load of the compiled
        kernels (first call in a process) comes on top and is included in ``seconds``.
    method : {"auto", "heuristic", "exact"}
        ``auto``: enumeration when the reduced instance is small enough to try every
        subset (a proof), else the heuristic, then the exact MILP when the graph has at
        most ``exact_max_nodes`` non-trivial nodes; ``exact``: enumeration or MILP
        whatever the size; ``heuristic``: neither.
    solver : {"HIGHS", "SCIP"}
        MILP solver.
    seed : int
        Heuristic seed.
    stall_generations : int, optional
        Stop the heuristic after this many memetic generations without improvement.
    max_generations : int, optional
        Stop the heuristic after this many memetic generations.
    max_iterations : int, optional
        Local-search iterations per process (the budget unit of
        :func:`graph.critical_nodes.heuristic_critical_nodes`); unlimited by default.
    processes : int
        Independent heuristic searches run at once, in threads of this process (seeds
        derived from ``seed``; the best wins, ties to the smallest set), 1 by default.
    settings : SearchSettings, optional
        The heuristic's parameters (default: :class:`graph.critical_nodes.SearchSettings`).

    Returns
    -------
    CriticalNodesResult
        ``optimal`` is true only when proved: every subset was tried, or the MILP solver
        reported an optimum (status ``optimal``, absolute gap below one) that equals
        the returned set's recomputed connectivity, or f(S) = 0.

    Raises
    ------
    GraphInputError
        Bad graph input, ``k`` outside ``[0, n]``, a non-positive time limit or budget.

    Notes
    -----
    Heuristic: :func:`graph.critical_nodes.heuristic_critical_nodes`. Exact:
    :func:`graph.critical_nodes.exhaustive_critical_nodes` over the nodes left free by
    the provably safe fixings (isolated nodes, leaves), else the Veremyev, Boginski &
    Pasiliao compact MILP with the same fixings. The heuristic's solution is a fallback
    and an upper bound; on a MILP time-out the better of incumbent and heuristic is
    returned, with the solver's proven bound when it reports one. The CNP is NP-hard
    (Arulselvan et al., Comput. Oper. Res. 36(7):2193–2200, 2009,
    doi:10.1016/j.cor.2008.08.016).
    """
    started = time.perf_counter()
    warm_up()
    # The time limit bounds the search; the one-off kernel load is not charged to it.
    deadline = time.perf_counter() + float(time_limit) if isinstance(time_limit, (int, float)) else None
    edges = edge_list(graph)
    n = edges.num_nodes
    k = validate_k(k, n)
    if method not in ("auto", "heuristic", "exact"):
        raise ValueError(f"unknown method {method!r}; choose auto, heuristic or exact")
    if not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
        raise GraphInputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    before = pairwise_connectivity(edges)
    details: dict = {"nodes": n, "edges": edges.num_edges, "k": k}

    def result(indices, method_used, optimal, lower_bound) -> CriticalNodesResult:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size < k:  # an exact optimum may use fewer deletions; more never hurts
            extra = np.setdiff1d(np.arange(n), indices)[: k - indices.size]
            indices = np.concatenate([indices, extra])
        indices = np.sort(indices)
        value = pairwise_connectivity(edges, indices)
        return CriticalNodesResult(
            removed=[edges.ids[i] for i in indices], pairwise_connectivity=value,
            optimal=bool(optimal or value == 0 or value <= lower_bound), seconds=time.perf_counter() - started,
            lower_bound=int(min(max(lower_bound, 0), value)), method=method_used, before=before, details=details)

    if before == 0 or k == 0 or k == n:
        return result(np.arange(k), "trivial", True, before if k == 0 else 0)

    fixed = safe_fixings(edges)
    free_nodes = int((~fixed).sum())
    details["free_nodes"] = free_nodes
    if method != "heuristic":
        enumerated = exhaustive_critical_nodes(edges, k, fixed=fixed)
        if enumerated is not None:
            details["exact"] = {"method": "enumeration"}
            return result(enumerated[0], "exact", True, enumerated[1])
    use_exact = method == "exact" or (method == "auto" and free_nodes <= exact_max_nodes)
    heuristic_seconds = float(time_limit)
    if use_exact:
        # a safety cap only: the stall limit ends the heuristic long before on small graphs
        heuristic_seconds = min(0.25 * heuristic_seconds, 2.0)
        if stall_generations is None:
            stall_generations = 50  # the MILP settles small graphs; no need to search to the limit
    s_heur, f_heur, stats = heuristic_critical_nodes(edges, k, max(heuristic_seconds, 1e-3), seed=seed,
                                                     stall_generations=stall_generations,
                                                     max_generations=max_generations,
                                                     max_iterations=max_iterations, processes=processes,
                                                     settings=settings)
    details["heuristic"] = {"objective": f_heur, **{key: value for key, value in stats.items() if key != "workers"}}
    if f_heur == 0 or not use_exact:
        return result(s_heur, "heuristic", f_heur == 0, 0)

    remaining = deadline - time.perf_counter()
    if remaining <= 0.05:
        return result(s_heur, "heuristic", False, 0)
    exact = solve_critical_nodes_milp(edges.num_nodes, edges.src, edges.dst, k, time_limit=remaining,
                                      solver=solver, fixed_zero=fixed, upper_bound=f_heur)
    details["exact"] = {"method": "milp", "status": exact.status, "objective": exact.objective,
                        "bound": exact.bound, "seconds": exact.seconds}
    lower = int(math.ceil(exact.bound - 1e-6)) if exact.bound is not None else 0
    if exact.removed is not None:
        exact_value = pairwise_connectivity(edges, exact.removed)
        if exact.proved and exact_value == round(exact.objective) and exact_value <= f_heur:
            return result(exact.removed, "exact", True, exact_value)
        if exact.proved and f_heur <= round(exact.objective):
            return result(s_heur, "exact+heuristic", True, f_heur)
        if exact_value < f_heur:
            return result(exact.removed, "exact", False, lower)
    return result(s_heur, "exact+heuristic" if exact.proved else "heuristic", exact.proved and lower >= f_heur, lower)
