"""AI Chip Fab Atlas reader: campuses with operator firm ids, status, quarantine and row accounting."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.atlas import ATLAS_REQUIRED, stage_atlas
from chokepoint.inputs.real.countries import CountryResolver, load_aliases
from chokepoint.inputs.real.firms import FirmResolver, load_firm_aliases
from chokepoint.inputs.real.quarantine import row_accounting
from chokepoint.inputs.real.rawcsv import read_raw_csv
from tests.conftest import REFERENCE

HEADER = ("campus_id,campus_name,operator,country_code,longitude_wgs84,latitude_wgs84,coordinate_precision,"
          "lifecycle_status,lifecycle_display_group,lifecycle_as_of_date")
ROWS = [
    "AIFAB-001,Fab 15B,TSMC,TWN,120.6,24.2,point,operating,operating,2026-08-25",
    "AIFAB-018,JASM Kumamoto campus,TSMC / JASM,JPN,130.8,32.9,point,operating_with_expansion,operating,2026-08-25",
    "AIFAB-022,IIM-1,Rapidus,JPN,141.7,42.8,point,pilot_line,commissioning_or_pilot,2026-08-25",
    "AIFAB-028,Beijing Jingcheng campus,SMIC / SMBC,CHN,116.6,39.7,parcel,operating,operating,2026-08-24",
]


def stage_file(tmp_path, rows, *, with_aliases=True):
    path = tmp_path / "atlas-campuses.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("utf-8"))  # CRLF, as published
    raw = read_raw_csv(path, dataset="ai_chip_fab_atlas", name="ai_chip_fab_atlas/atlas-campuses.csv",
                       required=ATLAS_REQUIRED)
    aliases = load_firm_aliases(REFERENCE / "firm_aliases.csv") if with_aliases else None
    firms = FirmResolver(aliases)
    firms.register("tsmc", "TSMC", dataset="supply_map", file="nodes.csv")
    firms.register("smic", "SMIC", dataset="supply_map", file="nodes.csv")
    staged = stage_atlas(raw, CountryResolver(load_aliases(REFERENCE / "country_aliases.csv")), firms, aliases)
    return raw, staged, firms


def test_operators_resolve_with_every_decision_recorded(tmp_path):
    _, staged, firms = stage_file(tmp_path, ROWS)
    campuses = {row["facility_id"]: row for row in staged.campuses.iter_rows(named=True)}
    assert campuses["AIFAB-001"]["operator_firm_id"] == "tsmc" and campuses["AIFAB-001"]["operator_method"] == "name"
    jasm = campuses["AIFAB-018"]
    assert (jasm["operator_firm_id"], jasm["operator_method"]) == ("tsmc", "alias")
    assert "JASM" in jasm["operator_note"] and "majority-owned" in jasm["operator_note"]
    assert campuses["AIFAB-028"]["operator_firm_id"] == "smic" and "SMBC" in campuses["AIFAB-028"]["operator_note"]
    assert campuses["AIFAB-022"]["operator_method"] == "new"  # Rapidus: a firm no other source knows
    log = firms.aliases().filter(pl.col("dataset") == "ai_chip_fab_atlas")
    assert set(log["name"]) == {"TSMC", "TSMC / JASM", "Rapidus", "SMIC / SMBC"}
    assert (log["role"] == "foundry").all()


def test_only_the_operating_display_group_is_current_capacity(tmp_path):
    _, staged, _ = stage_file(tmp_path, ROWS)
    frame = staged.campuses.sort("facility_id")
    assert frame["operating"].to_list() == [True, True, False, True]
    pilot = frame.filter(pl.col("facility_id") == "AIFAB-022").row(0, named=True)
    assert "pilot_line" in pilot["operating_note"]
    assert frame["iso3"].to_list() == ["TWN", "JPN", "JPN", "CHN"]
    assert frame["line"].to_list() == [2, 3, 4, 5] and (frame["file"] == "ai_chip_fab_atlas/atlas-campuses.csv").all()


def test_bad_rows_are_quarantined_naming_the_field_and_rows_add_up(tmp_path):
    bad = [
        "AIFAB-040,Bad country,TSMC,XXX,120.0,24.0,point,operating,operating,2026-08-25",
        "AIFAB-041,Bad latitude,TSMC,TWN,120.0,124.0,point,operating,operating,2026-08-25",
        "AIFAB-001,Repeated id,TSMC,TWN,120.0,24.0,point,operating,operating,2026-08-25",
        "AIFAB-042,Bad date,TSMC,TWN,120.0,24.0,point,operating,operating,25.08.2026",
    ]
    raw, staged, _ = stage_file(tmp_path, ROWS + bad)
    reasons = dict(zip(staged.quarantine["line"].to_list(), staged.quarantine["reason"].to_list()))
    assert reasons == {
        6: "country_code 'XXX' is not a country",
        7: "latitude_wgs84 '124.0' is not a latitude",
        8: "duplicate campus_id of line 2",
        9: "lifecycle_as_of_date '25.08.2026' is not a date (YYYY-MM-DD)",
    }
    accounting = row_accounting(raw, [staged.campuses.select("file", "line")], staged.quarantine).row(0, named=True)
    assert (accounting["rows_read"], accounting["staged"], accounting["quarantined"]) == (8, 4, 4)
    assert accounting["adds_up"]


def test_a_file_without_a_required_column_names_file_line_and_field(tmp_path):
    path = tmp_path / "atlas-campuses.csv"
    path.write_text(HEADER.replace("operator,", "") + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_raw_csv(path, dataset="ai_chip_fab_atlas", name="ai_chip_fab_atlas/atlas-campuses.csv",
                     required=ATLAS_REQUIRED)
    assert (err.value.row, err.value.field) == (1, "operator")
    assert err.value.file == "ai_chip_fab_atlas/atlas-campuses.csv" and "atlas-campuses.csv, line 1" in str(err.value)
