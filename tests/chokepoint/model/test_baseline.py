"""The controls in force as a baseline placement: the closed routes re-derived row by row
from the CSV with the graph-level route functions, dates respected, nothing without a baseline."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt

import numpy as np
import pytest

from chokepoint.inputs.controls_in_force import read_controls_in_force
from chokepoint.inputs.scenario import BaselineSettings, load_scenario
from chokepoint.model.baseline import baseline_placement
from chokepoint.model.build import network_from_tables
from chokepoint.model.controls import foreign_direct_product_routes, made_with
from graph.network import PRODUCER, export_control_routes
from tests.conftest import DATA

AS_OF = "2025-12-31"
#: Tool inputs of a foreign-direct-product rule, from the file: equipment and design stages.
with open(DATA / "reference" / "input_types.csv", encoding="utf-8") as _file:
    TOOLS = tuple(row["input_id"] for row in csv.DictReader(_file) if row["stage"] in ("equipment", "design"))


@pytest.fixture(scope="module")
def setup(reference):
    scenario = load_scenario(DATA / "scenarios" / "status_quo.toml")
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    return scenario, network, read_controls_in_force(DATA / "reference" / "controls_in_force.csv")


def _expected(network, scenario, frame, day: dt.date, tools=()) -> np.ndarray:
    """Union of the routes of every modelled country measure in force on ``day``, read row
    by row from the file: an export control's routes, and for a foreign-direct-product rule
    also what is made with the jurisdiction's ``tools`` (judged per country by
    :func:`made_with`). The reference network has no firms, so firm measures close nothing."""
    actor_of = {m: a.id for a in scenario.actors for m in a.members}
    expected = np.zeros(network.num_edges, dtype=bool)
    for row in frame.iter_rows(named=True):
        in_force = row["in_force_from"] <= day and (row["until"] is None or day < row["until"])
        if not (in_force and row["modelled"]) or row["kind"] not in ("export_control", "foreign_direct_product"):
            continue
        own = actor_of.get(row["imposed_by"])
        if row["target"] == "*":
            targets = [a.id for a in scenario.actors if a.id != own]
        elif row["target"] in actor_of:
            targets = [actor_of[row["target"]]] if actor_of[row["target"]] != own else []
        else:
            continue
        for target in targets:
            j, k = network.countries.index(row["imposed_by"]), network.inputs.index(row["input_id"])
            expected |= export_control_routes(network, j, k, network.actors.index(target))
            if row["kind"] == "foreign_direct_product":
                expected |= foreign_direct_product_routes(network, made_with(network, j, tools), j, k,
                                                          network.actors.index(target), None)
    return expected


def test_closed_routes_equal_the_rows_in_force(setup):
    scenario, network, frame = setup
    baseline = baseline_placement(network, scenario, frame)
    assert baseline.name == "status_quo" and baseline.as_of == AS_OF
    # A foreign-direct-product rule on a destination closes the jurisdiction's own exports there
    # and those made with its tools and design software (the equipment and design stages).
    day = dt.date.fromisoformat(AS_OF)
    assert (baseline.closed == _expected(network, scenario, frame, day, TOOLS)).all()
    origin_only = _expected(network, scenario, frame, day)
    assert (baseline.closed & ~origin_only).any(), "the tool taint closes routes the origin alone does not"
    assert baseline.closed.any()
    src = network.edge_src[baseline.closed]
    assert (network.node_kind[src] == PRODUCER).all()
    # Both sides: the coalition's measures and China's.
    imposing = {network.countries[c] for c in network.node_country[src]}
    assert {"USA", "CHN"} <= imposing
    assert (baseline.closed_by({"CHN"}) | baseline.closed_by(imposing - {"CHN"}) == baseline.closed).all()


def test_dates_are_respected(setup):
    scenario, network, frame = setup
    before_any = baseline_placement(network, scenario, frame, as_of="2018-01-01")
    assert not before_any.closed.any()
    mid = "2024-01-01"
    assert (baseline_placement(network, scenario, frame, as_of=mid).closed
            == _expected(network, scenario, frame, dt.date.fromisoformat(mid), TOOLS)).all()


def test_no_baseline_closes_nothing(setup):
    scenario, network, frame = setup
    plain = dataclasses.replace(scenario, baseline=BaselineSettings())
    baseline = baseline_placement(network, plain, frame)
    assert baseline.name == "none" and not baseline.closed.any() and not baseline.controls
