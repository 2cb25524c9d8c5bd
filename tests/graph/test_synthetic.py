"""Synthetic facility-level generator: sizes, shares, determinism, Parquet round trip and bad input."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipelines.io import WarehouseIOManager

from chokepoint.model.build import network_from_tables
from chokepoint.model.build import synthetic_network_from_tables
from graph.failure import Propagation, producible
from graph.network import CLOUD, PRODUCER, SINK, TRANSIT
from graph.parquet import FILES, network_from_arrow, network_to_arrow, read_network_parquet, write_network_parquet
from graph.synthetic import SyntheticSpec, country_shares, generate_facility_network
from optimization.capability import CapabilityModel
from tests.conftest import DATA


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


def test_parquet_round_trip_is_exact(reference, scenario, tmp_path):
    network = synthetic(reference, scenario, nodes=1_500, seed=4)
    paths = write_network_parquet(network, tmp_path / "net")
    assert {p.name for p in paths.values()} == set(FILES.values())
    back = read_network_parquet(tmp_path / "net")
    for name in network.__dataclass_fields__:
        a, b = getattr(network, name), getattr(back, name)
        assert (np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b), name
    nodes = pl.read_parquet(paths["nodes"])
    assert nodes.filter(pl.col("kind").cast(pl.String) == "sink")["capacity"].null_count() == len(scenario.actors)


def _tables(reference, scenario):
    return network_to_arrow(synthetic(reference, scenario, nodes=1_000, seed=5))


@pytest.mark.parametrize("table, column, value, message", [
    ("edges", "dst", 10**9, r"edges, row 1, column 'dst': node 1000000000 not in nodes"),
    ("nodes", "capacity", -1.0, r"nodes, row 1, column 'capacity': must be a non-negative number"),
    ("requirements", "coefficient", 0.0, r"requirements, row 1, column 'coefficient': must be a positive number"),
    ("nodes", "iso3", "XXX", r"nodes, row 1, column 'iso3': unknown value 'XXX'"),
    ("edges", "kind", "teleport", r"edges, row 1, column 'kind': unknown value 'teleport'"),
])
def test_bad_parquet_input_names_table_row_and_column(reference, scenario, table, column, value, message):
    tables = _tables(reference, scenario)
    target = tables[table]
    original = target.column(column)
    plain = original.cast(pa.string()) if pa.types.is_dictionary(original.type) else original
    values = plain.to_pylist()
    values[0] = value
    tables[table] = target.set_column(target.column_names.index(column), column,
                                      pa.array(values, type=plain.type))
    with pytest.raises(ValueError, match=message):
        network_from_arrow(tables["nodes"], tables["edges"], tables["requirements"])


def test_missing_column_and_missing_file(reference, scenario, tmp_path):
    tables = _tables(reference, scenario)
    with pytest.raises(ValueError, match=r"edges, column 'src': missing column"):
        network_from_arrow(tables["nodes"], tables["edges"].drop(["src"]), tables["requirements"])
    write_network_parquet(synthetic(reference, scenario, nodes=1_000), tmp_path)
    (tmp_path / FILES["requirements"]).unlink()
    with pytest.raises(ValueError, match=r"requirements.parquet: missing"):
        read_network_parquet(tmp_path)
    (tmp_path / FILES["requirements"]).write_text("not parquet")
    with pytest.raises(ValueError, match=r"requirements.parquet: not a readable Parquet file"):
        read_network_parquet(tmp_path)


def test_parquet_from_another_tool_without_vocabulary_metadata(reference, scenario, tmp_path):
    """Plain string columns and no schema metadata: vocabularies are the sorted values."""
    tables = _tables(reference, scenario)
    for name in FILES:
        table = tables[name].replace_schema_metadata(None)
        table = pa.table({c: (table.column(c).cast(pa.string()) if pa.types.is_dictionary(table.column(c).type)
                              else table.column(c)) for c in table.column_names})
        pq.write_table(table, tmp_path / FILES[name])
    back = read_network_parquet(tmp_path)
    assert back.num_nodes == 1_000 and list(back.inputs) == sorted(back.inputs)
    assert (producible(back) == producible(network_from_arrow(*_tables(reference, scenario).values()))).all()


def test_synthetic_assets_materialize_with_config(tmp_path):
    from pipelines.assets import sources, staging, synthetic as synthetic_assets
    from pipelines.resources import ChokepointSettings

    selection = [*sources.assets, *staging.assets, *synthetic_assets.assets, *synthetic_assets.checks]
    resources = {
        "settings": ChokepointSettings(data_dir=str(DATA), scenario="default"),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "w.duckdb"), direct=True),
        "object_io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "objects")),
    }
    folder = tmp_path / "synthetic"
    result = dg.materialize(selection, resources=resources, instance=dg.DagsterInstance.ephemeral(), run_config={
        "ops": {"supply_graph__synthetic_network": {"config": {"nodes": 1_200, "seed": 3, "folder": str(folder)}},
                "synthetic_metrics": {"config": {"pivots": 16, "exact_betweenness_max_nodes": 500}}}})
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"synthetic_shares_preserved", "synthetic_chokepoints_consistent"}
    assert all(c.passed for c in checks)
    assert read_network_parquet(folder).num_nodes == 1_200
    materialized = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    metrics = materialized["analytics/synthetic_chokepoints"].materialization.metadata
    assert metrics["betweenness_pivots_per_defector"].value == 16
    assert metrics["betweenness_exact"].value is False
    assert metrics["removal_loss_lp"].value is False  # opt-in (lp_max_nodes); LP metrics are tested directly
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        levels = con.execute("SELECT DISTINCT level FROM analytics.synthetic_concentration ORDER BY 1").fetchall()
        metrics_found = {r[0] for r in con.execute("SELECT DISTINCT metric FROM analytics.synthetic_chokepoints").fetchall()}
    assert levels == [("country",), ("facility",)]
    assert {"single_point_of_failure", "betweenness", "failure_cascade", "core_number"} <= metrics_found
    assert "removal_loss" not in metrics_found


@pytest.mark.slow
def test_main_job_runs_every_metric_at_a_million_synthetic_nodes(tmp_path, monkeypatch):
    """The whole main job (reference graph and the synthetic network at 10^6 nodes) with
    every asset check passing. A few minutes and a few GB on the 2-core machine."""
    from pipelines.definitions import defs

    monkeypatch.setenv("CHOKEPOINT_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("CHOKEPOINT_DATA_DIR", str(DATA))
    monkeypatch.setenv("CHOKEPOINT_SCENARIO", "default")
    result = defs.resolve_job_def("main").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"ops": {"supply_graph__synthetic_network": {
            "config": {"nodes": 1_000_000, "folder": str(tmp_path / "synthetic")}}}})
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    metrics = {e.asset_key.to_user_string(): e.materialization.metadata
               for e in result.get_asset_materialization_events()}["analytics/synthetic_chokepoints"]
    assert metrics["nodes"].value == 1_000_000 and metrics["betweenness_pivots_per_defector"].value == 64
