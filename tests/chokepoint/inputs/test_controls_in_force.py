"""controls_in_force.csv: the real file, bad input named by file/line/field, in_force_on, baseline_controls."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil

import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.controls_in_force import (COLUMN_ORDER, baseline_controls, in_force_on,
                                                 read_controls_in_force)
from chokepoint.inputs.scenario import Actor, load_scenario
from chokepoint.inputs.source_check import check_inputs
from chokepoint.settings import PROJECT_ROOT

REFERENCE = PROJECT_ROOT / "data" / "reference"
FILE = REFERENCE / "controls_in_force.csv"
DEFAULT_SCENARIO = PROJECT_ROOT / "data" / "scenarios" / "default.toml"


@pytest.fixture(scope="module")
def controls():
    return read_controls_in_force(FILE)


@pytest.fixture(scope="module")
def actors():
    return load_scenario(DEFAULT_SCENARIO).actors


def _rows():
    with FILE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(tmp_path, rows, header=COLUMN_ORDER):
    """The rows as a controls file beside a copy of input_types.csv; returns its path."""
    shutil.copy(REFERENCE / "input_types.csv", tmp_path / "input_types.csv")
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "controls_in_force.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _line_of(measure_id):
    return 2 + [r["measure_id"] for r in _rows()].index(measure_id)


# --- the real file -----------------------------------------------------------------------------

def test_every_row_of_the_real_file_is_valid_and_cited(controls):
    assert controls.height >= 25
    assert list(controls.columns[:len(COLUMN_ORDER)]) == list(COLUMN_ORDER)
    assert controls["legal_instrument"].str.len_chars().min() > 10
    assert controls["source_url"].str.starts_with("http").all()
    assert controls["note"].str.len_chars().min() > 10
    assert controls["in_force_from"].max() <= dt.date(2025, 12, 31)


def test_both_sides_are_covered(controls):
    by = set(controls["imposed_by"])
    assert {"USA", "NLD", "JPN", "CHN"} <= by
    chinese = controls.filter(controls["imposed_by"] == "CHN")
    assert {"gallium", "germanium", "rare_earth_separation", "permanent_magnets"} <= set(chinese["input_id"].drop_nulls())


def test_named_measures_are_there(controls):
    ids = set(controls["measure_id"])
    for expected in ("us-2022-10-sme-deposition", "us-2023-10-sme-etch", "us-2024-12-hbm", "nl-euv-chn",
                     "nl-2023-09-duv", "nl-2024-09-duv", "jp-2023-07-duv", "cn-2023-23-gallium",
                     "cn-2023-39-graphite", "cn-2024-46-gallium-usa", "cn-2025-18-permanent-magnets",
                     "cn-2025-61-permanent-magnets", "cn-2025-62-tech-separation"):
        assert expected in ids


def test_items_outside_the_taxonomy_are_recorded_but_not_modelled(controls):
    outside = controls.filter(controls["input_id"].is_null())
    assert outside.height >= 3
    assert not outside["modelled"].any()
    assert set(outside["measure_id"]) >= {"cn-2023-39-graphite", "cn-2024-46-antimony-usa"}


def test_suspensions_carry_their_until(controls):
    row = controls.filter(controls["measure_id"] == "cn-2024-46-gallium-usa").row(0, named=True)
    assert (row["status"], row["until"]) == ("suspended", dt.date(2025, 11, 9))
    for measure in ("cn-2025-61-permanent-magnets", "cn-2025-62-tech-magnets"):
        row = controls.filter(controls["measure_id"] == measure).row(0, named=True)
        assert (row["status"], row["until"]) == ("suspended", dt.date(2025, 11, 7))
    assert controls.filter(controls["status"] == "in_force")["until"].null_count() == \
        controls.filter(controls["status"] == "in_force").height


# --- bad input: file, line and field ---------------------------------------------------------

def _edit(measure_id, changes):
    rows = _rows()
    for row in rows:
        if row["measure_id"] == measure_id:
            row.update(changes)
    return rows


@pytest.mark.parametrize("measure_id,changes,field,words", [
    ("nl-2023-09-duv", {"imposed_by": "NLX"}, "imposed_by", "ISO 3166-1"),
    ("nl-2023-09-duv", {"target": "ZZZ"}, "target", "ISO 3166-1"),
    ("nl-2023-09-duv", {"target": "Not a Firm"}, "target", "neither an ISO3"),
    ("nl-2023-09-duv", {"input_id": "duv_lithography"}, "input_id", "unknown input type"),
    ("cn-2024-46-gallium-usa", {"until": "2024-12-01"}, "until", "before in_force_from"),
    ("cn-2024-46-gallium-usa", {"status": "lifted", "until": ""}, "until", "needs the date"),
    ("cn-2023-23-gallium", {"until": "2026-01-01"}, "status", "expected suspended or lifted"),
    ("nl-2023-09-duv", {"source_url": "zoek.officielebekendmakingen.nl/stcrt-2023-18212.html"}, "source_url",
     "http:// or https://"),
    ("nl-2023-09-duv", {"in_force_from": "2023-09-31"}, "in_force_from", "not a valid date"),
    ("nl-2023-09-duv", {"in_force_from": "1 Sept 2023"}, "in_force_from", "not an ISO date"),
    ("nl-2023-09-duv", {"kind": "embargo"}, "kind", "not one of"),
    ("nl-2023-09-duv", {"status": "active"}, "status", "not one of"),
    ("nl-2023-09-duv", {"target": "asml"}, "target", "firm target"),
    ("us-2019-05-entity-huawei-eda", {"target": "CHN"}, "target", "needs a firm id"),
    ("cn-2023-39-graphite", {"modelled": "true"}, "modelled", "needs an input_id"),
    ("cn-2023-39-graphite", {"modelled": "yes"}, "modelled", "not one of"),
    ("nl-2023-09-duv", {"legal_instrument": ""}, "legal_instrument", "empty"),
    ("nl-2023-09-duv", {"measure_id": "NL 2023"}, "measure_id", "not a slug"),
])
def test_bad_values_are_named_by_file_line_and_field(tmp_path, measure_id, changes, field, words):
    path = _write(tmp_path, _edit(measure_id, changes))
    with pytest.raises(InputError) as caught:
        read_controls_in_force(path)
    error = caught.value
    assert (error.file, error.row, error.field) == (str(path), _line_of(measure_id), field)
    assert words in error.message
    assert f"controls_in_force.csv, line {_line_of(measure_id)}, field '{field}'" in str(error)


def test_a_duplicate_measure_and_input_is_named_at_its_second_line(tmp_path):
    rows = _rows()
    rows.append(dict(rows[5]))
    path = _write(tmp_path, rows)
    with pytest.raises(InputError) as caught:
        read_controls_in_force(path)
    assert (caught.value.row, caught.value.field) == (len(rows) + 1, "measure_id")
    assert "duplicate" in caught.value.message


def test_the_header_must_be_exactly_the_documented_columns(tmp_path):
    order = list(COLUMN_ORDER)
    order[4], order[5] = order[5], order[4]
    path = _write(tmp_path, _rows(), header=order)
    with pytest.raises(InputError) as caught:
        read_controls_in_force(path)
    assert (caught.value.row, caught.value.field) == (1, "input_id")


def test_a_firm_target_is_checked_against_known_firms_when_given(tmp_path):
    path = _write(tmp_path, _rows())
    read_controls_in_force(path, firm_ids=["huawei", "smic", "ymtc", "cambricon", "biren", "moore-threads"])
    with pytest.raises(InputError) as caught:
        read_controls_in_force(path, firm_ids=["huawei"])
    assert caught.value.field == "target" and "unknown firm id" in caught.value.message


# --- in_force_on ----------------------------------------------------------------------------

def test_in_force_on_follows_the_dates(controls):
    def ids(day):
        return set(in_force_on(controls, day)["measure_id"])

    assert ids("2019-01-01") == set()
    assert "us-2019-05-entity-huawei-eda" in ids(dt.date(2019, 5, 16))
    assert "us-2019-05-entity-huawei-eda" not in ids(dt.date(2019, 5, 15))
    assert "cn-2023-23-gallium" not in ids("2023-07-31") and "cn-2023-23-gallium" in ids("2023-08-01")
    assert "cn-2024-46-gallium-usa" in ids("2024-12-03") and "cn-2024-46-gallium-usa" in ids("2025-11-08")
    assert "cn-2024-46-gallium-usa" not in ids("2025-11-09"), "until is the first day no longer in force"
    assert "cn-2025-61-permanent-magnets" in ids("2025-10-20")
    assert "cn-2025-61-permanent-magnets" not in ids("2025-11-07")
    assert "cn-2024-46-military-usa" in ids(dt.datetime(2025, 12, 1, 12, 0))


def test_in_force_on_rejects_a_date_it_cannot_read(controls):
    with pytest.raises(ValueError, match="not an ISO date"):
        in_force_on(controls, "June 2025")


# --- baseline_controls ----------------------------------------------------------------------

def _by_key(controls):
    return {(c["kind"], c["jurisdiction"], c["input"], c["destination"], c["firm"]): c for c in controls}


def test_baseline_on_the_default_scenario(controls, actors):
    baseline, skipped = baseline_controls(controls, actors, "2025-06-01")
    found = _by_key(baseline)
    assert ("export_control", "NLD", "euv_lithography", "CHN", None) in found
    assert ("export_control", "JPN", "duv_immersion_lithography", "CHN", None) in found
    deposition = found[("export_control", "USA", "deposition", "CHN", None)]
    assert deposition["measure_id"] == "us-2022-10-sme-deposition"
    assert deposition["measure_ids"] == ["us-2022-10-sme-deposition", "us-2023-10-sme-deposition",
                                         "us-2024-12-sme-deposition"]
    # China's all-destination licence regime: every actor but China's own
    gallium = {c["destination"] for c in baseline if c["jurisdiction"] == "CHN" and c["input"] == "gallium"}
    assert gallium == {a.id for a in actors} - {"CHN"}
    assert found[("export_control", "CHN", "gallium", "USA", None)]["measure_ids"] == [
        "cn-2023-23-gallium", "cn-2024-46-gallium-usa"]
    # firm measures keep the firm; without firm countries the destination is unknown
    assert found[("entity_control", "USA", "eda_software", None, "huawei")]["measure_id"] == \
        "us-2019-05-entity-huawei-eda"
    assert all(set(c) == {"kind", "jurisdiction", "input", "destination", "firm", "measure_id", "measure_ids"}
               for c in baseline)
    reasons = {s["measure_id"]: s["reason"] for s in skipped}
    assert reasons["cn-2023-39-graphite"] == "not modelled (see note)"
    assert reasons["cn-2025-61-permanent-magnets"] == "not in force on 2025-06-01"
    assert len(baseline) > 30


def test_baseline_after_the_november_2025_suspension(controls, actors):
    baseline, skipped = baseline_controls(controls, actors, dt.date(2025, 11, 20))
    usa_gallium = _by_key(baseline)[("export_control", "CHN", "gallium", "USA", None)]
    assert usa_gallium["measure_ids"] == ["cn-2023-23-gallium"]
    assert {"measure_id": "cn-2024-46-gallium-usa", "input_id": "gallium",
            "reason": "not in force on 2025-11-20"} in skipped


def test_firm_countries_give_firm_measures_a_destination(controls, actors):
    baseline, _ = baseline_controls(controls, actors, "2025-06-01", firm_countries={"huawei": "CHN", "smic": "CHN"})
    found = _by_key(baseline)
    assert ("entity_control", "USA", "eda_software", "CHN", "huawei") in found
    assert ("entity_control", "USA", "deposition", "CHN", "smic") in found


def _actor(actor_id, members):
    return Actor(id=actor_id, name=actor_id, members=tuple(members), signatory=actor_id != "CHN",
                 candidate_defector=actor_id == "CHN", detection_probability=0.5, value_of_capability=1.0,
                 first_mover_gain=0.0, benefit_of_compliance=0.0)


def test_measures_outside_the_scenario_are_skipped_with_a_reason(controls):
    actors = [_actor("CHN", ["CHN", "HKG"]), _actor("EU", ["NLD", "DEU"])]
    baseline, skipped = baseline_controls(controls, actors, "2025-01-01")
    reasons = {s["measure_id"]: s["reason"] for s in skipped}
    assert reasons["jp-2023-07-duv"] == "imposing jurisdiction JPN is in no actor of the scenario"
    assert reasons["cn-2024-46-gallium-usa"] == "target USA is in no actor of the scenario"
    assert {(c["jurisdiction"], c["destination"]) for c in baseline if c["input"] == "gallium"} == {("CHN", "EU")}
    assert ("export_control", "NLD", "duv_immersion_lithography", "CHN", None) in _by_key(baseline)


def test_a_target_inside_the_imposing_actor_is_skipped(controls):
    actors = [_actor("WEST", ["USA", "CHN"]), _actor("EU", ["NLD"])]
    _, skipped = baseline_controls(controls, actors, "2025-01-01")
    reasons = {s["measure_id"]: s["reason"] for s in skipped}
    assert reasons["us-2024-12-hbm"] == "target CHN is in the imposing jurisdiction's own actor WEST"


def test_the_daily_source_check_reads_the_controls_file(data_copy):
    assert check_inputs(data_copy, data_mode="reference")["controls_in_force"] == len(_rows())
    path = data_copy / "reference" / "controls_in_force.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(",USA,", ",USX,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        check_inputs(data_copy, data_mode="reference")
    assert (caught.value.row, caught.value.field) == (3, "imposed_by")
