"""Country names of the real data resolved to ISO3: spellings, aliases, aggregates, errors."""

from __future__ import annotations

import polars as pl
import pytest

from chokepoint.errors import InputError
from chokepoint.inputs.real.countries import CountryResolver, load_aliases
from tests.conftest import REFERENCE
from tests.support.csv_files import write


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
