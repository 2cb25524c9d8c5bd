"""OpenSanctions government lists: per-file layouts, dates, EU Annex IV, quarantine, firm matching."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.countries import CountryResolver, load_aliases
from chokepoint.inputs.real.firms import load_firm_aliases
from chokepoint.inputs.real.opensanctions import (LIST_FILES, FirmIndex, match_entries, parse_list_date,
                                                  stage_opensanctions)
from chokepoint.inputs.real.quarantine import row_accounting
from chokepoint.inputs.real.rawcsv import read_raw_csv
from tests.conftest import REFERENCE
from chokepoint.inputs.firm_reference import parse_firm_reference
from chokepoint.inputs.real.stage import stage_real
from chokepoint.inputs.tables import read_csv_text
from tests.support.real_data import MIRROR, mappings, needs_mirror, read_raw, reference_data

NDAA = "schema,name,aliases,topics,program,authority,reason,report-date,start-date,end-date,country,notes,source_url\n"
FILES = {
    "us_ndaa_section_5949": NDAA + (
        "Company,ChangXin Memory Technologies,CXMT,debarment,Section 5949,Congress,,,,,,,https://congress.gov/a\n"
        "Company,Semiconductor Manufacturing International Corporation,SMIC,debarment,Section 5949,Congress,,,,,,,"
        "https://congress.gov/a\n"),
    "us_ndaa_section_889": NDAA + (
        "Company,Huawei Technologies Company,,debarment,Section 889,Congress,,,,,,,https://congress.gov/b\n"
        "Company,Hangzhou Hikvision Digital Technology Company,,debarment,Section 889,Congress,,,,,,,"
        "https://congress.gov/b\n"),
    "us_dod_1260h_chinese_military_companies": (
        "Name,Clean Name,Alias,Previous Name,Parent Name,Note,Start date,End date,Source Url\n"
        "SMIC Holdings Limited (SMIC Holdings)*,SMIC Holdings Limited,SMIC Holdings,,"
        "Semiconductor Manufacturing International Corporation,,2021-06-03,,\n"
        "Some Shell Co (Shell)*,Some Shell Co,Shell,,Semiconductor Manufacturing International Corporation,,"
        "2021-06-03,2024-01-31,\n"
        "Unrelated Co,Unrelated Co,,,,,2025-01-07,,https://media.defense.gov/x\n"),
    "cn_countermeasures": (
        "Type,QID,Name,Alias,Chinese name,Country,Topics,Summary,Chinese summary,Body,List,Date,End date,"
        "Source URL,Address\n"
        "Company,,Skydio Inc.,,,US,sanction.counter,,,Ministry of Commerce,UEL,04.04.2025,,https://mofcom/1,\n"
        "Person,,Some Person,,,Japan,sanction.counter,,,Ministry of Foreign Affairs,,13.07.20,,https://mfa/2,\n"
        "Company,,Bad Date Co,,,US,sanction.counter,,,Ministry of Commerce,UEL,2025/04/04,,https://mofcom/3,\n"),
    "eu_regulation_833_2014_annexes": (
        "celex,recordId,programKey,annex,measure,startDate,reason,schema,name,alias,jurisdiction,address\n"
        "32014R0833,1,EU-RUS,IV,Dual-use export restrictions,25.2.2023,,LegalEntity,Trade Engine System,TES,,"
        "\"123, Moscow, Russian Federation\"\n"
        "32014R0833,2,EU-RUS,IV,Dual-use export restrictions,23.6.2023,,LegalEntity,Asia Pacific Links Ltd.,,,"
        "\"Office E, 8/F., Shing Hing Building, Hong Kong\"\n"
        "32014R0833,3,EU-RUS,III,Financial restrictions,,,LegalEntity,SBERBANK,,,\n"
        "32014R0833,4,EU-RUS,XIV,Transaction ban,12 March 2022,,LegalEntity,Some Port,,,\n"),
    "us_bis_military_intelligence_end_users": (
        "Type,Name,Alias,Country,Topics,Program,Date,End date,Source URL\n"
        "Organization,Main Intelligence Directorate,GRU,RU,export.control,US-BIS-MIEU,2021-03-16,,https://fr/1\n"),
}


@pytest.fixture
def lists(tmp_path):
    raw = {}
    for stem, text in FILES.items():
        path = tmp_path / f"{stem}.csv"
        path.write_text(text, encoding="utf-8")
        layout = LIST_FILES[stem]
        raw[layout.table] = read_raw_csv(path, dataset="opensanctions", name=f"opensanctions/{stem}.csv",
                                         required=layout.required)
    countries = CountryResolver(load_aliases(REFERENCE / "country_aliases.csv"))
    return raw, stage_opensanctions(raw, countries)


def firm_index():
    firms = pl.DataFrame({"firm_id": ["smic", "cxmt", "huawei", "tes", "hikvision-other"],
                          "name": ["SMIC", "CXMT", "HiSilicon", "TES", "Hik"],
                          "spellings": [["SMIC"], ["CXMT"], ["HiSilicon"], ["TES"], ["Hik"]],
                          "iso3": ["CHN", "CHN", "CHN", "KOR", "CHN"]})
    return FirmIndex.build(load_firm_aliases(REFERENCE / "firm_aliases.csv"), firms)


def test_dates_are_parsed_per_file_format():
    assert parse_list_date("02.12.2019") == (True, datetime.date(2019, 12, 2))
    assert parse_list_date("13.07.20") == (True, datetime.date(2020, 7, 13))  # DD.MM.YY = 20YY
    assert parse_list_date("25.2.2023") == (True, datetime.date(2023, 2, 25))
    assert parse_list_date("2021-06-03") == (True, datetime.date(2021, 6, 3))
    assert parse_list_date("12 March 2022") == (True, datetime.date(2022, 3, 12))
    assert parse_list_date("") == (True, None)
    assert parse_list_date("31.02.2020") == (False, None) and parse_list_date("2025/04/04") == (False, None)


def test_entries_have_list_ids_dates_countries_and_provenance(lists):
    _, staged = lists
    entries = staged.entries
    assert entries.group_by("list_id").len().sort("list_id").rows() == [
        ("cn_countermeasures", 2), ("eu_833_annex_iv", 2), ("us_1260h", 3), ("us_bis_mieu", 1),
        ("us_ndaa_5949", 2), ("us_ndaa_889", 2)]
    cn = entries.filter(pl.col("list_id") == "cn_countermeasures").sort("line")
    assert cn["start_date"].to_list() == [datetime.date(2025, 4, 4), datetime.date(2020, 7, 13)]
    assert cn["iso3"].to_list() == ["USA", "JPN"] and cn["list_detail"][0] == "Ministry of Commerce: UEL"
    eu = entries.filter(pl.col("list_id") == "eu_833_annex_iv").sort("line")
    assert eu["iso3"].to_list() == ["RUS", "HKG"]  # from inside the address
    assert eu["source_url"][0].endswith("CELEX:32014R0833") and eu["aliases"][0].to_list() == ["TES"]
    shell = entries.filter(pl.col("name") == "Some Shell Co").row(0, named=True)
    assert shell["parent"] == "Semiconductor Manufacturing International Corporation"
    assert shell["end_date"] == datetime.date(2024, 1, 31) and list(shell["aliases"]) == ["Shell"]
    assert entries.select("dataset", "file", "line").null_count().sum_horizontal()[0] == 0


def test_other_eu_annexes_are_skipped_and_bad_dates_quarantined_so_rows_add_up(lists):
    raw, staged = lists
    assert staged.skipped["line"].to_list() == [4, 5]  # Annex III and XIV: read, accounted for, not entries
    assert "Annex III" in staged.skipped["reason"][0]
    quarantine = staged.quarantine
    reasons = dict(zip(zip(quarantine["file"].to_list(), quarantine["line"].to_list()), quarantine["reason"]))
    assert reasons == {("opensanctions/cn_countermeasures.csv", 4):
                       "'2025/04/04' in 'Date' is not a date (expected YYYY-MM-DD, DD.MM.YYYY or DD.MM.YY)"}
    staged_lines = [staged.entries.select("file", "line"), staged.skipped.select("file", "line")]
    accounting = row_accounting(pl.concat([t.select("_dataset", "_file", "_line") for t in raw.values()]),
                                staged_lines, quarantine)
    assert accounting["adds_up"].all()
    eu = accounting.filter(pl.col("file").str.contains("eu_regulation")).row(0, named=True)
    assert (eu["rows_read"], eu["staged"], eu["quarantined"]) == (4, 4, 0)


def test_matching_alias_exact_parent_none_with_country_check(lists):
    _, staged = lists
    matches = match_entries(staged.entries, firm_index())
    decided = {(r["list_id"], r["name"]): (r["firm_id"], r["method"], r["matched_spelling"])
               for r in matches.iter_rows(named=True)}
    assert decided[("us_ndaa_5949", "ChangXin Memory Technologies")] == (
        "cxmt", "alias", "ChangXin Memory Technologies")
    assert decided[("us_ndaa_5949", "Semiconductor Manufacturing International Corporation")][:2] == ("smic", "alias")
    assert decided[("us_ndaa_889", "Huawei Technologies Company")][:2] == ("huawei", "alias")
    # "SMIC Holdings Limited" is SMIC once legal forms are ignored; the shell company only through its parent.
    assert decided[("us_1260h", "SMIC Holdings Limited")] == ("smic", "exact", "SMIC Holdings Limited")
    assert decided[("us_1260h", "Some Shell Co")] == ("smic", "parent",
                                                      "Semiconductor Manufacturing International Corporation")
    assert decided[("us_1260h", "Unrelated Co")] == (None, "none", None)
    # "Trade Engine System" (alias TES, Russia) is not the Korean firm TES: countries differ.
    assert decided[("eu_833_annex_iv", "Trade Engine System")] == (None, "none", None)
    assert matches.height == staged.entries.height  # one decision per entry


def test_a_list_file_without_its_name_column_names_file_line_and_field(tmp_path):
    path = tmp_path / "us_ndaa_section_889.csv"
    path.write_text(NDAA.replace("name,", "title,") + "Company,Huawei,,,,,,,,,,,\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_raw_csv(path, dataset="opensanctions", name="opensanctions/us_ndaa_section_889.csv",
                     required=LIST_FILES["us_ndaa_section_889"].required)
    assert (err.value.file, err.value.row, err.value.field) == ("opensanctions/us_ndaa_section_889.csv", 1, "name")


@pytest.fixture(scope="module")
def staged_real():
    """The mirror staged as the pipeline does: with the reference files that name firms (CXMT …)."""
    reference = reference_data()
    raw = {name: read_csv_text(REFERENCE / f"{name}.csv") for name in ("firm_capacity", "qualifications",
                                                                        "compute_sourcing")}
    firm_reference = parse_firm_reference(raw, reference.input_types, reference.countries)
    return stage_real(read_raw(MIRROR), mappings(), reference.recipes, firm_reference=firm_reference,
                      input_types=reference.input_types)


@needs_mirror
def test_known_firms_are_on_their_lists_in_the_real_data(staged_real):
    staged = staged_real
    matches = staged["list_matches"]
    on = {(r["firm_id"], r["list_id"]) for r in matches.filter(pl.col("firm_id").is_not_null()).iter_rows(named=True)}
    assert {("smic", "us_ndaa_5949"), ("cxmt", "us_ndaa_5949"), ("ymtc", "us_ndaa_5949"),
            ("huawei", "us_ndaa_889"), ("smic", "us_1260h"), ("huawei", "us_1260h")} <= on
    firms = staged["firms"].filter(pl.col("firm_id").is_in(["smic", "cxmt", "huawei"]))
    lists = dict(zip(firms["firm_id"].to_list(), firms["lists"].to_list()))
    assert "us_ndaa_5949" in lists["smic"] and "us_ndaa_5949" in lists["cxmt"] and "us_ndaa_889" in lists["huawei"]
    assert matches.height == staged["list_entries"].height
    accounting = staged["row_accounting"].filter(pl.col("dataset").is_in(["opensanctions", "ai_chip_fab_atlas"]))
    assert accounting.height == 7 and accounting["adds_up"].all()
    assert (accounting["rows_read"] == accounting["staged"] + accounting["quarantined"]).all()
