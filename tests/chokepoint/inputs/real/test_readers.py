"""The raw source reader, entity resolution and the per-dataset stagers on small inputs."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.countries import CountryResolver, load_aliases
from chokepoint.inputs.real.firms import FirmResolver, firm_key, load_firm_aliases
from chokepoint.inputs.real.rawcsv import BLANK_ROW, read_raw_csv
from chokepoint.inputs.real.usgs import stage_usgs
from tests.conftest import REFERENCE


def write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def read(path, **kwargs):
    return read_raw_csv(path, dataset="test", name=path.name, **kwargs)


# --- raw reader ---------------------------------------------------------------------------------

def test_multiline_quoted_fields_keep_record_and_start_line(tmp_path):
    path = write(tmp_path, "c.csv", 'Name,Note,H\n"A","one\nline two\nline three",1\nB,plain,2\n"C","x ""q"" y",3\n')
    frame = read(path)
    assert frame["Name"].to_list() == ["A", "B", "C"]
    assert frame["_record"].to_list() == [1, 2, 3]
    assert frame["_line"].to_list() == [2, 5, 6]  # B starts on line 5: A spans lines 2-4
    assert frame["Note"][0] == "one\nline two\nline three"
    assert frame["Note"][2] == 'x "q" y'
    assert frame["_problem"].null_count() == 3


def test_bom_crlf_trailing_empty_columns_and_blank_rows(tmp_path):
    path = write(tmp_path, "u.csv", b"\xef\xbb\xbfSource,Country,V,,\r\nMCS,China,1,,\r\n,,,,\r\n")
    frame = read(path)
    assert [c for c in frame.columns if not c.startswith("_")] == ["Source", "Country", "V"]
    assert frame["_problem"].to_list() == [None, BLANK_ROW]


def test_ragged_and_truncated_records_are_flagged_not_dropped(tmp_path):
    path = write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11")
    frame = read(path)
    assert frame.height == 4
    problems = frame["_problem"].to_list()
    assert problems[0] is None
    assert problems[1] == "row has 2 fields, the header has 3"
    assert problems[2] == "row has 4 fields, the header has 3"
    assert problems[3] == "row has 2 fields, the header has 3 (file truncated?)"
    assert frame["_raw"][1] == "4,5"


def test_quoted_field_cut_by_the_end_of_the_file(tmp_path):
    path = write(tmp_path, "q.csv", 'a,b\n1,"complete"\n2,"cut in the mid')
    frame = read(path)
    assert frame["_problem"].to_list() == [None, "quoted field not closed before the end of the file (file truncated?)"]


def test_bad_bytes_flag_the_record_with_line_and_byte(tmp_path):
    path = write(tmp_path, "b.csv", b"a,b\n1,ok\n2,caf\xe9\n3,fine\n")
    frame = read(path)
    assert frame["_problem"].to_list() == [None, "not UTF-8 (byte 0xe9)", None]
    assert frame.filter(pl.col("_problem").is_not_null())["_line"].to_list() == [3]
    assert frame["b"].to_list() == ["ok", None, "fine"]


def test_repeated_header_row_is_flagged(tmp_path):
    path = write(tmp_path, "h.csv", "a,b\na,b\n1,2\n")
    assert read(path)["_problem"].to_list() == ["repeated header row", None]


@pytest.mark.parametrize("content, message", [
    ("", "file is empty"),
    ("a;b;c\n1;2;3\n", "semicolon-separated, not comma-separated"),
    ("a\tb\n1\t2\n", "tab-separated"),
    ("a,b,a\n1,2,3\n", "column name appears twice in the header"),
    (b"a,\xffb\n1,2\n", "header is not UTF-8 (byte 0xff)"),
])
def test_file_level_problems_raise_one_clear_error(tmp_path, content, message):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(InputError) as err:
        read(path)
    assert message in str(err.value)
    assert str(err.value).startswith("bad.csv")


def test_missing_required_column_names_the_field(tmp_path):
    path = write(tmp_path, "m.csv", "provider_id,year\nP1,2025\n")
    with pytest.raises(InputError, match=r"m.csv, line 1, field 'share_provided': required column missing"):
        read(path, required=("provider_id", "share_provided", "year"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read(tmp_path / "nope.csv")


# --- country resolution -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def countries():
    return CountryResolver(load_aliases(REFERENCE / "country_aliases.csv"))


@pytest.mark.parametrize("name, iso3, method", [
    ("USA", "USA", "iso3"), ("TW", "TWN", "iso2"), ("Germany", "DEU", "name"),
    ("United States of America", "USA", "name"), ("United\u00a0States", "USA", "name"),
    ("Burma", "MMR", "alias"), ("Congo (Kinshasa)", "COD", "alias"), ("Korea, Republic of", "KOR", "name"),
    ("Korea (Republic of)", "KOR", "alias"), ("Korea, North", "PRK", "alias"), ("Russia", "RUS", "alias"),
    ("Taiwan", "TWN", "name"), ("Philippines (the)", "PHL", "alias"), ("Turkey", "TUR", "alias"),
    ("New Caledonia11", "NCL", "footnote_stripped"), ("Japane", "JPN", "footnote_stripped"),
    ("Russiae", "RUS", "footnote_stripped"), ("Korea, Republic ofe", "KOR", "footnote_stripped"),
    ("Mozambique", "MOZ", "name"), ("Ukraine", "UKR", "name"),
])
def test_country_spellings_resolve_to_iso3(countries, name, iso3, method):
    found = countries.resolve(name)
    assert (found.iso3, found.method) == (iso3, method)


@pytest.mark.parametrize("name, aggregate", [
    ("World total (rounded)", "WORLD"), ("Other countries4", "OTHER"), ("Various countries", "OTHER"),
    ("EUR", "EUROPE"), ("Europe", "EUROPE")])
def test_aggregates_are_not_countries(countries, name, aggregate):
    found = countries.resolve(name)
    assert found.iso3 is None and found.aggregate == aggregate


def test_unknown_names_are_reported_not_guessed(countries):
    resolver = CountryResolver(load_aliases(REFERENCE / "country_aliases.csv"))
    assert resolver.resolve("Atlantis", dataset="d", file="f", field="Country").method == "unresolved"
    assert resolver.resolve("Atlantis", dataset="d", file="f", field="Country").iso3 is None
    names = resolver.names()
    assert names.filter(pl.col("name") == "Atlantis").row(0, named=True)["rows"] == 2
    assert resolver.resolve("").method == "missing"


def test_alias_table_errors_name_line_and_field(tmp_path):
    path = write(tmp_path, "country_aliases.csv", "name,iso3,aggregate,note\nBurma,MMR,,x\nNowhere,XXX,,y\n")
    with pytest.raises(InputError, match=r"country_aliases.csv, line 3, field 'iso3'"):
        load_aliases(path)


# --- firm resolution ----------------------------------------------------------------------------

def test_firm_spellings_join_one_id_by_role():
    firms = FirmResolver(load_firm_aliases(REFERENCE / "firm_aliases.csv"))
    firms.register("samsung-foundry", "Samsung Foundry", dataset="supply_map", file="n", iso3="KOR")
    firms.register("hoya", "Hoya", dataset="supply_map", file="n")
    firms.register("ase", "ASE Group", dataset="supply_map", file="n")
    assert firms.resolve("Samsung", dataset="epoch_hardware", file="h", role="foundry") == "samsung-foundry"
    assert firms.resolve("Samsung", dataset="eto", file="p", role="provider") == "samsung"
    assert firms.resolve("Hoya Corporation", dataset="eto", file="p") == "hoya"
    assert firms.resolve("ASE", dataset="eto", file="p") == "ase"
    first = firms.resolve("Canon", dataset="eto", file="p")
    assert firms.resolve("CANON", dataset="eto", file="p") == first == "canon"
    assert firms.resolve("Hysol Huawei", dataset="eto", file="p") != firms.resolve("Huawei", dataset="e", file="x")
    assert firms.resolve("Various companies", dataset="eto", file="p") is None
    table = firms.firms()
    assert table.filter(pl.col("firm_id") == "hoya")["cross_source"][0]
    assert firm_key("Kulicke & Soffa Industries, Inc.") == "kulicke and soffa industries"


# --- USGS quirks on a small file ----------------------------------------------------------------

def test_usgs_world_file_quirks(tmp_path, countries):
    text = ("\ufeffSource,Country,Type,Prod_kg_2022,Prod_kg_est_2023,Prod_notes,Reserves_kg,Reserves_notes,,\r\n"
            "MCS2024,United\u00a0States,Primary production,W,W,,NA,,,\r\n"
            "MCS2024,Japane,Primary production,\"3,000\",3000,,,,,\r\n"
            "MCS2024,China,Primary production,600000,600000,,,,,\r\n"
            "MCS2024,World total (rounded),Primary production,610000,610000,,,,,\r\n"
            ",,,,,,,,,\r\n")
    path = write(tmp_path, "mcs2024-galli_world.csv", text)
    raw = read_raw_csv(path, dataset="usgs", name="usgs_mcs/mcs2024-galli_world.csv")
    staged = stage_usgs(raw, raw.clear(), countries)
    p = staged.production.filter(pl.col("measure") == "production")
    japan = p.filter((pl.col("iso3") == "JPN") & (pl.col("year") == 2023)).row(0, named=True)
    assert japan["tonnes"] == 3.0 and japan["status"] == "estimated"
    assert p.filter((pl.col("iso3") == "JPN") & (pl.col("year") == 2022))["tonnes"][0] == 3.0  # "3,000" kg
    us = p.filter(pl.col("iso3") == "USA")
    assert us["status"].unique().to_list() == ["withheld"] and us["tonnes"].null_count() == 2
    assert staged.production.filter(pl.col("measure") == "reserves")["year"].unique().to_list() == [2023]
    assert staged.quarantine["reason"].to_list() == [BLANK_ROW]


# --- mapping tables -----------------------------------------------------------------------------

@pytest.mark.parametrize("table, old, new, message", [
    ("eto_input_map", "N20,EUV lithography tools,euv_lithography,same", "N20,EUV lithography tools,euv_litho,same",
     "eto_input_map.csv, line 19, field 'input_id': unknown taxonomy input 'euv_litho'"),
    ("eto_input_map", "N22,ArF immersion (DUV) lithography tools,duv_immersion_lithography,same",
     "N22,ArF immersion (DUV) lithography tools,euv_lithography,same",
     "field 'input_id': two ETO inputs are the 'same' as 'euv_lithography'"),
    ("eto_input_map", "N1,Advanced CPUs,,none", "N1,Advanced CPUs,core_ip,none",
     "line 3, field 'input_id': relation 'none' takes no input_id"),
    ("eto_input_map", "N1,Advanced CPUs,,none", "N1,Advanced CPUs,,maybe", "field 'relation': 'maybe' is not one of"),
    ("country_aliases", "Burma,MMR,,", "Burma,XXX,,", "country_aliases.csv, line 2, field 'iso3'"),
    ("country_aliases", "Russia,RUS,,", "Burma,RUS,,", "name 'Burma' is listed twice (first on line 2)"),
    ("firm_aliases", "Hua Hong,any,hua-hong", "Hua Hong,any,Hua Hong", "field 'firm_id': 'Hua Hong' is not a firm id"),
    ("usgs_input_map", "tungsten,production,tungsten", "tungsten,production,wolfram",
     "usgs_input_map.csv, line 5, field 'input_id': unknown taxonomy input 'wolfram'"),
])
def test_mapping_table_errors_name_file_line_and_field(data_copy, table, old, new, message):
    from chokepoint.inputs.real.stage import MAPPING_FILES, parse_mappings
    from chokepoint.inputs.reference import load_reference
    from chokepoint.inputs.tables import read_csv_text

    path = data_copy / "reference" / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    raw = {name: read_csv_text(data_copy / "reference" / f"{name}.csv") for name in MAPPING_FILES}
    with pytest.raises(InputError) as err:
        parse_mappings(raw, load_reference(REFERENCE).input_types["input_id"])
    assert message in str(err.value)
