"""Network building from staged tables: firm actors (labs, clouds) owning their clusters'
compute, checked against an independent LP and brute-force placement enumeration."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.placements import catalogue_arrays, joint_model
from chokepoint.errors import InputError
from chokepoint.inputs.reference import COMPUTE_INPUT
from chokepoint.inputs.scenario import load_scenario
from chokepoint.model.build import (horizon_network, horizon_networks, horizon_rules, producer_table,
                                     with_firm_actor_compute)
from chokepoint.model.horizons import HORIZONS
from graph.network import HOME_COMPUTE
from optimization.capability import CapabilityModel
from tests.support.oracles import PlainLP, placements_within
from tests.support.sweep_cases import SCENARIO_TEXT, staged_horizons, write_scenario

#: A firm actor ``lab`` (a candidate defector) owning the clusters of firm ``lab`` in the USA
#: and in Germany, and controls aimed at it.
FIRM_TEXT = SCENARIO_TEXT.replace("[uncertainty.actors.RUS]", '''[actors.lab]
name = "A frontier lab"
firms = ["lab"]
signatory = false
candidate_defector = true
detection_probability = 0.9
value_of_capability = 50.0
first_mover_gain = 10.0
benefit_of_compliance = 2.0
[[controls]]
id = "usa-chips-lab"
kind = "export_control"
jurisdiction = "USA"
input = "ai_accelerators"
destination = "lab"
cost = 0.4
[[controls]]
id = "usa-cloud-lab"
kind = "compute_exclusion"
jurisdiction = "USA"
destination = "lab"
cost = 0.4
[[controls]]
id = "deu-cloud-lab"
kind = "compute_exclusion"
jurisdiction = "DEU"
destination = "lab"
cost = 0.3
[uncertainty.actors.RUS]''')
OWNERS = pl.DataFrame({"iso3": ["USA", "DEU", "USA"], "firm_id": ["lab", "lab", "cloud"],
                       "share_of_country": [0.3, 0.5, 0.2]})


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    scenario = load_scenario(write_scenario(tmp_path_factory.mktemp("firm-actor"), "firm-actor", FIRM_TEXT))
    tables = {**staged_horizons(), "compute_owners": OWNERS}
    return tables, scenario, horizon_networks(tables, scenario)


def _compute_by_country(frame: pl.DataFrame) -> dict[str, float]:
    return dict(frame.filter(pl.col("input_id") == COMPUTE_INPUT).group_by("iso3").agg(pl.col("capacity").sum())
                .iter_rows())


def test_a_firm_actors_compute_is_split_out_of_its_countries_without_changing_their_totals(case, tmp_path):
    tables, scenario, _ = case
    before = producer_table(tables)
    after = producer_table(tables, scenario)
    assert _compute_by_country(after) == pytest.approx(_compute_by_country(before), rel=1e-12)
    lab = after.filter(pl.col("firm_id") == "lab").sort("iso3")
    country = _compute_by_country(before)
    assert lab["iso3"].to_list() == ["DEU", "USA"]
    assert lab["capacity"].to_list() == pytest.approx([0.5 * country["DEU"], 0.3 * country["USA"]])
    assert after.filter(pl.col("firm_id") == "cloud").height == 0, "only firm actors' firms are split out"
    # Scenarios without firm actors get the staged producers unchanged.
    assert producer_table(tables, load_scenario(write_scenario(tmp_path, "plain"))).equals(before)


def test_a_firm_that_owns_no_compute_is_refused_with_the_actor_and_field(case):
    tables, scenario, _ = case
    with pytest.raises(InputError) as caught:
        with_firm_actor_compute(tables["producers"], OWNERS.filter(pl.col("firm_id") != "lab"), scenario)
    message = str(caught.value)
    assert "[actors.lab]" in message and "field 'firms'" in message and "firm 'lab' owns no counted AI compute" in message
    with pytest.raises(InputError, match="owns no counted AI compute"):
        producer_table({k: v for k, v in tables.items() if k != "compute_owners"}, scenario)


def test_a_firm_actors_capability_is_its_own_compute_plus_cloud_access_by_an_independent_lp(case):
    """Long run: the lab's sink takes its own clusters' compute freely (home routes from its nodes
    only) and the rest through capped cloud routes; its capability equals scipy's LP on the same
    network, and in the short run it is at most that (design.md §9)."""
    _, scenario, networks = case
    net = networks.long_run
    lab = net.actors.index("lab")
    sink = net.sink_of(lab)
    names = np.array(net.node_names)
    home = net.edge_src[(net.edge_dst == sink) & (net.edge_kind == HOME_COMPUTE)]
    assert sorted(names[home]) == ["DEU:datacenter_compute:lab", "USA:datacenter_compute:lab"]
    model = joint_model(net, scenario, solver="HIGHS", time_limit=60)
    value = model.capability.solve(sink).value
    assert value == pytest.approx(PlainLP(net).value(sink, np.zeros(net.num_edges, bool)), rel=1e-7)
    short = networks.short_run.network
    short_value = PlainLP(short.for_sink(sink)).value(sink, np.zeros(short.num_edges, bool))
    assert 0 < short_value <= value * (1 + 1e-9)
    # Short run: the lab's clusters are committed to the lab, not to the USA.
    usa = net.actors.index("USA")
    lab_node = int(np.flatnonzero(names == "USA:datacenter_compute:lab")[0])
    committed = networks.short_run.committed[lab_node]
    assert committed[lab] > 0 and committed[usa] == 0


def test_placements_against_a_firm_actor_are_exact_against_brute_force(case):
    """Every affordable subset of the catalogue evaluated with scipy's LP: the interdiction
    MILP's optimum over both defectors (RUS, the lab) equals the best subset's mean leverage,
    and the export control of chips reaches the lab's clusters in every country it owns."""
    _, scenario, networks = case
    net = networks.long_run
    catalogue = catalogue_arrays(net, scenario)
    names = np.array(net.node_names)
    chips = catalogue.closes[catalogue.ids.index("usa-chips-lab")]
    assert {names[d] for d in net.edge_dst[chips]} == {"DEU:datacenter_compute:lab", "USA:datacenter_compute:lab"}
    sinks = [net.sink_of(net.actors.index(a.id)) for a in scenario.defectors]
    lp = PlainLP(net)
    base = [lp.value(s, np.zeros(net.num_edges, bool)) for s in sinks]
    best = -1.0
    for subset in placements_within(catalogue.cost, scenario.settings.budget):
        closed = catalogue.closes[list(subset)].any(axis=0) if subset else np.zeros(net.num_edges, bool)
        best = max(best, float(np.mean([1 - lp.value(s, closed) / b for s, b in zip(sinks, base)])))
    result = joint_model(net, scenario, solver="HIGHS", time_limit=60).solve(scenario.settings.budget)
    assert result.optimal
    assert float(np.mean(result.leverage)) == pytest.approx(best, abs=1e-6)


def test_horizons_analysed_in_threads_give_the_serial_table_in_report_order(case):
    """``table_marginal`` with two threads: each horizon builds its own capability LP; the
    short run (first in report order) is made to finish last, and the table is still the
    serial one, short run first."""
    _, _, networks = case
    baselines = {horizon: SimpleNamespace(name=f"base-{horizon}") for horizon in HORIZONS}
    finished = []

    def analyse(horizon, network, baseline):
        model = CapabilityModel(network, solver="HIGHS", time_limit=60)
        values = [model.solve(network.sink_of(a)).value for a in range(len(network.actors))]
        time.sleep(0.5 if horizon == HORIZONS[0] else 0.0)
        finished.append(horizon)
        return pl.DataFrame({"scenario": "s", "actor": list(network.actors), "capability": values,
                             "seen_baseline": baseline.name})

    serial = networks.table_marginal(baselines, analyse)
    finished.clear()
    threaded = networks.table_marginal(baselines, analyse, threads=2)
    assert finished == list(reversed(HORIZONS)), "the long run finished first"
    assert threaded.equals(serial)
    assert threaded.columns[:3] == ["scenario", "horizon", "baseline"]
    assert threaded["horizon"].unique(maintain_order=True).to_list() == list(HORIZONS)
    assert (threaded["baseline"] == threaded["seen_baseline"]).all()


def _same_network(left, right) -> bool:
    """Every field of the two networks equal: arrays element by element, the rest by value."""
    def same(a, b) -> bool:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return a is not None and b is not None and np.array_equal(a, b)
        return a == b
    return all(same(getattr(left, f.name), getattr(right, f.name)) for f in dataclasses.fields(left))


def test_one_horizons_network_is_that_horizon_of_both(case):
    """``horizon_network`` builds the long run without the short-run derivation and the short
    run with given rules; each equals the horizon of ``horizon_networks``, array by array."""
    tables, scenario, networks = case
    rules = horizon_rules(tables, scenario)
    assert rules == networks.rules
    for horizon in HORIZONS:
        assert _same_network(horizon_network(tables, scenario, horizon), networks[horizon]), horizon
        assert _same_network(horizon_network(tables, scenario, horizon, rules=rules), networks[horizon]), horizon
    with pytest.raises(KeyError, match="unknown horizon 'medium_run'"):
        horizon_network(tables, scenario, "medium_run")
