"""Graph core at facility scale: graph-tool suite vs the same computations in networkx.

For each size (10^4, 10^5, 10^6 nodes, ≈ 5 routes per node) the synthetic facility
network is generated from the reference data (numpy, shared by both sides, timed on its
own), then each side builds its graph and runs the metric suite for the three candidate
defectors of the default scenario:

- strongly connected components; core numbers of the undirected projection;
- concentration of producer capacity by facility and by country (the same numpy code
  on both sides: it is not a graph algorithm);
- AND/OR essential sets (single points of failure and failure cascades of nodes,
  countries and import embargoes) — one pass in topological order: numpy levels vs
  Python sets over ``networkx.topological_sort``;
- dominator tree of the OR skeleton — graph-tool ``dominator_tree`` vs
  ``networkx.immediate_dominators``;
- per defector: supply cone, failure cascades, OR-dominated counts, and flow-weighted
  betweenness sampled with the same 64 pivots per defector — graph-tool ``betweenness``
  vs ``networkx.betweenness_centrality_subset``.

Every (size, side) runs in its own subprocess so that peak RSS (``ru_maxrss``) is per
size and a networkx run can be stopped after 10 minutes (it then reports the step it
had reached). The two sides' results are compared (sets exactly, betweenness within
1e-9) at every size where both finish.

Run: ``python -m bench bench_graph`` (≈ 25 min, most of it the networkx runs); options for a
single worker: ``python -m bench.bench_graph --worker gt --nodes 100000``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (10_000, 100_000, 1_000_000)
PIVOTS = 64
DEFECTORS = ("CHN", "RUS", "ARE")
NX_TIME_LIMIT_S = 600
NX_MEMORY_LIMIT_GIB = 10
#: Repeat a side while one run stays under this many seconds (median of up to 3).
REPEAT_IF_UNDER_S = 120


def _network(nodes: int):
    from chokepoint.settings import PROJECT_ROOT
    from chokepoint.inputs.reference import load_reference
    from chokepoint.inputs.scenario import load_scenario
    from chokepoint.model.build import synthetic_network_from_tables
    from graph.synthetic import SyntheticSpec

    reference = load_reference(PROJECT_ROOT / "data" / "reference")
    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "default.toml")
    started = time.perf_counter()
    network = synthetic_network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                            reference.capacities, scenario, SyntheticSpec(nodes=nodes, seed=0))
    return network, time.perf_counter() - started


def _pivots(network, sink: int, carried: np.ndarray, cone: np.ndarray, seed: int) -> np.ndarray:
    """The pivot sample of :func:`graph.centrality.betweenness` (same population, same rng)."""
    considered = carried & cone[network.edge_src] & cone[network.edge_dst]
    has_out = np.zeros(network.num_nodes, dtype=bool)
    has_out[network.edge_src[considered]] = True
    population = np.flatnonzero(has_out)
    if PIVOTS >= population.size:
        return population
    return np.sort(np.random.default_rng(seed).choice(population, size=PIVOTS, replace=False))


def _digest(network, sinks, spof_nodes, spof_countries, spof_inputs, dominators, cascades, cones,
            betweenness, core, components) -> dict[str, np.ndarray]:
    """What both sides must agree on, in full: the core number of every node, the number of
    strongly connected components and, per defector, its single points of failure, OR
    dominators, the cascade of every node, country and input, the cone (as a membership
    vector) and the betweenness of every node. ``cascades[i]`` is (node, country, input)."""
    out = {"components": np.array([int(components)]), "core": np.asarray(core, dtype=np.int64)}
    for i, s in enumerate(sinks):
        actor = network.actors[network.node_actor[s]]
        node, country, inputs = cascades[i]
        out.update({
            f"{actor}.spof_nodes": np.sort(np.asarray(spof_nodes[i], dtype=np.int64)),
            f"{actor}.spof_countries": np.sort(np.asarray(spof_countries[i], dtype=np.int64)),
            f"{actor}.spof_inputs": np.sort(np.asarray(spof_inputs[i], dtype=np.int64)),
            f"{actor}.or_dominators": np.sort(np.asarray(dominators[i], dtype=np.int64)),
            f"{actor}.node_cascade": np.asarray(node, dtype=np.int64),
            # graph-tool's vector stops at the last country that has a node; the others lose nothing.
            f"{actor}.country_cascade": np.pad(np.asarray(country, dtype=np.int64),
                                               (0, max(0, len(network.countries) - len(country)))),
            f"{actor}.input_cascade": np.asarray(inputs, dtype=np.int64),
            f"{actor}.cone": np.asarray(cones[i], dtype=bool),
            f"{actor}.betweenness": np.asarray(betweenness[i], dtype=float),
        })
    return out


def run_graph_tool(network) -> tuple[dict, dict]:
    from graph.chokepoints import chokepoint_metrics

    sinks = [network.sink_of(network.actors.index(a)) for a in DEFECTORS]
    started = time.perf_counter()
    result = chokepoint_metrics(network, sinks, pivots=PIVOTS, seed=0)
    total = time.perf_counter() - started
    m = [result.sinks[s] for s in sinks]
    digest = _digest(network, sinks, [x.spof_nodes for x in m], [x.spof_countries for x in m],
                     [x.spof_inputs for x in m], [x.or_dominators for x in m],
                     [(x.node_cascade, x.country_cascade, x.input_cascade) for x in m],
                     [x.cone for x in m], [x.betweenness.values for x in m], result.core,
                     result.num_components)
    return {"total": total, **result.seconds}, digest


def run_networkx(network, progress) -> tuple[dict, dict]:
    """The same suite with networkx graph algorithms and Python sets."""
    import networkx as nx

    from graph.centrality import dependency_lengths, dependency_share
    from graph.chokepoints import import_routes
    from graph.concentration import capacity_concentration

    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - clock[0]
        clock[0] = now
        progress(name)

    n = network.num_nodes
    src, dst = network.edge_src.tolist(), network.edge_dst.tolist()
    started = clock[0]
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src, dst))
    lap("build_graph")
    components = sum(1 for _ in nx.strongly_connected_components(g))
    lap("components")
    core = nx.core_number(nx.Graph(g))
    core = [core[v] for v in range(n)]
    lap("cores")
    capacity_concentration(network, by="node")
    capacity_concentration(network, by="country")
    lap("concentration")

    # Essential sets in topological order, Python sets (labels: node v, ("c", country), ("i", actor, k)).
    sinks = [network.sink_of(network.actors.index(a)) for a in DEFECTORS]
    actors = sorted({int(network.node_actor[s]) for s in sinks})
    route_labels = [[] for _ in range(network.num_edges)]
    for a in actors:
        imports = import_routes(network, a)
        for e in np.flatnonzero(imports >= 0).tolist():
            route_labels[e].append(("i", a, int(imports[e])))
    needs: dict[int, set] = {}
    for v, k in zip(network.req_node.tolist(), network.req_input.tolist()):
        needs.setdefault(v, set()).add(k)
    into: dict[tuple[int, int], list[int]] = {}
    edge_input = network.edge_input.tolist()
    for e in range(network.num_edges):
        into.setdefault((dst[e], edge_input[e]), []).append(e)
    capacity = network.node_capacity.tolist()
    country = network.node_country.tolist()
    alive: dict[int, bool] = {}
    ess: dict[int, frozenset] = {}
    for v in nx.topological_sort(g):
        if not capacity[v] > 0:
            alive[v] = False
            continue
        labels = {v} if country[v] < 0 else {v, ("c", country[v])}
        ok = True
        for k in needs.get(v, ()):
            live = [e for e in into.get((v, k), ()) if alive[src[e]]]
            if not live:
                ok = False
                break
            common = None
            for e in live:
                candidate = ess[src[e]] | set(route_labels[e]) if route_labels[e] else ess[src[e]]
                common = set(candidate) if common is None else common & candidate
                if not common:
                    break
            labels |= common
        alive[v] = ok
        if ok:
            ess[v] = frozenset(labels)
    lap("essential_sets")

    skeleton = g.copy()
    root = n
    needed = set(needs)
    skeleton.add_edges_from((root, v) for v in range(n) if capacity[v] > 0 and v not in needed)
    skeleton.remove_nodes_from([v for v in range(n) if not capacity[v] > 0])
    idom = nx.immediate_dominators(skeleton, root)
    lap("dominators")

    share = dependency_share(network)
    length = dependency_lengths(share).tolist()
    carried = share > 0
    out = {k: [] for k in ("spof_nodes", "spof_countries", "spof_inputs", "dominators", "cascades", "cones",
                           "betweenness")}
    for i, sink in enumerate(sinks):
        cone_nodes = nx.ancestors(g, sink) | {sink}
        cone = np.zeros(n, dtype=bool)
        cone[list(cone_nodes)] = True
        lap("cones")
        actor = int(network.node_actor[sink])
        counts: dict = {}
        for w in cone_nodes:
            if alive.get(w):
                for label in ess[w]:
                    counts[label] = counts.get(label, 0) + 1
        node_cascade = np.zeros(n, dtype=np.int64)
        country_cascade = np.zeros(len(network.countries), dtype=np.int64)
        input_cascade = np.zeros(len(network.inputs), dtype=np.int64)
        for label, c in counts.items():
            if isinstance(label, int):
                node_cascade[label] = c - 1      # the node itself is not part of its cascade
            elif label[0] == "c":
                country_cascade[label[1]] = c
            elif label[1] == actor:
                input_cascade[label[2]] = c
        sink_ess = ess.get(sink, frozenset()) if alive.get(sink) else frozenset()
        out["spof_nodes"].append([x for x in sink_ess if isinstance(x, int) and x != sink])
        out["spof_countries"].append([x[1] for x in sink_ess if isinstance(x, tuple) and x[0] == "c"])
        out["spof_inputs"].append([x[2] for x in sink_ess if isinstance(x, tuple) and x[0] == "i" and x[1] == actor])
        out["cascades"].append((node_cascade, country_cascade, input_cascade))
        out["cones"].append(cone)
        lap("essential_sets")
        chain, u = [], idom.get(sink)
        while u is not None and u != root:
            chain.append(u)
            u = idom.get(u)
        out["dominators"].append(chain)
        dominated = [0] * n
        for w in cone_nodes:
            u = idom.get(w)
            while u is not None and u != root:
                dominated[u] += 1
                u = idom.get(u)
        lap("dominators")
        h = nx.DiGraph()
        h.add_nodes_from(cone_nodes)
        h.add_weighted_edges_from(((src[e], dst[e], length[e]) for e in np.flatnonzero(carried).tolist()
                                   if cone[src[e]] and cone[dst[e]]), weight="length")
        pivots = _pivots(network, sink, carried, cone, seed=i)
        raw = nx.betweenness_centrality_subset(h, sources=pivots.tolist(), targets=list(cone_nodes),
                                               weight="length", normalized=False)
        considered = carried & cone[network.edge_src] & cone[network.edge_dst]
        population = np.unique(network.edge_src[considered]).size
        k = len(cone_nodes)
        scale = population / pivots.size / ((k - 1) * (k - 2))
        values = np.zeros(n)
        for v, b in raw.items():
            values[v] = b * scale
        out["betweenness"].append(values)
        lap("betweenness")
    seconds["total"] = time.perf_counter() - started
    digest = _digest(network, sinks, out["spof_nodes"], out["spof_countries"], out["spof_inputs"], out["dominators"],
                     out["cascades"], out["cones"], out["betweenness"], core, components)
    return seconds, digest


def worker(side: str, nodes: int, repeats: int, progress_file: str | None, digest_file: str | None = None) -> None:
    """Run one side's suite; print its timings as JSON and write its digest (full vectors)
    to ``digest_file`` (.npz), too large for the JSON line at a million nodes."""
    network, generate = _network(nodes)

    def progress(step):
        if progress_file:
            Path(progress_file).write_text(step)

    runs, digest = [], None
    for _ in range(repeats):
        seconds, digest = run_graph_tool(network) if side == "gt" else run_networkx(network, progress)
        runs.append(seconds)
        if seconds["total"] > REPEAT_IF_UNDER_S:
            break
    steps = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]}
    print(json.dumps({"side": side, "nodes": network.num_nodes, "routes": network.num_edges,
                      "generate_s": generate, "repeats": len(runs), "seconds": steps,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    if digest_file:
        np.savez(digest_file, **digest)


def _spawn(side: str, nodes: int, repeats: int, time_limit: float | None) -> dict:
    progress = Path(f"/tmp/chokepoint-bench-graph-{os.getpid()}-{side}-{nodes}.progress")
    progress.unlink(missing_ok=True)
    digest = progress.with_suffix(".npz")
    digest.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.bench_graph", "--worker", side, "--nodes", str(nodes),
               "--repeats", str(repeats), "--progress", str(progress), "--digest", str(digest)]

    def limit_memory():
        if side == "nx":
            cap = NX_MEMORY_LIMIT_GIB * 2**30
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=time_limit, preexec_fn=limit_memory,
                              cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        reached = progress.read_text() if progress.exists() else "generation"
        progress.unlink(missing_ok=True)
        return {"side": side, "nodes": nodes, "finished": False,
                "note": f"stopped after {time_limit:.0f} s (last step finished: {reached})"}
    progress.unlink(missing_ok=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"side": side, "nodes": nodes, "finished": False, "note": f"failed: {tail[:200]}",
                "wall_s": time.perf_counter() - started}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(digest) as arrays:
        result["digest"] = {key: arrays[key] for key in arrays.files}
    digest.unlink(missing_ok=True)
    result["finished"] = True
    return result


#: Betweenness may differ by summation order: relative to the largest value of the vector.
BETWEENNESS_RTOL = 1e-9


def _agree(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[bool, str]:
    """Compare the two digests in full: every integer array exactly (same keys, shapes and
    values), every betweenness vector element by element within BETWEENNESS_RTOL of its
    largest value. Returns (agree, what differs)."""
    problems = sorted(set(a) ^ set(b))
    for key in sorted(set(a) & set(b)):
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape:
            problems.append(f"{key} (shape {x.shape} vs {y.shape})")
        elif key.endswith(".betweenness"):
            scale = max(float(np.abs(x).max(initial=0.0)), float(np.abs(y).max(initial=0.0)), 1e-300)
            worst = np.abs(x - y) / scale
            if not (worst <= BETWEENNESS_RTOL).all():
                problems.append(f"{key} ({int((worst > BETWEENNESS_RTOL).sum())} nodes differ, "
                                f"worst {float(worst.max()):.2e} of the largest value)")
        elif not np.array_equal(x, y):
            problems.append(f"{key} ({int(np.sum(x != y))} entries differ)")
    return not problems, ", ".join(problems) or "all equal"


def main(sizes=SIZES) -> None:
    from bench.common import write_results

    rows = []
    for nodes in sizes:
        gt_run = _spawn("gt", nodes, 3, None)
        print(f"graph-tool {nodes:>9,}: {json.dumps({k: v for k, v in gt_run.items() if k != 'digest'})[:400]}",
              flush=True)
        nx_run = _spawn("nx", nodes, 3, NX_TIME_LIMIT_S)
        print(f"networkx   {nodes:>9,}: {json.dumps({k: v for k, v in nx_run.items() if k != 'digest'})[:400]}",
              flush=True)
        agree = _agree(gt_run["digest"], nx_run["digest"]) if gt_run["finished"] and nx_run["finished"] else None
        gt_run.pop("digest", None)   # full vectors: compared, not written to the results
        nx_run.pop("digest", None)
        rows.append({"nodes": nodes, "graph_tool": gt_run, "networkx": nx_run,
                     "results_agree": None if agree is None else agree[0],
                     "comparison": None if agree is None else agree[1]})

    def total(run):
        return run["seconds"]["total"] if run.get("finished") else None

    lines = [f"## Graph core: graph-tool vs networkx (synthetic facility networks, ≈ 5 routes per node; "
             f"3 defectors, betweenness with {PIVOTS} pivots each)", "",
             "| nodes | routes | generate (numpy) | graph-tool: build + suite | networkx: build + suite | "
             "speed-up | peak RSS graph-tool | peak RSS networkx | results agree |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        g, x = row["graph_tool"], row["networkx"]
        ratio = f"{total(x) / total(g):.0f}×" if total(g) and total(x) else "–"
        lines.append(
            f"| {row['nodes']:,} | {g.get('routes', 0):,} | {g.get('generate_s', float('nan')):.2f} s | "
            f"{total(g):.2f} s (median of {g.get('repeats')}) | "
            + (f"{total(x):.1f} s (median of {x.get('repeats')})" if total(x) else x.get("note", "–"))
            + f" | {ratio} | {g.get('peak_rss_mib', 0):,.0f} MiB | "
            + (f"{x['peak_rss_mib']:,.0f} MiB" if total(x) else "–")
            + f" | {'yes' if row['results_agree'] else ('no: ' + row['comparison'] if row['results_agree'] is False else '–')} |")
    steps = ["build_graph", "components", "cores", "concentration", "essential_sets", "dominators", "cones",
             "betweenness"]
    lines += ["", "Per step (median seconds; essential sets and dominators include the per-defector cascade "
              "and dominated counts):", "",
              "| step | " + " | ".join(f"graph-tool {r['nodes']:,}" for r in rows)
              + " | " + " | ".join(f"networkx {r['nodes']:,}" for r in rows if r["networkx"].get("finished")) + " |",
              "|---|" + "---|" * (len(rows) + sum(1 for r in rows if r["networkx"].get("finished")))]
    for step in steps:
        cells = [f"{r['graph_tool']['seconds'].get(step, 0):.3f}" if r["graph_tool"].get("finished") else "–"
                 for r in rows]
        cells += [f"{r['networkx']['seconds'].get(step, 0):.3f}" for r in rows if r["networkx"].get("finished")]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", f"networkx runs are stopped after {NX_TIME_LIMIT_S // 60} minutes and capped at "
              f"{NX_MEMORY_LIMIT_GIB} GiB of address space; each (size, library) runs in its own process so peak "
              "RSS is per size. Generation (numpy, shared) is not part of either suite. Machine: see the JSON."]
    path = write_results("graph", {"pivots_per_defector": PIVOTS, "defectors": DEFECTORS, "runs": rows},
                         "\n".join(lines))
    print("\n".join(lines))
    print(f"written: {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=("gt", "nx"))
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--progress")
    parser.add_argument("--digest", help="worker: .npz file for the digest")
    parser.add_argument("--sizes", type=int, nargs="*")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.nodes, args.repeats, args.progress, args.digest)
    else:
        main(tuple(args.sizes) if args.sizes else SIZES)
