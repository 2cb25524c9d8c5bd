"""The USGS world files' quirks on a small file."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.inputs.real.countries import CountryResolver, load_aliases
from chokepoint.inputs.real.rawcsv import BLANK_ROW, read_raw_csv
from chokepoint.inputs.real.usgs import stage_usgs
from tests.conftest import REFERENCE
from tests.support.csv_files import write


@pytest.fixture(scope="module")
def countries():
    return CountryResolver(load_aliases(REFERENCE / "country_aliases.csv"))


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
