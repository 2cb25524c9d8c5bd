"""The short-run horizon (chokepoint.model.horizons): qualified routes and headroom.

Properties on seeded random firm-level networks, checked with an independent LP
(scipy's HiGHS, written here from the arrays), plus hand-built cases whose answers
follow from the rules by arithmetic.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

from chokepoint.model.horizons import ShortRunRules, attribute_demand, short_run_network
from graph.network import PRODUCER, build_supply_network
from optimization.capability import CapabilityModel
from optimization.interdiction import InterdictionModel

INPUTS = ["resist", "tools", "fab", "hbm", "design", "accel", "compute"]
RECIPES = [("fab", "resist", 1.0), ("fab", "tools", 1.0), ("accel", "fab", 0.05), ("accel", "hbm", 0.1),
           ("accel", "design", 1.0), ("compute", "accel", 1.0)]
RULES = {"tools": "installed_base", "resist": "process", "design": "design", "fab": "listed", "hbm": "listed"}


def independent_capability(network, sink: int, closed=None) -> float:
    """Capability of the actor of ``sink`` by scipy's LP, from the arrays and the actor's
    own capacities: max y_sink s.t. y ≤ cap_a, out-flow ≤ y, in-flow of each required
    input ≥ a·y, f ≤ route cap of the actor, closed routes carry nothing."""
    view = network.for_sink(sink)
    n, e, r = network.num_nodes, network.num_edges, network.req_node.size
    closed = np.zeros(e, bool) if closed is None else closed
    # variables: y (n), f (e)
    c = np.zeros(n + e)
    c[sink] = -1.0
    rows, cols, vals, rhs = [], [], [], []
    row = 0
    for v in range(n):  # out-flow ≤ production
        out = np.flatnonzero(network.edge_src == v)
        rows += [row] * (out.size + 1)
        cols += list(n + out) + [v]
        vals += [1.0] * out.size + [-1.0]
        rhs.append(0.0)
        row += 1
    req_of_edge = network.edge_requirement()
    for j in range(r):  # a·y ≤ in-flow
        into = np.flatnonzero(req_of_edge == j)
        rows += [row] * (into.size + 1)
        cols += list(n + into) + [int(network.req_node[j])]
        vals += [-1.0] * into.size + [float(network.req_coefficient[j])]
        rhs.append(0.0)
        row += 1
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(row, n + e))
    capacity = np.where(np.isfinite(view.node_capacity), view.node_capacity, None)
    route = np.where(closed, 0.0, np.where(np.isfinite(view.edge_capacity), view.edge_capacity, np.inf))
    bounds = [(0, cap) for cap in capacity] + [(0, None if np.isinf(b) else b) for b in route]
    result = scipy.optimize.linprog(c, A_ub=a_ub, b_ub=np.array(rhs), bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return -result.fun


def random_network(seed: int):
    """A random firm-level chain network: 2–3 firms per input type in random countries,
    two actors (USA, CHN), random qualification lists and utilisations."""
    rng = np.random.default_rng(seed)
    countries = ["TWN", "KOR", "CHN", "USA", "JPN", "NLD"]
    c_index = {c: i for i, c in enumerate(countries)}
    k_index = {k: i for i, k in enumerate(INPUTS)}
    firms, rows = [], []
    for k in INPUTS:
        if k == "compute":
            rows += [("USA", k, float(rng.uniform(50, 100)), None), ("CHN", k, float(rng.uniform(10, 40)), None)]
            continue
        for j in range(int(rng.integers(2, 4))):
            firm = f"{k}{j}"
            firms.append(firm)
            rows.append((str(rng.choice(countries)), k, float(rng.uniform(5, 100)), firm))
    if not any(r[1] == "design" for r in rows):
        raise AssertionError("generator must make designs")
    f_index = {f: i for i, f in enumerate(firms)}
    designs = [r[3] for r in rows if r[1] == "design"]
    # Accelerator makers are named after a design firm, so the design rule can match them.
    rows = [(c, k, cap, designs[i % len(designs)] if k == "accel" else f) for i, (c, k, cap, f) in enumerate(rows)]
    accel_firms = sorted({r[3] for r in rows if r[1] == "accel"})
    qualified = set()
    for buyer in accel_firms:
        for k in ("fab", "hbm"):
            makers = [r[3] for r in rows if r[1] == k]
            chosen = [m for m in makers if rng.random() < 0.5] or [makers[0]]
            qualified |= {(buyer, k, m) for m in chosen}
    seen, unique_rows = set(), []
    for row in rows:  # two accelerator rows of one firm in one country would share a name
        key = (row[0], row[1], row[3])
        if key not in seen:
            seen.add(key)
            unique_rows.append(row)
    rows = unique_rows
    network = build_supply_network(
        countries=countries, inputs=INPUTS,
        producer_country=[c_index[r[0]] for r in rows], producer_input=[k_index[r[1]] for r in rows],
        producer_capacity=[r[2] for r in rows], producer_firm=[f_index[r[3]] if r[3] else -1 for r in rows],
        firms=firms, recipe_product=[k_index[p] for p, _, _ in RECIPES],
        recipe_input=[k_index[i] for _, i, _ in RECIPES], recipe_coefficient=[a for _, _, a in RECIPES],
        compute_input=k_index["compute"], actors=["USA", "CHN"], actor_members=[[c_index["USA"]], [c_index["CHN"]]])
    rules = ShortRunRules(
        qualification=RULES, qualified=frozenset(qualified),
        utilisation={k: float(rng.uniform(0.7, 1.0)) for k in ("resist", "fab", "hbm", "accel")},
        sourcing_mix={("CHN", "accel"): {accel_firms[0]: 1.0}},
        supplier_flexibility=float(rng.choice([0.0, 0.1])))
    return network, rules


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_short_run_never_exceeds_long_run_and_matches_an_independent_lp(seed):
    network, rules = random_network(seed)
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    long_model, short_model = CapabilityModel(network), CapabilityModel(short)
    for actor in range(len(network.actors)):
        sink = network.sink_of(actor)
        long_value, short_value = long_model.solve(sink).value, short_model.solve(sink).value
        assert short_value <= long_value + 1e-7 * max(1.0, long_value)
        assert short_value == pytest.approx(independent_capability(short, sink), rel=1e-7, abs=1e-7)
        assert long_value == pytest.approx(independent_capability(network, sink), rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_headroom_stays_within_capacity_and_accounts_for_all_of_it(seed):
    network, rules = random_network(seed)
    result = short_run_network(network, rules, INPUTS.index("compute"))
    short = result.network
    assert (short.actor_capacity <= network.node_capacity[None, :] + 1e-9).all()
    assert (short.actor_edge_capacity <= short.edge_capacity[None, :] + 1e-9).all()
    limited = ~np.isnan(result.spare)
    total = result.committed.sum(axis=1) + result.non_ai + result.spare
    assert total[limited] == pytest.approx(network.node_capacity[limited], rel=1e-9)
    # Every short-run route is a long-run route between the same nodes.
    long_edges = set(zip(network.edge_src.tolist(), network.edge_dst.tolist(), network.edge_input.tolist()))
    assert set(zip(short.edge_src.tolist(), short.edge_dst.tolist(), short.edge_input.tolist())) <= long_edges


@pytest.mark.parametrize("seed", SEEDS)
def test_removing_a_supplier_never_raises_capability_in_either_horizon(seed):
    network, rules = random_network(seed)
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    for horizon in (network, short):
        model = CapabilityModel(horizon)
        for actor in range(len(horizon.actors)):
            sink = horizon.sink_of(actor)
            base = model.solve(sink).value
            for node in np.flatnonzero(horizon.node_kind == PRODUCER):
                after = model.solve(sink, (horizon.edge_src != node).astype(float)).value
                assert after <= base + 1e-7 * max(1.0, base)


def _toy(*, nvidia_foundries=("tsmc",)):
    countries = ["TWN", "KOR", "CHN", "USA", "JPN", "NLD"]
    c, k = {x: i for i, x in enumerate(countries)}, {x: i for i, x in enumerate(INPUTS)}
    firms = ["tsmc", "samsung", "smic", "skhynix", "nvidia", "huawei", "jsr", "dupont", "asml"]
    f = {x: i for i, x in enumerate(firms)}
    rows = [("JPN", "resist", 90, "jsr"), ("USA", "resist", 10, "dupont"), ("NLD", "tools", 100, "asml"),
            ("TWN", "fab", 80, "tsmc"), ("KOR", "fab", 12, "samsung"), ("CHN", "fab", 8, "smic"),
            ("KOR", "hbm", 10, "skhynix"), ("USA", "design", 100, "nvidia"), ("CHN", "design", 20, "huawei"),
            ("TWN", "accel", 90, "nvidia"), ("CHN", "accel", 10, "huawei"),
            ("USA", "compute", 80, None), ("CHN", "compute", 20, None)]
    network = build_supply_network(
        countries=countries, inputs=INPUTS, producer_country=[c[r[0]] for r in rows],
        producer_input=[k[r[1]] for r in rows], producer_capacity=[r[2] for r in rows],
        producer_firm=[f[r[3]] if r[3] else -1 for r in rows], firms=firms,
        recipe_product=[k[p] for p, _, _ in RECIPES], recipe_input=[k[i] for _, i, _ in RECIPES],
        recipe_coefficient=[a for _, _, a in RECIPES], compute_input=k["compute"],
        actors=["USA", "CHN"], actor_members=[[c["USA"]], [c["CHN"]]])
    rules = ShortRunRules(
        qualification=RULES, utilisation={"resist": 0.9, "fab": 0.95, "hbm": 1.0, "accel": 1.0},
        qualified=frozenset({*(("nvidia", "fab", x) for x in nvidia_foundries), ("huawei", "fab", "smic"),
                             ("nvidia", "hbm", "skhynix"), ("huawei", "hbm", "skhynix")}),
        sourcing_mix={("CHN", "accel"): {"nvidia": 0.5, "huawei": 0.5}, ("USA", "accel"): {"nvidia": 1.0}})
    return network, rules


def _loss(network, actor: int, node_name: str) -> float:
    model = CapabilityModel(network)
    sink = network.sink_of(actor)
    base = model.solve(sink).value
    node = network.node_names.index(node_name)
    return (base - model.solve(sink, (network.edge_src != node).astype(float)).value) / base


def test_a_design_qualified_at_one_foundry_loses_all_its_short_run_output_with_that_foundry():
    network, rules = _toy()
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    # USA's compute is all Nvidia, made only at TSMC within the horizon.
    assert _loss(short, 0, "TWN:fab:tsmc") == pytest.approx(1.0)
    # In the long run any foundry's spare wafers will do (AI needs 5 % of one wafer per unit).
    assert _loss(network, 0, "TWN:fab:tsmc") == pytest.approx(0.0, abs=1e-9)
    # A second qualified foundry takes over what its headroom allows.
    network2, rules2 = _toy(nvidia_foundries=("tsmc", "samsung"))
    short2 = short_run_network(network2, rules2, INPUTS.index("compute")).network
    assert _loss(short2, 0, "TWN:fab:tsmc") < 1.0


def test_hand_computed_headroom_and_losses():
    network, rules = _toy()
    result = short_run_network(network, rules, INPUTS.index("compute"))
    names = network.node_names
    tsmc = names.index("TWN:fab:tsmc")
    # Demand at TSMC: USA 80 accelerators × 0.05 wafer = 4; CHN 10 Nvidia (half of 20) × 0.05 = 0.5.
    assert result.demand[tsmc] == pytest.approx([4.0, 0.5, 0.0])
    # Headroom = own commitment + spare (1 − 0.95) × 80 = 4.
    assert result.network.actor_capacity[:, tsmc] == pytest.approx([8.0, 4.5])
    # Tools drop out within the horizon (installed base); resists keep their supplier mix.
    assert _loss(result.network, 0, "NLD:tools:asml") == 0.0
    assert _loss(network, 0, "NLD:tools:asml") == pytest.approx(1.0)
    # Without JSR (90 % of resist) a fab keeps 10 % of its output for each actor: USA's
    # TSMC share 8 → 0.8 wafers → 16 of 80 accelerators.
    assert _loss(result.network, 0, "JPN:resist:jsr") == pytest.approx(0.8)
    # CHN: Nvidia half capped by TSMC's 0.45 wafers (9 units); Huawei's 10 by SMIC's
    # 0.09 wafers (1.8 units): (20 − 10.8) / 20.
    assert _loss(result.network, 1, "JPN:resist:jsr") == pytest.approx(0.46)


def test_attributed_demand_follows_the_sourcing_mix():
    network, rules = _toy()
    demand = attribute_demand(network, rules, INPUTS.index("compute"))
    names = network.node_names
    assert demand[names.index("TWN:accel:nvidia"), 1] == pytest.approx(10.0)
    assert demand[names.index("CHN:accel:huawei"), 1] == pytest.approx(10.0)
    assert demand[names.index("CHN:accel:huawei"), 0] == 0.0


@pytest.mark.parametrize("enumeration_limit", [0, 1_000], ids=["milp", "exhaustion"])
def test_interdiction_with_headroom_equals_brute_force(enumeration_limit):
    network, rules = _toy()
    short = short_run_network(network, rules, INPUTS.index("compute")).network
    names = short.node_names
    targets = ["TWN:fab:tsmc", "JPN:resist:jsr", "KOR:hbm:skhynix", "NLD:tools:asml", "CHN:fab:smic",
               "USA:resist:dupont"]
    closes = np.array([short.edge_src == names.index(t) for t in targets])
    cost = np.array([1.0, 1.0, 2.0, 0.5, 0.7, 0.3])
    model = InterdictionModel(short, [short.sink_of(0), short.sink_of(1)], closes, cost, time_limit=30,
                              enumeration_limit=enumeration_limit)
    for budget in (0.5, 1.0, 1.5, 2.5):
        result = model.solve(budget)
        best = min(
            np.mean([independent_capability(short, s, closes[np.array(m, bool)].any(axis=0)) / b
                     for s, b in zip(model.sinks, model.baseline)])
            for m in itertools.product([0, 1], repeat=len(targets)) if cost[np.array(m, bool)].sum() <= budget + 1e-9)
        assert result.optimal
        assert result.objective == pytest.approx(best, abs=1e-7)


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="unknown qualification"):
        ShortRunRules(qualification={"fab": "fungible"})
    with pytest.raises(ValueError, match="utilisation"):
        ShortRunRules(utilisation={"fab": 1.5})
    with pytest.raises(ValueError, match="flexibility"):
        ShortRunRules(supplier_flexibility=-0.1)
    with pytest.raises(ValueError, match="lead times"):
        ShortRunRules(lead_time={"fab": -1.0})
    with pytest.raises(ValueError, match="months"):
        ShortRunRules(months=0)


# --- qualification lead times: the horizon's length decides what can switch -----------------------

def test_a_foundry_qualifiable_within_the_horizon_serves_the_rest_of_it_by_hand():
    """ℓ_fab = 6 months in a 12-month horizon: without TSMC, Nvidia's line may draw wafers from
    Samsung and SMIC for the last half of the horizon (route cap 0.5 × 0.05 × 80 = 2 wafers), and
    their spare wafers bind: (1 − 0.95) × 12 + (1 − 0.95) × 8 = 1 wafer → 20 of USA's 80 units,
    a loss of 0.75 (1.0 with no lead time, or one of a whole horizon)."""
    network, rules = _toy()
    compute = INPUTS.index("compute")
    for lead_time, months, loss in ((6.0, 12, 0.75), (12.0, 12, 1.0), (24.0, 12, 1.0)):
        timed = dataclasses.replace(rules, lead_time={"fab": lead_time}, months=months)
        result = short_run_network(network, timed, compute)
        assert _loss(result.network, 0, "TWN:fab:tsmc") == pytest.approx(loss), (lead_time, months)
    result = short_run_network(network, dataclasses.replace(rules, lead_time={"fab": 6.0}), compute)
    names = np.array(network.node_names)
    late = result.switch_share > 0
    assert set(zip(names[result.network.edge_src[late]], names[result.network.edge_dst[late]])) == {
        ("KOR:fab:samsung", "TWN:accel:nvidia"), ("CHN:fab:smic", "TWN:accel:nvidia"),
        ("TWN:fab:tsmc", "CHN:accel:huawei"), ("KOR:fab:samsung", "CHN:accel:huawei")}
    assert result.switch_share[late] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_longer_horizons_never_lower_capability_and_lead_times_at_least_the_horizon_change_nothing(seed):
    """Capability is non-decreasing in the horizon's length T for fixed lead times, never above
    the long run, equal to the independent LP; lead times ≥ T give the network without them."""
    network, rules = random_network(seed)
    compute = INPUTS.index("compute")
    lead = {"fab": 9.0, "hbm": 15.0, "design": 30.0, "resist": 6.0}
    long_model = CapabilityModel(network)
    previous = None
    for months in (6, 12, 24, 48):
        short = short_run_network(network, dataclasses.replace(rules, lead_time=lead, months=months), compute).network
        model = CapabilityModel(short)
        values = np.array([model.solve(short.sink_of(a)).value for a in range(len(short.actors))])
        for a in range(len(short.actors)):
            assert values[a] <= long_model.solve(network.sink_of(a)).value * (1 + 1e-7) + 1e-7
            assert values[a] == pytest.approx(independent_capability(short, short.sink_of(a)), rel=1e-7, abs=1e-7)
        if previous is not None:
            assert (values >= previous * (1 - 1e-7) - 1e-7).all(), months
        previous = values
    plain = short_run_network(network, rules, compute)
    late = short_run_network(network, dataclasses.replace(rules, lead_time={k: 12.0 for k in lead}), compute)
    assert np.array_equal(plain.long_run_edge, late.long_run_edge)
    np.testing.assert_array_equal(plain.network.actor_edge_capacity, late.network.actor_edge_capacity)


def test_route_lead_times_open_routes_at_zero_capacity_without_changing_capability():
    """A sweep opens the routes the low end of a lead time's range would open: with the figure
    itself at or above the horizon they carry nothing, so every capability is unchanged."""
    network, rules = _toy()
    compute = INPUTS.index("compute")
    base = short_run_network(network, dataclasses.replace(rules, lead_time={"fab": 18.0}), compute)
    ranged = short_run_network(network, dataclasses.replace(rules, lead_time={"fab": 18.0},
                                                            route_lead_time={"fab": 6.0}), compute)
    assert ranged.network.num_edges > base.network.num_edges
    extra = ~np.isin(ranged.long_run_edge, base.long_run_edge)
    assert (ranged.network.actor_edge_capacity[:, extra] == 0).all()
    for net in (base.network, ranged.network):
        assert _loss(net, 0, "TWN:fab:tsmc") == pytest.approx(1.0)
    assert CapabilityModel(base.network).solve(base.network.sink_of(1)).value == pytest.approx(
        CapabilityModel(ranged.network).solve(ranged.network.sink_of(1)).value)
