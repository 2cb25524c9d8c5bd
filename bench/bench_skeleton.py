"""Country-level pipeline core: network build, AND/OR propagation, capability LP.

graph-tool/numpy propagation vs a networkx topological-order baseline; HiGHS vs SCIP
for the capability LP; all on the embedded reference data and default scenario.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from bench.common import median_seconds, peak_rss_mib, write_results
from chokepoint.model.build import network_from_tables
from chokepoint.settings import PROJECT_ROOT
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from graph.failure import Propagation, single_points_of_failure
from optimization.capability import CapabilityModel


def networkx_producible(g: nx.DiGraph, needs: dict, removed: set) -> dict:
    ok = {}
    for v in nx.topological_sort(g):
        ok[v] = (v not in removed and g.nodes[v]["capacity"] > 0
                 and all(any(ok[u] for u in g.predecessors(v) if g.edges[u, v]["input"] == k) for k in needs.get(v, [])))
    return ok


def main() -> None:
    reference = load_reference(PROJECT_ROOT / "data" / "reference")
    scenario = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "default.toml")
    build = lambda: network_from_tables(reference.countries, reference.input_types, reference.recipes,  # noqa: E731
                                        reference.capacities, scenario)
    t_build, network = median_seconds(build)
    sink = network.sink_of(network.actors.index("CHN"))
    producers = np.flatnonzero(network.node_kind == 0)

    t_spof_gt, spof = median_seconds(lambda: single_points_of_failure(network, sink, producers, Propagation.of(network)))
    g = nx.DiGraph()
    for v in range(network.num_nodes):
        g.add_node(v, capacity=network.node_capacity[v])
    for s, d, k in zip(network.edge_src, network.edge_dst, network.edge_input):
        g.add_edge(int(s), int(d), input=int(k))
    needs = {}
    for v, k in zip(network.req_node, network.req_input):
        needs.setdefault(int(v), []).append(int(k))
    t_spof_nx, spof_nx = median_seconds(
        lambda: [v for v in producers if not networkx_producible(g, needs, {int(v)})[sink]], repeats=3)
    assert spof.tolist() == spof_nx

    lp = {}
    for solver in ("HIGHS", "SCIP"):
        t_model, model = median_seconds(lambda: CapabilityModel(network, solver=solver), repeats=3)
        model.solve(sink)
        t_solve, result = median_seconds(lambda: model.solve(sink))
        lp[solver] = {"build_s": t_model, "solve_s": t_solve, "value": result.value, "duality_gap": result.duality_gap}
    assert abs(lp["HIGHS"]["value"] - lp["SCIP"]["value"]) <= 1e-6 * lp["HIGHS"]["value"]

    payload = {
        "instance": {"nodes": network.num_nodes, "routes": network.num_edges, "defector": "CHN"},
        "network_build_s": t_build,
        "spof_all_producers": {"graph_tool_numpy_s": t_spof_gt, "networkx_s": t_spof_nx,
                               "speedup": t_spof_nx / t_spof_gt, "single_points_of_failure": len(spof)},
        "capability_lp": lp,
        "peak_rss_mib": peak_rss_mib(),
    }
    table = f"""## Country-level core (reference data, default scenario; {network.num_nodes} nodes, {network.num_edges} routes)

| step | time (median) |
|---|---|
| build AND/OR network (numpy) | {1000 * t_build:.1f} ms |
| single points of failure, all {producers.size} producers, numpy levels | {1000 * t_spof_gt:.1f} ms |
| same, networkx topological-order baseline | {1000 * t_spof_nx:.1f} ms ({t_spof_nx / t_spof_gt:.0f}× slower) |
| capability LP re-solve, HiGHS | {1000 * lp['HIGHS']['solve_s']:.1f} ms |
| capability LP re-solve, SCIP (+ explicit dual LP) | {1000 * lp['SCIP']['solve_s']:.1f} ms |

Peak RSS {peak_rss_mib():.0f} MiB.
"""
    path = write_results("skeleton", payload, table)
    print(table)
    print(f"written: {path}")


if __name__ == "__main__":
    main()
