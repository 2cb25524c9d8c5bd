"""Scenario tables of two-sided leverage: [baseline], [retaliation], [verification.<id>];
bad values end in an InputError naming the file and the field."""

from __future__ import annotations

import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from tests.conftest import DATA

STATUS_QUO = DATA / "scenarios" / "status_quo.toml"


def test_status_quo_loads_with_baseline_retaliation_and_verification():
    scenario = load_scenario(STATUS_QUO)
    reference = load_reference(DATA / "reference")
    scenario.validate_against(reference.countries["iso3"], reference.input_types["input_id"])
    assert scenario.baseline.controls_in_force and scenario.baseline.name == "status_quo"
    assert scenario.baseline.as_of == "2025-12-31"
    assert 0 < scenario.retaliation.tolerance < 1 and scenario.retaliation.budget > 0
    defectors = {a.id for a in scenario.defectors}
    assert scenario.verification
    for mechanism in scenario.verification:
        assert mechanism.cost >= 0 and set(mechanism.coverage) <= defectors
        assert all(0 <= q <= 1 for q in mechanism.coverage.values())
    # A number as coverage applies to every candidate defector.
    registry = next(m for m in scenario.verification if m.id == "cluster_registry")
    assert set(registry.coverage) == defectors


def test_default_has_no_baseline_and_default_retaliation():
    scenario = load_scenario(DATA / "scenarios" / "default.toml")
    assert scenario.baseline.name == "none" and not scenario.verification


def _with(tmp_path, text: str, replace: tuple[str, str] | None = None):
    body = (DATA / "scenarios" / "default.toml").read_text()
    if replace:
        assert replace[0] in body
        body = body.replace(*replace)
    path = tmp_path / "bad.toml"
    path.write_text(body + "\n" + text)
    return path


@pytest.mark.parametrize("text, field", [
    ('[verification.audit]\ncost = 1.0\ncoverage = 0.2\ncolour = "red"\n', "colour"),
    ('[verification.audit]\ncost = -1.0\ncoverage = 0.2\n', "cost"),
    ('[verification.audit]\ncost = 1.0\ncoverage = 1.5\n', "coverage"),
    ('[verification.audit]\ncost = 1.0\ncoverage = -0.1\n', "coverage"),
    ('[verification.audit]\ncost = 1.0\ncoverage = { CHN = 1.2 }\n', "CHN"),
    ('[verification.audit]\ncost = 1.0\ncoverage = { USA = 0.2 }\n', "USA"),
    ('[verification.audit]\ncost = 1.0\n', "coverage"),
    ('[verification.audit]\ncoverage = 0.1\n', "cost"),
    ('[baseline]\ncontrols_in_force = true\n', "as_of"),
    ('[baseline]\ncontrols_in_force = true\nas_of = "2025-13-01"\n', "as_of"),
    ('[baseline]\nin_force = true\n', "in_force"),
    ('[retaliation]\ntolerance = 1.5\n', "tolerance"),
    ('[retaliation]\nbudget = -1.0\n', "budget"),
    ('[retaliation]\nshare_threshold = "half"\n', "share_threshold"),
    ('[retaliation]\ncounter = 1\n', "counter"),
])
def test_bad_values_name_file_and_field(tmp_path, text, field):
    with pytest.raises(InputError) as caught:
        load_scenario(_with(tmp_path, text))
    message = str(caught.value)
    assert "bad.toml" in message and field in message


def test_unknown_retaliation_input_is_refused_against_the_data(tmp_path):
    scenario = load_scenario(_with(tmp_path, '[retaliation]\ninputs = ["unobtainium"]\n'))
    reference = load_reference(DATA / "reference")
    with pytest.raises(InputError, match="unobtainium") as caught:
        scenario.validate_against(reference.countries["iso3"], reference.input_types["input_id"])
    assert "bad.toml" in str(caught.value) and "inputs" in str(caught.value)
