"""The sampler and the per-sample evaluation: shares renormalised per input and never above
100 %, declared bounds respected, streams fixed by (seed, stream, chunk), the point draw
reproducing the deterministic analysis, and the tables' arithmetic."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.placements import joint_model, leverage_of
from chokepoint.analyses.uncertainty import (PARAMETERS, STREAMS, chunk_bounds, chunk_rng, draw, evaluate_network,
                                             inputs_table, rank_intervals_table, robustness_table, run_chunk,
                                             sample_inputs, sample_network, sample_rules, sweep_problem)
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import horizon_networks, network_from_tables
from chokepoint.model.horizons import HORIZONS
from optimization.errors import ModelError
from tests.support.oracles import PlainLP, plain_capability
from tests.support.sweep_cases import staged, staged_horizons, write_scenario

PLACEMENTS = {"optimal": ("usa-cloud-rus", "deu-cloud-rus"), "deter_all": ("usa-cloud-rus",)}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    scenario = load_scenario(write_scenario(tmp_path_factory.mktemp("scenarios")))
    tables = staged()
    return tables, scenario, sweep_problem(tables, scenario, PLACEMENTS, rank_solves=1)


def test_sampled_shares_are_renormalised_per_input_and_never_above_one(case):
    tables, _, problem = case
    capacities = tables["capacities"]
    world = (capacities["capacity"] / capacities["share"]).to_numpy()
    inputs = capacities["input_id"].to_numpy()
    staged_total = capacities.group_by("input_id").agg(pl.col("share").sum()).to_dict(as_series=False)
    staged_total = dict(zip(staged_total["input_id"], staged_total["share"]))
    values = draw(problem, 50, chunk_rng(7, 0, 0))
    moved = 0.0
    for row in values:
        kwargs, _ = sample_inputs(problem, row)
        share = kwargs["producer_capacity"] / world
        assert share.max() <= 1.0 + 1e-12
        for k in set(inputs):
            assert share[inputs == k].sum() == pytest.approx(staged_total[k], rel=1e-9, abs=1e-12)
        moved = max(moved, float(np.abs(share - capacities["share"].to_numpy()).max()))
    assert moved > 1e-3, "the shares were sampled, not left at the point estimate"


def test_draws_respect_declared_bounds_and_fixed_values(case):
    _, scenario, problem = case
    values = draw(problem, 400, chunk_rng(3, 0, 1))
    slots = dict(zip(PARAMETERS, problem.parameter_slots[0]))
    p = values[:, slots["detection_probability"]]
    assert p.min() >= 0.4 and p.max() <= 0.95 and p.std() > 0.05
    g = values[:, slots["first_mover_gain"]]
    assert g.min() >= 10.0 and g.max() <= 60.0
    rus = scenario.actor("RUS")
    assert np.all(values[:, slots["value_of_capability"]] == rus.value_of_capability)  # not declared: fixed
    cloud = values[:, problem.cloud_slot]
    assert cloud.min() >= 0.05 and cloud.max() <= 0.2
    factors = values[:, problem.capacity_slots]
    assert factors.min() >= 0.5 and factors.max() <= 2.0   # widest default (imputed shares)


def test_streams_are_fixed_by_seed_stream_and_chunk(case):
    _, _, problem = case
    first = draw(problem, 5, chunk_rng(11, STREAMS["sweep"], 2))
    assert np.array_equal(first, draw(problem, 5, chunk_rng(11, STREAMS["sweep"], 2)))
    for other in (chunk_rng(12, STREAMS["sweep"], 2), chunk_rng(11, STREAMS["train"], 2),
                  chunk_rng(11, STREAMS["sweep"], 3)):
        assert not np.allclose(first, draw(problem, 5, other))
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]


def test_point_draw_reproduces_the_deterministic_leverage(case):
    tables, scenario, problem = case
    kwargs, parameters = sample_inputs(problem, problem.point)
    network = sample_network(problem, kwargs)
    out = evaluate_network(problem, network, parameters)
    reference = network_from_tables(tables["countries"], tables["input_types"], tables["recipes"],
                                    tables["capacities"], scenario)
    model = joint_model(reference, scenario, solver="HIGHS", time_limit=30)
    for i, name in enumerate(problem.placements):
        mask = np.isin([c.id for c in scenario.controls], PLACEMENTS[name])
        assert out["leverage"][i] == pytest.approx(leverage_of(model, mask), abs=1e-7)
    rus = scenario.actor("RUS")
    lev = out["leverage"][0, 0]
    expected = rus.detection_probability * rus.value_of_capability * lev + rus.benefit_of_compliance - rus.first_mover_gain
    assert out["margin"][0, 0] == pytest.approx(expected)
    assert bool(out["deterred"][0, 0]) == (expected >= 0)
    assert out["rank"].min() == 1
    # Single points of failure: structural, loss exactly 1, ranked first; an independent LP agrees.
    spof = np.flatnonzero(problem.spof[0])
    assert spof.size > 0
    assert np.all(out["loss"][spof] == 1.0) and np.all(out["rank"][spof] == 1)
    sink = network.sink_of(network.actors.index("RUS"))
    closed = problem.edge_entity == spof[0]
    assert plain_capability(network, sink, closed) == pytest.approx(0.0, abs=1e-6)
    assert plain_capability(network, sink, np.zeros(network.num_edges, bool)) > 0


def test_a_route_lost_in_a_sample_is_refused(case):
    _, _, problem = case
    kwargs, _ = sample_inputs(problem, problem.point)
    kwargs["transit_fraction"] = [0.0] * len(kwargs["transit_fraction"])   # hubs vanish: fewer routes
    with pytest.raises(ModelError, match="routes differ"):
        sample_network(problem, kwargs)


def test_chunks_are_pure_and_tables_follow_their_definitions(case):
    _, _, problem = case
    a = run_chunk(problem, 5, 0, 0, 0, 6)
    b = run_chunk(problem, 5, 0, 0, 0, 6)
    for key in ("leverage", "margin", "deterred", "rank", "loss"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    table = robustness_table(problem, a, seed=5)
    assert table.height == len(problem.placements) * len(problem.defectors)
    for row in table.iter_rows(named=True):
        i = list(problem.placements).index(row["placement"])
        deterred = a.deterred[:, i, 0]
        assert row["p_deterred"] == deterred.mean()
        assert row["p_deterred_se"] == pytest.approx(math.sqrt(deterred.mean() * (1 - deterred.mean()) / 6))
        assert row["leverage_p05"] <= row["leverage_p50"] <= row["leverage_p95"]
        assert row["margin_p05"] <= row["margin_p50"] <= row["margin_p95"]
    ranks = rank_intervals_table(problem, a, seed=5)
    assert ranks.height == len(problem.entity_names)
    assert (ranks["rank_p05"] <= ranks["rank_p50"]).all() and (ranks["rank_p50"] <= ranks["rank_p95"]).all()
    assert ranks["rank_p50"].min() >= 1


def test_inputs_table_records_every_drawn_quantity(case):
    _, _, problem = case
    table = inputs_table(problem)
    assert table.height == len(problem.quantities)
    declared = table.filter(pl.col("quantity") == "RUS.detection_probability").row(0, named=True)
    assert (declared["distribution"], declared["low"], declared["mode"], declared["high"]) == ("triangular", 0.4,
                                                                                               0.8, 0.95)
    assert table.filter(pl.col("quantity") == "RUS.value_of_capability")["distribution"].to_list() == ["fixed"]
    shares = table.filter(pl.col("kind") == "share_factor")
    assert shares.height == problem.capacity_slots.size and set(shares["point"]) == {1.0}
    assert set(shares["distribution"]) <= {"uniform", "lognormal"}


def test_a_baseline_stays_in_force_in_every_sample():
    """status_quo: the controls in force close the same routes in every draw and every figure is
    marginal to them — the point draw's leverage equals the independent LP's
    (C(x0) − C(x0 ∪ x)) / C(x0) on the whole network; a sampled draw keeps those routes shut."""
    from chokepoint.inputs.controls_in_force import read_controls_in_force
    from chokepoint.model.baseline import baseline_placement
    from chokepoint.model.build import with_tool_origin
    from tests.conftest import DATA

    scenario = load_scenario(DATA / "scenarios" / "status_quo.toml")
    tables = staged()
    in_force = read_controls_in_force(DATA / "reference" / "controls_in_force.csv")
    placements = {"optimal": ("usa-cloud-chn", "nld-duv-chn")}
    problem = sweep_problem(tables, scenario, placements, rank_solves=0, controls_in_force=in_force)
    plain = sweep_problem(tables, scenario, placements, rank_solves=0)
    assert (problem.baseline, plain.baseline, plain.kept) == ("status_quo", "none", None)
    network = with_tool_origin(network_from_tables(tables["countries"], tables["input_types"], tables["recipes"],
                                                   tables["capacities"], scenario), tables["input_types"])
    baseline = baseline_placement(network, scenario, in_force)
    assert baseline.closed.any() and (problem.kept == ~baseline.closed).all()
    assert problem.closes.shape[1] == problem.num_routes == int((~baseline.closed).sum())
    kwargs, parameters = sample_inputs(problem, problem.point)
    sampled = sample_network(problem, kwargs)
    assert sampled.num_edges == problem.num_routes
    out = evaluate_network(problem, sampled, parameters)
    placed = np.isin([c.id for c in scenario.controls], placements["optimal"])
    closed = baseline.closed | plain.closes[placed].any(axis=0)
    without = evaluate_network(plain, sample_network(plain, sample_inputs(plain, plain.point)[0]), parameters)
    for d, defector in enumerate(problem.defectors):
        sink = network.sink_of(network.actors.index(defector))
        before = plain_capability(network, sink, baseline.closed)
        expected = 0.0 if before <= 0 else max(0.0, 1 - plain_capability(network, sink, closed) / before)
        assert out["leverage"][0, d] == pytest.approx(expected, abs=1e-6), defector
    chn = problem.defectors.index("CHN")
    assert abs(without["leverage"][0, chn] - out["leverage"][0, chn]) > 1e-6, "the baseline bites on CHN"
    table = robustness_table(problem, run_chunk(problem, 2, 0, 0, 0, 2), seed=2)
    assert set(table["baseline"]) == {"status_quo"}


def test_point_placements_without_published_rows_are_the_long_run_marginal_optimum():
    """With no published deterrence rows the sweep computes its point-estimate placement on
    the long-run network it samples, marginal to the baseline: the joint interdiction MILP's
    optimum there."""
    from chokepoint.analyses.placements import joint_model
    from chokepoint.analyses.sweep import point_placements
    from chokepoint.inputs.controls_in_force import read_controls_in_force
    from chokepoint.model.baseline import baseline_placement
    from tests.conftest import DATA

    scenario = load_scenario(DATA / "scenarios" / "status_quo.toml")
    tables = staged()
    in_force = read_controls_in_force(DATA / "reference" / "controls_in_force.csv")
    found = point_placements(None, tables, scenario, "status_quo", "long_run", solver="HIGHS", time_limit=60,
                             controls_in_force=in_force)
    network = horizon_networks(tables, scenario).long_run
    model = joint_model(network, scenario, solver="HIGHS", time_limit=60,
                        baseline_closed=baseline_placement(network, scenario, in_force).closed)
    best = model.solve(scenario.settings.budget)
    assert best.optimal
    assert set(found["optimal"]) == {scenario.controls[i].id for i in best.chosen}


# --- the short run: the same draws on the short-run view of each sampled network -----------------

SHORT_PLACEMENTS = {"optimal": ("usa-cloud-rus", "deu-cloud-rus")}


@pytest.fixture(scope="module")
def horizon_case(tmp_path_factory):
    scenario = load_scenario(write_scenario(tmp_path_factory.mktemp("horizon-scenarios")))
    tables = staged_horizons()
    return tables, scenario, {h: sweep_problem(tables, scenario, SHORT_PLACEMENTS, horizon=h, rank_solves=1)
                              for h in HORIZONS}


def test_short_run_point_draw_is_the_pipelines_short_run_and_its_leverage_an_independent_lps(horizon_case):
    """The point draw of the short-run problem rebuilds the pipeline's short-run network (same
    qualified routes, same per-actor headroom), and its capability and leverage equal an
    independent LP on that network with the actor's own capacities."""
    tables, scenario, problems = horizon_case
    problem = problems["short_run"]
    networks = horizon_networks(tables, scenario)
    short = networks.short_run.network
    kwargs, parameters = sample_inputs(problem, problem.point)
    sampled = sample_network(problem, kwargs, sample_rules(problem, problem.point))
    assert np.array_equal(sampled.edge_src, short.edge_src) and np.array_equal(sampled.edge_dst, short.edge_dst)
    assert sampled.num_edges < networks.long_run.num_edges, "the short run keeps qualified routes only"
    np.testing.assert_allclose(sampled.actor_capacity, short.actor_capacity, rtol=1e-12)
    out = evaluate_network(problem, sampled, parameters)
    for d, defector in enumerate(problem.defectors):
        actor = short.actors.index(defector)
        sink = short.sink_of(actor)
        lp = PlainLP(short.for_sink(sink))
        before = lp.value(sink, np.zeros(short.num_edges, dtype=bool))
        after = lp.value(sink, problem.placements["optimal"])
        assert before > 0
        assert out["capability"][actor] == pytest.approx(before, rel=1e-6)
        assert out["leverage"][0, d] == pytest.approx(max(0.0, 1 - after / before), abs=1e-6)


def test_both_horizons_draw_the_same_samples_and_the_short_run_never_exceeds_the_long_run(horizon_case):
    """Common random numbers: the two problems draw the same quantities, so with one seed
    sample i is the same world in both horizons — and in each, the short-run capability of
    every defector is at most its long-run capability (design.md §9's invariant), strictly
    below it somewhere (headroom binds)."""
    _, _, problems = horizon_case
    short, long = problems["short_run"], problems["long_run"]
    assert short.quantities == long.quantities and np.array_equal(short.point, long.point)
    assert np.array_equal(draw(short, 3, chunk_rng(4, 0, 0)), draw(long, 3, chunk_rng(4, 0, 0)))
    a, b = run_chunk(short, 4, 0, 0, 0, 3), run_chunk(long, 4, 0, 0, 0, 3)
    defectors = [short.kwargs["actors"].index(d) for d in short.defectors]
    assert (a.capability[:, defectors] <= b.capability[:, defectors] * (1 + 1e-7) + 1e-6).all()
    assert (a.capability[:, defectors] < b.capability[:, defectors] * (1 - 1e-3)).any()


def test_sampled_utilisations_and_lead_times_stay_in_their_rows_ranges_and_move_the_headroom(horizon_case):
    """Short-run utilisations and qualification lead times are drawn within the low–high range
    their reference rows give (triangular, mode at the figure); the rules of a draw carry them."""
    tables, _, problems = horizon_case
    problem = problems["short_run"]
    rows = {r["input_id"]: r for r in tables["short_run_rules"].iter_rows(named=True)}
    assert problem.utilisation_inputs and problem.lead_time_inputs, "the reference rules rate both"
    values = draw(problem, 40, chunk_rng(1, 0, 0))
    assert values[:, problem.utilisation_slots].std(axis=0).max() > 0.01
    assert values[:, problem.lead_time_slots].std(axis=0).max() > 0.5
    for row in values[:5]:
        rules = sample_rules(problem, row)
        for k, value in zip(problem.utilisation_inputs, row[problem.utilisation_slots]):
            assert rules.utilisation[k] == value
            assert rows[k]["utilisation_low"] <= value <= rows[k]["utilisation_high"]
        for k, value in zip(problem.lead_time_inputs, row[problem.lead_time_slots]):
            assert rules.lead_time[k] == value and rows[k]["lead_time_low"] <= value <= rows[k]["lead_time_high"]
    kwargs, _ = sample_inputs(problem, problem.point)
    moved = sample_network(problem, kwargs, sample_rules(problem, values[0]))
    point = sample_network(problem, kwargs)
    assert not np.allclose(moved.actor_capacity, point.actor_capacity), "headroom follows the sampled utilisation"
    assert sample_rules(problems["long_run"], values[0]) is None
    kinds = set(inputs_table(problem)["kind"])
    assert {"utilisation", "lead_time_months"} <= kinds


def test_each_horizons_routes_and_control_masks(horizon_case):
    """A control closes, in the short run, exactly the short-run routes it closes in the long run;
    an unknown horizon is refused."""
    tables, scenario, problems = horizon_case
    kept = horizon_networks(tables, scenario).short_run.long_run_edge
    assert problems["short_run"].num_routes == kept.size
    assert np.array_equal(problems["short_run"].closes, problems["long_run"].closes[:, kept])
    with pytest.raises(KeyError, match="unknown horizon"):
        sweep_problem(tables, scenario, SHORT_PLACEMENTS, horizon="short_term")


def test_sweep_tables_cover_both_horizons_with_each_horizons_placements(horizon_case):
    """``sweep_tables`` sweeps each horizon with that horizon's placements (robust ones too),
    records the drawn quantities once, and ``point_placements`` reads each horizon's published rows."""
    from chokepoint.analyses.sweep import point_placements, sweep_tables

    tables, scenario, _ = horizon_case
    published = pl.DataFrame({"scenario": ["s", "s", "s"], "horizon": ["short_run", "long_run", "long_run"],
                              "placement_kind": ["optimal", "optimal", "deter_all"],
                              "controls": [["deu-cloud-rus"], ["usa-cloud-rus", "deu-cloud-rus"], ["usa-cloud-rus"]]})
    placements = {h: point_placements(published, tables, scenario, "s", h, solver="HIGHS", time_limit=30)
                  for h in HORIZONS}
    assert placements == {"short_run": {"optimal": ("deu-cloud-rus",)},
                          "long_run": {"optimal": ("usa-cloud-rus", "deu-cloud-rus"), "deter_all": ("usa-cloud-rus",)}}
    swept = sweep_tables(tables, scenario, "s", placements, samples=2, seed=3, client=None, solver="HIGHS",
                         time_limit=30, train=2, rank_solves=1)
    rows = {(r["horizon"], r["placement"]): r["controls"] for r in swept.robustness.iter_rows(named=True)}
    assert rows == {("short_run", "optimal"): ["deu-cloud-rus"], ("long_run", "optimal"): ["usa-cloud-rus", "deu-cloud-rus"],
                    ("long_run", "deter_all"): ["usa-cloud-rus"]}
    assert set(swept.rank_intervals["horizon"]) == set(swept.robust_placements["horizon"]) == set(HORIZONS)
    assert swept.uncertain_inputs["quantity"].is_unique().all()


def test_probability_lines_put_the_short_run_first():
    from chokepoint.analyses.sweep import probability_lines

    rows = pl.DataFrame({"scenario": ["s"] * 3, "horizon": ["long_run", "short_run", "long_run"],
                         "defector": ["CHN", "CHN", "ARE"], "placement": ["optimal"] * 3, "samples": [4] * 3,
                         "p_deterred": [0.25, 0.0, 1.0], "p_deterred_se": [0.2165, 0.0, 0.0]})
    assert probability_lines(rows) == [
        "CHN (short_run): deterred with probability 0.00 ± 0.00 under the optimal placement (n = 4)",
        "ARE (long_run): deterred with probability 1.00 ± 0.00 under the optimal placement (n = 4)",
        "CHN (long_run): deterred with probability 0.25 ± 0.22 under the optimal placement (n = 4)"]
