"""Scenario files: every bad-input case gives one clear error naming file, line (or
table) and field; control rules, named placements, game and recruitment settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.reference import load_reference
from chokepoint.inputs.scenario import load_scenario
from tests.conftest import DATA

BASE = '''
name = "t"
[settings]
budget = 2.0
[leakage.transit]
MYS = 0.01
[actors.USA]
signatory = true
detection_probability = 0.5
value_of_capability = 10.0
first_mover_gain = 1.0
[actors.JPN]
signatory = true
detection_probability = 0.5
value_of_capability = 10.0
first_mover_gain = 1.0
[actors.CHN]
signatory = false
candidate_defector = true
detection_probability = 0.5
value_of_capability = 10.0
first_mover_gain = 1.0
[actors.RUS]
signatory = false
candidate_defector = true
detection_probability = 0.5
value_of_capability = 10.0
first_mover_gain = 1.0
'''


def _load(tmp_path, extra: str):
    path = tmp_path / "t.toml"
    path.write_text(BASE + extra)
    return load_scenario(path)


def test_rules_expand_to_every_combination_and_explicit_controls_win(tmp_path):
    scenario = _load(tmp_path, '''
[[controls]]
id = "my-euv"
kind = "export_control"
jurisdiction = "USA"
input = "euv_lithography"
destination = "CHN"
cost = 9.0
[[control_rules]]
kind = "export_control"
jurisdictions = "signatories"
inputs = ["euv_lithography", "etch"]
destinations = "defectors"
cost = 0.5
[[control_rules]]
kind = "compute_exclusion"
jurisdictions = ["USA"]
destinations = ["CHN"]
cost = 0.25
[[control_rules]]
kind = "secondary_control"
jurisdictions = ["JPN"]
inputs = ["ai_accelerators"]
transits = "all"
destinations = "defectors"
cost = 0.75
''')
    ids = {c.id: c for c in scenario.controls}
    # 2 jurisdictions x 2 inputs x 2 destinations = 8, minus the explicit USA/euv/CHN; + 1 cloud + 2 secondary.
    assert len(scenario.controls) == 1 + 7 + 1 + 2
    assert ids["my-euv"].cost == 9.0 and "x-usa-euv_lithography-chn" not in ids
    assert ids["x-jpn-etch-rus"].cost == 0.5
    assert ids["cloud-usa-chn"].kind == "compute_exclusion" and ids["cloud-usa-chn"].input is None
    assert ids["sec-jpn-mys-ai_accelerators-chn"].transit == "MYS"


@pytest.mark.parametrize("rule, message", [
    ('kind = "export_control"\njurisdictions = ["CHN"]\ninputs = ["etch"]\ndestinations = "defectors"\ncost = 1.0',
     "'CHN' is not a signatory"),
    ('kind = "export_control"\njurisdictions = "signatories"\ninputs = ["etch"]\ndestinations = ["MARS"]\ncost = 1.0',
     "unknown actor 'MARS'"),
    ('kind = "secondary_control"\njurisdictions = ["USA"]\ninputs = ["etch"]\ntransits = ["SGP"]\ndestinations = "defectors"\ncost = 1.0',
     "'SGP' is not a transit country"),
    ('kind = "export_control"\njurisdictions = "signatories"\ndestinations = "defectors"\ncost = 1.0',
     "field 'inputs': required"),
    ('kind = "compute_exclusion"\njurisdictions = "signatories"\ninputs = ["etch"]\ndestinations = "defectors"\ncost = 1.0',
     "takes no inputs"),
    ('kind = "export_control"\njurisdictions = "everyone"\ninputs = ["etch"]\ndestinations = "defectors"\ncost = 1.0',
     "expected a list of ISO3 codes"),
])
def test_bad_rules_are_named(tmp_path, rule, message):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, "[[control_rules]]\n" + rule + "\n")
    assert "t.toml, [[control_rules]] #1" in str(caught.value) and message in str(caught.value)


def test_named_placements_must_use_known_controls(tmp_path):
    with pytest.raises(InputError, match=r"\[\[placements\]\] #1.*unknown control id 'nope'"):
        _load(tmp_path, '[[placements]]\nname = "p"\ncontrols = ["nope"]\n')


def test_game_settings_are_validated(tmp_path):
    scenario = _load(tmp_path, "[game]\nfirst_mover_decay = 0.5\ncollective_risk = 2.0\n")
    assert scenario.game.first_mover_decay == 0.5 and scenario.game.collective_risk == 2.0
    with pytest.raises(InputError, match=r"\[game\].*field 'collective_risk'.*below the minimum"):
        _load(tmp_path, "[game]\ncollective_risk = -1.0\n")


@pytest.mark.parametrize("name", ["default", "narrow", "broad"])
def test_shipped_scenarios_load_and_match_the_data(name, reference):
    scenario = load_scenario(DATA / "scenarios" / f"{name}.toml")
    scenario.validate_against(reference.countries["iso3"], reference.input_types["input_id"])
    assert scenario.defectors and scenario.controls
    assert scenario.name == name


# --- bad scenario files -------------------------------------------------------------

def _scenario_error(data: Path, change) -> str:
    path = data / "scenarios" / "default.toml"
    path.write_text(change(path.read_text()))
    with pytest.raises(InputError) as caught:
        load_scenario(path).validate_against(
            load_reference(data / "reference").countries["iso3"],
            load_reference(data / "reference").input_types["input_id"])
    message = str(caught.value)
    assert message.startswith("default.toml"), message
    assert "\n" not in message
    return message


def test_malformed_toml(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('budget = 4.0', 'budget = = 4.0'))
    assert "malformed TOML" in message and re.search(r"line \d+", message)


def test_probability_out_of_range(data_copy):
    text = (data_copy / "scenarios" / "default.toml").read_text()
    message = _scenario_error(data_copy, lambda t: t.replace("detection_probability = 0.7", "detection_probability = 1.7"))
    line = text[: text.index("[actors.CHN]")].count("\n") + 1
    assert f"[actors.CHN] (line {line})" in message and "field 'detection_probability'" in message
    assert "above the maximum 1.0" in message


def test_unknown_key(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace("first_mover_gain = 150.0", "first_mover_gain = 150.0\nfirst_mover_gian = 1.0"))
    assert "field 'first_mover_gian'" in message and "unknown key" in message


def test_wrong_type(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace("budget = 4.0", 'budget = "four"'))
    assert "[settings]" in message and "field 'budget'" in message and "expected a number" in message


def test_control_by_non_signatory(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('jurisdiction = "NLD"\ninput = "euv_lithography"',
                                                            'jurisdiction = "CHN"\ninput = "euv_lithography"'))
    assert "[[controls]] #1" in message and "field 'jurisdiction'" in message and "not a signatory" in message


def test_unknown_destination(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('destination = "ARE"', 'destination = "ATLANTIS"', 1))
    assert "field 'destination'" in message and "unknown actor 'ATLANTIS'" in message


def test_unknown_input_in_control(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('input = "euv_lithography"', 'input = "warp_drive"'))
    assert "field 'input'" in message and "unknown input type 'warp_drive'" in message


def test_no_candidate_defector(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace("candidate_defector = true", "candidate_defector = false"))
    assert "no actor has candidate_defector = true" in message


def test_transit_through_signatory(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace("MYS = 0.010", "MYS = 0.010\nJPN = 0.01"))
    assert "[leakage.transit]" in message and "field 'JPN'" in message and "signatory" in message


def test_duplicate_control_id(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('id = "nld-duv-chn"', 'id = "nld-euv-chn"'))
    assert "[[controls]] #2" in message and "duplicate control id" in message


def test_country_in_two_actors(data_copy):
    message = _scenario_error(data_copy, lambda t: t.replace('members = ["RUS", "BLR"]', 'members = ["RUS", "BLR", "CHN"]'))
    assert "field 'members'" in message and "already belongs" in message


def test_scenario_not_utf8(data_copy):
    path = data_copy / "scenarios" / "default.toml"
    path.write_bytes(path.read_bytes() + b"\n# \xff\n")
    with pytest.raises(InputError, match="default.toml: not UTF-8"):
        load_scenario(path)


FIRM_ACTOR = '''
[actors.lab]
firms = ["xai"]
signatory = false
candidate_defector = true
detection_probability = 0.9
value_of_capability = 30.0
first_mover_gain = 5.0
'''


def test_a_firm_actor_owns_its_firms_and_has_no_member_countries(tmp_path):
    scenario = _load(tmp_path, FIRM_ACTOR + '''
[[controls]]
id = "usa-chips-lab"
kind = "export_control"
jurisdiction = "USA"
input = "ai_accelerators"
destination = "lab"
cost = 1.0
''')
    lab = scenario.actor("lab")
    assert (lab.firms, lab.members) == (("xai",), ())
    assert scenario.firm_actors == (lab,) and scenario.actor("USA").firms == ()
    assert lab in scenario.defectors and scenario.controls[0].destination == "lab"
    scenario.validate_against(["USA", "JPN", "CHN", "RUS", "MYS"], ["ai_accelerators"], firms=["xai"])
    with pytest.raises(InputError) as caught:
        scenario.validate_against(["USA", "JPN", "CHN", "RUS", "MYS"], ["ai_accelerators"], firms=["openai"])
    assert "[actors.lab]" in str(caught.value) and "field 'firms'" in str(caught.value)
    assert "unknown firm 'xai'" in str(caught.value)


@pytest.mark.parametrize("change, message", [
    (('firms = ["xai"]', 'firms = ["xAI Corp"]'), "must be lower-case letters"),
    (('firms = ["xai"]', 'firms = ["xai", "xai"]'), "listed twice"),
    (('firms = ["xai"]', 'firms = []'), "expected a non-empty list"),
])
def test_bad_firm_actors_are_named(tmp_path, change, message):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, FIRM_ACTOR.replace(*change))
    assert "t.toml, [actors.lab]" in str(caught.value) and message in str(caught.value)
    assert "field 'firms'" in str(caught.value)


def test_a_firm_in_two_actors(tmp_path):
    with pytest.raises(InputError) as caught:
        _load(tmp_path, FIRM_ACTOR + FIRM_ACTOR.replace("[actors.lab]", "[actors.lab2]"))
    assert "[actors.lab2]" in str(caught.value) and "firm 'xai' already belongs to actor 'lab'" in str(caught.value)
