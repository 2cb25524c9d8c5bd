"""The status_quo scenario on the reference data's country-level network with its baseline
(the controls in force) and a capability LP: the shared set-up of the two-sided tests."""

from __future__ import annotations

from chokepoint.inputs.controls_in_force import read_controls_in_force
from chokepoint.inputs.scenario import Scenario, load_scenario
from chokepoint.model.baseline import baseline_placement
from chokepoint.model.build import network_from_tables
from optimization.capability import CapabilityModel
from tests.conftest import DATA

__all__ = ["status_quo_setup"]


def status_quo_setup(reference, scenario: Scenario | None = None):
    """(scenario, network, baseline, capability LP) of ``scenario`` (default: the shipped
    ``status_quo.toml``) on the reference tables."""
    scenario = scenario or load_scenario(DATA / "scenarios" / "status_quo.toml")
    network = network_from_tables(reference.countries, reference.input_types, reference.recipes,
                                  reference.capacities, scenario)
    baseline = baseline_placement(network, scenario, read_controls_in_force(DATA / "reference" / "controls_in_force.csv"))
    return scenario, network, baseline, CapabilityModel(network, solver="HIGHS", time_limit=60)
