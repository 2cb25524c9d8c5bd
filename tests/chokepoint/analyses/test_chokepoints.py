"""Removal losses: dual and surviving-flow bounds bracket the LP; the proven top k is the
true top k; the chokepoint table on the reference data keeps its format and invariants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from chokepoint.analyses.chokepoints import CHOKEPOINT_SCHEMA, chokepoint_analysis, removal_losses
from chokepoint.model.build import network_from_tables
from graph.failure import Propagation, single_points_of_failure
from optimization.capability import CapabilityModel
from tests.support.instances import random_and_or_network


def test_reference_proven_top_10_equals_the_exhaustive_lp(reference_run):
    """The LP re-solve of every node for one defector: the proven top 10 is the true one."""
    network, run = reference_run
    from graph.network import PRODUCER, TRANSIT

    model = CapabilityModel(network)
    sink = network.sink_of(network.actors.index("RUS"))
    c0 = model.solve(sink).value
    nodes = np.flatnonzero(np.isin(network.node_kind, [PRODUCER, TRANSIT]))
    truth = np.array([(c0 - model.solve(sink, (network.edge_src != v).astype(float)).value) / c0 for v in nodes])
    got = run.table.filter((pl.col("defector") == "RUS") & (pl.col("entity_type") == "node")
                           & (pl.col("metric") == "removal_loss"))
    by_name = dict(zip(got["entity"], got["value"]))
    for v, value in zip(nodes, truth):
        if network.node_names[v] in by_name:
            assert by_name[network.node_names[v]] == pytest.approx(value, abs=1e-7)
    assert np.allclose(sorted(by_name.values(), reverse=True)[:10], np.sort(truth)[::-1][:10], atol=1e-7)


@pytest.mark.parametrize("seed", range(20))
def test_bounds_bracket_every_lp_loss_and_top_k_is_right(seed):
    network = random_and_or_network(seed, n=16)
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    base = model.solve(sink)
    edge_entity = np.where(network.edge_src < sink, network.edge_src, -1)
    spof = single_points_of_failure(network, sink)
    result = removal_losses(model, sink, base, edge_entity, sink, must_solve=spof, top_k=3,
                            max_solves=sink, propagation=Propagation.of(network))
    truth = np.array([(base.value - model.solve(sink, (network.edge_src != v).astype(float)).value) / base.value
                      if base.value > 0 else 0.0 for v in range(sink)])
    truth = np.clip(truth, 0.0, 1.0)
    assert (result.lower <= truth + 1e-7).all() and (truth <= result.upper + 1e-7).all()
    known = ~np.isnan(result.exact)
    assert np.allclose(result.exact[known], truth[known], atol=1e-7)
    assert result.solved[spof].all() and np.allclose(truth[spof], 1.0, atol=1e-7)
    assert result.certified  # with enough re-solves allowed the top k is always proven
    top = np.sort(result.exact[known])[::-1][:3]
    assert np.allclose(top, np.sort(truth)[::-1][:3], atol=1e-7)


def test_zero_capability_sink_has_zero_losses():
    network = random_and_or_network(5, n=12)
    network = replace(network, node_capacity=np.where(np.arange(network.num_nodes) < 3, 0.0, network.node_capacity))
    sink = network.num_nodes - 1
    model = CapabilityModel(network)
    base = model.solve(sink)
    if base.value > 0:
        pytest.skip("this instance still produces")
    result = removal_losses(model, sink, base, network.edge_src, network.num_nodes)
    assert (result.exact == 0).all() and result.solves == 0


@pytest.fixture(scope="module")
def reference_run(reference, scenario):
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    return network, chokepoint_analysis(network, scenario, reference.capacities, CapabilityModel(network))


def test_reference_table_format_and_entities(reference_run, scenario):
    network, run = reference_run
    table = run.table
    assert table.schema == pl.Schema(CHOKEPOINT_SCHEMA)
    assert set(table["defector"].unique()) == {a.id for a in scenario.defectors}
    assert set(table["entity_type"].unique()) == {"node", "country", "input"}
    keys = table.group_by("defector", "entity_type", "entity", "metric").len()
    assert keys["len"].max() == 1
    ranks = table.filter((pl.col("defector") == "CHN") & (pl.col("metric") == "removal_loss")
                         & (pl.col("entity_type") == "node")).sort("rank")
    assert (ranks["value"].diff().drop_nulls() <= 1e-12).all() and ranks["rank"][0] == 1


def test_reference_single_points_of_failure_lose_everything(reference_run):
    _, run = reference_run
    wide = run.table.pivot(on="metric", index=["defector", "entity_type", "entity"], values="value")
    spof = wide.filter(pl.col("single_point_of_failure") == 1)
    assert spof.height >= 18  # three EUV nodes and three countries per defector
    assert (spof["removal_loss"] > 1 - 1e-6).all()
    solved = wide.filter(pl.col("removal_loss").is_not_null())
    assert ((solved["loss_lower_bound"] <= solved["removal_loss"] + 1e-7)
            & (solved["removal_loss"] <= solved["loss_upper_bound"] + 1e-7)).all()
    dominators = wide.filter(pl.col("or_dominator") == 1)
    assert (dominators["single_point_of_failure"] == 1).all()


def test_reference_removal_loss_matches_a_direct_lp(reference_run):
    network, run = reference_run
    model = CapabilityModel(network)
    sink = network.sink_of(network.actors.index("CHN"))
    base = model.solve(sink).value
    rows = run.table.filter((pl.col("defector") == "CHN") & (pl.col("metric") == "removal_loss")
                            & (pl.col("value") > 0))
    for entity_type, entity, value in rows.select("entity_type", "entity", "value").head(12).iter_rows():
        if entity_type == "node":
            closed = network.edge_src == network.node_names.index(entity)
        elif entity_type == "country":
            closed = network.node_country[network.edge_src] == network.countries.index(entity)
        else:
            from graph.chokepoints import import_routes

            closed = import_routes(network, network.actors.index("CHN")) == network.inputs.index(
                entity.removeprefix("imports:"))
        after = model.solve(sink, (~closed).astype(float)).value
        assert value == pytest.approx((base - after) / base, abs=1e-7)


def test_removal_losses_metadata(reference_run):
    _, run = reference_run
    assert {t for _, t in run.removal} == {"node", "country", "input"}
    assert all(r.solves <= 5 * r.k + 10 for r in run.removal.values())
    assert all(r.certified for r in run.removal.values())
