"""Synthetic facility-level generator: sizes, shares, determinism and bad input. (Parquet:
tests/graph/test_parquet.py; the assets: tests/pipeline/test_synthetic_assets.py.)"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from chokepoint.model.build import network_from_tables
from chokepoint.model.build import synthetic_network_from_tables
from graph.failure import Propagation, producible
from graph.network import CLOUD, PRODUCER, SINK, TRANSIT
from graph.synthetic import SyntheticSpec, country_shares, generate_facility_network
from optimization.capability import CapabilityModel


def synthetic(reference, scenario, **spec):
    return synthetic_network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                         reference.capacities, scenario, SyntheticSpec(**spec))


def reference_shares(reference, network) -> np.ndarray:
    shares = np.zeros((len(network.inputs), len(network.countries)))
    k_index = {k: i for i, k in enumerate(network.inputs)}
    c_index = {c: i for i, c in enumerate(network.countries)}
    for row in reference.capacities.iter_rows(named=True):
        shares[k_index[row["input_id"]], c_index[row["iso3"]]] = row["share"]
    return shares


@pytest.mark.parametrize("nodes", [1_000, 3_000, 20_000])
def test_size_density_and_country_shares(reference, scenario, nodes):
    network = synthetic(reference, scenario, nodes=nodes, seed=nodes)
    assert network.num_nodes == nodes
    assert 4.5 <= network.num_edges / nodes <= 5.5
    world = np.array([r["capacity"] / r["share"] for r in reference.capacities.group_by("input_id").agg(
        pl.col("capacity").first(), pl.col("share").first()).sort("input_id").iter_rows(named=True)])
    order = np.argsort(np.argsort(network.inputs))
    generated = country_shares(network, world[order])
    expected = reference_shares(reference, network)
    present = expected > 0
    assert np.all(np.abs(generated[present] - expected[present]) <= 0.01 * expected[present])
    assert np.all(generated[~present] == 0)


def test_every_country_row_gets_a_facility_and_capacities_are_heavy_tailed(reference, scenario):
    network = synthetic(reference, scenario, nodes=20_000, seed=3)
    producers = network.node_kind == PRODUCER
    pairs = set(zip(network.node_input[producers].tolist(), network.node_country[producers].tolist()))
    k_index = {k: i for i, k in enumerate(network.inputs)}
    c_index = {c: i for i, c in enumerate(network.countries)}
    expected = {(k_index[r["input_id"]], c_index[r["iso3"]]) for r in reference.capacities.iter_rows(named=True)
                if r["capacity"] > 0}
    assert pairs == expected
    # Within the largest (country, input) group the biggest facility dwarfs the median one.
    key = network.node_input[producers] * 1000 + network.node_country[producers]
    biggest = np.bincount(np.unique(key, return_inverse=True)[1]).argmax()
    group = network.node_capacity[producers][np.unique(key, return_inverse=True)[1] == biggest]
    assert group.size > 50 and group.max() / np.median(group) > 20


def test_deterministic_by_seed(reference, scenario):
    a = synthetic(reference, scenario, nodes=2_000, seed=7)
    b = synthetic(reference, scenario, nodes=2_000, seed=7)
    c = synthetic(reference, scenario, nodes=2_000, seed=8)
    for name in ("node_capacity", "edge_src", "edge_dst", "edge_capacity", "req_node", "req_coefficient"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.node_names == b.node_names
    assert not np.array_equal(a.edge_src, c.edge_src) or not np.array_equal(a.node_capacity, c.node_capacity)


def test_structure_matches_the_country_level_model(reference, scenario):
    network = synthetic(reference, scenario, nodes=2_000, seed=1)
    Propagation.of(network)  # acyclic, or this raises
    # Every route carries an input its buyer needs; several suppliers per requirement on average.
    req = network.edge_requirement()
    assert (req >= 0).all()
    per_req = np.bincount(req, minlength=network.req_node.size)
    buyer_reqs = network.node_kind[network.req_node] == PRODUCER
    assert per_req[buyer_reqs].min() >= 1 and per_req[buyer_reqs].mean() > 2.5
    assert (network.node_kind == SINK).sum() == len(scenario.actors)
    assert (network.node_kind == TRANSIT).sum() > 0
    # Transit hubs never serve buyers in their own country.
    from_hub = network.node_kind[network.edge_src] == TRANSIT
    assert not (network.node_country[network.edge_src][from_hub] == network.node_country[network.edge_dst][from_hub]).any()
    # Cloud caps add up to the country-level ones.
    cloud = network.edge_kind == CLOUD
    compute = network.inputs.index("datacenter_compute")
    sink = network.sink_of(network.actors.index("CHN"))
    caps = network.edge_capacity[cloud & (network.edge_dst == sink)]
    foreign = reference.capacities.filter((pl.col("input_id") == "datacenter_compute")
                                          & ~pl.col("iso3").is_in(["CHN", "HKG"]))["capacity"].sum()
    assert caps.sum() == pytest.approx(scenario.settings.cloud_access_fraction * foreign, rel=1e-9)
    assert network.node_input[network.edge_src[cloud]].tolist() == [compute] * int(cloud.sum())
    assert producible(network)[sink]


def test_facility_capability_never_exceeds_the_country_level_one(reference, scenario):
    """Facility capacities sum to country capacities and facility routes are a subset of
    country routes, so aggregating a facility flow by country is country-feasible."""
    country = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    facility = synthetic(reference, scenario, nodes=1_000, seed=2)
    country_model, facility_model = CapabilityModel(country), CapabilityModel(facility)
    for actor in ("CHN", "USA"):
        top = country_model.solve(country.sink_of(country.actors.index(actor))).value
        got = facility_model.solve(facility.sink_of(facility.actors.index(actor))).value
        assert 0 < got <= top * (1 + 1e-7)


def test_spec_and_input_validation(reference, scenario):
    with pytest.raises(ValueError, match="nodes must be a positive integer"):
        SyntheticSpec(nodes=0)
    with pytest.raises(ValueError, match="edges_per_node"):
        SyntheticSpec(edges_per_node=-1)
    with pytest.raises(ValueError, match="too small"):
        synthetic(reference, scenario, nodes=100)
    base = dict(countries=["A", "B"], inputs=["x", "y"], producer_country=[0, 1], producer_input=[0, 1],
                producer_capacity=[1.0, 2.0], recipe_product=[1], recipe_input=[0], recipe_coefficient=[1.0],
                compute_input=1, actors=["d"], actor_members=[[0]], spec=SyntheticSpec(nodes=20))
    assert generate_facility_network(**base).num_nodes == 20
    with pytest.raises(ValueError, match="cycle"):
        generate_facility_network(**{**base, "recipe_product": [1, 0], "recipe_input": [0, 1],
                                     "recipe_coefficient": [1.0, 1.0]})
    with pytest.raises(ValueError, match="non-negative"):
        generate_facility_network(**{**base, "producer_capacity": [1.0, -2.0]})
    with pytest.raises(ValueError, match="coefficients must be positive"):
        generate_facility_network(**{**base, "recipe_coefficient": [0.0]})
